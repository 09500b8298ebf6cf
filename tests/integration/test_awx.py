# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The AWX path: job-template playbooks run through ansible-runner, the role's guard and report, the EE files."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import json
import os
import shutil
import subprocess

import ansible_runner
import pytest
import yaml

from conftest import BIN_DIR, COLLECTION_ROOT, COLLECTIONS_PATH, ansible_env, run_playbook, runner_envvars

from ansible_collections.mailsec.cloudflare.plugins.plugin_utils._escaping import markdown_text


def survey_text(ids):
    """Ids as an on-call analyst pastes them into a survey textarea: mixed separators, a blank line."""
    return "%s, %s\n\n%s  %s\n" % tuple(ids[:4])


def run_job(sim, tmp_path, playbook, extravars, token=None, cmdline=None, extra_env=None):
    """Run a job-template playbook the way AWX does: ansible-runner, credentials injected as environment (and
    ``extra_env``, what other credentials inject)."""
    envvars = runner_envvars(ansible_env(sim, tmp_path, CLOUDFLARE_API_TOKEN=token or sim.state.api_token))
    envvars.update(extra_env or {})
    extravars = dict(
        extravars,
        report_dir=str(tmp_path / "reports"),
        awx_job_id=4242,
        awx_user_name="oncall.analyst",
        awx_job_template_name="Release quarantined messages",
    )
    (tmp_path / "runner").mkdir(parents=True, exist_ok=True)
    return ansible_runner.run(
        private_data_dir=str(tmp_path / "runner"),
        project_dir=os.path.join(COLLECTION_ROOT, "playbooks"),
        playbook=playbook,
        inventory="localhost ansible_connection=local",
        extravars=extravars,
        envvars=envvars,
        cmdline=cmdline,
        quiet=True,
        timeout=600,
    )


def artifacts_text(runner):
    texts = [runner.stdout.read()]
    for path in glob.glob(os.path.join(runner.config.artifact_dir, "job_events", "*.json")):
        with open(path, encoding="utf-8") as event:
            texts.append(event.read())
    return "\n".join(texts)


def stats_data(runner):
    stats = [e for e in runner.events if e.get("event") == "playbook_on_stats"]
    return stats[-1]["event_data"].get("artifact_data", {})


def reports(tmp_path):
    return sorted(glob.glob(str(tmp_path / "reports" / "*.json"))), sorted(
        glob.glob(str(tmp_path / "reports" / "*.md"))
    )


def test_release_job_template_with_survey_ids(sim, tmp_path):
    ids = [m.id for m in sim.state.messages.values()][:4]

    runner = run_job(
        sim,
        tmp_path,
        "release_messages.yml",
        {"message_ids": survey_text(ids), "reason": "Invoice run blocked by a new rule", "ticket": "INC-1042"},
    )

    assert runner.status == "successful", runner.stdout.read()
    assert sim.state.deliveries() == dict.fromkeys(ids, 1)
    assert sim.state.double_deliveries() == []

    data = stats_data(runner)["quarantine_release"]
    assert data["ticket"] == "INC-1042"
    assert data["released_ids"] == ids
    assert data["incomplete_ids"] == []
    assert data["summary"]["released"] == 4

    text = artifacts_text(runner)
    assert sim.state.api_token not in text
    assert "INC-1042" in text

    json_reports, markdown_reports = reports(tmp_path)
    assert len(json_reports) == 1 and len(markdown_reports) == 1
    with open(json_reports[0], encoding="utf-8") as source:
        report = json.load(source)
    assert report["reason"] == "Invoice run blocked by a new rule" and report["ticket"] == "INC-1042"
    assert report["requested_by"] == "oncall.analyst" and report["awx"]["job_id"] == 4242
    assert [r["id"] for r in report["results"]] == ids
    assert report["still_quarantined_after_release"] == []
    assert report["recorded_at"].endswith("Z")
    with open(markdown_reports[0], encoding="utf-8") as source:
        markdown = source.read()
    assert "| Ticket | INC-1042 |" in markdown and "| Requested by | oncall.analyst |" in markdown
    assert "| %s | released | %s | delivered |" % (ids[0], markdown_text("alice@corp.example")) in markdown
    assert sim.state.api_token not in markdown + json.dumps(report)


def test_the_guard_refuses_above_the_cap(sim, tmp_path):
    ids = [m.id for m in sim.state.messages.values()]

    runner = run_job(
        sim,
        tmp_path,
        "release_messages.yml",
        {"message_ids": ids, "reason": "bulk", "ticket": "INC-7", "max_messages": 5},
    )

    assert runner.status == "failed"
    assert "12 messages would be released, more than quarantine_release_max_messages (5)" in runner.stdout.read()
    assert sim.state.requests(method="POST") == []


def test_the_guard_lets_a_confirmed_release_above_the_cap_through(sim, tmp_path):
    ids = [m.id for m in sim.state.messages.values()][:6]

    runner = run_job(
        sim,
        tmp_path,
        "release_messages.yml",
        {"message_ids": ids, "reason": "bulk", "ticket": "INC-8", "max_messages": 5, "confirm_over_limit": True},
    )

    assert runner.status == "failed"  # one of the six has a recipient that bounces
    data = stats_data(runner)["quarantine_release"]
    assert data["summary"]["released"] == 5 and data["summary"]["partially_released"] == 1
    assert len(data["incomplete_ids"]) == 1
    assert "not fully released" in runner.stdout.read()


def test_the_guard_requires_reason_and_ticket(sim, tmp_path):
    runner = run_job(sim, tmp_path, "release_messages.yml", {"message_ids": list(sim.state.messages)[:1]})

    assert runner.status == "failed"
    assert "Set quarantine_release_reason and quarantine_release_ticket" in runner.stdout.read()
    assert sim.state.requests(method="POST") == []


def test_release_by_search_job_template(sim, tmp_path):
    runner = run_job(
        sim,
        tmp_path,
        "release_by_search.yml",
        {"sender": "invoices@northwind-supplies.example", "reason": "vendor", "ticket": "CHG-9"},
    )

    assert runner.status == "successful", runner.stdout.read()
    released = stats_data(runner)["quarantine_release"]["released_ids"]
    assert len(released) == 3
    assert all(sim.state.messages[i].sender == "invoices@northwind-supplies.example" for i in released)
    assert sorted(sim.state.deliveries()) == sorted(released)


ROLE_PLAY = """
- name: Release by a search
  hosts: localhost
  gather_facts: false
  roles:
    - role: mailsec.cloudflare.quarantine_release
      vars:
        quarantine_release_search: "{{ search }}"
        quarantine_release_reason: false positive
        quarantine_release_ticket: INC-14
        quarantine_release_report_dir: "{{ report_dir }}"
"""


def run_role_search(sim, tmp_path, search):
    playbook = tmp_path / "role.yml"
    playbook.write_text(ROLE_PLAY)
    variables = {"search": search, "report_dir": str(tmp_path / "reports")}
    return run_playbook(playbook, tmp_path, ansible_env(sim, tmp_path), variables)


def test_the_role_forwards_every_search_filter(sim, tmp_path):
    """Issue 14: delivery_status and message_action were dropped, so the search ran over everything quarantined."""
    moved = next(m for m in sim.state.messages.values() if m.is_quarantined)
    moved.mark_never_quarantined()
    moved.auto_move("JunkEmail")

    run = run_role_search(sim, tmp_path, {"delivery_status": "moved"})

    assert run.returncode == 0, run.output
    # The only message the filter matches is not quarantined: nothing to release. Dropping the filter released
    # everything quarantined.
    assert [r for r in sim.state.requests(method="GET") if r["endpoint"] == "search"]
    assert sim.state.requests(method="POST") == []


def test_the_role_refuses_a_filter_it_does_not_know(sim, tmp_path):
    run = run_role_search(sim, tmp_path, {"sender": "x@example.com", "senderr": "typo"})

    assert run.returncode != 0
    assert "filters the search does not know: senderr" in run.output
    assert sim.state.requests() == []


def test_a_wrong_token_fails_the_job_without_showing_it(sim, tmp_path):
    wrong = "sim-token-NOT-VALID-1234567890"

    runner = run_job(
        sim,
        tmp_path,
        "release_messages.yml",
        {"message_ids": list(sim.state.messages)[:2], "reason": "r", "ticket": "t"},
        token=wrong,
    )

    assert runner.status == "failed"
    text = artifacts_text(runner)
    assert "[10000] Authentication error" in text
    assert wrong not in text


def test_ansible_lint_production_profile_is_clean():
    process = subprocess.run(
        [
            os.path.join(BIN_DIR, "ansible-lint"),
            "--profile",
            "production",
            "--offline",
            "roles",
            "playbooks",
            "extensions/eda/rulebooks",
        ],
        cwd=COLLECTION_ROOT,
        capture_output=True,
        text=True,
        env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_PATH),
        check=False,
    )
    assert process.returncode == 0, process.stdout + process.stderr


def test_ansible_lint_from_the_root_as_the_certification_checker_runs_it(tmp_path):
    """Issue 17: with offline: true in .ansible-lint, lint never installed the collection and could not resolve
    mailsec.cloudflare.*. The checker runs plain ansible-lint --profile=production from the repository root."""
    # A checkout as CI makes it: not under an ansible_collections/ tree, where lint would find the collection.
    root = tmp_path / "checkout"
    shutil.copytree(COLLECTION_ROOT, root, ignore=shutil.ignore_patterns("build", ".ansible", "tests"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(HOME=str(tmp_path / "home"), PATH=BIN_DIR + os.pathsep + os.environ.get("PATH", ""))

    process = subprocess.run(
        [os.path.join(BIN_DIR, "ansible-lint"), "--profile=production"],
        cwd=str(root),
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )

    output = process.stdout + process.stderr
    assert process.returncode == 0, output[-4000:]
    assert "syntax-check" not in output
    # The checker's pinned ansible-lint (24.12.2, 25.2.0) never installs the collection when offline is set.
    with open(os.path.join(COLLECTION_ROOT, ".ansible-lint"), encoding="utf-8") as source:
        assert "offline" not in yaml.safe_load(source)


def test_execution_environment_introspection_finds_the_python_requirements():
    process = subprocess.run(
        [os.path.join(BIN_DIR, "ansible-builder"), "introspect", "--sanitize", COLLECTIONS_PATH],
        capture_output=True,
        text=True,
        check=False,
    )
    assert process.returncode == 0, process.stderr
    assert "requests>=2.25" in process.stdout
    assert "mailsec.cloudflare" in process.stdout


@pytest.mark.parametrize(
    "definition, base_image",
    [
        ("awx/execution-environment.yml", "quay.io/ansible/awx-ee"),
        ("eda/decision-environment.yml", "ansible-automation-platform-25/de-minimal-rhel9"),
    ],
)
def test_execution_environment_definition_builds_a_context_from_the_tarball(tmp_path, definition, base_image):
    """Issue 17: the EE pulled mailsec.cloudflare from Galaxy, where it is not published. Issue 18: the decision
    environment is built the same way."""
    shutil.copytree(os.path.join(COLLECTION_ROOT, "extensions"), tmp_path / "extensions")
    ee_dir = tmp_path / "extensions" / "awx"
    build = subprocess.run(
        [os.path.join(BIN_DIR, "ansible-galaxy"), "collection", "build", "--output-path", str(ee_dir / "dist")],
        cwd=COLLECTION_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    process = subprocess.run(
        [
            os.path.join(BIN_DIR, "ansible-builder"),
            "create",
            "-f",
            str(tmp_path / "extensions" / definition),
            "--context",
            str(tmp_path / "context"),
            "--output-filename",
            "Containerfile",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert process.returncode == 0, process.stdout + process.stderr
    containerfile = (tmp_path / "context" / "Containerfile").read_text()
    assert base_image in containerfile
    assert "ansible-galaxy collection install" in containerfile and "-r requirements.yml" in containerfile
    with open(os.path.join(COLLECTION_ROOT, "galaxy.yml"), encoding="utf-8") as source:
        version = yaml.safe_load(source)["version"]
    tarball = "collections/mailsec-cloudflare-%s.tar.gz" % version
    assert (tmp_path / "context" / "_build" / tarball).is_file()
    copied = yaml.safe_load((tmp_path / "context" / "_build" / "requirements.yml").read_text())
    # Issue 41: the notices' e-mail steps use community.general.mail, from Galaxy when the image is built.
    assert copied["collections"] == [
        {"name": tarball, "type": "file"},
        {"name": "community.general", "version": ">=9.0.0"},
    ]
    published = yaml.safe_load((ee_dir / "requirements-published.yml").read_text())
    assert published["collections"][0]["name"] == "mailsec.cloudflare"


@pytest.mark.parametrize("survey", ["release_messages.json", "release_by_search.json", "phish_remediation.json"])
def test_survey_specs_name_the_variables_the_playbooks_read(survey):
    with open(os.path.join(COLLECTION_ROOT, "extensions", "awx", "surveys", survey), encoding="utf-8") as source:
        spec = json.load(source)
    variables = {question["variable"] for question in spec["spec"]}
    assert {"reason", "ticket", "max_messages", "confirm_over_limit"} <= variables
    playbook = os.path.join(COLLECTION_ROOT, "playbooks", survey.replace(".json", ".yml"))
    with open(playbook, encoding="utf-8") as source:
        text = source.read()
    assert all(variable in text for variable in variables)


def test_credential_type_injects_what_the_modules_read():
    with open(os.path.join(COLLECTION_ROOT, "extensions", "awx", "credential_type.yml"), encoding="utf-8") as source:
        credential = yaml.safe_load(source)
    fields = {f["id"]: f for f in credential["inputs"]["fields"]}
    assert fields["api_token"]["secret"] is True
    assert set(credential["injectors"]["env"]) == {
        "CLOUDFLARE_ACCOUNT_ID",
        "CLOUDFLARE_API_TOKEN",
        "CLOUDFLARE_BASE_URL",
    }
