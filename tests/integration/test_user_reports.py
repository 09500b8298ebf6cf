# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Employees' reports as events (issue 43, item 1): ansible-rulebook runs the user-report source against the
simulator; each report is emitted once, across a restart, with the reported message found by its postfix id."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ast
import datetime
import glob
import os
import time

import pytest
from conftest import COLLECTION_ROOT, assert_within_contract, moment
from test_eda import Rulebook, wait_until

from tests.simulator import Message, Simulator, SimulatorState
from tests.simulator.reports import new_submission

PRINTER = os.path.join(COLLECTION_ROOT, "tests", "integration", "eda", "print_user_reports.yml")
CAMPAIGN = "payroll@c0ntoso-hr.example"


def _at(seconds_from_now):
    moment_ = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds_from_now)
    return moment_.strftime("%Y-%m-%dT%H:%M:%SZ")


def _report(submission_id, message, reporter, seconds_from_now, postfix=None):
    return new_submission(
        submission_id,
        _at(seconds_from_now),
        postfix or message.postfix_id,
        None,
        "MALICIOUS",
        message.subject if message else "deleted mail",
        kind="User",
        requested_by=reporter,
    )


@pytest.fixture
def reports_sim():
    """An account with no reports yet: they arrive on the schedule each test sets."""
    with Simulator(SimulatorState()) as running:
        yield running
    assert_within_contract(running.state)


def _reports(output):
    return [ast.literal_eval(line) for line in output.splitlines() if line.startswith("{") and "'report': {" in line]


def test_each_report_is_emitted_once_across_a_restart_with_its_message(reports_sim, tmp_path):
    state = reports_sim.state
    phish = Message(
        "PAYROLL0000001-%s-1" % moment(1)[:-1],
        CAMPAIGN,
        ["dave@corp.example"],
        "Payroll update",
        moment(1),
        "NONE",
        False,
    )
    phish.mark_never_quarantined()
    state.add_messages([phish])
    # Two reports already made, a third arriving while the source runs, a fourth naming mail Cloudflare no longer has.
    state.add_submissions(
        [
            _report("u1", phish, "dave@corp.example", -120),
            _report("u2", phish, "erin@corp.example", -60),
            _report("u3", phish, "frank@corp.example", 8),
            _report("u4", None, "grace@corp.example", -30, postfix="GONE0000000000"),
        ]
    )

    first = Rulebook(reports_sim, tmp_path, PRINTER, {}, "first")
    try:
        wait_until(lambda: "'u3'" in first.output_path.read_text(encoding="utf-8"), 90, first)
    finally:
        first_output = first.stop()
    late = _report("u5", phish, "heidi@corp.example", 6)
    state.add_submissions([late])
    again = Rulebook(reports_sim, tmp_path, PRINTER, {}, "again")
    try:
        wait_until(lambda: "'u5'" in again.output_path.read_text(encoding="utf-8"), 90, again)
        time.sleep(7)
    finally:
        again_output = again.stop()

    emitted = _reports(first_output) + _reports(again_output)
    assert sorted(e["report"]["submission_id"] for e in emitted) == ["u1", "u2", "u3", "u4", "u5"]
    assert [e["report"]["submission_id"] for e in _reports(again_output)] == ["u5"]
    by_id = {e["report"]["submission_id"]: e for e in emitted}
    assert by_id["u1"]["message_id"] == phish.id and by_id["u1"]["message"]["from"] == CAMPAIGN
    assert by_id["u1"]["reporter"] == "dave@corp.example"
    assert by_id["u4"]["message_id"] is None and "no message of postfix id GONE0000000000" in by_id["u4"]["unresolved"]
    checkpoints = glob.glob(str(tmp_path / "state" / "eda-user-reports-*.json"))
    assert checkpoints
    everything = first_output + again_output + "".join(open(p, encoding="utf-8").read() for p in checkpoints)
    assert state.api_token not in everything
