# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reporting false positives (issue 16): each message submitted once, as its action log shows, call by call."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
import requests

from ansible_collections.mailsec.cloudflare.plugins.modules import email_security_submission
from ansible_collections.mailsec.cloudflare.tests.unit.plugins.conftest import ACCOUNT, BASE, TOKEN, envelope

MAIN = email_security_submission.main
INVESTIGATE = "%s/accounts/%s/email-security/investigate" % (BASE, ACCOUNT)
SUBMISSIONS = "%s/accounts/%s/email-security/submissions" % (BASE, ACCOUNT)
IDS = ["m1-2026-11-24T09:00:00-1", "m2-2026-11-24T09:00:00-2"]


def args(**extra):
    base = dict(account_id=ACCOUNT, api_token=TOKEN, base_url=BASE, message_ids=IDS, concurrency=1)
    base.update(extra)
    return base


def message(message_id):
    return envelope({"id": message_id, "is_quarantined": False, "alert_id": message_id + "-alert"})


def log(*submissions):
    entries = [
        {"operation": "SUBMISSION", "properties": {"submission_id": sid, "requested_disposition": disposition}}
        for sid, disposition in submissions
    ]
    return envelope([{"operation": "QUARANTINE_RELEASE"}] + entries, result_info={"page": 1, "per_page": 100})


def look_up(api, message_id, *submissions):
    api.get("%s/%s" % (INVESTIGATE, message_id), json=message(message_id))
    api.get("%s/%s/action_log" % (INVESTIGATE, message_id), json=log(*submissions))


def accepted(count):
    return envelope({"results": [{"id": "s%d" % n, "accepted": True, "error": None} for n in range(count)]})


def test_each_message_is_submitted_once_with_its_alert_id(api, run_module):
    look_up(api, IDS[0])
    look_up(api, IDS[1])
    api.post(SUBMISSIONS, status=202, json=accepted(2))
    api.get("%s/%s/action_log" % (INVESTIGATE, IDS[0]), json=log(("sub-1", "NONE")))
    api.get("%s/%s/action_log" % (INVESTIGATE, IDS[1]), json=log(("sub-2", "NONE")))

    outcome = run_module(MAIN, args())

    body = json.loads(api.calls[4].request.body)
    assert body == {
        "type": "reclassification",
        "messages": [
            {"alert_id": IDS[0] + "-alert", "expected_disposition": "NONE"},
            {"alert_id": IDS[1] + "-alert", "expected_disposition": "NONE"},
        ],
    }
    result = outcome.result
    assert not outcome.failed and result["changed"] is True
    assert [(r["status"], r["submission_id"]) for r in result["results"]] == [
        ("submitted", "sub-1"),
        ("submitted", "sub-2"),
    ]
    assert result["summary"]["requests_sent"] == 7


def test_an_employees_report_is_escalated_with_its_messages_submission_once(api, run_module):
    look_up(api, IDS[0])
    look_up(api, IDS[1], ("sub-2", "MALICIOUS"))
    api.post(SUBMISSIONS, status=202, json=accepted(1))
    api.get("%s/%s/action_log" % (INVESTIGATE, IDS[0]), json=log(("sub-1", "MALICIOUS")))

    outcome = run_module(
        MAIN,
        args(expected_disposition="MALICIOUS", escalated_submission_ids={IDS[0]: "user-7", IDS[1]: "user-8"}),
    )

    assert json.loads(api.calls[4].request.body)["messages"] == [
        {"alert_id": IDS[0] + "-alert", "expected_disposition": "MALICIOUS", "escalated_submission_id": "user-7"}
    ]
    # The second message was submitted before: its report is not escalated by this task, as its status says.
    assert [(r["status"], r["escalated_submission_id"]) for r in outcome.result["results"]] == [
        ("submitted", "user-7"),
        ("already_submitted", "user-8"),
    ]


def test_a_rerun_submits_nothing_again(api, run_module):
    look_up(api, IDS[0], ("sub-1", "NONE"))
    look_up(api, IDS[1], ("sub-2", "NONE"))

    outcome = run_module(MAIN, args())

    assert [c.request.method for c in api.calls] == ["GET"] * 4
    assert [r["status"] for r in outcome.result["results"]] == ["already_submitted"] * 2
    assert outcome.result["changed"] is False


def test_a_submission_with_another_disposition_does_not_count(api, run_module):
    look_up(api, IDS[0], ("sub-1", "SPAM"))
    api.post(SUBMISSIONS, status=202, json=accepted(1))
    api.get("%s/%s/action_log" % (INVESTIGATE, IDS[0]), json=log(("sub-1", "SPAM"), ("sub-3", "NONE")))

    outcome = run_module(MAIN, args(message_ids=IDS[:1]))

    assert [(r["status"], r["submission_id"]) for r in outcome.result["results"]] == [("submitted", "sub-3")]


def test_check_mode_reads_and_sends_no_submission(api, run_module):
    look_up(api, IDS[0])
    look_up(api, IDS[1], ("sub-2", "NONE"))

    outcome = run_module(MAIN, args(), check_mode=True)

    assert all(c.request.method == "GET" for c in api.calls)
    assert [r["status"] for r in outcome.result["results"]] == ["would_submit", "already_submitted"]
    assert outcome.result["changed"] is True


def test_a_lost_answer_is_settled_by_the_action_logs_never_by_sending_again(api, run_module):
    look_up(api, IDS[0])
    look_up(api, IDS[1])
    api.post(SUBMISSIONS, body=requests.exceptions.ReadTimeout("read timed out"))
    api.get("%s/%s/action_log" % (INVESTIGATE, IDS[0]), json=log(("sub-1", "NONE")))
    api.get("%s/%s/action_log" % (INVESTIGATE, IDS[1]), json=log())

    outcome = run_module(MAIN, args())

    assert [c.request.method for c in api.calls].count("POST") == 1
    assert [r["status"] for r in outcome.result["results"]] == ["submitted", "unknown"]
    assert outcome.failed and outcome.result["incomplete_ids"] == [IDS[1]]
    assert "run the task again" in outcome.result["results"][1]["detail"]


def test_unknown_messages_and_messages_without_an_alert_are_not_submitted(api, run_module):
    api.get(
        "%s/%s" % (INVESTIGATE, IDS[0]),
        status=404,
        json=envelope(None, success=False, errors=[{"code": 1002, "message": "Message not found"}]),
    )
    api.get("%s/%s" % (INVESTIGATE, IDS[1]), json=envelope({"id": IDS[1], "is_quarantined": False}))

    outcome = run_module(MAIN, args(fail_on_incomplete=False))

    assert [r["status"] for r in outcome.result["results"]] == ["not_found", "not_submitted"]
    assert "no alert_id" in outcome.result["results"][1]["detail"]
    assert not outcome.failed and outcome.result["changed"] is False


@pytest.mark.parametrize(
    "extra, message",
    [
        (dict(message_ids=[]), "message_ids is empty"),
        (dict(message_ids=["bad/id"]), "invalid id"),
        (dict(expected_disposition="CLEAN"), "expected_disposition"),
        (dict(escalated_submission_ids={"m9-2026-11-24T09:00:00-9": "u1"}), "not one of message_ids"),
        (dict(escalated_submission_ids={IDS[0]: "u1/../x"}), "must be a user submission's id"),
        (dict(escalated_submission_ids={IDS[0]: 7}), "must be a user submission's id"),
    ],
)
def test_bad_input_is_refused_before_any_request(api, run_module, extra, message):
    outcome = run_module(MAIN, args(**extra))

    assert outcome.failed and message in outcome.result["msg"]
    assert len(api.calls) == 0
