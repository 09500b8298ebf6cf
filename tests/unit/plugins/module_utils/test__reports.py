# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Submissions and their outcomes, the monthly report, and the false-positive trends built from them."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json

import pytest

from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import ValidationError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.reports import (
    outcome_state,
    read_monthly_report,
    read_submissions,
    submissions_query,
)
from ansible_collections.mailsec.cloudflare.plugins.plugin_utils._fp_trends import trends
from ansible_collections.mailsec.cloudflare.tests.unit.plugins.conftest import real_client

ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"
BASE = "https://api.example.test/client/v4"
SUBMISSIONS = "%s/accounts/%s/email-security/submissions" % (BASE, ACCOUNT)


def envelope(result, **info):
    body = {"success": True, "errors": [], "messages": [], "result": result}
    if info:
        body["result_info"] = info
    return body


@pytest.mark.parametrize(
    "item, state",
    [
        ({"outcome": "Accepted"}, "accepted"),
        ({"outcome": "rejected"}, "rejected"),
        ({"requested_disposition": "NONE", "outcome_disposition": "NONE"}, "accepted"),
        ({"requested_disposition": "NONE", "outcome_disposition": "SPAM"}, "rejected"),
        # Not decided: never accepted nor rejected.
        ({"requested_disposition": "NONE", "status": "reviewed"}, "pending"),
        ({"outcome": "Submitted", "status": "unreviewed"}, "pending"),
        ({}, "pending"),
    ],
)
def test_an_outcome_is_decided_only_when_cloudflare_says_so(item, state):
    assert outcome_state(item) == state


def params(**extra):
    base = dict(limit=1000, per_page=100, start=None, end=None, message_ids=None)
    base.update(extra)
    return base


def test_every_page_is_read_and_each_submission_matched_to_its_message(api):
    first = [{"submission_id": "s%d" % n, "original_postfix_id": "P%d" % n, "outcome": "Accepted"} for n in range(2)]
    api.get(SUBMISSIONS, json=envelope(first, count=2, page=1, per_page=2, total_count=3))
    api.get(SUBMISSIONS, json=envelope([{"submission_id": "s2"}], count=1, page=2, per_page=2, total_count=3))
    client = real_client()

    submissions, truncated = read_submissions(
        client, ACCOUNT, params(per_page=2, type="USER", message_ids=["P1-2026-11-24T08:00:00-1"])
    )

    assert [(s["submission_id"], s["outcome_state"], s["message_id"]) for s in submissions] == [
        ("s0", "accepted", None),
        ("s1", "accepted", "P1-2026-11-24T08:00:00-1"),
        ("s2", "pending", None),
    ]
    assert client.requests_sent == 2 and truncated is False
    assert "type=USER" in api.calls[0].request.url and "page=2" in api.calls[1].request.url


@pytest.mark.parametrize("extra, message", [(dict(per_page=1001), "per_page"), (dict(start="yesterday"), "start")])
def test_options_are_checked_before_any_request(extra, message):
    with pytest.raises(ValidationError, match=message):
        submissions_query(params(**extra))


def test_the_monthly_report_is_read_oldest_first_with_its_detections(api):
    api.get(
        "%s/accounts/%s/email-security/analytics/monthly_report" % (BASE, ACCOUNT),
        json=envelope(
            {
                "by_month": {
                    "2026-12": [{"disposition": "SPAM", "total": 3}],
                    "2026-11": [{"disposition": "NONE", "total": 90}, {"disposition": "BULK", "total": 10}],
                }
            }
        ),
    )

    months = read_monthly_report(real_client(), ACCOUNT)

    assert months == [
        {"month": "2026-11", "dispositions": {"NONE": 90, "BULK": 10}, "total": 100, "detections": 10},
        {"month": "2026-12", "dispositions": {"SPAM": 3}, "total": 3, "detections": 3},
    ]


def _report(tmp_path, name, recorded_at, results, messages, check_mode=False):
    path = tmp_path / name
    path.write_text(
        json.dumps(
            dict(recorded_at=recorded_at, check_mode=check_mode, released_ids=[], results=results, messages=messages)
        )
    )
    return str(path)


def test_trends_count_each_release_once_skip_previews_and_time_decisions_only_when_seen_pending(tmp_path):
    messages = [{"id": "A-1", "from": "x@v.example", "sent_date": "2026-11-02T08:00:00Z"}]
    first = _report(tmp_path, "a.json", "2026-11-02T10:00:00Z", [{"id": "A-1", "status": "released"}], messages)
    again = _report(tmp_path, "b.json", "2026-11-03T10:00:00Z", [{"id": "A-1", "status": "released"}], messages)
    preview = _report(tmp_path, "c.json", "2026-11-04T10:00:00Z", [{"id": "B-1", "status": "would_release"}], [], True)
    (tmp_path / "d.json").write_text("not json")
    pending = [
        {
            "submission_id": "s1",
            "requested_at": "2026-11-02T10:00:00Z",
            "original_postfix_id": "A",
            "outcome_state": "pending",
        }
    ]
    months = [{"month": "2026-11", "detections": 50}]
    day_one = datetime.datetime(2026, 11, 2, 11, tzinfo=datetime.timezone.utc)

    one = trends([first, again, preview, str(tmp_path / "d.json")], pending, months, {}, 3, 2, "30d", day_one)
    accepted = [dict(pending[0], outcome_state="accepted")]
    two = trends([first], accepted, months, one["history"], 3, 2, "30d", day_one + datetime.timedelta(hours=5))

    month = one["months"][0]
    assert (month["released"], month["detections"], month["false_positive_percent"]) == (1, 50, 2.0)
    assert month["median_hours_to_release"] == 2.0
    assert [s["why"][:12] for s in one["sources"]["skipped"]] == ["a preview (c", "not readable"]
    assert one["submissions"]["pending"] == 1 and one["submissions"]["matched_to_releases"] == 1
    assert two["submissions"]["accepted"] == 1 and two["submissions"]["median_hours_to_decision"] == 6.0
