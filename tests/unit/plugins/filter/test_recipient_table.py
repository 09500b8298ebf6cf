# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import html
import re

import cmarkgfm
import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.mailsec.cloudflare.plugins.filter.recipient_table import recipient_table

RESULTS = [
    {
        "id": "m1",
        "status": "partially_released",
        "delivered": ["a@x.example"],
        "failed": ["b@x.example"],
        "undelivered": [],
        "detail": "delivered to 1 recipient(s), not to 1",
    },
    {"id": "m2", "status": "not_found", "delivered": [], "failed": [], "undelivered": [], "detail": "no such message"},
]
MESSAGES = [{"id": "m1", "from": "s@sender.example", "subject": "Invoice | October"}]


def test_text_table_has_a_row_per_recipient_and_one_for_a_message_without_any():
    lines = recipient_table(RESULTS, MESSAGES).splitlines()

    assert lines[0].split() == ["message", "status", "recipient", "outcome", "sender", "subject"]
    assert lines[2].split()[:4] == ["m1", "partially_released", "a@x.example", "delivered"]
    assert lines[3].split()[:4] == ["m1", "partially_released", "b@x.example", "failed"]
    assert "s@sender.example" in lines[3] and lines[3].endswith("Invoice | October")
    assert lines[4].split()[:3] == ["m2", "not_found", "-"] and "no such message" in lines[4]
    assert len(lines) == 5


def test_markdown_table_shows_the_mails_words_as_text():
    markdown = recipient_table(RESULTS, MESSAGES, style="markdown")

    assert markdown.splitlines()[0] == "| message | status | recipient | outcome | sender | subject |"
    # As GitHub renders it: the subject's pipe stays in its cell, and no address becomes a link.
    rendered = cmarkgfm.github_flavored_markdown_to_html(markdown)
    first_row = rendered.split("<tbody>")[1].split("</tr>")[0]
    cells = [html.unescape(re.sub("<!--.*?-->", "", cell.split("</td>")[0])) for cell in first_row.split("<td>")[1:]]
    assert cells == ["m1", "partially_released", "a@x.example", "delivered", "s@sender.example", "Invoice | October"]
    assert "<a " not in rendered


@pytest.mark.parametrize("bad, kwargs", [("nope", {}), ([{"no": "id"}], {}), (RESULTS, {"style": "html"})])
def test_wrong_input_is_a_filter_error(bad, kwargs):
    with pytest.raises(AnsibleFilterError):
        recipient_table(bad, **kwargs)


@pytest.mark.parametrize("style", ["text", "markdown"])
def test_sender_and_subject_are_left_out_when_no_message_has_them(style):
    """Issue 26: a release result alone printed empty sender and subject columns."""
    header = recipient_table(RESULTS, style=style).splitlines()[0]

    assert header.replace("|", " ").split() == ["message", "status", "recipient", "outcome"]
