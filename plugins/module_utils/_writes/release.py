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

import functools
import re
import threading

from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import CloudflareError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.concurrency import in_batches, run_in_order
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.id_windows import read_states
from ansible_collections.mailsec.cloudflare.plugins.module_utils._state.local import Lifeline
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.messages import (
    STATE_NOT_FOUND,
    STATE_NOT_QUARANTINED,
    STATE_QUARANTINED,
    STATE_RELEASED,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import ValidationError, check_range
from ansible_collections.mailsec.cloudflare.plugins.module_utils._write.engine import (
    DEFAULT_SETTLE_TIMEOUT,
    DONE,
    NOT_DONE,
    UNREADABLE,
    Seen,
    WriteEngine,
    WritePolicy,
    incomplete_counts,
)

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
        described = incomplete_counts(self.results, STATUSES, COMPLETE_STATUSES)
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


def release_engine(client, state, settings, params, check_mode, warn, reader=None):
    """The engine a module run uses: its options, the journal and lock of its state store, and its lifeline."""
    account_id = settings["account_id"]
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
        journal=state.journal(account_id),
        lock=state.lock(account_id),
        lifeline=Lifeline(),
        reader=reader,
    )


class ReleaseEngine(WritePolicy):
    """Releases a list of unique, valid message ids through a CloudflareClient: the release policy of the write
    engine, with the pre-check, the batches and the body form of the release."""

    operation = "release"
    noun = "release"

    def __init__(
        self,
        client,
        account_id,
        batch_size=MAX_BATCH_SIZE,
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
        self.engine = WriteEngine(
            client, journal, lock, lifeline, settle_timeout, check_mode, warn, clock, wall_clock, sleep
        )
        self._reader = reader or (lambda message_ids: read_states(client, account_id, message_ids, 1))
        self._lock = threading.Lock()
        self._sent_form = threading.local()
        self._body_format = BODY_OBJECT if body_format == "auto" else body_format
        self._body_format_confirmed = body_format != "auto"
        self._before = {}
        self._unexpected = []
        # How many ids took their state from known_messages instead of a read (a search's pages are not counted).
        self._known_given = False
        self.known_taken = 0

    @property
    def body_format(self):
        return self._body_format

    # The run, step by step; each step returns the entries it decided -------------------------------------

    def run(self, message_ids=(), find=None, known=None):
        """Release message_ids, or what ``find()`` returns: (ids, {id: MessageState} standing in for the pre-check).

        ``find`` runs once the account lock is held, so no other run on this machine is mid-release meanwhile;
        so is ``known`` (KnownStates) judged fresh or not, and what it does not hold is read.
        """
        entries, message_ids = {}, list(message_ids)
        try:
            with self.engine.exclusive("nothing was sent. Run again once it has finished"):
                if find is not None:
                    message_ids, known = find()
                elif known is not None:
                    known = known.fresh(message_ids)
                    self._known_given = True
                self._run_steps(message_ids, known, entries)
        except CloudflareError as exc:
            self.engine.stop(exc)
        results = [entries.get(i) or self._unsent_entry(i) for i in message_ids]
        return ReleaseReport(results, self._unexpected, self._before, self.engine.fatal, self.check_mode)

    def _run_steps(self, message_ids, known, entries):
        settled, remaining = self.engine.settle_earlier(self, message_ids)
        entries.update(settled)
        if self.only_quarantined or known is not None:
            checked, remaining = self._pre_check(remaining, known)
            entries.update((e["id"], e) for e in checked)
        if self.check_mode:
            entries.update((i, result_entry(i, WOULD_RELEASE)) for i in remaining)
            return
        batches = in_batches(remaining, self.batch_size)
        for batch_entries in run_in_order(
            functools.partial(self.engine.write_guarded, self), batches, self.concurrency
        ):
            entries.update(batch_entries)

    def _unsent_entry(self, message_id):
        if self.engine.fatal is None:
            return result_entry(
                message_id, UNKNOWN, "no outcome was recorded for this id; check it before releasing again"
            )
        return self.unsent(message_id, self.engine.fatal.why_unsent)

    def _pre_check(self, message_ids, known=None):
        """Read every message (or take its state from ``known``); return entries for those settled without a
        POST, and those still quarantined."""
        entries, to_release = [], []
        known = known or {}
        unknown = [i for i in message_ids if i not in known]
        if self._known_given:
            self.known_taken = len(message_ids) - len(unknown)
        read = dict(zip(unknown, read_states(self.client, self.account_id, unknown, self.concurrency)))
        for message_id in message_ids:
            state = known.get(message_id) or read[message_id]
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

    # The release policy: what the write engine asks of a release ---------------------------------------

    def send(self, keys, on_send):
        self._sent_form.value = self._body_format
        return self.client.post(self.path, release_body(self._sent_form.value, keys), on_send=on_send)

    def answered(self, keys, response):
        self._body_format_confirmed = True
        return self._decide_from_answer(
            keys, response.result, response.notices, "the release answer (HTTP %s)" % response.status
        )

    def refused(self, keys, error):
        return {i: result_entry(i, NOT_RELEASED, error.message) for i in keys}

    def failed(self, keys, error):
        # The server answered, so it is done with the request; whatever result it carried is evidence.
        self.engine.warn("%s. Reading its %d message(s) back instead of resending it" % (error.message, len(keys)))
        return self._decide_from_answer(
            keys,
            error.result,
            [],
            "the failed answer (%s)" % error.message,
            still_quarantined=self._still_quarantined_after_error(error, self._sent_form.value),
        )

    def observe(self, keys):
        seen = []
        for state in self._read(keys):
            if state is None:
                seen.append(Seen(UNREADABLE, error=self.engine.fatal.message))
            elif state.state == STATE_QUARANTINED:
                seen.append(Seen(NOT_DONE))
            elif state.state in _LEFT_QUARANTINE:
                seen.append(Seen(DONE, state))
            else:
                seen.append(Seen(UNREADABLE, error=state.error))
        return seen

    def done(self, key, seen, cause, earlier):
        return result_entry(
            key,
            ALREADY_RELEASED if earlier else RELEASED_UNCONFIRMED,
            "%s; a read shows it left quarantine, so it was not sent again. Recipients not confirmed" % cause,
        )

    def unreadable(self, key, why, cause):
        return result_entry(key, UNKNOWN, "%s and the message could not be read back: %s" % (cause, why))

    def pending(self, keys, cause):
        return {
            i: result_entry(
                i,
                RELEASE_PENDING,
                "%s and the message was still quarantined at the last read, before "
                "settle_timeout (%.0f s) had passed: it may still be released by that request. Run the "
                "task again on this machine; it settles this first" % (cause, self.settle_timeout),
            )
            for i in keys
        }

    def gave_up(self, keys, error, attempts):
        return {
            i: result_entry(
                i,
                NOT_RELEASED,
                "still quarantined %.0f s after each of %d release requests "
                "whose answers were lost, so none of them was processed: %s"
                % (self.settle_timeout, attempts, error.message),
            )
            for i in keys
        }

    def unsent(self, key, why):
        return result_entry(key, NOT_RELEASED, "not sent: " + why)

    def unknown(self, key, why):
        return result_entry(key, UNKNOWN, why)

    def settling_warning(self, keys, error):
        return (
            "%s. Reading its %d message(s) back until they leave quarantine or settle_timeout (%.0f s) has "
            "passed since it was sent; it is not resent before then" % (error.message, len(keys), self.settle_timeout)
        )

    def earlier_warning(self, keys, cause):
        return (
            "%d message(s) of this task were in flight when an earlier run stopped; reading them back "
            "before anything is sent" % len(keys)
        )

    # Reading an answer -----------------------------------------------------------------------------------

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
        self.engine.warn(
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
        """({id: entry}, ids to send again) from an answer's items; ids without recipient evidence are read back
        once.

        ``still_quarantined``: for ids read back as still quarantined, False to end them ``unknown``,
        None to mark them for sending again, or a function making their entry.
        """
        for notice in notices:
            self.engine.warn("Cloudflare: %s" % notice, once_key="notice:" + notice)
        items, unexpected, conflicting = self._match_items(message_ids, result)
        if unexpected:
            with self._lock:
                self._unexpected.extend(unexpected)
            self.engine.warn(
                "%s held %d item(s) that match no requested id, are malformed, or contradict another item; "
                "see unexpected_items" % (source, len(unexpected)),
                once_key="unexpected",
            )
        entries, unsure = {}, []
        for message_id in message_ids:
            if message_id in conflicting:
                entries[message_id] = result_entry(
                    message_id,
                    UNKNOWN,
                    "%s held conflicting items for this id (see unexpected_items); check it before releasing again"
                    % source,
                )
            elif message_id in items:
                entries[message_id] = entry_from_item(message_id, items[message_id], recipient_lists(items[message_id]))
            else:
                unsure.append(message_id)
        resend = []
        cause = "%s gave no recipient lists for it" % source
        for message_id, state in zip(unsure, self._read(unsure) if unsure else []):
            entry = self._read_back_entry(message_id, state, cause, still_quarantined)
            if entry is None:
                resend.append(message_id)
            else:
                entries[message_id] = entry
        return entries, resend

    def _read_back_entry(self, message_id, state, cause, still_quarantined):
        """The entry of a message read back once after an answer without recipient lists; None to send it again."""
        if state is None:
            return result_entry(
                message_id, UNKNOWN, "%s, and it could not be read: %s" % (cause, self.engine.fatal.message)
            )
        if state.state in _LEFT_QUARANTINE:
            return result_entry(
                message_id,
                RELEASED_UNCONFIRMED,
                "%s; a read shows it left quarantine. Recipients not confirmed" % cause,
            )
        if state.state == STATE_QUARANTINED and still_quarantined is None:
            return None
        if state.state == STATE_QUARANTINED and still_quarantined:
            return still_quarantined(message_id)
        why = (
            "it is still quarantined" if state.state == STATE_QUARANTINED else "it could not be read: %s" % state.error
        )
        return result_entry(message_id, UNKNOWN, "%s, and %s; check it before releasing again" % (cause, why))

    def _read(self, message_ids):
        """MessageStates in order, or Nones when a read error stops the task."""
        try:
            return self._reader(message_ids)
        except CloudflareError as exc:
            self.engine.stop(exc)
            return [None] * len(message_ids)

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
        self.engine.warn(
            "the release answer identified messages by postfix_id only, which Cloudflare deprecated "
            "(end of life 2026-11-01); they were matched to the requested ids by prefix",
            once_key="postfix_id",
        )
        return candidates[0]
