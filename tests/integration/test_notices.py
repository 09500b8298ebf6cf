# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Everyone around an incident is told (issue 41): the ticket (a ServiceNow stand-in), the channel (a webhook
receiver), the requester and the recipients (a real SMTP server); each notice once; a failed notice never fails the
release; the mail's words stay text in every medium; every write carries Cloudflare's ray id; no secret shows."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import json
import os
import re

import cmarkgfm
import pytest
from conftest import COLLECTION_ROOT, COLLECTIONS_PATH, PHISH_SENDER, ansible_env, moment, run_playbook
from test_awx import artifacts_text, run_job

from tests.notice_servers import NoticeReceiver, SmtpServer
from tests.simulator import Message

TICKET = "INC0012345"
SMTP_PASSWORD = "smtp-Secr3t-41b0"
HOSTILE_SUBJECT = "[Reset your password](https://evil.example) <https://evil.example|click> <img src=x> a | b"
HOSTILE_NAME = "<b>IT</b> [Help](https://evil.example) | desk"
RECIPIENTS = ["alice@corp.example", "bob@corp.example", "carol@corp.example"]
# Where a run of the tests leaves the work note, an e-mail and the channel message as received, for a person to read.
DUMP = os.environ.get("MAILSEC_NOTICES_DUMP")
PHISH_PLAYBOOK = os.path.join(COLLECTION_ROOT, "playbooks", "phish_remediation.yml")


@pytest.fixture(autouse=True)
def community_general():
    if not os.path.exists(os.path.join(COLLECTIONS_PATH, "ansible_collections", "community", "general")):
        pytest.fail(
            "community.general is not beside the collection under test: run "
            "python tests/tools/community_general.py %s (make test does)" % COLLECTIONS_PATH
        )


@pytest.fixture
def receiver():
    with NoticeReceiver(tickets=(TICKET,)) as running:
        yield running


@pytest.fixture
def smtp():
    with SmtpServer(login=("mailsec", SMTP_PASSWORD)) as running:
        yield running


def _incident(sim):
    messages = [
        Message("NOTICE%010d-%s-%d" % (n, moment(2)[:-1], n), sender, [recipient], subject, moment(2), "SPAM")
        for n, (sender, recipient, subject) in enumerate(
            [
                ("helpdesk@it-support.example", RECIPIENTS[0], HOSTILE_SUBJECT),
                ("billing@vendor.example", RECIPIENTS[1], "Invoice 7"),
                ("billing@vendor.example", RECIPIENTS[2], "Invoice 8"),
            ]
        )
    ]
    messages[0].evidence = {"from_name": HOSTILE_NAME}
    sim.state.add_messages(messages)
    return [m.id for m in messages]


def _tell(
    sim,
    tmp_path,
    receiver,
    smtp,
    ids,
    steps=("ticket", "channel", "requester", "recipients"),
    cmdline=None,
    smtp_port=None,
):
    variables = {
        "message_ids": "\n".join(ids),
        "reason": "Vendor invoices held by a new rule",
        "ticket": TICKET,
        "tell": list(steps),
        "requester_email": "oncall.analyst@corp.example",
        "notices_smtp_port": smtp_port or smtp.port,
        "notices_smtp_username": "mailsec",
        "notices_smtp_secure": "never",
    }
    return run_job(
        sim,
        tmp_path,
        "release_messages.yml",
        variables,
        cmdline=cmdline,
        extra_env={
            "SN_HOST": receiver.base_url,
            "SN_USERNAME": receiver.username,
            "SN_PASSWORD": receiver.password,
            "MAILSEC_CHANNEL_WEBHOOK_URL": receiver.webhook_url,
            "MAILSEC_SMTP_HOST": "127.0.0.1",
            "MAILSEC_SMTP_PASSWORD": SMTP_PASSWORD,
            "MAILSEC_EMAIL_FROM": "secops-automation@corp.example",
        },
    )


def _report(tmp_path):
    reports = [p for p in glob.glob(str(tmp_path / "reports" / "*.json")) if not p.endswith("/notices.json")]
    with open(sorted(reports)[-1], encoding="utf-8") as source:
        return json.load(source)


def test_a_release_tells_the_ticket_the_channel_and_the_people_once_with_the_mails_words_as_text(
    sim, tmp_path, receiver, smtp
):
    ids = _incident(sim)

    runner = _tell(sim, tmp_path, receiver, smtp, ids)

    output = runner.stdout.read()
    assert runner.status == "successful", output
    assert sim.state.deliveries() == dict.fromkeys(ids, 1)
    ticket = receiver.tickets[TICKET]
    assert len(ticket["work_notes"]) == 1
    note = ticket["work_notes"][0]
    assert "Quarantine release %s: 3 message(s) released" % TICKET in note
    assert sorted(a["file_name"] for a in receiver.attachments) == sorted(
        os.path.basename(p) for p in glob.glob(str(tmp_path / "reports" / "quarantine-release-*")) if os.path.isfile(p)
    )
    assert all(a["table_sys_id"] == ticket["sys_id"] for a in receiver.attachments)
    assert len(receiver.webhook_posts) == 1
    assert sorted(tuple(m["to"]) for m in smtp.messages) == sorted(
        [("oncall.analyst@corp.example",)] + [(r,) for r in RECIPIENTS]
    )

    # Every write result, and the work note, carries the ray id of the release's answer as the simulator sent it.
    report = _report(tmp_path)
    release_rays = {e["cf_ray"] for e in sim.state.requests(endpoint="release")}
    assert len(release_rays) == 1
    assert {r["cf_ray"] for r in report["results"]} == release_rays
    assert release_rays.pop() in note
    assert {n["notice"]: n["status"] for n in report["notices"]} == {
        "ticket": "sent",
        "channel": "sent",
        "requester": "sent",
        **{"recipient:%s" % r: "sent" for r in RECIPIENTS},
    }

    # The mail's words, as each receiver got them: text, never a link, an image, HTML or a table's end.
    slack = receiver.webhook_posts[0]["text"]
    assert "<https://" not in slack and "<img" not in slack and "&lt;img src=x&gt;" in slack
    assert "evil[.]example" in slack and "hxxps://" in slack
    assert "evil.example" not in note and "[code]" not in note
    assert "<b>IT</b>" not in slack
    letters = {m["to"][0]: m["message"] for m in smtp.messages}
    alice = letters[RECIPIENTS[0]].get_body(("plain",)).get_content()
    assert "evil.example" not in alice and "hxxps://evil[.]example" in alice
    assert letters[RECIPIENTS[0]]["Subject"] == "1 message(s) to you released (%s)" % TICKET
    # Plain text only: no HTML part a mail client would render.
    assert [part.get_content_type() for part in letters[RECIPIENTS[0]].walk() if not part.is_multipart()] == [
        "text/plain"
    ]

    # The report's tables carry the ray id, and show the hostile words as text (GitHub's renderer).
    markdown = open(
        sorted(glob.glob(str(tmp_path / "reports" / "quarantine-release-*.md")))[-1], encoding="utf-8"
    ).read()
    rendered = cmarkgfm.github_flavored_markdown_to_html(markdown)
    assert report["results"][0]["cf_ray"] in markdown
    assert "<a " not in rendered and "<b>IT</b>" not in rendered
    # The only images are the evidence's screenshots, beside the report.
    assert all(".evidence/" in source for source in re.findall(r'<img src="([^"]+)"', rendered))
    if DUMP:
        with open(os.path.join(DUMP, "work_note.txt"), "w", encoding="utf-8") as target:
            target.write(note)
        with open(os.path.join(DUMP, "email_alice.eml"), "wb") as target:
            target.write(next(m["raw"] for m in smtp.messages if m["to"] == [RECIPIENTS[0]]))
        with open(os.path.join(DUMP, "slack.json"), "w", encoding="utf-8") as target:
            json.dump(receiver.webhook_posts[0], target, indent=2)

    again = _tell(sim, tmp_path, receiver, smtp, ids)
    assert again.status == "successful", again.stdout.read()
    assert len(ticket["work_notes"]) == 1 and len(receiver.webhook_posts) == 1 and len(smtp.messages) == 4
    assert {n["status"] for n in _report(tmp_path)["notices"]} == {"already sent"}


def test_a_notice_that_fails_is_a_line_in_the_report_and_the_release_stands(sim, tmp_path, receiver, smtp):
    ids = _incident(sim)
    receiver.webhook_status = 500
    closed_port = smtp.port
    smtp.stop()

    runner = _tell(sim, tmp_path, receiver, smtp, ids, steps=("channel", "requester"), smtp_port=closed_port)

    output = runner.stdout.read()
    assert runner.status == "successful", output
    assert sim.state.deliveries() == dict.fromkeys(ids, 1)
    told = {n["notice"]: n for n in _report(tmp_path)["notices"]}
    assert told["channel"]["status"] == "failed" and "HTTP 500" in told["channel"]["detail"]
    assert told["requester"]["status"] == "failed" and "Connection refused" in told["requester"]["detail"]
    assert "not sent" in output
    assert receiver.webhook_url not in output


def test_no_secret_shows_at_the_highest_verbosity(sim, tmp_path, receiver, smtp):
    ids = _incident(sim)

    runner = _tell(sim, tmp_path, receiver, smtp, ids, cmdline="-vvv")

    assert runner.status == "successful"
    text = artifacts_text(runner)
    for name in glob.glob(str(tmp_path / "reports" / "**" / "*"), recursive=True):
        if os.path.isfile(name):
            with open(name, "rb") as source:
                text += source.read().decode("utf-8", "replace")
    for secret in (sim.state.api_token, receiver.webhook_path, SMTP_PASSWORD, receiver.password):
        assert secret not in text
    assert re.search(r"work note added to incident %s" % TICKET, text)


def test_a_phish_remediation_tells_the_ticket_and_the_channel_once_and_every_move_carries_its_ray_id(
    campaign_sim, tmp_path, receiver
):
    env = ansible_env(
        campaign_sim,
        tmp_path,
        SN_HOST=receiver.base_url,
        SN_USERNAME=receiver.username,
        SN_PASSWORD=receiver.password,
        MAILSEC_CHANNEL_WEBHOOK_URL=receiver.webhook_url,
    )
    variables = dict(
        sender=PHISH_SENDER,
        start=moment(3),
        reason="invoice phish reported by users",
        ticket=TICKET,
        report_dir=str(tmp_path / "reports"),
        tell=["ticket", "channel"],
        notices_channel_kind="teams",
    )

    first = run_playbook(PHISH_PLAYBOOK, tmp_path, env, variables)
    again = run_playbook(PHISH_PLAYBOOK, tmp_path, env, variables)

    assert first.returncode == 0, first.output
    assert again.returncode == 0, again.output
    assert len(receiver.tickets[TICKET]["work_notes"]) == 1 and len(receiver.webhook_posts) == 1
    note = receiver.tickets[TICKET]["work_notes"][0]
    assert "Phish remediation %s: 5 message(s) moved to DeletedItems" % TICKET in note
    card = receiver.webhook_posts[0]["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    report = _report(tmp_path)
    move_rays = {e["cf_ray"] for e in campaign_sim.state.requests(endpoint="move")}
    reports = sorted(glob.glob(str(tmp_path / "reports" / "phish-remediation-*.json")))
    first_report = json.loads(open(reports[0], encoding="utf-8").read())
    assert {r["cf_ray"] for r in first_report["results"]} == move_rays and all(ray in note for ray in move_rays)
    assert {n["status"] for n in report["notices"]} == {"already sent"}


def test_a_preview_tells_the_ticket_and_the_channel_that_it_awaits_approval_and_mails_nobody(
    sim, tmp_path, receiver, smtp
):
    ids = _incident(sim)

    runner = _tell(sim, tmp_path, receiver, smtp, ids, cmdline="--check")

    assert runner.status == "successful", runner.stdout.read()
    assert sim.state.deliveries() == {}
    note = receiver.tickets[TICKET]["work_notes"][0]
    assert "3 message(s) would be released (check mode, nothing changed)" in note
    assert len(receiver.webhook_posts) == 1 and smtp.messages == []
    # The preview's notices are their own: the real run that follows tells the ticket and the channel again.
    assert {n["notice"] for n in _report(tmp_path)["notices"]} == {"ticket", "channel"}
