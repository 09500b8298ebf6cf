# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""email_security_move call by call: each status, and the exact HTTP exchanges that decide it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
import requests

from ansible_collections.mailsec.cloudflare.plugins.modules import email_security_move
from ansible_collections.mailsec.cloudflare.tests.unit.plugins.conftest import ACCOUNT, BASE, TOKEN, envelope

MAIN = email_security_move.main
INVESTIGATE = "%s/accounts/%s/email-security/investigate" % (BASE, ACCOUNT)
MOVE_URL = INVESTIGATE + "/move"
# Ids that carry no time: each is read by its own GET, which keeps the script short.
IDS = ["mv1-a", "mv2-b"]
RECIPIENTS = ["alice@corp.example", "bob@corp.example"]


def args(**extra):
    base = dict(
        account_id=ACCOUNT, api_token=TOKEN, base_url=BASE, message_ids=IDS[:1], destination="Inbox", concurrency=1
    )
    base.update(extra)
    return base


def details(message_id, delivery_status, operations=(), quarantined=False):
    return envelope(
        {
            "id": message_id,
            "is_quarantined": quarantined,
            "delivery_status": list(delivery_status),
            "post_delivery_operations": list(operations),
            "to": RECIPIENTS,
        }
    )


def moved_to(*folders, success=True):
    entries = [
        {
            "operation": "MOVE",
            "properties": {"folder": folder, "requested_by": "api"},
            "success": success,
            "completed_at": "2026-11-24T10:0%d:00Z" % n,
        }
        for n, folder in enumerate(folders)
    ]
    return envelope(
        entries, result_info={"page": 1, "per_page": 100, "count": len(entries), "total_count": len(entries)}
    )


def in_junk(api, message_id):
    api.get("%s/%s" % (INVESTIGATE, message_id), json=details(message_id, ["moved"], ["MOVE"]))
    api.get("%s/%s/action_log" % (INVESTIGATE, message_id), json=moved_to("JunkEmail"))


def items(message_id, destination, failing=()):
    return [
        {
            "message_id": message_id,
            "recipient": recipient,
            "destination": destination,
            "operation": "MOVE",
            "status": "failed" if recipient in failing else "completed",
            "success": recipient not in failing,
        }
        for recipient in RECIPIENTS
    ]


def test_a_message_moved_to_junk_is_located_by_its_action_log_and_moved_back_once(api, run_module):
    in_junk(api, IDS[0])
    api.post(MOVE_URL, json=envelope(items(IDS[0], "Inbox")))

    outcome = run_module(MAIN, args(), diff=True)

    assert not outcome.failed, outcome.result
    assert json.loads(api.calls[2].request.body) == {"ids": [IDS[0]], "destination": "Inbox"}
    entry = outcome.result["results"][0]
    assert (entry["status"], entry["folder_before"], entry["moved"]) == ("moved", "JunkEmail", RECIPIENTS)
    assert outcome.result["changed"] is True
    assert outcome.result["diff"]["before"] == "%s: JunkEmail\n" % IDS[0]
    assert outcome.result["diff"]["after"] == "%s: Inbox\n" % IDS[0]
    assert outcome.result["summary"]["requests_sent"] == 3


def test_a_delivered_message_never_moved_is_in_the_inbox_without_reading_its_log(api, run_module):
    api.get("%s/%s" % (INVESTIGATE, IDS[0]), json=details(IDS[0], ["delivered"]))
    api.post(MOVE_URL, json=envelope(items(IDS[0], "DeletedItems")))

    outcome = run_module(MAIN, args(destination="DeletedItems"))

    assert outcome.result["results"][0]["status"] == "moved"
    assert outcome.result["results"][0]["folder_before"] == "Inbox"
    assert [call.request.method for call in api.calls] == ["GET", "POST"]


def test_a_message_already_in_the_destination_is_not_sent(api, run_module):
    api.get("%s/%s" % (INVESTIGATE, IDS[0]), json=details(IDS[0], ["moved"], ["MOVE"]))
    # Moved to junk, then back; a failed move after that changed nothing.
    api.get("%s/%s/action_log" % (INVESTIGATE, IDS[0]), json=moved_to("JunkEmail", "Inbox"))

    outcome = run_module(MAIN, args())

    assert not outcome.failed
    assert outcome.result["changed"] is False
    assert outcome.result["results"][0]["status"] == "already_there"


def test_a_move_that_fails_for_one_recipient_is_partially_moved_and_incomplete(api, run_module):
    in_junk(api, IDS[0])
    api.post(MOVE_URL, json=envelope(items(IDS[0], "Inbox", failing=[RECIPIENTS[1]])))

    outcome = run_module(MAIN, args())

    assert outcome.failed
    entry = outcome.result["results"][0]
    assert (entry["status"], entry["moved"], entry["failed"]) == ("partially_moved", RECIPIENTS[:1], RECIPIENTS[1:])
    assert outcome.result["incomplete_ids"] == [IDS[0]]


def test_a_lost_answer_is_read_back_and_never_resent(api, run_module):
    in_junk(api, IDS[0])
    api.post(MOVE_URL, body=requests.exceptions.ReadTimeout("read timed out"))
    api.get("%s/%s" % (INVESTIGATE, IDS[0]), json=details(IDS[0], ["moved"], ["MOVE"]))
    api.get("%s/%s/action_log" % (INVESTIGATE, IDS[0]), json=moved_to("JunkEmail", "Inbox"))

    outcome = run_module(MAIN, args(fail_on_incomplete=False))

    assert outcome.result["results"][0]["status"] == "moved_unconfirmed"
    assert [call.request.method for call in api.calls].count("POST") == 1


@pytest.mark.parametrize(
    "first_answer",
    [
        dict(body=requests.exceptions.ReadTimeout("read timed out")),
        # Issue 37 item 8: a 5xx may come from a gateway while the origin still processes the move, so it is settled
        # like a lost answer, and a 500 the server never acted on costs the window before the move is sent again.
        dict(status=500, json=envelope(None, success=False, errors=[{"code": 1000, "message": "boom"}])),
    ],
    ids=["lost answer", "server error"],
)
def test_a_move_still_elsewhere_after_the_window_is_sent_again_once(api, run_module, first_answer):
    in_junk(api, IDS[0])
    api.post(MOVE_URL, **first_answer)
    # Read back at once, then after 1 and 2 s: still in junk; the window (settle_timeout 2 s) has closed.
    for dummy in range(3):
        in_junk(api, IDS[0])
    api.post(MOVE_URL, json=envelope(items(IDS[0], "Inbox")))

    outcome = run_module(MAIN, args(settle_timeout=2, retries=1))

    assert outcome.result["results"][0]["status"] == "moved"
    assert [call.request.method for call in api.calls].count("POST") == 2
    reads_between = [c.request.url for c in api.calls[3:-1]]
    assert len(reads_between) == 6 and all(IDS[0] in url for url in reads_between)


def test_a_4xx_that_does_not_prove_a_refusal_is_decided_by_one_read(api, run_module):
    # The server answered with a client error: it is done with the request, and one read says what it did.
    in_junk(api, IDS[0])
    api.post(MOVE_URL, status=409, json=envelope(None, success=False, errors=[{"code": 1409, "message": "conflict"}]))
    in_junk(api, IDS[0])

    outcome = run_module(MAIN, args(fail_on_incomplete=False))

    assert outcome.result["results"][0]["status"] == "not_moved"
    assert [call.request.method for call in api.calls].count("POST") == 1
    assert len(api.calls) == 5


def test_an_answer_without_an_item_for_a_message_is_read_back_once(api, run_module):
    in_junk(api, IDS[0])
    api.post(MOVE_URL, json=envelope([]))
    in_junk(api, IDS[0])

    outcome = run_module(MAIN, args())

    assert outcome.failed
    assert outcome.result["results"][0]["status"] == "unknown"
    assert "JunkEmail" in outcome.result["results"][0]["detail"]


def test_no_mailbox_integration_stops_the_task_with_the_cause_and_reads_nothing_back(api, run_module):
    for message_id in IDS:
        api.get("%s/%s" % (INVESTIGATE, message_id), json=details(message_id, ["moved"], ["MOVE"]))
    for message_id in IDS:
        api.get("%s/%s/action_log" % (INVESTIGATE, message_id), json=moved_to("JunkEmail"))
    api.post(
        MOVE_URL,
        status=400,
        json=envelope(None, success=False, errors=[{"code": 1012, "message": "Requires active integration"}]),
    )

    outcome = run_module(MAIN, args(message_ids=IDS))

    assert outcome.failed
    assert "mailbox integration" in outcome.result["msg"]
    assert outcome.result["error"]["status"] == 400
    assert [r["status"] for r in outcome.result["results"]] == ["not_moved", "not_moved"]
    assert len(api.calls) == 5


def test_quarantined_not_found_and_undelivered_mail_is_not_sent(api, run_module):
    api.get("%s/%s" % (INVESTIGATE, "q-1"), json=details("q-1", ["quarantined"], quarantined=True))
    api.get("%s/%s" % (INVESTIGATE, "gone-2"), status=404, json=envelope(None, False, [{"code": 1002, "message": "x"}]))
    api.get("%s/%s" % (INVESTIGATE, "bounced-3"), json=details("bounced-3", ["bounced"]))

    into_inbox = run_module(MAIN, args(message_ids=["q-1", "gone-2", "bounced-3"], fail_on_incomplete=False))

    assert [r["status"] for r in into_inbox.result["results"]] == ["quarantined", "not_found", "not_in_mailbox"]
    assert "email_security_release" in into_inbox.result["results"][0]["detail"]
    assert into_inbox.result["incomplete_ids"] == ["q-1", "gone-2", "bounced-3"]


def test_out_of_the_inbox_mail_in_no_mailbox_has_nothing_to_move_and_is_complete(api, run_module):
    api.get("%s/%s" % (INVESTIGATE, "q-1"), json=details("q-1", ["quarantined"], quarantined=True))

    outcome = run_module(MAIN, args(message_ids=["q-1"], destination="DeletedItems"))

    assert not outcome.failed
    assert outcome.result["results"][0]["status"] == "quarantined"
    assert outcome.result["incomplete_ids"] == []


def test_check_mode_only_reads_and_names_what_would_move(api, run_module):
    in_junk(api, IDS[0])

    outcome = run_module(MAIN, args(destination="RecoverableItemsPurges"), check_mode=True)

    assert outcome.result["results"][0]["status"] == "would_move"
    assert outcome.result["changed"] is True
    assert [call.request.method for call in api.calls] == ["GET", "GET"]


@pytest.mark.parametrize(
    "extra, named",
    [
        (dict(destination="RecoverableItemsDeletions"), "confirm_purge"),
        (dict(destination="Trash"), "destination"),
        (dict(message_ids=[]), "message_ids"),
        (dict(message_ids=["../x"]), "message_ids"),
        (dict(message_ids=IDS, max_messages=1), "max_messages"),
        (dict(batch_size=1001), "batch_size"),
        (dict(message_ids=None, search={"sender": "x@example.com"}), "time window"),
    ],
)
def test_bad_input_is_refused_before_any_request(api, run_module, extra, named):
    outcome = run_module(MAIN, {k: v for k, v in args(**extra).items() if v is not None})

    assert outcome.failed
    assert named in outcome.result["msg"]
    assert len(api.calls) == 0
