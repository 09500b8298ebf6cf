# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""email_security_release in real playbooks against the simulator: outcomes, ledger, secrets."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

WRONG_TOKEN = "sim-token-WRONG-77aa88bb99cc"


def quarantined_ids(sim):
    return [m.id for m in sim.state.messages.values() if m.is_quarantined]


def test_release_success_and_per_recipient_results(sim, release):
    ids = quarantined_ids(sim)[:3]

    run = release({"message_ids": ids})

    assert run.returncode == 0, run.output
    result = run.result
    assert result["changed"] is True and not result.get("failed")
    assert [r["id"] for r in result["results"]] == ids
    assert [r["status"] for r in result["results"]] == ["released"] * 3
    assert result["results"][1]["delivered"] == ["bob@corp.example", "carol@corp.example"]
    assert sim.state.deliveries() == dict.fromkeys(ids, 1)
    assert sim.state.double_deliveries() == []


def test_partial_delivery_fails_the_task_but_keeps_results(sim, release):
    bouncing = quarantined_ids(sim)[5]

    run = release({"message_ids": [bouncing]})

    result = run.result
    assert result["failed"] is True
    assert result["results"][0]["status"] == "partially_released"
    assert result["results"][0]["delivered"] == ["bob@corp.example"]
    assert result["results"][0]["failed"] == ["carol@corp.example"]
    assert result["incomplete_ids"] == [bouncing]
    assert "not fully released" in result["msg"]


def test_check_mode_sends_no_post(sim, release):
    ids = quarantined_ids(sim)

    run = release({"message_ids": ids}, check_mode=True)

    result = run.result
    assert [r["status"] for r in result["results"]] == ["would_release"] * len(ids)
    assert result["changed"] is True
    assert sim.state.requests(method="POST") == []
    assert sim.state.deliveries() == {}


def test_wrong_token_gives_a_clear_error(sim, release):
    run = release({"message_ids": quarantined_ids(sim)[:2]}, env_overrides={"CLOUDFLARE_API_TOKEN": WRONG_TOKEN})

    result = run.result
    assert result["failed"] is True
    assert "HTTP 401" in result["msg"] and "[10000] Authentication error" in result["msg"]
    assert "api_token (CLOUDFLARE_API_TOKEN)" in result["msg"]
    assert sim.state.requests(method="POST") == []
    assert len(sim.state.requests()) <= 2
    assert WRONG_TOKEN not in run.output


def test_read_only_token_names_the_missing_permission(sim, release):
    run = release(
        {"message_ids": quarantined_ids(sim)[:2], "only_quarantined": False},
        env_overrides={"CLOUDFLARE_API_TOKEN": sim.state.read_only_token},
    )

    result = run.result
    assert "[9109]" in result["msg"] and "Cloud Email Security: Write" in result["msg"]
    assert sim.state.deliveries() == {}


@pytest.mark.parametrize(
    "module_args, env_overrides, expected",
    [
        ({"message_ids": []}, {}, "message_ids is empty"),
        ({"message_ids": ["ok-1", "bad id"]}, {}, "invalid id"),
        ({"message_ids": ["ok-1"], "account_id": "12345"}, {}, "32-character hexadecimal"),
        ({"message_ids": ["ok-1"]}, {"CLOUDFLARE_API_TOKEN": None}, "no credentials"),
        ({"message_ids": ["ok-1"], "batch_size": 5000}, {}, "batch_size must be from 1 to 1000"),
    ],
)
def test_bad_input_sends_nothing(sim, release, module_args, env_overrides, expected):
    run = release(module_args, env_overrides=env_overrides)

    assert expected in run.result["msg"]
    assert sim.state.ledger() == []


def test_batching_puts_every_id_in_exactly_one_batch(sim, release):
    ids = quarantined_ids(sim)

    run = release({"message_ids": ids, "batch_size": 5, "only_quarantined": False})

    assert run.result["summary"]["released"] == 11 and run.result["summary"]["partially_released"] == 1
    batches = [r["ids"] for r in sim.state.requests(method="POST")]
    assert sorted(len(b) for b in batches) == [2, 5, 5]
    assert sorted(i for b in batches for i in b) == sorted(ids)
    assert sim.state.deliveries() == dict.fromkeys(ids, 1)


def test_the_token_never_appears_at_maximum_verbosity(sim, release):
    run = release(
        {"message_ids": quarantined_ids(sim)[:2], "api_token": sim.state.api_token, "account_id": sim.state.account_id},
        diff=True,
        options=["-vvvv"],
    )

    assert run.returncode == 0, run.output
    assert "email_security_release" in run.output
    assert sim.state.api_token not in run.output
    assert sim.state.api_token not in str(run.result)


def test_the_legacy_key_never_appears_at_maximum_verbosity(sim, release):
    run = release(
        {"message_ids": quarantined_ids(sim)[:1]},
        options=["-vvvv"],
        env_overrides={
            "CLOUDFLARE_API_TOKEN": None,
            "CLOUDFLARE_EMAIL": sim.state.api_email,
            "CLOUDFLARE_API_KEY": sim.state.api_key,
        },
    )

    assert run.returncode == 0, run.output
    assert sim.state.api_key not in run.output


def test_proxy_environment_variables_are_honoured(sim, release):
    """The simulator also answers absolute-URI requests, as a forward proxy receives them."""
    ids = quarantined_ids(sim)[:2]
    through_proxy = {
        "CLOUDFLARE_BASE_URL": "http://api.cloudflare.invalid/client/v4",
        "HTTP_PROXY": sim.base_url.rsplit("/client/v4", 1)[0],
        "NO_PROXY": "",
    }

    refused = release({"message_ids": ids[:1]}, env_overrides=through_proxy)
    assert "allow_insecure=true" in refused.result["msg"] and sim.state.requests() == []

    # Plain http:// to a host other than the loopback is refused unless the task says it means it.
    run = release({"message_ids": ids[:1], "allow_insecure": True}, env_overrides=through_proxy)

    assert run.returncode == 0, run.output
    assert run.result["results"][0]["status"] == "released"
    # Older ansible-core wraps warnings at the terminal's width.
    assert "the API token is not protected in transit" in " ".join(run.output.split())

    bypassing = {"HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": "127.0.0.1"}
    run = release({"message_ids": ids[1:]}, env_overrides=bypassing)

    assert run.returncode == 0, run.output
    assert sim.state.deliveries() == dict.fromkeys(ids, 1)
