# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The options of every module that writes, from the one table of write options (module_utils/_module/options.py).
    DOCUMENTATION = r"""
options:
  settle_timeout:
    description:
      - Seconds within which Cloudflare processes a write request or never will, from 1 to 3600.
      - After a request whose outcome is unknown (its answer lost, timed out, cut by a TLS or connection error, or a
        server error), what it was for is observed (a release's messages read back until they leave quarantine, a
        move's until they show in the destination, a submission's action logs, the bulk job list, the settings list)
        until it shows done or this long has passed since the request was sent. Only what still does not show it
        then is sent again, so nothing is done twice.
      - If the task cannot wait that long (O(task_timeout)), what is unsettled ends pending (V(release_pending),
        V(move_pending), V(submission_pending)) or stops the task, and the journal lets the next run that shares the
        state store settle it before it sends anything.
      - Lowering it below the time the API may hold a request reopens the race it closes. Cloudflare's contract
        states no processing time; the default is an assumption that covers Cloudflare's edge, which answers
        HTTP 524 after waiting 100 seconds for an origin.
    type: float
    default: 120
"""

    # The per-message writes: what the task must have done, besides a request to leave.
    OUTCOME = r"""
options:
  fail_on_incomplete:
    description:
      - Fail the task when any requested message ends incomplete, with a status RV(incomplete_ids) names (each
        status is described under RV(results)), or, for a bulk job, when the job did not end C(COMPLETED), or failed,
        cancelled or skipped any message.
      - The failed result still carries RV(results) and RV(summary) (and RV(incomplete_ids) where the module returns
        it), so C(ignore_errors) with C(register), or a C(rescue) block, can act on them.
    type: bool
    default: true
"""

    # The writes by id or search: how many messages one request carries, and a cap on the whole task.
    BATCHES = r"""
options:
  max_messages:
    description:
      - The most messages this task may act on. With O(search), the task fails before sending any write when the
        search finds more messages to act on than this (quarantined ones for a release, delivered ones for a move);
        with O(message_ids), when more ids are given.
      - A guard against a search that matches far more than the incident, checked on the exact set the task acts on.
    type: int
  batch_size:
    description:
      - How many ids one request carries, from 1 to 1000, the most the API takes in one request. The default is that
        maximum since 1.2.0 (a release's was 100 before).
      - A smaller batch only multiplies the requests; a batch whose answer is lost or unsure is read back by the
        searches of its ids' time windows, a page per 1000 messages, so even a batch of 1000 costs a few requests to
        settle.
    type: int
    default: 1000
"""
