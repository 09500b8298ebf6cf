# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The state store in PostgreSQL: what ``LocalState`` keeps in files, shared by every machine that reaches the database.

- the account lock is a lease: a row per account naming its holder and when it expires by the database's clock,
  taken, renewed and given back in transactions of their own, renewed every few seconds while held, and proved in
  the same transaction that writes each request's journal entry. Nothing the store relies on lives in a server
  session (no session-level lock, no server-side prepared statement), so it holds through a connection pooler in
  transaction mode (PgBouncer, RDS Proxy, a managed pooler) as on a direct connection. A holder that dies holds the
  account until its lease expires (``LEASE_SECONDS``);
- the journal, the request budget and the event source's checkpoint are tables named ``mailsec_cloudflare_*``,
  created on first use under a transaction-level advisory lock (two nodes creating them at once take turns);
- every time a settle window is measured against is the database server's clock, so nodes whose clocks disagree
  still agree on when a request was sent.

psycopg 3 is imported only here, and only when this module is: when ``state_backend: postgresql`` is chosen, or a
DSN is given (its password forms are then masked with psycopg's parser). Without psycopg the module still imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import socket
import threading
import time
import traceback
import uuid
from urllib.parse import unquote, urlsplit

try:
    import psycopg
    from psycopg import conninfo as _conninfo
    from psycopg.types.json import Jsonb

    HAS_PSYCOPG = True
    PSYCOPG_IMPORT_ERROR = None
except ImportError:
    HAS_PSYCOPG = False
    PSYCOPG_IMPORT_ERROR = traceback.format_exc()

from ansible_collections.mailsec.cloudflare.plugins.module_utils._state.checkpoint_format import (
    checkpoint_document,
    read_checkpoint_state,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import StateStoreError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._state.local import take_in_turn
from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.pacing import BudgetUnavailableError, Ledger

# Version 2 replaced the session-level advisory lock with the lease table: a node of an earlier release, which would
# not see a lease, refuses the database instead of writing beside one that holds it.
SCHEMA_VERSION = 2
TABLE_PREFIX = "mailsec_cloudflare_"
CONNECT_TIMEOUT_SECONDS = 10
# How long a lease outlives its last renewal, and how often a holder renews it. A holder that dies, or loses the
# database, keeps the account from other runs for at most LEASE_SECONDS; one that is merely slow renews in time.
LEASE_SECONDS = 15.0
LEASE_RENEW_SECONDS = 4.0
# The keys of the transaction-level advisory lock under which the tables are made ("mail", 0): apart from any other
# application's locks. Held for one transaction only, so a pooler keeps it on one server connection.
_LOCK_NAMESPACE = 0x6D61696C
_SCHEMA_LOCK = 0
_TABLE_NAMES = [TABLE_PREFIX + table for table in ("schema", "journal", "budget", "checkpoint", "emitted", "lease")]
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS mailsec_cloudflare_schema (version integer NOT NULL)",
    "CREATE TABLE IF NOT EXISTS mailsec_cloudflare_journal ("
    " entry_key text PRIMARY KEY, account_id text NOT NULL, operation text NOT NULL, ids jsonb NOT NULL,"
    " sent_at timestamptz NOT NULL, settle_timeout double precision NOT NULL, pid integer NOT NULL,"
    " host text NOT NULL)",
    "CREATE INDEX IF NOT EXISTS mailsec_cloudflare_journal_by_account ON mailsec_cloudflare_journal"
    " (account_id, operation)",
    "CREATE TABLE IF NOT EXISTS mailsec_cloudflare_budget (credential_hash text PRIMARY KEY, ledger jsonb NOT NULL)",
    "CREATE TABLE IF NOT EXISTS mailsec_cloudflare_checkpoint ("
    " name text PRIMARY KEY, version integer NOT NULL, since text NOT NULL, emitted jsonb NOT NULL)",
    "CREATE TABLE IF NOT EXISTS mailsec_cloudflare_emitted ("
    " name text NOT NULL, message_id text NOT NULL, sent_date text NOT NULL, PRIMARY KEY (name, message_id))",
    "CREATE TABLE IF NOT EXISTS mailsec_cloudflare_lease ("
    " account_id text PRIMARY KEY, holder text NOT NULL, holder_name text NOT NULL, expires_at timestamptz NOT NULL)",
)
_LEASE_TAKE = (
    "INSERT INTO mailsec_cloudflare_lease AS lease (account_id, holder, holder_name, expires_at)"
    " VALUES (%s, %s, %s, clock_timestamp() + make_interval(secs => %s))"
    " ON CONFLICT (account_id) DO UPDATE SET holder = EXCLUDED.holder, holder_name = EXCLUDED.holder_name,"
    " expires_at = EXCLUDED.expires_at WHERE lease.expires_at <= clock_timestamp() RETURNING true"
)
# The proof and the renewal are one statement: a lease is only ever extended by a holder it has not expired on.
_LEASE_RENEW = (
    "UPDATE mailsec_cloudflare_lease SET expires_at = clock_timestamp() + make_interval(secs => %s)"
    " WHERE account_id = %s AND holder = %s AND expires_at > clock_timestamp() RETURNING true"
)
_LEASE_LOST = (
    "the account lock was lost (its lease in the state database expired or was taken over: the database was out of "
    "reach, or this run stalled, for longer than %.0f s), so another run may be writing to this account now; nothing "
    "further is sent" % LEASE_SECONDS
)
_FIX = "check state_dsn (or MAILSEC_CLOUDFLARE_STATE_DSN)"


def dsn_secrets(dsn):
    """Every form in which a DSN's password could be printed: the DSN itself and its password, raw and decoded."""
    secrets = {dsn} if dsn else set()
    if not dsn:
        return secrets
    if "://" in dsn:
        try:
            raw = urlsplit(dsn).password
        except ValueError:
            raw = None
        if raw:
            secrets.update((raw, unquote(raw)))
    if HAS_PSYCOPG:
        try:
            password = _conninfo.conninfo_to_dict(dsn).get("password")
        except psycopg.Error:
            password = None
        if password:
            secrets.add(password)
    return secrets


class PostgresState:
    """The journal, lock, budget and checkpoints of every account, in one PostgreSQL database.

    One connection per process, shared by its threads, with no server-side prepared statements; it is reopened
    after a loss, since the account lock is a lease row and not the session: the next proof on the new connection
    decides whether it is still held.
    """

    backend = "postgresql"

    def __init__(self, dsn):
        self._secrets = sorted(dsn_secrets(dsn), key=len, reverse=True)
        # Who holds a lock is told by this name (in the lease, and in pg_stat_activity at most 63 bytes of it).
        self.application_name = "mailsec.cloudflare pid %d on %s" % (os.getpid(), _host())
        try:
            self._conninfo = _conninfo.make_conninfo(
                dsn,
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
                application_name=self.application_name[:63],
            )
        except psycopg.Error as exc:
            raise StateStoreError(
                "state_dsn is not a libpq connection string such as postgresql://user@host:5432/dbname or "
                "host=... dbname=... (%s); %s. The value is not shown" % (self._cause(exc), _FIX)
            ) from None
        self._guard = threading.RLock()
        # account id -> the holder token of the lease this process holds on it.
        self._leases = {}
        self._connection = None
        self._open()
        self._ensure_schema()

    # The connection ---------------------------------------------------------------------------------------

    def _masked(self, text):
        for secret in self._secrets:
            text = text.replace(secret, "********")
        return text

    def _cause(self, exc):
        first = str(exc).strip().splitlines()
        return self._masked(first[0] if first else type(exc).__name__)

    def _open(self):
        try:
            # A statement prepared on one server connection is not on the next one a transaction pooler hands out.
            self._connection = psycopg.connect(self._conninfo, autocommit=True, prepare_threshold=None)
        except psycopg.OperationalError as exc:
            if "no password supplied" in str(exc):
                raise StateStoreError(
                    "the state database asks for a password and state_dsn gives none (%s); put it in PGPASSWORD, in "
                    "~/.pgpass, or in the AWX state database credential, rather than in the DSN" % self._cause(exc)
                ) from None
            raise StateStoreError(
                "the state database cannot be reached or refused the login (%s); %s, and that the server is up and "
                "lets this host in" % (self._cause(exc), _FIX)
            ) from None
        try:
            # In a transaction block, as every change the store makes: a pooler in statement mode refuses one here.
            with self._connection.transaction():
                read_only = self._connection.execute("SHOW transaction_read_only").fetchone()[0]
        except psycopg.Error as exc:
            if "statement pooling" in str(exc):
                raise StateStoreError(
                    "the state database is reached through a connection pooler in statement mode (%s), which allows "
                    "no transaction; point state_dsn at a pool in transaction or session mode, or at the database's "
                    "own port" % self._cause(exc)
                ) from None
            raise StateStoreError("the state database did not answer (%s)" % self._cause(exc)) from None
        if read_only == "on":
            raise StateStoreError(
                "the state database is read-only (a standby, or default_transaction_read_only); point state_dsn "
                "at the primary"
            )

    def run(self, what, work):
        """work(connection)'s result; any database failure becomes StateStoreError naming what was being done."""
        with self._guard:
            try:
                if self._connection is None or self._connection.broken or self._connection.closed:
                    self._open()
                return work(self._connection)
            except psycopg.Error as exc:
                raise StateStoreError(
                    "the state database failed while %s (%s); nothing that depends on it is sent"
                    % (what, self._cause(exc))
                ) from None

    def _ensure_schema(self):
        def missing(connection):
            return connection.execute(
                "SELECT name FROM unnest(%s::text[]) AS name WHERE to_regclass(name) IS NULL ORDER BY name",
                (_TABLE_NAMES,),
            ).fetchall()

        def create(connection):
            # Tables that exist are only read: a user without CREATE (one an owner set up for) needs no more.
            if missing(connection):
                with connection.transaction():
                    connection.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_LOCK_NAMESPACE, _SCHEMA_LOCK))
                    for statement in _SCHEMA:
                        connection.execute(statement)
                    # Made now or upgraded from version 1 (its tables kept): nodes of version 1 now refuse it.
                    connection.execute("DELETE FROM mailsec_cloudflare_schema WHERE version < %s", (SCHEMA_VERSION,))
                    if connection.execute("SELECT count(*) FROM mailsec_cloudflare_schema").fetchone()[0] == 0:
                        connection.execute(
                            "INSERT INTO mailsec_cloudflare_schema (version) VALUES (%s)", (SCHEMA_VERSION,)
                        )
            # Tables an owner made by hand, without the version row, are of this version.
            return (
                connection.execute("SELECT max(version) FROM mailsec_cloudflare_schema").fetchone()[0] or SCHEMA_VERSION
            )

        with self._guard:
            try:
                version = create(self._connection)
            except psycopg.errors.InsufficientPrivilege as exc:
                raise StateStoreError(
                    "the state database has no usable %s* tables, and its user may not create them (%s); create "
                    "them once as their owner (docs/awx.md, 'Shared state in PostgreSQL') and grant this user SELECT, "
                    "INSERT, UPDATE and DELETE on them" % (TABLE_PREFIX, self._cause(exc))
                ) from None
            except psycopg.Error as exc:
                raise StateStoreError(
                    "the state database's tables could not be made ready (%s)" % self._cause(exc)
                ) from None
        if version > SCHEMA_VERSION:
            raise StateStoreError(
                "the state database's tables are of schema version %d, newer than this release knows (%d); upgrade "
                "the collection on every node that shares them" % (version, SCHEMA_VERSION)
            )
        self._check_privileges()

    def _check_privileges(self):
        def denied(connection):
            # With several privileges named at once, has_table_privilege is true if any one is held.
            return connection.execute(
                "SELECT name FROM unnest(%s::text[]) AS name WHERE NOT (has_table_privilege(name, 'SELECT') AND "
                "has_table_privilege(name, 'INSERT') AND has_table_privilege(name, 'UPDATE') AND "
                "has_table_privilege(name, 'DELETE')) ORDER BY name",
                (_TABLE_NAMES,),
            ).fetchall()

        missing = self.run("checking its privileges", denied)
        if missing:
            raise StateStoreError(
                "the state database's user may not write to %s; grant it SELECT, INSERT, UPDATE and DELETE on the "
                "%s* tables" % (", ".join(name for (name,) in missing), TABLE_PREFIX)
            )

    def close(self):
        with self._guard:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    # What the engines are given ---------------------------------------------------------------------------

    def journal(self, account_id):
        return PostgresJournal(self, account_id)

    def lock(self, account_id):
        return PostgresAccountLock(self, account_id)

    def budget(self, credential):
        return PostgresBudget(self, credential)

    def checkpoint(self, name):
        return PostgresCheckpoint(self, name)

    def lease_taken(self, account_id, holder):
        with self._guard:
            self._leases[account_id] = holder

    def lease_given_back(self, account_id):
        with self._guard:
            self._leases.pop(account_id, None)

    def prove_lease(self, connection, account_id):
        """Renew this process's lease on the account inside the caller's transaction, or raise StateStoreError when
        it no longer holds one it took; a process that never took one (a store used without the lock) proves
        nothing."""
        with self._guard:
            holder = self._leases.get(account_id)
        if holder is None:
            return
        if connection.execute(_LEASE_RENEW, (LEASE_SECONDS, account_id, holder)).fetchone() is None:
            raise _LeaseLostError(_LEASE_LOST)


def _host():
    return socket.gethostname() or "unknown host"


class _LeaseLostError(StateStoreError):
    """This process's lease on the account expired or was taken over: nothing more may be sent for it."""


class PostgresAccountLock:
    """One writing run per account across every machine that shares the database: a lease row.

    Taken when it is free or expired, renewed every ``LEASE_RENEW_SECONDS`` by a thread of its own (so that a run
    waiting on a bulk job, a settle window or the quota keeps it), proved before each write and in the transaction of
    each journal entry, deleted when given back.
    """

    def __init__(self, state, account_id):
        self._state = state
        self._account_id = account_id
        self._holder = None
        self._lost = threading.Event()
        self._stop = threading.Event()
        self._renewer = None

    def acquire(self, max_wait, on_wait=None, sleep=time.sleep):
        holder = uuid.uuid4().hex
        take_in_turn(
            lambda: self._try_take(holder),
            self._holder_name,
            "(%s, through the state database)",
            max_wait,
            on_wait,
            sleep,
        )
        self._holder = holder
        self._lost.clear()
        self._stop.clear()
        self._state.lease_taken(self._account_id, holder)
        self._renewer = threading.Thread(target=self._keep_renewed, name="mailsec-lease-renewer", daemon=True)
        self._renewer.start()
        return self

    def _try_take(self, holder):
        return self._state.run(
            "taking the account lock",
            lambda connection: (
                connection.execute(
                    _LEASE_TAKE, (self._account_id, holder, self._state.application_name, LEASE_SECONDS)
                ).fetchone()
                is not None
            ),
        )

    def _holder_name(self):
        row = self._state.run(
            "looking up who holds the account lock",
            lambda connection: connection.execute(
                "SELECT holder_name, greatest(0, extract(epoch FROM expires_at - clock_timestamp()))::float8"
                " FROM mailsec_cloudflare_lease WHERE account_id = %s",
                (self._account_id,),
            ).fetchone(),
        )
        if row is None:
            return "holder unknown"
        return "%s, its lease renewed until %.0f s from now" % (row[0] or "holder unknown", row[1])

    def _renew(self):
        try:
            self._state.run(
                "renewing the account lock's lease",
                lambda connection: self._state.prove_lease(connection, self._account_id),
            )
        except _LeaseLostError:
            self._lost.set()
            return False
        return True

    def _keep_renewed(self):
        # A renewal the database fails is tried again at the next beat: the lease stays good until it expires, and
        # the proof before each write is what decides.
        while not self._stop.wait(LEASE_RENEW_SECONDS):
            try:
                if not self._renew():
                    return
            except StateStoreError:
                continue

    def held(self):
        """Whether this run still holds the lease: renewed now, by the database's clock, or False."""
        if self._holder is None or self._lost.is_set():
            return False
        try:
            return self._renew()
        except StateStoreError:
            return False

    def release(self):
        if self._holder is None:
            return
        holder, self._holder = self._holder, None
        self._stop.set()
        self._state.lease_given_back(self._account_id)
        if self._renewer is not None:
            self._renewer.join()
            self._renewer = None
        try:
            self._state.run(
                "giving back the account lock",
                lambda connection: connection.execute(
                    "DELETE FROM mailsec_cloudflare_lease WHERE account_id = %s AND holder = %s",
                    (self._account_id, holder),
                ),
            )
        except StateStoreError:
            # A lease not deleted expires by itself, LEASE_SECONDS after its last renewal.
            pass


class PostgresJournal:
    """WriteJournal's interface on a table; times are the database server's."""

    def __init__(self, state, account_id):
        self._state = state
        self._account_id = account_id

    def unsettled(self, operation):
        rows = self._state.run(
            "reading the journal",
            lambda connection: connection.execute(
                "SELECT entry_key, ids, extract(epoch FROM clock_timestamp() - sent_at)::float8, settle_timeout, pid,"
                " host FROM mailsec_cloudflare_journal WHERE account_id = %s AND operation = %s",
                (self._account_id, operation),
            ).fetchall(),
        )
        now = time.time()
        return {
            key: {
                "operation": operation,
                "ids": list(ids),
                # In this machine's clock, as the engine measures: the age is the server's.
                "sent_at": now - age,
                "settle_timeout": settle_timeout,
                "pid": "%s on %s" % (pid, host),
            }
            for key, ids, age, settle_timeout, pid, host in rows
        }

    def record(self, operation, keys, settle_timeout):
        """The entry of a request about to leave, written in one transaction with the proof of the account's lease."""
        key = uuid.uuid4().hex

        def write(connection):
            with connection.transaction():
                self._state.prove_lease(connection, self._account_id)
                connection.execute(
                    "INSERT INTO mailsec_cloudflare_journal (entry_key, account_id, operation, ids, sent_at, "
                    "settle_timeout, pid, host) VALUES (%s, %s, %s, %s, clock_timestamp(), %s, %s, %s)",
                    (key, self._account_id, operation, Jsonb(list(keys)), settle_timeout, os.getpid(), _host()),
                )

        self._state.run("writing the journal entry of a request about to leave", write)
        return key

    def touch(self, key):
        """A request leaving later than its entry was written (after a wait) proves the lease again as it goes."""

        def move(connection):
            with connection.transaction():
                self._state.prove_lease(connection, self._account_id)
                connection.execute(
                    "UPDATE mailsec_cloudflare_journal SET sent_at = clock_timestamp() WHERE entry_key = %s", (key,)
                )

        self._state.run("moving a journal entry's time as its request leaves", move)

    def settle(self, key, keys=None):
        def drop(connection):
            if keys is None:
                connection.execute("DELETE FROM mailsec_cloudflare_journal WHERE entry_key = %s", (key,))
                return
            with connection.transaction():
                row = connection.execute(
                    "SELECT ids FROM mailsec_cloudflare_journal WHERE entry_key = %s FOR UPDATE", (key,)
                ).fetchone()
                if row is None:
                    return
                settled = set(keys)
                left = [i for i in row[0] if i not in settled]
                if left:
                    connection.execute(
                        "UPDATE mailsec_cloudflare_journal SET ids = %s WHERE entry_key = %s", (Jsonb(left), key)
                    )
                else:
                    connection.execute("DELETE FROM mailsec_cloudflare_journal WHERE entry_key = %s", (key,))

        self._state.run("removing settled journal entries", drop)


class PostgresBudget:
    """The request budget of one credential (a row keyed by its hash, never the credential), for every machine."""

    def __init__(self, state, credential):
        self._state = state
        self._key = hashlib.sha256(credential.encode("utf-8")).hexdigest()[:32]

    def transact(self, change):
        def take(connection):
            with connection.transaction():
                connection.execute(
                    "INSERT INTO mailsec_cloudflare_budget (credential_hash, ledger) VALUES (%s, '{}') "
                    "ON CONFLICT (credential_hash) DO NOTHING",
                    (self._key,),
                )
                row = connection.execute(
                    "SELECT ledger FROM mailsec_cloudflare_budget WHERE credential_hash = %s FOR UPDATE", (self._key,)
                ).fetchone()
                ledger = Ledger.from_json(row[0])
                outcome = change(ledger)
                connection.execute(
                    "UPDATE mailsec_cloudflare_budget SET ledger = %s WHERE credential_hash = %s",
                    (Jsonb(ledger.to_json()), self._key),
                )
                return outcome

        try:
            return self._state.run("taking a request from the shared budget", take)
        except StateStoreError as exc:
            raise BudgetUnavailableError(exc.message) from None


class PostgresCheckpoint:
    """The event source's Checkpoint interface on two tables: the state per poll, and each id emitted meanwhile."""

    def __init__(self, state, name):
        self._state = state
        self.name = name
        self.path = "state database, checkpoint %s" % name
        self.since = None
        self.emitted = {}

    def load(self):
        def read(connection):
            state = connection.execute(
                "SELECT version, since, emitted FROM mailsec_cloudflare_checkpoint WHERE name = %s", (self.name,)
            ).fetchone()
            emitted = connection.execute(
                "SELECT message_id, sent_date FROM mailsec_cloudflare_emitted WHERE name = %s", (self.name,)
            ).fetchall()
            return state, emitted

        state, emitted = self._state.run("reading the event source's checkpoint", read)
        if state is not None:
            self.since, self.emitted = read_checkpoint_state(
                self.path, {"version": state[0], "since": state[1], "emitted": state[2]}
            )
        self.emitted.update((message_id, sent_date) for message_id, sent_date in emitted)
        return self

    def record(self, message_id, sent_date):
        self._state.run(
            "recording an emitted id before its event leaves",
            lambda connection: connection.execute(
                "INSERT INTO mailsec_cloudflare_emitted (name, message_id, sent_date) VALUES (%s, %s, %s) "
                "ON CONFLICT (name, message_id) DO NOTHING",
                (self.name, message_id, sent_date),
            ),
        )
        self.emitted[message_id] = sent_date

    def save(self):
        document = checkpoint_document(self.since, self.emitted)

        def write(connection):
            with connection.transaction():
                connection.execute(
                    "INSERT INTO mailsec_cloudflare_checkpoint (name, version, since, emitted) VALUES (%s, %s, %s, %s)"
                    " ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version, since = EXCLUDED.since,"
                    " emitted = EXCLUDED.emitted",
                    (self.name, document["version"], document["since"], Jsonb(document["emitted"])),
                )
                connection.execute("DELETE FROM mailsec_cloudflare_emitted WHERE name = %s", (self.name,))

        self._state.run("saving the event source's checkpoint", write)

    def close(self):
        """Nothing is held open per checkpoint; the state's connection is closed with the state."""
