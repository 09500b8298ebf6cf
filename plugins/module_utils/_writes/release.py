# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The release policy of the write engine, in plain Python: pre-check, batches, body form, reading an answer, statuses.

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

from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import (
    CloudflareError,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._outcomes import (
    ALREADY_RELEASED,
    NOT_FOUND,
    NOT_QUARANTINED,
    NOT_RELEASED,
    PARTIALLY_RELEASED,
    RELEASE,
    RELEASE_PENDING,
    RELEASED,
    RELEASED_UNCONFIRMED,
    UNKNOWN,
    WOULD_RELEASE,
    release_entry,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.id_windows import read_states
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.messages import (
    STATE_NOT_FOUND,
    STATE_NOT_QUARANTINED,
    STATE_QUARANTINED,
    STATE_RELEASED,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._write.engine import (
    DONE,
    NOT_DONE,
    UNREADABLE,
    Seen,
    Stop,
    WritePolicy,
)

# Read back after a release request: out of quarantine, whether or not a release is on record yet.
_LEFT_QUARANTINE = (STATE_RELEASED, STATE_NOT_QUARANTINED)
BODY_OBJECT = "object"
BODY_ARRAY = "array"
# An error that names the request body as the problem: the only 4XX that justifies the other body form.
_BODY_SHAPE_ERROR = re.compile(r"(?i)\b(body|json|array|payload|schema)\b")
_RECIPIENT_LISTS = ("delivered", "failed", "undelivered")


def release_body(body_format, message_ids):
    if body_format == BODY_ARRAY:
        return list(message_ids)
    return {"ids": list(message_ids)}


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
    return release_entry(
        message_id, status, detail, delivered, failed, undelivered, postfix_id if isinstance(postfix_id, str) else None
    )


def _state_after(status, before):
    if status in (RELEASED, PARTIALLY_RELEASED, RELEASED_UNCONFIRMED, ALREADY_RELEASED, WOULD_RELEASE):
        return STATE_RELEASED
    if status in (UNKNOWN, RELEASE_PENDING):
        return UNKNOWN
    return before


class ReleasePolicy(WritePolicy):
    """The release, as the write engine asks it: the pre-check (each message's quarantine state, read or taken
    from what a search or ``known_messages`` established), batches, the body form, reading an answer's recipient
    lists, and the quarantine state as observer.

    ``find()``: (ids, {id: MessageState}) standing in for the pre-check, called once the account lock is held, so
    no other run on this machine is mid-release meanwhile; so is ``known`` (KnownStates) judged fresh or not.
    ``reader``: MessageStates of ids in order, for reading back (a search's, when it found them).
    """

    operation = "release"
    noun = "release"
    outcomes = RELEASE

    def __init__(self, context, only_quarantined=True, body_format="auto", reader=None, find=None, known=None):
        super(ReleasePolicy, self).__init__(context)
        self.path = "/accounts/%s/email-security/investigate/release" % self.account_id
        self.only_quarantined = only_quarantined
        self._find = find
        self._known_given = known
        self._known = None
        self._reader = reader or (lambda message_ids: read_states(self.client, self.account_id, message_ids, 1))
        self._lock = threading.Lock()
        self._sent_form = threading.local()
        self._body_format = BODY_OBJECT if body_format == "auto" else body_format
        self._body_format_confirmed = body_format != "auto"
        self._before = {}
        self._unexpected = []
        # How many ids took their state from known_messages instead of a read (a search's pages are not counted).
        self.known_taken = 0

    @property
    def body_format(self):
        return self._body_format

    # The run's steps --------------------------------------------------------------------------------------

    def start(self, keys):
        if self._find is not None:
            keys, self._known = self._find()
        elif self._known_given is not None:
            self._known = self._known_given.fresh(keys)
        return list(keys)

    def pre_check(self, keys):
        if not (self.only_quarantined or self._known is not None):
            return {}, list(keys)
        checked, remaining = self._pre_check(keys, self._known)
        return {entry["id"]: entry for entry in checked}, remaining

    def predict(self, keys):
        return {i: release_entry(i, WOULD_RELEASE) for i in keys}

    def unrecorded(self, key):
        return release_entry(key, UNKNOWN, "no outcome was recorded for this id; check it before releasing again")

    def result_fields(self):
        return dict(unexpected_items=self._unexpected, body_format=self._body_format)

    def summary_fields(self):
        return dict(known_states_taken=self.known_taken)

    def diff(self, results):
        """Quarantine state per message before and after, as Ansible's before/after text."""
        before_lines, after_lines = [], []
        for entry in results:
            before = self._before.get(entry["id"], "not read (only_quarantined=false)")
            before_lines.append("%s: %s\n" % (entry["id"], before))
            after_lines.append("%s: %s\n" % (entry["id"], _state_after(entry["status"], before)))
        return {
            "before": "".join(before_lines),
            "after": "".join(after_lines),
            "before_header": "quarantine state before",
            "after_header": "quarantine state after",
        }

    def _pre_check(self, message_ids, known=None):
        """Read every message (or take its state from ``known``); return entries for those settled without a
        POST, and those still quarantined."""
        entries, to_release = [], []
        known = known or {}
        unknown = [i for i in message_ids if i not in known]
        if self._known_given is not None:
            self.known_taken = len(message_ids) - len(unknown)
        read = dict(zip(unknown, read_states(self.client, self.account_id, unknown, self.concurrency)))
        for message_id in message_ids:
            state = known.get(message_id) or read[message_id]
            self._before[message_id] = state.state
            if state.state == STATE_QUARANTINED:
                to_release.append(message_id)
            elif state.state == STATE_RELEASED:
                entries.append(release_entry(message_id, ALREADY_RELEASED, "no longer quarantined; not sent again"))
            elif state.state == STATE_NOT_QUARANTINED:
                entries.append(
                    release_entry(
                        message_id,
                        NOT_QUARANTINED,
                        "not quarantined, and no release is on "
                        "record: delivered or moved without quarantine; nothing to release",
                    )
                )
            elif state.state == STATE_NOT_FOUND:
                entries.append(release_entry(message_id, NOT_FOUND, state.error))
            else:
                entries.append(
                    release_entry(
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
        return {i: release_entry(i, NOT_RELEASED, error.message) for i in keys}

    def failed(self, keys, error):
        # The server answered, so it is done with the request; whatever result it carried is evidence.
        self.warn("%s. Reading its %d message(s) back instead of resending it" % (error.message, len(keys)))
        return self._decide_from_answer(
            keys,
            error.result,
            [],
            "the failed answer (%s)" % error.message,
            still_quarantined=self._still_quarantined_after_error(error, self._sent_form.value),
        )

    def observe(self, keys):
        seen = []
        states, error = self._read(keys)
        for state in states:
            if state is None:
                seen.append(Seen(UNREADABLE, error=error.message, stop=error))
            elif state.state == STATE_QUARANTINED:
                seen.append(Seen(NOT_DONE))
            elif state.state in _LEFT_QUARANTINE:
                seen.append(Seen(DONE, state))
            else:
                seen.append(Seen(UNREADABLE, error=state.error))
        return seen

    def done(self, key, seen, cause, earlier):
        return release_entry(
            key,
            ALREADY_RELEASED if earlier else RELEASED_UNCONFIRMED,
            "%s; a read shows it left quarantine, so it was not sent again. Recipients not confirmed" % cause,
        )

    def unreadable(self, key, why, cause):
        return release_entry(key, UNKNOWN, "%s and the message could not be read back: %s" % (cause, why))

    def pending(self, keys, cause):
        return {
            i: release_entry(
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
            i: release_entry(
                i,
                NOT_RELEASED,
                "still quarantined %.0f s after each of %d release requests "
                "whose answers were lost, so none of them was processed: %s"
                % (self.settle_timeout, attempts, error.message),
            )
            for i in keys
        }

    def unsent(self, key, why):
        return release_entry(key, NOT_RELEASED, "not sent: " + why)

    def unknown(self, key, why):
        return release_entry(key, UNKNOWN, why)

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
        return lambda message_id: release_entry(
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
        self.warn(
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
            self.warn("Cloudflare: %s" % notice, once_key="notice:" + notice)
        items, unexpected, conflicting = self._match_items(message_ids, result)
        if unexpected:
            with self._lock:
                self._unexpected.extend(unexpected)
            self.warn(
                "%s held %d item(s) that match no requested id, are malformed, or contradict another item; "
                "see unexpected_items" % (source, len(unexpected)),
                once_key="unexpected",
            )
        entries, unsure = {}, []
        for message_id in message_ids:
            if message_id in conflicting:
                entries[message_id] = release_entry(
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
        states, error = self._read(unsure) if unsure else ([], None)
        for message_id, state in zip(unsure, states):
            if state is None:
                entries[message_id] = Stop(
                    error,
                    release_entry(message_id, UNKNOWN, "%s, and it could not be read: %s" % (cause, error.message)),
                )
                continue
            entry = self._read_back_entry(message_id, state, cause, still_quarantined)
            if entry is None:
                resend.append(message_id)
            else:
                entries[message_id] = entry
        return entries, resend

    def _read_back_entry(self, message_id, state, cause, still_quarantined):
        """The entry of a message read back once after an answer without recipient lists; None to send it again."""
        if state.state in _LEFT_QUARANTINE:
            return release_entry(
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
        return release_entry(message_id, UNKNOWN, "%s, and %s; check it before releasing again" % (cause, why))

    def _read(self, message_ids):
        """(MessageStates in order, None), or (Nones, the error) when a read error stops the task."""
        try:
            return self._reader(message_ids), None
        except CloudflareError as exc:
            return [None] * len(message_ids), exc

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
        self.warn(
            "the release answer identified messages by postfix_id only, which Cloudflare deprecated "
            "(end of life 2026-11-01); they were matched to the requested ids by prefix",
            once_key="postfix_id",
        )
        return candidates[0]
