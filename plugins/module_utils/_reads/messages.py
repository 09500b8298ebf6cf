# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Reading and searching Investigate messages: GET by id, search with cursor paging and 202 polling."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re
import time
from urllib.parse import quote, urljoin, urlsplit

from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import CloudflareError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.concurrency import run_in_order
from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import ValidationError

SEARCH_FILTERS = (
    "query",
    "sender",
    "recipient",
    "subject",
    "domain",
    "message_id",
    "alert_id",
    "final_disposition",
    "delivery_status",
    "message_action",
    "start",
    "end",
)
_LIST_FIELDS = ("to", "client_recipients", "delivery_status", "post_delivery_operations")
_TEXT_FIELDS = ("from", "subject", "sent_date", "final_disposition", "alert_id", "message_id", "postfix_id")

# The search's final_disposition filter takes fewer values than messages carry (DispositionLabel).
SEARCH_DISPOSITIONS = ("MALICIOUS", "SUSPICIOUS", "SPOOF", "SPAM", "BULK", "NONE")
DELIVERY_STATUSES = ("delivered", "moved", "quarantined", "rejected", "deferred", "bounced", "queued", "move_failed")
MESSAGE_ACTIONS = ("PREVIEW", "QUARANTINE_RELEASED", "MOVED")

# Quarantine states of a message (not release statuses), as shown in diffs.
STATE_QUARANTINED = "quarantined"
STATE_RELEASED = "released"
STATE_NOT_QUARANTINED = "not_quarantined"
STATE_UNDETERMINED = "undetermined"
STATE_NOT_FOUND = "not_found"
STATE_UNREADABLE = "unreadable"

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# The search page a search of many messages asks for (Cloudflare's changelog of 2026-03-15: "unlimited result paging",
# up to 10,000 records), and the contract's largest, taken when a server refuses the larger one.
LARGEST_SEARCH_PAGE = 10000
CONTRACT_SEARCH_PAGE = 1000


def date_time(name, value):
    """(the RFC 3339 text to send, its moment); a bare date means midnight UTC of that day."""
    if _DATE.fullmatch(value):
        value += "T00:00:00Z"
    if not _RFC3339.fullmatch(value):
        raise ValidationError(
            "%s must be an RFC 3339 date-time with a time zone, such as 2026-11-24T09:00:00Z, or a "
            "date such as 2026-11-24 for midnight UTC (got %r)" % (name, value)
        )
    try:
        # Fractions of a second do not matter for the window, and Python 3.10 parses only 3 or 6 digits of them.
        moment = re.sub(r"\.\d+", "", value.upper().replace("Z", "+00:00"))
        return value, datetime.datetime.fromisoformat(moment)
    except ValueError:
        raise ValidationError("%s is not a real date and time (got %r)" % (name, value)) from None


def search_window(start, end, now=None):
    """(start, end) as the search takes them, or ValidationError: a start in the future, or after end."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    start_text, start_at = date_time("start", start) if start is not None else (None, None)
    end_text, end_at = date_time("end", end) if end is not None else (None, None)
    if start_at is not None and start_at > now:
        raise ValidationError("start (%s) is in the future; Cloudflare refuses such a search" % start_text)
    if start_at is not None and end_at is not None and start_at > end_at:
        raise ValidationError("start (%s) is after end (%s)" % (start_text, end_text))
    return start_text, end_text


def investigate_path(account_id, message_id=None):
    path = "/accounts/%s/email-security/investigate" % account_id
    if message_id is not None:
        # Ids are validated to hold no URL syntax; quoting still keeps any odd byte literal.
        path += "/" + quote(message_id, safe="-:._~+@=")
    return path


def normalize_message(raw):
    """A message dict with every documented field present: lists never null.

    ``is_quarantined`` stays what the API said (None when it said nothing usable): only
    ``quarantine_state`` may decide what to do with the message.
    """
    message = dict(raw)
    message["id"] = raw.get("id") or raw.get("postfix_id")
    message["is_quarantined"] = raw.get("is_quarantined") if isinstance(raw.get("is_quarantined"), bool) else None
    for field in _LIST_FIELDS:
        value = raw.get(field)
        message[field] = list(value) if isinstance(value, (list, tuple)) else ([] if value is None else [value])
    for field in _TEXT_FIELDS:
        message.setdefault(field, None)
    return message


def _contradicted(flag, statuses):
    """True when is_quarantined is not a boolean, or delivery_status says otherwise."""
    if not isinstance(flag, bool):
        return True
    return ("quarantined" not in statuses) if flag and statuses else (not flag and "quarantined" in statuses)


def quarantine_state(message):
    """Quarantined; released (a release is on record); not quarantined (never was, or was moved); or undetermined.

    Undetermined when the answer does not establish the state: no boolean ``is_quarantined``, or a
    ``delivery_status`` that contradicts it.
    """
    flag = message.get("is_quarantined")
    if _contradicted(flag, message.get("delivery_status") or []):
        return STATE_UNDETERMINED
    if flag:
        return STATE_QUARANTINED
    operations = list(message.get("post_delivery_operations") or []) + [
        entry.get("operation") for entry in message.get("action_log") or [] if isinstance(entry, dict)
    ]
    return STATE_RELEASED if "QUARANTINE_RELEASE" in operations or "RELEASE" in operations else STATE_NOT_QUARANTINED


class MessageState:
    """What one GET said about a message: its quarantine state, the message, or why it could not be read."""

    __slots__ = ("state", "message", "error")

    def __init__(self, state, message=None, error=None):
        self.state = state
        self.message = message
        self.error = error


def read_message(client, account_id, message_id):
    """Return a MessageState; raise CloudflareError only for errors that stop the whole task."""
    try:
        response = client.get(investigate_path(account_id, message_id))
    except CloudflareError as exc:
        if exc.is_fatal:
            raise
        if exc.status == 404:
            return MessageState(STATE_NOT_FOUND, error="Cloudflare has no message with this id (HTTP 404)")
        return MessageState(STATE_UNREADABLE, error=exc.message)
    if not isinstance(response.result, dict):
        return MessageState(STATE_UNREADABLE, error="GET returned no message object")
    return message_state(response.result, "the answer")


def message_state(raw, source):
    """The MessageState of a message object, from a GET or a search; ``source`` names it in the error."""
    message = normalize_message(raw)
    state = quarantine_state(message)
    if state == STATE_UNDETERMINED:
        why = "%s does not establish whether it is quarantined (is_quarantined: %r, delivery_status: %r)"
        return MessageState(
            state, message=message, error=why % (source, raw.get("is_quarantined"), raw.get("delivery_status"))
        )
    return MessageState(state, message=message)


class KnownStates:
    """The states an ``email_security_message_info`` result read by id, standing in for a pre-check while fresh.

    A state is trusted at most ``max_age`` seconds after the reads began (``read_at``): a message someone else
    releases within that time would be released again, so the bound is short, and judged when the pre-check
    runs (after the account lock), not when the task starts. Only a state that settles the message is taken: one
    the result does not hold (not found, filtered out, undetermined) is read again.
    """

    def __init__(self, states, read_at, max_age):
        self._states = states
        self._read_at = read_at
        self._max_age = max_age

    @classmethod
    def from_result(cls, known, max_age):
        """KnownStates of a registered message_info result, or ValidationError saying what it lacks."""
        if not isinstance(known, dict) or not isinstance(known.get("messages"), list):
            raise ValidationError(
                "known_messages must be the registered result of an email_security_message_info task by "
                "message_ids (with its messages and read_at); got %s" % type(known).__name__
            )
        if not isinstance(known.get("read_at"), str):
            raise ValidationError(
                "known_messages has no read_at: register it from email_security_message_info 1.2.0 or later, "
                "which says when its reads began"
            )
        if max_age < 0:
            raise ValidationError("known_messages_max_age must be 0 or more seconds (got %r)" % max_age)
        read_at = date_time("known_messages.read_at", known["read_at"])[1]
        states = {}
        for message in known["messages"]:
            if not isinstance(message, dict) or not isinstance(message.get("id"), str):
                raise ValidationError(
                    "every item of known_messages.messages must be a message as email_security_message_info "
                    "returns it, with its id; got %r" % (message,)
                )
            state = quarantine_state(message)
            if state in (STATE_QUARANTINED, STATE_RELEASED, STATE_NOT_QUARANTINED):
                states[message["id"]] = MessageState(state, message=message)
        return cls(states, read_at, max_age)

    def fresh(self, message_ids, now=None):
        """{id: MessageState} of message_ids whose known state is still fresh; empty once it is not."""
        now = now or datetime.datetime.now(datetime.timezone.utc)
        age = (now - self._read_at).total_seconds()
        # A read_at in the future says the clocks disagree: nothing is known for sure then.
        if age > self._max_age or age < 0:
            return {}
        return {i: self._states[i] for i in message_ids if i in self._states}


def read_messages(client, account_id, message_ids, workers):
    """MessageStates for message_ids, in the same order, read on up to ``workers`` threads."""
    return run_in_order(lambda message_id: read_message(client, account_id, message_id), message_ids, workers)


MESSAGE_PARTS = ("trace", "action_log", "detections")
_ACTION_LOG_PAGE = 100


def read_message_part(client, account_id, message_id, part):
    """One of MESSAGE_PARTS of a message: its trace or detections (dicts), or its whole action log (a list, every
    page); raise CloudflareError when it cannot be read."""
    path = "%s/%s" % (investigate_path(account_id, message_id), part)
    if part != "action_log":
        result = client.get(path).result
        return result if isinstance(result, dict) else {}
    return numbered_pages(client, path, {}, _ACTION_LOG_PAGE)


def numbered_pages(client, path, params, per_page, max_pages=None):
    """Every object of a page-numbered listing (page=1, 2...), until its answers say the list ended, or max_pages
    pages were read. Cursor-paged searches use search_pages instead.

    The end is what the answer says, never a page shorter than the per_page asked for: a server may serve fewer
    per page (and a list that looked ended would hide, say, the bulk job a re-run must adopt instead of creating
    another). See _listing_ended.
    """
    items, seen, page = [], 0, 1
    while max_pages is None or page <= max_pages:
        response = client.get(path, params=dict(params, page=page, per_page=per_page))
        listed = response.result if isinstance(response.result, list) else []
        items.extend(item for item in listed if isinstance(item, dict))
        seen += len(listed)
        if _listing_ended(response.envelope.get("result_info"), len(listed), seen):
            break
        page += 1
    return items


def _listing_ended(info, on_page, seen):
    """True when a page-numbered answer says no page follows: it is empty, the total it announces was read, or it
    holds fewer items than the page size the server itself announces. Without such a word the next page is read.

    ``total_count`` counts only when above 0: the bulk listings' CursorResultInfo always sends 0 (deprecated).
    """
    if on_page == 0:
        return True
    info = info if isinstance(info, dict) else {}
    total, served_per_page = info.get("total_count"), info.get("per_page")
    if _is_count(total) and total > 0 and seen >= total:
        return True
    return _is_count(served_per_page) and on_page < served_per_page


def _is_count(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _same_origin(url, base_url):
    target, base = urlsplit(url), urlsplit(base_url)
    return (target.scheme, target.netloc) == (base.scheme, base.netloc)


def poll_url(location, base_url):
    """Where a 202's Location points. An absolute URL is taken as it is; a root-relative path that does not
    start with the base URL's path (``/client/v4``) is relative to the API, so it keeps that prefix."""
    base_path = urlsplit(base_url).path.rstrip("/")
    if (
        location.startswith("/")
        and not location.startswith("//")
        and base_path
        and not (location == base_path or location.startswith(base_path + "/") or location.startswith(base_path + "?"))
    ):
        location = base_path + location
    return urljoin(base_url + "/", location)


def _wait_for_search(client, path, response, poll_timeout, poll_interval, sleep):
    """Follow a 202 answer's Location until the search is ready; the credentials never leave base_url's host."""
    deadline = time.monotonic() + poll_timeout
    while response.status == 202:
        location = response.headers.get("Location")
        if not location:
            raise CloudflareError(
                "GET %s: HTTP 202 without a Location header to poll" % path, status=202, method="GET", path=path
            )
        url = poll_url(location, client.base_url)
        if not _same_origin(url, client.base_url):
            raise CloudflareError(
                "GET %s: HTTP 202 points at another host (%s); not following it with the credentials"
                % (path, urlsplit(url).netloc),
                status=202,
                method="GET",
                path=path,
            )
        if time.monotonic() + poll_interval > deadline:
            raise CloudflareError(
                "GET %s: the search was still running after poll_timeout (%s s); raise poll_timeout "
                "or narrow the search" % (path, poll_timeout),
                status=202,
                method="GET",
                path=path,
            )
        sleep(poll_interval)
        response = client.request("GET", path, url=url)
    return response


def search_params(filters, detections_only=True, per_page=100):
    """The query parameters of a search: the filters that are set, and the page size."""
    params = {name: value for name, value in filters.items() if value is not None}
    params["detections_only"] = "true" if detections_only else "false"
    params["per_page"] = per_page
    return params


def search_pages(client, account_id, params, poll_timeout=120.0, poll_interval=1.0, sleep=None):
    """Every page of a search, in order: follows 202 answers until ready and the cursor until it ends.

    A search that asks for ``LARGEST_SEARCH_PAGE`` asks for the contract's 1,000 records first and, once that page
    proves the search larger, for 10,000 a page from then on, as Cloudflare announced on 2026-03-15 (the contract
    still says 1,000); a server that refuses that with a 400 is asked for 1,000 for the rest of the task.
    """
    sleep = sleep or time.sleep
    path = investigate_path(account_id)
    params = dict(params)
    grow = params.get("per_page") == LARGEST_SEARCH_PAGE
    if grow:
        params["per_page"] = CONTRACT_SEARCH_PAGE
    while True:
        response = _wait_for_search(
            client, path, _page_answer(client, path, params), poll_timeout, poll_interval, sleep
        )
        yield response
        cursor = (response.envelope.get("result_info") or {}).get("next")
        if not cursor:
            return
        params["cursor"] = cursor
        if grow:
            params["per_page"] = client.search_page_size


def _page_answer(client, path, params):
    """The answer to one page's request. A page larger than the contract's that the server refuses (a 400, naming
    ``per_page`` or not: a server may refuse the cursor of a smaller page with a larger one) is asked again at the
    contract's size, which every later page of the task then asks for; a 400 for another cause fails that one too."""
    try:
        return client.get(path, params=params)
    except CloudflareError as exc:
        if not (exc.status == 400 and params["per_page"] > CONTRACT_SEARCH_PAGE):
            raise
        said = "; ".join(str(e.get("message", "")) for e in exc.errors if isinstance(e, dict)) or "HTTP 400"
    client.search_page_size = CONTRACT_SEARCH_PAGE
    client.say_at_v(
        "the search refused a page of %d records (%s); asking for the contract's %d for the rest of the task"
        % (params["per_page"], said, CONTRACT_SEARCH_PAGE)
    )
    params["per_page"] = CONTRACT_SEARCH_PAGE
    return client.get(path, params=params)


def wanted(message, quarantined_only):
    """Whether a message belongs in the answer: every message, or only those known to be quarantined."""
    return not quarantined_only or message["is_quarantined"] is True


def search_messages(client, account_id, params, limit=1000, quarantined_only=False, poll_timeout=120.0):
    """(messages, pages read, truncated): normalized messages of every page, filtered, at most ``limit``."""
    messages, seen, pages = [], set(), 0
    for response in search_pages(client, account_id, params, poll_timeout):
        pages += 1
        for raw in response.result or []:
            if not isinstance(raw, dict):
                continue
            message = normalize_message(raw)
            # A search over a changing index may serve a message on two pages.
            if not wanted(message, quarantined_only) or (message["id"] and message["id"] in seen):
                continue
            seen.add(message["id"])
            if len(messages) >= limit:
                return messages, pages, True
            messages.append(message)
        if len(messages) >= limit and (response.envelope.get("result_info") or {}).get("next"):
            return messages, pages, True
    return messages, pages, False
