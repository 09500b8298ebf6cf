#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: email_security_release
short_description: Release messages from Cloudflare Email Security quarantine
version_added: 1.0.0
description:
  - Releases quarantined messages to their intended recipients through Cloudflare Email Security's
    Investigate API (C(POST /accounts/{account_id}/email-security/investigate/release)), in batches.
  - Returns one result per requested id, in request order, with a status and the recipients the message
    was delivered to, failed for, or not delivered to, so that later tasks can C(register) and C(assert).
  - By default each message is read first and only those still quarantined are sent, so running the same
    task again releases nothing twice and reports no change.
  - Given O(search) instead of ids, it releases what an Investigate search finds still quarantined. The search's
    pages (1000 messages each) serve as the pre-check, so the task sends one request per page and one per
    batch, not one per message. For the largest sets, M(mailsec.cloudflare.email_security_bulk_release) hands
    the release to a job that runs at Cloudflare.
author:
  - mailsec.cloudflare maintainers (@mailsec)
options:
  message_ids:
    description:
      - The ids of the messages to release, as the Investigate API and
        M(mailsec.cloudflare.email_security_message_info) return them.
      - Repeated ids are released once, in the order first seen, with a warning.
      - A message id is a string of 1 to 256 characters, each a letter, a digit or one of C(._:+=@~-), never C(.)
        or C(..), never percent-encoded. An empty list, or any item that breaks this rule, fails the task before any
        request is sent. Booleans, numbers and nulls are refused, not converted; quote ids in YAML.
      - Ids given as text (one string, or a survey field pasted from a ticket) are split where commas, semicolons,
        spaces or line breaks stand between them, as the runbooks read them; no id holds one of those.
      - Exactly one of O(message_ids) and O(search) is required.
    type: list
    elements: raw
    aliases: [ids]
  only_quarantined:
    description:
      - With O(search), the search's own answer is the pre-check and this option has no effect.
      - Read each message first and send only those still quarantined. Messages already out of quarantine end
        C(already_released) and unknown ids C(not_found), without a release request.
      - Ids carry the time Cloudflare received the message (C(<postfix_id>-<YYYY-MM-DDTHH:MM:SS>-<seq>)). Ids
        received close together are read by searching that stretch of time (a page per 1000 messages of that
        time, other mail included, with C(detections_only=false)); an id without a readable time, or one the
        search does not return, is read by its own C(GET). A window's search stops before its pages outnumber
        the ids it covers, so the pre-check of ids of one campaign costs a page per 1000 messages of that day,
        and never more than about twice one C(GET) per id. Reads run in parallel and inside the rate-limit
        pacing. The same reads settle an unsure release (see O(settle_timeout)).
      - This makes the task idempotent and check mode exact. Turn it off to save the reads when every id is
        known to be quarantined; a message released twice is then reported by Cloudflare as
        not delivered.
    type: bool
    default: true
  known_messages:
    description:
      - What an M(mailsec.cloudflare.email_security_message_info) task by O(message_ids) returned (its registered
        result), taken as this task's pre-check for the messages it read, while it is fresh (see
        O(known_messages_max_age)), so that a runbook that reads messages to show them does not read them again
        to release them.
      - Messages it does not hold (unknown to Cloudflare, filtered out by its
        O(mailsec.cloudflare.email_security_message_info#module:quarantined_only), or whose state it could not
        establish) are read as without it; so is every message once it is stale.
      - Only with O(message_ids) and O(only_quarantined=true), which it stands in for; given otherwise, the task
        fails before any request.
    type: dict
    version_added: 1.2.0
  known_messages_max_age:
    description:
      - Seconds after the reads of O(known_messages) began (its C(read_at)) during which its states are taken as
        they are, judged when the pre-check runs, after the account lock is held; later, every message is read
        again. V(0) always reads again.
      - A message someone else releases (in the dashboard, say) within this time would be released again, and
        Cloudflare reports a second release as not delivered. Keep it as short as the steps between the read and
        the release; the default covers a runbook's preview, guard and release, which run without a pause.
    type: float
    default: 60
    version_added: 1.2.0
  body_format:
    description:
      - The shape of the release request body. Cloudflare's beta API has changed it over time.
      - V(object) sends a JSON object with the ids in its C(ids) list, the current documented form;
        V(array) sends a bare JSON array of ids, the earlier form.
      - V(auto) sends the object form, the only one Cloudflare's published contract documents. If the server answers
        HTTP 400 or 422 with an error that names the request body, the batch's messages are read back first (a
        server may answer so after processing) and those still quarantined are sent in the array form, which is
        kept for the rest of the run.
    type: str
    choices: [auto, object, array]
    default: auto
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
      - With O(search), check mode runs the same search a real run would and names in RV(results) exactly the
        messages a real run would release (V(would_release)), so a preview and the release can be compared.
      - Check mode never sends a release request. With O(only_quarantined=true) it reads every message and
        predicts per id exactly what a real run would do (V(would_release), V(already_released),
        V(not_found)); with O(only_quarantined=false) it sends nothing at all and predicts V(would_release).
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: full
    details:
      - The diff shows each message's quarantine state before and after, for example C(quarantined) to C(released).
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second run reports no changes.
    support: partial
    details:
      - Idempotent with the default O(only_quarantined=true). With O(only_quarantined=false) a second run sends
        the release again; Cloudflare delivers nothing the second time and the ids end V(not_released).
notes:
  - B(Retries never deliver twice.) Rate-limit answers (HTTP 429), authentication and permission refusals, and
    connections that failed before any byte of the request was written are the only failures after which a
    release request is sent again at once, because nothing was processed.
  - After any other failure (a timeout, a dropped or reset connection, a TLS error while reading the answer, a
    server error, an unreadable answer, a 2xx with C(success=false), a 4XX that does not prove the request was
    refused) the request may have been processed, or may still be. Its messages are read back, repeatedly, until
    they leave quarantine (V(released_unconfirmed)) or O(settle_timeout) has passed since it was sent; only those
    still quarantined then are sent again, at most O(retries) times. If the server answered (a 4XX or a failed
    2xx) it has finished with the request, so one read decides, and messages still quarantined end
    V(not_released); the body form is switched (O(body_format=auto)) only when the error names the request body.
  - B(Crash and re-run.) Before each release request leaves, its ids and the time are written to a journal in
    the state store (O(state_backend)); the entry is removed once the outcome is settled. A run that is killed
    leaves its entries, and the next run that shares the store reads those messages back (with the same settle
    rule) before it sends anything. Runs releasing for the same account take turns (a lock in the store), and a
    module whose C(ansible-playbook) (or C(ansible-runner)) process is gone sends no further request.
  - B(One machine or many.) With O(state_backend=local) the journal and the lock are files in O(state_dir), shared
    by the runs on one machine only; two runs on different machines (two AWX execution nodes, container-group
    pods, or a job and a person at a laptop) releasing the same ids within O(settle_timeout) of each other can
    each see a message still quarantined and send it, since Cloudflare's release has no idempotency key. With
    O(state_backend=postgresql) they are shared by every machine that reaches the database, the lock is proved
    before each release request, and no request leaves without its journal entry committed.
  - B(Statuses claim only what is known.) V(released) and V(partially_released) need the answer's recipient
    lists. A message that left quarantine without them (the answer was lost, or carried no usable item for it)
    is V(released_unconfirmed). A message whose request may still be processed is V(release_pending). Items
    that contradict each other, or are of a shape the API does not document, go to RV(unexpected_items) with a
    warning, and their ids end V(unknown).
  - B(Pacing.) All requests of the task, on every thread, draw from one budget, the quota Cloudflare's
    C(Ratelimit) header announces, spent down to a reserve, then a pause until the window resets instead of
    tripping the 5-minute lockout (or O(rate_limit) requests per 5 minutes, see there). Pauses and retries
    show up as warnings.
  - A run that dies half-way can be run again as it was, with O(only_quarantined=true); messages it had
    released end V(already_released).
  - Every Investigate API operation is marked beta in Cloudflare's published contract.
  - What the contract does not state, and the module assumes, is named where it matters - the processing time
    behind O(settle_timeout), that a server answering a 4XX has finished with the request (one read decides),
    and that ids carry the time their message was received (only the cost of the reads depends on it, see
    O(only_quarantined)).
seealso:
  - module: mailsec.cloudflare.email_security_message_info
  - name: Release messages from quarantine (Cloudflare API reference)
    description: The endpoint this module calls.
    link: https://developers.cloudflare.com/api/resources/email_security/subresources/investigate/subresources/release/methods/bulk/
"""

EXAMPLES = r"""
- name: Release two messages and check the outcome
  mailsec.cloudflare.email_security_release:
    account_id: "{{ cloudflare_account_id }}"
    api_token: "{{ cloudflare_api_token }}"
    message_ids:
      - 4Njp3P0STMz2c02Q-2024-01-05T10:00:00-12345678
      - 5Kmq4Q1TUNa3d13R-2024-01-05T10:02:11-87654321
  delegate_to: localhost
  register: release

- name: Every message reached every recipient
  ansible.builtin.assert:
    that:
      - release.results | map(attribute='status') | unique == ['released']
      - "'alice@example.com' in release.results[0].delivered"

- name: Connection settings once, for every module of the collection
  module_defaults:
    group/mailsec.cloudflare.email_security:
      account_id: "{{ cloudflare_account_id }}"
      api_token: "{{ cloudflare_api_token }}"
  block:
    - name: Preview what a release would do (reads only, sends no release)
      mailsec.cloudflare.email_security_release:
        message_ids: "{{ ids }}"
      check_mode: true
      diff: true
      register: preview

    - name: Read the messages to show them
      mailsec.cloudflare.email_security_message_info:
        message_ids: "{{ ids }}"
      register: shown

    - name: Release them, taking what was just read as the pre-check (no second read)
      mailsec.cloudflare.email_security_release:
        message_ids: "{{ ids }}"
        known_messages: "{{ shown }}"

    - name: Release, keeping going on partial failure to report it
      mailsec.cloudflare.email_security_release:
        message_ids: "{{ preview.results | selectattr('status', 'eq', 'would_release') | map(attribute='id') }}"
        batch_size: 200
      register: release
      ignore_errors: true

    - name: Show what still needs attention
      ansible.builtin.debug:
        msg: "{{ release.summary.incomplete }} message(s) need attention: {{ release.incomplete_ids }}"
      when: release.incomplete_ids | length > 0

- name: Release what a false-positive rule quarantined from a partner since 09:00 (pages of 1000, no GET per id)
  mailsec.cloudflare.email_security_release:
    search:
      sender: invoices@northwind-supplies.example
      start: "2026-11-24T09:00:00Z"
    max_messages: 5000
    batch_size: 1000
  register: outbreak

- name: Credentials from the environment (CLOUDFLARE_ACCOUNT_ID, CLOUDFLARE_API_TOKEN), as AWX injects them
  mailsec.cloudflare.email_security_release:
    ids: "{{ message_ids }}"
    fail_on_incomplete: false
"""

RETURN = r"""
results:
  description:
    - One entry per unique requested id, in request order.
    - Also returned when the task fails.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The requested message id.
      type: str
      returned: always
      sample: 4Njp3P0STMz2c02Q-2024-01-05T10:00:00-12345678
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
        - V(released) every recipient delivered, as the release answer lists them.
        - V(partially_released) some recipients delivered, some failed or undelivered.
        - V(released_unconfirmed) the message left quarantine after this run's release request, but no answer
          listed its recipients (the answer was lost, or carried no usable item for it); confirm delivery before
          acting on it. Counted as incomplete.
        - V(release_pending) a release request for it may still be processed; the answer was lost and the
          message was still quarantined at the last read, before O(settle_timeout) had passed. Run the task again
          on the same machine; it settles this before sending anything.
        - V(not_released) delivered to nobody, refused by the API, or not sent (the detail says which).
        - V(would_release) check mode. V(already_released) no longer quarantined, with a release on record, so not
          sent (also for a message an interrupted earlier run had released). V(not_quarantined) not quarantined and
          no release on record (delivered or moved without quarantine), so nothing to release. V(not_found)
          Cloudflare has no such message.
        - A message whose quarantine state the answer does not establish (no boolean C(is_quarantined), or a
          C(delivery_status) that contradicts it) is not sent and ends V(unknown).
        - V(unknown) the outcome could not be established (never counted as released).
      type: str
      returned: always
      sample: released
    delivered:
      description: Recipients the message was delivered to. Never null.
      type: list
      elements: str
      returned: always
      sample: [alice@example.com]
    failed:
      description: Recipients whose delivery failed. Never null.
      type: list
      elements: str
      returned: always
      sample: []
    undelivered:
      description: Recipients the message was not delivered to. Never null.
      type: list
      elements: str
      returned: always
      sample: []
    postfix_id:
      description: The short, deprecated postfix id, when the API gave one.
      type: str
      returned: when the API returned it
      sample: 4Njp3P0STMz2c02Q
    detail:
      description: Why the status is what it is, when that is not self-evident; null otherwise.
      type: str
      returned: always
      sample: no longer quarantined; not sent again
summary:
  description: Counts over RV(results).
  returned: always
  type: dict
  contains:
    total:
      description: Unique ids requested.
      type: int
      returned: always
    incomplete:
      description: Ids not fully released (the length of RV(incomplete_ids)).
      type: int
      returned: always
    released:
      description: Ids released to every recipient. Every status has its own count, zero included.
      type: int
      returned: always
    partially_released:
      description: Ids delivered to some recipients only. Every status has its own count, zero included.
      type: int
      returned: always
    released_unconfirmed:
      description: Ids that left quarantine without recipient evidence. Every status has its own count, zero included.
      type: int
      returned: always
      version_added: 1.1.0
    release_pending:
      description: Ids whose release request may still be processed. Every status has its own count, zero included.
      type: int
      returned: always
      version_added: 1.1.0
    not_released:
      description: Ids delivered to nobody, refused, or not sent. Every status has its own count, zero included.
      type: int
      returned: always
    would_release:
      description: Ids a real run would send (check mode). Every status has its own count, zero included.
      type: int
      returned: always
    already_released:
      description: Ids already released before this run. Every status has its own count, zero included.
      type: int
      returned: always
    not_quarantined:
      description: Ids never quarantined (delivered or moved without quarantine). Every status has its own count, zero included.
      type: int
      returned: always
      version_added: 1.1.0
    not_found:
      description: Ids Cloudflare does not know. Every status has its own count, zero included.
      type: int
      returned: always
    unknown:
      description: Ids whose outcome could not be established. Every status has its own count, zero included.
      type: int
      returned: always
    recipients_delivered:
      description: Recipients delivered to, over all messages.
      type: int
      returned: always
    recipients_failed:
      description: Recipients whose delivery failed, over all messages.
      type: int
      returned: always
    recipients_undelivered:
      description: Recipients not delivered to, over all messages.
      type: int
      returned: always
    requests_sent:
      description: HTTP requests sent, reads and retries included.
      type: int
      returned: always
    known_states_taken:
      description: Messages whose state was taken from O(known_messages) instead of being read.
      type: int
      returned: always
      version_added: 1.2.0
    retries:
      description: Requests that were retried.
      type: int
      returned: always
    rate_limit_pauses:
      description: How many times the task paused to stay inside the rate limit.
      type: int
      returned: always
      version_added: 1.1.0
    rate_limit_paused_seconds:
      description: Seconds the task waited to stay inside the rate limit.
      type: float
      returned: always
  sample:
    total: 3
    released: 2
    partially_released: 1
    released_unconfirmed: 0
    release_pending: 0
    not_released: 0
    would_release: 0
    already_released: 0
    not_quarantined: 0
    not_found: 0
    unknown: 0
    incomplete: 1
    recipients_delivered: 4
    recipients_failed: 1
    recipients_undelivered: 0
    requests_sent: 4
    known_states_taken: 0
    retries: 0
    rate_limit_pauses: 0
    rate_limit_paused_seconds: 0.0
released_ids:
  description: Ids released to every recipient by this run (status V(released)).
  returned: always
  type: list
  elements: str
  sample: [4Njp3P0STMz2c02Q-2024-01-05T10:00:00-12345678]
incomplete_ids:
  description: Every id not fully released, whatever the reason; the list to act on next.
  returned: always
  type: list
  elements: str
  sample: []
unexpected_items:
  description:
    - Result items the API returned that were not used to decide a status, as returned (credentials masked)
    - items for ids that were not requested, items of a shape the API does not document, and items that
      contradict another item for the same id.
  returned: always
  type: list
  elements: raw
  sample: []
search:
  description:
    - With O(search), what the search found, and the requests its pages took.
  returned: when O(search) is set
  type: dict
  version_added: 1.1.0
  contains:
    pages:
      description: Search pages read before the release (up to 1000 messages each).
      type: int
      returned: always
    found:
      description: Messages the search matched, each listed in RV(results).
      type: int
      returned: always
    quarantined:
      description: Of those, messages still quarantined when the search ran; a real run sends exactly these.
      type: int
      returned: always
    skipped_items:
      description: Items of the search answer without a valid message id; they are never released.
      type: int
      returned: always
  sample: {pages: 10, found: 10000, quarantined: 9990, skipped_items: 0}
body_format:
  description: The request body form the run ended with (V(object) or V(array)).
  returned: always
  type: str
  sample: object
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
    path: /accounts/023e105f4ecef8ad9ca31a8372d0c353/email-security/investigate/release
    cf_ray: 8f1c2d3e4a5b6c7d-SJC
"""

from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.ids import requested_message_ids
from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import ValidationError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._module.write_module import Requested, run_write_module
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.messages import KnownStates
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.search import (
    SEARCH_OPTION,
    QuarantineSearch,
    search_spec,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._writes.release import ReleasePolicy


def _known_states(params):
    """KnownStates of known_messages, or None; ValidationError where it cannot stand in for the pre-check."""
    if params["known_messages"] is None:
        return None
    if params["search"] is not None or not params["only_quarantined"]:
        raise ValidationError(
            "known_messages stands in for the pre-check of message_ids: use it with message_ids and "
            "only_quarantined=true, or leave it out; nothing was sent"
        )
    return KnownStates.from_result(params["known_messages"], params["known_messages_max_age"])


def _request(params, check_mode):
    """What the task asks for, or ValidationError: before any request."""
    known = _known_states(params)

    def make(context):
        search = None
        if params["search"] is not None:
            search = QuarantineSearch(context.client, context.account_id, spec, params["max_messages"])
        policy = ReleasePolicy(
            context,
            params["only_quarantined"],
            params["body_format"],
            reader=search.read if search else None,
            find=search.find if search else None,
            known=known,
        )
        return policy, search

    if params["search"] is not None:
        spec = search_spec(params["search"])
        return Requested([], [], "released", make)
    return Requested(*requested_message_ids(params["message_ids"], params["max_messages"]), "released", make)


def main():
    run_write_module(
        dict(
            message_ids=dict(type="list", elements="raw", aliases=["ids"]),
            search=SEARCH_OPTION,
            only_quarantined=dict(type="bool", default=True),
            known_messages=dict(type="dict"),
            known_messages_max_age=dict(type="float", default=60),
            body_format=dict(type="str", default="auto", choices=["auto", "object", "array"]),
        ),
        ("max_messages", "batch_size", "fail_on_incomplete", "settle_timeout"),
        _request,
        mutually_exclusive=[("message_ids", "search")],
        required_one_of=[("message_ids", "search")],
    )


if __name__ == "__main__":
    main()
