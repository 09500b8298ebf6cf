# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The submission policy through a real client: the exact HTTP sequence of each case, scripted."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import requests

from ansible_collections.mailsec.cloudflare.tests.unit.plugins.write_runs import SubmissionRun
from ansible_collections.mailsec.cloudflare.plugins.module_utils._state.local import WriteJournal
from ansible_collections.mailsec.cloudflare.plugins.module_utils._writes.submission import recorded_submission

from ansible_collections.mailsec.cloudflare.tests.unit.plugins.conftest import FakeClock, real_client

ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"
BASE = "https://api.example.test/client/v4"
MESSAGES = "%s/accounts/%s/email-security/investigate" % (BASE, ACCOUNT)
SUBMISSIONS = "%s/accounts/%s/email-security/submissions" % (BASE, ACCOUNT)
MESSAGE_ID = "aaaa-2026-11-24T08:00:00-1"


def envelope(result, **extra):
    return dict({"success": True, "errors": [], "messages": [], "result": result}, **extra)


def action_log(*entries):
    return envelope(
        list(entries), result_info={"count": len(entries), "page": 1, "per_page": 100, "total_count": len(entries)}
    )


def submission(disposition="NONE", submission_id="s-1"):
    return {
        "operation": "SUBMISSION",
        "completed_at": "2026-11-24T09:00:00Z",
        "properties": {"requested_disposition": disposition, "submission_id": submission_id},
    }


def expect_lookup(api, log):
    api.get("%s/%s" % (MESSAGES, MESSAGE_ID), json=envelope({"id": MESSAGE_ID, "alert_id": "alert-1"}))
    api.get("%s/%s/action_log" % (MESSAGES, MESSAGE_ID), json=log)


def test_a_message_is_looked_up_then_submitted_with_its_alert_id_then_read_back_once(api):
    expect_lookup(api, action_log())
    api.post(SUBMISSIONS, json=envelope({"results": [{"id": "s-1", "accepted": True, "error": None}]}))
    api.get("%s/%s/action_log" % (MESSAGES, MESSAGE_ID), json=action_log(submission()))

    results = SubmissionRun(real_client(), ACCOUNT, "NONE").run([MESSAGE_ID])

    assert [r["status"] for r in results] == ["submitted"] and results[0]["submission_id"] == "s-1"
    assert (
        api.calls[2].request.body
        == b'{"type": "reclassification", "messages": [{"alert_id": "alert-1", "expected_disposition": "NONE"}]}'
    )


def test_a_recorded_submission_is_not_sent_again(api):
    expect_lookup(api, action_log(submission()))

    results = SubmissionRun(real_client(), ACCOUNT, "NONE").run([MESSAGE_ID])

    assert [r["status"] for r in results] == ["already_submitted"]
    assert len(api.calls) == 2


def test_a_lost_answer_is_settled_by_the_action_log_on_the_schedule_never_by_a_second_submission(api, tmp_path):
    clock = FakeClock()
    expect_lookup(api, action_log())
    api.post(SUBMISSIONS, body=requests.exceptions.ReadTimeout("read timed out"))
    # At once and after 1 s: nothing yet; after 2 s more, the submission shows.
    api.get("%s/%s/action_log" % (MESSAGES, MESSAGE_ID), json=action_log())
    api.get("%s/%s/action_log" % (MESSAGES, MESSAGE_ID), json=action_log())
    api.get("%s/%s/action_log" % (MESSAGES, MESSAGE_ID), json=action_log(submission()))
    journal = WriteJournal(str(tmp_path), ACCOUNT)

    run = SubmissionRun(
        real_client(), ACCOUNT, "NONE", journal=journal, settle_timeout=30, clock=clock, sleep=clock.sleep
    )
    results = run.run([MESSAGE_ID])

    assert [r["status"] for r in results] == ["submitted"]
    assert "it was not sent again" in results[0]["detail"]
    assert [c.request.method for c in api.calls].count("POST") == 1
    assert clock.now == 3.0
    assert journal.unsettled("submission:NONE") == {}


def test_a_submission_an_earlier_run_left_in_flight_is_read_before_anything_is_sent(api, tmp_path):
    journal = WriteJournal(str(tmp_path), ACCOUNT)
    journal.record("submission:NONE", [MESSAGE_ID], 120.0)
    api.get("%s/%s/action_log" % (MESSAGES, MESSAGE_ID), json=action_log(submission()))

    results = SubmissionRun(real_client(), ACCOUNT, "NONE", journal=journal).run([MESSAGE_ID])

    assert [r["status"] for r in results] == ["already_submitted"]
    assert "earlier run" in results[0]["detail"]
    assert journal.unsettled("submission:NONE") == {}


def test_only_a_submission_of_the_same_disposition_counts():
    log = [submission("SPAM", "s-9"), {"operation": "MOVE", "properties": {}}]
    assert recorded_submission(log, "NONE") is None
    assert recorded_submission(log, "SPAM") == "s-9"
    assert (
        recorded_submission([{"operation": "SUBMISSION", "properties": {"requested_disposition": "NONE"}}], "NONE")
        == ""
    )
