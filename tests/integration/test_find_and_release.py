# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Find, then release: searches, idempotent re-runs, exact check mode and diff, in real playbooks."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import yaml

from conftest import ansible_env, run_playbook
from tests.simulator import generate_messages

FIND_RELEASE_AGAIN = """
- name: Find by sender, release, run again
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/mailsec.cloudflare.email_security:
      concurrency: 2
    mailsec.cloudflare.email_security_release:
      batch_size: 2
  tasks:
    - name: Find what the sender got quarantined
      mailsec.cloudflare.email_security_message_info:
        sender: "{{ sender }}"
        quarantined_only: true
      register: found

    - name: Predict
      mailsec.cloudflare.email_security_release:
        message_ids: "{{ found.ids + extra_ids }}"
        fail_on_incomplete: false
      check_mode: true
      register: predicted

    - name: Release
      mailsec.cloudflare.email_security_release:
        message_ids: "{{ found.ids + extra_ids }}"
        fail_on_incomplete: false
      diff: true
      register: first

    - name: Release again
      mailsec.cloudflare.email_security_release:
        message_ids: "{{ found.ids + extra_ids }}"
        fail_on_incomplete: false
      register: second

    - name: Save
      ansible.builtin.copy:
        content: "{{ {'found': found, 'predicted': predicted, 'first': first, 'second': second} | to_nice_json }}"
        dest: "{{ result_file }}"
        mode: "0600"
"""


def test_find_release_and_run_again(sim, tmp_path):
    sender = "ceo.office@adatum.example"
    already = [m for m in sim.state.messages.values() if m.sender == "hr@none.example"]
    assert already == []
    released_before = next(m for m in sim.state.messages.values() if m.sender == "it-helpdesk@fabrikam.example")
    released_before.release()
    extra_ids = [released_before.id, "Unknown000000000-2026-11-24T00:00:00-0"]
    playbook = tmp_path / "play.yml"
    playbook.write_text(FIND_RELEASE_AGAIN)

    run = run_playbook(
        playbook,
        tmp_path,
        ansible_env(sim, tmp_path),
        {"sender": sender, "extra_ids": extra_ids, "result_file": str(tmp_path / "out.json")},
        options=["--diff"],
    )

    assert run.returncode == 0, run.output
    data = run.result
    found_ids = data["found"]["ids"]
    assert len(found_ids) == 3
    expected = ["would_release"] * 3 + ["already_released", "not_found"]
    assert [r["status"] for r in data["predicted"]["results"]] == expected
    first = [r["status"] for r in data["first"]["results"]]
    assert first == ["released"] * 3 + ["already_released", "not_found"]
    assert [p.replace("would_release", "released") for p in expected] == first
    assert data["first"]["changed"] is True
    assert data["second"]["changed"] is False
    assert [r["status"] for r in data["second"]["results"]] == ["already_released"] * 4 + ["not_found"]

    posts = sim.state.requests(method="POST")
    assert len(posts) == 2
    assert sorted(i for p in posts for i in p["ids"]) == sorted(found_ids)
    assert sim.state.deliveries() == dict.fromkeys(found_ids, 1)
    assert sim.state.double_deliveries() == []

    assert "-%s: quarantined" % found_ids[0] in run.output
    assert "+%s: released" % found_ids[0] in run.output


def info_playbook(tmp_path, module_args):
    play = [
        {
            "name": "Info",
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [
                {"name": "Read", "mailsec.cloudflare.email_security_message_info": module_args, "register": "info"},
                {
                    "name": "Save",
                    "ansible.builtin.copy": {
                        "content": "{{ info | to_nice_json }}",
                        "dest": "{{ result_file }}",
                        "mode": "0600",
                    },
                },
            ],
        }
    ]
    path = tmp_path / "info.yml"
    path.write_text(yaml.safe_dump(play, sort_keys=False))
    return path


def test_search_across_several_pages(sim, tmp_path):
    sim.state.add_messages(generate_messages(45, seed=11))

    run = run_playbook(
        info_playbook(tmp_path, {"per_page": 10, "quarantined_only": True}),
        tmp_path,
        ansible_env(sim, tmp_path),
        {"result_file": str(tmp_path / "out.json")},
    )

    assert run.returncode == 0, run.output
    assert len(run.result["ids"]) == 57 == len(set(run.result["ids"]))
    assert run.result["summary"]["pages"] == 6
    assert len(sim.state.requests()) == 6


def test_a_slow_search_is_polled_until_ready(sim, tmp_path):
    sim.state.configure({"search_polls": 2})

    run = run_playbook(
        info_playbook(tmp_path, {"sender": "invoices@northwind-supplies.example", "poll_timeout": 30}),
        tmp_path,
        ansible_env(sim, tmp_path),
        {"result_file": str(tmp_path / "out.json")},
    )

    assert run.returncode == 0, run.output
    assert len(run.result["ids"]) == 3
    assert [r["status"] for r in sim.state.requests()] == [202, 202, 200]


def test_info_by_ids_with_one_unknown(sim, tmp_path):
    known = list(sim.state.messages)[:2]

    run = run_playbook(
        info_playbook(tmp_path, {"message_ids": known + ["Nope0000-2026-11-24T00:00:00-0"]}),
        tmp_path,
        ansible_env(sim, tmp_path),
        {"result_file": str(tmp_path / "out.json")},
    )

    assert run.returncode == 0, run.output
    assert run.result["ids"] == known
    assert run.result["not_found_ids"] == ["Nope0000-2026-11-24T00:00:00-0"]
    assert run.result["messages"][0]["is_quarantined"] is True
    assert run.result["changed"] is False
