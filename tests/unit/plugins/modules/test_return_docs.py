# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""RETURN documents every key a module returns, and every key it says is always returned is there."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
import yaml

from ansible_collections.mailsec.cloudflare.plugins.modules import (
    email_security_analytics_info,
    email_security_submission_info,
    email_security_allow_policy,
    email_security_allow_policy_info,
    email_security_bulk_job_info,
    email_security_bulk_release,
    email_security_message_info,
    email_security_move,
    email_security_release,
    email_security_submission,
    email_security_trusted_domain,
    email_security_trusted_domain_info,
)
from ansible_collections.mailsec.cloudflare.tests.unit.plugins.conftest import (
    ACCOUNT,
    BASE,
    RELEASE_URL,
    TOKEN,
    envelope,
)

# Added by Ansible or by the module's failure path, documented by Ansible itself.
ANSIBLE_KEYS = {"changed", "failed", "msg", "invocation", "warnings", "deprecations", "diff"}
IDS = ["4Njp3P0STMz2c02Q-2024-01-05T10:00:00-12345678", "5Kmq4Q1TUNa3d13R-2024-01-05T12:02:11-87654321"]
SEARCH_URL = "%s/accounts/%s/email-security/investigate" % (BASE, ACCOUNT)


def documented(module):
    return yaml.safe_load(module.RETURN)


def undocumented_keys(value, docs, where=""):
    """Keys of value (recursively, into dicts and lists of dicts) that the RETURN docs do not name."""
    missing = []
    for key, item in value.items():
        if key not in docs:
            missing.append(where + key)
            continue
        contains = docs[key].get("contains")
        # A free-form dict (the message as the API returned it) documents its well-known keys only.
        if not contains or docs[key].get("type") == "raw":
            continue
        if isinstance(item, dict) and docs[key].get("type") == "dict":
            missing.extend(undocumented_keys(item, contains, where + key + "."))
        elif isinstance(item, list) and docs[key].get("elements") == "dict":
            for element in item:
                missing.extend(undocumented_keys(element, contains, where + key + "[]."))
    return missing


def absent_always_keys(value, docs, where=""):
    absent = []
    for key, doc in docs.items():
        if doc.get("returned") == "always" and key not in value:
            absent.append(where + key)
        elif key in value and doc.get("contains") and doc.get("type") == "dict" and isinstance(value[key], dict):
            absent.extend(absent_always_keys(value[key], doc["contains"], where + key + "."))
    return absent


def message(message_id, quarantined=True):
    return {
        "id": message_id,
        "postfix_id": message_id[:16],
        "is_quarantined": quarantined,
        "to": ["a@example.com"],
        "delivery_status": ["quarantined"] if quarantined else ["delivered"],
        "from": "s@example.com",
        "subject": "s",
        "final_disposition": "SPAM",
        "client_recipients": ["a@example.com"],
    }


def test_every_key_of_a_release_result_is_documented(api, run_module):
    api.get("%s/accounts/%s/email-security/investigate/%s" % (BASE, ACCOUNT, IDS[0]), json=envelope(message(IDS[0])))
    api.get("%s/accounts/%s/email-security/investigate/%s" % (BASE, ACCOUNT, IDS[1]), json=envelope(message(IDS[1])))
    api.post(
        RELEASE_URL,
        json=envelope(
            [
                {
                    "id": IDS[0],
                    "postfix_id": IDS[0][:16],
                    "delivered": ["a@example.com"],
                    "failed": [],
                    "undelivered": [],
                },
                {"id": IDS[1], "delivered": ["a@example.com"], "failed": ["b@example.com"]},
                {"id": "not-requested-2024-01-05T10:00:00-0", "delivered": []},
            ]
        ),
    )

    outcome = run_module(
        email_security_release.main,
        dict(
            account_id=ACCOUNT, api_token=TOKEN, base_url=BASE, message_ids=IDS, fail_on_incomplete=False, concurrency=1
        ),
    )

    docs = documented(email_security_release)
    assert [key for key in undocumented_keys(outcome.result, docs) if key.split(".")[0] not in ANSIBLE_KEYS] == []
    assert absent_always_keys(outcome.result, docs) == []
    assert set(outcome.result["summary"]) == set(docs["summary"]["contains"])


def test_a_failed_release_documents_its_error(api, run_module):
    api.post(RELEASE_URL, status=403, json=envelope(None, success=False, errors=[{"code": 10000, "message": "no"}]))

    outcome = run_module(
        email_security_release.main,
        dict(account_id=ACCOUNT, api_token=TOKEN, base_url=BASE, message_ids=IDS, only_quarantined=False),
    )

    docs = documented(email_security_release)
    assert outcome.failed
    assert [key for key in undocumented_keys(outcome.result, docs) if key.split(".")[0] not in ANSIBLE_KEYS] == []
    assert set(outcome.result["error"]) == set(docs["error"]["contains"])


@pytest.mark.parametrize("mode", ["search", "ids"])
def test_every_key_of_an_info_result_is_documented(api, run_module, mode):
    if mode == "search":
        api.get(
            SEARCH_URL,
            json=envelope(
                [message(IDS[0]), message(IDS[1], False)],
                result_info={"next": None, "count": 2, "per_page": 100, "total_count": 0},
            ),
        )
        extra = dict(sender="s@example.com")
    else:
        for message_id in IDS:
            api.get("%s/%s" % (SEARCH_URL, message_id), json=envelope(message(message_id)))
        extra = dict(message_ids=IDS, concurrency=1)

    outcome = run_module(
        email_security_message_info.main, dict(account_id=ACCOUNT, api_token=TOKEN, base_url=BASE, **extra)
    )

    docs = documented(email_security_message_info)
    assert [key for key in undocumented_keys(outcome.result, docs) if key.split(".")[0] not in ANSIBLE_KEYS] == []
    assert absent_always_keys(outcome.result, docs) == []


def test_every_key_of_a_search_release_result_is_documented(api, run_module):
    api.get(
        SEARCH_URL,
        json=envelope(
            [message(IDS[0]), message(IDS[1], False)],
            result_info={"next": None, "count": 2, "per_page": 1000, "total_count": 0},
        ),
    )
    api.post(RELEASE_URL, json=envelope([{"id": IDS[0], "delivered": ["a@example.com"]}]))

    outcome = run_module(
        email_security_release.main,
        dict(account_id=ACCOUNT, api_token=TOKEN, base_url=BASE, search=dict(sender="s@example.com", all_time=True)),
    )

    docs = documented(email_security_release)
    assert [key for key in undocumented_keys(outcome.result, docs) if key.split(".")[0] not in ANSIBLE_KEYS] == []
    assert absent_always_keys(outcome.result, docs) == []
    assert set(outcome.result["search"]) == set(docs["search"]["contains"])


BULK_URL = "%s/accounts/%s/email-security/investigate/bulk" % (BASE, ACCOUNT)
JOB_ID = "f174e90a-fafe-4643-bbbc-4a0ed4fc8415"


def bulk_job(status):
    counters = dict.fromkeys(
        ("messages_pending", "messages_successful", "messages_skipped", "messages_cancelled", "messages_failed"), 0
    )
    counters["messages_failed"] = 1 if status == "FAILED" else 0
    return dict(
        counters,
        job_id=JOB_ID,
        action_type="RELEASE",
        action_params={"type": "RELEASE"},
        search_params={},
        status=status,
        total_messages_discovered=counters["messages_failed"],
        created_at="2026-11-25T10:00:00Z",
    )


@pytest.mark.parametrize("status", ["COMPLETED", "FAILED", "create refused"])
def test_every_key_of_a_bulk_release_result_is_documented(api, run_module, status):
    info = {"next": None, "count": 0, "per_page": 100, "total_count": 0}
    api.get(BULK_URL, json=envelope([], result_info=info))
    if status == "create refused":
        api.post(BULK_URL, status=403, json=envelope(None, success=False, errors=[{"code": 10000, "message": "no"}]))
    else:
        api.post(BULK_URL, status=201, json=envelope(bulk_job(status)))
    if status == "FAILED":
        row = {
            "message_id": JOB_ID,
            "postfix_id": "p1",
            "action_type": "RELEASE",
            "action_params": {"type": "RELEASE", "client_recipient": "a@example.com"},
            "status": "FAILED",
            "retry_count": 0,
            "created_at": "2026-11-25T10:00:00Z",
            "message": {"id": IDS[0]},
        }
        api.get(BULK_URL + "/" + JOB_ID + "/messages", json=envelope([row], result_info=dict(info, count=1)))

    outcome = run_module(
        email_security_bulk_release.main,
        dict(account_id=ACCOUNT, api_token=TOKEN, base_url=BASE, search=dict(sender="s@example.com", all_time=True)),
        diff=True,
    )

    docs = documented(email_security_bulk_release)
    assert outcome.failed is (status != "COMPLETED")
    assert [key for key in undocumented_keys(outcome.result, docs) if key.split(".")[0] not in ANSIBLE_KEYS] == []
    assert absent_always_keys(outcome.result, docs) == []
    assert set(outcome.result["summary"]) == set(docs["summary"]["contains"])


def test_every_key_of_a_bulk_job_info_result_is_documented(api, run_module):
    api.get(BULK_URL + "/" + JOB_ID, json=envelope(bulk_job("COMPLETED")))

    outcome = run_module(
        email_security_bulk_job_info.main, dict(account_id=ACCOUNT, api_token=TOKEN, base_url=BASE, job_id=JOB_ID)
    )

    docs = documented(email_security_bulk_job_info)
    assert [key for key in undocumented_keys(outcome.result, docs) if key.split(".")[0] not in ANSIBLE_KEYS] == []
    assert absent_always_keys(outcome.result, docs) == []


def test_every_key_of_a_submission_result_is_documented(api, run_module):
    url = "%s/%s" % (SEARCH_URL, IDS[0])
    api.get(url, json=envelope(dict(message(IDS[0]), alert_id="a-1")))
    api.get(url + "/action_log", json=envelope([], result_info=dict(ONE_ENTRY_PAGE, count=0, total_count=0)))
    api.post(
        "%s/accounts/%s/email-security/submissions" % (BASE, ACCOUNT),
        status=403,
        json=envelope(None, success=False, errors=[{"code": 10000, "message": "no"}]),
    )

    outcome = run_module(
        email_security_submission.main,
        dict(account_id=ACCOUNT, api_token=TOKEN, base_url=BASE, message_ids=IDS[:1]),
    )

    docs = documented(email_security_submission)
    assert outcome.failed
    assert [key for key in undocumented_keys(outcome.result, docs) if key.split(".")[0] not in ANSIBLE_KEYS] == []
    assert absent_always_keys(outcome.result, docs) == []


SETTINGS = "%s/accounts/%s/email-security/settings" % (BASE, ACCOUNT)
# A collection page of one entry, result_info as Cloudflare sends it.
ONE_ENTRY_PAGE = {"count": 1, "page": 1, "per_page": 1000, "total_count": 1}
POLICY = {
    "id": "p-1",
    "pattern": "a@partner.example",
    "pattern_type": "EMAIL",
    "is_acceptable_sender": True,
    "is_trusted_sender": False,
    "is_exempt_recipient": False,
    "verify_sender": True,
    "is_regex": False,
    "comments": "x [mailsec.cloudflare expires_at=2020-01-01T00:00:00Z]",
    "created_at": "2026-11-20T10:00:00Z",
    "modified_at": "2026-11-20T10:00:00Z",
}
DOMAIN = {
    "id": "d-1",
    "pattern": "partner.example",
    "is_recent": True,
    "is_similarity": False,
    "is_regex": False,
    "comments": None,
    "created_at": "2026-11-20T10:00:00Z",
    "modified_at": "2026-11-20T10:00:00Z",
}


@pytest.mark.parametrize(
    "module, segment, entry, extra",
    [
        (email_security_allow_policy, "allow_policies", POLICY, dict(pattern="a@partner.example", ttl="1d")),
        (email_security_trusted_domain, "trusted_domains", DOMAIN, dict(pattern="partner.example", comments="y")),
    ],
)
def test_every_key_of_a_settings_list_result_is_documented(api, run_module, module, segment, entry, extra):
    if segment == "allow_policies":
        # A sender cannot be both allowed and blocked: the block list is read first.
        api.get("%s/block_senders" % SETTINGS, json=envelope([], result_info=ONE_ENTRY_PAGE))
    api.get("%s/%s" % (SETTINGS, segment), json=envelope([entry], result_info=ONE_ENTRY_PAGE))
    api.patch("%s/%s/%s" % (SETTINGS, segment, entry["id"]), json=envelope(entry))

    outcome = run_module(module.main, dict(account_id=ACCOUNT, api_token=TOKEN, base_url=BASE, **extra), diff=True)

    docs = documented(module)
    assert not outcome.failed
    assert [key for key in undocumented_keys(outcome.result, docs) if key.split(".")[0] not in ANSIBLE_KEYS] == []
    assert absent_always_keys(outcome.result, docs) == []


@pytest.mark.parametrize(
    "module, segment, entry",
    [
        (email_security_allow_policy_info, "allow_policies", POLICY),
        (email_security_trusted_domain_info, "trusted_domains", DOMAIN),
    ],
)
def test_every_key_of_a_settings_list_info_result_is_documented(api, run_module, module, segment, entry):
    api.get("%s/%s" % (SETTINGS, segment), json=envelope([entry], result_info=ONE_ENTRY_PAGE))

    outcome = run_module(module.main, dict(account_id=ACCOUNT, api_token=TOKEN, base_url=BASE))

    docs = documented(module)
    assert [key for key in undocumented_keys(outcome.result, docs) if key.split(".")[0] not in ANSIBLE_KEYS] == []
    assert absent_always_keys(outcome.result, docs) == []


def test_every_key_of_a_move_result_is_documented(api, run_module):
    api.get("%s/%s" % (SEARCH_URL, IDS[0]), json=envelope(dict(message(IDS[0], quarantined=False))))
    api.get("%s/%s" % (SEARCH_URL, IDS[1]), json=envelope(dict(message(IDS[1], quarantined=False))))
    api.post(
        SEARCH_URL + "/move",
        json=envelope(
            [
                {"message_id": IDS[0], "recipient": "a@example.com", "success": True, "status": "completed"},
                {"message_id": "not-requested", "recipient": "a@example.com", "success": True},
            ]
        ),
    )
    api.get("%s/%s" % (SEARCH_URL, IDS[1]), json=envelope(dict(message(IDS[1], quarantined=False))))

    outcome = run_module(
        email_security_move.main,
        dict(
            account_id=ACCOUNT,
            api_token=TOKEN,
            base_url=BASE,
            message_ids=IDS,
            destination="DeletedItems",
            fail_on_incomplete=False,
            concurrency=1,
        ),
        diff=True,
    )

    docs = documented(email_security_move)
    assert [r["status"] for r in outcome.result["results"]] == ["moved", "unknown"]
    assert [key for key in undocumented_keys(outcome.result, docs) if key.split(".")[0] not in ANSIBLE_KEYS] == []
    assert absent_always_keys(outcome.result, docs) == []
    assert set(outcome.result["summary"]) == set(docs["summary"]["contains"])


def test_every_key_of_a_submission_info_and_an_analytics_info_result_is_documented(api, run_module):
    api.get(
        "%s/accounts/%s/email-security/submissions" % (BASE, ACCOUNT),
        json=dict(
            envelope([{"submission_id": "s1", "requested_at": "2026-11-24T10:05:00Z", "original_postfix_id": "P1"}]),
            result_info={"count": 1, "page": 1, "per_page": 100, "total_count": 1},
        ),
    )
    api.get(
        "%s/accounts/%s/email-security/analytics/monthly_report" % (BASE, ACCOUNT),
        json=envelope({"by_month": {"2026-11": [{"disposition": "SPAM", "total": 3}]}}),
    )
    connection = dict(account_id=ACCOUNT, api_token=TOKEN, base_url=BASE)

    for module, args in (
        (email_security_submission_info, dict(connection, message_ids=["P1-2026-11-24T10:00:00-1"])),
        (email_security_analytics_info, connection),
    ):
        outcome = run_module(module.main, args)
        docs = documented(module)
        assert not outcome.failed, outcome.result
        assert [key for key in undocumented_keys(outcome.result, docs) if key.split(".")[0] not in ANSIBLE_KEYS] == []
        assert absent_always_keys(outcome.result, docs) == []
