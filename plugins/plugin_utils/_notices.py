# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What a runbook run tells the people around the incident, written for each medium: the ticket's work note, the
channel's message (Slack or Teams), the requester's e-mail and each affected recipient's.

A run is described by a plain dict (see ``notice_message``'s documentation): the runbook, what it did, the ticket,
the messages with their status, sender, subject and Cloudflare ray id. The collection's own words are written as
they are; every word from the mail (sender, subject) goes through the medium's escaping.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mailsec.cloudflare.plugins.plugin_utils._escaping import (
    defanged,
    plain,
    servicenow_text,
    slack_text,
    teams_text,
)

MEDIA = ("servicenow", "slack", "teams", "email", "recipient", "reporter")
# The most message rows a work note or a channel message lists; the report has them all.
_MAX_ROWS = 50
_DEFANG_NOTE = "Addresses and links from the mail are written with [.] and hxxp so that nothing in them is live."


def _headline(run):
    what = "would be %s (check mode, nothing changed)" % run["verb"] if run.get("check_mode") else run["verb"]
    return "%s %s: %d message(s) %s" % (
        run.get("title") or run.get("runbook"),
        run.get("ticket") or "(no ticket)",
        len(_acted_on(run)),
        what,
    )


def _messages(run):
    """One row per result: its id, status and ray id, with the sender and subject of the message read, and the
    recipients it was delivered (or moved) to."""
    read = {m.get("id"): m for m in run.get("messages") or [] if isinstance(m, dict)}
    rows = []
    for result in run.get("results") or []:
        if not isinstance(result, dict):
            continue
        message = read.get(result.get("id"), {})
        rows.append(
            dict(
                id=result.get("id"),
                status=result.get("status"),
                cf_ray=result.get("cf_ray"),
                sender=_sender(message),
                subject=message.get("subject"),
                recipients=result.get("delivered") or result.get("moved") or [],
            )
        )
    return rows


def _sender(message):
    """The sender as a mail client shows it: the display name (when it is more than the address's local part) and
    the address."""
    address, name = message.get("from"), message.get("from_name")
    if name and address and name != address.split("@", 1)[0]:
        return "%s <%s>" % (name, address)
    return address


def _acted_on(run):
    return [m for m in _messages(run) if m["status"] in run.get("acted_statuses", ())]


def _facts(run):
    facts = [("requested by", run.get("requested_by") or "unknown"), ("reason", run.get("reason") or "(none given)")]
    if run.get("job"):
        facts.append(("AWX job", run["job"]))
    facts.extend((name, count) for name, count in sorted((run.get("counts") or {}).items()))
    return facts


def _rows(run, escape):
    rows = []
    messages = _messages(run)
    for message in messages[:_MAX_ROWS]:
        rows.append(
            "%s | %s | %s | %s | ray %s"
            % (
                plain(message["id"]),
                plain(message["status"]),
                escape(message["sender"]),
                escape(message["subject"]),
                plain(message["cf_ray"]) or "-",
            )
        )
    left = len(messages) - _MAX_ROWS
    if left > 0:
        rows.append("... and %d more in the report" % left)
    return rows


def work_note(run):
    """The ServiceNow work note: plain text, one line per message, marked with the notice's key."""
    lines = [_headline(run), ""]
    # The facts are the operator's words (who, why), not the mail's: escaped for the medium, never defanged.
    lines += ["%s: %s" % (name, servicenow_text(value, defang=False)) for name, value in _facts(run)]
    lines += ["", "message | status | from | subject | Cloudflare ray id"]
    lines += _rows(run, servicenow_text)
    lines += ["", _DEFANG_NOTE]
    if run.get("reports"):
        lines.append("The report is attached: %s." % ", ".join(plain(r).rsplit("/", 1)[-1] for r in run["reports"]))
    lines.append("[mailsec.cloudflare notice %s]" % plain(run.get("key")))
    return "\n".join(lines)


def slack_message(run):
    """A Slack incoming webhook's payload: a short summary in mrkdwn, every word from the mail escaped."""
    lines = ["*%s*" % slack_text(_headline(run))]
    lines += ["%s: %s" % (name, slack_text(value, defang=False)) for name, value in _facts(run)]
    lines += _rows(run, slack_text)[:10]
    return {"text": "\n".join(lines), "unfurl_links": False, "unfurl_media": False}


def teams_message(run):
    """A Teams incoming webhook's (Workflows) payload: an Adaptive Card, every word from the mail escaped."""
    body = [{"type": "TextBlock", "text": teams_text(_headline(run)), "weight": "Bolder", "wrap": True}]
    body.append(
        {
            "type": "FactSet",
            "facts": [{"title": name, "value": teams_text(value, defang=False)} for name, value in _facts(run)],
        }
    )
    body += [{"type": "TextBlock", "text": row, "wrap": True} for row in _rows(run, teams_text)[:10]]
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    return {
        "type": "message",
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}],
    }


def requester_email(run):
    """The requester's e-mail: a subject of the collection's own words, a plain-text body."""
    lines = [_headline(run), ""]
    lines += ["%s: %s" % (name, plain(value)) for name, value in _facts(run)]
    lines += ["", "message | status | from | subject | Cloudflare ray id"]
    lines += _rows(run, defanged)
    lines += ["", _DEFANG_NOTE]
    if run.get("reports"):
        lines.append("The report: %s" % ", ".join(plain(r) for r in run["reports"]))
    return {"subject": plain(_headline(run)), "body": "\n".join(lines) + "\n"}


def recipient_email(run, recipient):
    """One affected recipient's e-mail: each of their messages that was released or moved back."""
    theirs = [m for m in _acted_on(run) if recipient in m["recipients"]]
    lines = ["Hello,", ""]
    for message in theirs:
        lines.append(
            '- a message from %s to you, "%s", was %s.'
            % (defanged(message["sender"]), defanged(message["subject"]), run["verb"])
        )
    lines += [
        "",
        "Cloudflare Email Security had held it by mistake; it is in your Inbox now.",
        "Ticket: %s" % (plain(run.get("ticket")) or "(none)"),
        "",
        _DEFANG_NOTE,
    ]
    subject = "%d message(s) to you %s (%s)" % (len(theirs), run["verb"], plain(run.get("ticket")) or "no ticket")
    return {"subject": subject, "body": "\n".join(lines) + "\n", "count": len(theirs)}


# What the reporter is told of each decision: the collection's own words.
_OUTCOMES = {
    "malicious": "It was phishing. It has been taken out of every mailbox it reached (moved to %(destination)s), "
    "its sender is blocked, and Cloudflare has been told.",
    "false_alarm": "It is safe: %(why)s. Nothing needed to be done.",
    "put_back": "It is safe: %(why)s. Cloudflare Email Security had held it or moved it out of your Inbox by "
    "mistake; it is back in your Inbox now.",
    "no_action": "The security team looked at it and decided that nothing needs to be done.",
}
_SUBJECTS = {
    "malicious": "it was phishing and has been removed",
    "false_alarm": "it is safe",
    "put_back": "it is safe and back in your Inbox",
    "no_action": "the security team has looked at it",
}


def reporter_email(run):
    """The answer to an employee who reported a message: what was decided and done, once the decision is final."""
    decision = "put_back" if run.get("decision") == "false_alarm" and run.get("put_back") else run.get("decision")
    if decision not in _OUTCOMES:
        raise ValueError("a reporter is answered once a report is decided, not while it is %r" % decision)
    reported = run.get("reported") or {}
    outcome = _OUTCOMES[decision] % {
        "destination": plain(run.get("destination")) or "Deleted Items",
        "why": defanged(run.get("why")) or "the security team found nothing wrong with it",
    }
    lines = [
        "Hello,",
        "",
        'You reported a message from %s, "%s"%s.'
        % (
            defanged(reported.get("from")) or "an unknown sender",
            defanged(reported.get("subject")),
            ", received %s" % plain(reported.get("sent_date")) if reported.get("sent_date") else "",
        ),
        "",
        outcome,
        "",
        "Thank you for reporting it.",
        "Reference: user report %s" % plain(reported.get("submission_id")),
        "",
        _DEFANG_NOTE,
    ]
    return {"subject": "Your report of a suspicious message: %s" % _SUBJECTS[decision], "body": "\n".join(lines) + "\n"}


def affected_recipients(run):
    """Every recipient of a message the run acted on, in order of first appearance."""
    seen = []
    for message in _acted_on(run):
        for recipient in message["recipients"]:
            if recipient not in seen:
                seen.append(recipient)
    return seen
