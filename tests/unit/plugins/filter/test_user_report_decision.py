# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""How an employee's report is decided (issue 43): each rule, in its order, and a final decision that stands."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.mailsec.cloudflare.plugins.filter.user_report_decision import user_report_decision
from ansible_collections.mailsec.cloudflare.plugins.plugin_utils._triage import decide

NOW = datetime.datetime(2026, 12, 7, 12, 0, tzinfo=datetime.timezone.utc)
RULES = dict(
    malicious_verdicts=["MALICIOUS", "MALICIOUS-BEC", "SUSPICIOUS", "SPOOF"],
    benign_verdicts=["BULK"],
    trusted_senders=["ceo@corp.example"],
    trusted_domains=["partner.example"],
    max_messages=50,
    campaign_hours=72,
)
REPORT = {"submission_id": "u1", "requested_by": "dave@corp.example", "requested_disposition": "MALICIOUS"}


def message(sender="x@phish.example", verdict="SUSPICIOUS", dmarc="pass", mismatched=(), **extra):
    base = {
        "id": "M1-2026-12-07T10:00:00-1",
        "from": sender,
        "subject": "Payroll",
        "sent_date": "2026-12-07T10:00:00Z",
        "delivery_status": ["delivered"],
        "detections": {"final_disposition": verdict},
        "raw": {
            "authentication": {"dmarc": dmarc},
            "senders": {"mismatch": bool(mismatched), "mismatched": list(mismatched)},
        },
    }
    base.update(extra)
    return base


@pytest.mark.parametrize(
    "report, read, decision, why",
    [
        (
            dict(REPORT, unresolved="Cloudflare holds no message of postfix id GONE"),
            {},
            "needs_person",
            "the reported message was not found (Cloudflare holds no message of postfix id GONE)",
        ),
        (
            REPORT,
            message(sender="billing@partner.example", verdict="MALICIOUS"),
            "needs_person",
            "its sender's domain partner.example is trusted, but Cloudflare judged it MALICIOUS",
        ),
        (REPORT, message(), "malicious", "Cloudflare judged it SUSPICIOUS and an employee reported it"),
        (
            dict(REPORT, requested_disposition="NONE"),
            message(),
            "needs_person",
            "Cloudflare judged it SUSPICIOUS and no rule decides it",
        ),
        (
            REPORT,
            message(sender="Billing@EU.Partner.example", verdict="SPAM"),
            "false_alarm",
            "its sender's domain eu.partner.example is trusted",
        ),
        (
            REPORT,
            message(sender="ceo@corp.example", verdict="NONE"),
            "false_alarm",
            "its sender ceo@corp.example is trusted",
        ),
        (REPORT, message(verdict="BULK"), "false_alarm", "Cloudflare judged it BULK and its sender passed DMARC"),
        (REPORT, message(verdict="BULK", dmarc="fail"), "needs_person", "Cloudflare judged it BULK, but DMARC fail"),
        (
            REPORT,
            message(verdict="BULK", mismatched=["reply_to"]),
            "needs_person",
            "Cloudflare judged it BULK, but its reply_to on another domain than From",
        ),
        (
            REPORT,
            dict(message(verdict="BULK"), raw=None, unavailable={"raw": "HTTP 404"}),
            "needs_person",
            "Cloudflare judged it BULK, but its sender's authentication is unknown (HTTP 404)",
        ),
        (REPORT, message(verdict="SPAM"), "needs_person", "Cloudflare judged it SPAM and no rule decides it"),
    ],
)
def test_each_rule_in_its_order(report, read, decision, why):
    decided = decide(report, read, RULES, now=NOW)

    assert (decided["decision"], decided["why"], decided["decided_by"]) == (decision, why, "rules")


def test_a_malicious_report_names_its_campaign_within_the_window_and_never_past_now():
    decided = decide(REPORT, message(), RULES, now=NOW)

    assert decided["campaign"] == {
        "sender": "x@phish.example",
        "subject": "Payroll",
        "start": "2026-12-04T10:00:00Z",
        "end": "2026-12-07T12:00:00Z",
        "detections_only": False,
    }


def test_a_campaign_above_the_cap_goes_to_a_person():
    decided = decide(REPORT, message(), RULES, campaign_size=51, now=NOW)

    assert decided["decision"] == "needs_person" and decided["campaign"] is None
    assert decided["why"].endswith("but its campaign has more than 50 messages (max_messages)")
    assert decide(REPORT, message(), RULES, campaign_size=50, now=NOW)["decision"] == "malicious"


def test_a_final_decision_stands_over_the_rules_and_a_later_person():
    earlier = {
        "decision": "false_alarm",
        "why": "the security team checked it",
        "decided_by": "person",
        "campaign": None,
    }

    decided = decide(REPORT, message(verdict="MALICIOUS"), RULES, earlier=earlier, person="malicious", now=NOW)

    assert (decided["decision"], decided["decided_by"]) == ("false_alarm", "person")


def test_a_person_decides_a_report_waiting_for_one():
    earlier = {"decision": "needs_person", "why": "no rule decides it"}

    decided = decide(REPORT, message(verdict="SPAM", is_quarantined=True), RULES, earlier=earlier, person="false_alarm")

    assert (decided["decision"], decided["decided_by"], decided["put_back"]) == ("false_alarm", "person", True)
    assert decided["why"] == "the security team checked it"


@pytest.mark.parametrize(
    "status, quarantined, put_back",
    [(["delivered"], False, False), (["moved"], False, True), (["quarantined"], True, True), ([], True, True)],
)
def test_put_back_when_cloudflare_holds_it_out_of_the_inbox(status, quarantined, put_back):
    read = message(verdict="NONE", sender="ceo@corp.example", delivery_status=status, is_quarantined=quarantined)

    assert decide(REPORT, read, RULES, now=NOW)["put_back"] is put_back


@pytest.mark.parametrize(
    "report, person, error",
    [
        ({}, "", "must be a user submission with its submission_id"),
        (REPORT, "release", "decision must be one of malicious, false_alarm, no_action"),
    ],
)
def test_bad_input_is_named(report, person, error):
    with pytest.raises(AnsibleFilterError, match=error):
        user_report_decision(report, message(), RULES, person=person)
