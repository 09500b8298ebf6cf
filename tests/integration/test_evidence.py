# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Evidence for the approver (issue 40): the release runbook's preview, as AWX runs it, reads each message's
screenshot and EML, says in one line per message who really sent it and where its links go, and writes an evidence
page a person opens, here in a real browser."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import hashlib
import html
import json
import os
import re
import shutil
import stat

import cmarkgfm
from conftest import moment
from test_awx import artifacts_text, run_job, stats_data

from tests.browser import IMAGE_COLOURS, IMAGES, Browser
from tests.simulator import Message

PHISH_SUBJECT = "[Reset your password](https://evil.example) <img src=x onerror=alert(1)> | urgent"
PHISH_HTML = (
    "<script>document.title='pwned'</script><p>Your mailbox is full.</p>"
    '<a href="https://c0ntoso-payments.example/login">Log in</a>'
    '<img src="https://tracker.example/pixel.gif"><a href="https://login.c0ntoso-payments.example/verify">Verify</a>'
)
# Where the browser test leaves the page's screenshot for a person to look at.
SCREENSHOT_COPY = os.environ.get("MAILSEC_EVIDENCE_SCREENSHOT")


def _evidence_sim(sim):
    phish = Message(
        "PHISHev0000001-%s-1" % moment(2)[:-1],
        "billing@contoso-payments.example",
        ["alice@corp.example"],
        PHISH_SUBJECT,
        moment(2),
        "MALICIOUS",
    )
    phish.evidence = {
        "spf": "softfail",
        "dkim": "none",
        "dmarc": "fail",
        "from_name": "Contoso Billing",
        "reply_to": "pay@c0ntoso-payments.example",
        "text": "Your mailbox is full. Log in: https://c0ntoso-payments.example/login",
        "html": PHISH_HTML,
        "links": ["https://c0ntoso-payments.example/login"],
        "attachments": [{"name": "invoice.pdf", "content_type": "application/pdf", "content": "%PDF-1.4 fake"}],
    }
    clean = Message(
        "CLEANev0000002-%s-2" % moment(2)[:-1],
        "events@partner-events.example",
        ["bob@corp.example"],
        "Your December events digest",
        moment(2),
        "BULK",
    )
    held = Message(
        "HELDev00000003-%s-3" % moment(2)[:-1],
        "someone@blocked-by-policy.example",
        ["carol@corp.example"],
        "Held by a block policy",
        moment(2),
        "NONE",
    )
    sim.state.add_messages([phish, clean, held])
    return phish.id, clean.id, held.id


def _preview(sim, tmp_path, ids):
    return run_job(
        sim,
        tmp_path,
        "release_messages.yml",
        {"message_ids": "\n".join(ids), "reason": "Suspected false positives", "ticket": "INC-4040"},
        cmdline="--check",
    )


def test_the_preview_shows_who_really_sent_each_message_and_saves_its_evidence(sim, tmp_path):
    phish_id, clean_id, held_id = _evidence_sim(sim)

    runner = _preview(sim, tmp_path, [phish_id, clean_id, held_id])

    output = runner.stdout.read()
    assert runner.status == "successful", output
    assert sim.state.deliveries() == {}
    shown = re.sub(r"\x1b\[[0-9;]*m", "", output)
    lines = [line.strip().strip('",') for line in shown.splitlines() if line.strip().startswith('"')]
    phish_line = next(line for line in lines if line.startswith(phish_id))
    assert phish_line == (
        "%s | billing@contoso-payments.example | MALICIOUS | SPF softfail DKIM none DMARC fail"
        " | mismatch: reply-to c0ntoso-payments.example"
        " | links: c0ntoso-payments.example, tracker.example, login.c0ntoso-payments.example | attachments: 1"
        % phish_id
    )
    clean_line = next(line for line in lines if line.startswith(clean_id))
    assert clean_line == (
        "%s | events@partner-events.example | BULK | SPF pass DKIM pass DMARC pass | senders aligned"
        " | links: www.partner-events.example" % clean_id
    )
    held_line = next(line for line in lines if line.startswith(held_id))
    assert "evidence unavailable: no detection" in held_line

    report_path = sorted(glob.glob(str(tmp_path / "reports" / "*.json")))[-1]
    with open(report_path, encoding="utf-8") as source:
        report = json.load(source)
    evidence = {entry["id"]: entry for entry in report["evidence"]}
    assert sorted(evidence) == sorted([phish_id, clean_id, held_id])
    phish = evidence[phish_id]
    assert phish["raw"]["authentication"]["dmarc"] == "fail"
    assert phish["raw"]["senders"]["mismatched"] == ["reply_to"]
    assert phish["raw"]["attachments"][0]["name"] == "invoice.pdf"
    assert "no detection" in evidence[held_id]["unavailable"]["preview"]
    assert "no detection" in evidence[held_id]["unavailable"]["raw"]

    directory = report_path[: -len(".json")] + ".evidence"
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    for entry in (evidence[phish_id], evidence[clean_id]):
        for part in ("preview", "raw"):
            record = entry[part]
            assert os.path.dirname(record["path"]) == directory
            assert stat.S_IMODE(os.stat(record["path"]).st_mode) == 0o600
            with open(record["path"], "rb") as source:
                data = source.read()
            assert hashlib.sha256(data).hexdigest() == record["sha256"] and len(data) == record["size"]
    page = report_path[: -len(".json")] + ".evidence.html"
    assert stat.S_IMODE(os.stat(page).st_mode) == 0o600

    markdown = open(report_path[: -len(".json")] + ".md", encoding="utf-8").read()
    assert "## Evidence" in markdown and "DMARC fail" in markdown
    # As GitHub renders it: the screenshots are the only images, and the subject's link is none.
    rendered = cmarkgfm.github_flavored_markdown_to_html(markdown)
    assert re.findall(r'<img src="([^"]+)"', rendered) == [
        os.path.relpath(evidence[message_id]["preview"]["path"], str(tmp_path / "reports"))
        for message_id in (phish_id, clean_id)
    ]
    assert "<a " not in rendered and PHISH_SUBJECT in html.unescape(re.sub("<!--.*?-->", "", rendered))

    stats = stats_data(runner)["quarantine_release"]["evidence"]
    assert (stats["messages"], stats["dmarc_fail"], stats["sender_mismatch"]) == (3, 1, 1)
    assert stats["page"] == page and phish_line in stats["lines"]

    # The evidence costs two requests a message beyond the preview's reads (the two clean of detection cost none).
    evidence_reads = [
        entry
        for entry in sim.state.ledger("request")
        if entry["endpoint"] == "message_part" and entry["path"].rsplit("/", 1)[1] in ("preview", "raw")
    ]
    assert len(evidence_reads) == 4

    everything = artifacts_text(runner)
    for name in glob.glob(str(tmp_path / "reports" / "**" / "*"), recursive=True):
        if os.path.isfile(name):
            with open(name, "rb") as source:
                everything += source.read().decode("utf-8", "replace")
    assert sim.state.api_token not in everything


def test_the_evidence_page_opens_in_a_browser_with_nothing_run_or_loaded(sim, tmp_path):
    phish_id, clean_id, held_id = _evidence_sim(sim)
    runner = _preview(sim, tmp_path, [phish_id, clean_id, held_id])
    assert runner.status == "successful", runner.stdout.read()
    page = sorted(glob.glob(str(tmp_path / "reports" / "*.evidence.html")))[-1]

    with Browser() as browser:
        visit = browser.visit(
            page,
            {
                "title": "document.title",
                "scripts": "document.scripts.length",
                "links": "document.links.length",
                "images": IMAGES,
                "colours": IMAGE_COLOURS,
                "text": "document.body.innerText",
            },
        )

    screenshot = str(tmp_path / "evidence-page.png")
    with open(screenshot, "wb") as target:
        target.write(visit.screenshot)
    if SCREENSHOT_COPY:
        shutil.copyfile(screenshot, SCREENSHOT_COPY)
    assert visit.errors == []
    # The page itself, and its embedded screenshots (data: URIs): nothing leaves the file.
    assert [url for url in visit.requests if not url.startswith("data:image/png;base64,")] == [
        "file://" + os.path.abspath(page)
    ]
    assert visit.evaluated["title"].startswith("Evidence for the release of 3 message(s)")
    assert visit.evaluated["scripts"] == 0 and visit.evaluated["links"] == 0
    assert len(visit.evaluated["images"]) == 2
    assert all(width > 0 and height > 0 and complete for width, height, complete, dummy in visit.evaluated["images"])
    assert all(colours > 2 for colours in visit.evaluated["colours"])
    text = visit.evaluated["text"]
    assert PHISH_SUBJECT in text and "DMARC fail" in text and "no detection" in text
    assert len(visit.screenshot) > 10000 and visit.screenshot.startswith(b"\x89PNG")
    assert re.search(r"reply-to\s+pay@c0ntoso-payments\.example", text)
