# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The errors every layer raises and reads, in a module that imports nothing of the collection: what Cloudflare
answered (``CloudflareError``), a write whose outcome is unsure (``OutcomeUnknownError``), input refused before any
request (``ValidationError``), a state store that cannot be used (``StateStoreError``), a lock not had in time."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math

MALFORMED_AUTH_CODES = frozenset([6003, 6100, 6101, 6102, 6103, 6111])
BAD_CREDENTIAL_CODES = frozenset([1000, 9103])
NO_PERMISSION_CODES = frozenset([10000, 9109])
NO_ROUTE_CODES = frozenset([7003, 7000])
RATE_LIMITED_CODES = frozenset([971])
AUTH_ERROR_CODES = MALFORMED_AUTH_CODES | BAD_CREDENTIAL_CODES | NO_PERMISSION_CODES
ACCOUNT_ERROR_CODES = NO_ROUTE_CODES
# Statuses that refuse a request before it is processed: authentication, permission, no such route, rate limit.
_REFUSED_STATUSES = frozenset([401, 403, 405, 429])


class CloudflareError(Exception):
    """A failed API call: what Cloudflare said, never what we sent in headers."""

    def __init__(self, message, status=None, errors=None, method=None, path=None, stops_task=False, cf_ray=None):
        super(CloudflareError, self).__init__(message)
        self.message = message
        self.status = status
        self.errors = errors or []
        self.method = method
        self.path = path
        self._stops_task = stops_task
        # The ray id of Cloudflare's answer, the key its audit logs are found by; None when nothing answered.
        self.cf_ray = cf_ray

    @property
    def codes(self):
        return [error.get("code") for error in self.errors if isinstance(error, dict)]

    @property
    def is_fatal(self):
        """True when every further request of the task would fail the same way (or make a lockout longer)."""
        codes = set(self.codes)
        return (
            self._stops_task
            or self.status in (401, 403, 429)
            or bool(codes & AUTH_ERROR_CODES)
            or bool(codes & ACCOUNT_ERROR_CODES)
        )

    @property
    def refused_before_processing(self):
        """True when the answer proves the request was refused as a whole, so nothing of it took effect."""
        if self.status is None or self.status >= 500:
            return False
        return self.status in _REFUSED_STATUSES or self.is_fatal

    def amend(self, extra):
        """Add to the message, for context only the caller has."""
        self.message += extra
        self.args = (self.message,)
        return self

    def as_dict(self):
        return {
            "status": self.status,
            "errors": self.errors,
            "method": self.method,
            "path": self.path,
            "cf_ray": self.cf_ray,
        }

    @property
    def why_unsent(self):
        """Why an id this error stopped the task before sending was not sent, in a few words: the task's message
        says the whole of it once (a login refused for 500 ids is not printed 500 times)."""
        if self.status is not None:
            first = next((e for e in self.errors if isinstance(e, dict)), {})
            said = " [%s] %s" % (first.get("code"), first.get("message")) if first else ""
            return "the task stopped first on HTTP %s%s; its message says why" % (self.status, said)
        return self.message


class OutcomeUnknownError(CloudflareError):
    """A write reached the server, or may have, and it may have taken effect.

    ``answered`` is True when the server answered (an error status, or a 2xx it marked failed),
    so it has finished with the request; False when the answer was lost (timeout, dropped or
    broken connection) or came from a gateway (5xx), so the request may still be processed.
    ``result`` is whatever result the answer carried, for evidence of what was done.
    """

    def __init__(self, message, answered=False, result=None, **kwargs):
        super(OutcomeUnknownError, self).__init__(message, **kwargs)
        self.answered = answered
        self.result = result


class ValidationError(ValueError):
    """Input that cannot be right; found before any request is sent."""


def check_range(name, value, low, high=None):
    """value, or ValidationError when it is not a finite number from low to high."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError("%s must be a finite number (got %s)" % (name, value))
    if value is None or value < low or (high is not None and value > high):
        bounds = "from %s to %s" % (low, high) if high is not None else "at least %s" % low
        raise ValidationError("%s must be %s (got %s)" % (name, bounds, value))
    return value


class LockTimeoutError(Exception):
    """Another run held the account lock for longer than this run could wait."""


class StateStoreError(CloudflareError):
    """The state store cannot be used: nothing that depends on it (a write, a request from the budget) is sent."""

    def __init__(self, message):
        super(StateStoreError, self).__init__(message, stops_task=True)
