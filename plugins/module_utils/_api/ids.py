# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What a message id may be, checked before any request: one rule for every module.

Cloudflare's ids are opaque (``<postfix_id>-<timestamp>-<suffix>`` today), so the rule is
deliberately wide, but an id always becomes one URL path segment, and some strings can never
be one: ``.`` and ``..`` would change the path, percent signs would be decoded into something
else, and a YAML ``true`` or ``123`` is a typing slip, not an id.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import ValidationError

MAX_ID_LENGTH = 256
ID_CHARACTERS = "letters, digits and ._:+=@~-"
_ID = re.compile(r"^[A-Za-z0-9._:+=@~-]+$")
_MAX_REPORTED_PROBLEMS = 10
# What stands between ids pasted as text: the runbooks' rule and the modules'.
_SEPARATORS = re.compile(r"[\s,;]+")
# The first kind of character found explains the problem best; checked in this order.
_WRONG_CHARACTERS = (
    (re.compile(r"[{}\[\]()<>]"), "a brace or bracket"),
    (re.compile(r"\s"), "whitespace"),
    (re.compile(r"[\x00-\x1f\x7f]"), "a control character"),
    (re.compile(r"[\"'`]"), "a quote"),
    (re.compile(r"%"), "a percent sign (ids are given as they are, never percent-encoded)"),
    (re.compile(r"[/?#&\\]"), "URL syntax (/ ? # & or a backslash)"),
    (re.compile(r"[^\x00-\x7f]"), "a non-ASCII character"),
)


def id_problem(value):
    """Why value cannot be a message id, or None when it can."""
    if not isinstance(value, str):
        shown = "null" if value is None else repr(value)[:40]
        kind = "null" if value is None else type(value).__name__
        return "is a %s (%s), not a string; quote ids in YAML" % (kind, shown)
    if not value:
        return "is an empty string"
    if len(value) > MAX_ID_LENGTH:
        return "is %d characters long; a message id has at most %d" % (len(value), MAX_ID_LENGTH)
    if value in (".", ".."):
        return "(%r) is a path step, not an id" % value
    if _ID.fullmatch(value):
        return None
    for pattern, name in _WRONG_CHARACTERS:
        if pattern.search(value):
            return "(%r) contains %s, which no message id holds" % (value[:80], name)
    return "(%r) contains a character outside %s" % (value[:80], ID_CHARACTERS)


def given_ids(message_ids):
    """The ids of a list as the task gave it: each text item split where commas, semicolons, spaces or line breaks
    stand between ids (no id holds one), as the runbooks read pasted ids; other items as they are, to be refused."""
    ids = []
    for item in message_ids:
        if isinstance(item, str):
            ids.extend(token for token in _SEPARATORS.split(item) if token)
        else:
            ids.append(item)
    return ids


def unique_message_ids(message_ids, option="message_ids"):
    """Return (ids in first-seen order without repeats, the repeated ids); raise ValidationError for bad input."""
    message_ids = given_ids(message_ids) if isinstance(message_ids, (list, tuple)) else None
    if not message_ids:
        raise ValidationError("%s is empty: give at least one message id" % option)
    problems = []
    for position, message_id in enumerate(message_ids, 1):
        problem = id_problem(message_id)
        if problem:
            problems.append("item %d %s" % (position, problem))
    if problems:
        more = len(problems) - _MAX_REPORTED_PROBLEMS
        raise ValidationError(
            "%s has %d invalid id(s): %s%s. A message id is 1 to %d characters: %s"
            % (
                option,
                len(problems),
                "; ".join(problems[:_MAX_REPORTED_PROBLEMS]),
                " and %d more" % more if more > 0 else "",
                MAX_ID_LENGTH,
                ID_CHARACTERS,
            )
        )
    seen = set()
    unique, repeated = [], []
    for message_id in message_ids:
        if message_id in seen:
            repeated.append(message_id)
        else:
            seen.add(message_id)
            unique.append(message_id)
    return unique, repeated


def requested_message_ids(message_ids, max_messages=None):
    """(unique ids, the repeated ones) of a writing task's message_ids, no more of them than max_messages (when set);
    raise ValidationError for bad input."""
    unique, repeated = unique_message_ids(message_ids)
    if max_messages is not None and len(unique) > max_messages:
        raise ValidationError(
            "message_ids holds %d ids, more than max_messages (%d); nothing was sent" % (len(unique), max_messages)
        )
    return unique, repeated


def repeated_warning(repeated, acted):
    """The warning for repeated ids a task dropped, saying what it does to each message once (``acted``)."""
    return "%d repeated id(s) in message_ids were dropped; each message is %s once: %s" % (
        len(repeated),
        acted,
        ", ".join(sorted(set(repeated))[:10]),
    )
