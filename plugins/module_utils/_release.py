# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The release engine, in plain Python: plan, pre-check, release in batches, settle, decide statuses.

The safety rule this file exists for: a release request that may have been processed is never
sent again while it could still be processed. Its messages are read back, repeatedly, until
they leave quarantine or ``settle_timeout`` has passed since the request was sent (the time
within which the API processes a request or never will). Only messages still quarantined after
that are sent again; a run that cannot wait that long ends them ``release_pending``, and the
journal it leaves lets the next run settle them first.

A status never claims more than is known: ``released`` needs the answer's recipient lists; a
message that left quarantine without them is ``released_unconfirmed``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import threading
import time

from ansible_collections.mailsec.cloudflare.plugins.module_utils._client import CloudflareError, OutcomeUnknownError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._concurrency import in_batches, run_in_order
from ansible_collections.mailsec.cloudflare.plugins.module_utils._journal import (
    AccountLock,
    Lifeline,
    LockTimeoutError,
    ReleaseJournal,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._messages import (
    STATE_NOT_FOUND,
    STATE_NOT_QUARANTINED,
    STATE_QUARANTINED,
    STATE_RELEASED,
    read_messages,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._options import ValidationError, check_range

RELEASED = "released"
PARTIALLY_RELEASED = "partially_released"
RELEASED_UNCONFIRMED = "released_unconfirmed"
RELEASE_PENDING = "release_pending"
NOT_RELEASED = "not_released"
WOULD_RELEASE = "would_release"
ALREADY_RELEASED = "already_released"
NOT_QUARANTINED = "not_quarantined"
NOT_FOUND = "not_found"
UNKNOWN = "unknown"
STATUSES = (
    RELEASED,
    PARTIALLY_RELEASED,
    RELEASED_UNCONFIRMED,
    RELEASE_PENDING,
    NOT_RELEASED,
    WOULD_RELEASE,
    ALREADY_RELEASED,
    NOT_QUARANTINED,
    NOT_FOUND,
    UNKNOWN,
)
# Done as far as the user is concerned: nothing further to release or confirm for these ids.
COMPLETE_STATUSES = frozenset([RELEASED, ALREADY_RELEASED, NOT_QUARANTINED, WOULD_RELEASE])
# Read back after a release request: out of quarantine, whether or not a release is on record yet.
_LEFT_QUARANTINE = (STATE_RELEASED, STATE_NOT_QUARANTINED)
# This run sent a release that did, or may have, moved these messages.
CHANGED_STATUSES = frozenset([RELEASED, PARTIALLY_RELEASED, RELEASED_UNCONFIRMED, RELEASE_PENDING])

BODY_OBJECT = "object"
BODY_ARRAY = "array"
BODY_FORMATS = ("auto", BODY_OBJECT, BODY_ARRAY)
MAX_BATCH_SIZE = 1000
DEFAULT_SETTLE_TIMEOUT = 120.0
# Reads while settling: the first at once, then after 1, 2, 4... seconds, never more than this apart.
_SETTLE_FIRST_INTERVAL = 1.0
_SETTLE_MAX_INTERVAL = 10.0
# How late a request may leave after its journal entry was written before the entry's time is moved.
_JOURNAL_TIME_PRECISION = 1.0
# An error that names the request body as the problem: the only 4XX that justifies the other body form.
_BODY_SHAPE_ERROR = re.compile(r"(?i)\b(body|json|array|payload|schema)\b")
_RECIPIENT_LISTS = ("delivered", "failed", "undelivered")


def validate_release_options(batch_size, body_format, settle_timeout=DEFAULT_SETTLE_TIMEOUT):
    check_range("batch_size", batch_size, 1, MAX_BATCH_SIZE)
    check_range("settle_timeout", settle_timeout, 1, 3600)
    if body_format not in BODY_FORMATS:
        raise ValidationError("body_format must be one of %s (got %r)" % (", ".join(BODY_FORMATS), body_format))


def release_body(body_format, message_ids):
    if body_format == BODY_ARRAY:
        return list(message_ids)
    return {"ids": list(message_ids)}


def result_entry(message_id, status, detail=None, delivered=None, failed=None, undelivered=None, postfix_id=None):
    entry = {
        "id": message_id,
        "status": status,
        "delivered": delivered or [],
        "failed": failed or [],
        "undelivered": undelivered or [],
        "detail": detail,
    }
    if postfix_id:
        entry["postfix_id"] = postfix_id
    return entry


def _addresses(value):
    """A recipient list as strings; None when the value is not a list the contract allows."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(address, str) for address in value):
        return list(value)
    return None


def recipient_lists(item):
    """(delivered, failed, undelivered) of a result item, or None when it carries no usable recipient evidence.

    All three lists absent, null or empty say nothing about where the message went: no evidence.
    """
    lists = tuple(_addresses(item.get(name)) for name in _RECIPIENT_LISTS)
    if any(found is None for found in lists) or not any(lists):
        return None
    return lists


def entry_from_item(message_id, item, lists):
    """One requested id's result, decided from the recipient lists of the API's item for it."""
    delivered, failed, undelivered = lists
    detail = None
    if delivered and not (failed or undelivered):
        status = RELEASED
    elif delivered:
        status = PARTIALLY_RELEASED
        detail = "delivered to %d recipient(s), not to %d" % (len(delivered), len(failed) + len(undelivered))
    else:
        status = NOT_RELEASED
        detail = "delivered to no recipient"
    postfix_id = item.get("postfix_id")
    return result_entry(
        message_id, status, detail, delivered, failed, undelivered, postfix_id if isinstance(postfix_id, str) else None
    )


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
        changing = (WOULD_RELEASE,) if self.check_mode else CHANGED_STATUSES
        return any(entry["status"] in changing for entry in self.results)

    def summary(self, requests_sent=0, retries=0, paused_seconds=0.0, pauses=0):
        summary = dict.fromkeys(STATUSES, 0)
        delivered = failed = undelivered = 0
        for entry in self.results:
            summary[entry["status"]] += 1
            delivered += len(entry["delivered"])
            failed += len(entry["failed"])
            undelivered += len(entry["undelivered"])
        summary.update(
            total=len(self.results),
            incomplete=len(self.incomplete_ids),
            recipients_delivered=delivered,
            recipients_failed=failed,
            recipients_undelivered=undelivered,
            requests_sent=requests_sent,
            retries=retries,
            rate_limit_pauses=pauses,
            rate_limit_paused_seconds=round(paused_seconds, 1),
        )
        return summary

    def result(self, client, body_format, with_diff=False):
        """What the module returns: results, summary, the id lists, and in diff mode the diff."""
        pacer = client.pacer
        result = dict(
            changed=self.changed,
            results=self.results,
            summary=self.summary(client.requests_sent, client.retries_done, pacer.paused_seconds, pacer.pauses),
            released_ids=self.released_ids,
            incomplete_ids=self.incomplete_ids,
            unexpected_items=self.unexpected_items,
            body_format=body_format,
        )
        if with_diff:
            result["diff"] = self.diff()
        if self.fatal_error is not None:
            result["error"] = self.fatal_error.as_dict()
        return result

    def failure(self, fail_on_incomplete):
        """Why the task fails, or None: an error that stopped it, or (when asked) ids not fully released."""
        incomplete, total = len(self.incomplete_ids), len(self.results)
        if self.fatal_error is not None and not total:
            return self.fatal_error.message
        if self.fatal_error is not None:
            return "%s. %d of %d message(s) were not fully released; see results and incomplete_ids" % (
                self.fatal_error.message,
                incomplete,
                total,
            )
        if not (incomplete and fail_on_incomplete):
            return None
        counts = {}
        for entry in self.results:
            if entry["status"] not in COMPLETE_STATUSES:
                counts[entry["status"]] = counts.get(entry["status"], 0) + 1
        described = ", ".join("%d %s" % (counts[status], status) for status in STATUSES if status in counts)
        return (
            "%d of %d message(s) were not fully released (%s); see incomplete_ids and each result's detail, or "
            "set fail_on_incomplete: false" % (incomplete, total, described)
        )

    def diff(self):
        """Quarantine state per message before and after, as Ansible's before/after text."""
        before_lines, after_lines = [], []
        for entry in self.results:
            before = self.before.get(entry["id"], "not read (only_quarantined=false)")
            after = _state_after(entry["status"], before)
            before_lines.append("%s: %s\n" % (entry["id"], before))
            after_lines.append("%s: %s\n" % (entry["id"], after))
        return {
            "before": "".join(before_lines),
            "after": "".join(after_lines),
            "before_header": "quarantine state before",
            "after_header": "quarantine state after",
        }


def _state_after(status, before):
    if status in (RELEASED, PARTIALLY_RELEASED, RELEASED_UNCONFIRMED, ALREADY_RELEASED, WOULD_RELEASE):
        return STATE_RELEASED
    if status in (UNKNOWN, RELEASE_PENDING):
        return UNKNOWN
    return before


def release_engine(client, settings, params, check_mode, warn, reader=None):
    """The engine a module run uses: its options, and the journal, lock and lifeline on this machine."""
    account_id, state_dir = settings["account_id"], settings["state_dir"]
    return ReleaseEngine(
        client,
        account_id,
        batch_size=params["batch_size"],
        concurrency=settings["concurrency"],
        only_quarantined=params["only_quarantined"],
        body_format=params["body_format"],
        check_mode=check_mode,
        warn=warn,
        settle_timeout=params["settle_timeout"],
        journal=ReleaseJournal(state_dir, account_id),
        lock=AccountLock(state_dir, account_id),
        lifeline=Lifeline(),
        reader=reader,
    )


class _Settled:
    """What reading back messages after an unsure outcome established."""

    def __init__(self):
        self.entries = []  # ids whose outcome is now known (or known to be unknowable)
        self.quarantined = []  # ids still quarantined when the settle window closed: safe to send again
        self.pending = []  # ids still quarantined when the wait had to stop before the window closed


class Departure:
    """One write request: its journal entry, and the moment it last left.

    The settle window runs from the moment the request is written, not from before a wait for the
    budget or a 429's Retry-After; the journal keeps the same moment for the next run.
    """

    def __init__(self, clock, journal, message_ids, settle_timeout):
        self._clock = clock
        self._journal = journal
        self.key = journal.record(message_ids, settle_timeout) if journal is not None else None
        self.sent_at = clock()

    def leaving(self):
        now = self._clock()
        # Recorded just before: only a request that left noticeably later (after a budget wait or a 429's
        # Retry-After) needs its journal time moved, and paying an fsync per request for less would slow releases.
        if self.key is not None and now - self.sent_at >= _JOURNAL_TIME_PRECISION:
            self._journal.touch(self.key)
        self.sent_at = now


class ReleaseEngine:
    """Releases a list of unique, valid message ids through a CloudflareClient."""

    def __init__(
        self,
        client,
        account_id,
        batch_size=100,
        concurrency=4,
        only_quarantined=True,
        body_format="auto",
        check_mode=False,
        warn=None,
        settle_timeout=DEFAULT_SETTLE_TIMEOUT,
        journal=None,
        lock=None,
        lifeline=None,
        reader=None,
        clock=None,
        wall_clock=None,
        sleep=None,
    ):
        self.client = client
        self.path = "/accounts/%s/email-security/investigate/release" % account_id
        self.account_id = account_id
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.only_quarantined = only_quarantined
        self.check_mode = check_mode
        self.settle_timeout = settle_timeout
        self._journal = journal
        self._lock_file = lock
        self._lifeline = lifeline
        self._reader = reader or (lambda message_ids: read_messages(client, account_id, message_ids, 1))
        self._clock = clock or time.monotonic
        self._wall_clock = wall_clock or time.time
        self._sleep = sleep or time.sleep
        self._warn_callback = warn
        self._lock = threading.Lock()
        self._body_format = BODY_OBJECT if body_format == "auto" else body_format
        self._body_format_confirmed = body_format != "auto"
        self._warned = set()
        self._before = {}
        self._unexpected = []
        self._fatal = None

    @property
    def body_format(self):
        return self._body_format

    # The run, step by step; each step returns the entries it decided -------------------------------------

    def run(self, message_ids=(), find=None):
        """Release message_ids, or what ``find()`` returns: (ids, {id: MessageState} standing in for the pre-check).

        ``find`` runs once the account lock is held, so no other run on this machine is mid-release meanwhile.
        """
        entries, message_ids = {}, list(message_ids)
        try:
            self._take_account_lock()
            try:
                known = None
                if find is not None:
                    message_ids, known = find()
                self._run_steps(message_ids, known, entries)
            finally:
                if self._lock_file is not None:
                    self._lock_file.release()
        except CloudflareError as exc:
            self._stop(exc)
        results = [entries.get(i) or self._unsent_entry(i) for i in message_ids]
        return ReleaseReport(results, self._unexpected, self._before, self._fatal, self.check_mode)

    def _run_steps(self, message_ids, known, entries):
        remaining = list(message_ids)
        # Check mode neither waits for nor edits what a live run may still be settling.
        if self._journal is not None and not self.check_mode:
            settled, remaining = self._settle_journal(remaining)
            entries.update((e["id"], e) for e in settled)
        if self.only_quarantined or known is not None:
            checked, remaining = self._pre_check(remaining, known)
            entries.update((e["id"], e) for e in checked)
        if self.check_mode:
            entries.update((i, result_entry(i, WOULD_RELEASE)) for i in remaining)
            return
        batches = in_batches(remaining, self.batch_size)
        for batch_entries in run_in_order(self._release_batch, batches, self.concurrency):
            entries.update((e["id"], e) for e in batch_entries)

    def _unsent_entry(self, message_id):
        if self._fatal is None:
            return result_entry(
                message_id, UNKNOWN, "no outcome was recorded for this id; check it before releasing again"
            )
        return result_entry(message_id, NOT_RELEASED, "not sent: " + self._fatal.message)

    def _take_account_lock(self):
        if self._lock_file is None or self.check_mode:
            return
        try:
            left = self.client.time_left()
            self._lock_file.acquire(
                float("inf") if left is None else max(0.0, left), on_wait=self._warn, sleep=self._sleep
            )
        except LockTimeoutError as exc:
            self._lock_file = None
            raise CloudflareError(
                "%s, longer than task_timeout allows; nothing was sent. Run again once it has finished" % exc,
                stops_task=True,
            ) from exc

    def _settle_journal(self, message_ids):
        """Settle what earlier runs on this machine sent for these ids without learning the outcome."""
        requested = set(message_ids)
        entries = []
        for key, unsettled in self._journal.unsettled().items():
            ids = [i for i in unsettled["ids"] if i in requested]
            if not ids:
                continue
            requested.difference_update(ids)
            settle_timeout = max(float(unsettled.get("settle_timeout") or 0), self.settle_timeout)
            sent_ago = self._wall_clock() - float(unsettled.get("sent_at") or 0)
            window_end = self._clock() - sent_ago + settle_timeout
            cause = (
                "an earlier run on this machine (pid %s) sent a release for it %.0f s ago and did not learn the "
                "outcome" % (unsettled.get("pid", "unknown"), sent_ago)
            )
            self._warn(
                "%d message(s) of this task were in flight when an earlier run stopped; reading them back "
                "before anything is sent" % len(ids)
            )
            settled = self._settle(ids, window_end, ALREADY_RELEASED, cause)
            entries.extend(settled.entries)
            entries.extend(self._pending_entries(settled.pending, cause))
            self._journal.settle(key, [i for i in ids if i not in settled.pending])
        decided = {entry["id"] for entry in entries}
        return entries, [i for i in message_ids if i not in decided]

    def _pre_check(self, message_ids, known=None):
        """Read every message (or take its state from ``known``); return entries for those settled without a
        POST, and those still quarantined."""
        entries, to_release = [], []
        if known is not None:
            states = [known[i] for i in message_ids]
        else:
            states = read_messages(self.client, self.account_id, message_ids, self.concurrency)
        for message_id, state in zip(message_ids, states):
            self._before[message_id] = state.state
            if state.state == STATE_QUARANTINED:
                to_release.append(message_id)
            elif state.state == STATE_RELEASED:
                entries.append(result_entry(message_id, ALREADY_RELEASED, "no longer quarantined; not sent again"))
            elif state.state == STATE_NOT_QUARANTINED:
                entries.append(
                    result_entry(
                        message_id,
                        NOT_QUARANTINED,
                        "not quarantined, and no release is on "
                        "record: delivered or moved without quarantine; nothing to release",
                    )
                )
            elif state.state == STATE_NOT_FOUND:
                entries.append(result_entry(message_id, NOT_FOUND, state.error))
            else:
                entries.append(
                    result_entry(
                        message_id, UNKNOWN, "not sent: its state could not be read before release: %s" % state.error
                    )
                )
        return entries, to_release

    def _release_batch(self, batch):
        try:
            return self._release_until_settled(batch)
        except Exception as exc:  # pylint: disable=broad-except
            # Once a request may have been sent, no fault of ours may hide what became of it: the
            # batch ends unknown (never released) and the task stops before sending anything else.
            self._stop(
                CloudflareError(
                    "unexpected error while handling a release answer (%s: %s); the "
                    "messages of that request may or may not have been released" % (type(exc).__name__, exc),
                    stops_task=True,
                )
            )
            return [result_entry(i, UNKNOWN, "outcome unknown: %s" % self._fatal.message) for i in batch]

    def _release_until_settled(self, batch):
        entries, pending, attempts = [], list(batch), 0
        while pending:
            if self._lifeline is not None and self._lifeline.gone():
                self._stop(
                    CloudflareError(
                        "the Ansible process that started this task is gone; no further release request is sent",
                        stops_task=True,
                    )
                )
            if self._fatal is not None:
                entries.extend(self._unsent_entry(i) for i in pending)
                return entries
            attempts += 1
            departure = Departure(self._clock, self._journal, pending, self.settle_timeout)
            body_format = self._body_format
            try:
                response = self.client.post(self.path, release_body(body_format, pending), on_send=departure.leaving)
            except OutcomeUnknownError as exc:
                decided, pending = self._after_unsure_outcome(
                    pending, exc, departure.sent_at, departure.key, attempts, body_format
                )
                entries.extend(decided)
                continue
            except CloudflareError as exc:
                self._settle_journal_entry(departure.key)
                if exc.is_fatal:
                    self._stop(exc)
                entries.extend(result_entry(i, NOT_RELEASED, exc.message) for i in pending)
                return entries
            self._body_format_confirmed = True
            decided, dummy = self._decide_from_answer(
                pending, response.result, response.notices, "the release answer (HTTP %s)" % response.status
            )
            entries.extend(decided)
            self._settle_journal_entry(departure.key)
            return entries
        return entries

    def _settle_journal_entry(self, key, message_ids=None):
        if key is not None:
            self._journal.settle(key, message_ids)

    def _after_unsure_outcome(self, message_ids, error, sent_at, key, attempts, body_format):
        """Decide what a request that may have been processed did; return (entries, ids to send again)."""
        if error.answered:
            # The server answered, so it is done with the request; whatever result it carried is evidence.
            self._warn("%s. Reading its %d message(s) back instead of resending it" % (error.message, len(message_ids)))
            entries, resend = self._decide_from_answer(
                message_ids,
                error.result,
                [],
                "the failed answer (%s)" % error.message,
                still_quarantined=self._still_quarantined_after_error(error, body_format),
            )
            self._settle_journal_entry(key)
            return entries, resend
        self._warn(
            "%s. Reading its %d message(s) back until they leave quarantine or settle_timeout (%.0f s) has "
            "passed since it was sent; it is not resent before then"
            % (error.message, len(message_ids), self.settle_timeout)
        )
        cause = "the release answer was lost (%s)" % error.message
        settled = self._settle(message_ids, sent_at + self.settle_timeout, RELEASED_UNCONFIRMED, cause)
        entries = settled.entries + self._pending_entries(settled.pending, cause)
        self._settle_journal_entry(key, [i for i in message_ids if i not in settled.pending])
        if settled.quarantined and attempts > self.client.retries:
            entries.extend(
                result_entry(
                    i,
                    NOT_RELEASED,
                    "still quarantined %.0f s after each of %d release requests "
                    "whose answers were lost, so none of them was processed: %s"
                    % (self.settle_timeout, attempts, error.message),
                )
                for i in settled.quarantined
            )
            return entries, []
        return entries, settled.quarantined

    def _still_quarantined_after_error(self, error, body_format):
        """What becomes of a message the failed answer left in quarantine: None to resend it, else its entry."""
        if self._body_shape_rejected(error, body_format):
            return None
        return lambda message_id: result_entry(
            message_id, NOT_RELEASED, "still quarantined after the server refused the request: %s" % error.message
        )

    def _body_shape_rejected(self, error, rejected):
        """True when the server refused the body's shape and the other documented form may be tried."""
        if error.status not in (400, 422) or not any(
            _BODY_SHAPE_ERROR.search(str(e.get("message", ""))) for e in error.errors if isinstance(e, dict)
        ):
            return False
        other = BODY_ARRAY if rejected == BODY_OBJECT else BODY_OBJECT
        with self._lock:
            if self._body_format != rejected:
                return True  # another batch has switched already: send in the form it found
            if self._body_format_confirmed:
                return False  # this form worked before, or both forms have now been refused
            self._body_format = other
            self._body_format_confirmed = True
        self._warn(
            "the server rejected the %s request body (HTTP %s%s). Its messages were read back first; those "
            "still quarantined are sent in the %s form, kept for the rest of this run (set body_format: %s "
            "to skip the probe)"
            % (
                rejected,
                error.status,
                ": " + ", ".join(str(c) for c in error.codes) if error.codes else "",
                other,
                other,
            ),
            once_key="body:" + other,
        )
        return True

    def _decide_from_answer(self, message_ids, result, notices, source, still_quarantined=False):
        """(entries, ids to send again) from an answer's items; ids without recipient evidence are read back once.

        ``still_quarantined``: for ids read back as still quarantined, False to end them ``unknown``,
        None to mark them for sending again, or a function making their entry.
        """
        for notice in notices:
            self._warn("Cloudflare: %s" % notice, once_key="notice:" + notice)
        items, unexpected, conflicting = self._match_items(message_ids, result)
        if unexpected:
            with self._lock:
                self._unexpected.extend(unexpected)
            self._warn(
                "%s held %d item(s) that match no requested id, are malformed, or contradict another item; "
                "see unexpected_items" % (source, len(unexpected)),
                once_key="unexpected",
            )
        entries, unsure = [], []
        for message_id in message_ids:
            if message_id in conflicting:
                entries.append(
                    result_entry(
                        message_id,
                        UNKNOWN,
                        "%s held conflicting items for this id (see "
                        "unexpected_items); check it before releasing again" % source,
                    )
                )
            elif message_id in items:
                entries.append(entry_from_item(message_id, items[message_id], recipient_lists(items[message_id])))
            else:
                unsure.append(message_id)
        resend = []
        if unsure:
            read_back, resend = self._read_back_once(unsure, source, still_quarantined)
            entries.extend(read_back)
        return entries, resend

    def _read_back_once(self, message_ids, source, still_quarantined):
        cause = "%s gave no recipient lists for it" % source
        states = self._read(message_ids)
        entries, resend = [], []
        for message_id, state in zip(message_ids, states):
            if state is None:
                continue
            if state.state in _LEFT_QUARANTINE:
                entries.append(
                    result_entry(
                        message_id,
                        RELEASED_UNCONFIRMED,
                        "%s; a read shows it left quarantine. Recipients not confirmed" % cause,
                    )
                )
            elif state.state == STATE_QUARANTINED and still_quarantined is None:
                resend.append(message_id)
            elif state.state == STATE_QUARANTINED and still_quarantined:
                entries.append(still_quarantined(message_id))
            else:
                entries.append(
                    result_entry(
                        message_id,
                        UNKNOWN,
                        "%s, and %s; check it before releasing again"
                        % (
                            cause,
                            "it is still quarantined"
                            if state.state == STATE_QUARANTINED
                            else "it could not be read: %s" % state.error,
                        ),
                    )
                )
        entries.extend(
            result_entry(i, UNKNOWN, "%s, and it could not be read: %s" % (cause, self._fatal.message))
            for i, state in zip(message_ids, states)
            if state is None
        )
        return entries, resend

    def _read(self, message_ids):
        """MessageStates in order, or Nones when a read error stops the task."""
        try:
            return self._reader(message_ids)
        except CloudflareError as exc:
            self._stop(exc)
            return [None] * len(message_ids)

    def _settle(self, message_ids, window_end, left_status, cause):  # radon: 13
        # The settle rule in one loop: every way out of it (left, unreadable, window closed, no time) stays visible.
        """Read messages back until each has left quarantine or the settle window has closed."""
        settled = _Settled()
        waiting = list(message_ids)
        interval = _SETTLE_FIRST_INTERVAL
        while waiting:
            # Only a read that leaves after the window has closed proves a release will not land: one sent earlier
            # may have been answered late, from a state taken before a slow release was processed.
            read_sent = self._clock()
            states = self._read(waiting)
            still = []
            for message_id, state in zip(waiting, states):
                if state is None:
                    settled.entries.append(
                        result_entry(
                            message_id,
                            UNKNOWN,
                            "%s and the message could not be read back: %s" % (cause, self._fatal.message),
                        )
                    )
                elif state.state == STATE_QUARANTINED:
                    still.append(message_id)
                elif state.state in _LEFT_QUARANTINE:
                    settled.entries.append(
                        result_entry(
                            message_id,
                            left_status,
                            "%s; a read shows it left quarantine, "
                            "so it was not sent again. Recipients not confirmed" % cause,
                        )
                    )
                else:
                    settled.entries.append(
                        result_entry(
                            message_id, UNKNOWN, "%s and the message could not be read back: %s" % (cause, state.error)
                        )
                    )
            waiting = still
            now = self._clock()
            if not waiting or read_sent >= window_end:
                settled.quarantined = waiting
                return settled
            wait = max(0.0, min(interval, window_end - now))
            left = self.client.time_left()
            if (
                (left is not None and wait >= left)
                or self._fatal is not None
                or (self._lifeline is not None and self._lifeline.gone())
            ):
                settled.pending = waiting
                return settled
            self._sleep(wait)
            interval = min(interval * 2, _SETTLE_MAX_INTERVAL)
        return settled

    def _pending_entries(self, message_ids, cause):
        return [
            result_entry(
                i,
                RELEASE_PENDING,
                "%s and the message was still quarantined at the last read, before "
                "settle_timeout (%.0f s) had passed: it may still be released by that request. Run the "
                "task again on this machine; it settles this first" % (cause, self.settle_timeout),
            )
            for i in message_ids
        ]

    def _match_items(self, message_ids, result):
        """({requested id: its item}, unexpected items, ids with conflicting items) from a release result."""
        items = result if isinstance(result, list) else []
        requested = set(message_ids)
        matched, unexpected, conflicting = {}, [], set()
        for item in items:
            target = self._item_target(item, message_ids, requested) if isinstance(item, dict) else None
            if target is None:
                unexpected.append(item)
                continue
            if any(_addresses(item.get(name)) is None for name in _RECIPIENT_LISTS):
                # Recipient lists of a shape the contract does not allow: evidence of nothing.
                unexpected.append(item)
                continue
            if target in matched and matched[target] != item:
                conflicting.add(target)
                unexpected.append(item)
                continue
            matched[target] = item
        for target in conflicting:
            unexpected.append(matched.pop(target))
        matched = {target: item for target, item in matched.items() if recipient_lists(item) is not None}
        return matched, unexpected, conflicting

    def _item_target(self, item, message_ids, requested):
        item_id = item.get("id")
        if isinstance(item_id, str) and item_id in requested:
            return item_id
        postfix_id = item.get("postfix_id")
        if item_id is not None or not isinstance(postfix_id, str) or not postfix_id:
            return None
        # Older servers key items by the short postfix_id, the first part of today's ids.
        candidates = [m for m in message_ids if m == postfix_id or m.startswith(postfix_id + "-")]
        if len(candidates) != 1:
            return None
        self._warn(
            "the release answer identified messages by postfix_id only, which Cloudflare deprecated "
            "(end of life 2026-11-01); they were matched to the requested ids by prefix",
            once_key="postfix_id",
        )
        return candidates[0]

    def _warn(self, text, once_key=None):
        with self._lock:
            if once_key is not None:
                if once_key in self._warned:
                    return
                self._warned.add(once_key)
        if self._warn_callback is not None:
            self._warn_callback(text)

    def _stop(self, error):
        with self._lock:
            if self._fatal is None:
                self._fatal = error
