# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The connection options every module shares, and how they are resolved and checked.

Precedence: an explicit task argument, then ``module_defaults`` (Ansible merges both into the
module's parameters), then the environment. Credentials come from one source as a whole, so
a token in the environment never collides with an email + key pair given in the task.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re
from urllib.parse import urlsplit

from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import (
    ValidationError,
    check_range,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.client import (
    DEFAULT_BASE_URL,
    DEFAULT_MAX_RETRY_WAIT,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._write.engine import DEFAULT_SETTLE_TIMEOUT
from ansible_collections.mailsec.cloudflare.plugins.module_utils._state.local import (
    STATE_BACKENDS,
    state_directory,
)

ENV_ACCOUNT_ID = "CLOUDFLARE_ACCOUNT_ID"
ENV_API_TOKEN = "CLOUDFLARE_API_TOKEN"
ENV_API_EMAIL = "CLOUDFLARE_EMAIL"
ENV_API_KEY = "CLOUDFLARE_API_KEY"
ENV_BASE_URL = "CLOUDFLARE_BASE_URL"
ENV_STATE_BACKEND = "MAILSEC_CLOUDFLARE_STATE_BACKEND"
ENV_STATE_DSN = "MAILSEC_CLOUDFLARE_STATE_DSN"
DEFAULT_TASK_TIMEOUT = 3600.0
DEFAULT_CONCURRENCY = 4
# The most ids one release or move request carries.
MAX_BATCH_SIZE = 1000


class Option:
    """One connection option: its Ansible type and default, and, for numbers, the range it must lie in."""

    def __init__(self, name, kind, default=None, no_log=False, low=None, high=None, choices=None):
        self.name = name
        self.kind = kind
        self.default = default
        self.no_log = no_log
        self.low = low
        self.high = high
        self.choices = choices

    def spec(self):
        spec = dict(type=self.kind)
        if self.default is not None:
            spec["default"] = self.default
        if self.choices is not None:
            spec["choices"] = list(self.choices)
        if self.no_log:
            spec["no_log"] = True
        return spec


# The one table of connection options: the argument spec, the defaults and the numeric ranges come from it.
OPTIONS = (
    Option("account_id", "str"),
    Option("api_token", "str", no_log=True),
    Option("api_email", "str"),
    Option("api_key", "str", no_log=True),
    Option("base_url", "str"),
    Option("timeout", "float", DEFAULT_TIMEOUT, low=0.1),
    Option("task_timeout", "float", DEFAULT_TASK_TIMEOUT, low=1),
    Option("validate_certs", "bool", True),
    Option("ca_path", "path"),
    Option("retries", "int", DEFAULT_RETRIES, low=0, high=10),
    Option("max_retry_wait", "float", DEFAULT_MAX_RETRY_WAIT, low=0),
    # Unset: Cloudflare's own announcement governs (DEFAULT_RATE_LIMIT while it announces nothing). Cloudflare's
    # default quota is 1200 per 5 minutes; higher values are for raised limits.
    Option("rate_limit", "int", None, low=1, high=100000),
    Option("concurrency", "int", DEFAULT_CONCURRENCY, low=1, high=32),
    Option("state_dir", "path"),
    Option("state_backend", "str", choices=STATE_BACKENDS),
    Option("state_dsn", "str", no_log=True),
    Option("allow_insecure", "bool", False),
)
CONNECTION_ARGUMENT_SPEC = {option.name: option.spec() for option in OPTIONS}

# The one table of write options, documented once in the ``write`` doc fragment: each writing module takes those it
# names, with this type, default and range.
WRITE_OPTIONS = {
    option.name: option
    for option in (
        Option("settle_timeout", "float", DEFAULT_SETTLE_TIMEOUT, low=1, high=3600),
        Option("fail_on_incomplete", "bool", True),
        Option("batch_size", "int", MAX_BATCH_SIZE, low=1, high=MAX_BATCH_SIZE),
        Option("max_messages", "int", None, low=1),
    )
}


def write_argument_spec(names):
    """The argument spec of the write options ``names``."""
    return {name: WRITE_OPTIONS[name].spec() for name in names}


def check_write_options(params, names):
    """ValidationError, before any request, for a write option out of its range."""
    for name in names:
        option = WRITE_OPTIONS[name]
        if option.low is not None and params[name] is not None:
            check_range(name, params[name], option.low, option.high)


CONNECTION_MUTUALLY_EXCLUSIVE = [("api_token", "api_key"), ("api_token", "api_email")]
CONNECTION_REQUIRED_TOGETHER = [("api_email", "api_key")]

_ACCOUNT_ID = re.compile(r"^[0-9a-fA-F]{32}$")
# Cloudflare's API tokens are 40 characters and global API keys 37; the bounds leave room for new
# formats while refusing what no credential is (and what Ansible's masking would mangle results with).
MIN_CREDENTIAL_LENGTH = 20
MAX_CREDENTIAL_LENGTH = 256
_CREDENTIAL = re.compile(r"^[\x21-\x7e]+$")


def check_credential(value, where, notices):
    """The credential ready for a header, or ValidationError naming where it came from; never shows the value.

    One trailing line break (a vault string made with ``echo``, a file read with ``lookup('file')``) is
    removed with a notice; anything else a header cannot carry, or no Cloudflare credential holds, is refused.
    """
    stripped = value[:-2] if value.endswith("\r\n") else value[:-1] if value.endswith("\n") else value
    if stripped != value:
        notices.append("%s ended with a line break, which was removed; store the credential without it" % where)
    if not _CREDENTIAL.fullmatch(stripped):
        kinds = [
            kind
            for kind, pattern in (
                ("whitespace", r"\s"),
                ("control characters", r"[\x00-\x1f\x7f]"),
                ("non-ASCII characters", r"[^\x00-\x7f]"),
            )
            if re.search(pattern, stripped)
        ]
        raise ValidationError(
            "%s contains %s, which no Cloudflare credential holds; check how it is stored "
            "(the value is not shown)" % (where, " and ".join(kinds) or "nothing")
        )
    if not MIN_CREDENTIAL_LENGTH <= len(stripped) <= MAX_CREDENTIAL_LENGTH:
        raise ValidationError(
            "%s is %d characters long; Cloudflare API tokens and keys have %d to %d (the value is "
            "not shown)" % (where, len(stripped), MIN_CREDENTIAL_LENGTH, MAX_CREDENTIAL_LENGTH)
        )
    return stripped


def _is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url_parts(base_url, source, fix):
    """The parts of a base URL that is one http(s) URL the API paths can be added to; ValidationError otherwise."""
    blank = re.search(r"[\s\x00-\x1f\x7f]", base_url)
    if blank:
        raise ValidationError(
            "%s holds %s at character %d of %d: a URL has no white space or control character (is something "
            "pasted after it?); %s. The URL is not shown"
            % (
                source,
                "a space" if blank.group() == " " else "a control character",
                blank.start() + 1,
                len(base_url),
                fix,
            )
        )
    if not re.match(r"^https?://[^/]+", base_url, re.IGNORECASE):
        raise ValidationError(
            "%s must be an http(s) URL starting with https://; %s. The URL is not shown" % (source, fix)
        )
    parts = urlsplit(base_url)
    if parts.query or parts.fragment or base_url.endswith(("?", "#")):
        raise ValidationError(
            "%s must not hold a query or fragment (?... or #...): the API paths are added after it; %s" % (source, fix)
        )
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is not None and not 1 <= port <= 65535:
        raise ValidationError("%s has a port that is not a number from 1 to 65535; %s" % (source, fix))
    return parts


def check_base_url(base_url, validate_certs, allow_insecure, notices, source="base_url"):
    """The base URL, refused when it is not one URL, carries credentials, or would send them unprotected to another
    host. ``source`` names where it came from: the option, or the environment variable."""
    named = "the %s %s" % (source, "option" if source == "base_url" else "environment variable")
    parts = _url_parts(base_url, source, "set %s to a URL such as %s" % (named, DEFAULT_BASE_URL))
    check = "check %s" % named
    if parts.username is not None or parts.password is not None:
        raise ValidationError(
            "base_url must not hold a user name or password (user:password@host); the API token "
            "is the only credential sent (%s). The URL is not shown" % check
        )
    insecure = [
        what
        for what, present in (("plain http://", parts.scheme == "http"), ("validate_certs=false", not validate_certs))
        if present
    ]
    if insecure and not _is_loopback(parts.hostname or ""):
        if not allow_insecure:
            raise ValidationError(
                "%s towards %s would expose the API token to anyone on the path; use https:// with "
                "certificate validation, or set allow_insecure=true if this is really meant"
                % (" and ".join(insecure), parts.hostname)
            )
        notices.append(
            "allow_insecure: %s towards %s; the API token is not protected in transit"
            % (" and ".join(insecure), parts.hostname)
        )
    return base_url


def _in_range(option, value):
    """value, checked against the option's range; None for an option without a default that is not set."""
    if value is None and option.default is None:
        return None
    return check_range(option.name, value, option.low, option.high)


def resolve_connection(params, environ, notices=None):
    """Return the settings the client needs, or raise ValidationError naming the option and variable to fix.

    Things the user should know but that do not stop the task are appended to ``notices``.
    """
    notices = [] if notices is None else notices
    settings = {
        option.name: _in_range(option, params.get(option.name, option.default))
        for option in OPTIONS
        if option.low is not None
    }
    settings.update(_credentials(params, environ, notices))
    account_id = _account_id(_trimmed(params, environ, "account_id", ENV_ACCOUNT_ID, notices)[0])
    base_url, base_url_source = _trimmed(params, environ, "base_url", ENV_BASE_URL, notices)
    settings.update(
        account_id=account_id,
        base_url=check_base_url(
            base_url or DEFAULT_BASE_URL,
            params.get("validate_certs", True),
            params.get("allow_insecure", False),
            notices,
            base_url_source if base_url else "base_url",
        ),
        validate_certs=params.get("validate_certs", True),
        ca_path=params.get("ca_path"),
        state_dir=state_directory(params.get("state_dir"), environ),
    )
    settings.update(_state_backend(params, environ, notices))
    return settings


def _state_backend(params, environ, notices):
    """state_backend and state_dsn: each the option, else its environment variable; the DSN is never shown."""
    backend = params.get("state_backend") or environ.get(ENV_STATE_BACKEND) or "local"
    if backend not in STATE_BACKENDS:
        raise ValidationError(
            "state_backend (or %s) must be one of %s (got %r)" % (ENV_STATE_BACKEND, ", ".join(STATE_BACKENDS), backend)
        )
    dsn = params.get("state_dsn") or environ.get(ENV_STATE_DSN)
    if backend == "postgresql" and not (dsn and dsn.strip()):
        raise ValidationError(
            "state_backend postgresql needs a database: set state_dsn or %s to a libpq connection URI such as "
            "postgresql://mailsec@db.example:5432/mailsec (the password from a credential, or PGPASSWORD / "
            "~/.pgpass)" % ENV_STATE_DSN
        )
    if backend == "local" and dsn:
        notices.append(
            "state_dsn is set but state_backend is local: the journal, lock and budget stay in state_dir on this "
            "machine; set state_backend postgresql (or %s) to share them" % ENV_STATE_BACKEND
        )
    return dict(state_backend=backend, state_dsn=dsn.strip() if backend == "postgresql" else None)


def _trimmed(params, environ, name, env_name, notices):
    """(the option's value, else its environment variable's, whitespace around it removed with a notice; which of
    the two it came from).

    A value pasted from a console or read from a file often carries a line break; it is not part of the value.
    """
    value, where = params.get(name), name
    if not value:
        value, where = environ.get(env_name), env_name
    if value and value != value.strip():
        notices.append("%s had whitespace or a line break around it, which was removed; store it without" % where)
        value = value.strip()
    return value, where


def _account_id(value):
    if not value:
        raise ValidationError(
            "no account id: set the account_id option or the %s environment variable" % ENV_ACCOUNT_ID
        )
    if not _ACCOUNT_ID.fullmatch(value):
        # YAML reads an unquoted all-digit id as a number and drops its leading zeros.
        number = "; it was read as a number (YAML drops leading zeros): quote it" if value.isdigit() else ""
        raise ValidationError(
            "account_id must be the 32-character hexadecimal Cloudflare account identifier "
            "(got %d characters%s); check the account_id option or %s" % (len(value), number, ENV_ACCOUNT_ID)
        )
    return value.lower()


def _credential_source(params, environ):
    """(token, email, key, where the token came from, where the key came from): the task (and module_defaults) as
    a whole, else the environment, so a token in the environment never collides with a key pair given in the task."""
    token, email, key = params.get("api_token"), params.get("api_email"), params.get("api_key")
    if token or email or key:
        return token, email, key, "api_token", "api_key"
    token = environ.get(ENV_API_TOKEN)
    from_environment = "the %s environment variable"
    if token:
        return token, None, None, from_environment % ENV_API_TOKEN, None
    return None, environ.get(ENV_API_EMAIL), environ.get(ENV_API_KEY), None, from_environment % ENV_API_KEY


def _credentials(params, environ, notices):
    """api_token, or api_email + api_key, from one source; which combinations are refused is one rule."""
    token, email, key, token_source, key_source = _credential_source(params, environ)
    if token and (email or key):
        raise ValidationError("give either api_token or api_email + api_key, not both")
    if token:
        return dict(api_token=check_credential(token, token_source, notices), api_email=None, api_key=None)
    if email and key:
        if re.search(r"[\s\x00-\x1f\x7f]", email):
            raise ValidationError("api_email (%s) contains whitespace or control characters" % ENV_API_EMAIL)
        return dict(api_token=None, api_email=email, api_key=check_credential(key, key_source, notices))
    if email or key:
        raise ValidationError(
            "the legacy global API key needs both api_email and api_key (%s and %s); an API token "
            "(api_token, %s) is preferred" % (ENV_API_EMAIL, ENV_API_KEY, ENV_API_TOKEN)
        )
    raise ValidationError(
        "no credentials: set api_token or the %s environment variable (an API token with 'Cloud "
        "Email Security: Write'), or the legacy api_email + api_key (%s, %s)"
        % (ENV_API_TOKEN, ENV_API_EMAIL, ENV_API_KEY)
    )
