# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The event source's feed (issue 18), call by call: the moving window, paging, 202 polling, the checkpoint."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import asyncio
import datetime
import json
import os
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.client import CloudflareClient
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.quarantine_feed import (
    Checkpoint,
    QuarantineFeed,
    QuarantineSource,
    SourceError,
)
from ansible_collections.mailsec.cloudflare.tests.event_source_plugin import load_event_source_plugin

ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"
BASE = "https://api.example.test/client/v4"
TOKEN = "tok-SECRET-0123456789abcdef"
SEARCH = "%s/accounts/%s/email-security/investigate" % (BASE, ACCOUNT)
NOW = datetime.datetime(2026, 11, 25, 12, 0, 0, tzinfo=datetime.timezone.utc)


class Clock:
    def __init__(self, moment=NOW):
        self.moment = moment

    def __call__(self):
        return self.moment

    def advance(self, seconds):
        self.moment += datetime.timedelta(seconds=seconds)


def message(message_id, minutes_ago=1, quarantined=True, sender="a@partner.example"):
    sent = (NOW - datetime.timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "id": message_id,
        "from": sender,
        "to": ["x@corp.example"],
        "sent_date": sent,
        "is_quarantined": quarantined,
        "delivery_status": ["quarantined" if quarantined else "delivered"],
        "final_disposition": "SPAM",
    }


def page(messages, next_cursor=None):
    return {
        "success": True,
        "errors": [],
        "messages": [],
        "result": messages,
        "result_info": {"count": len(messages), "per_page": 1000, "next": next_cursor, "page": 0, "total_count": 0},
    }


def query_of(call):
    return parse_qs(urlsplit(call.request.url).query)


def feed(tmp_path, clock, backlog=3600, overlap=600, filters=None):
    client = CloudflareClient(dict(api_token=TOKEN, base_url=BASE), sleep=lambda seconds: None)
    checkpoint = Checkpoint(str(tmp_path / "checkpoint.json")).load()
    return QuarantineFeed(client, ACCOUNT, filters or {}, checkpoint, backlog, overlap, clock=clock)


def emit_all(source_feed):
    found = source_feed.poll()
    for item in found:
        source_feed.emitting(item)
    source_feed.done()
    return [item["id"] for item in found]


def test_the_first_poll_looks_back_the_backlog_and_pages_by_cursor(api, tmp_path):
    api.get(SEARCH, json=page([message("m2", 5), message("m1", 30)], next_cursor="c2"))
    api.get(SEARCH, json=page([message("m3", 2), message("r1", 3, quarantined=False)]))

    emitted = emit_all(feed(tmp_path, Clock(), backlog=3600, overlap=600))

    first, second = query_of(api.calls[0]), query_of(api.calls[1])
    assert first["start"] == ["2026-11-25T10:50:00Z"]  # 3600 s backlog, 600 s overlap
    assert first["per_page"] == ["1000"] and first["detections_only"] == ["true"]
    assert "end" not in first
    assert second["cursor"] == ["c2"]
    assert emitted == ["m1", "m2", "m3"]


def test_a_slow_search_is_waited_for(api, tmp_path):
    api.get(
        SEARCH,
        status=202,
        json=dict(page([]), messages=[{"code": 1202, "message": "in progress"}]),
        headers={"Location": "/client/v4/accounts/%s/email-security/investigate?poll=t1" % ACCOUNT},
    )
    api.get(SEARCH, json=page([message("m1")]))

    assert emit_all(feed(tmp_path, Clock())) == ["m1"]


def test_the_window_moves_forward_and_nothing_is_emitted_twice(api, tmp_path):
    clock = Clock()
    api.get(SEARCH, json=page([message("m1", 2)]))
    api.get(SEARCH, json=page([message("m1", 2), message("m2", 1)]))
    source_feed = feed(tmp_path, clock)

    assert emit_all(source_feed) == ["m1"]
    clock.advance(60)
    assert emit_all(source_feed) == ["m2"]
    assert query_of(api.calls[1])["start"] == ["2026-11-25T11:50:00Z"]  # the first poll's moment less the overlap


def test_a_restart_reads_the_checkpoint_and_emits_nothing_again(api, tmp_path):
    clock = Clock()
    api.get(SEARCH, json=page([message("m1", 2)]))
    api.get(SEARCH, json=page([message("m1", 2), message("m2", 1)]))
    assert emit_all(feed(tmp_path, clock)) == ["m1"]

    clock.advance(30)
    restarted = feed(tmp_path, clock)

    assert emit_all(restarted) == ["m2"]
    saved = json.loads((tmp_path / "checkpoint.json").read_text())
    assert sorted(saved["emitted"]) == ["m1", "m2"] and saved["since"] == "2026-11-25T12:00:30Z"


def test_a_source_stopped_in_the_middle_of_a_poll_emits_only_the_rest_after_a_restart(api, tmp_path):
    clock = Clock()
    api.get(SEARCH, json=page([message("m1", 3), message("m2", 2), message("m3", 1)]))
    api.get(SEARCH, json=page([message("m1", 3), message("m2", 2), message("m3", 1)]))
    stopped = feed(tmp_path, clock)
    found = stopped.poll()
    stopped.emitting(found[0])  # stopped here: m1 was emitted, m2 and m3 were not, the window did not move on
    stopped.checkpoint.close()
    with open(str(tmp_path / "checkpoint.json.emitted"), "a", encoding="utf-8") as journal:
        journal.write("m2")  # a line a crash cut short: m2's event never left

    restarted = feed(tmp_path, clock)

    assert emit_all(restarted) == ["m2", "m3"]
    assert not (tmp_path / "checkpoint.json.emitted").exists()
    assert sorted(json.loads((tmp_path / "checkpoint.json").read_text())["emitted"]) == ["m1", "m2", "m3"]


def test_a_source_stopped_before_emitting_searches_the_same_window_again(api, tmp_path):
    clock = Clock()
    api.get(SEARCH, json=page([message("m1", 50)]))
    api.get(SEARCH, json=page([message("m1", 50)]))
    feed(tmp_path, clock).poll()  # stopped here: nothing emitted, the window not moved on

    clock.advance(30)
    restarted = feed(tmp_path, clock)

    assert emit_all(restarted) == ["m1"]
    assert query_of(api.calls[1])["start"] == ["2026-11-25T10:50:30Z"]


def test_ids_older_than_any_later_window_are_forgotten(api, tmp_path):
    clock = Clock()
    api.get(SEARCH, json=page([message("old", 25), message("new", 1)]))
    emit_all(feed(tmp_path, clock, overlap=600))

    saved = json.loads((tmp_path / "checkpoint.json").read_text())

    assert sorted(saved["emitted"]) == ["new"]


def test_a_checkpoint_that_cannot_be_read_is_refused(tmp_path):
    (tmp_path / "checkpoint.json").write_text("{not json")

    with pytest.raises(Exception, match="cannot be read.*move it away"):
        Checkpoint(str(tmp_path / "checkpoint.json")).load()


def source_args(tmp_path, **extra):
    args = dict(account_id=ACCOUNT, api_token=TOKEN, base_url=BASE, state_dir=str(tmp_path / "state"), poll_interval=5)
    args.update(extra)
    return args


@pytest.mark.parametrize(
    "extra, fragment",
    [
        (dict(poll_interval=1), "poll_interval must be a number of seconds, at least 5"),
        (dict(backlog="soon"), "backlog must be a number of seconds"),
        (dict(final_disposition="CLEAN"), "final_disposition must be one of"),
        (dict(sender=""), "sender must be non-empty text"),
        (dict(start="2026-11-01"), "unknown argument(s) start"),
        (dict(account_id="nope"), "account_id must be the 32-character"),
        (dict(api_token=None), "no credentials"),
    ],
)
def test_bad_arguments_stop_the_source_before_any_request(api, tmp_path, extra, fragment):
    with pytest.raises(SourceError) as raised:
        QuarantineSource.from_args(source_args(tmp_path, **extra), {}, lambda notice: None)

    assert fragment in str(raised.value)
    assert TOKEN not in str(raised.value)
    assert len(api.calls) == 0


def test_credentials_come_from_the_environment_and_never_reach_an_event(tmp_path):
    environ = {"CLOUDFLARE_API_TOKEN": TOKEN, "CLOUDFLARE_ACCOUNT_ID": ACCOUNT, "CLOUDFLARE_BASE_URL": BASE}
    source = QuarantineSource.from_args({"state_dir": str(tmp_path / "state")}, environ, lambda notice: None)
    echoed = dict(message("m1", sender="Invoices@Partner.Example"), note="seen Bearer " + TOKEN)

    event = source.event(echoed)

    assert event["sender"] == "invoices@partner.example" and event["sender_domain"] == "partner.example"
    assert event["account_id"] == ACCOUNT
    assert TOKEN not in json.dumps(event)
    assert source.feed.checkpoint.path == os.path.join(str(tmp_path / "state"), "eda-quarantine-%s.json" % ACCOUNT)
    source.close()


class ListQueue:
    def __init__(self):
        self.events = []

    async def put(self, event):
        self.events.append(event)


def test_the_plugin_puts_one_event_per_message_then_stops_on_an_auth_error(api, tmp_path, monkeypatch):
    plugin = load_event_source_plugin()
    api.get(SEARCH, json=page([message("m1"), message("m2")]))
    api.get(SEARCH, status=401, json={"success": False, "errors": [{"code": 10000, "message": "Authentication error"}]})
    queue = ListQueue()
    real_sleep = asyncio.sleep

    async def no_wait(seconds):
        await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", no_wait)
    with pytest.raises(SourceError, match="Authentication error"):
        asyncio.run(plugin.main(queue, source_args(tmp_path)))

    assert [event["message"]["id"] for event in queue.events] == ["m1", "m2"]
    assert plugin.DOCUMENTATION and plugin.EXAMPLES


def test_a_lockout_is_waited_out_by_the_next_poll_not_the_end_of_the_source(api, tmp_path, monkeypatch):
    plugin = load_event_source_plugin()
    locked = {"success": False, "errors": [{"code": 971, "message": "Please wait"}]}
    api.get(SEARCH, status=429, json=locked, headers={"Retry-After": "3600"})
    api.get(SEARCH, json=page([message("m1")]))
    api.get(SEARCH, status=403, json={"success": False, "errors": [{"code": 10000, "message": "Authentication error"}]})
    queue = ListQueue()
    real_sleep = asyncio.sleep
    waits = []

    async def no_wait(seconds):
        waits.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", no_wait)
    with pytest.raises(SourceError):
        asyncio.run(plugin.main(queue, source_args(tmp_path)))

    assert [event["message"]["id"] for event in queue.events] == ["m1"]
    assert waits[0] == 300  # the lockout, waited out whole; then the poll interval
    assert waits[1] == 5


def test_the_documentation_names_exactly_the_arguments_the_source_takes(tmp_path):
    plugin = load_event_source_plugin()
    documented = set(yaml.safe_load(plugin.DOCUMENTATION)["options"])
    everything = dict.fromkeys(documented, "x")

    with pytest.raises(SourceError) as raised:
        QuarantineSource.from_args(dict(everything, not_an_argument=1), {}, lambda notice: None)

    assert "unknown argument(s) not_an_argument;" in str(raised.value)
    taken = str(raised.value).split("the source takes ", 1)[1].split(", ")
    assert set(taken) == documented
