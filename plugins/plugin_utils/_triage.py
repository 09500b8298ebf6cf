# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""How an employee's report of a message is decided: malicious, a false alarm, or one for a person.

The rules are the user's (the user_report_triage role's variables): the verdicts that mean malicious, the senders
and domains trusted, the verdicts that are benign when the sender is authenticated, and a cap on a campaign. A
decision once final (made by the rules, or by a person) is the report's for good: a run again takes it from the
report's record instead of deciding again on what the first run's actions changed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.eml import domain_of
from ansible_collections.mailsec.cloudflare.plugins.module_utils._state.checkpoint_format import utc_moment, utc_text

MALICIOUS = "malicious"
FALSE_ALARM = "false_alarm"
NEEDS_PERSON = "needs_person"
NO_ACTION = "no_action"
FINAL = (MALICIOUS, FALSE_ALARM, NO_ACTION)
# What a person decides in the approval workflow: pull it as phish, release what Cloudflare held, or leave it.
PERSON_DECISIONS = FINAL
# A report whose requested disposition is one of these says "this is fine", not "this is phish".
_NOT_PHISH = ("NONE",)


class TriageError(ValueError):
    """Input the decision cannot be made from; the message names what to fix."""


def verdict_of(message):
    """Cloudflare's final disposition of the message, its detections' when they were read."""
    detections = message.get("detections") if isinstance(message.get("detections"), dict) else {}
    return str(detections.get("final_disposition") or message.get("final_disposition") or "NONE").upper()


def _trusted(sender, rules):
    """Why the sender is trusted, or None."""
    if sender in [str(s).strip().lower() for s in rules.get("trusted_senders") or []]:
        return "its sender %s is trusted" % sender
    domain = domain_of(sender) or ""
    for trusted in (str(d).strip().lower().lstrip(".") for d in rules.get("trusted_domains") or []):
        if trusted and (domain == trusted or domain.endswith("." + trusted)):
            return "its sender's domain %s is trusted" % domain
    return None


def _authenticated(message):
    """(whether the EML shows the sender authenticated: DMARC pass and no header on another domain, why not)."""
    raw = message.get("raw") if isinstance(message.get("raw"), dict) else None
    if raw is None:
        why = (message.get("unavailable") or {}).get("raw") or "its EML was not read"
        return False, "its sender's authentication is unknown (%s)" % why
    dmarc = str((raw.get("authentication") or {}).get("dmarc") or "none").lower()
    if dmarc != "pass":
        return False, "DMARC %s" % dmarc
    if (raw.get("senders") or {}).get("mismatch"):
        return False, "its %s on another domain than From" % ", ".join((raw.get("senders") or {}).get("mismatched"))
    return True, "its sender passed DMARC"


def put_back_needed(message):
    """Whether Cloudflare holds the message out of the Inbox: quarantined, or moved out of it after delivery."""
    statuses = [str(s).lower() for s in message.get("delivery_status") or []]
    return bool(message.get("is_quarantined")) or "quarantined" in statuses or "moved" in statuses


def _campaign(message, hours, now):
    sent = utc_moment(message.get("sent_date")) or now
    reach = datetime.timedelta(hours=hours)
    return {
        "sender": str(message.get("from") or "").lower(),
        "subject": message.get("subject") or "",
        "start": utc_text(sent - reach),
        "end": utc_text(min(sent + reach, now)),
        "detections_only": False,
    }


def decide(report, message, rules, earlier=None, person="", campaign_size=None, now=None):
    """The report's decision: {decision, why, decided_by, verdict, put_back, campaign}. A final decision recorded by
    an earlier run stands; then a person's (``person``), then the rules'. ``campaign_size``: how many messages the
    campaign's search found (at most one more than the cap is asked for)."""
    _check(report, person)
    message = message if isinstance(message, dict) else {}
    base = {
        "verdict": verdict_of(message) if message else None,
        "put_back": put_back_needed(message) if message else False,
        "campaign": None,
    }
    if isinstance(earlier, dict) and earlier.get("decision") in FINAL:
        return _recorded(base, earlier)
    if person:
        decided = dict(base, decision=person, why="the security team checked it", decided_by="person")
    else:
        decision, why = _by_rules(report, message, rules)
        decided = _capped(dict(base, decision=decision, why=why, decided_by="rules"), rules, campaign_size)
    if decided["decision"] == MALICIOUS and message:
        hours = float(rules.get("campaign_hours") or 72)
        decided["campaign"] = _campaign(message, hours, now or datetime.datetime.now(datetime.timezone.utc))
    return decided


def _recorded(base, earlier):
    return dict(
        base,
        decision=earlier["decision"],
        why=earlier.get("why") or "",
        decided_by=earlier.get("decided_by") or "rules",
        campaign=earlier.get("campaign"),
    )


def _check(report, person):
    if not isinstance(report, dict) or not report.get("submission_id"):
        raise TriageError("the report must be a user submission with its submission_id, as the event source emits it")
    if person and person not in PERSON_DECISIONS:
        raise TriageError("decision must be one of %s, not %r" % (", ".join(PERSON_DECISIONS), person))


def _capped(decided, rules, campaign_size):
    """A malicious decision whose campaign is larger than the cap goes to a person."""
    cap = int(rules.get("max_messages") or 0)
    if decided["decision"] == MALICIOUS and campaign_size is not None and campaign_size > cap:
        why = "%s, but its campaign has more than %d messages (max_messages)" % (decided["why"], cap)
        decided.update(decision=NEEDS_PERSON, why=why)
    return decided


def _listed(value, names):
    return value in [str(name).upper() for name in names or []]


def _by_rules(report, message, rules):
    """(decision, why) from the rules alone."""
    if not message:
        return NEEDS_PERSON, "the reported message was not found (%s)" % (report.get("unresolved") or "no message id")
    verdict = verdict_of(message)
    trusted = _trusted(str(message.get("from") or "").strip().lower(), rules)
    malicious = _listed(verdict, rules.get("malicious_verdicts"))
    reported_bad = str(report.get("requested_disposition") or "").upper() not in _NOT_PHISH
    if malicious:
        if trusted:
            return NEEDS_PERSON, "%s, but Cloudflare judged it %s" % (trusted, verdict)
        if reported_bad:
            return MALICIOUS, "Cloudflare judged it %s and an employee reported it" % verdict
    elif trusted:
        return FALSE_ALARM, trusted
    elif reported_bad and _listed(verdict, rules.get("benign_verdicts")):
        return _benign(message, verdict)
    return NEEDS_PERSON, "Cloudflare judged it %s and no rule decides it" % verdict


def _benign(message, verdict):
    authenticated, why = _authenticated(message)
    if authenticated:
        return FALSE_ALARM, "Cloudflare judged it %s and %s" % (verdict, why)
    return NEEDS_PERSON, "Cloudflare judged it %s, but %s" % (verdict, why)
