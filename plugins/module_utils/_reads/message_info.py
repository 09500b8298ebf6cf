# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What email_security_message_info does, in plain Python: check its options, read by id or search, report."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import CloudflareError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.ids import unique_message_ids
from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.concurrency import run_in_order
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.evidence import (
    EVIDENCE_PARTS,
    EvidenceFiles,
    EvidenceReader,
    EvidenceUnavailable,
    check_evidence_options,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.id_windows import read_states
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.messages import (
    SEARCH_FILTERS,
    STATE_NOT_FOUND,
    STATE_UNREADABLE,
    read_message_part,
    search_messages,
    search_window,
    wanted,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import check_range
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.search import (
    SEARCH_FILTER_OPTIONS,
    SearchSpec,
    search_spec,
)

DEFAULT_LIMIT = 1000
DEFAULT_PER_PAGE = 100


# The filters as options of their own, as 1.0 to 1.2 took them: still read, with a deprecation warning, until 2.0.0.
# Without defaults: a default would make every task look as if it set a deprecated option.
DEPRECATED_FLAT_FILTERS = {
    name: dict(
        {key: value for key, value in option.items() if key != "default"},
        removed_in_version="2.0.0",
        removed_from_collection="mailsec.cloudflare",
    )
    for name, option in SEARCH_FILTER_OPTIONS.items()
}


def validate_info_options(params):
    """Check the module's own options before any request: (the unique ids to read, or None to search; the search).

    The search is the ``search`` option, checked as every module checks it, or the deprecated flat filters, which
    need no time window (Cloudflare's default, the last 30 days).
    """
    message_ids = unique_message_ids(params["message_ids"])[0] if params["message_ids"] is not None else None
    check_range("limit", params["limit"], 1)
    check_range("per_page", params["per_page"], 1, 1000)
    check_range("poll_timeout", params["poll_timeout"], 0)
    check_evidence_options(params.get("include") or [], params.get("evidence_dir"), params.get("evidence_content"))
    if params.get("search") is not None:
        return message_ids, search_spec(params["search"])
    filters = {name: params[name] for name in SEARCH_FILTERS if params.get(name) is not None}
    filters["start"], filters["end"] = search_window(params["start"], params["end"])
    detections_only = params["detections_only"] is not False
    return message_ids, SearchSpec(
        {name: value for name, value in filters.items() if value is not None}, detections_only, params["poll_timeout"]
    )


class InfoReport:
    """The messages found, the ids Cloudflare does not know, and how the search went."""

    def __init__(self, messages, not_found_ids=(), pages=0, truncated=False):
        self.messages = messages
        self.not_found_ids = list(not_found_ids)
        self.pages = pages
        self.truncated = truncated
        self.unavailable_parts = 0

    def result(self, requests_sent, read_at):
        return dict(
            changed=False,
            read_at=read_at,
            messages=self.messages,
            ids=[message["id"] for message in self.messages],
            not_found_ids=self.not_found_ids,
            truncated=self.truncated,
            summary=dict(
                found=len(self.messages),
                quarantined=sum(1 for m in self.messages if m["is_quarantined"]),
                not_found=len(self.not_found_ids),
                pages=self.pages,
                unavailable_parts=self.unavailable_parts,
                requests_sent=requests_sent,
            ),
        )

    def warnings(self, limit):
        """What the task warns of: parts that could not be read, a search cut at ``limit``."""
        said = []
        if self.unavailable_parts:
            lacking = [message for message in self.messages if message.get("unavailable")]
            parts = sorted(lacking[0]["unavailable"])
            said.append(
                "%d part(s) of %d message(s) asked for by include could not be read and are missing from the "
                "messages (each message's unavailable says why); the first: %s of %s: %s"
                % (
                    self.unavailable_parts,
                    len(lacking),
                    ", ".join(parts),
                    lacking[0]["id"],
                    lacking[0]["unavailable"][parts[0]],
                )
            )
        if self.truncated:
            said.append(
                "the search matched more than limit=%d messages; only the first %d are returned" % (limit, limit)
            )
        return said

    def failure(self, fail_on_not_found, asked):
        """Why the task fails, or None: ids Cloudflare does not know, when ``fail_on_not_found``."""
        if not (self.not_found_ids and fail_on_not_found):
            return None
        return "%d of %d message id(s) are unknown to Cloudflare: %s" % (
            len(self.not_found_ids),
            asked,
            ", ".join(self.not_found_ids[:10]),
        )


def find_messages(client, account_id, params, message_ids, spec, concurrency, check_mode=False):
    """Read message_ids, or search by ``spec``, then the parts ``include`` asks for; raise CloudflareError for what
    stops the task. A part that cannot be read stops nothing (see PartReader)."""
    report = _find(client, account_id, params, message_ids, spec, concurrency)
    include = params.get("include") or []
    if include and report.messages:
        evidence = EvidenceReader(
            client,
            account_id,
            EvidenceFiles(params.get("evidence_dir"), check_mode),
            return_content=params.get("evidence_content"),
            mailbox_preview=params.get("mailbox_preview"),
            check_mode=check_mode,
        )
        parts = PartReader(client, account_id, include, evidence)
        run_in_order(parts.add_to, report.messages, concurrency)
        report.unavailable_parts = parts.unavailable
    return report


class PartReader:
    """Puts the trace, action log, detections, preview or raw EML into each message, each under its own name.

    They only enrich what the task reports, so one that cannot be read is noted in the message's ``unavailable``
    (part: why) and counted, never a stop. After an error every further request would meet (credentials,
    permission, rate limit, task_timeout), no more parts are read.
    """

    def __init__(self, client, account_id, include, evidence):
        self._client = client
        self._account_id = account_id
        self._include = include
        self._evidence = evidence
        self._stopped_by = None
        self.unavailable = 0

    def add_to(self, message):
        for part in self._include:
            why = self._stopped_by
            if why is None:
                try:
                    message[part] = self._read(message, part)
                    continue
                except EvidenceUnavailable as exc:
                    why = str(exc)
                except CloudflareError as exc:
                    why = exc.message
                    if exc.is_fatal:
                        self._stopped_by = "not read after an earlier failure: %s" % why
            message.setdefault("unavailable", {})[part] = why
            self.unavailable += 1

    def _read(self, message, part):
        if part in EVIDENCE_PARTS:
            return self._evidence.read(message, part)
        return read_message_part(self._client, self._account_id, message["id"], part)


def _find(client, account_id, params, message_ids, spec, concurrency):
    if message_ids is None:
        messages, pages, truncated = search_messages(
            client,
            account_id,
            spec.query(min(params["per_page"], params["limit"])),
            params["limit"],
            params["quarantined_only"],
            spec.poll_timeout,
        )
        return InfoReport(messages, pages=pages, truncated=truncated)
    messages, not_found_ids = [], []
    for message_id, state in zip(message_ids, read_states(client, account_id, message_ids, concurrency)):
        if state.state == STATE_NOT_FOUND:
            not_found_ids.append(message_id)
        elif state.state == STATE_UNREADABLE:
            raise CloudflareError("could not read message %s: %s" % (message_id, state.error))
        elif wanted(state.message, params["quarantined_only"]):
            messages.append(state.message)
    return InfoReport(messages, not_found_ids)
