# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Faults, drift and limits: none of them may deliver a message twice or leave an id without a status."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

import pytest

from tests.simulator import generate_messages

SAFE_STATUSES = {"released", "released_unconfirmed", "unknown"}
PAUSE_SAID = re.compile(r"\[localhost\] waiting \d+ s for the rate limit: Cloudflare's Ratelimit header announces \d+ ")


def quarantined_ids(sim):
    return [m.id for m in sim.state.messages.values() if m.is_quarantined]


def assert_nothing_delivered_twice(sim):
    assert all(count == 1 for count in sim.state.deliveries().values())
    assert sim.state.double_deliveries() == []


def test_rate_limited_then_success(sim, release):
    sim.state.inject("rate_limit", "release", count=1, retry_after=1)
    ids = quarantined_ids(sim)[:4]

    run = release({"message_ids": ids})

    assert run.returncode == 0, run.output
    assert run.result["summary"]["released"] == 4 and run.result["summary"]["retries"] == 1
    assert [r["status"] for r in sim.state.requests(method="POST")] == [429, 200]
    assert "HTTP 429 rate limited; retry 1 of 3" in run.output
    assert_nothing_delivered_twice(sim)


def test_service_unavailable_on_release_is_resent_after_the_settle_window(sim, release):
    sim.state.inject("status", "release", count=1, status=503)
    ids = quarantined_ids(sim)[:4]

    run = release({"message_ids": ids, "settle_timeout": 2})

    assert run.returncode == 0, run.output
    assert [r["status"] for r in run.result["results"]] == ["released"] * 4
    assert [r["status"] for r in sim.state.requests(method="POST")] == [503, 200]
    assert "Reading its 4 message(s) back until they leave quarantine or settle_timeout (2 s)" in run.output
    assert sim.state.deliveries() == dict.fromkeys(ids, 1)


def test_service_unavailable_on_reads_is_retried(sim, release):
    sim.state.inject("status", "get", count=2, status=503)
    ids = quarantined_ids(sim)[:3]

    run = release({"message_ids": ids, "concurrency": 1})

    assert run.returncode == 0, run.output
    assert run.result["summary"]["released"] == 3
    assert_nothing_delivered_twice(sim)


@pytest.mark.parametrize(
    "fault, options",
    [
        ("drop_after", {}),
        ("slow_after", {"delay": 3.0}),
        ("malformed", {}),
    ],
)
def test_lost_answers_after_processing_never_deliver_twice(sim, release, fault, options):
    sim.state.inject(fault, "release", count=1, **options)
    ids = quarantined_ids(sim)[:6]

    run = release({"message_ids": ids, "batch_size": 3, "timeout": 1, "concurrency": 1, "fail_on_incomplete": False})

    assert run.returncode == 0, run.output
    statuses = [r["status"] for r in run.result["results"]]
    assert set(statuses) <= SAFE_STATUSES | {"partially_released"}
    assert statuses.count("released") + statuses.count("released_unconfirmed") >= 5
    assert_nothing_delivered_twice(sim)
    assert len(sim.state.requests(method="POST")) == 2
    assert "left quarantine, so it was not sent again" in str(run.result["results"])


def test_lost_answers_with_unreadable_messages_end_unknown(sim, release):
    sim.state.inject("drop_after", "release", count=1)
    # Unreadable whichever way they are read: by id, or by the search of the time their ids carry.
    sim.state.inject("status", "get", count=100, status=500)
    sim.state.inject("status", "search", count=100, status=500)
    ids = quarantined_ids(sim)[:2]

    run = release(
        {"message_ids": ids, "only_quarantined": False, "retries": 1, "fail_on_incomplete": False, "concurrency": 1}
    )

    assert [r["status"] for r in run.result["results"]] == ["unknown", "unknown"]
    assert run.result["incomplete_ids"] == ids
    assert run.result["released_ids"] == []
    assert len(sim.state.requests(method="POST")) == 1
    assert_nothing_delivered_twice(sim)


def test_connection_dropped_before_processing_is_verified_and_resent(sim, release):
    sim.state.inject("drop_before", "release", count=1)
    ids = quarantined_ids(sim)[:3]

    run = release({"message_ids": ids, "settle_timeout": 2})

    assert run.returncode == 0, run.output
    assert run.result["summary"]["released"] == 3
    assert len(sim.state.requests(method="POST")) == 2
    assert sim.state.deliveries() == dict.fromkeys(ids, 1)


@pytest.mark.parametrize("accepted", ["array", "object"])
def test_drifted_server_accepting_one_body_form(sim, release, accepted):
    sim.state.configure({"accept_body": accepted, "reject_status": 422 if accepted == "array" else 400})
    ids = quarantined_ids(sim)

    run = release({"message_ids": ids, "batch_size": 4, "concurrency": 1})

    assert run.returncode == 0, run.output
    assert run.result["body_format"] == accepted
    forms = [r["body_form"] for r in sim.state.requests(method="POST")]
    if accepted == "array":
        assert forms == ["object", "array", "array", "array"]
        assert "still quarantined are sent in the array form, kept for the rest of this run" in run.output
    else:
        assert forms == ["object"] * 3
    assert_nothing_delivered_twice(sim)


def test_postfix_id_only_items(sim, release):
    sim.state.configure({"postfix_only": True})
    ids = quarantined_ids(sim)[:3]

    run = release({"message_ids": ids})

    assert run.returncode == 0, run.output
    assert [(r["id"], r["status"]) for r in run.result["results"]] == [(i, "released") for i in ids]
    assert "postfix_id only" in run.output


def test_quota_announced_in_headers_is_never_exceeded(sim, release):
    sim.state.add_messages(generate_messages(40, seed=5))
    ids = [m.id for m in generate_messages(40, seed=5)]
    sim.state.set_quota(30, window=4, lockout=300)

    run = release({"message_ids": ids, "batch_size": 8})

    assert run.returncode == 0, run.output
    assert len(sim.state.requests()) == 45
    assert sim.state.ledger("lockout") == []
    assert all(r["status"] == 200 for r in sim.state.requests())
    assert run.result["summary"]["released"] == 40
    assert run.result["summary"]["rate_limit_paused_seconds"] > 0
    assert "pausing" in run.output and "Ratelimit header" in run.output
    # Said while the task waits, not only in the warnings at its end.
    lines = run.stdout.splitlines()
    said = [n for n, line in enumerate(lines) if PAUSE_SAID.match(line)]
    assert said and said[0] < min(n for n, line in enumerate(lines) if line.startswith("changed: [localhost]"))


def test_a_lockout_caused_elsewhere_is_reported_with_its_length(sim, release):
    sim.state.lock_out(300)
    ids = quarantined_ids(sim)[:2]

    run = release({"message_ids": ids, "only_quarantined": False, "batch_size": 1, "concurrency": 1})

    assert run.result["failed"] is True
    # 300 s when the request lands within a second of the lockout's start, less the later it lands.
    assert re.search(r"locked out for (29\d|300) s \(Retry-After\)", run.result["msg"]), run.result["msg"]
    assert len(sim.state.requests()) == 1
    assert [r["status"] for r in run.result["results"]] == ["not_released", "not_released"]
    assert sim.state.deliveries() == {}


def test_task_timeout_bounds_a_slow_server(sim, release):
    sim.state.configure({"latency": 3.0})
    ids = quarantined_ids(sim)[:2]

    run = release({"message_ids": ids, "task_timeout": 2, "only_quarantined": False, "retries": 0})

    assert run.result["failed"] is True
    assert {r["status"] for r in run.result["results"]} <= {"unknown", "not_released", "released", "release_pending"}
    assert len(run.result["results"]) == 2
    assert_nothing_delivered_twice(sim)


def test_secrets_stay_hidden_through_retries_and_errors(sim, release):
    sim.state.inject("rate_limit", "any", count=1, retry_after=1)
    sim.state.inject("status", "release", count=1, status=502)

    run = release(
        {"message_ids": quarantined_ids(sim)[:2], "api_token": sim.state.api_token, "settle_timeout": 2},
        diff=True,
        options=["-vvvv"],
    )

    assert run.returncode == 0, run.output
    assert "retry 1 of 3" in run.output
    assert sim.state.api_token not in run.output


def test_a_proxy_echoing_the_token_back_cannot_leak_it(sim, release):
    sim.state.inject("echo_headers", "release", count=1)

    run = release({"message_ids": quarantined_ids(sim)[:2], "body_format": "object"}, options=["-vvvv"])

    assert run.result["failed"] is True
    assert "Invalid request headers: " in run.result["msg"] and "********" in run.result["msg"]
    assert sim.state.api_token not in run.output
    assert sim.state.api_token not in str(run.result)


def test_a_trickled_release_answer_is_cut_at_timeout_and_settled_by_reading(sim, release):
    sim.state.inject("trickle", "release", count=1, delay=1.0)
    ids = quarantined_ids(sim)[:3]

    run = release({"message_ids": ids, "timeout": 2, "task_timeout": 30, "settle_timeout": 5})

    assert run.returncode == 0, run.output
    # Out of quarantine by the read-back; the recipient lists were in the answer that never ended.
    assert [r["status"] for r in run.result["results"]] == ["released_unconfirmed"] * 3
    assert len(sim.state.requests(method="POST")) == 1
    assert_nothing_delivered_twice(sim)


def test_a_server_that_trickles_every_answer_ends_the_task_by_task_timeout(sim, release):
    """Headers at once, then a byte a second, on every request: the task ends by task_timeout, every id accounted."""
    import time

    sim.state.inject("trickle", "any", count=1000, delay=1.0)
    ids = quarantined_ids(sim)[:3]

    started = time.monotonic()
    run = release({"message_ids": ids, "timeout": 5, "task_timeout": 30, "fail_on_incomplete": False})
    took = time.monotonic() - started

    print("task against a trickling server ended after %.1f s (task_timeout 30)" % took)
    # The module's own 30 s plus the start of ansible-playbook and of the module.
    assert took < 45, run.output
    assert sorted(r["id"] for r in run.result["results"]) == sorted(ids)
    assert {r["status"] for r in run.result["results"]} == {"unknown"}
    # Each says its read got no complete answer by its deadline: the timeout, or what task_timeout left of it
    # once the search of the ids' window had spent its own.
    details = [r["detail"] for r in run.result["results"]]
    assert all(re.search(r"no complete answer within [0-9.]+ s \(timeout", detail) for detail in details), details
    assert sim.state.deliveries() == {}
