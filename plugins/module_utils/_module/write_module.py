# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The whole of a module that writes per message (release, move, submission), once: its options checked before any
request, the write context built, the policy run by the write engine, and the report returned or failed."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.ids import repeated_warning
from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import ValidationError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._module.ansible_module import CloudflareModule
from ansible_collections.mailsec.cloudflare.plugins.module_utils._module.options import (
    check_write_options,
    write_argument_spec,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._write.engine import WriteContext, WriteEngine
from ansible_collections.mailsec.cloudflare.plugins.module_utils._write.report import WriteReport


class Requested:
    """What a task asks for, checked before any request: its unique ids (none when a search finds them), the ids it
    repeated, what is done to each (``acted``, for warnings), and ``make(context)``: (the policy, the search or
    None) for the write context of the run."""

    def __init__(self, message_ids, repeated, acted, make):
        self.message_ids = message_ids
        self.repeated = repeated
        self.acted = acted
        self.make = make


def context_options(params, settings):
    """The write context's options from a module's parameters and resolved settings."""
    return dict(
        settle_timeout=params["settle_timeout"],
        batch_size=params.get("batch_size"),
        concurrency=settings["concurrency"],
    )


def run_write_module(argument_spec, write_options, request, **rules):
    """Run a per-message write module. ``write_options``: the names of the write options it takes (from the one
    table in ``_module/options.py``); ``request(params, check_mode)``: a Requested, or ValidationError; ``rules``:
    AnsibleModule's (mutually_exclusive, required_one_of, required_if)."""
    spec = dict(argument_spec)
    spec.update(write_argument_spec(write_options))
    module = CloudflareModule(writes=True, argument_spec=spec, supports_check_mode=True, **rules)
    params = module.params
    try:
        check_write_options(params, write_options)
        requested = request(params, module.check_mode)
    except ValidationError as exc:
        module.fail_json(msg=str(exc))
    settings = module.resolve_settings()
    if requested.repeated:
        module.warn(repeated_warning(requested.repeated, requested.acted))
    client = module.client(settings)
    context = WriteContext(
        client,
        settings["account_id"],
        module.state,
        module.check_mode,
        module.warn,
        context_options(params, settings),
    )
    policy, search = requested.make(context)
    try:
        outcome = WriteEngine(context).run(policy, requested.message_ids)
    finally:
        client.close()
    report = WriteReport(policy, outcome)
    result = report.result(client, with_diff=module._diff)
    if search is not None:
        result.update(search=search.summary())
        for warning in search.warnings(requested.acted):
            module.warn(warning)
    failure = report.failure(params["fail_on_incomplete"])
    if failure is not None:
        module.fail_json(msg=failure, **result)
    module.exit_json(**result)
