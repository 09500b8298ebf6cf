# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: email_security_release against the naive ways, and the outbreak paths, on the simulator with latency.

    make bench                      # N = 100, 1,000, 10,000; outbreaks of 1,000, 10,000, 100,000; 100 ms latency
    python tests/bench/bench.py --sizes 100 1000 --outbreak-sizes 1000 --latency 0.1 --markdown docs/performance.md

Each measurement starts a fresh simulator process (127.0.0.1, ephemeral port) and stops it.
Times are wall-clock seconds of the whole command; memory is the peak resident size of the
largest process of that command (Ansible's controller or the module).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import datetime
import json
import math
import os
import platform
import re
import subprocess
import sys
import tempfile
import time

import requests

import by_id
import move
import outbreak
import exit_cost
import state_cost

HERE = os.path.dirname(os.path.abspath(__file__))
COLLECTION_ROOT = os.path.dirname(os.path.dirname(HERE))
COLLECTIONS_PATH = os.path.dirname(os.path.dirname(os.path.dirname(COLLECTION_ROOT)))
BIN_DIR = os.path.dirname(sys.executable)
BATCH_SIZE = 100
CONCURRENCY = 4
URI_SAMPLE = 20

RELEASE_PLAY = """
- name: Release
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Release every id
      mailsec.cloudflare.email_security_release:
        message_ids: "{{{{ ids }}}}"
        only_quarantined: {precheck}
        batch_size: {batch_size}
        concurrency: {concurrency}
        rate_limit: {rate_limit}
        fail_on_incomplete: false
      check_mode: {check_mode}
"""

URI_PLAY = """
- name: Release with a loop of uri tasks
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Release one id per task
      ansible.builtin.uri:
        url: "{{ base_url }}/accounts/{{ account_id }}/email-security/investigate/release"
        method: POST
        body_format: json
        body:
          ids: ["{{ item }}"]
        headers:
          Authorization: "Bearer {{ token }}"
      loop: "{{ ids }}"
"""

# A real module round trip (AnsiballZ, a Python process for the module), doing nothing.
OVERHEAD_PLAY = """
- name: Fixed overhead
  hosts: localhost
  gather_facts: false
  tasks:
    - name: One module task that does nothing
      ansible.builtin.ping:
"""


class SimulatorProcess:
    """The simulator as its own process, so that its work never shares a GIL with what is measured."""

    def __init__(self, messages, latency, cloudflare_quota=False, extra=()):
        command = [
            sys.executable,
            "-m",
            "tests.simulator",
            # The bench measures the client; the tests check every answer against the contract.
            "--skip-answer-checks",
            "--port",
            "0",
            "--generate",
            str(messages),
            "--latency",
            str(latency),
        ]
        if cloudflare_quota:
            command += ["--cloudflare-quota", "1"]
        command += list(extra)
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=COLLECTION_ROOT)
        self.base_url = self.process.stdout.readline().split()[-1]
        self.origin = self.base_url.rsplit("/client/v4", 1)[0]

    def messages(self):
        return requests.get(self.origin + "/_sim/messages", timeout=120).json()

    def ids(self):
        return [m["id"] for m in self.messages()]

    def ledger(self):
        return requests.get(self.origin + "/_sim/ledger", timeout=60).json()

    def stop(self):
        self.process.terminate()
        self.process.wait(30)


def measured(command, env, log_path=os.devnull):
    """Run command with its output to log_path; return (seconds, peak RSS in MB of its largest process)."""
    probe = (
        "import resource, subprocess, sys, time; log = open(sys.argv[1], 'w'); started = time.monotonic(); "
        "code = subprocess.call(sys.argv[2:], stdout=log, stderr=log); "
        "print(time.monotonic() - started, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)"
    )
    output = subprocess.run(
        [sys.executable, "-c", probe, log_path] + command, env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    seconds, max_rss_kb, code = float(output[0]), int(output[1]), int(output[2])
    if code != 0:
        raise RuntimeError("%s exited %d; see %s" % (" ".join(command[:2]), code, log_path))
    return seconds, max_rss_kb / 1024.0


def ansible_env(simulator, workdir):
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_PATH,
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
        ANSIBLE_LOCAL_TEMP=os.path.join(workdir, "tmp"),
        ANSIBLE_HOME=os.path.join(workdir, "home"),
        # Each run stands for its own incident against a fresh simulator: its own request budget and journal,
        # not what the previous run on the same token left on this machine.
        MAILSEC_CLOUDFLARE_STATE_DIR=tempfile.mkdtemp(prefix="state-", dir=workdir),
    )
    if simulator is not None:
        env.update(
            CLOUDFLARE_ACCOUNT_ID="023e105f4ecef8ad9ca31a8372d0c353",
            CLOUDFLARE_API_TOKEN="sim-token-write-5f1c0d2e9a7b4c3d",
            CLOUDFLARE_BASE_URL=simulator.base_url,
        )
    return env


def playbook(workdir, name, text, variables):
    path = os.path.join(workdir, name + ".yml")
    with open(path, "w", encoding="utf-8") as out:
        out.write(text)
    vars_path = os.path.join(workdir, name + "-vars.json")
    with open(vars_path, "w", encoding="utf-8") as out:
        json.dump(variables, out)
    return [os.path.join(BIN_DIR, "ansible-playbook"), "-i", "localhost,", "-c", "local", "-e", "@" + vars_path, path]


def quota_run(simulator, workdir, name, text, variables, size):
    """Run a play against a simulator, then stop it; (its ledger, the run's figures) once the ledger shows each of
    ``size`` messages delivered exactly once."""
    log_path = os.path.join(workdir, name + ".log")
    try:
        seconds, peak = measured(playbook(workdir, name, text, variables), ansible_env(simulator, workdir), log_path)
        ledger = simulator.ledger()
    finally:
        simulator.stop()
    with open(log_path, encoding="utf-8") as log:
        pauses = re.findall(r"pausing ([0-9.]+) s to stay inside the rate limit", log.read())
    deliveries = [e["id"] for e in ledger if e["event"] == "delivery"]
    doubles = sum(1 for e in ledger if e["event"] == "double_delivery")
    if len(deliveries) != size or len(set(deliveries)) != size or doubles:
        raise RuntimeError("%s delivered %d distinct of %d, %d twice" % (name, len(set(deliveries)), size, doubles))
    return ledger, {
        "seconds": seconds,
        "peak_mb": peak,
        "requests": sum(1 for e in ledger if e["event"] == "request"),
        "lockouts": sum(1 for e in ledger if e["event"] == "lockout"),
        "pauses": len(pauses),
        "paused": sum(float(p) for p in pauses),
        "delivered_once": len(set(deliveries)),
    }


def fixed_overhead(workdir):
    return measured(playbook(workdir, "overhead", OVERHEAD_PLAY, {}), ansible_env(None, workdir))


def module_run(workdir, size, latency, precheck, rate_limit=1000, check_mode=False):
    """Release size ids with the module; in check mode with the pre-check off it sends nothing at all,
    which measures what Ansible itself spends on size ids in and size results out."""
    simulator = SimulatorProcess(size, latency)
    try:
        ids = simulator.ids()
        text = RELEASE_PLAY.format(
            precheck=str(precheck).lower(),
            batch_size=BATCH_SIZE,
            concurrency=CONCURRENCY,
            rate_limit=rate_limit,
            check_mode=str(check_mode).lower(),
        )
        log_path = os.path.join(workdir, "release-%d.log" % size)
        seconds, peak = measured(
            playbook(workdir, "release", text, {"ids": ids}), ansible_env(simulator, workdir), log_path
        )
        ledger = simulator.ledger()
    finally:
        simulator.stop()
    with open(log_path, encoding="utf-8") as log:
        paused = sum(float(s) for s in re.findall(r"pausing ([0-9.]+) s to stay inside the rate limit", log.read()))
    deliveries = [e for e in ledger if e["event"] == "delivery"]
    expected = 0 if check_mode else size
    if len(deliveries) != expected or len({e["id"] for e in deliveries}) != expected:
        raise RuntimeError("module run delivered %d messages, expected %d" % (len(deliveries), expected))
    return {
        "seconds": seconds,
        "peak_mb": peak,
        "requests": sum(1 for e in ledger if e["event"] == "request"),
        "lockouts": sum(1 for e in ledger if e["event"] == "lockout"),
        "paused": paused,
    }


def uri_loop_per_id(workdir, latency):
    simulator = SimulatorProcess(URI_SAMPLE, latency)
    try:
        variables = {
            "ids": simulator.ids(),
            "base_url": simulator.base_url,
            "account_id": "023e105f4ecef8ad9ca31a8372d0c353",
            "token": "sim-token-write-5f1c0d2e9a7b4c3d",
        }
        seconds, peak = measured(playbook(workdir, "uri", URI_PLAY, variables), ansible_env(None, workdir))
    finally:
        simulator.stop()
    return seconds / URI_SAMPLE, peak


def sequential_script(size, latency):
    """The plain way: one requests session, one batch after another."""
    simulator = SimulatorProcess(size, latency)
    try:
        ids = simulator.ids()
        url = "%s/accounts/023e105f4ecef8ad9ca31a8372d0c353/email-security/investigate/release" % simulator.base_url
        session = requests.Session()
        session.headers["Authorization"] = "Bearer sim-token-write-5f1c0d2e9a7b4c3d"
        started = time.monotonic()
        for start in range(0, size, BATCH_SIZE):
            session.post(url, json={"ids": ids[start : start + BATCH_SIZE]}, timeout=60).raise_for_status()
        seconds = time.monotonic() - started
    finally:
        simulator.stop()
    return seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[100, 1000, 10000])
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument(
        "--outbreak-sizes",
        type=int,
        nargs="*",
        default=[1000, 10000, 100000],
        help="outbreak sizes, each released by search-driven release and by a bulk job under Cloudflare's quota",
    )
    parser.add_argument(
        "--today-sizes",
        type=int,
        nargs="*",
        default=[1000, 10000, 100000],
        help="outbreak sizes also released by a search, then by ids with the pre-check (the way before the "
        "search-driven release)",
    )
    parser.add_argument(
        "--by-id-sizes",
        type=int,
        nargs="*",
        default=[1000, 10000, 100000],
        help="ids of one campaign released with the safe default under Cloudflare's quota",
    )
    parser.add_argument(
        "--spread-sizes",
        type=int,
        nargs="*",
        default=[1000],
        help="ids spread over 4 weeks released with the safe default under Cloudflare's quota",
    )
    parser.add_argument(
        "--page-size-sizes",
        type=int,
        nargs="*",
        default=[10000],
        help="outbreaks released by search against a server of 1,000-record pages and one of 10,000",
    )
    parser.add_argument(
        "--skew-sizes",
        type=int,
        nargs="*",
        default=[10000],
        help="ids of one campaign over 12 hours whose time is equal to, 1 and 2 hours behind, and 1 hour ahead of "
        "the dates the search filters on, released with the safe default under Cloudflare's quota",
    )
    parser.add_argument(
        "--runbook-sizes",
        type=int,
        nargs="*",
        default=[500],
        help="pasted ids released by the quarantine_release role under Cloudflare's quota (one campaign, and ids "
        "without a time)",
    )
    parser.add_argument(
        "--untimed-sizes",
        type=int,
        nargs="*",
        default=[1000],
        help="ids that carry no time (read one by one) released with the safe default under Cloudflare's quota",
    )
    parser.add_argument(
        "--move-sizes",
        type=int,
        nargs="*",
        default=[1000, 10000],
        help="delivered messages found by one search moved out of the inboxes under Cloudflare's quota",
    )
    parser.add_argument(
        "--move-back-sizes",
        type=int,
        nargs="*",
        default=[1000],
        help="messages an API deployment moved, found by one search and moved back to the Inbox (an action-log "
        "read each) under Cloudflare's quota",
    )
    parser.add_argument(
        "--runbook-move-back-sizes",
        type=int,
        nargs="*",
        default=[10000],
        help="messages an API deployment moved, found by the runbook's search and moved back by quarantine_release "
        "(move_back) under Cloudflare's quota, then the same run again",
    )
    parser.add_argument("--memory-size", type=int, default=100000, help="ids for the memory run (0 to skip)")
    parser.add_argument(
        "--no-state-cost",
        dest="state_cost",
        action="store_false",
        help="skip the state store's cost per request (local files against PostgreSQL)",
    )
    parser.add_argument(
        "--no-exit-cost",
        dest="exit_cost",
        action="store_false",
        help="skip measuring what handing 10,000 and 100,000 results back to Ansible costs",
    )
    parser.add_argument("--markdown", help="write the results to this Markdown file")
    options = parser.parse_args(argv)

    workdir = tempfile.mkdtemp(prefix="mailsec-bench-")
    latency = options.latency
    overhead, overhead_mb = fixed_overhead(workdir)
    uri_per_id, uri_mb = uri_loop_per_id(workdir, latency)
    print(
        "ansible fixed overhead: %.2f s (peak %.0f MB); uri loop: %.3f s per id (sample of %d)"
        % (overhead, overhead_mb, uri_per_id, URI_SAMPLE),
        flush=True,
    )

    rows = []
    for size in options.sizes:
        module = module_run(workdir, size, latency, precheck=False)
        ansible_cost = module_run(workdir, size, latency, precheck=False, check_mode=True)
        script = sequential_script(size, latency)
        api_time = math.ceil(size / float(BATCH_SIZE)) / CONCURRENCY * latency
        row = {
            "n": size,
            "module": module,
            "script": script,
            "uri": uri_per_id * size,
            "ideal": overhead + api_time,
            "ansible_cost": ansible_cost["seconds"],
            "ideal_with_data": ansible_cost["seconds"] + api_time,
        }
        rows.append(row)
        print(format_row(row), flush=True)

    memory = None
    if options.memory_size:
        baseline = module_run(workdir, options.memory_size, 0.0, precheck=False, check_mode=True)
        large = module_run(workdir, options.memory_size, 0.0, precheck=False)
        memory = (options.memory_size, baseline["peak_mb"], large["peak_mb"], large["seconds"], baseline["seconds"])
        print(
            "memory: %d ids released peak %.0f MB; Ansible's own for the same ids and results (check mode, no "
            "request) %.0f MB; difference %.0f MB (%.1f s against %.1f s, no latency)"
            % (memory[0], memory[2], memory[1], memory[2] - memory[1], memory[3], memory[4]),
            flush=True,
        )

    outbreaks = []
    for size in options.outbreak_sizes:
        for path, dummy, dummy in outbreak.PATHS:
            measured_run = None
            if path != "today" or size in options.today_sizes:
                measured_run = outbreak.outbreak_run(sys.modules[__name__], workdir, size, path, latency)
                print("outbreak N=%d %s: %s" % (size, path, json.dumps(measured_run)), flush=True)
            outbreaks.append((size, path, measured_run))

    page_rows = outbreak.measure_page_sizes(sys.modules[__name__], workdir, options.page_size_sizes, latency)
    by_id_rows = by_id.measure_all(sys.modules[__name__], workdir, options, latency)
    runbook_rows = by_id.measure_runbook(sys.modules[__name__], workdir, options, latency)
    move_rows = move.measure_all(sys.modules[__name__], workdir, options, latency)

    state_figures = state_cost.measure() if options.state_cost else None
    exit_figures = exit_cost.measure() if options.exit_cost else None
    if exit_figures:
        print("exit_json: %s" % json.dumps(exit_figures), flush=True)
    if state_figures:
        print("state store per write request: %s" % json.dumps(state_figures), flush=True)

    report = render(rows, overhead, overhead_mb, uri_per_id, latency, memory) + _other_tables(
        outbreaks, by_id_rows, runbook_rows, move_rows, state_figures, exit_figures, latency
    )
    if page_rows:
        report += "\n".join(outbreak.render_page_sizes(page_rows, latency)) + "\n"
    print()
    print(report)
    if options.markdown:
        with open(options.markdown, "w", encoding="utf-8") as out:
            out.write(report)
    return 0


def _other_tables(outbreaks, by_id_rows, runbook_rows, move_rows, state_figures, exit_figures, latency):
    """The report's tables after the first one, for the parts that were measured."""
    report = ""
    if outbreaks:
        report += "\n".join(outbreak.render_outbreak(outbreaks, latency)) + "\n"
    if by_id_rows:
        report += "\n".join(by_id.render_by_id(by_id_rows, latency)) + "\n"
    if runbook_rows:
        report += "\n".join(by_id.render_runbook(runbook_rows, latency)) + "\n"
    if move_rows:
        report += "\n".join(move.render_moves(move_rows, latency)) + "\n"
    if state_figures:
        report += "\n".join(state_cost.render(state_figures, latency)) + "\n"
    if exit_figures:
        report += "\n".join(exit_cost.render(exit_figures)) + "\n"
    return report


def format_row(row):
    text = (
        "N=%d: module %.2f s (%d requests, peak %.0f MB), target %.2f s (with Ansible's cost for N ids: %.2f s), "
        "sequential script %.2f s, uri loop %.0f s (scaled)"
        % (
            row["n"],
            row["module"]["seconds"],
            row["module"]["requests"],
            row["module"]["peak_mb"],
            1.3 * row["ideal"],
            1.3 * row["ideal_with_data"],
            row["script"],
            row["uri"],
        )
    )
    return text


def _verdict(ok):
    return "met" if ok else "missed"


def render(rows, overhead, overhead_mb, uri_per_id, latency, memory):
    lines = [
        "# Performance",
        "",
        "Measured by `make bench` (`tests/bench/bench.py`) on %s, %s, %d cores, Python %s, on %s UTC."
        % (
            platform.node() or "this machine",
            platform.platform(),
            os.cpu_count() or 0,
            platform.python_version(),
            datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        ),
        "",
        "Every run is against the bundled simulator in its own process, with %.0f ms added to every request, "
        "batch_size %d and concurrency %d. Times are wall-clock seconds of the whole `ansible-playbook` command "
        "(or script); the ledger confirms every message was delivered exactly once."
        % (latency * 1000, BATCH_SIZE, CONCURRENCY),
        "",
        "- Ansible's fixed overhead, a one-task playbook (`ansible.builtin.ping`): %.2f s, peak %.0f MB."
        % (overhead, overhead_mb),
        "- Ansible's cost for N ids: the same release task in check mode with the pre-check off, which sends no "
        "request but carries the same N ids in and N results out.",
        "- API time: ⌈N/%d⌉ batches / %d in parallel × latency." % (BATCH_SIZE, CONCURRENCY),
        "- A loop of `ansible.builtin.uri` tasks: %.3f s per id, timed on %d ids and scaled to N."
        % (uri_per_id, URI_SAMPLE),
        "",
        "## Release, pre-check off",
        "",
        "| N | module | requests | peak | 1.3 × (fixed overhead + API time) | Ansible's cost for N ids | "
        "1.3 × (Ansible's cost + API time) | uri loop | module vs uri | sequential script | module vs script |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        module = row["module"]
        seconds = module["seconds"]
        lines.append(
            "| %d | %.2f s | %d | %.0f MB | %.2f s (%s) | %.2f s | %.2f s (%s) | %.0f s | %.0f× faster | "
            "%.2f s | %s |"
            % (
                row["n"],
                seconds,
                module["requests"],
                module["peak_mb"],
                1.3 * row["ideal"],
                _verdict(seconds <= 1.3 * row["ideal"]),
                row["ansible_cost"],
                1.3 * row["ideal_with_data"],
                _verdict(seconds <= 1.3 * row["ideal_with_data"]),
                row["uri"],
                row["uri"] / seconds,
                row["script"],
                "%.1f× faster" % (row["script"] / seconds)
                if seconds < row["script"]
                else "%.1f× slower" % (seconds / row["script"]),
            )
        )
    if rows:
        largest = rows[-1]
        api_time = largest["ideal"] - overhead
        own = largest["module"]["seconds"] - largest["ansible_cost"] - api_time
        lines += [
            "",
            "Where the time goes at N=%d: %.2f s in all, of which Ansible's cost for the ids and results is %.2f s "
            "(%.2f s of it the fixed overhead), the API's latency %.2f s, and the release itself (HTTP, JSON, "
            "matching results) %.2f s."
            % (largest["n"], largest["module"]["seconds"], largest["ansible_cost"], overhead, api_time, own),
        ]
    if memory:
        size, baseline_mb, released_mb, seconds, baseline_seconds = memory
        lines += [
            "",
            "## Memory",
            "",
            "Releasing %d ids (no latency, pre-check off) peaked at %.0f MB in its largest process, in %.1f s. Ansible's "
            "own cost for the same ids in and results out (check mode, no request) peaked at %.0f MB, in %.1f s: the "
            "release itself added %.0f MB."
            % (size, released_mb, seconds, baseline_mb, baseline_seconds, released_mb - baseline_mb),
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
