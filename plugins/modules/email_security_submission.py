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
  fail_on_incomplete:
    description:
      - Fail the task when any message ends other than V(submitted), V(already_submitted) or V(would_submit). The
        failed result still carries RV(results).
    type: bool
    default: true
  settle_timeout:
    description:
      - Seconds within which the API processes a submission or never will. After a request whose answer was lost (timed
        out, cut, or a gateway error), each message's action log is read until it shows the submission or this long has
        passed since the request was sent; only then is it sent again (at most O(retries) times), never while the first
        may still land.
      - If the task cannot wait that long (O(task_timeout)), those messages end V(submission_pending), and the journal
        lets the next run settle it before it sends anything.
    type: float
    default: 120
    version_added: 1.2.0
extends_documentation_fragment:
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
summary:
  description: How many messages ended with each status, and the requests sent.
  returned: always
  type: dict
  sample: {submitted: 3, already_submitted: 0, would_submit: 0, submission_pending: 0, not_found: 0, not_submitted: 0, unknown: 0, total: 3, requests_sent: 10}
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
  sample:
    status: 403
    errors: [{code: 10000, message: Authentication error}]
    method: POST
    path: /accounts/023e105f4ecef8ad9ca31a8372d0c353/email-security/submissions
"""

from ansible_collections.mailsec.cloudflare.plugins.module_utils._module.ansible_module import CloudflareModule
from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.ids import unique_message_ids
from ansible_collections.mailsec.cloudflare.plugins.module_utils._state.local import Lifeline
from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import ValidationError, check_range
from ansible_collections.mailsec.cloudflare.plugins.module_utils._writes.submission import (
    COMPLETE_STATUSES,
    DISPOSITIONS,
    SUBMISSION_PENDING,
    SUBMITTED,
    WOULD_SUBMIT,
    SubmissionRun,
    submission_summary,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._write.engine import DEFAULT_SETTLE_TIMEOUT


def main():
    module = CloudflareModule(
        writes=True,
        argument_spec=dict(
            message_ids=dict(type="list", elements="raw", required=True, aliases=["ids"]),
            expected_disposition=dict(type="str", default="NONE", choices=list(DISPOSITIONS)),
            fail_on_incomplete=dict(type="bool", default=True),
            settle_timeout=dict(type="float", default=DEFAULT_SETTLE_TIMEOUT),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        check_range("settle_timeout", params["settle_timeout"], 1, 3600)
        message_ids = unique_message_ids(params["message_ids"])[0]
    except ValidationError as exc:
        module.fail_json(msg=str(exc))
    settings = module.resolve_settings()
    client = module.client(settings)
    account_id = settings["account_id"]
    state = module.state
    run = SubmissionRun(
        client,
        account_id,
        params["expected_disposition"],
        module.check_mode,
        settings["concurrency"],
        journal=state.journal(account_id),
        lock=state.lock(account_id),
        lifeline=Lifeline(),
        settle_timeout=params["settle_timeout"],
        warn=module.warn,
    )
    try:
        results = run.run(message_ids)
    finally:
        client.close()

    incomplete = [entry["id"] for entry in results if entry["status"] not in COMPLETE_STATUSES]
    result = dict(
        changed=any(entry["status"] in (SUBMITTED, SUBMISSION_PENDING, WOULD_SUBMIT) for entry in results),
        results=results,
        incomplete_ids=incomplete,
        summary=submission_summary(results, client.requests_sent),
    )
    if run.fatal is not None:
        module.fail_json(msg=run.fatal.message, error=run.fatal.as_dict(), **result)
    if incomplete and params["fail_on_incomplete"]:
        module.fail_json(
            msg="%d of %d message(s) were not submitted; see incomplete_ids and each result's detail, or set "
            "fail_on_incomplete: false" % (len(incomplete), len(results)),
            **result,
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
