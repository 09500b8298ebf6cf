# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What every module shares: the connection options merged in, credentials resolved and masked everywhere."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


from ansible_collections.mailsec.cloudflare.plugins.module_utils._module.ansible_module import (
    CloudflareModule,
    misspelt_options,
)
from ansible_collections.mailsec.cloudflare.tests.unit.plugins.conftest import ACCOUNT, BASE, TOKEN


def settings_main(**spec):
    def main():
        module = CloudflareModule(argument_spec=spec)
        settings = module.resolve_settings()
        module.exit_json(settings=settings, echoed="server said %s" % settings["api_token"])

    return main


def test_the_connection_options_are_merged_into_every_argument_spec(run_module):
    outcome = run_module(
        settings_main(extra=dict(type="str")), dict(account_id=ACCOUNT, api_token=TOKEN, base_url=BASE, extra="x")
    )

    assert outcome.result["settings"]["account_id"] == ACCOUNT
    assert outcome.result["settings"]["base_url"] == BASE


def test_a_task_argument_wins_over_the_environment(run_module, monkeypatch):
    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", "f" * 32)
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "env-token-0123456789abcdef")

    outcome = run_module(settings_main(), dict(account_id=ACCOUNT, base_url=BASE))

    assert outcome.result["settings"]["account_id"] == ACCOUNT
    # A token from the environment is no module parameter: it is masked like one all the same.
    assert "env-token" not in outcome.result["echoed"]


def test_a_missing_credential_names_the_option_and_the_variable_and_sends_nothing(api, run_module):
    outcome = run_module(settings_main(), dict(account_id=ACCOUNT, base_url=BASE))

    assert outcome.failed
    assert "api_token" in outcome.result["msg"] and "CLOUDFLARE_API_TOKEN" in outcome.result["msg"]
    assert len(api.calls) == 0


def test_a_refused_credential_stays_masked_in_the_invocation(run_module):
    outcome = run_module(settings_main(), dict(account_id="not-hex", api_token=TOKEN, base_url=BASE))

    assert outcome.failed and "account_id" in outcome.result["msg"]
    assert TOKEN not in str(outcome.result)
    assert outcome.result["invocation"]["module_args"]["api_token"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def test_a_misspelt_option_is_named_with_the_nearest_one_and_nothing_is_said_without_options():
    spec = {"message_ids": {"aliases": ["ids"]}, "search": {}}

    assert misspelt_options({"message_id": ["a"], "_ansible_check_mode": False}, spec) == (
        "unsupported option message_id (did you mean message_ids?)"
    )
    assert misspelt_options({"ids": ["a"], "zzz": 1, "serch": {}}, spec) == (
        "unsupported options serch (did you mean search?), zzz"
    )
    assert misspelt_options(None, spec) is None and misspelt_options({"ids": []}, spec) is None
