#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: email_security_bulk_release
short_description: Release or move everything a search finds through a Cloudflare Email Security bulk job
version_added: 1.1.0
description:
  - Creates a server-side RELEASE job (C(POST /accounts/{account_id}/email-security/investigate/bulk)) for the
    messages an Investigate search matches, waits until the job ends, and reports its counters and, per message,
    what it did.
  - With O(action=move), a MOVE job instead, which moves every delivered message the search matches to
    O(destination), as M(mailsec.cloudflare.email_security_move) does for smaller sets.
  - Cloudflare discovers and releases the messages itself, so an outbreak of 100,000 messages takes a few hundred
    requests (the create, status polls, and pages of per-message outcomes) instead of one or more per message.
  - For smaller sets, M(mailsec.cloudflare.email_security_release) with its O(mailsec.cloudflare.email_security_release#module:search)
    option releases what a search finds with per-recipient results from the release answer itself.
author:
  - mailsec.cloudflare maintainers (@mailsec)
options:
  action:
    description:
      - V(release) releases the quarantined messages the search matches; V(move) moves the delivered ones to
        O(destination). Cloudflare's job acts on every such message it discovers, one already in O(destination)
        included.
    type: str
    choices: [release, move]
    default: release
    version_added: 1.2.0
  destination:
    description:
      - The mailbox folder of a move job; required with O(action=move), refused otherwise.
      - V(RecoverableItemsDeletions) and V(RecoverableItemsPurges) take the messages out of their recipients'
        reach and need O(confirm_purge=true).
    type: str
    choices: [Inbox, JunkEmail, DeletedItems, RecoverableItemsDeletions, RecoverableItemsPurges]
    version_added: 1.2.0
  confirm_purge:
    description: Confirms a move job to a Recoverable Items folder; check mode counts without it.
    type: bool
    default: false
    version_added: 1.2.0
  search:
    description:
      - The Investigate search whose quarantined messages the job releases (or, with O(action=move), whose
        delivered messages it moves), with the filters of
        M(mailsec.cloudflare.email_security_message_info); they become the job's C(search_params).
      - A time window is required. Set O(search.start), or O(search.all_time=true) to act on everything the
        search matches in Cloudflare's default window; a search with neither is refused before any request.
    type: dict
    required: true
  key:
    description:
      - Your own name for this release, part of the task's intent (see the notes). Two tasks with the same
        search but different keys create two jobs.
    type: str
  reason:
    description: Why the messages are released; part of the intent, and written into the job's comment.
    type: str
  ticket:
    description: The change or incident reference; part of the intent, and written into the job's comment.
    type: str
  wait:
    description:
      - Wait until the job is C(COMPLETED), C(FAILED) or C(CANCELLED).
      - With V(false), the task returns once the job exists; its messages end V(release_pending), and
        M(mailsec.cloudflare.email_security_bulk_job_info) reads the outcome later.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for the job to end (at most 86400); see O(cancel_on_timeout).
    type: float
    default: 1800
  poll_interval:
    description: Seconds between two reads of the job's status while waiting, from 1; every read counts toward the rate limit.
    type: float
    default: 5
  cancel_on_timeout:
    description:
      - Cancel the job when it has not ended within O(wait_timeout). Messages it had not processed end
        V(not_released) (cancelled); those it had released stay released.
      - With V(false), the job keeps running at Cloudflare and its remaining messages are V(release_pending).
    type: bool
    default: false
  message_results:
    description:
      - Which per-message outcomes to read into RV(results), one request per 1000 messages.
      - V(incomplete) names every message the job did not fully release. It reads the job's rows only when the
        counters show a recipient failed, cancelled or skipped (a message's outcome needs all its rows), and returns
        those messages. V(all) reads and returns every message; V(none) reads none (the counters in RV(summary)
        remain).
    type: str
    choices: [none, incomplete, all]
    default: incomplete
extends_documentation_fragment:
  - mailsec.cloudflare.write
  - mailsec.cloudflare.write.outcome
  - mailsec.cloudflare.connection
  - mailsec.cloudflare.connection.action_group
  - mailsec.cloudflare.search
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details:
      - Check mode lists the jobs (to find one with the same intent) and runs the search to count the messages a new
        job would release (RV(would_release)) or move (RV(would_move)); it creates and cancels nothing.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: full
    details:
      - The diff shows the job that is (or would be) created, with its search and comment.
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second run reports no changes.
    support: full
    details:
      - A second run finds the job of the same intent and reports it with C(changed=false) once it has completed.
notes:
  - B(One job per intent.) The intent is a key derived from the account, O(search), O(key), O(reason) and
    O(ticket) (and, for a move, O(destination)), written into the job's C(comment) as C(mailsec.cloudflare
    intent=<32 hex digits>). Before creating, the newest 1000 jobs of the action are listed and a job with the same intent is adopted instead (one that ended
    C(FAILED) or C(CANCELLED) is followed by a new job). Keep O(search.start) fixed for one incident, so that a
    re-run has the same intent.
  - B(A lost answer.) After a create whose answer was lost, jobs are listed until the job appears or
    O(settle_timeout) has passed; a run that dies meanwhile leaves a journal entry in the state store
    (O(state_backend)), and the next run that shares it looks for the job until the same moment before creating
    one. Runs for the same account take turns (on one machine with O(state_dir), on every machine with
    O(state_backend=postgresql)).
  - The job releases, at Cloudflare, what its search discovers when it starts; messages quarantined later, or
    released by someone else meanwhile, are not this task's to count.
  - Every bulk job operation is marked beta in Cloudflare's published contract.
seealso:
  - module: mailsec.cloudflare.email_security_bulk_job_info
  - module: mailsec.cloudflare.email_security_release
  - name: Create a bulk job (Cloudflare API reference)
    description: The endpoint this module calls.
    link: https://developers.cloudflare.com/api/resources/email_security/subresources/investigate/
"""

EXAMPLES = r"""
- name: Release everything a rule quarantined from a partner since 09:00, at Cloudflare
  mailsec.cloudflare.email_security_bulk_release:
    search:
      sender: northwind-supplies.example
      start: "2026-11-24T09:00:00Z"
    ticket: INC-4711
    reason: false positive of rule 'invoice-lookalike'
    wait_timeout: 3600
  register: outbreak

- name: Say what was released
  ansible.builtin.debug:
    msg: "Job {{ outbreak.job_id }}: {{ outbreak.summary.successful }} of {{ outbreak.summary.discovered }} released"

- name: Preview (creates nothing; counts what a job would release)
  mailsec.cloudflare.email_security_bulk_release:
    search:
      sender: northwind-supplies.example
      start: "2026-11-24T09:00:00Z"
    ticket: INC-4711
  check_mode: true
  diff: true
  register: preview

- name: Start the job and return at once; read the outcome later with email_security_bulk_job_info
  mailsec.cloudflare.email_security_bulk_release:
    search:
      domain: northwind-supplies.example
      start: "2026-11-24"
    wait: false
"""

RETURN = r"""
job:
  description:
    - The job as Cloudflare last reported it (C(BulkJobDetail)), or null in check mode when none exists yet.
  returned: always
  type: dict
  sample:
    job_id: f174e90a-fafe-4643-bbbc-4a0ed4fc8415
    status: COMPLETED
    total_messages_discovered: 3
    messages_successful: 3
    messages_failed: 0
    messages_pending: 0
    messages_skipped: 0
    messages_cancelled: 0
    comment: "mailsec.cloudflare intent=0f3c1d9e2b7a4c5d8e6f1a2b3c4d5e6f; ticket: INC-4711"
job_id:
  description: The job's id, or null in check mode when none exists yet.
  returned: always
  type: str
  sample: f174e90a-fafe-4643-bbbc-4a0ed4fc8415
intent:
  description: The key of this task's intent, as written into the job's comment.
  returned: always
  type: str
  sample: 0f3c1d9e2b7a4c5d8e6f1a2b3c4d5e6f
created:
  description: Whether this run created the job.
  returned: always
  type: bool
cf_ray:
  description:
    - The ray id of Cloudflare's answer to this run's create (its C(cf-ray) header), by which an auditor finds the
      job's creation in Cloudflare's Audit Logs v2 (C(raw_cf_ray_id)); null when this run created no job or its
      answer was lost (an adopted job).
  returned: always
  type: str
  sample: 8f1c2d3e4a5b6c7d-SJC
  version_added: 1.3.0
adopted:
  description: Whether this run found the job of its intent (made by an earlier run, or by a create whose answer was lost).
  returned: always
  type: bool
would_release:
  description: In check mode, when no job of this intent exists, the quarantined messages the search finds now.
  returned: when no release job exists in check mode
  type: int
  sample: 9990
would_move:
  description:
    - In check mode, when no job of this intent exists, the delivered messages the search finds now, each of which
      a move job would move.
  returned: when no move job exists in check mode (O(action=move))
  type: int
  sample: 9990
  version_added: 1.2.0
results:
  description:
    - Per-message outcomes (see O(message_results)), shaped like
      RV(mailsec.cloudflare.email_security_release#module:results), or with O(action=move) like
      RV(mailsec.cloudflare.email_security_move#module:results) (V(moved), V(partially_moved), V(not_moved),
      V(move_pending); C(folder_before) is null, since the job does not say).
    - V(released) when the job delivered to every recipient, V(partially_released), V(not_released) (failed,
      skipped or cancelled; the detail says which), or V(release_pending) for a message the job has not finished.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The message's investigate id.
      type: str
      returned: always
    status:
      description: The outcome for this message.
      type: str
      returned: always
    delivered:
      description: Recipients the job released it to.
      type: list
      elements: str
      returned: with O(action=release)
    failed:
      description: Recipients the job failed to release it to (or, with O(action=move), to move it for, skipped and cancelled ones included).
      type: list
      elements: str
      returned: always
    undelivered:
      description: Recipients the job skipped or cancelled.
      type: list
      elements: str
      returned: with O(action=release)
    moved:
      description: Recipients for whom the job moved it.
      type: list
      elements: str
      returned: with O(action=move)
      version_added: 1.2.0
    folder_before:
      description: Always null; a job does not say where a message was.
      type: str
      returned: with O(action=move)
      version_added: 1.2.0
    detail:
      description: The job's status message for each recipient that was not released (or moved), or null.
      type: str
      returned: always
    postfix_id:
      description: The message's short postfix id, when the job's rows carry it.
      type: str
      returned: when the job reports it
  sample:
    - id: 4Njp3P0STMz2c02Q-2024-01-05T10:00:00-12345678
      status: not_released
      delivered: []
      failed: [alice@corp.example]
      undelivered: []
      detail: "bulk job: alice@corp.example: FAILED delivery to the recipient failed"
incomplete_ids:
  description: The ids in RV(results) whose status is not V(released) (with O(action=move), not V(moved)).
  returned: always
  type: list
  elements: str
summary:
  description: The job's counters (per recipient row, as Cloudflare counts them), and the requests this task sent.
  returned: always
  type: dict
  contains:
    status:
      description: The job's status, or V(NONE) in check mode when no job exists.
      type: str
      returned: always
    discovered:
      description: Rows the job discovered; the sum of the five counters after it.
      type: int
      returned: always
    successful:
      description: Rows released.
      type: int
      returned: always
    failed:
      description: Rows that failed.
      type: int
      returned: always
    skipped:
      description: Rows discovery skipped (for example phish submissions).
      type: int
      returned: always
    cancelled:
      description: Rows cancelled before being processed.
      type: int
      returned: always
    pending:
      description: Rows not processed yet.
      type: int
      returned: always
    polls:
      description: Status reads while waiting.
      type: int
      returned: always
    requests_sent:
      description: Requests this task sent, retries included.
      type: int
      returned: always
  sample: {status: COMPLETED, discovered: 3, successful: 3, failed: 0, skipped: 0, cancelled: 0, pending: 0, polls: 2, requests_sent: 5}
error:
  description: The API error that stopped the task, without credentials or headers.
  returned: when an error stopped the task (credentials, permissions, account, lockout, task_timeout, a failed create)
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
    path: /accounts/023e105f4ecef8ad9ca31a8372d0c353/email-security/investigate/bulk
    cf_ray: 8f1c2d3e4a5b6c7d-SJC
"""

from ansible_collections.mailsec.cloudflare.plugins.module_utils._module.write_module import run_bulk_module
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.search import SEARCH_OPTION
from ansible_collections.mailsec.cloudflare.plugins.module_utils._writes.bulk import MESSAGE_RESULTS
from ansible_collections.mailsec.cloudflare.plugins.module_utils._writes.move import DESTINATIONS


def main():
    run_bulk_module(
        dict(
            action=dict(type="str", default="release", choices=["release", "move"]),
            destination=dict(type="str", choices=list(DESTINATIONS)),
            confirm_purge=dict(type="bool", default=False),
            search=dict(SEARCH_OPTION, required=True),
            key=dict(type="str", no_log=False),
            reason=dict(type="str"),
            ticket=dict(type="str"),
            wait=dict(type="bool", default=True),
            wait_timeout=dict(type="float", default=1800),
            poll_interval=dict(type="float", default=5),
            cancel_on_timeout=dict(type="bool", default=False),
            message_results=dict(type="str", default="incomplete", choices=list(MESSAGE_RESULTS)),
        ),
        ("fail_on_incomplete", "settle_timeout"),
    )


if __name__ == "__main__":
    main()
