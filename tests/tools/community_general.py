# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Put community.general beside the collection under test: usage community_general.py <collections path>.

The notice steps' e-mail uses community.general.mail. Galaxy is out of reach, so the collection comes from the
ansible package on PyPI (its pin in tests/requirements-collections.txt): the wheel is downloaded without its
dependencies, never installed (its ansible-core pin would fight the matrix's), and only community/general is
extracted.
"""

from __future__ import absolute_import, division, print_function

import glob
import os
import subprocess
import sys
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
PREFIX = "ansible_collections/community/general/"


def pinned():
    with open(os.path.join(HERE, "..", "requirements-collections.txt"), encoding="utf-8") as source:
        return [line.strip() for line in source if line.strip() and not line.startswith("#")][0]


def main(collections_path):
    manifest = os.path.join(collections_path, PREFIX, "MANIFEST.json")
    if os.path.exists(manifest):
        print("community.general: %s" % os.path.dirname(manifest))
        return 0
    with tempfile.TemporaryDirectory() as download:
        # The wheel's Python requirement is its ansible-core's; only the collection's files are taken from it, so the
        # oldest interpreter the tests run on may fetch it too.
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--ignore-requires-python",
            "--dest",
            download,
            pinned(),
        ]
        if subprocess.run(command, check=False).returncode != 0:
            print("FAILED: could not download %s from PyPI for community.general" % pinned(), file=sys.stderr)
            return 1
        wheel = glob.glob(os.path.join(download, "ansible-*.whl"))[0]
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(collections_path, [n for n in archive.namelist() if n.startswith(PREFIX)])
    print("community.general: extracted from %s into %s" % (os.path.basename(wheel), collections_path))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
