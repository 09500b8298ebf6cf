# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one place that talks HTTP to the Cloudflare API.

It owns the session, the credentials, the envelope, retries and pacing. It knows nothing of
what a release means; callers mark a request ``write=True`` when resending it blindly could
repeat a side effect, and then get an ``OutcomeUnknownError`` instead of a retry whenever the
request may have been processed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import email.utils
import heapq
import itertools
import json
import random
import socket
import threading
import time
import traceback
from urllib.parse import quote, quote_plus

try:
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
except ImportError:
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()
    HTTPAdapter = HTTPConnection = HTTPSConnection = HTTPConnectionPool = HTTPSConnectionPool = object
else:
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None

from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import (
    BAD_CREDENTIAL_CODES,
    MALFORMED_AUTH_CODES,
    NO_PERMISSION_CODES,
    NO_ROUTE_CODES,
    RATE_LIMITED_CODES,
    CloudflareError,
    OutcomeUnknownError,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.pacing import (
    BudgetExhaustedError,
    BudgetUnavailableError,
    RequestPacer,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.progress import SILENT
from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.version import COLLECTION_VERSION

DEFAULT_BASE_URL = "https://api.cloudflare.com/client/v4"
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 3
DEFAULT_MAX_RETRY_WAIT = 60.0
REDACTED = "********"

# Cloudflare's error codes that say the request was refused as a whole, before anything was
# processed, and that every further request of the task would be refused the same way. Each row of
# _HINTS: the codes, the HTTP status that means the same, and the hint that names what to fix; the
# first row that matches wins.
_HINTS = (
    (
        MALFORMED_AUTH_CODES,
        None,
        "the authentication headers were malformed: an API token belongs in api_token (CLOUDFLARE_API_TOKEN); a global "
        "API key in api_key together with api_email (CLOUDFLARE_API_KEY and CLOUDFLARE_EMAIL)",
    ),
    (NO_ROUTE_CODES, None, "Cloudflare cannot route to this account: check account_id (CLOUDFLARE_ACCOUNT_ID)"),
    (
        BAD_CREDENTIAL_CODES,
        401,
        "the credentials were not accepted: check api_token (CLOUDFLARE_API_TOKEN), or api_email and api_key, and that "
        "the token has not expired or been rolled",
    ),
    (
        NO_PERMISSION_CODES,
        403,
        "the credentials lack permission: the API token needs 'Cloud Email Security: Write' on this account to release "
        "('Read' or 'Write' to look messages up), and account_id (CLOUDFLARE_ACCOUNT_ID) must be an account the token "
        "is scoped to",
    ),
    (
        RATE_LIMITED_CODES,
        429,
        "the token hit Cloudflare's rate limit (1200 requests per 5 minutes); lower rate_limit or wait",
    ),
)

_BACKOFF_BASE = 0.5
_BACKOFF_CAP = 8.0


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
    def cf_ray(self):
        """The ray id Cloudflare gives every answer: an auditor finds the request by it in the audit logs."""
        return self.headers.get("cf-ray")

    @property
    def notices(self):
        """``messages[]`` of a successful answer: things Cloudflare wants the user to read."""
        return [_text_of(m) for m in self.envelope.get("messages") or [] if m is not None]


def _text_of(notice):
    if isinstance(notice, dict):
        return str(notice.get("message", json.dumps(notice, sort_keys=True, default=str)))
    return str(notice)


def parse_http_date(value):
    """The moment an HTTP date (a ``Date`` or ``Retry-After`` header) names, timezone-aware, or None."""
    try:
        when = email.utils.parsedate_to_datetime(value or "")
    except (TypeError, ValueError, IndexError):
        return None
    return when if when is not None and when.tzinfo is not None else None


def parse_retry_after(value, now=None):
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    when = parse_http_date(value)
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def secret_forms(secrets):
    """Every form a secret may take in text that came back: raw, JSON- or repr-escaped, URL-encoded."""
    forms = set()
    for secret in secrets:
        if not secret:
            continue
        forms.update(
            [
                secret,
                json.dumps(secret)[1:-1],
                json.dumps(secret, ensure_ascii=False)[1:-1],
                repr(secret)[1:-1],
                repr(secret + '"')[1:-2],
                quote(secret, safe=""),
                quote_plus(secret),
            ]
        )
    # Longest first, so that a form containing another is masked whole.
    return sorted((form for form in forms if form), key=len, reverse=True)


def redact(data, secrets):
    """Return data (strings, lists, dicts, keys included) with every form of every secret masked."""
    return _masked(data, secret_forms(secrets))


def _masked(data, forms):
    """``_redact``, walked only when a form may be in data: tens of thousands of results hold none, most often.

    JSON escapes character by character, so a form in any string or key of data has its escape in data's JSON text;
    a form whose escape the text lacks is nowhere in data. A match across a boundary only costs the walk.
    """
    if not forms:
        return data
    try:
        text = json.dumps(data, ensure_ascii=False, default=lambda value: None)
    except (TypeError, ValueError):
        return _redact(data, forms)
    if any(json.dumps(form, ensure_ascii=False)[1:-1] in text for form in forms):
        return _redact(data, forms)
    return data


def _redact(data, forms):
    if isinstance(data, dict):
        return {_redact(key, forms): _redact(value, forms) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [_redact(value, forms) for value in data]
    if isinstance(data, str):
        for form in forms:
            data = data.replace(form, REDACTED)
        return data
    return data


def describe_errors(errors):
    parts = []
    for error in errors:
        if isinstance(error, dict):
            text = "[%s] %s" % (error.get("code"), error.get("message"))
            nested = error.get("error_chain") or []
            if isinstance(nested, list) and nested:
                text += " (%s)" % describe_errors(nested)
            parts.append(text)
        else:
            parts.append(str(error))
    return "; ".join(parts)


def _hint(status, codes):
    codes = set(codes)
    for table, same_status, text in _HINTS:
        if codes & table or status == same_status:
            return text
    return None


def error_from_response(method, path, status, envelope, cf_ray=None):
    errors = envelope.get("errors") if isinstance(envelope, dict) else None
    errors = errors if isinstance(errors, list) else []
    message = "%s %s failed: HTTP %s" % (method, path, status)
    if errors:
        message += "; Cloudflare errors: %s" % describe_errors(errors)
    hint = _hint(status, [e.get("code") for e in errors if isinstance(e, dict)])
    if hint:
        message += ". Hint: " + hint
    return CloudflareError(message, status=status, errors=errors, method=method, path=path, cf_ray=cf_ray)


# Where the request of this thread got to on the wire: a failure before any byte was written
# proves the server never saw it; after that, it may have been processed.
_wire = threading.local()
NOT_STARTED, CONNECTING, CONNECTED, WRITTEN = "not started", "connecting", "connected", "written"


class _Cutoff:
    """The deadline of one request: once it passes, the request's connection is shut, whatever it is doing.

    requests' timeout bounds each socket read, so a server sending a byte a second would keep a request
    alive for ever; shutting the socket makes the blocked read return at once.
    """

    def __init__(self, deadline):
        self.deadline = deadline
        self.fired = False
        self._connection = None
        self._lock = threading.Lock()

    def watch(self, connection):
        with self._lock:
            self._connection = connection
            fired = self.fired
        # A deadline that passed while connecting: the request is cut as it starts to send.
        if fired:
            _shut(connection)

    def fire(self):
        with self._lock:
            self.fired = self._connection is not False
            connection = self._connection
        if connection:
            _shut(connection)

    def release(self):
        """The request is over: its connection may serve the next request and must never be shut by this cutoff."""
        with self._lock:
            self._connection = False


def _shut(connection):
    sock = getattr(connection, "sock", None)
    if sock is not None:
        try:
            # The plain socket's shutdown, also for TLS: ssl's own would drop its state under a reading thread.
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except OSError:
            pass


class _Watchdog:
    """One thread that fires every armed cutoff when its deadline passes, for all the threads of the process."""

    def __init__(self):
        self._armed = []
        self._order = itertools.count()
        self._changed = threading.Condition()
        self._thread = None

    def arm(self, cutoff):
        with self._changed:
            heapq.heappush(self._armed, (cutoff.deadline, next(self._order), cutoff))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="mailsec-cloudflare-cutoffs", daemon=True)
                self._thread.start()
            self._changed.notify()

    def _run(self):
        with self._changed:
            while True:
                now = time.monotonic()
                while self._armed and self._armed[0][0] <= now:
                    heapq.heappop(self._armed)[2].fire()
                self._changed.wait(self._armed[0][0] - now if self._armed else None)


_WATCHDOG = _Watchdog()


class _WireTracking:
    def connect(self):
        _wire.phase = CONNECTING
        super(_WireTracking, self).connect()
        _wire.phase = CONNECTED

    def send(self, data):
        # http.client opens the connection on the first write; do it here so that a failure to
        # connect is not mistaken for a failure after writing.
        if self.sock is None:
            self.connect()
        cutoff = getattr(_wire, "cutoff", None)
        if cutoff is not None:
            cutoff.watch(self)
        _wire.phase = WRITTEN
        super(_WireTracking, self).send(data)


class _TrackedHTTPConnection(_WireTracking, HTTPConnection):
    pass


class _TrackedHTTPSConnection(_WireTracking, HTTPSConnection):
    pass


class _TrackedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _TrackedHTTPConnection


class _TrackedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _TrackedHTTPSConnection


_TRACKED_POOLS = {"http": _TrackedHTTPConnectionPool, "https": _TrackedHTTPSConnectionPool}


class _TrackingAdapter(HTTPAdapter):
    """An HTTPAdapter whose connections record whether a request was written before it failed."""

    def init_poolmanager(self, *args, **kwargs):
        super(_TrackingAdapter, self).init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_TRACKED_POOLS)

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        manager = super(_TrackingAdapter, self).proxy_manager_for(proxy, **proxy_kwargs)
        # SOCKS proxies bring connection classes of their own; those fall back to the exception's type.
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = dict(_TRACKED_POOLS)
        return manager


def _never_connected(exc):
    """urllib3's own word that the connection was never made: refused, unresolvable, timed out connecting."""
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)
    return isinstance(reason, (NewConnectionError, ConnectTimeoutError))


# A transport failure's cause, as a person reads it, and what to check: the first pattern its text matches.
_TRANSPORT_CAUSES = (
    (
        ("ProxyError", "Unable to connect to proxy", "Tunnel connection failed"),
        "the proxy failed or could not be reached",
        "check HTTPS_PROXY (HTTP_PROXY for an http:// base_url) and NO_PROXY where the module runs, and that the "
        "proxy is up",
    ),
    (
        ("WRONG_VERSION_NUMBER", "record layer failure", "unknown protocol"),
        "the TLS handshake failed: the server does not speak TLS on that port",
        "check the scheme and port of base_url (CLOUDFLARE_BASE_URL): https:// to a plain-http port, or the reverse",
    ),
    (
        ("CERTIFICATE_VERIFY_FAILED", "certificate verify failed", "hostname mismatch", "doesn't match"),
        "its TLS certificate was not accepted",
        "check base_url's host name, and ca_path for a private CA (validate_certs=false only for a test server)",
    ),
    (
        ("SSLError", "SSL:"),
        "the TLS connection failed",
        "check base_url (CLOUDFLARE_BASE_URL), ca_path and any TLS-inspecting proxy (HTTPS_PROXY)",
    ),
    (
        ("Name or service not known", "Temporary failure in name resolution", "nodename nor servname", "getaddrinfo"),
        "its host name could not be resolved",
        "check the host name in base_url (CLOUDFLARE_BASE_URL) and this machine's DNS",
    ),
    (
        ("Connection refused", "Errno 111"),
        "the connection was refused",
        "check base_url (CLOUDFLARE_BASE_URL), that the server is up, and any proxy (HTTPS_PROXY)",
    ),
    (
        ("ConnectTimeout", "timed out", "Network is unreachable", "No route to host"),
        "the connection could not be made in time",
        "check base_url (CLOUDFLARE_BASE_URL), the network or firewall, and any proxy (HTTPS_PROXY)",
    ),
)


def transport_cause(exc):
    """(cause, fix) of a failure to reach the server, in a few words each: never urllib3's internals."""
    text = "%s %s" % (type(exc).__name__, exc)
    for patterns, cause, fix in _TRANSPORT_CAUSES:
        if any(pattern in text for pattern in patterns):
            return cause, fix
    return (
        "the connection failed (%s)" % type(exc).__name__,
        "check base_url (CLOUDFLARE_BASE_URL), the network and any proxy (HTTPS_PROXY)",
    )


def may_have_reached_server(exc, phase):
    """False only when the request certainly was not processed: nothing of it was written."""
    if isinstance(
        exc,
        (
            requests.exceptions.InvalidURL,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema,
            requests.exceptions.InvalidHeader,
        ),
    ):
        return False
    if phase in (CONNECTING, CONNECTED):
        return False
    if phase == WRITTEN:
        return True
    # No record of the wire (another transport, such as a SOCKS proxy or a test double): judge by type.
    return not (isinstance(exc, requests.exceptions.ConnectTimeout) or _never_connected(exc))


def _is_clean_success(status, envelope):
    return 200 <= status < 300 and envelope is not None and envelope.get("success") is not False


def _read_may_succeed_later(status, envelope):
    """A read worth retrying: a server error, or a 2xx that is not an envelope (a proxy's page, a cut body)."""
    return status >= 500 or (envelope is None and 200 <= status < 300)


class Backoff:
    """The retry schedule of one request: up to ``retries`` more attempts, 0.5 s doubling to 8 s, with jitter."""

    def __init__(self, retries, base=_BACKOFF_BASE, cap=_BACKOFF_CAP):
        self.retries = retries
        self.attempt = 0
        self._base = base
        self._cap = cap

    @property
    def exhausted(self):
        return self.attempt >= self.retries

    def next_delay(self):
        # Full jitter keeps threads that failed together from retrying together.
        return min(self._cap, self._base * (2**self.attempt)) * random.uniform(0.5, 1.0)


def _not_sent(method, path, why):
    """The error of a request that never left, and why: nothing further of the task is sent."""
    return CloudflareError("%s %s not sent: %s" % (method, path, why), method=method, path=path, stops_task=True)


def _session(credentials, pool_size):
    """A requests session with the credentials' headers, and keep-alive connections for every worker thread;
    urllib3 retries nothing on its own here."""
    session = requests.Session()
    adapter = _TrackingAdapter(pool_connections=1, pool_maxsize=max(pool_size, 1), max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = "mailsec.cloudflare/%s python-requests/%s" % (
        COLLECTION_VERSION,
        requests.__version__,
    )
    session.headers["Accept"] = "application/json"
    if credentials.get("api_token"):
        session.headers["Authorization"] = "Bearer " + credentials["api_token"]
    else:
        session.headers["X-Auth-Email"] = credentials.get("api_email") or ""
        session.headers["X-Auth-Key"] = credentials.get("api_key") or ""
    return session


# What a client takes of the resolved connection settings besides the credentials, and what it assumes for each left
# out or null: the defaults of the connection options.
CLIENT_DEFAULTS = dict(
    base_url=DEFAULT_BASE_URL,
    timeout=DEFAULT_TIMEOUT,
    validate_certs=True,
    ca_path=None,
    retries=DEFAULT_RETRIES,
    max_retry_wait=DEFAULT_MAX_RETRY_WAIT,
    concurrency=4,
)


class CloudflareClient:
    """An authenticated, paced, retrying session against one Cloudflare API base URL.

    ``settings``: the resolved connection settings, handed whole: the credentials (``api_token``, or ``api_email``
    with ``api_key``) and the keys of CLIENT_DEFAULTS (``concurrency`` sizes the connection pool); the rest is ignored.
    """

    def __init__(self, settings, pacer=None, deadline=None, progress=None, on_retry=None, sleep=None):
        given = {name: value for name, value in settings.items() if value is not None}
        options = dict(CLIENT_DEFAULTS, **{name: given[name] for name in CLIENT_DEFAULTS if name in given})
        self.base_url = options["base_url"].rstrip("/")
        self.timeout = options["timeout"]
        self.retries = options["retries"]
        self.max_retry_wait = options["max_retry_wait"]
        self.pacer = pacer or RequestPacer()
        self.deadline = deadline
        self.requests_sent = 0
        self.retries_done = 0
        self._secrets = [given[name] for name in ("api_token", "api_key") if given.get(name)]
        self._secret_forms = secret_forms(self._secrets)
        self._on_retry = on_retry
        self._retries_said = set()
        # The largest search page this server takes, as the task learns it (see _messages.search_pages).
        self.search_page_size = 10000
        # Ansible's verbosity (-v is 1), set by the module: what is said only when asked for.
        self.verbosity = 0
        # At -vvv (set by the module): every retry said, and transport errors with urllib3's own words.
        self.verbose = False
        # The last failure to reach the server, cause and fix, until an answer comes: what a task that ends with
        # nothing done says first.
        self.unreachable = None
        # Where the client's users (the write engine, bulk jobs) say what they wait for.
        self.progress = progress or SILENT
        self._sleep = sleep or time.sleep
        self._count_lock = threading.Lock()
        # Given with every request: requests would otherwise let REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE
        # override both ca_path and validate_certs=false. Proxies from the environment still apply.
        self._verify = (options["ca_path"] or True) if options["validate_certs"] else False
        self.session = _session(given, options["concurrency"])

    def redact(self, data):
        """Remove every credential from data that may have come back from a server or proxy."""
        return _masked(data, self._secret_forms)

    def close(self):
        self.session.close()

    def get(self, path, params=None):
        return self.request("GET", path, params=params)

    def post(self, path, body, write=True, on_send=None):
        return self.request("POST", path, body=body, write=write, on_send=on_send)

    def request(self, method, path, params=None, body=None, write=False, url=None, on_send=None):
        """Send one API call and return its ApiResponse (2xx), or raise CloudflareError.

        Retried: 429 (after Retry-After), and failures before any byte of the request was written.
        Reads are also retried on 5xx, timeouts and dropped connections. A write that may have
        been processed is never resent here: OutcomeUnknownError lets the caller find out first.
        Errors carry no credential, even when a server or proxy echoed request headers back.
        ``on_send`` is called just before each attempt leaves, after any wait for the budget or a retry.
        """
        try:
            return self._send_with_retries(method, path, params, body, write, url or self.base_url + path, on_send)
        except CloudflareError as exc:
            exc.message = self.redact(exc.message)
            exc.errors = self.redact(exc.errors)
            if isinstance(exc, OutcomeUnknownError):
                exc.result = self.redact(exc.result)
            exc.args = (exc.message,)
            raise

    def _send_with_retries(self, method, path, params, body, write, url, on_send):
        backoff = Backoff(self.retries)
        while True:
            self._take_budget(method, path)
            if on_send is not None:
                on_send()
            try:
                response = self._send_by_deadline(method, url, params, body)
            except requests.exceptions.RequestException as exc:
                self._after_transport_error(exc, method, path, write, backoff)
                continue
            self.pacer.observe(response.headers)
            self.unreachable = None
            envelope = self._envelope(response)
            ray = response.headers.get("cf-ray")
            if response.status_code == 429:
                self._after_rate_limit(response, envelope, method, path, backoff)
            elif _is_clean_success(response.status_code, envelope):
                return ApiResponse(response.status_code, envelope, response.headers)
            elif write:
                raise self._write_failure(method, path, response.status_code, envelope, ray)
            elif _read_may_succeed_later(response.status_code, envelope):
                self._after_server_failure(method, path, response.status_code, envelope, backoff)
            else:
                raise error_from_response(method, path, response.status_code, envelope or {}, ray)

    def _send_by_deadline(self, method, url, params, body):
        """One attempt, ended by its deadline (timeout, or task_timeout when sooner) however the server answers."""
        connect_timeout, read_timeout = self._timeouts()
        cutoff = _Cutoff(time.monotonic() + read_timeout)
        _wire.phase, _wire.cutoff = NOT_STARTED, cutoff
        _WATCHDOG.arm(cutoff)
        try:
            return self.session.request(
                method,
                url,
                params=params,
                json=body,
                timeout=(connect_timeout, read_timeout),
                allow_redirects=False,
                verify=self._verify,
            )
        except requests.exceptions.RequestException as exc:
            if cutoff.fired:
                raise requests.exceptions.Timeout(
                    "no complete answer within %.1f s (timeout%s)"
                    % (read_timeout, "" if read_timeout == self.timeout else ", shortened by task_timeout")
                ) from exc
            raise
        finally:
            _wire.cutoff = None
            cutoff.release()

    def _after_transport_error(self, exc, method, path, write, backoff):
        # urllib3's own words (pools, adapters, retries) only at -vvv: the cause and the fix say what to do.
        internals = " [%s]" % exc if self.verbose else ""
        if write and may_have_reached_server(exc, getattr(_wire, "phase", None)):
            raise OutcomeUnknownError(
                "%s %s: the connection failed after the request was sent (%s%s); it may have been processed"
                % (method, path, transport_cause(exc)[0], internals),
                method=method,
                path=path,
            )
        if isinstance(exc, requests.exceptions.Timeout) and not isinstance(exc, requests.exceptions.ConnectTimeout):
            said = str(exc)
            # The deadline's own timeout says how long was waited; urllib3's says it with its pool's internals.
            if not (self.verbose or said.startswith("no complete answer")):
                said = "no complete answer within %.1f s (timeout)" % self.timeout
            why = "%s from %s" % (said, self.base_url)
            fix = "raise timeout if the server is slow"
        else:
            cause, fix = transport_cause(exc)
            why = "could not reach %s: %s" % (self.base_url, cause)
        self.unreachable = "%s; %s" % (why, fix)
        failure = CloudflareError("%s %s: %s%s; %s" % (method, path, why, internals, fix), method=method, path=path)
        self._retry_or_raise(backoff, failure, None, why + internals)

    def _after_server_failure(self, method, path, status, envelope, backoff):
        failure = error_from_response(method, path, status, envelope or {})
        what = "HTTP %s" % status if status >= 500 else "an answer that is not a Cloudflare JSON envelope"
        if envelope is None:
            failure.amend(" (the answer was not a Cloudflare JSON envelope)")
        self._retry_or_raise(backoff, failure, None, what)

    def _write_failure(self, method, path, status, envelope, cf_ray):
        """The error for a write that did not end in a clean success: refused, or of unknown outcome."""
        failure = error_from_response(method, path, status, envelope or {}, cf_ray)
        return (
            failure
            if failure.refused_before_processing
            else self._outcome_unknown(method, path, status, envelope, failure)
        )

    def _after_rate_limit(self, response, envelope, method, path, backoff):
        failure = error_from_response(method, path, 429, envelope or {})
        wait = parse_retry_after(response.headers.get("Retry-After"))
        if wait is not None and wait > self.max_retry_wait:
            raise failure.amend(
                ". The token is locked out for %.0f s (Retry-After), longer than max_retry_wait "
                "(%.0f s): run again after the lockout ends, or raise max_retry_wait" % (wait, self.max_retry_wait)
            )
        # The limit is per token: the other threads wait too instead of collecting 429s.
        self._retry_or_raise(backoff, failure, wait, "HTTP 429 rate limited", hold_everyone=True)

    @staticmethod
    def _outcome_unknown(method, path, status, envelope, failure):
        """A write answered with anything but a clean success: say what may have happened."""
        answered = status < 500
        if envelope is None:
            what = "an answer that is not a Cloudflare JSON envelope (HTTP %s)" % status
            answered = False
        else:
            what = "HTTP %s%s%s" % (
                status,
                " with success: false" if status < 300 else "",
                "; Cloudflare errors: %s" % describe_errors(failure.errors) if failure.errors else "",
            )
        return OutcomeUnknownError(
            "%s %s: the server sent %s; the request may have been processed" % (method, path, what),
            answered=answered,
            result=(envelope or {}).get("result"),
            status=status,
            errors=failure.errors,
            method=method,
            path=path,
            cf_ray=failure.cf_ray,
        )

    def _timeouts(self):
        read = self.timeout
        if self.deadline is not None:
            read = max(0.1, min(read, self.deadline - time.monotonic()))
        return (min(5.0, read), read)

    def time_left(self):
        return None if self.deadline is None else self.deadline - time.monotonic()

    def _take_budget(self, method, path):
        left = self.time_left()
        if left is not None and left <= 0:
            raise _not_sent(method, path, "the task ran past task_timeout")
        try:
            self.pacer.acquire(left)
        except BudgetUnavailableError as exc:
            raise _not_sent(method, path, "the shared request budget is unavailable (%s)" % exc) from exc
        except BudgetExhaustedError as exc:
            raise _not_sent(method, path, "%s (task_timeout); raise task_timeout or rate_limit" % exc) from exc
        with self._count_lock:
            self.requests_sent += 1

    def _envelope(self, response):
        try:
            envelope = response.json()
        except ValueError:
            return None
        return envelope if isinstance(envelope, dict) else None

    def say_at_v(self, text):
        """Say text once, as a warning, when the task runs at -v or more."""
        if self.verbosity >= 1 and self._on_retry is not None and self._first_time(text):
            self._on_retry(text)

    def _first_time(self, why):
        with self._count_lock:
            if why in self._retries_said:
                return False
            self._retries_said.add(why)
            return True

    def _retry_or_raise(self, backoff, failure, wait, why, hold_everyone=False):
        """Wait before the next attempt, or raise failure when no attempt or time is left."""
        if backoff.exhausted:
            raise failure.amend(" (after %d retries)" % backoff.attempt) if backoff.attempt else failure
        wait = min(backoff.next_delay() if wait is None else wait, self.max_retry_wait)
        left = self.time_left()
        if left is not None and wait > left:
            raise failure.amend(" (no time left to retry within task_timeout)")
        with self._count_lock:
            self.retries_done += 1
        backoff.attempt += 1
        if self._on_retry is not None and (self.verbose or self._first_time(why)):
            self._on_retry(
                "%s %s: %s; retry %d of %d in %.1f s%s"
                % (
                    failure.method,
                    failure.path,
                    why,
                    backoff.attempt,
                    self.retries,
                    wait,
                    "" if self.verbose else " (said once per cause; -vvv says every retry)",
                )
            )
        if hold_everyone:
            self.pacer.hold(wait)
        self._sleep(wait)
