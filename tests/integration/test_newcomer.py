# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 37: what a new user and independent checks hit in 1.2.0, each through a real ansible-playbook run against
the simulator, as the user ran it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import yaml

from conftest import COLLECTION_ROOT, PHISH_SENDER, ansible_env, moment, run_playbook
from test_phish_remediation import remediate

from tests.simulator import Message

CALLBACK_FAILURE = "Callback dispatch"


def _playbook(tmp_path, name, tasks):
    path = tmp_path / ("%s.yml" % name)
    path.write_text(yaml.safe_dump([{"name": name, "hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    return path


def _settings_tasks():
    allow = "mailsec.cloudflare.email_security_allow_policy"
    trusted = "mailsec.cloudflare.email_security_trusted_domain"
    blocked = "mailsec.cloudflare.email_security_blocked_sender"
    return [
        {"name": "One allow policy", allow: {"pattern": "one@partner.example"}},
        {
            "name": "Many allow policies",
            allow: {"policies": [{"pattern": "two@partner.example"}, {"pattern": "three@partner.example"}]},
        },
        {"name": "One trusted domain", trusted: {"pattern": "one-partner.example"}},
        {"name": "Many trusted domains", trusted: {"domains": [{"pattern": "a.example"}, {"pattern": "b.example"}]}},
        {"name": "One blocked sender", blocked: {"pattern": "bad@phish.example", "ttl": "30d"}},
        # The module's second EXAMPLE, verbatim.
        {
            "name": "Block every domain of the campaign in one batch request",
            blocked: {
                "senders": [{"pattern": "phish-campaign.example"}, {"pattern": "phish-campaign-billing.example"}],
                "pattern_type": "DOMAIN",
                "ttl": "30d",
            },
        },
        {
            "name": "Remove two allow policies",
            allow: {
                "policies": [{"pattern": "two@partner.example"}, {"pattern": "three@partner.example"}],
                "state": "absent",
            },
        },
    ]


def test_diff_of_every_settings_module_and_the_move_is_rendered_by_the_default_callback(sim, tmp_path):
    sent = moment(1)
    delivered = Message("DELIVERED0001-%s-1" % sent[:-1], "news@vendor.example", ["alice@corp.example"], "News", sent)
    delivered.mark_never_quarantined()
    sim.state.add_messages([delivered])
    message_id = delivered.id
    tasks = _settings_tasks() + [
        {
            "name": "Move one message to Junk Email",
            "mailsec.cloudflare.email_security_move": {"message_ids": [message_id], "destination": "JunkEmail"},
        }
    ]
    run = run_playbook(_playbook(tmp_path, "diffs", tasks), tmp_path, ansible_env(sim, tmp_path), {}, ["--diff"])

    assert run.returncode == 0, run.output
    assert CALLBACK_FAILURE not in run.output, run.output
    for header in (
        "allow policy one@partner.example (EMAIL)",
        "allow policy three@partner.example (EMAIL)",
        "trusted domain b.example",
        "blocked sender phish-campaign-billing.example (DOMAIN)",
    ):
        assert "+++ after: %s" % header in run.output, header
    assert '+    "pattern": "phish-campaign.example",' in run.output
    # The removal: the policy's fields before, none after.
    assert "--- before: allow policy two@partner.example (EMAIL)" in run.output
    assert '-    "pattern": "two@partner.example",' in run.output
    assert "-%s: Inbox" % message_id in run.output and "+%s: JunkEmail" % message_id in run.output


def test_diff_of_both_runbooks_is_rendered_by_the_default_callback(sim, tmp_path):
    quarantined = [m.id for m in sim.state.messages.values() if m.is_quarantined][:2]
    release = run_playbook(
        os.path.join(COLLECTION_ROOT, "playbooks", "release_messages.yml"),
        tmp_path,
        ansible_env(sim, tmp_path),
        {
            "message_ids": quarantined,
            "reason": "supplier invoices",
            "ticket": "INC-1",
            "allow": "sender",
            "report_dir": str(tmp_path / "release-reports"),
        },
        ["--diff"],
    )
    assert release.returncode == 0, release.output
    assert CALLBACK_FAILURE not in release.output, release.output
    assert "+++ after: allow policy" in release.output


def test_diff_of_the_phish_runbook_is_rendered_by_the_default_callback(campaign_sim, tmp_path):
    run = remediate(campaign_sim, tmp_path, "diff", options=["--diff"])

    assert run.returncode == 0, run.output
    assert CALLBACK_FAILURE not in run.output, run.output
    assert "+++ after: blocked sender %s (EMAIL)" % PHISH_SENDER in run.output
