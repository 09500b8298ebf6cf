# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 12: the token never appears in any byte of output or artifacts, whatever its shape, source, the
server's echoes and the output settings; and no malformed input sends a request."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
from urllib.parse import quote, quote_plus

import ansible_runner
import pytest
import yaml

from conftest import COLLECTION_ROOT, SIMULATOR_DIR, ansible_env, assert_within_contract, run_playbook, runner_envvars
from tests.simulator import Simulator, load_state

TOKENS = {
    "plain": "cfTok" + "Q7w2E9r4T1y6U3i8O5p0" * 2,
    "newline": "cfTok-newline-" + "a1B2c3D4e5" * 3 + "\n",
    "escaping": 'cfTok"quote\\back%2Fslash+plus/eq=' + "z" * 12,
    "long": "cfTok-long-" + "0123456789abcdef" * 12,
}
# token shape, where it comes from, what the server echoes, output settings. ANSIBLE_DEBUG prints every module
# argument, no_log ones included (Ansible's own behaviour, documented for that setting), so debug rows take the
# token from the environment, as the connection options' notes advise.
MATRIX = [
    ("plain", "argument", None, "default"),
    ("newline", "argument", "echo_headers", "verbose-diff"),
    ("newline", "environment", "echo_in_answer", "yaml"),
    ("escaping", "argument", "echo_in_answer", "verbose-diff"),
    ("escaping", "environment", "echo_headers", "default"),
    ("long", "module_defaults", "echo_in_answer", "verbose-diff"),
    ("long", "environment", "echo_in_answer", "debug"),
    ("plain", "module_defaults", "echo_headers", "yaml"),
    ("newline", "module_defaults", "echo_in_answer", "default"),
    ("escaping", "module_defaults", None, "yaml"),
    ("escaping", "environment", None, "debug"),
    ("long", "environment", "echo_headers", "verbose-diff"),
    ("plain", "environment", "echo_in_answer", "verbose-diff"),
    ("newline", "environment", None, "debug"),
]
OUTPUT_SETTINGS = {
    "default": ({}, []),
    "verbose-diff": ({}, ["-vvvv", "--diff"]),
    "yaml": ({"ANSIBLE_CALLBACK_RESULT_FORMAT": "yaml"}, ["-v"]),
    "debug": ({"ANSIBLE_DEBUG": "1"}, []),
}


def token_forms(token):
    """Every form in which a token could be recognised in text: as given, stripped, escaped, URL-encoded."""
    forms = set()
    for value in (token, token.strip()):
        forms.update([value, json.dumps(value)[1:-1], repr(value)[1:-1], quote(value, safe=""), quote_plus(value)])
    return forms


def leaks(token, directory, texts):
    """(where, form) for every occurrence of any form of the token in texts and in every file below directory."""
    found = []
    for root, dummy, files in os.walk(str(directory)):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as source:
                texts = texts + [(path, source.read().decode("utf-8", "replace"))]
    for where, text in texts:
        found.extend((where, form) for form in token_forms(token) if form in text)
    return found


@pytest.fixture
def token_sim(request):
    shape = request.param
    state = load_state(os.path.join(SIMULATOR_DIR, "seeds", "demo.json"))
    state.api_token = TOKENS[shape].strip()
    with Simulator(state) as running:
        yield shape, running
    assert_within_contract(running.state)


def _play(module_args, source, token, diff):
    task = {
        "name": "Release",
        "mailsec.cloudflare.email_security_release": dict(module_args),
        "register": "release",
        "ignore_errors": True,
        "diff": diff,
    }
    play = {
        "name": "Secrets",
        "hosts": "localhost",
        "gather_facts": False,
        "tasks": [
            task,
            {
                "name": "Save",
                "ansible.builtin.copy": {
                    "content": "{{ release | to_nice_json }}",
                    "dest": "{{ result_file }}",
                    "mode": "0600",
                },
            },
        ],
    }
    if source == "argument":
        task["mailsec.cloudflare.email_security_release"]["api_token"] = token
    elif source == "module_defaults":
        play["module_defaults"] = {"group/mailsec.cloudflare.email_security": {"api_token": token}}
    return [play]


@pytest.mark.parametrize(
    "token_sim, source, echo, output",
    MATRIX,
    indirect=["token_sim"],
    ids=["-".join(filter(None, row)) for row in MATRIX],
)
def test_the_token_appears_in_no_byte_of_output_or_artifacts(token_sim, source, echo, output, tmp_path):
    shape, sim = token_sim
    token = TOKENS[shape]
    if echo:
        sim.state.inject(echo, "release", count=1)
    settings, options = OUTPUT_SETTINGS[output]
    artifacts = tmp_path / "artifacts"
    env = ansible_env(
        sim,
        tmp_path,
        CLOUDFLARE_API_TOKEN=token if source == "environment" else None,
        ANSIBLE_LOG_PATH=str(artifacts / "ansible.log"),
        ANSIBLE_CALLBACKS_ENABLED="ansible.builtin.tree",
        ANSIBLE_CALLBACK_TREE_DIR=str(artifacts / "tree"),
        **settings,
    )
    playbook = tmp_path / "secrets.yml"
    ids = [m.id for m in sim.state.messages.values() if m.is_quarantined][:2]
    playbook.write_text(
        yaml.safe_dump(
            _play(
                {"message_ids": ids, "body_format": "object", "fail_on_incomplete": False},
                source,
                token,
                "diff" in output,
            )
        )
    )
    artifacts.mkdir()

    run = run_playbook(playbook, tmp_path, env, {"result_file": str(artifacts / "result.json")}, options)

    assert "Release" in run.stdout
    assert sim.state.requests(), run.output
    assert os.listdir(str(artifacts / "tree")), "the tree callback wrote nothing"
    assert leaks(token, artifacts, [("stdout", run.stdout), ("stderr", run.stderr)]) == []
    if shape == "newline":
        assert "ended with a line break, which was removed" in run.output


def test_the_token_appears_in_no_runner_event_or_artifact(tmp_path):
    token = TOKENS["newline"]
    state = load_state(os.path.join(SIMULATOR_DIR, "seeds", "demo.json"))
    state.api_token = token.strip()
    with Simulator(state) as sim:
        sim.state.inject("echo_in_answer", "release", count=1)
        envvars = runner_envvars(ansible_env(sim, tmp_path, CLOUDFLARE_API_TOKEN=token))
        ids = [m.id for m in sim.state.messages.values() if m.is_quarantined][:2]
        (tmp_path / "runner").mkdir()
        runner = ansible_runner.run(
            private_data_dir=str(tmp_path / "runner"),
            project_dir=os.path.join(COLLECTION_ROOT, "playbooks"),
            playbook="release_messages.yml",
            inventory="localhost ansible_connection=local",
            extravars={
                "message_ids": ids,
                "reason": "false positive",
                "ticket": "INC-12",
                "report_dir": str(tmp_path / "runner" / "reports"),
            },
            envvars=envvars,
            quiet=True,
            timeout=600,
            verbosity=4,
        )

    assert runner.status == "successful", runner.stdout.read()
    assert_within_contract(sim.state)
    assert sim.state.requests(method="POST")
    # env/envvars and artifacts/<id>/command record the environment the job was given (the credential AWX
    # injects); every other file is what the job showed or kept.
    given = os.path.join(runner.config.artifact_dir, "command")
    with open(given, encoding="utf-8") as source:
        assert json.load(source)["env"]["CLOUDFLARE_API_TOKEN"] == token
    os.remove(given)
    os.remove(str(tmp_path / "runner" / "env" / "envvars"))
    assert leaks(token, tmp_path / "runner", [("stdout", runner.stdout.read())]) == []


BAD_INPUT = [
    ({"message_ids": []}, "message_ids is empty"),
    ({"message_ids": ["."]}, "is a path step"),
    ({"message_ids": [".."]}, "is a path step"),
    ({"message_ids": ["%2e%2e"]}, "percent sign"),
    ({"message_ids": ["x" * 10000]}, "10000 characters long"),
    ({"message_ids": [True]}, "is a bool (True), not a string"),
    ({"message_ids": [None]}, "is a null"),
    ({"message_ids": [12345]}, "is a int (12345), not a string"),
    ({"account_id": "../../user/tokens"}, "32-character hexadecimal"),
    ({"api_token": "e"}, "api_token is 1 characters long"),
    ({"api_token": "released"}, "api_token is 8 characters long"),
    ({"api_token": "token with spaces inside it"}, "api_token contains whitespace"),
    ({"base_url": "https://user:hunter2-password@api.cloudflare.com/client/v4"}, "must not hold a user name"),
    ({"base_url": "http://api.cloudflare.com/client/v4"}, "plain http:// towards api.cloudflare.com"),
    ({"base_url": "https://api.cloudflare.com/client/v4", "validate_certs": False}, "validate_certs=false towards"),
    ({"timeout": float("nan")}, "timeout must be a finite number"),
    ({"settle_timeout": float("inf")}, "settle_timeout must be a finite number"),
    ({"batch_size": 0}, "batch_size must be from 1 to 1000"),
]


def test_bad_input_is_refused_clearly_with_no_request(sim, tmp_path):
    """One playbook, one task per row; the simulator's ledger must stay empty."""
    tasks = []
    for number, (bad, dummy) in enumerate(BAD_INPUT):
        module_args = dict({"message_ids": ["4Njp3P0STMz2c02Q-2024-01-05T10:00:00-12345678"]}, **bad)
        tasks.append(
            {
                "name": "Row %d" % number,
                "mailsec.cloudflare.email_security_release": module_args,
                "register": "row%d" % number,
                "ignore_errors": True,
            }
        )
    tasks.append(
        {
            "name": "No credentials at all",
            "mailsec.cloudflare.email_security_release": {"message_ids": ["a-1"]},
            "environment": {"CLOUDFLARE_API_TOKEN": ""},
            "register": "no_token",
            "ignore_errors": True,
        }
    )
    rows = ", ".join("'row%d': row%d" % (n, n) for n in range(len(BAD_INPUT)))
    tasks.append(
        {
            "name": "Save",
            "ansible.builtin.copy": {
                "content": "{{ {%s, 'no_token': no_token} | to_nice_json }}" % rows,
                "dest": "{{ result_file }}",
                "mode": "0600",
            },
        }
    )
    playbook = tmp_path / "bad.yml"
    playbook.write_text(
        yaml.safe_dump([{"name": "Bad input", "hosts": "localhost", "gather_facts": False, "tasks": tasks}])
    )

    # At -vvv Ansible prints each task's invocation.module_args, the refused base_url among them.
    run = run_playbook(
        playbook, tmp_path, ansible_env(sim, tmp_path), {"result_file": str(tmp_path / "out.json")}, ["-vvv"]
    )

    assert run.returncode == 0, run.output
    results = run.result
    for number, (bad, message) in enumerate(BAD_INPUT):
        outcome = results["row%d" % number]
        assert outcome["failed"] is True, (bad, outcome)
        assert message in outcome["msg"], (bad, outcome["msg"])
    assert "no credentials" in results["no_token"]["msg"] and "CLOUDFLARE_API_TOKEN" in results["no_token"]["msg"]
    assert "hunter2-password" not in run.output
    assert sim.state.requests() == []


# Issue 23: values no Cloudflare credential has (too short, a line break inside, non-ASCII) are refused before any
# request; they were then taken out of Ansible's masking so that the refusal read well, and -vvv printed them in
# invocation.module_args.
REFUSED_SECRETS = ["NlTokSecret42\n", "InTokA81\nInTokB93", "Tok\u20acSecret9"]
ENV_TOKEN = "CLOUDFLARE_API_TOKEN"
REFUSAL_OUTPUTS = {
    "verbose": ({}, ["-vvv"]),
    "yaml": ({"ANSIBLE_CALLBACK_RESULT_FORMAT": "yaml"}, ["-vvv"]),
    "json": ({"ANSIBLE_CALLBACK_RESULT_FORMAT": "json"}, ["-vvv"]),
    "debug": ({"ANSIBLE_DEBUG": "1"}, []),
}


def _refusal_playbook(tmp_path, secrets, name):
    """One task per secret given as api_token (none: the token comes from the environment), and a task saving all."""
    tasks = []
    for number, secret in enumerate(secrets or [None]):
        module_args = {"message_ids": ["a-1"]}
        if secret is not None:
            module_args["api_token"] = secret
        tasks.append(
            {
                "name": "Refused %d" % number,
                "mailsec.cloudflare.email_security_release": module_args,
                "register": "refused%d" % number,
                "ignore_errors": True,
            }
        )
    saved = ", ".join("'refused%d': refused%d" % (n, n) for n in range(len(tasks)))
    tasks.append(
        {
            "name": "Save",
            "ansible.builtin.copy": {"content": "{{ {%s} | to_nice_json }}" % saved, "dest": "{{ result_file }}"},
        }
    )
    playbook = tmp_path / ("%s.yml" % name)
    playbook.write_text(
        yaml.safe_dump([{"name": "Refused", "hosts": "localhost", "gather_facts": False, "tasks": tasks}])
    )
    return playbook


def _assert_refused_and_masked(run, saved, secret, number):
    outcome = run.result["refused%d" % number]
    assert outcome["failed"] is True
    assert "api_token" in outcome["msg"] or "CLOUDFLARE_API_TOKEN" in outcome["msg"]
    assert "the value is not shown" in outcome["msg"]
    found = leaks(secret, saved, [("output", run.output)])
    found += [
        (where, form) for line in secret.splitlines() for where, form in leaks(line, saved, [("output", run.output)])
    ]
    assert found == [], (secret, found)


@pytest.mark.parametrize("output", sorted(REFUSAL_OUTPUTS))
def test_a_refused_secret_is_masked_in_every_output(sim, tmp_path, output):
    environment, options = REFUSAL_OUTPUTS[output]
    saved = tmp_path / "saved"
    saved.mkdir()
    # ANSIBLE_DEBUG prints every module argument, no_log ones included, and a task's environment (Ansible's own
    # behaviour): there the secret comes from the controller's environment, as the connection options' notes advise.
    runs = (
        [(secret, [None], {ENV_TOKEN: secret}) for secret in REFUSED_SECRETS]
        if output == "debug"
        else [(None, REFUSED_SECRETS, {ENV_TOKEN: None})]
    )
    for number, (secret, given, token_env) in enumerate(runs):
        playbook = _refusal_playbook(tmp_path, [s for s in given if s is not None], "refused%d" % number)
        env = ansible_env(sim, tmp_path, **dict(environment, **token_env))
        result_file = str(saved / ("out%d.json" % number))

        run = run_playbook(playbook, tmp_path, env, {"result_file": result_file}, options)

        assert run.returncode == 0, run.output
        for index, value in enumerate(REFUSED_SECRETS if secret is None else [secret]):
            _assert_refused_and_masked(run, saved, value, index)
    assert sim.state.requests() == []
