# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The words every per-message write reports in, in a module that imports nothing of the collection: each status,
which of them are complete, which say this run changed something, and the shape of one message's result. A write
path, a bulk job's rows and a runbook's report all speak them, so none of them imports another write path."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

NOT_FOUND = "not_found"
UNKNOWN = "unknown"

RELEASED = "released"
PARTIALLY_RELEASED = "partially_released"
RELEASED_UNCONFIRMED = "released_unconfirmed"
RELEASE_PENDING = "release_pending"
NOT_RELEASED = "not_released"
WOULD_RELEASE = "would_release"
ALREADY_RELEASED = "already_released"
NOT_QUARANTINED = "not_quarantined"

MOVED = "moved"
PARTIALLY_MOVED = "partially_moved"
MOVED_UNCONFIRMED = "moved_unconfirmed"
MOVE_PENDING = "move_pending"
NOT_MOVED = "not_moved"
WOULD_MOVE = "would_move"
ALREADY_THERE = "already_there"
QUARANTINED = "quarantined"
NOT_IN_MAILBOX = "not_in_mailbox"

SUBMITTED = "submitted"
ALREADY_SUBMITTED = "already_submitted"
WOULD_SUBMIT = "would_submit"
SUBMISSION_PENDING = "submission_pending"
NOT_SUBMITTED = "not_submitted"


class Outcomes:
    """The statuses of one kind of per-message write.

    ``statuses`` in the order a summary counts them; ``complete``: nothing further to do for the message;
    ``changed``: this run's request did, or may have, acted on it; ``would``: check mode's prediction; ``done``: the
    status whose ids the module returns under ``done_key``; ``unfinished``: how the failure message says the rest.
    ``recipients``: {summary key: the result field whose recipients it counts}.
    """

    def __init__(self, statuses, complete, changed, would, done, done_key, unfinished, recipients=None):
        self.statuses = statuses
        self.complete = frozenset(complete)
        self.changed = frozenset(changed)
        self.would = would
        self.done = done
        self.done_key = done_key
        self.unfinished = unfinished
        self.recipients = recipients or {}


RELEASE = Outcomes(
    (
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
    ),
    complete=(RELEASED, ALREADY_RELEASED, NOT_QUARANTINED, WOULD_RELEASE),
    changed=(RELEASED, PARTIALLY_RELEASED, RELEASED_UNCONFIRMED, RELEASE_PENDING),
    would=WOULD_RELEASE,
    done=RELEASED,
    done_key="released_ids",
    unfinished="were not fully released",
    recipients=dict(recipients_delivered="delivered", recipients_failed="failed", recipients_undelivered="undelivered"),
)

MOVE_STATUSES = (
    MOVED,
    PARTIALLY_MOVED,
    MOVED_UNCONFIRMED,
    MOVE_PENDING,
    NOT_MOVED,
    WOULD_MOVE,
    ALREADY_THERE,
    QUARANTINED,
    NOT_IN_MAILBOX,
    NOT_FOUND,
    UNKNOWN,
)
MOVE_CHANGED = (MOVED, PARTIALLY_MOVED, MOVED_UNCONFIRMED, MOVE_PENDING)
INBOX = "Inbox"


def move_outcomes(destination):
    """A move's statuses. Out of the Inbox, a message in no mailbox (quarantined, bounced) has nothing to move out;
    into it, that message still needs something else (a release, a delivery)."""
    complete = [MOVED, ALREADY_THERE, WOULD_MOVE]
    if destination != INBOX:
        complete += [QUARANTINED, NOT_IN_MAILBOX]
    return Outcomes(
        MOVE_STATUSES,
        complete=complete,
        changed=MOVE_CHANGED,
        would=WOULD_MOVE,
        done=MOVED,
        done_key="moved_ids",
        unfinished="were not moved to %s" % destination,
        recipients=dict(recipients_moved="moved", recipients_failed="failed"),
    )


SUBMISSION = Outcomes(
    (SUBMITTED, ALREADY_SUBMITTED, WOULD_SUBMIT, SUBMISSION_PENDING, NOT_FOUND, NOT_SUBMITTED, UNKNOWN),
    complete=(SUBMITTED, ALREADY_SUBMITTED, WOULD_SUBMIT),
    changed=(SUBMITTED, SUBMISSION_PENDING),
    would=WOULD_SUBMIT,
    done=SUBMITTED,
    done_key="submitted_ids",
    unfinished="were not submitted",
)


def release_entry(message_id, status, detail=None, delivered=None, failed=None, undelivered=None, postfix_id=None):
    """One message's release result."""
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


def move_entry(message_id, status, detail=None, folder_before=None, moved=None, failed=None):
    """One message's move result."""
    return {
        "id": message_id,
        "status": status,
        "folder_before": folder_before,
        "moved": moved or [],
        "failed": failed or [],
        "detail": detail,
    }


def submission_entry(message_id, status, detail=None, submission_id=None, alert_id=None):
    """One message's submission result."""
    return {"id": message_id, "status": status, "submission_id": submission_id, "alert_id": alert_id, "detail": detail}


def outcome_summary(results, field, names, requests_sent):
    """How many results have each of ``names`` in ``field``, with the total and the requests the task sent."""
    summary = dict.fromkeys(names, 0)
    for result in results:
        summary[result[field]] += 1
    summary.update(total=len(results), requests_sent=requests_sent)
    return summary


def incomplete_counts(results, statuses, complete):
    """How many results end with each status outside ``complete``, as text ("2 unknown, 1 not_released"), in the
    order of ``statuses``."""
    counts = {}
    for result in results:
        if result["status"] not in complete:
            counts[result["status"]] = counts.get(result["status"], 0) + 1
    return ", ".join("%d %s" % (counts[status], status) for status in statuses if status in counts)
