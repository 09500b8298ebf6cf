# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: user_report_decision
short_description: Decide an employee's report of a message, by the rules of the triage role
version_added: 1.3.0
author:
  - mailsec.cloudflare maintainers (@mailsec)
description:
  - Decides a user report (a Cloudflare user submission) as V(malicious), V(false_alarm) or V(needs_person), from
    Cloudflare's verdict on the reported message, its evidence and the rules the
    P(mailsec.cloudflare.user_report_triage#role) role's variables set. The rules apply in the order below.
  - 1. The reported message is not found, V(needs_person).
  - 2. Cloudflare's verdict is one of C(malicious_verdicts) and the sender is trusted, V(needs_person).
  - 3. The verdict is one of C(malicious_verdicts) and the employee reported it as bad (any requested disposition but
    V(NONE)), V(malicious); but V(needs_person) when O(campaign_size) is more than C(max_messages).
  - 4. The sender is one of C(trusted_senders), or its domain is one of C(trusted_domains) or below one,
    V(false_alarm).
  - 5. The verdict is one of C(benign_verdicts), and the EML shows DMARC V(pass) and no sender header on another
    domain, V(false_alarm); V(needs_person) when it shows otherwise or could not be read.
  - 6. Anything else, V(needs_person).
  - A final decision in O(earlier) (the report's record of an earlier run) stands, so that a run again acts on the
    same decision; then a person's (O(person)).
positional: _input, message, rules
options:
  _input:
    description: The user submission, as the C(mailsec.cloudflare.email_security_user_reports) event source emits it.
    type: dict
    required: true
  message:
    description:
      - The reported message as M(mailsec.cloudflare.email_security_message_info) returns it, with C(detections)
        and C(raw) when read; V(null) or V({}) when it was not found.
    type: raw
    required: true
  rules:
    description:
      - C(malicious_verdicts), C(benign_verdicts), C(trusted_senders), C(trusted_domains), C(max_messages) and
        C(campaign_hours), the window before and after the reported message in which its campaign (the same sender
        and subject) is looked for.
    type: dict
    required: true
  earlier:
    description: The report's record of an earlier run, or V({}).
    type: dict
  person:
    description: A person's decision (V(malicious), V(false_alarm) or V(no_action)), or empty.
    type: str
  campaign_size:
    description: How many messages the campaign's search found, for the cap; not known yet, V(null).
    type: int
"""

EXAMPLES = r"""
- name: Decide the report
  ansible.builtin.set_fact:
    decided: >-
      {{ report | mailsec.cloudflare.user_report_decision(message, {'malicious_verdicts': ['MALICIOUS'],
         'benign_verdicts': ['BULK'], 'trusted_senders': [], 'trusted_domains': ['partner.example'],
         'max_messages': 50, 'campaign_hours': 72}) }}
"""

RETURN = r"""
_value:
  description:
    - C(decision), C(why) (in the collection's words, with the sender's address or domain), C(decided_by) (V(rules),
      V(person)), C(verdict), C(put_back) (whether Cloudflare holds the message out of the Inbox, quarantined or moved)
      and C(campaign) (for V(malicious), the search of the campaign for P(mailsec.cloudflare.phish_remediation#role), with
      C(sender), C(subject), C(start), C(end), C(detections_only)).
  type: dict
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.mailsec.cloudflare.plugins.plugin_utils._triage import TriageError, decide


def user_report_decision(report, message, rules, earlier=None, person="", campaign_size=None):
    if not isinstance(rules, dict):
        raise AnsibleFilterError("user_report_decision: rules must be a dict")
    try:
        return decide(report, message, rules, earlier, person or "", campaign_size)
    except TriageError as exc:
        raise AnsibleFilterError("user_report_decision: %s" % exc) from None


class FilterModule(object):
    def filters(self):
        return {"user_report_decision": user_report_decision}
