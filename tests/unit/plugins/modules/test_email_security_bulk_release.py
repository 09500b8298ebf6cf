# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Bulk release jobs (issue 15): one job per intent, waiting, cancelling, and outcomes, call by call."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from ansible_collections.mailsec.cloudflare.plugins.module_utils._writes.bulk import BulkAction, intent_key
from ansible_collections.mailsec.cloudflare.plugins.modules import (
    email_security_bulk_job_info,
    email_security_bulk_release,
)
from ansible_collections.mailsec.cloudflare.tests.unit.plugins.conftest import ACCOUNT, BASE, TOKEN, envelope

MAIN = email_security_bulk_release.main
BULK_URL = "%s/accounts/%s/email-security/investigate/bulk" % (BASE, ACCOUNT)
SEARCH_URL = "%s/accounts/%s/email-security/investigate" % (BASE, ACCOUNT)
JOB_ID = "f174e90a-fafe-4643-bbbc-4a0ed4fc8415"
OTHER_JOB_ID = "0b5c2a1e-7d3f-4e9a-8c6b-1f2e3d4c5b6a"
START = "2026-11-24T08:00:00Z"
SEARCH = dict(sender="partner.example", start=START)
INTENT = intent_key(
    ACCOUNT, {"sender": "partner.example", "start": START, "detections_only": True}, None, None, "INC-1"
)


def args(**extra):
    base = dict(account_id=ACCOUNT, api_token=TOKEN, base_url=BASE, search=SEARCH, ticket="INC-1", poll_interval=5)
    base.update(extra)
    return base


def job(status="PROCESSING", job_id=JOB_ID, intent=INTENT, created_at="2026-11-25T10:00:00Z", **counters):
    detail = {
        "job_id": job_id,
        "action_type": "RELEASE",
        "action_params": {"type": "RELEASE"},
        "search_params": {"sender": "partner.example", "start": START, "detections_only": True},
        "comment": "mailsec.cloudflare intent=%s; ticket: INC-1" % intent,
        "status": status,
        "created_at": created_at,
    }
    names = ("pending", "successful", "failed", "skipped", "cancelled")
    detail.update(("messages_" + name, counters.get(name, 0)) for name in names)
    detail["total_messages_discovered"] = sum(counters.get(name, 0) for name in names)
    return detail


def listing(jobs):
    info = {"count": len(jobs), "per_page": 100, "next": None, "page": 0, "total_count": 0}
    return envelope(jobs, result_info=info)


def row(message_id, recipient, status, note=None):
    return {
        "message_id": "00000000-0000-4000-8000-%012d" % abs(hash((message_id, recipient)) % 10**12),
        "postfix_id": message_id.split("-")[0],
        "action_type": "RELEASE",
        "action_params": {"type": "RELEASE", "client_recipient": recipient},
        "status": status,
        "status_message": note,
        "retry_count": 0,
        "created_at": "2026-11-25T10:00:00Z",
        "message": {"id": message_id},
    }


def calls(api):
    return ["%s %s" % (c.request.method, urlsplit(c.request.url).path.split("/investigate")[1]) for c in api.calls]


def query_of(call):
    return {name: values[0] for name, values in parse_qs(urlsplit(call.request.url).query).items()}


def test_creates_one_job_with_its_intent_and_waits_until_it_completes(api, run_module):
    api.get(BULK_URL, json=listing([]))
    api.post(BULK_URL, status=201, json=envelope(job("PENDING")))
    api.get(BULK_URL + "/" + JOB_ID, json=envelope(job("PROCESSING", pending=2, successful=1)))
    api.get(BULK_URL + "/" + JOB_ID, json=envelope(job("COMPLETED", successful=3)))

    outcome = run_module(MAIN, args())

    assert calls(api) == ["GET /bulk", "POST /bulk", "GET /bulk/" + JOB_ID, "GET /bulk/" + JOB_ID]
    assert query_of(api.calls[0]) == {"action_type": "RELEASE", "page": "1", "per_page": "100"}
    body = json.loads(api.calls[1].request.body)
    assert body == {
        "action": "RELEASE",
        "search_params": {"sender": "partner.example", "start": START, "detections_only": True},
        "comment": "mailsec.cloudflare intent=%s; ticket: INC-1" % INTENT,
    }
    result = outcome.result
    assert not outcome.failed and result["changed"] is True and result["created"] is True
    assert result["job_id"] == JOB_ID and result["intent"] == INTENT
    assert result["summary"]["status"] == "COMPLETED" and result["summary"]["successful"] == 3
    assert result["summary"]["polls"] == 2 and result["summary"]["requests_sent"] == 4


def test_a_rerun_adopts_the_completed_job_and_changes_nothing(api, run_module):
    api.get(BULK_URL, json=listing([job("COMPLETED", job_id=OTHER_JOB_ID, intent="0" * 32), job("COMPLETED")]))

    outcome = run_module(MAIN, args())

    assert calls(api) == ["GET /bulk"]
    assert outcome.result["changed"] is False and outcome.result["adopted"] is True
    assert outcome.result["job_id"] == JOB_ID and not outcome.failed


def test_a_lost_create_answer_adopts_the_job_it_made_instead_of_creating_another(api, run_module):
    """Issue 15: a create whose answer is lost must not be followed by a second job."""
    api.get(BULK_URL, json=listing([]))
    api.post(BULK_URL, body=requests.exceptions.ReadTimeout("read timed out"))
    api.get(BULK_URL, json=listing([]))
    api.get(BULK_URL, json=listing([job("PROCESSING")]))
    api.get(BULK_URL + "/" + JOB_ID, json=envelope(job("COMPLETED", successful=2)))

    outcome = run_module(MAIN, args())

    assert calls(api).count("POST /bulk") == 1
    assert outcome.result["adopted"] is True and outcome.result["created"] is False
    assert outcome.result["changed"] is True and not outcome.failed


def test_a_lost_create_with_no_job_after_settle_timeout_creates_once_more(api, run_module):
    api.get(BULK_URL, json=listing([]))
    api.post(BULK_URL, body=requests.exceptions.ReadTimeout("read timed out"))
    # The settle rule's schedule: listed at once, then after 1, 2 and 4 s, and once more when the window closes.
    for dummy in range(5):
        api.get(BULK_URL, json=listing([]))
    api.post(BULK_URL, status=201, json=envelope(job("COMPLETED", successful=1)))

    outcome = run_module(MAIN, args(settle_timeout=10))

    assert calls(api).count("POST /bulk") == 2
    assert outcome.result["created"] is True and not outcome.failed


def test_a_failed_job_is_reported_per_message_and_fails_the_task(api, run_module):
    api.get(BULK_URL, json=listing([]))
    api.post(BULK_URL, status=201, json=envelope(job("PENDING")))
    failed = job("FAILED", successful=1, failed=1, cancelled=2)
    failed["status_message"] = "internal error"
    api.get(BULK_URL + "/" + JOB_ID, json=envelope(failed))
    rows = [
        row("m1-x", "a@corp.example", "FAILED", "refused"),
        row("m2-x", "b@corp.example", "CANCELLED"),
        row("m2-x", "c@corp.example", "CANCELLED"),
        row("m3-x", "d@corp.example", "COMPLETED"),
        row("m4-x", "e@corp.example", "COMPLETED"),
        row("m4-x", "f@corp.example", "FAILED"),
    ]
    api.get(BULK_URL + "/" + JOB_ID + "/messages", json=listing(rows))

    outcome = run_module(MAIN, args())

    assert outcome.failed
    # A message's outcome needs all its rows (one per recipient): every row is read, unfiltered.
    assert query_of(api.calls[3]) == {"page": "1", "per_page": "1000"}
    assert "bulk job %s is FAILED" % JOB_ID in outcome.result["msg"] and "(internal error)" in outcome.result["msg"]
    results = {r["id"]: r for r in outcome.result["results"]}
    assert results["m1-x"]["status"] == "not_released" and results["m1-x"]["failed"] == ["a@corp.example"]
    assert results["m2-x"]["undelivered"] == ["b@corp.example", "c@corp.example"]
    assert results["m4-x"]["status"] == "partially_released" and results["m4-x"]["delivered"] == ["e@corp.example"]
    assert "m3-x" not in results
    assert outcome.result["incomplete_ids"] == ["m1-x", "m2-x", "m4-x"]


def test_a_job_still_running_at_wait_timeout_is_cancelled_on_request(api, run_module):
    api.get(BULK_URL, json=listing([]))
    api.post(BULK_URL, status=201, json=envelope(job("PENDING")))
    api.get(BULK_URL + "/" + JOB_ID, json=envelope(job("PROCESSING", pending=5)))
    api.post(BULK_URL + "/" + JOB_ID + "/cancel", json=envelope(job("CANCELLED", successful=1, cancelled=4)))
    api.get(BULK_URL + "/" + JOB_ID + "/messages", json=listing([row("m3-x", "d@corp.example", "CANCELLED")]))

    outcome = run_module(MAIN, args(wait_timeout=8, cancel_on_timeout=True))

    assert calls(api)[3] == "POST /bulk/%s/cancel" % JOB_ID
    assert api.calls[3].request.body is None
    assert outcome.failed and outcome.result["summary"]["status"] == "CANCELLED"


def test_a_job_still_running_at_wait_timeout_is_left_running_and_fails_by_default(api, run_module):
    api.get(BULK_URL, json=listing([]))
    api.post(BULK_URL, status=201, json=envelope(job("PENDING")))
    api.get(BULK_URL + "/" + JOB_ID, json=envelope(job("PROCESSING", pending=5)))

    outcome = run_module(MAIN, args(wait_timeout=8))

    assert "POST /bulk/%s/cancel" % JOB_ID not in calls(api)
    assert outcome.failed and "is PROCESSING" in outcome.result["msg"]


def test_without_wait_the_task_returns_once_the_job_exists(api, run_module):
    api.get(BULK_URL, json=listing([]))
    api.post(BULK_URL, status=201, json=envelope(job("PENDING")))

    outcome = run_module(MAIN, args(wait=False))

    assert not outcome.failed and outcome.result["summary"]["status"] == "PENDING"


def test_a_job_of_the_same_intent_that_failed_is_followed_by_a_new_one(api, run_module):
    api.get(BULK_URL, json=listing([job("FAILED", job_id=OTHER_JOB_ID, failed=1)]))
    api.post(BULK_URL, status=201, json=envelope(job("COMPLETED", successful=1)))

    outcome = run_module(MAIN, args())

    assert calls(api) == ["GET /bulk", "POST /bulk"]
    assert outcome.result["created"] is True and outcome.result["job_id"] == JOB_ID


def test_check_mode_counts_by_searching_and_creates_nothing(api, run_module):
    api.get(BULK_URL, json=listing([]))
    messages = [{"id": "m%d-x" % n, "is_quarantined": n != 2} for n in range(3)]
    api.get(SEARCH_URL, json=envelope(messages, result_info={"count": 3, "per_page": 1000, "next": None}))

    outcome = run_module(MAIN, args(), check_mode=True, diff=True)

    assert calls(api) == ["GET /bulk", "GET "]
    assert outcome.result["would_release"] == 2 and outcome.result["changed"] is True
    assert outcome.result["job"] is None
    assert '"comment": "mailsec.cloudflare intent=%s; ticket: INC-1"' % INTENT in outcome.result["diff"]["after"]
    assert outcome.result["diff"]["before"] == "{}\n"


def test_the_intent_changes_with_the_search_key_reason_and_ticket():
    base = {"sender": "partner.example", "start": START, "detections_only": True}
    keys = {
        intent_key(ACCOUNT, base),
        intent_key(ACCOUNT, dict(base, sender="other.example")),
        intent_key(ACCOUNT, base, key="wave-2"),
        intent_key(ACCOUNT, base, reason="fp"),
        intent_key(ACCOUNT, base, ticket="INC-2"),
        intent_key("0" * 32, base),
    }
    assert len(keys) == 6
    assert intent_key(ACCOUNT, dict(reversed(list(base.items())))) == intent_key(ACCOUNT, base)


@pytest.mark.parametrize(
    "extra, message",
    [
        (dict(search=dict(sender="partner.example")), "search has no time window"),
        (dict(wait_timeout=-1), "wait_timeout must be from 0 to 86400"),
        (dict(poll_interval=0.1), "poll_interval must be from 1 to 3600"),
        (dict(search=None), "missing required arguments: search"),
    ],
)
def test_bad_input_is_refused_before_any_request(api, run_module, extra, message):
    outcome = run_module(MAIN, {k: v for k, v in args(**extra).items() if v is not None})

    assert outcome.failed and message in outcome.result["msg"]
    assert len(api.calls) == 0


def test_job_info_reads_one_job_with_every_outcome(api, run_module):
    api.get(BULK_URL + "/" + JOB_ID, json=envelope(job("COMPLETED", successful=2, failed=1)))
    api.get(
        BULK_URL + "/" + JOB_ID + "/messages",
        json=listing(
            [
                row("m1-x", "a@corp.example", "COMPLETED"),
                row("m1-x", "b@corp.example", "FAILED", "mailbox full"),
                row("m2-x", "c@corp.example", "COMPLETED"),
            ]
        ),
    )

    outcome = run_module(
        email_security_bulk_job_info.main,
        dict(account_id=ACCOUNT, api_token=TOKEN, base_url=BASE, job_id=JOB_ID.upper(), message_results="all"),
    )

    assert not outcome.failed and outcome.result["changed"] is False
    statuses = {r["id"]: r["status"] for r in outcome.result["results"]}
    assert statuses == {"m1-x": "partially_released", "m2-x": "released"}
    assert outcome.result["incomplete_ids"] == ["m1-x"]
    assert "b@corp.example: FAILED mailbox full" in outcome.result["results"][0]["detail"]


def test_job_info_lists_jobs_of_one_intent(api, run_module):
    api.get(BULK_URL, json=listing([job("COMPLETED", job_id=OTHER_JOB_ID, intent="0" * 32), job("COMPLETED")]))

    outcome = run_module(
        email_security_bulk_job_info.main,
        dict(account_id=ACCOUNT, api_token=TOKEN, base_url=BASE, intent=INTENT, status="COMPLETED"),
    )

    assert query_of(api.calls[0])["status"] == "COMPLETED"
    assert [j["job_id"] for j in outcome.result["jobs"]] == [JOB_ID]


def test_job_info_refuses_a_job_id_that_is_not_a_uuid(api, run_module):
    outcome = run_module(
        email_security_bulk_job_info.main,
        dict(account_id=ACCOUNT, api_token=TOKEN, base_url=BASE, job_id="../release"),
    )

    assert outcome.failed and "job_id must be a bulk job's UUID" in outcome.result["msg"]
    assert len(api.calls) == 0


def test_a_run_that_stopped_after_an_unanswered_create_makes_the_next_run_look_before_creating(api, run_module):
    api.get(BULK_URL, json=listing([]))
    api.post(BULK_URL, body=requests.exceptions.ReadTimeout("read timed out"))
    api.get(BULK_URL, json=listing([]))

    first = run_module(MAIN, args(task_timeout=1))

    assert first.failed and "no time left to wait" in first.result["msg"]
    # The next run finds the create in the journal: it lists again instead of creating, and the job shows.
    api.get(BULK_URL, json=listing([]))
    api.get(BULK_URL, json=listing([job("COMPLETED", successful=1)]))

    second = run_module(MAIN, args())

    assert calls(api).count("POST /bulk") == 1
    assert second.result["adopted"] is True and second.result["job_id"] == JOB_ID and not second.failed


def test_check_mode_leaves_an_unsettled_create_alone(api, run_module):
    api.get(BULK_URL, json=listing([]))
    api.post(BULK_URL, body=requests.exceptions.ReadTimeout("read timed out"))
    api.get(BULK_URL, json=listing([]))
    run_module(MAIN, args(task_timeout=1))
    api.get(BULK_URL, json=listing([]))
    api.get(SEARCH_URL, json=envelope([], result_info={"count": 0, "per_page": 1000, "next": None}))

    preview = run_module(MAIN, args(), check_mode=True)

    assert preview.result["would_release"] == 0 and calls(api)[-2:] == ["GET /bulk", "GET "]
    # The journal entry is still there for the next real run.
    api.get(BULK_URL, json=listing([]))
    api.get(BULK_URL, json=listing([job("COMPLETED", successful=1)]))
    assert run_module(MAIN, args()).result["adopted"] is True


def test_a_server_serving_fewer_jobs_per_page_than_asked_has_its_next_page_read_before_creating(api, run_module):
    """Issue 23: a server capping per_page at 50 put the intent's job on page 2; a re-run created a second job."""
    others = [job("COMPLETED", job_id="0b5c2a1e-7d3f-4e9a-8c6b-%012d" % n, intent="0" * 32) for n in range(50)]
    capped = {"count": 50, "per_page": 50, "next": None, "page": 0, "total_count": 0}
    api.get(BULK_URL, json=envelope(others, result_info=capped))
    api.get(BULK_URL, json=envelope([job("COMPLETED", successful=5)], result_info=dict(capped, count=1)))

    outcome = run_module(MAIN, args())

    assert calls(api) == ["GET /bulk", "GET /bulk"]
    assert [query_of(call)["page"] for call in api.calls] == ["1", "2"]
    assert outcome.result["adopted"] is True and outcome.result["changed"] is False
    assert outcome.result["job_id"] == JOB_ID and not outcome.failed


def test_a_listing_answer_without_a_page_size_is_read_until_an_empty_page(api, run_module):
    api.get(BULK_URL, json=envelope([job("COMPLETED", job_id=OTHER_JOB_ID, intent="0" * 32)], result_info={}))
    api.get(BULK_URL, json=envelope([], result_info={}))
    api.post(BULK_URL, status=201, json=envelope(job("COMPLETED", successful=1)))

    outcome = run_module(MAIN, args(wait=False))

    assert calls(api) == ["GET /bulk", "GET /bulk", "POST /bulk"]
    assert outcome.result["created"] is True


@pytest.mark.parametrize(
    "answer",
    [
        dict(status=409, json=envelope(None, success=False, errors=[{"code": 1409, "message": "Conflict"}])),
        dict(status=200, json=envelope(job("PENDING"), success=False, errors=[{"code": 1100, "message": "failed"}])),
    ],
    ids=["409", "2xx with success false"],
)
def test_an_answered_failed_create_is_settled_by_listing_until_the_job_shows(api, run_module, answer):
    """Issue 23: a failed answer while the job existed (listed 4 s later) was reported as "nothing was created"."""
    api.get(BULK_URL, json=listing([]))
    api.post(BULK_URL, **answer)
    api.get(BULK_URL, json=listing([]))
    api.get(BULK_URL, json=listing([]))
    api.get(BULK_URL, json=listing([job("PROCESSING")]))
    api.get(BULK_URL + "/" + JOB_ID, json=envelope(job("COMPLETED", successful=5)))

    outcome = run_module(MAIN, args(settle_timeout=30))

    assert calls(api).count("POST /bulk") == 1
    assert outcome.result["adopted"] is True and outcome.result["job_id"] == JOB_ID
    assert not outcome.failed and "nothing was created" not in str(outcome.result)


def test_an_answered_failed_create_with_no_job_in_the_window_says_what_is_known(api, run_module):
    api.get(BULK_URL, json=listing([]))
    api.post(BULK_URL, status=409, json=envelope(None, success=False, errors=[{"code": 1409, "message": "Conflict"}]))
    # Listed at once, then after 1, 2 and 4 s, and once more when the window closes.
    for dummy in range(5):
        api.get(BULK_URL, json=listing([]))

    outcome = run_module(MAIN, args(settle_timeout=10))

    assert outcome.failed and calls(api).count("POST /bulk") == 1
    assert "HTTP 409" in outcome.result["msg"] and "[1409] Conflict" in outcome.result["msg"]
    assert "no job with this intent showed in the job list within settle_timeout (10 s)" in outcome.result["msg"]


MOVE_INTENT = intent_key(
    ACCOUNT,
    {"sender": "partner.example", "start": START, "detections_only": True},
    None,
    None,
    "INC-1",
    action=BulkAction("MOVE", "DeletedItems"),
)


def move_job(status, **counters):
    detail = job(status, intent=MOVE_INTENT, **counters)
    detail.update(action_type="MOVE", action_params={"type": "MOVE", "destination": "DeletedItems"})
    return detail


def move_row(message_id, recipient, status):
    detail = row(message_id, recipient, status, None if status == "COMPLETED" else "mailbox unreachable")
    detail.update(
        action_type="MOVE", action_params={"type": "MOVE", "destination": "DeletedItems", "client_recipient": recipient}
    )
    return detail


def test_a_move_job_lists_move_jobs_creates_one_with_its_destination_and_folds_rows_into_move_results(api, run_module):
    api.get(BULK_URL, json=listing([]))
    api.post(BULK_URL, status=201, json=envelope(move_job("PENDING")))
    api.get(BULK_URL + "/" + JOB_ID, json=envelope(move_job("COMPLETED", successful=2, failed=1)))
    api.get(
        BULK_URL + "/" + JOB_ID + "/messages",
        json=listing(
            [
                move_row("m1-x", "a@corp.example", "COMPLETED"),
                move_row("m2-y", "b@corp.example", "COMPLETED"),
                move_row("m2-y", "c@corp.example", "FAILED"),
            ]
        ),
    )

    outcome = run_module(
        MAIN, args(action="move", destination="DeletedItems", message_results="all", fail_on_incomplete=False)
    )

    assert query_of(api.calls[0])["action_type"] == "MOVE"
    body = json.loads(api.calls[1].request.body)
    assert (body["action"], body["destination"]) == ("MOVE", "DeletedItems")
    assert MOVE_INTENT in body["comment"] and MOVE_INTENT != INTENT
    assert [(r["id"], r["status"], r["moved"], r["failed"]) for r in outcome.result["results"]] == [
        ("m1-x", "moved", ["a@corp.example"], []),
        ("m2-y", "partially_moved", ["b@corp.example"], ["c@corp.example"]),
    ]
    assert outcome.result["incomplete_ids"] == ["m2-y"]


def test_a_move_job_of_the_same_intent_is_adopted_not_created_again(api, run_module):
    api.get(BULK_URL, json=listing([move_job("COMPLETED", successful=3)]))

    outcome = run_module(MAIN, args(action="move", destination="DeletedItems", message_results="none"))

    assert outcome.result["adopted"] is True and outcome.result["changed"] is False
    assert calls(api) == ["GET /bulk"]


@pytest.mark.parametrize(
    "extra, named",
    [
        (dict(action="move"), "destination"),
        (dict(action="move", destination="RecoverableItemsPurges"), "confirm_purge"),
        (dict(destination="Inbox"), "destination is for action: move"),
    ],
)
def test_a_move_job_without_a_destination_or_purge_confirmation_is_refused_before_any_request(
    api, run_module, extra, named
):
    outcome = run_module(MAIN, args(**extra))

    assert outcome.failed
    assert named in outcome.result["msg"]
    assert len(api.calls) == 0
