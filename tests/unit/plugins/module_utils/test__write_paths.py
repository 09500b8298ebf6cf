# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the write engine's run gives every write path alike: the lifeline, and the guard that turns an unexpected
exception in a batch into explicit statuses (or, for a write reported per task, the error that stopped it)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import CloudflareError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.search import search_spec
from ansible_collections.mailsec.cloudflare.plugins.module_utils._write.engine import WriteEngine
from ansible_collections.mailsec.cloudflare.plugins.module_utils._writes.bulk import (
    BulkCreatePolicy,
    BulkJobs,
    intent_key,
    job_comment,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._writes.move import MovePolicy
from ansible_collections.mailsec.cloudflare.plugins.module_utils._writes.release import ReleasePolicy
from ansible_collections.mailsec.cloudflare.plugins.module_utils._writes.settings_list import (
    ALLOW_POLICY,
    Declared,
    SettingsPolicy,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._writes.submission import SubmissionPolicy
from ansible_collections.mailsec.cloudflare.tests.unit.plugins.conftest import ACCOUNT, BASE, envelope, real_client
from ansible_collections.mailsec.cloudflare.tests.unit.plugins.write_runs import BulkReleaseRun, context_for

IDS = ["4Njp3P0STMz2c02Q-2024-01-05T10:00:00-1", "4Njp3P0STMz2c02Q-2024-01-05T10:00:01-2"]
SPEC = search_spec({"sender": "partner.example", "start": "2026-11-24T08:00:00Z"})
INTENT = intent_key(ACCOUNT, SPEC.as_search_params(), ticket="INC-1")
BULK = "%s/accounts/%s/email-security/investigate/bulk" % (BASE, ACCOUNT)


class Gone:
    """The lifeline of a module whose Ansible process has exited."""

    def gone(self):
        return True


def _bulk(context):
    return BulkCreatePolicy(
        context, BulkJobs(context.client, ACCOUNT), SPEC, INTENT, job_comment(INTENT, ticket="INC-1")
    )


def _settings(context):
    return SettingsPolicy(context, ALLOW_POLICY, [Declared(ALLOW_POLICY, {"pattern": "a@partner.example"})])


# Each write path: its policy for a context, the keys of a run, and the statuses they end with in batches of one (a
# submission's batch holds up to 100); None for a write reported per task, by the error that stopped it. The first
# batch may have been acted on; a later one is never sent, since the error stopped the task.
PATHS = {
    "release": (lambda context: ReleasePolicy(context, only_quarantined=False), IDS, ["unknown", "not_released"]),
    "move": (lambda context: MovePolicy(context, "Inbox"), IDS, ["unknown", "not_moved"]),
    "submission": (lambda context: SubmissionPolicy(context, "NONE"), IDS, ["unknown", "unknown"]),
    "bulk create": (_bulk, ["bulk job/%s" % INTENT], None),
    "settings change": (_settings, [], None),
}


@pytest.mark.parametrize("path", sorted(PATHS))
def test_an_unexpected_exception_in_a_batch_of_any_write_path_ends_as_explicit_statuses(path, monkeypatch):
    make, keys, statuses = PATHS[path]
    context = context_for(real_client(), ACCOUNT, concurrency=1, batch_size=1)
    policy = make(context)
    # What each path reads before it sends is its own tests' concern: here every key is to be sent.
    monkeypatch.setattr(policy, "pre_check", lambda keys: ({}, list(keys)))

    def send(keys, on_send):
        on_send()
        raise KeyError("a field the answer was expected to carry")

    monkeypatch.setattr(policy, "send", send)
    outcome = WriteEngine(context).run(policy, keys)

    assert "unexpected error while handling a %s answer (KeyError" % policy.noun in outcome.fatal.message
    if statuses is not None:
        assert [entry["status"] for entry in outcome.entries] == statuses
        assert "outcome unknown" in outcome.entries[0]["detail"]


def test_a_bulk_create_is_not_sent_once_the_ansible_process_that_started_the_task_is_gone(api):
    api.get(BULK, json=envelope([], result_info={"count": 0, "per_page": 100, "page": 1, "total_count": 0}))
    run = BulkReleaseRun(
        BulkJobs(real_client(), ACCOUNT),
        SPEC,
        INTENT,
        job_comment(INTENT, ticket="INC-1"),
        dict(settle_timeout=10, wait=False, wait_timeout=0, poll_interval=5, cancel_on_timeout=False),
        lifeline=Gone(),
    )

    with pytest.raises(CloudflareError, match="the Ansible process that started this task is gone"):
        run.run(check_mode=False)
    assert [call.request.method for call in api.calls] == ["GET"]
    assert not run.created
