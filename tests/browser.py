# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A real browser for the tests of pages a person opens: Debian's headless Chromium, driven over the DevTools
protocol on a pipe (no port, nothing listening), stopped by the test that started it.

It records what a person would not see but must be able to trust: every console message and error, every request the
page made, and takes a screenshot.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time


# JavaScript a test evaluates in a page: each image's natural size, whether it loaded, and its alt text.
IMAGES = "Array.from(document.images).map(i => [i.naturalWidth, i.naturalHeight, i.complete, i.alt])"
# Each image drawn on a canvas: how many distinct colours it has (one would be a blank image).
IMAGE_COLOURS = """Array.from(document.images).map(image => {
    const canvas = document.createElement('canvas');
    canvas.width = image.naturalWidth; canvas.height = image.naturalHeight;
    const context = canvas.getContext('2d'); context.drawImage(image, 0, 0);
    const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
    const seen = new Set();
    for (let i = 0; i < pixels.length; i += 4) seen.add(pixels[i] << 16 | pixels[i + 1] << 8 | pixels[i + 2]);
    return seen.size; })"""


def chromium_program():
    """The chromium program; RuntimeError naming what is missing."""
    for candidate in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError(
        "chromium is not on PATH: install Debian's chromium package (make test does: tests/tools/need_chromium.sh)"
    )


class PageVisit:
    """What opening one page did: console entries, errors, requests, and its screenshot (PNG bytes)."""

    def __init__(self):
        self.console = []
        self.errors = []
        self.requests = []
        self.screenshot = b""
        self.evaluated = {}


class Browser:
    """One headless Chromium of the test's own, with a profile in a temporary directory."""

    def __init__(self, timeout=60):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="mailsec-chromium-")
        self._next_id = 0
        self._buffer = b""
        self._events = []
        to_browser_read, self._to_browser = os.pipe()
        self._from_browser, from_browser_write = os.pipe()

        def _pipes_at_3_and_4():
            # Copies first: either pipe may already sit at 3 or 4, where a dup2 onto itself would leave it
            # close-on-exec.
            reading, writing = os.dup(to_browser_read), os.dup(from_browser_write)
            os.dup2(reading, 3)
            os.dup2(writing, 4)

        arguments = [
            chromium_program(),
            "--headless=new",
            "--remote-debugging-pipe",
            "--user-data-dir=%s" % self.profile,
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-gpu",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--metrics-recording-only",
            "--window-size=1200,900",
            "about:blank",
        ]
        if os.geteuid() == 0:
            # Chromium's sandbox refuses to run as root; the tests run as root in containers.
            arguments.insert(1, "--no-sandbox")
        self._process = subprocess.Popen(
            arguments,
            preexec_fn=_pipes_at_3_and_4,
            # The pipes are moved to 3 and 4 after the descriptors to keep were chosen: keep them all.
            close_fds=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_read)
        os.close(from_browser_write)

    def close(self):
        try:
            self._send("Browser.close")
        except (OSError, RuntimeError):
            pass
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        for descriptor in (self._to_browser, self._from_browser):
            try:
                os.close(descriptor)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def _send(self, method, params=None, session=None):
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode("utf-8") + b"\0")
        return self._next_id

    def _read_message(self, deadline):
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError("chromium did not answer within %s s" % self.timeout)
            ready, dummy, dummy = select.select([self._from_browser], [], [], left)
            if ready:
                chunk = os.read(self._from_browser, 1 << 16)
                if not chunk:
                    raise RuntimeError("chromium closed its pipe (exit status %s)" % self._process.poll())
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message.decode("utf-8"))

    def call(self, method, params=None, session=None):
        """Send a command and return its result; events that arrive meanwhile are kept."""
        sent = self._send(method, params, session)
        deadline = time.monotonic() + self.timeout
        while True:
            message = self._read_message(deadline)
            if message.get("id") == sent:
                if "error" in message:
                    raise RuntimeError("%s failed: %s" % (method, message["error"]))
                return message.get("result", {})
            self._events.append(message)

    def _wait_for(self, method, deadline):
        while True:
            for index, event in enumerate(self._events):
                if event.get("method") == method:
                    return self._events.pop(index)
            self._events.append(self._read_message(deadline))

    def visit(self, path, expressions=None, settle=1.0):
        """Open the file at ``path``; return a PageVisit with what happened, the screenshot and each expression's
        value (JavaScript evaluated in the page once it has loaded)."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call("%s.enable" % domain, session=session)
        self._events = []
        self.call("Page.navigate", {"url": "file://" + os.path.abspath(path)}, session=session)
        deadline = time.monotonic() + self.timeout
        self._wait_for("Page.loadEventFired", deadline)
        # What a page would load or log later (a timer, a lazy image) is given a moment to happen.
        settle_until = time.monotonic() + settle
        while time.monotonic() < settle_until:
            try:
                self._events.append(self._read_message(settle_until))
            except RuntimeError:
                break
        visit = PageVisit()
        for name, expression in (expressions or {}).items():
            answer = self.call(
                "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}, session
            )
            visit.evaluated[name] = answer.get("result", {}).get("value")
        shot = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session)
        visit.screenshot = base64.b64decode(shot["data"])
        self._record(visit)
        self.call("Target.closeTarget", {"targetId": target})
        return visit

    def _record(self, visit):
        for event in self._events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled":
                visit.console.append((params.get("type"), [arg.get("value") for arg in params.get("args", [])]))
                if params.get("type") in ("error", "assert"):
                    visit.errors.append(str(params.get("args")))
            elif method == "Runtime.exceptionThrown":
                visit.errors.append(str(params.get("exceptionDetails")))
            elif method == "Log.entryAdded":
                entry = params.get("entry", {})
                visit.console.append((entry.get("level"), [entry.get("text")]))
                if entry.get("level") == "error":
                    visit.errors.append(entry.get("text"))
            elif method == "Network.requestWillBeSent":
                visit.requests.append(params.get("request", {}).get("url"))
        self._events = []
