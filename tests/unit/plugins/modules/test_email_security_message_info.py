# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import calendar
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from ansible_collections.mailsec.cloudflare.plugins.module_utils._module import ansible_module

from ansible_collections.mailsec.cloudflare.plugins.modules import email_security_message_info
from ansible_collections.mailsec.cloudflare.tests.unit.plugins.conftest import ACCOUNT, BASE, TOKEN, envelope

MAIN = email_security_message_info.main
SEARCH_URL = "%s/accounts/%s/email-security/investigate" % (BASE, ACCOUNT)


def args(**extra):
    base = dict(account_id=ACCOUNT, api_token=TOKEN, base_url=BASE)
    base.update(extra)
    return base


def raw(message_id, quarantined=True, **extra):
    data = {
        "id": message_id,
        "is_quarantined": quarantined,
        "from": "a@sender.example",
        "to": ["x@corp.example"],
        "subject": "s",
        "delivery_status": None,
    }
    data.update(extra)
    return data


def query_of(call):
    return parse_qs(urlsplit(call.request.url).query)


def test_search_follows_the_cursor_through_every_page(api, run_module):
    api.get(SEARCH_URL, json=envelope([raw("m1"), raw("m2")], result_info={"next": "c2", "count": 2}))
    api.get(SEARCH_URL, json=envelope([raw("m3", quarantined=False)], result_info={"next": "c3"}))
    api.get(SEARCH_URL, json=envelope([raw("m4")], result_info={"next": None}))

    outcome = run_module(MAIN, args(sender="a@sender.example", per_page=2, detections_only=False))

    result = outcome.result
    assert result["ids"] == ["m1", "m2", "m3", "m4"]
    assert result["changed"] is False and result["truncated"] is False
    assert result["summary"]["pages"] == 3 and result["summary"]["quarantined"] == 3
    assert result["messages"][0]["delivery_status"] == [] and result["messages"][0]["client_recipients"] == []
    queries = [query_of(call) for call in api.calls]
    assert queries[0] == {"sender": ["a@sender.example"], "detections_only": ["false"], "per_page": ["2"]}
    assert [q.get("cursor") for q in queries] == [None, ["c2"], ["c3"]]
    assert all(call.request.method == "GET" for call in api.calls)


def test_search_stops_at_the_limit_and_says_so(api, run_module):
    api.get(SEARCH_URL, json=envelope([raw("m1"), raw("m2")], result_info={"next": "c2"}))

    outcome = run_module(MAIN, args(limit=2))

    assert outcome.result["ids"] == ["m1", "m2"]
    assert outcome.result["truncated"] is True
    assert len(api.calls) == 1


def test_quarantined_only_filters_released_messages(api, run_module):
    api.get(SEARCH_URL, json=envelope([raw("m1"), raw("m2", quarantined=False)], result_info={"next": None}))

    outcome = run_module(MAIN, args(quarantined_only=True))

    assert outcome.result["ids"] == ["m1"]


def test_a_202_search_is_polled_at_its_location(api, run_module):
    relative = "/client/v4/accounts/%s/email-security/investigate?poll=job1" % ACCOUNT
    api.get(SEARCH_URL, status=202, json=envelope([]), headers={"Location": relative})
    api.get(SEARCH_URL, status=202, json=envelope([]), headers={"Location": SEARCH_URL + "?poll=job1"})
    api.get(SEARCH_URL, json=envelope([raw("m1")], result_info={"next": None}))

    outcome = run_module(MAIN, args(query="invoice"))

    assert outcome.result["ids"] == ["m1"]
    assert [query_of(call).get("poll") for call in api.calls] == [None, ["job1"], ["job1"]]
    assert all(call.request.headers["Authorization"] == "Bearer " + TOKEN for call in api.calls)


def test_a_202_pointing_at_another_host_is_not_followed(api, run_module):
    api.get(SEARCH_URL, status=202, json=envelope([]), headers={"Location": "https://elsewhere.example.test/poll"})

    outcome = run_module(MAIN, args(query="invoice"))

    assert outcome.failed
    assert "another host" in outcome.result["msg"]
    assert len(api.calls) == 1


def test_read_by_ids_reports_unknown_ids(api, run_module):
    api.get(SEARCH_URL + "/m1", json=envelope(raw("m1")))
    api.get(
        SEARCH_URL + "/nope",
        status=404,
        json=envelope(None, success=False, errors=[{"code": 1002, "message": "not found"}]),
    )

    outcome = run_module(MAIN, args(message_ids=["m1", "nope"], concurrency=1))

    assert not outcome.failed
    assert outcome.result["ids"] == ["m1"]
    assert outcome.result["not_found_ids"] == ["nope"]


def test_the_result_says_when_its_reads_began_so_a_release_can_take_them_while_fresh(api, run_module):
    api.get(SEARCH_URL + "/m1", json=envelope(raw("m1")))
    before = time.time()

    outcome = run_module(MAIN, args(message_ids=["m1"]))
    after = time.time()

    read_at = calendar.timegm(time.strptime(outcome.result["read_at"], "%Y-%m-%dT%H:%M:%SZ"))
    # Whole seconds, rounded down, of a moment between the two clocks read here.
    assert int(before) <= read_at <= after


def test_unknown_ids_can_be_fatal(api, run_module):
    api.get(
        SEARCH_URL + "/nope",
        status=404,
        json=envelope(None, success=False, errors=[{"code": 1002, "message": "not found"}]),
    )

    outcome = run_module(MAIN, args(message_ids=["nope"], fail_on_not_found=True))

    assert outcome.failed
    assert outcome.result["not_found_ids"] == ["nope"]


def test_a_permission_error_fails_with_the_code(api, run_module):
    api.get(
        SEARCH_URL,
        status=403,
        json=envelope(None, success=False, errors=[{"code": 10000, "message": "Authentication error"}]),
    )

    outcome = run_module(MAIN, args())

    assert outcome.failed
    assert "[10000] Authentication error" in outcome.result["msg"]
    assert outcome.result["error"]["status"] == 403


@pytest.mark.parametrize(
    "bad, message",
    [
        (dict(message_ids=["m1"], sender="x"), "mutually exclusive"),
        (dict(per_page=0), "per_page must be from 1 to 1000"),
        (dict(limit=0), "limit must be at least 1"),
        (dict(start="yesterday"), "start must be an RFC 3339 date-time"),
        (dict(message_ids=["bad/id"]), "invalid id"),
        (dict(final_disposition="EVIL"), "final_disposition"),
        # Issue 13: values messages carry but the search refuses, and date-times Cloudflare refuses.
        (dict(final_disposition="MALICIOUS-BEC"), "final_disposition must be one of: MALICIOUS, SUSPICIOUS"),
        (dict(final_disposition="ENCRYPTED"), "final_disposition must be one of"),
        (dict(start="2026-11-24T09:00:00"), "with a time zone"),
        (dict(start="2999-01-01T00:00:00Z"), "start (2999-01-01T00:00:00Z) is in the future"),
        (dict(start="2026-11-20T00:00:00Z", end="2026-11-10T00:00:00Z"), "is after end"),
        (dict(start="2026-02-30"), "not a real date"),
    ],
)
def test_bad_input_sends_nothing(api, run_module, bad, message):
    outcome = run_module(MAIN, args(**bad))

    assert outcome.failed
    assert message in outcome.result["msg"]
    assert len(api.calls) == 0


def test_a_bare_date_is_sent_as_midnight_utc(api, run_module):
    api.get(SEARCH_URL, json=envelope([], result_info={"next": None}))

    run_module(MAIN, args(start="2026-11-01", end="2026-11-02T12:00:00+01:00"))

    assert query_of(api.calls[0])["start"] == ["2026-11-01T00:00:00Z"]
    assert query_of(api.calls[0])["end"] == ["2026-11-02T12:00:00+01:00"]


@pytest.mark.parametrize(
    "location",
    [
        "/client/v4/accounts/%s/email-security/investigate?poll=job1" % ACCOUNT,
        SEARCH_URL + "?poll=job1",
        # Root-relative to the API itself: keeps the base URL's /client/v4.
        "/accounts/%s/email-security/investigate?poll=job1" % ACCOUNT,
    ],
)
def test_every_location_form_of_a_202_is_polled_on_the_api(api, run_module, location):
    api.get(SEARCH_URL, status=202, json=envelope([]), headers={"Location": location})
    api.get(SEARCH_URL, json=envelope([raw("m1")], result_info={"next": None}))

    outcome = run_module(MAIN, args(query="invoice"))

    assert outcome.result["ids"] == ["m1"]
    assert api.calls[1].request.url.startswith(SEARCH_URL + "?")


def test_an_invalid_token_code_names_the_token(api, run_module):
    api.get(
        SEARCH_URL,
        status=400,
        json=envelope(None, success=False, errors=[{"code": 1000, "message": "Invalid API Token"}]),
    )

    outcome = run_module(MAIN, args(query="invoice"))

    assert outcome.failed
    assert "check api_token (CLOUDFLARE_API_TOKEN)" in outcome.result["msg"]
    assert len(api.calls) == 1


def test_include_reads_each_part_of_each_message_and_every_page_of_the_action_log(api, run_module):
    message_id = "4Njp3P0STMz2c02Q-2024-01-05T10:00:00-12345678"
    base = "%s/%s" % (SEARCH_URL, message_id)
    api.get(base, json=envelope(raw(message_id, False)))
    trace = {"inbound": {"lines": []}, "outbound": {"lines": [{"lineno": 1, "message": "delivered to a@corp.example"}]}}
    api.get(base + "/trace", json=envelope(trace))
    first_page = [{"operation": "PREVIEW"}] * 100
    api.get(
        base + "/action_log",
        json=envelope(first_page, result_info={"count": 100, "page": 1, "per_page": 100, "total_count": 101}),
    )
    last_page = {"count": 1, "page": 2, "per_page": 100, "total_count": 101}
    api.get(base + "/action_log", json=envelope([{"operation": "QUARANTINE_RELEASE"}], result_info=last_page))
    api.get(base + "/detections", json=envelope({"final_disposition": "SPAM", "findings": []}))

    outcome = run_module(
        MAIN, args(message_ids=[message_id], include=["trace", "action_log", "detections"], concurrency=1)
    )

    message = outcome.result["messages"][0]
    assert message["trace"] == trace
    assert len(message["action_log"]) == 101 and message["action_log"][-1]["operation"] == "QUARANTINE_RELEASE"
    assert message["detections"]["final_disposition"] == "SPAM"
    assert [query_of(c)["page"] for c in api.calls[2:4]] == [["1"], ["2"]]
    assert outcome.result["summary"]["requests_sent"] == 5


def test_a_part_that_cannot_be_read_is_a_warning_and_says_why_in_the_message(api, run_module, mocker):
    """Issue 23: a part only enriches the message; a 404 on .../trace failed the task."""
    warn = mocker.spy(ansible_module.CloudflareModule, "warn")
    message_id = "4Njp3P0STMz2c02Q-2024-01-05T10:00:00-12345678"
    api.get("%s/%s" % (SEARCH_URL, message_id), json=envelope(raw(message_id)))
    api.get(
        "%s/%s/trace" % (SEARCH_URL, message_id),
        status=404,
        json=envelope(None, success=False, errors=[{"code": 1002, "message": "Message not found"}]),
    )
    api.get("%s/%s/detections" % (SEARCH_URL, message_id), json=envelope({"final_disposition": "SPAM"}))

    outcome = run_module(MAIN, args(message_ids=[message_id], include=["trace", "detections"]))

    assert not outcome.failed
    message = outcome.result["messages"][0]
    assert "trace" not in message and message["detections"] == {"final_disposition": "SPAM"}
    assert (
        "HTTP 404" in message["unavailable"]["trace"] and "[1002] Message not found" in message["unavailable"]["trace"]
    )
    assert outcome.result["summary"]["unavailable_parts"] == 1
    warning = " ".join(call.args[1] for call in warn.call_args_list)
    assert "1 part(s) of 1 message(s) asked for by include could not be read" in warning
    assert "trace of %s" % message_id in warning


def test_after_a_part_refused_for_permission_no_further_part_is_read(api, run_module):
    first, second = "4Njp3P0STMz2c02Q-2024-01-05T10:00:00-12345678", "5Kmq4Q1TUNa3d13R-2024-01-05T12:02:11-87654321"
    for message_id in (first, second):
        api.get("%s/%s" % (SEARCH_URL, message_id), json=envelope(raw(message_id)))
    api.get(
        "%s/%s/detections" % (SEARCH_URL, first),
        status=403,
        json=envelope(None, success=False, errors=[{"code": 10000, "message": "Authentication error"}]),
    )

    outcome = run_module(MAIN, args(message_ids=[first, second], include=["detections"], concurrency=1))

    assert not outcome.failed
    assert [c.request.url.rsplit("/", 1)[-1] for c in api.calls][-1] == "detections"
    assert len(api.calls) == 3
    reasons = [m["unavailable"]["detections"] for m in outcome.result["messages"]]
    assert "HTTP 403" in reasons[0] and reasons[1].startswith("not read after an earlier failure: ")


def test_an_unknown_part_is_refused_before_any_request(api, run_module):
    outcome = run_module(MAIN, args(message_ids=["4Njp3P0STMz2c02Q-2024-01-05T10:00:00-12345678"], include=["body"]))

    assert outcome.failed and "include" in outcome.result["msg"]
    assert len(api.calls) == 0


def test_a_message_a_search_serves_on_two_pages_is_returned_once(api, run_module):
    api.get(SEARCH_URL, json=envelope([raw("m1"), raw("m2")], result_info={"next": "c2"}))
    api.get(SEARCH_URL, json=envelope([raw("m2"), raw("m3")], result_info={"next": None}))

    outcome = run_module(MAIN, args(sender="a@sender.example", start="2026-11-01T00:00:00Z"))

    assert outcome.result["ids"] == ["m1", "m2", "m3"] and outcome.result["summary"]["found"] == 3


def test_evidence_without_a_directory_is_refused_before_any_request(api, run_module):
    # The api fixture fails the test on any request.
    outcome = run_module(MAIN, args(message_ids=["m1"], include=["preview"]))

    assert outcome.failed and "set evidence_dir" in outcome.result["msg"]


def test_check_mode_reads_the_evidence_and_writes_no_file(api, run_module, tmp_path):
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 8
    api.get("%s/m1" % SEARCH_URL, json=envelope(raw("m1", final_disposition="SPAM")))
    api.get("%s/m1/preview" % SEARCH_URL, json=envelope({"screenshot": base64.b64encode(png).decode()}))

    outcome = run_module(
        MAIN, args(message_ids=["m1"], include=["preview"], evidence_dir=str(tmp_path / "e")), check_mode=True
    )

    preview = outcome.result["messages"][0]["preview"]
    assert not outcome.failed and preview["saved"] is False and preview["path"] == str(tmp_path / "e" / "m1.png")
    assert not (tmp_path / "e").exists()
