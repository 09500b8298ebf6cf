#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: email_security_bulk_job_info
short_description: Read Cloudflare Email Security bulk release jobs and their per-message outcomes
version_added: 1.1.0
description:
  - Reads one bulk job by id, with its per-message outcomes on request, or lists the account's RELEASE jobs.
  - Read-only; never changes anything. Jobs are created by M(mailsec.cloudflare.email_security_bulk_release).
author:
  - mailsec.cloudflare maintainers (@mailsec)
options:
  job_id:
    description:
      - Read this job (a UUID). Without it, the account's RELEASE jobs are listed.
    type: str
  status:
    description: List only jobs with this status. Ignored with O(job_id).
    type: str
    choices: [PENDING, DISCOVERING, PROCESSING, COMPLETED, FAILED, CANCELLED]
  intent:
    description:
      - List only jobs made by a task with this intent (RV(mailsec.cloudflare.email_security_bulk_release#module:intent)).
        Ignored with O(job_id).
    type: str
  limit:
    description: The most jobs to list, newest first, from 1 to 1000.
    type: int
    default: 100
  message_results:
    description:
      - With O(job_id), which per-message outcomes to read into RV(results), one request per 1000 messages;
        V(incomplete) returns the messages the job did not fully release, reading its rows only when its counters
        show a recipient failed, cancelled or skipped.
    type: str
    choices: [none, incomplete, all]
    default: none
extends_documentation_fragment:
  - mailsec.cloudflare.connection
  - mailsec.cloudflare.connection.action_group
  - mailsec.cloudflare.attributes.info_module
seealso:
  - module: mailsec.cloudflare.email_security_bulk_release
"""

EXAMPLES = r"""
- name: Read a job and every message's outcome
  mailsec.cloudflare.email_security_bulk_job_info:
    job_id: f174e90a-fafe-4643-bbbc-4a0ed4fc8415
    message_results: all
  register: job

- name: Release jobs still running
  mailsec.cloudflare.email_security_bulk_job_info:
    status: PROCESSING
  register: running
"""

RETURN = r"""
job:
  description: The job read by O(job_id) (C(BulkJobDetail)), or null when listing.
  returned: always
  type: dict
  sample: {job_id: f174e90a-fafe-4643-bbbc-4a0ed4fc8415, status: COMPLETED, total_messages_discovered: 3}
jobs:
  description: The jobs listed, newest first (the one job with O(job_id)).
  returned: always
  type: list
  elements: dict
  sample: [{job_id: f174e90a-fafe-4643-bbbc-4a0ed4fc8415, status: COMPLETED}]
results:
  description:
    - With O(job_id), per-message outcomes as
      RV(mailsec.cloudflare.email_security_bulk_release#module:results) describes them.
  returned: always
  type: list
  elements: dict
  sample: []
incomplete_ids:
  description: The ids in RV(results) whose status is not V(released).
  returned: always
  type: list
  elements: str
  sample: []
summary:
  description: With O(job_id), the job's counters; the jobs listed; and the requests sent.
  returned: always
  type: dict
  sample: {listed: 1, status: COMPLETED, discovered: 3, successful: 3, failed: 0, skipped: 0, cancelled: 0, pending: 0, requests_sent: 1}
"""

from ansible_collections.mailsec.cloudflare.plugins.module_utils._module.ansible_module import CloudflareModule
from ansible_collections.mailsec.cloudflare.plugins.module_utils._writes.bulk import (
    JOB_STATUSES,
    MESSAGE_RESULTS,
    BulkJobs,
    check_job_id,
    job_info,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import CloudflareError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import ValidationError, check_range


def main():
    module = CloudflareModule(
        argument_spec=dict(
            job_id=dict(type="str"),
            status=dict(type="str", choices=list(JOB_STATUSES)),
            intent=dict(type="str"),
            limit=dict(type="int", default=100),
            message_results=dict(type="str", default="none", choices=list(MESSAGE_RESULTS)),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        job_id = check_job_id(params["job_id"]) if params["job_id"] is not None else None
        check_range("limit", params["limit"], 1, 1000)
    except ValidationError as exc:
        module.fail_json(msg=str(exc))
    settings = module.resolve_settings()
    client = module.client(settings)
    try:
        result = job_info(BulkJobs(client, settings["account_id"]), job_id, params)
    except CloudflareError as exc:
        module.fail_json(msg=exc.message, error=exc.as_dict())
    finally:
        client.close()
    result["summary"]["requests_sent"] = client.requests_sent
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
