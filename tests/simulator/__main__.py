# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""python -m tests.simulator: serve the simulator on 127.0.0.1 until SIGTERM."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import datetime
import json
import os
import signal
import sys
import threading
import time

from .api import DEFAULT_ACCOUNT_ID, DEFAULT_EMAIL, DEFAULT_KEY, DEFAULT_READ_ONLY_TOKEN, DEFAULT_TOKEN
from .quota import CLOUDFLARE_QUOTA, CLOUDFLARE_WINDOW
from .server import Simulator, load_state
from .user_reports import triage_scenario


def write_atomically(path, text):
    partial = path + ".partial"
    with open(partial, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(partial, path)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Cloudflare Email Security Investigate API simulator (127.0.0.1 only). Without --seed it "
        "accepts account id %s, the API token %s (Write), %s (Read) and the legacy API key %s with e-mail %s; a "
        "seed names its own (tests/simulator/seeds/demo.json: the same). A seed's dates, and the time each of its "
        "ids carries, are moved so that its newest message was sent an hour ago; the shift is printed at start-up "
        "and --ids-file writes each seeded id as served."
        % (DEFAULT_ACCOUNT_ID, DEFAULT_TOKEN, DEFAULT_READ_ONLY_TOKEN, DEFAULT_KEY, DEFAULT_EMAIL)
    )
    parser.add_argument("--port", type=int, default=0, help="port to bind on 127.0.0.1 (0: any free port)")
    parser.add_argument("--seed", help="JSON file with the account, credentials and messages")
    parser.add_argument("--generate", type=int, default=0, help="add N synthetic quarantined messages")
    parser.add_argument(
        "--campaign", type=int, default=0, help="add N synthetic quarantined messages received within the last day"
    )
    parser.add_argument(
        "--campaign-hours", type=float, default=24.0, help="the hours before the last full hour --campaign spans"
    )
    parser.add_argument(
        "--id-skew",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="the time each generated id carries runs this far ahead of its message's dates (negative: behind), as a "
        "clock that disagrees with the one the search filters on",
    )
    parser.add_argument(
        "--clean", type=int, default=0, help="add N synthetic messages delivered without quarantine (other mail)"
    )
    parser.add_argument(
        "--untimed", type=int, default=0, help="add N synthetic quarantined messages whose ids carry no time"
    )
    parser.add_argument("--ledger", help="append the ledger to this JSON-lines file")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every API request")
    parser.add_argument("--quota", type=int, help="requests allowed per window, announced in Ratelimit headers")
    parser.add_argument("--window", type=float, default=300.0, help="quota window in seconds")
    parser.add_argument("--lockout", type=float, help="seconds every request is refused after the quota is exceeded")
    parser.add_argument(
        "--cloudflare-quota",
        type=float,
        metavar="SCALE",
        help="Cloudflare's real rate limit: 1200 requests per 300 s per token and a 300 s lockout past it; "
        "SCALE 1 is the real thing, 0.01 keeps the count and shrinks window and lockout to 3 s for fast tests",
    )
    parser.add_argument("--url-file", help="also write the base URL to this file once serving (for test setups)")
    parser.add_argument(
        "--ids-file",
        help="also write, as JSON, each message's id as served keyed by its postfix id, and the seed's date shift in "
        "seconds (for test setups that name seeded messages)",
    )
    parser.add_argument(
        "--max-lifetime",
        type=float,
        help="stop after this many seconds even without SIGTERM, so a test run that died leaves no server behind",
    )
    parser.add_argument("--bulk-rate", type=float, default=2000.0, help="bulk job rows processed per second")
    parser.add_argument("--bulk-discovery-seconds", type=float, default=0.5, help="how long a bulk job discovers")
    parser.add_argument(
        "--accept-body",
        choices=("both", "object", "array"),
        default="object",
        help="release body forms accepted; anything but object is a drift from the contract",
    )
    parser.add_argument("--search-polls", type=int, default=0, help="answer searches with 202 this many times first")
    parser.add_argument(
        "--search-page-limit",
        type=int,
        default=1000,
        help="the largest search page served: the contract's 1000 (a larger per_page is refused with a 400 naming "
        "it), or up to 10000, as Cloudflare's changelog of 2026-03-15 announces",
    )
    parser.add_argument("--postfix-only", action="store_true", help="key release items by postfix_id only")
    parser.add_argument(
        "--skip-answer-checks",
        action="store_true",
        help="do not check answers against the contract (requests still are): for benchmarks, where checking a "
        "100-item answer costs more than the client's own work",
    )
    parser.add_argument(
        "--deployment",
        choices=["inline", "api"],
        help="inline: bad mail is quarantined; api: it is delivered, then moved out of the Inbox (overrides the seed)",
    )
    parser.add_argument(
        "--no-mailbox-integration", action="store_true", help="refuse every move with a 4XX, as an account without one"
    )
    parser.add_argument(
        "--user-reports",
        type=float,
        metavar="SECONDS",
        help="add the user-report triage scenario (docs/eda.md, section 2b): a phish campaign that got through, "
        "reported by three of its five recipients, a newsletter reported as phish, and a partner's invoice moved to "
        "Junk Email and reported as not phish; the reports arrive SECONDS after start, 3 s apart",
    )
    options = parser.parse_args(argv)

    state = load_state(
        options.seed,
        options.generate,
        options.ledger,
        options.campaign,
        options.clean,
        options.untimed,
        options.deployment,
        options.campaign_hours,
        options.id_skew,
    )
    state.mailbox_integration = not options.no_mailbox_integration
    if options.user_reports is not None:
        messages, reports = triage_scenario(
            datetime.datetime.now(datetime.timezone.utc), first_report_after=options.user_reports
        )
        state.add_messages(messages)
        state.add_submissions(reports)
    state.configure(
        {
            "latency": options.latency,
            "accept_body": options.accept_body,
            "search_polls": options.search_polls,
            "search_page_limit": options.search_page_limit,
            "postfix_only": options.postfix_only,
            "check_answers": not options.skip_answer_checks,
            "bulk_rate": options.bulk_rate,
            "bulk_discovery_seconds": options.bulk_discovery_seconds,
        }
    )
    if options.cloudflare_quota:
        state.set_quota(CLOUDFLARE_QUOTA, CLOUDFLARE_WINDOW * options.cloudflare_quota)
    elif options.quota:
        state.set_quota(options.quota, options.window, options.lockout)

    simulator = Simulator(state, options.port)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *args: stopping.set())
    signal.signal(signal.SIGINT, lambda *args: stopping.set())
    simulator.start()
    if options.ids_file:
        served = {message.postfix_id: message.id for message in state.messages.values()}
        write_atomically(
            options.ids_file,
            json.dumps({"date_shift_seconds": int(state.date_shift.total_seconds()), "ids": served}, indent=1),
        )
    if options.url_file:
        write_atomically(options.url_file, simulator.base_url + "\n")
    print("listening on %s" % simulator.base_url, flush=True)
    if options.seed:
        print(state.describe_date_shift(), flush=True)
    deadline = time.monotonic() + options.max_lifetime if options.max_lifetime else None
    while not stopping.wait(0.2):
        if deadline is not None and time.monotonic() > deadline:
            break
    simulator.stop()
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
