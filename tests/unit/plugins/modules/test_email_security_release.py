# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import time
from urllib.parse import quote, quote_plus

import pytest
import requests
import responses
from urllib3.exceptions import MaxRetryError, NewConnectionError

from ansible_collections.mailsec.cloudflare.plugins.modules import email_security_release
from ansible_collections.mailsec.cloudflare.plugins.module_utils._module import ansible_module
from ansible_collections.mailsec.cloudflare.plugins.module_utils._state.local import AccountLock, Lifeline, WriteJournal
from ansible_collections.mailsec.cloudflare.tests.unit.plugins.conftest import (
    ACCOUNT,
    BASE,
    RELEASE_URL,
    TOKEN,
    envelope,
)

MAIN = email_security_release.main
IDS = [
    "4Njp3P0STMz2c02Q-2024-01-05T10:00:00-12345678",
    "5Kmq4Q1TUNa3d13R-2024-01-05T12:02:11-87654321",
    "6Lnr5R2UVOb4e24S-2024-01-05T14:03:40-11223344",
]


def args(**extra):
    base = dict(account_id=ACCOUNT, api_token=TOKEN, base_url=BASE, only_quarantined=False, message_ids=IDS[:2])
    base.update(extra)
    return {key: value for key, value in base.items() if value is not None}


def item(message_id, delivered=("a@example.com",), failed=(), undelivered=(), **extra):
    data = {"id": message_id, "delivered": list(delivered), "failed": list(failed), "undelivered": list(undelivered)}
    data.update(extra)
    return data


def message_url(message_id):
    return "%s/accounts/%s/email-security/investigate/%s" % (BASE, ACCOUNT, message_id)


def sent_body(call):
    return json.loads(call.request.body)


def test_one_batch_releases_every_id(api, run_module):
    api.post(RELEASE_URL, json=envelope([item(IDS[0]), item(IDS[1], delivered=["b@example.com", "c@example.com"])]))

    outcome = run_module(MAIN, args())

    assert not outcome.failed
    result = outcome.result
    assert result["changed"] is True
    assert [r["status"] for r in result["results"]] == ["released", "released"]
    assert result["results"][1]["delivered"] == ["b@example.com", "c@example.com"]
    assert result["results"][0]["failed"] == [] and result["results"][0]["undelivered"] == []
    assert result["released_ids"] == IDS[:2]
    assert result["incomplete_ids"] == []
    assert result["summary"]["released"] == 2 and result["summary"]["recipients_delivered"] == 3
    assert result["summary"]["requests_sent"] == 1

    assert len(api.calls) == 1
    request = api.calls[0].request
    assert request.method == "POST"
    assert request.url == RELEASE_URL
    assert sent_body(api.calls[0]) == {"ids": IDS[:2]}
    assert request.headers["Authorization"] == "Bearer " + TOKEN
    assert "X-Auth-Key" not in request.headers and "X-Auth-Email" not in request.headers
    assert request.headers["User-Agent"].startswith("mailsec.cloudflare/")


def test_batches_split_ids_exactly_once_and_keep_request_order(api, run_module):
    ids = ["msg%02d-2024-01-05T10:00:00-1" % n for n in range(7)]
    for start in range(0, 7, 3):
        api.post(RELEASE_URL, json=envelope([item(i) for i in reversed(ids[start : start + 3])]))

    outcome = run_module(MAIN, args(message_ids=ids, batch_size=3, concurrency=1))

    bodies = [sent_body(call)["ids"] for call in api.calls]
    assert bodies == [ids[0:3], ids[3:6], ids[6:7]]
    assert [r["id"] for r in outcome.result["results"]] == ids
    assert outcome.result["summary"]["requests_sent"] == 3


def test_duplicates_are_sent_once_with_a_warning(api, run_module, mocker):
    warn = mocker.spy(ansible_module.CloudflareModule, "warn")
    api.post(RELEASE_URL, json=envelope([item(IDS[0]), item(IDS[1])]))

    outcome = run_module(MAIN, args(message_ids=[IDS[0], IDS[1], IDS[0]]))

    assert sent_body(api.calls[0]) == {"ids": IDS[:2]}
    assert [r["id"] for r in outcome.result["results"]] == IDS[:2]
    assert any("repeated" in call.args[1] for call in warn.call_args_list)


def test_partial_delivery_is_incomplete_and_fails_by_default(api, run_module):
    api.post(
        RELEASE_URL,
        json=envelope(
            [
                item(IDS[0], delivered=["a@example.com"], failed=["bounce@example.com"]),
                item(IDS[1], delivered=[], undelivered=["x@example.com"]),
            ]
        ),
    )

    outcome = run_module(MAIN, args())

    assert outcome.failed
    result = outcome.result
    assert [r["status"] for r in result["results"]] == ["partially_released", "not_released"]
    assert result["incomplete_ids"] == IDS[:2]
    assert result["released_ids"] == []
    assert result["changed"] is True
    assert "2 of 2 message(s) were not fully released" in result["msg"]
    assert result["summary"]["recipients_failed"] == 1 and result["summary"]["recipients_undelivered"] == 1


def test_partial_delivery_can_be_reported_without_failing(api, run_module):
    api.post(RELEASE_URL, json=envelope([item(IDS[0], failed=["bounce@example.com"]), item(IDS[1])]))

    outcome = run_module(MAIN, args(fail_on_incomplete=False))

    assert not outcome.failed
    assert outcome.result["incomplete_ids"] == [IDS[0]]


def test_null_recipient_lists_become_empty_lists(api, run_module):
    api.post(
        RELEASE_URL,
        json=envelope(
            [
                {"id": IDS[0], "delivered": ["a@example.com"], "failed": None},
                {"id": IDS[1], "delivered": ["b@example.com"]},
            ]
        ),
    )

    outcome = run_module(MAIN, args())

    for entry in outcome.result["results"]:
        assert entry["failed"] == [] and entry["undelivered"] == []


@pytest.mark.parametrize(
    "status, code, message, hint",
    [
        (401, 10001, "Unable to authenticate request", "check api_token"),
        (403, 10000, "Authentication error", "Cloud Email Security: Write"),
        (403, 9109, "Unauthorized to access requested resource", "Cloud Email Security: Write"),
        (400, 6003, "Invalid request headers", "authentication headers were malformed"),
    ],
)
def test_auth_errors_stop_the_task_with_code_and_fix(api, run_module, status, code, message, hint):
    api.post(
        RELEASE_URL, status=status, json=envelope(None, success=False, errors=[{"code": code, "message": message}])
    )

    outcome = run_module(MAIN, args(retries=3))

    assert outcome.failed
    result = outcome.result
    assert "HTTP %d" % status in result["msg"]
    assert "[%d] %s" % (code, message) in result["msg"]
    assert hint in result["msg"]
    assert result["error"]["status"] == status
    assert result["error"]["errors"][0]["code"] == code
    assert [r["status"] for r in result["results"]] == ["not_released", "not_released"]
    assert result["incomplete_ids"] == IDS[:2]
    assert len(api.calls) == 1
    assert TOKEN not in json.dumps(result)


def test_an_auth_error_stops_later_batches(api, run_module):
    api.post(RELEASE_URL, status=403, json=envelope(None, success=False, errors=[{"code": 10000, "message": "no"}]))

    outcome = run_module(MAIN, args(message_ids=IDS, batch_size=1, concurrency=1))

    assert len(api.calls) == 1
    assert [r["status"] for r in outcome.result["results"]] == ["not_released"] * 3
    assert outcome.result["results"][2]["detail"].startswith("not sent: ")


def quarantined(message_id, is_quarantined=True):
    return envelope({"id": message_id, "is_quarantined": is_quarantined})


def test_a_rejected_body_shape_is_read_back_then_sent_in_the_other_form(api, run_module):
    api.post(
        RELEASE_URL, status=400, json=envelope(None, success=False, errors=[{"code": 1001, "message": "bad body"}])
    )
    api.get(message_url(IDS[0]), json=quarantined(IDS[0]))
    api.get(message_url(IDS[1]), json=quarantined(IDS[1]))
    api.post(RELEASE_URL, json=envelope([item(IDS[0]), item(IDS[1])]))

    outcome = run_module(MAIN, args())

    assert [c.request.method for c in api.calls] == ["POST", "GET", "GET", "POST"]
    assert [sent_body(api.calls[0]), sent_body(api.calls[3])] == [{"ids": IDS[:2]}, IDS[:2]]
    assert outcome.result["body_format"] == "array"
    assert [r["status"] for r in outcome.result["results"]] == ["released", "released"]


def test_a_rejected_body_shape_that_was_processed_anyway_is_not_resent(api, run_module):
    """Issue 11: a 400 returned after processing made body_format=auto resend the batch in the other form."""
    api.post(
        RELEASE_URL, status=400, json=envelope(None, success=False, errors=[{"code": 1001, "message": "bad body"}])
    )
    api.get(message_url(IDS[0]), json=quarantined(IDS[0], False))
    api.get(message_url(IDS[1]), json=quarantined(IDS[1], False))

    outcome = run_module(MAIN, args(fail_on_incomplete=False))

    assert [c.request.method for c in api.calls] == ["POST", "GET", "GET"]
    assert [r["status"] for r in outcome.result["results"]] == ["released_unconfirmed"] * 2


def test_a_client_error_after_processing_is_read_back_not_resent(api, run_module):
    api.post(
        RELEASE_URL, status=409, json=envelope(None, success=False, errors=[{"code": 1020, "message": "conflict"}])
    )
    api.get(message_url(IDS[0]), json=quarantined(IDS[0], False))
    api.get(message_url(IDS[1]), json=quarantined(IDS[1]))

    outcome = run_module(MAIN, args())

    assert outcome.failed
    assert [c.request.method for c in api.calls] == ["POST", "GET", "GET"]
    assert [r["status"] for r in outcome.result["results"]] == ["released_unconfirmed", "not_released"]
    assert "[1020] conflict" in outcome.result["results"][1]["detail"]


def test_a_fixed_body_format_is_never_switched(api, run_module):
    api.post(
        RELEASE_URL, status=422, json=envelope(None, success=False, errors=[{"code": 1001, "message": "bad body"}])
    )
    api.get(message_url(IDS[0]), json=quarantined(IDS[0]))
    api.get(message_url(IDS[1]), json=quarantined(IDS[1]))

    outcome = run_module(MAIN, args(body_format="array"))

    assert outcome.failed
    assert [sent_body(call) for call in api.calls if call.request.method == "POST"] == [IDS[:2]]
    assert [r["status"] for r in outcome.result["results"]] == ["not_released", "not_released"]


def test_postfix_id_only_items_map_back_to_requested_ids(api, run_module, mocker):
    warn = mocker.spy(ansible_module.CloudflareModule, "warn")
    api.post(
        RELEASE_URL,
        json=envelope(
            [
                {"postfix_id": "5Kmq4Q1TUNa3d13R", "delivered": ["b@example.com"]},
                {"postfix_id": "4Njp3P0STMz2c02Q", "delivered": ["a@example.com"]},
            ]
        ),
    )

    outcome = run_module(MAIN, args())

    results = outcome.result["results"]
    assert [(r["id"], r["status"], r["postfix_id"]) for r in results] == [
        (IDS[0], "released", "4Njp3P0STMz2c02Q"),
        (IDS[1], "released", "5Kmq4Q1TUNa3d13R"),
    ]
    assert any("postfix_id" in call.args[1] for call in warn.call_args_list)


def test_unrequested_items_are_reported_and_missing_ids_end_unknown(api, run_module):
    stranger = item("zzzz-2024-01-05T10:00:00-0")
    api.post(RELEASE_URL, json=envelope([item(IDS[0]), stranger]))

    outcome = run_module(MAIN, args(fail_on_incomplete=False))

    assert outcome.result["unexpected_items"] == [stranger]
    assert [r["status"] for r in outcome.result["results"]] == ["released", "unknown"]
    assert outcome.result["incomplete_ids"] == [IDS[1]]


def test_notices_in_a_successful_answer_become_warnings(api, run_module, mocker):
    warn = mocker.spy(ansible_module.CloudflareModule, "warn")
    api.post(
        RELEASE_URL, json=envelope([item(IDS[0]), item(IDS[1])], messages=[{"code": 10, "message": "release is beta"}])
    )

    run_module(MAIN, args())

    assert any("release is beta" in call.args[1] for call in warn.call_args_list)


def test_check_mode_without_pre_check_sends_nothing(api, run_module):
    outcome = run_module(MAIN, args(), check_mode=True)

    assert not outcome.failed
    assert [r["status"] for r in outcome.result["results"]] == ["would_release", "would_release"]
    assert outcome.result["changed"] is True
    assert len(api.calls) == 0


def test_check_mode_with_pre_check_only_reads(api, run_module):
    api.get(message_url(IDS[0]), json=envelope({"id": IDS[0], "is_quarantined": True, "to": ["a@example.com"]}))
    api.get(
        message_url(IDS[1]),
        json=envelope({"id": IDS[1], "is_quarantined": False, "post_delivery_operations": ["QUARANTINE_RELEASE"]}),
    )
    api.get(
        message_url(IDS[2]), status=404, json=envelope(None, success=False, errors=[{"code": 1002, "message": "nf"}])
    )

    outcome = run_module(
        MAIN,
        args(message_ids=IDS, only_quarantined=True, fail_on_incomplete=False, concurrency=1),
        check_mode=True,
        diff=True,
    )

    assert [call.request.method for call in api.calls] == ["GET", "GET", "GET"]
    assert [r["status"] for r in outcome.result["results"]] == ["would_release", "already_released", "not_found"]
    assert outcome.result["incomplete_ids"] == [IDS[2]]
    assert "%s: quarantined" % IDS[0] in outcome.result["diff"]["before"]
    assert "%s: released" % IDS[0] in outcome.result["diff"]["after"]


def test_pre_check_posts_only_quarantined_messages(api, run_module):
    api.get(
        message_url(IDS[0]),
        json=envelope({"id": IDS[0], "is_quarantined": False, "action_log": [{"operation": "QUARANTINE_RELEASE"}]}),
    )
    api.get(message_url(IDS[1]), json=envelope({"id": IDS[1], "is_quarantined": True}))
    api.post(RELEASE_URL, json=envelope([item(IDS[1])]))

    outcome = run_module(MAIN, args(only_quarantined=True, concurrency=1))

    assert sent_body(api.calls[2]) == {"ids": [IDS[1]]}
    assert [r["status"] for r in outcome.result["results"]] == ["already_released", "released"]
    assert outcome.result["changed"] is True


def test_rerun_with_nothing_quarantined_posts_nothing_and_is_unchanged(api, run_module):
    api.get(message_url(IDS[0]), json=envelope({"id": IDS[0], "is_quarantined": False}))
    api.get(message_url(IDS[1]), json=envelope({"id": IDS[1], "is_quarantined": False}))

    outcome = run_module(MAIN, args(only_quarantined=True, concurrency=1))

    assert outcome.result["changed"] is False
    assert not outcome.failed
    assert all(call.request.method == "GET" for call in api.calls)


def test_rate_limited_post_is_retried_after_retry_after(api, run_module):
    api.post(
        RELEASE_URL,
        status=429,
        headers={"Retry-After": "2"},
        json=envelope(None, success=False, errors=[{"code": 971, "message": "rate limited"}]),
    )
    api.post(RELEASE_URL, json=envelope([item(IDS[0]), item(IDS[1])]))

    outcome = run_module(MAIN, args())

    assert len(api.calls) == 2
    assert outcome.result["summary"]["retries"] == 1
    assert outcome.result["summary"]["released"] == 2


def test_a_lockout_longer_than_max_retry_wait_is_reported_not_waited(api, run_module):
    api.post(
        RELEASE_URL,
        status=429,
        headers={"Retry-After": "300"},
        json=envelope(None, success=False, errors=[{"code": 971, "message": "rate limited"}]),
    )

    outcome = run_module(MAIN, args(fail_on_incomplete=False))

    assert outcome.failed
    assert "locked out for 300 s" in outcome.result["msg"]
    assert len(api.calls) == 1


def test_a_server_error_on_release_is_resent_only_after_the_settle_window(api, run_module):
    api.post(RELEASE_URL, status=503, body="upstream unavailable")
    api.get(message_url(IDS[0]), json=quarantined(IDS[0], False))
    api.get(message_url(IDS[1]), json=quarantined(IDS[1]))
    api.get(message_url(IDS[1]), json=quarantined(IDS[1]))
    api.post(RELEASE_URL, json=envelope([item(IDS[1])]))

    outcome = run_module(MAIN, args(settle_timeout=1, fail_on_incomplete=False))

    assert [(c.request.method, c.request.url) for c in api.calls] == [
        ("POST", RELEASE_URL),
        ("GET", message_url(IDS[0])),
        ("GET", message_url(IDS[1])),
        ("GET", message_url(IDS[1])),
        ("POST", RELEASE_URL),
    ]
    assert sent_body(api.calls[4]) == {"ids": [IDS[1]]}
    assert [r["status"] for r in outcome.result["results"]] == ["released_unconfirmed", "released"]
    assert "left quarantine" in outcome.result["results"][0]["detail"]
    assert "Recipients not confirmed" in outcome.result["results"][0]["detail"]


def test_a_slow_server_is_read_until_the_first_request_lands_not_resent(api, run_module):
    """Issue 11: after a read timeout the messages still looked quarantined and were sent again."""
    api.post(RELEASE_URL, body=requests.exceptions.ReadTimeout("read timed out"))
    api.get(message_url(IDS[0]), json=quarantined(IDS[0]))
    api.get(message_url(IDS[0]), json=quarantined(IDS[0]))
    api.get(message_url(IDS[0]), json=quarantined(IDS[0], False))

    outcome = run_module(MAIN, args(message_ids=IDS[:1], fail_on_incomplete=False))

    assert [c.request.method for c in api.calls] == ["POST", "GET", "GET", "GET"]
    assert [r["status"] for r in outcome.result["results"]] == ["released_unconfirmed"]
    assert outcome.result["changed"] is True


def test_a_tls_error_while_reading_the_answer_is_an_unknown_outcome(api, run_module):
    """Issue 11: a TLS error after the request was written was classed as 'never left' and resent blindly."""
    api.post(RELEASE_URL, body=requests.exceptions.SSLError("[SSL: DECRYPTION_FAILED_OR_BAD_RECORD_MAC]"))
    api.get(message_url(IDS[0]), json=quarantined(IDS[0], False))

    outcome = run_module(MAIN, args(message_ids=IDS[:1], fail_on_incomplete=False))

    assert [c.request.method for c in api.calls] == ["POST", "GET"]
    assert [r["status"] for r in outcome.result["results"]] == ["released_unconfirmed"]


def test_a_dropped_connection_on_release_ends_unknown_when_unreadable(api, run_module):
    api.post(RELEASE_URL, body=requests.exceptions.ConnectionError("Connection aborted. RemoteDisconnected"))
    api.get(message_url(IDS[0]), status=500, body="boom")
    api.get(message_url(IDS[0]), status=500, body="boom")
    api.get(message_url(IDS[1]), json=quarantined(IDS[1], False))

    outcome = run_module(MAIN, args(retries=1, fail_on_incomplete=False))

    methods = [c.request.method for c in api.calls]
    assert methods.count("POST") == 1
    assert [r["status"] for r in outcome.result["results"]] == ["unknown", "released_unconfirmed"]
    assert outcome.result["incomplete_ids"] == IDS[:2]


def test_a_wait_cut_by_task_timeout_ends_pending_and_the_next_run_settles_it(api, run_module):
    api.post(RELEASE_URL, body=requests.exceptions.ReadTimeout("read timed out"))
    for dummy in range(4):
        api.get(message_url(IDS[0]), json=quarantined(IDS[0]))

    first = run_module(MAIN, args(message_ids=IDS[:1], task_timeout=10))

    assert first.failed
    assert [r["status"] for r in first.result["results"]] == ["release_pending"]
    assert "Run the task again on this machine" in first.result["results"][0]["detail"]

    # The next run reads the journal first: the slow request has landed meanwhile, so nothing is sent.
    api.get(message_url(IDS[0]), json=quarantined(IDS[0], False))
    second = run_module(MAIN, args(message_ids=IDS[:1], only_quarantined=True))

    assert not second.failed
    assert [c.request.method for c in api.calls].count("POST") == 1
    assert [r["status"] for r in second.result["results"]] == ["already_released"]
    assert "earlier run (pid" in second.result["results"][0]["detail"]


def test_a_journal_entry_past_its_settle_window_lets_the_message_go_again(api, run_module, tmp_path):
    journal = WriteJournal(str(tmp_path / "state"), ACCOUNT)
    key = journal.record("release", [IDS[0]], 120.0)
    entries = journal.unsettled("release")
    entries[key]["sent_at"] -= 600
    journal._save(entries)  # pylint: disable=protected-access
    api.get(message_url(IDS[0]), json=quarantined(IDS[0]))
    api.get(message_url(IDS[0]), json=quarantined(IDS[0]))
    api.post(RELEASE_URL, json=envelope([item(IDS[0])]))

    outcome = run_module(MAIN, args(message_ids=IDS[:1], only_quarantined=True))

    assert [c.request.method for c in api.calls] == ["GET", "GET", "POST"]
    assert [r["status"] for r in outcome.result["results"]] == ["released"]
    assert journal.unsettled("release") == {}


def test_no_release_is_sent_once_the_playbook_process_is_gone(api, run_module, monkeypatch):
    monkeypatch.setattr(Lifeline, "gone", lambda self: True)

    outcome = run_module(MAIN, args())

    assert outcome.failed
    assert len(api.calls) == 0
    assert "process that started this task is gone" in outcome.result["msg"]
    assert [r["status"] for r in outcome.result["results"]] == ["not_released", "not_released"]


def test_a_run_waits_for_another_run_on_the_same_account(api, run_module, tmp_path):
    held = AccountLock(str(tmp_path / "state"), ACCOUNT)
    held.acquire(0)
    try:
        outcome = run_module(MAIN, args(task_timeout=5))
    finally:
        held.release()

    assert outcome.failed
    assert len(api.calls) == 0
    assert "another run writing to this account on this machine" in outcome.result["msg"]


def test_a_failed_answer_that_carries_items_is_evidence(api, run_module):
    """Issue 11: a 200 with success false plus items reported delivered messages as not_released."""
    api.post(
        RELEASE_URL,
        json=envelope(
            [item(IDS[0]), item(IDS[1])], success=False, errors=[{"code": 1100, "message": "partial failure"}]
        ),
    )

    outcome = run_module(MAIN, args())

    assert [r["status"] for r in outcome.result["results"]] == ["released", "released"]
    assert len(api.calls) == 1


@pytest.mark.parametrize(
    "answer, status",
    [
        (
            {"messages": [["not", "a", "notice"], 7], "result": [{"id": IDS[0], "delivered": ["a@example.com"]}]},
            "released",
        ),
        ({"result": [{"id": [IDS[0]], "delivered": ["a@example.com"]}]}, "released_unconfirmed"),
        ({"result": [{"postfix_id": 12345, "delivered": ["a@example.com"]}]}, "released_unconfirmed"),
        ({"result": [{"id": IDS[0], "delivered": [{"email": "a@example.com"}]}]}, "released_unconfirmed"),
        ({"result": [{"id": IDS[0], "delivered": 5}]}, "released_unconfirmed"),
        ({"result": ["just a string", None, 3]}, "released_unconfirmed"),
        ({"result": {"id": IDS[0]}}, "released_unconfirmed"),
        ({"result": [{"id": IDS[0]}]}, "released_unconfirmed"),
    ],
)
def test_odd_answer_shapes_end_with_a_status_and_no_traceback(api, run_module, answer, status):
    """Issue 11: odd shapes after a processed POST crashed the module with MODULE FAILURE and no results."""
    api.post(RELEASE_URL, json=dict(envelope(None), **answer))
    if status == "released_unconfirmed":
        api.get(message_url(IDS[0]), json=quarantined(IDS[0], False))

    outcome = run_module(MAIN, args(message_ids=IDS[:1], fail_on_incomplete=False))

    assert [(r["id"], r["status"]) for r in outcome.result["results"]] == [(IDS[0], status)]


def test_conflicting_items_for_one_id_end_unknown_and_are_reported(api, run_module, mocker):
    warn = mocker.spy(ansible_module.CloudflareModule, "warn")
    one, other = item(IDS[0]), item(IDS[0], delivered=[], undelivered=["a@example.com"])
    api.post(RELEASE_URL, json=envelope([one, other, item(IDS[1]), item(IDS[1])]))

    outcome = run_module(MAIN, args(fail_on_incomplete=False))

    assert [r["status"] for r in outcome.result["results"]] == ["unknown", "released"]
    assert outcome.result["unexpected_items"] == [other, one]
    assert any("unexpected_items" in call.args[1] for call in warn.call_args_list)


def test_an_item_without_recipient_lists_is_settled_by_reading(api, run_module):
    api.post(RELEASE_URL, json=envelope([{"id": IDS[0]}, item(IDS[1])]))
    api.get(message_url(IDS[0]), json=quarantined(IDS[0], False))

    outcome = run_module(MAIN, args(fail_on_incomplete=False))

    assert [r["status"] for r in outcome.result["results"]] == ["released_unconfirmed", "released"]


def test_a_server_echoing_the_token_is_redacted(api, run_module):
    api.post(
        RELEASE_URL,
        status=400,
        json=envelope(
            None,
            success=False,
            errors=[{"code": 6003, "message": "Invalid request headers: Authorization: Bearer %s" % TOKEN}],
        ),
    )

    outcome = run_module(MAIN, args(body_format="object"))

    assert outcome.failed
    text = json.dumps(outcome.result)
    assert TOKEN not in text
    assert "********" in text


def test_legacy_key_sends_email_and_key_headers(api, run_module):
    api.post(RELEASE_URL, json=envelope([item(IDS[0]), item(IDS[1])]))

    run_module(
        MAIN,
        dict(
            account_id=ACCOUNT,
            api_email="ops@example.com",
            api_key="legacy-key-0123456789abcdef",
            base_url=BASE,
            only_quarantined=False,
            message_ids=IDS[:2],
        ),
    )

    headers = api.calls[0].request.headers
    assert headers["X-Auth-Email"] == "ops@example.com"
    assert headers["X-Auth-Key"] == "legacy-key-0123456789abcdef"
    assert "Authorization" not in headers


def test_connection_settings_come_from_the_environment(api, run_module, monkeypatch):
    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", ACCOUNT)
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "env-token-0123456789abcdef")
    monkeypatch.setenv("CLOUDFLARE_BASE_URL", BASE)
    api.post(RELEASE_URL, json=envelope([item(IDS[0])]))

    run_module(MAIN, dict(message_ids=IDS[:1], only_quarantined=False))

    assert api.calls[0].request.headers["Authorization"] == "Bearer env-token-0123456789abcdef"


def test_explicit_arguments_win_over_the_environment(api, run_module, monkeypatch):
    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", "f" * 32)
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "env-token-0123456789abcdef")
    monkeypatch.setenv("CLOUDFLARE_BASE_URL", "https://elsewhere.example.test/client/v4")
    api.post(RELEASE_URL, json=envelope([item(IDS[0])]))

    run_module(
        MAIN,
        dict(
            message_ids=IDS[:1],
            only_quarantined=False,
            account_id=ACCOUNT,
            base_url=BASE,
            api_email="ops@example.com",
            api_key="legacy-key-0123456789abcdef",
        ),
    )

    assert api.calls[0].request.url == RELEASE_URL
    assert "Authorization" not in api.calls[0].request.headers


@pytest.mark.parametrize(
    "bad, message",
    [
        (dict(message_ids=[]), "message_ids is empty"),
        (dict(message_ids=[""]), "message_ids is empty"),
        (dict(message_ids=["ok-1", "has/slash"]), "item 2"),
        (dict(message_ids=["a/b"]), "URL syntax"),
        (dict(message_ids=["a?b"]), "URL syntax"),
        (dict(message_ids=["a#b"]), "URL syntax"),
        (dict(message_ids=['a"b']), "quote"),
        (dict(message_ids=["{'id': 1}"]), "brace"),
        (dict(account_id="not-an-account"), "32-character hexadecimal"),
        (dict(account_id=None), "CLOUDFLARE_ACCOUNT_ID"),
        (dict(api_token=None), "CLOUDFLARE_API_TOKEN"),
        (dict(api_key="k"), "mutually exclusive"),
        (dict(api_token=None, api_key="k"), "parameters are required together"),
        (dict(batch_size=0), "batch_size must be from 1 to 1000"),
        (dict(batch_size=1001), "batch_size must be from 1 to 1000"),
        (dict(concurrency=0), "concurrency must be from 1 to 32"),
        (dict(base_url="ftp://example.test"), "base_url must be an http(s) URL"),
        (dict(body_format="xml"), "value of body_format must be one of"),
        (dict(batch_size="ten"), "batch_size"),
    ],
)
def test_bad_input_fails_before_any_request(api, run_module, bad, message):
    outcome = run_module(MAIN, args(**bad))

    assert outcome.failed
    assert message in outcome.result["msg"]
    assert len(api.calls) == 0


def test_missing_requests_library_is_reported(api, run_module, monkeypatch):
    monkeypatch.setattr(ansible_module, "HAS_REQUESTS", False)
    monkeypatch.setattr(ansible_module, "REQUESTS_IMPORT_ERROR", "ImportError: No module named 'requests'")

    outcome = run_module(MAIN, args())

    assert outcome.failed
    assert "requests" in outcome.result["msg"]
    assert len(api.calls) == 0


def test_connection_refused_is_retried_then_reported(api, run_module):
    refused = requests.exceptions.ConnectionError(
        MaxRetryError(None, RELEASE_URL, NewConnectionError(None, "Connection refused"))
    )
    for dummy in range(3):
        api.post(RELEASE_URL, body=refused)

    outcome = run_module(MAIN, args(retries=2))

    assert outcome.failed
    assert len(api.calls) == 3
    assert "could not reach" in outcome.result["results"][0]["detail"]
    assert "CLOUDFLARE_BASE_URL" in outcome.result["results"][0]["detail"]


# Issue 12: secrets whatever their shape, and nothing malformed reaches the API --------------------------------

LONG_TOKEN = "tok-" + "A1b2C3d4E5" * 4
ESCAPING_TOKEN = 'tok"with\\quote%2Fand+plus' + "x" * 10


def secret_forms_present(text, secret):
    forms = {
        secret,
        json.dumps(secret)[1:-1],
        repr(secret)[1:-1],
        quote(secret, safe=""),
        quote_plus(secret),
        secret.strip(),
    }
    return [form for form in forms if form in text]


@pytest.mark.parametrize("source", ["argument", "environment"])
def test_a_trailing_newline_is_removed_with_a_warning_and_never_shown(api, run_module, monkeypatch, mocker, source):
    """Issue 12: a token with a trailing newline leaked at default verbosity through requests' header error."""
    warn = mocker.spy(ansible_module.CloudflareModule, "warn")
    api.post(RELEASE_URL, json=envelope([item(IDS[0]), item(IDS[1])]))
    extra = {"api_token": LONG_TOKEN + "\n"}
    if source == "environment":
        monkeypatch.setenv("CLOUDFLARE_API_TOKEN", LONG_TOKEN + "\n")
        extra = {"api_token": None}

    outcome = run_module(MAIN, args(**extra))

    assert not outcome.failed
    assert api.calls[0].request.headers["Authorization"] == "Bearer " + LONG_TOKEN
    warnings = " ".join(call.args[1] for call in warn.call_args_list)
    assert "ended with a line break, which was removed" in warnings
    assert secret_forms_present(json.dumps(outcome.result) + warnings, LONG_TOKEN + "\n") == []


@pytest.mark.parametrize(
    "token, problem",
    [
        ("e", "1 characters long"),
        ("released", "8 characters long"),
        ("tok with a space inside it", "whitespace"),
        ("tok-with-a-tab\tinside-it-000", "whitespace"),
        ("tok-with-a-bell\x07inside-it-000", "control characters"),
        ("t\u00f6k\u00e9n-n\u00f6n-l\u00e4tin-\u4e2d\u6587-000000", "non-ASCII"),
        ("x" * 300, "300 characters long"),
    ],
)
def test_credentials_no_cloudflare_token_has_are_refused_without_echo(api, run_module, token, problem):
    outcome = run_module(MAIN, args(api_token=token))

    assert outcome.failed
    assert problem in outcome.result["msg"] and "api_token" in outcome.result["msg"]
    assert len(api.calls) == 0
    if len(token) > 8:
        assert token not in outcome.result["msg"]


def test_a_token_echoed_as_a_dictionary_key_is_masked(api, run_module):
    """Issue 12: a server quoting the header as a key in a result item reached unexpected_items unmasked."""
    echoed = {"Bearer " + LONG_TOKEN: "seen", "id": "zzz-not-requested"}
    api.post(RELEASE_URL, json=envelope([item(IDS[0]), item(IDS[1]), echoed]))

    outcome = run_module(MAIN, args(api_token=LONG_TOKEN))

    assert secret_forms_present(json.dumps(outcome.result), LONG_TOKEN) == []
    assert outcome.result["unexpected_items"] == [{"Bearer ********": "seen", "id": "zzz-not-requested"}]


def test_escaped_forms_of_the_token_are_masked(api, run_module):
    echoes = [json.dumps(ESCAPING_TOKEN), quote(ESCAPING_TOKEN, safe=""), repr(ESCAPING_TOKEN), ESCAPING_TOKEN]
    api.post(
        RELEASE_URL,
        status=403,
        json=envelope(
            None, success=False, errors=[{"code": 10000, "message": "header was %s" % echo} for echo in echoes]
        ),
    )

    outcome = run_module(MAIN, args(api_token=ESCAPING_TOKEN))

    assert outcome.failed
    assert secret_forms_present(json.dumps(outcome.result), ESCAPING_TOKEN) == []


@pytest.mark.parametrize(
    "bad, message",
    [
        ([".", "ok-1"], "is a path step"),
        ([".."], "is a path step"),
        (["%2e%2e"], "percent sign"),
        (["x" * 10000], "10000 characters long"),
        ([True], "is a bool (True), not a string"),
        ([12345], "is a int (12345), not a string"),
        ([None], "is a null"),
        ([{"id": "x"}], "is a dict"),
        (["caf\u00e9-2024"], "non-ASCII"),
    ],
)
def test_ids_that_cannot_be_right_are_refused_before_any_request(api, run_module, bad, message):
    """Issue 12: '.', '..', '%2e%2e', 10,000-character ids and True were sent; [null] read 'an empty string'."""
    outcome = run_module(MAIN, args(message_ids=bad))

    assert outcome.failed
    assert message in outcome.result["msg"]
    assert len(api.calls) == 0


@pytest.mark.parametrize("option", ["timeout", "task_timeout", "max_retry_wait", "settle_timeout"])
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_numeric_options_refuse_nan_and_infinity(api, run_module, option, value):
    outcome = run_module(MAIN, args(**{option: value}))

    assert outcome.failed
    assert "%s must be a finite number" % option in outcome.result["msg"]
    assert len(api.calls) == 0


def test_a_password_in_base_url_is_refused_and_never_shown(api, run_module):
    """Issue 12: a password in the URL's userinfo was printed in errors and replaced the Bearer token."""
    outcome = run_module(MAIN, args(base_url="https://user:hunter2-secret@api.example.test/client/v4"))

    assert outcome.failed
    assert "must not hold a user name or password" in outcome.result["msg"]
    assert "hunter2-secret" not in json.dumps(outcome.result)
    assert len(api.calls) == 0


@pytest.mark.parametrize("extra", [dict(base_url="http://api.example.test/client/v4"), dict(validate_certs=False)])
def test_unprotected_transport_to_another_host_needs_allow_insecure(api, run_module, mocker, extra):
    refused = run_module(MAIN, args(**extra))
    assert refused.failed
    assert "allow_insecure=true" in refused.result["msg"]
    assert len(api.calls) == 0

    warn = mocker.spy(ansible_module.CloudflareModule, "warn")
    url = RELEASE_URL.replace("https://", "http://") if "base_url" in extra else RELEASE_URL
    api.post(url, json=envelope([item(IDS[0]), item(IDS[1])]))
    allowed = run_module(MAIN, args(allow_insecure=True, **extra))
    assert not allowed.failed
    assert any("not protected in transit" in call.args[1] for call in warn.call_args_list)


@pytest.mark.parametrize(
    "extra, verify",
    [
        (dict(validate_certs=False, allow_insecure=True), False),
        (dict(ca_path="/etc/ssl/our-ca.pem"), "/etc/ssl/our-ca.pem"),
    ],
)
def test_tls_options_win_over_the_environment_ca_bundle(api, run_module, monkeypatch, extra, verify):
    """Issue 12: REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE silently overrode ca_path and validate_certs=false."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/env-bundle.pem")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/nonexistent/curl-bundle.pem")
    api.post(RELEASE_URL, json=envelope([item(IDS[0]), item(IDS[1])]))

    run_module(MAIN, args(**extra))

    assert api.calls[0].request.req_kwargs["verify"] == verify


# Issue 13: status rules that never guess -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        {"id": IDS[0]},
        {"id": IDS[0], "is_quarantined": "yes"},
        {"id": IDS[0], "is_quarantined": False, "delivery_status": ["quarantined"]},
        {"id": IDS[0], "is_quarantined": True, "delivery_status": ["delivered"]},
    ],
)
def test_a_quarantine_state_the_answer_does_not_establish_is_unknown_and_not_sent(api, run_module, answer):
    """Issue 13: a message without is_quarantined was read as released and skipped."""
    api.get(message_url(IDS[0]), json=envelope(answer))

    outcome = run_module(MAIN, args(message_ids=IDS[:1], only_quarantined=True, fail_on_incomplete=False))

    assert [c.request.method for c in api.calls] == ["GET"]
    assert [r["status"] for r in outcome.result["results"]] == ["unknown"]
    assert "does not establish whether it is quarantined" in outcome.result["results"][0]["detail"]


def test_a_message_never_quarantined_is_told_apart_from_one_released(api, run_module):
    api.get(
        message_url(IDS[0]),
        json=envelope(
            {"id": IDS[0], "is_quarantined": False, "delivery_status": ["moved"], "post_delivery_operations": ["MOVE"]}
        ),
    )
    api.get(
        message_url(IDS[1]),
        json=envelope(
            {
                "id": IDS[1],
                "is_quarantined": False,
                "delivery_status": ["delivered"],
                "post_delivery_operations": ["QUARANTINE_RELEASE"],
            }
        ),
    )

    outcome = run_module(MAIN, args(only_quarantined=True, concurrency=1))

    assert not outcome.failed
    assert [r["status"] for r in outcome.result["results"]] == ["not_quarantined", "already_released"]
    assert outcome.result["summary"]["not_quarantined"] == 1
    assert outcome.result["changed"] is False


def test_a_read_that_left_before_the_window_closed_does_not_decide_a_resend(api, run_module):
    """Found by the property suite under load: a read sent inside the settle window but answered after it closed
    showed the message still quarantined, because the server read it before the slow release landed; the message
    was sent again and delivered twice. Only a read that left after the window closed proves the release never
    will land."""

    def slow_read(request):
        time.sleep(11)  # the fake clock: this read is answered after settle_timeout (10 s) has passed
        return (200, {}, json.dumps(quarantined(IDS[0])))

    api.post(RELEASE_URL, body=requests.exceptions.ReadTimeout("read timed out"))
    api.add_callback(responses.GET, message_url(IDS[0]), callback=slow_read)
    api.get(message_url(IDS[0]), json=quarantined(IDS[0], False))

    outcome = run_module(MAIN, args(message_ids=IDS[:1], settle_timeout=10, fail_on_incomplete=False))

    assert [c.request.method for c in api.calls] == ["POST", "GET", "GET"]
    assert [r["status"] for r in outcome.result["results"]] == ["released_unconfirmed"]


def known(messages, seconds_ago=5, not_found_ids=()):
    """A registered email_security_message_info result by ids, its reads begun ``seconds_ago``."""
    read_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - seconds_ago))
    return {"changed": False, "read_at": read_at, "messages": messages, "not_found_ids": list(not_found_ids)}


def test_fresh_known_messages_are_the_pre_check_and_nothing_is_read_again(api, run_module):
    """Issue 27: the runbook read each message once to show it, then again in the preview and the release."""
    api.post(RELEASE_URL, json=envelope([item(IDS[0])]))
    shown = known([{"id": IDS[0], "is_quarantined": True}, {"id": IDS[1], "is_quarantined": False}])

    outcome = run_module(MAIN, args(message_ids=IDS[:2], only_quarantined=True, known_messages=shown))

    assert [(c.request.method, c.request.url) for c in api.calls] == [("POST", RELEASE_URL)]
    assert sent_body(api.calls[0]) == {"ids": [IDS[0]]}
    assert [r["status"] for r in outcome.result["results"]] == ["released", "not_quarantined"]
    assert outcome.result["summary"]["known_states_taken"] == 2
    assert outcome.result["summary"]["requests_sent"] == 1


def test_known_messages_in_check_mode_send_nothing_at_all(api, run_module):
    shown = known([{"id": i, "is_quarantined": True} for i in IDS[:2]])

    outcome = run_module(MAIN, args(only_quarantined=True, known_messages=shown), check_mode=True)

    assert len(api.calls) == 0
    assert [r["status"] for r in outcome.result["results"]] == ["would_release", "would_release"]


def test_stale_known_messages_are_read_again(api, run_module):
    api.get(message_url(IDS[0]), json=quarantined(IDS[0], False))
    shown = known([{"id": IDS[0], "is_quarantined": True}], seconds_ago=61)

    outcome = run_module(
        MAIN, args(message_ids=IDS[:1], only_quarantined=True, known_messages=shown, known_messages_max_age=60)
    )

    assert [c.request.method for c in api.calls] == ["GET"]
    assert [r["status"] for r in outcome.result["results"]] == ["not_quarantined"]
    assert outcome.result["summary"]["known_states_taken"] == 0


def test_what_known_messages_do_not_settle_is_read(api, run_module):
    """An id they miss (not found then, or filtered out) and one whose state they do not establish are read."""
    api.get(message_url(IDS[1]), json=quarantined(IDS[1]))
    api.get(message_url(IDS[2]), json=quarantined(IDS[2], False))
    api.post(RELEASE_URL, json=envelope([item(IDS[0]), item(IDS[1])]))
    shown = known(
        [{"id": IDS[0], "is_quarantined": True}, {"id": IDS[2], "is_quarantined": None}], not_found_ids=[IDS[1]]
    )

    outcome = run_module(MAIN, args(message_ids=IDS, only_quarantined=True, known_messages=shown, concurrency=1))

    assert [(c.request.method, c.request.url) for c in api.calls] == [
        ("GET", message_url(IDS[1])),
        ("GET", message_url(IDS[2])),
        ("POST", RELEASE_URL),
    ]
    assert [r["status"] for r in outcome.result["results"]] == ["released", "released", "not_quarantined"]


@pytest.mark.parametrize(
    "extra, words",
    [
        (dict(only_quarantined=False), "only_quarantined=true"),
        (dict(known_messages={"messages": []}), "has no read_at"),
        (dict(known_messages=known([{"is_quarantined": True}])), "with its id"),
        (dict(known_messages=dict(known([]), read_at="yesterday")), "known_messages.read_at must be an RFC 3339"),
        (dict(known_messages_max_age=-1), "known_messages_max_age must be 0 or more"),
    ],
)
def test_known_messages_that_cannot_stand_in_for_the_pre_check_are_refused_before_any_request(
    api, run_module, extra, words
):
    options = dict(only_quarantined=True, known_messages=known([{"id": IDS[0], "is_quarantined": True}]))
    options.update(extra)

    outcome = run_module(MAIN, args(**options))

    assert outcome.failed
    assert words in outcome.result["msg"]
    assert len(api.calls) == 0
