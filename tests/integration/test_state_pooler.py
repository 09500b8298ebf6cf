# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 36, exactly once behind a connection pooler: the nodes reach the state database through a real PgBouncer
(Debian's package, tests/pgbouncer_server.py) in front of the test's real PostgreSQL.

Under transaction pooling consecutive transactions of one client run on different server connections, and a
pool smaller than the nodes makes them share the same ones: nothing the store relies on may live in a server
session (a session-level advisory lock, a server-side prepared statement).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

import pytest
from test_exactly_once import assert_nothing_delivered_twice
from test_state_postgresql import _finish, _start_node

from test_state_postgresql import _release_with

from tests.pgbouncer_server import PgBouncer
from tests.simulator import generate_messages

from ansible_collections.mailsec.cloudflare.plugins.module_utils._state import postgres as postgres_state
from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import LockTimeoutError, StateStoreError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._state.postgres import PostgresState

# The issue measured 5 of 8 trials delivering all 40 messages twice; every trial here must deliver each once.
TRANSACTION_TRIALS = 5
SESSION_TRIALS = 2


def _two_nodes_release_the_same_ids(sim, tmp_path, dsn, trials, label):
    sim.state.configure({"latency": 0.3})
    for trial in range(trials):
        messages = generate_messages(40, seed=700 + trial)
        sim.state.add_messages(messages)
        ids = [m.id for m in messages]
        args = {"message_ids": ids, "fail_on_incomplete": False}
        nodes = [_start_node(sim, tmp_path, "%s%d-node%d" % (label, trial, n), dsn, args) for n in (1, 2)]
        outcomes = [_finish(*node) for node in nodes]

        assert_nothing_delivered_twice(sim)
        assert {i: sim.state.deliveries().get(i) for i in ids} == dict.fromkeys(ids, 1), "trial %d" % trial
        for returncode, output, result in outcomes:
            assert returncode == 0, output
            assert not result.get("failed"), result.get("msg")
            statuses = {r["id"]: r["status"] for r in result["results"]}
            assert statuses.keys() == set(ids)
            assert set(statuses.values()) <= {"released", "already_released"}, result["results"]
        released_by = [sum(r["status"] == "released" for r in result["results"]) for dummy, dummy, result in outcomes]
        assert sorted(released_by) == [0, 40], "trial %d" % trial


def test_two_nodes_through_a_transaction_pooler_smaller_than_the_nodes_deliver_each_id_once(sim, postgres, tmp_path):
    with PgBouncer(postgres, "transaction", pool_size=1) as pooler:
        _two_nodes_release_the_same_ids(sim, tmp_path, pooler.dsn(), TRANSACTION_TRIALS, "transaction")


def test_two_nodes_through_a_session_pooler_deliver_each_id_once(sim, postgres, tmp_path):
    with PgBouncer(postgres, "session", pool_size=2) as pooler:
        _two_nodes_release_the_same_ids(sim, tmp_path, pooler.dsn(), SESSION_TRIALS, "session")


def test_the_account_lock_is_not_taken_twice_when_two_stores_share_one_server_connection(postgres):
    # A pool of one: both stores' statements run on the same server connection, which a session lock cannot tell
    # apart. Every time, not by chance: the second store must not get the lock, and must prove it lacks it.
    with PgBouncer(postgres, "transaction", pool_size=1) as pooler:
        first, second = PostgresState(pooler.dsn()), PostgresState(pooler.dsn())
        try:
            lock = first.lock("0" * 32).acquire(0)
            other = second.lock("0" * 32)
            with pytest.raises(Exception, match="held the lock"):
                other.acquire(0.5, sleep=lambda seconds: None)
            assert lock.held() and not other.held()
            lock.release()
            assert not lock.held()
            assert second.lock("0" * 32).acquire(0).held()
        finally:
            first.close()
            second.close()


def test_statements_repeated_through_a_transaction_pooler_never_collide_on_a_server_connection(postgres):
    # psycopg prepares a statement on the server after a few executions: through a pooler the next transaction
    # may run where that statement already exists, or where it never was.
    with PgBouncer(postgres, "transaction", pool_size=1) as pooler:
        stores = [PostgresState(pooler.dsn()) for dummy in range(2)]
        try:
            for round_number in range(12):
                for number, store in enumerate(stores):
                    journal = store.journal("%032d" % number)
                    key = journal.record("release", ["id-%d-%d" % (number, round_number)], 120)
                    assert key in journal.unsettled("release")
                    journal.settle(key)
        finally:
            for store in stores:
                store.close()


def test_a_statement_pooler_is_refused_before_any_cloudflare_request_naming_the_fix(sim, postgres, tmp_path):
    # Statement pooling allows no transaction, and the journal entry and the lease's proof are one.
    PostgresState(postgres.dsn()).close()
    sim.state.add_messages(generate_messages(2, seed=61))
    with PgBouncer(postgres, "statement", pool_size=1) as pooler:
        run = _release_with(sim, tmp_path, pooler.dsn(), "statement")

    assert run.returncode == 0 and run.result.get("failed"), run.output
    assert "pooler in statement mode" in run.result["msg"], run.result["msg"]
    assert "transaction or session mode" in run.result["msg"] and "state_dsn" in run.result["msg"]
    assert sim.state.requests() == []


def test_a_lease_is_kept_while_its_run_waits_and_lost_for_good_once_its_holder_stalls_past_expiry(
    postgres, monkeypatch
):
    monkeypatch.setattr(postgres_state, "LEASE_SECONDS", 1.5)
    monkeypatch.setattr(postgres_state, "LEASE_RENEW_SECONDS", 0.3)
    with PgBouncer(postgres, "transaction", pool_size=1) as pooler:
        first, second = PostgresState(pooler.dsn()), PostgresState(pooler.dsn())
        try:
            lock = first.lock("acct").acquire(0)
            journal = first.journal("acct")
            # Waiting on a bulk job or a settle window: the renewer keeps the lease well past its length.
            time.sleep(4)
            with pytest.raises(LockTimeoutError):
                second.lock("acct").acquire(0.4, sleep=time.sleep)
            assert lock.held()
            journal.settle(journal.record("release", ["a"], 120))

            # A stalled holder: no renewal, the lease expires, another run takes it.
            lock._stop.set()  # pylint: disable=protected-access
            lock._renewer.join()  # pylint: disable=protected-access
            time.sleep(2)
            other = second.lock("acct").acquire(0)
            assert other.held()
            assert not lock.held()
            with pytest.raises(StateStoreError, match="account lock was lost"):
                journal.record("release", ["b"], 120)
            assert postgres.sql("SELECT ids FROM mailsec_cloudflare_journal", database="mailsec") == []
            other.release()
            lock.release()
        finally:
            first.close()
            second.close()
