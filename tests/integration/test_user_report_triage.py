# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The user-reported phish loop (issue 43): from an employee's report to a pulled campaign or a released message,
Cloudflare told, and the reporter answered once.

ansible-rulebook runs the controller rulebook against the simulator's user submissions and a stand-in controller,
which runs the triage job template's playbook for each launch, one job at a time as a job template without
concurrent jobs does; the reporters' answers go through a real SMTP server.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import datetime
import glob
import json
import os
import re
import subprocess
import socket
import threading
import time

import pytest
import requests

from conftest import COLLECTION_ROOT, ansible_env, assert_within_contract, playbook_command, run_playbook
from test_eda import Rulebook, controller_server, wait_until

from tests.notice_servers import SmtpServer
from tests.simulator import Simulator, SimulatorState
from tests.simulator.user_reports import CAMPAIGN_SENDER, PARTNER_DOMAIN, triage_scenario, user_report

PLAYBOOK = os.path.join(COLLECTION_ROOT, "playbooks", "user_report_triage.yml")
RULEBOOK = "mailsec.cloudflare.triage_user_reports_on_controller"
SMTP_PASSWORD = "smtp-Tr1age-5e0a"
CONTROLLER_TOKEN = "controller-token-9f8e7d6c5b4a"
TRIAGE_TEMPLATE = (9, "job_template", "Triage a user report")
APPROVAL_WORKFLOW = (10, "workflow_job_template", "Decide on a user report")
POLL_SECONDS = 5


class _QueuedJob:
    """A controller job of a template without concurrent jobs: it starts once the jobs launched before it ended."""

    def __init__(self, turn, command, env, log_path):
        self.returncode = None
        self.started = self.ended = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(turn, command, env, log_path), daemon=True)
        self._thread.start()

    def _run(self, turn, command, env, log_path):
        with turn, open(log_path, "w", encoding="utf-8") as log:
            self.started = time.time()
            self.returncode = subprocess.run(
                command, env=env, stdout=log, stderr=subprocess.STDOUT, check=False
            ).returncode
            self.ended = time.time()
        self._done.set()

    def poll(self):
        return self.returncode if self._done.is_set() else None

    def wait(self, timeout=None):
        if not self._done.wait(timeout):
            raise subprocess.TimeoutExpired("triage job", timeout)
        return self.returncode


def _job_env(sim, tmp_path, smtp):
    return ansible_env(
        sim,
        tmp_path,
        MAILSEC_SMTP_HOST="127.0.0.1",
        MAILSEC_SMTP_PORT=str(smtp.port),
        MAILSEC_SMTP_USERNAME="mailsec",
        MAILSEC_SMTP_PASSWORD=SMTP_PASSWORD,
        MAILSEC_EMAIL_FROM="security-desk@corp.example",
    )


# The triage job template's own variables, as set on the controller: the rules and where the records go.
def _template_vars(tmp_path):
    return {
        "trusted_domains": [PARTNER_DOMAIN],
        "report_dir": str(tmp_path / "reports"),
        "approval_workflow": APPROVAL_WORKFLOW[2],
    }


@pytest.fixture
def smtp():
    with SmtpServer(login=("mailsec", SMTP_PASSWORD)) as running:
        yield running


@pytest.fixture
def triage_sim():
    with Simulator(SimulatorState()) as running:
        yield running
    assert_within_contract(running.state)


@pytest.fixture
def controller(triage_sim, smtp, tmp_path):
    turn = threading.Lock()
    env = _job_env(triage_sim, tmp_path, smtp)

    def run_job(job, extra_vars):
        variables = dict(_template_vars(tmp_path), **extra_vars)
        command = playbook_command(PLAYBOOK, tmp_path, variables)
        return _QueuedJob(turn, command, env, tmp_path / ("job-%d.log" % job))

    with controller_server("/api/v2/", "", [TRIAGE_TEMPLATE, APPROVAL_WORKFLOW], run_job, 300) as server:
        env.update(CONTROLLER_HOST=server.url, CONTROLLER_OAUTH_TOKEN=CONTROLLER_TOKEN)
        yield server


def _letters(smtp):
    """{reporter: [(subject, body)]} of the mail the SMTP server accepted."""
    letters = {}
    for accepted in smtp.messages:
        letter = accepted["message"]
        for to in accepted["to"]:
            letters.setdefault(to, []).append((str(letter["Subject"]), letter.get_body(("plain",)).get_content()))
    return letters


def _record(tmp_path, submission_id):
    with open(tmp_path / "reports" / ("user-report-%s.json" % submission_id), encoding="utf-8") as source:
        return json.load(source)


def _triage_launches(controller):
    return [launch for launch in controller.launches if "ansible_eda" in launch.get("extra_vars", {})]


def test_reports_lead_to_one_remediation_no_action_and_one_message_back_each_reporter_answered_once(
    triage_sim, controller, smtp, tmp_path
):
    state = triage_sim.state
    now = datetime.datetime.now(datetime.timezone.utc)
    messages, reports = triage_scenario(now, first_report_after=4, spacing=3)
    # The newsletter's and the partner's reports come once the activation was restarted.
    for report, seconds in zip(reports[3:], (30, 33)):
        report["requested_at"] = (now + datetime.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
    state.add_messages(messages)
    state.add_submissions(reports)
    campaign = [m.id for m in messages if m.sender == CAMPAIGN_SENDER]
    newsletter, partner = messages[-2].id, messages[-1].id
    variables = {
        "triage_job_template": TRIAGE_TEMPLATE[2],
        "organization": "Default",
        "ticket": "CHG-2001",
        "poll_interval": POLL_SECONDS,
        "backlog": 0,
    }
    options = ["--controller-url", controller.url, "--controller-token", CONTROLLER_TOKEN]

    # The activation is restarted once the campaign's three reports were launched, while their jobs still run.
    first = Rulebook(triage_sim, tmp_path, RULEBOOK, variables, "first", options=options)
    try:
        wait_until(lambda: len(_triage_launches(controller)) >= 3, 120, first)
    finally:
        first_output = first.stop()
    again = Rulebook(triage_sim, tmp_path, RULEBOOK, variables, "again", options=options)
    try:
        wait_until(lambda: len(_triage_launches(controller)) >= 5, 120, again)
        time.sleep(2 * POLL_SECONDS + 1)
    finally:
        again_output = again.stop()
    for job in list(controller.runs.values()):
        job.wait(300)

    launched = [
        launch["extra_vars"]["ansible_eda"]["event"]["report"]["submission_id"]
        for launch in _triage_launches(controller)
    ]
    assert sorted(launched) == sorted(r["submission_id"] for r in reports), first_output + again_output
    logs = {job: (tmp_path / ("job-%d.log" % job)).read_text(encoding="utf-8") for job in controller.runs}
    assert all(run.returncode == 0 for run in controller.runs.values()), logs

    # The campaign's reports launched together: whichever job ran first removed it; the others found it removed.
    campaign_reports = ["report-dave", "report-erin", "report-frank"]
    moved_by = {sid: [run["moved"] for run in _record(tmp_path, sid)["runs"]] for sid in campaign_reports}
    first_report = next(sid for sid, moved in moved_by.items() if moved == [5])
    assert sorted(moved_by.values()) == [[0], [0], [5]], moved_by

    # That report's job launched again, as an activation that failed over without finding the first would.
    replay = requests.post(
        "http://127.0.0.1:%d/api/v2/job_templates/9/launch/" % controller.server_address[1],
        json=next(
            launch
            for launch in _triage_launches(controller)
            if launch["extra_vars"]["ansible_eda"]["event"]["report"]["submission_id"] == first_report
        ),
        timeout=10,
    )
    replayed = controller.runs[replay.json()["id"]]
    assert replayed.wait(300) == 0, (tmp_path / ("job-%d.log" % replay.json()["id"])).read_text(encoding="utf-8")
    assert [run["moved"] for run in _record(tmp_path, first_report)["runs"]] == [5, 0]

    # One remediation: every copy out of every inbox once, the sender blocked for 30 days, one escalation.
    assert state.moves() == dict.fromkeys(campaign, 1) | {partner: 1}
    for message_id in campaign:
        assert set(state.messages[message_id].folders.values()) == {"DeletedItems"}
    blocked = list(state.settings["block_senders"].entries.values())
    assert [e["pattern"] for e in blocked] == [CAMPAIGN_SENDER]
    expires = re.search(r"expires_at=(\S+?)\]", blocked[0]["comments"]).group(1)
    lasts = datetime.datetime.strptime(expires, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc) - now
    assert datetime.timedelta(days=30) <= lasts <= datetime.timedelta(days=30, minutes=10), blocked[0]["comments"]
    assert state.escalations() == {first_report: 1}
    submissions = state.ledger("submission")
    assert sorted(e["id"] for e in submissions) == sorted(campaign)
    # The newsletter: nothing done. The partner's invoice: back in the Inbox, once.
    assert newsletter not in state.moves() and state.messages[newsletter].folders == {"ivan@corp.example": "Inbox"}
    assert state.messages[partner].folders == {"judy@corp.example": "Inbox"}
    assert state.deliveries() == {} and state.double_deliveries() == []

    decisions = {r["submission_id"]: _record(tmp_path, r["submission_id"])["decision"] for r in reports}
    assert decisions == {
        "report-dave": "malicious",
        "report-erin": "malicious",
        "report-frank": "malicious",
        "report-ivan": "false_alarm",
        "report-judy": "false_alarm",
    }

    # Each of the five reporters got exactly one e-mail, saying what was done.
    letters = _letters(smtp)
    assert sorted(letters) == sorted(
        ["dave@corp.example", "erin@corp.example", "frank@corp.example", "ivan@corp.example", "judy@corp.example"]
    )
    assert all(len(told) == 1 for told in letters.values()), letters
    for reporter in ("dave@corp.example", "erin@corp.example", "frank@corp.example"):
        subject, body = letters[reporter][0]
        assert subject == "Your report of a suspicious message: it was phishing and has been removed"
        assert "payroll@c0ntoso-hr[.]example" in body and "moved to DeletedItems" in body
    subject, body = letters["ivan@corp.example"][0]
    assert subject == "Your report of a suspicious message: it is safe"
    assert "Cloudflare judged it BULK and its sender passed DMARC. Nothing needed to be done." in body
    subject, body = letters["judy@corp.example"][0]
    assert subject == "Your report of a suspicious message: it is safe and back in your Inbox"
    assert "its sender's domain northwind-supplies[.]example is trusted" in body

    everything = first_output + again_output + "".join(logs.values())
    assert state.api_token not in everything and SMTP_PASSWORD not in everything and CONTROLLER_TOKEN not in everything


def _triage(sim, tmp_path, smtp, controller, name, report, message_id, options=(), **extra):
    """One triage job run by hand (or by an approval workflow's node): its run, and the requests it sent."""
    env = _job_env(sim, tmp_path, smtp)
    env.update(CONTROLLER_HOST=controller.url, CONTROLLER_OAUTH_TOKEN=CONTROLLER_TOKEN)
    variables = dict(_template_vars(tmp_path), report=report, message_id=message_id, ticket="CHG-2001")
    variables.update(extra)
    (tmp_path / name).mkdir()
    before = len(sim.state.requests())
    run = run_playbook(PLAYBOOK, tmp_path / name, env, variables, options)
    assert run.returncode == 0, run.output
    return run, sim.state.requests()[before:]


def test_each_report_once_its_cost_and_a_person_deciding_what_no_rule_does(triage_sim, controller, smtp, tmp_path):
    state = triage_sim.state
    now = datetime.datetime.now(datetime.timezone.utc)
    messages, reports = triage_scenario(now, first_report_after=-60, spacing=1)
    # Mail no rule decides: quarantined as spam from a stranger, reported as not phish.
    stranger = messages[-1].__class__(
        "STRANGER00000001-%s-0001" % (now - datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"),
        "offers@unknown-shop.example",
        ["kim@corp.example"],
        "Your order confirmation",
        (now - datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "SPAM",
    )
    kim = user_report(
        "report-kim",
        (now - datetime.timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "kim@corp.example",
        stranger,
        requested="NONE",
    )
    state.add_messages(messages + [stranger])
    state.add_submissions(reports + [kim])
    message_of = {r["submission_id"]: m.id for r, m in zip(reports, messages[:3] + messages[-2:])}
    message_of["report-kim"] = stranger.id

    # A preview (the job run as "Check") reads and decides, and changes, writes and sends nothing.
    preview, dummy = _triage(
        triage_sim, tmp_path, smtp, controller, "check", reports[0], message_of["report-dave"], options=["--check"]
    )
    assert state.moves() == {} and state.ledger("submission") == [] and smtp.messages == []
    assert not (tmp_path / "reports" / "user-report-report-dave.json").exists()
    assert not (tmp_path / "reports" / "user-report-report-dave.evidence").exists()
    previewed = glob.glob(str(tmp_path / "reports" / "user-report-report-dave.runbooks" / "phish-remediation-*.json"))
    with open(previewed[0], encoding="utf-8") as source:
        assert [r["status"] for r in json.load(source)["results"]] == ["would_move"] * 5

    costs = {}
    for report in reports:
        dummy, sent = _triage(
            triage_sim, tmp_path, smtp, controller, report["submission_id"], report, message_of[report["submission_id"]]
        )
        costs[report["submission_id"]] = sent
    print("requests per report:", {sid: len(sent) for sid, sent in costs.items()})
    print(
        "by endpoint:",
        {sid: collections.Counter("%s %s" % (r["method"], r["endpoint"]) for r in sent) for sid, sent in costs.items()},
    )
    writes = {sid: sorted(r["endpoint"] for r in sent if r["method"] != "GET") for sid, sent in costs.items()}
    print("writes per report:", writes)
    # Removing the campaign costs its first report; the other reports of it only read their message and the search.
    assert writes["report-dave"] == ["move", "settings_create", "submit"]
    assert writes["report-erin"] == writes["report-frank"] == writes["report-ivan"] == []
    assert len(costs["report-erin"]) == len(costs["report-frank"]) == 5 and len(costs["report-ivan"]) == 4
    assert writes["report-judy"] == ["move"]
    assert state.escalations() == {"report-dave": 1}

    # No rule decides the stranger's mail: the approval workflow is launched, once, with the evidence.
    asked, dummy = _triage(triage_sim, tmp_path, smtp, controller, "kim", kim, stranger.id)
    again, dummy = _triage(triage_sim, tmp_path, smtp, controller, "kim-again", kim, stranger.id)
    workflow_launches = [s for s in controller.seen if s[0] == "POST" and "workflow_job_templates/10/launch/" in s[1]]
    assert len(workflow_launches) == 1 and workflow_launches[0][2] == "Bearer " + CONTROLLER_TOKEN
    launched = [x for x in controller.launches if "user_report_triage" in x.get("extra_vars", {})][0]["extra_vars"]
    assert launched["report"]["submission_id"] == "report-kim" and launched["message_id"] == stranger.id
    assert launched["user_report_triage"]["decision"] == "needs_person"
    assert launched["user_report_triage"]["why"] == "Cloudflare judged it SPAM and no rule decides it"
    assert launched["user_report_triage"]["evidence"][0].startswith(
        stranger.id + " | offers@unknown-shop.example | SPAM"
    )
    record = _record(tmp_path, "report-kim")
    assert record["decision"] == "needs_person" and record["approval"]["status"] == "launched"
    assert "kim@corp.example" not in _letters(smtp)

    # The person finds it safe: the workflow's node runs the triage with that decision, and the mail is released.
    decided, sent = _triage(
        triage_sim, tmp_path, smtp, controller, "kim-decided", kim, stranger.id, decision="false_alarm"
    )
    costs["report-kim (after approval)"] = sent
    assert state.deliveries() == {stranger.id: 1}
    # Launched again by hand with another decision, under another standing change, the person's first decision
    # stands and nobody is answered twice.
    late, dummy = _triage(
        triage_sim, tmp_path, smtp, controller, "kim-late", kim, stranger.id, decision="malicious", ticket="CHG-2002"
    )
    assert state.deliveries() == {stranger.id: 1} and stranger.id not in state.moves()
    record = _record(tmp_path, "report-kim")
    assert (record["decision"], record["decided_by"], record["put_back"]) == ("false_alarm", "person", True)
    letters = _letters(smtp)
    assert [subject for subject, dummy in letters["kim@corp.example"]] == [
        "Your report of a suspicious message: it is safe and back in your Inbox"
    ]
    assert (
        "It is safe: the security team checked it. Cloudflare Email Security had held it"
        in letters["kim@corp.example"][0][1]
    )
    assert all(len(told) == 1 for told in letters.values()) and len(letters) == 6
    everything = "".join(run.output for run in (preview, asked, again, decided, late))
    assert state.api_token not in everything and SMTP_PASSWORD not in everything and CONTROLLER_TOKEN not in everything


def test_a_person_not_asked_fails_the_run_once_recorded_and_a_report_without_its_message_waits(
    triage_sim, smtp, tmp_path
):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    env = _job_env(triage_sim, tmp_path, smtp)
    env.update(CONTROLLER_HOST="http://127.0.0.1:%d" % port, CONTROLLER_OAUTH_TOKEN=CONTROLLER_TOKEN)
    report = user_report("report-lee", "2026-12-07T09:00:00Z", "lee@corp.example", postfix="GONE000000000001")
    report["unresolved"] = "Cloudflare holds no message of postfix id GONE000000000001"
    variables = dict(_template_vars(tmp_path), report=report, message_id="", ticket="CHG-2001")

    run = run_playbook(PLAYBOOK, tmp_path, env, variables)

    assert run.returncode == 2, run.output
    assert "the approval workflow was not launched: the controller could not be reached" in run.output
    record = _record(tmp_path, "report-lee")
    assert record["decision"] == "needs_person" and record["approval"]["status"] == "failed"
    assert record["why"] == "the reported message was not found (%s)" % report["unresolved"]
    assert triage_sim.state.requests() == [] and smtp.messages == []
    assert CONTROLLER_TOKEN not in run.output and triage_sim.state.api_token not in run.output
