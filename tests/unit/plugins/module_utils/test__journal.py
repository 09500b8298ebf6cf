# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess
import sys

import pytest

from ansible_collections.mailsec.cloudflare.plugins.module_utils._state import local
from ansible_collections.mailsec.cloudflare.plugins.module_utils._state.local import (
    AccountLock,
    Lifeline,
    LocalState,
    WriteJournal,
    state_directory,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import LockTimeoutError

ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"


def test_state_directory_precedence(tmp_path):
    assert state_directory(str(tmp_path), {"MAILSEC_CLOUDFLARE_STATE_DIR": "/elsewhere"}) == str(tmp_path)
    assert state_directory(None, {"MAILSEC_CLOUDFLARE_STATE_DIR": "/elsewhere"}) == "/elsewhere"
    assert state_directory(None, {}).endswith(os.path.join(".local", "state", "mailsec.cloudflare"))


def test_the_journal_keeps_what_is_unsettled_across_instances(tmp_path):
    first = WriteJournal(str(tmp_path), ACCOUNT)
    key = first.record("release", ["a", "b", "c"], 120.0)
    first.settle(key, ["b"])

    entries = WriteJournal(str(tmp_path), ACCOUNT).unsettled("release")

    assert list(entries) == [key] and entries[key]["ids"] == ["a", "c"] and entries[key]["settle_timeout"] == 120.0
    first.settle(key)
    assert first.unsettled("release") == {}


def test_a_torn_journal_reads_as_empty(tmp_path):
    journal = WriteJournal(str(tmp_path), ACCOUNT)
    with open(journal.path, "w") as broken:
        broken.write('{"k": {"ids": ["a"]')
    assert journal.unsettled("release") == {}


def test_the_account_lock_is_exclusive_and_gives_up_in_time(tmp_path):
    held = AccountLock(str(tmp_path), ACCOUNT).acquire(0)
    waits = []
    try:
        with pytest.raises(LockTimeoutError, match="pid %d" % os.getpid()):
            AccountLock(str(tmp_path), ACCOUNT).acquire(0.5, on_wait=waits.append, sleep=lambda s: None)
    finally:
        held.release()
    assert len(waits) == 1
    AccountLock(str(tmp_path), ACCOUNT).acquire(0).release()


def test_the_lock_of_a_dead_holder_is_free(tmp_path):
    code = (
        "import sys; sys.path[:0] = %r; from ansible_collections.mailsec.cloudflare.plugins.module_utils._state.local "
        "import AccountLock; AccountLock(%r, %r).acquire(0); import os; os._exit(0)"
        % (sys.path, str(tmp_path), ACCOUNT)
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    AccountLock(str(tmp_path), ACCOUNT).acquire(0).release()


def test_the_lifeline_holds_while_the_parent_lives_and_breaks_when_a_watched_process_changes(monkeypatch):
    lifeline = Lifeline()
    assert lifeline.gone() is False
    monkeypatch.setattr(local, "_process_facts", lambda pid: None)
    assert lifeline.gone() is True


JOB = {"JOB_ID": "42", "INVENTORY_ID": "3"}


def _settings(backend="local"):
    return {"state_backend": backend, "state_dir": "/runner/.local/state/mailsec.cloudflare"}


@pytest.mark.parametrize(
    "settings, configured, environ, warned",
    [
        (_settings(), None, JOB, True),
        # A state_dir the user chose (a volume every job mounts) is trusted, by option or by variable.
        (_settings(), "/mnt/shared", JOB, False),
        (_settings(), None, dict(JOB, MAILSEC_CLOUDFLARE_STATE_DIR="/mnt/shared"), False),
        (_settings("postgresql"), None, JOB, False),
        # Not an AWX job: a controller's state_dir outlives the run.
        (_settings(), None, {}, False),
    ],
)
def test_an_awx_job_with_state_that_dies_with_it_is_told_how_to_share_it(settings, configured, environ, warned):
    notice = local.ephemeral_state_notice(settings, configured, environ)
    assert (notice is not None) == warned
    if warned:
        assert (
            "JOB_ID 42" in notice and "state_backend postgresql" in notice and "MAILSEC_CLOUDFLARE_STATE_DSN" in notice
        )


def test_the_local_backend_is_files_in_state_dir_and_needs_no_database(tmp_path):
    state = local.open_state({"state_backend": "local", "state_dir": str(tmp_path)})
    assert isinstance(state, LocalState) and state.lock("0" * 32).acquire(0).held()
