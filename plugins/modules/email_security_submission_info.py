#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: email_security_submission_info
short_description: Read the submissions made to Cloudflare Email Security and what became of them
version_added: 1.3.0
description:
  - Lists the reclassification submissions (C(GET .../email-security/submissions), every page up to O(limit)), made
    by the security team (such as M(mailsec.cloudflare.email_security_submission)) or by users reporting mail, with
    their review status and outcome.
  - Each submission gets RV(submissions[].outcome_state), V(accepted), V(rejected) or V(pending). It is decided only
    when Cloudflare said so (an outcome of accepted or rejected, or an outcome disposition, compared with the
    requested one); until then it is V(pending), never guessed.
  - A submission names its message only by the postfix id, the part of the investigate id before its first dash;
    given O(message_ids), each submission whose postfix is one of theirs gets RV(submissions[].message_id).
  - Read-only; never changes anything.
author:
  - mailsec.cloudflare maintainers (@mailsec)
options:
  start:
    description:
      - Submissions requested at or after this RFC 3339 date-time (or a bare date, midnight UTC). Cloudflare's default
        is 30 days ago.
    type: str
  end:
    description: Submissions requested before this date-time. Cloudflare's default is now.
    type: str
  type:
    description: Only those made by the security team (V(TEAM)) or by end users (V(USER)).
    type: str
    choices: [TEAM, USER]
  status:
    description: Only those with this review status.
    type: str
    choices: [escalated, reviewed, unreviewed]
  original_disposition:
    description: Only those of messages that had this disposition.
    type: str
    choices: [MALICIOUS, SUSPICIOUS, SPOOF, SPAM, BULK, NONE]
  requested_disposition:
    description: Only those that asked for this disposition.
    type: str
    choices: [MALICIOUS, SUSPICIOUS, SPOOF, SPAM, BULK, NONE]
  outcome_disposition:
    description: Only those whose outcome is this disposition.
    type: str
    choices: [MALICIOUS, SUSPICIOUS, SPOOF, SPAM, BULK, NONE]
  query:
    description: Only those matching this search term.
    type: str
  escalated_from_user:
    description: V(true) only those an end user escalated, V(false) only the others; not set, both.
    type: bool
  submission_id:
    description: Only this submission.
    type: str
  order:
    description: The field to sort by; Cloudflare's default is V(requested_at).
    type: str
    choices: [submission_id, subject, original_disposition, requested_disposition, outcome_disposition, requested_at]
  direction:
    description: The sort direction.
    type: str
    choices: [asc, desc]
  message_ids:
    description: Investigate ids to match the submissions to, by their postfix id (see RV(submissions[].message_id)).
    type: list
    elements: raw
  limit:
    description: The most submissions returned; paging stops there and RV(truncated) says whether there may be more.
    type: int
    default: 1000
  per_page:
    description: Submissions per page, from 1 to 1000.
    type: int
    default: 100
extends_documentation_fragment:
  - mailsec.cloudflare.connection
  - mailsec.cloudflare.connection.action_group
  - mailsec.cloudflare.attributes.info_module
seealso:
  - module: mailsec.cloudflare.email_security_submission
  - module: mailsec.cloudflare.email_security_analytics_info
"""

EXAMPLES = r"""
- name: The team's submissions of the last 90 days, matched to the messages a runbook released
  mailsec.cloudflare.email_security_submission_info:
    start: "{{ '%Y-%m-%d' | strftime(now(utc=true).timestamp() - 90 * 86400) }}"
    type: TEAM
    message_ids: "{{ report.released_ids }}"
  register: submissions

- name: Say how many Cloudflare accepted
  ansible.builtin.debug:
    msg: "{{ submissions.summary.accepted }} accepted, {{ submissions.summary.rejected }} rejected, {{ submissions.summary.pending }} pending"

- name: Reports from users, not reviewed yet
  mailsec.cloudflare.email_security_submission_info:
    type: USER
    status: unreviewed
"""

RETURN = r"""
submissions:
  description: The submissions, in the order Cloudflare lists them; every field the API returned is kept.
  returned: always
  type: list
  elements: dict
  contains:
    submission_id:
      description: The submission's id.
      type: str
      returned: always
    requested_at:
      description: When it was requested (UTC).
      type: str
      returned: always
    original_postfix_id:
      description: The postfix id of the message submitted, or null.
      type: str
      returned: always
    status:
      description: The review status Cloudflare gives, such as V(unreviewed) or V(reviewed).
      type: str
      returned: always
    outcome:
      description: The outcome Cloudflare gives, or null while there is none.
      type: str
      returned: always
    outcome_disposition:
      description: The disposition Cloudflare decided, or null while it has not.
      type: str
      returned: always
    outcome_state:
      description:
        - V(accepted) (the outcome is accepted, or the outcome disposition is the requested one), V(rejected) (the
          outcome is rejected, or the outcome disposition is another), or V(pending) (Cloudflare has not decided).
      type: str
      returned: always
      sample: pending
    message_id:
      description: The investigate id among O(message_ids) whose postfix is this submission's, or null.
      type: str
      returned: always
  sample:
    - submission_id: 6f1c2d3e4a5b6c7d
      requested_at: "2026-11-24T10:05:00Z"
      original_postfix_id: 4Njp3P0STMz2c02Q
      original_disposition: SPAM
      requested_disposition: NONE
      outcome_disposition: null
      outcome: null
      status: unreviewed
      type: Team
      outcome_state: pending
      message_id: 4Njp3P0STMz2c02Q-2024-01-05T10:00:00-12345678
truncated:
  description: Whether the list may hold more than O(limit) submissions.
  returned: always
  type: bool
  sample: false
summary:
  description: How many were listed, accepted, rejected and pending, how many matched O(message_ids), and the requests sent.
  returned: always
  type: dict
  sample: {listed: 12, accepted: 7, rejected: 2, pending: 3, matched: 10, requests_sent: 1}
error:
  description: The API error that stopped the task, without credentials or headers.
  returned: when an API error stopped the task
  type: dict
  sample:
    status: 403
    errors: [{code: 10000, message: Authentication error}]
    method: GET
    path: /accounts/023e105f4ecef8ad9ca31a8372d0c353/email-security/submissions
    cf_ray: 8f1c2d3e4a5b6c7d-SJC
"""

from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import CloudflareError, ValidationError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._module.ansible_module import CloudflareModule
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.reports import (
    SUBMISSION_FILTERS,
    matched_postfixes,
    read_submissions,
    submissions_query,
    submissions_summary,
)


def main():
    module = CloudflareModule(
        argument_spec=dict(
            message_ids=dict(type="list", elements="raw"),
            limit=dict(type="int", default=1000),
            per_page=dict(type="int", default=100),
            **SUBMISSION_FILTERS,
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        submissions_query(params)
        matched_postfixes(params["message_ids"])
    except ValidationError as exc:
        module.fail_json(msg=str(exc))
    settings = module.resolve_settings()
    client = module.client(settings)
    try:
        submissions, truncated = read_submissions(client, settings["account_id"], params)
    except CloudflareError as exc:
        module.fail_json(msg=exc.message, error=exc.as_dict())
    finally:
        client.close()
    module.exit_json(
        changed=False,
        submissions=submissions,
        truncated=truncated,
        summary=submissions_summary(submissions, client.requests_sent),
    )


if __name__ == "__main__":
    main()
