# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.ids import (
    given_ids,
    id_problem,
    unique_message_ids,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import ValidationError


@pytest.mark.parametrize("value", ["4Njp3P0STMz2c02Q-2024-01-05T10:00:00-12345678", "a.b_c:d+e=f@g~h-i", "x" * 256])
def test_ids_cloudflare_may_give_are_accepted(value):
    assert id_problem(value) is None


@pytest.mark.parametrize(
    "value, problem",
    [
        (".", "path step"),
        ("..", "path step"),
        ("%2e%2e", "percent sign"),
        ("a/b", "URL syntax"),
        ("a b", "whitespace"),
        ("a\x00b", "control character"),
        ("abc\n", "whitespace"),
        ("{'id': 1}", "brace"),
        ('a"b', "quote"),
        ("caf\u00e9", "non-ASCII"),
        ("x" * 257, "257 characters long"),
        ("", "empty string"),
        (True, "is a bool (True)"),
        (7, "is a int (7)"),
        (None, "is a null"),
    ],
)
def test_ids_that_cannot_be_right_say_why(value, problem):
    assert problem in id_problem(value)


def test_unique_message_ids_keeps_first_seen_order_and_reports_repeats():
    assert unique_message_ids(["b", "a", "b", "c", "a"]) == (["b", "a", "c"], ["b", "a"])


def test_unique_message_ids_lists_at_most_ten_problems():
    with pytest.raises(ValidationError) as raised:
        unique_message_ids([".."] * 12)
    assert "12 invalid id(s)" in str(raised.value) and "and 2 more" in str(raised.value)


def test_ids_pasted_as_text_are_split_as_the_runbooks_split_them():
    # Ansible splits "a, b" at the comma into "a" and " b"; the runbook accepts that text, and so does the module.
    assert unique_message_ids(["a", " b"]) == (["a", "b"], [])
    assert given_ids(["a,b; c\nd\r\n", "  e  ", ""]) == ["a", "b", "c", "d", "e"]
    assert unique_message_ids(["a b a"]) == (["a", "b"], ["a"])


def test_text_that_holds_no_id_is_empty_and_a_bad_id_inside_text_is_still_refused():
    with pytest.raises(ValidationError, match="empty"):
        unique_message_ids([" , ", ""])
    with pytest.raises(ValidationError, match=r"item 2 \('a/b'\) contains URL syntax"):
        unique_message_ids(["x, a/b"])
    with pytest.raises(ValidationError, match="is a bool"):
        unique_message_ids(["x", True])
