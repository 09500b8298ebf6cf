# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_move's helpers: where an action log says a message is, and what counts as complete for each destination."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.mailsec.cloudflare.plugins.module_utils._outcomes import (
    MOVED,
    NOT_IN_MAILBOX,
    QUARANTINED,
    move_outcomes,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._writes.move import (
    check_destination,
    last_folder,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import ValidationError


def entry(folder, at=None, success=True, status=None, operation="MOVE"):
    logged = {"operation": operation, "properties": {"folder": folder}, "success": success}
    if status is not None:
        logged["status"] = status
    if at is not None:
        logged["completed_at"] = at
    return logged


@pytest.mark.parametrize(
    "log, folder",
    [
        ([], None),
        ([entry("JunkEmail")], "JunkEmail"),
        ([entry("JunkEmail"), entry("Inbox", success=False)], "JunkEmail"),
        ([entry("JunkEmail"), entry("Inbox", success=None, status="completed")], "Inbox"),
        ([entry("JunkEmail"), entry("Inbox", success=None, status="pending")], "JunkEmail"),
        ([entry("Inbox", operation="PREVIEW")], None),
        # Listed newest first, with times: the latest move wins, whatever the order.
        ([entry("Inbox", "2026-11-24T10:05:00Z"), entry("JunkEmail", "2026-11-24T10:00:00Z")], "Inbox"),
        ([{"operation": "MOVE", "properties": None, "success": True}], None),
    ],
)
def test_the_last_successful_move_says_where_a_message_is(log, folder):
    assert last_folder(log) == folder


def test_mail_in_no_mailbox_is_complete_only_for_a_move_out_of_the_inbox():
    assert {QUARANTINED, NOT_IN_MAILBOX} <= move_outcomes("DeletedItems").complete
    assert not {QUARANTINED, NOT_IN_MAILBOX} & move_outcomes("Inbox").complete
    assert MOVED in move_outcomes("Inbox").complete


def test_a_purge_needs_confirmation_except_in_check_mode():
    with pytest.raises(ValidationError, match="confirm_purge"):
        check_destination("RecoverableItemsPurges", False, False)
    check_destination("RecoverableItemsPurges", False, True)
    check_destination("RecoverableItemsPurges", True, False)
