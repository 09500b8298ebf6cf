# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Allow policies and trusted domains: two settings lists of the same kind, kept as declared.

Each declared entry is matched to the list by its identity (pattern, and pattern type for allow policies); only
the fields that differ are patched, a missing entry is created, ``state: absent`` deletes every match. One change
goes to the entry's own endpoint; more go in atomic batch requests. Fields past their end of life (``is_sender``,
``is_recipient``, ``is_spoof``, ``last_modified``) are never sent, and are left out of what the modules return.

Expiry lives in the entry's ``comments``, after the person's text, as ``[mailsec.cloudflare expires_at=<RFC 3339
UTC>]``: machine-readable, visible in the dashboard, and kept by Cloudflare within the 1024 characters comments
may hold. Every change goes through the write engine (``_write/engine.py``): journalled, and after a lost answer settled by
reading the list again until it shows or ``settle_timeout`` has passed, never by sending it again meanwhile.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import ipaddress
import json
import re

from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import CloudflareError, ValidationError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._outcomes import outcome_summary
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.messages import date_time, numbered_pages
from ansible_collections.mailsec.cloudflare.plugins.module_utils._write.engine import (
    DONE,
    NOT_DONE,
    Seen,
    Stop,
    TaskPolicy,
)

COMMENTS_MAX_LENGTH = 1024
PATTERN_MAX_LENGTH = 1024
BATCH_SIZE = 1000
PAGE_SIZE = 1000
END_OF_LIFE_FIELDS = ("is_sender", "is_recipient", "is_spoof", "last_modified")
PATTERN_TYPES = ("EMAIL", "DOMAIN", "IP")
_EXPIRY = re.compile(r"\s*\[mailsec\.cloudflare expires_at=([^\]\s]+)\]\s*$")
_EXPIRY_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_TTL = re.compile(r"^(\d+)\s*([smhdw]?)$")
_TTL_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")

# The addresses the contract says Cloudflare refuses in an IP pattern (IPv4-mapped IPv6 ones are mapped first).
_REFUSED_NETWORKS = tuple(
    ipaddress.ip_network(block)
    for block in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "0.0.0.0/32",
        "255.255.255.255/32",
        "fc00::/7",
        "::1/128",
        "fe80::/10",
        "::/128",
    )
)

CREATED, UPDATED, DELETED, UNCHANGED = "created", "updated", "deleted", "unchanged"
_WOULD = {CREATED: "would_create", UPDATED: "would_update", DELETED: "would_delete", UNCHANGED: UNCHANGED}
ACTIONS = (CREATED, UPDATED, DELETED, UNCHANGED, "would_create", "would_update", "would_delete")


class SettingsKind:
    """What differs between the lists: path, flags with their defaults on create, and identity. ``contradicts``:
    the kind of list whose entry for the same pattern would contradict one of this list (a sender both allowed
    and blocked), checked before any change."""

    def __init__(self, name, segment, flags, typed, filters, entries_option, contradicts=None):
        self.name = name
        self.segment = segment
        self.flags = flags
        self.typed = typed
        self.filters = filters
        self.entries_option = entries_option
        self.contradicts = contradicts

    def path(self, account_id, entry_id=None):
        path = "/accounts/%s/email-security/settings/%s" % (account_id, self.segment)
        return path if entry_id is None else "%s/%s" % (path, entry_id)

    def identity(self, entry):
        return (entry.get("pattern"), entry.get("pattern_type") if self.typed else None)


ALLOW_POLICY = SettingsKind(
    "allow policy",
    "allow_policies",
    # The safe default for a false positive: exempt from Spam, Spoof and Bulk only, for authenticated mail only.
    flags=dict(
        is_acceptable_sender=True,
        is_trusted_sender=False,
        is_exempt_recipient=False,
        verify_sender=True,
        is_regex=False,
    ),
    typed=True,
    filters=("is_exempt_recipient", "is_trusted_sender", "is_acceptable_sender", "verify_sender"),
    entries_option="policies",
)
TRUSTED_DOMAIN = SettingsKind(
    "trusted domain",
    "trusted_domains",
    flags=dict(is_recent=True, is_similarity=False, is_regex=False),
    typed=False,
    filters=("is_recent", "is_similarity"),
    entries_option="domains",
)
BLOCKED_SENDER = SettingsKind(
    "blocked sender",
    "block_senders",
    flags=dict(is_regex=False),
    typed=True,
    filters=(),
    entries_option="senders",
    contradicts=ALLOW_POLICY,
)
ALLOW_POLICY.contradicts = BLOCKED_SENDER


# Expiry ----------------------------------------------------------------------------------------------------


def split_comments(comments):
    """(the person's text, the expiry moment or None) of stored comments."""
    text = comments or ""
    found = _EXPIRY.search(text)
    if not found:
        return text, None
    try:
        moment = date_time("expires_at", found.group(1))[1]
    except ValidationError:
        return text, None
    return text[: found.start()], moment


def join_comments(text, expires_at):
    """Comments as stored: the person's text, then the expiry marker; None when both are empty."""
    marker = "[mailsec.cloudflare expires_at=%s]" % expires_at.strftime(_EXPIRY_FORMAT) if expires_at else ""
    joined = " ".join(part for part in (text.strip(), marker) if part)
    return joined or None


def ttl_seconds(ttl):
    """Seconds of a ttl given as seconds or as a number with a unit (s, m, h, d, w)."""
    found = _TTL.match(str(ttl).strip().lower())
    seconds = int(found.group(1)) * _TTL_UNITS[found.group(2)] if found else 0
    if seconds <= 0:
        raise ValidationError(
            "ttl must be a positive duration: seconds, or a number with a unit s, m, h, d or w such as 30d (got %r)"
            % ttl
        )
    return seconds


class Expiry:
    """What a declared entry says about expiry: set a moment, remove it (``never``), keep it, or (``ttl``) set one
    only where none is running, so that a re-run does not push the expiry on."""

    def __init__(self, expires_at=None, ttl=None, now=None):
        if expires_at is not None and ttl is not None:
            raise ValidationError("give expires_at or ttl, not both")
        self.now = now or datetime.datetime.now(datetime.timezone.utc)
        self.remove = expires_at == "never"
        self.moment = None
        self.only_if_none = False
        if expires_at is not None and not self.remove:
            self.moment = date_time("expires_at", expires_at)[1].astimezone(datetime.timezone.utc)
            if self.moment <= self.now:
                raise ValidationError("expires_at (%s) is not in the future" % expires_at)
        elif ttl is not None:
            self.moment = self.now + datetime.timedelta(seconds=ttl_seconds(ttl))
            self.only_if_none = True

    def applied_to(self, current):
        """The expiry an entry should carry, given the one it carries."""
        if self.remove:
            return None
        if self.moment is None or (self.only_if_none and current is not None and current > self.now):
            return current
        return self.moment


# Declared entries ------------------------------------------------------------------------------------------


def _inferred_pattern_type(pattern):
    if "@" in pattern:
        return "EMAIL"
    try:
        ipaddress.ip_network(pattern, strict=False)
        return "IP"
    except ValueError:
        return "DOMAIN"


def _pattern_problem(pattern, pattern_type):
    if pattern_type == "EMAIL" and not _EMAIL.match(pattern):
        return "is not an email address"
    if pattern_type == "DOMAIN" and not _DOMAIN.match(pattern):
        return "is not a domain name"
    if pattern_type == "IP":
        try:
            network = ipaddress.ip_network(pattern, strict=False)
        except ValueError:
            return "is not an IPv4 or IPv6 address or CIDR block"
        address = getattr(network.network_address, "ipv4_mapped", None) or network.network_address
        if any(address in block for block in _REFUSED_NETWORKS if block.version == address.version):
            return (
                "is a private, unique-local, loopback, link-local, unspecified or broadcast address, which "
                "Cloudflare refuses"
            )
    return None


def _checked_pattern_text(pattern):
    if not isinstance(pattern, str) or not pattern.strip():
        raise ValidationError("pattern is required and must be a non-empty string")
    pattern = pattern.strip()
    if len(pattern) > PATTERN_MAX_LENGTH:
        raise ValidationError("pattern %r is longer than %d characters" % (pattern[:40], PATTERN_MAX_LENGTH))
    return pattern


def _checked_pattern_type(pattern_type, pattern):
    pattern_type = pattern_type or _inferred_pattern_type(pattern)
    if pattern_type not in PATTERN_TYPES:
        raise ValidationError("pattern_type must be one of %s (got %r)" % (", ".join(PATTERN_TYPES), pattern_type))
    return pattern_type


def _check_pattern_form(pattern, pattern_type, is_regex):
    if is_regex:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValidationError("pattern %r is not a valid regular expression: %s" % (pattern, exc)) from None
        return
    problem = _pattern_problem(pattern, pattern_type or "DOMAIN")
    if problem:
        raise ValidationError("pattern %r %s" % (pattern, problem))


class Declared:
    """One entry as the task declares it, checked before any request."""

    def __init__(self, kind, spec, now=None):
        self.kind = kind
        self.state = spec.get("state") or "present"
        self.only_expired = bool(spec.get("only_expired"))
        if self.only_expired and self.state != "absent":
            raise ValidationError("only_expired applies to state: absent only")
        self.pattern = _checked_pattern_text(spec.get("pattern"))
        self.flags = {name: spec.get(name) for name in kind.flags if spec.get(name) is not None}
        self.pattern_type = _checked_pattern_type(spec.get("pattern_type"), self.pattern) if kind.typed else None
        _check_pattern_form(self.pattern, self.pattern_type, self.flags.get("is_regex"))
        self.comments = spec.get("comments")
        self.expiry = Expiry(spec.get("expires_at"), spec.get("ttl"), now)
        if (
            self.comments is not None
            and len(join_comments(self.comments, self.expiry.moment) or "") > COMMENTS_MAX_LENGTH
        ):
            raise ValidationError(
                "comments of %s %r, with the expiry marker, exceed the %d characters Cloudflare keeps"
                % (kind.name, self.pattern, COMMENTS_MAX_LENGTH)
            )

    @property
    def key(self):
        """The entry's identity as the journal keeps it."""
        return json.dumps([self.pattern, self.pattern_type])

    @property
    def identity(self):
        return (self.pattern, self.pattern_type)

    def wanted(self, current):
        """The managed fields the entry should have, given the list's entry (None when there is none)."""
        text, expires = split_comments((current or {}).get("comments"))
        wanted = dict(pattern=self.pattern)
        if self.kind.typed:
            wanted["pattern_type"] = self.pattern_type
        for name, default in self.kind.flags.items():
            wanted[name] = self.flags.get(name, (current or {}).get(name, default))
        text = self.comments if self.comments is not None else text
        wanted["comments"] = join_comments(text, self.expiry.applied_to(expires))
        return wanted


def declared_entries(kind, params, now=None):
    """The declared entries of a task: its list option, each entry's missing keys taken from the task's own."""
    listed = params.get(kind.entries_option)
    shared = {name: value for name, value in params.items() if name != kind.entries_option and value is not None}
    if listed is None:
        return [Declared(kind, shared, now)]
    if not listed:
        raise ValidationError("%s is empty: give at least one entry" % kind.entries_option)
    entries = [Declared(kind, dict(shared, **{k: v for k, v in spec.items() if v is not None}), now) for spec in listed]
    seen = set()
    for entry in entries:
        if entry.identity in seen:
            raise ValidationError("%s names pattern %r twice" % (kind.entries_option, entry.pattern))
        seen.add(entry.identity)
    return entries


# The list as read ------------------------------------------------------------------------------------------


def entry_view(kind, entry):
    """An entry as the modules return it: without fields past their end of life, with its expiry."""
    view = {name: value for name, value in entry.items() if name not in END_OF_LIFE_FIELDS}
    expires = split_comments(entry.get("comments"))[1]
    view["expires_at"] = expires.strftime(_EXPIRY_FORMAT) if expires else None
    return view


def is_expired(entry, now):
    expires = split_comments(entry.get("comments"))[1]
    return expires is not None and expires <= now


def read_list(client, account_id, kind, filters, only_expired=False, now=None):
    """The list's entries the filters select, as the info modules return them, each with ``expired``."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    views = []
    for entry in list_entries(client, account_id, kind, filters):
        expired = is_expired(entry, now)
        if expired or not only_expired:
            views.append(dict(entry_view(kind, entry), expired=expired))
    return views


def _managed(kind, entry):
    """The fields of an entry the modules manage, as diffs show them; None for no entry."""
    if not entry:
        return None
    names = ("pattern",) + ("pattern_type",) * kind.typed + tuple(kind.flags) + ("comments",)
    return {name: entry.get(name) for name in names}


def _differs(name, current, wanted):
    if name == "comments":
        # No comments and empty comments are the same to a person; neither is worth a change.
        return (current or None) != (wanted or None)
    return current != wanted


def list_entries(client, account_id, kind, filters=None):
    """Every entry of the list the filters select, in creation order."""
    params = {"order": "created_at", "direction": "asc"}
    params.update((k, _query_value(v)) for k, v in (filters or {}).items() if v is not None)
    return numbered_pages(client, kind.path(account_id), params, PAGE_SIZE)


def _query_value(value):
    return ("true" if value else "false") if isinstance(value, bool) else value


# Keeping the list as declared ------------------------------------------------------------------------------


class _Change:
    def __init__(self, declared, action, entry_id=None, body=None, before=None, after=None):
        self.declared = declared
        self.action = action
        self.entry_id = entry_id
        self.body = body
        self.before = before
        self.after = after
        # The ray id of the answer that made the change; None when no request was answered for it.
        self.cf_ray = None


def _batch_body(changes):
    """One atomic batch request for several changes."""
    by_action = {CREATED: [], UPDATED: [], DELETED: []}
    for change in changes:
        by_action[change.action].append(change)
    return {
        "deletes": [{"id": c.entry_id} for c in by_action[DELETED]],
        "patches": [dict(c.body, id=c.entry_id) for c in by_action[UPDATED]],
        "puts": [],
        "posts": [c.body for c in by_action[CREATED]],
    }


class SettingsPolicy(TaskPolicy):
    """Bring declared entries of one list about: the settings change, as the write engine asks it. Its keys are the
    declared entries' identities; its pre-check reads the list and plans the changes; each request sends one change
    to its own endpoint, or several in an atomic batch; its observer is the list, read again and planned again.
    What it reports is per change, not per key: ``results()`` and ``diff()`` once the run is over."""

    noun = "change"
    consequence = "nothing was changed. Run again once it has finished"
    concurrency = 1

    def __init__(self, context, kind, declared, now=None):
        super(SettingsPolicy, self).__init__(context)
        self.kind = kind
        self.operation = kind.segment
        self.now = now or datetime.datetime.now(datetime.timezone.utc)
        self._declared = declared
        self.changes = []

    # The run's steps --------------------------------------------------------------------------------------

    def start(self, keys):
        return [item.key for item in self._declared]

    def settle_earlier(self, engine, keys):
        """What an earlier run left unsettled is settled first; the list is read afresh after it, so what it did
        shows in the plan."""
        engine.settle_earlier(self, keys)
        return {}, list(keys)

    def pre_check(self, keys):
        """Refuse contradictions, read the list and plan: the keys whose entries need a change."""
        self._refuse_contradictions(self._declared)
        self.changes = self._plan(self._declared, self._read(self._declared))
        return {}, list(dict.fromkeys(c.declared.key for c in self.changes if c.action != UNCHANGED))

    def batches(self, keys):
        """One request for a single change; else atomic batches of at most BATCH_SIZE changes, a declared entry's
        changes (the deletes of its duplicates) kept in one request."""
        batches, size = [], 0
        for key in keys:
            changes = len(self._changes([key]))
            if not batches or size + changes > BATCH_SIZE:
                batches.append([])
                size = 0
            batches[-1].append(key)
            size += changes
        return batches

    def results(self):
        return [self._result(change) for change in self.changes]

    def diff(self):
        return self._diff(self.kind, self.changes)

    def _read(self, declared, kind=None):
        kind = kind or self.kind
        if len(declared) == 1:
            filters = {"pattern": declared[0].pattern}
            if kind.typed:
                filters["pattern_type"] = declared[0].pattern_type
            return list_entries(self.client, self.account_id, kind, filters)
        return list_entries(self.client, self.account_id, kind)

    def _refuse_contradictions(self, declared):
        """Stop the task, before any change, when a present entry's pattern is in the contradicting list."""
        other = self.kind.contradicts
        present = [item for item in declared if item.state == "present"]
        if other is None or not present:
            return
        wanted = {item.identity for item in present}
        clashes = [e for e in self._read(present, other) if other.identity(e) in wanted]
        if clashes:
            raise CloudflareError(
                "%s; a sender cannot be both allowed and blocked. Nothing was changed: remove the %s first (state: absent), or leave "
                "the pattern out"
                % (
                    "; ".join(
                        "%s %r is %s %s already (id %s)"
                        % (
                            other.identity(e)[1],
                            e.get("pattern"),
                            "an" if other.name[0] in "aeiou" else "a",
                            other.name,
                            e.get("id"),
                        )
                        for e in clashes
                    ),
                    other.name,
                ),
                stops_task=True,
            )

    def _plan(self, declared, listed):
        by_identity = {}
        for entry in listed:
            by_identity.setdefault(self.kind.identity(entry), []).append(entry)
        changes = []
        for item in declared:
            matches = by_identity.get(item.identity, [])
            if item.state == "absent":
                changes.extend(self._plan_absent(item, matches))
            else:
                changes.append(self._plan_present(item, matches[0] if matches else None))
        return changes

    def _plan_absent(self, item, matches):
        doomed = [m for m in matches if not item.only_expired or is_expired(m, self.now)]
        if doomed:
            return [_Change(item, DELETED, m.get("id"), before=_managed(self.kind, m)) for m in doomed]
        current = matches[0] if matches else None
        kept = _managed(self.kind, current)
        return [_Change(item, UNCHANGED, (current or {}).get("id"), before=kept, after=kept)]

    def _plan_present(self, item, current):
        wanted = item.wanted(current)
        if current is None:
            body = {name: value for name, value in wanted.items() if value is not None}
            return _Change(item, CREATED, body=body, after=wanted)
        before = _managed(self.kind, current)
        differing = {name: value for name, value in wanted.items() if _differs(name, before.get(name), value)}
        return _Change(item, UPDATED if differing else UNCHANGED, current.get("id"), differing or None, before, wanted)

    # The settings policy: what the write engine asks of a change ------------------------------------------

    def _changes(self, keys):
        wanted = set(keys)
        return [change for change in self.changes if change.declared.key in wanted and change.action != UNCHANGED]

    def send(self, keys, on_send):
        changes = self._changes(keys)
        if len(changes) > 1:
            return self.client.post(self.kind.path(self.account_id) + "/batch", _batch_body(changes), on_send=on_send)
        change = changes[0]
        if change.action == CREATED:
            return self.client.post(self.kind.path(self.account_id), change.body, on_send=on_send)
        method, body = ("PATCH", change.body) if change.action == UPDATED else ("DELETE", None)
        path = self.kind.path(self.account_id, change.entry_id)
        return self.client.request(method, path, body=body, write=True, on_send=on_send)

    def answered(self, keys, response):
        changes = self._changes(keys)
        result = response.result if isinstance(response.result, dict) else {}
        if len(changes) > 1:
            posted = {self.kind.identity(e): e.get("id") for e in result.get("posts") or [] if isinstance(e, dict)}
        else:
            posted = {changes[0].declared.identity: result.get("id")}
        for change in changes:
            change.cf_ray = response.cf_ray
            if change.action == CREATED:
                change.entry_id = posted.get(change.declared.identity)
        return dict.fromkeys(keys), []

    def refused(self, keys, error):
        return dict.fromkeys(keys, Stop(error))

    def failed(self, keys, error):
        # The server answered, so it is done with the request: one read of the list decides.
        missing = [key for key, seen in zip(keys, self.observe(keys)) if seen.state != DONE]
        if missing:
            return dict.fromkeys(
                keys,
                Stop(
                    CloudflareError(
                        "%s; the %s list does not show the change, so it was not sent again. Run the task again: it "
                        "reads the list first and changes only what is still missing" % (error.message, self.kind.name),
                        status=error.status,
                        errors=error.errors,
                        method=error.method,
                        path=error.path,
                    )
                ),
            ), []
        return dict.fromkeys(keys), []

    def observe(self, keys):
        listed = self._read(self._declared)
        ids = {self.kind.identity(entry): entry.get("id") for entry in listed}
        still = {c.declared.key for c in self._plan(self._declared, listed) if c.action != UNCHANGED}
        by_key = {item.key: item for item in self._declared}
        return [Seen(NOT_DONE) if key in still else Seen(DONE, ids.get(by_key[key].identity)) for key in keys]

    def done(self, key, seen, cause, earlier):
        for change in self._changes([key]):
            if change.action == CREATED:
                change.entry_id = seen.evidence

    def pending(self, keys, cause):
        return dict.fromkeys(
            keys,
            Stop(
                CloudflareError(
                    "%s, and the %s list did not show the change before settle_timeout (%.0f s) had passed: it may still "
                    "land. Run the task again on this machine; it settles this first"
                    % (cause, self.kind.name, self.settle_timeout),
                    stops_task=True,
                )
            ),
        )

    def gave_up(self, keys, error, attempts):
        return dict.fromkeys(
            keys,
            Stop(
                CloudflareError(
                    "%s; the %s list did not show the change %.0f s after each of %d requests whose answers were lost, so "
                    "none of them was processed. Run the task again: it reads the list first and changes only what is "
                    "still missing" % (error.message, self.kind.name, self.settle_timeout, attempts),
                    status=error.status,
                    errors=error.errors,
                    method=error.method,
                    path=error.path,
                )
            ),
        )

    def settling_warning(self, keys, error):
        return (
            "%s. Reading the %s list until the change shows or settle_timeout (%.0f s) has passed since it was "
            "sent; it is not resent before then" % (error.message, self.kind.name, self.settle_timeout)
        )

    def earlier_warning(self, keys, cause):
        return (
            "%d %s change(s) of this task were in flight when an earlier run stopped; reading the list until they "
            "show or settle_timeout has passed, before anything is sent" % (len(keys), self.kind.name)
        )

    def _result(self, change):
        declared = change.declared
        after = change.after if change.action != DELETED else None
        expires = split_comments((after or {}).get("comments"))[1]
        return {
            "pattern": declared.pattern,
            "pattern_type": declared.pattern_type,
            "state": declared.state,
            "action": _WOULD[change.action] if self.check_mode else change.action,
            "id": change.entry_id,
            "cf_ray": change.cf_ray,
            "before": change.before,
            "after": after,
            "expires_at": expires.strftime(_EXPIRY_FORMAT) if expires else None,
        }

    @staticmethod
    def _diff(kind, changes):
        """One diff per entry, as Ansible's callbacks render a list of them: the managed fields before and after
        (``{}`` where there is no entry), under a header naming the entry."""
        diffs = []
        for change in changes:
            entry = change.before or change.after or {}
            label = "%s %s" % (kind.name, entry.get("pattern", change.declared.pattern))
            if kind.typed:
                label += " (%s)" % entry.get("pattern_type", change.declared.pattern_type)
            diffs.append(
                {
                    "before_header": label,
                    "after_header": label,
                    "before": change.before or {},
                    "after": {} if change.action == DELETED else change.after or {},
                }
            )
        return diffs


def settings_summary(results, requests_sent):
    return outcome_summary(results, "action", ACTIONS, requests_sent)
