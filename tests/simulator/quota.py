# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Cloudflare's rate limit as the simulator enforces it: a window per token, an optional burst policy, the
Ratelimit and Ratelimit-Policy headers, and the lockout past the limit."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
import threading
import time

# Cloudflare's published limit: 1200 requests per 5 minutes per user or token; past it, every call is refused
# for 5 minutes (the lockout equals the window).
CLOUDFLARE_QUOTA = 1200
CLOUDFLARE_WINDOW = 300.0


class Quota:
    """Off until set; then every request spends one. Thread-safe."""

    def __init__(self, on_lockout):
        self._lock = threading.Lock()
        self._on_lockout = on_lockout
        self.limit = None
        self.window = 300.0
        self.lockout = 300.0
        # A second, shorter policy (Cloudflare documents a list of policies, "burst" in its example).
        self.burst = None
        self.burst_window = 1.0
        self.announce = True
        # A Ratelimit header sent on every answer whatever the quota, as a misconfigured server might.
        self.fixed_ratelimit = None
        self._window_start = time.monotonic()
        self._window_count = 0
        self._burst_times = []
        self._locked_until = 0.0

    def set(self, limit, window=300.0, lockout=None, burst=None, burst_window=1.0, announce=True):
        with self._lock:
            self.limit = limit
            self.window = window
            self.lockout = window if lockout is None else lockout
            self.burst = burst
            self.burst_window = burst_window
            self.announce = announce
            self._window_start = time.monotonic()
            self._window_count = 0
            self._burst_times = []
            self._locked_until = 0.0

    def lock_out(self, seconds):
        """Start a lockout now, as one caused by another client of the same token would."""
        with self._lock:
            self._locked_until = time.monotonic() + seconds

    def spend(self):
        """Count one request; return (headers, lockout seconds left or None)."""
        with self._lock:
            now = time.monotonic()
            if self._locked_until > now:
                left = self._locked_until - now
                return {"Retry-After": str(int(math.ceil(left)))}, left
            if self.fixed_ratelimit is not None:
                return {"Ratelimit": self.fixed_ratelimit}, None
            if self.limit is None:
                return {}, None
            if now - self._window_start >= self.window:
                self._window_start = now
                self._window_count = 0
            self._window_count += 1
            self._burst_times = [t for t in self._burst_times if t > now - self.burst_window] + [now]
            headers = {"Ratelimit-Policy": self._policies()} if self.announce else {}
            if self._window_count > self.limit or (self.burst is not None and len(self._burst_times) > self.burst):
                self._locked_until = now + self.lockout
                self._on_lockout(self.lockout)
                headers["Retry-After"] = str(int(self.lockout))
                return headers, self.lockout
            if self.announce:
                headers["Ratelimit"] = self._remaining(now)
            return headers, None

    def _policies(self):
        policies = ['"default";q=%d;w=%d' % (self.limit, self.window)]
        if self.burst is not None:
            policies.append('"burst";q=%d;w=%d' % (self.burst, math.ceil(self.burst_window)))
        return ", ".join(policies)

    def _remaining(self, now):
        reset = max(1, int(math.ceil(self._window_start + self.window - now)))
        remaining = ['"default";r=%d;t=%d' % (max(0, self.limit - self._window_count), reset)]
        if self.burst is not None:
            left = max(0, self.burst - len(self._burst_times))
            remaining.append('"burst";r=%d;t=%d' % (left, math.ceil(self.burst_window)))
        return ", ".join(remaining)
