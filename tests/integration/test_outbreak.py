# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 15, outbreak scale in real playbooks: search-driven release, bulk jobs, the role's paths, many accounts."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os
import re
import subprocess

import pytest
import yaml

from conftest import (
    BIN_DIR,
    COLLECTION_ROOT,
    ansible_env,
    assert_within_contract,
    kill_while_a_release_is_in_flight,
    release_playbook,
    run_playbook,
    start_playbook,
    wait_for,
)
from tests.simulator import Simulator, SimulatorState, generate_messages

SENDER = "billing@vendor.example"


def days_ago(days):
    moment = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=days)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


SEARCH = {"sender": SENDER, "start": days_ago(29)}
PROGRESS = re.compile(r": ([0-9,]+) of [0-9,]+ message deliveries processed")


@pytest.fixture
def outbreak():
    """An account where a rule quarantined 400 messages; 100 of them come from the partner the search names."""
    with Simulator(SimulatorState(generate_messages(400, seed=15))) as running:
        running.state.configure({"bulk_discovery_seconds": 0.2, "bulk_rate": 400})
        yield running
    assert_within_contract(running.state)


def from_sender(sim):
    return sorted(m.id for m in sim.state.messages.values() if m.sender == SENDER)


def assert_each_delivered_once(sim, ids):
    assert sim.state.double_deliveries() == []
    assert sim.state.deliveries() == dict.fromkeys(ids, 1)


def module_playbook(tmp_path, module, args, name, check_mode=False, diff=False):
    task = {"name": "Run", module: args, "register": "out", "ignore_errors": True, "check_mode": check_mode}
    task["diff"] = diff
    save = {
        "name": "Save",
        "ansible.builtin.copy": {"content": "{{ out | to_nice_json }}", "dest": "{{ result_file }}"},
    }
    play = [{"name": name, "hosts": "localhost", "gather_facts": False, "tasks": [task, save]}]
    path = tmp_path / ("%s.yml" % name)
    path.write_text(yaml.safe_dump(play, sort_keys=False))
    return path


def run_module(sim, tmp_path, module, args, name, check_mode=False, diff=False):
    playbook = module_playbook(tmp_path, module, args, name, check_mode, diff)
    run = run_playbook(
        playbook, tmp_path, ansible_env(sim, tmp_path), {"result_file": str(tmp_path / (name + ".json"))}
    )
    assert "Traceback" not in run.output, run.output
    return run


# Search-driven release ---------------------------------------------------------------------------------------


def test_search_driven_release_sends_pages_plus_batches_and_a_preview_names_exactly_what_is_released(
    outbreak, tmp_path
):
    release = "mailsec.cloudflare.email_security_release"
    args = {"search": SEARCH, "batch_size": 40}

    preview = run_module(outbreak, tmp_path, release, args, "preview", check_mode=True).result
    assert outbreak.state.requests(method="POST") == []
    first = run_module(outbreak, tmp_path, release, args, "first").result
    requests_first = len(outbreak.state.requests())
    second = run_module(outbreak, tmp_path, release, args, "second").result

    ids = from_sender(outbreak)
    assert sorted(r["id"] for r in preview["results"] if r["status"] == "would_release") == ids
    assert sorted(first["released_ids"]) == ids
    assert_each_delivered_once(outbreak, ids)
    # One search page of 100 (1 request in check mode, 1 in the run), then 3 batches of at most 40.
    assert first["search"] == {"pages": 1, "found": 100, "quarantined": 100, "skipped_items": 0}
    assert first["summary"]["requests_sent"] == 1 + 3 and requests_first == 1 + 1 + 3
    assert first["changed"] is True
    assert second["changed"] is False and second["summary"]["already_released"] == 100
    assert len(outbreak.state.requests(method="POST")) == 3


def test_a_lost_release_answer_mid_run_is_settled_by_searching_not_by_resending(outbreak, tmp_path):
    outbreak.state.inject("drop_after", endpoint="release", count=1)

    run = run_module(
        outbreak,
        tmp_path,
        "mailsec.cloudflare.email_security_release",
        {"search": SEARCH, "batch_size": 40, "concurrency": 1, "fail_on_incomplete": False},
        "lost",
    )

    result = run.result
    ids = from_sender(outbreak)
    assert_each_delivered_once(outbreak, ids)
    statuses = [r["status"] for r in result["results"]]
    assert statuses.count("released_unconfirmed") == 40 and statuses.count("released") == 60
    # The 40 ids of the lost answer were read back by one more search page, not by 40 GETs.
    searches = [r for r in outbreak.state.requests(method="GET") if r["endpoint"] == "search"]
    assert len(searches) == 2 and outbreak.state.requests(endpoint="get") == []
    assert "Reading its 40 message(s) back" in " ".join(run.output.split())


def test_a_search_driven_release_killed_mid_flight_can_be_run_again(outbreak, tmp_path):
    outbreak.state.configure({"latency": 0.05})
    args = {"search": SEARCH, "batch_size": 5, "concurrency": 1, "settle_timeout": 15, "fail_on_incomplete": False}
    env = ansible_env(outbreak, tmp_path)
    first = start_playbook(release_playbook(tmp_path, args, name="first"), tmp_path, env)
    kill_while_a_release_is_in_flight(outbreak, first, delivered_at_least=10)

    second = run_playbook(
        release_playbook(tmp_path, args, name="second"), tmp_path, env, {"result_file": str(tmp_path / "second.json")}
    )

    assert second.returncode == 0, second.output
    wait_for(lambda: len(outbreak.state.deliveries()) == 100, 5)
    assert "in flight when an earlier run stopped" in second.output
    assert_each_delivered_once(outbreak, from_sender(outbreak))


# Bulk jobs ---------------------------------------------------------------------------------------------------


BULK = "mailsec.cloudflare.email_security_bulk_release"


def test_a_bulk_job_is_created_once_waited_for_and_adopted_on_a_rerun(outbreak, tmp_path):
    args = {"search": SEARCH, "ticket": "INC-15", "poll_interval": 1, "message_results": "all"}

    preview = run_module(outbreak, tmp_path, BULK, args, "preview", check_mode=True, diff=True).result
    first = run_module(outbreak, tmp_path, BULK, args, "first").result
    second = run_module(outbreak, tmp_path, BULK, args, "second").result

    assert preview["would_release"] == 100 and preview["job"] is None and preview["changed"] is True
    ids = from_sender(outbreak)
    assert_each_delivered_once(outbreak, ids)
    assert first["created"] is True and first["summary"]["status"] == "COMPLETED"
    assert sorted(r["id"] for r in first["results"]) == ids
    assert {r["status"] for r in first["results"]} == {"released"}
    # A row per recipient: the counters count rows.
    recipients = sum(len(outbreak.state.messages[i].recipients) for i in ids)
    assert first["summary"]["discovered"] == first["summary"]["successful"] == recipients
    assert second["changed"] is False and second["adopted"] is True and second["job_id"] == first["job_id"]
    assert len(outbreak.state.ledger("bulk_job_created")) == 1


def test_a_bulk_job_of_100000_messages_shows_its_progress_while_it_is_waited_for(tmp_path):
    with Simulator(SimulatorState(generate_messages(100000, seed=26))) as sim:
        # About 200,000 rows (a message per recipient) at 25,000 a second: some 8 s of processing, polled each second.
        sim.state.configure({"bulk_discovery_seconds": 1, "bulk_rate": 25000})
        run = run_module(sim, tmp_path, BULK, {"search": {"start": days_ago(29)}, "poll_interval": 1}, "progress")
        token = sim.state.api_token

    assert run.returncode == 0, run.output
    result = run.result
    total = result["summary"]["discovered"]
    assert result["summary"]["status"] == "COMPLETED" and total > 100000
    lines = run.stdout.splitlines()
    task_ended = next(n for n, line in enumerate(lines) if line.startswith("changed: [localhost]"))
    progress = [
        (n, line) for n, line in enumerate(lines) if line.startswith("[localhost] bulk job %s" % result["job_id"])
    ]
    # Printed while the module waited, at default verbosity, before the task's own result.
    assert progress and all(n < task_ended for n, dummy in progress), run.stdout
    processed = [int(m.group(1).replace(",", "")) for dummy, line in progress for m in [PROGRESS.search(line)] if m]
    # A line while the job was processing, then the end; lines in between come every 10 s at most.
    assert any(number < total for number in processed), run.stdout
    assert processed == sorted(processed) and processed[-1] == total, run.stdout
    assert progress[-1][1].endswith(
        "COMPLETED: {0:,} of {0:,} message deliveries processed (100 %): {0:,} released, 0 failed, 0 skipped, "
        "0 cancelled".format(total)
    )
    assert token not in run.output


def test_a_lost_create_answer_is_adopted_not_created_twice(outbreak, tmp_path):
    outbreak.state.inject("drop_after", endpoint="bulk_create", count=1)

    run = run_module(outbreak, tmp_path, BULK, {"search": SEARCH, "poll_interval": 1}, "lost")

    result = run.result
    assert len(outbreak.state.ledger("bulk_job_created")) == 1
    assert result["adopted"] is True and result["summary"]["status"] == "COMPLETED"
    assert_each_delivered_once(outbreak, from_sender(outbreak))
    assert "adopted it" in " ".join(run.output.split())


def test_a_job_still_running_at_wait_timeout_is_cancelled(outbreak, tmp_path):
    outbreak.state.configure({"bulk_rate": 20})
    args = {"search": SEARCH, "poll_interval": 1, "wait_timeout": 3, "cancel_on_timeout": True}

    result = run_module(outbreak, tmp_path, BULK, args, "cancel").result

    assert result["failed"] is True and result["summary"]["status"] == "CANCELLED"
    assert result["summary"]["cancelled"] > 0 and result["summary"]["successful"] > 0
    cancelled = [r for r in result["results"] if r["status"] == "not_released"]
    assert cancelled and all("CANCELLED" in r["detail"] for r in cancelled)
    assert outbreak.state.double_deliveries() == []


def test_a_failed_job_fails_the_task_and_names_each_message_it_did_not_release(outbreak, tmp_path):
    outbreak.state.configure({"bulk_fail_after": 10})

    result = run_module(outbreak, tmp_path, BULK, {"search": SEARCH, "poll_interval": 1}, "failed").result

    assert result["failed"] is True and "is FAILED" in result["msg"]
    delivered = set(outbreak.state.deliveries())
    assert len(delivered) == 10
    assert result["summary"]["successful"] == sum(len(outbreak.state.messages[i].recipients) for i in delivered)
    # Every message the job did not release is named, each once; none of them was delivered.
    not_released = {r["id"] for r in result["results"] if r["status"] == "not_released"}
    assert not_released == set(from_sender(outbreak)) - delivered
    assert sorted(result["incomplete_ids"]) == sorted(set(result["incomplete_ids"]))


# The role's paths ---------------------------------------------------------------------------------------------


ROLE_PLAY = """
- name: Release by a search
  hosts: localhost
  gather_facts: false
  roles:
    - role: mailsec.cloudflare.quarantine_release
      vars:
        quarantine_release_search: "{{ search }}"
        quarantine_release_reason: false positive
        quarantine_release_ticket: INC-15
        quarantine_release_max_messages: 500
        quarantine_release_bulk_threshold: "{{ threshold }}"
        quarantine_release_report_dir: "{{ report_dir }}"
"""


@pytest.mark.parametrize("threshold, path", [(1000, "search"), (50, "bulk")])
def test_the_role_takes_the_search_path_or_a_bulk_job_above_the_threshold(outbreak, tmp_path, threshold, path):
    playbook = tmp_path / "role.yml"
    playbook.write_text(ROLE_PLAY)
    report_dir = tmp_path / "reports"

    run = run_playbook(
        playbook,
        tmp_path,
        ansible_env(outbreak, tmp_path),
        {"search": SEARCH, "threshold": threshold, "report_dir": str(report_dir)},
    )

    assert run.returncode == 0, run.output
    ids = from_sender(outbreak)
    assert_each_delivered_once(outbreak, ids)
    report = json.loads(next(report_dir.glob("*.json")).read_text())
    assert report["path"] == path and sorted(report["released_ids"]) == ids
    markdown = next(report_dir.glob("*.md")).read_text()
    assert outbreak.state.api_token not in run.output + markdown + json.dumps(report)
    if path == "bulk":
        assert report["bulk_job"]["status"] == "COMPLETED"
        assert "| Bulk job | %s (COMPLETED) |" % report["bulk_job"]["job_id"] in markdown
        assert outbreak.state.requests(endpoint="release") == []
    else:
        assert report["bulk_job"] == {} and outbreak.state.ledger("bulk_job_created") == []
        # No GET per message anywhere: the preview and the release read search pages.
        assert outbreak.state.requests(endpoint="get") == []


def test_the_role_in_check_mode_on_the_bulk_path_reports_every_message_and_creates_no_job(outbreak, tmp_path):
    playbook = tmp_path / "role.yml"
    playbook.write_text(ROLE_PLAY)
    report_dir = tmp_path / "reports"

    run = run_playbook(
        playbook,
        tmp_path,
        ansible_env(outbreak, tmp_path),
        {"search": SEARCH, "threshold": 50, "report_dir": str(report_dir)},
        options=["--check"],
    )

    assert run.returncode == 0, run.output
    report = json.loads(next(report_dir.glob("*.json")).read_text())
    assert report["path"] == "bulk" and report["bulk_job"] == {}
    assert sorted(r["id"] for r in report["results"] if r["status"] == "would_release") == from_sender(outbreak)
    assert outbreak.state.ledger("bulk_job_created") == [] and outbreak.state.deliveries() == {}


# Many accounts ------------------------------------------------------------------------------------------------


ACCOUNTS = ("0a1b2c3d4e5f60718293a4b5c6d7e8f9", "1b2c3d4e5f60718293a4b5c6d7e8f90a", "2c3d4e5f60718293a4b5c6d7e8f90a1b")


def test_one_release_across_three_accounts_in_parallel(tmp_path):
    sims = []
    try:
        for number, account_id in enumerate(ACCOUNTS):
            state = SimulatorState(
                generate_messages(60 + 20 * number, seed=number),
                account_id=account_id,
                api_token="sim-token-account-%d-%s" % (number, "x" * 24),
            )
            sims.append(Simulator(state).start())
        inventory = {
            "cloudflare_accounts": {
                "hosts": {
                    "account-%d" % number: {
                        "ansible_connection": "local",
                        "cloudflare_account_id": sim.state.account_id,
                        "cloudflare_api_token": sim.state.api_token,
                        "cloudflare_base_url": sim.base_url,
                    }
                    for number, sim in enumerate(sims)
                }
            }
        }
        inventory_path = tmp_path / "accounts.yml"
        inventory_path.write_text(yaml.safe_dump({"all": {"children": inventory}}))
        env = ansible_env(None, tmp_path)
        extra = {
            "search": SEARCH,
            "reason": "false positive of rule 'invoice-lookalike'",
            "ticket": "INC-15",
            "report_dir": str(tmp_path / "reports"),
        }
        (tmp_path / "vars.json").write_text(json.dumps(extra))
        process = subprocess.run(
            [
                os.path.join(BIN_DIR, "ansible-playbook"),
                "-i",
                str(inventory_path),
                "-f",
                "3",
                "-e",
                "@%s" % (tmp_path / "vars.json"),
                os.path.join(COLLECTION_ROOT, "playbooks", "release_across_accounts.yml"),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        output = process.stdout + process.stderr
        assert process.returncode == 0, output
        for sim in sims:
            assert_each_delivered_once(sim, from_sender(sim))
            assert_within_contract(sim.state)
            assert sim.state.api_token not in output
        combined = json.loads(next((tmp_path / "reports").glob("accounts-*.json")).read_text())
        assert sorted(combined["accounts"]) == ["account-0", "account-1", "account-2"]
        assert combined["totals"]["released"] == sum(len(from_sender(sim)) for sim in sims)
        assert combined["totals"]["incomplete"] == 0
    finally:
        for sim in sims:
            sim.stop()


def test_a_server_serving_fifty_jobs_a_page_does_not_hide_the_job_a_rerun_must_adopt(outbreak, tmp_path):
    """Issue 23: with per_page capped at 50, the intent's job sat on page 2 and a re-run created a second one."""
    args = {"search": SEARCH, "ticket": "INC-23", "poll_interval": 1}
    first = run_module(outbreak, tmp_path, BULK, args, "first").result
    jobs = outbreak.state.bulk_jobs()
    for number in range(60):
        search = {"sender": "nobody-%d@elsewhere.example" % number, "start": SEARCH["start"]}
        jobs.create({"action": "RELEASE", "search_params": search, "comment": "another team's job %d" % number})
    outbreak.state.configure({"max_per_page": 50})

    second = run_module(outbreak, tmp_path, BULK, args, "second").result

    assert second["adopted"] is True and second["job_id"] == first["job_id"], second
    assert len(outbreak.state.ledger("bulk_job_created")) == 1
    assert_each_delivered_once(outbreak, from_sender(outbreak))
    assert len(outbreak.state.requests(method="GET", endpoint="bulk_list")) >= 3
