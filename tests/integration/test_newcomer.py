# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 37: what a new user and independent checks hit in 1.2.0, each through a real ansible-playbook run against
the simulator, as the user ran it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import yaml

from conftest import COLLECTION_ROOT, PHISH_SENDER, RECIPIENTS, ansible_env, moment, run_playbook
from test_phish_remediation import remediate

from tests.simulator import Message

CALLBACK_FAILURE = "Callback dispatch"


def _playbook(tmp_path, name, tasks):
    path = tmp_path / ("%s.yml" % name)
    path.write_text(yaml.safe_dump([{"name": name, "hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    return path


def _settings_tasks():
    allow = "mailsec.cloudflare.email_security_allow_policy"
    trusted = "mailsec.cloudflare.email_security_trusted_domain"
    blocked = "mailsec.cloudflare.email_security_blocked_sender"
    return [
        {"name": "One allow policy", allow: {"pattern": "one@partner.example"}},
        {
            "name": "Many allow policies",
            allow: {"policies": [{"pattern": "two@partner.example"}, {"pattern": "three@partner.example"}]},
        },
        {"name": "One trusted domain", trusted: {"pattern": "one-partner.example"}},
        {"name": "Many trusted domains", trusted: {"domains": [{"pattern": "a.example"}, {"pattern": "b.example"}]}},
        {"name": "One blocked sender", blocked: {"pattern": "bad@phish.example", "ttl": "30d"}},
        # The module's second EXAMPLE, verbatim.
        {
            "name": "Block every domain of the campaign in one batch request",
            blocked: {
                "senders": [{"pattern": "phish-campaign.example"}, {"pattern": "phish-campaign-billing.example"}],
                "pattern_type": "DOMAIN",
                "ttl": "30d",
            },
        },
        {
            "name": "Remove two allow policies",
            allow: {
                "policies": [{"pattern": "two@partner.example"}, {"pattern": "three@partner.example"}],
                "state": "absent",
            },
        },
    ]


def test_diff_of_every_settings_module_and_the_move_is_rendered_by_the_default_callback(sim, tmp_path):
    sent = moment(1)
    delivered = Message("DELIVERED0001-%s-1" % sent[:-1], "news@vendor.example", ["alice@corp.example"], "News", sent)
    delivered.mark_never_quarantined()
    sim.state.add_messages([delivered])
    message_id = delivered.id
    tasks = _settings_tasks() + [
        {
            "name": "Move one message to Junk Email",
            "mailsec.cloudflare.email_security_move": {"message_ids": [message_id], "destination": "JunkEmail"},
        }
    ]
    run = run_playbook(_playbook(tmp_path, "diffs", tasks), tmp_path, ansible_env(sim, tmp_path), {}, ["--diff"])

    assert run.returncode == 0, run.output
    assert CALLBACK_FAILURE not in run.output, run.output
    for header in (
        "allow policy one@partner.example (EMAIL)",
        "allow policy three@partner.example (EMAIL)",
        "trusted domain b.example",
        "blocked sender phish-campaign-billing.example (DOMAIN)",
    ):
        assert "+++ after: %s" % header in run.output, header
    assert '+    "pattern": "phish-campaign.example",' in run.output
    # The removal: the policy's fields before, none after.
    assert "--- before: allow policy two@partner.example (EMAIL)" in run.output
    assert '-    "pattern": "two@partner.example",' in run.output
    assert "-%s: Inbox" % message_id in run.output and "+%s: JunkEmail" % message_id in run.output


def _release_runbook(sim, tmp_path, ticket, report_dir, options=(), **extra):
    """The release runbook's AWX playbook over two of the demo's quarantined messages."""
    quarantined = [m.id for m in sim.state.messages.values() if m.is_quarantined][:2]
    variables = dict(
        message_ids=quarantined, reason="supplier invoices", ticket=ticket, report_dir=str(report_dir), **extra
    )
    playbook = os.path.join(COLLECTION_ROOT, "playbooks", "release_messages.yml")
    return run_playbook(playbook, tmp_path, ansible_env(sim, tmp_path), variables, options)


def test_diff_of_both_runbooks_is_rendered_by_the_default_callback(sim, tmp_path):
    release = _release_runbook(sim, tmp_path, "INC-1", tmp_path / "release-reports", ["--diff"], allow="sender")
    assert release.returncode == 0, release.output
    assert CALLBACK_FAILURE not in release.output, release.output
    assert "+++ after: allow policy" in release.output


def test_diff_of_the_phish_runbook_is_rendered_by_the_default_callback(campaign_sim, tmp_path):
    run = remediate(campaign_sim, tmp_path, "diff", options=["--diff"])

    assert run.returncode == 0, run.output
    assert CALLBACK_FAILURE not in run.output, run.output
    assert "+++ after: blocked sender %s (EMAIL)" % PHISH_SENDER in run.output


def _results(tmp_path, sim, name, tasks, env=None, options=()):
    """Run tasks that each register ``r<n>`` (errors ignored) and return the playbook run and {n: result}."""
    registered = []
    for number, task in enumerate(tasks):
        task = dict(task, register="r%d" % number, ignore_errors=True)
        registered.append(task)
    registered.append(
        {
            "name": "Save what each task registered",
            "ansible.builtin.copy": {
                "content": "{{ {%s} | to_nice_json }}" % ", ".join("'%d': r%d" % (n, n) for n in range(len(tasks))),
                "dest": str(tmp_path / ("%s.json" % name)),
                "mode": "0600",
            },
        }
    )
    run = run_playbook(_playbook(tmp_path, name, registered), tmp_path, env or ansible_env(sim, tmp_path), {}, options)
    with open(tmp_path / ("%s.json" % name), encoding="utf-8") as source:
        return run, {int(key): value for key, value in json.load(source).items()}


def test_a_base_url_with_a_space_and_junk_after_it_is_refused_before_any_request(sim, tmp_path):
    release = "mailsec.cloudflare.email_security_release"
    tasks = [
        {"name": "Option", release: {"message_ids": ["a-1"], "base_url": sim.base_url + " junk"}},
        {"name": "Variable", release: {"message_ids": ["a-1"]}, "environment": {"CLOUDFLARE_BASE_URL": "api.example"}},
    ]
    run, results = _results(tmp_path, sim, "base-url", tasks)

    assert run.returncode == 0, run.output
    assert "base_url holds a space at character %d" % (len(sim.base_url) + 1) in results[0]["msg"]
    assert "set the base_url option" in results[0]["msg"]
    assert "CLOUDFLARE_BASE_URL must be an http(s) URL starting with https://" in results[1]["msg"]
    assert sim.state.requests() == []


def test_a_release_or_move_whose_search_finds_nothing_says_so(sim, tmp_path):
    search = {"sender": "nobody@nowhere.example", "start": moment(24 * 20), "end": moment(24 * 19)}
    tasks = [
        {"name": "Release", "mailsec.cloudflare.email_security_release": {"search": search}},
        {"name": "Move", "mailsec.cloudflare.email_security_move": {"search": search, "destination": "Inbox"}},
    ]
    run, results = _results(tmp_path, sim, "empty-search", tasks)

    for number, verb in ((0, "released"), (1, "moved")):
        assert not results[number].get("failed") and not results[number]["changed"]
        [warning] = [w for w in results[number]["warnings"] if "matched no message" in w]
        assert "sender nobody@nowhere.example" in warning and search["start"] in warning
        assert "so nothing was %s" % verb in warning and "window is outside the mail's dates" in warning
    assert sim.state.requests(method="POST") == []


def test_message_info_takes_the_search_a_release_takes_and_the_flat_filters_still_work_deprecated(sim, tmp_path):
    sender = "invoices@northwind-supplies.example"
    search = {"sender": sender, "start": moment(24 * 14)}
    info = "mailsec.cloudflare.email_security_message_info"
    tasks = [
        {
            "name": "Preview the release",
            "mailsec.cloudflare.email_security_release": {"search": search},
            "check_mode": True,
        },
        {"name": "The same search, read", info: {"search": search}},
        {"name": "The flat filters of 1.2.0", info: {"sender": sender, "start": search["start"]}},
    ]
    run, results = _results(tmp_path, sim, "one-search", tasks)

    assert run.returncode == 0, run.output
    previewed = [r["id"] for r in results[0]["results"] if r["status"] == "would_release"]
    assert previewed and sorted(results[1]["ids"]) == sorted(previewed)
    assert sorted(results[2]["ids"]) == sorted(previewed)
    assert "Unsupported parameters" not in run.output
    assert "Param 'sender' is deprecated" in run.output and "version 2.0.0" in run.output


def test_both_runbooks_say_where_their_report_is_and_the_phish_runbook_says_what_it_did(sim, campaign_sim, tmp_path):
    release = _release_runbook(sim, tmp_path, "INC-7", tmp_path / "r")
    phish = remediate(campaign_sim, tmp_path, "said")

    assert release.returncode == 0 and phish.returncode == 0, release.output + phish.output
    [release_report] = [p for p in os.listdir(tmp_path / "r") if p.endswith(".md")]
    assert "Report: %s" % (tmp_path / "r" / release_report[:-3]) in release.output
    assert (
        "Moved 5 message(s) to DeletedItems; blocked %s; reported 5 as missed (0 already reported)" % PHISH_SENDER
        in (" ".join(phish.output.split()))
    )
    assert "Report: %s" % (tmp_path / "reports" / "phish-remediation-INC-4711-") in phish.output


def _null_message(number, hours_ago, quarantined=True, title=None, **nulls):
    """A message whose listed fields Cloudflare gives as null (the contract lets it), as a seed would hold it."""
    sent = moment(hours_ago)
    data = {
        "id": "NULL%012d-%s-%d" % (number, sent[:-1], number),
        "from": "ap@vendor.example",
        "to": ["alice@corp.example"],
        "client_recipients": ["alice@corp.example"],
        "subject": title or "Invoice %d" % number,
        "sent_date": sent,
        "final_disposition": "SPAM" if quarantined else "NONE",
        "is_quarantined": quarantined,
        "never_quarantined": not quarantined,
    }
    data.update(nulls)
    return Message.from_dict(data)


def test_messages_whose_nullable_fields_are_null_go_through_every_module_and_both_runbooks(sim, campaign_sim, tmp_path):
    # Issue 37 item 10: a seed message with "from": null crashed the simulator's search, so nothing tested this.
    quarantined = [
        _null_message(1, 2, **{"from": None, "subject": None, "sent_date": None, "to": None}),
        _null_message(2, 2, delivery_status=None, message_id=None, alert_id=None, replyto=None),
        _null_message(3, 2, **{"from": None, "subject": None}),
    ]
    delivered = _null_message(4, 1, quarantined=False, title="Invoice overdue", **{"from": None})
    sim.state.add_messages(quarantined)
    campaign_sim.state.add_messages([delivered])
    ids = [m.id for m in quarantined]
    info = "mailsec.cloudflare.email_security_message_info"
    tasks = [
        {"name": "Read by id", info: {"message_ids": ids}},
        {"name": "Search", info: {"search": {"start": moment(3), "detections_only": False}}},
        {"name": "Release two", "mailsec.cloudflare.email_security_release": {"message_ids": ids[:2]}},
    ]
    run, results = _results(tmp_path, sim, "nulls", tasks)

    assert run.returncode == 0, run.output
    by_id = {m["id"]: m for m in results[0]["messages"]}
    assert by_id[ids[0]]["from"] is None and by_id[ids[0]]["subject"] is None and by_id[ids[0]]["sent_date"] is None
    assert by_id[ids[1]]["delivery_status"] == [] and by_id[ids[1]]["message_id"] is None
    assert set(ids) <= set(results[1]["ids"])
    assert {r["status"] for r in results[2]["results"]} == {"released"}

    runbook = run_playbook(
        os.path.join(COLLECTION_ROOT, "playbooks", "release_messages.yml"),
        tmp_path,
        ansible_env(sim, tmp_path),
        {"message_ids": ids, "reason": "invoices", "ticket": "INC-9", "report_dir": str(tmp_path / "release")},
    )
    assert runbook.returncode == 0, runbook.output
    assert sim.state.deliveries() == dict.fromkeys(ids, 1)
    [markdown] = [p for p in os.listdir(tmp_path / "release") if p.endswith(".md")]
    assert ids[2] in (tmp_path / "release" / markdown).read_text()

    state = campaign_sim.state
    phish = remediate(campaign_sim, tmp_path, "phish-nulls", sender="", subject="Invoice overdue")
    assert phish.returncode == 0, phish.output
    assert state.messages[delivered.id].folders == {"alice@corp.example": "DeletedItems"}
    assert all(state.messages[i].folders == dict.fromkeys(RECIPIENTS, "DeletedItems") for i in campaign_sim.campaign)
    assert [e["pattern"] for e in state.settings["block_senders"].entries.values()] == [PHISH_SENDER]
    said = " ".join(phish.output.split())
    no_sender = "1 message(s) carry no sender (Cloudflare gives their from as null), so no block was made for them"
    assert "%s: %s" % (no_sender, delivered.id) in said
