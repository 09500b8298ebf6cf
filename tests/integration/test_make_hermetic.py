# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 17: make test checks the tree, whatever the caller's Ansible environment says."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys

import yaml

from conftest import COLLECTION_ROOT

VENV = os.path.dirname(os.path.dirname(sys.executable))


def run_make(target, *variables, env=None):
    """make ``target`` in the collection with this test run's virtualenv."""
    command = ["make", "--no-print-directory", target, "VENV=%s" % os.path.relpath(VENV, COLLECTION_ROOT)]
    return subprocess.run(
        command + list(variables),
        cwd=COLLECTION_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def test_the_release_check_ignores_a_conflicting_installed_copy_and_the_callers_ansible_settings(tmp_path):
    """With ANSIBLE_COLLECTIONS_PATH on another installed mailsec.cloudflare, the fresh tarball was skipped as
    'already installed' and the release check failed."""
    with open(os.path.join(COLLECTION_ROOT, "galaxy.yml"), encoding="utf-8") as source:
        version = yaml.safe_load(source)["version"]
    # Another copy of the same version installed elsewhere, as anyone using the collection has.
    other = tmp_path / "elsewhere" / "ansible_collections" / "mailsec" / "cloudflare"
    other.mkdir(parents=True)
    info = {"namespace": "mailsec", "name": "cloudflare", "version": version, "dependencies": {}}
    (other / "MANIFEST.json").write_text(json.dumps({"collection_info": info, "format": 1}))
    (other / "FILES.json").write_text(json.dumps({"files": [], "format": 1}))
    hostile_config = tmp_path / "ansible.cfg"
    hostile_config.write_text("[defaults]\nstdout_callback = json\ncollections_path = %s\n" % (tmp_path / "elsewhere"))
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=str(tmp_path / "elsewhere"),
        ANSIBLE_COLLECTIONS_PATHS=str(tmp_path / "elsewhere"),
        ANSIBLE_CONFIG=str(hostile_config),
        ANSIBLE_STDOUT_CALLBACK="json",
        ANSIBLE_DOC_FRAGMENT_PLUGINS=str(tmp_path / "no-fragments-here"),
    )

    process = run_make("release-check", "BUILD_DIR=build/hermetic", env=env)

    output = process.stdout + process.stderr
    assert process.returncode == 0, output[-4000:]
    assert ", 0 problem(s)" in output
    # The tarball itself was installed, not skipped as "already installed".
    installed = os.path.join(COLLECTION_ROOT, "build", "hermetic", "installed", "ansible_collections", "mailsec")
    assert os.path.isdir(os.path.join(installed, "cloudflare", "plugins", "modules"))


def test_make_bench_finds_every_part_of_the_benchmark():
    """The state-cost part imported tests.postgres_server, which make bench did not put on the path: it stopped at
    its imports. ``--help`` imports every part and measures nothing."""
    process = run_make("bench", "BENCH_ARGS=--help", "BUILD_DIR=build/bench-check")

    output = process.stdout + process.stderr
    assert process.returncode == 0, output[-4000:]
    assert "--no-exit-cost" in output and "--no-state-cost" in output
