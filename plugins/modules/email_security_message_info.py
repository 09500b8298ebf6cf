#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: email_security_message_info
short_description: Find and read messages in Cloudflare Email Security
version_added: 1.0.0
description:
  - Reads messages from Cloudflare Email Security's Investigate API, either by id (one C(GET) per id, in parallel
    inside the rate-limit pacing) or by searching with filters (cursor paging, and polling when Cloudflare answers
    a slow search with HTTP 202).
  - Returns normalized messages ready for C(loop) and C(when), and the ids ready for
    M(mailsec.cloudflare.email_security_release).
  - Read-only; never changes anything.
author:
  - mailsec.cloudflare maintainers (@mailsec)
options:
  message_ids:
    description:
      - Read these messages by id. Mutually exclusive with O(search) and the search filters.
      - Ids Cloudflare does not know are listed in RV(not_found_ids); see O(fail_on_not_found).
      - Ids follow the same rule as in M(mailsec.cloudflare.email_security_release), checked before any request.
    type: list
    elements: raw
    aliases: [ids]
  query:
    description:
      - Free text matched against sender, recipients, subject, attachment names and message id.
      - Deprecated, to be removed in 2.0.0. Use O(search.query), the O(search) every module takes.
    type: str
  sender:
    description:
      - Sender address or part of it.
      - Deprecated, to be removed in 2.0.0. Use O(search.sender), the O(search) every module takes.
    type: str
  recipient:
    description:
      - Recipient address or part of it.
      - Deprecated, to be removed in 2.0.0. Use O(search.recipient), the O(search) every module takes.
    type: str
  subject:
    description:
      - Subject text.
      - Deprecated, to be removed in 2.0.0. Use O(search.subject), the O(search) every module takes.
    type: str
  domain:
    description:
      - Sender or recipient domain.
      - Deprecated, to be removed in 2.0.0. Use O(search.domain), the O(search) every module takes.
    type: str
  message_id:
    description:
      - The RFC 5322 C(Message-ID) header value.
      - Deprecated, to be removed in 2.0.0. Use O(search.message_id), the O(search) every module takes.
    type: str
  alert_id:
    description:
      - The alert id Cloudflare attached to the message.
      - Deprecated, to be removed in 2.0.0. Use O(search.alert_id), the O(search) every module takes.
    type: str
  final_disposition:
    description:
      - Only messages with this final disposition.
      - The search takes only these values, fewer than messages carry in RV(messages[].final_disposition);
        C(MALICIOUS-BEC), C(ENCRYPTED), C(EXTERNAL) and C(UNKNOWN) are refused before any request.
      - Deprecated, to be removed in 2.0.0. Use O(search.final_disposition), the O(search) every module takes.
    type: str
    choices: [MALICIOUS, SUSPICIOUS, SPOOF, SPAM, BULK, NONE]
  delivery_status:
    description:
      - Only messages with this delivery status.
      - Deprecated, to be removed in 2.0.0. Use O(search.delivery_status), the O(search) every module takes.
    type: str
    choices: [delivered, moved, quarantined, rejected, deferred, bounced, queued, move_failed]
  message_action:
    description:
      - Only messages on which this action was taken.
      - Deprecated, to be removed in 2.0.0. Use O(search.message_action), the O(search) every module takes.
    type: str
    choices: [PREVIEW, QUARANTINE_RELEASED, MOVED]
  start:
    description:
      - Messages sent at or after this RFC 3339 date-time with a time zone, for example C(2026-11-24T09:00:00Z).
        A bare date such as C(2026-11-24) means midnight UTC of that day.
      - A start in the future, or after O(end), is refused before any request.
      - Cloudflare searches the last 30 days when O(start) is not set.
      - Deprecated, to be removed in 2.0.0. Use O(search.start), the O(search) every module takes.
    type: str
  end:
    description:
      - Messages sent before this RFC 3339 date-time; a bare date means midnight UTC of that day.
      - Cloudflare's default is now.
      - Deprecated, to be removed in 2.0.0. Use O(search.end), the O(search) every module takes.
    type: str
  detections_only:
    description:
      - Only messages Cloudflare detected as a threat, spam or bulk (the API's own default).
      - Set to V(false) to search everything. Not set, V(true).
      - Deprecated, to be removed in 2.0.0. Use O(search.detections_only), the O(search) every module takes.
    type: bool
  quarantined_only:
    description: Keep only messages that are still quarantined (C(is_quarantined)), the ones a release can act on.
    type: bool
    default: false
  limit:
    description:
      - The most messages a search returns. Paging stops there, and RV(truncated) says whether more matched.
    type: int
    default: 1000
  per_page:
    description: Messages per search page, from 1 to 1000.
    type: int
    default: 100
  poll_timeout:
    description: Seconds to keep polling a search that Cloudflare answered with HTTP 202 before failing.
    type: float
    default: 120
  fail_on_not_found:
    description: Fail when any of O(message_ids) is unknown to Cloudflare.
    type: bool
    default: false
  include:
    description:
      - Also read, for each message returned, what happened to it and why, one request per message and part
        (inside the rate-limit pacing); each lands in the message under its own name.
      - V(trace) is the delivery trace (C(GET .../investigate/{id}/trace)), inbound and outbound lines, which show
        where a released message was delivered; V(action_log) is every action taken on it, such as
        C(QUARANTINE_RELEASE) (C(GET .../action_log), all pages; it replaces the deprecated C(action_log) a search
        answer may still carry); V(detections) is why it was quarantined (C(GET .../detections)), with findings,
        threat categories, SPF/DKIM/DMARC validation.
      - V(preview) is the message as Cloudflare rendered it, a PNG screenshot (C(GET .../investigate/{id}/preview)),
        for a message with a detection; for a clean one see O(mailbox_preview). V(raw) is the message itself as
        an EML file (C(GET .../investigate/{id}/raw)), for a message with a detection, and what it says about who
        sent it and where its links go (RV(messages[].raw)). Both are saved in O(evidence_dir).
      - A part that cannot be read, or that Cloudflare does not keep for the message (no preview or EML of a message
        without a detection), is named with the reason in RV(messages[].unavailable) and warned of; it never fails
        the task.
    type: list
    elements: str
    choices: [trace, action_log, detections, preview, raw]
    default: []
    version_added: 1.1.0
  evidence_dir:
    description:
      - The directory the V(preview) and V(raw) of O(include) are saved in, an absolute path on the host the module
        runs on. Created with mode C(0700) when missing; each file is created with mode C(0600) and named by its
        message id (V(.png), V(.eml)), characters other than letters, digits, C(.), C(_) and C(-) written as C(_).
      - A file is never replaced. The same content found again is left as it is; different content for the same
        message (a preview rendered again) is saved beside it, named by its own sha256.
      - In check mode nothing is written; each result says where its file would go.
      - Required when O(include) has V(preview) or V(raw), unless O(evidence_content=true).
    type: path
    version_added: 1.3.0
  evidence_content:
    description:
      - Also return the evidence itself in the result, the screenshot base64-encoded and the EML as text.
      - They are a person's mail and an attacker's content, and a registered result is shown at higher verbosity
        and kept in AWX's job events. Leave this off unless a later task needs the bytes.
    type: bool
    default: false
    version_added: 1.3.0
  mailbox_preview:
    description:
      - For a message without a detection (C(final_disposition) V(NONE)), render its V(preview) from the recipient's
        mailbox (C(POST .../investigate/preview)), as Cloudflare does for an API deployment's delivered mail.
      - Needs a token with Cloud Email Security Write, and the message still in the recipient's Inbox; Cloudflare
        logs each such preview as a C(PREVIEW) action on the message. Not sent in check mode.
      - Without it, such a message's preview is in RV(messages[].unavailable) with the reason.
    type: bool
    default: false
    version_added: 1.3.0
extends_documentation_fragment:
  - mailsec.cloudflare.connection
  - mailsec.cloudflare.search
  - mailsec.cloudflare.connection.action_group
  - mailsec.cloudflare.attributes.info_module_saving_files
seealso:
  - module: mailsec.cloudflare.email_security_release
"""

EXAMPLES = r"""
- name: Everything quarantined from a sender since 09:00
  mailsec.cloudflare.email_security_message_info:
    sender: invoices@northwind-supplies.example
    start: "2026-11-24T09:00:00Z"
    quarantined_only: true
  register: found

- name: Release what was found
  mailsec.cloudflare.email_security_release:
    message_ids: "{{ found.ids }}"
  when: found.ids | length > 0

- name: Read two messages by id
  mailsec.cloudflare.email_security_message_info:
    message_ids:
      - 4Njp3P0STMz2c02Q-2024-01-05T10:00:00-12345678
      - 5Kmq4Q1TUNa3d13R-2024-01-05T10:02:11-87654321
  register: info

- name: Show each message
  ansible.builtin.debug:
    msg: "{{ item.id }} from {{ item.from }}: {{ 'quarantined' if item.is_quarantined else 'not quarantined' }}"
  loop: "{{ info.messages }}"
  loop_control:
    label: "{{ item.id }}"

- name: The evidence an approver looks at, saved in a private directory
  mailsec.cloudflare.email_security_message_info:
    message_ids:
      - 4Njp3P0STMz2c02Q-2024-01-05T10:00:00-12345678
    include: [detections, preview, raw]
    evidence_dir: "{{ playbook_dir }}/reports/evidence"
  register: evidence

- name: Who really sent it
  ansible.builtin.debug:
    msg: >-
      {{ item.raw.senders.addresses.from }}: SPF {{ item.raw.authentication.spf }}, DKIM {{ item.raw.authentication.dkim }},
      DMARC {{ item.raw.authentication.dmarc }}, links to {{ item.raw.links.domains | join(', ') }}
  loop: "{{ evidence.messages | selectattr('raw', 'defined') }}"
  loop_control:
    label: "{{ item.id }}"

- name: Why two messages were quarantined, and where they went once released
  mailsec.cloudflare.email_security_message_info:
    message_ids:
      - 4Njp3P0STMz2c02Q-2024-01-05T10:00:00-12345678
      - 5Kmq4Q1TUNa3d13R-2024-01-05T10:02:11-87654321
    include: [detections, trace]
  register: context
"""

RETURN = r"""
read_at:
  description:
    - When this task's reads began (UTC, whole seconds rounded down), so that
      O(mailsec.cloudflare.email_security_release#module:known_messages) can tell how fresh the states are.
  returned: always
  type: str
  sample: "2026-12-03T09:30:00Z"
  version_added: 1.2.0
messages:
  description:
    - The messages found, in the API's order (search) or in the order of O(message_ids).
    - Every field the API returned is kept; the ones below are always present.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The message id, as O(mailsec.cloudflare.email_security_release#module:message_ids) takes it.
      type: str
      returned: always
    is_quarantined:
      description:
        - Whether the message is still in quarantine.
        - Null when the API's answer did not carry a boolean; the release module does not act on such a message.
      type: bool
      returned: always
    postfix_id:
      description: The short, deprecated postfix id, or null.
      type: str
      returned: always
    from:
      description: The sender address.
      type: str
      returned: always
    to:
      description: The recipients in the C(To) header. Never null.
      type: list
      elements: str
      returned: always
    client_recipients:
      description: The recipients in your organisation. Never null.
      type: list
      elements: str
      returned: always
    subject:
      description: The subject.
      type: str
      returned: always
    sent_date:
      description: When the message was sent.
      type: str
      returned: always
    final_disposition:
      description: Cloudflare's verdict, such as C(SPAM) or C(MALICIOUS).
      type: str
      returned: always
    delivery_status:
      description: Delivery states such as C(quarantined) or C(delivered). Never null.
      type: list
      elements: str
      returned: always
    post_delivery_operations:
      description: Actions taken after delivery, such as C(QUARANTINE_RELEASE). Never null.
      type: list
      elements: str
      returned: always
    alert_id:
      description: The alert id.
      type: str
      returned: always
    message_id:
      description: The C(Message-ID) header value.
      type: str
      returned: always
    trace:
      description: The delivery trace, C(inbound) and C(outbound), each with C(lines) (C(lineno), C(message), C(logged_at)).
      type: dict
      returned: when O(include) has V(trace)
      sample: {inbound: {lines: [{lineno: 1, message: quarantined}]}, outbound: {lines: [{lineno: 1, message: delivered to alice@corp.example}]}}
    action_log:
      description: Every action taken on the message (C(operation), C(status), C(completed_at), C(properties)).
      type: list
      elements: dict
      returned: when O(include) has V(action_log)
      sample: [{operation: QUARANTINE_RELEASE, status: completed, completed_at: "2026-11-24T10:02:00Z"}]
    detections:
      description: Why the message was quarantined (C(findings), C(threat_categories), C(validation), C(sender_info)...).
      type: dict
      returned: when O(include) has V(detections)
      sample: {final_disposition: SPAM, findings: [{name: Sender reputation, detection: SPAM}]}
    preview:
      description:
        - The screenshot of the message Cloudflare rendered, saved as a PNG file.
      type: dict
      returned: when O(include) has V(preview) and it could be read
      version_added: 1.3.0
      contains:
        path:
          description: Where it is saved (or, in check mode, would be); null without O(evidence_dir).
          type: str
        saved:
          description: Whether this task wrote the file (false when the same content was there already, or in check mode).
          type: bool
        size:
          description: Its size in bytes.
          type: int
        sha256:
          description: The sha256 of its bytes, hex.
          type: str
        media_type:
          description: V(image/png).
          type: str
        source:
          description: V(detection) (Cloudflare's copy of a detected message) or V(mailbox) (see O(mailbox_preview)).
          type: str
        content:
          description: The PNG, base64-encoded.
          type: str
          returned: when O(evidence_content=true)
      sample: {path: /srv/reports/evidence/4Njp3P0STMz2c02Q-2024-01-05T10_00_00-12345678.png, saved: true, size: 18211,
               sha256: 9f2c0d5e6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f, media_type: image/png,
               source: detection}
    raw:
      description:
        - The message as an EML file, saved, and what it says, read with Python's C(email) package (nothing in it
          is rendered, fetched or run).
      type: dict
      returned: when O(include) has V(raw) and it could be read
      version_added: 1.3.0
      contains:
        path:
          description: Where it is saved (or, in check mode, would be); null without O(evidence_dir).
          type: str
        saved:
          description: Whether this task wrote the file.
          type: bool
        size:
          description: Its size in bytes.
          type: int
        sha256:
          description: The sha256 of its bytes, hex.
          type: str
        media_type:
          description: V(message/rfc822).
          type: str
        senders:
          description:
            - C(addresses) and C(domains) of C(from), C(sender), C(reply_to) and C(return_path) (null when the header
              is absent), the C(From) display name C(from_name), and C(mismatched), the headers whose domain is
              neither C(From)'s nor a subdomain or parent of it; C(mismatch) is whether there is any.
          type: dict
        authentication:
          description:
            - C(spf), C(dkim), C(dmarc) and C(arc), the verdicts (such as V(pass), V(fail), V(none)) of the topmost
              C(Authentication-Results) header, the one the receiving server added, and its C(authserv_id); null
              where it has none.
            - C(earlier_results_headers) counts the C(Authentication-Results) headers below it, which a sender can
              forge, so their verdicts are not taken. C(arc_chain) counts the C(ARC-Seal) headers and C(arc_seal) is
              the newest one's C(cv).
          type: dict
        received:
          description:
            - C(hops), how many C(Received) headers, and C(first_external), the receiving server's record of who
              handed the message over (C(from_host), C(ip), C(by_host), C(at)), or null.
          type: dict
        links:
          description:
            - C(domains), the domains the text and HTML parts link to (C(href), C(src), C(action) and URLs in the
              text), in order of first appearance, at most 100; C(distinct_domains) counts them all and
              C(truncated) says whether there were more than 100; C(count) is how many links.
          type: dict
        attachments:
          description: Each attachment's C(name), C(content_type), C(size) and C(sha256).
          type: list
          elements: dict
        content:
          description: The EML as text.
          type: str
          returned: when O(evidence_content=true)
      sample:
        path: /srv/reports/evidence/4Njp3P0STMz2c02Q-2024-01-05T10_00_00-12345678.eml
        saved: true
        size: 4211
        sha256: 0d4c2a7b9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b
        media_type: message/rfc822
        senders:
          addresses: {from: billing@contoso-payments.example, sender: null, reply_to: pay@c0ntoso-payments.example,
                      return_path: bounce@mailer.example}
          domains: {from: contoso-payments.example, sender: null, reply_to: c0ntoso-payments.example,
                    return_path: mailer.example}
          from_name: Contoso Billing
          mismatched: [reply_to, return_path]
          mismatch: true
        authentication: {spf: pass, dkim: none, dmarc: fail, arc: null, authserv_id: mx.cloudflare.net, arc_chain: 0,
                         arc_seal: null, earlier_results_headers: 0}
        received: {hops: 2, first_external: {from_host: mail.mailer.example, ip: 203.0.113.25, by_host: mx.cloudflare.net,
                                             at: "Mon, 7 Dec 2026 09:00:00 +0000"}}
        links: {count: 3, domains: [c0ntoso-payments.example], distinct_domains: 1, truncated: false}
        attachments: [{name: invoice.pdf, content_type: application/pdf, size: 5120,
                       sha256: 4f1e8a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7}]
    unavailable:
      description:
        - The parts O(include) asked for that could not be read, each with why (the HTTP status and Cloudflare's
          errors); such a part is missing from the message. A part that cannot be read is a warning, never a
          failure of the task, since it only adds to what the message says.
      type: dict
      returned: when a part O(include) asked for could not be read
      version_added: 1.2.0
      sample: {detections: "GET .../detections failed: HTTP 503 (after 3 retries)"}
  sample:
    - id: 4Njp3P0STMz2c02Q-2024-01-05T10:00:00-12345678
      is_quarantined: true
      from: invoices@northwind-supplies.example
      to: [alice@corp.example]
      client_recipients: [alice@corp.example]
      subject: Invoice 1 for October
      sent_date: "2024-01-05T10:00:00Z"
      final_disposition: SPAM
      delivery_status: [quarantined]
      post_delivery_operations: []
      alert_id: 4Njp3P0STMz2c02Q-alert
      message_id: <4Njp3P0STMz2c02Q@northwind-supplies.example>
ids:
  description: The ids of RV(messages), in the same order.
  returned: always
  type: list
  elements: str
  sample: [4Njp3P0STMz2c02Q-2024-01-05T10:00:00-12345678]
not_found_ids:
  description: Requested ids Cloudflare does not know (reading by id only).
  returned: always
  type: list
  elements: str
  sample: []
truncated:
  description: Whether the search matched more messages than O(limit).
  returned: always
  type: bool
  sample: false
summary:
  description: Counts, and the requests the task sent.
  returned: always
  type: dict
  sample: {found: 12, quarantined: 11, not_found: 0, pages: 1, unavailable_parts: 0, requests_sent: 1}
"""

import time

from ansible_collections.mailsec.cloudflare.plugins.module_utils._module.ansible_module import CloudflareModule
from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import CloudflareError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.evidence import EVIDENCE_PARTS
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.message_info import (
    DEPRECATED_FLAT_FILTERS,
    DEFAULT_LIMIT,
    DEFAULT_PER_PAGE,
    find_messages,
    validate_info_options,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.messages import MESSAGE_PARTS, SEARCH_FILTERS
from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import ValidationError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.search import (
    DEFAULT_POLL_TIMEOUT,
    SEARCH_OPTION,
)


def main():
    module = CloudflareModule(
        argument_spec=dict(
            message_ids=dict(type="list", elements="raw", aliases=["ids"]),
            search=SEARCH_OPTION,
            **DEPRECATED_FLAT_FILTERS,
            quarantined_only=dict(type="bool", default=False),
            limit=dict(type="int", default=DEFAULT_LIMIT),
            per_page=dict(type="int", default=DEFAULT_PER_PAGE),
            poll_timeout=dict(type="float", default=DEFAULT_POLL_TIMEOUT),
            fail_on_not_found=dict(type="bool", default=False),
            include=dict(type="list", elements="str", choices=list(MESSAGE_PARTS + EVIDENCE_PARTS), default=[]),
            evidence_dir=dict(type="path"),
            evidence_content=dict(type="bool", default=False),
            mailbox_preview=dict(type="bool", default=False),
        ),
        mutually_exclusive=[("message_ids", "search")]
        + [(other, name) for name in SEARCH_FILTERS for other in ("message_ids", "search")],
        supports_check_mode=True,
    )
    params = module.params
    try:
        message_ids, spec = validate_info_options(params)
    except ValidationError as exc:
        module.fail_json(msg=str(exc))
    settings = module.resolve_settings()
    client = module.client(settings)
    # Whole seconds, rounded down: a reader of read_at only ever thinks the reads older than they are.
    read_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    try:
        report = find_messages(
            client, settings["account_id"], params, message_ids, spec, settings["concurrency"], module.check_mode
        )
    except CloudflareError as exc:
        module.fail_json(msg=exc.message, error=exc.as_dict())
    finally:
        client.close()

    result = report.result(client.requests_sent, read_at)
    for warning in report.warnings(params["limit"]):
        module.warn(warning)
    failure = report.failure(params["fail_on_not_found"], len(message_ids or ()))
    if failure is not None:
        module.fail_json(msg=failure, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
