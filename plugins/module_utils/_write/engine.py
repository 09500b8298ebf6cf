# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one write engine: how every write (release, bulk create, submission, settings change) lands once.

No Cloudflare write has an idempotency key, so one rule keeps each of them from happening twice:

1. Under the account lock, what an earlier run wrote without learning the outcome (the journal's entries of this
   operation for these keys) is settled first, by observing, before anything is sent.
2. Each request is written to the journal before it leaves, and its time refreshed as it leaves.
3. The client classifies each outcome: refused before processing (nothing happened), answered (the server is done
   with the request; its answer is the evidence), or may still be processing: the settle rule.
4. The settle rule: observe at once, then after 1, 2, 4... s (at most 10 s apart), until each intent shows done
   or an observation sent after ``settle_timeout`` from the moment the request was written still does not show it
   (then that request was never processed, and the intent may be sent again, at most ``retries`` times). A run
   that cannot wait that long ends those intents pending, and the journal keeps them for the next run.
5. Nothing more is sent once the Ansible process that started the module is gone, the account lock is lost, the
   journal cannot be written (no journal entry, no request), or an error stopped the task.

What differs between writes is a ``WritePolicy``: how to send, how to read an answer into per-intent outcomes,
how to observe whether an intent is done, and the outcome it reports in each case.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import functools
import threading
import time

from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.concurrency import in_batches, run_in_order
from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import (
    CloudflareError,
    LockTimeoutError,
    OutcomeUnknownError,
    StateStoreError,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._state.local import Lifeline

DEFAULT_SETTLE_TIMEOUT = 120.0
# Observations while settling: the first at once, then after 1, 2, 4... seconds, never more than this apart.
_SETTLE_FIRST_INTERVAL = 1.0
_SETTLE_MAX_INTERVAL = 10.0
# How late a request may leave after its journal entry was written before the entry's time is moved.
_JOURNAL_TIME_PRECISION = 1.0

DONE, NOT_DONE, UNREADABLE = "done", "not done", "unreadable"


class Seen:
    """What an observation showed of one intent: DONE (with what shows it), NOT_DONE, or UNREADABLE (why).

    ``stop``: the error that made it unreadable when that error stops the task (a login refused, say)."""

    def __init__(self, state, evidence=None, error=None, stop=None):
        self.state = state
        self.evidence = evidence
        self.error = error
        self.stop = stop


class Stop:
    """A policy's decision that stops the task: the error, and the key's entry (None when the write reports per
    task, not per key). The engine keeps the first such error and sends nothing further."""

    def __init__(self, error, entry=None):
        self.error = error
        self.entry = entry


class Clocks:
    """The engine's time: a monotonic clock for windows, the wall clock the journal records, and sleep."""

    def __init__(self, monotonic=None, wall=None, sleep=None):
        self.monotonic = monotonic or time.monotonic
        self.wall = wall or time.time
        self.sleep = sleep or time.sleep


class WriteContext:
    """What every write of one task shares, handed whole to the write engine and to the write's policy: the client
    and account, the state store (its journal and account lock), the lifeline, the settle window, check mode, and
    warnings, each given once per ``once_key``.

    ``options``: ``settle_timeout``, ``concurrency``, ``batch_size`` as the module's options give them, and
    ``clocks`` (tests). Check mode neither waits for, nor edits, what a live run may still be settling, so it
    gets no journal and no lock.
    """

    def __init__(self, client, account_id, store=None, check_mode=False, warn=None, options=None):
        options = options or {}
        self.client = client
        self.account_id = account_id
        self.check_mode = check_mode
        live = store is not None and not check_mode
        self.journal = store.journal(account_id) if live else None
        self.lock = store.lock(account_id) if live else None
        self.lifeline = Lifeline()
        self.settle_timeout = float(options.get("settle_timeout") or DEFAULT_SETTLE_TIMEOUT)
        self.concurrency = options.get("concurrency") or 1
        self.batch_size = options.get("batch_size")
        self.clocks = options.get("clocks") or Clocks()
        self._warn_callback = warn
        self._guard = threading.Lock()
        self._warned = set()

    def warn(self, text, once_key=None):
        with self._guard:
            if once_key is not None:
                if once_key in self._warned:
                    return
                self._warned.add(once_key)
        if self._warn_callback is not None:
            self._warn_callback(text)


class WriteOutcome:
    """What ``WriteEngine.run`` decided: the keys in order (a policy's ``start`` may have found them), one entry
    per key, and the error that stopped the task, or None."""

    def __init__(self, keys, entries, fatal):
        self.keys = keys
        self.entries = entries
        self.fatal = fatal


class Settled:
    """What observing intents after an unsure outcome established."""

    def __init__(self):
        self.done = []  # (key, Seen): the intent shows done
        self.unreadable = []  # (key, why): it could not be observed
        self.not_done = []  # not done when an observation sent after the window closed: safe to send again
        self.pending = []  # not done when the wait had to stop before the window closed


class WritePolicy:
    """What one kind of write supplies to the engine. Keys name intents: message ids, a job's intent, an entry.

    ``operation`` names the write in the journal, ``noun`` in messages ("release"). ``settles_answered_failures``:
    whether an answered failure (a 4XX, a 2xx with success false) is observed over the settle window like a lost
    answer (the write may show only later), or decided at once by ``failed``. A policy provides:

    - ``send(keys, on_send)``: send one request for keys, passing ``on_send`` to the client (called as it leaves);
    - ``answered(keys, response)`` and ``failed(keys, error)``: ({key: entry}, keys to send again) from an answer;
    - ``refused(keys, error)``: {key: entry} for a request refused before processing (nothing was done);
    - ``observe(keys)``: one ``Seen`` per key, in order: is each intent done?
    - ``done(key, seen, cause, earlier)``, ``unreadable(key, why, cause)``, ``unsent(key, why)``: one key's entry
      (``earlier`` when an earlier run's request did it);
    - ``pending(keys, cause)``: {key: entry} for intents whose request may still land (the wait had to stop);
    - ``gave_up(keys, error, attempts)``: {key: entry} for intents not done after the window, when no further
      attempt is allowed;
    - ``unknown(key, why)``: one key's entry when a fault of ours hid what became of its request.

    Entries are whatever the policy reports per key; the engine never reads them, except a ``Stop``: the task stops
    with its error, and its entry stands. The run's steps below default to a write with no pre-check; the messages
    may be replaced by a policy's own words.
    """

    operation = None
    noun = None
    settles_answered_failures = False
    # What the lock's timeout error ends with: nothing of this write was done.
    consequence = "nothing was sent. Run again once it has finished"

    def __init__(self, context):
        self.context = context
        self.client = context.client
        self.account_id = context.account_id
        self.check_mode = context.check_mode
        self.settle_timeout = context.settle_timeout
        self.warn = context.warn

    # The run's steps (``WriteEngine.run``); each returns what it decided ------------------------------------

    def start(self, keys):
        """The keys to act on, once the account lock is held (a search finds them here)."""
        return list(keys)

    def settle_earlier(self, engine, keys):
        """({key: entry} an earlier run's unsure requests settled, the keys still to do)."""
        return engine.settle_earlier(self, keys)

    def pre_check(self, keys):
        """({key: entry} for keys that need no request, the keys to send)."""
        return {}, list(keys)

    def predict(self, keys):
        """{key: entry} in check mode, for the keys a real run would send."""
        return {}

    def batches(self, keys):
        """The keys of each request, in order."""
        return in_batches(keys, self.context.batch_size or max(1, len(keys)))

    @property
    def concurrency(self):
        """How many requests may be in flight at once."""
        return self.context.concurrency

    def summary_fields(self):
        """What the write adds to a report's summary."""
        return {}

    def unrecorded(self, key):
        """The entry of a key no step decided, though nothing stopped the task."""
        return self.unknown(key, "no outcome was recorded for this id; check it before acting on it again")

    # The write's messages ---------------------------------------------------------------------------------

    def settling_warning(self, keys, error):
        return (
            "%s. Observing the %d %s(s) it was for until they show or settle_timeout has passed; not resent "
            % (
                error.message,
                len(keys),
                self.noun,
            )
            + "before then"
        )

    def lost_cause(self, error):
        return "the %s answer was lost (%s)" % (self.noun, error.message)

    def earlier_cause(self, pid, sent_ago):
        return "an earlier run (pid %s) sent a %s for it %.0f s ago and did not learn the outcome" % (
            pid,
            self.noun,
            sent_ago,
        )

    def earlier_warning(self, keys, cause):
        return (
            "%d %s(s) of this task were in flight when an earlier run stopped; observing them before anything is "
            "sent" % (len(keys), self.noun)
        )


class TaskPolicy(WritePolicy):
    """A write that reports per task, not per key (a bulk job, a settings list): a key that is not sent, or whose
    request met an unexpected error, has no entry of its own; the error that stopped the task says what became of it."""

    def unrecorded(self, key):
        return None

    def unsent(self, key, why):
        return None

    def unknown(self, key, why):
        return None


class Departure:
    """One write request: its journal entry, and the moment it last left.

    The settle window runs from the moment the request is written, not from before a wait for the budget or a
    429's Retry-After; the journal keeps the same moment for the next run.
    """

    def __init__(self, clock, journal, operation, keys, settle_timeout, on_unsettled):
        self._clock = clock
        self._journal = journal
        self._on_unsettled = on_unsettled
        self.key = journal.record(operation, keys, settle_timeout) if journal is not None else None
        self.sent_at = clock()

    def leaving(self):
        now = self._clock()
        # Recorded just before: only a request that left noticeably later (after a budget wait or a 429's
        # Retry-After) needs its journal time moved, and paying an fsync per request for less would slow writes.
        if self.key is not None and now - self.sent_at >= _JOURNAL_TIME_PRECISION:
            self._journal.touch(self.key)
        self.sent_at = now

    def settled(self, keys=None):
        """The outcome of these keys (all when None) is known: the journal no longer needs them."""
        if self.key is not None:
            forget(self._journal, self.key, keys, self._on_unsettled)


def forget(journal, entry_key, keys, on_unsettled):
    """Remove settled keys from a journal entry. One the store cannot remove stays: the next run only observes it
    again, which is safe, so the run goes on."""
    try:
        journal.settle(entry_key, keys)
    except StateStoreError as exc:
        on_unsettled(exc)


def _settle_intervals():
    interval = _SETTLE_FIRST_INTERVAL
    while True:
        yield interval
        interval = min(interval * 2, _SETTLE_MAX_INTERVAL)


def _stamped(outcomes, cf_ray):
    """The outcomes, each entry (a Stop's too) naming ``cf_ray`` unless it names one already."""
    for outcome in outcomes.values():
        entry = outcome.entry if isinstance(outcome, Stop) else outcome
        if isinstance(entry, dict):
            entry.setdefault("cf_ray", cf_ray)
    return outcomes


class WriteEngine:
    """Journal, lock, lifeline, send once, settle an unsure outcome by observing: for every write of one account.

    ``run`` is the whole of one write: every step in order, each asking the policy what to do. Safe to share
    between the threads of one run: the first error that stops the task is kept once.
    """

    def __init__(self, context):
        self.context = context
        self.client = context.client
        self._journal = context.journal
        self._lock = context.lock
        self._lifeline = context.lifeline
        self.settle_timeout = context.settle_timeout
        self.warn = context.warn
        self._clock = context.clocks.monotonic
        self._wall_clock = context.clocks.wall
        self._sleep = context.clocks.sleep
        self._guard = threading.Lock()
        self.fatal = None

    def run(self, policy, keys=()):
        """A WriteOutcome: under the account lock, the keys the policy starts from, what earlier runs left settled
        first, the policy's pre-check, then check mode's prediction or the batches sent (each guarded, in order,
        up to ``policy.concurrency`` at once); every key ends with an entry."""
        entries, keys = {}, list(keys)
        try:
            with self.exclusive(policy.consequence):
                keys = policy.start(keys)
                self._run_steps(policy, keys, entries)
        except CloudflareError as exc:
            self.stop(exc)
        results = [entries[key] if key in entries else self._unsent(policy, key) for key in keys]
        # Every result names the ray id of the answer that decided it: None where no answer did (a pre-check, check
        # mode, a request never sent or never answered).
        _stamped(dict(zip(keys, results)), None)
        return WriteOutcome(keys, results, self.fatal)

    def _run_steps(self, policy, keys, entries):
        settled, remaining = policy.settle_earlier(self, keys)
        self._take(entries, settled)
        checked, remaining = policy.pre_check(remaining)
        self._take(entries, checked)
        if self.context.check_mode:
            self._take(entries, policy.predict(remaining))
            return
        for batch_entries in run_in_order(
            functools.partial(self.write_guarded, policy), policy.batches(remaining), policy.concurrency
        ):
            entries.update(batch_entries)

    def _unsent(self, policy, key):
        if self.fatal is None:
            return policy.unrecorded(key)
        return policy.unsent(key, self.fatal.why_unsent)

    def _take(self, decided, outcomes):
        """Add a policy's outcomes to ``decided``; a Stop among them stops the task and leaves its entry."""
        for key, outcome in outcomes.items():
            if isinstance(outcome, Stop):
                self.stop(outcome.error)
                outcome = outcome.entry
            decided[key] = outcome
        return decided

    def stop(self, error):
        """Keep the first error that stops the task; nothing further is sent."""
        with self._guard:
            if self.fatal is None:
                self.fatal = error

    @contextlib.contextmanager
    def exclusive(self, consequence):
        """Hold the account lock (waiting as long as the task may) for the block; ``consequence`` ends the error
        raised when it cannot be had in time."""
        if self._lock is None:
            yield
            return
        left = self.client.time_left()
        try:
            self._lock.acquire(
                float("inf") if left is None else max(0.0, left), on_wait=self._lock_wait, sleep=self._sleep
            )
        except LockTimeoutError as exc:
            raise CloudflareError(
                "%s, longer than task_timeout allows; %s" % (exc, consequence), stops_task=True
            ) from exc
        try:
            yield
        finally:
            self._lock.release()

    def _lock_wait(self, text):
        self.warn(text)
        self.client.progress.say("lock", text, urgent=True)

    def settle_earlier(self, policy, keys):
        """({key: entry} for keys an earlier run wrote without learning the outcome, the keys still to do)."""
        if self._journal is None:
            return {}, list(keys)
        requested, decided = set(keys), {}
        for journal_key, unsettled in self._journal.unsettled(policy.operation).items():
            ids = [i for i in unsettled["ids"] if i in requested]
            if not ids:
                continue
            requested.difference_update(ids)
            settle_timeout = max(float(unsettled.get("settle_timeout") or 0), self.settle_timeout)
            sent_ago = self._wall_clock() - float(unsettled.get("sent_at") or 0)
            window_end = self._clock() - sent_ago + settle_timeout
            cause = policy.earlier_cause(unsettled.get("pid", "unknown"), sent_ago)
            self.warn(policy.earlier_warning(ids, cause))
            settled = self.observe_until(policy, ids, window_end)
            self._take(decided, self._outcomes(policy, settled, cause, earlier=True))
            forget(self._journal, journal_key, [i for i in ids if i not in settled.pending], self._unsettled_warning)
        return decided, [k for k in keys if k not in decided]

    def _unsettled_warning(self, error):
        self.warn(
            "%s; the settled entries stay in the journal, and the next run observes them again before it sends"
            % error.message,
            once_key="journal entries left",
        )

    def _why_not_send(self, policy):
        """The error that forbids sending now, or None: the Ansible process is gone, or the account lock lost."""
        if self._lifeline is not None and self._lifeline.gone():
            return CloudflareError(
                "the Ansible process that started this task is gone; no further %s request is sent" % policy.noun,
                stops_task=True,
            )
        if self._lock is not None and not self._lock.held():
            return CloudflareError(
                "the account lock was lost (the state database session that held it ended), so another run may "
                "be writing to this account now; no further %s request is sent" % policy.noun,
                stops_task=True,
            )
        return None

    def write(self, policy, keys):
        """{key: entry} for every key: sent once, settled, sent again only when provably not done."""
        decided, pending, attempts = {}, list(keys), 0
        while pending:
            forbidden = self._why_not_send(policy)
            if forbidden is not None:
                self.stop(forbidden)
            if self.fatal is not None:
                return self._take(decided, {k: policy.unsent(k, self.fatal.why_unsent) for k in pending})
            attempts += 1
            try:
                departure = Departure(
                    self._clock,
                    self._journal,
                    policy.operation,
                    pending,
                    self.settle_timeout,
                    self._unsettled_warning,
                )
            except StateStoreError as exc:
                self.stop(exc)
                continue
            try:
                response = policy.send(pending, departure.leaving)
            except OutcomeUnknownError as exc:
                outcomes, pending = self._after_unsure(policy, pending, exc, departure, attempts)
                self._take(decided, outcomes)
                continue
            except CloudflareError as exc:
                departure.settled()
                if exc.is_fatal:
                    self.stop(exc)
                return self._take(decided, _stamped(policy.refused(pending, exc), exc.cf_ray))
            outcomes, pending = policy.answered(pending, response)
            # A policy may hand back what it made of the answer instead (the bulk create: the job and its ray id).
            self._take(decided, _stamped(outcomes, getattr(response, "cf_ray", None)))
            departure.settled()
        return decided

    def write_guarded(self, policy, keys):
        """``write``, except that an unexpected exception once a request may have been sent ends its keys
        ``policy.unknown`` and stops the task, instead of escaping as a traceback that hides what became of it."""
        try:
            return self.write(policy, keys)
        except Exception as exc:  # pylint: disable=broad-except
            self.stop(
                CloudflareError(
                    "unexpected error while handling a %s answer (%s: %s); the messages of that request may or may "
                    "not have been acted on" % (policy.noun, type(exc).__name__, exc),
                    stops_task=True,
                )
            )
            return self._take(
                {}, {key: policy.unknown(key, "outcome unknown: %s" % self.fatal.message) for key in keys}
            )

    def _after_unsure(self, policy, keys, error, departure, attempts):
        """({key: entry}, keys to send again) after a request that may have been processed."""
        if error.answered and not policy.settles_answered_failures:
            outcomes, resend = policy.failed(keys, error)
            departure.settled()
            return _stamped(outcomes, error.cf_ray), resend
        self.warn(policy.settling_warning(keys, error))
        settled = self.observe_until(policy, keys, departure.sent_at + self.settle_timeout)
        # The reads that settle the write do not replace its ray id: the write's answer, when there was one.
        outcomes = _stamped(self._outcomes(policy, settled, policy.lost_cause(error), earlier=False), error.cf_ray)
        departure.settled([k for k in keys if k not in settled.pending])
        if settled.not_done and (error.answered or attempts > self.client.retries):
            self._take(outcomes, _stamped(policy.gave_up(settled.not_done, error, attempts), error.cf_ray))
            return outcomes, []
        return outcomes, settled.not_done

    def _outcomes(self, policy, settled, cause, earlier):
        outcomes = {key: policy.done(key, seen, cause, earlier) for key, seen in settled.done}
        outcomes.update((key, policy.unreadable(key, why, cause)) for key, why in settled.unreadable)
        if settled.pending:
            outcomes.update(policy.pending(settled.pending, cause))
        return self._take({}, outcomes)

    def observe_until(self, policy, keys, window_end):
        """Observe intents until each shows done or the settle window has closed (the settle rule)."""
        settled, waiting = Settled(), list(keys)
        for interval in _settle_intervals():
            # Only an observation that leaves after the window has closed proves a write will not land: one sent
            # earlier may have been answered late, from a state taken before a slow write was processed.
            observed_at = self._clock()
            still = []
            for key, seen in zip(waiting, policy.observe(waiting)):
                if seen.stop is not None:
                    self.stop(seen.stop)
                if seen.state == DONE:
                    settled.done.append((key, seen))
                elif seen.state == NOT_DONE:
                    still.append(key)
                else:
                    settled.unreadable.append((key, seen.error))
            waiting = still
            if not waiting or observed_at >= window_end:
                settled.not_done = waiting
                return settled
            wait = max(0.0, min(interval, window_end - self._clock()))
            if self._cannot_wait(wait):
                settled.pending = waiting
                return settled
            self.client.progress.say(
                "settle %s" % policy.operation,
                "settling an unsure %s: %d not seen done yet, read back again in %.0f s; the settle window closes in "
                "%.0f s (settle_timeout)" % (policy.noun, len(waiting), wait, max(0.0, window_end - self._clock())),
            )
            self._sleep(wait)
        return settled

    def _cannot_wait(self, seconds):
        left = self.client.time_left()
        return (
            (left is not None and seconds >= left)
            or self.fatal is not None
            or (self._lifeline is not None and self._lifeline.gone())
        )
