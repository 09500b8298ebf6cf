#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: email_security_allow_policy_info
short_description: Read Cloudflare Email Security allow policies, with their expiry
version_added: 1.1.0
description:
  - Lists the account's allow policies (C(GET /accounts/{account_id}/email-security/settings/allow_policies)),
    all of them or those the filters select, oldest first, with the expiry that
    M(mailsec.cloudflare.email_security_allow_policy) keeps in each policy's comments.
author:
  - mailsec.cloudflare maintainers (@mailsec)
options:
  pattern:
    description: Only the policies with exactly this pattern.
    type: str
  pattern_type:
    description: Only the policies of this pattern type.
    type: str
    choices: [EMAIL, DOMAIN, IP]
  search:
    description: Cloudflare's free-text search over the policies (its behaviour may change, the contract says).
    type: str
  is_acceptable_sender:
    description: Only the policies with this value of C(is_acceptable_sender).
    type: bool
  is_trusted_sender:
    description: Only the policies with this value of C(is_trusted_sender).
    type: bool
  is_exempt_recipient:
    description: Only the policies with this value of C(is_exempt_recipient).
    type: bool
  verify_sender:
    description: Only the policies with this value of C(verify_sender).
    type: bool
  only_expired:
    description: Only the policies whose expiry has passed.
    type: bool
    default: false
extends_documentation_fragment:
  - mailsec.cloudflare.connection
  - mailsec.cloudflare.connection.action_group
  - mailsec.cloudflare.attributes.info_module
notes:
  - One request per 1000 policies.
seealso:
  - module: mailsec.cloudflare.email_security_allow_policy
"""

EXAMPLES = r"""
- name: Expired policies
  mailsec.cloudflare.email_security_allow_policy_info:
    only_expired: true
  register: expired

- name: The policies for one sender
  mailsec.cloudflare.email_security_allow_policy_info:
    pattern: invoices@partner.example
"""

RETURN = r"""
policies:
  description:
    - The policies, oldest first, as Cloudflare returns them without the fields past their end of life, plus
      C(expires_at) (UTC, or null) and C(expired).
  returned: always
  type: list
  elements: dict
  sample:
    - id: f174e90a-fafe-4643-bbbc-4a0ed4fc8415
      pattern: invoices@partner.example
      pattern_type: EMAIL
      is_acceptable_sender: true
      is_trusted_sender: false
      is_exempt_recipient: false
      verify_sender: true
      is_regex: false
      comments: "INC-4711 [mailsec.cloudflare expires_at=2026-12-25T10:00:00Z]"
      created_at: "2026-11-25T10:00:00Z"
      modified_at: "2026-11-25T10:00:00Z"
      expires_at: "2026-12-25T10:00:00Z"
      expired: false
summary:
  description: How many policies were returned, how many of them have expired, and the requests sent.
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
    path: /accounts/023e105f4ecef8ad9ca31a8372d0c353/email-security/settings/allow_policies
    cf_ray: 8f1c2d3e4a5b6c7d-SJC
"""

from ansible_collections.mailsec.cloudflare.plugins.module_utils._writes.settings_list import ALLOW_POLICY
from ansible_collections.mailsec.cloudflare.plugins.module_utils._module.settings_modules import (
    run_settings_info_module,
)


def main():
    run_settings_info_module(ALLOW_POLICY, "policies")


if __name__ == "__main__":
    main()
