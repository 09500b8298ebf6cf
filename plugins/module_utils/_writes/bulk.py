# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Server-side bulk jobs, RELEASE or MOVE: exactly one job per intent, waiting for it, and its per-message outcomes.

A job created twice would release twice whatever both discover, and job creation has no idempotency key.
So every job carries the task's intent (a key derived from the account, the search, and the user's key,
reason and ticket, and for a move its destination) in its ``comment``. Before creating, and after a create whose
outcome is unknown, the jobs of that action are listed and one with the same intent is adopted instead of creating
another. A create that
left without an answer is also written to the journal, so that a run that dies meanwhile makes the next run
on this machine keep looking for the job until ``settle_timeout`` has passed, before it creates one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import re
import time

from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.progress import count
from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import (
    CloudflareError,
    ValidationError,
    check_range,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._outcomes import (
    MOVE_PENDING,
    MOVED,
    NOT_MOVED,
    NOT_RELEASED,
    PARTIALLY_MOVED,
    PARTIALLY_RELEASED,
    RELEASE_PENDING,
    RELEASED,
    move_entry,
    release_entry,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.messages import numbered_pages
from ansible_collections.mailsec.cloudflare.plugins.module_utils._write.engine import (
    DONE,
    NOT_DONE,
    Seen,
    Stop,
    WriteEngine,
    TaskPolicy,
)

JOB_STATUSES = ("PENDING", "DISCOVERING", "PROCESSING", "COMPLETED", "FAILED", "CANCELLED")
TERMINAL = ("COMPLETED", "FAILED", "CANCELLED")
# A job that ended this way released nothing more than it did; the same intent may start a new one.
_ENDED_UNFINISHED = ("FAILED", "CANCELLED")
_DISCOVERING = ("PENDING", "DISCOVERING")
MESSAGE_STATUSES = ("PENDING", "PROCESSING", "COMPLETED", "FAILED", "CANCELLED", "SKIPPED")
_INCOMPLETE_COUNTERS = ("messages_failed", "messages_cancelled", "messages_skipped")
MESSAGE_RESULTS = ("none", "incomplete", "all")
_COUNTERS = ("messages_pending", "messages_successful", "messages_failed", "messages_skipped", "messages_cancelled")
_INTENT = re.compile(r"mailsec\.cloudflare intent=([0-9a-f]{32})")
_JOB_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
LIST_PAGE_SIZE = 100
# How far back a job with the same intent is looked for: the newest jobs, this many pages of them.
MAX_LIST_PAGES = 10
RESULT_PAGE_SIZE = 1000


def bulk_path(account_id, job_id=None, tail=None):
    path = "/accounts/%s/email-security/investigate/bulk" % account_id
    if job_id is not None:
        path += "/" + job_id
    if tail is not None:
        path += "/" + tail
    return path


def check_job_id(job_id):
    if not isinstance(job_id, str) or not _JOB_ID.fullmatch(job_id):
        raise ValidationError("job_id must be a bulk job's UUID, such as f174e90a-fafe-4643-bbbc-4a0ed4fc8415")
    return job_id.lower()


class BulkAction:
    """What a job does to each message it discovers: RELEASE it, or MOVE it to ``destination``."""

    def __init__(self, name, destination=None):
        self.name = name
        self.destination = destination
        self.moves = name == "MOVE"
        # The status of a message the job fully did, the verb for it, and the check-mode count's result key.
        self.done_status, self.verb, self.would_key = (
            (MOVED, "moved", "would_move") if self.moves else (RELEASED, "released", "would_release")
        )

    @classmethod
    def of_job(cls, job):
        params = job.get("action_params") if isinstance(job.get("action_params"), dict) else {}
        return cls(job.get("action_type") or "RELEASE", params.get("destination"))

    def body(self, search_params, comment):
        body = {"action": self.name, "search_params": search_params, "comment": comment}
        if self.moves:
            body["destination"] = self.destination
        return body

    def message_result(self, message_id, rows):
        return _moved_message(message_id, rows) if self.moves else _released_message(message_id, rows)


RELEASE_JOB = BulkAction("RELEASE")


def intent_key(account_id, search_params, key=None, reason=None, ticket=None, action=RELEASE_JOB):
    """The task's intent as 32 hex digits: the same account, search, key, reason, ticket (and for a move, its
    destination) give the same one. A release's material is what it was before moves existed, so that a run of a
    newer version adopts the job an older one made."""
    material = {"account": account_id, "search": search_params, "key": key, "reason": reason, "ticket": ticket}
    if action.moves:
        material["move_to"] = action.destination
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode("utf-8")).hexdigest()[:32]


def job_comment(intent, reason=None, ticket=None):
    parts = ["mailsec.cloudflare intent=%s" % intent]
    if ticket:
        parts.append("ticket: %s" % ticket)
    if reason:
        parts.append("reason: %s" % reason)
    return "; ".join(parts)


def intent_of(job):
    match = _INTENT.search(job.get("comment") or "") if isinstance(job, dict) else None
    return match.group(1) if match else None


def is_incomplete(job):
    return job.get("status") != "COMPLETED" or any(job.get(name) for name in _COUNTERS if name != "messages_successful")


def job_summary(job):
    summary = {name.replace("messages_", "", 1): job.get(name) or 0 for name in _COUNTERS}
    summary["discovered"] = job.get("total_messages_discovered") or 0
    return summary


def job_progress(job):
    """One line on how far a job has come: per-recipient rows processed of those discovered, and how each ended."""
    counts = job_summary(job)
    processed = counts["successful"] + counts["failed"] + counts["skipped"] + counts["cancelled"]
    verb = BulkAction.of_job(job).verb
    line = "bulk job %s %s" % (job.get("job_id"), job.get("status"))
    if not counts["discovered"]:
        return line + ": no message found yet"
    if job.get("status") in _DISCOVERING:
        return line + ": %s message deliveries found so far" % count(counts["discovered"])
    return line + ": %s of %s message deliveries processed (%d %%): %s %s, %s failed, %s skipped, %s cancelled" % (
        count(processed),
        count(counts["discovered"]),
        100 * processed // counts["discovered"],
        count(counts["successful"]),
        verb,
        count(counts["failed"]),
        count(counts["skipped"]),
        count(counts["cancelled"]),
    )


def validate_wait_options(wait_timeout, poll_interval):
    check_range("wait_timeout", wait_timeout, 0, 86400)
    check_range("poll_interval", poll_interval, 1, 3600)


class BulkJobs:
    """The bulk job operations of one account for one action, through a CloudflareClient."""

    def __init__(self, client, account_id, clock=None, sleep=None, action=RELEASE_JOB):
        self.client = client
        self.account_id = account_id
        self.action = action
        self.polls = 0
        self._clock = clock or time.monotonic
        self._sleep = sleep or time.sleep

    def pause(self, seconds):
        self._sleep(seconds)

    def get(self, job_id):
        return _job(self.client.get(bulk_path(self.account_id, job_id)).result, "GET")

    def listed(self, status=None, max_pages=MAX_LIST_PAGES):
        """Jobs of this action, page after page, at most max_pages pages of LIST_PAGE_SIZE."""
        params = {"action_type": self.action.name}
        if status is not None:
            params["status"] = status
        return numbered_pages(self.client, bulk_path(self.account_id), params, LIST_PAGE_SIZE, max_pages)

    def with_intent(self, intent):
        """The newest job carrying this intent, or None."""
        matching = [job for job in self.listed() if intent_of(job) == intent]
        return max(matching, key=lambda job: str(job.get("created_at") or "")) if matching else None

    def create(self, search_params, comment, on_send=None):
        """The job created, and the ray id of Cloudflare's answer."""
        body = self.action.body(search_params, comment)
        response = self.client.post(bulk_path(self.account_id), body, on_send=on_send)
        return _job(response.result, "POST"), response.cf_ray

    def cancel(self, job_id):
        return _job(self.client.post(bulk_path(self.account_id, job_id, "cancel"), None).result, "POST")

    def wait(self, job, wait_timeout, poll_interval):
        """The job once terminal, or as it was when wait_timeout (or the task's time) ran out; its counts are said
        as progress at each poll."""
        deadline = self._clock() + wait_timeout
        said = None
        while job.get("status") not in TERMINAL:
            # A new status is always said; the counts of a job still at it, every 10 s at most (MIN_GAP_SECONDS).
            self.client.progress.say("bulk", job_progress(job), urgent=job.get("status") != said)
            said = job.get("status")
            left = self.client.time_left()
            now = self._clock()
            if now + poll_interval > deadline or (left is not None and poll_interval >= left):
                return job
            self.pause(poll_interval)
            self.polls += 1
            job = self.get(job["job_id"])
        self.client.progress.say("bulk", job_progress(job), urgent=True)
        return job

    def message_rows(self, job_id, status=None):
        """Every per-message row of a job (or those with this status), page after page."""
        params = {"status": status} if status is not None else {}
        return numbered_pages(self.client, bulk_path(self.account_id, job_id, "messages"), params, RESULT_PAGE_SIZE)

    def outcomes(self, job, which):
        """Per-message results shaped like the release (or move) module's, for ``which`` of none, incomplete or all.

        Rows are per recipient, so a message's outcome needs all its rows: ``incomplete`` reads every row, but
        only when the counters show rows failed, cancelled or skipped, and keeps the messages not fully done.
        """
        if which == "none" or (which == "incomplete" and not any(job.get(name) for name in _INCOMPLETE_COUNTERS)):
            return []
        action = BulkAction.of_job(job)
        results = results_from_rows(self.message_rows(job["job_id"]), action)
        if which == "incomplete":
            return [entry for entry in results if entry["status"] != action.done_status]
        return results


def _job(result, method):
    if not isinstance(result, dict) or not isinstance(result.get("job_id"), str):
        raise CloudflareError("%s bulk job: the answer holds no job (no job_id)" % method)
    return result


def _row_target(row):
    message = row.get("message") if isinstance(row.get("message"), dict) else {}
    return message.get("id") or row.get("postfix_id")


def results_from_rows(rows, action=RELEASE_JOB):
    """One result per message (rows are per recipient), in the order first seen, statuses as the release (or move)
    module's."""
    grouped = {}
    for row in rows:
        target = _row_target(row)
        if isinstance(target, str) and target:
            grouped.setdefault(target, []).append(row)
    return [action.message_result(message_id, message_rows) for message_id, message_rows in grouped.items()]


# Where a recipient's row status puts the recipient; PENDING and PROCESSING put it nowhere yet.
_ROW_LISTS = {"COMPLETED": "delivered", "FAILED": "failed", "PENDING": None, "PROCESSING": None}


def _row_note(recipient, row):
    note = "%s: %s" % (recipient, row.get("status"))
    return "%s %s" % (note, row["status_message"]) if row.get("status_message") else note


def _folded_rows(rows):
    """(recipient lists, whether any recipient is still pending, notes on the recipients not released)."""
    lists = {"delivered": [], "failed": [], "undelivered": []}
    pending, notes = False, []
    for row in rows:
        params = row.get("action_params") if isinstance(row.get("action_params"), dict) else {}
        recipient = params.get("client_recipient") or "(recipient not named)"
        target = _ROW_LISTS.get(row.get("status"), "undelivered")
        pending = pending or target is None
        if target is not None:
            lists[target].append(recipient)
        if row.get("status") != "COMPLETED":
            notes.append(_row_note(recipient, row))
    return lists, pending, notes


def _message_status(lists, pending):
    if pending:
        return RELEASE_PENDING
    if lists["delivered"]:
        return PARTIALLY_RELEASED if lists["failed"] or lists["undelivered"] else RELEASED
    return NOT_RELEASED


def _rows_detail(pending, notes):
    detail = "; ".join(notes) or None
    if pending:
        detail = "the job had not processed every recipient yet (%s)" % detail
    return "bulk job: %s" % detail if detail else None


def _moved_message(message_id, rows):
    """A MOVE job's rows of one message as a move result: a recipient COMPLETED was moved, one pending is not yet."""
    lists, pending, notes = _folded_rows(rows)
    moved, failed = lists["delivered"], lists["failed"] + lists["undelivered"]
    if pending:
        status = MOVE_PENDING
    elif moved:
        status = PARTIALLY_MOVED if failed else MOVED
    else:
        status = NOT_MOVED
    return move_entry(message_id, status, _rows_detail(pending, notes), None, moved, failed)


def _released_message(message_id, rows):
    lists, pending, notes = _folded_rows(rows)
    postfix_ids = [row.get("postfix_id") for row in rows if isinstance(row.get("postfix_id"), str)]
    return release_entry(
        message_id,
        _message_status(lists, pending),
        _rows_detail(pending, notes),
        lists["delivered"],
        lists["failed"],
        lists["undelivered"],
        postfix_ids[0] if postfix_ids else None,
    )


class BulkCreatePolicy(TaskPolicy):
    """One task's bulk job: the job of its intent found, or created. The create is this policy of the write engine:
    its one key is the intent's marker, observed in the job list; the run's entry for it is the job (None in check
    mode when none exists yet). ``created``, ``adopted`` and ``changed`` say what the run did."""

    operation = "bulk"
    noun = "bulk job create"
    consequence = "no job was created"
    # A 409 or a failed 2xx may come after the job was made: it shows in the list only later.
    settles_answered_failures = True
    concurrency = 1

    def __init__(self, context, jobs, spec, intent, comment):
        super(BulkCreatePolicy, self).__init__(context)
        self.jobs = jobs
        self.spec = spec
        self.intent = intent
        self.comment = comment
        self.created = False
        # The ray id of the answer to this run's create: the key of the job's creation in Cloudflare's audit logs.
        self.cf_ray = None
        self.adopted = False
        self.changed = False
        self._earlier = None

    @property
    def marker(self):
        # A space and a slash: never a message id, so the release journal's settling never takes it for one.
        return "bulk job/%s" % self.intent

    # The run's steps --------------------------------------------------------------------------------------

    def settle_earlier(self, engine, keys):
        """A create an earlier run left unsettled is looked for until its window closes first; the job it made is
        judged in the pre-check like any other job of this intent."""
        settled, dummy = engine.settle_earlier(self, keys)
        self._earlier = settled.get(self.marker)
        return {}, list(keys)

    def pre_check(self, keys):
        job = self._earlier or self.jobs.with_intent(self.intent)
        if job is not None and job.get("status") in _ENDED_UNFINISHED:
            self.warn(
                "the last job with this intent (%s) ended %s; %s"
                % (
                    job["job_id"],
                    job["status"],
                    "a new one would be created" if self.check_mode else "creating another",
                )
            )
            job = None
        if job is None:
            return {}, list(keys)
        self.adopted = True
        self.changed = job.get("status") not in TERMINAL
        return {self.marker: job}, []

    def predict(self, keys):
        self.changed = bool(keys)
        return dict.fromkeys(keys)

    # The bulk create policy: what the write engine asks of a create ----------------------------------------

    def send(self, keys, on_send):
        return self.jobs.create(self.spec.as_search_params(), self.comment, on_send=on_send)

    def answered(self, keys, response):
        job, self.cf_ray = response
        self.created = self.changed = True
        return {self.marker: job}, []

    def refused(self, keys, error):
        return {self.marker: Stop(error)}

    def observe(self, keys):
        job = self.jobs.with_intent(self.intent)
        return [Seen(NOT_DONE) if job is None else Seen(DONE, job)]

    def done(self, key, seen, cause, earlier):
        if not earlier:
            self.adopted = self.changed = True
            self.warn("the job was created all the same (%s); adopted it" % seen.evidence["job_id"])
        return seen.evidence

    def pending(self, keys, cause):
        return {
            self.marker: Stop(
                CloudflareError(
                    "a create whose answer was lost may still make a job, and the task has no time left to wait "
                    "for it (task_timeout); nothing further was created. Run the task again",
                    stops_task=True,
                )
            )
        }

    def gave_up(self, keys, error, attempts):
        return {
            self.marker: Stop(
                CloudflareError(
                    "creating the bulk job failed (%s), and no job with this intent showed in the job list within "
                    "settle_timeout (%.0f s) after the create was sent, so none was made. Run the task again once the "
                    "cause is fixed" % (error.message, self.settle_timeout),
                    status=error.status,
                    errors=error.errors,
                    method="POST",
                    stops_task=True,
                )
            )
        }

    def settling_warning(self, keys, error):
        return "%s. Looking for a job with this task's intent instead of creating another" % error.message

    def earlier_cause(self, pid, sent_ago):
        return "an earlier run (pid %s) sent a create for this job %.0f s ago and did not learn the outcome" % (
            pid,
            sent_ago,
        )

    def earlier_warning(self, keys, cause):
        return "%s; looking for the job before creating one" % cause


def wait_for_job(jobs, job, options, warn):
    """The job once it ends, or after ``wait_timeout``; cancelled then when ``cancel_on_timeout`` says so."""
    job = jobs.wait(job, options["wait_timeout"], options["poll_interval"])
    if job.get("status") not in TERMINAL and options["cancel_on_timeout"]:
        warn("job %s still %s after wait_timeout; cancelling it" % (job["job_id"], job.get("status")))
        try:
            job = jobs.cancel(job["job_id"])
        except CloudflareError as exc:
            if exc.is_fatal:
                raise
            # It may have ended meanwhile; what it is now is what counts.
            job = jobs.get(job["job_id"])
    return job


class BulkReport:
    """What one bulk release task established: the job, the per-message outcomes, or what stopped it."""

    def __init__(self, policy, job=None, results=(), would_act_on=None, error=None):
        self.policy = policy
        self.action = policy.jobs.action
        self.job = job
        self.results = list(results)
        self.would_act_on = would_act_on
        self.error = error

    @property
    def incomplete_ids(self):
        return [entry["id"] for entry in self.results if entry["status"] != self.action.done_status]

    def summary(self, requests_sent):
        summary = job_summary(self.job or {})
        summary.update(
            status=(self.job or {}).get("status") or "NONE", polls=self.policy.jobs.polls, requests_sent=requests_sent
        )
        return summary

    def result(self, requests_sent, with_diff=False):
        policy = self.policy
        result = dict(
            changed=policy.changed,
            job=self.job,
            job_id=(self.job or {}).get("job_id"),
            intent=policy.intent,
            created=policy.created,
            cf_ray=policy.cf_ray,
            adopted=policy.adopted,
            results=self.results,
            incomplete_ids=self.incomplete_ids,
            summary=self.summary(requests_sent),
        )
        if self.would_act_on is not None:
            result[self.action.would_key] = self.would_act_on
        if with_diff:
            result["diff"] = self.diff()
        if self.error is not None:
            result["error"] = self.error.as_dict()
        return result

    def diff(self):
        planned = self.action.body(self.policy.spec.as_search_params(), self.policy.comment)
        before = {} if self.policy.created or self.job is None else planned
        return {
            "before": json.dumps(before, indent=2, sort_keys=True) + "\n",
            "after": json.dumps(planned, indent=2, sort_keys=True) + "\n",
            "before_header": "bulk %s jobs of this intent" % self.action.name.lower(),
            "after_header": "bulk %s jobs of this intent" % self.action.name.lower(),
        }

    def failure(self, fail_on_incomplete, waited):
        """Why the task fails, or None."""
        if self.error is not None:
            return self.error.message
        job = self.job
        if not fail_on_incomplete or job is None:
            return None
        running = job.get("status") not in TERMINAL
        if running and not waited:
            return None
        if not is_incomplete(job) and not self.incomplete_ids:
            return None
        counts = job_summary(job)
        return (
            "bulk job %s is %s: of %d message(s) discovered, %d %s, %d failed, %d skipped, %d cancelled and "
            "%d not processed yet%s; see results and incomplete_ids, or set fail_on_incomplete: false"
            % (
                job["job_id"],
                job.get("status"),
                counts["discovered"],
                counts["successful"],
                self.action.verb,
                counts["failed"],
                counts["skipped"],
                counts["cancelled"],
                counts["pending"],
                " (%s)" % job["status_message"] if job.get("status_message") else "",
            )
        )


def bulk_release(policy, count_actionable, options):
    """Run a bulk job task to the end: the job of its intent found or created through the write engine, waited for
    (``options``: ``wait``, ``wait_timeout``, ``poll_interval``, ``cancel_on_timeout``, ``message_results``), its
    rows read. A BulkReport, never an exception for what Cloudflare answered. ``count_actionable()`` counts what a
    new job would act on, for check mode."""
    outcome = WriteEngine(policy.context).run(policy, [policy.marker])
    job, results, would_act_on = outcome.entries[0], [], None
    if outcome.fatal is not None:
        return BulkReport(policy, job, error=outcome.fatal)
    try:
        if job is None:
            would_act_on = count_actionable()
        else:
            if options["wait"] and not policy.check_mode:
                job = wait_for_job(policy.jobs, job, options, policy.warn)
            results = policy.jobs.outcomes(job, options["message_results"])
    except CloudflareError as exc:
        return BulkReport(policy, job, results, would_act_on, exc)
    return BulkReport(policy, job, results, would_act_on)


def job_info(jobs, job_id, params):
    """What email_security_bulk_job_info returns: one job with its outcomes, or the jobs listed."""
    if job_id is not None:
        job = jobs.get(job_id)
        results = jobs.outcomes(job, params["message_results"])
        summary = job_summary(job)
        summary.update(listed=1, status=job.get("status"))
        return dict(
            job=job,
            jobs=[job],
            results=results,
            incomplete_ids=[entry["id"] for entry in results if entry["status"] != BulkAction.of_job(job).done_status],
            summary=summary,
        )
    max_pages = -(-params["limit"] // LIST_PAGE_SIZE)
    listed = jobs.listed(params["status"], max_pages=max_pages)
    if params["intent"]:
        listed = [job for job in listed if intent_of(job) == params["intent"]]
    listed = sorted(listed, key=lambda job: str(job.get("created_at") or ""), reverse=True)[: params["limit"]]
    return dict(job=None, jobs=listed, results=[], incomplete_ids=[], summary=dict(listed=len(listed)))
