# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import multiprocessing
import os

import pytest

from ansible_collections.mailsec.cloudflare.plugins.module_utils._pacing import (
    BudgetExhaustedError,
    RequestPacer,
    SharedBudget,
    parse_ratelimit,
    parse_ratelimit_policy,
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


@pytest.mark.parametrize(
    "headers, expected",
    [
        ({"Ratelimit": '"default";r=50;t=30'}, [(50, 30)]),
        ({"Ratelimit": "default;r=0;t=299"}, [(0, 299)]),
        ({"Ratelimit": '"default";r=900;t=200, "burst";r=2;t=1'}, [(900, 200), (2, 1)]),
        ({"RateLimit-Remaining": "7", "RateLimit-Reset": "12"}, [(7, 12)]),
        ({}, []),
        ({"Ratelimit": "garbage"}, []),
    ],
)
def test_parse_ratelimit_reads_every_item(headers, expected):
    assert parse_ratelimit(headers) == expected


def test_parse_ratelimit_policy_reads_every_item():
    headers = {"Ratelimit-Policy": '"default";q=1200;w=300, "burst";q=50;w=10'}
    assert parse_ratelimit_policy(headers) == [(1200, 300), (50, 10)]


def test_the_most_restrictive_item_pauses_everyone():
    fake = FakeTime()
    pacer = RequestPacer(limit=1000, window=300.0, reserve=2, clock=fake.clock, sleep=fake.sleep)
    pacer.observe({"Ratelimit": '"default";r=900;t=200, "burst";r=1;t=7'})
    pacer.acquire()
    assert fake.slept == [7.0]


def test_a_stricter_announced_policy_becomes_a_client_window():
    fake = FakeTime()
    pacer = RequestPacer(limit=1000, window=300.0, clock=fake.clock, sleep=fake.sleep)
    pacer.observe({"Ratelimit-Policy": '"default";q=1200;w=300, "burst";q=2;w=10'})
    for dummy in range(3):
        pacer.acquire()
    assert fake.slept == [10.0]


def test_a_server_announcing_nothing_left_on_every_answer_warns_once():
    fake = FakeTime()
    notices = []
    pacer = RequestPacer(limit=1000, reserve=0, on_pause=notices.append, clock=fake.clock, sleep=fake.sleep)
    for dummy in range(50):
        pacer.acquire()
        pacer.observe({"Ratelimit": '"default";r=0;t=0'})

    assert len(notices) == 1
    assert pacer.pauses == 49
    assert pacer.paused_seconds == pytest.approx(49.0)


def test_pacers_sharing_a_budget_file_share_one_window(tmp_path):
    fake = FakeTime()
    first = RequestPacer(
        limit=4, window=60.0, clock=fake.clock, sleep=fake.sleep, budget=SharedBudget(str(tmp_path), "token-one")
    )
    second = RequestPacer(
        limit=4, window=60.0, clock=fake.clock, sleep=fake.sleep, budget=SharedBudget(str(tmp_path), "token-one")
    )
    other_token = RequestPacer(
        limit=4, window=60.0, clock=fake.clock, sleep=fake.sleep, budget=SharedBudget(str(tmp_path), "token-two")
    )
    for dummy in range(2):
        first.acquire()
        second.acquire()
    other_token.acquire()
    assert fake.slept == []
    with pytest.raises(BudgetExhaustedError):
        second.acquire(max_wait=10)
    assert not any("token-one" in name for name in os.listdir(str(tmp_path)))


def _take_from_shared_budget(directory, count, limit):
    pacer = RequestPacer(limit=limit, window=300.0, budget=SharedBudget(directory, "shared-token"))
    taken = 0
    for dummy in range(count):
        try:
            pacer.acquire(max_wait=0)
        except BudgetExhaustedError:
            break
        taken += 1
    return taken


def test_processes_on_one_token_never_exceed_the_budget_together(tmp_path):
    with multiprocessing.get_context("fork").Pool(3) as pool:
        taken = pool.starmap(_take_from_shared_budget, [(str(tmp_path), 30, 50)] * 3)
    assert sum(taken) == 50


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
    pacer = RequestPacer(
        limit=1000, window=300.0, reserve=2, on_pause=notices.append, clock=fake.clock, sleep=fake.sleep
    )
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
        pacer.acquire(max_wait=10)
    assert fake.slept == []


def test_hold_makes_every_caller_wait_without_a_notice():
    fake = FakeTime()
    notices = []
    pacer = RequestPacer(on_pause=notices.append, clock=fake.clock, sleep=fake.sleep)
    pacer.hold(5.0)
    pacer.acquire()

    assert fake.slept == [5.0]
    assert notices == []
