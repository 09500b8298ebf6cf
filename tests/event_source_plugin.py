# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The event source plugin as a module, for tests that drive its asyncio loop in-process (unit and integration)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib.util
import os

PLUGINS_DIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "extensions", "eda", "plugins", "event_source"
)
PLUGIN_PATH = os.path.join(PLUGINS_DIR, "email_security_quarantine.py")


def load_event_source_plugin(name="email_security_quarantine"):
    spec = importlib.util.spec_from_file_location(name, os.path.join(PLUGINS_DIR, name + ".py"))
    plugin = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plugin)
    return plugin
