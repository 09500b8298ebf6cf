# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a run tells each medium, and the mail's words kept as text in every one of them."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.mailsec.cloudflare.plugins.filter.notice_message import notice_message
from ansible_collections.mailsec.cloudflare.plugins.plugin_utils._escaping import (
    defanged,
    servicenow_text,
    slack_text,
    teams_text,
)

HOSTILE = (
    "[Reset](https://evil.example) <https://evil.example|click> <img src=x> [code]<b>x</b>[/code] a | b <!channel>"
)


def run(**extra):
    base = dict(
        runbook="quarantine_release",
        title="Quarantine release",
        verb="released",
        acted_statuses=["released"],
        check_mode=False,
        ticket="INC0012345",
        reason="false positives",
        requested_by="oncall.analyst",
        job=4242,
        counts={"released": 2},
        key="quarantine_release:INC0012345:abcd:ticket",
        reports=["/srv/reports/quarantine-release-INC0012345.md"],
        results=[
            {"id": "m1", "status": "released", "cf_ray": "0000000000000001-SJC", "delivered": ["alice@corp.example"]},
            {"id": "m2", "status": "released", "cf_ray": "0000000000000001-SJC", "delivered": ["bob@corp.example"]},
            {"id": "m3", "status": "not_found", "cf_ray": None},
        ],
        messages=[
            {"id": "m1", "from": "it@evil.example", "from_name": "<b>IT</b> | desk", "subject": HOSTILE},
            {"id": "m2", "from": "billing@vendor.example", "subject": "Invoice 7"},
        ],
    )
    base.update(extra)
    return base


@pytest.mark.parametrize(
    "escape, forbidden, domain",
    [
        (slack_text, ["<https://", "<img", "<!channel>", "https://evil.example"], "evil[.]example"),
        # Markdown escapes: every < and [ shows as itself.
        (teams_text, ["](https://", "https://evil.example", " <img"], "evil\\[.\\]example"),
        (servicenow_text, ["[code]", "https://evil.example"], "evil[.]example"),
        (defanged, ["https://evil.example", "evil.example"], "evil[.]example"),
    ],
)
def test_each_medium_gets_the_mails_words_as_text(escape, forbidden, domain):
    text = escape(HOSTILE)

    for markup in forbidden:
        assert markup not in text
    assert domain in text


def test_the_work_note_lists_every_message_with_its_ray_id_and_names_its_key():
    note = notice_message(run(), "servicenow")

    assert note.splitlines()[0] == "Quarantine release INC0012345: 2 message(s) released"
    assert "m1 | released | [ b ]IT" not in note and "ray 0000000000000001-SJC" in note
    assert "m3 | not_found |  |  | ray -" in note
    assert "[code]" not in note and "evil.example" not in note
    assert note.endswith("[mailsec.cloudflare notice quarantine_release:INC0012345:abcd:ticket]")


def test_each_recipient_is_told_only_of_their_own_messages():
    assert notice_message(run(), "recipients") == ["alice@corp.example", "bob@corp.example"]
    letter = notice_message(run(), "recipient", recipient="bob@corp.example")

    assert letter["count"] == 1 and "Invoice 7" in letter["body"] and "evil" not in letter["body"]
    assert letter["subject"] == "1 message(s) to you released (INC0012345)"


def test_a_preview_says_what_would_be_done():
    assert notice_message(run(check_mode=True, acted_statuses=["would_release"]), "slack")["text"].startswith(
        "*Quarantine release INC0012345: 0 message(s) would be released (check mode, nothing changed)*"
    )


def test_teams_gets_an_adaptive_card():
    card = notice_message(run(), "teams")["attachments"][0]

    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["type"] == "AdaptiveCard" and card["content"]["body"][0]["weight"] == "Bolder"


def test_an_unknown_medium_or_a_missing_recipient_is_refused():
    with pytest.raises(AnsibleFilterError, match="medium"):
        notice_message(run(), "fax")
    with pytest.raises(AnsibleFilterError, match="recipient"):
        notice_message(run(), "recipient")


def reporter_run(decision, **extra):
    base = dict(
        runbook="user_report_triage",
        decision=decision,
        why="Cloudflare judged it BULK and its sender passed DMARC",
        put_back=False,
        destination="DeletedItems",
        reporter="dave@corp.example",
        reported={
            "from": "x@evil.example",
            "subject": HOSTILE,
            "sent_date": "2026-12-07T10:00:00Z",
            "submission_id": "u1",
        },
        results=[],
    )
    base.update(extra)
    return base


@pytest.mark.parametrize(
    "decision, extra, subject, says",
    [
        ("malicious", {}, "it was phishing and has been removed", "moved to DeletedItems"),
        ("false_alarm", {}, "it is safe", "It is safe: Cloudflare judged it BULK and its sender passed DMARC."),
        ("false_alarm", {"put_back": True}, "it is safe and back in your Inbox", "it is back in your Inbox now"),
        ("no_action", {}, "the security team has looked at it", "decided that nothing needs to be done"),
    ],
)
def test_the_reporter_is_told_the_outcome_with_the_mails_words_defanged(decision, extra, subject, says):
    letter = notice_message(reporter_run(decision, **extra), "reporter")

    assert letter["subject"] == "Your report of a suspicious message: " + subject
    assert says in letter["body"] and "Reference: user report u1" in letter["body"]
    assert "x@evil[.]example" in letter["body"] and "evil.example" not in letter["body"]


def test_a_reporter_is_not_told_while_a_person_decides():
    with pytest.raises(AnsibleFilterError, match="once a report is decided"):
        notice_message(reporter_run("needs_person"), "reporter")
