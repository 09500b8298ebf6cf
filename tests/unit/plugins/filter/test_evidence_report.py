# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The evidence laid out for a person, and a sender's words kept as text in every medium."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import html.parser
import re

import cmarkgfm
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.mailsec.cloudflare.plugins.filter.evidence_report import evidence_report
from ansible_collections.mailsec.cloudflare.plugins.filter.markdown_text import FilterModule as MarkdownFilters

markdown_text = MarkdownFilters().filters()["markdown_text"]

HOSTILE = [
    "[Reset your password](https://evil.example)",
    "<https://evil.example|click>",
    "<img src=x onerror=alert(1)>",
    "a | b | c",
    "https://evil.example/login and www.evil.example",
    "![pixel](https://tracker.example/p.gif)",
    "**urgent** _now_ `code` <script>alert(1)</script>",
    "line one\nline two\r\n# heading",
    "[ref]: https://evil.example",
    "&lt;b&gt; &amp; &#x3C;",
    "write to billing@evil.example now",
]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 40


def _rendered(markdown):
    return cmarkgfm.github_flavored_markdown_to_html(markdown)


@pytest.mark.parametrize("text", HOSTILE)
def test_a_senders_text_stays_text_in_githubs_markdown(text):
    row = "| id | subject |\n|---|---|\n| 1 | %s |\n" % markdown_text(text)

    rendered = _rendered(row)

    for markup in ("<a ", "<img", "<script", "<em>", "<strong>", "<code>", "<h1"):
        assert markup not in rendered
    assert rendered.count("<td>") == 2
    # What a reader sees: the cell's text, without the HTML comments that show nothing.
    shown = html.unescape(re.sub("<!--.*?-->", "", rendered.split("<td>")[2].split("</td>")[0]))
    assert shown == " ".join(text.split()) if "\n" not in text else "line one line two  # heading"


def _phish(tmp_path, **preview):
    shot = tmp_path / "m1.png"
    shot.write_bytes(PNG)
    return {
        "id": "m1-2026-12-07T09:00:00-1",
        "from": "billing@contoso-payments.example\x1b[2J",
        "subject": "<script>alert('x')</script> [Pay](https://evil.example) <img src=https://tracker.example/p.gif>",
        "final_disposition": "MALICIOUS",
        "detections": {"final_disposition": "MALICIOUS", "findings": [{"detail": "<b>lookalike</b> domain"}]},
        "preview": dict(
            {"path": str(shot), "sha256": hashlib.sha256(PNG).hexdigest(), "size": len(PNG), "source": "detection"},
            **preview,
        ),
        "raw": {
            "sha256": "ab" * 32,
            "size": 100,
            "senders": {
                "addresses": {"from": "billing@contoso-payments.example", "reply_to": "pay@c0ntoso-payments.example"},
                "domains": {"from": "contoso-payments.example", "reply_to": "c0ntoso-payments.example"},
                "mismatched": ["reply_to"],
                "mismatch": True,
            },
            "authentication": {"spf": "pass", "dkim": "none", "dmarc": "fail", "arc": None},
            "received": {"hops": 2, "first_external": {"from_host": "mail.mailer.example", "ip": "203.0.113.25"}},
            "links": {
                "domains": ["c0ntoso-payments.example", "a.example", "b.example", "c.example"],
                "distinct_domains": 4,
                "truncated": False,
                "count": 5,
            },
            "attachments": [{"name": "invoice<1>.pdf", "content_type": "application/pdf", "size": 9, "sha256": "00"}],
        },
    }


def _clean():
    return {
        "id": "m2-2026-12-07T09:00:00-2",
        "from": "news@partner.example",
        "subject": "Digest",
        "final_disposition": "NONE",
        "unavailable": {"raw": "no detection: Cloudflare keeps the EML only of a message with a detection"},
    }


def test_the_job_output_line_says_what_an_approver_needs_and_nothing_a_terminal_obeys(tmp_path):
    lines = evidence_report([_phish(tmp_path), _clean()])

    assert lines[0] == (
        "m1-2026-12-07T09:00:00-1 | billing@contoso-payments.example [2J | MALICIOUS | SPF pass DKIM none DMARC fail"
        " | mismatch: reply-to c0ntoso-payments.example | links: c0ntoso-payments.example, a.example, b.example (+1)"
        " | attachments: 1"
    )
    assert lines[1] == (
        "m2-2026-12-07T09:00:00-2 | news@partner.example | NONE | evidence unavailable: no detection: Cloudflare keeps"
        " the EML only of a message with a detection"
    )


class _Page(html.parser.HTMLParser):
    def __init__(self):
        html.parser.HTMLParser.__init__(self)
        self.tags = []
        self.sources = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.sources.extend(value for name, value in attrs if name in ("src", "href"))


def test_the_page_is_self_contained_escapes_every_field_and_embeds_the_checked_screenshot(tmp_path):
    page = evidence_report([_phish(tmp_path), _clean()], "html", title="Release <INC1>", context={"ticket": "INC1"})

    parsed = _Page()
    parsed.feed(page)
    assert "script" not in parsed.tags and "a" not in parsed.tags and "link" not in parsed.tags
    assert [source[:22] for source in parsed.sources] == ["data:image/png;base64,"]
    assert "default-src 'none'; img-src data:" in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page and "&lt;b&gt;lookalike&lt;/b&gt;" in page
    assert "invoice&lt;1&gt;.pdf" in page and "Release &lt;INC1&gt;" in page
    assert "\x1b" not in page


def test_a_screenshot_whose_file_changed_is_not_embedded(tmp_path):
    page = evidence_report([_phish(tmp_path, sha256="0" * 64)], "html")

    assert "data:image/png" not in page and "changed since it was read" in page


def test_the_markdown_section_shows_the_screenshot_beside_the_report_and_no_live_link(tmp_path):
    markdown = evidence_report([_phish(tmp_path), _clean()], "markdown", relative_to=str(tmp_path))

    rendered = _rendered(markdown)
    assert rendered.count("<img") == 1 and 'src="m1.png"' in rendered
    assert "<a " not in rendered and "<script" not in rendered
    assert "DMARC fail" in rendered and "no detection" in rendered


def test_anything_but_a_list_of_messages_is_refused():
    with pytest.raises(AnsibleFilterError, match="messages list"):
        evidence_report({"messages": []})
    with pytest.raises(AnsibleFilterError, match="style"):
        evidence_report([], "pdf")
