# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Delivery confirmation (issue 16): from the release's recipient lists and delivery_status, never trace text."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.mailsec.cloudflare.plugins.filter.delivery_confirmation import delivery_confirmation


def released(message_id, delivered=(), failed=(), status="released"):
    return {"id": message_id, "status": status, "delivered": list(delivered), "failed": list(failed)}


def message(message_id, *delivery_status, to=()):
    return {"id": message_id, "delivery_status": list(delivery_status), "to": list(to)}


def statuses(outcome):
    return [(row["id"], row["recipient"], row["status"]) for row in outcome["recipients"]]


def test_each_recipient_is_confirmed_failed_or_pending():
    results = [
        released("m1", ["a@x.example", "b@x.example"]),
        released("m2", ["c@x.example"], ["d@x.example"], status="partially_released"),
        released("m3", ["e@x.example"]),
        released("m4", ["f@x.example"]),
        {"id": "m5", "status": "not_found", "delivered": [], "failed": []},
    ]
    messages = [
        message("m1", "delivered"),
        message("m2", "delivered", "bounced"),
        message("m3", "queued"),
        message("m4", "bounced"),
        message("m5", "delivered"),
    ]

    outcome = delivery_confirmation(results, messages=messages)

    assert statuses(outcome) == [
        ("m1", "a@x.example", "confirmed"),
        ("m1", "b@x.example", "confirmed"),
        ("m2", "d@x.example", "failed"),
        ("m2", "c@x.example", "confirmed"),
        ("m3", "e@x.example", "pending"),
        ("m4", "f@x.example", "failed"),
    ]
    assert (outcome["confirmed"], outcome["failed"], outcome["pending"]) == (3, 2, 1)


@pytest.mark.parametrize("status", ["released_unconfirmed", "already_released"])
def test_a_result_without_recipient_lists_uses_the_message_recipients(status):
    outcome = delivery_confirmation(
        [released("m1", status=status)], messages=[message("m1", "delivered", to=["a@x.example"])]
    )

    assert statuses(outcome) == [("m1", "a@x.example", "confirmed")]


def test_a_message_not_read_back_stays_pending():
    outcome = delivery_confirmation([released("m1", ["a@x.example"])], messages=[])

    assert statuses(outcome) == [("m1", "a@x.example", "pending")]


def test_once_the_wait_is_over_pending_recipients_are_not_confirmed():
    outcome = delivery_confirmation(
        [released("m1", ["a@x.example"]), released("m2", ["b@x.example"])],
        messages=[message("m1", "deferred"), message("m2", "delivered")],
        final=True,
    )

    assert statuses(outcome) == [("m1", "a@x.example", "not_confirmed"), ("m2", "b@x.example", "confirmed")]
    assert (outcome["confirmed"], outcome["failed"], outcome["not_confirmed"]) == (1, 0, 1)
    assert "pending" not in outcome


def test_wrong_input_is_a_filter_error():
    with pytest.raises(AnsibleFilterError):
        delivery_confirmation("m1", messages=[])
