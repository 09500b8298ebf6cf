# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""email_security_move in real playbooks against the simulator: an API deployment's false positive back to the
Inbox, phish out of the inboxes, each move sent once."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import pytest
import yaml

from tests.simulator import Message, Simulator, load_state

from conftest import (
    COLLECTION_ROOT,
    SIMULATOR_DIR,
    ansible_env,
    assert_within_contract,
    moment,
    release_playbook,
    run_playbook,
)

DEMO_SEED = os.path.join(SIMULATOR_DIR, "seeds", "demo.json")
PHISH_SENDER = "billing@phish-campaign.example"


def moves_sent(sim):
    return [r for r in sim.state.requests(method="POST") if r["endpoint"] == "move"]


@pytest.fixture
def api_sim():
    """An API deployment: what Cloudflare judged bad was delivered, then moved out of the Inbox."""
    with Simulator(load_state(DEMO_SEED, deployment="api")) as running:
        yield running
    assert_within_contract(running.state)
    assert running.state.ledger("redundant_move") == []


@pytest.fixture
def move(tmp_path, api_sim):
    counter = [0]

    def run(module_args, check_mode=False, diff=False, options=()):
        counter[0] += 1
        playbook = release_playbook(
            tmp_path, module_args, check_mode, diff, name="move%d" % counter[0], module="email_security_move"
        )
        result_file = str(tmp_path / ("result%d.json" % counter[0]))
        return run_playbook(playbook, tmp_path, ansible_env(api_sim, tmp_path), {"result_file": result_file}, options)

    return run


def junk(sim, count=1):
    return [m.id for m in sim.state.messages.values() if m.folder() == "JunkEmail"][:count]


def test_a_false_positive_is_moved_back_to_the_inbox_once_and_a_run_again_sends_nothing(api_sim, move):
    ids = junk(api_sim, 2)

    first = move({"message_ids": ids, "destination": "Inbox"}, diff=True)
    again = move({"message_ids": ids, "destination": "Inbox"})

    assert first.returncode == 0, first.output
    assert first.result["changed"] is True
    assert [r["status"] for r in first.result["results"]] == ["moved", "moved"]
    assert [r["folder_before"] for r in first.result["results"]] == ["JunkEmail", "JunkEmail"]
    assert first.result["moved_ids"] == ids
    assert "JunkEmail" in first.result["diff"]["before"] and "Inbox" in first.result["diff"]["after"]
    assert all(api_sim.state.messages[i].folder() == "Inbox" for i in ids)
    assert again.returncode == 0, again.output
    assert again.result["changed"] is False
    assert [r["status"] for r in again.result["results"]] == ["already_there", "already_there"]
    assert len(moves_sent(api_sim)) == 1
    assert api_sim.state.moves() == dict.fromkeys(ids, 1)


def test_check_mode_reads_and_names_what_would_move_and_sends_nothing(api_sim, move):
    ids = junk(api_sim, 2)

    preview = move({"message_ids": ids, "destination": "RecoverableItemsPurges"}, check_mode=True)

    assert preview.returncode == 0, preview.output
    assert [r["status"] for r in preview.result["results"]] == ["would_move", "would_move"]
    assert api_sim.state.requests(method="POST") == []


def test_a_purge_without_confirmation_and_bad_input_are_refused_before_any_request(api_sim, move):
    ids = junk(api_sim, 1)
    cases = [
        ({"message_ids": ids, "destination": "RecoverableItemsDeletions"}, "confirm_purge"),
        ({"message_ids": ids, "destination": "Trash"}, "destination"),
        ({"message_ids": [], "destination": "Inbox"}, "message_ids"),
        ({"search": {"sender": PHISH_SENDER}, "destination": "DeletedItems"}, "time window"),
    ]
    for args, named in cases:
        run = move(args)
        assert run.result.get("failed") is True, args
        assert named in run.result["msg"], run.result["msg"]
    assert api_sim.state.requests() == []


def test_a_phish_campaign_found_by_a_search_leaves_every_inbox_once(api_sim, move):
    campaign = [
        Message(
            "PHISH%011d-2026-11-24T10:00:0%d-%d" % (n, n, n),
            PHISH_SENDER,
            ["alice@corp.example", "bob@corp.example"],
            "Your invoice is overdue",
            api_sim.state.messages[junk(api_sim)[0]].sent_date,
            "NONE",
            is_quarantined=False,
        )
        for n in range(5)
    ]
    for message in campaign:
        message.mark_never_quarantined()
    api_sim.state.add_messages(campaign)
    search = {"sender": PHISH_SENDER, "all_time": True, "detections_only": False}

    first = move({"search": search, "destination": "DeletedItems"})
    again = move({"search": search, "destination": "DeletedItems"})

    assert first.returncode == 0, first.output
    assert sorted(first.result["moved_ids"]) == sorted(m.id for m in campaign)
    assert first.result["summary"]["recipients_moved"] == 10
    assert all(
        m.folders == {"alice@corp.example": "DeletedItems", "bob@corp.example": "DeletedItems"} for m in campaign
    )
    # Never moved before: located from the search page alone, no action log read, one move request.
    assert [r["endpoint"] for r in api_sim.state.requests()[:2]] == ["search", "move"]
    assert again.result["changed"] is False
    assert again.result["summary"]["already_there"] == 5
    assert len(moves_sent(api_sim)) == 1


def test_a_lost_move_answer_is_settled_by_reading_never_by_moving_again(api_sim, move):
    ids = junk(api_sim, 3)
    api_sim.state.inject("drop_after", endpoint="move")

    run = move({"message_ids": ids, "destination": "Inbox", "timeout": 5})

    assert run.returncode == 0, run.output
    assert [r["status"] for r in run.result["results"]] == ["moved_unconfirmed"] * 3
    assert run.result["incomplete_ids"] == ids
    assert api_sim.state.moves() == dict.fromkeys(ids, 1)


def test_an_account_without_the_mailbox_integration_is_told_what_it_lacks(api_sim, move):
    api_sim.state.configure({"mailbox_integration": False})
    ids = junk(api_sim, 2)

    run = move({"message_ids": ids, "destination": "Inbox"})

    assert run.result["failed"] is True
    assert "mailbox integration" in run.result["msg"]
    assert run.result["error"]["status"] == 400
    assert [r["status"] for r in run.result["results"]] == ["not_moved", "not_moved"]
    assert len(moves_sent(api_sim)) == 1
    assert api_sim.state.moves() == {}


def test_a_quarantined_message_is_pointed_at_the_release_module(sim, tmp_path):
    quarantined = next(m.id for m in sim.state.messages.values() if m.is_quarantined)
    playbook = release_playbook(
        tmp_path, {"message_ids": [quarantined], "destination": "Inbox"}, module="email_security_move"
    )

    run = run_playbook(playbook, tmp_path, ansible_env(sim, tmp_path), {"result_file": str(tmp_path / "r.json")})

    assert run.result["failed"] is True
    assert run.result["results"][0]["status"] == "quarantined"
    assert "email_security_release" in run.result["results"][0]["detail"]
    assert sim.state.requests(method="POST") == []


def test_a_move_job_moves_what_a_search_finds_once_and_a_run_again_adopts_it(api_sim, tmp_path):
    api_sim.state.configure({"bulk_discovery_seconds": 0.1, "bulk_rate": 1000})
    moved_by_cloudflare = [m.id for m in api_sim.state.messages.values() if m.folder() != "Inbox"]
    args = {
        "action": "move",
        "destination": "Inbox",
        "search": {"all_time": True},
        "ticket": "INC-9",
        "poll_interval": 1,
        "message_results": "all",
    }
    env = ansible_env(api_sim, tmp_path)
    runs = []
    for name in ("job1", "job2"):
        playbook = release_playbook(tmp_path, args, name=name, module="email_security_bulk_release")
        runs.append(run_playbook(playbook, tmp_path, env, {"result_file": str(tmp_path / (name + ".json"))}))

    first, again = runs
    assert first.returncode == 0, first.output
    assert first.result["created"] is True
    assert sorted(r["id"] for r in first.result["results"]) == sorted(moved_by_cloudflare)
    assert {r["status"] for r in first.result["results"]} == {"moved"}
    assert api_sim.state.moves() == dict.fromkeys(moved_by_cloudflare, 1)
    assert all(api_sim.state.messages[i].folder() == "Inbox" for i in moved_by_cloudflare)
    assert again.result["adopted"] is True and again.result["changed"] is False
    assert len(api_sim.state.ledger("bulk_job_created")) == 1


def test_the_release_runbook_moves_an_api_deployments_false_positives_back_to_the_inbox(api_sim, tmp_path):
    """quarantine_release by ids: what Cloudflare moved to Junk Email is moved back through the guard and reported,
    once; a run again moves nothing."""
    ids = junk(api_sim, 3)
    playbook = os.path.join(COLLECTION_ROOT, "playbooks", "release_messages.yml")
    variables = {
        "message_ids": ids,
        "reason": "partner invoices moved to junk",
        "ticket": "INC-77",
        "report_false_positive": True,
        "move_back": True,
        "report_dir": str(tmp_path / "reports"),
    }
    runs = []
    for name in ("first", "again"):
        (tmp_path / name).mkdir()
        runs.append(run_playbook(playbook, tmp_path / name, ansible_env(api_sim, tmp_path), variables))

    first, again = runs
    assert first.returncode == 0, first.output
    assert "would move back to the Inbox: 3" in first.output
    assert all(api_sim.state.messages[i].folder() == "Inbox" for i in ids)
    assert api_sim.state.moves() == dict.fromkeys(ids, 1)
    # Reported to Cloudflare as false positives like released messages, each once.
    assert sorted(e["id"] for e in api_sim.state.ledger("submission")) == sorted(ids)
    assert again.returncode == 0, again.output
    assert "would move back to the Inbox: 0" in again.output
    assert api_sim.state.moves() == dict.fromkeys(ids, 1)
    assert len(api_sim.state.ledger("submission")) == 3


def test_an_outbreak_above_the_threshold_is_moved_back_by_one_bulk_job_once_and_a_run_again_moves_nothing(
    api_sim, tmp_path
):
    """Issue 38: past quarantine_release_move_back_bulk_threshold the search's moved messages are not located (a
    read each): one bulk MOVE job moves them back; a run again adopts it and moves nothing."""
    sender = "invoices@northwind-supplies.example"
    moved = [m.id for m in api_sim.state.messages.values() if m.sender == sender and m.folder() == "JunkEmail"]
    assert len(moved) >= 2
    play = [
        {
            "name": "Move an outbreak back",
            "hosts": "localhost",
            "gather_facts": False,
            "roles": [
                {
                    "role": "mailsec.cloudflare.quarantine_release",
                    "vars": {
                        "quarantine_release_search": {"sender": sender, "start": "{{ start }}"},
                        "quarantine_release_reason": "supplier invoices junked by a new rule",
                        "quarantine_release_ticket": "INC-38",
                        "quarantine_release_move_back": True,
                        "quarantine_release_move_back_bulk_threshold": 1,
                        "quarantine_release_report_dir": str(tmp_path / "reports"),
                    },
                }
            ],
        }
    ]
    playbook = tmp_path / "outbreak.yml"
    playbook.write_text(yaml.safe_dump(play))
    runs, window = [], {"start": moment(24 * 20)}
    for name in ("first", "again"):
        (tmp_path / name).mkdir()
        runs.append(run_playbook(playbook, tmp_path / name, ansible_env(api_sim, tmp_path), window))

    first, again = runs
    assert first.returncode == 0, first.output
    delivered = [m for m in api_sim.state.messages.values() if m.sender == sender and m.folders]
    said = " ".join(first.output.split())
    assert "would move back to the Inbox: %d at most (by one bulk MOVE job" % len(delivered) in said
    assert all(api_sim.state.messages[i].folder() == "Inbox" for i in moved)
    assert api_sim.state.moves() == dict.fromkeys(moved, 1)
    # No message was located: not one action log read.
    assert [r for r in api_sim.state.requests() if r["endpoint"] == "message_part"] == []
    assert again.returncode == 0, again.output
    assert api_sim.state.moves() == dict.fromkeys(moved, 1)
    assert len(api_sim.state.ledger("bulk_job_created")) == 1
    reports = sorted((tmp_path / "reports").glob("*.json"))
    with open(reports[-1], encoding="utf-8") as source:
        report = json.load(source)
    assert report["moved_back"]["bulk_job"]["adopted"] is True
    assert sorted(report["moved_back"]["moved_ids"]) == sorted(moved)
