# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The request budget that every thread of one task draws from.

Cloudflare allows 1200 requests per 5 minutes per token, counted across the dashboard and
the API, and locks the token out of the whole API for 5 minutes when it is exceeded. Two
guards keep a task under it: a client-side sliding window (``rate_limit`` per ``window``)
that holds whatever the server says, and the server's own ``Ratelimit`` header, which
pauses every thread until the window resets once the remaining quota runs low.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import re
import threading
import time

_RATELIMIT_REMAINING = re.compile(r"(?:^|[;,\s])r=(\d+)")
_RATELIMIT_RESET = re.compile(r"(?:^|[;,\s])t=(\d+)")


class BudgetExhaustedError(Exception):
    """Waiting for the request budget would run past the task's deadline."""

    def __init__(self, wait_seconds):
        super(BudgetExhaustedError, self).__init__(
            "the request budget needs a pause of %.0f s, which would pass the task's deadline" % wait_seconds)
        self.wait_seconds = wait_seconds


def parse_ratelimit(headers):
    """Return (remaining, seconds_to_reset) announced by the server, each None when absent.

    Cloudflare sends the IETF draft structured form ``Ratelimit: "default";r=50;t=30``;
    older drafts used separate ``RateLimit-Remaining`` / ``RateLimit-Reset`` headers.
    """
    remaining = reset = None
    combined = headers.get("Ratelimit")
    if combined:
        match = _RATELIMIT_REMAINING.search(combined)
        remaining = int(match.group(1)) if match else None
        match = _RATELIMIT_RESET.search(combined)
        reset = int(match.group(1)) if match else None
    if remaining is None and headers.get("RateLimit-Remaining", "").isdigit():
        remaining = int(headers["RateLimit-Remaining"])
    if reset is None and headers.get("RateLimit-Reset", "").isdigit():
        reset = int(headers["RateLimit-Reset"])
    return remaining, reset


class RequestPacer:
    """Blocks callers so that requests stay inside the client budget and the server's quota."""

    def __init__(self, limit=1000, window=300.0, reserve=4, on_pause=None, clock=None, sleep=None):
        self.limit = limit
        self.window = window
        # In-flight requests of other threads still spend quota after a low reading.
        self.reserve = reserve
        self.paused_seconds = 0.0
        self._on_pause = on_pause
        self._clock = clock or time.monotonic
        self._sleep = sleep or time.sleep
        self._lock = threading.Lock()
        self._sent = collections.deque()
        self._paused_until = 0.0

    def acquire(self, deadline=None):
        """Take one request from the budget, waiting as long as the budget or the server asks."""
        while True:
            with self._lock:
                now = self._clock()
                while self._sent and self._sent[0] <= now - self.window:
                    self._sent.popleft()
                if self._paused_until <= now and len(self._sent) >= self.limit:
                    self._pause_until(now, self._sent[0] + self.window,
                                      "the client-side budget of %d requests per %.0f s (rate_limit) is spent"
                                      % (self.limit, self.window))
                if self._paused_until <= now:
                    self._sent.append(now)
                    return
                wait = self._paused_until - now
            if deadline is not None and now + wait > deadline:
                raise BudgetExhaustedError(wait)
            self._sleep(wait)

    def observe(self, headers):
        """Read the server's quota announcement from a response and pause everyone when it runs low."""
        remaining, reset = parse_ratelimit(headers)
        if remaining is None or remaining > self.reserve:
            return
        with self._lock:
            now = self._clock()
            # Without a reset time, a whole window is the only safe assumption; a reset of 0 s is
            # a rounded-down fraction, so wait at least one second.
            self._pause_until(now, now + (max(reset, 1) if reset is not None else self.window),
                              "Cloudflare's Ratelimit header announces %d request(s) left" % remaining)

    def hold(self, seconds):
        """Make every thread wait, as after a 429 whose Retry-After applies to the whole token."""
        with self._lock:
            now = self._clock()
            self._pause_until(now, now + seconds, None)

    def _pause_until(self, now, until, why):
        # Called with the lock held; one notice per pause, not one per waiting thread.
        if until <= self._paused_until:
            return
        self.paused_seconds += until - max(now, self._paused_until)
        self._paused_until = until
        if self._on_pause is not None and why is not None:
            self._on_pause("pausing %.1f s to stay inside the rate limit: %s" % (until - now, why))
