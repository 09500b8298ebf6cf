# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 24, state across machines: the journal, the account lock, the request budget and the event source's
checkpoint in a real PostgreSQL server (initdb + pg_ctl in a temporary directory, 127.0.0.1, an ephemeral port,
stopped by the test that started it).

A "node" is a process tree with its own state_dir and HOME, as two AWX execution nodes or two container-group pods
have; what they share is the database, and the simulator stands for Cloudflare.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import asyncio
import json
import os
import threading
import time

import jinja2
import pytest
import yaml

from conftest import (
    COLLECTION_ROOT,
    ansible_env,
    kill_while_a_release_is_in_flight,
    release_playbook,
    run_playbook,
    start_playbook,
    wait_for,
)
from test_exactly_once import assert_nothing_delivered_twice
from tests.event_source_plugin import load_event_source_plugin
from tests.postgres_server import SUPERUSER, SUPERUSER_PASSWORD
from tests.simulator import generate_messages

from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import StateStoreError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._state.postgres import SCHEMA_VERSION, PostgresState
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.quarantine_feed import QuarantineSource

TRIALS = 4
EXPLICIT = {"released", "partially_released", "already_released", "released_unconfirmed", "not_released"}
EXPLICIT_OR_PENDING = EXPLICIT | {"release_pending"}


def node_env(sim, tmp_path, name, dsn, **overrides):
    """The environment of one node: its own state_dir, HOME and Ansible directories, the shared database."""
    home = tmp_path / name
    home.mkdir(exist_ok=True)
    return ansible_env(
        sim,
        home,
        HOME=str(home),
        MAILSEC_CLOUDFLARE_STATE_BACKEND="postgresql",
        MAILSEC_CLOUDFLARE_STATE_DSN=dsn,
        **overrides,
    )


def _start_node(sim, tmp_path, name, dsn, args):
    env = node_env(sim, tmp_path, name, dsn)
    result_file = str(tmp_path / ("%s.json" % name))
    process = start_playbook(release_playbook(tmp_path, args, name=name), tmp_path, env, {"result_file": result_file})
    return process, result_file


def _finish(process, result_file):
    stdout, stderr = process.communicate(timeout=300)
    with open(result_file, encoding="utf-8") as source:
        return process.returncode, stdout + stderr, json.load(source)


def test_two_nodes_releasing_the_same_ids_at_once_deliver_each_once(sim, postgres, tmp_path):
    # Measured before this backend, with one state_dir per node: 40 of 40 ids sent twice, in 4 of 4 trials.
    sim.state.configure({"latency": 0.3})
    waited = 0
    for trial in range(TRIALS):
        messages = generate_messages(40, seed=100 + trial)
        sim.state.add_messages(messages)
        ids = [m.id for m in messages]
        args = {"message_ids": ids, "fail_on_incomplete": False}
        nodes = [_start_node(sim, tmp_path, "trial%d-node%d" % (trial, n), postgres.dsn(), args) for n in (1, 2)]
        outcomes = [_finish(*node) for node in nodes]

        assert_nothing_delivered_twice(sim)
        assert all(sim.state.deliveries().get(i) == 1 for i in ids)
        for returncode, output, result in outcomes:
            assert returncode == 0, output
            assert {r["id"]: r["status"] for r in result["results"]}.keys() == set(ids)
            assert {r["status"] for r in result["results"]} <= {"released", "already_released"}, result["results"]
        released_by = [sum(r["status"] == "released" for r in result["results"]) for dummy, dummy, result in outcomes]
        assert sorted(released_by) == [0, 40]
        waited += sum("through the state database" in output for dummy, output, dummy in outcomes)
    # The node that found the lock taken said whom it waited for, in at least one trial.
    assert waited >= 1


def test_a_node_killed_mid_release_is_settled_by_another_node_at_once(sim, postgres, tmp_path):
    messages = generate_messages(40, seed=21)
    sim.state.add_messages(messages)
    ids = [m.id for m in messages]
    sim.state.configure({"latency": 0.08})
    args = {"message_ids": ids, "batch_size": 2, "concurrency": 1, "settle_timeout": 15, "fail_on_incomplete": False}
    first = start_playbook(
        release_playbook(tmp_path, args, name="pod1"), tmp_path, node_env(sim, tmp_path, "pod1", postgres.dsn())
    )

    # A deleted pod: the playbook and every process under it, the module included, killed at once.
    kill_while_a_release_is_in_flight(sim, first, delivered_at_least=4)
    second = run_playbook(
        release_playbook(tmp_path, args, name="pod2"),
        tmp_path,
        node_env(sim, tmp_path, "pod2", postgres.dsn()),
        {"result_file": str(tmp_path / "pod2.json")},
    )

    assert second.returncode == 0, second.output
    time.sleep(3.5)
    assert_nothing_delivered_twice(sim)
    assert sorted(sim.state.deliveries()) == sorted(ids)
    assert {r["status"] for r in second.result["results"]} <= {"released", "partially_released", "already_released"}
    # The dead node's journal entry was settled by the live one, on another "machine".
    assert "in flight when an earlier run stopped" in second.output
    assert postgres.sql("SELECT count(*) FROM mailsec_cloudflare_journal", database="mailsec") == [(0,)]


def test_four_nodes_sharing_one_token_stay_inside_the_quota(sim, postgres, tmp_path):
    messages = generate_messages(48, seed=31)
    sim.state.add_messages(messages)
    ids = [m.id for m in messages]
    # Cloudflare's quota without announcing it: only a budget the four nodes share keeps them under it.
    sim.state.set_quota(30, window=300, lockout=300, announce=False)
    args = {
        "batch_size": 1,
        "concurrency": 1,
        "only_quarantined": False,
        "rate_limit": 30,
        "task_timeout": 10,
        "fail_on_incomplete": False,
    }
    nodes = [
        _start_node(sim, tmp_path, "node%d" % n, postgres.dsn(), dict(args, message_ids=ids[n * 12 : (n + 1) * 12]))
        for n in range(4)
    ]
    outcomes = [_finish(*node) for node in nodes]

    assert sim.state.ledger("lockout") == []
    assert len(sim.state.requests()) == 30
    assert any("the request budget needs a pause" in output for dummy, output, dummy in outcomes)
    statuses = [r["status"] for dummy, dummy, result in outcomes for r in result["results"]]
    assert len(statuses) == 48 and set(statuses) <= EXPLICIT
    assert statuses.count("released") == 30
    assert_nothing_delivered_twice(sim)


def _source(sim, dsn, state_dir, checkpoint=None):
    args = {
        "account_id": sim.state.account_id,
        "api_token": sim.state.api_token,
        "base_url": sim.base_url,
        "state_backend": "postgresql",
        "state_dsn": dsn,
        "state_dir": str(state_dir),
        "backlog": 40 * 86400,
        "poll_interval": 5,
    }
    if checkpoint is not None:
        args["checkpoint"] = checkpoint
    return QuarantineSource.from_args(args, {}, lambda text: None)


def _poll(source, stop_after=None):
    """One poll as the source's loop makes it: record each message, then its event; stop_after kills it there."""
    events = []
    for message in source.feed.poll():
        if stop_after is not None and len(events) == stop_after:
            return events
        source.feed.emitting(message)
        events.append(source.event(message)["message"]["id"])
    source.feed.done()
    return events


def test_an_event_source_restarted_on_another_node_emits_no_event_twice_and_loses_none(sim, postgres, tmp_path):
    first = _source(sim, postgres.dsn(), tmp_path / "node1")
    emitted = _poll(first, stop_after=2)
    # The activation dies in the middle of its first poll; the controller starts it again elsewhere.
    first.close()
    arrivals = generate_messages(3, seed=41)
    sim.state.add_messages(arrivals)
    second = _source(sim, postgres.dsn(), tmp_path / "node2")
    emitted += _poll(second)
    emitted += _poll(second)
    second.close()
    # What one source that never stopped emits, from a checkpoint of its own.
    control = _source(sim, postgres.dsn(), tmp_path / "node3", checkpoint="control")
    everything = _poll(control)
    control.close()

    assert len(emitted) == len(set(emitted))
    assert len(emitted) >= 5 and set(emitted) == set(everything)
    assert {m.id for m in arrivals} <= set(emitted)


def test_the_database_killed_mid_run_stops_every_write_and_every_status_is_true(sim, postgres, tmp_path):
    messages = generate_messages(40, seed=51)
    sim.state.add_messages(messages)
    ids = [m.id for m in messages]
    sim.state.configure({"latency": 0.1})
    args = {"message_ids": ids, "batch_size": 2, "concurrency": 1, "fail_on_incomplete": False}
    process, result_file = _start_node(sim, tmp_path, "node", postgres.dsn(), args)
    assert wait_for(lambda: len(sim.state.deliveries()) >= 4, 120)

    postgres.kill()
    killed_at = time.time()
    returncode, output, result = _finish(process, result_file)

    # A request that left before the kill is processed within the latency (0.1 s).
    late = [r for r in sim.state.requests(endpoint="release") if r["time"] > killed_at + 0.6]
    assert late == []
    delivered = sim.state.deliveries()
    statuses = {r["id"]: r["status"] for r in result["results"]}
    assert set(statuses) == set(ids) and set(statuses.values()) <= EXPLICIT_OR_PENDING, result["results"]
    for message_id, status in statuses.items():
        if status in ("released", "partially_released", "already_released"):
            assert delivered.get(message_id) == 1, message_id
        if status == "not_released":
            assert message_id not in delivered, message_id
    assert "not_released" in statuses.values()
    assert "state database" in result["msg"] or "state database" in output
    assert_nothing_delivered_twice(sim)


def _release_with(sim, tmp_path, dsn, name):
    env = node_env(sim, tmp_path, name, dsn)
    playbook = release_playbook(tmp_path, {"message_ids": [m.id for m in generate_messages(2, seed=61)]}, name=name)
    return run_playbook(playbook, tmp_path, env, {"result_file": str(tmp_path / ("%s.json" % name))}, ["-vvv"])


def _bad_databases(postgres):
    postgres.sql("CREATE ROLE reader LOGIN PASSWORD 'Reader-Secret-4471'")
    postgres.sql("CREATE ROLE stranger LOGIN PASSWORD 'Stranger-Secret-5582'")
    postgres.sql("CREATE DATABASE empty")
    # The tables exist (an owner made them), but this user may only read them.
    PostgresState(postgres.dsn()).close()
    postgres.sql("GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader", database="mailsec")
    closed_port = postgres.port + 1 if postgres.port < 65535 else postgres.port - 1
    return {
        "malformed": (
            "postgresql://mailsec:Malformed-Secret-3360@127.0.0.1/db?sslmod=require",
            "not a libpq connection",
        ),
        "unreachable": (
            "postgresql://mailsec:Unreachable-Secret-2249@127.0.0.1:%d/mailsec" % closed_port,
            "cannot be reached",
        ),
        "wrong credentials": (postgres.dsn(password="Wrong-Secret-1138"), "password authentication failed"),
        "read-only user": (postgres.dsn("reader", "Reader-Secret-4471"), "may not write to"),
        "no tables and no right to create them": (
            postgres.dsn("stranger", "Stranger-Secret-5582", database="empty"),
            "may not create them",
        ),
    }


def test_a_bad_database_is_a_clear_error_before_any_cloudflare_request(sim, postgres, tmp_path):
    sim.state.add_messages(generate_messages(2, seed=61))
    for case, (dsn, cause) in _bad_databases(postgres).items():
        before = len(sim.state.requests())
        run = _release_with(sim, tmp_path, dsn, case.replace(" ", "-"))
        password = dsn.split("//", 1)[1].split("@", 1)[0].split(":", 1)[1]

        assert run.returncode == 0 and run.result.get("failed"), (case, run.output)
        assert cause in run.result["msg"], (case, run.result["msg"])
        assert "state_dsn" in run.result["msg"] or "grant" in run.result["msg"], (case, run.result["msg"])
        assert len(sim.state.requests()) == before, case
        assert password not in run.output, case
        assert SUPERUSER_PASSWORD not in run.output, case


def test_the_schema_is_made_once_when_many_nodes_start_at_once(postgres):
    errors, stores = [], []

    def start():
        try:
            stores.append(PostgresState(postgres.dsn()))
        except Exception as exc:  # pylint: disable=broad-except
            errors.append(exc)

    threads = [threading.Thread(target=start) for dummy in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for store in stores:
        store.close()

    assert errors == [] and len(stores) == 8
    assert postgres.sql("SELECT version FROM mailsec_cloudflare_schema", database="mailsec") == [(SCHEMA_VERSION,)]


def test_tables_of_version_1_are_upgraded_in_place_and_then_refused_by_a_node_of_version_1(postgres):
    # Version 1 locked with a session-level advisory lock and had no lease table: its nodes would not see a lease
    # and must not write beside one that holds it, so the upgrade leaves a version they refuse.
    PostgresState(postgres.dsn()).close()
    postgres.sql("DROP TABLE mailsec_cloudflare_lease", database="mailsec")
    postgres.sql("UPDATE mailsec_cloudflare_schema SET version = 1", database="mailsec")
    postgres.sql(
        "INSERT INTO mailsec_cloudflare_journal VALUES ('kept', 'acct', 'release', '[\"a\"]', now(), 120, 1, 'h')",
        database="mailsec",
    )

    store = PostgresState(postgres.dsn())
    try:
        assert list(store.journal("acct").unsettled("release")) == ["kept"]
        assert store.lock("acct").acquire(0).held()
    finally:
        store.close()
    assert postgres.sql("SELECT version FROM mailsec_cloudflare_schema", database="mailsec") == [(2,)]
    assert SCHEMA_VERSION == 2
    postgres.sql("UPDATE mailsec_cloudflare_schema SET version = 3", database="mailsec")
    with pytest.raises(StateStoreError, match="newer than this release knows"):
        PostgresState(postgres.dsn())


def test_settle_windows_are_measured_by_the_database_clock(postgres):
    store = PostgresState(postgres.dsn())
    journal = store.journal("0" * 32)
    journal.record("release", ["a"], 120)
    # Another node whose clock is an hour ahead would see the entry as an hour old by its own clock.
    postgres.sql(
        "UPDATE mailsec_cloudflare_journal SET sent_at = clock_timestamp() - interval '30 seconds'", database="mailsec"
    )
    entry = list(journal.unsettled("release").values())[0]
    store.close()

    assert 29 <= time.time() - entry["sent_at"] <= 35


def test_the_awx_credential_type_for_the_state_database_gives_a_job_shared_state(sim, postgres, tmp_path):
    with open(os.path.join(COLLECTION_ROOT, "extensions", "awx", "state_credential_type.yml"), encoding="utf-8") as f:
        credential = yaml.safe_load(f)
    assert [f["id"] for f in credential["inputs"]["fields"] if f.get("secret")] == ["password"]
    inputs = {
        "host": "127.0.0.1",
        "port": str(postgres.port),
        "database": "mailsec",
        "username": SUPERUSER,
        "password": SUPERUSER_PASSWORD,
        "sslmode": "disable",
    }
    injected = {name: jinja2.Template(value).render(**inputs) for name, value in credential["injectors"]["env"].items()}
    assert SUPERUSER_PASSWORD not in injected["MAILSEC_CLOUDFLARE_STATE_DSN"]
    messages = generate_messages(3, seed=71)
    sim.state.add_messages(messages)
    env = ansible_env(sim, tmp_path, HOME=str(tmp_path), JOB_ID="7", INVENTORY_ID="1", **injected)
    playbook = release_playbook(tmp_path, {"message_ids": [m.id for m in messages]}, name="awx-job")

    run = run_playbook(playbook, tmp_path, env, {"result_file": str(tmp_path / "awx-job.json")}, ["-vvv"])

    assert run.returncode == 0 and not run.result.get("failed"), run.output
    assert {r["status"] for r in run.result["results"]} == {"released"}
    # Shared state: no warning that the job's state dies with its container.
    assert "lives only as long as this job's container" not in run.output
    assert SUPERUSER_PASSWORD not in run.output
    assert postgres.sql("SELECT count(*) FROM mailsec_cloudflare_budget", database="mailsec") == [(1,)]


def test_an_awx_job_with_local_state_is_warned_once_that_it_does_not_last(sim, tmp_path):
    messages = generate_messages(2, seed=81)
    sim.state.add_messages(messages)
    env = ansible_env(sim, tmp_path, JOB_ID="8", INVENTORY_ID="1", MAILSEC_CLOUDFLARE_STATE_DIR=None)
    env["HOME"] = str(tmp_path)
    playbook = release_playbook(tmp_path, {"message_ids": [m.id for m in messages]}, name="local-job")

    run = run_playbook(playbook, tmp_path, env, {"result_file": str(tmp_path / "local-job.json")})

    assert run.returncode == 0 and not run.result.get("failed"), run.output
    assert run.output.count("lives only as long as this job's container") == 1
    assert "state_backend postgresql" in run.output


class _KillingQueue:
    """Takes the first event, then the state database dies, as its host would between two events."""

    def __init__(self, server):
        self.server = server
        self.events = []

    async def put(self, event):
        self.events.append(event["message"]["id"])
        if len(self.events) == 1:
            self.server.kill()


def test_an_event_source_that_loses_its_database_stops_with_its_cause_and_emits_nothing_unrecorded(
    sim, postgres, tmp_path
):
    plugin = load_event_source_plugin()
    queue = _KillingQueue(postgres)
    args = {
        "account_id": sim.state.account_id,
        "api_token": sim.state.api_token,
        "base_url": sim.base_url,
        "state_backend": "postgresql",
        "state_dsn": postgres.dsn(),
        "state_dir": str(tmp_path / "node"),
        "backlog": 40 * 86400,
        "poll_interval": 5,
    }

    with pytest.raises(plugin._feed.SourceError) as stopped:  # pylint: disable=protected-access
        asyncio.run(plugin.main(queue, args))

    assert len(queue.events) == 1
    assert "state database" in str(stopped.value) and SUPERUSER_PASSWORD not in str(stopped.value)
