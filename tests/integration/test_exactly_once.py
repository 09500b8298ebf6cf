# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 11, one deterministic playbook run per fault: each delivered messages twice, or misreported, on 1.0.0."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import time

import pytest
import trustme
import yaml

from conftest import (
    SIMULATOR_DIR,
    ansible_env,
    assert_within_contract,
    kill_while_a_release_is_in_flight,
    release_playbook,
    run_playbook,
    run_playbook_acting_on,
    start_playbook,
)
from tests.simulator import Simulator, generate_messages, load_state


def quarantined_ids(sim, count=None):
    ids = [m.id for m in sim.state.messages.values() if m.is_quarantined]
    return ids[:count] if count else ids


def assert_nothing_delivered_twice(sim):
    assert sim.state.double_deliveries() == []
    assert all(count == 1 for count in sim.state.deliveries().values())


def test_slow_processing_is_awaited_not_resent(sim, release):
    sim.state.inject("slow_before", "release", count=1, delay=2.5)
    ids = quarantined_ids(sim, 4)

    run = release({"message_ids": ids, "timeout": 1, "settle_timeout": 10, "fail_on_incomplete": False})

    assert run.returncode == 0, run.output
    time.sleep(2)
    assert len(sim.state.requests(method="POST")) == 1
    assert_nothing_delivered_twice(sim)
    assert sorted(sim.state.deliveries()) == sorted(ids)
    assert [r["status"] for r in run.result["results"]] == ["released_unconfirmed"] * 4


@pytest.mark.parametrize(
    "fault, options",
    [
        ("reset_after", {}),
        # A 400 after processing must not make body_format=auto resend the batch in the other form.
        ("status_after", {"status": 400, "message": "Invalid request body"}),
    ],
)
def test_an_error_after_processing_is_read_back_not_resent(sim, release, fault, options):
    sim.state.inject(fault, "release", count=1, **options)
    ids = quarantined_ids(sim, 3)

    run = release({"message_ids": ids, "fail_on_incomplete": False})

    assert run.returncode == 0, run.output
    assert len(sim.state.requests(method="POST")) == 1
    assert_nothing_delivered_twice(sim)
    assert [r["status"] for r in run.result["results"]] == ["released_unconfirmed"] * 3


@pytest.fixture
def tls_sim(tmp_path):
    authority = trustme.CA()
    certificate = tmp_path / "server.pem"
    authority.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(certificate))
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    state = load_state(os.path.join(SIMULATOR_DIR, "seeds", "demo.json"))
    with Simulator(state, tls=(str(certificate), str(certificate))) as running:
        running.ca_file = str(ca_file)
        yield running
    assert_within_contract(running.state)


def test_a_tls_error_after_processing_is_read_back_not_resent(tls_sim, tmp_path):
    tls_sim.state.inject("tls_garbage_after", "release", count=1)
    ids = quarantined_ids(tls_sim, 3)
    playbook = release_playbook(tmp_path, {"message_ids": ids, "ca_path": tls_sim.ca_file, "fail_on_incomplete": False})
    result_file = tmp_path / "result.json"

    run = run_playbook(playbook, tmp_path, ansible_env(tls_sim, tmp_path), {"result_file": str(result_file)})

    assert run.returncode == 0, run.output
    result = run.result
    assert len(tls_sim.state.requests(method="POST")) == 1
    assert_nothing_delivered_twice(tls_sim)
    assert [r["status"] for r in result["results"]] == ["released_unconfirmed"] * 3


def test_a_failed_answer_with_items_reports_what_it_delivered(sim, release):
    sim.state.inject("failed_with_items", "release", count=1, message="partial failure")
    ids = quarantined_ids(sim, 3)

    run = release({"message_ids": ids, "only_quarantined": False, "fail_on_incomplete": False})

    assert run.returncode == 0, run.output
    assert [r["status"] for r in run.result["results"]] == ["released"] * 3
    assert_nothing_delivered_twice(sim)


@pytest.mark.parametrize(
    "shape", ["id_list", "postfix_int", "no_lists", "not_dict", "conflicting", "odd_messages", "result_object"]
)
def test_odd_answer_shapes_end_with_a_status_per_id(sim, release, shape):
    sim.state.inject("item_shapes", "release", count=1, shape=shape)
    ids = quarantined_ids(sim, 3)

    run = release({"message_ids": ids, "fail_on_incomplete": False})

    assert run.returncode == 0, run.output
    assert "MODULE FAILURE" not in run.output
    assert [r["id"] for r in run.result["results"]] == ids
    assert {r["status"] for r in run.result["results"]} <= {"released", "released_unconfirmed", "unknown"}
    assert_nothing_delivered_twice(sim)


def test_every_item_of_a_multi_policy_ratelimit_is_obeyed(sim, release):
    sim.state.set_quota(1000, window=300, lockout=300, burst=4, burst_window=2)
    ids = quarantined_ids(sim, 8)

    run = release({"message_ids": ids, "batch_size": 1})

    assert run.returncode == 0, run.output
    assert sim.state.ledger("lockout") == []
    assert run.result["summary"]["released"] + run.result["summary"]["partially_released"] == 8


def test_a_server_announcing_nothing_left_on_every_answer_warns_once(sim, release):
    sim.state.configure({"fixed_ratelimit": '"default";r=0;t=0'})
    ids = quarantined_ids(sim, 6)

    run = release({"message_ids": ids, "batch_size": 1, "concurrency": 1, "fail_on_incomplete": False})

    assert run.returncode == 0, run.output
    assert run.output.count("pausing") == 1
    # Every answer announces nothing left: the pre-check's one search of the ids' window, then six releases.
    assert run.result["summary"]["rate_limit_pauses"] >= 6


def test_a_loop_over_the_module_shares_one_budget(sim, tmp_path):
    sim.state.add_messages(generate_messages(24, seed=9))
    ids = [m.id for m in generate_messages(24, seed=9)]
    # Cloudflare's quota without announcing it: only a budget shared by the module processes keeps under it.
    sim.state.set_quota(30, window=300, lockout=300, announce=False)
    task = {
        "name": "Release one group",
        "mailsec.cloudflare.email_security_release": {
            "message_ids": "{{ item }}",
            "batch_size": 1,
            "concurrency": 1,
            "rate_limit": 30,
            "task_timeout": 10,
            "fail_on_incomplete": False,
        },
        "loop": [ids[0:8], ids[8:16], ids[16:24]],
        "ignore_errors": True,
    }
    playbook = tmp_path / "loop.yml"
    playbook.write_text(
        yaml.safe_dump([{"name": "Loop", "hosts": "localhost", "gather_facts": False, "tasks": [task]}])
    )

    run = run_playbook(playbook, tmp_path, ansible_env(sim, tmp_path))

    assert sim.state.ledger("lockout") == []
    assert len(sim.state.requests()) == 30
    assert "the request budget needs a pause" in run.stdout
    assert_nothing_delivered_twice(sim)


# Crash and re-run -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kill_everything", [False, True], ids=["playbook-only", "every-process"])
def test_a_run_killed_mid_flight_can_be_run_again_at_once(sim, tmp_path, kill_everything):
    sim.state.add_messages(generate_messages(40, seed=11))
    ids = [m.id for m in generate_messages(40, seed=11)]
    sim.state.configure({"latency": 0.08})
    args = {"message_ids": ids, "batch_size": 2, "concurrency": 1, "settle_timeout": 15, "fail_on_incomplete": False}
    env = ansible_env(sim, tmp_path)
    result_file = {"result_file": str(tmp_path / "second.json")}
    first = start_playbook(release_playbook(tmp_path, args, name="first"), tmp_path, env)

    if kill_everything:
        kill_while_a_release_is_in_flight(sim, first, delivered_at_least=4)
        sim.state.configure({"latency": 0.4})
        second = run_playbook(release_playbook(tmp_path, args, name="second"), tmp_path, env, result_file)
    else:
        # The orphaned module holds the account lock for as long as the server holds its release: until the second
        # run says it waits for that lock, however long ansible-playbook takes to start on a loaded machine. Then
        # the orphan has its answer, finds its ansible-playbook gone, stops and lets go of the lock.
        kill_while_a_release_is_in_flight(sim, first, delivered_at_least=4, kill_everything=False, hold=120)
        second = run_playbook_acting_on(
            release_playbook(tmp_path, args, name="second"),
            tmp_path,
            env,
            result_file,
            printed="waiting for another run writing to this account on this machine",
            act=sim.state.let_go,
        )
    output = second.output

    assert second.returncode == 0, output
    time.sleep(3.5)
    assert_nothing_delivered_twice(sim)
    assert sorted(sim.state.deliveries()) == sorted(ids)
    result = second.result
    assert {r["status"] for r in result["results"]} <= {"released", "partially_released", "already_released"}
    if kill_everything:
        assert "in flight when an earlier run stopped" in output
    else:
        assert "waiting for another run writing to this account on this machine" in output
