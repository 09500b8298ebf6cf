#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: email_security_submission
short_description: Report messages to Cloudflare Email Security as misclassified (false positives)
version_added: 1.1.0
description:
  - Tells Cloudflare that its verdict on messages was wrong, so that detection improves
    (C(POST /accounts/{account_id}/email-security/submissions) with C(type=reclassification)), by investigate id.
  - Finds each message's C(alert_id) itself, and submits each message at most once per expected disposition, as
    the message's action log shows its submissions.
  - Replaces the deprecated C(POST .../investigate/{id}/reclassify).
author:
  - mailsec.cloudflare maintainers (@mailsec)
options:
  message_ids:
    description:
      - The investigate ids of the messages to report, as M(mailsec.cloudflare.email_security_message_info) and
        M(mailsec.cloudflare.email_security_release) return them.
      - Ids follow the same rule as in M(mailsec.cloudflare.email_security_release), checked before any request;
        repeated ids are reported once.
    type: list
    elements: raw
    required: true
    aliases: [ids]
  expected_disposition:
    description:
      - The verdict the messages should have had. V(NONE) (the default) reports a false positive, a clean message.
    type: str
    choices: [NONE, BULK, SPAM, SPOOF, SUSPICIOUS, MALICIOUS]
    default: NONE
  escalated_submission_ids:
    description:
      - Escalates employees' reports to Cloudflare with this submission, as the security team does in the dashboard.
        Maps an investigate id of O(message_ids) to the submission id of the user report (PhishNet, a report-phish
        button) about that message, which Cloudflare then lists as escalated, naming this submission.
      - Only the messages submitted by this task escalate; one whose action log shows it submitted already is not
        submitted again, so its report is not escalated by this task.
    type: dict
    version_added: 1.3.0
extends_documentation_fragment:
  - mailsec.cloudflare.write
  - mailsec.cloudflare.write.outcome
  - mailsec.cloudflare.connection
  - mailsec.cloudflare.connection.action_group
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details:
      - Check mode reads each message and its action log and predicts V(would_submit) or V(already_submitted); it
        sends no submission.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: none
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second run reports no changes.
    support: full
    details:
      - A message whose action log shows a submission with the same expected disposition is not submitted again.
notes:
  - Each message costs a read of the message and of its action log; the submissions go in one request per 100
    messages. A submission whose answer was partly refused is settled by reading the messages' action logs once;
    one whose answer was lost, by reading them until they show it or O(settle_timeout) has passed, never by
    sending it again meanwhile.
  - Before each request its messages are written to a journal in the state store (O(state_backend)), removed once
    the outcome is known. A run that is killed, or stops at O(task_timeout), leaves them there, and the next run
    that shares the store reads their action logs (with the same rule) before it submits anything. Runs writing to
    the same account take turns (a lock in the store, on one machine with O(state_dir), on every machine with
    O(state_backend=postgresql)).
  - Every submissions operation is marked beta in Cloudflare's published contract.
seealso:
  - module: mailsec.cloudflare.email_security_release
  - module: mailsec.cloudflare.email_security_message_info
"""

EXAMPLES = r"""
- name: Tell Cloudflare the released invoices were clean
  mailsec.cloudflare.email_security_submission:
    message_ids: "{{ release.released_ids }}"
  register: reported

- name: Report a message that should have been classed as bulk mail
  mailsec.cloudflare.email_security_submission:
    message_ids: [4Njp3P0STMz2c02Q-2024-01-05T10:00:00-12345678]
    expected_disposition: BULK

- name: Escalate an employee's report of phish to Cloudflare with the team's submission
  mailsec.cloudflare.email_security_submission:
    message_ids: [4Njp3P0STMz2c02Q-2024-01-05T10:00:00-12345678]
    expected_disposition: MALICIOUS
    escalated_submission_ids:
      4Njp3P0STMz2c02Q-2024-01-05T10:00:00-12345678: 5c1a7e2f9d3b4a60
"""

RETURN = r"""
results:
  description: One entry per unique requested id, in request order. Also returned when the task fails.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The investigate id.
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
    status:
      description:
        - V(submitted) (this run's submission is in the message's action log, or Cloudflare accepted it),
          V(already_submitted), V(would_submit) (check mode), V(submission_pending) (the answer was lost and the
          task stopped before O(settle_timeout) had passed; the submission may still land, and running the task again
          settles it first), V(not_found), V(not_submitted) (refused, no alert id, or still not in the action log
          O(settle_timeout) after each of the requests whose answers were lost), or V(unknown) (the answer failed, or
          the action log could not be read, and the action log does not show it).
      type: str
      returned: always
    submission_id:
      description: The submission's id, when the message's action log shows it.
      type: str
      returned: always
    escalated_submission_id:
      description:
        - The user report the task was asked to escalate with this message's submission (O(escalated_submission_ids)),
          or null. It was escalated when the status is V(submitted).
      type: str
      returned: always
      version_added: 1.3.0
    alert_id:
      description: The alert id that was (or would be) reclassified.
      type: str
      returned: always
    detail:
      description: Why the status is what it is, or null.
      type: str
      returned: always
  sample:
    - id: 4Njp3P0STMz2c02Q-2024-01-05T10:00:00-12345678
      status: submitted
      submission_id: 9b1f0c2a7d3e4f5a
      alert_id: 4Njp3P0STMz2c02Q-alert
      detail: null
incomplete_ids:
  description: The ids whose status is not V(submitted), V(already_submitted) or V(would_submit).
  returned: always
  type: list
  elements: str
  sample: []
submitted_ids:
  description: The ids whose status is V(submitted).
  returned: always
  type: list
  elements: str
  sample: [4Njp3P0STMz2c02Q-2024-01-05T10:00:00-12345678]
  version_added: 1.3.0
summary:
  description:
    - How many messages ended with each status, and the requests sent.
    - Since 1.3.0 also C(incomplete) (the length of RV(incomplete_ids)), C(retries), C(rate_limit_pauses) and
      C(rate_limit_paused_seconds), as the other writing modules count them.
  returned: always
  type: dict
  sample:
    {submitted: 3, already_submitted: 0, would_submit: 0, submission_pending: 0, not_found: 0, not_submitted: 0,
     unknown: 0, total: 3, incomplete: 0, requests_sent: 10, retries: 0, rate_limit_pauses: 0, rate_limit_paused_seconds: 0.0}
error:
  description: The API error that stopped the task, without credentials or headers.
  returned: when an error stopped the whole task (credentials, permissions, account, lockout, task_timeout)
  type: dict
  contains:
    status:
      description: The HTTP status, when there was an answer.
      type: int
      returned: always
    errors:
      description: Cloudflare's C(errors[]) (C(code), C(message)).
      type: list
      elements: dict
      returned: always
    method:
      description: The HTTP method of the failed request.
      type: str
      returned: always
    path:
      description: The API path of the failed request.
      type: str
      returned: always
    cf_ray:
      description:
        - The ray id of Cloudflare's answer (its C(cf-ray) header), by which Cloudflare's audit logs find the request;
          null when no answer came.
      type: str
      returned: always
      version_added: 1.3.0
  sample:
    status: 403
    errors: [{code: 10000, message: Authentication error}]
    method: POST
    path: /accounts/023e105f4ecef8ad9ca31a8372d0c353/email-security/submissions
    cf_ray: 8f1c2d3e4a5b6c7d-SJC
"""

from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.ids import requested_message_ids
from ansible_collections.mailsec.cloudflare.plugins.module_utils._module.write_module import Requested, run_write_module
from ansible_collections.mailsec.cloudflare.plugins.module_utils._writes.submission import (
    DISPOSITIONS,
    SubmissionPolicy,
    escalations,
)


def _request(params, check_mode):
    """What the task asks for, or ValidationError: before any request."""
    message_ids, repeated = requested_message_ids(params["message_ids"])
    escalated = escalations(params["escalated_submission_ids"], message_ids)
    return Requested(
        message_ids,
        repeated,
        "submitted",
        lambda context: (SubmissionPolicy(context, params["expected_disposition"], escalated), None),
    )


def main():
    run_write_module(
        dict(
            message_ids=dict(type="list", elements="raw", required=True, aliases=["ids"]),
            expected_disposition=dict(type="str", default="NONE", choices=list(DISPOSITIONS)),
            escalated_submission_ids=dict(type="dict"),
        ),
        ("fail_on_incomplete", "settle_timeout"),
        _request,
    )


if __name__ == "__main__":
    main()
