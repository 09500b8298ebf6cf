# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""email_security_release in real playbooks: what the ansible-test targets cannot see (the whole output at -vvvv,
proxies from the environment). Outcomes, check mode, bad input and the ledger are in
tests/integration/targets/email_security_release/."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def quarantined_ids(sim):
    return [m.id for m in sim.state.messages.values() if m.is_quarantined]


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


def test_a_pause_is_said_while_the_task_waits_and_the_token_stays_masked(sim, release):
    # A quota of 6 requests per 2 s, announced on every answer: the 6 requests of 3 ids pause before it runs out.
    sim.state.set_quota(6, window=2, lockout=300)
    ids = quarantined_ids(sim)[:3]

    run = release({"message_ids": ids, "batch_size": 1, "api_token": sim.state.api_token}, options=["-vvvv"])

    assert run.returncode == 0, run.output
    lines = run.stdout.splitlines()
    said = [n for n, line in enumerate(lines) if line.startswith("[localhost] waiting ")]
    result = min(n for n, line in enumerate(lines) if line.startswith("changed: [localhost]"))
    assert said and said[0] < result, run.stdout
    assert "for the rate limit: Cloudflare's Ratelimit header announces" in lines[said[0]]
    assert sim.state.api_token not in run.output
