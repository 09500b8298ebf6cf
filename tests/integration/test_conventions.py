# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Conventions the anchor collections (community.dns, community.docker) follow: SPDX headers, the docsite's
configuration, a documentation link that points at the docsite."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

import yaml
from packaging.specifiers import SpecifierSet

from conftest import COLLECTION_ROOT

SPDX = "# SPDX-License-Identifier: GPL-3.0-or-later"
SKIPPED_DIRS = {"output", "__pycache__", ".git"}


def test_every_python_file_carries_an_spdx_license_line():
    missing = []
    for folder in ("plugins", "extensions", "tests"):
        for root, dirs, files in os.walk(os.path.join(COLLECTION_ROOT, folder)):
            dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS]
            for name in files:
                path = os.path.join(root, name)
                # ansible-test's empty-init wants a package's __init__.py empty (module_utils too, on 2.16 and 2.17):
                # an empty file has nothing to license.
                if name.endswith(".py") and os.path.getsize(path):
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


def _yaml(*path):
    with open(os.path.join(COLLECTION_ROOT, *path), encoding="utf-8") as source:
        return yaml.safe_load(source)


def _version(text):
    return tuple(int(part) for part in text.split("."))


def test_the_release_notes_have_a_section_for_every_release_and_the_version_is_the_next_one():
    # Issue 37 item 7: CHANGELOG.rst stopped at 1.0.0 while galaxy.yml said 1.2.0 and 20 fragments waited.
    releases = sorted(_yaml("changelogs", "changelog.yaml")["releases"], key=_version)
    with open(os.path.join(COLLECTION_ROOT, "CHANGELOG.rst"), encoding="utf-8") as source:
        headings = [line for line in source.read().splitlines() if re.fullmatch(r"v\d+\.\d+\.\d+", line)]
    galaxy_version = _yaml("galaxy.yml")["version"]
    waiting = [name for name in os.listdir(os.path.join(COLLECTION_ROOT, "changelogs", "fragments")) if name != ".keep"]

    assert headings == ["v%s" % version for version in reversed(releases)]
    assert {"1.0.0", "1.1.0", "1.2.0"} <= set(releases)
    # The version being made is the released one, or the next one with its fragments waiting.
    assert galaxy_version == releases[-1] or (_version(galaxy_version) > _version(releases[-1]) and waiting)


def test_the_execution_and_decision_environments_allow_every_ansible_core_the_readme_says_is_tested():
    with open(os.path.join(COLLECTION_ROOT, "README.md"), encoding="utf-8") as source:
        tested_line = next(line for line in source.read().split("\n- ") if "tested on" in line)
    tested = sorted(set(re.findall(r"\b2\.(\d\d)\b", tested_line)), key=int)
    with open(os.path.join(COLLECTION_ROOT, ".ci", "matrix"), encoding="utf-8") as source:
        matrix = sorted(set(re.findall(r"\b2\.(\d\d):", source.read())), key=int)
    pins = [
        _yaml("extensions", "awx", "execution-environment.yml")["dependencies"]["ansible_core"]["package_pip"],
        _yaml("extensions", "eda", "decision-environment.yml")["dependencies"]["ansible_core"]["package_pip"],
    ]

    assert tested == matrix and tested[0] == "16"
    for pin in pins:
        specifier = SpecifierSet(pin.split("ansible-core", 1)[1])
        assert [minor for minor in tested if not specifier.contains("2.%s.0" % minor)] == [], pin


def test_every_module_has_the_relay_as_its_own_action_plugin_and_no_action_is_redirected():
    """An action redirected in plugin_routing (one action plugin for every module, as cisco.ios routes theirs) makes
    ansible-lint take the plugin it lands on for the module's canonical name: every task of a user's playbook naming
    one of the other modules then fails fqcn[canonical] under the production profile. So each module keeps an action
    plugin of its own name, a subclass of the one relay with nothing of its own."""
    modules = sorted(name[: -len(".py")] for name in os.listdir(os.path.join(COLLECTION_ROOT, "plugins", "modules")))
    runtime = _yaml("meta", "runtime.yml")
    bodies = set()
    for module in modules:
        with open(os.path.join(COLLECTION_ROOT, "plugins", "action", module + ".py"), encoding="utf-8") as source:
            bodies.add(re.sub(r'""".*"""', "", source.read(), flags=re.S))

    assert "action" not in runtime.get("plugin_routing", {})
    assert len(bodies) == 1 and "class ActionModule(ProgressRelayAction):" in bodies.pop()
    assert sorted(runtime["action_groups"]["email_security"]) == modules


def test_no_write_path_imports_another_and_the_vocabulary_imports_nothing_of_the_collection():
    module_utils = os.path.join(COLLECTION_ROOT, "plugins", "module_utils")
    imports = {}
    for root, dummy, files in os.walk(module_utils):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(root, name)
                with open(path, encoding="utf-8") as source:
                    found = re.findall(r"module_utils\.([\w.]+) import", source.read())
                imports[os.path.relpath(path, module_utils)] = found
    writes = {path: found for path, found in imports.items() if path.startswith("_writes/")}

    assert [(path, f) for path, found in writes.items() for f in found if f.startswith("_writes")] == []
    assert imports["_errors.py"] == [] and imports["_outcomes.py"] == []
