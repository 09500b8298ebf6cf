#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: email_security_blocked_sender
short_description: Keep Cloudflare Email Security blocked senders as declared, with expiry
version_added: 1.2.0
description:
  - Creates, updates or deletes blocked senders (C(/accounts/{account_id}/email-security/settings/block_senders)),
    the senders, domains or IP addresses whose mail Cloudflare blocks, for example the sender of a phish campaign,
    for 30 days.
  - A blocked sender is matched by O(pattern) and O(pattern_type). Only the fields that differ are changed.
  - A sender cannot be both allowed and blocked. Before any change the allow policies are read, and a pattern that
    is an allow policy already (same pattern and pattern type) fails the task, naming the policy; nothing is
    changed. M(mailsec.cloudflare.email_security_allow_policy) refuses a blocked sender the same way.
  - Many senders in one task (O(senders)) go in Cloudflare's atomic batch request, 1000 changes per request.
author:
  - mailsec.cloudflare maintainers (@mailsec)
options:
  pattern:
    description:
      - The sender to block, for example V(billing@phish.example), V(phish.example) or V(203.0.113.7); checked to
        have the form of O(pattern_type) (or, with O(is_regex), to be a regular expression) before any request.
      - Required unless O(senders) is given.
    type: str
  pattern_type:
    description:
      - V(EMAIL), V(DOMAIN) or V(IP). Taken from the pattern when not given (an C(@) means V(EMAIL), an address or
        CIDR block V(IP), anything else V(DOMAIN)).
    type: str
    choices: [EMAIL, DOMAIN, IP]
  senders:
    description:
      - Many senders in one task, each with the options above; an option a sender does not give is taken from the
        task's own option of that name. Sent in batch requests.
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
      - Check mode reads the lists and reports what would change (RV(results[].action) V(would_create),
        V(would_update), V(would_delete)); it sends no change.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: full
    details:
      - The managed fields of each entry before and after. One declared entry's diff is that entry's; several give a
        list of diffs, one per entry that changes, headed by its pattern.
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second run reports no changes.
    support: full
    details:
      - O(ttl) sets an expiry only where none is running, so a second run does not move it on.
notes:
  - Reading costs one request per 1000 entries of each list (one filtered request for a single O(pattern)); each
    change is one request, or one batch request per 1000 changes with O(senders).
  - A change whose answer was lost is not sent again while it may still land; the list is read again until it shows
    the change or O(settle_timeout) has passed. Changes are journalled in the state store (O(state_backend)) like
    every write of the collection.
  - C(playbooks/expire_allow_policies.yml) does not delete blocked senders; delete an expired block with
    O(state=absent) and O(only_expired=true).
  - Every blocked sender operation is marked beta in Cloudflare's published contract.
seealso:
  - module: mailsec.cloudflare.email_security_blocked_sender_info
  - module: mailsec.cloudflare.email_security_allow_policy
  - module: mailsec.cloudflare.email_security_move
"""

EXAMPLES = r"""
- name: Block a phish campaign's sender for 30 days
  mailsec.cloudflare.email_security_blocked_sender:
    pattern: billing@phish-campaign.example
    comments: "INC-4711: invoice phish"
    ttl: 30d

- name: Block every domain of the campaign in one batch request
  mailsec.cloudflare.email_security_blocked_sender:
    senders:
      - pattern: phish-campaign.example
      - pattern: phish-campaign-billing.example
    pattern_type: DOMAIN
    ttl: 30d

- name: Lift a block whose expiry has passed
  mailsec.cloudflare.email_security_blocked_sender:
    pattern: billing@phish-campaign.example
    state: absent
    only_expired: true
"""

RETURN = r"""
results:
  description: One entry per declared sender (per deleted entry with O(state=absent)), in order.
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
      description: The entry's id, or null for one not created (check mode, or nothing to delete).
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
      description: The entry's managed fields before the task, or null when there was none.
      type: dict
      returned: always
    after:
      description: The entry's managed fields after the task, or null when it is (or would be) deleted.
      type: dict
      returned: always
    expires_at:
      description: When the entry expires (UTC), or null.
      type: str
      returned: always
  sample:
    - pattern: billing@phish-campaign.example
      pattern_type: EMAIL
      state: present
      action: created
      id: 9a0b4c1e-7f2d-4e8a-b3c5-6d7e8f9a0b1c
      before: null
      after:
        pattern: billing@phish-campaign.example
        pattern_type: EMAIL
        is_regex: false
        comments: "INC-4711: invoice phish [mailsec.cloudflare expires_at=2027-01-03T10:00:00Z]"
      expires_at: "2027-01-03T10:00:00Z"
summary:
  description: How many entries ended with each action, and the requests sent.
  returned: always
  type: dict
  sample: {created: 1, updated: 0, deleted: 0, unchanged: 0, would_create: 0, would_update: 0, would_delete: 0, total: 1, requests_sent: 3}
error:
  description: The API error that stopped the task, without credentials or headers.
  returned: when an API error stopped the task
  type: dict
  sample:
    status: 403
    errors: [{code: 10000, message: Authentication error}]
    method: POST
    path: /accounts/023e105f4ecef8ad9ca31a8372d0c353/email-security/settings/block_senders
    cf_ray: 8f1c2d3e4a5b6c7d-SJC
"""

from ansible_collections.mailsec.cloudflare.plugins.module_utils._writes.settings_list import BLOCKED_SENDER
from ansible_collections.mailsec.cloudflare.plugins.module_utils._module.settings_modules import run_settings_module


def main():
    run_settings_module(BLOCKED_SENDER)


if __name__ == "__main__":
    main()
