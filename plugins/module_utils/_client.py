# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The one place that talks HTTP to the Cloudflare API.

It owns the session, the credentials, the envelope, retries and pacing. It knows nothing of
what a release means; callers mark a request ``write=True`` when resending it blindly could
repeat a side effect, and then get an ``OutcomeUnknownError`` instead of a retry.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import email.utils
import random
import threading
import time
import traceback

try:
    import requests
    from requests.adapters import HTTPAdapter
except ImportError:
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None

from ansible_collections.mailsec.cloudflare.plugins.module_utils._pacing import (
    BudgetExhaustedError,
    RequestPacer,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._version import COLLECTION_VERSION

DEFAULT_BASE_URL = "https://api.cloudflare.com/client/v4"
REDACTED = "********"

# Cloudflare error codes that say the credentials, their permissions or the account are wrong:
# retrying or changing anything else cannot help, so the whole task stops on them.
AUTH_ERROR_CODES = frozenset([10000, 9109, 6003, 6100, 6101, 6102, 6103, 6111])
ACCOUNT_ERROR_CODES = frozenset([7003, 7000])

_BACKOFF_BASE = 0.5
_BACKOFF_CAP = 8.0


class CloudflareError(Exception):
    """A failed API call: what Cloudflare said, never what we sent in headers."""

    def __init__(self, message, status=None, errors=None, method=None, path=None, stops_task=False):
        super(CloudflareError, self).__init__(message)
        self.message = message
        self.status = status
        self.errors = errors or []
        self.method = method
        self.path = path
        self._stops_task = stops_task

    @property
    def codes(self):
        return [error.get("code") for error in self.errors if isinstance(error, dict)]

    @property
    def is_fatal(self):
        """True when every further request of the task would fail the same way (or make a lockout longer)."""
        codes = set(self.codes)
        return (self._stops_task or self.status in (401, 403, 429) or bool(codes & AUTH_ERROR_CODES)
                or bool(codes & ACCOUNT_ERROR_CODES))

    def amend(self, extra):
        """Add to the message, for context only the caller has."""
        self.message += extra
        self.args = (self.message,)
        return self

    def as_dict(self):
        return {"status": self.status, "errors": self.errors, "method": self.method, "path": self.path}


class OutcomeUnknownError(CloudflareError):
    """A write reached the server, or may have, and its answer was lost: it may have taken effect."""


class ApiResponse:
    __slots__ = ("status", "envelope", "headers")

    def __init__(self, status, envelope, headers):
        self.status = status
        self.envelope = envelope
        self.headers = headers

    @property
    def result(self):
        return self.envelope.get("result")

    @property
    def notices(self):
        """``messages[]`` of a successful answer: things Cloudflare wants the user to read."""
        return [m.get("message", str(m)) if isinstance(m, dict) else str(m) for m in self.envelope.get("messages") or []]


def parse_retry_after(value, now=None):
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def redact(data, secrets):
    """Return data (strings, lists, dicts) with every secret replaced by a mask."""
    if isinstance(data, dict):
        return dict((key, redact(value, secrets)) for key, value in data.items())
    if isinstance(data, (list, tuple)):
        return [redact(value, secrets) for value in data]
    if isinstance(data, str):
        text = data
        for secret in secrets:
            if secret:
                text = text.replace(secret, REDACTED)
        return text
    return data


def describe_errors(errors):
    parts = []
    for error in errors:
        if isinstance(error, dict):
            text = "[%s] %s" % (error.get("code"), error.get("message"))
            nested = error.get("error_chain") or []
            if nested:
                text += " (%s)" % describe_errors(nested)
            parts.append(text)
        else:
            parts.append(str(error))
    return "; ".join(parts)


def _hint(status, codes):
    codes = set(codes)
    if codes & {6003, 6100, 6101, 6102, 6103, 6111}:
        return ("the authentication headers were malformed: an API token belongs in api_token "
                "(CLOUDFLARE_API_TOKEN); a global API key in api_key together with api_email "
                "(CLOUDFLARE_API_KEY and CLOUDFLARE_EMAIL)")
    if codes & ACCOUNT_ERROR_CODES:
        return "Cloudflare cannot route to this account: check account_id (CLOUDFLARE_ACCOUNT_ID)"
    if status == 401:
        return ("the credentials were not accepted: check api_token (CLOUDFLARE_API_TOKEN), or "
                "api_email and api_key, and that the token has not expired or been rolled")
    if status == 403 or codes & {10000, 9109}:
        return ("the credentials lack permission: the API token needs 'Cloud Email Security: Write' on "
                "this account to release ('Read' or 'Write' to look messages up), and account_id "
                "(CLOUDFLARE_ACCOUNT_ID) must be an account the token is scoped to")
    if status == 429 or 971 in codes:
        return "the token hit Cloudflare's rate limit (1200 requests per 5 minutes); lower rate_limit or wait"
    return None


def error_from_response(method, path, status, envelope):
    errors = envelope.get("errors") if isinstance(envelope, dict) else None
    errors = errors if isinstance(errors, list) else []
    message = "%s %s failed: HTTP %s" % (method, path, status)
    if errors:
        message += "; Cloudflare errors: %s" % describe_errors(errors)
    hint = _hint(status, [e.get("code") for e in errors if isinstance(e, dict)])
    if hint:
        message += ". Hint: " + hint
    return CloudflareError(message, status=status, errors=errors, method=method, path=path)


def _may_have_reached_server(exc):
    """False only when the request certainly never left: refused, unresolvable, TLS handshake failed."""
    if isinstance(exc, (requests.exceptions.ConnectTimeout, requests.exceptions.SSLError,
                        requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                        requests.exceptions.InvalidSchema, requests.exceptions.InvalidHeader)):
        return False
    if isinstance(exc, requests.exceptions.ConnectionError):
        reason = exc.args[0] if exc.args else None
        reason = getattr(reason, "reason", reason)
        # urllib3 wraps refused and unresolvable connections in NewConnectionError (NameResolutionError is one).
        return type(reason).__name__ not in ("NewConnectionError", "NameResolutionError", "ConnectTimeoutError")
    return True


class CloudflareClient:
    """An authenticated, paced, retrying session against one Cloudflare API base URL."""

    def __init__(self, api_token=None, api_email=None, api_key=None, base_url=DEFAULT_BASE_URL,
                 timeout=30.0, validate_certs=True, ca_path=None, retries=3, max_retry_wait=60.0,
                 pacer=None, deadline=None, pool_size=4, on_retry=None, sleep=None):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.max_retry_wait = max_retry_wait
        self.pacer = pacer or RequestPacer()
        self.deadline = deadline
        self.requests_sent = 0
        self.retries_done = 0
        self._secrets = [s for s in (api_token, api_key) if s]
        self._on_retry = on_retry
        self._sleep = sleep or time.sleep
        self._count_lock = threading.Lock()
        self.session = requests.Session()
        # Keep-alive connections for every worker thread; urllib3 retries nothing on its own here.
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max(pool_size, 1), max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.verify = ca_path if (validate_certs and ca_path) else bool(validate_certs)
        self.session.headers["User-Agent"] = "mailsec.cloudflare/%s python-requests/%s" % (
            COLLECTION_VERSION, requests.__version__)
        self.session.headers["Accept"] = "application/json"
        if api_token:
            self.session.headers["Authorization"] = "Bearer " + api_token
        else:
            self.session.headers["X-Auth-Email"] = api_email or ""
            self.session.headers["X-Auth-Key"] = api_key or ""

    def redact(self, data):
        """Remove every credential from data that may have come back from a server or proxy."""
        return redact(data, self._secrets)

    def close(self):
        self.session.close()

    def get(self, path, params=None):
        return self.request("GET", path, params=params)

    def post(self, path, body, write=True):
        return self.request("POST", path, body=body, write=write)

    def request(self, method, path, params=None, body=None, write=False, url=None):
        """Send one API call and return its ApiResponse (2xx), or raise CloudflareError.

        Retried: 429 (after Retry-After), and failures before the request left. Reads are also
        retried on 5xx, timeouts and dropped connections. A write whose outcome is unknown is
        never resent here: OutcomeUnknownError lets the caller check what happened first.
        Errors carry no credential, even when a server or proxy echoed request headers back.
        """
        try:
            return self._send_with_retries(method, path, params, body, write, url or self.base_url + path)
        except CloudflareError as exc:
            exc.message = self.redact(exc.message)
            exc.errors = self.redact(exc.errors)
            exc.args = (exc.message,)
            raise

    def _send_with_retries(self, method, path, params, body, write, url):
        attempt = 0
        while True:
            self._take_budget(method, path)
            try:
                response = self.session.request(method, url, params=params, json=body, timeout=self._timeouts(),
                                                allow_redirects=False)
            except requests.exceptions.RequestException as exc:
                reason = str(exc)
                if write and _may_have_reached_server(exc):
                    raise OutcomeUnknownError(
                        "%s %s: the connection failed after the request was sent (%s); it may have been processed"
                        % (method, path, reason), method=method, path=path)
                failure = CloudflareError("%s %s: could not reach %s: %s. Check base_url (CLOUDFLARE_BASE_URL), "
                                          "the network and any proxy (HTTPS_PROXY)" % (method, path, self.base_url, reason),
                                          method=method, path=path)
                attempt = self._retry_or_raise(attempt, failure, None, "connection failed: %s" % reason)
                continue
            self.pacer.observe(response.headers)
            status = response.status_code
            envelope = self._envelope(response)
            if status == 429:
                failure = error_from_response(method, path, status, envelope or {})
                wait = parse_retry_after(response.headers.get("Retry-After"))
                if wait is not None and wait > self.max_retry_wait:
                    raise failure.amend(". The token is locked out for %.0f s (Retry-After), longer than max_retry_wait "
                                        "(%.0f s): run again after the lockout ends, or raise max_retry_wait"
                                        % (wait, self.max_retry_wait))
                # The limit is per token: the other threads wait too instead of collecting 429s.
                attempt = self._retry_or_raise(attempt, failure, wait, "HTTP 429 rate limited", hold_everyone=True)
                continue
            if status >= 500 or (envelope is None and 200 <= status < 300):
                what = "HTTP %s" % status if status >= 500 else "an answer that is not a Cloudflare JSON envelope"
                if write:
                    raise OutcomeUnknownError("%s %s: the server sent %s; the request may have been processed"
                                              % (method, path, what), status=status, method=method, path=path,
                                              errors=(envelope or {}).get("errors"))
                failure = error_from_response(method, path, status, envelope or {})
                if envelope is None:
                    failure.amend(" (the answer was not a Cloudflare JSON envelope)")
                attempt = self._retry_or_raise(attempt, failure, None, what)
                continue
            if status >= 300 or envelope is None or envelope.get("success") is False:
                raise error_from_response(method, path, status, envelope or {})
            return ApiResponse(status, envelope, response.headers)

    def _timeouts(self):
        read = self.timeout
        if self.deadline is not None:
            read = max(0.1, min(read, self.deadline - time.monotonic()))
        return (min(5.0, read), read)

    def _take_budget(self, method, path):
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise CloudflareError("%s %s not sent: the task ran past task_timeout" % (method, path),
                                  method=method, path=path, stops_task=True)
        try:
            self.pacer.acquire(self.deadline)
        except BudgetExhaustedError as exc:
            raise CloudflareError("%s %s not sent: %s (task_timeout); raise task_timeout or rate_limit"
                                  % (method, path, exc), method=method, path=path, stops_task=True)
        with self._count_lock:
            self.requests_sent += 1

    def _envelope(self, response):
        try:
            envelope = response.json()
        except ValueError:
            return None
        return envelope if isinstance(envelope, dict) else None

    def _retry_or_raise(self, attempt, failure, wait, why, hold_everyone=False):
        if attempt >= self.retries:
            raise failure.amend(" (after %d retries)" % attempt) if attempt else failure
        if wait is None:
            wait = min(_BACKOFF_CAP, _BACKOFF_BASE * (2 ** attempt)) * random.uniform(0.5, 1.0)
        wait = min(wait, self.max_retry_wait)
        if self.deadline is not None and time.monotonic() + wait > self.deadline:
            raise failure.amend(" (no time left to retry within task_timeout)")
        with self._count_lock:
            self.retries_done += 1
        if self._on_retry is not None:
            self._on_retry("%s %s: %s; retry %d of %d in %.1f s"
                           % (failure.method, failure.path, why, attempt + 1, self.retries, wait))
        if hold_everyone:
            self.pacer.hold(wait)
        self._sleep(wait)
        return attempt + 1
