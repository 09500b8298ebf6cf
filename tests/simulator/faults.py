# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Faults the simulator injects on request: what kinds there are, and how answers are bent by them."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import threading

from .api import _error

# Before processing: rate_limit, status, drop_before, echo_headers, slow_before (then processed and answered).
# After processing: drop_after, reset_after, tls_garbage_after (TLS mode), slow_after, malformed, status_after
# (an error status), failed_with_items (200, success false, the real items), item_shapes (odd item shapes),
# echo_in_answer (a 200 quoting the credential headers as an item key and, escaped, in notices), trickle (the
# status line and headers at once, then the body one byte every ``delay`` seconds: an answer that never ends).
FAULT_KINDS = (
    "rate_limit",
    "status",
    "drop_before",
    "drop_after",
    "slow_after",
    "malformed",
    "echo_headers",
    "slow_before",
    "reset_after",
    "tls_garbage_after",
    "status_after",
    "failed_with_items",
    "item_shapes",
    "echo_in_answer",
    "trickle",
)
ITEM_SHAPES = ("id_list", "postfix_int", "no_lists", "not_dict", "conflicting", "odd_messages", "result_object")
ENDPOINTS = (
    "release",
    "move",
    "message_move",
    "get",
    "search",
    "bulk_list",
    "bulk_create",
    "bulk_get",
    "bulk_cancel",
    "bulk_messages",
    "bulk_delete",
    "message_part",
    "mailbox_preview",
    "submit",
    "submissions",
    "monthly_report",
    "phishguard_reports",
    "settings_list",
    "settings_create",
    "settings_batch",
    "settings_get",
    "settings_replace",
    "settings_patch",
    "settings_delete",
    "any",
)


class Fault:
    def __init__(
        self,
        kind,
        endpoint="any",
        count=1,
        status=503,
        retry_after=1,
        delay=2.0,
        shape="id_list",
        message="Internal server error",
    ):
        if kind not in FAULT_KINDS:
            raise ValueError("fault kind must be one of %s" % ", ".join(FAULT_KINDS))
        if endpoint not in ENDPOINTS:
            raise ValueError("fault endpoint must be one of %s" % ", ".join(ENDPOINTS))
        if shape not in ITEM_SHAPES:
            raise ValueError("item shape must be one of %s" % ", ".join(ITEM_SHAPES))
        self.kind = kind
        self.endpoint = endpoint
        self.count = count
        self.remaining = count
        self.status = status
        self.retry_after = retry_after
        self.delay = delay
        self.shape = shape
        self.message = message
        # A slow_before request is held for delay seconds, or until the test lets it go (SimulatorState.let_go).
        self.let_go = threading.Event()


def fault_error(fault):
    # Codes outside the authentication and routing codes, which mean something else to a client.
    return _error(1101 if fault.status >= 500 else 1001, fault.message)


def reshape(body, shape):
    """A release answer's items in a shape the contract does not promise, as a drifting or buggy server might."""
    result = body.get("result")
    if isinstance(result, dict) and isinstance(result.get("results"), list):
        # A submission's answer holds its items one level down.
        return dict(body, result=dict(result, results=reshape(dict(body, result=result["results"]), shape)["result"]))
    items = list(result or [])
    first = dict(items[0]) if items else {}
    if shape == "id_list":
        items = [dict(item, id=[item.get("id")]) for item in items]
    elif shape == "postfix_int":
        items = [{k: v for k, v in item.items() if k != "id"} for item in items]
        items = [dict(item, postfix_id=12345) for item in items]
    elif shape == "no_lists":
        items = [{"id": item.get("id")} for item in items]
    elif shape == "not_dict":
        items = ["%s" % item.get("id") for item in items] + [None, 7]
    elif shape == "conflicting" and first:
        items.append(dict(first, delivered=[], undelivered=list(first.get("delivered") or [])))
    elif shape == "odd_messages":
        return dict(body, messages=[["not", "a", "notice"], 42, {"code": "x"}])
    elif shape == "result_object":
        return dict(body, result=first)
    return dict(body, result=items)
