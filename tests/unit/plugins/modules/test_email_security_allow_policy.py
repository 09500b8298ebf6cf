# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Allow policies and trusted domains as resources (issue 16), call by call: one engine, two lists."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json

import pytest
import requests

from ansible_collections.mailsec.cloudflare.plugins.module_utils._module import ansible_module
from ansible_collections.mailsec.cloudflare.plugins.modules import (
    email_security_allow_policy,
    email_security_allow_policy_info,
    email_security_trusted_domain,
    email_security_trusted_domain_info,
)
from ansible_collections.mailsec.cloudflare.tests.unit.plugins.conftest import ACCOUNT, BASE, TOKEN, envelope

BLOCKS = "%s/accounts/%s/email-security/settings/block_senders" % (BASE, ACCOUNT)
POLICIES = "%s/accounts/%s/email-security/settings/allow_policies" % (BASE, ACCOUNT)
DOMAINS = "%s/accounts/%s/email-security/settings/trusted_domains" % (BASE, ACCOUNT)
SENDER = "invoices@partner.example"
EOL_FIELDS = {"is_sender", "is_recipient", "is_spoof", "last_modified"}


def args(**extra):
    base = dict(account_id=ACCOUNT, api_token=TOKEN, base_url=BASE)
    base.update(extra)
    return base


def moment(days):
    return (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def policy(pattern=SENDER, policy_id="p-1", comments=None, **fields):
    entry = dict(
        id=policy_id,
        pattern=pattern,
        pattern_type="EMAIL",
        is_acceptable_sender=True,
        is_trusted_sender=False,
        is_exempt_recipient=False,
        verify_sender=True,
        is_regex=False,
        comments=comments,
        created_at="2026-11-20T10:00:00Z",
        modified_at="2026-11-20T10:00:00Z",
        # Still in Cloudflare's answers until their end of life; never sent, never returned.
        is_sender=False,
        is_spoof=True,
        last_modified="2026-11-20T10:00:00Z",
    )
    entry.update(fields)
    return entry


def listing(*entries):
    return envelope(list(entries), result_info={"count": len(entries), "page": 1, "per_page": 1000})


def body_of(call):
    return json.loads(call.request.body)


def test_a_missing_policy_is_created_with_every_required_field_and_its_expiry(api, run_module):
    # A sender cannot be both allowed and blocked: the block list is read first.
    api.get(BLOCKS, json=listing())
    api.get(POLICIES, json=listing())
    api.post(POLICIES, status=201, json=envelope(policy()))
    expires = moment(30)

    outcome = run_module(email_security_allow_policy.main, args(pattern=SENDER, comments="INC-1", expires_at=expires))

    assert "pattern=invoices%40partner.example" in api.calls[1].request.url
    assert "pattern_type=EMAIL" in api.calls[1].request.url
    assert body_of(api.calls[2]) == {
        "pattern": SENDER,
        "pattern_type": "EMAIL",
        "is_acceptable_sender": True,
        "is_trusted_sender": False,
        "is_exempt_recipient": False,
        "verify_sender": True,
        "is_regex": False,
        "comments": "INC-1 [mailsec.cloudflare expires_at=%s]" % expires,
    }
    result = outcome.result
    assert not outcome.failed and result["changed"] is True
    assert result["results"][0]["action"] == "created"
    assert result["results"][0]["id"] == "p-1"
    assert result["results"][0]["expires_at"] == expires
    assert result["summary"]["requests_sent"] == 3


def test_a_policy_as_declared_is_left_alone(api, run_module):
    expires = moment(10)
    # A sender cannot be both allowed and blocked: the block list is read first.
    api.get(BLOCKS, json=listing())
    api.get(POLICIES, json=listing(policy(comments="INC-1 [mailsec.cloudflare expires_at=%s]" % expires)))

    outcome = run_module(email_security_allow_policy.main, args(pattern=SENDER, comments="INC-1", expires_at=expires))

    assert outcome.result["changed"] is False
    assert outcome.result["results"][0]["action"] == "unchanged"
    assert len(api.calls) == 2


def test_empty_comments_made_elsewhere_are_left_alone(api, run_module):
    # A sender cannot be both allowed and blocked: the block list is read first.
    api.get(BLOCKS, json=listing())
    api.get(POLICIES, json=listing(policy(comments="")))

    outcome = run_module(email_security_allow_policy.main, args(pattern=SENDER))

    assert outcome.result["changed"] is False
    assert len(api.calls) == 2


def test_a_ttl_does_not_move_a_running_expiry_on_a_rerun(api, run_module):
    running = moment(3)
    # A sender cannot be both allowed and blocked: the block list is read first.
    api.get(BLOCKS, json=listing())
    api.get(POLICIES, json=listing(policy(comments="INC-1 [mailsec.cloudflare expires_at=%s]" % running)))

    outcome = run_module(email_security_allow_policy.main, args(pattern=SENDER, comments="INC-1", ttl="30d"))

    assert outcome.result["changed"] is False
    assert outcome.result["results"][0]["expires_at"] == running


def test_a_ttl_renews_an_expiry_that_has_passed(api, run_module):
    # A sender cannot be both allowed and blocked: the block list is read first.
    api.get(BLOCKS, json=listing())
    api.get(POLICIES, json=listing(policy(comments="[mailsec.cloudflare expires_at=%s]" % moment(-1))))
    api.patch(POLICIES + "/p-1", json=envelope(policy()))

    outcome = run_module(email_security_allow_policy.main, args(pattern=SENDER, ttl="7d"))

    sent = body_of(api.calls[2])
    assert list(sent) == ["comments"]
    assert outcome.result["results"][0]["expires_at"] > moment(6)


def test_only_the_fields_that_differ_are_patched_and_the_diff_shows_them(api, run_module):
    # A sender cannot be both allowed and blocked: the block list is read first.
    api.get(BLOCKS, json=listing())
    api.get(POLICIES, json=listing(policy(comments="INC-1")))
    api.patch(POLICIES + "/p-1", json=envelope(policy(is_trusted_sender=True, comments="INC-1")))

    outcome = run_module(email_security_allow_policy.main, args(pattern=SENDER, is_trusted_sender=True), diff=True)

    assert api.calls[2].request.method == "PATCH"
    assert body_of(api.calls[2]) == {"is_trusted_sender": True}
    result = outcome.result
    assert result["results"][0]["action"] == "updated"
    assert result["diff"]["before"]["is_trusted_sender"] is False
    assert result["diff"]["after"]["is_trusted_sender"] is True
    assert result["diff"]["after"]["comments"] == "INC-1"
    assert not EOL_FIELDS & set(result["diff"]["before"])


def test_absent_deletes_the_policy(api, run_module):
    api.get(POLICIES, json=listing(policy()))
    api.delete(POLICIES + "/p-1", json=envelope({"id": "p-1"}))

    outcome = run_module(email_security_allow_policy.main, args(pattern=SENDER, state="absent"))

    assert outcome.result["changed"] is True
    assert outcome.result["results"][0]["action"] == "deleted"
    assert outcome.result["results"][0]["after"] is None


def test_absent_with_only_expired_keeps_a_policy_still_running(api, run_module):
    api.get(POLICIES, json=listing(policy(comments="[mailsec.cloudflare expires_at=%s]" % moment(1))))

    outcome = run_module(email_security_allow_policy.main, args(pattern=SENDER, state="absent", only_expired=True))

    assert outcome.result["changed"] is False
    assert len(api.calls) == 1


def test_check_mode_only_reads_and_predicts(api, run_module):
    # A sender cannot be both allowed and blocked: the block list is read first.
    api.get(BLOCKS, json=listing())
    api.get(POLICIES, json=listing())

    outcome = run_module(email_security_allow_policy.main, args(pattern=SENDER, ttl="1d"), check_mode=True, diff=True)

    assert [call.request.method for call in api.calls] == ["GET", "GET"]
    result = outcome.result
    assert result["changed"] is True
    assert result["results"][0]["action"] == "would_create"
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"]["pattern"] == SENDER


def test_many_policies_go_in_one_batch_after_one_listing(api, run_module):
    # A sender cannot be both allowed and blocked: the block list is read first.
    api.get(BLOCKS, json=listing())
    api.get(POLICIES, json=listing(policy(), policy("old@partner.example", "p-2")))
    api.post(
        POLICIES + "/batch",
        json=envelope(
            {
                "deletes": [{"id": "p-2"}],
                "patches": [policy(comments="INC-2")],
                "puts": [],
                "posts": [policy("203.0.113.0/24", "p-3", pattern_type="IP")],
            }
        ),
    )

    outcome = run_module(
        email_security_allow_policy.main,
        args(
            comments="INC-2",
            policies=[
                {"pattern": SENDER},
                {"pattern": "203.0.113.0/24", "verify_sender": False},
                {"pattern": "old@partner.example", "state": "absent"},
            ],
        ),
    )

    assert "pattern=" not in api.calls[1].request.url and "per_page=1000" in api.calls[1].request.url
    batch = body_of(api.calls[2])
    assert batch["deletes"] == [{"id": "p-2"}]
    assert batch["patches"] == [{"id": "p-1", "comments": "INC-2"}]
    assert batch["puts"] == []
    assert [(p["pattern"], p["pattern_type"], p["verify_sender"]) for p in batch["posts"]] == [
        ("203.0.113.0/24", "IP", False)
    ]
    assert [r["action"] for r in outcome.result["results"]] == ["updated", "created", "deleted"]
    assert outcome.result["results"][1]["id"] == "p-3"
    assert outcome.result["summary"]["requests_sent"] == 3


def test_a_lost_create_that_landed_is_found_not_sent_again(api, run_module):
    # A sender cannot be both allowed and blocked: the block list is read first.
    api.get(BLOCKS, json=listing())
    api.get(POLICIES, json=listing())
    api.post(POLICIES, body=requests.exceptions.ReadTimeout("read timed out"))
    api.get(POLICIES, json=listing(policy()))

    outcome = run_module(email_security_allow_policy.main, args(pattern=SENDER))

    assert not outcome.failed
    assert [call.request.method for call in api.calls] == ["GET", "GET", "POST", "GET"]
    assert outcome.result["results"][0]["id"] == "p-1"


def test_a_lost_create_the_list_does_not_show_within_settle_timeout_is_created_once_more(api, run_module, mocker):
    warn = mocker.spy(ansible_module.CloudflareModule, "warn")
    # A sender cannot be both allowed and blocked: the block list is read first.
    api.get(BLOCKS, json=listing())
    api.get(POLICIES, json=listing())
    api.post(POLICIES, body=requests.exceptions.ReadTimeout("read timed out"))
    # The settle rule: the list read at once, after 1, 2 and 4 s, and once the window has closed; then the create
    # provably never landed, and is sent again.
    for dummy in range(5):
        api.get(POLICIES, json=listing())
    api.post(POLICIES, json=envelope(policy(SENDER, "p-9")))

    outcome = run_module(email_security_allow_policy.main, args(pattern=SENDER, settle_timeout=10))

    assert not outcome.failed, outcome.result
    assert [call.request.method for call in api.calls] == ["GET", "GET", "POST"] + ["GET"] * 5 + ["POST"]
    assert outcome.result["results"][0]["action"] == "created"
    assert outcome.result["results"][0]["id"] == "p-9"
    assert any("it is not resent before then" in call.args[1] for call in warn.call_args_list)


def test_a_lost_create_with_no_retries_left_fails_saying_it_never_landed(api, run_module):
    # A sender cannot be both allowed and blocked: the block list is read first.
    api.get(BLOCKS, json=listing())
    api.get(POLICIES, json=listing())
    api.post(POLICIES, body=requests.exceptions.ReadTimeout("read timed out"))
    for dummy in range(5):
        api.get(POLICIES, json=listing())

    outcome = run_module(email_security_allow_policy.main, args(pattern=SENDER, settle_timeout=10, retries=0))

    assert outcome.failed
    assert "did not show the change 10 s after each of 1 requests" in outcome.result["msg"]
    assert "Run the task again" in outcome.result["msg"]
    assert [call.request.method for call in api.calls] == ["GET", "GET", "POST"] + ["GET"] * 5


def test_a_refused_change_is_read_back_not_resent_and_fails_with_cloudflares_error(api, run_module):
    # A sender cannot be both allowed and blocked: the block list is read first.
    api.get(BLOCKS, json=listing())
    api.get(POLICIES, json=listing())
    api.post(POLICIES, status=400, json=envelope(None, False, [{"code": 1001, "message": "pattern refused"}]))
    api.get(POLICIES, json=listing())

    outcome = run_module(email_security_allow_policy.main, args(pattern=SENDER))

    assert outcome.failed
    assert "pattern refused" in outcome.result["msg"]
    assert [call.request.method for call in api.calls] == ["GET", "GET", "POST", "GET"]
    assert outcome.result["error"]["status"] == 400
    assert outcome.result["error"]["errors"] == [{"code": 1001, "message": "pattern refused"}]
    assert TOKEN not in json.dumps(outcome.result)


@pytest.mark.parametrize(
    "extra, fragment",
    [
        (dict(pattern=" "), "non-empty"),
        (dict(pattern="10.1.2.3"), "which Cloudflare refuses"),
        (dict(pattern="not an address", pattern_type="EMAIL"), "is not an email address"),
        (dict(pattern="bad_domain", pattern_type="DOMAIN"), "is not a domain name"),
        (dict(pattern="(unclosed", is_regex=True), "not a valid regular expression"),
        (dict(pattern=SENDER, ttl="soon"), "ttl must be a positive duration"),
        (dict(pattern=SENDER, ttl="0d"), "ttl must be a positive duration"),
        (dict(pattern=SENDER, expires_at="2020-01-01"), "is not in the future"),
        (dict(pattern=SENDER, expires_at="tomorrow"), "RFC 3339"),
        (dict(pattern=SENDER, comments="x" * 1000, ttl="1d"), "exceed the 1024 characters"),
        (dict(pattern=SENDER, only_expired=True), "state: absent only"),
        (dict(policies=[]), "policies is empty"),
        (dict(policies=[{"pattern": SENDER}, {"pattern": SENDER}]), "names pattern"),
    ],
)
def test_bad_input_is_refused_before_any_request(api, run_module, extra, fragment):
    outcome = run_module(email_security_allow_policy.main, args(**extra))

    assert outcome.failed
    assert fragment in outcome.result["msg"]
    assert len(api.calls) == 0


def test_the_info_module_returns_expiry_and_leaves_out_end_of_life_fields(api, run_module):
    api.get(
        POLICIES,
        json=listing(
            policy(comments="INC-1 [mailsec.cloudflare expires_at=%s]" % moment(-2)),
            policy("b@partner.example", "p-2", comments="kept"),
        ),
    )

    outcome = run_module(email_security_allow_policy_info.main, args(only_expired=True, is_trusted_sender=False))

    assert "is_trusted_sender=false" in api.calls[0].request.url
    policies = outcome.result["policies"]
    assert [p["id"] for p in policies] == ["p-1"]
    assert policies[0]["expired"] is True and policies[0]["expires_at"] is not None
    assert not EOL_FIELDS & set(policies[0])
    assert outcome.result["summary"] == {"total": 1, "expired": 1, "requests_sent": 1}


def domain(pattern="partner-invoices.example", domain_id="d-1", **fields):
    entry = dict(
        id=domain_id,
        pattern=pattern,
        is_recent=True,
        is_similarity=False,
        is_regex=False,
        comments=None,
        created_at="2026-11-20T10:00:00Z",
        modified_at="2026-11-20T10:00:00Z",
        last_modified="2026-11-20T10:00:00Z",
    )
    entry.update(fields)
    return entry


def test_a_trusted_domain_is_created_then_left_alone(api, run_module):
    api.get(DOMAINS, json=listing())
    api.post(DOMAINS, status=201, json=envelope(domain()))
    api.get(DOMAINS, json=listing(domain()))

    first = run_module(email_security_trusted_domain.main, args(pattern="partner-invoices.example"))
    second = run_module(email_security_trusted_domain.main, args(pattern="partner-invoices.example"))

    assert "pattern_type" not in api.calls[0].request.url
    assert body_of(api.calls[1]) == {
        "pattern": "partner-invoices.example",
        "is_recent": True,
        "is_similarity": False,
        "is_regex": False,
    }
    assert first.result["changed"] is True and second.result["changed"] is False


def test_trusted_domain_info_lists_entries(api, run_module):
    api.get(DOMAINS, json=listing(domain()))

    outcome = run_module(email_security_trusted_domain_info.main, args())

    assert outcome.result["domains"][0]["pattern"] == "partner-invoices.example"
    assert "last_modified" not in outcome.result["domains"][0]


def test_a_blocked_sender_is_not_allowed_and_nothing_is_changed(api, run_module):
    blocked = {"id": "b-1", "pattern": SENDER, "pattern_type": "EMAIL", "is_regex": False, "comments": "INC-9"}
    api.get(BLOCKS, json=listing(blocked))

    outcome = run_module(email_security_allow_policy.main, args(pattern=SENDER))

    assert outcome.failed
    assert "EMAIL '%s' is a blocked sender already (id b-1)" % SENDER in outcome.result["msg"]
    assert "cannot be both allowed and blocked" in outcome.result["msg"]
    assert [call.request.method for call in api.calls] == ["GET"]
