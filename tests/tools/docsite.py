# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The docsite's guides: docs/*.md (what GitHub renders) converted to docs/docsite/rst/*.rst (what antsibull-docs
builds), and the HTML docsite built from the installed collection.

    python tests/tools/docsite.py write            # regenerate docs/docsite/rst/ after editing docs/*.md
    python tests/tools/docsite.py check            # fail when docs/docsite/rst/ is not what write would make
    python tests/tools/docsite.py build DEST       # build the HTML docsite into DEST, offline; fail on any error

Conversion is pandoc's (the pypandoc_binary wheel). Links relative to the repository become links to it on
GitHub, since the docsite has no repository beside it.
"""

import os
import re
import shutil
import subprocess
import sys

import pypandoc

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REPOSITORY = "https://github.com/mailsec/cloudflare/blob/main/"
GUIDES = {
    "awx": "docs/awx.md",
    "eda": "docs/eda.md",
    "notices": "docs/notices.md",
    "performance": "docs/performance.md",
    "design": "docs/design.md",
}
RST_DIR = os.path.join(ROOT, "docs", "docsite", "rst")
_LINK = re.compile(r"\]\((?!https?://|#|mailto:)([^)]+)\)")


def converted(name, source):
    with open(os.path.join(ROOT, source), encoding="utf-8") as markdown:
        text = markdown.read()
    here = os.path.dirname(source)
    text = _LINK.sub(lambda m: "](%s%s)" % (REPOSITORY, os.path.normpath(os.path.join(here, m.group(1)))), text)
    rst = pypandoc.convert_text(text, "rst", format="gfm-gfm_auto_identifiers", extra_args=["--wrap=preserve"])
    label = ".. _ansible_collections.mailsec.cloudflare.docsite.%s:\n\n" % name
    return label + rst


def write():
    os.makedirs(RST_DIR, exist_ok=True)
    for name, source in GUIDES.items():
        with open(os.path.join(RST_DIR, name + ".rst"), "w", encoding="utf-8") as out:
            out.write(converted(name, source))
    return 0


def check():
    stale = []
    for name, source in GUIDES.items():
        path = os.path.join(RST_DIR, name + ".rst")
        current = open(path, encoding="utf-8").read() if os.path.exists(path) else None
        if current != converted(name, source):
            stale.append("docs/docsite/rst/%s.rst is not %s converted" % (name, source))
    for problem in stale:
        print(problem)
    if stale:
        print("run: python tests/tools/docsite.py write")
    return 1 if stale else 0


def build(dest):
    """sphinx-init, then the collection's RST, then Sphinx: every step offline, any error fails the build."""
    bin_dir = os.path.dirname(sys.executable)
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(dest, mode=0o700)
    steps = [
        [
            os.path.join(bin_dir, "antsibull-docs"),
            "sphinx-init",
            "--use-current",
            "--squash-hierarchy",
            "--fail-on-error",
            "--dest-dir",
            dest,
            "mailsec.cloudflare",
        ],
        [
            os.path.join(bin_dir, "antsibull-docs"),
            "collection",
            "--use-current",
            "--squash-hierarchy",
            "--fail-on-error",
            "--dest-dir",
            os.path.join(dest, "rst"),
            "mailsec.cloudflare",
        ],
        # No -W: the intersphinx inventories of docs.ansible.com cannot be fetched offline, a warning only.
        [
            os.path.join(bin_dir, "sphinx-build"),
            "-M",
            "html",
            os.path.join(dest, "rst"),
            os.path.join(dest, "build"),
            "-c",
            dest,
        ],
    ]
    for step in steps:
        process = subprocess.run(
            step, cwd=dest if step is steps[-1] else None, capture_output=True, text=True, check=False
        )
        output = process.stdout + process.stderr
        errors = [line for line in output.splitlines() if re.search(r"\b(ERROR|CRITICAL|SEVERE)\b", line)]
        if process.returncode != 0 or errors:
            print(output[-4000:])
            print(
                "docsite: %s failed (exit %d, %d error line(s))"
                % (os.path.basename(step[0]), process.returncode, len(errors))
            )
            return 1
    index = os.path.join(dest, "build", "html", "index.html")
    pages = sum(len(files) for dummy, dummy, files in os.walk(os.path.join(dest, "build", "html")))
    print("docsite: built %s (%d files)" % (index, pages))
    return 0 if os.path.exists(index) else 1


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "write":
        sys.exit(write())
    if command == "check":
        sys.exit(check())
    if command == "build" and len(sys.argv) == 3:
        sys.exit(build(os.path.abspath(sys.argv[2])))
    sys.exit(__doc__)
