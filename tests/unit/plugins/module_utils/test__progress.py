# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Progress lines: written only where the action plugin reads them, spaced out per topic, masked, never a failure."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.pacing import RequestPacer
from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.progress import (
    ENV_PROGRESS_FILE,
    Progress,
    count,
)

from ansible_collections.mailsec.cloudflare.tests.unit.plugins.conftest import FakeClock


def test_lines_go_to_the_file_the_action_plugin_names_and_nowhere_without_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Progress.from_environment({}, mask=lambda text: text).say("bulk", "bulk job 1 PROCESSING", urgent=True)
    assert list(tmp_path.iterdir()) == []

    named = tmp_path / "progress"
    Progress.from_environment({ENV_PROGRESS_FILE: str(named)}, mask=str.upper).say("bulk", "bulk job 1 PROCESSING")
    assert named.read_text() == "BULK JOB 1 PROCESSING\n"


def test_lines_on_one_topic_are_spaced_out_unless_urgent(tmp_path):
    time = FakeClock()
    path = tmp_path / "progress"
    progress = Progress(str(path), clock=time)

    progress.say("bulk", "first")
    time.now += 9.9
    progress.say("bulk", "within the gap")
    progress.say("pause", "another topic")
    progress.say("bulk", "a new status", urgent=True)
    time.now += 10.5
    progress.say("bulk", "after the gap")

    assert path.read_text().splitlines() == ["first", "another topic", "a new status", "after the gap"]


def test_every_line_is_masked_and_kept_on_one_line(tmp_path):
    path = tmp_path / "progress"
    progress = Progress(str(path), mask=lambda text: text.replace("s3cr3t-token", "********"))

    progress.say("pause", "waiting\nfor s3cr3t-token\r\n  and more", urgent=True)

    assert path.read_text() == "waiting for ******** and more\n"


def test_a_file_that_cannot_be_written_is_given_up_without_failing(tmp_path):
    progress = Progress(str(tmp_path / "gone" / "progress"))
    progress.say("bulk", "one", urgent=True)
    progress.say("bulk", "two", urgent=True)
    assert not (tmp_path / "gone").exists()


def test_counts_read_as_people_write_them():
    assert [count(0), count(999), count(100000), count(1234567)] == ["0", "999", "100,000", "1,234,567"]


def test_a_long_rate_limit_pause_says_its_length_and_reason_then_how_much_is_left(tmp_path):
    time = FakeClock()
    path = tmp_path / "progress"
    progress = Progress(str(path), clock=time)
    pacer = RequestPacer(limit=1, window=100.0, clock=time, sleep=time.sleep, progress=progress)

    pacer.acquire()
    pacer.acquire()

    lines = path.read_text().splitlines()
    assert lines[0] == (
        "waiting 100 s for the rate limit: the client-side budget of 1 requests per 100 s (rate_limit, or the "
        "server's Ratelimit-Policy) is spent"
    )
    assert lines[1:] == ["still waiting %d s for the rate limit" % left for left in (70, 40, 10)]
    # Woken every 30 s at most to say so; the pause lasts as long as it did.
    assert time.slept == [30.0, 30.0, 30.0, 10.0]
    assert pacer.pauses == 1 and pacer.paused_seconds == 100.0


def test_a_short_pause_does_not_repeat_within_the_gap(tmp_path):
    time = FakeClock()
    path = tmp_path / "progress"
    pacer = RequestPacer(limit=1000, reserve=0, clock=time, sleep=time.sleep, progress=Progress(str(path), clock=time))
    for dummy in range(20):
        pacer.acquire()
        pacer.observe({"Ratelimit": '"default";r=0;t=0'})

    # 19 pauses of 1 s: a line on the first, the next once 10 s have passed.
    assert (
        path.read_text().splitlines()
        == ["waiting 1 s for the rate limit: Cloudflare's Ratelimit header announces 0 request(s) left"] * 2
    )
