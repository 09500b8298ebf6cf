# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Print the totals the property suites left in tests/output (nothing for a suite that did not run).

The release suite writes one file per shard (exactly-once-shard*.json); every other suite one file of its own
(property-<name>.json), printed as it counts.
"""

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
    for path in sorted(glob.glob(os.path.join(directory, "property-*.json"))):
        with open(path, encoding="utf-8") as source:
            counts = json.load(source)
        name = os.path.basename(path)[len("property-") : -len(".json")].replace("-", " ")
        print("%s property suite: %s" % (name, ", ".join("%s %s" % (key, counts[key]) for key in sorted(counts))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
