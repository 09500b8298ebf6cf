# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Newly quarantined messages, one at a time and each once: what the Event-Driven Ansible source emits.

Each poll searches a window that moves forward: from the last poll's start, less an overlap for messages the
search shows late, to now. A message is emitted once: its id goes into the checkpoint (a JSON file, written whole
and renamed into place) before the event leaves, so a restart never emits it again. The price is that a source
killed between the two loses that one event; the quarantine is still there for the runbook. Ids are forgotten
once their message is older than the window's start, since no later search can return them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import math
import os

from ansible_collections.mailsec.cloudflare.plugins.module_utils._state.atomic_file import write_json
from ansible_collections.mailsec.cloudflare.plugins.module_utils._state.checkpoint_format import (
    checkpoint_document,
    read_checkpoint_state,
    utc_text,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import StateStoreError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._state.local import open_state
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.messages import (
    SEARCH_DISPOSITIONS,
    date_time,
    normalize_message,
    search_pages,
    search_params,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import CloudflareError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.client import parse_http_date
from ansible_collections.mailsec.cloudflare.plugins.module_utils._module.options import OPTIONS, resolve_connection
from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import ValidationError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.connect import connect

__all__ = ("CloudflareError", "QuarantineSource", "SourceError", "retry_delay", "stops_the_source")

FEED_FILTERS = ("query", "sender", "recipient", "subject", "domain", "alert_id", "final_disposition")
_FILTER_CHOICES = {"final_disposition": SEARCH_DISPOSITIONS}
PAGE_SIZE = 1000


def feed_filters(args):
    """The search filters of the source's arguments, checked: known names, non-empty text, valid choices."""
    filters = {}
    for name in FEED_FILTERS:
        value = args.get(name)
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip():
            raise ValidationError("%s must be non-empty text (got %r)" % (name, value))
        if name in _FILTER_CHOICES and value.upper() not in _FILTER_CHOICES[name]:
            raise ValidationError("%s must be one of %s (got %r)" % (name, ", ".join(_FILTER_CHOICES[name]), value))
        filters[name] = value.upper() if name in _FILTER_CHOICES else value.strip()
    return filters


def seconds_arg(args, name, default, low):
    """A number of seconds; text is taken too, as a rulebook's templated argument arrives as text."""
    value = args.get(name, default)
    try:
        seconds = float(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        seconds = None
    if seconds is None or not math.isfinite(seconds) or seconds < low:
        raise ValidationError("%s must be a number of seconds, at least %s (got %r)" % (name, low, value))
    return seconds


class Checkpoint:
    """Where the feed is: the start of its next window, and the ids emitted that a search could still return.

    The state is a JSON file, rewritten whole once per poll; each id emitted in between is appended to a journal
    beside it (``<path>.emitted``, one line each, synced before the event leaves), so that an outbreak of thousands of
    messages costs a line per message, not a rewrite of the whole file per message.
    """

    def __init__(self, path):
        self.path = path
        self.journal_path = path + ".emitted"
        self.since = None
        self.emitted = {}
        self._journal = None

    def load(self):
        """Read the files if there are; a file this version cannot read is refused, never silently reset."""
        try:
            if os.path.exists(self.path):
                with open(self.path, encoding="utf-8") as source:
                    self.since, self.emitted = read_checkpoint_state(self.path, json.load(source))
            if os.path.exists(self.journal_path):
                with open(self.journal_path, encoding="utf-8") as journal:
                    # A line cut short by a crash has no line break: its id was never emitted.
                    lines = [line[:-1].split("\t") for line in journal if line.endswith("\n")]
                self.emitted.update((fields[0], fields[-1] if len(fields) > 1 else "") for fields in lines)
        except ValidationError:
            raise
        except (OSError, ValueError) as exc:
            raise ValidationError(
                "the checkpoint %s cannot be read (%s); move it away to start again from the backlog" % (self.path, exc)
            ) from None
        return self

    def record(self, message_id, sent_date):
        """Add one emitted id, on disk before this returns."""
        if self._journal is None:
            os.makedirs(os.path.dirname(self.path) or ".", mode=0o700, exist_ok=True)
            self._journal = open(self.journal_path, "a", encoding="utf-8")
        self._journal.write("%s\t%s\n" % (message_id, sent_date))
        self._journal.flush()
        os.fsync(self._journal.fileno())
        self.emitted[message_id] = sent_date

    def save(self):
        """Write the whole state, then empty the journal it now holds."""
        os.makedirs(os.path.dirname(self.path) or ".", mode=0o700, exist_ok=True)
        write_json(self.path, checkpoint_document(self.since, self.emitted))
        self.close()
        if os.path.exists(self.journal_path):
            os.remove(self.journal_path)

    def close(self):
        if self._journal is not None:
            self._journal.close()
            self._journal = None


class WindowFeed:
    """What a feed polled in a window that moves forward keeps: where the window is (the checkpoint), how far it
    reaches back (``overlap``), its clock."""

    def __init__(self, client, account_id, checkpoint, backlog, overlap, clock=None):
        self.client = client
        self.account_id = account_id
        self.checkpoint = checkpoint
        self.overlap = datetime.timedelta(seconds=overlap)
        self._clock = clock or (lambda: datetime.datetime.now(datetime.timezone.utc))
        self._polled_at = None
        if checkpoint.since is None:
            # First start: a bounded backlog, not the whole of Cloudflare's default window.
            checkpoint.since = self._clock() - datetime.timedelta(seconds=backlog)


class QuarantineFeed(WindowFeed):
    """Polls the Investigate search for quarantined messages not emitted before."""

    def __init__(self, client, account_id, filters, checkpoint, backlog, overlap, clock=None):
        super(QuarantineFeed, self).__init__(client, account_id, checkpoint, backlog, overlap, clock)
        self.filters = filters

    def poll(self):
        """The quarantined messages of this poll's window not emitted yet, oldest first. The window moves on
        (``done``) only once they are emitted: a source stopped before that searches the same window again."""
        started = self._clock()
        start = min(self.checkpoint.since - self.overlap, started)
        params = search_params(dict(self.filters, start=utc_text(start)), per_page=PAGE_SIZE)
        found, server_time = {}, None
        for response in search_pages(self.client, self.account_id, params):
            server_time = server_time or _server_time(response.headers)
            for raw in response.result or []:
                if not isinstance(raw, dict):
                    continue
                message = normalize_message(raw)
                # A search over a changing index may serve a message on two pages: it is one event.
                if message["id"] and message["is_quarantined"] is True and message["id"] not in self.checkpoint.emitted:
                    found.setdefault(message["id"], message)
        # The window moves on by the server's clock when it tells it: a local clock set ahead and then corrected
        # would otherwise start the next window after messages that arrived meanwhile.
        self._polled_at = server_time or started
        return sorted(found.values(), key=lambda m: (m.get("sent_date") or "", m["id"]))

    def done(self):
        """Move the window on past the last poll, and forget the ids no later search can return."""
        move_window(self.checkpoint, self._polled_at, self.overlap, _sent_at)

    def emitting(self, message):
        """Record the message as emitted, in the checkpoint on disk, before its event leaves."""
        self.checkpoint.record(message["id"], message.get("sent_date") or "")


def move_window(checkpoint, polled_at, overlap, moment_of):
    """Start the next window at ``polled_at`` and forget the ids no later poll can return, then save.

    The next poll starts at since - overlap; ids are kept one overlap longer still, in case the server dates an
    item a little differently from the date kept with it (``moment_of`` reads that date).
    """
    checkpoint.since = polled_at
    forget_before = polled_at - 2 * overlap
    checkpoint.emitted = {
        key: dated
        for key, dated in checkpoint.emitted.items()
        if moment_of(dated) is None or moment_of(dated) >= forget_before
    }
    checkpoint.save()


def _server_time(headers):
    """The moment of the answer by the server's clock (its Date header), or None."""
    moment = parse_http_date((headers or {}).get("Date"))
    return moment.astimezone(datetime.timezone.utc) if moment is not None else None


def _sent_at(text):
    try:
        return date_time("sent_date", text)[1]
    except ValidationError:
        return None


class SourceError(Exception):
    """What stops the event source: bad arguments, or an error every further poll would meet too."""


# How long Cloudflare locks a token out after its rate limit was exceeded.
LOCKOUT_SECONDS = 300.0


def retry_delay(error, poll_interval):
    """Seconds to wait before polling again after a failed poll: a lockout is waited out whole."""
    return max(poll_interval, LOCKOUT_SECONDS) if error.status == 429 else poll_interval


def stops_the_source(error):
    """Whether a failed poll stops the source: credentials, permissions or account, which no retry mends. A
    lockout (HTTP 429) ends; the next poll tries again."""
    return error.is_fatal and error.status != 429


_CONNECTION_ARGS = frozenset(o.name for o in OPTIONS) - {"task_timeout", "concurrency"}
_TIMING_ARGS = frozenset({"checkpoint", "poll_interval", "backlog", "overlap"})


def open_checkpoint(state, settings, named, default):
    """The checkpoint: in the state database under its name, or a file (``checkpoint`` is then its path); named
    ``<default>-<account id>`` when not given."""
    default = "%s-%s" % (default, settings["account_id"])
    if state.backend == "postgresql":
        return state.checkpoint(named or default)
    path = named or os.path.join(settings["state_dir"], default + ".json")
    return Checkpoint(os.path.abspath(os.path.expanduser(path)))


class SourceSetup:
    """What every event source of the collection starts from, made from its arguments before any request: its
    timing, the connection, the state store, the checkpoint and a client."""

    def __init__(self, args, environ, warn, own_args, checkpoint_name, check_own=lambda args: None):
        """Raise SourceError naming the argument or variable to fix. ``check_own(args)`` checks the source's own
        arguments (``own_args``) once the names are known good; what it returns is ``own``."""
        args = dict(args or {})
        unknown = sorted(set(args) - _CONNECTION_ARGS - _TIMING_ARGS - own_args)
        try:
            if unknown:
                raise ValidationError(
                    "unknown argument(s) %s; the source takes %s"
                    % (", ".join(unknown), ", ".join(sorted(_CONNECTION_ARGS | _TIMING_ARGS | own_args)))
                )
            self.own = check_own(args)
            self.poll_interval = seconds_arg(args, "poll_interval", 60, 5)
            self.backlog = seconds_arg(args, "backlog", 3600, 0)
            self.overlap = seconds_arg(args, "overlap", 600, 0)
            notices = []
            # One poll at a time, so the source holds back no more than one request of the shared budget.
            self.settings = resolve_connection(dict(args, concurrency=1), environ, notices)
            self.state = open_state(self.settings)
            self.checkpoint = open_checkpoint(self.state, self.settings, args.get("checkpoint"), checkpoint_name).load()
        except (ValidationError, StateStoreError) as exc:
            raise SourceError(str(exc)) from None
        for notice in notices:
            warn(notice)
        try:
            self.client = connect(self.settings, warn, state=self.state)
        except OSError as exc:
            raise SourceError(
                "state_dir %s cannot hold the shared request budget (%s); set state_dir or "
                "MAILSEC_CLOUDFLARE_STATE_DIR to a writable directory" % (self.settings["state_dir"], exc)
            ) from None


class EventSource:
    """A feed, the client it reads with and the state it keeps, as an event source runs them (see source_loop)."""

    def __init__(self, feed, client, poll_interval, state):
        self.feed = feed
        self.client = client
        self.poll_interval = poll_interval
        self.state = state

    def close(self):
        self.feed.checkpoint.close()
        self.client.close()
        self.state.close()


class QuarantineSource(EventSource):
    """The quarantine source's arguments made into a feed, a client and the events it emits."""

    @classmethod
    def from_args(cls, args, environ, warn):
        """Raise SourceError naming the argument or variable to fix, before any request."""
        try:
            setup = SourceSetup(args, environ, warn, frozenset(FEED_FILTERS), "eda-quarantine", feed_filters)
        except SourceError as exc:
            raise SourceError("mailsec.cloudflare.email_security_quarantine: %s" % exc) from None
        feed = QuarantineFeed(
            setup.client, setup.settings["account_id"], setup.own, setup.checkpoint, setup.backlog, setup.overlap
        )
        return cls(feed, setup.client, setup.poll_interval, setup.state)

    def event(self, message):
        """The event of one message: no credential, even one a server or proxy echoed into the answer."""
        sender = (message.get("from") or "").strip().lower()
        event = {
            "message": message,
            "sender": sender,
            "sender_domain": sender.rpartition("@")[2],
            "account_id": self.feed.account_id,
        }
        return self.client.redact(event)
