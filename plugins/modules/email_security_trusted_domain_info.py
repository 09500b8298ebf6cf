#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: email_security_trusted_domain_info
short_description: Read Cloudflare Email Security trusted domains, with their expiry
version_added: 1.1.0
description:
  - Lists the account's trusted domains (C(GET /accounts/{account_id}/email-security/settings/trusted_domains)),
    all of them or those the filters select, oldest first, with the expiry that
    M(mailsec.cloudflare.email_security_trusted_domain) keeps in each entry's comments.
author:
  - mailsec.cloudflare maintainers (@mailsec)
options:
  pattern:
    description: Only the entry with exactly this pattern.
    type: str
  search:
    description: Cloudflare's free-text search over the entries (its behaviour may change, the contract says).
    type: str
  is_recent:
    description: Only the entries with this value of C(is_recent).
    type: bool
  is_similarity:
    description: Only the entries with this value of C(is_similarity).
    type: bool
  only_expired:
    description: Only the entries whose expiry has passed.
    type: bool
    default: false
extends_documentation_fragment:
  - mailsec.cloudflare.connection
  - mailsec.cloudflare.connection.action_group
  - mailsec.cloudflare.attributes.info_module
notes:
  - One request per 1000 entries.
seealso:
  - module: mailsec.cloudflare.email_security_trusted_domain
"""

EXAMPLES = r"""
- name: Expired trusted domains
  mailsec.cloudflare.email_security_trusted_domain_info:
    only_expired: true
  register: expired
"""

RETURN = r"""
domains:
  description:
    - The trusted domains, oldest first, as Cloudflare returns them without the field past its end of life, plus
      C(expires_at) (UTC, or null) and C(expired).
  returned: always
  type: list
  elements: dict
  sample:
    - id: 9a0b4c1e-7f2d-4e8a-b3c5-6d7e8f9a0b1c
      pattern: partner-invoices.example
      is_recent: true
      is_similarity: false
      is_regex: false
      comments: "INC-4711 [mailsec.cloudflare expires_at=2026-12-09T10:00:00Z]"
      created_at: "2026-11-25T10:00:00Z"
      modified_at: "2026-11-25T10:00:00Z"
      expires_at: "2026-12-09T10:00:00Z"
      expired: false
summary:
  description: How many entries were returned, how many of them have expired, and the requests sent.
  returned: always
  type: dict
  sample: {total: 1, expired: 0, requests_sent: 1}
error:
  description: The API error that stopped the task, without credentials or headers.
  returned: when an API error stopped the task
  type: dict
  sample:
    status: 403
    errors: [{code: 10000, message: Authentication error}]
    method: GET
    path: /accounts/023e105f4ecef8ad9ca31a8372d0c353/email-security/settings/trusted_domains
    cf_ray: 8f1c2d3e4a5b6c7d-SJC
"""

from ansible_collections.mailsec.cloudflare.plugins.module_utils._writes.settings_list import TRUSTED_DOMAIN
from ansible_collections.mailsec.cloudflare.plugins.module_utils._module.settings_modules import (
    run_settings_info_module,
)


def main():
    run_settings_info_module(TRUSTED_DOMAIN, "domains")


if __name__ == "__main__":
    main()
