# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Are false positives going down? The runbooks' own reports set against what Cloudflare reports, month by month.

- From the ``quarantine_release`` JSON reports (real runs, not check mode): the messages released or moved back, each
  counted once, in the month of the run that did it; their senders and sender domains; the time from the message's
  sending to its release.
- From Cloudflare: the monthly report's detections (every disposition but NONE), and the submissions with their
  outcomes (pending until Cloudflare decides), matched to the released messages by postfix id.
- From this report's own history: when each submission's decision was first seen, since the API gives no decision
  time; "decided within" is measured from the request to that first sighting.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import statistics

_RELEASED = ("released", "partially_released", "released_unconfirmed")
_MOVED_BACK = ("moved", "partially_moved", "moved_unconfirmed")
_DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def _moment(text):
    try:
        return datetime.datetime.strptime(str(text), _DATE_FORMAT).replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return None


def _read(path):
    with open(path, encoding="utf-8") as source:
        return json.load(source)


def runbook_releases(paths):
    """(releases, skipped): each message released or moved back by a quarantine_release run, once, with its month,
    sender and the hours from its sending to the run; the reports skipped and why."""
    releases, skipped, seen = [], [], set()
    reports = []
    for path in paths:
        try:
            report = _read(path)
        except (OSError, ValueError) as exc:
            skipped.append({"path": path, "why": "not readable as JSON: %s" % exc})
            continue
        if not isinstance(report, dict) or "released_ids" not in report or "recorded_at" not in report:
            skipped.append({"path": path, "why": "not a quarantine_release report"})
        elif report.get("check_mode") in (True, "True", "true"):
            skipped.append({"path": path, "why": "a preview (check mode): nothing was released"})
        else:
            reports.append(report)
    for report in sorted(reports, key=lambda r: r["recorded_at"]):
        releases.extend(_releases_of(report, seen))
    return releases, skipped


def _done(report):
    """(result, how) of each message the run released or moved back."""
    done = [(r, "released") for r in report.get("results") or [] if r.get("status") in _RELEASED]
    moved_back = (report.get("moved_back") or {}).get("results") or []
    return done + [(r, "moved_back") for r in moved_back if r.get("status") in _MOVED_BACK]


def _hours_between(earlier, later):
    if earlier is None or later is None or earlier > later:
        return None
    return round((later - earlier).total_seconds() / 3600.0, 2)


def _releases_of(report, seen):
    at = _moment(report["recorded_at"])
    if at is None:
        return
    messages = {m.get("id"): m for m in report.get("messages") or [] if isinstance(m, dict)}
    for result, how in _done(report):
        if result.get("id") in seen:
            continue
        seen.add(result["id"])
        message = messages.get(result["id"], {})
        sender = str(message.get("from") or "").lower()
        yield dict(
            id=result["id"],
            how=how,
            month=at.strftime("%Y-%m"),
            sender=sender,
            domain=sender.rsplit("@", 1)[1] if "@" in sender else "",
            hours_to_release=_hours_between(_moment(message.get("sent_date")), at),
            ticket=report.get("ticket"),
        )


def decisions_seen(submissions, history, now):
    """The history of decisions, brought up to now: {submission id: {state, first_seen_decided_at, observed}}.

    ``observed``: an earlier report saw it pending, so the decision came between that report and this one. One
    decided before any report looked has no time to a decision.
    """
    updated = dict(history or {})
    for entry in submissions:
        state = entry.get("outcome_state")
        known = updated.get(entry.get("submission_id"))
        if state == "pending":
            known = dict(state=state, first_seen_decided_at=None, observed=False)
        elif known is None or known.get("state") == "pending":
            known = dict(state=state, first_seen_decided_at=now.strftime(_DATE_FORMAT), observed=known is not None)
        updated[entry.get("submission_id")] = known
    return updated


def _submission_rows(submissions, history, released_by_postfix):
    rows = []
    for entry in submissions:
        requested = _moment(str(entry.get("requested_at") or "")[:19] + "Z")
        known = history.get(entry.get("submission_id")) or {}
        decided = _moment(known.get("first_seen_decided_at")) if known.get("observed") else None
        rows.append(
            dict(
                submission_id=entry.get("submission_id"),
                month=requested.strftime("%Y-%m") if requested else "",
                type=entry.get("type"),
                state=entry.get("outcome_state") or "pending",
                message_id=released_by_postfix.get(entry.get("original_postfix_id")),
                hours_to_decision=_hours_between(requested, decided),
            )
        )
    return rows


def _median(values):
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 2) if values else None


def _repeated(releases, key, threshold, ttl):
    counts = {}
    for release in releases:
        if release[key]:
            counts[release[key]] = counts.get(release[key], 0) + 1
    top = sorted(((n, name) for name, n in counts.items() if n >= threshold), key=lambda item: (-item[0], item[1]))
    pattern_type = "EMAIL" if key == "sender" else "DOMAIN"
    # Each candidate is the allow policy as email_security_allow_policy's policies take it, as the release runbook's
    # own allow step makes one: an acceptable sender whose authentication is still verified.
    return [
        dict(
            pattern=name,
            releases=n,
            candidate=dict(
                pattern=name,
                pattern_type=pattern_type,
                is_acceptable_sender=True,
                verify_sender=True,
                ttl=ttl,
                comments="released %d times by the quarantine_release runbook (false-positive report)" % n,
            ),
        )
        for n, name in top[:20]
    ]


def _outcomes(rows):
    return dict(
        made=len(rows),
        accepted=sum(1 for r in rows if r["state"] == "accepted"),
        rejected=sum(1 for r in rows if r["state"] == "rejected"),
        pending=sum(1 for r in rows if r["state"] == "pending"),
    )


def _percent(part, whole):
    return round(100.0 * part / whole, 3) if whole else None


def _month(name, releases, rows, detections):
    theirs = [r for r in releases if r["month"] == name]
    released = sum(1 for r in theirs if r["how"] == "released")
    return dict(
        month=name,
        detections=detections.get(name),
        released=released,
        moved_back=len(theirs) - released,
        false_positive_percent=_percent(len(theirs), detections.get(name)),
        submissions=_outcomes([r for r in rows if r["month"] == name]),
        median_hours_to_release=_median(r["hours_to_release"] for r in theirs),
    )


def _latest_months(dated, window):
    """The latest ``window`` months any of the dated things (months, releases, submissions) falls in."""
    return sorted({item["month"] for item in dated if item.get("month")})[-window:]


def _of_months(items, names):
    return [item for item in items if item["month"] in names]


def _submissions_total(rows):
    total = _outcomes(rows)
    total.update(
        matched_to_releases=sum(1 for r in rows if r["message_id"]),
        median_hours_to_decision=_median(r["hours_to_decision"] for r in rows),
    )
    return total


def trends(paths, submissions, months, history, window, repeat_threshold, ttl, now):
    """The report's data: per month, Cloudflare's detections against the runbooks' releases, the submissions and
    their outcomes; the senders and domains released more than once (candidate allow policies); medians."""
    releases, skipped = runbook_releases(paths)
    history = decisions_seen(submissions, history, now)
    by_postfix = {release["id"].split("-", 1)[0]: release["id"] for release in releases}
    rows = _submission_rows(submissions, history, by_postfix)
    names = _latest_months(months + releases + rows, window)
    detections = {m["month"]: m["detections"] for m in months}
    shown = _of_months(releases, names)
    submitted = _submissions_total(_of_months(rows, names))
    return dict(
        generated_at=now.strftime(_DATE_FORMAT),
        months=[_month(name, releases, rows, detections) for name in names],
        submissions=submitted,
        median_hours_to_release=_median(r["hours_to_release"] for r in shown),
        repeated_senders=_repeated(shown, "sender", repeat_threshold, ttl),
        repeated_domains=_repeated(shown, "domain", repeat_threshold, ttl),
        releases=len(shown),
        sources=dict(reports=len(paths) - len(skipped), skipped=skipped),
        history=history,
    )
