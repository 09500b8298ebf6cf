# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A stateful stand-in for Cloudflare Email Security's Investigate API, for tests, demos and rehearsals.

Standard library only. It binds 127.0.0.1, keeps messages and their quarantine state, delivers a
released message once, and writes a ledger of every request and delivery so that tests can
prove what crossed the wire. Faults (rate limits, server errors, dropped connections before and
after processing, slow answers, malformed bodies), API drift (body form, postfix_id-only items,
202 searches), Cloudflare's quota with its lockout, and server-side bulk release jobs are switched on per test.

    python -m tests.simulator --port 0 --seed tests/simulator/seeds/demo.json   # from the collection root

prints the base URL it serves (``http://127.0.0.1:PORT/client/v4``) and runs until SIGTERM.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from .api import (
    API_PREFIX,
    DEFAULT_ACCOUNT_ID,
    DEFAULT_EMAIL,
    DEFAULT_KEY,
    DEFAULT_READ_ONLY_TOKEN,
    DEFAULT_TOKEN,
    envelope,
)
from .faults import FAULT_KINDS, ITEM_SHAPES, Fault
from .messages import Message, generate_messages
from .quota import CLOUDFLARE_QUOTA, CLOUDFLARE_WINDOW
from .server import Simulator, load_state
from .state import SimulatorState

__all__ = [
    "API_PREFIX",
    "CLOUDFLARE_QUOTA",
    "CLOUDFLARE_WINDOW",
    "DEFAULT_ACCOUNT_ID",
    "DEFAULT_EMAIL",
    "DEFAULT_KEY",
    "DEFAULT_READ_ONLY_TOKEN",
    "DEFAULT_TOKEN",
    "FAULT_KINDS",
    "ITEM_SHAPES",
    "Fault",
    "Message",
    "Simulator",
    "SimulatorState",
    "envelope",
    "generate_messages",
    "load_state",
]
