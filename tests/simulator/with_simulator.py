# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run one command against a fresh simulator, then stop it: nothing is left running.

    python -m tests.simulator.with_simulator --seed tests/simulator/seeds/demo.json -- ansible-playbook ...

(from the collection root).

The command gets CLOUDFLARE_ACCOUNT_ID, CLOUDFLARE_API_TOKEN and CLOUDFLARE_BASE_URL in its
environment, as an AWX credential would inject them. The exit code is the command's.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import os
import subprocess
import sys

from .server import Simulator, load_state


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", help="JSON seed file")
    parser.add_argument("--generate", type=int, default=0, help="add N synthetic quarantined messages")
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--ledger", help="append the ledger to this JSON-lines file")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    options = parser.parse_args(argv)
    command = options.command[1:] if options.command[:1] == ["--"] else options.command
    if not command:
        parser.error("give the command to run after --")

    state = load_state(options.seed, options.generate, options.ledger)
    state.configure({"latency": options.latency})
    with Simulator(state) as simulator:
        if options.seed:
            print("simulator: %s" % state.describe_date_shift(), flush=True)
        print("simulator listening on %s (%d messages)" % (simulator.base_url, len(state.messages)), flush=True)
        env = dict(
            os.environ,
            CLOUDFLARE_ACCOUNT_ID=state.account_id,
            CLOUDFLARE_API_TOKEN=state.api_token,
            CLOUDFLARE_BASE_URL=simulator.base_url,
        )
        code = subprocess.call(command, env=env)
        deliveries = state.deliveries()
        repeated = sum(1 for n in deliveries.values() if n > 1)
        print(
            "simulator ledger: %d request(s), %d message(s) delivered, %d delivered more than once, %d release(s) "
            "of an already released message"
            % (len(state.requests()), len(deliveries), repeated, len(state.double_deliveries())),
            flush=True,
        )
    print("simulator stopped", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
