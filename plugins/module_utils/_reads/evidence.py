# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A message's evidence: the screenshot Cloudflare rendered and the EML, saved as private files, and what the EML says.

The contents are hostile (a phish's HTML) and private (a person's mail): they are written to files only the
user can read, never overwritten with different content, and returned in the result only when asked.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import hashlib
import os
import re

from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import CloudflareError, ValidationError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.eml import analyse_eml
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.messages import investigate_path

EVIDENCE_PARTS = ("preview", "raw")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9._-]")


class EvidenceUnavailable(Exception):
    """Cloudflare has no such evidence for this message, or it is not what the contract says: a reason, not a stop."""


def check_evidence_options(include, directory, return_content):
    """Refuse, before any request, evidence that would go nowhere or to a place that depends on where Ansible runs."""
    if not set(include) & set(EVIDENCE_PARTS):
        return
    if directory is None and not return_content:
        raise ValidationError(
            "include has %s, which are saved as files: set evidence_dir to the directory to save them in "
            "(or evidence_content=true to have them in the result instead)"
            % " and ".join(part for part in EVIDENCE_PARTS if part in include)
        )
    if directory is not None and not os.path.isabs(directory):
        raise ValidationError("evidence_dir must be an absolute path, got %r" % directory)


def has_no_detection(message):
    """Whether Cloudflare said the message is clean: its detection preview and EML do not exist."""
    return message.get("final_disposition") == "NONE"


class EvidenceFiles:
    """Saves evidence under one directory (created 0700), each file 0600 and named by its message id.

    A file is never replaced: the same content found again is left as it is, and different content for the same
    message (a preview rendered again) goes beside it, named by its own sha256. In check mode nothing is written and
    each result says where the file would go.
    """

    def __init__(self, directory, check_mode):
        self._directory = directory
        self._check_mode = check_mode

    def save(self, message_id, suffix, data):
        digest = hashlib.sha256(data).hexdigest()
        found = dict(size=len(data), sha256=digest, path=None, saved=False)
        if self._directory is None:
            return found
        base = os.path.join(self._directory, _UNSAFE_IN_NAME.sub("_", message_id))
        for path in ("%s%s" % (base, suffix), "%s.%s%s" % (base, digest[:16], suffix)):
            found["path"] = path
            if os.path.exists(path):
                if _sha256_of(path) == digest:
                    return found
                continue
            if not self._check_mode:
                self._write_new(path, data)
                found["saved"] = True
            return found
        raise EvidenceUnavailable("%s and the file beside it named by its sha256 exist with other content" % base)

    def _write_new(self, path, data):
        os.makedirs(self._directory, 0o700, exist_ok=True)
        temporary = "%s.%d.tmp" % (path, os.getpid())
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as target:
                target.write(data)
            # A link, not a rename: it fails if another run saved the same name meanwhile, never replacing its file.
            os.link(temporary, path)
        finally:
            os.unlink(temporary)


def _sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        for block in iter(lambda: source.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


class EvidenceReader:
    """Reads a message's preview and EML, one request each, through the paced client."""

    def __init__(self, client, account_id, files, return_content=False, mailbox_preview=False, check_mode=False):
        self._client = client
        self._account_id = account_id
        self._files = files
        self._return_content = return_content
        self._mailbox_preview = mailbox_preview
        self._check_mode = check_mode
        self._mailbox_refused = None

    def read(self, message, part):
        """The part's file record (and, for raw, what the EML says); raise EvidenceUnavailable with the reason."""
        if part == "preview":
            return self._preview(message)
        return self._raw(message)

    def _preview(self, message):
        if not has_no_detection(message):
            screenshot, source = (
                self._result(investigate_path(self._account_id, message["id"]) + "/preview"),
                "detection",
            )
        elif not self._mailbox_preview:
            raise EvidenceUnavailable(
                "no detection: Cloudflare renders a preview of a clean message only from the recipient's mailbox; "
                "set mailbox_preview=true to ask for it (a Write token, while the message is in the Inbox)"
            )
        elif self._mailbox_refused is not None:
            raise EvidenceUnavailable(self._mailbox_refused)
        elif self._check_mode:
            raise EvidenceUnavailable("check mode: the mailbox preview is a POST, not sent in check mode")
        else:
            screenshot, source = self._mailbox_screenshot(message["id"]), "mailbox"
        image = _decoded_png(screenshot.get("screenshot"))
        record = self._save(message["id"], ".png", image)
        record.update(media_type="image/png", source=source)
        if self._return_content:
            record["content"] = base64.b64encode(image).decode("ascii")
        return record

    def _raw(self, message):
        if has_no_detection(message):
            raise EvidenceUnavailable("no detection: Cloudflare keeps the EML only of a message with a detection")
        raw = self._result(investigate_path(self._account_id, message["id"]) + "/raw").get("raw")
        if not isinstance(raw, str):
            raise EvidenceUnavailable("Cloudflare's answer carried no raw EML text (result.raw)")
        data = raw.encode("utf-8")
        record = self._save(message["id"], ".eml", data)
        record.update(media_type="message/rfc822")
        record.update(analyse_eml(data))
        if self._return_content:
            record["content"] = raw
        return record

    def _mailbox_screenshot(self, message_id):
        try:
            return self._result(investigate_path(self._account_id) + "/preview", body={"id": message_id})
        except CloudflareError as exc:
            if exc.status != 403:
                raise
            # A Read token may not render from the mailbox, and will not for the next message either; what a Read
            # token may read (the detection previews, every other part) is still read.
            self._mailbox_refused = (
                "the mailbox preview needs a token with Cloud Email Security: Write; Cloudflare refused it in this "
                "task: %s" % exc.message
            )
            raise EvidenceUnavailable(self._mailbox_refused) from exc

    def _save(self, message_id, suffix, data):
        try:
            return self._files.save(message_id, suffix, data)
        except OSError as exc:
            raise EvidenceUnavailable("could not save it: %s" % exc) from exc

    def _result(self, path, body=None):
        if body is None:
            response = self._client.get(path)
        else:
            # Rendering a preview again changes no mail (Cloudflare logs one more PREVIEW action): it is retried as
            # a read is.
            response = self._client.post(path, body, write=False)
        if not isinstance(response.result, dict):
            raise EvidenceUnavailable("Cloudflare's answer carried no result object")
        return response.result


def _decoded_png(text):
    if not isinstance(text, str) or not text:
        raise EvidenceUnavailable("Cloudflare's answer carried no screenshot (result.screenshot)")
    try:
        image = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EvidenceUnavailable("Cloudflare's screenshot is not base64") from exc
    if not image.startswith(_PNG_SIGNATURE):
        raise EvidenceUnavailable("Cloudflare's screenshot is not a PNG image")
    return image
