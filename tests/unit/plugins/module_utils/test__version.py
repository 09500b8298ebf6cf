# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The version the client announces is the collection's own."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

import yaml

from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.version import COLLECTION_VERSION

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..")


def test_the_version_is_galaxy_ymls():
    with open(os.path.join(ROOT, "galaxy.yml"), encoding="utf-8") as source:
        assert yaml.safe_load(source)["version"] == COLLECTION_VERSION


def test_the_version_is_a_semantic_version():
    assert re.fullmatch(r"\d+\.\d+\.\d+", COLLECTION_VERSION)
