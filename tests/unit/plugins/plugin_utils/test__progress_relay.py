# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The action plugin's relay: each complete line the module appends is said once, in order; nothing is left behind."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import time

from ansible_collections.mailsec.cloudflare.plugins.plugin_utils._progress_relay import _Relay


def test_every_complete_line_is_said_in_order_and_a_line_still_being_written_waits_for_its_end():
    said = []
    with _Relay(said.append) as relay:
        path = relay.path
        with open(path, "a", encoding="utf-8") as out:
            out.write("bulk job 1 PENDING\nbulk job 1 PROC")
            out.flush()
            deadline = time.monotonic() + 10
            while not said and time.monotonic() < deadline:
                time.sleep(0.05)
            assert said == ["bulk job 1 PENDING"]
            out.write("ESSING\n\nbulk job 1 COMPLETED\n")
    # Lines written just before the module ended are said before the task's result.
    assert said == ["bulk job 1 PENDING", "bulk job 1 PROCESSING", "bulk job 1 COMPLETED"]
    assert not os.path.exists(os.path.dirname(path))


def test_the_file_is_private_to_the_user_running_the_controller():
    with _Relay(lambda line: None) as relay:
        assert os.stat(os.path.dirname(relay.path)).st_mode & 0o077 == 0
