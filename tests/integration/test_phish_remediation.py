# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The phish_remediation role through its AWX playbook: a campaign that got through, found by a search, moved out of
every inbox, its sender blocked for 30 days, reported as missed, one report; a run again changes nothing."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import glob
import json
import os


from conftest import COLLECTION_ROOT, PHISH_SENDER, RECIPIENTS, ansible_env, moment, run_playbook

PLAYBOOK = os.path.join(COLLECTION_ROOT, "playbooks", "phish_remediation.yml")


def remediate(sim, tmp_path, name, options=(), **extra):
    variables = dict(
        sender=PHISH_SENDER,
        start=moment(3),
        reason="invoice phish reported by users",
        ticket="INC-4711",
        report_dir=str(tmp_path / "reports"),
    )
    variables.update(extra)
    (tmp_path / name).mkdir()
    return run_playbook(PLAYBOOK, tmp_path / name, ansible_env(sim, tmp_path), variables, options)


def test_a_campaign_leaves_every_inbox_its_sender_is_blocked_for_30_days_and_it_is_reported_missed(
    campaign_sim, tmp_path
):
    state = campaign_sim.state

    preview = remediate(campaign_sim, tmp_path, "check", options=["--check"])
    assert preview.returncode == 0, preview.output
    assert state.ledger("move") == [] and state.ledger("settings_created") == [] and state.ledger("submission") == []

    first = remediate(campaign_sim, tmp_path, "first")
    assert first.returncode == 0, first.output
    for message_id in campaign_sim.campaign:
        assert state.messages[message_id].folders == dict.fromkeys(RECIPIENTS, "DeletedItems")
    assert state.moves() == dict.fromkeys(campaign_sim.campaign, 1)
    assert len([r for r in state.requests(method="POST") if r["endpoint"] == "move"]) == 1
    blocked = list(state.settings["block_senders"].entries.values())
    assert [(e["pattern"], e["pattern_type"]) for e in blocked] == [(PHISH_SENDER, "EMAIL")]
    assert "INC-4711: invoice phish reported by users" in blocked[0]["comments"]
    submitted = state.ledger("submission")
    assert sorted(e["id"] for e in submitted) == sorted(campaign_sim.campaign)
    assert {e["disposition"] for e in submitted} == {"MALICIOUS"}
    # Only the campaign: the demo's other mail stays where it was.
    assert all(e["id"] in campaign_sim.campaign for e in state.ledger("move"))

    reports = sorted(glob.glob(str(tmp_path / "reports" / "phish-remediation-INC-4711-*.json")))
    report = json.loads(open(reports[-1], encoding="utf-8").read())
    assert sorted(report["moved_ids"]) == sorted(campaign_sim.campaign)
    assert report["not_in_destination"] == []
    assert report["steps"] == {
        "preview": "done",
        "move": "done",
        "block": "done",
        "report_missed": "done",
        "verify": "skipped (every move confirmed)",
    }
    expires = datetime.datetime.strptime(report["blocked_senders"][0]["expires_at"], "%Y-%m-%dT%H:%M:%SZ")
    days = (expires.replace(tzinfo=datetime.timezone.utc) - datetime.datetime.now(datetime.timezone.utc)).days
    assert days in (29, 30)
    assert report["missed_detection"]["summary"]["submitted"] == 5
    assert os.path.exists(reports[-1][: -len(".json")] + ".md")

    again = remediate(campaign_sim, tmp_path, "again")
    assert again.returncode == 0, again.output
    assert state.moves() == dict.fromkeys(campaign_sim.campaign, 1)
    assert len(state.ledger("settings_created")) == 1
    assert len(state.ledger("submission")) == 5


def test_a_real_run_without_a_reason_or_above_the_cap_moves_nothing(campaign_sim, tmp_path):
    state = campaign_sim.state

    no_reason = remediate(campaign_sim, tmp_path, "no-reason", reason="")
    over_cap = remediate(campaign_sim, tmp_path, "over-cap", max_messages=2)

    assert no_reason.returncode != 0
    assert "phish_remediation_reason" in no_reason.output
    assert over_cap.returncode != 0
    assert "5 messages would be moved, more than phish_remediation_max_messages (2)" in over_cap.output
    # The preview's screenshots rendered from the mailbox are POSTs that change no mail; nothing else was sent.
    assert [r for r in state.requests(method="POST") if r["endpoint"] != "mailbox_preview"] == []


def test_a_campaign_above_the_threshold_is_moved_by_one_bulk_job_and_a_run_again_moves_nothing(campaign_sim, tmp_path):
    # Issue 38: past phish_remediation_bulk_threshold no message is located; one bulk MOVE job moves the campaign.
    state = campaign_sim.state
    start = moment(3)
    runs = [remediate(campaign_sim, tmp_path, name, bulk_threshold=1, start=start) for name in ("first", "again")]

    assert all(run.returncode == 0 for run in runs), runs[0].output + runs[1].output
    for message_id in campaign_sim.campaign:
        assert state.messages[message_id].folders == dict.fromkeys(RECIPIENTS, "DeletedItems")
    assert {i: n for i, n in state.moves().items() if i in campaign_sim.campaign} == dict.fromkeys(
        campaign_sim.campaign, 1
    )
    assert len(state.ledger("bulk_job_created")) == 1
    # The job moved them: no message was located for a move of its own.
    assert [r for r in state.requests(method="POST") if r["endpoint"] == "move"] == []
    assert [(e["pattern"], e["pattern_type"]) for e in state.settings["block_senders"].entries.values()] == [
        (PHISH_SENDER, "EMAIL")
    ]
    assert sorted(e["id"] for e in state.ledger("submission")) == sorted(campaign_sim.campaign)
    said = " ".join(runs[0].output.split())
    assert "Moved 5 message(s) to DeletedItems; blocked %s; reported 5 as missed" % PHISH_SENDER in said


def test_the_preview_shows_each_message_of_the_campaign_as_rendered_from_the_mailbox(campaign_sim, tmp_path):
    # Issue 40: mail that got through has no detection, so Cloudflare keeps no EML of it and renders its screenshot
    # from the mailbox (a Write token, while it is in the Inbox).
    state = campaign_sim.state

    preview = remediate(campaign_sim, tmp_path, "check", options=["--check"])

    assert preview.returncode == 0, preview.output
    assert state.ledger("move") == []
    assert sorted(e["id"] for e in state.ledger("mailbox_preview")) == sorted(campaign_sim.campaign)
    report_path = sorted(glob.glob(str(tmp_path / "reports" / "phish-remediation-INC-4711-*.json")))[-1]
    report = json.loads(open(report_path, encoding="utf-8").read())
    evidence = {entry["id"]: entry for entry in report["evidence"]}
    assert sorted(evidence) == sorted(campaign_sim.campaign)
    for entry in evidence.values():
        assert entry["preview"]["source"] == "mailbox"
        assert open(entry["preview"]["path"], "rb").read().startswith(b"\x89PNG")
        assert entry["unavailable"]["raw"].startswith("no detection")
        assert "%s | %s | NONE | evidence unavailable: no detection" % (entry["id"], PHISH_SENDER) in preview.output
    assert os.path.exists(report_path[: -len(".json")] + ".evidence.html")
    # Each message costs its detections and one preview: two requests, and no EML read.
    evidence_requests = [
        r
        for r in state.requests()
        if r["endpoint"] in ("message_part", "mailbox_preview") and "/action_log" not in r["path"]
    ]
    assert len(evidence_requests) == 2 * len(campaign_sim.campaign)

    first = remediate(campaign_sim, tmp_path, "first")
    assert first.returncode == 0, first.output
    assert state.moves() == dict.fromkeys(campaign_sim.campaign, 1)
