# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Reporting messages to Cloudflare as misclassified (POST /submissions, type reclassification), once each.

A message's action log records every submission made for it (operation SUBMISSION, with the requested disposition
and the submission id in its properties): that record decides whether a message was submitted already, before a
request is sent, and whether a submission whose answer was lost or partly refused went in: it is the observer of
the submission policy of the write engine (``_write/engine.py``), which journals each request and, after a lost answer,
reads the action logs until the submission shows or ``settle_timeout`` has passed. The create answer's results
carry no message reference, so they are never matched to messages by position.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.concurrency import in_batches, run_in_order
from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import CloudflareError, ValidationError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._outcomes import (
    ALREADY_SUBMITTED,
    NOT_FOUND,
    NOT_SUBMITTED,
    SUBMISSION,
    SUBMISSION_PENDING,
    SUBMITTED,
    UNKNOWN,
    WOULD_SUBMIT,
    submission_entry,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.messages import (
    STATE_NOT_FOUND,
    read_message,
    read_message_part,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._write.engine import (
    DONE,
    NOT_DONE,
    UNREADABLE,
    Seen,
    WritePolicy,
)

DISPOSITIONS = ("NONE", "BULK", "SPAM", "SPOOF", "SUSPICIOUS", "MALICIOUS")
BATCH_SIZE = 100
_SUBMISSION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


def submissions_path(account_id):
    return "/accounts/%s/email-security/submissions" % account_id


def escalations(escalated_submission_ids, message_ids):
    """{investigate id: user submission id} from the task's escalated_submission_ids, or ValidationError naming the
    entry to fix: each key one of ``message_ids``, each value a submission id."""
    escalated = {}
    for message_id, submission_id in (escalated_submission_ids or {}).items():
        if message_id not in message_ids:
            raise ValidationError(
                "escalated_submission_ids names %r, which is not one of message_ids; nothing was sent" % message_id
            )
        if not isinstance(submission_id, str) or not _SUBMISSION_ID.match(submission_id):
            raise ValidationError(
                "escalated_submission_ids[%r] must be a user submission's id (letters, digits, '.', '_', ':' or '-'), "
                "not %r; nothing was sent" % (message_id, submission_id)
            )
        escalated[message_id] = submission_id
    return escalated


def recorded_submission(action_log, disposition):
    """The submission id of the message's reclassification to ``disposition``, "" when one is recorded without an
    id, or None when none is."""
    for entry in action_log:
        properties = entry.get("properties") if isinstance(entry.get("properties"), dict) else {}
        if entry.get("operation") == "SUBMISSION" and properties.get("requested_disposition") == disposition:
            return properties.get("submission_id") or ""
    return None


class SubmissionPolicy(WritePolicy):
    """Reclassify messages to one disposition, each at most once: the submission, as the write engine asks it. Its
    pre-check reads each message's alert id and action log; its observer is the action log."""

    noun = "submission"
    outcomes = SUBMISSION
    consequence = "nothing was submitted. Run again once it has finished"
    # One request at a time: a submission carries up to BATCH_SIZE messages, and the action logs are read in parallel.
    concurrency = 1

    def __init__(self, context, disposition, escalated=None):
        super(SubmissionPolicy, self).__init__(context)
        self.disposition = disposition
        self.escalated = escalated or {}
        # A message submitted as one disposition may still be submitted as another: each is its own intent.
        self.operation = "submission:%s" % disposition
        self._alert_ids = {}

    # The run's steps --------------------------------------------------------------------------------------

    def pre_check(self, keys):
        entries = {}
        return entries, self._candidates(keys, entries)

    def predict(self, keys):
        return {i: self._entry(i, WOULD_SUBMIT) for i in keys}

    def batches(self, keys):
        return in_batches(keys, BATCH_SIZE)

    def unrecorded(self, key):
        return self.unsent(key, "no outcome was recorded for this id")

    def result_fields(self):
        return {}

    def diff(self, results):
        """None: a submission reports to Cloudflare and changes nothing of the message a diff could show."""
        return None

    def _entry(self, message_id, status, detail=None, submission_id=None):
        entry = submission_entry(message_id, status, detail, submission_id, self._alert_ids.get(message_id))
        entry["escalated_submission_id"] = self.escalated.get(message_id)
        return entry

    def _candidates(self, message_ids, entries):
        """The ids still to submit; entries for the others are put into ``entries``."""
        looked_up = run_in_order(self._look_up, message_ids, self.concurrency)
        candidates = []
        for message_id, entry in zip(message_ids, looked_up):
            if entry is not None:
                entries[message_id] = entry
            else:
                candidates.append(message_id)
        return candidates

    def _look_up(self, message_id):
        """The entry of a message that needs no submission, or None (its alert id noted) when it does."""
        state = read_message(self.client, self.account_id, message_id)
        if state.state == STATE_NOT_FOUND:
            return self._entry(message_id, NOT_FOUND, state.error)
        alert_id = (state.message or {}).get("alert_id")
        if not isinstance(alert_id, str) or not alert_id:
            return self._entry(message_id, NOT_SUBMITTED, "the message has no alert_id to reclassify")
        self._alert_ids[message_id] = alert_id
        recorded = recorded_submission(self._action_log(message_id), self.disposition)
        if recorded is not None:
            detail = "its action log shows it submitted as %s already; not submitted again" % self.disposition
            return self._entry(message_id, ALREADY_SUBMITTED, detail, recorded or None)
        return None

    def _action_log(self, message_id):
        try:
            return read_message_part(self.client, self.account_id, message_id, "action_log")
        except CloudflareError as exc:
            exc.amend(" (reading the action log of message %s)" % message_id)
            raise

    # The submission policy: what the write engine asks of a submission -----------------------------------

    def send(self, keys, on_send):
        body = {
            "type": "reclassification",
            "messages": [self._reclassification(i) for i in keys],
        }
        return self.client.post(submissions_path(self.account_id), body, on_send=on_send)

    def _reclassification(self, message_id):
        item = {"alert_id": self._alert_ids[message_id], "expected_disposition": self.disposition}
        if message_id in self.escalated:
            item["escalated_submission_id"] = self.escalated[message_id]
        return item

    def answered(self, keys, response):
        results = (response.result or {}).get("results") if isinstance(response.result, dict) else None
        results = [r for r in results if isinstance(r, dict)] if isinstance(results, list) else []
        refused = [str(r.get("error") or "refused") for r in results if r.get("accepted") is not True]
        if len(results) == len(keys) and not refused:
            return self._read_once(keys, "Cloudflare accepted it", SUBMITTED), []
        cause = "Cloudflare refused %d of %d submission(s) (%s)" % (len(refused), len(keys), "; ".join(refused[:3]))
        return self._read_once(keys, cause, NOT_SUBMITTED), []

    def refused(self, keys, error):
        return {i: self._entry(i, NOT_SUBMITTED, error.message) for i in keys}

    def failed(self, keys, error):
        return self._read_once(keys, "the submission's answer failed (%s)" % error.message, UNKNOWN), []

    def _read_once(self, keys, cause, otherwise):
        """Entries from one read of each action log, after an answer: a message it does not show ends ``otherwise``."""
        detail = {
            SUBMITTED: "%s; its action log does not show the submission yet",
            NOT_SUBMITTED: "%s, and its action log shows no submission",
            UNKNOWN: "%s, and its action log shows no submission; run the task again to submit it",
        }[otherwise]
        entries = {}
        for message_id, seen in zip(keys, self.observe(keys)):
            if seen.state == DONE:
                entries[message_id] = self._entry(message_id, SUBMITTED, None, seen.evidence or None)
            elif seen.state == UNREADABLE:
                entries[message_id] = self.unreadable(message_id, seen.error, cause)
            else:
                entries[message_id] = self._entry(message_id, otherwise, detail % cause)
        return entries

    def observe(self, keys):
        return run_in_order(self._observe_one, keys, self.concurrency)

    def _observe_one(self, message_id):
        try:
            recorded = recorded_submission(self._action_log(message_id), self.disposition)
        except CloudflareError as exc:
            return Seen(UNREADABLE, error=exc.message, stop=exc if exc.is_fatal else None)
        return Seen(NOT_DONE) if recorded is None else Seen(DONE, recorded)

    def done(self, key, seen, cause, earlier):
        if earlier:
            detail = "%s; its action log shows that submission, so it was not submitted again" % cause
            return self._entry(key, ALREADY_SUBMITTED, detail, seen.evidence or None)
        detail = "%s; its action log shows the submission, so it was not sent again" % cause
        return self._entry(key, SUBMITTED, detail, seen.evidence or None)

    def unreadable(self, key, why, cause):
        return self._entry(
            key, UNKNOWN, "%s, and its action log could not be read: %s; run the task again" % (cause, why)
        )

    def pending(self, keys, cause):
        return {
            i: self._entry(
                i,
                SUBMISSION_PENDING,
                "%s, and its action log did not show the submission before settle_timeout (%.0f s) had passed: that "
                "request may still make it. Run the task again on this machine; it settles this first"
                % (cause, self.settle_timeout),
            )
            for i in keys
        }

    def gave_up(self, keys, error, attempts):
        return {
            i: self._entry(
                i,
                NOT_SUBMITTED,
                "its action log showed no submission %.0f s after each of %d submissions whose answers were lost, "
                "so none of them was processed: %s" % (self.settle_timeout, attempts, error.message),
            )
            for i in keys
        }

    def unsent(self, key, why):
        return self._entry(key, NOT_SUBMITTED, "not submitted: %s" % why)

    def unknown(self, key, why):
        return self._entry(key, UNKNOWN, why)

    def earlier_warning(self, keys, cause):
        return (
            "%d message(s) of this task were in flight when an earlier run stopped; reading their action logs "
            "before anything is submitted" % len(keys)
        )
