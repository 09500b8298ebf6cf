# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Event-Driven Ansible source: one event per message Cloudflare Email Security newly quarantined."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
short_description: Emit an event for each message Cloudflare Email Security newly quarantines
version_added: 1.1.0
description:
  - An ansible-rulebook event source plugin. It polls the Investigate search of one account for quarantined
    messages, in a time window that moves forward, and emits one event per message, each message once, also across
    restarts.
  - 'Each event is C({"message": {...}, "sender": ..., "sender_domain": ..., "account_id": ...}): C(message) as
    M(mailsec.cloudflare.email_security_message_info) returns it (C(id), C(from), C(to), C(subject),
    C(final_disposition), C(delivery_status)...), C(sender) and C(sender_domain) in lower case for conditions. No
    event carries a credential.'
  - The search is paged by cursor, slow searches (HTTP 202) are waited for, and every request is paced inside
    Cloudflare's rate limit with the budget the collection's modules share on this machine (C(state_dir)).
  - 'Once-only delivery: a message id is written to the checkpoint (its journal, C(<checkpoint>.emitted), one synced
    line per message) before its event is put on the queue, so a restarted source never emits it again; a source
    killed between the two loses that one event (the message stays in quarantine). The checkpoint keeps the
    window''s start and the ids a later search could still return.'
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
        restart continues where the source stopped. Default C(<state_dir>/eda-quarantine-<account_id>.json).
      - With C(state_backend=postgresql), the checkpoint's name in the database instead; default
        C(eda-quarantine-<account_id>).
    type: str
  poll_interval:
    description: Seconds between two polls (at least 5).
    type: int
    default: 60
  backlog:
    description:
      - On a first start (no checkpoint), how far back to look, in seconds; V(0) emits only what is quarantined
        from now on.
    type: int
    default: 3600
  overlap:
    description:
      - Seconds each window reaches back before the previous poll, for messages the search shows late; messages
        already emitted are not emitted again.
    type: int
    default: 600
  query:
    description: Free text, as the info module's O(mailsec.cloudflare.email_security_message_info#module:query).
    type: str
  sender:
    description: Only messages from this sender address or domain.
    type: str
  recipient:
    description: Only messages to this recipient address or domain.
    type: str
  subject:
    description: Only messages with these subject keywords.
    type: str
  domain:
    description: Only messages that mention this domain.
    type: str
  alert_id:
    description: Only the message with this alert id.
    type: str
  final_disposition:
    description: Only messages with this final disposition.
    type: str
    choices: [MALICIOUS, SUSPICIOUS, SPOOF, SPAM, BULK, NONE]
"""

EXAMPLES = r"""
- name: Newly quarantined mail
  hosts: localhost
  sources:
    - mailsec.cloudflare.email_security_quarantine:
        poll_interval: 60
        backlog: 3600
        checkpoint: /var/lib/eda/mailsec-quarantine.json
  rules:
    - name: Show it
      condition: event.message is defined
      action:
        debug:
"""

import asyncio
import logging
import os
import sys


def _import_feed():
    """The collection's feed and source loop. ansible-rulebook loads this file by path, so the ``ansible_collections``
    directory the collection is installed in may not be on sys.path yet: it is four levels above this file's
    collection (<path>/ansible_collections/mailsec/cloudflare/extensions/eda/plugins/event_source/)."""
    try:
        from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads import quarantine_feed, source_loop
    except ImportError:
        here = os.path.dirname(os.path.abspath(__file__))
        sys.path.append(os.path.abspath(os.path.join(here, *([os.pardir] * 7))))
        from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads import quarantine_feed, source_loop
    return quarantine_feed, source_loop


_feed, _loop = _import_feed()
logger = logging.getLogger(__name__)


async def main(queue, args):
    """Poll, and put one event per newly quarantined message on the queue, until cancelled."""
    source = _feed.QuarantineSource.from_args(args, os.environ, logger.warning)
    await _loop.serve(queue, source, "quarantined messages", logger.warning)


if __name__ == "__main__":

    class _PrintQueue:
        async def put(self, event):
            print(event)

    asyncio.run(main(_PrintQueue(), {}))
