#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: email_security_allow_policy
short_description: Keep Cloudflare Email Security allow policies as declared, with expiry
version_added: 1.1.0
description:
  - Creates, updates or deletes allow policies (C(/accounts/{account_id}/email-security/settings/allow_policies)),
    so that a sender whose mail was quarantined by mistake is not quarantined again, for a limited time if wanted.
  - A policy is matched by O(pattern) and O(pattern_type). Only the fields that differ are changed; fields not
    given keep their value on an existing policy.
  - Many policies in one task (O(policies)) go in Cloudflare's atomic batch request, 1000 changes per request.
  - A sender cannot be both allowed and blocked. Since 1.2.0, before any change the blocked senders are read, and a
    pattern that is a blocked sender already (same pattern and pattern type,
    M(mailsec.cloudflare.email_security_blocked_sender)) fails the task, naming the block; nothing is changed.
  - The fields past their end of life (C(is_sender), C(is_recipient), C(is_spoof), C(last_modified)) are never
    sent, and are left out of what the module returns.
author:
  - mailsec.cloudflare maintainers (@mailsec)
options:
  pattern:
    description:
      - What the policy matches, as O(pattern_type) says; checked for that form before any request (an IP pattern
        must be a public address or block, as Cloudflare requires).
      - Required unless O(policies) is given.
    type: str
  pattern_type:
    description:
      - V(EMAIL), V(DOMAIN) or V(IP). When not given, V(EMAIL) for a pattern with C(@), V(IP) for an address or
        CIDR block, else V(DOMAIN).
    type: str
    choices: [EMAIL, DOMAIN, IP]
  is_acceptable_sender:
    description:
      - Exempt messages from this sender from the Spam, Spoof and Bulk dispositions; Malicious and Suspicious
        still apply. V(true) for a new policy when not given.
    type: bool
  is_trusted_sender:
    description:
      - Bypass all detections and link following for messages from this sender. V(false) for a new policy when
        not given.
    type: bool
  is_exempt_recipient:
    description:
      - Bypass all detections for messages to this recipient. V(false) for a new policy when not given.
    type: bool
  verify_sender:
    description:
      - Honor the policy only for messages that pass DMARC, SPF or DKIM. V(true) for a new policy when not given.
    type: bool
  policies:
    description:
      - Many policies in one task, each with the options above; an option a policy does not give is taken from
        the task's own option of that name. Sent in batch requests.
      - Mutually exclusive with O(pattern).
    type: list
    elements: dict
    suboptions:
      pattern:
        description: See O(pattern).
        type: str
        required: true
      pattern_type:
        description: See O(pattern_type).
        type: str
        choices: [EMAIL, DOMAIN, IP]
      is_acceptable_sender:
        description: See O(is_acceptable_sender).
        type: bool
      is_trusted_sender:
        description: See O(is_trusted_sender).
        type: bool
      is_exempt_recipient:
        description: See O(is_exempt_recipient).
        type: bool
      verify_sender:
        description: See O(verify_sender).
        type: bool
      is_regex:
        description: See O(is_regex).
        type: bool
      comments:
        description: See O(comments).
        type: str
      expires_at:
        description: See O(expires_at).
        type: str
      ttl:
        description: See O(ttl).
        type: str
      state:
        description: See O(state).
        type: str
        choices: [present, absent]
      only_expired:
        description: See O(only_expired).
        type: bool
extends_documentation_fragment:
  - mailsec.cloudflare.settings_list
  - mailsec.cloudflare.write
  - mailsec.cloudflare.connection
  - mailsec.cloudflare.connection.action_group
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details:
      - Check mode reads the list and reports what would change (RV(results[].action) V(would_create),
        V(would_update), V(would_delete)); it sends no change.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: full
    details:
      - The managed fields of each policy before and after. One declared policy's diff is that policy's; several give a
        list of diffs, one per policy that changes, headed by its pattern.
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second run reports no changes.
    support: full
    details:
      - O(ttl) sets an expiry only where none is running, so a second run does not move it on.
notes:
  - Reading costs one request per 1000 policies (one filtered request for a single O(pattern)), and as much for the
    blocked senders when a policy is declared present; each change is one
    request, or one batch request per 1000 changes with O(policies).
  - A change whose answer was lost is not sent again while it may still land. The list is read again until it shows
    the change or O(settle_timeout) has passed; only then is the change sent again. If the server answered with an
    error, one read of the list decides, and the task fails saying so; running it again changes only what is
    still missing.
  - Before each change request its entries are written to a journal in the state store (O(state_backend)), removed
    once the outcome is known; a run that is killed leaves them, and the next run that shares the store reads the
    list until they show (or the window closes) before it plans anything. Runs writing to the same account take
    turns (on one machine with O(state_dir), on every machine with O(state_backend=postgresql)).
  - Every allow policy operation is marked beta in Cloudflare's published contract.
seealso:
  - module: mailsec.cloudflare.email_security_allow_policy_info
  - module: mailsec.cloudflare.email_security_trusted_domain
"""

EXAMPLES = r"""
- name: Allow a partner's sender for 30 days after a false positive
  mailsec.cloudflare.email_security_allow_policy:
    pattern: invoices@partner.example
    comments: "INC-4711: invoices quarantined as spoof"
    ttl: 30d

- name: Allow a whole domain until the end of the year, trusted for every detection
  mailsec.cloudflare.email_security_allow_policy:
    pattern: partner.example
    pattern_type: DOMAIN
    is_trusted_sender: true
    expires_at: "2026-12-31T23:59:59Z"

- name: Remove the policy again
  mailsec.cloudflare.email_security_allow_policy:
    pattern: invoices@partner.example
    state: absent

- name: Several senders in one batch request
  mailsec.cloudflare.email_security_allow_policy:
    ttl: 7d
    comments: INC-4712
    policies:
      - pattern: billing@partner.example
      - pattern: 203.0.113.0/24
        verify_sender: false
"""

RETURN = r"""
results:
  description: One entry per declared policy (per deleted policy with O(state=absent)), in order.
  returned: success
  type: list
  elements: dict
  contains:
    pattern:
      description: The declared pattern.
      type: str
      returned: always
    pattern_type:
      description: The declared (or inferred) pattern type.
      type: str
      returned: always
    state:
      description: The declared state.
      type: str
      returned: always
    action:
      description:
        - V(created), V(updated), V(deleted) or V(unchanged); in check mode V(would_create), V(would_update) or
          V(would_delete) instead of the first three.
      type: str
      returned: always
    id:
      description: The policy's id, or null for one not created (check mode, or nothing to delete).
      type: str
      returned: always
    cf_ray:
      description:
        - The ray id of Cloudflare's answer to the request that wrote it (its C(cf-ray) header), by which an auditor
          finds the write in Cloudflare's Audit Logs v2 (C(raw_cf_ray_id)). The reads that settle a write do not
          replace it.
        - Null when no answer decided it (check mode, a pre-check, a request not sent or whose answer was lost).
      type: str
      returned: always
      sample: 8f1c2d3e4a5b6c7d-SJC
      version_added: 1.3.0
    before:
      description: The policy's managed fields before the task, or null when there was none.
      type: dict
      returned: always
    after:
      description: The policy's managed fields after the task, or null when it is (or would be) deleted.
      type: dict
      returned: always
    expires_at:
      description: When the policy expires (UTC), or null.
      type: str
      returned: always
  sample:
    - pattern: invoices@partner.example
      pattern_type: EMAIL
      state: present
      action: created
      id: f174e90a-fafe-4643-bbbc-4a0ed4fc8415
      before: null
      after:
        pattern: invoices@partner.example
        pattern_type: EMAIL
        is_acceptable_sender: true
        is_trusted_sender: false
        is_exempt_recipient: false
        verify_sender: true
        is_regex: false
        comments: "INC-4711 [mailsec.cloudflare expires_at=2026-12-25T10:00:00Z]"
      expires_at: "2026-12-25T10:00:00Z"
summary:
  description: How many policies ended with each action, and the requests sent.
  returned: always
  type: dict
  sample: {created: 1, updated: 0, deleted: 0, unchanged: 0, would_create: 0, would_update: 0, would_delete: 0, total: 1, requests_sent: 2}
error:
  description: The API error that stopped the task, without credentials or headers.
  returned: when an API error stopped the task
  type: dict
  sample:
    status: 400
    errors: [{code: 1001, message: "pattern '10.0.0.1' is not a valid IP pattern"}]
    method: POST
    path: /accounts/023e105f4ecef8ad9ca31a8372d0c353/email-security/settings/allow_policies
    cf_ray: 8f1c2d3e4a5b6c7d-SJC
"""

from ansible_collections.mailsec.cloudflare.plugins.module_utils._writes.settings_list import ALLOW_POLICY
from ansible_collections.mailsec.cloudflare.plugins.module_utils._module.settings_modules import run_settings_module


def main():
    run_settings_module(ALLOW_POLICY)


if __name__ == "__main__":
    main()
