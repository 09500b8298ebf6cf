# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""A stateful stand-in for Cloudflare Email Security's Investigate API, for tests, demos and rehearsals.

Standard library only. It binds 127.0.0.1, keeps messages and their quarantine state, delivers a
released message once, and writes a ledger of every request and delivery so that tests can
prove what crossed the wire. Faults (rate limits, server errors, dropped connections before and
after processing, slow answers, malformed bodies), API drift (body form, postfix_id-only items,
202 searches) and a Cloudflare-like quota with lockout are switched on per test.

    python tests/simulator/simulator.py --port 0 --seed tests/simulator/seeds/demo.json

prints the base URL it serves (``http://127.0.0.1:PORT/client/v4``) and runs until SIGTERM.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import base64
import datetime
import json
import math
import random
import re
import os
import signal
import socket
import ssl
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

import contract

API_PREFIX = "/client/v4"
DEFAULT_ACCOUNT_ID = "023e105f4ecef8ad9ca31a8372d0c353"
DEFAULT_TOKEN = "sim-token-write-5f1c0d2e9a7b4c3d"
DEFAULT_READ_ONLY_TOKEN = "sim-token-read-0a9b8c7d6e5f4a3b"
DEFAULT_EMAIL = "secops@example.com"
DEFAULT_KEY = "0123456789abcdef0123456789abcdef01234"
DETECTIONS = ("MALICIOUS", "MALICIOUS-BEC", "SUSPICIOUS", "SPOOF", "SPAM", "BULK")
# Before processing: rate_limit, status, drop_before, echo_headers, slow_before (then processed and answered).
# After processing: drop_after, reset_after, tls_garbage_after (TLS mode), slow_after, malformed, status_after
# (an error status), failed_with_items (200, success false, the real items), item_shapes (odd item shapes),
# echo_in_answer (a 200 quoting the credential headers as an item key and, escaped, in notices).
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
)
ITEM_SHAPES = ("id_list", "postfix_int", "no_lists", "not_dict", "conflicting", "odd_messages", "result_object")
ENDPOINTS = ("release", "get", "search", "any")

_RELEASE = re.compile(r"^/accounts/([^/]+)/email-security/investigate/release$")
_MESSAGE = re.compile(r"^/accounts/([^/]+)/email-security/investigate/([^/]+)$")
_SEARCH = re.compile(r"^/accounts/([^/]+)/email-security/investigate$")
_HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")


def _error(code, message, chain=None):
    error = {"code": code, "message": message}
    if chain:
        error["error_chain"] = chain
    return error


RATE_LIMITED = _error(971, "Please wait and consider throttling your request speed")


def envelope(result=None, errors=None, messages=None, success=None, **extra):
    body = {
        "success": not errors if success is None else success,
        "errors": errors or [],
        "messages": messages or [],
        "result": result,
    }
    body.update(extra)
    return body


class Message:
    """One message in the simulated quarantine."""

    def __init__(
        self,
        message_id,
        sender,
        recipients,
        subject,
        sent_date,
        final_disposition="SPAM",
        is_quarantined=True,
        failing_recipients=(),
        alert_id=None,
        postfix_id=None,
    ):
        self.id = message_id
        self.postfix_id = postfix_id or message_id.split("-", 1)[0]
        self.sender = sender
        self.recipients = list(recipients)
        self.failing_recipients = [r for r in failing_recipients if r in self.recipients]
        self.subject = subject
        self.sent_date = sent_date
        self.final_disposition = final_disposition
        self.is_quarantined = is_quarantined
        self.alert_id = alert_id or "%s-alert" % self.postfix_id
        self.post_delivery_operations = [] if is_quarantined else ["QUARANTINE_RELEASE"]
        self.action_log = [] if is_quarantined else [_action("QUARANTINE_RELEASE")]
        # A message that was never quarantined (delivered, or moved by a rule) carries no release in its history.
        self.never_quarantined = False

    @classmethod
    def from_dict(cls, data):
        message = cls(
            data["id"],
            data["from"],
            data["to"],
            data.get("subject", ""),
            data.get("sent_date", ""),
            data.get("final_disposition", "SPAM"),
            data.get("is_quarantined", True),
            data.get("failing_recipients", ()),
            data.get("alert_id"),
            data.get("postfix_id"),
        )
        if data.get("never_quarantined"):
            message.mark_never_quarantined()
        return message

    def mark_never_quarantined(self):
        self.is_quarantined = False
        self.never_quarantined = True
        self.post_delivery_operations = []
        self.action_log = []

    def release(self):
        self.is_quarantined = False
        self.post_delivery_operations.append("QUARANTINE_RELEASE")
        self.action_log.append(_action("QUARANTINE_RELEASE"))

    def as_api(self):
        """The message as the contract's MessageDetails: every required field, real nulls where allowed."""
        if self.is_quarantined:
            delivery_status = ["quarantined"]
        else:
            delivery_status = ["delivered"] if not self.never_quarantined else ["moved"]
        return {
            "id": self.id,
            "ts": self.sent_date,
            "detection_reasons": ["Sender reputation"] if self.final_disposition != "NONE" else [],
            "action_log": [dict(entry) for entry in self.action_log],
            "is_phish_submission": False,
            "properties": {"allowlisted_pattern": None, "blocklisted_message": None},
            "envelope_from": None,
            "replyto": None,
            "edf_hash": None,
            "postfix_id": self.postfix_id,
            "from": self.sender,
            "from_name": self.sender.split("@", 1)[0],
            "to": list(self.recipients),
            "client_recipients": list(self.recipients),
            "subject": self.subject,
            "sent_date": self.sent_date,
            "final_disposition": self.final_disposition,
            "is_quarantined": self.is_quarantined,
            "delivery_status": delivery_status,
            "post_delivery_operations": list(self.post_delivery_operations),
            "alert_id": self.alert_id,
            "message_id": "<%s@%s>" % (self.postfix_id, self.sender.split("@")[-1]),
        }


def _now_text(moment=None):
    moment = moment or datetime.datetime.now(datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _action(operation):
    return {
        "completed_at": _now_text(),
        "operation": operation,
        "properties": {"requested_by": "api"},
        "status": "completed",
    }


def generate_messages(count, seed=0, quarantined=True):
    """Synthetic messages with realistic ids: ``<postfix_id>-<timestamp>-<suffix>``.

    Ids are the same for the same count and seed; sending dates lie in the 28 days before today, inside
    the search's default 30-day window.
    """
    today = datetime.datetime.now(datetime.timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    rng = random.Random(seed)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    senders = ["billing@vendor.example", "news@partner.example", "hr@corp.example", "alerts@saas.example"]
    messages = []
    for index in range(count):
        postfix = "".join(rng.choice(alphabet) for dummy in range(16))
        stamp = "2026-11-%02dT%02d:%02d:%02d" % (1 + index % 28, index % 24, index % 60, (index * 7) % 60)
        message_id = "%s-%s-%08d" % (postfix, stamp, index)
        recipients = ["user%d@corp.example" % ((index + n) % 50) for n in range(1 + index % 3)]
        sent = today - datetime.timedelta(days=1 + index % 27, hours=-(index % 24), minutes=-(index % 60))
        messages.append(
            Message(
                message_id,
                senders[index % len(senders)],
                recipients,
                "Generated message %d" % index,
                _now_text(sent),
                DETECTIONS[index % len(DETECTIONS)],
                quarantined,
            )
        )
    return messages


def _rebase_dates(messages):
    """Move seed messages in time so the newest was sent an hour ago: inside the default search window, always."""
    dates = [contract.parse_date_time(m.sent_date) for m in messages if m.sent_date]
    if not dates:
        return
    shift = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1) - max(dates)
    for message in messages:
        if message.sent_date:
            message.sent_date = _now_text(contract.parse_date_time(message.sent_date) + shift)


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
        self.remaining = count
        self.status = status
        self.retry_after = retry_after
        self.delay = delay
        self.shape = shape
        self.message = message


class SimulatorState:
    """The account, its credentials, its messages, the switches, and the ledger. Thread-safe."""

    def __init__(
        self,
        messages=(),
        account_id=DEFAULT_ACCOUNT_ID,
        api_token=DEFAULT_TOKEN,
        read_only_token=DEFAULT_READ_ONLY_TOKEN,
        api_email=DEFAULT_EMAIL,
        api_key=DEFAULT_KEY,
        ledger_path=None,
    ):
        self.lock = threading.RLock()
        self.account_id = account_id
        self.api_token = api_token
        self.read_only_token = read_only_token
        self.api_email = api_email
        self.api_key = api_key
        self.messages = {m.id: m for m in messages}
        # The contract's release body is {"ids": [...]}; "array" or "both" is an opt-in drift mode.
        self.accept_body = "object"
        # Where a 202's Location points: "root" (/client/v4/...), "absolute" (http://host/client/v4/...) or
        # "api" (/accounts/..., relative to the API's base path).
        self.search_location = "root"
        # Answers are checked against the contract and departures recorded as response_violation.
        self.check_answers = True
        self.reject_status = 400
        self.postfix_only = False
        self.search_polls = 0
        self.latency = 0.0
        self.faults = []
        self.quota = None
        self.window = 300.0
        self.lockout = 300.0
        # A second, shorter policy (Cloudflare documents a list of policies, "burst" in its example).
        self.burst = None
        self.burst_window = 1.0
        self.announce_quota = True
        # A Ratelimit header sent on every answer whatever the quota, as a misconfigured server might.
        self.fixed_ratelimit = None
        self._window_start = time.monotonic()
        self._window_count = 0
        self._burst_times = []
        self._locked_until = 0.0
        self._polls = {}
        self._ledger = []
        self._ledger_file = open(ledger_path, "a", encoding="utf-8") if ledger_path else None

    @classmethod
    def from_seed(cls, seed, ledger_path=None):
        messages = [Message.from_dict(item) for item in seed.get("messages", [])]
        _rebase_dates(messages)
        generate = seed.get("generate")
        if generate:
            messages.extend(generate_messages(generate.get("count", 0), generate.get("seed", 0)))
        keys = ("account_id", "api_token", "read_only_token", "api_email", "api_key")
        return cls(messages, ledger_path=ledger_path, **{k: seed[k] for k in keys if k in seed})

    # Configuration -------------------------------------------------------------------------------------

    def add_messages(self, messages):
        with self.lock:
            for message in messages:
                self.messages[message.id] = message

    def inject(self, kind, endpoint="any", count=1, **options):
        with self.lock:
            self.faults.append(Fault(kind, endpoint, count, **options))

    def lock_out(self, seconds):
        """Start a lockout now, as one caused by another client of the same token would."""
        with self.lock:
            self._locked_until = time.monotonic() + seconds

    def set_quota(self, limit, window=300.0, lockout=None, burst=None, burst_window=1.0, announce=True):
        with self.lock:
            self.quota = limit
            self.window = window
            self.lockout = window if lockout is None else lockout
            self.burst = burst
            self.burst_window = burst_window
            self.announce_quota = announce
            self._window_start = time.monotonic()
            self._window_count = 0
            self._burst_times = []
            self._locked_until = 0.0

    def configure(self, settings):
        """Apply a dict of switches, as sent to POST /_sim/config."""
        with self.lock:
            for name in (
                "accept_body",
                "reject_status",
                "postfix_only",
                "search_polls",
                "latency",
                "fixed_ratelimit",
                "search_location",
                "check_answers",
            ):
                if name in settings:
                    setattr(self, name, settings[name])
            if "quota" in settings:
                self.set_quota(
                    settings["quota"],
                    settings.get("window", 300.0),
                    settings.get("lockout"),
                    settings.get("burst"),
                    settings.get("burst_window", 1.0),
                    settings.get("announce", True),
                )
            for fault in settings.get("faults", []):
                self.faults.append(Fault(**fault))

    # Ledger --------------------------------------------------------------------------------------------

    def record(self, event, **fields):
        fields["event"] = event
        fields["time"] = round(time.time(), 3)
        with self.lock:
            self._ledger.append(fields)
            if self._ledger_file is not None:
                self._ledger_file.write(json.dumps(fields) + "\n")
                self._ledger_file.flush()

    def ledger(self, event=None):
        with self.lock:
            return [dict(e) for e in self._ledger if event is None or e["event"] == event]

    def requests(self, method=None, endpoint=None):
        return [
            e
            for e in self.ledger("request")
            if (method is None or e["method"] == method) and (endpoint is None or e["endpoint"] == endpoint)
        ]

    def deliveries(self):
        """Message id -> how many times it was delivered."""
        counts = {}
        for event in self.ledger("delivery"):
            counts[event["id"]] = counts.get(event["id"], 0) + 1
        return counts

    def double_deliveries(self):
        return self.ledger("double_delivery")

    def close(self):
        with self.lock:
            if self._ledger_file is not None:
                self._ledger_file.close()
                self._ledger_file = None

    # Behaviour -----------------------------------------------------------------------------------------

    def take_fault(self, endpoint):
        with self.lock:
            for fault in self.faults:
                if fault.remaining > 0 and fault.endpoint in (endpoint, "any"):
                    fault.remaining -= 1
                    return fault
        return None

    def spend_quota(self):
        """Count one request; return (headers, lockout seconds left or None)."""
        with self.lock:
            now = time.monotonic()
            if self._locked_until > now:
                left = self._locked_until - now
                return {"Retry-After": str(int(math.ceil(left)))}, left
            if self.fixed_ratelimit is not None:
                return {"Ratelimit": self.fixed_ratelimit}, None
            if self.quota is None:
                return {}, None
            if now - self._window_start >= self.window:
                self._window_start = now
                self._window_count = 0
            reset = max(1, int(math.ceil(self._window_start + self.window - now)))
            self._window_count += 1
            self._burst_times = [t for t in self._burst_times if t > now - self.burst_window] + [now]
            over = self._window_count > self.quota or (self.burst is not None and len(self._burst_times) > self.burst)
            policies = ['"default";q=%d;w=%d' % (self.quota, self.window)]
            remaining = ['"default";r=%d;t=%d' % (max(0, self.quota - self._window_count), reset)]
            if self.burst is not None:
                policies.append('"burst";q=%d;w=%d' % (self.burst, math.ceil(self.burst_window)))
                remaining.append(
                    '"burst";r=%d;t=%d' % (max(0, self.burst - len(self._burst_times)), math.ceil(self.burst_window))
                )
            headers = {"Ratelimit-Policy": ", ".join(policies)} if self.announce_quota else {}
            if over:
                self._locked_until = now + self.lockout
                self.record("lockout", seconds=self.lockout)
                headers["Retry-After"] = str(int(self.lockout))
                return headers, self.lockout
            if self.announce_quota:
                headers["Ratelimit"] = ", ".join(remaining)
            return headers, None

    def release(self, ids):
        items = []
        with self.lock:
            for message_id in ids:
                message = self.messages.get(message_id)
                if message is None:
                    items.append(
                        {
                            "id": message_id,
                            "postfix_id": message_id.split("-", 1)[0],
                            "delivered": [],
                            "failed": [],
                            "undelivered": [],
                        }
                    )
                    continue
                item = {"id": message.id, "postfix_id": message.postfix_id}
                if message.is_quarantined:
                    delivered = [r for r in message.recipients if r not in message.failing_recipients]
                    item.update(delivered=delivered, failed=list(message.failing_recipients), undelivered=[])
                    message.release()
                    self.record("delivery", id=message.id, recipients=delivered)
                else:
                    item.update(delivered=[], failed=[], undelivered=list(message.recipients))
                    self.record("double_delivery", id=message.id)
                if self.postfix_only:
                    del item["id"]
                items.append(item)
        return items

    def search(self, query):
        """(messages, result_info) of one page, or raise SearchRefused when Cloudflare would refuse the search."""

        def first(name, default=None):
            return query.get(name, [default])[0]

        now = datetime.datetime.now(datetime.timezone.utc)
        start = contract.parse_date_time(first("start")) if first("start") else now - datetime.timedelta(days=30)
        end = contract.parse_date_time(first("end")) if first("end") else now
        if start > now:
            raise SearchRefused("start must not be in the future")
        if start > end:
            raise SearchRefused("start must not be after end")
        per_page = int(first("per_page", "20"))
        offset = _cursor_offset(first("cursor")) if first("cursor") else 0
        detections_only = first("detections_only", "true").lower() != "false"
        with self.lock:
            matches = [
                m
                for m in self.messages.values()
                if _matches(m, query, detections_only) and start <= contract.parse_date_time(m.sent_date) < end
            ]
        page = matches[offset : offset + per_page]
        following = offset + per_page
        next_cursor = base64.urlsafe_b64encode(str(following).encode()).decode() if following < len(matches) else None
        previous = base64.urlsafe_b64encode(str(max(0, offset - per_page)).encode()).decode() if offset else None
        return [m.as_api() for m in page], {
            "count": len(page),
            "per_page": per_page,
            "next": next_cursor,
            "previous": previous,
            "page": 0,
            "total_count": 0,
        }

    def poll_ticket(self, ticket):
        """True when the search can be answered now, else the ticket its 202 answer tells the client to poll with."""
        with self.lock:
            if ticket is None:
                if self.search_polls <= 0:
                    return True
                ticket = "job%d" % (len(self._polls) + 1)
                self._polls[ticket] = self.search_polls
                return ticket
            left = self._polls.get(ticket, 0) - 1
            self._polls[ticket] = left
            return True if left <= 0 else ticket


class SearchRefused(Exception):
    """A search Cloudflare answers with a 4XX."""


def _cursor_offset(cursor):
    try:
        offset = int(base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii"))
    except (ValueError, UnicodeError):
        raise SearchRefused("cursor %r is not a cursor a search returned" % cursor[:40]) from None
    if offset < 0:
        raise SearchRefused("cursor %r is not a cursor a search returned" % cursor[:40])
    return offset


def _contains(value, needle):
    return needle.lower() in (value or "").lower()


def _matches(message, query, detections_only):
    def first(name):
        values = query.get(name)
        return values[0] if values else None

    if detections_only and message.final_disposition not in DETECTIONS:
        return False
    text = first("query")
    if text and not any(_contains(v, text) for v in [message.sender, message.subject, message.id] + message.recipients):
        return False
    checks = (
        ("sender", lambda v: _contains(message.sender, v)),
        ("recipient", lambda v: any(_contains(r, v) for r in message.recipients)),
        ("subject", lambda v: _contains(message.subject, v)),
        ("domain", lambda v: any(a.lower().endswith("@" + v.lower()) for a in [message.sender] + message.recipients)),
        ("message_id", lambda v: v in (message.id, message.as_api()["message_id"])),
        ("alert_id", lambda v: v == message.alert_id),
        ("final_disposition", lambda v: v.upper() == message.final_disposition),
        ("delivery_status", lambda v: v in message.as_api()["delivery_status"]),
        (
            "message_action",
            lambda v: v != "QUARANTINE_RELEASED" or "QUARANTINE_RELEASE" in message.post_delivery_operations,
        ),
    )
    return all(check(first(name)) for name, check in checks if first(name) is not None)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in two writes; with Nagle on, keep-alive clients would wait for a
    # delayed ACK (40 ms) on every answer, which is a property of this server, not of the API.
    disable_nagle_algorithm = True
    server_version = "CloudflareEmailSecuritySimulator/1.0"

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        return

    @property
    def state(self):
        return self.server.state

    def do_GET(self):  # pylint: disable=invalid-name
        self._handle("GET")

    def do_POST(self):  # pylint: disable=invalid-name
        self._handle("POST")

    def __getattr__(self, name):
        # Any other method (PUT, TRACE, QUERY...) gets Cloudflare's 4XX envelope, not http.server's HTML 501.
        if name.startswith("do_"):
            return lambda: self._handle(self.command)
        raise AttributeError(name)

    def _handle(self, method):
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        if url.path.startswith("/_sim/"):
            return self._admin(method, url.path, raw_body)
        if self.state.latency:
            time.sleep(self.state.latency)
        path = url.path[len(API_PREFIX) :] if url.path.startswith(API_PREFIX) else None
        endpoint, route = self._route(method, path)
        entry = {"method": method, "path": url.path, "endpoint": endpoint, "auth": self._auth_kind()}

        quota_headers, locked = self.state.spend_quota()
        if locked is not None:
            return self._answer(entry, 429, envelope(errors=[RATE_LIMITED]), quota_headers)
        fault = self.state.take_fault(endpoint) if endpoint else None
        if fault is not None and fault.kind == "drop_before":
            return self._drop(entry, "dropped before processing")
        if fault is not None and fault.kind == "rate_limit":
            headers = dict(quota_headers, **{"Retry-After": str(fault.retry_after)})
            return self._answer(entry, 429, envelope(errors=[RATE_LIMITED]), headers, checked=False)
        if fault is not None and fault.kind == "echo_headers":
            # A misbehaving proxy that quotes the request's headers back in its error.
            echoed = "; ".join("%s: %s" % item for item in self.headers.items())
            return self._answer(
                entry,
                400,
                envelope(errors=[_error(6003, "Invalid request headers: " + echoed)]),
                quota_headers,
                checked=False,
            )
        if fault is not None and fault.kind == "status":
            return self._answer(
                entry, fault.status, envelope(errors=[_fault_error(fault)]), quota_headers, checked=False
            )
        if fault is not None and fault.kind == "slow_before":
            # The client may give up meanwhile; the request is processed all the same, later.
            time.sleep(fault.delay)

        status, body, headers = self._process(method, endpoint, route, url, raw_body, entry)
        headers.update(quota_headers)
        if fault is None:
            return self._answer(entry, status, body, headers)
        return self._answer_with_fault(fault, entry, status, body, headers)

    def _answer_with_fault(self, fault, entry, status, body, headers):
        """Answer a request that was processed, the way the fault says."""
        if fault.kind == "drop_after":
            return self._drop(entry, "dropped after processing")
        if fault.kind == "reset_after":
            return self._drop(entry, "connection reset after processing", reset=True)
        if fault.kind == "tls_garbage_after":
            return self._tls_garbage(entry)
        if fault.kind == "status_after":
            return self._answer(entry, fault.status, envelope(errors=[_fault_error(fault)]), headers, checked=False)
        if fault.kind == "failed_with_items" and status == 200:
            body = dict(body, success=False, errors=[_error(1100, fault.message)])
        if fault.kind == "item_shapes" and status == 200:
            body = _reshape(body, fault.shape)
        if fault.kind == "echo_in_answer" and status == 200:
            body = self._echo_credentials(body)
        if fault.kind == "slow_after":
            # The ledger says what the server did when it did it, not when the slow answer leaves.
            entry["status"] = status
            self.state.record("request", **entry)
            time.sleep(fault.delay)
            return self._answer(None, status, body, headers)
        if fault.kind == "malformed":
            return self._answer(entry, 200, None, headers, raw=b"<html><body>502 upstream glitch</body></html>")
        # Faults that change the answer's body break the contract on purpose.
        return self._answer(entry, status, body, headers, checked=fault.kind == "slow_before")

    def _route(self, method, path):
        if path is None:
            return None, None
        for endpoint, pattern, verb in (
            ("release", _RELEASE, "POST"),
            ("search", _SEARCH, "GET"),
            ("get", _MESSAGE, "GET"),
        ):
            match = pattern.match(path)
            if match and method == verb:
                return endpoint, match
        return None, None

    def _auth_kind(self):
        if self.headers.get("Authorization"):
            return "token"
        if self.headers.get("X-Auth-Key") or self.headers.get("X-Auth-Email"):
            return "legacy"
        return "none"

    def _authenticate(self, write):
        """None when allowed, else (status, errors)."""
        state = self.state
        authorization = self.headers.get("Authorization")
        key, email = self.headers.get("X-Auth-Key"), self.headers.get("X-Auth-Email")
        if authorization is not None:
            if not authorization.startswith("Bearer ") or not authorization[7:].strip():
                return 400, [
                    _error(6003, "Invalid request headers", [_error(6111, "Invalid format for Authorization header")])
                ]
            token = authorization[7:].strip()
            if token == state.api_token:
                return None
            if token == state.read_only_token:
                return None if not write else (403, [_error(9109, "Unauthorized to access requested resource")])
            return 401, [_error(10000, "Authentication error")]
        if key is not None or email is not None:
            if not key or not email:
                return 400, [
                    _error(6003, "Invalid request headers", [_error(6103, "Invalid format for X-Auth-Key header")])
                ]
            if (email, key) == (state.api_email, state.api_key):
                return None
            return 403, [_error(9103, "Unknown X-Auth-Key or X-Auth-Email")]
        return 400, [_error(6003, "Invalid request headers", [_error(6111, "Invalid format for Authorization header")])]

    def _process(self, method, endpoint, route, url, raw_body, entry):
        state = self.state
        if endpoint is None:
            path = url.path[len(API_PREFIX) :]
            if any(pattern.match(path) for pattern in (_RELEASE, _SEARCH, _MESSAGE)):
                return 405, envelope(errors=[_error(10405, "Method %s not allowed for this route" % method)]), {}
            return 404, envelope(errors=[_error(7000, "No route for that URI")]), {}
        account_id = route.group(1)
        if not _HEX32.match(account_id):
            return (
                400,
                envelope(
                    errors=[
                        _error(7003, "Could not route to %s, perhaps your object identifier is invalid?" % url.path),
                        _error(7000, "No route for that URI"),
                    ]
                ),
                {},
            )
        denied = self._authenticate(write=endpoint == "release")
        if denied is not None:
            return denied[0], envelope(errors=denied[1]), {}
        if account_id.lower() != state.account_id:
            return 403, envelope(errors=[_error(10000, "Authentication error")]), {}
        refused = self._check_request(method, url, raw_body, endpoint)
        if refused is not None:
            return refused
        if endpoint == "release":
            return self._release(raw_body, entry)
        if endpoint == "get":
            message = state.messages.get(unquote(route.group(2)))
            if message is None:
                return 404, envelope(errors=[_error(1002, "Message not found")]), {}
            return 200, envelope(message.as_api()), {}
        return self._search(url)

    def _check_request(self, method, url, raw_body, endpoint):
        """The 4XX Cloudflare would send for a request outside its contract, or None; violations go to the ledger."""
        operation, path_values = self._contract_operation(method, url)
        query = parse_qs(url.query, keep_blank_values=True)
        if "page" in query:
            problems = [
                "query parameter page is no longer supported (sunset 2026-11-01): page with cursor, set to "
                "result_info.next of the previous answer"
            ]
        else:
            # In a body drift mode the release body is judged by the drift's own rule in _release.
            drifting = endpoint == "release" and self.state.accept_body != "object"
            problems = _loaded_contract().check_request(
                operation, path_values, query, raw_body, ignore=("poll",), check_body=not drifting
            )
        if not problems:
            return None
        self.state.record("contract_violation", method=method, path=url.path, problems=problems)
        return 400, envelope(errors=[_error(1001, "Invalid request: %s" % problem) for problem in problems[:5]]), {}

    def _contract_operation(self, method, url):
        return _loaded_contract().operation(method, url.path[len(API_PREFIX) :])

    def _release(self, raw_body, entry):
        state = self.state
        try:
            body = json.loads(raw_body.decode("utf-8") or "null")
        except ValueError:
            return 400, envelope(errors=[_error(10026, "Malformed JSON in request body")]), {}
        form = "array" if isinstance(body, list) else "object" if isinstance(body, dict) else None
        ids = body if form == "array" else body.get("ids") if form == "object" else None
        entry["body_form"] = form
        if form is None or not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            return (
                state.reject_status,
                envelope(
                    errors=[_error(10001, "Invalid request body: expected %s" % _expected_body(state.accept_body))]
                ),
                {},
            )
        if state.accept_body not in ("both", form):
            return (
                state.reject_status,
                envelope(
                    errors=[_error(10001, "Invalid request body: expected %s" % _expected_body(state.accept_body))]
                ),
                {},
            )
        entry["ids"] = list(ids)
        return 200, envelope(state.release(ids)), {}

    def _search(self, url):
        query = parse_qs(url.query)
        ticket = self.state.poll_ticket(query.get("poll", [None])[0])
        if ticket is not True:
            params = [(k, v) for k, values in query.items() if k != "poll" for v in values] + [("poll", ticket)]
            location = "%s?%s" % (url.path, urlencode(params))
            if self.state.search_location == "absolute":
                location = "%s://%s%s" % (self.server.scheme, self.headers.get("Host"), location)
            elif self.state.search_location == "api":
                location = location[len(API_PREFIX) :]
            info = {
                "count": 0,
                "per_page": int(query.get("per_page", ["20"])[0]),
                "next": None,
                "previous": None,
                "page": 0,
                "total_count": 0,
            }
            return (
                202,
                envelope([], messages=[_error(1202, "Search in progress")], result_info=info),
                {"Location": location},
            )
        try:
            result, info = self.state.search(query)
        except SearchRefused as exc:
            return 400, envelope(errors=[_error(1001, "Invalid request: %s" % exc)]), {}
        return 200, envelope(result, result_info=info), {}

    def _answer(self, entry, status, body, headers, raw=None, checked=True):
        payload = raw if raw is not None else json.dumps(body).encode("utf-8")
        if entry is not None:
            entry["status"] = status
            self.state.record("request", **entry)
        if checked and raw is None:
            self._check_answer(status, body, headers)
        self.send_response(status)
        self.send_header("Content-Type", "text/html" if raw is not None else "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _check_answer(self, status, body, headers):
        """Record every departure of a normal answer from the contract: the fake must never drift silently."""
        operation, dummy = self._contract_operation(self.command, urlsplit(self.path))
        # 429 carries Cloudflare's observed code 971, below the contract's minimum of 1000; postfix_only is an
        # opt-in drift mode whose items lack the required id.
        if (
            operation is None
            or status == 429
            or not self.state.check_answers
            or (self.state.postfix_only and operation.operation_id == "email_security_post_release")
        ):
            return
        problems = _loaded_contract().check_response(operation, status, body, headers)
        if problems:
            self.state.record(
                "response_violation", method=self.command, path=self.path, status=status, problems=problems
            )

    def _drop(self, entry, why, reset=False):
        entry["status"] = None
        entry["fault"] = why
        self.state.record("request", **entry)
        self.close_connection = True
        try:
            if reset:
                # Linger 0: closing sends a TCP reset instead of an orderly end of stream.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            else:
                self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _echo_credentials(self, body):
        """A careless proxy or server quoting the credential headers back in a successful answer."""
        secret = self.headers.get("Authorization") or self.headers.get("X-Auth-Key") or ""
        echoed = {secret: "echoed header as a key", "id": "echo-not-requested", "note": "header " + secret}
        notices = [
            {"code": 1001, "message": "seen %s" % json.dumps(secret)},
            {"code": 1002, "message": "seen %s" % quote(secret, safe="")},
            {"code": 1003, "message": "seen %r" % secret},
        ]
        return dict(
            body, result=list(body.get("result") or []) + [echoed], messages=list(body.get("messages") or []) + notices
        )

    def _tls_garbage(self, entry):
        """Break the TLS stream after processing: the client fails while reading the answer."""
        entry["status"] = None
        entry["fault"] = "TLS record garbage after processing"
        self.state.record("request", **entry)
        self.close_connection = True
        raw = socket.socket(fileno=os.dup(self.connection.fileno()))
        try:
            raw.sendall(b"\x17\x03\x03\x00\x20" + b"\x00" * 32)
        except OSError:
            pass
        finally:
            raw.close()

    def _admin(self, method, path, raw_body):
        state = self.state
        status, body = 200, {"ok": True}
        if method == "GET" and path == "/_sim/ledger":
            body = state.ledger()
        elif method == "GET" and path == "/_sim/messages":
            with state.lock:
                body = [m.as_api() for m in state.messages.values()]
        elif method == "POST" and path == "/_sim/config":
            try:
                state.configure(json.loads(raw_body.decode("utf-8") or "{}"))
            except (ValueError, TypeError) as exc:
                status, body = 400, {"ok": False, "error": str(exc)}
        else:
            status, body = 404, {"ok": False, "error": "unknown admin path"}
        payload = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def _fault_error(fault):
    # Codes outside the authentication and routing codes, which mean something else to a client.
    return _error(1101 if fault.status >= 500 else 1001, fault.message)


def _reshape(body, shape):
    """A release answer's items in a shape the contract does not promise, as a drifting or buggy server might."""
    items = list(body.get("result") or [])
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


def _expected_body(accept):
    return {"array": "a JSON array of message ids", "object": 'a JSON object {"ids": [...]}'}.get(
        accept, 'a JSON array of ids or {"ids": [...]}'
    )


def _loaded_contract():
    return contract.Contract.load()


class _Server(ThreadingHTTPServer):
    scheme = "http"
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # A client that timed out or was reset before the answer left is a fault being tested, not a server error.
        if isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError, TimeoutError)):
            return
        super(_Server, self).handle_error(request, client_address)


class Simulator:
    """Runs a SimulatorState behind an HTTP server on 127.0.0.1, in a background thread."""

    def __init__(self, state=None, port=0, tls=None):
        """``tls``: (certificate file, key file) to serve HTTPS instead of HTTP."""
        self.state = state or SimulatorState()
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.state = self.state
        self._scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self._scheme = self._server.scheme = "https"
        self._thread = None

    @property
    def port(self):
        return self._server.server_address[1]

    @property
    def base_url(self):
        return "%s://127.0.0.1:%d%s" % (self._scheme, self.port, API_PREFIX)

    def start(self):
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self.state.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


def load_state(seed_path=None, generate=0, ledger_path=None):
    """A SimulatorState from a JSON seed file (or the defaults), plus ``generate`` synthetic messages."""
    seed = {}
    if seed_path:
        with open(seed_path, encoding="utf-8") as source:
            seed = json.load(source)
    state = SimulatorState.from_seed(seed, ledger_path=ledger_path)
    if generate:
        state.add_messages(generate_messages(generate, seed=1))
    return state


def main(argv=None):
    parser = argparse.ArgumentParser(description="Cloudflare Email Security Investigate API simulator (127.0.0.1 only)")
    parser.add_argument("--port", type=int, default=0, help="port to bind on 127.0.0.1 (0: any free port)")
    parser.add_argument("--seed", help="JSON file with the account, credentials and messages")
    parser.add_argument("--generate", type=int, default=0, help="add N synthetic quarantined messages")
    parser.add_argument("--ledger", help="append the ledger to this JSON-lines file")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every API request")
    parser.add_argument("--quota", type=int, help="requests allowed per window, announced in Ratelimit headers")
    parser.add_argument("--window", type=float, default=300.0, help="quota window in seconds")
    parser.add_argument(
        "--accept-body",
        choices=("both", "object", "array"),
        default="object",
        help="release body forms accepted; anything but object is a drift from the contract",
    )
    parser.add_argument("--search-polls", type=int, default=0, help="answer searches with 202 this many times first")
    parser.add_argument("--postfix-only", action="store_true", help="key release items by postfix_id only")
    options = parser.parse_args(argv)

    state = load_state(options.seed, options.generate, options.ledger)
    state.configure(
        {
            "latency": options.latency,
            "accept_body": options.accept_body,
            "search_polls": options.search_polls,
            "postfix_only": options.postfix_only,
        }
    )
    if options.quota:
        state.set_quota(options.quota, options.window)

    simulator = Simulator(state, options.port)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *args: stopping.set())
    signal.signal(signal.SIGINT, lambda *args: stopping.set())
    simulator.start()
    print("listening on %s" % simulator.base_url, flush=True)
    while not stopping.wait(0.2):
        pass
    simulator.stop()
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
