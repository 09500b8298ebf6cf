#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: email_security_analytics_info
short_description: Read Cloudflare Email Security's monthly disposition report and its PhishGuard reports
version_added: 1.3.0
description:
  - Reads the monthly report (C(GET .../email-security/analytics/monthly_report), one request), the messages of each
    of the trailing 12 months by disposition, as Cloudflare's dashboard shows them by month.
  - With O(phishguard), also the PhishGuard reports of a window (C(GET .../email-security/phishguard/reports), every
    page up to O(limit)); most accounts have none.
  - Read-only; never changes anything.
author:
  - mailsec.cloudflare maintainers (@mailsec)
options:
  phishguard:
    description: Also read the PhishGuard reports created in O(start) to O(end).
    type: bool
    default: false
  start:
    description: The PhishGuard reports created at or after this RFC 3339 date-time (or a bare date); Cloudflare's default is 30 days ago.
    type: str
  end:
    description: The PhishGuard reports created before this date-time; Cloudflare's default is now.
    type: str
  limit:
    description: The most PhishGuard reports returned.
    type: int
    default: 1000
extends_documentation_fragment:
  - mailsec.cloudflare.connection
  - mailsec.cloudflare.connection.action_group
  - mailsec.cloudflare.attributes.info_module
seealso:
  - module: mailsec.cloudflare.email_security_submission_info
"""

EXAMPLES = r"""
- name: Dispositions by month
  mailsec.cloudflare.email_security_analytics_info:
  register: analytics

- name: Say last month's detections
  ansible.builtin.debug:
    msg: "{{ analytics.months[-2].month }}: {{ analytics.months[-2].detections }} detections of {{ analytics.months[-2].total }}"

- name: With the PhishGuard reports of November
  mailsec.cloudflare.email_security_analytics_info:
    phishguard: true
    start: "2026-11-01"
    end: "2026-12-01"
"""

RETURN = r"""
months:
  description: The trailing 12 months, oldest first, as the monthly report gives them.
  returned: always
  type: list
  elements: dict
  contains:
    month:
      description: The month, C(YYYY-MM).
      type: str
      returned: always
    dispositions:
      description: The messages of the month by disposition (such as C(SPAM), C(BULK), C(NONE)).
      type: dict
      returned: always
    total:
      description: All the messages of the month.
      type: int
      returned: always
    detections:
      description: The messages of the month with a disposition other than C(NONE).
      type: int
      returned: always
  sample:
    - {month: "2026-11", dispositions: {NONE: 41230, SPAM: 812, BULK: 2044, MALICIOUS: 37}, total: 44123, detections: 2893}
phishguard_reports:
  description: The PhishGuard reports of the window, as Cloudflare gives them (with O(phishguard) only; empty otherwise).
  returned: always
  type: list
  elements: dict
  sample: []
truncated:
  description: Whether there may be more PhishGuard reports than O(limit).
  returned: always
  type: bool
  sample: false
summary:
  description: How many months and PhishGuard reports were read, and the requests sent.
  returned: always
  type: dict
  sample: {months: 12, phishguard_reports: 0, requests_sent: 1}
error:
  description: The API error that stopped the task, without credentials or headers.
  returned: when an API error stopped the task
  type: dict
  sample:
    status: 403
    errors: [{code: 10000, message: Authentication error}]
    method: GET
    path: /accounts/023e105f4ecef8ad9ca31a8372d0c353/email-security/analytics/monthly_report
    cf_ray: 8f1c2d3e4a5b6c7d-SJC
"""

from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import (
    CloudflareError,
    ValidationError,
    check_range,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._module.ansible_module import CloudflareModule
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.messages import search_window
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.reports import (
    read_monthly_report,
    read_phishguard_reports,
)


def main():
    module = CloudflareModule(
        argument_spec=dict(
            phishguard=dict(type="bool", default=False),
            start=dict(type="str"),
            end=dict(type="str"),
            limit=dict(type="int", default=1000),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        check_range("limit", params["limit"], 1)
        search_window(params["start"], params["end"])
    except ValidationError as exc:
        module.fail_json(msg=str(exc))
    settings = module.resolve_settings()
    client = module.client(settings)
    reports, truncated = [], False
    try:
        months = read_monthly_report(client, settings["account_id"])
        if params["phishguard"]:
            reports, truncated = read_phishguard_reports(client, settings["account_id"], params)
    except CloudflareError as exc:
        module.fail_json(msg=exc.message, error=exc.as_dict())
    finally:
        client.close()
    module.exit_json(
        changed=False,
        months=months,
        phishguard_reports=reports,
        truncated=truncated,
        summary=dict(months=len(months), phishguard_reports=len(reports), requests_sent=client.requests_sent),
    )


if __name__ == "__main__":
    main()
