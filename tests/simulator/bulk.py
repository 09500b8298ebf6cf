# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Server-side bulk jobs (POST /investigate/bulk and the routes under it), RELEASE and MOVE, as the contract
describes them.

A job moves PENDING -> DISCOVERING -> PROCESSING -> COMPLETED as time passes: discovery takes
``discovery_seconds`` and snapshots the messages the search matches that are quarantined (RELEASE) or in a mailbox
(MOVE), one row per (message, client recipient); processing then handles ``rate`` rows per second. Progress is computed when the
job is read, so no thread runs behind the server. A row whose message left quarantine before its turn is
released again all the same and the ledger records a double delivery: the simulator assumes Cloudflare is no
kinder to two jobs with the same intent than its release endpoint is to two requests.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import time
import uuid

TERMINAL = ("COMPLETED", "FAILED", "CANCELLED")
_COUNTERS = {
    "PENDING": "messages_pending",
    "PROCESSING": "messages_pending",
    "COMPLETED": "messages_successful",
    "FAILED": "messages_failed",
    "SKIPPED": "messages_skipped",
    "CANCELLED": "messages_cancelled",
}


def _text(moment):
    return datetime.datetime.fromtimestamp(moment, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class BulkSettings:
    """How fast jobs run, and the failure a test can ask for."""

    def __init__(self):
        self.discovery_seconds = 0.5
        self.rate = 2000.0
        # The job ends FAILED after this many messages were processed (None: never).
        self.fail_after = None


class _Row:
    __slots__ = ("message", "recipient", "status", "status_message", "created_at", "processed_at", "row_id")

    def __init__(self, message, recipient, created_at):
        self.message = message
        self.recipient = recipient
        self.status = "PENDING"
        self.status_message = None
        self.created_at = created_at
        self.processed_at = None
        self.row_id = str(uuid.uuid4())


class BulkJob:
    def __init__(self, request, created_at, settings):
        self.job_id = str(uuid.uuid4())
        self.action = request.get("action") or "RELEASE"
        self.destination = request.get("destination")
        self.search_params = dict(request.get("search_params") or {})
        self.comment = request.get("comment")
        self.created_at = created_at
        self.started_at = None
        self.completed_at = None
        self.status = "PENDING"
        self.status_message = None
        self.rows = []
        self.processed = 0
        self.messages_processed = 0
        self._settings = settings

    def advance(self, now, discover, act):
        """Bring the job to where time has taken it. ``discover(job)`` lists the messages it acts on;
        ``act(job, message)`` releases or moves one and returns the recipients it reached and those it failed."""
        if self.status in TERMINAL:
            return
        settings = self._settings
        if self.status == "PENDING" and now >= self.created_at + 0.1:
            self.status = "DISCOVERING"
            self.started_at = now
        if self.status == "DISCOVERING" and now >= self.started_at + settings.discovery_seconds:
            for message in discover(self):
                for recipient in message.recipients:
                    self.rows.append(_Row(message, recipient, now))
            self.status = "PROCESSING"
        if self.status != "PROCESSING":
            return
        processing_since = self.started_at + settings.discovery_seconds
        due = min(len(self.rows), int((now - processing_since) * settings.rate))
        while self.processed < due:
            # A message is released (or moved) for all its recipients at once, so its rows are processed together.
            if settings.fail_after is not None and self.messages_processed >= settings.fail_after:
                self._end(now, "FAILED", "the job failed while processing: internal error")
                return
            message = self.rows[self.processed].message
            reached, dummy = act(self, message)
            self.messages_processed += 1
            while self.processed < len(self.rows) and self.rows[self.processed].message is message:
                row = self.rows[self.processed]
                row.status = "COMPLETED" if row.recipient in reached else "FAILED"
                row.status_message = (
                    None
                    if row.status == "COMPLETED"
                    else "the recipient's %s failed" % ("delivery" if self.action == "RELEASE" else "mailbox move")
                )
                row.processed_at = now
                self.processed += 1
        if self.processed >= len(self.rows):
            self._end(now, "COMPLETED", None)

    def cancel(self, now):
        self._end(now, "CANCELLED", "cancelled through the API")

    def _end(self, now, status, message):
        self.status = status
        self.status_message = message
        self.completed_at = now
        for row in self.rows:
            if row.status in ("PENDING", "PROCESSING"):
                row.status = "CANCELLED"
                row.status_message = "the job ended %s before this message was processed" % status

    def as_api(self):
        counters = dict.fromkeys(set(_COUNTERS.values()), 0)
        for row in self.rows:
            counters[_COUNTERS[row.status]] += 1
        detail = {
            "job_id": self.job_id,
            "action_type": self.action,
            "action_params": self._action_params(),
            "search_params": dict(self.search_params),
            "comment": self.comment,
            "status": self.status,
            "status_message": self.status_message,
            "total_messages_discovered": len(self.rows),
            "created_at": _text(self.created_at),
            "started_at": _text(self.started_at) if self.started_at else None,
            "completed_at": _text(self.completed_at) if self.completed_at else None,
        }
        detail.update(counters)
        return detail

    def _action_params(self):
        return {"type": "MOVE", "destination": self.destination} if self.action == "MOVE" else {"type": "RELEASE"}

    def row_as_api(self, row):
        return {
            "message_id": row.row_id,
            "postfix_id": row.message.postfix_id,
            "alert_id": row.message.alert_id,
            "action_type": self.action,
            "action_params": dict(self._action_params(), client_recipient=row.recipient),
            "status": row.status,
            "status_message": row.status_message,
            "retry_count": 0,
            "retry_after": None,
            "created_at": _text(row.created_at),
            "processed_at": _text(row.processed_at) if row.processed_at else None,
            "message": row.message.as_api(),
        }


class BulkJobs:
    """Every job of the account, newest first when listed."""

    def __init__(self, clock=time.time):
        self.settings = BulkSettings()
        self.jobs = {}
        self._clock = clock

    def create(self, request):
        job = BulkJob(request, self._clock(), self.settings)
        self.jobs[job.job_id] = job
        return job

    def advance_all(self, discover, act):
        now = self._clock()
        for job in self.jobs.values():
            job.advance(now, discover, act)

    def listed(self, status=None, action=None):
        jobs = sorted(self.jobs.values(), key=lambda j: j.created_at, reverse=True)
        return [job for job in jobs if status in (None, job.status) and action in (None, job.action)]

    def cancel(self, job):
        job.cancel(self._clock())
