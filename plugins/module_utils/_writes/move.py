# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Moving delivered mail between mailbox folders, in plain Python: the move policy of the write engine.

With Cloudflare's API (post-delivery) deployment, a false positive is not quarantined: Cloudflare delivered it and
then moved it to Junk Email or Deleted Items, and releasing it means moving it back to the Inbox. Phish that got
through is the other direction: out of the inboxes. Both are ``POST investigate/move``.

Where a message is now: a message whose details show no move (no ``MOVE`` among its post-delivery operations, no
``moved`` or ``move_failed`` delivery status) and that was delivered is in the Inbox, without a further read; any
other delivered message is where the last successful ``MOVE`` of its action log put it (one read of its action
log). Only messages elsewhere than the destination are sent, so a run again sends nothing.

A move has no idempotency key either, and one that lands after a second was sent would undo a later move: after a
lost or unsure answer its messages are read back until they show in the destination or ``settle_timeout`` has
passed, never resent meanwhile (the settle rule of ``_write/engine.py``). A status never claims more than is known:
``moved`` needs the answer's per-recipient items; a message seen in the destination without them is
``moved_unconfirmed``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import threading

from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.concurrency import run_in_order
from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import (
    CloudflareError,
    ValidationError,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._outcomes import (
    ALREADY_THERE,
    INBOX,
    MOVE_PENDING,
    MOVED,
    MOVED_UNCONFIRMED,
    NOT_FOUND,
    NOT_IN_MAILBOX,
    NOT_MOVED,
    PARTIALLY_MOVED,
    QUARANTINED,
    UNKNOWN,
    WOULD_MOVE,
    move_entry,
    move_outcomes,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.id_windows import read_states
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.messages import (
    STATE_NOT_FOUND,
    STATE_NOT_QUARANTINED,
    STATE_QUARANTINED,
    STATE_RELEASED,
    date_time,
    investigate_path,
    read_message_part,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.search import QuarantineSearch
from ansible_collections.mailsec.cloudflare.plugins.module_utils._write.engine import (
    DONE,
    NOT_DONE,
    UNREADABLE,
    Seen,
    Stop,
    WritePolicy,
)

DESTINATIONS = (INBOX, "JunkEmail", "DeletedItems", "RecoverableItemsDeletions", "RecoverableItemsPurges")
# Out of the user's reach: Recoverable Items is where a mailbox keeps what was deleted from Deleted Items, and
# what is purged from it is gone for the user.
PURGE_DESTINATIONS = ("RecoverableItemsDeletions", "RecoverableItemsPurges")

# Where a message is, when it is in no folder: the words of the diff.
IN_QUARANTINE, IN_NO_MAILBOX = "quarantine", "no mailbox"
_SUCCESSFUL_STATUSES = ("completed", "success", "succeeded")


def check_destination(destination, confirm_purge, check_mode):
    """ValidationError before any request: a folder the contract does not name, or a purge not confirmed."""
    if destination not in DESTINATIONS:
        raise ValidationError("destination must be one of %s (got %r)" % (", ".join(DESTINATIONS), destination))
    if destination in PURGE_DESTINATIONS and not confirm_purge and not check_mode:
        raise ValidationError(
            "destination %s takes the messages out of their recipients' reach (Recoverable Items); set "
            "confirm_purge: true to do that, or run in check mode first to see exactly which messages would go"
            % destination
        )


# Where a message is --------------------------------------------------------------------------------------------


class Location:
    """Where one message is: ``folder`` when it is in a mailbox, else ``kind`` says why not, ``error`` with what."""

    __slots__ = ("kind", "folder", "error")

    MAILBOX, QUARANTINED, NO_MAILBOX, NOT_FOUND, UNKNOWN = "mailbox", "quarantined", "no mailbox", "not found", "?"

    def __init__(self, kind, folder=None, error=None):
        self.kind = kind
        self.folder = folder
        self.error = error

    @property
    def shown(self):
        """The location in a diff: a folder, quarantine, no mailbox, or unknown."""
        if self.kind == self.MAILBOX:
            return self.folder
        return {self.QUARANTINED: IN_QUARANTINE, self.NO_MAILBOX: IN_NO_MAILBOX}.get(self.kind, UNKNOWN)


def _moved_on_record(message):
    """Whether a message (normalized: its lists never null) shows a move, successful or not."""
    statuses = message["delivery_status"]
    return "moved" in statuses or "move_failed" in statuses or "MOVE" in message["post_delivery_operations"]


def _without_log(state):
    """The Location a message's details decide alone, or None when its action log must say where it is."""
    if state.state == STATE_NOT_FOUND:
        return Location(Location.NOT_FOUND, error=state.error)
    if state.state == STATE_QUARANTINED:
        return Location(Location.QUARANTINED)
    if state.state not in (STATE_RELEASED, STATE_NOT_QUARANTINED) or state.message is None:
        return Location(Location.UNKNOWN, error=state.error or "the answer does not say where it is")
    message = state.message
    if _moved_on_record(message):
        return None
    if "delivered" in message["delivery_status"]:
        return Location(Location.MAILBOX, INBOX)
    return Location(
        Location.NO_MAILBOX,
        error="delivery_status %s: it reached no mailbox" % (", ".join(message["delivery_status"]) or "empty"),
    )


def _moment(entry):
    for name in ("completed_at", "started_at"):
        if isinstance(entry.get(name), str):
            try:
                return date_time(name, entry[name])[1]
            except ValidationError:
                return None
    return None


def _successful_move(entry):
    """The folder a successful MOVE entry of an action log put the message in, else None."""
    properties = entry.get("properties") if isinstance(entry.get("properties"), dict) else {}
    succeeded = entry.get("success") is True or (
        entry.get("success") is None and str(entry.get("status") or "").lower() in _SUCCESSFUL_STATUSES
    )
    folder = properties.get("folder")
    return folder if entry.get("operation") == "MOVE" and succeeded and isinstance(folder, str) else None


def last_folder(action_log):
    """The folder of the last successful MOVE of an action log, or None when it holds none."""
    moves = [(entry, _successful_move(entry)) for entry in action_log]
    moves = [(_moment(entry), position, folder) for position, (entry, folder) in enumerate(moves) if folder]
    if not moves:
        return None
    if all(moment is not None for moment, dummy, dummy in moves):
        # The contract states no order for the log; when every move has its time, the latest wins.
        return max(moves)[2]
    return moves[-1][2]


def _from_log(client, account_id, message_id, message):
    """A moved message's Location from its action log; raise CloudflareError only when it stops the task."""
    try:
        folder = last_folder(read_message_part(client, account_id, message_id, "action_log"))
    except CloudflareError as exc:
        if exc.is_fatal:
            raise
        return Location(Location.UNKNOWN, error="its action log could not be read: %s" % exc.message)
    if folder is not None:
        return Location(Location.MAILBOX, folder)
    if "delivered" in message["delivery_status"]:
        return Location(Location.MAILBOX, INBOX)
    return Location(Location.UNKNOWN, error="it shows a move, but its action log holds no successful MOVE")


def locate(client, account_id, message_ids, states, workers):
    """Locations of message_ids from their MessageStates, in order; the action log is read only for moved mail."""
    locations = [_without_log(state) for state in states]
    to_read = [(i, m, s.message) for i, (m, s, loc) in enumerate(zip(message_ids, states, locations)) if loc is None]
    read = run_in_order(lambda item: _from_log(client, account_id, item[1], item[2]), to_read, workers)
    for (index, dummy, dummy), location in zip(to_read, read):
        locations[index] = location
    return locations


class MailboxSearch(QuarantineSearch):
    """A search as the messages to move: every match with its state, capped by the messages found delivered."""

    capped_kind = "delivered"

    def capped_count(self, states):
        return sum(1 for state in states.values() if state.state in (STATE_RELEASED, STATE_NOT_QUARANTINED))


# The run --------------------------------------------------------------------------------------------------------


class MovePolicy(WritePolicy):
    """A move to one folder, as the write engine asks it: where each message is (located before anything is sent;
    only what is elsewhere than the destination is sent), the request, its per-recipient answer, and the location
    as observer.

    ``find()``: (ids, {id: MessageState}) standing in for the reads, called once the account lock is held, so no
    other run on this machine is mid-move meanwhile. ``reader``: MessageStates of ids in order, for reading back
    (a search's, when it found them).
    """

    noun = "move"

    def __init__(self, context, destination, reader=None, find=None):
        super(MovePolicy, self).__init__(context)
        self.destination = destination
        self.outcomes = move_outcomes(destination)
        # Each destination is an operation of its own in the journal, so that a move to another folder that may
        # still land is told apart from this one.
        self.operation = "move to %s" % destination
        self.path = "%s/move" % investigate_path(self.account_id)
        self._reader = reader or (lambda message_ids: read_states(self.client, self.account_id, message_ids, 1))
        self._find = find
        self._states = None
        self.before = {}
        self.unexpected = []
        self._unexpected_lock = threading.Lock()

    def _to(self, destination):
        """The policy of a move to another folder, sharing what this one has read and been answered."""
        other = MovePolicy(self.context, destination, self._reader)
        other.before, other.unexpected, other._unexpected_lock = self.before, self.unexpected, self._unexpected_lock
        return other

    # The run's steps --------------------------------------------------------------------------------------

    def start(self, keys):
        if self._find is not None:
            keys, self._states = self._find()
        return list(keys)

    def settle_earlier(self, engine, keys):
        """A move an earlier run sent to any folder, which may still land, is settled first: sent after it, this
        move could be undone by it. What it shows in that other folder is located afresh like any other message."""
        decided, remaining = {}, list(keys)
        for destination in DESTINATIONS:
            policy = self if destination == self.destination else self._to(destination)
            settled, remaining = engine.settle_earlier(policy, remaining)
            if policy is not self:
                remaining += [key for key, entry in settled.items() if entry["status"] == ALREADY_THERE]
                settled = {key: entry for key, entry in settled.items() if entry["status"] != ALREADY_THERE}
            decided.update(settled)
        remaining = set(remaining)
        return decided, [key for key in keys if key in remaining]

    def pre_check(self, keys):
        """({id: entry} for messages settled without a move, the ids to move)."""
        states = self._states or {}
        unread = [i for i in keys if i not in states]
        read = dict(zip(unread, read_states(self.client, self.account_id, unread, self.concurrency)))
        ordered = [states.get(i) or read[i] for i in keys]
        entries, to_move = {}, []
        for message_id, location in zip(keys, locate(self.client, self.account_id, keys, ordered, self.concurrency)):
            self.before[message_id] = location.shown
            entry = self.before_sending(message_id, location)
            if entry is None:
                to_move.append(message_id)
            else:
                entries[message_id] = entry
        return entries, to_move

    def predict(self, keys):
        return {i: move_entry(i, WOULD_MOVE, folder_before=self.before[i]) for i in keys}

    def unrecorded(self, key):
        return move_entry(key, UNKNOWN, "no outcome was recorded for this id; check it before moving again")

    def result_fields(self):
        return dict(destination=self.destination, unexpected_items=self.unexpected)

    def diff(self, results):
        """Each message's folder before and after, as Ansible's before/after text."""
        before_lines, after_lines = [], []
        for entry in results:
            before = self.before.get(entry["id"], UNKNOWN)
            if entry["status"] in (MOVED, MOVED_UNCONFIRMED, WOULD_MOVE, ALREADY_THERE):
                after = self.destination
            elif entry["status"] == PARTIALLY_MOVED:
                after = "%s for %d recipient(s), %s for %d" % (
                    self.destination,
                    len(entry["moved"]),
                    before,
                    len(entry["failed"]),
                )
            elif entry["status"] in (MOVE_PENDING, UNKNOWN):
                after = UNKNOWN
            else:
                after = before
            before_lines.append("%s: %s\n" % (entry["id"], before))
            after_lines.append("%s: %s\n" % (entry["id"], after))
        return {
            "before": "".join(before_lines),
            "after": "".join(after_lines),
            "before_header": "folder before",
            "after_header": "folder after",
        }

    # Where a message is -----------------------------------------------------------------------------------

    def before_sending(self, message_id, location):
        """The entry of a message that is not sent, or None to move it."""
        before = location.shown
        if location.kind == Location.MAILBOX and location.folder == self.destination:
            return move_entry(message_id, ALREADY_THERE, "already in %s; not sent" % self.destination, before)
        if location.kind == Location.MAILBOX:
            return None
        if location.kind == Location.QUARANTINED:
            return move_entry(
                message_id,
                QUARANTINED,
                "quarantined, so in no mailbox: nothing was sent. Release it with "
                "mailsec.cloudflare.email_security_release, which delivers it to the Inbox",
                before,
            )
        if location.kind == Location.NO_MAILBOX:
            return move_entry(message_id, NOT_IN_MAILBOX, "%s; nothing to move" % location.error, before)
        if location.kind == Location.NOT_FOUND:
            return move_entry(message_id, NOT_FOUND, location.error, before)
        return move_entry(message_id, UNKNOWN, "not sent: where it is could not be established: %s" % location.error)

    def read(self, message_ids):
        """(Locations in order, None), or (Nones, the error) when a read error stops the task."""
        try:
            states = self._reader(message_ids)
            return locate(self.client, self.account_id, message_ids, states, 1), None
        except CloudflareError as exc:
            return [None] * len(message_ids), exc

    # The write engine's questions ----------------------------------------------------------------------------

    def send(self, keys, on_send):
        return self.client.post(self.path, {"ids": list(keys), "destination": self.destination}, on_send=on_send)

    def answered(self, keys, response):
        for notice in response.notices:
            self.warn("Cloudflare: %s" % notice, once_key="notice:" + notice)
        return self._decide(keys, response.result, "the move answer (HTTP %s)" % response.status, None), []

    def failed(self, keys, error):
        if any("integration" in str(e.get("message", "")).lower() for e in error.errors if isinstance(e, dict)):
            # Refused as a whole, and every further move of the task would be: say what the account lacks.
            refusal = CloudflareError(
                "%s. Hint: moving mail needs the account's mailbox integration (Cloudflare Email Security's API "
                "deployment with Microsoft 365 or Google Workspace); connect it in the dashboard, or release "
                "quarantined mail with mailsec.cloudflare.email_security_release instead" % error.message,
                status=error.status,
                errors=error.errors,
                method=error.method,
                path=error.path,
                stops_task=True,
            )
            refused = "refused: %s" % refusal.message
            return {key: Stop(refusal, move_entry(key, NOT_MOVED, refused, self._before(key))) for key in keys}, []
        self.warn("%s. Reading its %d message(s) back instead of resending it" % (error.message, len(keys)))
        return self._decide(keys, error.result, "the failed answer (%s)" % error.message, error.message), []

    def refused(self, keys, error):
        return {key: move_entry(key, NOT_MOVED, error.message, self._before(key)) for key in keys}

    def observe(self, keys):
        seen = []
        locations, error = self.read(keys)
        for location in locations:
            if location is None:
                seen.append(Seen(UNREADABLE, error=error.message, stop=error))
            elif location.kind == Location.MAILBOX and location.folder == self.destination:
                seen.append(Seen(DONE, location))
            elif location.kind == Location.MAILBOX:
                seen.append(Seen(NOT_DONE))
            else:
                seen.append(Seen(UNREADABLE, error=location.error or "it is in %s" % location.shown))
        return seen

    def done(self, key, seen, cause, earlier):
        if earlier:
            return move_entry(
                key,
                ALREADY_THERE,
                "%s; a read shows it in %s, so it was not sent again"
                % (
                    cause,
                    self.destination,
                ),
                self._before(key),
            )
        return move_entry(
            key,
            MOVED_UNCONFIRMED,
            "%s; a read shows it in %s, so it was not sent again. Recipients not confirmed" % (cause, self.destination),
            self._before(key),
        )

    def unreadable(self, key, why, cause):
        return move_entry(
            key, UNKNOWN, "%s and where it is could not be read back: %s" % (cause, why), self._before(key)
        )

    def pending(self, keys, cause):
        return {
            key: move_entry(
                key,
                MOVE_PENDING,
                "%s and the message was not in %s at the last read, before settle_timeout (%.0f s) had passed: that "
                "request may still move it. Run the task again with the same state store; it settles this first"
                % (cause, self.destination, self.settle_timeout),
                self._before(key),
            )
            for key in keys
        }

    def gave_up(self, keys, error, attempts):
        return {
            key: move_entry(
                key,
                NOT_MOVED,
                "not in %s %.0f s after each of %d move requests whose answers were lost, so none of them was "
                "processed: %s" % (self.destination, self.settle_timeout, attempts, error.message),
                self._before(key),
            )
            for key in keys
        }

    def unsent(self, key, why):
        return move_entry(key, NOT_MOVED, "not sent: " + why, self._before(key))

    def unknown(self, key, why):
        return move_entry(key, UNKNOWN, why, self._before(key))

    def settling_warning(self, keys, error):
        return (
            "%s. Reading its %d message(s) back until they show in %s or settle_timeout (%.0f s) has passed since "
            "it was sent; it is not resent before then"
            % (error.message, len(keys), self.destination, self.settle_timeout)
        )

    def earlier_warning(self, keys, cause):
        return (
            "%d message(s) of this task were being moved to %s when an earlier run stopped; reading them back "
            "before anything is sent" % (len(keys), self.destination)
        )

    # Reading an answer -----------------------------------------------------------------------------------------

    def _before(self, key):
        return self.before.get(key)

    def _decide(self, keys, result, source, refusal):
        """{id: entry} from an answer's per-recipient items; ids it holds no item for are read back once.

        ``refusal``: the error of a failed answer (a message read back outside the destination was not moved),
        or None for a successful answer that said nothing of it (unknown: check it before moving again).
        """
        items = self._items(keys, result, source)
        entries, unsure = {}, []
        for key in keys:
            if key in items:
                entries[key] = self._from_items(key, items[key])
            else:
                unsure.append(key)
        cause = "%s held no item for it" % source
        locations, error = self.read(unsure) if unsure else ([], None)
        for key, location in zip(unsure, locations):
            if location is None:
                entries[key] = Stop(
                    error, self.unknown(key, "%s, and it could not be read: %s" % (cause, error.message))
                )
            elif location.kind == Location.MAILBOX and location.folder == self.destination:
                entries[key] = self.done(key, Seen(DONE, location), cause, earlier=False)
            elif refusal is not None:
                entries[key] = move_entry(
                    key, NOT_MOVED, "still in %s after: %s" % (location.shown, refusal), self._before(key)
                )
            else:
                entries[key] = self.unknown(
                    key, "%s, and a read shows it in %s; check it before moving again" % (cause, location.shown)
                )
        return entries

    def _items(self, keys, result, source):
        """{requested id: its items}; items for no requested id, or without a boolean success, are unexpected."""
        requested, items, unexpected = set(keys), {}, []
        for item in result if isinstance(result, list) else []:
            target = item.get("message_id") if isinstance(item, dict) else None
            if target in requested and isinstance(item.get("success"), bool):
                items.setdefault(target, []).append(item)
            else:
                unexpected.append(item)
        if unexpected:
            with self._unexpected_lock:
                self.unexpected.extend(unexpected)
            self.warn(
                "%s held %d item(s) that match no requested id or say nothing of success; see unexpected_items"
                % (source, len(unexpected)),
                once_key="unexpected",
            )
        return items

    def _from_items(self, key, items):
        moved = [str(item.get("recipient")) for item in items if item["success"]]
        failed = [str(item.get("recipient")) for item in items if not item["success"]]
        if not failed:
            return move_entry(key, MOVED, None, self._before(key), moved, failed)
        if moved:
            detail = "moved for %d recipient(s), not for %d" % (len(moved), len(failed))
            return move_entry(key, PARTIALLY_MOVED, detail, self._before(key), moved, failed)
        statuses = sorted({str(item.get("status")) for item in items})
        detail = "Cloudflare moved it for no recipient (status %s)" % ", ".join(statuses)
        return move_entry(key, NOT_MOVED, detail, self._before(key), moved, failed)
