# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The whole false-positive incident (issue 16), as AWX runs it: ansible-runner, credentials in the environment.

Preview (with why each message was quarantined) -> guard -> release -> report the false positive -> allow the
senders with expiry -> confirm delivery -> report; then the scheduled expiry job that removes what has expired.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json

from test_awx import artifacts_text, reports, run_job, stats_data

from ansible_collections.mailsec.cloudflare.plugins.plugin_utils._escaping import markdown_text

NORTHWIND = "invoices@northwind-supplies.example"


def northwind_ids(sim):
    return [m.id for m in sim.state.messages.values() if m.sender == NORTHWIND]


def incident_vars(ids, **extra):
    variables = {
        "message_ids": "\n".join(ids),
        "reason": "Supplier invoices caught by a new rule",
        "ticket": "INC-2001",
        "report_false_positive": "true",
        "allow": "sender",
        "trust_sender_domains": "true",
        "allow_ttl": "14d",
        "confirm_delivery": "true",
        "confirm_delivery_timeout": 20,
        "confirm_delivery_interval": 1,
    }
    variables.update(extra)
    return variables


def load_report(tmp_path):
    json_reports, markdown_reports = reports(tmp_path)
    with open(json_reports[-1], encoding="utf-8") as source:
        report = json.load(source)
    with open(markdown_reports[-1], encoding="utf-8") as source:
        return report, source.read()


def test_the_whole_incident_from_preview_to_confirmed_delivery_in_one_job(sim, tmp_path):
    ids = northwind_ids(sim)
    # Released mail spends two seconds in transit: the role has to wait for delivery, not find it at once.
    sim.state.configure({"transit_seconds": 2})

    runner = run_job(sim, tmp_path, "release_messages.yml", incident_vars(ids))

    assert runner.status == "successful", runner.stdout.read()
    assert sim.state.deliveries() == dict.fromkeys(ids, 1)
    submitted = sim.state.ledger("submission")
    assert sorted(e["id"] for e in submitted) == sorted(ids)
    created = sim.state.ledger("settings_created")
    assert [(e["list"], e["entry"]["pattern"]) for e in created] == [
        ("allow policy", NORTHWIND),
        ("trusted domain", "northwind-supplies.example"),
    ]
    policy = created[0]["entry"]
    assert policy["is_acceptable_sender"] and policy["verify_sender"] and not policy["is_trusted_sender"]
    assert policy["comments"].startswith(
        "INC-2001: Supplier invoices caught by a new rule [mailsec.cloudflare expires_at="
    )

    report, markdown = load_report(tmp_path)
    assert report["steps"] == {
        "preview": "done",
        "why_quarantined": "done",
        "guard": "passed",
        "release": "done",
        "verify": "done",
        "false_positive": "done",
        "allow": "done",
        "confirm_delivery": "done",
    }
    assert [w["id"] for w in report["why_quarantined"]] == ids
    assert all(w["findings"] for w in report["why_quarantined"])
    assert [r["status"] for r in report["false_positive"]["results"]] == ["submitted"] * len(ids)
    expires = datetime.datetime.strptime(report["allow_policies"][0]["expires_at"], "%Y-%m-%dT%H:%M:%SZ")
    days = (expires.replace(tzinfo=datetime.timezone.utc) - datetime.datetime.now(datetime.timezone.utc)).days
    assert days == 13
    assert report["delivery"]["confirmed"] == len(ids) and report["delivery"]["not_confirmed"] == 0
    assert {row["status"] for row in report["delivery"]["recipients"]} == {"confirmed"}
    for heading in ("## Why the messages were quarantined", "## Reported to Cloudflare", "## Allowed", "## Delivery"):
        assert heading in markdown
    # The pattern is the sender's address, escaped as every word from the mail is (issue 40).
    assert "| allow policy | %s | created |" % markdown_text(NORTHWIND) in markdown

    data = stats_data(runner)["quarantine_release"]
    assert data["false_positive"]["submitted"] == len(ids)
    assert data["allowed"] == [NORTHWIND, "northwind-supplies.example"]
    assert data["delivery"] == {"confirmed": len(ids), "failed": 0, "not_confirmed": 0}
    assert sim.state.api_token not in artifacts_text(runner) + markdown + json.dumps(report)


def test_the_same_job_again_changes_nothing_more(sim, tmp_path):
    ids = northwind_ids(sim)
    first = run_job(sim, tmp_path / "first", "release_messages.yml", incident_vars(ids))
    assert first.status == "successful", first.stdout.read()

    again = run_job(sim, tmp_path / "again", "release_messages.yml", incident_vars(ids))

    assert again.status == "successful", again.stdout.read()
    assert sim.state.deliveries() == dict.fromkeys(ids, 1)
    assert len(sim.state.ledger("submission")) == len(ids)
    assert len(sim.state.ledger("settings_created")) == 2
    assert sim.state.ledger("settings_updated") == []
    report, dummy = load_report(tmp_path / "again")
    assert {r["status"] for r in report["false_positive"]["results"]} == {"already_submitted"}
    assert [p["action"] for p in report["allow_policies"] + report["trusted_domains"]] == ["unchanged", "unchanged"]
    assert report["delivery"]["confirmed"] == len(ids)


def test_a_job_stopped_after_the_release_completes_the_incident_when_run_again(sim, tmp_path):
    ids = northwind_ids(sim)
    sim.state.release(ids)

    runner = run_job(sim, tmp_path, "release_messages.yml", incident_vars(ids))

    assert runner.status == "successful", runner.stdout.read()
    assert sim.state.deliveries() == dict.fromkeys(ids, 1)
    assert sorted(e["id"] for e in sim.state.ledger("submission")) == sorted(ids)
    assert len(sim.state.ledger("settings_created")) == 2
    report, dummy = load_report(tmp_path)
    assert {r["status"] for r in report["results"]} == {"already_released"}
    assert report["delivery"]["confirmed"] == len(ids)


def test_check_mode_previews_every_step_and_changes_nothing(sim, tmp_path):
    ids = northwind_ids(sim)

    runner = run_job(sim, tmp_path, "release_messages.yml", incident_vars(ids), cmdline="--check --diff")

    assert runner.status == "successful", runner.stdout.read()
    assert sim.state.deliveries() == {}
    assert sim.state.ledger("submission") == [] and sim.state.ledger("settings_created") == []
    report, dummy = load_report(tmp_path)
    assert report["steps"]["false_positive"] == "previewed (check mode)"
    assert report["steps"]["allow"] == "previewed (check mode)"
    assert report["steps"]["confirm_delivery"] == "skipped (check mode)"
    assert {r["status"] for r in report["false_positive"]["results"]} == {"would_submit"}
    assert [p["action"] for p in report["allow_policies"]] == ["would_create"]
    writes = [r for r in sim.state.requests() if r["method"] != "GET"]
    assert writes == []


def test_a_recipient_whose_delivery_fails_and_mail_still_in_transit_are_reported_and_fail_the_job(sim, tmp_path):
    # The seed's message with a failing recipient, by its postfix id: the simulator moves the time its id carries.
    failing = next(m.id for m in sim.state.messages.values() if m.postfix_id == "v2RFnVjh9XxeUpEH")
    sim.state.configure({"transit_seconds": 3600})

    runner = run_job(
        sim,
        tmp_path,
        "release_messages.yml",
        incident_vars(
            [failing],
            report_false_positive="false",
            allow="none",
            trust_sender_domains="false",
            confirm_delivery_timeout=2,
        ),
    )

    assert runner.status == "failed"
    report, markdown = load_report(tmp_path)
    statuses = {row["recipient"]: row["status"] for row in report["delivery"]["recipients"]}
    assert statuses["carol@corp.example"] == "failed"
    assert set(statuses.values()) == {"failed", "not_confirmed"}
    assert report["steps"]["allow"] == "not asked"
    assert "not confirmed in time" in markdown


def seed_entry(sim, segment, pattern, expires_at=None, **fields):
    comments = "INC-1 [mailsec.cloudflare expires_at=%s]" % expires_at if expires_at else "kept by hand"
    body = dict(pattern=pattern, is_regex=False, comments=comments, **fields)
    if segment == "allow_policies":
        body.update(
            pattern_type="EMAIL",
            is_acceptable_sender=True,
            is_trusted_sender=False,
            is_exempt_recipient=False,
            verify_sender=True,
        )
    else:
        body.update(is_recent=True, is_similarity=False)
    return sim.state.settings[segment].create(body)


def test_the_expiry_job_removes_only_what_has_expired(sim, tmp_path):
    past, future = "2026-01-01T00:00:00Z", "2099-01-01T00:00:00Z"
    expired = seed_entry(sim, "allow_policies", "old@partner.example", past)
    seed_entry(sim, "allow_policies", "running@partner.example", future)
    seed_entry(sim, "allow_policies", "manual@partner.example")
    expired_domain = seed_entry(sim, "trusted_domains", "old-partner.example", past)
    seed_entry(sim, "trusted_domains", "partner.example")

    preview = run_job(sim, tmp_path / "check", "expire_allow_policies.yml", {}, cmdline="--check")
    assert preview.status == "successful", preview.stdout.read()
    assert sim.state.ledger("settings_deleted") == []
    assert stats_data(preview)["expired_allow_policies"] == ["old@partner.example"]

    runner = run_job(sim, tmp_path / "run", "expire_allow_policies.yml", {})

    assert runner.status == "successful", runner.stdout.read()
    assert [e["id"] for e in sim.state.ledger("settings_deleted")] == [expired["id"], expired_domain["id"]]
    remaining = sorted(e["pattern"] for e in sim.state.settings["allow_policies"].entries.values())
    assert remaining == ["manual@partner.example", "running@partner.example"]
    assert stats_data(runner)["expired_trusted_domains"] == ["old-partner.example"]


def test_a_failing_read_of_why_each_message_was_quarantined_warns_and_the_release_goes_on(sim, tmp_path):
    """Issue 23: a 5xx on .../detections failed the whole job before anything was released."""
    ids = northwind_ids(sim)
    sim.state.inject("status", "message_part", count=1000, status=503)

    runner = run_job(
        sim,
        tmp_path,
        "release_messages.yml",
        {"message_ids": "\n".join(ids), "ticket": "INC-2301", "reason": "Detections API down"},
    )

    output = runner.stdout.read()
    assert runner.status == "successful", output
    assert sim.state.deliveries() == dict.fromkeys(ids, 1)
    report, markdown = load_report(tmp_path)
    assert report["steps"]["release"] == "done"
    assert sorted(why["id"] for why in report["why_quarantined"]) == sorted(ids)
    assert {why["final_disposition"] for why in report["why_quarantined"]} == {"unavailable"}
    assert all("HTTP 503" in " ".join(why["findings"]) for why in report["why_quarantined"])
    assert "unavailable" in markdown
    assert "why it was quarantined could not be read" in " ".join(output.split())


def test_a_message_whose_quarantine_state_cannot_be_read_still_stops_the_release(sim, tmp_path):
    ids = northwind_ids(sim)
    sim.state.inject("status", "get", count=1000, status=503)

    runner = run_job(
        sim,
        tmp_path,
        "release_messages.yml",
        {"message_ids": "\n".join(ids), "ticket": "INC-2302", "reason": "Messages API down"},
    )

    assert runner.status == "failed"
    assert sim.state.deliveries() == {}


def test_the_optional_steps_that_are_off_print_no_task_of_theirs(sim, tmp_path):
    """Issue 26: the role printed 45 task headers at default verbosity, 20 of them skipping (now 31 and 4)."""
    ids = northwind_ids(sim)

    runner = run_job(
        sim,
        tmp_path,
        "release_messages.yml",
        {"message_ids": "\n".join(ids), "ticket": "INC-2601", "reason": "Rule too strict"},
    )

    output = runner.stdout.read()
    assert runner.status == "successful", output
    headers = [line for line in output.splitlines() if line.startswith("TASK [")]
    assert [h for h in headers if any(step in h for step in ("False positive |", "Allow |", "Confirm |"))] == []
    # Nor a task of the search or bulk paths: a run by ids shows what it ran.
    other_paths = (
        "Preview | Find what the search",
        "a search above the bulk threshold",
        "each message a search found",
        "Release what the search finds",
        "Hand the search to a bulk",
        "Find |",
    )
    assert [h for h in headers if any(task in h for task in other_paths)] == [], headers
    print("%d task headers, %d skipping" % (len(headers), output.count("skipping: [")))
