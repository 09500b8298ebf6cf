# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What Cloudflare reports over time: the submissions and their outcomes, the monthly disposition report, PhishGuard.

Reads only. A submission's outcome is taken as decided only when Cloudflare says so (an outcome of accepted or
rejected, or an outcome disposition): until then it is pending, never guessed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.ids import unique_message_ids
from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import check_range
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.messages import numbered_pages, search_window

SUBMISSION_DISPOSITIONS = ["MALICIOUS", "SUSPICIOUS", "SPOOF", "SPAM", "BULK", "NONE"]
SUBMISSION_ORDERS = [
    "submission_id",
    "subject",
    "original_disposition",
    "requested_disposition",
    "outcome_disposition",
    "requested_at",
]
# The list's filters, as the module's options and the query parameters of the same names.
SUBMISSION_FILTERS = dict(
    start=dict(type="str"),
    end=dict(type="str"),
    type=dict(type="str", choices=["TEAM", "USER"]),
    status=dict(type="str", choices=["escalated", "reviewed", "unreviewed"]),
    original_disposition=dict(type="str", choices=SUBMISSION_DISPOSITIONS),
    requested_disposition=dict(type="str", choices=SUBMISSION_DISPOSITIONS),
    outcome_disposition=dict(type="str", choices=SUBMISSION_DISPOSITIONS),
    query=dict(type="str"),
    escalated_from_user=dict(type="bool"),
    submission_id=dict(type="str"),
    order=dict(type="str", choices=SUBMISSION_ORDERS),
    direction=dict(type="str", choices=["asc", "desc"]),
)
ACCEPTED, REJECTED, PENDING = "accepted", "rejected", "pending"
OUTCOME_STATES = (ACCEPTED, REJECTED, PENDING)


def submissions_query(params):
    """The list's query parameters from the module's options, checked before any request."""
    check_range("limit", params["limit"], 1)
    check_range("per_page", params["per_page"], 1, 1000)
    query = {name: params[name] for name in SUBMISSION_FILTERS if params.get(name) is not None}
    query["start"], query["end"] = search_window(params.get("start"), params.get("end"))
    if "escalated_from_user" in query:
        query["escalated_from_user"] = "true" if query["escalated_from_user"] else "false"
    return {name: value for name, value in query.items() if value is not None}


def matched_postfixes(message_ids):
    """{postfix id: message id} of the ids given: a submission names its message only by the postfix, the part of
    the investigate id before its first dash."""
    if not message_ids:
        return {}
    ids = unique_message_ids(message_ids)[0]
    return {message_id.split("-", 1)[0]: message_id for message_id in ids}


def outcome_state(item):
    """accepted, rejected or pending, as Cloudflare decided it; pending whenever it has not said."""
    outcome = str(item.get("outcome") or "").strip().lower()
    if outcome in (ACCEPTED, REJECTED):
        return outcome
    decided, requested = item.get("outcome_disposition"), item.get("requested_disposition")
    if decided and requested:
        return ACCEPTED if decided == requested else REJECTED
    return PENDING


def read_submissions(client, account_id, params):
    """(submissions, truncated): every page of the list up to ``limit``, each with its ``outcome_state`` and, where
    its postfix is one of ``message_ids``, the ``message_id``."""
    query = submissions_query(params)
    postfixes = matched_postfixes(params.get("message_ids"))
    per_page = min(params["per_page"], params["limit"])
    max_pages = -(-params["limit"] // per_page)
    path = "/accounts/%s/email-security/submissions" % account_id
    items = numbered_pages(client, path, query, per_page, max_pages=max_pages)
    submissions = []
    for item in items[: params["limit"]]:
        entry = dict(item)
        entry["outcome_state"] = outcome_state(item)
        entry["message_id"] = postfixes.get(item.get("original_postfix_id"))
        submissions.append(entry)
    # Every page up to limit was full: the list may go on.
    return submissions, len(items) >= max_pages * per_page


def submissions_summary(submissions, requests_sent):
    summary = dict.fromkeys(OUTCOME_STATES, 0)
    for entry in submissions:
        summary[entry["outcome_state"]] += 1
    summary.update(listed=len(submissions), matched=sum(1 for e in submissions if e["message_id"]))
    summary["requests_sent"] = requests_sent
    return summary


def read_monthly_report(client, account_id):
    """The trailing 12 months, oldest first: each month's dispositions, its total, and its detections (every
    disposition but NONE)."""
    result = client.get("/accounts/%s/email-security/analytics/monthly_report" % account_id).result
    by_month = (result or {}).get("by_month") if isinstance(result, dict) else None
    if not isinstance(by_month, dict):
        return []
    months = []
    for month in sorted(by_month):
        dispositions = {}
        for row in by_month[month] or []:
            if isinstance(row, dict) and isinstance(row.get("total"), int):
                name = str(row.get("disposition"))
                dispositions[name] = dispositions.get(name, 0) + row["total"]
        total = sum(dispositions.values())
        months.append(
            dict(month=month, dispositions=dispositions, total=total, detections=total - dispositions.get("NONE", 0))
        )
    return months


def read_phishguard_reports(client, account_id, params):
    """The PhishGuard reports of the window, up to ``limit``: (reports, whether the list may go on)."""
    check_range("limit", params["limit"], 1)
    start, end = search_window(params.get("start"), params.get("end"))
    query = {name: value for name, value in (("start", start), ("end", end)) if value is not None}
    per_page = min(100, params["limit"])
    max_pages = -(-params["limit"] // per_page)
    path = "/accounts/%s/email-security/phishguard/reports" % account_id
    items = numbered_pages(client, path, query, per_page, max_pages=max_pages)
    return items[: params["limit"]], len(items) >= max_pages * per_page
