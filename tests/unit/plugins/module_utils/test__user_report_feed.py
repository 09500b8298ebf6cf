# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The user-report feed, request by request: the reports of the window, each one's message, each report once."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
import yaml

from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.client import CloudflareClient
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.quarantine_feed import Checkpoint, SourceError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.user_report_feed import (
    UserReportFeed,
    UserReportSource,
)
from ansible_collections.mailsec.cloudflare.tests.event_source_plugin import load_event_source_plugin
from ansible_collections.mailsec.cloudflare.tests.unit.plugins.module_utils.test__quarantine_feed import (
    ACCOUNT,
    BASE,
    SEARCH,
    TOKEN,
    Clock,
    message,
    page,
    query_of,
)

SUBMISSIONS = "%s/accounts/%s/email-security/submissions" % (BASE, ACCOUNT)


def listing(reports):
    return {
        "success": True,
        "errors": [],
        "messages": [],
        "result": reports,
        "result_info": {"count": len(reports), "page": 1, "per_page": 100, "total_count": len(reports)},
    }


def report(submission_id, postfix, requested_at="2026-11-25T11:50:00Z"):
    return {
        "submission_id": submission_id,
        "requested_at": requested_at,
        "original_postfix_id": postfix,
        "requested_by": "Dave@Corp.example",
        "type": "User",
    }


def test_each_new_report_comes_with_its_message_once_and_the_window_moves_on(api, tmp_path):
    clock = Clock()
    client = CloudflareClient(dict(api_token=TOKEN, base_url=BASE), sleep=lambda seconds: None)
    feed = UserReportFeed(client, ACCOUNT, Checkpoint(str(tmp_path / "c.json")).load(), 3600, 600, clock=clock)
    api.get(SUBMISSIONS, json=listing([report("u2", "GONE"), report("u1", "PAY1", "2026-11-25T11:40:00Z")]))
    api.get(SEARCH, json=page([message("PAY1-2026-11-25T11:30:00-1")]))
    api.get(SEARCH, json=page([message("OTHER-2026-11-25T11:30:00-2")]))

    items = feed.poll()

    assert [(i["report"]["submission_id"], i["message_id"]) for i in items] == [
        ("u1", "PAY1-2026-11-25T11:30:00-1"),
        ("u2", None),
    ]
    assert items[1]["unresolved"] == "Cloudflare holds no message of postfix id GONE"
    listed = query_of(api.calls[0])
    assert (listed["type"], listed["start"], listed["order"]) == (["USER"], ["2026-11-25T10:50:00Z"], ["requested_at"])
    assert query_of(api.calls[1])["query"] == ["PAY1"] and query_of(api.calls[1])["detections_only"] == ["false"]
    for item in items:
        feed.emitting(item)
    feed.done()

    clock.advance(60)
    api.get(SUBMISSIONS, json=listing([report("u2", "GONE"), report("u1", "PAY1", "2026-11-25T11:40:00Z")]))
    assert feed.poll() == []
    assert query_of(api.calls[-1])["start"] == ["2026-11-25T11:50:00Z"]


def test_the_documentation_names_exactly_the_arguments_the_source_takes():
    plugin = load_event_source_plugin("email_security_user_reports")
    documented = set(yaml.safe_load(plugin.DOCUMENTATION)["options"])

    with pytest.raises(SourceError) as raised:
        UserReportSource.from_args(dict(dict.fromkeys(documented, "x"), not_an_argument=1), {}, lambda notice: None)

    assert "mailsec.cloudflare.email_security_user_reports: unknown argument(s) not_an_argument;" in str(raised.value)
    assert set(str(raised.value).split("the source takes ", 1)[1].split(", ")) == documented
