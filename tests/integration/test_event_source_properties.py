# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Random schedules against the event source's feed: each newly quarantined message is one event, never two, and
none is lost, across kills in the middle of a poll, restarts from the checkpoint, search pages that repeat
messages, a local clock that jumps, and storms of 429s and server errors.

The feed runs in this process against a real HTTP simulator, driven as the source's main loop drives it (poll,
record each message before its event leaves, move the window on); a kill abandons the feed where it stands, and
a new one starts from the files on disk, as a restarted activation does. Bounded by max_examples and by the
client's deadline per schedule.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import datetime
import os
import time

from hypothesis import given, strategies as st

from property_support import bounded, run_and_record

from tests.simulator import Simulator, SimulatorState, generate_messages

from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.client import CloudflareClient
from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import CloudflareError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.quarantine_feed import (
    Checkpoint,
    QuarantineFeed,
    stops_the_source,
)

SCHEDULES = 60
BACKLOG = 40 * 86400.0
OVERLAP = 5.0


def _search_fault():
    return st.one_of(
        st.builds(dict, kind=st.just("rate_limit"), retry_after=st.just(0)),
        st.builds(dict, kind=st.just("status"), status=st.sampled_from([500, 502, 503])),
        st.builds(dict, kind=st.sampled_from(["drop_after", "malformed"])),
        st.builds(dict, kind=st.just("slow_after"), delay=st.floats(0.01, 0.2)),
    )


POLL = st.fixed_dictionaries(
    {
        # Where the local clock stands against the real one at this poll: it may jump either way between polls.
        "clock_offset": st.sampled_from([0.0, 0.0, -7200.0, -30.0, 30.0, 7200.0]),
        # A fault burst on the search: several 429s in a row is a storm that outlasts the client's retries.
        "faults": st.lists(st.tuples(_search_fault(), st.integers(1, 4)), max_size=2),
        "arrivals": st.integers(0, 4),
        # The source dies after this many events of the poll (None: the poll ends normally).
        "kill_after": st.one_of(st.none(), st.integers(0, 3)),
    }
)
SCHEDULE = st.fixed_dictionaries(
    {
        "backlog_messages": st.integers(0, 6),
        "per_page": st.sampled_from([2, 3, 1000]),
        "page_overlap": st.integers(0, 1),
        "polls": st.lists(POLL, min_size=1, max_size=5),
    }
)


class _Source:
    """The feed over one checkpoint file, as one activation of the source has it."""

    def __init__(self, sim, path, clock):
        self.client = CloudflareClient(
            dict(api_token=sim.state.api_token, base_url=sim.base_url, timeout=1.0, retries=2, max_retry_wait=0.2),
            deadline=time.monotonic() + 60,
        )
        self.feed = QuarantineFeed(
            self.client, sim.state.account_id, {}, Checkpoint(path).load(), BACKLOG, OVERLAP, clock=clock
        )

    def abandon(self):
        """As a SIGKILL leaves it: files as they are on disk, nothing saved."""
        self.feed.checkpoint.close()
        self.client.close()


def _arrival(number, schedule_number):
    return {
        "after_seconds": 0,
        "message": {
            "id": "Arrive%02dx%04d-2026-12-01T00:00:00-%08d" % (number, schedule_number, number),
            "from": "sender%d@outbreak.example" % number,
            "to": ["user%d@corp.example" % number],
            "subject": "Arrival %d" % number,
        },
    }


def _run_schedule(schedule, number, path, stats):
    state = SimulatorState(generate_messages(schedule["backlog_messages"], seed=number))
    state.configure({"max_per_page": schedule["per_page"], "search_page_overlap": schedule["page_overlap"]})
    events, offset, arrived = [], [0.0], 0

    def clock():
        return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset[0])

    with Simulator(state) as sim:
        source = _Source(sim, path, clock)
        polls = list(schedule["polls"]) + [{"clock_offset": 0.0, "faults": [], "arrivals": 0, "kill_after": None}]
        for poll in polls:
            for dummy in range(poll["arrivals"]):
                state.schedule_arrivals([_arrival(arrived, number)])
                arrived += 1
            # The first window starts from the backlog by the local clock: the jumps come once one has passed.
            offset[0] = poll["clock_offset"] if os.path.exists(path) else 0.0
            for fault, count in poll["faults"]:
                options = dict(fault)
                state.inject(options.pop("kind"), "search", count, **options)
            try:
                messages = source.feed.poll()
            except CloudflareError as exc:
                assert not stops_the_source(exc), exc.message
                stats["failed_polls"] += 1
                continue
            killed = False
            for index, message in enumerate(messages):
                if poll["kill_after"] is not None and index == poll["kill_after"]:
                    killed = True
                    break
                source.feed.emitting(message)
                events.append(message["id"])
            if killed or (poll["kill_after"] is not None and poll["kill_after"] >= len(messages)):
                # Killed mid-poll: before the window moved on. The next activation starts from the files.
                source.abandon()
                stats["kills"] += 1
                source = _Source(sim, path, clock)
                continue
            source.feed.done()
        # Whatever the schedule did, one clean poll at the end must find every message not yet emitted.
        offset[0] = 0.0
        met = sum(fault.count - fault.remaining for fault in state.faults)
        for fault in state.faults:
            fault.remaining = 0
        for message in source.feed.poll():
            source.feed.emitting(message)
            events.append(message["id"])
        source.feed.done()
        source.abandon()
        quarantined = {m.id for m in state.messages.values() if m.is_quarantined}
    stats["schedules"] += 1
    stats["events"] += len(events)
    stats["faults_met"] += met
    twice = [i for i, n in collections.Counter(events).items() if n > 1]
    lost = sorted(quarantined - set(events))
    stats["duplicate_events"] += len(twice)
    stats["lost_events"] += len(lost)
    return twice, lost, quarantined, events


def test_the_event_source_emits_each_message_once_across_kills_restarts_and_faults(tmp_path):
    stats = collections.Counter()
    numbers = iter(range(10**6))

    @bounded(SCHEDULES)
    @given(schedule=SCHEDULE)
    def check(schedule):
        number = next(numbers)
        path = str(tmp_path / ("checkpoint-%d" % number) / "feed.json")
        twice, lost, quarantined, events = _run_schedule(schedule, number, path, stats)
        assert twice == [], (schedule, twice)
        assert lost == [], (schedule, lost)
        assert set(events) == quarantined, schedule

    run_and_record(check, "property-event-source.json", stats)
    assert stats["schedules"] >= SCHEDULES
