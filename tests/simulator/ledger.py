# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What crossed the wire and what the server did: every request, delivery, lockout and contract violation."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import threading
import time


class Ledger:
    """Events in order, in memory and optionally appended to a JSON-lines file. Thread-safe."""

    def __init__(self, path=None):
        self._lock = threading.Lock()
        self._events = []
        self._file = open(path, "a", encoding="utf-8") if path else None

    def record(self, event, **fields):
        fields["event"] = event
        fields["time"] = round(time.time(), 3)
        with self._lock:
            self._events.append(fields)
            if self._file is not None:
                self._file.write(json.dumps(fields) + "\n")
                self._file.flush()

    def events(self, event=None):
        with self._lock:
            return [dict(e) for e in self._events if event is None or e["event"] == event]

    def requests(self, method=None, endpoint=None):
        return [
            e
            for e in self.events("request")
            if (method is None or e["method"] == method) and (endpoint is None or e["endpoint"] == endpoint)
        ]

    def per_id(self, event):
        """Message id -> how many events of this kind name it."""
        counts = {}
        for recorded in self.events(event):
            counts[recorded["id"]] = counts.get(recorded["id"], 0) + 1
        return counts

    def deliveries(self):
        """Message id -> how many times it was delivered."""
        return self.per_id("delivery")

    def close(self):
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
