# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the property suites share: hypothesis settings bounded by count, the faults a write meets, and the
figures each suite leaves in tests/output for make test to print (tests/tools/exactly_once_summary.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import time

from hypothesis import HealthCheck, settings, strategies as st

from tests.simulator import ITEM_SHAPES

STATS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "output")


def bounded(max_examples):
    """Hypothesis settings for a suite of max_examples schedules, each bounded by its client's own deadline."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


def write_fault(max_processing_delay, shapes=True):
    """A fault on a write route: lost or broken answers, server errors, rate limits, slow processing (within the
    settle window, the guarantee's documented condition), answered failures, and odd item shapes."""
    faults = [
        st.builds(
            dict, kind=st.sampled_from(["drop_before", "drop_after", "reset_after", "malformed", "failed_with_items"])
        ),
        st.builds(dict, kind=st.just("status"), status=st.sampled_from([500, 502, 503])),
        st.builds(dict, kind=st.just("rate_limit"), retry_after=st.just(0)),
        st.builds(
            dict, kind=st.sampled_from(["slow_before", "slow_after"]), delay=st.floats(0.05, max_processing_delay)
        ),
        st.builds(
            dict,
            kind=st.just("status_after"),
            status=st.sampled_from([400, 409, 422, 500, 502]),
            message=st.sampled_from(["Invalid request body", "Conflict", "Internal error"]),
        ),
    ]
    if shapes:
        faults.append(st.builds(dict, kind=st.just("item_shapes"), shape=st.sampled_from(ITEM_SHAPES)))
    return st.one_of(faults)


def run_and_record(check, file_name, stats):
    """Run a hypothesis check, then write its figures (and the seconds it took) to tests/output/file_name."""
    started = time.monotonic()
    try:
        check()
    finally:
        stats["seconds"] = round(time.monotonic() - started, 1)
        os.makedirs(STATS_DIR, exist_ok=True)
        with open(os.path.join(STATS_DIR, file_name), "w") as target:
            json.dump(dict(stats), target)
