# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The event source's checkpoint as a document, the same whether a file (``_reads/quarantine_feed.py``) or a row in PostgreSQL
(``_state/postgres.py``) holds it: the start of the next window, and the ids emitted that a search could still return."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.messages import date_time
from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import ValidationError

CHECKPOINT_VERSION = 1
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utc_text(moment):
    return moment.astimezone(datetime.timezone.utc).strftime(_TIME_FORMAT)


def utc_moment(text):
    """The UTC moment a text such as ``2026-12-07T10:00:00Z`` (or with fractions or an offset, taken as UTC) names,
    or None."""
    try:
        return datetime.datetime.strptime(str(text)[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return None


def read_checkpoint_state(where, data):
    """(since, emitted) of a saved checkpoint; ValidationError naming where it is when this version cannot read it."""
    try:
        if data.get("version") != CHECKPOINT_VERSION:
            raise ValueError("version %r" % data.get("version"))
        return date_time("since", data["since"])[1], {str(k): str(v) for k, v in data["emitted"].items()}
    except (ValueError, KeyError, TypeError, AttributeError, ValidationError) as exc:
        raise ValidationError(
            "the checkpoint %s cannot be read (%s); move it away to start again from the backlog" % (where, exc)
        ) from None


def checkpoint_document(since, emitted):
    return {"version": CHECKPOINT_VERSION, "since": utc_text(since), "emitted": emitted}
