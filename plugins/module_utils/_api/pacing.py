# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The request budget that every thread, and every module process on the controller, draws from.

Cloudflare allows 1200 requests per 5 minutes per token, counted across the dashboard and
the API, and locks the token out of the whole API for 5 minutes when it is exceeded. Cloudflare
announces what is left on every answer (``Ratelimit: "default";r=50;t=30``): while an announcement
holds, that is the budget. The ledger keeps the lowest count announced for the current window of each
policy and takes one from it for every request sent since, so the requests still in flight on every
thread and process are counted before any answer shows them; once a count is down to the reserve,
everyone waits for that window's reset. Before the first announcement, after a window resets, and
with a server that announces nothing, a client-side sliding window governs instead (``rate_limit``
per 5 minutes, 1000 unless set, plus any stricter policy the server announces in
``Ratelimit-Policy``); a ``rate_limit`` that is set holds always, as a ceiling.

The budget lives in the state store, keyed by a hash of the credential (never the credential itself):
a file (``SharedBudget``), so forks, loops and parallel playbooks using one token on one controller share a
single budget, or a row in PostgreSQL (``_state/postgres.py``), shared by every machine.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fcntl
import hashlib
import json
import os
import re
import threading
import time

from ansible_collections.mailsec.cloudflare.plugins.module_utils._state.atomic_file import write_json
from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.progress import MIN_GAP_SECONDS, SILENT

RATE_LIMIT_WINDOW_SECONDS = 300.0
# Below Cloudflare's 1200 per 5 minutes: room for people working in the dashboard with the same token, while
# Cloudflare's own count is not known.
DEFAULT_RATE_LIMIT = 1000
# What an announced quota keeps unspent besides the requests in flight, as a share of the first count heard in its
# window: room for a person in the dashboard (48 of Cloudflare's 1200).
_ROOM_SHARE = 25
# Requests are counted in buckets of this many seconds: the shared file stays small (at most
# window / resolution entries) and a window is at most this much shorter than its nominal length.
_BUCKET_SECONDS = 0.1
# The longest a waiting caller sleeps at once: a five-minute pause says how much of it is left.
_LONGEST_SLEEP_SECONDS = 30.0
_PARAMETER = re.compile(r"([a-z]+)=(\d+)")


class BudgetExhaustedError(Exception):
    """Waiting for the request budget would run past the task's deadline."""

    def __init__(self, wait_seconds):
        super(BudgetExhaustedError, self).__init__(
            "the request budget needs a pause of %.0f s, which would pass the task's deadline" % wait_seconds
        )
        self.wait_seconds = wait_seconds


def _structured_items(value):
    """The parameters of every item of an IETF structured list header, as dicts of int."""
    items = []
    for part in (value or "").split(","):
        parameters = {name: int(number) for name, number in _PARAMETER.findall(part)}
        if parameters:
            items.append(parameters)
    return items


def announced_quotas(headers):
    """Every (policy name, remaining, seconds_to_reset) the server announces; seconds may be None.

    Cloudflare sends the IETF draft structured list ``Ratelimit: "default";r=50;t=30`` and may list several
    policies (a "burst" one, for example); older drafts used separate ``RateLimit-Remaining`` /
    ``RateLimit-Reset`` headers.
    """
    announced = []
    for part in (headers.get("Ratelimit") or "").split(","):
        parameters = {name: int(number) for name, number in _PARAMETER.findall(part)}
        if "r" in parameters:
            name = part.split(";", 1)[0].strip().strip('"')
            announced.append(("" if "=" in name else name, parameters["r"], parameters.get("t")))
    if not announced and headers.get("RateLimit-Remaining", "").isdigit():
        reset = headers.get("RateLimit-Reset", "")
        announced.append(("default", int(headers["RateLimit-Remaining"]), int(reset) if reset.isdigit() else None))
    return announced


def parse_ratelimit_policy(headers):
    """Every (quota, window_seconds) of ``Ratelimit-Policy: "default";q=1200;w=300, ...``."""
    return [
        (item["q"], item["w"])
        for item in _structured_items(headers.get("Ratelimit-Policy"))
        if "q" in item and item.get("w")
    ]


class Ledger:
    """What the budget remembers: requests per time bucket, the pause everyone is in, and per announced policy
    [requests left, when its window resets, the first count heard in that window]."""

    def __init__(self, buckets=None, paused_until=0.0, pause_reason=None, announced=None):
        self.buckets = buckets or {}
        self.paused_until = paused_until
        self.pause_reason = pause_reason
        self.announced = announced or {}

    def to_json(self):
        return {
            "buckets": self.buckets,
            "paused_until": self.paused_until,
            "pause_reason": self.pause_reason,
            "announced": self.announced,
        }

    @classmethod
    def from_json(cls, data):
        if not isinstance(data, dict):
            return cls()
        buckets = data.get("buckets")
        buckets = {str(k): int(v) for k, v in buckets.items()} if isinstance(buckets, dict) else {}
        announced = data.get("announced")
        announced = {
            str(name): [int(entry[0]), float(entry[1]), int(entry[2])]
            for name, entry in (announced.items() if isinstance(announced, dict) else ())
            if isinstance(entry, list) and len(entry) == 3
        }
        return cls(buckets, float(data.get("paused_until") or 0.0), data.get("pause_reason"), announced)

    def hearing(self, now):
        """The announced counts whose window has not reset yet: {policy: [left, resets_at, first]}."""
        for name in [name for name, entry in self.announced.items() if entry[1] <= now]:
            del self.announced[name]
        return self.announced


class BudgetUnavailableError(Exception):
    """The shared budget could not be read or written (its database is gone): no request may be taken from it."""


class MemoryBudget:
    """A budget for one process."""

    def __init__(self):
        self._ledger = Ledger()
        self._lock = threading.Lock()

    def transact(self, change):
        with self._lock:
            return change(self._ledger)


class SharedBudget:
    """A budget in a file, shared by every process on this machine that uses the same credential."""

    def __init__(self, directory, credential):
        key = hashlib.sha256(credential.encode("utf-8")).hexdigest()[:32]
        self.path = os.path.join(directory, "budget-%s.json" % key)
        self._lock_path = self.path + ".lock"
        self._thread_lock = threading.Lock()
        os.makedirs(directory, mode=0o700, exist_ok=True)

    def transact(self, change):
        with self._thread_lock:
            with open(self._lock_path, "a") as lock_file:
                fcntl.flock(lock_file, fcntl.LOCK_EX)
                try:
                    ledger = self._load()
                    outcome = change(ledger)
                    self._save(ledger)
                    return outcome
                finally:
                    fcntl.flock(lock_file, fcntl.LOCK_UN)

    def _load(self):
        try:
            with open(self.path, encoding="utf-8") as source:
                return Ledger.from_json(json.load(source))
        except (OSError, ValueError):
            # Missing, or torn by a crash: an empty budget. The server's Ratelimit header still guards.
            return Ledger()

    def _save(self, ledger):
        # Not synced: a budget lost in a crash only forgets recent requests, and the server's Ratelimit still guards.
        write_json(self.path, ledger.to_json(), durable=False)


def _hear(ledger, announced, now):
    """Keep each policy's lowest count of its current window, and its latest reset: an answer may be older than
    requests sent since, which the ledger has counted already. A reset later than the one known (by more than the header's rounding
    to whole seconds) is a new window, whose count replaces the old one; an earlier one is a late answer from a
    window that is over, and says nothing.

    Without a reset time, a whole window is the only safe assumption; a reset of 0 s is a rounded-down fraction,
    so it counts as one second.
    """
    current = ledger.hearing(now)
    for name, left, reset in announced:
        resets_at = now + (max(reset, 1) if reset is not None else RATE_LIMIT_WINDOW_SECONDS)
        known = current.get(name)
        if known is None or resets_at > known[1] + 1.0:
            current[name] = [left, resets_at, left]
        elif resets_at >= known[1] - 1.0:
            known[0] = min(known[0], left)
            # A sliding window is over only once the last request that entered it has left it.
            known[1] = max(known[1], resets_at)


class RequestPacer:
    """Blocks callers so that requests stay inside the client budget and the server's quota."""

    def __init__(
        self,
        limit=DEFAULT_RATE_LIMIT,
        window=RATE_LIMIT_WINDOW_SECONDS,
        reserve=4,
        on_pause=None,
        clock=None,
        sleep=None,
        budget=None,
        progress=None,
        ceiling_always=True,
    ):
        # (requests, seconds) windows that must all hold; the server's Ratelimit-Policy may add stricter ones.
        self._windows = {float(window): limit}
        # What an announced count keeps unspent: requests in flight that no count shows yet (a 25th of the window's
        # quota is kept as well, room for others).
        self.reserve = reserve
        # False: the client-side windows govern only while the server announces no count.
        self._ceiling_always = ceiling_always
        self.paused_seconds = 0.0
        self.pauses = 0
        self._on_pause = on_pause
        self._clock = clock or time.time
        self._sleep = sleep or time.sleep
        self._budget = budget or MemoryBudget()
        self._progress = progress or SILENT
        self._notice_lock = threading.Lock()
        self._noticed_until = 0.0
        self._noticed_kinds = set()
        self._windows_lock = threading.Lock()

    def acquire(self, max_wait=None):
        """Take one request from the budget, waiting as long as the budget or the server asks.

        Raises BudgetExhaustedError instead when the wait would be longer than ``max_wait`` seconds.
        """
        while True:
            now = self._clock()
            until, reason = self._budget.transact(lambda ledger, now=now: self._take(ledger, now))
            if until is None:
                return
            wait = until - now
            if max_wait is not None and wait > max_wait:
                raise BudgetExhaustedError(wait)
            self._notice(now, until, reason)
            self._progress.say("pause", "still waiting %.0f s for the rate limit" % wait)
            # Woken now and then to say how long is left; the budget is read again each time (one transaction).
            self._sleep(min(wait, _LONGEST_SLEEP_SECONDS))

    def _take(self, ledger, now):
        newest = int(now / _BUCKET_SECONDS)
        with self._windows_lock:
            windows = sorted(self._windows.items())
        longest = windows[-1][0]
        for bucket in [b for b in ledger.buckets if int(b) * _BUCKET_SECONDS + longest <= now]:
            del ledger.buckets[bucket]
        if ledger.paused_until > now:
            return ledger.paused_until, ledger.pause_reason
        announced = ledger.hearing(now)
        pause = self._announced_pause(ledger, announced) or (
            self._client_pause(ledger, windows, now) if self._ceiling_always or not announced else None
        )
        if pause is not None:
            ledger.paused_until, ledger.pause_reason = pause
            return pause
        if self._ceiling_always or not announced:
            # Counted only while the client-side windows govern: once a window of Cloudflare's resets, requests
            # it has forgotten must not hold anyone back until its next answer announces a fresh count.
            ledger.buckets[str(newest)] = ledger.buckets.get(str(newest), 0) + 1
        for entry in announced.values():
            entry[0] -= 1
        return None, None

    def _announced_pause(self, ledger, announced):
        """(until, reason) when an announced count is down to the reserve: until the latest of those resets."""
        low = [
            (left, resets_at)
            for left, resets_at, first in announced.values()
            if left <= self.reserve + first // _ROOM_SHARE
        ]
        if not low:
            return None
        return (
            max(resets_at for dummy, resets_at in low),
            "Cloudflare's Ratelimit header announces %d request(s) left" % min(left for left, dummy in low),
        )

    @staticmethod
    def _client_pause(ledger, windows, now):
        """(until, reason) when a client-side window is full: until its oldest request leaves it."""
        for window, limit in windows:
            counted = sorted((int(b), n) for b, n in ledger.buckets.items() if int(b) * _BUCKET_SECONDS + window > now)
            if sum(n for dummy, n in counted) >= limit:
                return (
                    counted[0][0] * _BUCKET_SECONDS + window,
                    "the client-side budget of %d requests per %.0f s (rate_limit, or the server's "
                    "Ratelimit-Policy) is spent" % (limit, window),
                )
        return None

    def observe(self, headers):
        """Read the server's quota announcements from a response into the shared ledger."""
        for quota, window in parse_ratelimit_policy(headers):
            with self._windows_lock:
                current = self._windows.get(float(window))
                if current is None or quota < current:
                    self._windows[float(window)] = quota
        announced = announced_quotas(headers)
        if not announced:
            return
        now = self._clock()
        try:
            self._budget.transact(lambda ledger: _hear(ledger, announced, now))
        except BudgetUnavailableError:
            # Learnt from an answer to a request already sent: that request's outcome must still be read. Nothing
            # further is sent anyway, since the next take from the budget fails the same way.
            pass

    def hold(self, seconds):
        """Make every caller wait, as after a 429 whose Retry-After applies to the whole token."""
        self._pause(seconds, None)

    def _pause(self, seconds, reason):
        now = self._clock()

        def extend(ledger):
            if now + seconds > ledger.paused_until:
                ledger.paused_until = now + seconds
                ledger.pause_reason = reason

        try:
            self._budget.transact(extend)
        except BudgetUnavailableError:
            # Learnt from an answer to a request already sent: that request's outcome must still be read. Nothing
            # further is sent anyway, since the next take from the budget fails the same way.
            pass

    def _notice(self, now, until, reason):
        # Each pause is counted once, however many threads wait in it and however often it is
        # extended; only the first pause of each kind becomes a notice (a server announcing
        # r=0;t=0 on every answer would otherwise warn once per request). Totals go in the summary.
        kind = re.sub(r"\d+", "N", reason) if reason else None
        with self._notice_lock:
            if until <= self._noticed_until:
                return
            fresh = now >= self._noticed_until
            self.paused_seconds += until - max(now, self._noticed_until)
            self._noticed_until = until
            if not fresh:
                return
            self.pauses += 1
            self._progress.say(
                "pause",
                "waiting %.0f s for the rate limit: %s"
                % (until - now, reason or "Cloudflare answered 429 Too Many Requests and asked to wait (Retry-After)"),
                urgent=until - now >= MIN_GAP_SECONDS,
            )
            if kind is None or kind in self._noticed_kinds:
                return
            self._noticed_kinds.add(kind)
        if self._on_pause is not None:
            self._on_pause(
                "pausing %.1f s to stay inside the rate limit: %s (later pauses are counted in "
                "summary.rate_limit_pauses)" % (until - now, reason)
            )
