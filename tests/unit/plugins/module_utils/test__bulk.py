# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Bulk release jobs through a real client: the intent, the bulk create policy, and rows folded per message."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
import requests

from ansible_collections.mailsec.cloudflare.tests.unit.plugins.write_runs import BulkReleaseRun
from ansible_collections.mailsec.cloudflare.plugins.module_utils._writes.bulk import (
    BulkJobs,
    intent_key,
    intent_of,
    job_comment,
    job_progress,
    results_from_rows,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.client import CloudflareClient
from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import CloudflareError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._state.local import WriteJournal
from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.progress import Progress
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.search import search_spec

from ansible_collections.mailsec.cloudflare.tests.unit.plugins.conftest import FakeClock

ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"
BASE = "https://api.example.test/client/v4"
BULK = "%s/accounts/%s/email-security/investigate/bulk" % (BASE, ACCOUNT)
JOB_ID = "f174e90a-fafe-4643-bbbc-4a0ed4fc8415"
SPEC = search_spec({"sender": "partner.example", "start": "2026-11-24T08:00:00Z"})
INTENT = intent_key(ACCOUNT, SPEC.as_search_params(), ticket="INC-1")
OPTIONS = dict(settle_timeout=10, wait=False, wait_timeout=0, poll_interval=5, cancel_on_timeout=False)


def envelope(result, **extra):
    return dict({"success": True, "errors": [], "messages": [], "result": result}, **extra)


def listing(*jobs):
    return envelope(list(jobs), result_info={"count": len(jobs), "per_page": 100, "page": 1, "total_count": len(jobs)})


def job(status="PENDING"):
    return {"job_id": JOB_ID, "status": status, "comment": job_comment(INTENT, ticket="INC-1"), "created_at": "x"}


def run_for(clock, journal=None, retries=0):
    client = CloudflareClient(dict(api_token="tok-SECRET-0123456789abcdef", base_url=BASE, retries=retries))
    jobs = BulkJobs(client, ACCOUNT, clock=clock, sleep=clock.sleep)
    return BulkReleaseRun(
        jobs, SPEC, INTENT, job_comment(INTENT, ticket="INC-1"), OPTIONS, journal=journal, clock=clock
    )


def test_the_same_task_has_the_same_intent_and_the_comment_carries_it():
    assert intent_key(ACCOUNT, SPEC.as_search_params(), ticket="INC-1") == INTENT
    assert intent_key(ACCOUNT, SPEC.as_search_params(), ticket="INC-2") != INTENT
    assert intent_of({"comment": job_comment(INTENT, reason="r", ticket="INC-1")}) == INTENT


def test_a_job_of_the_intent_is_adopted_and_none_created(api):
    api.get(BULK, json=listing(job("PROCESSING")))

    run = run_for(FakeClock())
    found = run.run(check_mode=False)

    assert found["job_id"] == JOB_ID and run.adopted and not run.created
    assert len(api.calls) == 1


def test_a_lost_create_is_looked_for_on_the_schedule_and_adopted_when_it_shows(api, tmp_path):
    clock = FakeClock()
    journal = WriteJournal(str(tmp_path), ACCOUNT)
    api.get(BULK, json=listing())
    api.post(BULK, body=requests.exceptions.ReadTimeout("read timed out"))
    api.get(BULK, json=listing())
    api.get(BULK, json=listing(job()))

    run = run_for(clock, journal)
    found = run.run(check_mode=False)

    assert found["job_id"] == JOB_ID and run.adopted and not run.created
    assert clock.now == 1.0
    assert journal.unsettled("bulk") == {}


def test_a_create_whose_outcome_the_task_cannot_wait_for_stops_it_and_keeps_the_journal(api, tmp_path):
    clock = FakeClock()
    journal = WriteJournal(str(tmp_path), ACCOUNT)
    api.get(BULK, json=listing())
    api.post(BULK, body=requests.exceptions.ReadTimeout("read timed out"))
    api.get(BULK, json=listing())
    run = run_for(clock, journal)
    run.jobs.client.time_left = lambda: 0.5

    with pytest.raises(CloudflareError, match="no time left to wait"):
        run.run(check_mode=False)
    assert [entry["ids"] for entry in journal.unsettled("bulk").values()] == [["bulk job/%s" % INTENT]]


def test_a_journal_entry_written_by_1_1_is_found_as_a_bulk_create(tmp_path):
    journal = WriteJournal(str(tmp_path), ACCOUNT)
    with open(journal.path, "w", encoding="utf-8") as target:
        target.write(
            '{"k1": {"ids": ["bulk job/%s"], "sent_at": 0, "settle_timeout": 120}, "k2": {"ids": ["m-1"]}}' % INTENT
        )
    assert list(journal.unsettled("bulk")) == ["k1"] and list(journal.unsettled("release")) == ["k2"]


def test_rows_per_recipient_fold_into_one_result_per_message():
    def row(message_id, recipient, status, note=None):
        return {
            "message": {"id": message_id},
            "action_params": {"client_recipient": recipient},
            "status": status,
            "status_message": note,
        }

    results = results_from_rows(
        [
            row("m1", "a@x.example", "COMPLETED"),
            row("m1", "b@x.example", "FAILED", "mailbox full"),
            row("m2", "c@x.example", "PROCESSING"),
            row("m3", "d@x.example", "SKIPPED"),
        ]
    )

    assert [(r["id"], r["status"]) for r in results] == [
        ("m1", "partially_released"),
        ("m2", "release_pending"),
        ("m3", "not_released"),
    ]
    assert results[0]["detail"] == "bulk job: b@x.example: FAILED mailbox full"
    assert results[2]["undelivered"] == ["d@x.example"]


def test_a_jobs_progress_line_counts_rows_processed_of_those_discovered():
    job = {"job_id": "j1", "status": "PROCESSING", "total_messages_discovered": 200000, "messages_successful": 50000}
    job.update(messages_failed=10, messages_skipped=2, messages_cancelled=0, messages_pending=149988)

    assert job_progress(job) == (
        "bulk job j1 PROCESSING: 50,012 of 200,000 message deliveries processed (25 %): 50,000 released, 10 failed, "
        "2 skipped, 0 cancelled"
    )
    assert job_progress({"job_id": "j1", "status": "PENDING"}) == "bulk job j1 PENDING: no message found yet"
    assert job_progress({"job_id": "j1", "status": "DISCOVERING", "total_messages_discovered": 1500}) == (
        "bulk job j1 DISCOVERING: 1,500 message deliveries found so far"
    )


def test_a_waited_job_says_each_new_status_and_its_counts_at_most_every_10_s(api, tmp_path):
    clock = FakeClock()
    said = tmp_path / "progress"
    progress = Progress(str(said), clock=clock)
    client = CloudflareClient(
        dict(api_token="tok-SECRET-0123456789abcdef", base_url=BASE, retries=0), progress=progress
    )
    jobs = BulkJobs(client, ACCOUNT, clock=clock, sleep=clock.sleep)
    for processed in (0, 100, 200, 300):
        counts = dict(total_messages_discovered=400, messages_successful=processed)
        api.get("%s/%s" % (BULK, JOB_ID), json=envelope(dict(job("PROCESSING"), **counts)))
    done = dict(job("COMPLETED"), total_messages_discovered=400, messages_successful=400)
    api.get("%s/%s" % (BULK, JOB_ID), json=envelope(done))

    jobs.wait(job("PENDING"), wait_timeout=100, poll_interval=5)

    # Polled at 5, 10, 15, 20 and 25 s: PENDING at 0, PROCESSING at 5, its counts again at 15, COMPLETED at 25.
    assert [line.split(": ")[1].split(" (")[0] for line in said.read_text().splitlines()[1:]] == [
        "0 of 400 message deliveries processed",
        "200 of 400 message deliveries processed",
        "400 of 400 message deliveries processed",
    ]
    assert "tok-SECRET" not in said.read_text()
