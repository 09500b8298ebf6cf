# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What a write run leaves on the machine it runs on, so that the next run there is safe.

- ``WriteJournal``: the write requests in flight (operation, keys, time sent), written before each
  request leaves and removed once its outcome is settled. A run killed half-way leaves its
  unsettled requests here, and the next run settles them by reading before it sends anything.
- ``AccountLock``: one writing run per account at a time on this machine, so two runs for the
  same messages or entries never interleave.
- ``Lifeline``: whether the Ansible process that started this module is still there. Ansible's
  worker and the module outlive a ``kill -9`` of ``ansible-playbook``; a module that kept
  sending would race the run that replaces it.
- ``LocalState``: the journal and the lock of one account, and the request budget of one credential, as files
  in ``state_dir``: the state store the write engine (``_write/engine.py``) and the client are given.

All of them are local to one machine (the controller, or the execution environment's container).
``open_state`` gives the store the settings choose: ``LocalState``, or the same interface in PostgreSQL
(``postgres.py``), shared by every machine that reaches the database.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fcntl
import json
import os
import threading
import time
import uuid

from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import (
    LockTimeoutError,
    StateStoreError,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.pacing import SharedBudget
from ansible_collections.mailsec.cloudflare.plugins.module_utils._state.atomic_file import write_json

DEFAULT_STATE_DIR = os.path.join("~", ".local", "state", "mailsec.cloudflare")
ENV_STATE_DIR = "MAILSEC_CLOUDFLARE_STATE_DIR"
_LOCK_POLL_SECONDS = 0.2
# Ansible's entry points; everything from the module up to the outermost of these is watched.
_ANSIBLE_COMMANDS = ("ansible", "ansible-playbook", "ansible-runner", "ansible-console", "ansible-pull")


def state_directory(configured, environ):
    """The directory for journals, locks and the shared budget: option, then environment, then default."""
    directory = configured or environ.get(ENV_STATE_DIR) or DEFAULT_STATE_DIR
    return os.path.abspath(os.path.expanduser(directory))


STATE_BACKENDS = ("local", "postgresql")


def take_in_turn(try_take, holder, where, max_wait, on_wait, sleep):
    """Take a lock once its holder lets go: the first wait is said (naming the holder), LockTimeoutError after max_wait.

    ``where`` places the holder in the messages, "on this machine (%s)" for a flock.
    """
    waited = 0.0
    while not try_take():
        if waited >= max_wait:
            raise LockTimeoutError(
                "another run writing to this account %s held the lock for %.0f s" % (where % holder(), waited)
            )
        if waited == 0.0 and on_wait is not None:
            on_wait(
                "waiting for another run writing to this account %s to finish, so that the two never send the same "
                "writes at once" % (where % holder())
            )
        sleep(_LOCK_POLL_SECONDS)
        waited += _LOCK_POLL_SECONDS


class AccountLock:
    """An exclusive lock per account on this machine; released by the kernel if the holder dies."""

    def __init__(self, directory, account_id):
        os.makedirs(directory, mode=0o700, exist_ok=True)
        # The name of 1.0 and 1.1, when only releases took it: a run of those on the same machine takes turns too.
        self.path = os.path.join(directory, "release-%s.lock" % account_id)
        self._file = None

    def acquire(self, max_wait, on_wait=None, sleep=time.sleep):
        self._file = open(self.path, "a+")
        try:
            take_in_turn(self._try_take, self._holder, "on this machine (%s)", max_wait, on_wait, sleep)
        except LockTimeoutError:
            self._file.close()
            self._file = None
            raise
        self._file.seek(0)
        self._file.truncate()
        self._file.write("pid %d" % os.getpid())
        self._file.flush()
        return self

    def _try_take(self):
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _holder(self):
        try:
            with open(self.path, encoding="utf-8") as source:
                return source.read().strip() or "pid unknown"
        except OSError:
            return "pid unknown"

    def held(self):
        """The kernel keeps a flock for as long as its file is open: it cannot be lost while the run lives."""
        return self._file is not None

    def release(self):
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


class WriteJournal:
    """Write requests sent from this machine whose outcome is not settled yet, per account and operation."""

    def __init__(self, directory, account_id):
        os.makedirs(directory, mode=0o700, exist_ok=True)
        self.path = os.path.join(directory, "journal-%s.json" % account_id)
        self._lock = threading.Lock()

    def unsettled(self, operation):
        """{entry key: {"ids": [...], "sent_at": epoch seconds, "settle_timeout": seconds, "pid": ...}} of
        ``operation`` left by earlier runs."""
        with self._lock:
            return {key: entry for key, entry in self._load().items() if _operation(entry) == operation}

    def record(self, operation, keys, settle_timeout):
        """Note a request about to leave; durable before it is sent. Returns the entry's key."""
        key = uuid.uuid4().hex
        with self._lock:
            entries = self._load()
            entries[key] = {
                "operation": operation,
                "ids": list(keys),
                "sent_at": time.time(),
                "settle_timeout": settle_timeout,
                "pid": os.getpid(),
            }
            self._save(entries)
        return key

    def touch(self, key):
        """Note that the entry's request is leaving now (again, after a wait or a retry)."""
        with self._lock:
            entries = self._load()
            if key in entries:
                entries[key]["sent_at"] = time.time()
                self._save(entries)

    def settle(self, key, keys=None):
        """Drop settled keys from an entry (all of them when keys is None)."""
        with self._lock:
            entries = self._load()
            entry = entries.get(key)
            if entry is None:
                return
            if keys is not None:
                settled = set(keys)
                entry["ids"] = [i for i in entry["ids"] if i not in settled]
            if keys is None or not entry["ids"]:
                del entries[key]
            # Not made durable: a removal lost in a crash only makes the next run read those keys back.
            self._save(entries, durable=False)

    def _load(self):
        try:
            with open(self.path, encoding="utf-8") as source:
                data = json.load(source)
        except (OSError, ValueError):
            return {}
        return (
            {
                key: entry
                for key, entry in data.items()
                if isinstance(entry, dict) and isinstance(entry.get("ids"), list)
            }
            if isinstance(data, dict)
            else {}
        )

    def _save(self, entries, durable=True):
        write_json(self.path, entries, durable)


def _operation(entry):
    """The operation of a journal entry; entries written by 1.1 name none: bulk creates by their marker."""
    if "operation" in entry:
        return entry["operation"]
    return "bulk" if any(str(i).startswith("bulk job/") for i in entry["ids"]) else "release"


class LocalState:
    """The state store on this machine: an account's journal and lock, a credential's budget, as files in
    ``state_dir``."""

    backend = "local"

    def __init__(self, directory):
        self.directory = directory

    def journal(self, account_id):
        return WriteJournal(self.directory, account_id)

    def lock(self, account_id):
        return AccountLock(self.directory, account_id)

    def budget(self, credential):
        return SharedBudget(self.directory, credential)

    def close(self):
        """Files are opened per use: nothing is held."""


# What AWX and Automation Platform set in the environment of every job they run.
_JOB_ENVIRONMENT = ("JOB_ID", "INVENTORY_ID")


def ephemeral_state_notice(settings, configured_dir, environ):
    """A warning when a writing run is an AWX/AAP job whose journal and lock die with it, else None.

    A state_dir the user set (a persistent volume) is trusted; the default lies in the job's container.
    """
    if settings["state_backend"] != "local" or configured_dir or environ.get(ENV_STATE_DIR):
        return None
    if not all(environ.get(name) for name in _JOB_ENVIRONMENT):
        return None
    return (
        "this task runs in an AWX / Automation Platform job (JOB_ID %s) with state_backend local and the default "
        "state_dir (%s), which lives only as long as this job's container: a job relaunched after this one dies, "
        "or one running on another execution node at the same time, does not see this run's journal or lock and "
        "may send the same writes again. Set state_backend postgresql and state_dsn (a credential injecting "
        "MAILSEC_CLOUDFLARE_STATE_DSN; docs/awx.md), or a state_dir on a volume every job shares"
        % (environ.get("JOB_ID"), settings["state_dir"])
    )


def open_state(settings):
    """The state store the settings choose; StateStoreError (naming the option to fix) when it cannot be used.

    psycopg is imported only when the PostgreSQL backend is chosen.
    """
    if settings["state_backend"] != "postgresql":
        return LocalState(settings["state_dir"])
    from ansible_collections.mailsec.cloudflare.plugins.module_utils._state import postgres

    if not postgres.HAS_PSYCOPG:
        raise MissingLibraryError("psycopg[binary]", postgres.PSYCOPG_IMPORT_ERROR)
    return postgres.PostgresState(settings["state_dsn"])


class MissingLibraryError(StateStoreError):
    """The chosen backend's client library is not installed where the module runs."""

    def __init__(self, library, import_error):
        super(MissingLibraryError, self).__init__(
            "state_backend postgresql needs the Python library %s where the module runs (the execution environment, "
            "or the controller's Python)" % library
        )
        self.library = library
        self.import_error = import_error


def _process_facts(pid):
    """(parent pid, start time, argv) of a process from /proc, or None when it is gone or unreadable."""
    try:
        with open("/proc/%d/stat" % pid, encoding="utf-8", errors="replace") as source:
            stat = source.read()
        with open("/proc/%d/cmdline" % pid, "rb") as source:
            argv = [a.decode("utf-8", "replace") for a in source.read().split(b"\0") if a]
    except OSError:
        return None
    # The command name may hold spaces and parentheses: the fields after its last ')' are fixed.
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[1]), fields[19], argv


def _is_ansible(argv):
    return any(os.path.basename(arg) in _ANSIBLE_COMMANDS for arg in argv[:2])


class Lifeline:
    """Watches the processes between this module and the outermost Ansible process that started it."""

    def __init__(self):
        self._parent = os.getppid()
        self._watched = self._ancestors()

    @staticmethod
    def _ancestors():
        chain = []
        pid = os.getppid()
        seen_ansible = False
        while pid > 1 and len(chain) < 32:
            facts = _process_facts(pid)
            if facts is None:
                break
            parent, started, argv = facts
            ansible = _is_ansible(argv)
            if seen_ansible and not ansible:
                break
            seen_ansible = seen_ansible or ansible
            chain.append((pid, started))
            pid = parent
        # No Ansible process above (a module run by hand, or on a remote host): watch the parent only.
        return chain if seen_ansible else chain[:1]

    def gone(self):
        """True once a watched process has exited (or its pid was reused by another process)."""
        if not self._watched:
            return os.getppid() != self._parent
        for pid, started in self._watched:
            facts = _process_facts(pid)
            if facts is None or facts[1] != started:
                return True
        return False
