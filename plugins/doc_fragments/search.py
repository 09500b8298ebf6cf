# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The search that chooses the messages to act on, shared by the modules that release what a search finds.
    DOCUMENTATION = r"""
options:
  search:
    description:
      - The Investigate search whose messages to act on (for a release, those still quarantined; for a move, those
        delivered to a mailbox; for M(mailsec.cloudflare.email_security_message_info), those to read, since 1.3.0). The
        same dict in every module, so a search copied from one task to another means the same messages.
      - A time window is required. Set O(search.start), or O(search.all_time=true) to act on everything the
        search matches in Cloudflare's default window; a search with neither is refused before any request.
      - Every filter is checked before any request; an empty filter is refused rather than matching everything.
    type: dict
    version_added: 1.1.0
    suboptions:
      query:
        description: Free text matched against sender, recipients, subject, attachment names and message id.
        type: str
      sender:
        description: Sender address or domain.
        type: str
      recipient:
        description: Recipient address or domain.
        type: str
      subject:
        description: Subject keywords, in any order.
        type: str
      domain:
        description: A domain the message mentions (sender, recipient or link).
        type: str
      message_id:
        description: The RFC 5322 C(Message-ID) header value.
        type: str
      alert_id:
        description: The alert id Cloudflare attached to the message.
        type: str
      final_disposition:
        description: Only messages with this final disposition.
        type: str
        choices: [MALICIOUS, SUSPICIOUS, SPOOF, SPAM, BULK, NONE]
      delivery_status:
        description: Only messages with this delivery status.
        type: str
        choices: [delivered, moved, quarantined, rejected, deferred, bounced, queued, move_failed]
      message_action:
        description: Only messages on which this action was taken.
        type: str
        choices: [PREVIEW, QUARANTINE_RELEASED, MOVED]
      start:
        description:
          - Messages sent at or after this RFC 3339 date-time with a time zone, for example
            C(2026-11-24T09:00:00Z); a bare date such as C(2026-11-24) means midnight UTC of that day.
          - A start in the future, or after O(search.end), is refused before any request.
          - Required unless O(search.all_time=true).
        type: str
      end:
        description: Messages sent before this RFC 3339 date-time; Cloudflare's default is now.
        type: str
      detections_only:
        description: Only messages Cloudflare detected as a threat, spam or bulk (the API's own default).
        type: bool
        default: true
      all_time:
        description:
          - Act on everything the search matches without a start, in Cloudflare's default window (the last 30 days).
          - An explicit choice, so that a release of "everything quarantined" is never made by leaving a field out.
        type: bool
        default: false
      poll_timeout:
        description: Seconds to keep polling a search that Cloudflare answered with HTTP 202 before failing.
        type: float
        default: 120
"""
