# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The account's settings lists: allow policies, trusted domains and blocked senders (page-numbered listing, create, get, replace,
patch, delete, and an atomic batch), each change in the ledger.

What the contract leaves to the server is decided the strict way, so that the simulator is never more forgiving
than Cloudflare: a field past its end of life is refused, UNKNOWN is refused as a pattern type, an EMAIL, DOMAIN
or IP pattern must have that form, and a second entry with the same pattern (and pattern type) is refused.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import ipaddress
import re
import uuid

from .api import _error

# Every deprecated request field of both lists is past its end of life (July 1 and November 1, 2026).
END_OF_LIFE_FIELDS = ("is_sender", "is_recipient", "is_spoof", "last_modified")
_READ_ONLY = ("id", "created_at", "modified_at", "last_modified")
_EMAIL = re.compile(r"^[^@\s]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?\.[A-Za-z]{2,}$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")


class Refused(Exception):
    """A change Cloudflare answers with a 4XX: (status, errors)."""

    def __init__(self, status, message, code=1001):
        super(Refused, self).__init__(message)
        self.status = status
        self.errors = [_error(code, message)]


def _now_text():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# What the contract says Cloudflare refuses in an IP pattern: private or unique-local, loopback, link-local,
# unspecified and IPv4 broadcast addresses, IPv4-mapped IPv6 forms included.
_REFUSED = tuple(
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


def _public_ip_pattern(pattern):
    try:
        network = ipaddress.ip_network(pattern, strict=False)
    except ValueError:
        return False
    address = getattr(network.network_address, "ipv4_mapped", None) or network.network_address
    return not any(address in block for block in _REFUSED if block.version == address.version)


class SettingsList:
    """One settings list of the account: its entries by id, in creation order."""

    def __init__(self, kind, boolean_filters, typed, record):
        self.kind = kind
        self.boolean_filters = boolean_filters
        self.typed = typed
        self.entries = {}
        self._record = record

    # Reading -------------------------------------------------------------------------------------------

    def listed(self, query):
        """The entries a listing's filters select, in the order it asks for."""

        def first(name):
            values = query.get(name)
            return values[0] if values else None

        entries = list(self.entries.values())
        for name in self.boolean_filters:
            if first(name) is not None:
                entries = [e for e in entries if e[name] == (first(name) == "true")]
        for name in ("pattern", "pattern_type"):
            if first(name) is not None:
                entries = [e for e in entries if e.get(name) == first(name)]
        if first("search"):
            needle = first("search").lower()
            entries = [e for e in entries if needle in e["pattern"].lower() or needle in (e["comments"] or "").lower()]
        order = first("order") or "created_at"
        entries.sort(key=lambda e: e[order], reverse=first("direction") == "desc")
        return [dict(e) for e in entries]

    def get(self, entry_id):
        entry = self.entries.get(entry_id)
        if entry is None:
            raise Refused(404, "%s %s not found" % (self.kind, entry_id), code=1404)
        return dict(entry)

    # Changing ------------------------------------------------------------------------------------------

    def create(self, body):
        entry = self._valid(body, dict(body))
        self._refuse_duplicate(entry, None)
        entry["id"] = str(uuid.uuid4())
        entry["created_at"] = entry["modified_at"] = entry["last_modified"] = _now_text()
        self.entries[entry["id"]] = entry
        self._record("settings_created", list=self.kind, id=entry["id"], entry=dict(entry))
        return dict(entry)

    def update(self, entry_id, body, replace=False):
        current = self.get(entry_id)
        if not body:
            raise Refused(400, "the update names no field to change")
        merged = self._valid(body, dict(body) if replace else dict(current, **body))
        self._refuse_duplicate(merged, entry_id)
        merged.update(id=entry_id, created_at=current["created_at"])
        merged["modified_at"] = merged["last_modified"] = _now_text()
        self.entries[entry_id] = merged
        changed = {name: merged.get(name) for name in body}
        self._record("settings_updated", list=self.kind, id=entry_id, fields=changed)
        return dict(merged)

    def delete(self, entry_id):
        self.get(entry_id)
        del self.entries[entry_id]
        self._record("settings_deleted", list=self.kind, id=entry_id)
        return {"id": entry_id}

    def batch(self, body):
        """Deletes, patches, puts, then posts, all or nothing."""
        saved = {key: dict(entry) for key, entry in self.entries.items()}
        try:
            result = {
                "deletes": [self.delete(item["id"]) for item in body["deletes"]],
                "patches": [self.update(item["id"], _without_id(item)) for item in body["patches"]],
                "puts": [self.update(item["id"], _without_id(item), replace=True) for item in body["puts"]],
                "posts": [self.create(item) for item in body["posts"]],
            }
        except Refused:
            self.entries = saved
            self._record("settings_batch_refused", list=self.kind)
            raise
        return result

    def _valid(self, sent, entry):
        """The entry as stored, or raise Refused: the checks Cloudflare makes beyond the schema."""
        sent_eol = [name for name in END_OF_LIFE_FIELDS if name in sent]
        if sent_eol:
            raise Refused(400, "field(s) past their end of life: %s" % ", ".join(sent_eol))
        for name in _READ_ONLY:
            entry.pop(name, None)
        pattern = entry.get("pattern", "")
        if self.typed:
            pattern_type = entry.get("pattern_type")
            if pattern_type == "UNKNOWN":
                raise Refused(400, "pattern_type UNKNOWN cannot be used when creating or updating a policy")
            if not entry.get("is_regex") and not _has_form(pattern, pattern_type):
                raise Refused(400, "pattern %r is not a valid %s pattern" % (pattern, pattern_type))
        elif not entry.get("is_regex") and not _DOMAIN.match(pattern):
            raise Refused(400, "pattern %r is not a domain name" % pattern)
        if entry.get("is_regex"):
            try:
                re.compile(pattern)
            except re.error:
                raise Refused(400, "pattern %r is not a valid regular expression" % pattern) from None
        entry.setdefault("comments", None)
        return entry

    def _refuse_duplicate(self, entry, own_id):
        identity = (entry["pattern"], entry.get("pattern_type"))
        for other in self.entries.values():
            if other["id"] != own_id and (other["pattern"], other.get("pattern_type")) == identity:
                raise Refused(
                    409, "pattern %r is in the %s list already (id %s)" % (entry["pattern"], self.kind, other["id"])
                )


def _without_id(item):
    return {name: value for name, value in item.items() if name != "id"}


def _has_form(pattern, pattern_type):
    if pattern_type == "EMAIL":
        return bool(_EMAIL.match(pattern))
    if pattern_type == "DOMAIN":
        return bool(_DOMAIN.match(pattern))
    return _public_ip_pattern(pattern)


def settings_lists(record):
    """The account's two lists, by the path segment that names them."""
    return {
        "allow_policies": SettingsList(
            "allow policy",
            ("is_exempt_recipient", "is_trusted_sender", "is_acceptable_sender", "verify_sender"),
            True,
            record,
        ),
        "trusted_domains": SettingsList("trusted domain", ("is_recent", "is_similarity"), False, record),
        "block_senders": SettingsList("blocked sender", (), True, record),
    }
