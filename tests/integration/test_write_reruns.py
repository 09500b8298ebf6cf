# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every write follows the release's settle rule: a run again inside the window after a lost answer settles first.

The simulator holds the first write for a few seconds and then processes it, while the client gives up after one:
the first run cannot know whether it landed and has to stop (task_timeout) before it does. The run again, at once
and on the same machine, must find the first run's write in the journal and wait for it to show, not send another.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from conftest import ansible_env, release_playbook, run_playbook

# The server processes the first write this long after it arrives; the first run gives up on it long before.
PROCESSING = 5.0
FIRST_RUN = {"timeout": 1, "task_timeout": 3}


def _run(tmp_path, sim, module, module_args, name):
    playbook = release_playbook(tmp_path, module_args, name=name, module=module)
    result_file = str(tmp_path / ("%s.json" % name))
    return run_playbook(playbook, tmp_path, ansible_env(sim, tmp_path), {"result_file": result_file})


def _until_the_held_write_has_landed(started):
    time.sleep(max(0.0, started + PROCESSING + 1.5 - time.monotonic()))


def _requests(sim, endpoint):
    return [e for e in sim.state.ledger("request") if e.get("endpoint") == endpoint]


def test_a_submission_run_again_inside_the_window_after_a_lost_answer_never_submits_again(sim, tmp_path):
    message_id = next(iter(sim.state.messages))
    sim.state.inject("slow_before", "submit", count=1, delay=PROCESSING)
    args = {"message_ids": [message_id], "fail_on_incomplete": False}

    started = time.monotonic()
    first = _run(tmp_path, sim, "email_security_submission", dict(args, **FIRST_RUN), "first")
    second = _run(tmp_path, sim, "email_security_submission", args, "second")
    _until_the_held_write_has_landed(started)

    assert [e["id"] for e in sim.state.ledger("submission")] == [message_id], second.output
    assert len(_requests(sim, "submit")) == 1
    assert [r["status"] for r in first.result["results"]] == ["submission_pending"], first.output
    assert [r["status"] for r in second.result["results"]] == ["already_submitted"], second.output
    assert "in flight when an earlier run stopped" in second.output


def test_an_allow_policy_run_again_inside_the_window_after_a_lost_create_never_creates_again(sim, tmp_path):
    sim.state.inject("slow_before", "settings_create", count=1, delay=PROCESSING)
    args = {"pattern": "billing@rerun-supplier.example", "pattern_type": "EMAIL", "ttl": "7d"}

    started = time.monotonic()
    first = _run(tmp_path, sim, "email_security_allow_policy", dict(args, **FIRST_RUN), "first")
    second = _run(tmp_path, sim, "email_security_allow_policy", args, "second")
    _until_the_held_write_has_landed(started)

    assert len(_requests(sim, "settings_create")) == 1, second.output
    assert first.result.get("failed") and "may still" in first.result["msg"], first.output
    assert not second.result.get("failed"), second.output
    assert [r["action"] for r in second.result["results"]] == ["unchanged"]
    assert "in flight when an earlier run stopped" in second.output
