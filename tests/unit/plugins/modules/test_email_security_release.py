# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError

from ansible_collections.mailsec.cloudflare.plugins.modules import email_security_release
from ansible_collections.mailsec.cloudflare.plugins.module_utils import _ansible_module
from ansible_collections.mailsec.cloudflare.tests.unit.plugins.modules.conftest import (
    ACCOUNT,
    BASE,
    RELEASE_URL,
    TOKEN,
    envelope,
)

MAIN = email_security_release.main
IDS = ["4Njp3P0STMz2c02Q-2024-01-05T10:00:00-12345678", "5Kmq4Q1TUNa3d13R-2024-01-05T10:02:11-87654321",
       "6Lnr5R2UVOb4e24S-2024-01-05T10:03:40-11223344"]


def args(**extra):
    base = dict(account_id=ACCOUNT, api_token=TOKEN, base_url=BASE, only_quarantined=False, message_ids=IDS[:2])
    base.update(extra)
    return dict((key, value) for key, value in base.items() if value is not None)


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
        api.post(RELEASE_URL, json=envelope([item(i) for i in reversed(ids[start:start + 3])]))

    outcome = run_module(MAIN, args(message_ids=ids, batch_size=3, concurrency=1))

    bodies = [sent_body(call)["ids"] for call in api.calls]
    assert bodies == [ids[0:3], ids[3:6], ids[6:7]]
    assert [r["id"] for r in outcome.result["results"]] == ids
    assert outcome.result["summary"]["requests_sent"] == 3


def test_duplicates_are_sent_once_with_a_warning(api, run_module, mocker):
    warn = mocker.spy(_ansible_module.CloudflareModule, "warn")
    api.post(RELEASE_URL, json=envelope([item(IDS[0]), item(IDS[1])]))

    outcome = run_module(MAIN, args(message_ids=[IDS[0], IDS[1], IDS[0]]))

    assert sent_body(api.calls[0]) == {"ids": IDS[:2]}
    assert [r["id"] for r in outcome.result["results"]] == IDS[:2]
    assert any("repeated" in call.args[1] for call in warn.call_args_list)


def test_partial_delivery_is_incomplete_and_fails_by_default(api, run_module):
    api.post(RELEASE_URL, json=envelope([
        item(IDS[0], delivered=["a@example.com"], failed=["bounce@example.com"]),
        item(IDS[1], delivered=[], undelivered=["x@example.com"]),
    ]))

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
    api.post(RELEASE_URL, json=envelope([{"id": IDS[0], "delivered": ["a@example.com"], "failed": None},
                                         {"id": IDS[1], "delivered": ["b@example.com"]}]))

    outcome = run_module(MAIN, args())

    for entry in outcome.result["results"]:
        assert entry["failed"] == [] and entry["undelivered"] == []


@pytest.mark.parametrize("status, code, message, hint", [
    (401, 10001, "Unable to authenticate request", "check api_token"),
    (403, 10000, "Authentication error", "Cloud Email Security: Write"),
    (403, 9109, "Unauthorized to access requested resource", "Cloud Email Security: Write"),
    (400, 6003, "Invalid request headers", "authentication headers were malformed"),
])
def test_auth_errors_stop_the_task_with_code_and_fix(api, run_module, status, code, message, hint):
    api.post(RELEASE_URL, status=status, json=envelope(None, success=False, errors=[{"code": code, "message": message}]))

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


def test_a_bad_request_in_one_form_switches_to_the_other(api, run_module):
    api.post(RELEASE_URL, status=400, json=envelope(None, success=False, errors=[{"code": 1001, "message": "bad body"}]))
    api.post(RELEASE_URL, json=envelope([item(IDS[0]), item(IDS[1])]))

    outcome = run_module(MAIN, args())

    assert [sent_body(call) for call in api.calls] == [{"ids": IDS[:2]}, IDS[:2]]
    assert outcome.result["body_format"] == "array"
    assert [r["status"] for r in outcome.result["results"]] == ["released", "released"]


def test_a_fixed_body_format_is_never_switched(api, run_module):
    api.post(RELEASE_URL, status=422, json=envelope(None, success=False, errors=[{"code": 1001, "message": "bad"}]))

    outcome = run_module(MAIN, args(body_format="array"))

    assert outcome.failed
    assert [sent_body(call) for call in api.calls] == [IDS[:2]]


def test_postfix_id_only_items_map_back_to_requested_ids(api, run_module, mocker):
    warn = mocker.spy(_ansible_module.CloudflareModule, "warn")
    api.post(RELEASE_URL, json=envelope([
        {"postfix_id": "5Kmq4Q1TUNa3d13R", "delivered": ["b@example.com"]},
        {"postfix_id": "4Njp3P0STMz2c02Q", "delivered": ["a@example.com"]},
    ]))

    outcome = run_module(MAIN, args())

    results = outcome.result["results"]
    assert [(r["id"], r["status"], r["postfix_id"]) for r in results] == [
        (IDS[0], "released", "4Njp3P0STMz2c02Q"), (IDS[1], "released", "5Kmq4Q1TUNa3d13R")]
    assert any("postfix_id" in call.args[1] for call in warn.call_args_list)


def test_unrequested_items_are_reported_and_missing_ids_end_unknown(api, run_module):
    stranger = item("zzzz-2024-01-05T10:00:00-0")
    api.post(RELEASE_URL, json=envelope([item(IDS[0]), stranger]))

    outcome = run_module(MAIN, args(fail_on_incomplete=False))

    assert outcome.result["unexpected_items"] == [stranger]
    assert [r["status"] for r in outcome.result["results"]] == ["released", "unknown"]
    assert outcome.result["incomplete_ids"] == [IDS[1]]


def test_notices_in_a_successful_answer_become_warnings(api, run_module, mocker):
    warn = mocker.spy(_ansible_module.CloudflareModule, "warn")
    api.post(RELEASE_URL, json=envelope([item(IDS[0]), item(IDS[1])],
                                        messages=[{"code": 10, "message": "release is beta"}]))

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
    api.get(message_url(IDS[1]), json=envelope({"id": IDS[1], "is_quarantined": False}))
    api.get(message_url(IDS[2]), status=404, json=envelope(None, success=False, errors=[{"code": 1002, "message": "nf"}]))

    outcome = run_module(MAIN, args(message_ids=IDS, only_quarantined=True, fail_on_incomplete=False, concurrency=1),
                         check_mode=True, diff=True)

    assert [call.request.method for call in api.calls] == ["GET", "GET", "GET"]
    assert [r["status"] for r in outcome.result["results"]] == ["would_release", "already_released", "not_found"]
    assert outcome.result["incomplete_ids"] == [IDS[2]]
    assert "%s: quarantined" % IDS[0] in outcome.result["diff"]["before"]
    assert "%s: released" % IDS[0] in outcome.result["diff"]["after"]


def test_pre_check_posts_only_quarantined_messages(api, run_module):
    api.get(message_url(IDS[0]), json=envelope({"id": IDS[0], "is_quarantined": False}))
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
    api.post(RELEASE_URL, status=429, headers={"Retry-After": "2"},
             json=envelope(None, success=False, errors=[{"code": 971, "message": "rate limited"}]))
    api.post(RELEASE_URL, json=envelope([item(IDS[0]), item(IDS[1])]))

    outcome = run_module(MAIN, args())

    assert len(api.calls) == 2
    assert outcome.result["summary"]["retries"] == 1
    assert outcome.result["summary"]["released"] == 2


def test_a_lockout_longer_than_max_retry_wait_is_reported_not_waited(api, run_module):
    api.post(RELEASE_URL, status=429, headers={"Retry-After": "300"},
             json=envelope(None, success=False, errors=[{"code": 971, "message": "rate limited"}]))

    outcome = run_module(MAIN, args(fail_on_incomplete=False))

    assert outcome.failed
    assert "locked out for 300 s" in outcome.result["msg"]
    assert len(api.calls) == 1


def test_a_server_error_on_release_is_verified_not_resent(api, run_module):
    api.post(RELEASE_URL, status=503, body="upstream unavailable")
    api.get(message_url(IDS[0]), json=envelope({"id": IDS[0], "is_quarantined": False}))
    api.get(message_url(IDS[1]), json=envelope({"id": IDS[1], "is_quarantined": True}))
    api.post(RELEASE_URL, json=envelope([item(IDS[1])]))

    outcome = run_module(MAIN, args())

    assert [(c.request.method, c.request.url) for c in api.calls] == [
        ("POST", RELEASE_URL), ("GET", message_url(IDS[0])), ("GET", message_url(IDS[1])), ("POST", RELEASE_URL)]
    assert sent_body(api.calls[3]) == {"ids": [IDS[1]]}
    assert [r["status"] for r in outcome.result["results"]] == ["released", "released"]
    assert "left quarantine" in outcome.result["results"][0]["detail"]


def test_a_dropped_connection_on_release_ends_unknown_when_unreadable(api, run_module):
    api.post(RELEASE_URL, body=requests.exceptions.ConnectionError("Connection aborted. RemoteDisconnected"))
    api.get(message_url(IDS[0]), status=500, body="boom")
    api.get(message_url(IDS[0]), status=500, body="boom")
    api.get(message_url(IDS[1]), json=envelope({"id": IDS[1], "is_quarantined": False}))

    outcome = run_module(MAIN, args(retries=1, fail_on_incomplete=False))

    methods = [c.request.method for c in api.calls]
    assert methods.count("POST") == 1
    assert [r["status"] for r in outcome.result["results"]] == ["unknown", "released"]
    assert outcome.result["incomplete_ids"] == [IDS[0]]


def test_a_server_echoing_the_token_is_redacted(api, run_module):
    api.post(RELEASE_URL, status=400, json=envelope(None, success=False, errors=[
        {"code": 6003, "message": "Invalid request headers: Authorization: Bearer %s" % TOKEN}]))

    outcome = run_module(MAIN, args(body_format="object"))

    assert outcome.failed
    text = json.dumps(outcome.result)
    assert TOKEN not in text
    assert "********" in text


def test_legacy_key_sends_email_and_key_headers(api, run_module):
    api.post(RELEASE_URL, json=envelope([item(IDS[0]), item(IDS[1])]))

    run_module(MAIN, dict(account_id=ACCOUNT, api_email="ops@example.com", api_key="legacy-key-123",
                          base_url=BASE, only_quarantined=False, message_ids=IDS[:2]))

    headers = api.calls[0].request.headers
    assert headers["X-Auth-Email"] == "ops@example.com"
    assert headers["X-Auth-Key"] == "legacy-key-123"
    assert "Authorization" not in headers


def test_connection_settings_come_from_the_environment(api, run_module, monkeypatch):
    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", ACCOUNT)
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "env-token-xyz")
    monkeypatch.setenv("CLOUDFLARE_BASE_URL", BASE)
    api.post(RELEASE_URL, json=envelope([item(IDS[0])]))

    run_module(MAIN, dict(message_ids=IDS[:1], only_quarantined=False))

    assert api.calls[0].request.headers["Authorization"] == "Bearer env-token-xyz"


def test_explicit_arguments_win_over_the_environment(api, run_module, monkeypatch):
    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", "f" * 32)
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "env-token-xyz")
    monkeypatch.setenv("CLOUDFLARE_BASE_URL", "https://elsewhere.example.test/client/v4")
    api.post(RELEASE_URL, json=envelope([item(IDS[0])]))

    run_module(MAIN, dict(message_ids=IDS[:1], only_quarantined=False, account_id=ACCOUNT, base_url=BASE,
                          api_email="ops@example.com", api_key="legacy-key-123"))

    assert api.calls[0].request.url == RELEASE_URL
    assert "Authorization" not in api.calls[0].request.headers


@pytest.mark.parametrize("bad, message", [
    (dict(message_ids=[]), "message_ids is empty"),
    (dict(message_ids=[""]), "item 1 is an empty string"),
    (dict(message_ids=["ok-1", "has space"]), "item 2"),
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
])
def test_bad_input_fails_before_any_request(api, run_module, bad, message):
    outcome = run_module(MAIN, args(**bad))

    assert outcome.failed
    assert message in outcome.result["msg"]
    assert len(api.calls) == 0


def test_missing_requests_library_is_reported(api, run_module, monkeypatch):
    monkeypatch.setattr(_ansible_module, "HAS_REQUESTS", False)
    monkeypatch.setattr(_ansible_module, "REQUESTS_IMPORT_ERROR", "ImportError: No module named 'requests'")

    outcome = run_module(MAIN, args())

    assert outcome.failed
    assert "requests" in outcome.result["msg"]
    assert len(api.calls) == 0


def test_connection_refused_is_retried_then_reported(api, run_module):
    refused = requests.exceptions.ConnectionError(
        MaxRetryError(None, RELEASE_URL, NewConnectionError(None, "Connection refused")))
    for dummy in range(3):
        api.post(RELEASE_URL, body=refused)

    outcome = run_module(MAIN, args(retries=2))

    assert outcome.failed
    assert len(api.calls) == 3
    assert "could not reach" in outcome.result["results"][0]["detail"]
    assert "CLOUDFLARE_BASE_URL" in outcome.result["results"][0]["detail"]
