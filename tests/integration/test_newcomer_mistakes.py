# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 37: the mistakes a new user made, each a task of one real playbook at -vvv against the simulator; every
message names the cause and the fix in at most two lines, and no credential appears anywhere in the output."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket

from conftest import ansible_env, moment
from test_newcomer import _results

from tests.postgres_server import SUPERUSER

RELEASE = "mailsec.cloudflare.email_security_release"
MOVE = "mailsec.cloudflare.email_security_move"
INFO = "mailsec.cloudflare.email_security_message_info"
ALLOW = "mailsec.cloudflare.email_security_allow_policy"
BLOCK = "mailsec.cloudflare.email_security_blocked_sender"
IDS = ["NWMISTAKE0000001-2026-12-01T10:00:00-1"]


def _closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _mistakes(sim, postgres):
    """(what the user did, task, what the message must say); a None message: the task must now succeed."""
    closed = "http://127.0.0.1:%d/client/v4" % _closed_port()
    window = {"start": moment(24)}
    quarantined = [m.id for m in sim.state.messages.values() if m.is_quarantined][:2]
    return [
        ("an unquoted account id", {RELEASE: {"message_ids": IDS, "account_id": 123456789}}, "read as a number"),
        ("an empty list of ids", {RELEASE: {"message_ids": []}}, "message_ids is empty"),
        ("ids as one comma-separated string", {RELEASE: {"message_ids": ", ".join(quarantined)}}, None),
        ("an unknown destination", {MOVE: {"message_ids": IDS, "destination": "Trash"}}, "value of destination must"),
        (
            "a purge without confirmation",
            {MOVE: {"message_ids": IDS, "destination": "RecoverableItemsPurges"}},
            "confirm_purge",
        ),
        (
            "a scheme-less base URL",
            {RELEASE: {"message_ids": IDS, "base_url": "api.cloudflare.com/client/v4"}},
            "starting with https://",
        ),
        (
            "a base URL with junk after a space",
            {RELEASE: {"message_ids": IDS, "base_url": sim.base_url + " x"}},
            "holds a space",
        ),
        (
            "an unreachable host",
            {RELEASE: {"message_ids": IDS, "base_url": closed, "retries": 1}},
            "connection was refused",
        ),
        (
            "https to a plain-http server",
            {RELEASE: {"message_ids": IDS, "base_url": sim.base_url.replace("http:", "https:"), "retries": 0}},
            "does not speak TLS",
        ),
        (
            "a proxy that is down",
            {RELEASE: {"message_ids": IDS, "retries": 0}, "environment": {"HTTP_PROXY": closed}},
            "the proxy failed",
        ),
        (
            "a wrong token",
            {RELEASE: {"message_ids": IDS, "api_token": "wrong-token-0123456789abcdef"}},
            "credentials were not accepted",
        ),
        (
            "no token at all",
            {RELEASE: {"message_ids": IDS}, "environment": {"CLOUDFLARE_API_TOKEN": ""}},
            "CLOUDFLARE_API_TOKEN",
        ),
        ("a token too short", {RELEASE: {"message_ids": IDS, "api_token": "short"}}, "20 to 256"),
        (
            "an API key without its e-mail",
            {RELEASE: {"message_ids": IDS, "api_key": "0123456789abcdef0123456789abcdef01234"}},
            "api_email",
        ),
        ("an account id of the wrong length", {RELEASE: {"message_ids": IDS, "account_id": "abc123"}}, "32-character"),
        (
            "a DSN without a password",
            {
                RELEASE: {
                    "message_ids": IDS,
                    "state_backend": "postgresql",
                    "state_dsn": "postgresql://%s@127.0.0.1:%d/mailsec" % (SUPERUSER, postgres.port),
                }
            },
            "no password",
        ),
        ("a misspelt state backend", {RELEASE: {"message_ids": IDS, "state_backend": "postgres"}}, "state_backend"),
        ("a misspelt option", {RELEASE: {"message_id": IDS}}, "did you mean message_ids?"),
        ("ids given as a mapping", {RELEASE: {"message_ids": {"id": IDS[0]}}}, "message_ids"),
        ("an id with a slash", {RELEASE: {"message_ids": ["abc/def"]}}, "URL syntax"),
        ("a search without a time window", {RELEASE: {"search": {"sender": "a@b.example"}}}, "no time window"),
        ("a search filter left empty", {RELEASE: {"search": dict(window, sender="")}}, "search.sender is empty"),
        ("an end before the start", {RELEASE: {"search": {"start": moment(1), "end": moment(5)}}}, "is after end"),
        ("a start in the future", {RELEASE: {"search": {"start": moment(-48)}}}, "in the future"),
        (
            "a cap lower than what the search finds",
            {RELEASE: {"search": {"start": moment(24 * 30), "all_time": False}, "max_messages": 1}},
            "more than max_messages",
        ),
        ("a batch size of 0", {RELEASE: {"message_ids": IDS, "batch_size": 0}}, "batch_size"),
        ("a negative settle_timeout", {RELEASE: {"message_ids": IDS, "settle_timeout": -1}}, "settle_timeout"),
        ("a page size over the API's", {INFO: {"search": window, "per_page": 5000}}, "per_page"),
        (
            "fail_on_incomplete: maybe",
            {RELEASE: {"message_ids": IDS, "fail_on_incomplete": "maybe"}},
            "fail_on_incomplete",
        ),
        ("an expiry written in words", {ALLOW: {"pattern": "a@b.example", "ttl": "30 days"}}, "ttl"),
        ("an allow policy without a pattern", {ALLOW: {"pattern": ""}}, "pattern"),
        (
            "plain http to a real host",
            {RELEASE: {"message_ids": IDS, "base_url": "http://api.cloudflare.com/client/v4"}},
            "allow_insecure",
        ),
        ("an allowed sender blocked", {BLOCK: {"pattern": "invoices@northwind-supplies.example"}}, "allow policy"),
    ]


def test_each_mistake_a_new_user_made_gets_its_cause_and_fix_in_two_lines_and_no_secret(sim, postgres, tmp_path):
    mistakes = _mistakes(sim, postgres)
    tasks = [{"name": "Allow the supplier", ALLOW: {"pattern": "invoices@northwind-supplies.example"}}]
    tasks += [dict(task, name=what) for what, task, dummy in mistakes]
    env = ansible_env(sim, tmp_path)

    run, results = _results(tmp_path, sim, "mistakes", tasks, env=env, options=["-vvv"])

    assert run.returncode == 0, run.output
    said = []
    for number, (what, dummy, expected) in enumerate(mistakes, 1):
        result = results[number]
        if expected is None:
            assert not result.get("failed"), (what, result.get("msg"))
            said.append("| %s | accepted |" % what)
            continue
        assert result.get("failed"), (what, result)
        message = result["msg"]
        assert expected in message, (what, message)
        # Two lines at most, as a person reads them in a terminal: no line breaks, and not a wall of text.
        assert "\n" not in message and len(message) <= 480, (what, len(message), message)
        said.append("| %s | %s |" % (what, message.replace("|", "\\|")))
    for secret in (sim.state.api_token, "wrong-token-0123456789abcdef", "0123456789abcdef0123456789abcdef01234"):
        assert secret not in run.output
    # The table of what each mistake now gets (pytest -s shows it).
    print("| mistake | what the task says |\n|---|---|\n" + "\n".join(said))
