# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: evidence_report
short_description: Lay out messages' evidence for the person who approves, as job output lines, Markdown or an HTML page
version_added: 1.3.0
author:
  - mailsec.cloudflare maintainers (@mailsec)
description:
  - Takes the RV(mailsec.cloudflare.email_security_message_info#module:messages) read with
    O(mailsec.cloudflare.email_security_message_info#module:include) V(detections), V(preview) and V(raw), and lays
    out what each says, the verdict and findings, SPF, DKIM and DMARC, the senders whose domains differ, the link
    domains, the attachments and the screenshot.
  - Every field comes from the message, that is, possibly from an attacker, and is shown as text only. V(lines)
    have no control characters; V(markdown) escapes every character Markdown gives a meaning; V(html) is one
    self-contained page with every field escaped, the screenshots embedded as data (read back from their files and
    checked against their sha256), a Content-Security-Policy that allows no script and no remote resource, and
    never the message's own HTML.
positional: _input, style
options:
  _input:
    description: The C(messages) of M(mailsec.cloudflare.email_security_message_info).
    type: list
    elements: dict
    required: true
  style:
    description:
      - V(lines), a list of one line per message (id, sender, verdict, SPF/DKIM/DMARC, sender mismatch, link
        domains), for the job output; V(markdown), a Markdown section; V(html), a whole HTML page.
    type: str
    choices: [lines, markdown, html]
    default: lines
  title:
    description: The page's title (V(html) only).
    type: str
    default: Evidence
  context:
    description: Facts shown at the top of the page, such as the ticket and who asked (V(html) only).
    type: dict
    default: {}
  relative_to:
    description: For V(markdown), the directory the screenshots' paths are written relative to (the report's).
    type: path
"""

EXAMPLES = r"""
- name: Show what the approver decides on
  ansible.builtin.debug:
    msg: "{{ evidence.messages | mailsec.cloudflare.evidence_report('lines') }}"

- name: Write the evidence page
  ansible.builtin.copy:
    content: "{{ evidence.messages | mailsec.cloudflare.evidence_report('html', title='Release INC0012345') }}"
    dest: "{{ playbook_dir }}/reports/evidence.html"
    mode: "0600"
"""

RETURN = r"""
_value:
  description: The lines (a list of strings), or the Markdown or HTML (a string).
  type: raw
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.mailsec.cloudflare.plugins.plugin_utils._evidence_view import (
    evidence_line,
    evidence_markdown,
    evidence_page,
)


def evidence_report(messages, style="lines", title="Evidence", context=None, relative_to=None):
    if not isinstance(messages, list) or not all(isinstance(message, dict) for message in messages):
        raise AnsibleFilterError("evidence_report expects the messages list of email_security_message_info")
    if style == "lines":
        return [evidence_line(message) for message in messages]
    if style == "markdown":
        return evidence_markdown(messages, relative_to)
    if style == "html":
        return evidence_page(messages, title, context)
    raise AnsibleFilterError("evidence_report style must be lines, markdown or html, got %r" % (style,))


class FilterModule(object):
    def filters(self):
        return {"evidence_report": evidence_report}
