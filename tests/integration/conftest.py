# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Real ansible-playbook runs against the simulator, started and stopped by each test."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import yaml

from tests.postgres_server import PostgresServer
from tests.simulator import Message, Simulator, load_state

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS_PATH = os.path.dirname(os.path.dirname(os.path.dirname(COLLECTION_ROOT)))
SIMULATOR_DIR = os.path.join(COLLECTION_ROOT, "tests", "simulator")

BIN_DIR = os.path.dirname(sys.executable)


def assert_within_contract(state):
    """Every request the test sent and every answer the simulator served kept to the vendored contract.

    One departure is sent on purpose: a search that proves larger than a page asks for its next pages 10,000 records
    at a time, which Cloudflare's changelog announces and the contract does not allow; the simulator refuses it as
    the contract says, and the client takes the contract's 1,000 for the rest of its task (issue 38).
    """
    assert [v for v in state.ledger("contract_violation") if not is_page_size_probe(v)] == []
    assert state.ledger("response_violation") == []


def is_page_size_probe(violation):
    return violation["path"].endswith("/investigate") and violation["problems"] == [
        "query parameter per_page: 10000 is greater than the maximum of 1000"
    ]


@pytest.fixture
def sim():
    with Simulator(load_state(os.path.join(SIMULATOR_DIR, "seeds", "demo.json"))) as running:
        yield running
    assert_within_contract(running.state)


@pytest.fixture
def postgres():
    """A real PostgreSQL server of the test's own (tests/postgres_server.py), stopped when the test ends."""
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.close()


PHISH_SENDER = "billing@phish-campaign.example"
RECIPIENTS = ["alice@corp.example", "bob@corp.example"]


def moment(hours_ago):
    """A time that many hours ago, as the contract writes one."""
    then = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=hours_ago)
    return then.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def campaign_sim():
    """An API deployment whose mail includes a 5-message phish campaign delivered to two inboxes each."""
    state = load_state(os.path.join(SIMULATOR_DIR, "seeds", "demo.json"), deployment="api")
    campaign = []
    for n in range(5):
        sent = moment(1) if n else moment(1.5)
        message = Message(
            "PHISH%011d-%s-%d" % (n, sent[:-1], n), PHISH_SENDER, RECIPIENTS, "Invoice overdue", sent, "NONE", False
        )
        message.mark_never_quarantined()
        campaign.append(message)
    state.add_messages(campaign)
    with Simulator(state) as running:
        running.campaign = [m.id for m in campaign]
        yield running
    assert_within_contract(running.state)
    assert running.state.ledger("redundant_move") == []


class PlaybookRun:
    def __init__(self, process, result_path):
        self.returncode = process.returncode
        self.stdout = process.stdout
        self.stderr = process.stderr
        self.output = process.stdout + process.stderr
        self._result_path = result_path

    @property
    def result(self):
        with open(self._result_path, encoding="utf-8") as source:
            return json.load(source)


def ansible_env(sim=None, tmp_path=None, **overrides):
    """The environment of a playbook run: this collection, this interpreter, the simulator's connection."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDFLARE_")}
    env.update(
        ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_PATH,
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        ANSIBLE_HOST_KEY_CHECKING="0",
        PATH=BIN_DIR + os.pathsep + env.get("PATH", ""),
    )
    if tmp_path is not None:
        # The journal, the account lock and the shared request budget of each test are its own.
        env.update(
            ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"),
            ANSIBLE_HOME=str(tmp_path / "ansible-home"),
            MAILSEC_CLOUDFLARE_STATE_DIR=str(tmp_path / "state"),
        )
    if sim is not None:
        env.update(
            CLOUDFLARE_ACCOUNT_ID=sim.state.account_id,
            CLOUDFLARE_API_TOKEN=sim.state.api_token,
            CLOUDFLARE_BASE_URL=sim.base_url,
        )
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def playbook_command(playbook, tmp_path, extra_vars):
    """The ansible-playbook command of a local run on localhost, its extra vars written to a file."""
    vars_path = tmp_path / ("vars-%d.json" % len(list(tmp_path.glob("vars-*.json"))))
    vars_path.write_text(json.dumps(extra_vars))
    return [
        os.path.join(BIN_DIR, "ansible-playbook"),
        "-i",
        "localhost,",
        "-c",
        "local",
        "-e",
        "@%s" % vars_path,
        str(playbook),
    ]


def run_playbook(playbook, tmp_path, env, extra_vars=None, options=(), timeout=300):
    extra = dict(extra_vars or {})
    command = playbook_command(playbook, tmp_path, extra) + list(options)
    process = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    return PlaybookRun(process, extra.get("result_file"))


def run_playbook_acting_on(playbook, tmp_path, env, extra_vars, printed, act, timeout=300):
    """Run ansible-playbook as run_playbook does, calling ``act`` once as soon as a line it prints holds ``printed``."""
    extra = dict(extra_vars or {})
    process = subprocess.Popen(
        playbook_command(playbook, tmp_path, extra), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    out, err = [], []

    def watch_stdout():
        acted = False
        for line in process.stdout:
            out.append(line)
            if not acted and printed in line:
                acted = True
                act()

    readers = [threading.Thread(target=watch_stdout), threading.Thread(target=lambda: err.extend(process.stderr))]
    for reader in readers:
        reader.start()
    try:
        process.wait(timeout)
    finally:
        if process.poll() is None:
            process.kill()
        for reader in readers:
            reader.join()
    completed = subprocess.CompletedProcess(process.args, process.returncode, "".join(out), "".join(err))
    return PlaybookRun(completed, extra.get("result_file"))


def start_playbook(playbook, tmp_path, env, extra_vars=None):
    """Start ansible-playbook in a session of its own and return at once, for tests that kill it."""
    return subprocess.Popen(
        playbook_command(playbook, tmp_path, dict(extra_vars or {})),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


RUNNER_ENVIRONMENT = (
    "CLOUDFLARE_ACCOUNT_ID",
    "CLOUDFLARE_API_TOKEN",
    "CLOUDFLARE_BASE_URL",
    "ANSIBLE_COLLECTIONS_PATH",
    "ANSIBLE_PYTHON_INTERPRETER",
    "ANSIBLE_HOME",
    "ANSIBLE_LOCAL_TEMP",
    "MAILSEC_CLOUDFLARE_STATE_DIR",
)


def runner_envvars(env):
    """What AWX would inject into a job: the credential's variables and this test's Ansible settings."""
    envvars = {name: env[name] for name in RUNNER_ENVIRONMENT}
    envvars["PATH"] = BIN_DIR + os.pathsep + os.environ.get("PATH", "")
    return envvars


def release_playbook(
    tmp_path, module_args, check_mode=False, diff=False, name="release", module="email_security_release"
):
    """A one-task playbook around email_security_release (or another module) that saves what it registered."""
    task = {
        "name": "Run %s" % module,
        "mailsec.cloudflare.%s" % module: module_args,
        "register": "release",
        "ignore_errors": True,
        "check_mode": check_mode,
        "diff": diff,
    }
    save = {
        "name": "Save the registered result",
        "ansible.builtin.copy": {
            "content": "{{ release | to_nice_json }}",
            "dest": "{{ result_file }}",
            "mode": "0600",
        },
    }
    play = [{"name": "Release", "hosts": "localhost", "gather_facts": False, "tasks": [task, save]}]
    path = tmp_path / ("%s.yml" % name)
    path.write_text(yaml.safe_dump(play, sort_keys=False))
    return path


@pytest.fixture
def release(tmp_path, sim):
    """Run email_security_release once in a real playbook against the simulator; return the PlaybookRun."""
    counter = [0]

    def run(module_args, check_mode=False, diff=False, env_overrides=None, options=()):
        counter[0] += 1
        playbook = release_playbook(tmp_path, module_args, check_mode, diff, name="release%d" % counter[0])
        result_file = str(tmp_path / ("result%d.json" % counter[0]))
        env = ansible_env(sim, tmp_path, **(env_overrides or {}))
        return run_playbook(playbook, tmp_path, env, {"result_file": result_file}, options)

    return run


def _descendants(pid):
    """Every process below pid, found through /proc (Ansible starts modules in sessions of their own)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as source:
                    stat = source.read()
            except OSError:
                continue
            children.setdefault(int(stat[stat.rfind(")") + 2 :].split()[1]), []).append(int(entry))
    found, pending = [], [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def wait_for(condition, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def kill_while_a_release_is_in_flight(sim, process, delivered_at_least, kill_everything=True, hold=3.0):
    """SIGKILL a started playbook (and, if asked, every process under it) while the server holds a release.

    The release is held for ``hold`` seconds, or until the test calls sim.state.let_go().
    """
    assert wait_for(lambda: len(sim.state.deliveries()) >= delivered_at_least, 120)
    # The next release request is held by the server: the kill lands while it is in flight.
    sim.state.inject("slow_before", "release", count=1, delay=hold)
    assert wait_for(lambda: sim.state.faults[-1].remaining == 0, 10)
    for pid in [process.pid] + _descendants(process.pid) if kill_everything else [process.pid]:
        os.kill(pid, signal.SIGKILL)
    process.wait(10)
    process.stdout.close()
    process.stderr.close()
