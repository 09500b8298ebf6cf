# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Reading and searching Investigate messages: GET by id, search with cursor paging and 202 polling."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import time

try:
    from urllib.parse import quote, urljoin, urlsplit
except ImportError:  # pragma: no cover - Python 2 is not supported; keeps the import sanity test quiet
    quote = urljoin = urlsplit = None

from ansible_collections.mailsec.cloudflare.plugins.module_utils._client import CloudflareError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._concurrency import run_in_order

SEARCH_FILTERS = ("query", "sender", "recipient", "subject", "domain", "message_id", "alert_id",
                  "final_disposition", "delivery_status", "message_action", "start", "end")
_LIST_FIELDS = ("to", "client_recipients", "delivery_status", "post_delivery_operations")
_TEXT_FIELDS = ("from", "subject", "sent_date", "final_disposition", "alert_id", "message_id", "postfix_id")

# Quarantine states, as shown in results and diffs.
QUARANTINED = "quarantined"
RELEASED = "released"
NOT_FOUND = "not_found"
UNREADABLE = "unreadable"


def investigate_path(account_id, message_id=None):
    path = "/accounts/%s/email-security/investigate" % account_id
    if message_id is not None:
        # Ids are validated to hold no URL syntax; quoting still keeps any odd byte literal.
        path += "/" + quote(message_id, safe="-:._~+@=")
    return path


def normalize_message(raw):
    """A message dict with every documented field present: lists never null, flags always boolean."""
    message = dict(raw)
    message["id"] = raw.get("id") or raw.get("postfix_id")
    message["is_quarantined"] = bool(raw.get("is_quarantined"))
    for field in _LIST_FIELDS:
        value = raw.get(field)
        message[field] = list(value) if isinstance(value, (list, tuple)) else ([] if value is None else [value])
    for field in _TEXT_FIELDS:
        message.setdefault(field, None)
    return message


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
            return MessageState(NOT_FOUND, error="Cloudflare has no message with this id (HTTP 404)")
        return MessageState(UNREADABLE, error=exc.message)
    raw = response.result
    if not isinstance(raw, dict):
        return MessageState(UNREADABLE, error="GET returned no message object")
    message = normalize_message(raw)
    return MessageState(QUARANTINED if message["is_quarantined"] else RELEASED, message=message)


def read_messages(client, account_id, message_ids, workers):
    """MessageStates for message_ids, in the same order, read on up to ``workers`` threads."""
    return run_in_order(lambda message_id: read_message(client, account_id, message_id), message_ids, workers)


def _same_origin(url, base_url):
    target, base = urlsplit(url), urlsplit(base_url)
    return (target.scheme, target.netloc) == (base.scheme, base.netloc)


def _wait_for_search(client, path, response, poll_timeout, poll_interval, sleep):
    """Follow a 202 answer's Location until the search is ready; the credentials never leave base_url's host."""
    deadline = time.monotonic() + poll_timeout
    while response.status == 202:
        location = response.headers.get("Location")
        if not location:
            raise CloudflareError("GET %s: HTTP 202 without a Location header to poll" % path, status=202,
                                  method="GET", path=path)
        url = urljoin(client.base_url + "/", location)
        if not _same_origin(url, client.base_url):
            raise CloudflareError("GET %s: HTTP 202 points at another host (%s); not following it with the credentials"
                                  % (path, urlsplit(url).netloc), status=202, method="GET", path=path)
        if time.monotonic() + poll_interval > deadline:
            raise CloudflareError("GET %s: the search was still running after poll_timeout (%s s); raise poll_timeout "
                                  "or narrow the search" % (path, poll_timeout), status=202, method="GET", path=path)
        sleep(poll_interval)
        response = client.request("GET", path, url=url)
    return response


def search_messages(client, account_id, filters, detections_only=True, limit=1000, per_page=100,
                    quarantined_only=False, poll_timeout=120.0, poll_interval=1.0, sleep=None):
    """Search and page through results with the cursor; return (messages, pages_read, truncated)."""
    sleep = sleep or time.sleep
    path = investigate_path(account_id)
    params = dict((name, value) for name, value in filters.items() if value is not None)
    params["detections_only"] = "true" if detections_only else "false"
    params["per_page"] = per_page
    messages = []
    pages = 0
    while True:
        response = _wait_for_search(client, path, client.get(path, params=params), poll_timeout, poll_interval, sleep)
        pages += 1
        for raw in response.result or []:
            if not isinstance(raw, dict):
                continue
            message = normalize_message(raw)
            if quarantined_only and not message["is_quarantined"]:
                continue
            if len(messages) >= limit:
                return messages, pages, True
            messages.append(message)
        cursor = (response.envelope.get("result_info") or {}).get("next")
        if not cursor:
            return messages, pages, False
        if len(messages) >= limit:
            return messages, pages, True
        params["cursor"] = cursor
