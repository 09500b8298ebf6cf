# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The release engine, in plain Python: validate, plan, pre-check, release in batches, verify, decide statuses.

The safety rule this file exists for: a release POST whose answer was lost is never sent
again blindly. Its messages are read back; those that left quarantine count as released,
those still quarantined are sent again, and those that cannot be read end ``unknown``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re
import threading

from ansible_collections.mailsec.cloudflare.plugins.module_utils._client import CloudflareError, OutcomeUnknownError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._concurrency import run_in_order
from ansible_collections.mailsec.cloudflare.plugins.module_utils._messages import (
    NOT_FOUND as STATE_NOT_FOUND,
    QUARANTINED as STATE_QUARANTINED,
    RELEASED as STATE_RELEASED,
    read_messages,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._options import ValidationError, check_range

RELEASED = "released"
PARTIALLY_RELEASED = "partially_released"
NOT_RELEASED = "not_released"
WOULD_RELEASE = "would_release"
ALREADY_RELEASED = "already_released"
NOT_FOUND = "not_found"
UNKNOWN = "unknown"
STATUSES = (RELEASED, PARTIALLY_RELEASED, NOT_RELEASED, WOULD_RELEASE, ALREADY_RELEASED, NOT_FOUND, UNKNOWN)
# Done as far as the user is concerned: nothing further to release for these ids.
COMPLETE_STATUSES = frozenset([RELEASED, ALREADY_RELEASED, WOULD_RELEASE])

BODY_OBJECT = "object"
BODY_ARRAY = "array"
BODY_FORMATS = ("auto", BODY_OBJECT, BODY_ARRAY)
MAX_BATCH_SIZE = 1000

# Whitespace, URL syntax, quotes, braces, backslashes and control characters cannot be part of a
# Cloudflare message id, and would corrupt the GET path of the pre-check.
_FORBIDDEN_IN_ID = re.compile(r"[\s/?#\"'{}\\\x00-\x1f\x7f]")
_MAX_REPORTED_PROBLEMS = 10


def unique_message_ids(message_ids):
    """Return (ids in first-seen order without repeats, the repeated ids); raise ValidationError for bad input."""
    if not isinstance(message_ids, (list, tuple)) or not message_ids:
        raise ValidationError("message_ids is empty: give at least one message id to release")
    problems = []
    for position, message_id in enumerate(message_ids, 1):
        if not isinstance(message_id, str):
            problems.append("item %d is a %s, not a string" % (position, type(message_id).__name__))
        elif not message_id:
            problems.append("item %d is an empty string" % position)
        elif _FORBIDDEN_IN_ID.search(message_id):
            problems.append("item %d (%r) contains whitespace, a quote, a brace or URL syntax (/ ? #), which no "
                            "message id holds" % (position, message_id[:80]))
    if problems:
        more = len(problems) - _MAX_REPORTED_PROBLEMS
        raise ValidationError("message_ids has %d invalid id(s): %s%s" % (
            len(problems), "; ".join(problems[:_MAX_REPORTED_PROBLEMS]), " and %d more" % more if more > 0 else ""))
    seen = set()
    unique, repeated = [], []
    for message_id in message_ids:
        if message_id in seen:
            repeated.append(message_id)
        else:
            seen.add(message_id)
            unique.append(message_id)
    return unique, repeated


def validate_release_options(batch_size, body_format):
    check_range("batch_size", batch_size, 1, MAX_BATCH_SIZE)
    if body_format not in BODY_FORMATS:
        raise ValidationError("body_format must be one of %s (got %r)" % (", ".join(BODY_FORMATS), body_format))


def release_body(body_format, message_ids):
    if body_format == BODY_ARRAY:
        return list(message_ids)
    return {"ids": list(message_ids)}


def _addresses(value):
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(address) for address in value]
    return [str(value)]


def result_entry(message_id, status, detail=None, delivered=None, failed=None, undelivered=None, postfix_id=None):
    entry = {"id": message_id, "status": status, "delivered": delivered or [], "failed": failed or [],
             "undelivered": undelivered or [], "detail": detail}
    if postfix_id:
        entry["postfix_id"] = postfix_id
    return entry


def entry_from_item(message_id, item):
    """One requested id's result, decided from the API's result item for it."""
    delivered, failed = _addresses(item.get("delivered")), _addresses(item.get("failed"))
    undelivered = _addresses(item.get("undelivered"))
    detail = None
    if delivered and not (failed or undelivered):
        status = RELEASED
    elif delivered:
        status = PARTIALLY_RELEASED
        detail = "delivered to %d recipient(s), not to %d" % (len(delivered), len(failed) + len(undelivered))
    else:
        status = NOT_RELEASED
        detail = ("delivered to no recipient" if failed or undelivered
                  else "the API reported no recipients for this message")
    return result_entry(message_id, status, detail, delivered, failed, undelivered, item.get("postfix_id"))


class ReleaseReport:
    """Everything one run decided: results in request order, what to surface, and why it stopped if it did."""

    def __init__(self, results, unexpected_items, before, fatal_error, check_mode):
        self.results = results
        self.unexpected_items = unexpected_items
        self.before = before
        self.fatal_error = fatal_error
        self.check_mode = check_mode

    @property
    def released_ids(self):
        return [entry["id"] for entry in self.results if entry["status"] == RELEASED]

    @property
    def incomplete_ids(self):
        return [entry["id"] for entry in self.results if entry["status"] not in COMPLETE_STATUSES]

    @property
    def changed(self):
        changing = (WOULD_RELEASE,) if self.check_mode else (RELEASED, PARTIALLY_RELEASED)
        return any(entry["status"] in changing for entry in self.results)

    def summary(self, requests_sent=0, retries=0, paused_seconds=0.0):
        summary = dict((status, 0) for status in STATUSES)
        delivered = failed = undelivered = 0
        for entry in self.results:
            summary[entry["status"]] += 1
            delivered += len(entry["delivered"])
            failed += len(entry["failed"])
            undelivered += len(entry["undelivered"])
        summary.update(total=len(self.results), incomplete=len(self.incomplete_ids),
                       recipients_delivered=delivered, recipients_failed=failed,
                       recipients_undelivered=undelivered, requests_sent=requests_sent,
                       retries=retries, rate_limit_paused_seconds=round(paused_seconds, 1))
        return summary

    def diff(self):
        """Quarantine state per message before and after, as Ansible's before/after text."""
        before_lines, after_lines = [], []
        for entry in self.results:
            before = self.before.get(entry["id"], "not read (only_quarantined=false)")
            after = _state_after(entry["status"], before)
            before_lines.append("%s: %s\n" % (entry["id"], before))
            after_lines.append("%s: %s\n" % (entry["id"], after))
        return {"before": "".join(before_lines), "after": "".join(after_lines),
                "before_header": "quarantine state before", "after_header": "quarantine state after"}


def _state_after(status, before):
    if status in (RELEASED, PARTIALLY_RELEASED, ALREADY_RELEASED, WOULD_RELEASE):
        return STATE_RELEASED
    if status == UNKNOWN:
        return UNKNOWN
    return before


class ReleaseEngine:
    """Releases a list of unique, valid message ids through a CloudflareClient."""

    def __init__(self, client, account_id, batch_size=100, concurrency=4, only_quarantined=True,
                 body_format="auto", check_mode=False, warn=None):
        self.client = client
        self.path = "/accounts/%s/email-security/investigate/release" % account_id
        self.account_id = account_id
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.only_quarantined = only_quarantined
        self.check_mode = check_mode
        self._warn_callback = warn
        self._lock = threading.Lock()
        self._body_format = BODY_OBJECT if body_format == "auto" else body_format
        self._body_format_confirmed = body_format != "auto"
        self._warned = set()
        self._results = {}
        self._before = {}
        self._unexpected = []
        self._fatal = None

    @property
    def body_format(self):
        return self._body_format

    def run(self, message_ids):
        self._results = dict((message_id, None) for message_id in message_ids)
        try:
            to_release = self._pre_check(message_ids) if self.only_quarantined else list(message_ids)
            if self.check_mode:
                for message_id in to_release:
                    self._record(result_entry(message_id, WOULD_RELEASE))
            else:
                batches = [to_release[i:i + self.batch_size] for i in range(0, len(to_release), self.batch_size)]
                run_in_order(self._release_batch, batches, self.concurrency)
        except CloudflareError as exc:
            self._stop(exc)
        for message_id, entry in self._results.items():
            if entry is None:
                self._results[message_id] = result_entry(message_id, NOT_RELEASED, "not sent: " + self._fatal.message)
        return ReleaseReport(list(self._results.values()), self._unexpected, self._before, self._fatal, self.check_mode)

    def _warn(self, text, once_key=None):
        with self._lock:
            if once_key is not None:
                if once_key in self._warned:
                    return
                self._warned.add(once_key)
        if self._warn_callback is not None:
            self._warn_callback(text)

    def _record(self, entry):
        self._results[entry["id"]] = entry

    def _stop(self, error):
        with self._lock:
            if self._fatal is None:
                self._fatal = error

    def _pre_check(self, message_ids):
        """Read every message; keep those still quarantined and settle the rest without a POST."""
        to_release = []
        states = read_messages(self.client, self.account_id, message_ids, self.concurrency)
        for message_id, state in zip(message_ids, states):
            self._before[message_id] = state.state
            if state.state == STATE_QUARANTINED:
                to_release.append(message_id)
            elif state.state == STATE_RELEASED:
                self._record(result_entry(message_id, ALREADY_RELEASED, "no longer quarantined; not sent again"))
            elif state.state == STATE_NOT_FOUND:
                self._record(result_entry(message_id, NOT_FOUND, state.error))
            else:
                self._record(result_entry(message_id, UNKNOWN, "not sent: its state could not be read before "
                                          "release: %s" % state.error))
        return to_release

    def _release_batch(self, batch):
        pending = batch
        lost_answers = 0
        while pending:
            if self._fatal is not None:
                return
            try:
                response = self._post(pending)
            except OutcomeUnknownError as exc:
                lost_answers += 1
                self._warn("%s. Re-reading its %d message(s) instead of resending it" % (exc.message, len(pending)))
                pending = self._verify_after_lost_answer(pending, exc)
                if pending and lost_answers > self.client.retries:
                    for message_id in pending:
                        self._record(result_entry(message_id, NOT_RELEASED, "still quarantined after %d release "
                                                  "attempts whose answers were lost: %s" % (lost_answers, exc.message)))
                    return
                continue
            except CloudflareError as exc:
                if exc.is_fatal:
                    self._stop(exc)
                for message_id in pending:
                    self._record(result_entry(message_id, NOT_RELEASED, exc.message))
                return
            self._record_answer(pending, response)
            return

    def _post(self, message_ids):
        body_format = self._body_format
        try:
            response = self.client.post(self.path, release_body(body_format, message_ids))
        except CloudflareError as exc:
            if (isinstance(exc, OutcomeUnknownError) or self._body_format_confirmed or exc.is_fatal
                    or exc.status not in (400, 422)):
                raise
            # A drifted server rejects the body's shape with 400/422 and processes nothing: the
            # other documented form is safe to send, and is kept for the rest of the run.
            other = BODY_ARRAY if body_format == BODY_OBJECT else BODY_OBJECT
            with self._lock:
                if self._body_format == body_format:
                    self._body_format = other
            self._warn("the server rejected the %s request body (HTTP %s%s); nothing was processed. Sending the %s "
                       "form for the rest of this run (set body_format: %s to skip the probe)"
                       % (body_format, exc.status, ": " + ", ".join(str(c) for c in exc.codes) if exc.codes else "",
                          other, other), once_key="body:" + other)
            try:
                response = self.client.post(self.path, release_body(other, message_ids))
            except OutcomeUnknownError:
                raise
            except CloudflareError as second:
                raise CloudflareError("the server rejected both request body forms: %s; then %s"
                                      % (exc.message, second.message), status=second.status, errors=second.errors,
                                      method=second.method, path=second.path)
        self._body_format_confirmed = True
        return response

    def _verify_after_lost_answer(self, message_ids, lost):
        """Settle what a lost answer may have done; return the ids that are certainly still quarantined."""
        try:
            states = read_messages(self.client, self.account_id, message_ids, 1)
        except CloudflareError as exc:
            self._stop(exc)
            for message_id in message_ids:
                self._record(result_entry(message_id, UNKNOWN, "the release answer was lost (%s) and the message "
                                          "could not be re-read: %s" % (lost.message, exc.message)))
            return []
        still_quarantined = []
        for message_id, state in zip(message_ids, states):
            if state.state == STATE_QUARANTINED:
                still_quarantined.append(message_id)
            elif state.state == STATE_RELEASED:
                self._record(result_entry(message_id, RELEASED, "the release answer was lost (%s); a re-read shows "
                                          "the message left quarantine, so it was not sent again; per-recipient "
                                          "outcome unknown" % lost.message))
            else:
                self._record(result_entry(message_id, UNKNOWN, "the release answer was lost (%s) and the message "
                                          "could not be re-read: %s" % (lost.message, state.error)))
        return still_quarantined

    def _record_answer(self, message_ids, response):
        for notice in response.notices:
            self._warn("Cloudflare: %s" % notice, once_key="notice:" + notice)
        items = response.result if isinstance(response.result, list) else []
        requested = set(message_ids)
        answered = set()
        for item in items:
            target = self._match_item(item, message_ids, requested) if isinstance(item, dict) else None
            if target is None or target in answered:
                with self._lock:
                    self._unexpected.append(item)
                continue
            answered.add(target)
            self._record(entry_from_item(target, item))
        if len(items) > len(answered):
            self._warn("the release answer held %d item(s) for ids that were not requested; see unexpected_items"
                       % (len(items) - len(answered)), once_key="unexpected")
        for message_id in message_ids:
            if message_id not in answered:
                self._record(result_entry(message_id, UNKNOWN, "the release answer had no item for this id; check it "
                                          "with mailsec.cloudflare.email_security_message_info before releasing again"))

    def _match_item(self, item, message_ids, requested):
        item_id = item.get("id")
        if item_id in requested:
            return item_id
        postfix_id = item.get("postfix_id")
        if item_id or not postfix_id:
            return None
        # Older servers key items by the short postfix_id, the first part of today's ids.
        candidates = [m for m in message_ids if m == postfix_id or m.startswith(postfix_id + "-")]
        if len(candidates) != 1:
            return None
        self._warn("the release answer identified messages by postfix_id only, which Cloudflare deprecated "
                   "(end of life 2026-11-01); they were matched to the requested ids by prefix",
                   once_key="postfix_id")
        return candidates[0]
