# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The move benchmark (issue 28): messages found by one search moved by email_security_move, against the simulator
enforcing Cloudflare's real quota with latency.

- out of the inboxes: N delivered messages, never moved, moved to DeletedItems (a phish campaign that got through):
  each located from the search page alone;
- back to the Inbox: N messages an API deployment moved to Junk Email or Deleted Items (false positives): each
  located by its action log, one read each.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import datetime
import json
import os

MOVE_PLAY = """
- name: Move what a search finds
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Move every message the search matches
      mailsec.cloudflare.email_security_move:
        search:
          all_time: true
          detections_only: false
        destination: "{{ destination }}"
        fail_on_incomplete: false
      register: out

    - name: Save
      ansible.builtin.copy:
        content: "{{ {'statuses': out.results | map(attribute='status') | list} | to_json }}"
        dest: "{{ result_file }}"
        mode: "0600"
"""

# (name, label, the simulator's arguments for N messages, destination)
CASES = (
    ("out", "delivered, never moved, to DeletedItems (phish out of the inboxes)", "--clean", [], "DeletedItems"),
    (
        "back",
        "moved by an API deployment, back to the Inbox (false positives)",
        "--generate",
        ["--deployment", "api"],
        "Inbox",
    ),
)


def _check_moved_once(ledger, size, name):
    """RuntimeError unless the ledger shows each of ``size`` messages moved once, and none sent where it was."""
    moved = [e["id"] for e in ledger if e["event"] == "move"]
    redundant = sum(1 for e in ledger if e["event"] == "redundant_move")
    if len(moved) != size or len(set(moved)) != size or redundant:
        raise RuntimeError("%s moved %d distinct of %d, %d redundantly" % (name, len(set(moved)), size, redundant))


def move_run(bench, workdir, size, case, latency):
    """Move ``size`` messages found by one search; the ledger must show each moved once and none redundantly."""
    dummy, dummy, flag, extra, destination = {c[0]: c for c in CASES}[case]
    simulator = bench.SimulatorProcess(0, latency, cloudflare_quota=True, extra=[flag, str(size)] + extra)
    name = "move-%s-%d" % (case, size)
    result_file = os.path.join(workdir, name + ".json")
    variables = {"destination": destination, "result_file": result_file}
    log_path = os.path.join(workdir, name + ".log")
    try:
        command = bench.playbook(workdir, name, MOVE_PLAY, variables)
        seconds, peak = bench.measured(command, bench.ansible_env(simulator, workdir), log_path)
        ledger = simulator.ledger()
    finally:
        simulator.stop()
    _check_moved_once(ledger, size, name)
    with open(result_file, encoding="utf-8") as source:
        statuses = json.load(source)["statuses"]
    requests = [e for e in ledger if e["event"] == "request"]
    return {
        "seconds": seconds,
        "peak_mb": peak,
        "requests": len(requests),
        "move_requests": sum(1 for e in requests if e["endpoint"] == "move"),
        "lockouts": sum(1 for e in ledger if e["event"] == "lockout"),
        "moved": sum(1 for s in statuses if s == "moved"),
        "moved_once": size,
    }


RUNBOOK_MOVE_BACK_PLAY = """
- name: Move an API deployment's false positives back with the runbook
  hosts: localhost
  gather_facts: false
  roles:
    - role: mailsec.cloudflare.quarantine_release
      vars:
        quarantine_release_search:
          start: "{{ start }}"
          detections_only: false
        quarantine_release_move_back: true
        quarantine_release_reason: benchmark
        quarantine_release_ticket: BENCH-38
        quarantine_release_max_messages: 100000
        quarantine_release_confirm_over_limit: true
        quarantine_release_report_dir: "{{ report_dir }}"
"""


def runbook_move_back_run(bench, workdir, size, latency):
    """The runbook (quarantine_release with move_back) over ``size`` messages an API deployment moved, found by its
    search: the first run, then a run again; the ledger must show each moved once, none redundantly."""
    simulator = bench.SimulatorProcess(
        0, latency, cloudflare_quota=True, extra=["--generate", str(size), "--deployment", "api"]
    )
    name = "runbook-move-back-%d" % size
    start = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=29)).strftime("%Y-%m-%dT%H:%M:%SZ")
    variables = {"start": start, "report_dir": os.path.join(workdir, name + "-reports")}
    figures = []
    try:
        for run in ("first", "again"):
            before = len([e for e in simulator.ledger() if e["event"] == "request"])
            command = bench.playbook(workdir, "%s-%s" % (name, run), RUNBOOK_MOVE_BACK_PLAY, variables)
            seconds, dummy = bench.measured(
                command, bench.ansible_env(simulator, workdir), os.path.join(workdir, name + ".log")
            )
            ledger = simulator.ledger()
            requests = [e for e in ledger if e["event"] == "request"][before:]
            figures.append((seconds, len(requests), collections.Counter(e["endpoint"] for e in requests)))
    finally:
        simulator.stop()
    _check_moved_once(ledger, size, name)
    return {
        "seconds": figures[0][0],
        "requests": figures[0][1],
        "again_seconds": figures[1][0],
        "again_requests": figures[1][1],
        "by_endpoint": dict(figures[0][2]),
        "lockouts": sum(1 for e in ledger if e["event"] == "lockout"),
        "bulk_jobs": sum(1 for e in ledger if e["event"] == "bulk_job_created"),
        "moved_once": size,
    }


def measure_all(bench, workdir, options, latency):
    rows = []
    for case, sizes in (("out", options.move_sizes), ("back", options.move_back_sizes)):
        for size in sizes:
            figures = move_run(bench, workdir, size, case, latency)
            print("move N=%d %s: %s" % (size, case, json.dumps(figures)), flush=True)
            rows.append((size, case, figures))
    for size in options.runbook_move_back_sizes:
        figures = runbook_move_back_run(bench, workdir, size, latency)
        print("runbook move back N=%d: %s" % (size, json.dumps(figures)), flush=True)
        rows.append((size, "runbook", figures))
    return rows


def render_moves(rows, latency):
    labels = {c[0]: c[1] for c in CASES}
    lines = [
        "",
        "## Moves: N messages found by one search, moved by email_security_move",
        "",
        "Each run starts a simulator holding N messages (1 to 3 recipients each) that one search (`all_time`, "
        "`detections_only: false`) matches, enforcing Cloudflare's real quota (1200 requests per 5 minutes, a "
        "5-minute lockout past it); every request waits %.0f ms. The module runs with its defaults (batches of "
        "1000). The simulator's ledger proves each message was moved once and none was sent to the folder it was "
        "in." % (latency * 1000),
        "",
        "| N | messages | time | requests | of them moves | lockouts | moved (status) | moved once (ledger) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    runbook = [(size, measured) for size, case, measured in rows if case == "runbook"]
    rows = [row for row in rows if row[1] != "runbook"]
    for size, case, measured in rows:
        lines.append(
            "| %d | %s | %.1f s | %d | %d | %d | %d | %d |"
            % (
                size,
                labels[case],
                measured["seconds"],
                measured["requests"],
                measured["move_requests"],
                measured["lockouts"],
                measured["moved"],
                measured["moved_once"],
            )
        )
    if runbook:
        lines += [
            "",
            "### Back to the Inbox by the runbook, at outbreak scale",
            "",
            "`quarantine_release` with `quarantine_release_move_back: true` and a search over N messages an API "
            "deployment moved out of the Inbox, its other options at their defaults (`quarantine_release_move_back_"
            "bulk_threshold` 200): the release preview's search counts the delivered messages, and above the threshold "
            "the move back is one bulk MOVE job, none located. Then the same run again. Goal: at most 60 requests and "
            "180 s for 10,000.",
            "",
            "| N | time | requests | lockouts | bulk jobs | moved once (ledger) | run again: time | run again: requests |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for size, measured in runbook:
            lines.append(
                "| %d | %.1f s | %d | %d | %d | %d | %.1f s | %d |"
                % (
                    size,
                    measured["seconds"],
                    measured["requests"],
                    measured["lockouts"],
                    measured["bulk_jobs"],
                    measured["moved_once"],
                    measured["again_seconds"],
                    measured["again_requests"],
                )
            )
    return lines
