# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The release policy driven through the write engine: a scripted client, a fake clock, no HTTP and no Ansible."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.mailsec.cloudflare.tests.unit.plugins.write_runs import ReleaseRun
from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.client import ApiResponse
from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import CloudflareError, OutcomeUnknownError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._state.local import WriteJournal
from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.progress import SILENT
from ansible_collections.mailsec.cloudflare.plugins.module_utils._writes.release import entry_from_item, recipient_lists

ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"
IDS = ["aaaa-2026-11-24T08:00:00-1", "bbbb-2026-11-24T08:00:00-2", "cccc-2026-11-24T08:00:00-3"]


class FakeTime:
    def __init__(self):
        self.now = 1000.0

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class ScriptedClient:
    """Release answers taken in order (an ApiResponse body, or an exception to raise); reads from a state table.

    ``quarantined[id]`` is a list of booleans, one per read; the last one repeats.
    """

    def __init__(self, time, answers, quarantined, left=None):
        self.retries = 2
        self.progress = SILENT
        self.time = time
        self.answers = list(answers)
        self.quarantined = {k: list(v) for k, v in quarantined.items()}
        self.posted = []
        self.read = []
        self.left = left

    def time_left(self):
        return None if self.left is None else self.left - self.time.now

    def post(self, path, body, on_send=None):
        if on_send is not None:
            on_send()
        self.posted.append(body["ids"] if isinstance(body, dict) else ("array", body))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        ray = {"cf-ray": "%016x-SJC" % len(self.posted)}
        return ApiResponse(200, {"success": True, "errors": [], "messages": [], "result": answer}, ray)

    def get(self, path, params=None):
        message_id = path.rsplit("/", 1)[1]
        self.read.append((message_id, self.time.now))
        states = self.quarantined[message_id]
        flag = states.pop(0) if len(states) > 1 else states[0]
        operations = [] if flag else ["QUARANTINE_RELEASE"]
        result = {"id": message_id, "is_quarantined": flag, "post_delivery_operations": operations}
        return ApiResponse(200, {"success": True, "errors": [], "messages": [], "result": result}, {})


def item(message_id, delivered=("a@example.com",)):
    return {"id": message_id, "delivered": list(delivered), "failed": [], "undelivered": []}


def lost():
    return OutcomeUnknownError("POST release: read timed out", method="POST", path="/release")


def engine(client, time, **options):
    settings = dict(only_quarantined=False, concurrency=1, settle_timeout=30.0, clock=time.clock, sleep=time.sleep)
    settings.update(options)
    return ReleaseRun(client, ACCOUNT, **settings)


def statuses(report):
    return [entry["status"] for entry in report.results]


def test_an_answer_with_recipient_lists_decides_every_status():
    time = FakeTime()
    # The second item lists no recipient at all: no evidence, so the message is read back.
    client = ScriptedClient(time, [[item(IDS[0]), item(IDS[1], delivered=())]], {IDS[1]: [False]})

    report = engine(client, time).run(IDS[:2])

    assert statuses(report) == ["released", "released_unconfirmed"]
    assert client.posted == [IDS[:2]]
    assert [message_id for message_id, dummy in client.read] == [IDS[1]]


def test_every_result_names_the_ray_id_of_the_answer_that_wrote_it_and_none_where_no_answer_did():
    time = FakeTime()
    refusal = CloudflareError("POST release failed: HTTP 400", status=400, cf_ray="00000000000000bb-SJC")
    client = ScriptedClient(time, [[item(IDS[0])], lost(), refusal], {IDS[1]: [False]})

    report = engine(client, time, batch_size=1).run(IDS)

    # The second answer was lost: its message was settled by a read, which has no say in the ray id.
    assert [(e["status"], e["cf_ray"]) for e in report.results] == [
        ("released", "0000000000000001-SJC"),
        ("released_unconfirmed", None),
        ("not_released", "00000000000000bb-SJC"),
    ]


def test_a_lost_answer_is_read_until_the_message_leaves_quarantine():
    time = FakeTime()
    client = ScriptedClient(time, [lost()], {IDS[0]: [True, True, False]})

    report = engine(client, time).run(IDS[:1])

    assert statuses(report) == ["released_unconfirmed"]
    assert client.posted == [IDS[:1]]
    assert [round(at - 1000.0) for dummy, at in client.read] == [0, 1, 3]


def test_a_lost_answer_is_resent_only_after_the_settle_window_closes():
    time = FakeTime()
    client = ScriptedClient(time, [lost(), [item(IDS[0])]], {IDS[0]: [True]})

    report = engine(client, time, settle_timeout=10.0).run(IDS[:1])

    assert statuses(report) == ["released"]
    assert client.posted == [IDS[:1], IDS[:1]]
    assert client.read[-1][1] >= 1010.0


def test_answers_lost_more_often_than_retries_end_not_released_under_the_settle_rule():
    time = FakeTime()
    client = ScriptedClient(time, [lost(), lost(), lost()], {IDS[0]: [True]})

    report = engine(client, time, settle_timeout=5.0).run(IDS[:1])

    assert statuses(report) == ["not_released"]
    assert "each of 3 release requests" in report.results[0]["detail"]
    assert len(client.posted) == 3


def test_a_wait_longer_than_the_task_allows_ends_pending_and_stays_in_the_journal(tmp_path):
    time = FakeTime()
    journal = WriteJournal(str(tmp_path), ACCOUNT)
    client = ScriptedClient(time, [lost()], {IDS[0]: [True]}, left=1005.0)

    report = engine(client, time, journal=journal).run(IDS[:1])

    assert statuses(report) == ["release_pending"]
    assert [entry["ids"] for entry in journal.unsettled("release").values()] == [IDS[:1]]


def test_a_settled_request_leaves_no_journal_entry(tmp_path):
    time = FakeTime()
    journal = WriteJournal(str(tmp_path), ACCOUNT)
    client = ScriptedClient(time, [lost()], {IDS[0]: [False]})

    engine(client, time, journal=journal).run(IDS[:1])

    assert journal.unsettled("release") == {}


def test_a_refusal_before_processing_stops_every_batch():
    time = FakeTime()
    refused = CloudflareError("403", status=403, errors=[{"code": 10000, "message": "no"}])
    client = ScriptedClient(time, [refused], {})

    report = engine(client, time, batch_size=1).run(IDS)

    assert statuses(report) == ["not_released"] * 3
    assert client.posted == [IDS[:1]]
    assert report.fatal_error is refused


def test_a_body_shape_refusal_reads_back_then_sends_the_other_form():
    time = FakeTime()
    shape = OutcomeUnknownError("400", answered=True, status=400, errors=[{"code": 1001, "message": "bad body"}])
    client = ScriptedClient(time, [shape, [item(IDS[0])]], {IDS[0]: [True]})

    run = engine(client, time, body_format="auto")
    report = run.run(IDS[:1])

    assert statuses(report) == ["released"]
    assert client.posted == [IDS[:1], ("array", IDS[:1])]
    assert [message_id for message_id, dummy in client.read] == [IDS[0]]
    assert run.body_format == "array"


@pytest.mark.parametrize(
    "answer, expected",
    [
        ({"id": IDS[0], "delivered": ["a@x"], "failed": [], "undelivered": []}, (["a@x"], [], [])),
        ({"id": IDS[0], "delivered": None, "failed": ["b@x"]}, ([], ["b@x"], [])),
        ({"id": IDS[0]}, None),
        ({"id": IDS[0], "delivered": [], "failed": [], "undelivered": []}, None),
        ({"id": IDS[0], "delivered": [{"to": "a@x"}]}, None),
        ({"id": IDS[0], "delivered": 5}, None),
    ],
)
def test_recipient_lists_are_evidence_only_in_the_documented_shape(answer, expected):
    assert recipient_lists(answer) == expected


def test_entry_from_item_tells_full_partial_and_no_delivery_apart():
    assert entry_from_item("m", {}, (["a"], [], []))["status"] == "released"
    assert entry_from_item("m", {}, (["a"], ["b"], []))["status"] == "partially_released"
    assert entry_from_item("m", {"postfix_id": 7}, ([], ["b"], []))["status"] == "not_released"
    assert "postfix_id" not in entry_from_item("m", {"postfix_id": 7}, ([], ["b"], []))
