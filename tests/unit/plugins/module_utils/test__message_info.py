# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What email_security_message_info does, through a real client: options, reads by id, parts that fail."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import CloudflareError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.message_info import (
    find_messages,
    validate_info_options,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import ValidationError

from ansible_collections.mailsec.cloudflare.tests.unit.plugins.conftest import real_client

ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"
BASE = "https://api.example.test/client/v4"
MESSAGES = "%s/accounts/%s/email-security/investigate" % (BASE, ACCOUNT)
IDS = ["aaaa-2026-11-24T08:00:00-1", "bbbb-2026-11-24T11:00:00-2"]


def envelope(result, success=True, errors=None):
    return {"success": success, "errors": errors or [], "messages": [], "result": result}


def params(**extra):
    base = dict(
        message_ids=None,
        limit=1000,
        per_page=100,
        poll_timeout=10,
        start=None,
        end=None,
        quarantined_only=False,
        include=[],
        search=None,
        detections_only=None,
    )
    base.update(extra)
    return base


@pytest.mark.parametrize(
    "extra, message",
    [(dict(limit=0), "limit"), (dict(per_page=1001), "per_page"), (dict(message_ids=["a/b"]), "message")],
)
def test_options_are_checked_before_any_request(extra, message):
    with pytest.raises(ValidationError, match=message):
        validate_info_options(params(**extra))


def test_ids_cloudflare_does_not_know_are_listed_not_fatal(api):
    api.get("%s/%s" % (MESSAGES, IDS[0]), json=envelope({"id": IDS[0], "is_quarantined": True}))
    api.get(
        "%s/%s" % (MESSAGES, IDS[1]), status=404, json=envelope(None, False, [{"code": 1404, "message": "not found"}])
    )

    report = find_messages(real_client(), ACCOUNT, params(), IDS, None, 1)

    assert [m["id"] for m in report.messages] == [IDS[0]] and report.not_found_ids == [IDS[1]]


def test_a_part_that_cannot_be_read_is_noted_and_the_others_still_read(api):
    api.get("%s/%s" % (MESSAGES, IDS[0]), json=envelope({"id": IDS[0], "is_quarantined": True}))
    api.get(
        "%s/%s/trace" % (MESSAGES, IDS[0]), status=500, json=envelope(None, False, [{"code": 1101, "message": "boom"}])
    )
    api.get("%s/%s/detections" % (MESSAGES, IDS[0]), json=envelope({"action": "QUARANTINED"}))

    report = find_messages(real_client(), ACCOUNT, params(include=["trace", "detections"]), IDS[:1], None, 1)

    message = report.messages[0]
    assert "boom" in message["unavailable"]["trace"] and message["detections"] == {"action": "QUARANTINED"}
    assert report.unavailable_parts == 1


def test_an_unreadable_message_stops_the_task_naming_it(api):
    api.get("%s/%s" % (MESSAGES, IDS[0]), status=500, json=envelope(None, False, [{"code": 1101, "message": "boom"}]))

    with pytest.raises(CloudflareError, match="could not read message %s" % IDS[0]):
        find_messages(real_client(), ACCOUNT, params(), IDS[:1], None, 1)


def test_the_search_dict_every_module_takes_is_checked_as_theirs_and_searched():
    # Issue 37 item 6: copied from a release task, it was refused as "Unsupported parameters".
    search = dict(sender="a@b.example", start="2026-11-24", detections_only=False, poll_timeout=5, all_time=False)
    message_ids, spec = validate_info_options(params(search=search))

    assert message_ids is None
    assert spec.filters == {"sender": "a@b.example", "start": "2026-11-24T00:00:00Z"}
    assert spec.detections_only is False and spec.poll_timeout == 5
    with pytest.raises(ValidationError, match="search has no time window"):
        validate_info_options(params(search=dict(sender="a@b.example")))


def test_the_deprecated_flat_filters_still_search_without_a_window():
    message_ids, spec = validate_info_options(params(sender="a@b.example"))

    assert message_ids is None and spec.filters == {"sender": "a@b.example"} and spec.detections_only is True
    assert spec.query(100) == {"sender": "a@b.example", "detections_only": "true", "per_page": 100}
