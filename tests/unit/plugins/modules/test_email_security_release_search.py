# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Search-driven release (issue 15): the exact sequence of requests, and every refusal before any request."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from ansible_collections.mailsec.cloudflare.plugins.module_utils._module.ansible_module import CloudflareModule
from ansible_collections.mailsec.cloudflare.plugins.modules import email_security_release
from ansible_collections.mailsec.cloudflare.tests.unit.plugins.conftest import (
    ACCOUNT,
    BASE,
    RELEASE_URL,
    TOKEN,
    envelope,
)

MAIN = email_security_release.main
SEARCH_URL = "%s/accounts/%s/email-security/investigate" % (BASE, ACCOUNT)
IDS = ["m%02d-2026-11-24T09:00:00-1" % n for n in range(6)]
START = "2026-11-24T08:00:00Z"


def args(**extra):
    base = dict(
        account_id=ACCOUNT,
        api_token=TOKEN,
        base_url=BASE,
        concurrency=1,
        search=dict(sender="partner.example", start=START),
    )
    base.update(extra)
    return base


def found(message_id, quarantined=True):
    message = {"id": message_id, "is_quarantined": quarantined, "to": ["a@corp.example"]}
    if not quarantined:
        message["post_delivery_operations"] = ["QUARANTINE_RELEASE"]
    return message


def page(messages, next_cursor=None):
    info = {"count": len(messages), "per_page": 1000, "next": next_cursor, "page": 0, "total_count": 0}
    return envelope(messages, result_info=info)


def released(message_id):
    return {"id": message_id, "delivered": ["a@corp.example"], "failed": [], "undelivered": []}


def query_of(call):
    return {name: values[0] for name, values in parse_qs(urlsplit(call.request.url).query).items()}


def test_requests_are_pages_plus_batches_and_results_follow_the_search(api, run_module):
    api.get(SEARCH_URL, json=page([found(IDS[0]), found(IDS[1], False), found(IDS[2])], "c2"))
    api.get(SEARCH_URL, json=page([found(IDS[3]), found(IDS[4])]))
    api.post(RELEASE_URL, json=envelope([released(IDS[0]), released(IDS[2])]))
    api.post(RELEASE_URL, json=envelope([released(IDS[3]), released(IDS[4])]))

    outcome = run_module(MAIN, args(batch_size=2))

    assert [call.request.method for call in api.calls] == ["GET", "GET", "POST", "POST"]
    first, second = query_of(api.calls[0]), query_of(api.calls[1])
    assert first["per_page"] == "1000" and first["sender"] == "partner.example" and first["start"] == START
    assert "cursor" not in first and second["cursor"] == "c2"
    assert json.loads(api.calls[2].request.body) == {"ids": [IDS[0], IDS[2]]}
    assert json.loads(api.calls[3].request.body) == {"ids": [IDS[3], IDS[4]]}
    result = outcome.result
    assert [r["id"] for r in result["results"]] == IDS[:5]
    assert [r["status"] for r in result["results"]] == ["released", "already_released"] + ["released"] * 3
    assert result["search"] == {"pages": 2, "found": 5, "quarantined": 4, "skipped_items": 0}
    assert result["summary"]["requests_sent"] == 4
    assert result["changed"] is True and not outcome.failed


def test_check_mode_searches_and_names_exactly_what_a_run_would_release(api, run_module):
    api.get(SEARCH_URL, json=page([found(IDS[0]), found(IDS[1], False), found(IDS[2])]))

    outcome = run_module(MAIN, args(), check_mode=True, diff=True)

    assert [call.request.method for call in api.calls] == ["GET"]
    statuses = {r["id"]: r["status"] for r in outcome.result["results"]}
    assert statuses == {IDS[0]: "would_release", IDS[1]: "already_released", IDS[2]: "would_release"}
    assert "%s: quarantined" % IDS[0] in outcome.result["diff"]["before"]
    assert outcome.result["changed"] is True


def test_a_rerun_finds_nothing_quarantined_and_sends_no_release(api, run_module):
    api.get(SEARCH_URL, json=page([found(IDS[0], False), found(IDS[1], False)]))

    outcome = run_module(MAIN, args())

    assert [call.request.method for call in api.calls] == ["GET"]
    assert outcome.result["changed"] is False and not outcome.failed


def test_a_lost_answer_is_settled_by_searching_again_not_by_resending(api, run_module):
    api.get(SEARCH_URL, json=page([found(IDS[0]), found(IDS[1]), found(IDS[2])]))
    api.post(RELEASE_URL, body=requests.exceptions.ReadTimeout("read timed out"))
    # Three ids to read back, one search page: the search again is the cheaper read.
    api.get(SEARCH_URL, json=page([found(IDS[0], False), found(IDS[1], False), found(IDS[2], False)]))

    outcome = run_module(MAIN, args(fail_on_incomplete=False))

    assert [call.request.method for call in api.calls] == ["GET", "POST", "GET"]
    assert [r["status"] for r in outcome.result["results"]] == ["released_unconfirmed"] * 3


def test_a_message_the_repeated_search_no_longer_shows_is_read_by_id(api, run_module):
    api.get(SEARCH_URL, json=page([found(IDS[0]), found(IDS[1]), found(IDS[2])]))
    api.post(RELEASE_URL, body=requests.exceptions.ReadTimeout("read timed out"))
    api.get(SEARCH_URL, json=page([found(IDS[0], False), found(IDS[1], False)]))
    api.get(SEARCH_URL + "/" + IDS[2], json=envelope(found(IDS[2], False)))

    outcome = run_module(MAIN, args(fail_on_incomplete=False))

    assert [call.request.method for call in api.calls] == ["GET", "POST", "GET", "GET"]
    assert [r["status"] for r in outcome.result["results"]] == ["released_unconfirmed"] * 3


def test_more_quarantined_than_max_messages_fails_before_any_release(api, run_module):
    api.get(SEARCH_URL, json=page([found(IDS[0]), found(IDS[1]), found(IDS[2])]))

    outcome = run_module(MAIN, args(max_messages=2))

    assert outcome.failed
    assert [call.request.method for call in api.calls] == ["GET"]
    assert "3 quarantined message(s), more than max_messages (2); nothing was sent" in outcome.result["msg"]


def test_items_without_a_valid_id_are_never_released(api, run_module, mocker):
    warn = mocker.patch.object(CloudflareModule, "warn")
    api.get(SEARCH_URL, json=page([found(IDS[0]), found("../../release"), {"is_quarantined": True}]))
    api.post(RELEASE_URL, json=envelope([released(IDS[0])]))

    outcome = run_module(MAIN, args())

    assert json.loads(api.calls[1].request.body) == {"ids": [IDS[0]]}
    assert outcome.result["search"]["skipped_items"] == 2
    assert any("carry no valid message id" in call.args[0] for call in warn.call_args_list)


@pytest.mark.parametrize(
    "search, message",
    [
        (dict(sender="partner.example"), "search has no time window: set search.start"),
        (dict(sender="partner.example", start=START, all_time=True), "contradict each other"),
        (dict(sender=" ", start=START), "search.sender is empty"),
        (dict(start="2026-11-24 08:00"), "start must be an RFC 3339 date-time"),
        (dict(start="2999-01-01T00:00:00Z"), "is in the future"),
    ],
)
def test_a_bad_search_is_refused_before_any_request(api, run_module, search, message):
    outcome = run_module(MAIN, args(search=search))

    assert outcome.failed
    assert message in outcome.result["msg"]
    assert len(api.calls) == 0


def test_ids_and_search_together_are_refused(api, run_module):
    outcome = run_module(MAIN, args(message_ids=IDS[:1]))

    assert outcome.failed and "mutually exclusive" in outcome.result["msg"]
    assert len(api.calls) == 0


def test_all_time_searches_without_a_start(api, run_module):
    api.get(SEARCH_URL, json=page([]))

    outcome = run_module(MAIN, args(search=dict(sender="partner.example", all_time=True)))

    assert "start" not in query_of(api.calls[0])
    assert outcome.result["results"] == [] and outcome.result["changed"] is False
