# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runs of each write as the tests drive them: a write context from loose parts (a journal and a lock without a
store, fake clocks, a stand-in lifeline), the policy, the engine, and what the run returned."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mailsec.cloudflare.plugins.module_utils._write.engine import (
    Clocks,
    WriteContext,
    WriteEngine,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._write.report import WriteReport
from ansible_collections.mailsec.cloudflare.plugins.module_utils._writes.bulk import BulkCreatePolicy, bulk_release
from ansible_collections.mailsec.cloudflare.plugins.module_utils._writes.move import MovePolicy
from ansible_collections.mailsec.cloudflare.plugins.module_utils._writes.release import ReleasePolicy
from ansible_collections.mailsec.cloudflare.plugins.module_utils._writes.settings_list import SettingsPolicy
from ansible_collections.mailsec.cloudflare.plugins.module_utils._writes.submission import SubmissionPolicy


class Store:
    """A state store of one journal and one lock, whatever the account."""

    def __init__(self, journal=None, lock=None):
        self._journal = journal
        self._lock = lock

    def journal(self, account_id):
        return self._journal

    def lock(self, account_id):
        return self._lock


def context_for(client, account_id, journal=None, lock=None, lifeline=None, check_mode=False, warn=None, **options):
    """A WriteContext; ``options``: settle_timeout, concurrency, batch_size, clock, wall_clock, sleep."""
    clocks = Clocks(options.pop("clock", None), options.pop("wall_clock", None), options.pop("sleep", None))
    store = Store(journal, lock) if journal is not None or lock is not None else None
    context = WriteContext(client, account_id, store, check_mode, warn, dict(options, clocks=clocks))
    if lifeline is not None:
        context.lifeline = lifeline
    return context


def engine_for(client, account_id="0" * 32, **parts):
    """A WriteEngine for a context from loose parts (see context_for)."""
    return WriteEngine(context_for(client, account_id, **parts))


class ReleaseRun:
    """A release as a module runs it; ``run`` returns the WriteReport."""

    def __init__(self, client, account_id, only_quarantined=True, body_format="auto", reader=None, **parts):
        parts.setdefault("batch_size", 1000)
        parts.setdefault("concurrency", 4)
        self.context = context_for(client, account_id, **parts)
        self._options = dict(only_quarantined=only_quarantined, body_format=body_format, reader=reader)
        self.policy = None

    def run(self, message_ids=(), find=None, known=None):
        self.policy = ReleasePolicy(self.context, find=find, known=known, **self._options)
        return WriteReport(self.policy, WriteEngine(self.context).run(self.policy, message_ids))

    @property
    def body_format(self):
        return self.policy.body_format

    @property
    def known_taken(self):
        return self.policy.known_taken


class MoveRun:
    """A move as a module runs it; ``run`` returns the WriteReport."""

    def __init__(self, client, account_id, destination, reader=None, **parts):
        parts.setdefault("batch_size", 1000)
        parts.setdefault("concurrency", 4)
        self.context = context_for(client, account_id, **parts)
        self.destination = destination
        self.reader = reader

    def run(self, message_ids=(), find=None):
        policy = MovePolicy(self.context, self.destination, self.reader, find)
        return WriteReport(policy, WriteEngine(self.context).run(policy, message_ids))


class SubmissionRun:
    """A submission as a module runs it; ``run`` returns the results, ``fatal`` what stopped it."""

    def __init__(self, client, account_id, disposition, **parts):
        self.context = context_for(client, account_id, **parts)
        self.disposition = disposition
        self.fatal = None

    def run(self, message_ids):
        outcome = WriteEngine(self.context).run(SubmissionPolicy(self.context, self.disposition), message_ids)
        self.fatal = outcome.fatal
        return outcome.entries


class SettingsListRun:
    """A settings change as a module runs it; ``run`` returns (results, diff), or raises what stopped it."""

    def __init__(self, client, account_id, kind, now=None, **parts):
        self.context = context_for(client, account_id, **parts)
        self.kind = kind
        self.now = now

    def run(self, declared):
        policy = SettingsPolicy(self.context, self.kind, declared, self.now)
        fatal = WriteEngine(self.context).run(policy).fatal
        if fatal is not None:
            raise fatal
        return policy.results(), policy.diff()


class BulkReleaseRun:
    """A bulk job task as the module runs it (without waiting); ``run`` returns the job, or raises what stopped it."""

    def __init__(self, jobs, spec, intent, comment, options, **parts):
        parts.setdefault("sleep", jobs.pause)
        parts.setdefault("settle_timeout", options["settle_timeout"])
        self.jobs = jobs
        self._args = (spec, intent, comment)
        self._options = options
        self._parts = parts
        self.policy = None

    def run(self, check_mode):
        context = context_for(self.jobs.client, self.jobs.account_id, check_mode=check_mode, **self._parts)
        self.policy = BulkCreatePolicy(context, self.jobs, *self._args)
        report = bulk_release(self.policy, lambda: 0, dict(self._options, message_results="none"))
        if report.error is not None:
            raise report.error
        return report.job

    def __getattr__(self, name):
        if name in ("created", "adopted", "changed"):
            return getattr(self.policy, name)
        raise AttributeError(name)
