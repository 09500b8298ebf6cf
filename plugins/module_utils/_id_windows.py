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
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

from ansible_collections.mailsec.cloudflare.plugins.module_utils._client import CloudflareError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._concurrency import run_in_order
from ansible_collections.mailsec.cloudflare.plugins.module_utils._messages import (
    message_state,
    read_messages,
    search_pages,
    search_params,
)

WINDOW_PAGE_SIZE = 1000
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


def plan_windows(message_ids, now):
    """(windows worth searching, ids to read one by one): a window covers two ids or more, and starts in the past."""
    timed, by_id = [], []
    for message_id in message_ids:
        moment = id_time(message_id)
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
    for states in run_in_order(lambda window: _search_window(client, account_id, window, now), windows, workers):
        found.update(states)
    missing = by_id + [i for window in windows for i in window.ids if i not in found]
    found.update(zip(missing, read_messages(client, account_id, missing, workers)))
    return [found[i] for i in message_ids]


def _search_window(client, account_id, window, now):
    """{id: MessageState} of the window's ids its search returned; the search stops once it has read as many pages
    as ids remain minus one (reading those by id costs no more), or when the server refuses it."""
    wanted, states, pages = set(window.ids), {}, 0
    try:
        for response in search_pages(client, account_id, window.query(now)):
            pages += 1
            for raw in response.result if isinstance(response.result, list) else []:
                message_id = raw.get("id") if isinstance(raw, dict) else None
                if isinstance(message_id, str) and message_id in wanted and message_id not in states:
                    states[message_id] = message_state(raw, "the search answer")
            if len(states) == len(wanted) or pages >= len(window.ids) - 1:
                break
    except CloudflareError as exc:
        if exc.is_fatal:
            raise
    return states
