# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The simulator's own behaviour: what the product's tests rely on it to do."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import datetime
import email
import email.policy
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from . import (
    CLOUDFLARE_QUOTA,
    CLOUDFLARE_WINDOW,
    DEFAULT_ACCOUNT_ID,
    DEFAULT_EMAIL,
    DEFAULT_KEY,
    DEFAULT_READ_ONLY_TOKEN,
    DEFAULT_TOKEN,
    Message,
    Simulator,
    SimulatorState,
    generate_messages,
    load_state,
)

from .reports import new_submission

HERE = os.path.dirname(os.path.abspath(__file__))
AUTH = {"Authorization": "Bearer " + DEFAULT_TOKEN}


def hours_ago(hours):
    moment = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=hours)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def quarantine():
    return [
        Message(
            "AAAA1111-2026-11-24T08:00:00-1",
            "a@sender.example",
            ["x@corp.example", "y@corp.example"],
            "Hello",
            hours_ago(3),
            "SPAM",
            failing_recipients=["y@corp.example"],
        ),
        Message(
            "BBBB2222-2026-11-24T09:00:00-2", "b@sender.example", ["z@corp.example"], "Invoice", hours_ago(2), "BULK"
        ),
        Message(
            "CCCC3333-2026-11-24T10:00:00-3",
            "c@other.example",
            ["x@corp.example"],
            "Clean",
            hours_ago(1),
            "NONE",
            is_quarantined=False,
        ),
    ]


@pytest.fixture
def sim():
    with Simulator(SimulatorState(quarantine())) as running:
        yield running


def url(sim, tail=""):
    return "%s/accounts/%s/email-security/investigate%s" % (sim.base_url, DEFAULT_ACCOUNT_ID, tail)


def release(sim, body, headers=None):
    return requests.post(url(sim, "/release"), json=body, headers=headers or AUTH, timeout=10)


def test_binds_loopback_on_an_ephemeral_port(sim):
    assert sim.base_url.startswith("http://127.0.0.1:")
    assert sim.port > 0


def test_release_delivers_once_and_reports_failing_recipients(sim):
    answer = release(sim, {"ids": ["AAAA1111-2026-11-24T08:00:00-1"]}).json()

    assert answer["success"] is True
    assert answer["result"] == [
        {
            "id": "AAAA1111-2026-11-24T08:00:00-1",
            "postfix_id": "AAAA1111",
            "delivered": ["x@corp.example"],
            "failed": ["y@corp.example"],
            "undelivered": [],
        }
    ]
    assert sim.state.deliveries() == {"AAAA1111-2026-11-24T08:00:00-1": 1}
    detail = requests.get(url(sim, "/AAAA1111-2026-11-24T08:00:00-1"), headers=AUTH, timeout=10).json()["result"]
    assert detail["is_quarantined"] is False
    assert "QUARANTINE_RELEASE" in detail["post_delivery_operations"]


def test_releasing_a_released_message_delivers_nothing_and_is_recorded(sim):
    release(sim, {"ids": ["BBBB2222-2026-11-24T09:00:00-2"]})
    answer = release(sim, {"ids": ["BBBB2222-2026-11-24T09:00:00-2"]}).json()

    assert answer["result"][0]["delivered"] == []
    assert answer["result"][0]["undelivered"] == ["z@corp.example"]
    assert sim.state.deliveries() == {"BBBB2222-2026-11-24T09:00:00-2": 1}
    assert [e["id"] for e in sim.state.double_deliveries()] == ["BBBB2222-2026-11-24T09:00:00-2"]


@pytest.mark.parametrize(
    "accept, rejected, accepted, status",
    [
        # The bare array is an opt-in drift; the contract's own form is refused by the contract check as Cloudflare would.
        ("array", {"ids": ["BBBB2222-2026-11-24T09:00:00-2"]}, ["BBBB2222-2026-11-24T09:00:00-2"], 422),
        ("object", ["BBBB2222-2026-11-24T09:00:00-2"], {"ids": ["BBBB2222-2026-11-24T09:00:00-2"]}, 400),
    ],
)
def test_a_drifted_server_accepts_one_body_form_only(sim, accept, rejected, accepted, status):
    sim.state.configure({"accept_body": accept, "reject_status": 422})

    refused = release(sim, rejected)
    assert refused.status_code == status
    assert refused.json()["success"] is False
    assert sim.state.deliveries() == {}
    assert release(sim, accepted).status_code == 200
    assert sim.state.deliveries() == {"BBBB2222-2026-11-24T09:00:00-2": 1}


def test_postfix_only_items(sim):
    sim.state.configure({"postfix_only": True})
    item = release(sim, {"ids": ["BBBB2222-2026-11-24T09:00:00-2"]}).json()["result"][0]
    assert "id" not in item and item["postfix_id"] == "BBBB2222"


def test_get_unknown_message_is_404_in_the_envelope(sim):
    answer = requests.get(url(sim, "/nope-1"), headers=AUTH, timeout=10)
    assert answer.status_code == 404
    assert answer.json()["success"] is False


@pytest.mark.parametrize(
    "headers, status, codes",
    [
        ({"Authorization": "Bearer wrong"}, 401, [10000]),
        ({"Authorization": "Bearer " + DEFAULT_READ_ONLY_TOKEN}, 403, [9109]),
        ({"Authorization": "Token abc"}, 400, [6003]),
        ({"X-Auth-Key": DEFAULT_TOKEN}, 400, [6003]),
        ({"X-Auth-Email": DEFAULT_EMAIL, "X-Auth-Key": "bad"}, 403, [9103]),
    ],
)
def test_auth_errors_use_cloudflare_codes(sim, headers, status, codes):
    answer = release(sim, {"ids": ["BBBB2222-2026-11-24T09:00:00-2"]}, headers=headers)
    assert answer.status_code == status
    assert [e["code"] for e in answer.json()["errors"]] == codes
    assert sim.state.deliveries() == {}


def test_malformed_auth_header_carries_the_6111_chain(sim):
    errors = release(sim, {"ids": ["x"]}, headers={"Authorization": "Token abc"}).json()["errors"]
    assert errors[0]["error_chain"][0]["code"] == 6111


def test_legacy_key_and_read_only_token_can_read(sim):
    legacy = {"X-Auth-Email": DEFAULT_EMAIL, "X-Auth-Key": DEFAULT_KEY}
    assert requests.get(url(sim, "/BBBB2222-2026-11-24T09:00:00-2"), headers=legacy, timeout=10).status_code == 200
    read_only = {"Authorization": "Bearer " + DEFAULT_READ_ONLY_TOKEN}
    assert requests.get(url(sim), headers=read_only, timeout=10).status_code == 200


def test_bad_account_id_is_7003(sim):
    answer = requests.get("%s/accounts/not-hex/email-security/investigate" % sim.base_url, headers=AUTH, timeout=10)
    assert answer.status_code == 400
    assert [e["code"] for e in answer.json()["errors"]] == [7003, 7000]


def test_search_filters_and_cursor_paging(sim):
    sim.state.add_messages(generate_messages(45, seed=3))
    seen, cursor, pages = [], None, 0
    while True:
        params = {"per_page": 20, "detections_only": "false"}
        if cursor:
            params["cursor"] = cursor
        body = requests.get(url(sim), params=params, headers=AUTH, timeout=10).json()
        pages += 1
        seen.extend(m["id"] for m in body["result"])
        cursor = body["result_info"]["next"]
        if not cursor:
            break
    assert pages == 3 and len(seen) == 48 == len(set(seen))

    by_sender = requests.get(url(sim), params={"sender": "a@sender.example"}, headers=AUTH, timeout=10).json()
    assert [m["id"] for m in by_sender["result"]] == ["AAAA1111-2026-11-24T08:00:00-1"]
    clean = requests.get(url(sim), params={"query": "Clean"}, headers=AUTH, timeout=10).json()
    assert clean["result"] == []
    everything = requests.get(
        url(sim), params={"query": "Clean", "detections_only": "false"}, headers=AUTH, timeout=10
    ).json()
    assert len(everything["result"]) == 1


def test_search_answers_202_with_a_location_first(sim):
    sim.state.configure({"search_polls": 2})
    first = requests.get(
        url(sim), params={"sender": "b@sender.example"}, headers=AUTH, timeout=10, allow_redirects=False
    )
    assert first.status_code == 202
    location = first.headers["Location"]
    origin = sim.base_url.split("/client/v4")[0]
    second = requests.get(origin + location, headers=AUTH, timeout=10)
    assert second.status_code == 202
    third = requests.get(origin + second.headers["Location"], headers=AUTH, timeout=10)
    assert third.status_code == 200
    assert [m["id"] for m in third.json()["result"]] == ["BBBB2222-2026-11-24T09:00:00-2"]


def test_injected_rate_limit_and_server_errors_then_recovery(sim):
    sim.state.inject("rate_limit", "release", count=1, retry_after=3)
    sim.state.inject("status", "release", count=1, status=502)

    limited = release(sim, {"ids": ["BBBB2222-2026-11-24T09:00:00-2"]})
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "3"
    assert release(sim, {"ids": ["BBBB2222-2026-11-24T09:00:00-2"]}).status_code == 502
    assert sim.state.deliveries() == {}
    assert release(sim, {"ids": ["BBBB2222-2026-11-24T09:00:00-2"]}).status_code == 200


def test_a_status_after_processing_is_a_fault_the_ledger_names(sim):
    # A suite telling the server's own 409 from an injected one reads this field.
    sim.state.inject("status_after", "release", count=1, status=409, message="Conflict")
    assert release(sim, {"ids": ["BBBB2222-2026-11-24T09:00:00-2"]}).status_code == 409
    assert release(sim, {"ids": ["BBBB2222-2026-11-24T09:00:00-2"]}).status_code == 200
    first, second = sim.state.requests(endpoint="release")
    assert first["status"] == 409 and first["fault"] == "status 409 after processing"
    assert second["status"] == 200 and "fault" not in second


def test_connection_dropped_before_processing_delivers_nothing(sim):
    sim.state.inject("drop_before", "release")
    with pytest.raises(requests.exceptions.ConnectionError):
        release(sim, {"ids": ["BBBB2222-2026-11-24T09:00:00-2"]})
    assert sim.state.deliveries() == {}


def test_connection_dropped_after_processing_delivered_anyway(sim):
    sim.state.inject("drop_after", "release")
    with pytest.raises(requests.exceptions.ConnectionError):
        release(sim, {"ids": ["BBBB2222-2026-11-24T09:00:00-2"]})
    assert sim.state.deliveries() == {"BBBB2222-2026-11-24T09:00:00-2": 1}


def test_slow_answer_after_processing(sim):
    sim.state.inject("slow_after", "release", delay=1.5)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(url(sim, "/release"), json={"ids": ["BBBB2222-2026-11-24T09:00:00-2"]}, headers=AUTH, timeout=0.5)
    assert sim.state.deliveries() == {"BBBB2222-2026-11-24T09:00:00-2": 1}


def test_echoed_headers(sim):
    sim.state.inject("echo_headers", "release")
    answer = release(sim, {"ids": ["BBBB2222-2026-11-24T09:00:00-2"]})
    assert answer.status_code == 400
    assert DEFAULT_TOKEN in answer.json()["errors"][0]["message"]


def test_malformed_body(sim):
    sim.state.inject("malformed", "get")
    answer = requests.get(url(sim, "/BBBB2222-2026-11-24T09:00:00-2"), headers=AUTH, timeout=10)
    assert answer.status_code == 200
    with pytest.raises(ValueError):
        answer.json()


def test_latency_is_added_per_request(sim):
    sim.state.configure({"latency": 0.2})
    started = time.monotonic()
    requests.get(url(sim, "/BBBB2222-2026-11-24T09:00:00-2"), headers=AUTH, timeout=10)
    assert time.monotonic() - started >= 0.2


def test_quota_is_announced_and_exceeding_it_locks_out(sim):
    sim.state.set_quota(3, window=60)
    answers = [
        requests.get(url(sim, "/BBBB2222-2026-11-24T09:00:00-2"), headers=AUTH, timeout=10) for dummy in range(5)
    ]

    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert answers[0].headers["Ratelimit"].startswith('"default";r=2;t=')
    assert answers[2].headers["Ratelimit"].startswith('"default";r=0;t=')
    assert answers[0].headers["Ratelimit-Policy"] == '"default";q=3;w=60'
    assert int(answers[3].headers["Retry-After"]) >= 59
    assert len(sim.state.ledger("lockout")) == 1


def test_a_lockout_from_elsewhere_answers_429_with_retry_after(sim):
    sim.state.lock_out(120)
    answer = requests.get(url(sim), headers=AUTH, timeout=10)
    assert answer.status_code == 429
    assert 119 <= int(answer.headers["Retry-After"]) <= 120


def test_the_quota_window_resets(sim):
    sim.state.set_quota(1, window=0.5, lockout=0.5)
    assert requests.get(url(sim), headers=AUTH, timeout=10).status_code == 200
    time.sleep(0.6)
    assert requests.get(url(sim), headers=AUTH, timeout=10).status_code == 200


def test_concurrent_releases_deliver_each_message_exactly_once(sim):
    messages = generate_messages(200, seed=9)
    sim.state.add_messages(messages)
    ids = [m.id for m in messages]

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda chunk: release(sim, {"ids": chunk}), [ids[i : i + 10] for i in range(0, 200, 10)] * 2))

    assert sim.state.deliveries() == dict.fromkeys(ids, 1)
    assert len(sim.state.double_deliveries()) == 200


def test_ledger_records_requests_and_is_written_as_json_lines(tmp_path):
    ledger_path = tmp_path / "ledger.jsonl"
    with Simulator(SimulatorState(quarantine(), ledger_path=str(ledger_path))) as running:
        release(running, {"ids": ["BBBB2222-2026-11-24T09:00:00-2"]})
        requests.get(url(running, "/BBBB2222-2026-11-24T09:00:00-2"), headers=AUTH, timeout=10)
        admin = requests.get(running.base_url.replace("/client/v4", "/_sim/ledger"), timeout=10).json()
    lines = [json.loads(line) for line in ledger_path.read_text().splitlines()]
    assert [e["event"] for e in lines] == ["delivery", "request", "request"]
    assert lines[1]["endpoint"] == "release" and lines[1]["ids"] == ["BBBB2222-2026-11-24T09:00:00-2"]
    assert lines[1]["auth"] == "token" and DEFAULT_TOKEN not in ledger_path.read_text()
    assert admin == lines


def test_admin_config_injects_faults(sim):
    admin = sim.base_url.replace("/client/v4", "/_sim/config")
    assert (
        requests.post(
            admin, json={"faults": [{"kind": "status", "endpoint": "get", "status": 500}]}, timeout=10
        ).status_code
        == 200
    )
    assert requests.get(url(sim, "/BBBB2222-2026-11-24T09:00:00-2"), headers=AUTH, timeout=10).status_code == 500
    assert requests.post(admin, json={"faults": [{"kind": "nonsense"}]}, timeout=10).status_code == 400


def test_command_line_prints_its_address_and_stops_on_sigterm(tmp_path):
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.simulator",
            "--port",
            "0",
            "--seed",
            os.path.join(HERE, "seeds", "demo.json"),
            "--ledger",
            str(tmp_path / "l.jsonl"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:")
        base_url = line.split()[-1]
        answer = requests.get(
            base_url + "/accounts/%s/email-security/investigate" % DEFAULT_ACCOUNT_ID,
            headers=AUTH,
            params={"per_page": 100},
            timeout=10,
        ).json()
        assert len(answer["result"]) == 12
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
        rest = process.stdout.read()
        assert "seed dates moved by +" in rest and "the time in each seeded id moved with them" in rest
        assert "stopped" in rest
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_command_line_serves_the_user_report_scenario_as_its_reports_arrive(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.simulator", "--port", "0", "--user-reports", "5"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        base_url = process.stdout.readline().strip().split()[-1]
        submissions = base_url + "/accounts/%s/email-security/submissions" % DEFAULT_ACCOUNT_ID

        def reported():
            listed = requests.get(submissions, headers=AUTH, params={"type": "USER"}, timeout=10).json()["result"]
            return [(s["requested_by"], s["original_postfix_id"], s["requested_disposition"]) for s in listed]

        assert reported() == []
        time.sleep(18)
        assert sorted(reported()) == [
            ("Dave@corp.example", "PAYROLL000000000", "MALICIOUS"),
            ("erin@corp.example", "PAYROLL000000001", "MALICIOUS"),
            ("frank@corp.example", "PAYROLL000000002", "MALICIOUS"),
            ("ivan@corp.example", "NEWSLTR000000001", "MALICIOUS"),
            ("judy@corp.example", "NWINVOICE0000001", "NONE"),
        ]
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# The contract, in both directions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params, named",
    [
        ({"final_disposition": "MALICIOUS-BEC"}, "final_disposition"),
        ({"start": "2026-11-24"}, "start"),
        ({"per_page": "5000"}, "per_page"),
        ({"delivery_status": "lost"}, "delivery_status"),
        ({"unheard_of": "1"}, "unheard_of"),
        ({"page": "2"}, "cursor"),
    ],
)
def test_a_search_outside_the_contract_gets_a_4xx_naming_the_parameter(sim, params, named):
    answer = requests.get(url(sim), params=params, headers=AUTH, timeout=10)

    assert answer.status_code == 400
    body = answer.json()
    assert body["success"] is False and body["result"] is None
    assert all(error["code"] >= 1000 for error in body["errors"])
    assert named in body["errors"][0]["message"]
    assert sim.state.ledger("contract_violation")[0]["problems"]


def test_a_start_in_the_future_or_after_end_is_refused(sim):
    future = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    answer = requests.get(url(sim), params={"start": future}, headers=AUTH, timeout=10)
    assert answer.status_code == 400 and "future" in answer.json()["errors"][0]["message"]

    answer = requests.get(url(sim), params={"start": hours_ago(1), "end": hours_ago(5)}, headers=AUTH, timeout=10)
    assert answer.status_code == 400 and "after end" in answer.json()["errors"][0]["message"]


def test_the_default_window_is_the_last_30_days_compared_as_date_times(sim):
    sim.state.add_messages(
        [
            Message(
                "OLD0-2026-01-01T00:00:00-0",
                "old@sender.example",
                ["x@corp.example"],
                "Old",
                hours_ago(24 * 31),
                "SPAM",
            )
        ]
    )
    found = requests.get(url(sim), params={"detections_only": "false"}, headers=AUTH, timeout=10).json()
    assert "OLD0-2026-01-01T00:00:00-0" not in [m["id"] for m in found["result"]]

    # +01:00 is an hour earlier in UTC than the same wall time in Z: compared as moments, not strings.
    three_hours_ago = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=3, minutes=30)
    start = three_hours_ago.astimezone(datetime.timezone(datetime.timedelta(hours=1))).isoformat(timespec="seconds")
    found = requests.get(url(sim), params={"start": start}, headers=AUTH, timeout=10).json()
    assert sorted(m["id"] for m in found["result"]) == [
        "AAAA1111-2026-11-24T08:00:00-1",
        "BBBB2222-2026-11-24T09:00:00-2",
    ]


@pytest.mark.parametrize(
    "form, expected", [("root", "/client/v4/accounts/"), ("absolute", "http://127.0.0.1:"), ("api", "/accounts/")]
)
def test_a_slow_search_answers_202_with_result_info_and_a_location(sim, form, expected):
    sim.state.configure({"search_polls": 1, "search_location": form})

    answer = requests.get(url(sim), headers=AUTH, timeout=10, allow_redirects=False)

    assert answer.status_code == 202
    assert answer.headers["Location"].startswith(expected)
    assert answer.json()["result_info"]["count"] == 0
    assert answer.json()["messages"][0]["code"] >= 1000
    assert sim.state.ledger("response_violation") == []


def test_every_answer_of_a_normal_session_is_within_the_contract(sim):
    requests.get(url(sim), params={"per_page": "1", "detections_only": "false"}, headers=AUTH, timeout=10)
    requests.get(url(sim, "/AAAA1111-2026-11-24T08:00:00-1"), headers=AUTH, timeout=10)
    requests.get(url(sim, "/NOPE-2026-11-24T08:00:00-1"), headers=AUTH, timeout=10)
    release(sim, {"ids": ["AAAA1111-2026-11-24T08:00:00-1", "BBBB2222-2026-11-24T09:00:00-2"]})
    release(sim, {"ids": ["AAAA1111-2026-11-24T08:00:00-1"]}, headers={"Authorization": "Bearer wrong-token-000000"})
    detail = requests.get(url(sim, "/AAAA1111-2026-11-24T08:00:00-1"), headers=AUTH, timeout=10).json()["result"]

    assert detail["action_log"][-1]["operation"] == "QUARANTINE_RELEASE"
    assert len(sim.state.requests()) == 6
    assert sim.state.ledger("response_violation") == []
    assert sim.state.ledger("contract_violation") == []


def test_an_answer_outside_the_contract_is_recorded(sim):
    with sim.state.lock:
        sim.state.messages["AAAA1111-2026-11-24T08:00:00-1"].final_disposition = "NOT-A-VERDICT"

    requests.get(url(sim, "/AAAA1111-2026-11-24T08:00:00-1"), headers=AUTH, timeout=10)

    violations = sim.state.ledger("response_violation")
    assert len(violations) == 1 and "final_disposition" in violations[0]["problems"][0]


def bulk(sim, method, tail="", **kwargs):
    return requests.request(method, url(sim, "/bulk" + tail), headers=AUTH, timeout=10, **kwargs)


def wait_for(sim, job_id, statuses=("COMPLETED", "FAILED", "CANCELLED")):
    for dummy in range(100):
        job = bulk(sim, "GET", "/" + job_id).json()["result"]
        if job["status"] in statuses:
            return job
        time.sleep(0.05)
    raise AssertionError("job %s never reached %s" % (job_id, statuses))


COUNTERS = ("messages_pending", "messages_successful", "messages_failed", "messages_skipped", "messages_cancelled")


def test_a_bulk_job_discovers_then_releases_each_recipient_once_and_its_counters_add_up(sim):
    sim.state.configure({"bulk_discovery_seconds": 0.1, "bulk_rate": 200})
    created = bulk(sim, "POST", json={"action": "RELEASE", "search_params": {"start": hours_ago(24)}, "comment": "c"})

    assert created.status_code == 201
    job = wait_for(sim, created.json()["result"]["job_id"])
    # Two quarantined messages, three recipients; one recipient fails.
    assert job["status"] == "COMPLETED" and job["total_messages_discovered"] == 3
    assert job["total_messages_discovered"] == sum(job[name] for name in COUNTERS)
    assert (job["messages_successful"], job["messages_failed"]) == (2, 1)
    assert sim.state.deliveries() == {"AAAA1111-2026-11-24T08:00:00-1": 1, "BBBB2222-2026-11-24T09:00:00-2": 1}
    rows = bulk(sim, "GET", "/%s/messages" % job["job_id"], params={"per_page": 2, "page": 2}).json()
    assert rows["result_info"]["count"] == 1 and rows["result"][0]["message"]["id"]
    failed = bulk(sim, "GET", "/%s/messages" % job["job_id"], params={"status": "FAILED"}).json()["result"]
    assert [r["action_params"]["client_recipient"] for r in failed] == ["y@corp.example"]
    listed = bulk(sim, "GET", params={"action_type": "RELEASE", "per_page": 10}).json()["result"]
    assert [j["job_id"] for j in listed] == [job["job_id"]]
    assert sim.state.ledger("response_violation") == [] and sim.state.ledger("contract_violation") == []


def test_a_move_job_moves_what_is_in_a_mailbox_and_lists_apart_from_release_jobs(sim):
    sim.state.configure({"bulk_discovery_seconds": 0.1, "bulk_rate": 200})
    search = {"start": hours_ago(24), "detections_only": False}
    created = bulk(sim, "POST", json={"action": "MOVE", "destination": "DeletedItems", "search_params": search})
    release_job = bulk(sim, "POST", json={"action": "RELEASE", "search_params": {"start": hours_ago(24)}})

    job = wait_for(sim, created.json()["result"]["job_id"])
    wait_for(sim, release_job.json()["result"]["job_id"])
    # Only the delivered message is in a mailbox when the move job discovers.
    assert (job["action_type"], job["action_params"]) == ("MOVE", {"type": "MOVE", "destination": "DeletedItems"})
    assert job["status"] == "COMPLETED" and job["messages_successful"] == 1
    assert sim.state.moves() == {"CCCC3333-2026-11-24T10:00:00-3": 1}
    assert sim.state.messages["CCCC3333-2026-11-24T10:00:00-3"].folders == {"x@corp.example": "DeletedItems"}
    moves = bulk(sim, "GET", params={"action_type": "MOVE", "per_page": 10}).json()["result"]
    everything = bulk(sim, "GET", params={"per_page": 10}).json()["result"]
    assert [j["job_id"] for j in moves] == [job["job_id"]]
    assert len(everything) == 2
    assert sim.state.ledger("response_violation") == [] and sim.state.ledger("contract_violation") == []


def test_two_jobs_with_the_same_search_deliver_twice(sim):
    """The simulator is no kinder than the release endpoint: a second job re-releases what both discovered."""
    sim.state.configure({"bulk_discovery_seconds": 0.1, "bulk_rate": 5})
    body = {"action": "RELEASE", "search_params": {"sender": "b@sender.example", "start": hours_ago(24)}}
    first, second = (bulk(sim, "POST", json=body).json()["result"]["job_id"] for dummy in range(2))
    wait_for(sim, first)
    wait_for(sim, second)

    assert len(sim.state.double_deliveries()) == 1


def test_a_bulk_job_can_be_cancelled_and_can_fail(sim):
    sim.state.configure({"bulk_discovery_seconds": 0.05, "bulk_rate": 0.001})
    job_id = bulk(sim, "POST", json={"action": "RELEASE", "search_params": {}}).json()["result"]["job_id"]
    wait_for(sim, job_id, ("PROCESSING",))

    cancelled = bulk(sim, "POST", "/%s/cancel" % job_id)
    assert cancelled.status_code == 200 and cancelled.json()["result"]["status"] == "CANCELLED"
    assert cancelled.json()["result"]["messages_cancelled"] == 3
    assert bulk(sim, "POST", "/%s/cancel" % job_id).status_code == 409

    sim.state.configure({"bulk_rate": 1000, "bulk_fail_after": 1})
    job_id = bulk(sim, "POST", json={"action": "RELEASE", "search_params": {}}).json()["result"]["job_id"]
    job = wait_for(sim, job_id)
    # The first message (two recipients, one failing) was processed; the other was cancelled when the job failed.
    assert job["status"] == "FAILED"
    assert (job["messages_successful"], job["messages_failed"], job["messages_cancelled"]) == (1, 1, 1)


def test_bulk_routes_refuse_what_the_contract_refuses(sim):
    assert bulk(sim, "GET", "/not-a-uuid").status_code == 400
    assert bulk(sim, "GET", "/f174e90a-fafe-4643-bbbc-4a0ed4fc8415").status_code == 404
    assert bulk(sim, "POST", json={"search_params": {}}).status_code == 400
    read_only = {"Authorization": "Bearer " + DEFAULT_READ_ONLY_TOKEN}
    refused = requests.post(url(sim, "/bulk"), json={"action": "RELEASE", "search_params": {}}, headers=read_only)
    assert refused.status_code == 403


def test_a_lost_create_answer_still_makes_the_job(sim):
    sim.state.inject("drop_after", endpoint="bulk_create")
    with pytest.raises(requests.exceptions.ConnectionError):
        bulk(sim, "POST", json={"action": "RELEASE", "search_params": {}, "comment": "k"})

    assert len(bulk(sim, "GET").json()["result"]) == 1


def test_cloudflare_quota_allows_1200_requests_then_locks_out_for_5_minutes(sim):
    sim.state.set_quota(CLOUDFLARE_QUOTA, CLOUDFLARE_WINDOW)
    with requests.Session() as session:
        answers = [session.get(url(sim), headers=AUTH, timeout=10) for dummy in range(1202)]

    assert [a.status_code for a in answers].count(200) == 1200
    assert [a.status_code for a in answers[-2:]] == [429, 429]
    assert answers[0].headers["Ratelimit-Policy"] == '"default";q=1200;w=300'
    assert 299 <= int(answers[-1].headers["Retry-After"]) <= 300
    assert [event["seconds"] for event in sim.state.ledger("lockout")] == [300.0]


def test_trace_action_log_and_detections_follow_a_release(sim):
    message_id = "AAAA1111-2026-11-24T08:00:00-1"
    before = requests.get(url(sim, "/%s/trace" % message_id), headers=AUTH, timeout=10).json()["result"]
    release(sim, {"ids": [message_id]})
    after = requests.get(url(sim, "/%s/trace" % message_id), headers=AUTH, timeout=10).json()["result"]
    log = requests.get(url(sim, "/%s/action_log" % message_id), params={"per_page": 5}, headers=AUTH, timeout=10)
    detections = requests.get(url(sim, "/%s/detections" % message_id), headers=AUTH, timeout=10).json()["result"]

    assert before["outbound"]["lines"] == []
    assert [line["message"] for line in after["outbound"]["lines"]] == [
        "released from quarantine",
        "delivered to x@corp.example",
        "delivery to y@corp.example failed",
    ]
    assert [entry["operation"] for entry in log.json()["result"]] == ["QUARANTINE_RELEASE"]
    assert log.json()["result_info"]["total_count"] == 1
    assert detections["final_disposition"] == "SPAM" and detections["findings"][0]["name"] == "Sender reputation"
    assert requests.get(url(sim, "/NOPE-2026-11-24T08:00:00-1/trace"), headers=AUTH, timeout=10).status_code == 404
    assert sim.state.ledger("response_violation") == [] and sim.state.ledger("contract_violation") == []


def test_a_reclassification_is_recorded_listed_and_logged_on_its_message(sim):
    message_id = "BBBB2222-2026-11-24T09:00:00-2"
    alert_id = sim.state.messages[message_id].alert_id
    submissions = url(sim).replace("/investigate", "/submissions")
    body = {"type": "reclassification", "messages": [{"alert_id": alert_id, "expected_disposition": "NONE"}]}

    answer = requests.post(submissions, json=body, headers=AUTH, timeout=10)
    listed = requests.get(submissions, params={"requested_disposition": "NONE"}, headers=AUTH, timeout=10).json()
    log = requests.get(url(sim, "/%s/action_log" % message_id), headers=AUTH, timeout=10).json()["result"]

    assert answer.status_code == 202 and answer.json()["result"]["results"][0]["accepted"] is True
    assert [s["original_postfix_id"] for s in listed["result"]] == ["BBBB2222"]
    assert log[-1]["operation"] == "SUBMISSION" and log[-1]["properties"]["requested_disposition"] == "NONE"
    assert [e["id"] for e in sim.state.ledger("submission")] == [message_id]
    assert sim.state.ledger("response_violation") == [] and sim.state.ledger("contract_violation") == []


def test_an_escalation_marks_the_employees_report_escalated_once(sim):
    message_id = "BBBB2222-2026-11-24T09:00:00-2"
    message = sim.state.messages[message_id]
    sim.state.add_submissions(
        [new_submission("user-1", "2026-11-24T09:30:00Z", "BBBB2222", None, "MALICIOUS", message.subject, kind="User")]
    )
    submissions = url(sim).replace("/investigate", "/submissions")

    def escalate(user_submission_id):
        item = {"alert_id": message.alert_id, "expected_disposition": "MALICIOUS"}
        item["escalated_submission_id"] = user_submission_id
        body = {"type": "reclassification", "messages": [item]}
        return requests.post(submissions, json=body, headers=AUTH, timeout=10).json()["result"]["results"][0]

    first, again, unknown = escalate("user-1"), escalate("user-1"), escalate("user-9")
    listed = requests.get(
        submissions, params={"type": "USER", "start": "2026-11-24T00:00:00Z"}, headers=AUTH, timeout=10
    ).json()["result"]

    assert first["accepted"] is True
    assert again == {"id": again["id"], "accepted": False, "error": "user submission user-1 was escalated already"}
    assert unknown["accepted"] is False and "no user submission has the id user-9" in unknown["error"]
    assert [(s["status"], s["escalated_submission_id"], s["escalated_as"]) for s in listed] == [
        ("escalated", first["id"], "MALICIOUS")
    ]
    assert sim.state.escalations() == {"user-1": 1}
    assert sim.state.ledger("response_violation") == [] and sim.state.ledger("contract_violation") == []


def settings_url(sim, segment, tail=""):
    return "%s/accounts/%s/email-security/settings/%s%s" % (sim.base_url, DEFAULT_ACCOUNT_ID, segment, tail)


POLICY = {
    "pattern": "invoices@partner.example",
    "pattern_type": "EMAIL",
    "is_acceptable_sender": True,
    "is_trusted_sender": False,
    "is_exempt_recipient": False,
    "verify_sender": True,
    "is_regex": False,
}


def test_an_allow_policy_is_created_listed_patched_and_deleted_within_the_contract(sim):
    created = requests.post(settings_url(sim, "allow_policies"), json=POLICY, headers=AUTH, timeout=10)
    assert created.status_code == 201
    policy_id = created.json()["result"]["id"]
    listed = requests.get(
        settings_url(sim, "allow_policies"),
        params={"pattern": POLICY["pattern"], "pattern_type": "EMAIL", "page": 1, "per_page": 1000},
        headers=AUTH,
        timeout=10,
    ).json()
    patched = requests.patch(
        settings_url(sim, "allow_policies", "/" + policy_id), json={"comments": "INC-1"}, headers=AUTH, timeout=10
    )
    deleted = requests.delete(settings_url(sim, "allow_policies", "/" + policy_id), headers=AUTH, timeout=10)

    assert [p["id"] for p in listed["result"]] == [policy_id]
    assert listed["result_info"] == {"count": 1, "page": 1, "per_page": 1000, "total_count": 1}
    assert patched.json()["result"]["comments"] == "INC-1"
    assert deleted.json()["result"] == {"id": policy_id}
    assert [e["event"] for e in sim.state.ledger() if e["event"].startswith("settings_")] == [
        "settings_created",
        "settings_updated",
        "settings_deleted",
    ]
    assert sim.state.ledger("contract_violation") == [] and sim.state.ledger("response_violation") == []


@pytest.mark.parametrize(
    "change, status, fragment",
    [
        ({"is_sender": True}, 400, "end of life: is_sender"),
        ({"pattern_type": "UNKNOWN"}, 400, "UNKNOWN"),
        ({"pattern": "10.0.0.1", "pattern_type": "IP"}, 400, "not a valid IP pattern"),
        ({"pattern": "not-an-address", "pattern_type": "EMAIL"}, 400, "not a valid EMAIL pattern"),
        ({}, 409, "in the allow policy list already"),
    ],
)
def test_the_simulator_refuses_what_cloudflare_refuses(sim, change, status, fragment):
    sim.state.settings["allow_policies"].create(dict(POLICY))

    answer = requests.post(settings_url(sim, "allow_policies"), json=dict(POLICY, **change), headers=AUTH, timeout=10)

    assert answer.status_code == status
    assert fragment in answer.json()["errors"][0]["message"]


def test_a_batch_is_all_or_nothing(sim):
    kept = sim.state.settings["trusted_domains"].create(
        {"pattern": "kept.example", "is_regex": False, "is_recent": True, "is_similarity": False}
    )
    body = {
        "deletes": [{"id": kept["id"]}],
        "patches": [],
        "puts": [],
        "posts": [{"pattern": "not a domain", "is_regex": False, "is_recent": True, "is_similarity": False}],
    }

    answer = requests.post(settings_url(sim, "trusted_domains", "/batch"), json=body, headers=AUTH, timeout=10)

    assert answer.status_code == 400
    assert list(sim.state.settings["trusted_domains"].entries) == [kept["id"]]


def test_a_read_only_token_cannot_change_a_list(sim):
    answer = requests.post(
        settings_url(sim, "allow_policies"),
        json=POLICY,
        headers={"Authorization": "Bearer " + DEFAULT_READ_ONLY_TOKEN},
        timeout=10,
    )

    assert answer.status_code == 403
    assert sim.state.settings["allow_policies"].entries == {}


def test_released_mail_is_queued_while_in_transit_then_delivered_or_bounced(sim):
    sim.state.configure({"transit_seconds": 0.3})
    release(sim, {"ids": ["AAAA1111-2026-11-24T08:00:00-1"]})

    def status():
        return requests.get(url(sim, "/AAAA1111-2026-11-24T08:00:00-1"), headers=AUTH, timeout=10).json()["result"][
            "delivery_status"
        ]

    assert status() == ["queued"]
    time.sleep(0.4)
    assert status() == ["delivered", "bounced"]


def test_scheduled_mail_is_quarantined_when_its_time_comes(sim):
    sim.state.configure(
        {
            "arrivals": [
                {
                    "after_seconds": 0.3,
                    "message": {
                        "id": "LATE0001-2026-11-25T12:00:00-9",
                        "from": "l@x.example",
                        "to": ["x@corp.example"],
                    },
                }
            ]
        }
    )

    def found():
        answer = requests.get(url(sim), params={"start": hours_ago(1)}, headers=AUTH, timeout=10).json()
        return [m["id"] for m in answer["result"]]

    assert found() == []
    time.sleep(0.4)
    assert found() == ["LATE0001-2026-11-25T12:00:00-9"]
    assert [e["id"] for e in sim.state.ledger("arrival")] == ["LATE0001-2026-11-25T12:00:00-9"]


def move(sim, ids, destination):
    return requests.post(url(sim, "/move"), json={"ids": ids, "destination": destination}, headers=AUTH, timeout=10)


def action_log(sim, message_id):
    return requests.get(url(sim, "/%s/action_log" % message_id), headers=AUTH, timeout=10).json()["result"]


def test_an_api_deployment_delivers_bad_mail_and_moves_it_out_of_the_inbox_on_arrival():
    spam = Message("DDDD4444-2026-11-24T08:00:00-4", "a@sender.example", ["x@corp.example"], "Hi", hours_ago(2), "SPAM")
    phish = Message(
        "EEEE5555-2026-11-24T08:00:00-5", "p@evil.example", ["x@corp.example"], "Pay", hours_ago(2), "MALICIOUS"
    )
    with Simulator(SimulatorState([spam, phish], deployment="api")) as running:
        detail = requests.get(url(running, "/" + spam.id), headers=AUTH, timeout=10).json()["result"]
        assert detail["is_quarantined"] is False
        assert detail["delivery_status"] == ["moved"]
        assert detail["post_delivery_operations"] == ["MOVE"]
        assert [(e["operation"], e["properties"]["folder"], e["success"]) for e in action_log(running, spam.id)] == [
            ("MOVE", "JunkEmail", True)
        ]
        assert action_log(running, phish.id)[-1]["properties"]["folder"] == "DeletedItems"
        assert running.state.ledger("response_violation") == []


def test_a_move_answers_per_recipient_records_the_move_and_counts_a_redundant_one(sim):
    clean = "CCCC3333-2026-11-24T10:00:00-3"

    answer = move(sim, [clean], "DeletedItems").json()
    again = move(sim, [clean], "DeletedItems").json()

    assert answer["success"] is True
    assert [(i["message_id"], i["recipient"], i["destination"], i["success"]) for i in answer["result"]] == [
        (clean, "x@corp.example", "DeletedItems", True)
    ]
    assert again["result"][0]["success"] is True
    assert sim.state.messages[clean].folders == {"x@corp.example": "DeletedItems"}
    assert sim.state.moves() == {clean: 2}
    assert [e["id"] for e in sim.state.ledger("redundant_move")] == [clean]
    assert [e["properties"]["folder"] for e in action_log(sim, clean) if e["operation"] == "MOVE"] == [
        "DeletedItems",
        "DeletedItems",
    ]
    assert sim.state.ledger("response_violation") == []


def test_a_quarantined_message_is_in_no_mailbox_and_is_not_moved(sim):
    answer = move(sim, ["BBBB2222-2026-11-24T09:00:00-2"], "Inbox").json()

    assert answer["result"][0]["success"] is False
    assert sim.state.moves() == {}
    assert [e["why"] for e in sim.state.ledger("move_refused")] == ["not in a mailbox"]


def test_without_a_mailbox_integration_every_move_is_refused_with_a_4xx(sim):
    sim.state.configure({"mailbox_integration": False})

    answer = move(sim, ["CCCC3333-2026-11-24T10:00:00-3"], "Inbox")

    assert answer.status_code == 400
    assert "integration" in answer.json()["errors"][0]["message"]
    assert sim.state.moves() == {}


@pytest.mark.parametrize(
    "body",
    [
        {"ids": ["CCCC3333-2026-11-24T10:00:00-3"], "destination": "Trash"},
        {"ids": ["CCCC3333-2026-11-24T10:00:00-3"]},
        {"ids": [], "destination": "Inbox"},
    ],
)
def test_a_move_outside_the_contract_is_refused(sim, body):
    answer = requests.post(url(sim, "/move"), json=body, headers=AUTH, timeout=10)

    assert answer.status_code == 400
    assert sim.state.moves() == {}
    assert sim.state.ledger("contract_violation")


def test_a_blocked_sender_is_created_and_listed_within_the_contract(sim):
    list_url = settings_url(sim, "block_senders")
    created = requests.post(
        list_url,
        json={"pattern": "p@evil.example", "pattern_type": "EMAIL", "is_regex": False},
        headers=AUTH,
        timeout=10,
    )
    duplicate = requests.post(
        list_url,
        json={"pattern": "p@evil.example", "pattern_type": "EMAIL", "is_regex": False},
        headers=AUTH,
        timeout=10,
    )
    listed = requests.get(list_url, params={"pattern": "p@evil.example"}, headers=AUTH, timeout=10).json()

    assert created.status_code == 201
    assert duplicate.status_code == 409
    assert [e["pattern"] for e in listed["result"]] == ["p@evil.example"]
    assert sim.state.ledger("response_violation") == []
    assert sim.state.ledger("contract_violation") == []


def test_a_seeds_ids_carry_the_time_of_its_shifted_dates():
    # Issue 37 item 4: the dates were moved an hour before now, the ids kept the seed's times (13 days apart).
    seed_path = os.path.join(HERE, "seeds", "demo.json")
    with open(seed_path, encoding="utf-8") as source:
        seeded = {m["id"].split("-", 1)[0]: m for m in json.load(source)["messages"]}
    state = load_state(seed_path)

    assert abs(state.date_shift.total_seconds()) > 3600
    assert state.date_shift.total_seconds() == int(state.date_shift.total_seconds())
    for message in state.messages.values():
        original = seeded[message.postfix_id]
        carried = datetime.datetime.strptime(message.id.split("-", 1)[1][:19], "%Y-%m-%dT%H:%M:%S")
        sent = datetime.datetime.strptime(message.sent_date, "%Y-%m-%dT%H:%M:%SZ")
        seed_carried = datetime.datetime.strptime(original["id"].split("-", 1)[1][:19], "%Y-%m-%dT%H:%M:%S")
        seed_sent = datetime.datetime.strptime(original["sent_date"], "%Y-%m-%dT%H:%M:%SZ")
        assert carried - sent == seed_carried - seed_sent, message.id
        assert carried - seed_carried == state.date_shift
        assert message.id.endswith(original["id"][-9:])


def test_the_help_names_the_account_id_and_the_credentials_it_accepts():
    # Issue 37 item 9: a new user had to read the seed file to find them.
    shown = subprocess.run(
        [sys.executable, "-m", "tests.simulator", "--help"],
        cwd=os.path.dirname(os.path.dirname(HERE)),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    flat = " ".join(shown.split())
    for value in (DEFAULT_ACCOUNT_ID, DEFAULT_TOKEN, DEFAULT_READ_ONLY_TOKEN, DEFAULT_KEY, DEFAULT_EMAIL):
        assert value in flat
    assert "--ids-file" in flat and "--id-skew" in flat and "--search-page-limit" in flat


def test_a_detection_has_a_real_png_preview_and_an_eml_that_says_what_the_message_was_given(sim):
    message = sim.state.messages["BBBB2222-2026-11-24T09:00:00-2"]
    message.evidence = {"dmarc": "fail", "reply_to": "pay@elsewhere.example", "links": ["https://lookalike.example/x"]}

    preview = requests.get(url(sim, "/%s/preview" % message.id), headers=AUTH, timeout=10)
    raw = requests.get(url(sim, "/%s/raw" % message.id), headers=AUTH, timeout=10)

    png = base64.b64decode(preview.json()["result"]["screenshot"])
    assert preview.status_code == 200 and png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 200
    eml = email.message_from_string(raw.json()["result"]["raw"], policy=email.policy.default)
    assert "dmarc=fail" in eml["Authentication-Results"] and eml["Reply-To"] == "pay@elsewhere.example"
    assert "https://lookalike.example/x" in eml.get_body(("plain",)).get_content()
    assert sim.state.ledger("contract_violation") == []


def test_a_message_without_detection_has_no_preview_nor_eml(sim):
    for part in ("preview", "raw"):
        answer = requests.get(url(sim, "/CCCC3333-2026-11-24T10:00:00-3/%s" % part), headers=AUTH, timeout=10)
        assert answer.status_code == 404 and answer.json()["errors"][0]["code"] == 1004


def test_the_mailbox_preview_needs_a_write_token_and_the_message_in_the_inbox(sim):
    clean = "CCCC3333-2026-11-24T10:00:00-3"
    read_only = {"Authorization": "Bearer " + DEFAULT_READ_ONLY_TOKEN}

    refused = requests.post(url(sim, "/preview"), json={"id": clean}, headers=read_only, timeout=10)
    rendered = requests.post(url(sim, "/preview"), json={"id": clean}, headers=AUTH, timeout=10)
    sim.state.messages[clean].move("JunkEmail")
    moved = requests.post(url(sim, "/preview"), json={"id": clean}, headers=AUTH, timeout=10)
    quarantined = requests.post(
        url(sim, "/preview"), json={"id": "AAAA1111-2026-11-24T08:00:00-1"}, headers=AUTH, timeout=10
    )

    assert refused.status_code == 403
    assert rendered.status_code == 200
    assert base64.b64decode(rendered.json()["result"]["screenshot"]).startswith(b"\x89PNG")
    assert (moved.status_code, moved.json()["errors"][0]["code"]) == (400, 1005)
    assert quarantined.status_code == 400
    assert [e["id"] for e in sim.state.ledger("mailbox_preview")] == [clean]
    assert "PREVIEW" in sim.state.messages[clean].post_delivery_operations


def test_a_submission_is_pending_until_its_review_then_accepted_or_rejected(sim):
    now = datetime.datetime.now(datetime.timezone.utc)
    requested = (now - datetime.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    sim.state.add_submissions(
        [
            new_submission("s-accepted", requested, "AAAA1111", "SPAM", "NONE", "a", review_at=0, decision="accepted"),
            new_submission("s-rejected", requested, "BBBB2222", "BULK", "NONE", "b", review_at=0, decision="rejected"),
            new_submission(
                "s-later",
                requested,
                "CCCC3333",
                "SPAM",
                "NONE",
                "c",
                kind="User",
                review_at=time.time() + 3600,
                decision="accepted",
            ),
        ]
    )

    listed = requests.get(
        "%s/accounts/%s/email-security/submissions" % (sim.base_url, DEFAULT_ACCOUNT_ID), headers=AUTH, timeout=10
    ).json()["result"]
    users = requests.get(
        "%s/accounts/%s/email-security/submissions?type=USER" % (sim.base_url, DEFAULT_ACCOUNT_ID),
        headers=AUTH,
        timeout=10,
    ).json()["result"]

    by_id = {item["submission_id"]: item for item in listed}
    assert (by_id["s-accepted"]["outcome"], by_id["s-accepted"]["outcome_disposition"]) == ("Accepted", "NONE")
    assert (by_id["s-rejected"]["outcome"], by_id["s-rejected"]["outcome_disposition"]) == ("Rejected", "BULK")
    assert by_id["s-later"]["status"] == "unreviewed" and "outcome" not in by_id["s-later"]
    assert [item["submission_id"] for item in users] == ["s-later"]
    assert sim.state.ledger("contract_violation") == []


def test_the_monthly_report_counts_the_messages_held_by_month_and_disposition(sim):
    answer = requests.get(
        "%s/accounts/%s/email-security/analytics/monthly_report" % (sim.base_url, DEFAULT_ACCOUNT_ID),
        headers=AUTH,
        timeout=10,
    ).json()["result"]["by_month"]

    assert len(answer) == 12
    this_month = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m")
    held = {}
    for message in sim.state.messages.values():
        if message.sent_at.strftime("%Y-%m") == this_month:
            held[message.final_disposition] = held.get(message.final_disposition, 0) + 1
    assert {row["disposition"]: row["total"] for row in answer[this_month]} == held
    assert sim.state.ledger("contract_violation") == []


def test_phishguard_reports_are_listed_by_window_and_empty_by_default(sim):
    url = "%s/accounts/%s/email-security/phishguard/reports" % (sim.base_url, DEFAULT_ACCOUNT_ID)

    assert requests.get(url, headers=AUTH, timeout=10).json()["result"] == []
    assert sim.state.ledger("contract_violation") == []
