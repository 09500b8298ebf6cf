# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The HTTP side: routing, authentication, the contract checks, faults applied to answers, the server."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import os
import socket
import ssl
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from . import contract
from .api import (
    _HEX32,
    API_PREFIX,
    NO_DETECTION,
    NO_INTEGRATION,
    NOT_IN_INBOX,
    RATE_LIMITED,
    ROUTES,
    WRITE_ENDPOINTS,
    _error,
    envelope,
)
from .evidence import raw_eml, screenshot_png
from .faults import fault_error, reshape
from .messages import generate_messages
from .settings import Refused
from .state import SearchRefused, SimulatorState


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
        self._ray = None
        if url.path.startswith("/_sim/"):
            return self._admin(method, url.path, raw_body)
        self.state.arrive_due()
        if self.state.latency:
            time.sleep(self.state.latency)
        path = url.path[len(API_PREFIX) :] if url.path.startswith(API_PREFIX) else None
        endpoint, route = self._route(method, path)
        entry = {"method": method, "path": url.path, "endpoint": endpoint, "auth": self._auth_kind()}
        # Cloudflare gives every answer a ray id (16 hex digits and the data centre): its audit logs are found by it.
        self._ray = entry["cf_ray"] = "%s-SJC" % os.urandom(8).hex()

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
                entry, fault.status, envelope(errors=[fault_error(fault)]), quota_headers, checked=False
            )
        if fault is not None and fault.kind == "slow_before":
            # The client may give up meanwhile; the request is processed all the same, later.
            fault.let_go.wait(fault.delay)

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
            entry["fault"] = "status %d after processing" % fault.status
            return self._answer(entry, fault.status, envelope(errors=[fault_error(fault)]), headers, checked=False)
        if fault.kind == "failed_with_items" and status == 200:
            body = dict(body, success=False, errors=[_error(1100, fault.message)])
        if fault.kind == "item_shapes" and status == 200:
            body = reshape(body, fault.shape)
        if fault.kind == "echo_in_answer" and status == 200:
            body = self._echo_credentials(body)
        if fault.kind == "slow_after":
            # The ledger says what the server did when it did it, not when the slow answer leaves.
            entry["status"] = status
            self.state.record("request", **entry)
            time.sleep(fault.delay)
            return self._answer(None, status, body, headers)
        if fault.kind == "trickle":
            return self._trickle(entry, status, body, headers, fault.delay)
        if fault.kind == "malformed":
            return self._answer(entry, 200, None, headers, raw=b"<html><body>502 upstream glitch</body></html>")
        # Faults that change the answer's body break the contract on purpose.
        return self._answer(entry, status, body, headers, checked=fault.kind == "slow_before")

    def _route(self, method, path):
        if path is None:
            return None, None
        for endpoint, pattern, verb in ROUTES:
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
            if any(pattern.match(path) for dummy, pattern, dummy in ROUTES):
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
        denied = self._authenticate(write=endpoint in WRITE_ENDPOINTS)
        if denied is not None:
            return denied[0], envelope(errors=denied[1]), {}
        if account_id.lower() != state.account_id:
            return 403, envelope(errors=[_error(10000, "Authentication error")]), {}
        refused = self._check_request(method, url, raw_body, endpoint)
        if refused is not None:
            return refused
        return self._dispatch(endpoint, route, url, raw_body, entry)

    def _dispatch(self, endpoint, route, url, raw_body, entry):
        """The answer of an authenticated request the contract accepts."""
        if endpoint == "release":
            return self._release(raw_body, entry)
        if endpoint in ("move", "message_move"):
            return self._move(endpoint, route, raw_body, entry)
        if endpoint == "get":
            message = self.state.messages.get(unquote(route.group(2)))
            if message is None:
                return 404, envelope(errors=[_error(1002, "Message not found")]), {}
            return 200, envelope(message.as_api()), {}
        if endpoint.startswith("bulk_"):
            return self._bulk(endpoint, route, url, raw_body)
        if endpoint == "message_part":
            return self._message_part(route, url)
        if endpoint == "mailbox_preview":
            return self._mailbox_preview(raw_body)
        if endpoint in ("submit", "submissions"):
            return self._submissions(endpoint, url, raw_body)
        if endpoint == "monthly_report":
            return 200, envelope(self.state.monthly_report()), {}
        if endpoint == "phishguard_reports":
            query = parse_qs(url.query)
            return _collection_page(self.state.listed_phishguard_reports(query), query, self.state.max_per_page)
        if endpoint.startswith("settings_"):
            return self._settings(endpoint, route, url, raw_body)
        return self._search(url)

    def _settings(self, endpoint, route, url, raw_body):
        """The allow policy and trusted domain lists; the request was checked against the contract already."""
        settings = self.state.settings[route.group(2)]
        body = json.loads(raw_body.decode("utf-8")) if raw_body else None
        try:
            with self.state.lock:
                if endpoint == "settings_list":
                    query = parse_qs(url.query)
                    return _collection_page(settings.listed(query), query, self.state.max_per_page)
                if endpoint == "settings_create":
                    return 201, envelope(settings.create(body)), {}
                if endpoint == "settings_batch":
                    return 200, envelope(settings.batch(body)), {}
                entry_id = unquote(route.group(3))
                if endpoint == "settings_get":
                    return 200, envelope(settings.get(entry_id)), {}
                if endpoint == "settings_delete":
                    return 200, envelope(settings.delete(entry_id)), {}
                return 200, envelope(settings.update(entry_id, body, replace=endpoint == "settings_replace")), {}
        except Refused as refused:
            return refused.status, envelope(errors=refused.errors), {}

    def _submissions(self, endpoint, url, raw_body):
        """POST /submissions (reclassification only) and its page-numbered listing."""
        if endpoint == "submit":
            body = json.loads(raw_body.decode("utf-8"))
            if body.get("type") != "reclassification":
                return 400, envelope(errors=[_error(1001, "Invalid request: only reclassification is simulated")]), {}
            return 202, envelope({"results": self.state.submit(body["messages"])}), {}
        query = parse_qs(url.query)
        return _collection_page(self.state.listed_submissions(query), query, self.state.max_per_page)

    def _check_request(self, method, url, raw_body, endpoint):
        """The 4XX Cloudflare would send for a request outside its contract, or None; violations go to the ledger."""
        operation, path_values = self._contract_operation(method, url)
        query = parse_qs(url.query, keep_blank_values=True)
        if "page" in query and endpoint == "search":
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
            if endpoint == "search" and self.state.search_page_limit > 1000:
                # Pages past the contract's 1000, as the changelog announces them, when the switch serves them.
                problems = [p for p in problems if not _within_page_limit(p, query, self.state.search_page_limit)]
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

    def _move(self, endpoint, route, raw_body, entry):
        """POST investigate/move and investigate/{id}/move; the body was checked against the contract already."""
        body = json.loads(raw_body.decode("utf-8"))
        ids = body["ids"] if endpoint == "move" else [unquote(route.group(2))]
        entry.update(ids=list(ids), destination=body["destination"])
        if not self.state.mailbox_integration:
            return 400, envelope(errors=[NO_INTEGRATION]), {}
        return 200, envelope(self.state.move(ids, body["destination"])), {}

    def _bulk(self, endpoint, route, url, raw_body):
        """The bulk job routes; the request was checked against the contract already."""
        jobs = self.state.bulk_jobs()
        query = parse_qs(url.query)
        if endpoint == "bulk_create":
            job = jobs.create(json.loads(raw_body.decode("utf-8")))
            self.state.record("bulk_job_created", job_id=job.job_id, comment=job.comment)
            return 201, envelope(job.as_api()), {}
        if endpoint == "bulk_list":
            listed = jobs.listed(query.get("status", [None])[0], query.get("action_type", [None])[0])
            return _paged(listed, query, lambda job: job.as_api(), self.state.max_per_page)
        job = jobs.jobs.get(route.group(2))
        if job is None:
            return 404, envelope(errors=[_error(1404, "Bulk job not found")]), {}
        if endpoint == "bulk_get":
            return 200, envelope(job.as_api()), {}
        if endpoint == "bulk_delete":
            del jobs.jobs[job.job_id]
            return 200, envelope({"id": job.job_id}), {}
        if endpoint == "bulk_cancel":
            if job.status in ("COMPLETED", "FAILED", "CANCELLED"):
                return 409, envelope(errors=[_error(1409, "Job is already %s" % job.status)]), {}
            jobs.cancel(job)
            self.state.record("bulk_job_cancelled", job_id=job.job_id)
            return 200, envelope(job.as_api()), {}
        status = query.get("status", [None])[0]
        rows = job.rows if status is None else [row for row in job.rows if row.status == status]
        return _paged(rows, query, job.row_as_api, self.state.max_per_page)

    def _message_part(self, route, url):
        """GET .../investigate/{id}/trace, /action_log (page-numbered) or /detections."""
        message = self.state.messages.get(unquote(route.group(2)))
        if message is None:
            return 404, envelope(errors=[_error(1002, "Message not found")]), {}
        part = route.group(3)
        if part in ("preview", "raw") and not message.has_detection:
            return 404, envelope(errors=[NO_DETECTION]), {}
        if part == "preview":
            return 200, envelope({"screenshot": base64.b64encode(screenshot_png(message)).decode("ascii")}), {}
        if part == "raw":
            return 200, envelope({"raw": raw_eml(message)}), {}
        if part == "trace":
            return 200, envelope(message.trace()), {}
        if part == "detections":
            return 200, envelope(message.detections()), {}
        return _collection_page(
            [dict(entry) for entry in message.action_log], parse_qs(url.query), self.state.max_per_page
        )

    def _mailbox_preview(self, raw_body):
        """POST investigate/preview: rendered from the recipients' mailbox, only while the message is in the Inbox."""
        message = self.state.messages.get(json.loads(raw_body.decode("utf-8"))["id"])
        if message is None:
            return 404, envelope(errors=[_error(1002, "Message not found")]), {}
        if not self.state.mailbox_integration:
            return 400, envelope(errors=[NO_INTEGRATION]), {}
        if message.folder() != "Inbox":
            return 400, envelope(errors=[NOT_IN_INBOX]), {}
        message.previewed_from_mailbox()
        self.state.record("mailbox_preview", id=message.id)
        return 200, envelope({"screenshot": base64.b64encode(screenshot_png(message)).decode("ascii")}), {}

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
        self._send_ray()
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _send_ray(self):
        ray = getattr(self, "_ray", None)
        if ray is not None:
            self.send_header("cf-ray", ray)

    def _trickle(self, entry, status, body, headers, delay):
        """Headers at once, then the body a byte at a time, until the client hangs up or the server stops."""
        entry["status"] = status
        entry["fault"] = "answer trickled"
        self.state.record("request", **entry)
        self.close_connection = True
        payload = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self._send_ray()
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        try:
            for offset in range(len(payload)):
                self.wfile.write(payload[offset : offset + 1])
                self.wfile.flush()
                if self.server.stopping.wait(delay):
                    return
        except OSError:
            return

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


def _within_page_limit(problem, query, limit):
    """Whether a problem is only a search page larger than the contract's and no larger than ``limit``."""
    if not problem.startswith("query parameter per_page:"):
        return False
    try:
        return 1 <= int(query["per_page"][0]) <= limit
    except (KeyError, ValueError):
        return False


def _page_of(items, query, max_per_page):
    """(the items of the page the query asks for, page, per_page) of a page-numbered listing; a server that serves
    at most max_per_page a page announces the page size it served."""
    page, per_page = int(query.get("page", ["1"])[0]), int(query.get("per_page", ["20"])[0])
    per_page = min(per_page, max_per_page or per_page)
    return items[(page - 1) * per_page : page * per_page], page, per_page


def _paged(items, query, as_api, max_per_page):
    """One page of a bulk listing: result_info as CursorResultInfo, whose page field is always 0."""
    shown, dummy, per_page = _page_of(items, query, max_per_page)
    shown = [as_api(item) for item in shown]
    info = {"count": len(shown), "per_page": per_page, "next": None, "previous": None, "page": 0, "total_count": 0}
    return 200, envelope(shown, result_info=info), {}


def _collection_page(items, query, max_per_page):
    """One page of a listing whose result_info is the collection's: count, page, per_page, total_count."""
    shown, page, per_page = _page_of(items, query, max_per_page)
    info = {"count": len(shown), "page": page, "per_page": per_page, "total_count": len(items)}
    return 200, envelope(shown, result_info=info), {}


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
        self._server.stopping = threading.Event()
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
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self.state.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


def load_state(
    seed_path=None,
    generate=0,
    ledger_path=None,
    campaign=0,
    clean=0,
    untimed=0,
    deployment=None,
    campaign_hours=24,
    id_skew=0.0,
):
    """A SimulatorState from a JSON seed file (or the defaults), plus ``generate`` synthetic quarantined messages
    over 28 days, ``campaign`` quarantined within the last ``campaign_hours``, ``clean`` delivered ones over 28
    days, and ``untimed`` quarantined ones whose ids carry no time. ``deployment`` (inline or api) overrides the
    seed's: with api, what would be quarantined is delivered and moved out of the Inbox instead. ``id_skew``: seconds
    the time each generated id carries runs ahead of its message's dates (negative: behind)."""
    seed = {}
    if seed_path:
        with open(seed_path, encoding="utf-8") as source:
            seed = json.load(source)
    if deployment:
        seed["deployment"] = deployment
    state = SimulatorState.from_seed(seed, ledger_path=ledger_path)
    if generate:
        state.add_messages(generate_messages(generate, seed=1, id_skew=id_skew))
    if campaign:
        state.add_messages(generate_messages(campaign, seed=2, within_hours=campaign_hours, id_skew=id_skew))
    if clean:
        state.add_messages(generate_messages(clean, seed=3, clean=True, id_skew=id_skew))
    if untimed:
        state.add_messages(generate_messages(untimed, seed=4, stamped=False))
    return state
