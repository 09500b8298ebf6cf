# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""email_security_blocked_sender and its info module in real playbooks against the simulator."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from conftest import ansible_env, release_playbook, run_playbook

SENDER = "billing@phish-campaign.example"


def run_module(sim, tmp_path, module, module_args, name):
    playbook = release_playbook(tmp_path, module_args, name=name, module=module)
    return run_playbook(
        playbook, tmp_path, ansible_env(sim, tmp_path), {"result_file": str(tmp_path / (name + ".json"))}
    )


def test_a_sender_is_blocked_for_30_days_once_and_listed_with_its_expiry(sim, tmp_path):
    first = run_module(sim, tmp_path, "email_security_blocked_sender", {"pattern": SENDER, "ttl": "30d"}, "block1")
    again = run_module(sim, tmp_path, "email_security_blocked_sender", {"pattern": SENDER, "ttl": "30d"}, "block2")
    listed = run_module(sim, tmp_path, "email_security_blocked_sender_info", {"pattern": SENDER}, "info")

    assert first.returncode == 0, first.output
    assert first.result["results"][0]["action"] == "created"
    assert first.result["results"][0]["pattern_type"] == "EMAIL"
    expires = datetime.datetime.strptime(first.result["results"][0]["expires_at"], "%Y-%m-%dT%H:%M:%SZ")
    days = (expires.replace(tzinfo=datetime.timezone.utc) - datetime.datetime.now(datetime.timezone.utc)).days
    assert days in (29, 30)
    assert again.result["changed"] is False
    assert [e["pattern"] for e in listed.result["blocked_senders"]] == [SENDER]
    assert len(sim.state.ledger("settings_created")) == 1


def test_a_sender_that_is_allowed_cannot_be_blocked_and_nothing_changes(sim, tmp_path):
    allowed = run_module(sim, tmp_path, "email_security_allow_policy", {"pattern": SENDER}, "allow")
    blocked = run_module(sim, tmp_path, "email_security_blocked_sender", {"pattern": SENDER}, "block")

    assert allowed.returncode == 0, allowed.output
    assert blocked.result["failed"] is True
    assert "is an allow policy already" in blocked.result["msg"]
    assert "cannot be both" in blocked.result["msg"]
    writes = [r for r in sim.state.requests() if r["method"] != "GET"]
    assert [r["endpoint"] for r in writes] == ["settings_create"]
    assert list(sim.state.settings["block_senders"].entries) == []
