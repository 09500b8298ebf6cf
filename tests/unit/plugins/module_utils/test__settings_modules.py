# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The settings-list modules' shared main bodies, run as a module is: argument spec, journal, summary."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.mailsec.cloudflare.plugins.module_utils._writes.settings_list import (
    ALLOW_POLICY,
    TRUSTED_DOMAIN,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._module.settings_modules import (
    run_settings_info_module,
    run_settings_module,
)
from ansible_collections.mailsec.cloudflare.tests.unit.plugins.conftest import ACCOUNT, BASE, TOKEN, envelope

DOMAINS = "%s/accounts/%s/email-security/settings/trusted_domains" % (BASE, ACCOUNT)
POLICIES = "%s/accounts/%s/email-security/settings/allow_policies" % (BASE, ACCOUNT)


def args(**extra):
    return dict(account_id=ACCOUNT, api_token=TOKEN, base_url=BASE, **extra)


def listing(*entries):
    return envelope(
        list(entries), result_info={"count": len(entries), "page": 1, "per_page": 1000, "total_count": len(entries)}
    )


def test_one_main_serves_either_list_by_its_kind(api, run_module):
    api.get(DOMAINS, json=listing())
    api.post(DOMAINS, json=envelope({"id": "d-1", "pattern": "partner.example", "is_recent": True}))

    outcome = run_module(lambda: run_settings_module(TRUSTED_DOMAIN), args(pattern="partner.example"))

    assert not outcome.failed and outcome.result["changed"]
    assert json.loads(api.calls[1].request.body)["is_recent"] is True
    assert outcome.result["summary"]["created"] == 1 and outcome.result["summary"]["requests_sent"] == 2


def test_settle_timeout_out_of_range_is_refused_before_any_request(api, run_module):
    outcome = run_module(lambda: run_settings_module(ALLOW_POLICY), args(pattern="a@b.example", settle_timeout=0))

    assert outcome.failed and "settle_timeout" in outcome.result["msg"]
    assert len(api.calls) == 0


def test_the_info_main_counts_expired_entries(api, run_module):
    expired = {
        "id": "p-1",
        "pattern": "a@b.example",
        "comments": "[mailsec.cloudflare expires_at=2020-01-01T00:00:00Z]",
    }
    api.get(POLICIES, json=listing(expired, {"id": "p-2", "pattern": "c@d.example", "comments": None}))

    outcome = run_module(lambda: run_settings_info_module(ALLOW_POLICY, "policies"), args())

    assert outcome.result["summary"] == dict(total=2, expired=1, requests_sent=1)
    assert [p["expired"] for p in outcome.result["policies"]] == [True, False]
