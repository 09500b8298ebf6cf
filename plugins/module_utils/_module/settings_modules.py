# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the allow policy and trusted domain modules do, once for both lists: their modules only name the list."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import CloudflareError, ValidationError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._module.ansible_module import CloudflareModule
from ansible_collections.mailsec.cloudflare.plugins.module_utils._module.options import (
    check_write_options,
    write_argument_spec,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._write.engine import WriteContext, WriteEngine
from ansible_collections.mailsec.cloudflare.plugins.module_utils._writes.settings_list import (
    PATTERN_TYPES,
    UNCHANGED,
    SettingsPolicy,
    declared_entries,
    read_list,
    settings_summary,
)

_WRITE_OPTIONS = ("settle_timeout",)
_ENTRY_OPTIONS = dict(
    state=dict(type="str", choices=["present", "absent"]),
    is_regex=dict(type="bool"),
    comments=dict(type="str"),
    expires_at=dict(type="str"),
    ttl=dict(type="str"),
    only_expired=dict(type="bool"),
)


def _entry_spec(kind):
    spec = dict(_ENTRY_OPTIONS, pattern=dict(type="str"))
    if kind.typed:
        spec["pattern_type"] = dict(type="str", choices=list(PATTERN_TYPES))
    spec.update((name, dict(type="bool")) for name in kind.flags)
    return spec


def run_settings_module(kind):
    """The email_security_allow_policy / _trusted_domain / _blocked_sender module for ``kind``."""
    spec = _entry_spec(kind)
    spec.update(state=dict(type="str", choices=["present", "absent"], default="present"))
    spec.update(only_expired=dict(type="bool", default=False))
    spec.update(write_argument_spec(_WRITE_OPTIONS))
    entry_spec = dict(_entry_spec(kind), pattern=dict(type="str", required=True))
    spec[kind.entries_option] = dict(type="list", elements="dict", options=entry_spec)
    module = CloudflareModule(
        writes=True,
        argument_spec=spec,
        mutually_exclusive=[("pattern", kind.entries_option), ("expires_at", "ttl")],
        required_one_of=[("pattern", kind.entries_option)],
        supports_check_mode=True,
    )
    try:
        check_write_options(module.params, _WRITE_OPTIONS)
        declared = declared_entries(kind, module.params)
    except ValidationError as exc:
        module.fail_json(msg=str(exc))
    settings = module.resolve_settings()
    client = module.client(settings)
    options = dict(settle_timeout=module.params["settle_timeout"])
    context = WriteContext(client, settings["account_id"], module.state, module.check_mode, module.warn, options)
    policy = SettingsPolicy(context, kind, declared)
    try:
        fatal = WriteEngine(context).run(policy).fatal
    finally:
        client.close()
    if fatal is not None:
        module.fail_json(msg=fatal.message, error=fatal.as_dict(), summary=settings_summary([], client.requests_sent))
    results, diff = policy.results(), policy.diff()
    result = dict(
        changed=any(r["action"] != UNCHANGED for r in results),
        results=results,
        summary=settings_summary(results, client.requests_sent),
    )
    if module._diff:
        # One declared entry: its diff; several: the diffs of the entries that change, a list Ansible renders.
        if module.params[kind.entries_option] is None and len(diff) == 1:
            result["diff"] = diff[0]
        else:
            result["diff"] = [entry for entry in diff if entry["before"] != entry["after"]]
    module.exit_json(**result)


def run_settings_info_module(kind, result_key):
    """The email_security_allow_policy_info / _trusted_domain_info / _blocked_sender_info module for ``kind``."""
    spec = dict(
        pattern=dict(type="str"),
        search=dict(type="str"),
        only_expired=dict(type="bool", default=False),
    )
    if kind.typed:
        spec["pattern_type"] = dict(type="str", choices=list(PATTERN_TYPES))
    spec.update((name, dict(type="bool")) for name in kind.filters)
    module = CloudflareModule(argument_spec=spec, supports_check_mode=True)
    settings = module.resolve_settings()
    client = module.client(settings)
    filters = {name: module.params[name] for name in spec if name != "only_expired"}
    try:
        entries = read_list(client, settings["account_id"], kind, filters, module.params["only_expired"])
    except CloudflareError as exc:
        module.fail_json(msg=exc.message, error=exc.as_dict())
    finally:
        client.close()
    module.exit_json(
        changed=False,
        **{result_key: entries},
        summary=dict(
            total=len(entries), expired=sum(1 for e in entries if e["expired"]), requests_sent=client.requests_sent
        ),
    )
