# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What a task says while it waits, so that a long wait is never silent.

A module's result reaches Ansible only when the module ends. While it waits (a bulk job processing, an unsure
write's settle window, a pause for the rate limit, another run's account lock), it appends a line for each step to
the file that the collection's action plugin names in ``MAILSEC_CLOUDFLARE_PROGRESS_FILE``, and the action plugin
prints each line on the controller as it comes. Without that variable (a module run on a remote host, through
``async``, or outside Ansible) nothing is written, and a file that cannot be written never affects the task.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import threading
import time

ENV_PROGRESS_FILE = "MAILSEC_CLOUDFLARE_PROGRESS_FILE"
# Lines on one topic come at most this often: a settle window read back every second is not a line a second.
MIN_GAP_SECONDS = 10.0


class Progress:
    """Progress lines for the controller, masked and spaced out; silent without a file to write to."""

    def __init__(self, path=None, mask=None, clock=None, min_gap=MIN_GAP_SECONDS):
        self._path = path
        self._mask = mask or (lambda text: text)
        self._clock = clock or time.monotonic
        self._min_gap = min_gap
        self._last = {}
        self._lock = threading.Lock()

    @classmethod
    def from_environment(cls, environ, mask):
        return cls(environ.get(ENV_PROGRESS_FILE) or None, mask)

    def say(self, topic, text, urgent=False):
        """Write one line on ``topic``, unless one on it was written less than the gap ago and this is not urgent."""
        if self._path is None:
            return
        with self._lock:
            now = self._clock()
            if not urgent and now - self._last.get(topic, float("-inf")) < self._min_gap:
                return
            self._last[topic] = now
            line = " ".join(self._mask(text).split())
            try:
                with open(self._path, "a", encoding="utf-8") as out:
                    out.write(line + "\n")
            except OSError:
                # The controller's reader is gone (or never could be reached): progress is a courtesy, the task goes on.
                self._path = None


SILENT = Progress()


def count(number):
    """A count as people read it: 100,000."""
    return "{:,}".format(number)
