# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""AnsibleModule glue shared by every module: options, credentials, client, redacted exit and fail."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import difflib
import os
import time

from ansible.module_utils import basic
from ansible.module_utils.basic import AnsibleModule, heuristic_log_sanitize, missing_required_lib

from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.client import (
    HAS_REQUESTS,
    REQUESTS_IMPORT_ERROR,
    redact,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._state.local import (
    MissingLibraryError,
    ephemeral_state_notice,
    open_state,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import StateStoreError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._module.options import (
    CONNECTION_ARGUMENT_SPEC,
    CONNECTION_MUTUALLY_EXCLUSIVE,
    CONNECTION_REQUIRED_TOGETHER,
    ENV_API_KEY,
    ENV_API_TOKEN,
    ENV_STATE_DSN,
    resolve_connection,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import ValidationError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.connect import connect
from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.progress import Progress

# What Ansible itself shows for a no_log option's value.
NO_LOG_PLACEHOLDER = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


class CloudflareModule(AnsibleModule):
    """An AnsibleModule with the connection options, a client factory and output that never holds a secret."""

    def __init__(self, argument_spec, writes=False, **kwargs):
        self._secrets = []
        self.state = None
        self._client = None
        # A module that writes keeps a journal and takes the account lock: it says when they will not last.
        self._writes = writes
        spec = copy.deepcopy(CONNECTION_ARGUMENT_SPEC)
        spec.update(argument_spec)
        # Ansible reports a misspelt option as a missing one when another check fails first (message_id: gives
        # "one of message_ids, search is required"): the refusal says the misspelling first.
        # Looked up on the module when called: tools that read a module's spec (validate-modules) replace it there.
        self._misspelt = misspelt_options(basic._load_params(), spec)  # pylint: disable=protected-access
        super(CloudflareModule, self).__init__(
            argument_spec=spec,
            mutually_exclusive=CONNECTION_MUTUALLY_EXCLUSIVE + kwargs.pop("mutually_exclusive", []),
            required_together=CONNECTION_REQUIRED_TOGETHER + kwargs.pop("required_together", []),
            **kwargs,
        )
        self._misspelt = None
        if not HAS_REQUESTS:
            self.fail_json(msg=missing_required_lib("requests"), exception=REQUESTS_IMPORT_ERROR)

    def resolve_settings(self):
        """The connection settings, or a failed task naming the option or variable to fix; sends nothing."""
        # Whatever happens next, every form of a credential given in any source is masked, the raw one
        # included (a trailing line break is removed before use, not before masking).
        self._secrets = [
            value
            for value in (
                self.params.get("api_token"),
                self.params.get("api_key"),
                os.environ.get(ENV_API_TOKEN),
                os.environ.get(ENV_API_KEY),
            )
            if value
        ]
        self._secrets.extend(_dsn_secrets(self.params.get("state_dsn"), os.environ.get(ENV_STATE_DSN)))
        if self.params.get("state_dsn") or os.environ.get(ENV_STATE_DSN):
            # libpq's own variable, as the AWX credential type injects the password.
            self._secrets.extend(value for value in [os.environ.get("PGPASSWORD")] if value)
        notices = []
        try:
            settings = resolve_connection(self.params, os.environ, notices)
        except ValidationError as exc:
            self._refuse(str(exc))
        # Credentials read from the environment are not module parameters, so Ansible's no_log does
        # not know them: register them for masking like the parameters.
        self._secrets.extend(value for value in (settings["api_token"], settings["api_key"]) if value)
        # Not registered with ansible-core 2.22's own masking (ansible.module_utils.secrets) as well: it hands each
        # secret back in the module's raw result (_ansible_new_secrets), which ANSIBLE_DEBUG prints in clear.
        self.no_log_values.update(self._secrets)
        for notice in notices:
            self.warn(notice)
        return settings

    def _refuse(self, message):
        """Fail on refused connection settings, every credential given still masked wherever Ansible prints.

        The refusal never quotes a credential. Only a value that the refusal's own words happen to contain (a
        token "e") is left out of the masking, which would garble the message while hiding nothing; the
        invocation is then masked by option name instead of by value.
        """
        spelled_by_chance = {value for value in self._secrets if value in message}
        self._secrets = [value for value in self._secrets if value not in spelled_by_chance]
        self.no_log_values.difference_update(spelled_by_chance)
        masked = {
            name: NO_LOG_PLACEHOLDER if spec.get("no_log") and value is not None else value
            for name, value in self.params.items()
            for spec in [self.argument_spec.get(name) or {}]
        }
        # A base_url holding user:password@ is refused; the refusal must not print the password it refuses.
        if isinstance(masked.get("base_url"), str):
            masked["base_url"] = heuristic_log_sanitize(masked["base_url"])
        self.fail_json(msg=message, invocation={"module_args": masked})

    def open_state(self, settings):
        """The state store the settings choose (``self.state``), or a failed task before any Cloudflare request."""
        try:
            self.state = open_state(settings)
        except MissingLibraryError as exc:
            self.fail_json(msg="%s: %s" % (exc.message, missing_required_lib(exc.library)), exception=exc.import_error)
        except StateStoreError as exc:
            self.fail_json(msg=exc.message)
        notice = ephemeral_state_notice(settings, self.params.get("state_dir"), os.environ) if self._writes else None
        if notice is not None and not self.check_mode:
            self.warn(notice)
        return self.state

    def client(self, settings):
        """A client paced on the state store's budget; the store is opened first when it is not yet."""
        state = self.state or self.open_state(settings)
        try:
            self._client = connect(
                settings,
                self.warn,
                deadline=time.monotonic() + settings["task_timeout"],
                state=state,
                progress=Progress.from_environment(os.environ, lambda text: redact(text, self._secrets)),
            )
        except OSError as exc:
            self.fail_json(
                msg="state_dir %s cannot be used for the shared request budget (%s); set state_dir or "
                "MAILSEC_CLOUDFLARE_STATE_DIR to a writable directory" % (settings["state_dir"], exc)
            )
        self._client.verbosity = self._verbosity
        self._client.verbose = self._verbosity >= 3
        return self._client

    # Ansible masks no_log values in what a module returns, but only raw values, and never in dict
    # keys; server text (errors, notices, unexpected items) may quote a credential in any form, so
    # everything leaving the module is masked here, keys and escaped forms included.
    def warn(self, warning):
        super(CloudflareModule, self).warn(redact(warning, self._secrets))

    def exit_json(self, **kwargs):
        super(CloudflareModule, self).exit_json(**redact(kwargs, self._secrets))

    def fail_json(self, msg, **kwargs):
        if getattr(self, "_misspelt", None):
            msg = "%s; %s" % (self._misspelt, msg)
        # A task that could not reach the API says so first, with what to check, whatever it then counts.
        unreachable = self._client.unreachable if getattr(self, "_client", None) is not None else None
        if unreachable and unreachable not in msg:
            msg = "%s%s. %s" % (unreachable[0].upper(), unreachable[1:], msg)
        super(CloudflareModule, self).fail_json(msg=redact(msg, self._secrets), **redact(kwargs, self._secrets))


def misspelt_options(params, spec):
    """What to say of the task's options that are no option of the module, each with the nearest it may have
    meant; None when there are none (or when no task's options are to be had, as when a tool reads the spec)."""
    if not isinstance(params, dict):
        return None
    known = set(spec)
    for option in spec.values():
        known.update(option.get("aliases") or ())
    unknown = sorted(name for name in params if name not in known and not name.startswith("_ansible_"))
    if not unknown:
        return None
    described = []
    for name in unknown:
        nearest = difflib.get_close_matches(name, sorted(spec), n=1, cutoff=0.6)
        described.append("%s (did you mean %s?)" % (name, nearest[0]) if nearest else name)
    return "unsupported option%s %s" % ("s" if len(unknown) > 1 else "", ", ".join(described))


def _dsn_secrets(*dsns):
    """The forms of each DSN's password that output must never hold; psycopg's parser only if a DSN is given."""
    dsns = [dsn for dsn in dsns if dsn]
    if not dsns:
        return []
    from ansible_collections.mailsec.cloudflare.plugins.module_utils._state.postgres import dsn_secrets

    return [secret for dsn in dsns for secret in dsn_secrets(dsn)]
