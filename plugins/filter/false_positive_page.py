# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: false_positive_page
short_description: The false-positive report as a self-contained HTML page with its charts
version_added: 1.3.0
author:
  - mailsec.cloudflare maintainers (@mailsec)
description:
  - Lays out what C(mailsec.cloudflare.false_positive_trends) returned as one HTML page, with two charts (false
    positives per month against Cloudflare's detections; submission outcomes per month), the month table, the
    submissions and the candidate allow policies.
  - The charts are drawn by matplotlib on the controller, as PNG images embedded in the page, which has no script and
    loads nothing from elsewhere. matplotlib is needed only here (C(pip install matplotlib); the collection's execution
    environment has it), never by the modules.
positional: _input
options:
  _input:
    description: What C(mailsec.cloudflare.false_positive_trends) returned.
    type: dict
    required: true
  title:
    description: The page's title.
    type: str
    default: False positives
"""

EXAMPLES = r"""
- name: Write the page
  ansible.builtin.copy:
    content: "{{ trends | mailsec.cloudflare.false_positive_page(title='False positives, last 6 months') }}"
    dest: "{{ playbook_dir }}/reports/false-positives.html"
    mode: "0640"
"""

RETURN = r"""
_value:
  description: The HTML page.
  type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.mailsec.cloudflare.plugins.plugin_utils._fp_page import ChartLibraryMissing, page


def false_positive_page(data, title="False positives"):
    if not isinstance(data, dict) or "months" not in data:
        raise AnsibleFilterError("false_positive_page expects what false_positive_trends returned")
    try:
        return page(data, title)
    except ChartLibraryMissing as exc:
        raise AnsibleFilterError(str(exc)) from exc


class FilterModule(object):
    def filters(self):
        return {"false_positive_page": false_positive_page}
