# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Print the totals the exactly-once property suite left in tests/output (nothing when it did not run)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import json
import os
import sys

KEYS = ("schedules", "faults_injected", "double_deliveries", "status_contradictions", "seconds")


def main(directory):
    shards = []
    for path in sorted(glob.glob(os.path.join(directory, "exactly-once-shard*.json"))):
        with open(path, encoding="utf-8") as source:
            shards.append(json.load(source))
    if shards:
        totals = [sum(shard[key] for shard in shards) for key in KEYS]
        print(
            "exactly-once property suite: %d schedules, %d faults injected, %d double deliveries, "
            "%d status contradictions (%.0f s over %d shards)" % tuple(totals + [len(shards)])
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
