# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: delivery_confirmation
short_description: Whether each recipient of released messages got the message
version_added: 1.1.0
author:
  - mailsec.cloudflare maintainers (@mailsec)
description:
  - Joins a release's per-recipient outcome with each message's C(delivery_status) as read afterwards, and says
    per message and recipient V(confirmed), V(failed) or V(pending).
  - A recipient the release reports as failed is V(failed). A recipient it delivered to is V(confirmed) once the
    message's C(delivery_status) shows C(delivered), V(failed) when it shows only C(bounced) or C(rejected), and
    V(pending) while it shows neither (for example C(queued) or C(deferred)).
  - Trace lines are free text in Cloudflare's contract, so they are not parsed.
  - Only messages out of quarantine by a release (statuses C(released), C(partially_released),
    C(released_unconfirmed), C(already_released)) are counted; for one whose result names no recipient (released
    earlier, or an answer that was lost), the message's C(to) list is used.
positional: _input
options:
  _input:
    description: The C(results) of M(mailsec.cloudflare.email_security_release) or M(mailsec.cloudflare.email_security_bulk_release).
    type: list
    elements: dict
    required: true
  messages:
    description: The same messages as M(mailsec.cloudflare.email_security_message_info) read them after the release.
    type: list
    elements: dict
    required: true
  final:
    description: The wait is over; name V(pending) recipients V(not_confirmed) instead, and count them so.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Wait until every released message shows delivery
  mailsec.cloudflare.email_security_message_info:
    message_ids: "{{ release.released_ids }}"
  register: after
  until: (release.results | mailsec.cloudflare.delivery_confirmation(messages=after.messages)).pending == 0
  retries: 20
  delay: 15
"""

RETURN = r"""
_value:
  description: Per recipient outcomes and their counts.
  type: dict
  contains:
    recipients:
      description: One entry per message and recipient, with C(id), C(recipient), C(status) and C(delivery_status).
      type: list
      elements: dict
    confirmed:
      description: How many recipients are confirmed.
      type: int
    failed:
      description: How many recipients failed.
      type: int
    pending:
      description: How many recipients are not confirmed yet (without O(final)).
      type: int
    not_confirmed:
      description: How many recipients were not confirmed in time (with O(final)).
      type: int
"""

from ansible.errors import AnsibleFilterError

RELEASED_STATUSES = ("released", "partially_released", "released_unconfirmed", "already_released")
_DELIVERED = "delivered"
_UNDELIVERABLE = ("bounced", "rejected")


def _recipient_status(delivery_status):
    if _DELIVERED in delivery_status:
        return "confirmed"
    if any(status in delivery_status for status in _UNDELIVERABLE):
        return "failed"
    return "pending"


def _recipient_rows(result, message):
    """One row per recipient of a released message: failed ones from the release, the others by delivery status."""
    delivery_status = list(message.get("delivery_status") or [])
    failed = result.get("failed") or []
    # A message released earlier, or whose release answer was lost, has no recipient lists: its own list stands in.
    delivered = result.get("delivered") or ([] if failed else message.get("to") or [])
    rows = [dict(id=result["id"], recipient=r, status="failed", delivery_status=delivery_status) for r in failed]
    status = _recipient_status(delivery_status)
    rows.extend(dict(id=result["id"], recipient=r, status=status, delivery_status=delivery_status) for r in delivered)
    return rows


def _released(result):
    return isinstance(result, dict) and result.get("status") in RELEASED_STATUSES


def _rows(results, messages):
    by_id = {m.get("id"): m for m in messages if isinstance(m, dict)}
    released = [result for result in results if _released(result)]
    return [row for result in released for row in _recipient_rows(result, by_id.get(result.get("id")) or {})]


def delivery_confirmation(results, messages, final=False):
    if not isinstance(results, list) or not isinstance(messages, list):
        raise AnsibleFilterError("delivery_confirmation takes a list of release results and messages=<list>")
    rows = _rows(results, messages)
    waiting = "not_confirmed" if final else "pending"
    for row in rows:
        row["status"] = waiting if row["status"] == "pending" else row["status"]
    counts = {status: sum(1 for row in rows if row["status"] == status) for status in ("confirmed", "failed", waiting)}
    return dict(counts, recipients=rows)


class FilterModule(object):
    def filters(self):
        return {"delivery_confirmation": delivery_confirmation}
