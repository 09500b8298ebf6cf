# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What a per-message write (release, move, submission) returns, from the engine's WriteOutcome: one report for all
of them, with the statuses of the write's ``Outcomes`` and the policy's own fields and diff."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mailsec.cloudflare.plugins.module_utils._outcomes import incomplete_counts, outcome_summary


class WriteReport:
    """Everything one run decided: results in request order, whether it changed anything, what is incomplete,
    why it stopped if it did. ``policy`` gives ``outcomes`` (its statuses), ``result_fields()`` and ``summary_fields()``
    (what else the module returns) and ``diff(results)``."""

    def __init__(self, policy, outcome):
        self.policy = policy
        self.outcomes = policy.outcomes
        self.results = outcome.entries
        self.fatal_error = outcome.fatal
        self.check_mode = policy.check_mode

    @property
    def done_ids(self):
        return [entry["id"] for entry in self.results if entry["status"] == self.outcomes.done]

    @property
    def incomplete_ids(self):
        return [entry["id"] for entry in self.results if entry["status"] not in self.outcomes.complete]

    @property
    def changed(self):
        changing = (self.outcomes.would,) if self.check_mode else self.outcomes.changed
        return any(entry["status"] in changing for entry in self.results)

    def summary(self, client):
        summary = outcome_summary(self.results, "status", self.outcomes.statuses, client.requests_sent)
        summary.update(
            (name, sum(len(entry[field]) for entry in self.results)) for name, field in self.outcomes.recipients.items()
        )
        summary.update(self.policy.summary_fields())
        pacer = client.pacer
        summary.update(
            incomplete=len(self.incomplete_ids),
            retries=client.retries_done,
            rate_limit_pauses=pacer.pauses,
            rate_limit_paused_seconds=round(pacer.paused_seconds, 1),
        )
        return summary

    def result(self, client, with_diff=False):
        """What the module returns: results, summary, the id lists, the policy's fields, in diff mode the diff."""
        result = dict(
            changed=self.changed,
            results=self.results,
            summary=self.summary(client),
            incomplete_ids=self.incomplete_ids,
        )
        result[self.outcomes.done_key] = self.done_ids
        result.update(self.policy.result_fields())
        diff = self.policy.diff(self.results) if with_diff else None
        if diff is not None:
            result["diff"] = diff
        if self.fatal_error is not None:
            result["error"] = self.fatal_error.as_dict()
        return result

    def failure(self, fail_on_incomplete):
        """Why the task fails, or None: an error that stopped it, or (when asked) ids not done."""
        incomplete, total = len(self.incomplete_ids), len(self.results)
        if self.fatal_error is not None and not total:
            return self.fatal_error.message
        if self.fatal_error is not None:
            return "%s. %d of %d message(s) %s; see results and incomplete_ids" % (
                self.fatal_error.message,
                incomplete,
                total,
                self.outcomes.unfinished,
            )
        if not (incomplete and fail_on_incomplete):
            return None
        described = incomplete_counts(self.results, self.outcomes.statuses, self.outcomes.complete)
        return (
            "%d of %d message(s) %s (%s); see incomplete_ids and each result's detail, or set "
            % (
                incomplete,
                total,
                self.outcomes.unfinished,
                described,
            )
            + "fail_on_incomplete: false"
        )
