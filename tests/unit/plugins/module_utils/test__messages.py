# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

import pytest

from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.client import ApiResponse
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.messages import (
    STATE_NOT_QUARANTINED,
    STATE_QUARANTINED,
    STATE_RELEASED,
    STATE_UNDETERMINED,
    investigate_path,
    normalize_message,
    poll_url,
    quarantine_state,
    search_messages,
    search_params,
    search_window,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import ValidationError

BASE = "https://api.cloudflare.com/client/v4"
NOW = datetime.datetime(2026, 11, 25, 12, 0, tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize(
    "message, state",
    [
        ({"is_quarantined": True, "delivery_status": ["quarantined"]}, STATE_QUARANTINED),
        ({"is_quarantined": True}, STATE_QUARANTINED),
        ({"is_quarantined": False, "post_delivery_operations": ["QUARANTINE_RELEASE"]}, STATE_RELEASED),
        ({"is_quarantined": False, "action_log": [{"operation": "RELEASE"}]}, STATE_RELEASED),
        ({"is_quarantined": False, "delivery_status": ["moved"]}, STATE_NOT_QUARANTINED),
        ({}, STATE_UNDETERMINED),
        ({"is_quarantined": None}, STATE_UNDETERMINED),
        ({"is_quarantined": "false"}, STATE_UNDETERMINED),
        ({"is_quarantined": False, "delivery_status": ["quarantined"]}, STATE_UNDETERMINED),
        ({"is_quarantined": True, "delivery_status": ["delivered"]}, STATE_UNDETERMINED),
    ],
)
def test_quarantine_state_is_read_never_guessed(message, state):
    assert quarantine_state(normalize_message(message)) == state


def test_normalize_message_fills_lists_and_keeps_unknown_flags_as_null():
    message = normalize_message({"id": "m", "to": None, "delivery_status": "quarantined", "is_quarantined": "yes"})
    assert message["to"] == [] and message["delivery_status"] == ["quarantined"]
    assert message["is_quarantined"] is None and message["subject"] is None


@pytest.mark.parametrize(
    "start, end, expected",
    [
        ("2026-11-24", None, ("2026-11-24T00:00:00Z", None)),
        (
            "2026-11-24T09:00:00.5+01:00",
            "2026-11-25T00:00:00Z",
            ("2026-11-24T09:00:00.5+01:00", "2026-11-25T00:00:00Z"),
        ),
        (None, None, (None, None)),
    ],
)
def test_search_window_accepts_rfc3339_and_bare_dates(start, end, expected):
    assert search_window(start, end, now=NOW) == expected


@pytest.mark.parametrize(
    "start, end, message",
    [
        ("2026-11-24T09:00:00", None, "with a time zone"),
        ("24/11/2026", None, "RFC 3339"),
        ("2026-11-26T00:00:00Z", None, "in the future"),
        ("2026-11-20T00:00:00Z", "2026-11-19T00:00:00Z", "is after end"),
    ],
)
def test_search_window_refuses_what_cloudflare_refuses(start, end, message):
    with pytest.raises(ValidationError, match=message):
        search_window(start, end, now=NOW)


@pytest.mark.parametrize(
    "location, url",
    [
        (
            "https://api.cloudflare.com/client/v4/accounts/a/x?p=1",
            "https://api.cloudflare.com/client/v4/accounts/a/x?p=1",
        ),
        ("/client/v4/accounts/a/x?p=1", "https://api.cloudflare.com/client/v4/accounts/a/x?p=1"),
        ("/accounts/a/x?p=1", "https://api.cloudflare.com/client/v4/accounts/a/x?p=1"),
        ("https://evil.example/x", "https://evil.example/x"),
    ],
)
def test_poll_url_understands_every_location_form(location, url):
    assert poll_url(location, BASE) == url


def test_investigate_path_keeps_an_id_one_path_segment():
    assert investigate_path("acc", "a/b?c") == "/accounts/acc/email-security/investigate/a%2Fb%3Fc"


class PagedClient:
    base_url = BASE

    def __init__(self, pages):
        self.pages = list(pages)
        self.params = []

    def get(self, path, params=None):
        self.params.append(dict(params))
        result, following = self.pages.pop(0)
        return ApiResponse(200, {"success": True, "result": result, "result_info": {"next": following}}, {})


def test_search_messages_pages_filters_and_truncates():
    pages = [
        ([{"id": "m1", "is_quarantined": True}, {"id": "m2", "is_quarantined": False}], "c2"),
        ([{"id": "m3", "is_quarantined": True}, "not a message"], "c3"),
        ([{"id": "m4", "is_quarantined": True}], None),
    ]
    client = PagedClient(pages)

    messages, read, truncated = search_messages(
        client, "acc", search_params({"sender": "s", "subject": None}), limit=2, quarantined_only=True
    )

    assert [m["id"] for m in messages] == ["m1", "m3"] and read == 2 and truncated is True
    assert client.params[0] == {"sender": "s", "detections_only": "true", "per_page": 100}
    assert client.params[1]["cursor"] == "c2"
