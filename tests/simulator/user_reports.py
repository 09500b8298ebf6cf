# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Employees' reports arriving on a schedule, as Cloudflare lists user submissions, and the mail they report.

A report is a user submission whose ``requested_at`` lies ahead: the list serves it once that moment has passed,
which is when an employee would have pressed the report button. ``triage_scenario`` is the triage loop's account:
a phish campaign that got through, reported by three of its five recipients; a newsletter reported as phish; and a
partner's invoice Cloudflare moved to Junk, reported as not phish.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from .messages import Message
from .reports import new_submission

CAMPAIGN_SENDER = "payroll@c0ntoso-hr.example"
CAMPAIGN_SUBJECT = "Action required: confirm your payroll details"
NEWSLETTER_SENDER = "news@weekly-digest.example"
PARTNER_DOMAIN = "northwind-supplies.example"


def _text(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def user_report(submission_id, requested_at, reporter, message=None, postfix=None, requested="MALICIOUS"):
    """An employee's report (a user submission) of ``message``, or of a postfix id Cloudflare does not hold."""
    return new_submission(
        submission_id,
        requested_at,
        postfix or message.postfix_id,
        message.final_disposition if message is not None and message.final_disposition != "NONE" else None,
        requested,
        message.subject if message is not None else "",
        kind="User",
        requested_by=reporter,
    )


def _message(postfix, sent, sender, recipient, subject, disposition):
    return Message(
        "%s-%s-%s" % (postfix, sent.strftime("%Y-%m-%dT%H:%M:%S"), postfix[-4:]),
        sender,
        [recipient],
        subject,
        _text(sent),
        disposition,
        False,
    )


def triage_scenario(now, first_report_after=0, spacing=3):
    """(messages, reports): the account the triage loop runs against. Reports arrive ``first_report_after``
    seconds from ``now`` and ``spacing`` seconds apart, in the order campaign (three), newsletter, partner."""
    sent = now - datetime.timedelta(hours=2)
    campaign = []
    for n, person in enumerate(["dave", "erin", "frank", "gina", "hal"]):
        message = _message(
            "PAYROLL%09d" % n, sent, CAMPAIGN_SENDER, "%s@corp.example" % person, CAMPAIGN_SUBJECT, "SUSPICIOUS"
        )
        message.mark_never_quarantined()
        message.evidence = {
            "spf": "softfail",
            "dkim": "none",
            "dmarc": "fail",
            "reply_to": "hr-desk@c0ntoso-hr-payroll.example",
            "links": ["https://login.c0ntoso-hr.example/payroll"],
        }
        campaign.append(message)
    newsletter = _message(
        "NEWSLTR000000001", sent, NEWSLETTER_SENDER, "ivan@corp.example", "This week in cloud", "BULK"
    )
    newsletter.mark_never_quarantined()
    partner = _message(
        "NWINVOICE0000001", sent, "invoices@%s" % PARTNER_DOMAIN, "judy@corp.example", "Invoice 2231", "SPAM"
    )
    partner.mark_never_quarantined()
    partner.auto_move("JunkEmail")

    def at(order):
        return _text(now + datetime.timedelta(seconds=first_report_after + order * spacing))

    reports = [
        user_report("report-dave", at(0), "Dave@corp.example", campaign[0]),
        user_report("report-erin", at(1), "erin@corp.example", campaign[1]),
        user_report("report-frank", at(2), "frank@corp.example", campaign[2]),
        user_report("report-ivan", at(3), "ivan@corp.example", newsletter),
        user_report("report-judy", at(4), "judy@corp.example", partner, requested="NONE"),
    ]
    return campaign + [newsletter, partner], reports
