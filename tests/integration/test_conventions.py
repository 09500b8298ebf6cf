# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Conventions the anchor collections (community.dns, community.docker) follow: SPDX headers, the docsite's
configuration, a documentation link that points at the docsite."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import yaml

from conftest import COLLECTION_ROOT

SPDX = "# SPDX-License-Identifier: GPL-3.0-or-later"
SKIPPED_DIRS = {"output", "__pycache__", ".git"}


def test_every_python_file_carries_an_spdx_license_line():
    missing = []
    for folder in ("plugins", "extensions", "tests"):
        for root, dirs, files in os.walk(os.path.join(COLLECTION_ROOT, folder)):
            dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS]
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(root, name)
                    with open(path, encoding="utf-8") as source:
                        head = source.read(600)
                    if SPDX not in head:
                        missing.append(os.path.relpath(path, COLLECTION_ROOT))
    assert missing == []


def test_the_docsite_is_configured_and_galaxy_points_at_it():
    with open(os.path.join(COLLECTION_ROOT, "docs", "docsite", "config.yml"), encoding="utf-8") as source:
        config = yaml.safe_load(source)
    with open(os.path.join(COLLECTION_ROOT, "galaxy.yml"), encoding="utf-8") as source:
        galaxy = yaml.safe_load(source)
    assert config["changelog"]["write_changelog"] is True
    assert galaxy["documentation"] == "https://mailsec.github.io/cloudflare/"
    with open(os.path.join(COLLECTION_ROOT, ".github", "workflows", "docs.yml"), encoding="utf-8") as source:
        assert "deploy-pages" in source.read()


def test_the_readme_has_sections_for_communication_and_for_versioning_and_deprecation():
    with open(os.path.join(COLLECTION_ROOT, "README.md"), encoding="utf-8") as source:
        headings = [line for line in source.read().splitlines() if line.startswith("## ")]
    assert "## Communication" in headings and "## Versioning and deprecation" in headings


def test_a_ci_stage_shows_the_steps_it_announces_while_it_runs(tmp_path):
    """Issue 26: make test printed nothing for about 11 minutes; a stage now shows each "==> " line as it comes."""
    import subprocess

    script = (
        'set -uo pipefail; source "%s"; stage quiet bash -c "echo \'==> step one\'; echo detail; exit 3"; '
        'echo "counted $passed $failed"' % os.path.join(COLLECTION_ROOT, ".ci", "stages.sh")
    )
    shown = subprocess.run(["bash", "-c", script], cwd=str(tmp_path), capture_output=True, text=True, check=True)

    lines = shown.stdout.splitlines()
    assert lines[0] == "      step one"
    assert lines[1].startswith("FAIL  quiet") and lines[-1] == "counted 0 1"
    with open(str(tmp_path / ".ci-logs" / "quiet.log"), encoding="utf-8") as log:
        assert log.read() == "==> step one\ndetail\n"
