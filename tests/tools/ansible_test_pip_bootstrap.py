# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Give ansible-test a pip bootstrap script that needs no download.

ansible-test builds each sanity virtualenv by running a get-pip script it fetches from a host
these machines cannot reach (ansible/ansible#77304 documents caching it by hand). The stand-in
written here installs pip from the interpreter's own ensurepip bundle, then the exact packages
ansible-test asks for from the package index.
"""

import os
import re
import sys

import ansible_test

STAND_IN = """import subprocess
import sys

# Written by tests/tools/ansible_test_pip_bootstrap.py in place of get-pip.py.
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
arguments = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "pip", "install"] + arguments)
"""


def pip_versions():
    source_path = os.path.join(os.path.dirname(ansible_test.__file__), "_internal", "python_requirements.py")
    with open(source_path, encoding="utf-8") as source:
        return sorted(set(re.findall(r"pip=['\"]([0-9][0-9.]*)['\"]", source.read())))


# A sanity requirement pinned to a source archive on a code host (ansible-core 2.22.0rc1 pins pylint's dill to a
# GitHub archive) cannot be fetched here: only the package index is reachable. Such a line is replaced by the
# package's newest release from the index, and said so, rather than the test it serves being skipped.
_ARCHIVE_PIN = re.compile(r"^([A-Za-z0-9_.-]+)\s*@\s*https?://\S+$", re.M)


def unpin_archives():
    directory = os.path.join(os.path.dirname(ansible_test.__file__), "_data", "requirements")
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        with open(path, encoding="utf-8") as source:
            text = source.read()
        replaced = _ARCHIVE_PIN.sub(r"\1", text)
        if replaced != text:
            with open(path, "w", encoding="utf-8") as target:
                target.write(replaced)
            for package in _ARCHIVE_PIN.findall(text):
                print(
                    "ansible-test %s: %s pinned to a source archive, taken from the package index instead"
                    % (name, package)
                )


def main():
    cache = os.path.expanduser("~/.ansible/test/cache")
    os.makedirs(cache, exist_ok=True)
    versions = pip_versions()
    if not versions:
        sys.exit(
            "could not find the pip version ansible-test bootstraps; update tests/tools/ansible_test_pip_bootstrap.py"
        )
    for version in versions:
        path = os.path.join(cache, "get_pip_%s.py" % version.replace(".", "_"))
        with open(path, "w", encoding="utf-8") as script:
            script.write(STAND_IN)
        print("pip bootstrap stand-in for pip %s: %s" % (version, path))


if __name__ == "__main__":
    main()
    unpin_archives()
