# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A search as the thing to release: the option checked, one pass, and reading back by search or by id."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from urllib.parse import parse_qs, urlsplit

import pytest

from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.client import CloudflareClient
from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import CloudflareError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.messages import (
    STATE_QUARANTINED,
    STATE_RELEASED,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import ValidationError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.search import QuarantineSearch, search_spec

ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"
BASE = "https://api.example.test/client/v4"
SEARCH = "%s/accounts/%s/email-security/investigate" % (BASE, ACCOUNT)
IDS = ["aaaa-2026-11-24T08:00:00-1", "bbbb-2026-11-24T08:00:00-2", "cccc-2026-11-24T08:00:00-3"]


def page(items, cursor=None):
    return {"success": True, "errors": [], "messages": [], "result": items, "result_info": {"next": cursor}}


def message(message_id, quarantined=True):
    return {
        "id": message_id,
        "is_quarantined": quarantined,
        "post_delivery_operations": [] if quarantined else ["QUARANTINE_RELEASE"],
    }


def search(max_messages=None):
    client = CloudflareClient(dict(api_token="tok-SECRET-0123456789abcdef", base_url=BASE, retries=0))
    return QuarantineSearch(
        client, ACCOUNT, search_spec({"sender": "x.example", "all_time": True, "poll_timeout": 10}), max_messages
    )


@pytest.mark.parametrize(
    "option, message",
    [
        ({"sender": "x.example"}, "search has no time window"),
        ({"sender": " ", "all_time": True}, "search.sender is empty"),
        ({"all_time": True, "start": "2026-11-24T08:00:00Z"}, "contradict each other"),
    ],
)
def test_a_search_is_checked_before_any_request(option, message):
    with pytest.raises(ValidationError, match=message):
        search_spec(option)


def test_one_pass_follows_the_cursor_and_never_takes_an_item_without_a_valid_id(api):
    api.get(SEARCH, json=page([message(IDS[0]), {"id": "../x"}], cursor="c2"))
    api.get(SEARCH, json=page([message(IDS[1], quarantined=False), message(IDS[0])]))

    found = search()
    ids, states = found.find()

    assert ids == IDS[:2]
    assert [states[i].state for i in ids] == [STATE_QUARANTINED, STATE_RELEASED]
    assert found.summary() == dict(pages=2, found=2, quarantined=1, skipped_items=1)
    assert parse_qs(urlsplit(api.calls[1].request.url).query)["cursor"] == ["c2"]
    assert parse_qs(urlsplit(api.calls[0].request.url).query)["per_page"] == ["1000"]


def test_more_quarantined_messages_than_max_messages_stops_before_any_release(api):
    api.get(SEARCH, json=page([message(i) for i in IDS]))

    with pytest.raises(CloudflareError, match="more than max_messages"):
        search(max_messages=2).find()


def test_reading_back_repeats_the_search_when_cheaper_and_reads_by_id_what_it_no_longer_shows(api):
    api.get(SEARCH, json=page([message(i) for i in IDS]))
    api.get(SEARCH, json=page([message(IDS[0], quarantined=False), message(IDS[1])]))
    api.get(
        "%s/%s" % (SEARCH, IDS[2]),
        json={"success": True, "errors": [], "messages": [], "result": message(IDS[2], False)},
    )

    found = search()
    found.find()
    states = found.read(IDS)

    assert [s.state for s in states] == [STATE_RELEASED, STATE_QUARANTINED, STATE_RELEASED]
    assert len(api.calls) == 3


def test_a_search_larger_than_a_page_asks_for_10000_and_takes_1000_for_the_task_once_refused(api):
    refused = {
        "success": False,
        "errors": [{"code": 1001, "message": "Invalid request: query parameter per_page: 10000 is greater than 1000"}],
        "messages": [],
        "result": None,
    }
    # The first search: a full page with a cursor, then 10,000 asked for and refused, then 1,000 from the cursor.
    api.get(SEARCH, json=page([message(IDS[0])], cursor="c2"))
    api.get(SEARCH, status=400, json=refused)
    api.get(SEARCH, json=page([message(IDS[1])]))
    # The next search of the task asks for 1,000 after its first page too.
    api.get(SEARCH, json=page([message(IDS[0])], cursor="c2"))
    api.get(SEARCH, json=page([message(IDS[1])]))
    said = []
    found = search()
    found.client.verbosity, found.client._on_retry = 1, said.append  # pylint: disable=protected-access

    assert found.find()[0] == IDS[:2]
    found.find()

    asked = [parse_qs(urlsplit(call.request.url).query) for call in api.calls]
    assert [(q["per_page"][0], q.get("cursor", [None])[0]) for q in asked] == [
        ("1000", None),
        ("10000", "c2"),
        ("1000", "c2"),
        ("1000", None),
        ("1000", "c2"),
    ]
    assert said == [
        "the search refused a page of 10000 records (Invalid request: query parameter per_page: 10000 is greater "
        "than 1000); asking for the contract's 1000 for the rest of the task"
    ]


def test_a_server_that_takes_10000_record_pages_serves_a_large_search_in_two(api):
    api.get(SEARCH, json=page([message(IDS[0])], cursor="c2"))
    api.get(SEARCH, json=page([message(IDS[1]), message(IDS[2])]))

    assert search().find()[0] == IDS

    assert [parse_qs(urlsplit(call.request.url).query)["per_page"] for call in api.calls] == [["1000"], ["10000"]]


def test_any_400_to_a_larger_page_is_asked_again_at_1000_and_a_400_there_fails_the_search(api):
    bad_cursor = {"success": False, "errors": [{"code": 1001, "message": "bad cursor"}]}
    api.get(SEARCH, json=page([message(IDS[0])], cursor="c2"))
    api.get(SEARCH, status=400, json=bad_cursor)
    api.get(SEARCH, status=400, json=bad_cursor)

    with pytest.raises(CloudflareError, match="bad cursor"):
        search().find()
    assert [parse_qs(urlsplit(call.request.url).query)["per_page"] for call in api.calls] == [
        ["1000"],
        ["10000"],
        ["1000"],
    ]
