# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A real PostgreSQL server for the state backend's tests: initdb and pg_ctl in a temporary directory, on 127.0.0.1
and an ephemeral port, stopped by whoever started it. Never a mock.

The server's programs are found on PATH or in Debian's /usr/lib/postgresql/<version>/bin; `make test` installs
Debian's package first when neither has them (tests/tools/need_postgres.sh), and a test that finds none fails,
naming what is missing. PostgreSQL refuses to run as root: as root the server runs as the ``postgres`` user.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

SUPERUSER = "mailsec_admin"
SUPERUSER_PASSWORD = "pg-admin-Secret-9f83a1c2"


def server_programs():
    """The directory holding initdb, pg_ctl and postgres; RuntimeError naming what is missing."""
    on_path = shutil.which("pg_ctl")
    candidates = ([os.path.dirname(os.path.realpath(on_path))] if on_path else []) + sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), reverse=True
    )
    for directory in candidates:
        if all(os.access(os.path.join(directory, name), os.X_OK) for name in ("initdb", "pg_ctl", "postgres")):
            return directory
    raise RuntimeError(
        "the PostgreSQL server programs (initdb, pg_ctl, postgres) are not on PATH nor in /usr/lib/postgresql/*/bin; "
        "install Debian's postgresql package (make test does: tests/tools/need_postgres.sh)"
    )


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServer:
    """One server in its own directory. ``dsn(user, password)``; ``sql(statement)`` as the superuser."""

    def __init__(self, durable=False):
        # Tests trade durability for speed; a benchmark of the backend's cost keeps commits durable, as in production.
        self.durable = durable
        self.bin = server_programs()
        self.directory = tempfile.mkdtemp(prefix="mailsec-pg-")
        self.data = os.path.join(self.directory, "data")
        self.port = None
        self._as_user = []
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(self.directory, account.pw_uid, account.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *argv, check=True):
        return subprocess.run(self._as_user + list(argv), check=check, capture_output=True, text=True)

    def start(self):
        password_file = os.path.join(self.directory, "pw")
        with open(password_file, "w", encoding="utf-8") as target:
            target.write(SUPERUSER_PASSWORD)
        if self._as_user:
            shutil.chown(password_file, "postgres")
        self._run(
            os.path.join(self.bin, "initdb"),
            "-D",
            self.data,
            "-U",
            SUPERUSER,
            "--pwfile",
            password_file,
            "--auth",
            "scram-sha-256",
            "-E",
            "UTF8",
            "--no-sync",
        )
        os.remove(password_file)
        self.port = _free_port()
        self._pg_ctl_start()
        self.sql("CREATE DATABASE mailsec")
        return self

    def _pg_ctl_start(self):
        options = "-c listen_addresses=127.0.0.1 -c port=%d -c unix_socket_directories='%s' -c max_connections=100" % (
            self.port,
            self.directory,
        )
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            os.path.join(self.bin, "pg_ctl"),
            "-D",
            self.data,
            "-o",
            options,
            "-l",
            os.path.join(self.directory, "server.log"),
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self, mode="fast"):
        """Stop the server if it runs; one that was killed is already gone (its stale pid file left behind)."""
        if self.port is not None and os.path.exists(os.path.join(self.data, "postmaster.pid")):
            status = self._run(os.path.join(self.bin, "pg_ctl"), "-D", self.data, "status", check=False)
            if status.returncode == 0:
                self._run(os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", mode, "-w", "stop")

    def kill(self):
        """The server dies at once (SIGKILL to the postmaster), as a database host lost mid-run."""
        with open(os.path.join(self.data, "postmaster.pid"), encoding="utf-8") as source:
            pid = int(source.readline())
        os.kill(pid, 9)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        # Its children outlive it for a moment; the next start must find the port free.
        time.sleep(0.5)

    def close(self):
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    def dsn(self, user=SUPERUSER, password=SUPERUSER_PASSWORD, database="mailsec"):
        return "postgresql://%s:%s@127.0.0.1:%d/%s" % (user, password, self.port, database)

    def sql(self, statement, database="postgres"):
        import psycopg

        with psycopg.connect(self.dsn(database=database), autocommit=True) as connection:
            cursor = connection.execute(statement)
            return cursor.fetchall() if cursor.description else None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.close()
