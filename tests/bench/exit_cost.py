# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What handing N release results back to Ansible costs (issue 27): ``exit_json`` of the collection's module class,
with the credential masking and Ansible's own handling of the result (its no_log pass, JSON), in a fresh interpreter
per size. Run as a script it measures one size: ``python exit_cost.py N``."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import io
import json
import os
import platform
import subprocess
import sys
import time

SIZES = (10000, 100000)
TOKEN = "bench-" + "A1b2C3d4" * 5


def _results(count):
    return [
        {
            "id": "AbCdEfGhIjKlMnOp-2026-11-%02dT10:00:00-%08d" % (1 + n % 28, n),
            "status": "released",
            "delivered": ["user%d@corp.example" % (n % 50), "user%d@corp.example" % ((n + 1) % 50)],
            "failed": [],
            "undelivered": [],
            "detail": None,
            "postfix_id": "AbCdEfGhIjKlMnOp",
        }
        for n in range(count)
    ]


def _one(count):
    """(seconds in exit_json, of which the collection's masking, of which Ansible's no_log pass, bytes printed) for
    ``count`` results; the token must not be in what is printed. The two parts are timed again on their own, on
    the same result, since exit_json does not say where its time went."""
    from ansible.module_utils import basic
    from ansible.module_utils.common.parameters import remove_values

    arguments = {"api_token": TOKEN, "account_id": "023e105f4ecef8ad9ca31a8372d0c353", "message_ids": ["x"]}
    # ansible-core 2.19 and later read the serialization profile beside the arguments; earlier ones ignore it.
    basic._ANSIBLE_PROFILE = "legacy"
    basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": arguments}).encode("utf-8")
    from ansible_collections.mailsec.cloudflare.plugins.module_utils._module.ansible_module import CloudflareModule
    from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.client import redact

    module = CloudflareModule(argument_spec={"message_ids": {"type": "list", "elements": "str"}})
    module.resolve_settings()
    results = _results(count)
    result = dict(changed=True, results=results, released_ids=[r["id"] for r in results], incomplete_ids=[])
    printed = io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(printed), contextlib.suppress(SystemExit):
        module.exit_json(**result)
    seconds = time.perf_counter() - started
    if TOKEN in printed.getvalue():
        raise AssertionError("the token was printed")
    started = time.perf_counter()
    masked = redact(result, module._secrets)
    masking = time.perf_counter() - started
    started = time.perf_counter()
    remove_values(masked, module.no_log_values)
    ansible_pass = time.perf_counter() - started
    return seconds, masking, ansible_pass, len(printed.getvalue().encode("utf-8"))


def measure(sizes=SIZES):
    """{size: (seconds, masking seconds, Ansible's pass seconds, megabytes)}, each size in an interpreter of its
    own."""
    figures = {}
    for size in sizes:
        output = subprocess.run(
            [sys.executable, os.path.abspath(__file__), str(size)],
            capture_output=True,
            text=True,
            check=True,
            # The collection is importable here however the benchmark found it; so it is in the child.
            env=dict(os.environ, PYTHONPATH=os.pathsep.join(path for path in sys.path if path)),
        ).stdout
        seconds, masking, ansible_pass, printed = json.loads(output.strip().splitlines()[-1])
        figures[size] = (seconds, masking, ansible_pass, printed / 1e6)
    return figures


def ansible_version():
    from ansible.release import __version__

    return __version__


def render(figures):
    lines = [
        "",
        "## What handing the results back costs",
        "",
        "`exit_json` for N release results (two recipients each), measured in a fresh interpreter per size: the "
        "collection's masking of every form of the credential (a scan of the result's JSON text, the walk only when "
        "a form is in it), then Ansible's own handling (its pass over the no_log values, JSON); ansible-core %s, "
        "Python %s. The two passes are timed again on their own on the same result. Ansible's pass copies every "
        "value of the result whatever it looks for (an empty set of no_log values included), and AnsibleModule "
        "offers no way around it; it costs what the number of values in the result costs, which the documented "
        "result shape fixes." % (ansible_version(), platform.python_version()),
        "",
        "| results | exit_json | the collection's masking, on its own | Ansible's no_log pass, on its own | printed |",
        "|---|---|---|---|---|",
    ]
    for size, (seconds, masking, ansible_pass, megabytes) in sorted(figures.items()):
        lines.append("| %d | %.2f s | %.3f s | %.2f s | %.1f MB |" % (size, seconds, masking, ansible_pass, megabytes))
    return lines


if __name__ == "__main__":
    print(json.dumps(_one(int(sys.argv[1]))))
