# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The API's fixed parts: path prefix, default account and credentials, routes, the envelope."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

API_PREFIX = "/client/v4"
DEFAULT_ACCOUNT_ID = "023e105f4ecef8ad9ca31a8372d0c353"
DEFAULT_TOKEN = "sim-token-write-5f1c0d2e9a7b4c3d"
DEFAULT_READ_ONLY_TOKEN = "sim-token-read-0a9b8c7d6e5f4a3b"
DEFAULT_EMAIL = "secops@example.com"
DEFAULT_KEY = "0123456789abcdef0123456789abcdef01234"
DETECTIONS = ("MALICIOUS", "MALICIOUS-BEC", "SUSPICIOUS", "SPOOF", "SPAM", "BULK")
_RELEASE = re.compile(r"^/accounts/([^/]+)/email-security/investigate/release$")
_MESSAGE = re.compile(r"^/accounts/([^/]+)/email-security/investigate/([^/]+)$")
_SEARCH = re.compile(r"^/accounts/([^/]+)/email-security/investigate$")
_MOVE = re.compile(r"^/accounts/([^/]+)/email-security/investigate/move$")
_MESSAGE_MOVE = re.compile(r"^/accounts/([^/]+)/email-security/investigate/([^/]+)/move$")
_SUBMISSIONS = re.compile(r"^/accounts/([^/]+)/email-security/submissions$")
_MONTHLY_REPORT = re.compile(r"^/accounts/([^/]+)/email-security/analytics/monthly_report$")
_PHISHGUARD = re.compile(r"^/accounts/([^/]+)/email-security/phishguard/reports$")
_MESSAGE_PART = re.compile(
    r"^/accounts/([^/]+)/email-security/investigate/([^/]+)/(trace|action_log|detections|preview|raw)$"
)
_MAILBOX_PREVIEW = re.compile(r"^/accounts/([^/]+)/email-security/investigate/preview$")
_BULK = re.compile(r"^/accounts/([^/]+)/email-security/investigate/bulk$")
_BULK_JOB = re.compile(r"^/accounts/([^/]+)/email-security/investigate/bulk/([^/]+)$")
_BULK_CANCEL = re.compile(r"^/accounts/([^/]+)/email-security/investigate/bulk/([^/]+)/cancel$")
_BULK_MESSAGES = re.compile(r"^/accounts/([^/]+)/email-security/investigate/bulk/([^/]+)/messages$")
_SETTINGS = re.compile(r"^/accounts/([^/]+)/email-security/settings/(allow_policies|trusted_domains|block_senders)$")
_SETTINGS_BATCH = re.compile(
    r"^/accounts/([^/]+)/email-security/settings/(allow_policies|trusted_domains|block_senders)/batch$"
)
_SETTINGS_ENTRY = re.compile(
    r"^/accounts/([^/]+)/email-security/settings/(allow_policies|trusted_domains|block_senders)/([^/]+)$"
)
# (endpoint name, path pattern, method), most specific first: GET .../investigate/bulk is not a message.
ROUTES = (
    ("release", _RELEASE, "POST"),
    ("move", _MOVE, "POST"),
    ("mailbox_preview", _MAILBOX_PREVIEW, "POST"),
    ("message_move", _MESSAGE_MOVE, "POST"),
    ("bulk_list", _BULK, "GET"),
    ("bulk_create", _BULK, "POST"),
    ("bulk_cancel", _BULK_CANCEL, "POST"),
    ("bulk_messages", _BULK_MESSAGES, "GET"),
    ("bulk_get", _BULK_JOB, "GET"),
    ("bulk_delete", _BULK_JOB, "DELETE"),
    ("search", _SEARCH, "GET"),
    ("get", _MESSAGE, "GET"),
    ("message_part", _MESSAGE_PART, "GET"),
    ("submit", _SUBMISSIONS, "POST"),
    ("submissions", _SUBMISSIONS, "GET"),
    ("monthly_report", _MONTHLY_REPORT, "GET"),
    ("phishguard_reports", _PHISHGUARD, "GET"),
    ("settings_list", _SETTINGS, "GET"),
    ("settings_create", _SETTINGS, "POST"),
    ("settings_batch", _SETTINGS_BATCH, "POST"),
    ("settings_get", _SETTINGS_ENTRY, "GET"),
    ("settings_replace", _SETTINGS_ENTRY, "PUT"),
    ("settings_patch", _SETTINGS_ENTRY, "PATCH"),
    ("settings_delete", _SETTINGS_ENTRY, "DELETE"),
)
WRITE_ENDPOINTS = (
    "release",
    "move",
    "message_move",
    # The contract lets only a Write token render a preview from the mailbox.
    "mailbox_preview",
    "bulk_create",
    "bulk_cancel",
    "bulk_delete",
    "submit",
    "settings_create",
    "settings_batch",
    "settings_replace",
    "settings_patch",
    "settings_delete",
)
_HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")


def _error(code, message, chain=None):
    error = {"code": code, "message": message}
    if chain:
        error["error_chain"] = chain
    return error


RATE_LIMITED = _error(971, "Please wait and consider throttling your request speed")
# Cloudflare keeps a detection preview and the EML only of a message with a detection; the code is the simulator's.
NO_DETECTION = _error(1004, "This message has no detection: no preview or raw EML is kept for it")
# The contract says the mailbox preview works only while the message is in the recipient's Inbox.
NOT_IN_INBOX = _error(1005, "The message is no longer in the recipient's Inbox: no preview can be rendered from it")
# The contract says only that moves require an active integration and answer a 4XX; the code is the simulator's.
NO_INTEGRATION = _error(
    1012, "Requires active integration: this account has no mailbox integration (Microsoft 365 or Google Workspace)"
)


def envelope(result=None, errors=None, messages=None, success=None, **extra):
    body = {
        "success": not errors if success is None else success,
        "errors": errors or [],
        "messages": messages or [],
        "result": result,
    }
    body.update(extra)
    return body
