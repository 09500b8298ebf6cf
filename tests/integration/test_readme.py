# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a newcomer reads first says each thing once and names every module."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

import yaml

from conftest import COLLECTION_ROOT, ansible_env, moment, run_playbook


def _readme():
    with open(os.path.join(COLLECTION_ROOT, "README.md"), encoding="utf-8") as source:
        return source.read()


def test_the_promises_are_listed_once():
    text = _readme()
    # A heading, or a list introduced by "What you can rely on:", as the README had twice.
    assert len(re.findall(r"(?im)^(#+\s*what you can rely on\b|what you can rely on:)", text)) == 1


def test_the_documentation_section_names_every_module():
    text = _readme().split("## Documentation", 1)[1]
    modules = sorted(name[:-3] for name in os.listdir(os.path.join(COLLECTION_ROOT, "plugins", "modules")))
    assert [name for name in modules if "`%s`" % name not in text] == []


def test_installation_says_how_to_install_before_the_collection_is_published():
    text = _readme().split("## Installation", 1)[1].split("\n## ", 1)[0]
    assert "not published" in text and "git+https://" in text and ".tar.gz" in text


def test_the_quick_start_previews_in_check_mode_then_releases_what_it_previewed(sim, tmp_path):
    # Issue 37 item 9: it said "check mode first for a preview" above a task that released for real.
    block = _readme().split("## Quick start", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
    play = yaml.safe_load(block)
    tasks = play[0]["tasks"]
    assert tasks[0].get("check_mode") is True and "check_mode" not in tasks[1]
    playbook = tmp_path / "quick_start.yml"
    playbook.write_text(block)
    # The data's dates are the simulator's (an hour ago, and earlier); "since midnight" may be empty at 00:30 UTC.
    window = {"search": {"sender": "invoices@northwind-supplies.example", "start": moment(24 * 14)}}

    run = run_playbook(playbook, tmp_path, ansible_env(sim, tmp_path), window, ["-v"])

    assert run.returncode == 0, run.output
    northwind = sorted(m.id for m in sim.state.messages.values() if m.sender == "invoices@northwind-supplies.example")
    assert sorted(sim.state.deliveries()) == northwind
    assert "failed=0" in run.output and "ok=3" in run.output
