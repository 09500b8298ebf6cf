#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: email_security_trusted_domain
short_description: Keep Cloudflare Email Security trusted domains as declared, with expiry
version_added: 1.1.0
description:
  - Creates, updates or deletes trusted domains (C(/accounts/{account_id}/email-security/settings/trusted_domains)),
    partner domains that are newly registered, or spelled like your own, and were quarantined for it.
  - A trusted domain is matched by O(pattern). Only the fields that differ are changed; fields not given keep
    their value on an existing entry.
  - Many domains in one task (O(domains)) go in Cloudflare's atomic batch request, 1000 changes per request.
  - The field past its end of life (C(last_modified)) is never sent, and is left out of what the module returns.
author:
  - mailsec.cloudflare maintainers (@mailsec)
options:
  pattern:
    description:
      - The domain to trust, for example V(partner.example); checked to be a domain name (or, with O(is_regex), a
        regular expression) before any request.
      - Required unless O(domains) is given.
    type: str
  is_recent:
    description:
      - Keep the domain from a Suspicious or Malicious disposition for being recently registered. V(true) for a new
        entry when not given.
    type: bool
  is_similarity:
    description:
      - Keep the domain from a Spoof disposition for being spelled like one of your domains. V(false) for a new
        entry when not given.
    type: bool
  domains:
    description:
      - Many domains in one task, each with the options above; an option a domain does not give is taken from
        the task's own option of that name. Sent in batch requests.
      - Mutually exclusive with O(pattern).
    type: list
    elements: dict
    suboptions:
      pattern:
        description: See O(pattern).
        type: str
        required: true
      is_recent:
        description: See O(is_recent).
        type: bool
      is_similarity:
        description: See O(is_similarity).
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
      - The managed fields of each entry before and after. One declared entry's diff is that entry's; several give a
        list of diffs, one per entry that changes, headed by its pattern.
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second run reports no changes.
    support: full
    details:
      - O(ttl) sets an expiry only where none is running, so a second run does not move it on.
notes:
  - Reading costs one request per 1000 entries (one filtered request for a single O(pattern)); each change is one
    request, or one batch request per 1000 changes with O(domains).
  - A change whose answer was lost is not sent again while it may still land. The list is read again until it shows
    the change or O(settle_timeout) has passed; only then is the change sent again. If the server answered with an
    error, one read of the list decides, and the task fails saying so; running it again changes only what is
    still missing.
  - Before each change request its entries are written to a journal in the state store (O(state_backend)), removed
    once the outcome is known; a run that is killed leaves them, and the next run that shares the store reads the
    list until they show (or the window closes) before it plans anything. Runs writing to the same account take
    turns (on one machine with O(state_dir), on every machine with O(state_backend=postgresql)).
  - Every trusted domain operation is marked beta in Cloudflare's published contract.
seealso:
  - module: mailsec.cloudflare.email_security_trusted_domain_info
  - module: mailsec.cloudflare.email_security_allow_policy
"""

EXAMPLES = r"""
- name: Trust a partner's newly registered domain for two weeks
  mailsec.cloudflare.email_security_trusted_domain:
    pattern: partner-invoices.example
    comments: "INC-4711: new domain of a partner"
    ttl: 2w

- name: Trust a look-alike partner domain with no expiry
  mailsec.cloudflare.email_security_trusted_domain:
    pattern: examp1e-partner.example
    is_recent: false
    is_similarity: true
    expires_at: never

- name: Stop trusting it
  mailsec.cloudflare.email_security_trusted_domain:
    pattern: partner-invoices.example
    state: absent
"""

RETURN = r"""
results:
  description: One entry per declared domain (per deleted entry with O(state=absent)), in order.
  returned: success
  type: list
  elements: dict
  contains:
    pattern:
      description: The declared pattern.
      type: str
      returned: always
    pattern_type:
      description: Always null; trusted domains have no pattern type.
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
    - pattern: partner-invoices.example
      pattern_type: null
      state: present
      action: created
      id: 9a0b4c1e-7f2d-4e8a-b3c5-6d7e8f9a0b1c
      before: null
      after:
        pattern: partner-invoices.example
        is_recent: true
        is_similarity: false
        is_regex: false
        comments: "INC-4711 [mailsec.cloudflare expires_at=2026-12-09T10:00:00Z]"
      expires_at: "2026-12-09T10:00:00Z"
summary:
  description: How many entries ended with each action, and the requests sent.
  returned: always
  type: dict
  sample: {created: 1, updated: 0, deleted: 0, unchanged: 0, would_create: 0, would_update: 0, would_delete: 0, total: 1, requests_sent: 2}
error:
  description: The API error that stopped the task, without credentials or headers.
  returned: when an API error stopped the task
  type: dict
  sample:
    status: 409
    errors: [{code: 1001, message: "pattern 'partner.example' is in the trusted domain list already"}]
    method: POST
    path: /accounts/023e105f4ecef8ad9ca31a8372d0c353/email-security/settings/trusted_domains
    cf_ray: 8f1c2d3e4a5b6c7d-SJC
"""

from ansible_collections.mailsec.cloudflare.plugins.module_utils._writes.settings_list import TRUSTED_DOMAIN
from ansible_collections.mailsec.cloudflare.plugins.module_utils._module.settings_modules import run_settings_module


def main():
    run_settings_module(TRUSTED_DOMAIN)


if __name__ == "__main__":
    main()
