# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Event-Driven Ansible source: one event per new report of suspicious mail by an employee (a user submission)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
short_description: Emit an event for each new report of suspicious mail by an employee
version_added: 1.3.0
description:
  - An ansible-rulebook event source plugin. It polls Cloudflare Email Security's user submissions (employees'
    reports through PhishNet or a report-phish button, C(GET .../submissions) with C(type=USER)) in a time window
    that moves forward, and emits one event per report, each report once, also across restarts.
  - 'Each event is C({"report": {...}, "reporter": ..., "message_id": ..., "message": {...}, "unresolved": ...,
    "account_id": ...}): C(report) as M(mailsec.cloudflare.email_security_submission_info) lists it (C(submission_id),
    C(requested_at), C(requested_by), C(original_postfix_id), C(original_disposition), C(requested_disposition),
    C(status)...), C(reporter) the reporter''s address in lower case, and C(message_id) and C(message) the reported
    message (as M(mailsec.cloudflare.email_security_message_info) returns it), found by the report''s postfix id
    with one search. Where it cannot be found, they are null and C(unresolved) says why. No event carries a
    credential.'
  - Every request is paced inside Cloudflare's rate limit with the budget the collection's modules share on this
    machine (C(state_dir)).
  - 'Once-only delivery: a report''s submission id is written to the checkpoint (its journal,
    C(<checkpoint>.emitted), one synced line per report) before its event is put on the queue, so a restarted source
    never emits it again; a source killed between the two loses that one event (the report stays in Cloudflare''s
    list). The checkpoint keeps the window''s start and the ids a later poll could still list.'
  - Credentials come from the arguments or, as in the modules, from C(CLOUDFLARE_API_TOKEN) (or
    C(CLOUDFLARE_EMAIL) and C(CLOUDFLARE_API_KEY)), C(CLOUDFLARE_ACCOUNT_ID) and C(CLOUDFLARE_BASE_URL).
options:
  account_id:
    description: The Cloudflare account id; C(CLOUDFLARE_ACCOUNT_ID) when not given.
    type: str
  api_token:
    description: An API token with Cloud Email Security Read; C(CLOUDFLARE_API_TOKEN) when not given.
    type: str
  api_email:
    description: The legacy global API key's email (C(CLOUDFLARE_EMAIL)), with O(api_key).
    type: str
  api_key:
    description: The legacy global API key (C(CLOUDFLARE_API_KEY)), with O(api_email).
    type: str
  base_url:
    description: The API's base URL; C(CLOUDFLARE_BASE_URL), else C(https://api.cloudflare.com/client/v4).
    type: str
  validate_certs:
    description: Validate the server's TLS certificate.
    type: bool
    default: true
  ca_path:
    description: A CA bundle to validate the server's certificate with.
    type: str
  allow_insecure:
    description: Allow plain C(http://) or O(validate_certs=false) towards a host other than this one.
    type: bool
    default: false
  timeout:
    description: Seconds to wait for each answer.
    type: float
    default: 30
  retries:
    description: How often a failed read is retried (rate limited, 5xx, connection failures), 0 to 10.
    type: int
    default: 3
  max_retry_wait:
    description: The longest C(Retry-After) to wait for within a poll; a longer lockout is waited out between polls.
    type: float
    default: 60
  rate_limit:
    description: Requests per 5 minutes this machine may send with the credential, shared with the modules.
    type: int
    default: 1000
  state_dir:
    description:
      - Where the shared request budget (and, by default, the checkpoint) lives; C(MAILSEC_CLOUDFLARE_STATE_DIR),
        else C(~/.local/state/mailsec.cloudflare).
    type: str
  state_backend:
    description:
      - V(local) keeps the budget and the checkpoint in files (C(state_dir)); V(postgresql) keeps them in the
        database of C(state_dsn), so that an activation the EDA controller restarts in a new container, on any node,
        continues where it stopped and shares the budget with the modules' jobs. C(MAILSEC_CLOUDFLARE_STATE_BACKEND)
        when not given, else V(local).
    type: str
    choices: [local, postgresql]
  state_dsn:
    description:
      - The libpq connection URI of the state database, for V(postgresql); C(MAILSEC_CLOUDFLARE_STATE_DSN) when not
        given. Never shown in events, logs or errors.
    type: str
  checkpoint:
    description:
      - The checkpoint file. Put it on persistent storage (a volume of the decision environment) so that a
        restart continues where the source stopped. Default C(<state_dir>/eda-user-reports-<account_id>.json).
      - With C(state_backend=postgresql), the checkpoint's name in the database instead; default
        C(eda-user-reports-<account_id>).
    type: str
  poll_interval:
    description: Seconds between two polls (at least 5).
    type: int
    default: 60
  backlog:
    description:
      - On a first start (no checkpoint), how far back to look, in seconds; V(0) emits only what is reported from
        now on.
    type: int
    default: 3600
  overlap:
    description:
      - Seconds each window reaches back before the previous poll, for reports listed late; reports already emitted
        are not emitted again.
    type: int
    default: 600
"""

EXAMPLES = r"""
- name: Employees' reports of suspicious mail
  hosts: localhost
  sources:
    - mailsec.cloudflare.email_security_user_reports:
        poll_interval: 60
        backlog: 86400
        checkpoint: /var/lib/eda/mailsec-user-reports.json
  rules:
    - name: Show each report and the message it is about
      condition: event.report is defined
      action:
        debug:
"""

import asyncio
import logging
import os
import sys


def _import_feed():
    """The collection's user-report feed and source loop. ansible-rulebook loads this file by path, so the ``ansible_collections``
    directory the collection is installed in may not be on sys.path yet: it is four levels above this file's
    collection (<path>/ansible_collections/mailsec/cloudflare/extensions/eda/plugins/event_source/)."""
    try:
        from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads import source_loop, user_report_feed
    except ImportError:
        here = os.path.dirname(os.path.abspath(__file__))
        sys.path.append(os.path.abspath(os.path.join(here, *([os.pardir] * 7))))
        from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads import source_loop, user_report_feed
    return user_report_feed, source_loop


_feed, _loop = _import_feed()
logger = logging.getLogger(__name__)


async def main(queue, args):
    """Poll, and put one event per new user report on the queue, until cancelled."""
    source = _feed.UserReportSource.from_args(args, os.environ, logger.warning)
    await _loop.serve(queue, source, "user reports", logger.warning)


if __name__ == "__main__":

    class _PrintQueue:
        async def put(self, event):
            print(event)

    asyncio.run(main(_PrintQueue(), {}))
