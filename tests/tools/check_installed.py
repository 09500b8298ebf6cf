# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Check a collection installed from its tarball: every plugin documents itself, and nothing extra shipped.

python tests/tools/check_installed.py <collections path> <tarball>
"""

import os
import subprocess
import sys
import tarfile
import tempfile

# What must never be in the tarball: test output, virtualenvs, build trees, benchmark results, caches, tool debris.
FORBIDDEN_PARTS = (
    ".venv",
    ".venvs",
    "build",
    "tests/output",
    "bench-results",
    "__pycache__",
    ".ci-logs",
    ".git",
    ".github",
    ".ansible",
    ".ruff_cache",
    ".pytest_cache",
    ".hypothesis",
)
REQUIRED_FILES = (
    "COPYING",
    "MANIFEST.json",
    "FILES.json",
    "README.md",
    "meta/runtime.yml",
    "meta/execution-environment.yml",
    "requirements.txt",
    "bindep.txt",
    "changelogs/changelog.yaml",
    "plugins/modules/email_security_release.py",
    "plugins/modules/email_security_message_info.py",
    "plugins/modules/email_security_bulk_release.py",
    "plugins/modules/email_security_bulk_job_info.py",
    "plugins/action/email_security_bulk_release.py",
    "plugins/plugin_utils/_progress_relay.py",
    "plugins/filter/recipient_table.py",
    "plugins/filter/delivery_confirmation.py",
    "roles/quarantine_release/meta/argument_specs.yml",
    "roles/phish_remediation/meta/argument_specs.yml",
    "playbooks/phish_remediation.yml",
    "extensions/eda/plugins/event_source/email_security_quarantine.py",
    "extensions/eda/rulebooks/release_approved_senders.yml",
    "extensions/eda/rulebooks/approve_other_releases.yml",
    "extensions/eda/rulebooks/release_approved_senders_on_controller.yml",
    "extensions/awx/state_credential_type.yml",
    "playbooks/eda_release.yml",
    "playbooks/expire_allow_policies.yml",
    "extensions/awx/credential_type.yml",
    "docs/awx.md",
    "docs/eda.md",
    ".ansible-lint",
    "tests/simulator/requirements.txt",
)


def main(collections_path, tarball):
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
    problems = ["tarball lacks %s" % required for required in REQUIRED_FILES if required not in names]
    problems += [
        "tarball holds %s" % name
        for name in names
        if any(
            name == part or name.startswith(part + "/") or "/%s/" % part in "/%s/" % name for part in FORBIDDEN_PARTS
        )
    ]
    root = os.path.join(collections_path, "ansible_collections", "mailsec", "cloudflare")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.abspath(collections_path))
    ansible_doc = os.path.join(os.path.dirname(sys.executable), "ansible-doc")
    plugins = [
        ("module", "mailsec.cloudflare." + name[:-3])
        for name in sorted(os.listdir(os.path.join(root, "plugins", "modules")))
        if name.endswith(".py")
    ]
    plugins += [
        ("filter", "mailsec.cloudflare." + name[:-3])
        for name in sorted(os.listdir(os.path.join(root, "plugins", "filter")))
        if name.endswith(".py")
    ]
    plugins += [("role", "mailsec.cloudflare." + name) for name in sorted(os.listdir(os.path.join(root, "roles")))]
    for plugin_type, name in plugins:
        process = subprocess.run(
            [ansible_doc, "-t", plugin_type, name], env=env, capture_output=True, text=True, check=False
        )
        if process.returncode != 0 or _own_warnings(process.stderr, collections_path):
            problems.append("ansible-doc -t %s %s: %s" % (plugin_type, name, process.stderr.strip()[:500]))
        else:
            print("ansible-doc -t %s %s: %d lines" % (plugin_type, name, len(process.stdout.splitlines())))
    problems += _lint_problems(root, env) + _simulator_problems(root)
    for problem in problems:
        print("PROBLEM: " + problem)
    print("%d file(s) in the tarball, %d problem(s)" % (len(names), len(problems)))
    return 1 if problems else 0


def _own_warnings(stderr, collections_path):
    """The warnings of an ansible-doc run that are not about another collection: ansible-core 2.22's ansible-doc -t
    role warns of its own internal collection (ansible/_protomatter, which has no MANIFEST.json) whatever it documents."""
    ours = os.path.abspath(collections_path)
    return [
        line
        for line in stderr.splitlines()
        if "[WARNING]" in line
        and not (line.startswith("[WARNING]: Collection at '") and not line.split("'")[1].startswith(ours))
    ]


def _lint_problems(root, env):
    """ansible-lint, as a checker of the artefact runs it: in the unpacked collection, with what it ships, the
    collection resolved from where it is installed."""
    ansible_lint = os.path.join(os.path.dirname(sys.executable), "ansible-lint")
    process = subprocess.run(
        [ansible_lint, "--offline", "--nocolor"], cwd=root, env=env, capture_output=True, text=True, check=False
    )
    if process.returncode != 0:
        return ["ansible-lint in the installed collection: %s" % (process.stdout + process.stderr).strip()[-1500:]]
    print("ansible-lint in the installed collection: clean")
    return []


def _simulator_problems(root):
    """The simulator, as the README offers it for rehearsal: from the installed collection, in a virtualenv with
    only what tests/simulator/requirements.txt names, answering an authenticated request."""
    with tempfile.TemporaryDirectory() as venv:
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        python = os.path.join(venv, "bin", "python")
        requirements = os.path.join(root, "tests", "simulator", "requirements.txt")
        subprocess.run(
            [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", requirements], check=True
        )
        probe = (
            "import json, os, urllib.request; "
            "request = urllib.request.Request(os.environ['CLOUDFLARE_BASE_URL'] + '/accounts/' + "
            "os.environ['CLOUDFLARE_ACCOUNT_ID'] + '/email-security/investigate?detections_only=false', "
            "headers={'Authorization': 'Bearer ' + os.environ['CLOUDFLARE_API_TOKEN']}); "
            "print('simulator answered with', len(json.load(urllib.request.urlopen(request))['result']), 'messages')"
        )
        process = subprocess.run(
            [python, "-m", "tests.simulator.with_simulator", "--seed", "tests/simulator/seeds/demo.json", "--"]
            + [python, "-c", probe],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    if process.returncode != 0 or "simulator answered with" not in process.stdout:
        return ["the simulator from the installed collection: %s" % (process.stdout + process.stderr)[-1500:]]
    print("the simulator from the installed collection: %s" % process.stdout.splitlines()[1])
    return []


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
