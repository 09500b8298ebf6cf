# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The evidence of messages, as a person reads it: a line of job output, a Markdown section, a self-contained page.

Everything a message carries (sender, subject, findings, link domains, file names) comes from its sender, that is,
possibly from an attacker: each medium gets it as text only. The job output line has no control characters; the
Markdown escapes every character Markdown gives a meaning; the HTML page escapes every field, embeds the screenshots
as data, forbids scripts and any remote load in its Content-Security-Policy, and never renders the message's HTML.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import os

from ansible_collections.mailsec.cloudflare.plugins.plugin_utils._escaping import (
    PAGE_CSP,
    html_text,
    markdown_text,
    plain,
)

_VERDICTS = ("spf", "dkim", "dmarc")
_LINE_DOMAINS = 3


def _verdicts(authentication):
    return " ".join("%s %s" % (name.upper(), authentication.get(name) or "none") for name in _VERDICTS)


def _mismatch(senders):
    if not senders.get("mismatch"):
        return "senders aligned"
    return "mismatch: " + ", ".join(
        "%s %s" % (key.replace("_", "-"), (senders.get("domains") or {}).get(key) or "?")
        for key in senders.get("mismatched") or []
    )


def _links_text(links):
    domains = links.get("domains") or []
    if not domains:
        return "no links"
    more = (links.get("distinct_domains") or len(domains)) - _LINE_DOMAINS
    return "links: " + ", ".join(domains[:_LINE_DOMAINS]) + (" (+%d)" % more if more > 0 else "")


def _verdict(message):
    detections = message.get("detections") or {}
    return detections.get("final_disposition") or message.get("final_disposition") or "?"


def evidence_line(message):
    """What an approver reads in the job output: id, sender, verdict, authentication, mismatch, link domains."""
    head = [plain(message.get("id")), plain(message.get("from"), 80) or "(no sender)", _verdict(message)]
    raw = message.get("raw")
    if isinstance(raw, dict):
        body = [
            _verdicts(raw.get("authentication") or {}),
            _mismatch(raw.get("senders") or {}),
            _links_text(raw.get("links") or {}),
        ]
        if raw.get("attachments"):
            body.append("attachments: %d" % len(raw["attachments"]))
    else:
        body = ["evidence unavailable: %s" % (message.get("unavailable") or {}).get("raw", "not read")]
    return plain(" | ".join(head + body), 400)


def _findings(message):
    detections = message.get("detections") or {}
    return [
        finding.get("detail") or finding.get("name") or ""
        for finding in detections.get("findings") or []
        if isinstance(finding, dict)
    ]


def evidence_markdown(messages, relative_to=None):
    """A Markdown section: per message, the verdicts, senders, links, attachments and the screenshot as an image
    beside the report (a path relative to ``relative_to``, the report's directory)."""
    lines = []
    for message in messages:
        lines += ["", "### %s" % markdown_text(message.get("subject") or "(no subject)"), ""]
        lines.append("- message: %s" % markdown_text(message.get("id")))
        lines.append("- from: %s" % markdown_text(message.get("from")))
        lines.append("- verdict: %s" % markdown_text(_verdict(message)))
        for finding in _findings(message):
            lines.append("  - %s" % markdown_text(finding))
        raw = message.get("raw")
        if isinstance(raw, dict):
            lines += _markdown_raw(raw)
        preview = message.get("preview")
        if isinstance(preview, dict) and preview.get("path"):
            path = preview["path"]
            if relative_to:
                path = os.path.relpath(path, relative_to)
            # The path is this collection's own (a message id with unsafe characters replaced), never the sender's.
            lines += ["", "![screenshot of the message as Cloudflare rendered it](<%s>)" % path.replace(">", "%3E")]
            lines.append("")
            lines.append("sha256 %s" % markdown_text(preview.get("sha256")))
        for part, why in sorted((message.get("unavailable") or {}).items()):
            lines.append("- %s unavailable: %s" % (markdown_text(part), markdown_text(why)))
    return "\n".join(lines).lstrip("\n") + "\n"


def _parts(raw):
    """The parts of an EML's reading, each present (empty where the reading had none)."""
    senders = raw.get("senders") or {}
    return dict(
        senders=senders,
        addresses=senders.get("addresses") or {},
        authentication=raw.get("authentication") or {},
        received=raw.get("received") or {},
        links=raw.get("links") or {},
        attachments=raw.get("attachments") or [],
    )


def _markdown_raw(raw):
    parts = _parts(raw)
    lines = [
        "- authentication: %s" % markdown_text(_verdicts(parts["authentication"])),
        "- senders: %s" % markdown_text(_mismatch(parts["senders"])),
    ]
    for key in ("sender", "reply_to", "return_path"):
        if parts["addresses"].get(key):
            lines.append("  - %s: %s" % (key.replace("_", "-"), markdown_text(parts["addresses"][key])))
    domains = ", ".join(markdown_text(domain) for domain in parts["links"].get("domains") or [])
    lines.append("- link domains: %s" % (domains or "none"))
    for attachment in parts["attachments"]:
        lines.append(
            "- attachment: %s (%s, %s bytes, sha256 %s)"
            % tuple(markdown_text(attachment.get(key)) for key in ("name", "content_type", "size", "sha256"))
        )
    lines.append("- EML: sha256 %s" % markdown_text(raw.get("sha256")))
    return lines


def _screenshot(preview):
    """The screenshot as a data URI, only when its file still holds what was read (same sha256)."""
    path = preview.get("path")
    if not path:
        return None, "saved nowhere (no evidence_dir)"
    try:
        with open(path, "rb") as source:
            data = source.read()
    except OSError as exc:
        return None, "not readable on this host: %s" % exc
    if hashlib.sha256(data).hexdigest() != preview.get("sha256"):
        return None, "its file changed since it was read (sha256 differs)"
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii"), None


def _row(name, value, css=None):
    return "<tr><th>%s</th><td%s>%s</td></tr>" % (html_text(name), ' class="%s"' % css if css else "", value)


def _verdict_cells(authentication):
    cells = []
    for name in _VERDICTS + ("arc",):
        verdict = authentication.get(name)
        css = "pass" if verdict == "pass" else "fail" if verdict in ("fail", "softfail", "permerror") else "none"
        cells.append('<span class="%s">%s %s</span>' % (css, html_text(name.upper()), html_text(verdict or "none")))
    return " ".join(cells)


def _html_senders(parts):
    senders = parts["senders"]
    mismatched = senders.get("mismatched") or []
    rows = [
        _row("authentication", _verdict_cells(parts["authentication"])),
        _row("senders", html_text(_mismatch(senders)), "fail" if senders.get("mismatch") else "pass"),
    ]
    for key in ("sender", "reply_to", "return_path"):
        address = parts["addresses"].get(key) or "-"
        rows.append(_row(key.replace("_", "-"), html_text(address), "fail" if key in mismatched else None))
    return rows


def _html_received_and_links(parts):
    received, links = parts["received"], parts["links"]
    hop = received.get("first_external") or {}
    entered = "%s hop(s); entered from %s [%s]" % (received.get("hops", 0), hop.get("from_host"), hop.get("ip"))
    domains = "".join("<li><code>%s</code></li>" % html_text(domain) for domain in links.get("domains") or [])
    more = " (first 100 of %d)" % links.get("distinct_domains") if links.get("truncated") else ""
    attachments = "".join(
        "<li><code>%s</code> %s, %s bytes, sha256 <code>%s</code></li>"
        % tuple(html_text(attachment.get(key)) for key in ("name", "content_type", "size", "sha256"))
        for attachment in parts["attachments"]
    )
    return [
        _row("received", html_text(entered)),
        _row("link domains%s" % more, "<ul>%s</ul>" % domains if domains else "none"),
        _row("attachments", "<ul>%s</ul>" % attachments if attachments else "none"),
    ]


def _html_raw(raw):
    parts = _parts(raw)
    return (
        _html_senders(parts)
        + _html_received_and_links(parts)
        + [_row("EML", "sha256 <code>%s</code>, %s bytes" % (html_text(raw.get("sha256")), html_text(raw.get("size"))))]
    )


def _html_message(message):
    rows = [
        _row("message", "<code>%s</code>" % html_text(message.get("id"))),
        _row("from", html_text(message.get("from"))),
        _row("verdict", html_text(_verdict(message))),
    ]
    findings = "".join("<li>%s</li>" % html_text(finding) for finding in _findings(message))
    if findings:
        rows.append(_row("findings", "<ul>%s</ul>" % findings))
    raw = message.get("raw")
    if isinstance(raw, dict):
        rows += _html_raw(raw)
    for part, why in sorted((message.get("unavailable") or {}).items()):
        rows.append(_row("%s unavailable" % part, html_text(why), "none"))
    figure = ""
    preview = message.get("preview")
    if isinstance(preview, dict):
        source, why = _screenshot(preview)
        if source:
            figure = (
                '<figure><img src="%s" alt="screenshot of the message as Cloudflare rendered it">'
                "<figcaption>Cloudflare's rendering (%s), sha256 <code>%s</code></figcaption></figure>"
                % (source, html_text(preview.get("source")), html_text(preview.get("sha256")))
            )
        else:
            figure = '<p class="none">screenshot %s</p>' % html_text(why)
    return "<section><h2>%s</h2><table>%s</table>%s</section>" % (
        html_text(message.get("subject") or "(no subject)"),
        "".join(rows),
        figure,
    )


_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#1d1d1f;max-width:70em}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse}th{text-align:left;padding:.2em 1em .2em 0;vertical-align:top;color:#555}
td{padding:.2em 0}ul{margin:0;padding-left:1.2em}code{font-size:.9em;word-break:break-all}
.pass{color:#0a6b2d}.fail{color:#b00020;font-weight:600}.none{color:#777}
span{margin-right:1em}figure{margin:1em 0}img{border:1px solid #999;max-width:100%}
"""


def evidence_page(messages, title, context=None):
    """A self-contained HTML page of the messages' evidence: no script, no remote resource, every field escaped."""
    facts = "".join(
        "<li>%s: %s</li>" % (html_text(name), html_text(value))
        for name, value in sorted((context or {}).items())
        if value
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="%s">'
        '<meta name="referrer" content="no-referrer">'
        "<title>%s</title><style>%s</style></head><body>"
        "<h1>%s</h1><ul>%s<li>messages: %d</li></ul>"
        "<p>Each message as Cloudflare rendered it (a screenshot), and what its headers and parts say. The "
        "message's own HTML is never shown, and no link in it is live.</p>%s</body></html>\n"
        % (
            PAGE_CSP,
            html_text(title),
            _STYLE,
            html_text(title),
            facts,
            len(messages),
            "".join(_html_message(message) for message in messages),
        )
    )
