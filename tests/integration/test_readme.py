# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a newcomer reads first says each thing once and names every module."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from conftest import COLLECTION_ROOT


def _readme():
    with open(os.path.join(COLLECTION_ROOT, "README.md"), encoding="utf-8") as source:
        return source.read()


def test_the_promises_are_listed_once():
    text = _readme()
    # A heading, or a list introduced by "What you can rely on:", as the README had twice.
    assert len(re.findall(r"(?im)^(#+\s*what you can rely on\b|what you can rely on:)", text)) == 1


def test_the_documentation_section_names_every_module():
    text = _readme().split("## Documentation", 1)[1]
    modules = sorted(name[:-3] for name in os.listdir(os.path.join(COLLECTION_ROOT, "plugins", "modules")))
    assert [name for name in modules if "`%s`" % name not in text] == []


def test_installation_says_how_to_install_before_the_collection_is_published():
    text = _readme().split("## Installation", 1)[1].split("\n## ", 1)[0]
    assert "not published" in text and "git+https://" in text and ".tar.gz" in text
