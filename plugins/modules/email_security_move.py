#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: email_security_move
short_description: Move delivered messages between mailbox folders with Cloudflare Email Security
version_added: 1.2.0
description:
  - Moves delivered messages to a folder of their recipients' mailboxes through Cloudflare Email Security's
    Investigate API (C(POST /accounts/{account_id}/email-security/investigate/move)), in batches of up to 1000.
  - With Cloudflare's API (post-delivery) deployment for Microsoft 365 or Google Workspace, a false positive is not
    quarantined but moved to C(JunkEmail) or C(DeletedItems); moving it back to the V(Inbox) is its release. Phish
    that got through is moved out of the inboxes, to V(DeletedItems) for example.
  - Each message is located first, and only messages not already in O(destination) are sent, so running the same
    task again sends nothing and reports no change. A message whose details show no move and that was delivered is
    in the Inbox (no further read); any other delivered message is where the last successful C(MOVE) of its action
    log put it (one read of its action log).
  - Quarantined messages are in no mailbox and are not moved; M(mailsec.cloudflare.email_security_release) delivers
    them.
  - Moves need the account's mailbox integration. Without it Cloudflare refuses every move with a 4XX, and the task
    stops with that error explained.
author:
  - mailsec.cloudflare maintainers (@mailsec)
options:
  message_ids:
    description:
      - The ids of the messages to move, as the Investigate API and
        M(mailsec.cloudflare.email_security_message_info) return them.
      - Repeated ids are moved once, in the order first seen, with a warning.
      - A message id is a string of 1 to 256 characters, each a letter, a digit or one of C(._:+=@~-), never C(.)
        or C(..), never percent-encoded. An empty list, or any item that breaks this rule, fails the task before any
        request is sent. Booleans, numbers and nulls are refused, not converted; quote ids in YAML.
      - Ids given as text (one string, or a survey field pasted from a ticket) are split where commas, semicolons,
        spaces or line breaks stand between them, as the runbooks read them; no id holds one of those.
      - Exactly one of O(message_ids) and O(search) is required.
    type: list
    elements: raw
    aliases: [ids]
  destination:
    description:
      - The mailbox folder to move the messages to, as Cloudflare names it.
      - V(RecoverableItemsDeletions) and V(RecoverableItemsPurges) take the messages out of their recipients'
        reach and need O(confirm_purge=true).
    type: str
    required: true
    choices: [Inbox, JunkEmail, DeletedItems, RecoverableItemsDeletions, RecoverableItemsPurges]
  confirm_purge:
    description:
      - Confirms a move to V(RecoverableItemsDeletions) or V(RecoverableItemsPurges). Without it such a task fails
        before any request, except in check mode, which reads and names exactly the messages that would go.
    type: bool
    default: false
extends_documentation_fragment:
  - mailsec.cloudflare.write
  - mailsec.cloudflare.write.outcome
  - mailsec.cloudflare.write.batches
  - mailsec.cloudflare.connection
  - mailsec.cloudflare.connection.action_group
  - mailsec.cloudflare.search
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details:
      - Check mode never sends a move. It locates every message as a real run would and names in RV(results)
        exactly the messages a real run would move (V(would_move)), with the folder each is in now.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: full
    details:
      - The diff shows each message's folder before and after, for example C(JunkEmail) to C(Inbox).
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second run reports no changes.
    support: full
    details:
      - Messages already in O(destination) end V(already_there) and are not sent.
notes:
  - B(A move lands once.) Rate-limit answers, authentication and permission refusals and connections that failed
    before any byte was written are the only failures after which a move is sent again at once. After a lost
    answer (a timeout, a dropped connection) or a server error (HTTP 5xx, which a gateway may send while the move is
    still processed) its messages are read back until they show in O(destination) (V(moved_unconfirmed)) or
    O(settle_timeout) has passed since it was sent; only those still elsewhere then are sent again, at most
    O(retries) times. A 500 the server never acted on therefore costs the whole O(settle_timeout) before the move is
    sent again. After a 4XX (or a 2xx with C(success=false)) the server has finished with the request, so one read
    decides, and messages still elsewhere end V(not_moved).
  - B(Crash and re-run.) Each move request is written to the journal of the state store (O(state_backend)) before
    it leaves. The next run that shares the store settles a move an earlier run left unsettled, to any folder,
    before it sends anything, so a late move never undoes a later one.
  - B(Statuses claim only what is known.) V(moved) needs the answer's per-recipient items, each a success; a message
    seen in O(destination) without them is V(moved_unconfirmed). The answer's items are matched to the requested
    ids by their C(message_id); an answer keyed otherwise leaves every message to be read back.
  - Every Investigate API operation is marked beta in Cloudflare's published contract.
seealso:
  - module: mailsec.cloudflare.email_security_release
  - module: mailsec.cloudflare.email_security_blocked_sender
  - name: Move messages (Cloudflare API reference)
    description: The endpoint this module calls.
    link: https://developers.cloudflare.com/api/resources/email_security/subresources/investigate/subresources/move/methods/bulk/
"""

EXAMPLES = r"""
- name: Move a false positive that Cloudflare moved to Junk Email back to the Inbox (API deployment)
  mailsec.cloudflare.email_security_move:
    message_ids:
      - 4Njp3P0STMz2c02Q-2026-11-24T10:00:00-12345678
    destination: Inbox
  register: moved

- name: It reached every recipient's Inbox
  ansible.builtin.assert:
    that: moved.results | map(attribute='status') | unique == ['moved']

- name: Preview which delivered messages of a phish campaign would leave the inboxes (reads only)
  mailsec.cloudflare.email_security_move:
    search:
      sender: billing@phish.example
      start: "2026-11-24T08:00:00Z"
      detections_only: false
    destination: DeletedItems
  check_mode: true
  diff: true
  register: preview

- name: Pull the campaign out of every inbox
  mailsec.cloudflare.email_security_move:
    search:
      sender: billing@phish.example
      start: "2026-11-24T08:00:00Z"
      detections_only: false
    destination: DeletedItems
    max_messages: 5000

- name: Purge, out of the recipients' reach (needs the confirmation)
  mailsec.cloudflare.email_security_move:
    message_ids: "{{ preview.results | selectattr('status', 'eq', 'would_move') | map(attribute='id') }}"
    destination: RecoverableItemsPurges
    confirm_purge: true
"""

RETURN = r"""
destination:
  description: The folder the task moved to.
  returned: always
  type: str
  sample: Inbox
results:
  description:
    - One entry per unique requested id (or message the search found), in request order. Also returned when the
      task fails.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The message id.
      type: str
      returned: always
      sample: 4Njp3P0STMz2c02Q-2026-11-24T10:00:00-12345678
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
        - V(moved) moved for every recipient, as the answer's items say. V(would_move) check mode.
        - V(partially_moved) moved for some recipients, not for others (see RV(results[].failed)).
        - V(moved_unconfirmed) seen in O(destination) after this run's move, without per-recipient items for it
          (the answer was lost, or held no item for it).
        - V(move_pending) a move for it may still land; its answer was lost and it was not in O(destination) at the
          last read, before O(settle_timeout) had passed. Run the task again with the same state store.
        - V(not_moved) refused, moved for no recipient, or not sent (the detail says which).
        - V(already_there) in O(destination) already, so not sent (also for a message an interrupted earlier run
          had moved).
        - V(quarantined) in quarantine, not in a mailbox; not sent. Release it with
          M(mailsec.cloudflare.email_security_release).
        - V(not_in_mailbox) delivered to no mailbox (rejected, bounced, deferred, or still queued); not sent.
        - V(not_found) Cloudflare has no such message. V(unknown) where it is, or what became of its move, could not
          be established; never counted as moved.
      type: str
      returned: always
      sample: moved
    folder_before:
      description: Where the message was when it was located (a folder, C(quarantine), C(no mailbox)), or null.
      type: str
      returned: always
      sample: JunkEmail
    moved:
      description: Recipients for whom the answer says the message was moved. Never null.
      type: list
      elements: str
      returned: always
      sample: [alice@example.com]
    failed:
      description: Recipients for whom the answer says the move failed. Never null.
      type: list
      elements: str
      returned: always
      sample: []
    detail:
      description: Why the status is what it is, when that is not self-evident; null otherwise.
      type: str
      returned: always
      sample: already in Inbox; not sent
summary:
  description: Counts over RV(results); every status has its own count, zero included.
  returned: always
  type: dict
  contains:
    total:
      description: Messages in RV(results).
      type: int
      returned: always
    incomplete:
      description: The length of RV(incomplete_ids).
      type: int
      returned: always
    moved:
      description: Messages moved for every recipient.
      type: int
      returned: always
    partially_moved:
      description: Messages moved for some recipients only.
      type: int
      returned: always
    moved_unconfirmed:
      description: Messages seen in the destination without per-recipient items.
      type: int
      returned: always
    move_pending:
      description: Messages whose move may still land.
      type: int
      returned: always
    not_moved:
      description: Messages refused, moved for no recipient, or not sent.
      type: int
      returned: always
    would_move:
      description: Messages a real run would send (check mode).
      type: int
      returned: always
    already_there:
      description: Messages in the destination already.
      type: int
      returned: always
    quarantined:
      description: Messages in quarantine, not in a mailbox.
      type: int
      returned: always
    not_in_mailbox:
      description: Messages delivered to no mailbox.
      type: int
      returned: always
    not_found:
      description: Ids Cloudflare does not know.
      type: int
      returned: always
    unknown:
      description: Messages whose location or outcome could not be established.
      type: int
      returned: always
    recipients_moved:
      description: Recipients moved, over all messages.
      type: int
      returned: always
    recipients_failed:
      description: Recipients whose move failed, over all messages.
      type: int
      returned: always
    requests_sent:
      description: HTTP requests sent, reads and retries included.
      type: int
      returned: always
    retries:
      description: Requests that were retried.
      type: int
      returned: always
    rate_limit_pauses:
      description: How many times the task paused to stay inside the rate limit.
      type: int
      returned: always
    rate_limit_paused_seconds:
      description: Seconds the task waited to stay inside the rate limit.
      type: float
      returned: always
  sample:
    total: 2
    moved: 1
    partially_moved: 0
    moved_unconfirmed: 0
    move_pending: 0
    not_moved: 0
    would_move: 0
    already_there: 1
    quarantined: 0
    not_in_mailbox: 0
    not_found: 0
    unknown: 0
    incomplete: 0
    recipients_moved: 2
    recipients_failed: 0
    requests_sent: 4
    retries: 0
    rate_limit_pauses: 0
    rate_limit_paused_seconds: 0.0
moved_ids:
  description: Ids moved for every recipient by this run (status V(moved)).
  returned: always
  type: list
  elements: str
  sample: [4Njp3P0STMz2c02Q-2026-11-24T10:00:00-12345678]
incomplete_ids:
  description: Every id that is not where the task was to put it, and needs attention; see O(fail_on_incomplete).
  returned: always
  type: list
  elements: str
  sample: []
unexpected_items:
  description: Items of a move answer that match no requested id or say nothing of success, as returned.
  returned: always
  type: list
  elements: raw
  sample: []
search:
  description: With O(search), what the search found, and the pages it took.
  returned: when O(search) is set
  type: dict
  contains:
    pages:
      description: Search pages read (up to 1000 messages each).
      type: int
      returned: always
    found:
      description: Messages the search matched, each listed in RV(results).
      type: int
      returned: always
    quarantined:
      description: Of those, messages in quarantine (not moved).
      type: int
      returned: always
    skipped_items:
      description: Items of the search answer without a valid message id; they are never moved.
      type: int
      returned: always
  sample: {pages: 10, found: 10000, quarantined: 0, skipped_items: 0}
error:
  description: The API error that stopped the task, without credentials or headers.
  returned: when an error stopped the whole task (credentials, permissions, no mailbox integration, task_timeout)
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
    status: 400
    errors: [{code: 1012, message: Requires active integration}]
    method: POST
    path: /accounts/023e105f4ecef8ad9ca31a8372d0c353/email-security/investigate/move
    cf_ray: 8f1c2d3e4a5b6c7d-SJC
"""

from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.ids import requested_message_ids
from ansible_collections.mailsec.cloudflare.plugins.module_utils._module.write_module import Requested, run_write_module
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.search import SEARCH_OPTION, search_spec
from ansible_collections.mailsec.cloudflare.plugins.module_utils._writes.move import (
    DESTINATIONS,
    MailboxSearch,
    MovePolicy,
    check_destination,
)


def _request(params, check_mode):
    """What the task asks for, or ValidationError: before any request."""
    check_destination(params["destination"], params["confirm_purge"], check_mode)

    def make(context):
        search = None
        if params["search"] is not None:
            search = MailboxSearch(context.client, context.account_id, spec, params["max_messages"])
        policy = MovePolicy(
            context,
            params["destination"],
            reader=search.read if search else None,
            find=search.find if search else None,
        )
        return policy, search

    if params["search"] is not None:
        spec = search_spec(params["search"])
        return Requested([], [], "moved", make)
    return Requested(*requested_message_ids(params["message_ids"], params["max_messages"]), "moved", make)


def main():
    run_write_module(
        dict(
            message_ids=dict(type="list", elements="raw", aliases=["ids"]),
            search=SEARCH_OPTION,
            destination=dict(type="str", required=True, choices=list(DESTINATIONS)),
            confirm_purge=dict(type="bool", default=False),
        ),
        ("max_messages", "batch_size", "fail_on_incomplete", "settle_timeout"),
        _request,
        mutually_exclusive=[("message_ids", "search")],
        required_one_of=[("message_ids", "search")],
    )


if __name__ == "__main__":
    main()
