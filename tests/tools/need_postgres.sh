#!/bin/sh
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# The PostgreSQL state backend is tested against a real server (and a real PgBouncer), which the tests start themselves
# (tests/postgres_server.py): find its programs, or install Debian's package as root; fail loudly otherwise.
set -eu

found() {
    for directory in "$(dirname "$(command -v pg_ctl 2>/dev/null || echo /nonexistent/pg_ctl)")" /usr/lib/postgresql/*/bin; do
        if [ -x "$directory/initdb" ] && [ -x "$directory/pg_ctl" ] && [ -x "$directory/postgres" ]; then
            echo "$directory"
            return 0
        fi
    done
    return 1
}

if directory=$(found); then
    echo "PostgreSQL server programs: $directory"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "PostgreSQL server programs not found: installing Debian's postgresql package"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql >/dev/null ||
        { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql >/dev/null; }
    directory=$(found) || { echo "FAILED: postgresql installed, but initdb, pg_ctl and postgres are still not found" >&2; exit 1; }
    echo "PostgreSQL server programs: $directory"
else
    echo "FAILED: the tests of the PostgreSQL state backend need a PostgreSQL server's programs (initdb, pg_ctl," >&2
    echo "postgres) on PATH or in /usr/lib/postgresql/<version>/bin: install the postgresql package (as root:" >&2
    echo "apt-get install postgresql) and run make test again" >&2
    exit 1
fi
# The tests of the store behind a connection pooler start a real PgBouncer in front of that server
# (tests/pgbouncer_server.py).
if pgbouncer=$(command -v pgbouncer || { [ -x /usr/sbin/pgbouncer ] && echo /usr/sbin/pgbouncer; }); then
    echo "PgBouncer: $pgbouncer"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "PgBouncer not found: installing Debian's pgbouncer package"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends pgbouncer >/dev/null ||
        { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends pgbouncer >/dev/null; }
    [ -x /usr/sbin/pgbouncer ] || { echo "FAILED: pgbouncer installed, but /usr/sbin/pgbouncer is still not found" >&2; exit 1; }
    echo "PgBouncer: /usr/sbin/pgbouncer"
else
    echo "FAILED: the tests of the PostgreSQL state backend behind a connection pooler need PgBouncer: install the" >&2
    echo "pgbouncer package (as root: apt-get install pgbouncer) and run make test again" >&2
    exit 1
fi
# PostgreSQL and PgBouncer refuse to run as root; the tests then run it as the postgres user, which the package creates.
if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
    echo "FAILED: running as root, and there is no postgres user to run the server as (the postgresql package creates it)" >&2
    exit 1
fi
