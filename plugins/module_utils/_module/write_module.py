# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The whole of a module that writes, once: its options checked before any request, the write context built, the
policy run by the write engine, and the report returned or failed; per message (release, move, submission) or by a
bulk job."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.ids import repeated_warning
from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import ValidationError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._module.ansible_module import CloudflareModule
from ansible_collections.mailsec.cloudflare.plugins.module_utils._module.options import (
    check_write_options,
    write_argument_spec,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.search import QuarantineSearch, search_spec
from ansible_collections.mailsec.cloudflare.plugins.module_utils._write.engine import Clocks, WriteContext, WriteEngine
from ansible_collections.mailsec.cloudflare.plugins.module_utils._write.report import WriteReport
from ansible_collections.mailsec.cloudflare.plugins.module_utils._writes.bulk import (
    RELEASE_JOB,
    BulkAction,
    BulkCreatePolicy,
    BulkJobs,
    bulk_release,
    intent_key,
    job_comment,
    validate_wait_options,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._writes.move import MailboxSearch, check_destination


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


def _bulk_action(params, check_mode):
    """The job's BulkAction, or ValidationError before any request."""
    if params["action"] == "release":
        if params["destination"] is not None:
            raise ValidationError("destination is for action: move; a release job delivers to the recipients' inboxes")
        return RELEASE_JOB
    check_destination(params["destination"], params["confirm_purge"], check_mode)
    return BulkAction("MOVE", params["destination"])


def run_bulk_module(argument_spec, write_options):
    """Run email_security_bulk_release: the job of the task's intent found or created through the write engine,
    waited for, its rows read, the report returned or failed."""
    spec = dict(argument_spec)
    spec.update(write_argument_spec(write_options))
    module = CloudflareModule(
        writes=True, argument_spec=spec, required_if=[("action", "move", ["destination"])], supports_check_mode=True
    )
    params = module.params
    try:
        check_write_options(params, write_options)
        search = search_spec(params["search"])
        validate_wait_options(params["wait_timeout"], params["poll_interval"])
        action = _bulk_action(params, module.check_mode)
    except ValidationError as exc:
        module.fail_json(msg=str(exc))
    settings = module.resolve_settings()
    account_id = settings["account_id"]
    intent = intent_key(
        account_id, search.as_search_params(), params["key"], params["reason"], params["ticket"], action
    )
    client = module.client(settings)
    jobs = BulkJobs(client, account_id, action=action)
    options = dict(settle_timeout=params["settle_timeout"], clocks=Clocks(sleep=jobs.pause))
    context = WriteContext(client, account_id, module.state, module.check_mode, module.warn, options)
    policy = BulkCreatePolicy(context, jobs, search, intent, job_comment(intent, params["reason"], params["ticket"]))
    counted = MailboxSearch if action.moves else QuarantineSearch
    try:
        report = bulk_release(policy, lambda: counted(client, account_id, search).count_capped(), params)
    finally:
        client.close()
    result = report.result(client.requests_sent, with_diff=module._diff)
    failure = report.failure(params["fail_on_incomplete"], params["wait"])
    if failure is not None:
        module.fail_json(msg=failure, **result)
    module.exit_json(**result)
