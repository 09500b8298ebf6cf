# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import pytest

from ansible_collections.mailsec.cloudflare.plugins.module_utils._state import atomic_file
from ansible_collections.mailsec.cloudflare.plugins.module_utils._state.atomic_file import write_json


@pytest.mark.parametrize("durable", [True, False])
def test_the_file_is_replaced_whole_and_no_temporary_is_left(tmp_path, durable):
    path = str(tmp_path / "state.json")
    write_json(path, {"old": 1}, durable)
    write_json(path, {"new": [1, 2]}, durable)

    with open(path, encoding="utf-8") as source:
        assert json.load(source) == {"new": [1, 2]}
    assert os.listdir(str(tmp_path)) == ["state.json"]


def test_only_a_durable_write_is_synced_before_the_rename(tmp_path, monkeypatch):
    synced = []
    monkeypatch.setattr(atomic_file.os, "fsync", synced.append)
    write_json(str(tmp_path / "journal.json"), {}, durable=True)
    write_json(str(tmp_path / "budget.json"), {}, durable=False)
    assert len(synced) == 1


def test_a_write_that_fails_leaves_the_old_content(tmp_path):
    path = str(tmp_path / "state.json")
    write_json(path, {"kept": True})
    with pytest.raises(TypeError):
        write_json(path, {"unserialisable": object()})
    with open(path, encoding="utf-8") as source:
        assert json.load(source) == {"kept": True}
