# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What Cloudflare reports over time: submissions reviewed after a while, the monthly disposition report, PhishGuard.

A submission starts unreviewed, with no outcome. When its review is due (``review_after`` seconds after it was
requested, if it will ever be reviewed) it is served reviewed, with the outcome decided for it: accepted (the
outcome disposition is the requested one) or rejected (it stays the original). The monthly report counts the
messages the simulator holds by the month they were sent and their final disposition, for the trailing 12 months.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import time

from . import contract

# The fields a submission is served with (the contract's Submission); the others are the simulator's own.
SERVED = (
    "submission_id",
    "requested_at",
    "original_postfix_id",
    "original_disposition",
    "requested_disposition",
    "outcome_disposition",
    "outcome",
    "status",
    "customer_status",
    "subject",
    "type",
    "requested_by",
    "escalated_as",
    "escalated_at",
    "escalated_by",
    "escalated_submission_id",
)
_ORDERS = (
    "submission_id",
    "subject",
    "original_disposition",
    "requested_disposition",
    "outcome_disposition",
    "requested_at",
)


def new_submission(submission_id, requested_at, postfix_id, original, requested, subject, kind="Team", **extra):
    """A submission as the simulator keeps it: unreviewed until ``review_at`` (epoch seconds, or None for never),
    then ``decision`` (accepted or rejected)."""
    entry = {
        "submission_id": submission_id,
        "requested_at": requested_at,
        "original_postfix_id": postfix_id,
        "original_disposition": original,
        "requested_disposition": requested,
        "outcome_disposition": None,
        "outcome": None,
        "status": "unreviewed",
        "customer_status": "unreviewed",
        "subject": subject,
        "type": kind,
        "requested_by": extra.pop("requested_by", "secops@example.com"),
        "review_at": None,
        "decision": None,
    }
    entry.update(extra)
    return entry


def served(entry, now=None):
    """The submission as the API serves it now: reviewed, with its outcome, once its review is due."""
    item = {name: entry.get(name) for name in SERVED}
    due = entry.get("review_at")
    if due is not None and (now or time.time()) >= due and entry.get("decision") in ("accepted", "rejected"):
        accepted = entry["decision"] == "accepted"
        item.update(
            status="reviewed",
            customer_status="reviewed",
            outcome="Accepted" if accepted else "Rejected",
            outcome_disposition=entry["requested_disposition"] if accepted else entry["original_disposition"],
        )
    # The contract's optional dispositions must be one of the values when present (null is none of them): a field
    # without a value is left out, as it may be.
    return {name: value for name, value in item.items() if value is not None}


def listed(entries, query, now=None):
    """The submissions a list request asks for, as served, filtered and ordered as the contract's parameters say."""

    def first(name):
        return query.get(name, [None])[0]

    start = _moment(first("start"), default=datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=30))
    end = _moment(first("end"), default=datetime.datetime.now(datetime.timezone.utc))
    items = []
    for item in (served(entry, now) for entry in entries):
        if not start <= contract.parse_date_time(item["requested_at"]) < end:
            continue
        if not _matches(item, first):
            continue
        items.append(item)
    order = first("order") or "requested_at"
    if order not in _ORDERS:
        order = "requested_at"
    items.sort(key=lambda item: str(item.get(order) or ""), reverse=(first("direction") or "desc") == "desc")
    return items


def _matches(item, first):
    for name in ("submission_id", "original_disposition", "requested_disposition", "outcome_disposition"):
        if first(name) is not None and str(item.get(name)) != first(name):
            return False
    if first("type") is not None and str(item.get("type")).upper() != first("type").upper():
        return False
    if first("status") is not None and item.get("status") != first("status"):
        return False
    if first("query") and first("query").lower() not in (item.get("subject") or "").lower():
        return False
    escalated = first("escalated_from_user")
    if escalated is not None and (item.get("escalated_by") is not None) != (escalated == "true"):
        return False
    return True


def _moment(text, default):
    return contract.parse_date_time(text) if text else default


def monthly_report(messages, now=None):
    """The contract's monthly report: for each of the trailing 12 months (this one included), the messages sent
    that month by final disposition."""
    today = now or datetime.datetime.now(datetime.timezone.utc)
    months = []
    year, month = today.year, today.month
    for dummy in range(12):
        months.append("%04d-%02d" % (year, month))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    counts = {name: {} for name in months}
    for message in messages:
        if not message.sent_date:
            continue
        name = message.sent_at.strftime("%Y-%m")
        if name in counts:
            counts[name][message.final_disposition] = counts[name].get(message.final_disposition, 0) + 1
    return {
        "by_month": {
            name: [{"disposition": d, "total": n} for d, n in sorted(counts[name].items())] for name in sorted(months)
        }
    }


def phishguard_listed(reports, query):
    """The PhishGuard reports created in the window a list request asks for."""

    def first(name):
        return query.get(name, [None])[0]

    start = _moment(first("start"), default=datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=30))
    end = _moment(first("end"), default=datetime.datetime.now(datetime.timezone.utc))
    return [dict(r) for r in reports if start <= contract.parse_date_time(r["created_at"]) < end]
