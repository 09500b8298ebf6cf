# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The receivers of the runbooks' notices, started by the tests on 127.0.0.1 and ephemeral ports, stopped by them.

- ``SmtpServer``: a real SMTP server (aiosmtpd) that keeps every message it accepts, parsed.
- ``NoticeReceiver``: an HTTP server that is a Slack or Teams incoming webhook (at a secret path) and a stand-in of
  ServiceNow's Table API (GET a table's records by a ``sysparm_query`` of ``number=...``, PATCH a record's
  ``work_notes``) and Attachment API (``POST /api/now/attachment/file?table_name&table_sys_id&file_name``, the file
  as the body), written from ServiceNow's published REST API reference, with basic authentication. No instance can
  run here; the stand-in keeps what each call asked, for the tests to assert on.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import email
import email.policy
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


class _Keeper:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(
            {"from": envelope.mail_from, "to": list(envelope.rcpt_tos), "message": parsed, "raw": envelope.content}
        )
        return "250 Message accepted for delivery"


class _EphemeralController(Controller):
    """aiosmtpd's Controller on port 0: its readiness check connects to the port the system chose."""

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super(_EphemeralController, self)._trigger_server()


class SmtpServer:
    """A real SMTP server on 127.0.0.1 and an ephemeral port; ``messages`` holds what it accepted. With ``login``
    (user, password), it takes mail only from a client that logged in with them (AUTH PLAIN or LOGIN, no TLS)."""

    def __init__(self, login=None):
        self._keeper = _Keeper()
        options = {}
        if login is not None:

            def authenticate(server, session, envelope, mechanism, auth_data):
                given = (auth_data.login.decode("utf-8"), auth_data.password.decode("utf-8"))
                return AuthResult(success=given == tuple(login))

            options = dict(authenticator=authenticate, auth_required=True, auth_require_tls=False)
        self._controller = _EphemeralController(self._keeper, hostname="127.0.0.1", port=0, **options)
        self.port = None

    @property
    def messages(self):
        return self._keeper.messages

    def start(self):
        self._controller.start()
        self.port = self._controller.port
        return self

    def stop(self):
        """Stop it (a test may, to see what a server that is down does); stopping it again does nothing."""
        if self._controller.server is not None:
            self._controller.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        return

    def do_GET(self):  # noqa: N802 - http.server's name
        self._handle("GET")

    def do_POST(self):  # noqa: N802
        self._handle("POST")

    def do_PATCH(self):  # noqa: N802
        self._handle("PATCH")

    def _handle(self, method):
        url = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        receiver = self.server.receiver
        with receiver.lock:
            receiver.calls.append({"method": method, "path": url.path, "query": url.query})
            if url.path == receiver.webhook_path:
                return self._answer(*receiver.webhook(body))
            if url.path.startswith("/api/now/"):
                if self.headers.get("Authorization") != receiver.authorization:
                    return self._answer(401, {"error": {"message": "User Not Authenticated"}, "status": "failure"})
                return self._answer(*receiver.servicenow(method, url, body, self.headers.get("Content-Type")))
        return self._answer(404, {"error": {"message": "no such path"}})

    def _answer(self, status, body):
        payload = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class NoticeReceiver:
    """The webhook and the ServiceNow stand-in, on one HTTP server of the test's own."""

    def __init__(self, username="mailsec.bot", password="sn-Pa55word-7c1e", tickets=("INC0012345",)):
        self.lock = threading.Lock()
        self.calls = []
        self.webhook_posts = []
        self.webhook_path = "/hooks/T000/B000/%s" % uuid.uuid4().hex
        self.username, self.password = username, password
        token = base64.b64encode(("%s:%s" % (username, password)).encode("utf-8")).decode("ascii")
        self.authorization = "Basic " + token
        self.tickets = {number: {"sys_id": uuid.uuid4().hex, "number": number, "work_notes": []} for number in tickets}
        self.attachments = []
        self.webhook_status = 200
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.receiver = self
        self._thread = None

    @property
    def base_url(self):
        return "http://127.0.0.1:%d" % self._server.server_address[1]

    @property
    def webhook_url(self):
        return self.base_url + self.webhook_path

    def webhook(self, body):
        self.webhook_posts.append(json.loads(body.decode("utf-8")))
        return self.webhook_status, {"ok": self.webhook_status == 200}

    def servicenow(self, method, url, body, content_type):
        parts = url.path.split("/")
        if method == "GET" and len(parts) == 5 and parts[3] == "table":
            return self._find(parse_qs(url.query))
        if method == "PATCH" and len(parts) == 6 and parts[3] == "table":
            return self._note(parts[5], body)
        if method == "POST" and url.path == "/api/now/attachment/file":
            return self._attach(parse_qs(url.query), body, content_type)
        return 400, {"error": {"message": "not served by the stand-in"}, "status": "failure"}

    def _find(self, query):
        """GET /api/now/table/{table}?sysparm_query=number=...: the records of that number."""
        wanted = (query.get("sysparm_query") or [""])[0]
        number = wanted[len("number=") :] if wanted.startswith("number=") else None
        found = [{"sys_id": t["sys_id"], "number": t["number"]} for t in self.tickets.values() if t["number"] == number]
        return 200, {"result": found}

    def _note(self, sys_id, body):
        """PATCH /api/now/table/{table}/{sys_id} with work_notes: a journal entry added to the record."""
        ticket = next((t for t in self.tickets.values() if t["sys_id"] == sys_id), None)
        if ticket is None:
            return 404, {"error": {"message": "No Record found"}, "status": "failure"}
        ticket["work_notes"].append(json.loads(body.decode("utf-8")).get("work_notes"))
        return 200, {"result": {"sys_id": ticket["sys_id"], "number": ticket["number"]}}

    def _attach(self, query, body, content_type):
        """POST /api/now/attachment/file?table_name&table_sys_id&file_name, the file as the body."""
        attachment = {name: query[name][0] for name in ("table_name", "table_sys_id", "file_name")}
        attachment.update(content_type=content_type, content=body)
        self.attachments.append(attachment)
        return 201, {"result": {"sys_id": uuid.uuid4().hex, "file_name": attachment["file_name"]}}

    def start(self):
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()
