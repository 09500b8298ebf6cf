# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""New reports of suspicious mail by employees, one at a time and each once: what the user-report source emits.

Employees' reports (PhishNet, the report-phish buttons) are Cloudflare's user submissions (``GET .../submissions``,
``type=USER``). Each poll lists those requested in a window that moves forward, as the quarantine feed does with
messages, and with its checkpoint: a report's submission id is written before its event leaves, so a restart never
emits it again. The reported message is named only by its postfix id; each report's message is looked up by it (one
search, whose free text matches message ids), and named in the event where Cloudflare still holds it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import CloudflareError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.messages import (
    normalize_message,
    numbered_pages,
    search_pages,
    search_params,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.quarantine_feed import (
    EventSource,
    SourceError,
    SourceSetup,
    WindowFeed,
    move_window,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._state.checkpoint_format import utc_moment, utc_text

PAGE_SIZE = 100
# How far before a report the reported message is looked for: mail is reported days, not months, after it came.
MESSAGE_LOOKBACK = datetime.timedelta(days=30)


class UserReportFeed(WindowFeed):
    """Polls the user submissions for reports not emitted before."""

    def poll(self):
        """The user reports of this poll's window not emitted yet, oldest first, each with its message where it
        can be found. The window moves on (``done``) only once they are emitted."""
        started = self._clock()
        start = min(self.checkpoint.since - self.overlap, started)
        query = {
            "type": "USER",
            "start": utc_text(start),
            "end": utc_text(started),
            "order": "requested_at",
            "direction": "asc",
        }
        path = "/accounts/%s/email-security/submissions" % self.account_id
        found = {}
        for item in numbered_pages(self.client, path, query, PAGE_SIZE):
            submission_id = item.get("submission_id")
            if submission_id and submission_id not in self.checkpoint.emitted:
                found.setdefault(submission_id, item)
        self._polled_at = started
        reports = sorted(found.values(), key=lambda r: (str(r.get("requested_at") or ""), r["submission_id"]))
        return [dict(report=report, **self._message_of(report)) for report in reports]

    def _message_of(self, report):
        """{message_id, message, unresolved}: the reported message, found by its postfix id, or why not."""
        postfix = report.get("original_postfix_id")
        if not postfix:
            return dict(message_id=None, message=None, unresolved="the report names no message (no postfix id)")
        requested = utc_moment(report.get("requested_at")) or self._clock()
        params = search_params(
            dict(query=postfix, start=utc_text(requested - MESSAGE_LOOKBACK), end=utc_text(requested)),
            per_page=PAGE_SIZE,
            detections_only=False,
        )
        try:
            for response in search_pages(self.client, self.account_id, params):
                for raw in response.result or []:
                    message = normalize_message(raw) if isinstance(raw, dict) else {}
                    if str(message.get("id") or "").startswith(postfix + "-") or message.get("postfix_id") == postfix:
                        return dict(message_id=message["id"], message=message, unresolved=None)
        except CloudflareError as exc:
            if exc.is_fatal:
                raise
            return dict(message_id=None, message=None, unresolved="the search for its message failed: %s" % exc.message)
        return dict(message_id=None, message=None, unresolved="Cloudflare holds no message of postfix id %s" % postfix)

    def done(self):
        """Move the window on past the last poll, and forget the reports no later poll can list."""
        move_window(self.checkpoint, self._polled_at, self.overlap, utc_moment)

    def emitting(self, event):
        """Record the report as emitted, in the checkpoint, before its event leaves."""
        report = event["report"]
        self.checkpoint.record(report["submission_id"], report.get("requested_at") or "")


class UserReportSource(EventSource):
    """The user-report source's arguments made into a feed, a client and the events it emits."""

    @classmethod
    def from_args(cls, args, environ, warn):
        """Raise SourceError naming the argument or variable to fix, before any request."""
        try:
            setup = SourceSetup(args, environ, warn, frozenset(), "eda-user-reports")
        except SourceError as exc:
            raise SourceError("mailsec.cloudflare.email_security_user_reports: %s" % exc) from None
        feed = UserReportFeed(
            setup.client, setup.settings["account_id"], setup.checkpoint, setup.backlog, setup.overlap
        )
        return cls(feed, setup.client, setup.poll_interval, setup.state)

    def event(self, item):
        """The event of one report: no credential, even one a server or proxy echoed into the answer."""
        reporter = str(item["report"].get("requested_by") or "").strip().lower()
        event = dict(item, reporter=reporter, account_id=self.feed.account_id)
        return self.client.redact(event)
