# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Text from a message (a subject, a sender, a finding) made inert for the medium it is shown in.

It comes from the sender, possibly an attacker: a report or a notice shows it as text, never as a link, an image,
markup or a terminal's control sequence.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import html
import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]+")
# The characters that make Markdown (CommonMark, GitHub's tables, autolinks and math) more than text anywhere in a
# line: each backslash-escaped is literal. What means something only at a line's start (#, -, +, =) never is one
# here: the text is one line, always after a table's pipe or a list item's words.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]()!|<>&~:@$])")
# GitHub links www.<domain> without a scheme; an escaped dot after www keeps it text.
_WWW = re.compile(r"(?i)\b(www)\.")


def plain(value, limit=None):
    """One line of text, without control or bidirectional characters (which could rewrite a terminal or a log)."""
    text = _CONTROL.sub(" ", "" if value is None else str(value)).strip()
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


# The policy of every page the collection writes for a person: no script, nothing loaded but its own embedded images.
PAGE_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


def html_text(value):
    """Text for an HTML page: one line, every character HTML gives a meaning escaped (quotes too, for attributes)."""
    return html.escape(plain(value), quote=True)


def _markdown_escaped(text):
    return _WWW.sub(r"\1\\.", _MARKDOWN_SPECIAL.sub(r"\\\1", plain(text)))


def markdown_text(value):
    """Text that Markdown (CommonMark, GitHub's tables and autolinks) shows as it is: never a link, an image,
    HTML, emphasis or a table cell's end."""
    # GitHub links an address after its escapes are read (cmark-gfm's autolink runs on the parsed text): an empty
    # comment after the @ splits that text, shows nothing, and the address still copies whole.
    return _markdown_escaped(value).replace("\\@", "\\@<!-- -->")


_SCHEME = re.compile(r"(?i)\b(h)tt(ps?)(?=:)")
_HOST = re.compile(r"(?i)\b(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z][a-z0-9-]*[a-z0-9]\b")
_SERVICENOW_TAG = re.compile(r"(?i)\[(/?code)\]")


def defanged(value):
    """One line of text in which no URL or domain is live: http becomes hxxp and each domain's dots [.], as security
    teams write what a phish links to, so that no client makes a link of it."""
    text = _SCHEME.sub(r"\1xx\2", plain(value))
    return _HOST.sub(lambda match: match.group(0).replace(".", "[.]"), text)


def _maybe_defanged(value, defang):
    return defanged(value) if defang else plain(value)


def slack_text(value, defang=True):
    """Text for Slack's mrkdwn: &, < and > escaped as Slack requires (so no <link|label>, <!channel> or mention is
    made), and (``defang``, for words from the mail) no live URL or domain."""
    return _maybe_defanged(value, defang).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def teams_text(value, defang=True):
    """Text for a Teams card's Markdown: Markdown escaped, and (``defang``) no live URL or domain."""
    # A defanged address has no domain left to link, and a card shows no HTML comment: the escapes are enough.
    return _markdown_escaped(_maybe_defanged(value, defang))


def servicenow_text(value, defang=True):
    """Text for a ServiceNow journal field (a work note): no [code] tag, which would render HTML, and (``defang``)
    no live URL or domain."""
    return _SERVICENOW_TAG.sub(r"[ \1 ]", _maybe_defanged(value, defang))
