# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Reading many messages by id for the price of a few searches: the time windows their ids carry.

Investigate ids carry the moment Cloudflare received the message (``<postfix_id>-<YYYY-MM-DDTHH:MM:SS>-<seq>``, as
Cloudflare's documentation and examples show them; the contract does not promise it). Ids received close together
are read by searching that stretch of time, a thousand messages a page, instead of one ``GET`` each; the search
answer carries the same message details as the ``GET``. Correctness never depends on the id's form, only the cost
does: an id without a readable time, or one its window's search does not return, is read by id.

A window's search stops once its pages would outnumber the ids still missing from it (a busy account's day of mail
may hold far more messages than the ids asked for), so reading by windows costs at most about twice what reading by
id would, and a campaign of ten thousand ids received within a day costs a page per thousand messages of that day.

The contract says neither which clock an id's time comes from nor which date ``start`` and ``end`` filter on, so the
two are measured, not assumed: the first page of the first window lists messages with both their ids and their dates,
and the median difference between them (the skew) moves every window before any id is read by ``GET``. A page that
lists nothing to measure by is followed by one ``GET`` of a wanted id, which does.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import CloudflareError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.concurrency import run_in_order
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.messages import (
    LARGEST_SEARCH_PAGE,
    date_time,
    message_state,
    read_messages,
    search_pages,
    search_params,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import ValidationError

WINDOW_PAGE_SIZE = LARGEST_SEARCH_PAGE
# An id's time is when Cloudflare received the message; the search may place it by a time a little earlier
# (the message's own date), so a window reaches back further than it reaches forward.
_BEFORE = datetime.timedelta(hours=1)
_AFTER = datetime.timedelta(minutes=15)
# A quiet hour between two ids starts a new window, and no window spans more than a day: a window of mail no
# one asked about is paid for page by page.
_LONGEST_GAP = datetime.timedelta(hours=1)
_LONGEST_SPAN = datetime.timedelta(days=1)
_ID_TIME = re.compile(r"-(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?=-|$)")
_SEARCH_TIME = "%Y-%m-%dT%H:%M:%SZ"
# A skew the windows' reach already covers (an hour back, a quarter forward) is not worth a new plan for.
_TOLERATED_SKEW = (-datetime.timedelta(minutes=10), datetime.timedelta(minutes=45))
# The dates a message carries that a search may filter on, in the order they are believed.
_DATE_FIELDS = ("sent_date", "ts")


def id_time(message_id):
    """When the id says its message was received (UTC), or None when it holds no readable time."""
    found = _ID_TIME.search(message_id)
    if found is None:
        return None
    try:
        return datetime.datetime.strptime(found.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return None


class Window:
    """A stretch of time to search, and the ids expected in it."""

    __slots__ = ("start", "end", "ids")

    def __init__(self, start, end, ids):
        self.start = start
        self.end = end
        self.ids = ids

    def query(self, now):
        filters = {"start": self.start.strftime(_SEARCH_TIME)}
        if self.end < now:
            filters["end"] = self.end.strftime(_SEARCH_TIME)
        return search_params(filters, detections_only=False, per_page=WINDOW_PAGE_SIZE)


def plan_windows(message_ids, now, skew=datetime.timedelta(0)):
    """(windows worth searching, ids to read one by one): a window covers two ids or more, and starts in the past.

    ``skew`` is how far the ids' times run ahead of the dates the search filters on: each id is expected at its
    time less the skew.
    """
    timed, by_id = [], []
    for message_id in message_ids:
        moment = id_time(message_id)
        if moment is not None:
            moment -= skew
        if moment is None or moment - _BEFORE > now:
            by_id.append(message_id)
        else:
            timed.append((moment, message_id))
    windows = []
    for group in _close_together(sorted(timed)):
        if len(group) < 2:
            by_id.extend(message_id for dummy, message_id in group)
        else:
            windows.append(Window(group[0][0] - _BEFORE, group[-1][0] + _AFTER, [i for dummy, i in group]))
    return windows, by_id


def _close_together(timed):
    """(moment, id) pairs in order of time, in groups that neither a quiet hour nor more than a day divides."""
    groups = []
    for moment, message_id in timed:
        group = groups[-1] if groups else None
        if group is None or moment - group[-1][0] > _LONGEST_GAP or moment - group[0][0] > _LONGEST_SPAN:
            groups.append([(moment, message_id)])
        else:
            group.append((moment, message_id))
    return groups


def read_states(client, account_id, message_ids, workers, now=None):
    """MessageStates for message_ids, in the same order: by the searches of their windows where that is cheaper,
    by id for the rest, on up to ``workers`` threads. Raises CloudflareError only for errors that stop the task."""
    message_ids = list(message_ids)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    windows, by_id = plan_windows(message_ids, now)
    found = {}
    searches, by_id = _searches_by_measured_skew(client, account_id, windows, by_id, now, found)
    for states in run_in_order(lambda search: search.finish(), searches, workers):
        found.update(states)
    missing = [i for i in by_id if i not in found]
    missing += [i for search in searches for i in search.window.ids if i not in found]
    found.update(zip(missing, read_messages(client, account_id, missing, workers)))
    return [found[i] for i in message_ids]


def _searches_by_measured_skew(client, account_id, windows, by_id, now, found):
    """(the searches to run, the ids to read by id) once the first window's first page has measured the skew: the
    planned windows, or, when the ids' clock is off by more than the windows reach, windows planned anew by it."""
    if not windows:
        return [], by_id
    first = _WindowSearch(client, account_id, windows[0], now)
    first.read_page()
    if first.samples:
        skew = first.skew()
    elif first.states or first.refused:
        # The window holds what it was meant to (whatever the clocks say, its plan works), or its search failed and
        # its ids are read by id, in parallel, as every id is when searching cannot help.
        skew = None
    else:
        skew = _skew_of_one(client, account_id, first)
    if skew is None or _TOLERATED_SKEW[0] <= skew <= _TOLERATED_SKEW[1]:
        return [first] + [_WindowSearch(client, account_id, window, now) for window in windows[1:]], by_id
    found.update(first.states)
    windows, more_by_id = plan_windows([i for w in windows for i in w.ids if i not in found], now, skew)
    return [_WindowSearch(client, account_id, window, now) for window in windows], by_id + more_by_id


def _skew_of_one(client, account_id, search):
    """The skew measured on one wanted id read by GET (its state kept as the search's), for a first page that listed
    nothing to measure by; None when that message carries no date either."""
    message_id = next((i for i in search.window.ids if i not in search.states), None)
    if message_id is None:
        return None
    state = read_messages(client, account_id, [message_id], 1)[0]
    search.states[message_id] = state
    moment = _date(state.message or {}, _DATE_FIELDS[0]) or _date(state.message or {}, _DATE_FIELDS[1])
    return id_time(message_id) - moment if moment is not None else None


def _date(raw, field):
    """The moment a message's date field holds, or None: missing, or not an RFC 3339 date-time."""
    value = raw.get(field)
    if not isinstance(value, str):
        return None
    try:
        return date_time(field, value)[1]
    except ValidationError:
        return None


class _WindowSearch:
    """One window's search, page by page: the states of the window's ids it lists, and, from every message it lists,
    how far the id's time is from the date the search placed it by.

    The search stops once it has read as many pages as ids remain minus one (reading those by id costs no more), or
    when the server refuses it.
    """

    def __init__(self, client, account_id, window, now):
        self.window = window
        self.states = {}
        self.samples = []
        self._wanted = set(window.ids)
        self._pages = search_pages(client, account_id, window.query(now))
        self._read = 0
        self._done = False
        self.refused = False

    def read_page(self):
        response = None if self._done else self._next_page()
        if response is None:
            self._done = True
            return
        self._read += 1
        listed = [
            raw for raw in (response.result if isinstance(response.result, list) else []) if isinstance(raw, dict)
        ]
        self._measure(listed)
        for raw in listed:
            message_id = raw.get("id")
            if isinstance(message_id, str) and message_id in self._wanted and message_id not in self.states:
                self.states[message_id] = message_state(raw, "the search answer")
        if len(self.states) == len(self._wanted) or self._read >= len(self.window.ids) - 1:
            self._done = True

    def _next_page(self):
        """The next page, or None at the end or when the server refuses the search (the ids are then read by id)."""
        try:
            return next(self._pages, None)
        except CloudflareError as exc:
            if exc.is_fatal:
                raise
            self.refused = True
            return None

    def finish(self):
        while not self._done:
            self.read_page()
        return self.states

    def _measure(self, listed):
        # The date the search filtered on is the one that lies inside the window for the messages it listed.
        inside = {field: sum(1 for raw in listed if self._in_window(_date(raw, field))) for field in _DATE_FIELDS}
        field = max(_DATE_FIELDS, key=lambda name: (inside[name], -_DATE_FIELDS.index(name)))
        for raw in listed:
            moment = _date(raw, field)
            carried = id_time(raw.get("id")) if isinstance(raw.get("id"), str) else None
            if moment is not None and carried is not None:
                self.samples.append(carried - moment)

    def _in_window(self, moment):
        return moment is not None and self.window.start <= moment <= self.window.end

    def skew(self):
        ordered = sorted(self.samples)
        return ordered[len(ordered) // 2]
