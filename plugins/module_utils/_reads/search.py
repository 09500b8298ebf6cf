# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A search as the thing to release: the ``search`` option, what one pass over it says, and reading back by it.

A search page holds up to 1000 messages, each with ``is_quarantined``: one page is the pre-check of a
thousand messages. Reading messages back after an unsure outcome repeats the search when that takes fewer
requests than one ``GET`` per message; a message the repeated search no longer shows is read by id.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import CloudflareError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.ids import id_problem
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.messages import (
    DELIVERY_STATUSES,
    LARGEST_SEARCH_PAGE,
    MESSAGE_ACTIONS,
    SEARCH_DISPOSITIONS,
    SEARCH_FILTERS,
    STATE_QUARANTINED,
    STATE_UNDETERMINED,
    STATE_UNREADABLE,
    MessageState,
    normalize_message,
    quarantine_state,
    read_messages,
    search_pages,
    search_params,
    search_window,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import ValidationError, check_range

SEARCH_PAGE_SIZE = LARGEST_SEARCH_PAGE
_EMPTY_SEARCH_CAUSES = (
    "Most likely the window is outside the mail's dates: search.start and search.end are compared with when "
    "Cloudflare received each message, in UTC (a date without Z or an offset is UTC); widen them, then check each "
    "filter's spelling (search.sender is the full address), and set search.detections_only: false to include mail "
    "without a detection"
)
DEFAULT_POLL_TIMEOUT = 120.0

# The filters of a search, as module options: flat in email_security_message_info, inside ``search`` elsewhere.
SEARCH_FILTER_OPTIONS = dict(
    query=dict(type="str"),
    sender=dict(type="str"),
    recipient=dict(type="str"),
    subject=dict(type="str"),
    domain=dict(type="str"),
    message_id=dict(type="str"),
    alert_id=dict(type="str"),
    final_disposition=dict(type="str", choices=list(SEARCH_DISPOSITIONS)),
    delivery_status=dict(type="str", choices=list(DELIVERY_STATUSES)),
    message_action=dict(type="str", choices=list(MESSAGE_ACTIONS)),
    start=dict(type="str"),
    end=dict(type="str"),
    detections_only=dict(type="bool", default=True),
)
# The ``search`` option of the modules that act on what a search finds (documented in the search doc fragment).
SEARCH_OPTION = dict(
    type="dict",
    options=dict(
        SEARCH_FILTER_OPTIONS,
        all_time=dict(type="bool", default=False),
        poll_timeout=dict(type="float", default=DEFAULT_POLL_TIMEOUT),
    ),
)


class SearchSpec:
    """A checked ``search`` option: the filters that are set (start and end as RFC 3339) and detections_only."""

    def __init__(self, filters, detections_only, poll_timeout):
        self.filters = filters
        self.detections_only = detections_only
        self.poll_timeout = poll_timeout

    def query(self, per_page=SEARCH_PAGE_SIZE):
        return search_params(self.filters, self.detections_only, per_page)

    def describe(self):
        """The search as a person reads it: its window and filters."""
        window = "from %s to %s" % (self.filters.get("start", "30 days ago"), self.filters.get("end", "now"))
        filters = [
            "%s %s" % (name, value) for name, value in sorted(self.filters.items()) if name not in ("start", "end")
        ]
        if self.detections_only:
            filters.append("detections_only true")
        return ", ".join([window] + filters)

    def as_search_params(self):
        """The filters as a bulk job's ``search_params`` (JSON types, not query-string text)."""
        params = dict(self.filters)
        params["detections_only"] = self.detections_only
        return params


def search_spec(search):
    """A SearchSpec from the ``search`` option, or ValidationError before any request is sent."""
    filters = {name: search.get(name) for name in SEARCH_FILTERS if search.get(name) is not None}
    for name, value in filters.items():
        if name not in ("start", "end") and not value.strip():
            raise ValidationError("search.%s is empty; leave it out instead of matching everything" % name)
    if search.get("all_time") and search.get("start") is not None:
        raise ValidationError("search.all_time and search.start contradict each other: give one of them")
    if not search.get("all_time") and search.get("start") is None:
        raise ValidationError(
            "search has no time window: set search.start (for example the hour the false positives began), "
            "or set search.all_time: true to act on everything the search matches in Cloudflare's default "
            "window (the last 30 days)"
        )
    check_range("search.poll_timeout", search.get("poll_timeout", DEFAULT_POLL_TIMEOUT), 0, 3600)
    start, end = search_window(search.get("start"), search.get("end"))
    for name, value in (("start", start), ("end", end)):
        if value is not None:
            filters[name] = value
    return SearchSpec(filters, bool(search.get("detections_only", True)), search.get("poll_timeout"))


class QuarantineSearch:
    """One search: a pass over it gives every matched message's quarantine state, in the search's order."""

    def __init__(self, client, account_id, spec, max_messages=None):
        self.client = client
        self.account_id = account_id
        self.spec = spec
        self.max_messages = max_messages
        self.pages = 0
        self.found = 0
        self.quarantined = 0
        self.skipped = []

    # What max_messages caps: the messages a release would send, those still quarantined.
    capped_kind = "quarantined"

    def capped_count(self, states):
        return _count_quarantined(states)

    def find(self):
        """(ids in the search's order, {id: MessageState}); raise CloudflareError when it stops the task.

        Called once the account lock is held, so that no other run on this machine is mid-release.
        """
        states, pages, self.skipped = self._pass()
        self.pages = pages
        self.found = len(states)
        self.quarantined = _count_quarantined(states)
        capped = self.capped_count(states)
        if self.max_messages is not None and capped > self.max_messages:
            raise CloudflareError(
                "the search matched %d %s message(s), more than max_messages (%d); nothing was sent. "
                "Narrow the search (search.start, search.end, search.sender...) or raise max_messages"
                % (capped, self.capped_kind, self.max_messages),
                stops_task=True,
            )
        return list(states), states

    def count_capped(self):
        """How many messages the search finds of those max_messages caps (one pass, no cap)."""
        return self.capped_count(self._pass()[0])

    def read(self, message_ids):
        """MessageStates for message_ids, in order: by repeating the search when that is cheaper than a GET each.

        Called from the write engine's batch threads, which run in parallel already: reads by id are sequential.
        """
        if not self.pages or len(message_ids) <= self.pages:
            return read_messages(self.client, self.account_id, message_ids, 1)
        try:
            states = self._pass()[0]
        except CloudflareError as exc:
            if exc.is_fatal:
                raise
            states = {}
        missing = [i for i in message_ids if i not in states]
        by_id = dict(zip(missing, read_messages(self.client, self.account_id, missing, 1)))
        by_id.update((i, states[i]) for i in message_ids if i in states)
        return [by_id[i] for i in message_ids]

    def summary(self):
        return dict(pages=self.pages, found=self.found, quarantined=self.quarantined, skipped_items=len(self.skipped))

    def warnings(self, participle):
        """What the task must say of the search it acted on (``participle``: "released", "moved"): items that were
        left out for carrying no valid id, or a search that ran and matched no message at all, with what was
        searched and the likely cause."""
        if self.skipped:
            return [
                "%d item(s) of the search answer carry no valid message id and were not %s"
                % (len(self.skipped), participle)
            ]
        if self.pages and not self.found:
            return [
                "the search matched no message (%s), so nothing was %s. %s"
                % (self.spec.describe(), participle, _EMPTY_SEARCH_CAUSES)
            ]
        return []

    def _pass(self):
        """({id: MessageState} in the search's order, pages read, items that carry no valid id)."""
        states, pages, skipped = {}, 0, []
        for response in search_pages(
            self.client, self.account_id, self.spec.query(), poll_timeout=self.spec.poll_timeout
        ):
            pages += 1
            for raw in response.result if isinstance(response.result, list) else []:
                message_id = raw.get("id") if isinstance(raw, dict) else None
                if message_id in states:
                    continue
                if id_problem(message_id) is not None:
                    # Nothing that is not a valid id is ever put in a release request.
                    skipped.append(raw)
                    continue
                states[message_id] = _state_of(raw)
        return states, pages, skipped


def _count_quarantined(states):
    return sum(1 for state in states.values() if state.state == STATE_QUARANTINED)


def _state_of(raw):
    message = normalize_message(raw)
    state = quarantine_state(message)
    if state == STATE_UNDETERMINED:
        return MessageState(
            STATE_UNREADABLE,
            error="the search answer does not establish whether it is quarantined (is_quarantined: %r, "
            "delivery_status: %r)" % (raw.get("is_quarantined"), raw.get("delivery_status")),
        )
    return MessageState(state, message=message)
