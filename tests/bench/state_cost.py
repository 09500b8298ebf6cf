# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the state store adds to each write request (issue 24), local files against a real PostgreSQL server on this
machine, measured in one run: the budget taken for the request (one short transaction in PostgreSQL), the journal
entry written before it leaves and removed once settled, and the proof that the account lock is still held."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import shutil
import tempfile
import time

from tests.postgres_server import PostgresServer

from ansible_collections.mailsec.cloudflare.plugins.module_utils._state.local import LocalState
from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.pacing import RequestPacer
from ansible_collections.mailsec.cloudflare.plugins.module_utils._state.postgres import PostgresState

ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"
STEPS = ("budget", "journal", "lock proof")


def _per_request_ms(store, requests):
    """Milliseconds per write request for each step, and in all, averaged over ``requests``."""
    pacer = RequestPacer(limit=requests * 10, budget=store.budget("bench-token-0123456789abcdef"))
    journal, lock = store.journal(ACCOUNT), store.lock(ACCOUNT).acquire(10)
    spent = dict.fromkeys(STEPS, 0.0)
    try:
        for number in range(requests):
            started = time.perf_counter()
            pacer.acquire()
            taken = time.perf_counter()
            key = journal.record("release", ["id-%d" % number], 120.0)
            journal.settle(key)
            journalled = time.perf_counter()
            lock.held()
            proved = time.perf_counter()
            spent["budget"] += taken - started
            spent["journal"] += journalled - taken
            spent["lock proof"] += proved - journalled
    finally:
        lock.release()
    per_request = {step: 1000.0 * seconds / requests for step, seconds in spent.items()}
    per_request["in all"] = sum(per_request.values())
    return per_request


def measure(requests=500):
    directory = tempfile.mkdtemp(prefix="mailsec-bench-state-")
    try:
        local = _per_request_ms(LocalState(directory), requests)
    finally:
        shutil.rmtree(directory)
    with PostgresServer(durable=True) as server:
        store = PostgresState(server.dsn())
        try:
            postgresql = _per_request_ms(store, requests)
        finally:
            store.close()
    return {"requests": requests, "local": local, "postgresql": postgresql}


def render(figures, latency):
    lines = [
        "",
        "## The state store's cost per write request",
        "",
        "What each write request adds for its state, averaged over %d requests in one run: local files in `state_dir` "
        "(the journal fsynced) against PostgreSQL on this machine (`state_backend: postgresql`, a real server started "
        "by the benchmark with its default durability, fsync and synchronous commit on, over TCP on 127.0.0.1). The budget is one short transaction "
        "per request; leasing it in blocks would save at most the budget's row below per request, against %.0f ms "
        "of API latency per request, so it is not done." % (figures["requests"], latency * 1000),
        "",
        "| step | local | PostgreSQL |",
        "|---|---|---|",
    ]
    for step in STEPS + ("in all",):
        lines.append("| %s | %.3f ms | %.3f ms |" % (step, figures["local"][step], figures["postgresql"][step]))
    return lines
