# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.mailsec.cloudflare.plugins.module_utils._pacing import (
    BudgetExhaustedError,
    RequestPacer,
    parse_ratelimit,
)


class FakeTime:
    def __init__(self):
        self.now = 1000.0
        self.slept = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(round(seconds, 3))
        self.now += seconds


@pytest.mark.parametrize("headers, expected", [
    ({"Ratelimit": '"default";r=50;t=30'}, (50, 30)),
    ({"Ratelimit": 'default;r=0;t=299'}, (0, 299)),
    ({"RateLimit-Remaining": "7", "RateLimit-Reset": "12"}, (7, 12)),
    ({}, (None, None)),
    ({"Ratelimit": "garbage"}, (None, None)),
])
def test_parse_ratelimit(headers, expected):
    assert parse_ratelimit(headers) == expected


def test_client_budget_waits_for_the_oldest_request_to_leave_the_window():
    fake = FakeTime()
    notices = []
    pacer = RequestPacer(limit=3, window=10.0, on_pause=notices.append, clock=fake.clock, sleep=fake.sleep)
    for dummy in range(3):
        pacer.acquire()
        fake.now += 1.0
    pacer.acquire()

    assert fake.slept == [7.0]
    assert len(notices) == 1 and "rate_limit" in notices[0]
    assert pacer.paused_seconds == pytest.approx(7.0)


def test_low_remaining_quota_pauses_until_the_announced_reset():
    fake = FakeTime()
    notices = []
    pacer = RequestPacer(limit=1000, window=300.0, reserve=2, on_pause=notices.append, clock=fake.clock, sleep=fake.sleep)
    pacer.observe({"Ratelimit": '"default";r=10;t=30'})
    pacer.acquire()
    assert fake.slept == []

    pacer.observe({"Ratelimit": '"default";r=2;t=30'})
    pacer.observe({"Ratelimit": '"default";r=1;t=29'})
    pacer.acquire()

    assert fake.slept == [30.0]
    assert len(notices) == 1 and "2 request(s) left" in notices[0]


def test_a_pause_past_the_deadline_is_refused():
    fake = FakeTime()
    pacer = RequestPacer(limit=1, window=300.0, clock=fake.clock, sleep=fake.sleep)
    pacer.acquire()
    with pytest.raises(BudgetExhaustedError):
        pacer.acquire(deadline=fake.now + 10)
    assert fake.slept == []


def test_hold_makes_every_caller_wait_without_a_notice():
    fake = FakeTime()
    notices = []
    pacer = RequestPacer(on_pause=notices.append, clock=fake.clock, sleep=fake.sleep)
    pacer.hold(5.0)
    pacer.acquire()

    assert fake.slept == [5.0]
    assert notices == []
