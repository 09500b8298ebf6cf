# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: recipient_table
short_description: Lay out release results as a per-message, per-recipient table
version_added: 1.0.0
author:
  - mailsec.cloudflare maintainers (@mailsec)
description:
  - Turns the RV(mailsec.cloudflare.email_security_release#module:results) of a release into a table with one
    row per recipient (and one row for a message without recipient outcomes), as plain text or Markdown.
positional: _input
options:
  _input:
    description: The C(results) list that M(mailsec.cloudflare.email_security_release) returned.
    type: list
    elements: dict
    required: true
  messages:
    description:
      - Messages as M(mailsec.cloudflare.email_security_message_info) returns them, to add sender and subject.
      - The sender and subject columns are left out when no message given has them, and the ray id column (each
        result's C(cf_ray), Cloudflare's ray id of the answer that released it) when no result has one.
    type: list
    elements: dict
    default: []
  style:
    description: V(text) for a fixed-width table, V(markdown) for a Markdown table.
    type: str
    choices: [text, markdown]
    default: text
"""

EXAMPLES = r"""
- name: Print who got what
  ansible.builtin.debug:
    msg: "{{ (release.results | mailsec.cloudflare.recipient_table(messages=found.messages)).splitlines() }}"

- name: Keep a Markdown record
  ansible.builtin.copy:
    content: "{{ release.results | mailsec.cloudflare.recipient_table(style='markdown') }}"
    dest: /tmp/release.md
    mode: "0644"
"""

RETURN = r"""
_value:
  description: The table, one line per row, header first.
  type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.mailsec.cloudflare.plugins.plugin_utils._escaping import markdown_text

_COLUMNS = ("message", "status", "recipient", "outcome", "sender", "subject", "ray id")
# Shown only when some row has them: the message read, and Cloudflare's ray id of the write's answer.
_CONTEXT = ("sender", "subject", "ray id")
_OUTCOMES = (("delivered", "delivered"), ("failed", "failed"), ("undelivered", "not delivered"))


def _entry_rows(entry, message):
    if not isinstance(entry, dict) or "id" not in entry:
        raise AnsibleFilterError("recipient_table expects the results list of email_security_release")
    head = (entry["id"], entry.get("status", ""))
    context = (message.get("from") or "", message.get("subject") or "", entry.get("cf_ray") or "")
    recipients = [(address, label) for key, label in _OUTCOMES for address in entry.get(key) or []]
    if not recipients:
        return [head + ("-", entry.get("detail") or "-") + context]
    return [head + recipient + context for recipient in recipients]


def _rows(results, messages):
    by_id = {m.get("id"): m for m in messages or [] if isinstance(m, dict)}
    return [row for entry in results for row in _entry_rows(entry, by_id.get(_entry_id(entry), {}))]


def _entry_id(entry):
    return entry.get("id") if isinstance(entry, dict) else None


def _known_columns(rows):
    """The columns to show: sender, subject and ray id only when some row has them (unknown for every message
    otherwise)."""
    shown = [i for i, name in enumerate(_COLUMNS) if name not in _CONTEXT or any(row[i] for row in rows)]
    return tuple(_COLUMNS[i] for i in shown), [tuple(row[i] for i in shown) for row in rows]


def _markdown(columns, rows):
    # The message id and status are the collection's own words; a recipient, a sender, a subject and a detail come
    # from the mail (an attacker may write them) and are shown as text.
    def cells(row):
        return [str(value) for value in row[:2]] + [markdown_text(value) for value in row[2:]]

    lines = ["| %s |" % " | ".join(columns), "|%s|" % "|".join("---" for dummy in columns)]
    lines.extend("| %s |" % " | ".join(cells(row)) for row in rows)
    return "\n".join(lines)


def _text(columns, rows):
    widths = [max([len(columns[i])] + [len(str(row[i])) for row in rows]) for i in range(len(columns))]
    layout = "  ".join("%%-%ds" % width for width in widths)
    lines = [layout % columns, layout % tuple("-" * width for width in widths)]
    lines.extend(layout % row for row in rows)
    return "\n".join(line.rstrip() for line in lines)


_STYLES = {"markdown": _markdown, "text": _text}


def recipient_table(results, messages=None, style="text"):
    if not isinstance(results, list):
        raise AnsibleFilterError("recipient_table expects a list, got %s" % type(results).__name__)
    if style not in _STYLES:
        raise AnsibleFilterError("recipient_table style must be text or markdown, got %r" % style)
    return _STYLES[style](*_known_columns(_rows(results, messages)))


class FilterModule(object):
    def filters(self):
        return {"recipient_table": recipient_table}
