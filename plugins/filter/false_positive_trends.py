# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: false_positive_trends
short_description: Set the runbooks' releases against Cloudflare's detections and submissions, month by month
version_added: 1.3.0
author:
  - mailsec.cloudflare maintainers (@mailsec)
description:
  - Reads the JSON reports P(mailsec.cloudflare.quarantine_release#role) writes (the paths given; previews and other
    files are skipped and listed) and counts, per month, the messages released or moved back (each once, in the
    month of the run that did it), against the detections of Cloudflare's monthly report
    (M(mailsec.cloudflare.email_security_analytics_info)) and the submissions made and their outcomes
    (M(mailsec.cloudflare.email_security_submission_info); pending until Cloudflare decides).
  - Also the senders and sender domains released at least O(repeat_threshold) times, each a candidate allow policy
    with O(ttl), and the median hours from a message's sending to its release.
  - Cloudflare gives no time for a submission's decision. O(history) (what this filter returned as C(history) the
    last time) records when each decision was first seen; the time to a decision is measured to that sighting.
positional: _input
options:
  _input:
    description: The paths of the runbooks' JSON reports, on the controller.
    type: list
    elements: path
    required: true
  submissions:
    description: The C(submissions) of M(mailsec.cloudflare.email_security_submission_info).
    type: list
    elements: dict
    default: []
  months:
    description: The C(months) of M(mailsec.cloudflare.email_security_analytics_info).
    type: list
    elements: dict
    default: []
  history:
    description: The C(history) this filter returned the last time (submission id to its state and first sighting).
    type: dict
    default: {}
  window:
    description: How many months, the latest, the report shows.
    type: int
    default: 6
  repeat_threshold:
    description: How many releases make a sender or domain a candidate allow policy.
    type: int
    default: 2
  ttl:
    description: The expiry of a candidate allow policy, as M(mailsec.cloudflare.email_security_allow_policy) takes it.
    type: str
    default: 30d
"""

EXAMPLES = r"""
- name: Count false positives per month
  ansible.builtin.set_fact:
    trends: >-
      {{ query('ansible.builtin.fileglob', playbook_dir ~ '/reports/quarantine-release-*.json')
         | mailsec.cloudflare.false_positive_trends(submissions=submissions.submissions, months=analytics.months) }}
"""

RETURN = r"""
_value:
  description:
    - C(months) (per month C(detections), C(released), C(moved_back), C(false_positive_percent), C(submissions) made,
      accepted, rejected and pending, C(median_hours_to_release)), C(submissions) (the totals, C(matched_to_releases),
      C(median_hours_to_decision)), C(median_hours_to_release), C(repeated_senders) and C(repeated_domains) (each with
      its C(candidate) allow policy), C(releases), C(sources) (reports read, those skipped and why), C(history),
      C(generated_at).
  type: dict
"""

import datetime

from ansible.errors import AnsibleFilterError

from ansible_collections.mailsec.cloudflare.plugins.plugin_utils._fp_trends import trends


def false_positive_trends(paths, submissions=None, months=None, history=None, window=6, repeat_threshold=2, ttl="30d"):
    if not isinstance(paths, list):
        raise AnsibleFilterError("false_positive_trends expects a list of report paths")
    if not isinstance(window, int) or not 1 <= window <= 12:
        raise AnsibleFilterError("false_positive_trends window must be from 1 to 12 months, got %r" % (window,))
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    return trends(paths, submissions or [], months or [], history or {}, window, repeat_threshold, ttl, now)


class FilterModule(object):
    def filters(self):
        return {"false_positive_trends": false_positive_trends}
