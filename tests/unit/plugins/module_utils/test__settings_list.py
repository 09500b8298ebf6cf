# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The settings policy through a real client: declared entries, the plan, and the exact HTTP sequence."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
import requests

from ansible_collections.mailsec.cloudflare.tests.unit.plugins.write_runs import SettingsListRun
from ansible_collections.mailsec.cloudflare.plugins.module_utils._state.local import WriteJournal
from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import ValidationError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._writes.settings_list import (
    ALLOW_POLICY,
    TRUSTED_DOMAIN,
    Declared,
    declared_entries,
    join_comments,
    split_comments,
)

from ansible_collections.mailsec.cloudflare.tests.unit.plugins.conftest import FakeClock, real_client

ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"
BASE = "https://api.example.test/client/v4"
POLICIES = "%s/accounts/%s/email-security/settings/allow_policies" % (BASE, ACCOUNT)
# A sender cannot be both allowed and blocked: a run declaring a present policy reads the block list first.
BLOCKS = "%s/accounts/%s/email-security/settings/block_senders" % (BASE, ACCOUNT)
SENDER = "billing@supplier.example"


def listing(*entries):
    return {
        "success": True,
        "errors": [],
        "messages": [],
        "result": list(entries),
        "result_info": {"count": len(entries), "page": 1, "per_page": 1000, "total_count": len(entries)},
    }


def policy(pattern=SENDER, policy_id="p-1", **fields):
    entry = dict(
        id=policy_id,
        pattern=pattern,
        pattern_type="EMAIL",
        is_acceptable_sender=True,
        is_trusted_sender=False,
        is_exempt_recipient=False,
        verify_sender=True,
        is_regex=False,
        comments=None,
    )
    entry.update(fields)
    return entry


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"pattern": " "}, "pattern is required"),
        ({"pattern": "a" * 1025}, "longer than 1024 characters"),
        ({"pattern": SENDER, "pattern_type": "URL"}, "pattern_type must be one of"),
        ({"pattern": "(", "is_regex": True}, "not a valid regular expression"),
        ({"pattern": SENDER, "only_expired": True}, "only_expired applies to state: absent only"),
    ],
)
def test_a_declared_entry_is_checked_before_any_request(spec, message):
    with pytest.raises(ValidationError, match=message):
        Declared(ALLOW_POLICY, spec)


def test_a_pattern_named_twice_is_refused():
    with pytest.raises(ValidationError, match="names pattern 'a.example' twice"):
        declared_entries(TRUSTED_DOMAIN, {"domains": [{"pattern": "a.example"}, {"pattern": "a.example"}]})


def test_the_expiry_marker_round_trips_through_comments():
    declared = Declared(ALLOW_POLICY, {"pattern": SENDER, "ttl": "1d", "comments": "INC-1"})
    text, moment = split_comments(join_comments("INC-1", declared.expiry.moment))
    assert text == "INC-1" and moment == declared.expiry.moment.replace(microsecond=0)


def test_only_the_differing_fields_are_patched(api):
    api.get(BLOCKS, json=listing())
    api.get(POLICIES, json=listing(policy(verify_sender=False)))
    api.patch(POLICIES + "/p-1", json={"success": True, "errors": [], "messages": [], "result": policy()})

    declared = Declared(ALLOW_POLICY, {"pattern": SENDER, "verify_sender": True})
    results, diff = SettingsListRun(real_client(), ACCOUNT, ALLOW_POLICY).run([declared])

    assert [r["action"] for r in results] == ["updated"]
    assert json.loads(api.calls[2].request.body) == {"verify_sender": True}
    assert diff[0]["before"]["verify_sender"] is False and diff[0]["after"]["verify_sender"] is True


def test_several_changes_go_in_one_atomic_batch(api):
    api.get(BLOCKS, json=listing())
    api.get(POLICIES, json=listing(policy("old@supplier.example", "p-7")))
    api.post(
        POLICIES + "/batch",
        json={"success": True, "errors": [], "messages": [], "result": {"posts": [policy(SENDER, "p-8")]}},
    )
    declared = declared_entries(
        ALLOW_POLICY, {"policies": [{"pattern": SENDER}, {"pattern": "old@supplier.example", "state": "absent"}]}
    )

    results, dummy = SettingsListRun(real_client(), ACCOUNT, ALLOW_POLICY).run(declared)

    assert [(r["action"], r["id"]) for r in results] == [("created", "p-8"), ("deleted", "p-7")]
    body = json.loads(api.calls[2].request.body)
    assert body["deletes"] == [{"id": "p-7"}] and [p["pattern"] for p in body["posts"]] == [SENDER]


def test_a_lost_create_is_settled_by_reading_the_list_until_it_shows(api, tmp_path):
    clock = FakeClock()
    journal = WriteJournal(str(tmp_path), ACCOUNT)
    api.get(BLOCKS, json=listing())
    api.get(POLICIES, json=listing())
    api.post(POLICIES, body=requests.exceptions.ReadTimeout("read timed out"))
    api.get(POLICIES, json=listing())
    api.get(POLICIES, json=listing(policy(policy_id="p-3")))

    run = SettingsListRun(real_client(), ACCOUNT, ALLOW_POLICY, journal=journal, clock=clock, sleep=clock.sleep)
    results, dummy = run.run([Declared(ALLOW_POLICY, {"pattern": SENDER})])

    assert [(r["action"], r["id"]) for r in results] == [("created", "p-3")]
    assert clock.now == 1.0
    assert journal.unsettled("allow_policies") == {}


def test_a_change_an_earlier_run_left_in_flight_is_waited_for_before_planning(api, tmp_path):
    clock = FakeClock()
    journal = WriteJournal(str(tmp_path), ACCOUNT)
    journal.record("allow_policies", [Declared(ALLOW_POLICY, {"pattern": SENDER}).key], 120.0)
    api.get(POLICIES, json=listing())
    api.get(POLICIES, json=listing(policy()))
    api.get(BLOCKS, json=listing())
    api.get(POLICIES, json=listing(policy()))

    run = SettingsListRun(real_client(), ACCOUNT, ALLOW_POLICY, journal=journal, clock=clock, sleep=clock.sleep)
    results, dummy = run.run([Declared(ALLOW_POLICY, {"pattern": SENDER})])

    assert [r["action"] for r in results] == ["unchanged"]
    assert [c.request.method for c in api.calls] == ["GET", "GET", "GET", "GET"]
