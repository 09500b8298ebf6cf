# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: markdown_text
short_description: Escape text taken from a message so that Markdown shows it as it is
version_added: 1.3.0
author:
  - mailsec.cloudflare maintainers (@mailsec)
description:
  - A subject, a sender's name or a finding comes from the sender, possibly an attacker. Put into Markdown as it is,
    a subject written as a Markdown link becomes a live link in the report, V(<img src=x>) an image and a V(|) the
    end of a table cell.
  - Returns the text on one line, control characters removed, with each character that makes Markdown more than
    text backslash-escaped (and the dot of V(www.), which GitHub links without a scheme), which CommonMark and GitHub
    Flavored Markdown then show as the character itself; an address gets an empty comment after its V(@), so that
    GitHub does not make it a link.
positional: _input
options:
  _input:
    description: The text; V(null) is an empty string.
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: A table row whose subject cannot become a link
  ansible.builtin.set_fact:
    row: "| {{ message.id }} | {{ message.subject | mailsec.cloudflare.markdown_text }} |"
"""

RETURN = r"""
_value:
  description: The escaped text.
  type: str
"""

from ansible_collections.mailsec.cloudflare.plugins.plugin_utils._evidence_view import markdown_text


class FilterModule(object):
    def filters(self):
        return {"markdown_text": markdown_text}
