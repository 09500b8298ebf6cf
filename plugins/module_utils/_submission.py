# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Reporting messages to Cloudflare as misclassified (POST /submissions, type reclassification), once each.

A message's action log records every submission made for it (operation SUBMISSION, with the requested disposition
and the submission id in its properties): that record decides whether a message was submitted already, before a
request is sent, and whether a submission whose answer was lost or partly refused went in. The create answer's
results carry no message reference, so they are never matched to messages by position.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mailsec.cloudflare.plugins.module_utils._client import CloudflareError, OutcomeUnknownError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._concurrency import in_batches, run_in_order
from ansible_collections.mailsec.cloudflare.plugins.module_utils._messages import (
    STATE_NOT_FOUND,
    read_message,
    read_message_part,
)

DISPOSITIONS = ("NONE", "BULK", "SPAM", "SPOOF", "SUSPICIOUS", "MALICIOUS")
SUBMITTED = "submitted"
ALREADY_SUBMITTED = "already_submitted"
WOULD_SUBMIT = "would_submit"
NOT_FOUND = "not_found"
NOT_SUBMITTED = "not_submitted"
UNKNOWN = "unknown"
STATUSES = (SUBMITTED, ALREADY_SUBMITTED, WOULD_SUBMIT, NOT_FOUND, NOT_SUBMITTED, UNKNOWN)
COMPLETE_STATUSES = frozenset([SUBMITTED, ALREADY_SUBMITTED, WOULD_SUBMIT])
BATCH_SIZE = 100


def submissions_path(account_id):
    return "/accounts/%s/email-security/submissions" % account_id


def submission_entry(message_id, status, detail=None, submission_id=None, alert_id=None):
    return {"id": message_id, "status": status, "submission_id": submission_id, "alert_id": alert_id, "detail": detail}


def recorded_submission(action_log, disposition):
    """The submission id of the message's reclassification to ``disposition``, "" when one is recorded without an
    id, or None when none is."""
    for entry in action_log:
        properties = entry.get("properties") if isinstance(entry.get("properties"), dict) else {}
        if entry.get("operation") == "SUBMISSION" and properties.get("requested_disposition") == disposition:
            return properties.get("submission_id") or ""
    return None


class SubmissionRun:
    """Reclassify messages to one disposition, each at most once, through a CloudflareClient."""

    def __init__(self, client, account_id, disposition, check_mode=False, concurrency=4):
        self.client = client
        self.account_id = account_id
        self.disposition = disposition
        self.check_mode = check_mode
        self.concurrency = concurrency
        self.fatal = None

    def run(self, message_ids):
        """One entry per message id, in order."""
        entries = {}
        try:
            candidates = self._candidates(message_ids, entries)
            if self.check_mode:
                entries.update((i, submission_entry(i, WOULD_SUBMIT, alert_id=a)) for i, a in candidates)
            else:
                for batch in in_batches(candidates, BATCH_SIZE):
                    entries.update(self._submit(batch))
        except CloudflareError as exc:
            self.fatal = exc
        return [entries.get(i) or self._unsent(i) for i in message_ids]

    def _unsent(self, message_id):
        why = self.fatal.message if self.fatal is not None else "no outcome was recorded for this id"
        return submission_entry(message_id, NOT_SUBMITTED, "not submitted: %s" % why)

    def _candidates(self, message_ids, entries):
        """[(id, alert_id)] still to submit; entries for the others are put into ``entries``."""
        looked_up = run_in_order(self._look_up, message_ids, self.concurrency)
        candidates = []
        for message_id, (entry, alert_id) in zip(message_ids, looked_up):
            if entry is not None:
                entries[message_id] = entry
            else:
                candidates.append((message_id, alert_id))
        return candidates

    def _look_up(self, message_id):
        """(entry, None) when the message needs no submission, or (None, alert_id) when it does."""
        state = read_message(self.client, self.account_id, message_id)
        if state.state == STATE_NOT_FOUND:
            return submission_entry(message_id, NOT_FOUND, state.error), None
        alert_id = (state.message or {}).get("alert_id")
        if not isinstance(alert_id, str) or not alert_id:
            return submission_entry(message_id, NOT_SUBMITTED, "the message has no alert_id to reclassify"), None
        recorded = recorded_submission(self._action_log(message_id), self.disposition)
        if recorded is not None:
            detail = "its action log shows it submitted as %s already; not submitted again" % self.disposition
            return submission_entry(message_id, ALREADY_SUBMITTED, detail, recorded or None, alert_id), None
        return None, alert_id

    def _action_log(self, message_id):
        try:
            return read_message_part(self.client, self.account_id, message_id, "action_log")
        except CloudflareError as exc:
            exc.amend(" (reading the action log of message %s)" % message_id)
            raise

    def _submit(self, batch):
        """{id: entry} for one request; what its answer leaves open is settled by each message's action log."""
        body = {
            "type": "reclassification",
            "messages": [{"alert_id": alert_id, "expected_disposition": self.disposition} for dummy, alert_id in batch],
        }
        try:
            answer = self.client.post(submissions_path(self.account_id), body)
        except OutcomeUnknownError as exc:
            return self._settle(batch, "the submission's answer was lost or failed (%s)" % exc.message, UNKNOWN)
        except CloudflareError as exc:
            if exc.is_fatal:
                raise
            return {i: submission_entry(i, NOT_SUBMITTED, exc.message, alert_id=a) for i, a in batch}
        results = (answer.result or {}).get("results") if isinstance(answer.result, dict) else None
        results = [r for r in results if isinstance(r, dict)] if isinstance(results, list) else []
        refused = [str(r.get("error") or "refused") for r in results if r.get("accepted") is not True]
        if len(results) == len(batch) and not refused:
            return self._settle(batch, "Cloudflare accepted it", SUBMITTED)
        cause = "Cloudflare refused %d of %d submission(s) (%s)" % (len(refused), len(batch), "; ".join(refused[:3]))
        return self._settle(batch, cause, NOT_SUBMITTED)

    def _settle(self, batch, cause, otherwise):
        """Entries from each message's action log; a message it does not show yet ends ``otherwise``."""
        entries = {}
        for message_id, alert_id in batch:
            recorded = recorded_submission(self._action_log(message_id), self.disposition)
            if recorded is not None:
                entries[message_id] = submission_entry(message_id, SUBMITTED, None, recorded or None, alert_id)
                continue
            detail = {
                SUBMITTED: "%s; its action log does not show the submission yet" % cause,
                NOT_SUBMITTED: "%s, and its action log shows no submission" % cause,
                UNKNOWN: "%s, and its action log shows no submission; run the task again to submit it" % cause,
            }[otherwise]
            entries[message_id] = submission_entry(message_id, otherwise, detail, alert_id=alert_id)
        return entries


def submission_summary(results, requests_sent):
    summary = dict.fromkeys(STATUSES, 0)
    for entry in results:
        summary[entry["status"]] += 1
    summary.update(total=len(results), requests_sent=requests_sent)
    return summary
