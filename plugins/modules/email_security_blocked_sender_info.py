#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: email_security_blocked_sender_info
short_description: Read Cloudflare Email Security blocked senders, with their expiry
version_added: 1.2.0
description:
  - Lists the account's blocked senders (C(GET /accounts/{account_id}/email-security/settings/block_senders)), all
    of them or those the filters select, oldest first, with the expiry that
    M(mailsec.cloudflare.email_security_blocked_sender) keeps in each entry's comments.
author:
  - mailsec.cloudflare maintainers (@mailsec)
options:
  pattern:
    description: Only the blocked senders with exactly this pattern.
    type: str
  pattern_type:
    description: Only the blocked senders of this pattern type.
    type: str
    choices: [EMAIL, DOMAIN, IP]
  search:
    description: Cloudflare's free-text search over the blocked senders.
    type: str
  only_expired:
    description: Only the blocked senders whose expiry has passed.
    type: bool
    default: false
extends_documentation_fragment:
  - mailsec.cloudflare.connection
  - mailsec.cloudflare.connection.action_group
  - mailsec.cloudflare.attributes.info_module
notes:
  - One request per 1000 blocked senders.
seealso:
  - module: mailsec.cloudflare.email_security_blocked_sender
"""

EXAMPLES = r"""
- name: Blocks whose expiry has passed
  mailsec.cloudflare.email_security_blocked_sender_info:
    only_expired: true
  register: expired
"""

RETURN = r"""
blocked_senders:
  description:
    - The blocked senders, oldest first, as Cloudflare returns them without the fields past their end of life, plus
      C(expires_at) (UTC, or null) and C(expired).
  returned: always
  type: list
  elements: dict
  sample:
    - id: f174e90a-fafe-4643-bbbc-4a0ed4fc8415
      pattern: billing@phish-campaign.example
      pattern_type: EMAIL
      is_regex: false
      comments: "INC-4711 [mailsec.cloudflare expires_at=2027-01-03T10:00:00Z]"
      created_at: "2026-12-04T10:00:00Z"
      modified_at: "2026-12-04T10:00:00Z"
      expires_at: "2027-01-03T10:00:00Z"
      expired: false
summary:
  description: How many blocked senders were returned, how many of them have expired, and the requests sent.
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
    path: /accounts/023e105f4ecef8ad9ca31a8372d0c353/email-security/settings/block_senders
    cf_ray: 8f1c2d3e4a5b6c7d-SJC
"""

from ansible_collections.mailsec.cloudflare.plugins.module_utils._writes.settings_list import BLOCKED_SENDER
from ansible_collections.mailsec.cloudflare.plugins.module_utils._module.settings_modules import (
    run_settings_info_module,
)


def main():
    run_settings_info_module(BLOCKED_SENDER, "blocked_senders")


if __name__ == "__main__":
    main()
