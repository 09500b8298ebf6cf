# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import multiprocessing
import os

import pytest

from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.pacing import (
    BudgetExhaustedError,
    RequestPacer,
    SharedBudget,
    announced_quotas,
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
        ({"Ratelimit": '"default";r=50;t=30'}, [("default", 50, 30)]),
        ({"Ratelimit": "default;r=0;t=299"}, [("default", 0, 299)]),
        ({"Ratelimit": '"default";r=900;t=200, "burst";r=2;t=1'}, [("default", 900, 200), ("burst", 2, 1)]),
        ({"Ratelimit": "r=7"}, [("", 7, None)]),
        ({"RateLimit-Remaining": "7", "RateLimit-Reset": "12"}, [("default", 7, 12)]),
        ({}, []),
        ({"Ratelimit": "garbage"}, []),
    ],
)
def test_every_announced_quota_is_read_with_its_policy(headers, expected):
    assert announced_quotas(headers) == expected


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
    # The lowest count announced for the window, less the request taken since the first answer.
    assert len(notices) == 1 and "1 request(s) left" in notices[0]


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


def test_an_announced_quota_is_the_budget_and_counts_every_request_sent_since_the_answer(tmp_path):
    fake = FakeTime()
    notices = []

    def pacer():
        return RequestPacer(
            limit=3,
            window=300.0,
            reserve=2,
            on_pause=notices.append,
            clock=fake.clock,
            sleep=fake.sleep,
            budget=SharedBudget(str(tmp_path), "token-one"),
            ceiling_always=False,
        )

    first, second = pacer(), pacer()
    first.acquire()
    first.observe({"Ratelimit": '"default";r=10;t=120'})
    # Past the client-side budget of 3, and with no further answer: both processes take from the one count.
    for dummy in range(4):
        first.acquire()
        second.acquire()
    assert fake.slept == []
    second.acquire()
    assert fake.slept == [30.0] * 4  # the window's reset, 120 s away, waited in chunks
    assert len(notices) == 1 and "Cloudflare's Ratelimit header announces 2 request(s) left" in notices[0]

    # The window reset and no answer has announced the new one: the client-side budget (3) governs. The eight
    # requests the server's old window counted do not hold anyone back; the two sent while no count was known
    # (the first, and the one just after the reset) do.
    first.acquire()
    assert fake.slept == [30.0] * 4
    with pytest.raises(BudgetExhaustedError):
        first.acquire(max_wait=10)


def test_a_rate_limit_that_is_set_stays_a_ceiling_whatever_is_announced():
    fake = FakeTime()
    pacer = RequestPacer(limit=2, window=60.0, reserve=2, clock=fake.clock, sleep=fake.sleep)
    pacer.observe({"Ratelimit": '"default";r=1000;t=300'})
    for dummy in range(3):
        pacer.acquire()
    assert fake.slept == [30.0, 30.0]


def test_a_late_answer_from_a_window_that_is_over_says_nothing_and_a_new_window_replaces_the_count():
    fake = FakeTime()
    pacer = RequestPacer(limit=1, window=300.0, reserve=2, clock=fake.clock, sleep=fake.sleep, ceiling_always=False)
    pacer.observe({"Ratelimit": '"default";r=3;t=10'})
    fake.now += 5
    pacer.observe({"Ratelimit": '"default";r=900;t=300'})  # a new window began: its count replaces 3
    pacer.observe({"Ratelimit": '"default";r=0;t=5'})  # late, from the window that just ended
    for dummy in range(5):
        pacer.acquire()
    assert fake.slept == []


def test_answers_of_one_window_hold_it_until_the_latest_reset_they_announce():
    """A sliding window (a burst policy) resets later for each request that entered it: its answers, heard in
    turn, announce later resets, and the window is over only at the last of them. Resuming at the first let a
    fifth request into a window of four (test_every_item_of_a_multi_policy_ratelimit_is_obeyed, 1 run in 4)."""
    fake = FakeTime()
    pacer = RequestPacer(limit=1000, window=300.0, reserve=1, clock=fake.clock, sleep=fake.sleep, ceiling_always=False)
    pacer.observe({"Ratelimit": '"burst";r=1;t=2'})
    fake.now += 0.5
    pacer.observe({"Ratelimit": '"burst";r=0;t=2'})

    pacer.acquire()

    assert fake.slept and abs(sum(fake.slept) - 2.0) < 1e-6, fake.slept
