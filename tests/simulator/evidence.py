# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A message's evidence as Cloudflare serves it: a real PNG screenshot, and the EML the message was built from.

What the EML says is the message's own ``evidence`` (a seed's ``evidence`` key, or the defaults): its
authentication verdicts, Reply-To and Return-Path, body, links and attachments, so that a test can vary each.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import email.message
import email.utils
import hashlib
import html
import struct
import zlib

DEFAULT_EVIDENCE = {
    "spf": "pass",
    "dkim": "pass",
    "dmarc": "pass",
    "reply_to": None,
    "return_path": None,
    "from_name": None,
    "links": None,
    "text": None,
    "html": None,
    "attachments": [],
    "received_from": None,
}
# The receiving server's name in the Authentication-Results and Received headers it adds.
RECEIVER = "mx.email-security.cloudflare.example"


def evidence_of(message):
    """The message's evidence settings, each default filled in from the message."""
    settings = dict(DEFAULT_EVIDENCE, **(message.evidence or {}))
    domain = message.sender_domain
    if settings["links"] is None:
        settings["links"] = ["https://www.%s/account" % domain]
    if settings["return_path"] is None:
        settings["return_path"] = "bounces@%s" % domain
    if settings["received_from"] is None:
        settings["received_from"] = ["mail.%s" % domain, "198.51.100.%d" % (_number(message.id) % 250 + 1)]
    return settings


def raw_eml(message):
    """The message as the UTF-8 EML text Cloudflare's GET .../raw serves."""
    settings = evidence_of(message)
    eml = email.message.EmailMessage()
    host, ip = settings["received_from"]
    date = email.utils.format_datetime(message.sent_at) if message.sent_date else "Thu, 1 Jan 2026 00:00:00 +0000"
    eml["Received"] = "from %s (%s [%s]) by %s with ESMTPS id %s; %s" % (
        host,
        host,
        ip,
        RECEIVER,
        message.postfix_id,
        date,
    )
    eml["Received"] = "from [10.0.0.7] (unknown [10.0.0.7]) by %s with ESMTPSA; %s" % (host, date)
    eml["Authentication-Results"] = "%s; spf=%s smtp.mailfrom=%s; dkim=%s header.d=%s; dmarc=%s header.from=%s" % (
        RECEIVER,
        settings["spf"],
        settings["return_path"],
        settings["dkim"],
        message.sender_domain,
        settings["dmarc"],
        message.sender_domain,
    )
    eml["Return-Path"] = "<%s>" % settings["return_path"]
    eml["From"] = email.utils.formataddr((settings["from_name"] or "", message.sender or ""))
    eml["To"] = ", ".join(message.recipients)
    if settings["reply_to"]:
        eml["Reply-To"] = settings["reply_to"]
    eml["Subject"] = message.subject or ""
    eml["Date"] = date
    eml["Message-ID"] = "<%s@%s>" % (message.postfix_id, message.sender_domain)
    links = settings["links"]
    eml.set_content(settings["text"] or "%s\n\n%s\n" % (message.subject or "", "\n".join(links)))
    body = settings["html"] or "<p>%s</p>%s" % (
        html.escape(message.subject or ""),
        "".join('<p><a href="%s">%s</a></p>' % (html.escape(link), html.escape(link)) for link in links),
    )
    eml.add_alternative("<html><body>%s</body></html>" % body, subtype="html")
    for attachment in settings["attachments"]:
        maintype, subtype = attachment.get("content_type", "application/octet-stream").split("/", 1)
        eml.add_attachment(
            attachment["content"].encode("utf-8"), maintype=maintype, subtype=subtype, filename=attachment["name"]
        )
    return eml.as_string()


def screenshot_png(message, width=240, height=160):
    """A real PNG, different for every message: a header band in a colour of its own above lines of 'text'."""
    digest = hashlib.sha256(message.id.encode("utf-8")).digest()
    band = bytes(bytearray([64 + digest[0] % 160, 64 + digest[1] % 160, 64 + digest[2] % 160]))
    white, ink = b"\xff\xff\xff", b"\x30\x30\x30"
    rows = []
    for y in range(height):
        if y < 28:
            row = band * width
        elif 40 <= y < height - 12 and (y - 40) % 14 < 6:
            length = 40 + (digest[(y // 14) % len(digest)] * (width - 60)) // 255
            row = white * 12 + ink * length + white * (width - 12 - length)
        else:
            row = white * width
        rows.append(b"\x00" + row)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + _chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + _chunk(b"IEND", b"")
    )


def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _number(text):
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:8], 16)
