# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What a message's EML says about who sent it and where its links go, read without rendering anything.

Python's ``email`` package splits the message, decodes its headers and parts and parses its addresses. Two header
values have no parser in the standard library: ``Authentication-Results`` (RFC 8601) and ``Received`` (RFC 5321),
so their values are split here by their grammars' separators, after the package has unfolded them. The HTML parts are
read by ``html.parser`` for their ``href`` and ``src`` attributes: nothing is rendered, fetched or run.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import email
import email.policy
import email.utils
import hashlib
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

MAX_LINK_DOMAINS = 100
# The headers that name who sent a message, as this report names them.
SENDER_HEADERS = (("from", "From"), ("sender", "Sender"), ("reply_to", "Reply-To"), ("return_path", "Return-Path"))
AUTHENTICATION_METHODS = ("spf", "dkim", "dmarc", "arc")
_URL_IN_TEXT = re.compile(r"""(?i)\b(?:https?|ftp)://[^\s<>"'()\[\]{}]+""")
_COMMENT = re.compile(r"\([^()]*\)")
_RECEIVED_FROM = re.compile(r"(?i)\bfrom\s+(\S+)")
_RECEIVED_BY = re.compile(r"(?i)\bby\s+(\S+)")
_IP_LITERAL = re.compile(r"\[(?:IPv6:)?([0-9A-Fa-f:.]+)\]")


def analyse_eml(raw):
    """What the EML ``raw`` (bytes) says: senders, authentication, Received hops, link domains, attachments."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    return dict(
        senders=_senders(message),
        authentication=_authentication(message),
        received=_received(message),
        links=_links(message),
        attachments=_attachments(message),
    )


def _header(message, name):
    """The header's first value, unfolded, or None; a header the package cannot parse is taken as text."""
    try:
        value = message.get(name)
    except (ValueError, TypeError, IndexError):
        return None
    return None if value is None else str(value)


def _address(message, name):
    value = _header(message, name)
    if value is None:
        return None
    address = email.utils.parseaddr(value)[1].strip().lower()
    return address or None


def domain_of(address):
    """The address's domain, lower case and without a trailing dot, or None."""
    if not address or "@" not in address:
        return None
    return address.rsplit("@", 1)[1].strip(".").lower() or None


def _aligned(domain, other):
    """The same domain, or one a subdomain of the other (DMARC's relaxed alignment without the public suffix list)."""
    return domain == other or domain.endswith("." + other) or other.endswith("." + domain)


def _senders(message):
    """Each sender header's address and domain, and the headers whose domain differs from From's."""
    addresses = {key: _address(message, name) for key, name in SENDER_HEADERS}
    domains = {key: domain_of(address) for key, address in addresses.items()}
    from_domain = domains["from"]
    mismatched = [
        key
        for key, dummy in SENDER_HEADERS[1:]
        if domains[key] and from_domain and not _aligned(domains[key], from_domain)
    ]
    return dict(
        addresses=addresses,
        domains=domains,
        from_name=_display_name(message),
        mismatched=mismatched,
        mismatch=bool(mismatched),
    )


def _display_name(message):
    value = _header(message, "From")
    return (email.utils.parseaddr(value)[0] or None) if value else None


def _authentication(message):
    """The verdicts of the topmost Authentication-Results header, the one the receiving server added.

    Headers further down were there before the message reached it, and a sender can forge those, so their
    verdicts are never taken; only how many there were is said.
    """
    headers = message.get_all("Authentication-Results") or []
    verdicts = dict.fromkeys(AUTHENTICATION_METHODS)
    authserv_id = None
    if headers:
        authserv_id, results = _parse_authentication_results(str(headers[0]))
        for method, result in results:
            if method in verdicts and verdicts[method] is None:
                verdicts[method] = result
    seals = [_parse_tags(str(seal)) for seal in message.get_all("ARC-Seal") or []]
    newest_seal = max(seals, key=lambda tags: _instance(tags.get("i")), default={})
    return dict(
        verdicts,
        authserv_id=authserv_id,
        arc_chain=len(seals),
        arc_seal=newest_seal.get("cv"),
        earlier_results_headers=max(len(headers) - 1, 0),
    )


def _parse_authentication_results(value):
    """(authserv-id, [(method, result)...]) of one Authentication-Results value (RFC 8601, section 2.2)."""
    text = _without_comments(value)
    parts = [part.strip() for part in text.split(";")]
    authserv_id = parts[0].split()[0] if parts and parts[0].split() else None
    results = []
    for resinfo in parts[1:]:
        method, separator, rest = resinfo.partition("=")
        if not separator or not rest.split():
            continue
        results.append((method.strip().split("/")[0].lower(), rest.split()[0].lower()))
    return authserv_id, results


def _parse_tags(value):
    """The tag=value list of an ARC-Seal (RFC 8617, as DKIM's tag lists)."""
    tags = {}
    for item in _without_comments(value).split(";"):
        name, separator, tag_value = item.partition("=")
        if separator:
            tags[name.strip().lower()] = tag_value.strip().lower()
    return tags


def _instance(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return 0


def _without_comments(value):
    """The value without its (comments), nested ones too (RFC 5322 CFWS)."""
    previous = None
    while previous != value:
        previous, value = value, _COMMENT.sub(" ", value)
    return value


def _received(message):
    """How many Received hops, and the first external one: who handed the message to the receiving server.

    The topmost Received header is the receiving server's own record, so its ``from`` is the sender's side.
    """
    hops = [str(value) for value in message.get_all("Received") or []]
    if not hops:
        return dict(hops=0, first_external=None)
    newest = hops[0].rsplit(";", 1)
    clauses = newest[0]
    from_host = _RECEIVED_FROM.search(clauses)
    by_host = _RECEIVED_BY.search(clauses)
    ip = _IP_LITERAL.search(clauses)
    return dict(
        hops=len(hops),
        first_external=dict(
            from_host=from_host.group(1).lower() if from_host else None,
            ip=ip.group(1) if ip else None,
            by_host=by_host.group(1).lower() if by_host else None,
            at=newest[1].strip() if len(newest) == 2 else None,
        ),
    )


class _LinkCollector(HTMLParser):
    """The URLs an HTML part points at (href, src, action), read as text: nothing is loaded or rendered."""

    def __init__(self):
        HTMLParser.__init__(self, convert_charrefs=True)
        self.urls = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src", "action", "formaction", "background") and value:
                self.urls.append(value.strip())

    def handle_data(self, data):
        self.urls.extend(_URL_IN_TEXT.findall(data))


def _text_parts(message):
    for part in message.walk():
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        if part.get_content_type() in ("text/plain", "text/html"):
            try:
                yield part.get_content_type(), part.get_content()
            except (LookupError, ValueError, AssertionError):
                yield part.get_content_type(), (part.get_payload(decode=True) or b"").decode("utf-8", "replace")


def _links(message):
    """The domains the message's links point at, in order of first appearance, at most MAX_LINK_DOMAINS."""
    urls = []
    for content_type, text in _text_parts(message):
        if content_type == "text/html":
            collector = _LinkCollector()
            collector.feed(text)
            collector.close()
            urls.extend(collector.urls)
        else:
            urls.extend(_URL_IN_TEXT.findall(text))
    domains = []
    for url in urls:
        domain = _url_domain(url)
        if domain and domain not in domains:
            domains.append(domain)
    return dict(
        count=len(urls),
        domains=domains[:MAX_LINK_DOMAINS],
        distinct_domains=len(domains),
        truncated=len(domains) > MAX_LINK_DOMAINS,
    )


def _url_domain(url):
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https", "ftp") or not host:
        return None
    return host.rstrip(".").lower()


def _attachments(message):
    attachments = []
    for part in message.walk():
        if part.is_multipart():
            continue
        name = part.get_filename()
        if part.get_content_disposition() != "attachment" and name is None:
            continue
        payload = part.get_payload(decode=True) or b""
        attachments.append(
            dict(
                name=name,
                content_type=part.get_content_type(),
                size=len(payload),
                sha256=hashlib.sha256(payload).hexdigest(),
            )
        )
    return attachments
