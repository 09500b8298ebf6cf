# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A real PgBouncer in front of a test's PostgreSQL server (tests/postgres_server.py): Debian's ``pgbouncer``, on
127.0.0.1 and an ephemeral port, in a temporary directory, stopped by whoever started it. Never a mock.

`make test` installs Debian's package first when the program is missing (tests/tools/need_postgres.sh), and a
test that finds none fails, naming what is missing. PgBouncer refuses to run as root: as root it runs as the
``postgres`` user, as the server does.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from tests.postgres_server import SUPERUSER, SUPERUSER_PASSWORD, _free_port

POOL_MODES = ("session", "transaction", "statement")


def pgbouncer_program():
    """The pgbouncer program; RuntimeError naming what is missing."""
    for candidate in (shutil.which("pgbouncer"), "/usr/sbin/pgbouncer"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError(
        "pgbouncer is not on PATH nor in /usr/sbin; install Debian's pgbouncer package (make test does: "
        "tests/tools/need_postgres.sh)"
    )


class PgBouncer:
    """One pooler for the ``mailsec`` database of ``server``: ``dsn()`` reaches PostgreSQL through it.

    ``pool_size`` server connections at most, shared by every client in ``pool_mode``.
    """

    def __init__(self, server, pool_mode, pool_size):
        if pool_mode not in POOL_MODES:
            raise ValueError("pool_mode is one of %s" % ", ".join(POOL_MODES))
        self.server = server
        self.pool_mode = pool_mode
        self.pool_size = pool_size
        self.program = pgbouncer_program()
        self.directory = tempfile.mkdtemp(prefix="mailsec-pgbouncer-")
        self.port = None
        self._process = None
        self._as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _write(self, name, text):
        path = os.path.join(self.directory, name)
        with open(path, "w", encoding="utf-8") as target:
            target.write(text)
        os.chmod(path, 0o600)
        if self._as_user:
            shutil.chown(path, "postgres")
        return path

    def start(self):
        if self._as_user:
            shutil.chown(self.directory, "postgres")
        self.port = _free_port()
        # A plain password in the auth file lets PgBouncer speak SCRAM to the client and to the server alike.
        auth_file = self._write("users.txt", '"%s" "%s"\n' % (SUPERUSER, SUPERUSER_PASSWORD))
        config = self._write(
            "pgbouncer.ini",
            "\n".join(
                [
                    "[databases]",
                    "mailsec = host=127.0.0.1 port=%d dbname=mailsec" % self.server.port,
                    "[pgbouncer]",
                    "listen_addr = 127.0.0.1",
                    "listen_port = %d" % self.port,
                    "unix_socket_dir =",
                    "auth_type = scram-sha-256",
                    "auth_file = %s" % auth_file,
                    "pool_mode = %s" % self.pool_mode,
                    "default_pool_size = %d" % self.pool_size,
                    "min_pool_size = 0",
                    "reserve_pool_size = 0",
                    "max_client_conn = 200",
                    "server_reset_query = DISCARD ALL",
                    "ignore_startup_parameters = extra_float_digits",
                    "logfile = %s" % os.path.join(self.directory, "pgbouncer.log"),
                    "pidfile = %s" % os.path.join(self.directory, "pgbouncer.pid"),
                    "",
                ]
            ),
        )
        self._process = subprocess.Popen(  # pylint: disable=consider-using-with
            self._as_user + [self.program, config],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError("pgbouncer exited at start (%s): %s" % (self._process.returncode, self.log()))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("pgbouncer did not listen on 127.0.0.1:%d within 30 s: %s" % (self.port, self.log()))

    def log(self):
        try:
            with open(os.path.join(self.directory, "pgbouncer.log"), encoding="utf-8") as source:
                return source.read()[-4000:]
        except OSError:
            return ""

    def dsn(self, database="mailsec"):
        return "postgresql://%s:%s@127.0.0.1:%d/%s" % (SUPERUSER, SUPERUSER_PASSWORD, self.port, database)

    def close(self):
        if self._process is not None and self._process.poll() is None:
            # runuser passes SIGTERM on to PgBouncer, which then closes every connection at once.
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(30)
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.close()
