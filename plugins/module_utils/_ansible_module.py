# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""AnsibleModule glue shared by every module: options, credentials, client, redacted exit and fail."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import os
import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.mailsec.cloudflare.plugins.module_utils._client import (
    HAS_REQUESTS,
    REQUESTS_IMPORT_ERROR,
    CloudflareClient,
    redact,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._options import (
    CONNECTION_ARGUMENT_SPEC,
    CONNECTION_MUTUALLY_EXCLUSIVE,
    CONNECTION_REQUIRED_TOGETHER,
    ValidationError,
    resolve_connection,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._pacing import RequestPacer

RATE_LIMIT_WINDOW_SECONDS = 300.0


class CloudflareModule(AnsibleModule):
    """An AnsibleModule with the connection options, a client factory and output that never holds a secret."""

    def __init__(self, argument_spec, **kwargs):
        self._secrets = []
        spec = copy.deepcopy(CONNECTION_ARGUMENT_SPEC)
        spec.update(argument_spec)
        super(CloudflareModule, self).__init__(
            argument_spec=spec,
            mutually_exclusive=CONNECTION_MUTUALLY_EXCLUSIVE + kwargs.pop("mutually_exclusive", []),
            required_together=CONNECTION_REQUIRED_TOGETHER + kwargs.pop("required_together", []),
            **kwargs)
        if not HAS_REQUESTS:
            self.fail_json(msg=missing_required_lib("requests"), exception=REQUESTS_IMPORT_ERROR)

    def resolve_settings(self):
        """The connection settings, or a failed task naming the option or variable to fix; sends nothing."""
        try:
            settings = resolve_connection(self.params, os.environ)
        except ValidationError as exc:
            self.fail_json(msg=str(exc))
        # Credentials read from the environment are not module parameters, so Ansible's no_log does
        # not know them: register them for masking like the parameters.
        self._secrets = [s for s in (settings["api_token"], settings["api_key"]) if s]
        self.no_log_values.update(self._secrets)
        return settings

    def client(self, settings):
        pacer = RequestPacer(limit=settings["rate_limit"], window=RATE_LIMIT_WINDOW_SECONDS,
                             reserve=settings["concurrency"], on_pause=self.warn)
        return CloudflareClient(
            api_token=settings["api_token"], api_email=settings["api_email"], api_key=settings["api_key"],
            base_url=settings["base_url"], timeout=settings["timeout"], validate_certs=settings["validate_certs"],
            ca_path=settings["ca_path"], retries=settings["retries"], max_retry_wait=settings["max_retry_wait"],
            pacer=pacer, deadline=time.monotonic() + settings["task_timeout"], pool_size=settings["concurrency"],
            on_retry=self.warn)

    # API errors arrive redacted from the client, and Ansible masks no_log values in whatever a
    # module returns; warnings and messages are masked here as well because they are built from
    # text a server sent.
    def warn(self, warning):
        super(CloudflareModule, self).warn(redact(warning, self._secrets))

    def fail_json(self, msg, **kwargs):
        super(CloudflareModule, self).fail_json(msg=redact(msg, self._secrets), **kwargs)
