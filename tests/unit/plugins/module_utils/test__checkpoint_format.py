# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The checkpoint document: what is written reads back the same; what this version cannot read is refused by name."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

import pytest

from ansible_collections.mailsec.cloudflare.plugins.module_utils._state.checkpoint_format import (
    checkpoint_document,
    read_checkpoint_state,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import ValidationError


def test_a_written_checkpoint_reads_back_in_utc():
    since = datetime.datetime(2026, 12, 3, 10, 30, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
    document = checkpoint_document(since, {"id-1": "2026-12-03T08:29:00Z"})

    assert document == {"version": 1, "since": "2026-12-03T08:30:05Z", "emitted": {"id-1": "2026-12-03T08:29:00Z"}}
    read_since, emitted = read_checkpoint_state("here", document)
    assert read_since == since and emitted == {"id-1": "2026-12-03T08:29:00Z"}


@pytest.mark.parametrize(
    "document",
    [{"version": 2, "since": "2026-12-03T08:30:05Z", "emitted": {}}, {"version": 1, "emitted": {}}, {"version": 1}],
)
def test_a_checkpoint_this_version_cannot_read_is_refused_naming_where_it_is(document):
    with pytest.raises(ValidationError) as refused:
        read_checkpoint_state("/var/lib/eda/checkpoint.json", document)
    assert "the checkpoint /var/lib/eda/checkpoint.json cannot be read" in str(refused.value)
    assert "move it away" in str(refused.value)
