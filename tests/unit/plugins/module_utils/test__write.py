# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The write engine driven with a scripted policy: its journal, its schedule, its window rule, no HTTP."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time as real_time

import pytest

from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import CloudflareError, OutcomeUnknownError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._state.local import AccountLock, WriteJournal
from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import StateStoreError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.progress import SILENT, Progress
from ansible_collections.mailsec.cloudflare.plugins.module_utils._write.engine import (
    DONE,
    NOT_DONE,
    UNREADABLE,
    Seen,
    WritePolicy,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._outcomes import outcome_summary
from ansible_collections.mailsec.cloudflare.tests.unit.plugins.write_runs import engine_for

ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"


class FakeTime:
    def __init__(self):
        self.now = 1000.0
        self.slept = []
        self._started = real_time.time()

    def clock(self):
        return self.now

    def wall_clock(self):
        """Epoch seconds, as the journal writes them, moving with the fake clock."""
        return self._started + self.now - 1000.0

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


class Client:
    def __init__(self, time, retries=2, deadline=None, progress=None):
        self.retries = retries
        self.time = time
        self.deadline = deadline
        self.progress = progress or SILENT

    def time_left(self):
        return None if self.deadline is None else self.deadline - self.time.now


class Policy(WritePolicy):
    """Sends by taking the next scripted outcome; observes from a table of moments at which each key is done."""

    operation = "test"
    noun = "write"

    def __init__(self, time, outcomes, done_at=None, journal=None):
        self.time = time
        self.outcomes = list(outcomes)
        self.done_at = dict(done_at or {})
        self.sent = []
        self.observed = []
        self.journal = journal
        self.journalled_while_sending = []

    def send(self, keys, on_send):
        on_send()
        self.sent.append((list(keys), self.time.now))
        if self.journal is not None:
            self.journalled_while_sending.append(
                sorted(i for entry in self.journal.unsettled("test").values() for i in entry["ids"])
            )
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def answered(self, keys, response):
        return dict.fromkeys(keys, "answered"), []

    def refused(self, keys, error):
        return dict.fromkeys(keys, "refused: %s" % error.message)

    def failed(self, keys, error):
        return dict.fromkeys(keys, "failed"), []

    def observe(self, keys):
        self.observed.append((list(keys), self.time.now))
        return [
            Seen(DONE, "evidence") if self.time.now >= self.done_at.get(k, float("inf")) else Seen(NOT_DONE)
            for k in keys
        ]

    def done(self, key, seen, cause, earlier):
        return "done (earlier)" if earlier else "done"

    def unreadable(self, key, why, cause):
        return "unreadable: %s" % why

    def pending(self, keys, cause):
        return dict.fromkeys(keys, "pending")

    def gave_up(self, keys, error, attempts):
        return dict.fromkeys(keys, "gave up after %d" % attempts)

    def unsent(self, key, why):
        return "unsent: %s" % why


def lost():
    return OutcomeUnknownError("POST: read timed out", method="POST", path="/x")


def answered_failure():
    return OutcomeUnknownError("POST: HTTP 409", status=409, method="POST", path="/x", answered=True)


def make(time, tmp_path=None, **options):
    journal = WriteJournal(str(tmp_path), ACCOUNT) if tmp_path is not None else None
    settings = dict(settle_timeout=10.0, clock=time.clock, wall_clock=time.wall_clock, sleep=time.sleep)
    settings.update(options)
    client = settings.pop("client", Client(time))
    return engine_for(client, ACCOUNT, journal=journal, **settings), journal


def test_an_answered_write_is_sent_once_and_leaves_no_journal_entry(tmp_path):
    time = FakeTime()
    engine, journal = make(time, tmp_path)
    policy = Policy(time, ["ok"], journal=journal)

    assert engine.write(policy, ["a", "b"]) == {"a": "answered", "b": "answered"}
    assert [keys for keys, dummy in policy.sent] == [["a", "b"]]
    # Written to the journal before it left, gone once answered.
    assert policy.journalled_while_sending == [["a", "b"]]
    assert journal.unsettled("test") == {}


def test_a_lost_answer_is_observed_on_the_schedule_and_never_resent_once_done(tmp_path):
    time = FakeTime()
    engine, journal = make(time, tmp_path)
    policy = Policy(time, [lost()], done_at={"a": 1003.0, "b": 1000.0})

    assert engine.write(policy, ["a", "b"]) == {"a": "done", "b": "done"}
    assert len(policy.sent) == 1
    # At once, then after 1 and 2 s: "a" shows at 1003.
    assert list(policy.observed) == [
        (["a", "b"], 1000.0),
        (["a"], 1001.0),
        (["a"], 1003.0),
    ]
    assert journal.unsettled("test") == {}


def test_a_settle_window_says_how_many_it_waits_for_and_when_the_window_closes(tmp_path):
    time = FakeTime()
    said = tmp_path / "progress"
    engine, dummy = make(time, client=Client(time, progress=Progress(str(said), clock=time.clock)))
    policy = Policy(time, [lost()], done_at={"a": 1003.0, "b": 1000.0})

    engine.write(policy, ["a", "b"])

    # Read back at 0, 1 and 3 s: the first wait is said, the second comes within 10 s of it.
    assert said.read_text().splitlines() == [
        "settling an unsure write: 1 not seen done yet, read back again in 1 s; the settle window closes in 10 s "
        "(settle_timeout)"
    ]


def test_only_an_observation_sent_after_the_window_closed_lets_an_intent_be_sent_again():
    time = FakeTime()
    engine, dummy = make(time)
    policy = Policy(time, [lost(), "ok"])

    assert engine.write(policy, ["a"]) == {"a": "answered"}
    # Observed at 0, 1, 3, 7 and 10 s (the window closing at 10 s), then sent again.
    assert [moment - 1000.0 for dummy, moment in policy.observed] == [0.0, 1.0, 3.0, 7.0, 10.0]
    assert [moment - 1000.0 for dummy, moment in policy.sent] == [0.0, 10.0]


def test_no_attempt_beyond_the_clients_retries():
    time = FakeTime()
    engine, dummy = make(time, client=Client(time, retries=1))
    policy = Policy(time, [lost(), lost()])

    assert engine.write(policy, ["a"]) == {"a": "gave up after 2"}
    assert len(policy.sent) == 2


def test_an_answered_failure_is_decided_at_once_unless_the_policy_settles_it_over_the_window():
    time = FakeTime()
    engine, dummy = make(time)
    at_once = Policy(time, [answered_failure()])
    assert engine.write(at_once, ["a"]) == {"a": "failed"}
    assert at_once.observed == []

    windowed = Policy(time, [answered_failure()])
    windowed.settles_answered_failures = True
    # Not done when the window closes: the server answered, so it is never sent again.
    assert engine.write(windowed, ["a"]) == {"a": "gave up after 1"}
    assert len(windowed.sent) == 1 and len(windowed.observed) == 5


def test_a_task_that_cannot_wait_for_the_window_ends_pending_and_keeps_the_journal(tmp_path):
    time = FakeTime()
    engine, journal = make(time, tmp_path, client=Client(time, deadline=1002.5))
    policy = Policy(time, [lost()])

    assert engine.write(policy, ["a", "b"]) == {"a": "pending", "b": "pending"}
    assert [entry["ids"] for entry in journal.unsettled("test").values()] == [["a", "b"]]


def test_the_next_run_settles_what_the_journal_holds_before_anything_is_sent(tmp_path):
    time = FakeTime()
    journal = WriteJournal(str(tmp_path), ACCOUNT)
    journal.record("test", ["a", "b"], 10.0)
    journal.record("other", ["c"], 10.0)
    engine, dummy = make(time, tmp_path)
    policy = Policy(time, [], done_at={"a": 1002.0})

    decided, remaining = engine.settle_earlier(policy, ["a", "b", "c"])

    # "a" shows; "b" never does within the window, so it is left to be sent; another operation's entry is not ours.
    assert decided == {"a": "done (earlier)"}
    assert remaining == ["b", "c"]
    assert policy.sent == []
    assert list(journal.unsettled("test")) == [] and len(journal.unsettled("other")) == 1


def test_check_mode_neither_reads_nor_edits_the_journal_nor_takes_the_lock(tmp_path):
    time = FakeTime()
    journal = WriteJournal(str(tmp_path), ACCOUNT)
    journal.record("test", ["a"], 10.0)
    held = AccountLock(str(tmp_path), ACCOUNT).acquire(0)
    try:
        engine = engine_for(
            Client(time), ACCOUNT, journal=journal, lock=AccountLock(str(tmp_path), ACCOUNT), check_mode=True
        )
        policy = Policy(time, [])
        with engine.exclusive("nothing was sent"):
            assert engine.settle_earlier(policy, ["a"]) == ({}, ["a"])
    finally:
        held.release()
    assert policy.observed == [] and len(journal.unsettled("test")) == 1


def test_a_lock_held_longer_than_the_task_may_wait_stops_the_task_saying_what_was_not_done(tmp_path):
    time = FakeTime()
    held = AccountLock(str(tmp_path), ACCOUNT).acquire(0)
    try:
        engine = engine_for(
            Client(time, deadline=1000.4), lock=AccountLock(str(tmp_path), ACCOUNT), clock=time.clock, sleep=time.sleep
        )
        with pytest.raises(CloudflareError) as raised:
            with engine.exclusive("nothing was sent"):
                pytest.fail("the block ran without the lock")
    finally:
        held.release()
    assert "longer than task_timeout allows; nothing was sent" in raised.value.message
    assert raised.value.is_fatal


def test_a_wait_for_the_account_lock_is_said_once_as_it_begins(tmp_path):
    time = FakeTime()
    said = tmp_path / "progress"
    held = AccountLock(str(tmp_path), ACCOUNT).acquire(0)
    try:
        engine = engine_for(
            Client(time, deadline=1002.0, progress=Progress(str(said), clock=time.clock)),
            lock=AccountLock(str(tmp_path), ACCOUNT),
            clock=time.clock,
            sleep=time.sleep,
        )
        with pytest.raises(CloudflareError):
            with engine.exclusive("nothing was sent"):
                pytest.fail("the block ran without the lock")
    finally:
        held.release()
    lines = said.read_text().splitlines()
    assert len(lines) == 1 and lines[0].startswith("waiting for another run writing to this account on this machine")


def test_a_refusal_that_stops_the_task_leaves_later_writes_unsent():
    time = FakeTime()
    engine, dummy = make(time)
    refusal = CloudflareError(
        "HTTP 403: Authentication error", status=403, errors=[{"code": 10000, "message": "Authentication error"}]
    )
    policy = Policy(time, [refusal])

    assert engine.write(policy, ["a"]) == {"a": "refused: HTTP 403: Authentication error"}
    assert engine.fatal is refusal
    # Said in full once, by the task's message; each id it kept from being sent says it in a few words.
    assert engine.write(policy, ["b"]) == {
        "b": "unsent: the task stopped first on HTTP 403 [10000] Authentication error; its message says why"
    }
    assert len(policy.sent) == 1


def test_nothing_is_sent_once_the_ansible_process_is_gone():
    class Gone:
        def gone(self):
            return True

    time = FakeTime()
    engine, dummy = make(time, lifeline=Gone())
    policy = Policy(time, ["ok"])

    outcome = engine.write(policy, ["a"])

    assert policy.sent == []
    assert outcome == {
        "a": "unsent: the Ansible process that started this task is gone; no further write request is sent"
    }


def test_an_unreadable_intent_is_reported_as_such_and_not_waited_for():
    class Unreadable(Policy):
        def observe(self, keys):
            self.observed.append((list(keys), self.time.now))
            return [Seen(UNREADABLE, error="HTTP 500") for dummy in keys]

    time = FakeTime()
    engine, dummy = make(time)
    policy = Unreadable(time, [lost()])

    assert engine.write(policy, ["a"]) == {"a": "unreadable: HTTP 500"}
    assert len(policy.observed) == 1 and time.slept == []


def test_warnings_with_a_key_are_given_once():
    given = []
    engine = engine_for(Client(FakeTime()), ACCOUNT, warn=given.append)
    for dummy in range(3):
        engine.warn("notice", once_key="n")
    engine.warn("other")
    assert given == ["notice", "other"]


def test_outcome_summary_counts_every_name_even_absent_ones():
    results = [{"status": "a"}, {"status": "a"}, {"status": "b"}]
    assert outcome_summary(results, "status", ("a", "b", "c"), 4) == {
        "a": 2,
        "b": 1,
        "c": 0,
        "total": 3,
        "requests_sent": 4,
    }


class ScriptedLock:
    """A lock that is held for the first ``held_for`` proofs, then lost (its database session ended)."""

    def __init__(self, held_for):
        self.proofs = 0
        self.held_for = held_for

    def acquire(self, max_wait, on_wait=None, sleep=None):
        return self

    def held(self):
        self.proofs += 1
        return self.proofs <= self.held_for

    def release(self):
        """Nothing to give back: a lost lock was given back by the server."""


class UnwritableJournal(WriteJournal):
    """A journal whose store is gone: no entry can be written, none removed."""

    def __init__(self, directory, account_id, record_fails=True):
        super(UnwritableJournal, self).__init__(directory, account_id)
        self.record_fails = record_fails

    def record(self, operation, keys, settle_timeout):
        if self.record_fails:
            raise StateStoreError("the state database failed while writing the journal entry (connection lost)")
        return super(UnwritableJournal, self).record(operation, keys, settle_timeout)

    def settle(self, key, keys=None):
        raise StateStoreError("the state database failed while removing settled journal entries (connection lost)")


def test_a_lost_account_lock_stops_every_further_request(tmp_path):
    time = FakeTime()
    engine, dummy = make(time, tmp_path, lock=ScriptedLock(held_for=1))
    first, second = Policy(time, ["ok"]), Policy(time, ["ok"])

    with engine.exclusive("nothing was sent"):
        assert engine.write(first, ["a"]) == {"a": "answered"}
        outcome = engine.write(second, ["b"])

    assert second.sent == []
    assert outcome["b"].startswith("unsent: the account lock was lost")
    assert engine.fatal is not None and engine.fatal.is_fatal


def test_no_journal_entry_no_request(tmp_path):
    time = FakeTime()
    engine = engine_for(
        Client(time), journal=UnwritableJournal(str(tmp_path), ACCOUNT), clock=time.clock, sleep=time.sleep
    )
    policy = Policy(time, ["ok"])

    assert engine.write(policy, ["a", "b"]) == {
        "a": "unsent: the state database failed while writing the journal entry (connection lost)",
        "b": "unsent: the state database failed while writing the journal entry (connection lost)",
    }
    assert policy.sent == []


def test_an_entry_the_store_cannot_remove_is_left_for_the_next_run_and_said_once(tmp_path):
    time = FakeTime()
    warnings = []
    engine = engine_for(
        Client(time),
        journal=UnwritableJournal(str(tmp_path), ACCOUNT, record_fails=False),
        clock=time.clock,
        sleep=time.sleep,
        warn=warnings.append,
    )

    assert engine.write(Policy(time, ["ok"]), ["a"]) == {"a": "answered"}
    assert engine.write(Policy(time, ["ok"]), ["b"]) == {"b": "answered"}
    assert len(warnings) == 1 and "the next run observes them again" in warnings[0]
    assert engine.fatal is None
