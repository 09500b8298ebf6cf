# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import email.utils
import json
from urllib.parse import quote

import pytest
import requests

from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.client import (
    CloudflareClient,
    parse_retry_after,
    redact,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import CloudflareError, OutcomeUnknownError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.version import COLLECTION_VERSION

BASE = "https://api.example.test/client/v4"
PATH = "/accounts/023e105f4ecef8ad9ca31a8372d0c353/email-security/investigate/x"


@pytest.fixture
def client():
    waits = []
    made = CloudflareClient(dict(api_token="secret-token", base_url=BASE, retries=2), sleep=waits.append)
    made.waits = waits
    return made


def test_retry_after_in_seconds_and_as_a_date():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    later = email.utils.formatdate(1000.0 + 30, usegmt=True)
    assert parse_retry_after(later, now=1000.0) == pytest.approx(30.0)


def test_reads_are_retried_on_server_errors(api, client):
    api.get(BASE + PATH, status=502, body="bad gateway")
    api.get(BASE + PATH, json={"success": True, "errors": [], "messages": [], "result": {"id": "x"}})

    assert client.get(PATH).result == {"id": "x"}
    assert client.retries_done == 1 and len(client.waits) == 1


def test_reads_give_up_after_the_configured_retries(api, client):
    for dummy in range(3):
        api.get(BASE + PATH, status=500, json={"success": False, "errors": [{"code": 1, "message": "oops"}]})

    with pytest.raises(CloudflareError) as raised:
        client.get(PATH)
    assert raised.value.status == 500
    assert "(after 2 retries)" in raised.value.message
    assert "[1] oops" in raised.value.message


def test_writes_are_never_resent_after_a_server_error(api, client):
    api.post(BASE + PATH, status=500, body="oops")

    with pytest.raises(OutcomeUnknownError):
        client.post(PATH, {"ids": ["a"]})
    assert len(api.calls) == 1


def test_writes_are_never_resent_after_a_read_timeout(api, client):
    api.post(BASE + PATH, body=requests.exceptions.ReadTimeout("read timed out"))

    with pytest.raises(OutcomeUnknownError):
        client.post(PATH, {"ids": ["a"]})
    assert len(api.calls) == 1


def test_writes_are_retried_when_the_connection_never_opened(api, client):
    api.post(BASE + PATH, body=requests.exceptions.ConnectTimeout("connect timed out"))
    api.post(BASE + PATH, json={"success": True, "errors": [], "messages": [], "result": []})

    assert client.post(PATH, {"ids": ["a"]}).result == []
    assert len(api.calls) == 2


def test_a_non_json_success_on_a_write_is_an_unknown_outcome(api, client):
    api.post(BASE + PATH, body="<html>proxy</html>", status=200)

    with pytest.raises(OutcomeUnknownError):
        client.post(PATH, {"ids": ["a"]})


def test_redirects_are_not_followed_with_the_credentials(api, client):
    api.get(BASE + PATH, status=302, headers={"Location": "https://evil.example.test/"})

    with pytest.raises(CloudflareError) as raised:
        client.get(PATH)
    assert raised.value.status == 302
    assert len(api.calls) == 1


def test_the_user_agent_names_the_collection(api, client):
    api.get(BASE + PATH, json={"success": True, "errors": [], "messages": [], "result": None})
    client.get(PATH)
    assert api.calls[0].request.headers["User-Agent"].startswith("mailsec.cloudflare/%s " % COLLECTION_VERSION)


def test_redact_walks_nested_data():
    data = {"msg": "token abc123 leaked", "list": ["x abc123", 3], "nested": {"k": ("abc123",)}}
    expected = {"msg": "token ******** leaked", "list": ["x ********", 3], "nested": {"k": ["********"]}}
    assert redact(data, ["abc123"]) == expected


@pytest.mark.parametrize(
    "secret",
    ["abc123", 'quo"te\\slash', "tab\there", "caf\u00e9-\u2603-token", "a/b+c=d%e"],
)
def test_every_form_of_a_secret_is_masked_wherever_it_hides_and_clean_data_comes_back_as_it_was(secret):
    escaped = json.dumps(secret)[1:-1]
    data = {
        "results": [{"id": "m%d" % n, "detail": None} for n in range(50)],
        "in a key " + secret: 1,
        "deep": [{"k": ("x", "before %s after" % secret)}, "json %s" % escaped, "url %s" % quote(secret, safe="")],
        "repr": "%r" % secret,
    }
    masked = redact(data, [secret])

    text = json.dumps(masked, ensure_ascii=False)
    for form in (secret, escaped, quote(secret, safe=""), repr(secret)[1:-1]):
        assert form not in text and json.dumps(form, ensure_ascii=False)[1:-1] not in text
    clean = {"results": data["results"], "deep": [{"k": ("x", "y")}]}
    assert redact(clean, [secret]) is clean


class _TricklingServer:
    """A server on 127.0.0.1 that answers every request one byte every 0.2 s: headers too, or the body only."""

    def __init__(self, headers_too):
        import socket
        import threading

        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(8)
        self._headers_too = headers_too
        self._stop = threading.Event()
        self.requests = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def base_url(self):
        return "http://127.0.0.1:%d/client/v4" % self._socket.getsockname()[1]

    def _serve(self):
        import threading

        while not self._stop.is_set():
            try:
                connection, dummy = self._socket.accept()
            except OSError:
                return
            self.requests += 1
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection):
        body = b'{"success": true, "errors": [], "messages": [], "result": {"id": "' + b"x" * 400 + b'"}}'
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
        try:
            connection.recv(65536)
            if not self._headers_too:
                connection.sendall(head)
            for byte in (head if self._headers_too else b"") + body:
                connection.sendall(bytes([byte]))
                if self._stop.wait(0.2):
                    break
        except OSError:
            pass
        finally:
            connection.close()

    def close(self):
        self._stop.set()
        self._socket.close()


@pytest.fixture(params=["body", "headers and body"])
def trickling(request):
    server = _TricklingServer(headers_too=request.param != "body")
    yield server
    server.close()


def _timed(call):
    import time

    started = time.monotonic()
    with pytest.raises(CloudflareError) as raised:
        call()
    return raised.value, time.monotonic() - started


def test_a_trickling_read_ends_by_its_timeout(trickling):
    client = CloudflareClient(
        dict(api_token="secret-token-000000000000", base_url=trickling.base_url, timeout=1, retries=0)
    )

    error, took = _timed(lambda: client.get(PATH))

    assert took < 2.5
    assert "no complete answer within 1.0 s (timeout)" in error.message


def test_a_trickling_write_ends_by_its_timeout_as_an_unsure_outcome(trickling):
    client = CloudflareClient(
        dict(api_token="secret-token-000000000000", base_url=trickling.base_url, timeout=1, retries=0)
    )

    error, took = _timed(lambda: client.post(PATH, {"ids": ["a"]}))

    assert took < 2.5
    assert isinstance(error, OutcomeUnknownError) and not error.answered
    assert trickling.requests == 1


def test_retried_trickling_reads_end_by_the_task_deadline(trickling):
    import time

    client = CloudflareClient(
        dict(api_token="secret-token-000000000000", base_url=trickling.base_url, timeout=1.5, retries=10),
        deadline=time.monotonic() + 4,
    )

    error, took = _timed(lambda: client.get(PATH))

    assert took < 5.5
    assert trickling.requests >= 2
    assert "task_timeout" in error.message
