# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.mailsec.cloudflare.plugins.module_utils._module.options import (
    CONNECTION_ARGUMENT_SPEC,
    ENV_STATE_DSN,
    OPTIONS,
    check_base_url,
    check_credential,
    resolve_connection,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import ValidationError, check_range

ACCOUNT = "023E105F4ECEF8AD9CA31A8372D0C353"
TOKEN = "t" * 40


def params(**extra):
    base = {option.name: option.default for option in OPTIONS}
    base.update(account_id=ACCOUNT, api_token=TOKEN)
    base.update(extra)
    return base


def test_the_argument_spec_comes_from_the_one_table():
    assert set(CONNECTION_ARGUMENT_SPEC) == {option.name for option in OPTIONS}
    assert CONNECTION_ARGUMENT_SPEC["api_token"] == {"type": "str", "no_log": True}
    assert CONNECTION_ARGUMENT_SPEC["timeout"]["default"] == 30.0


def test_task_arguments_win_over_the_environment():
    settings = resolve_connection(params(), {"CLOUDFLARE_API_TOKEN": "e" * 40, "CLOUDFLARE_ACCOUNT_ID": "f" * 32})
    assert settings["api_token"] == TOKEN and settings["account_id"] == ACCOUNT.lower()


def test_credentials_come_from_one_source_as_a_whole():
    environ = {"CLOUDFLARE_API_TOKEN": "e" * 40}
    settings = resolve_connection(params(api_token=None, api_email="a@example.com", api_key="k" * 37), environ)
    assert settings["api_token"] is None and settings["api_key"] == "k" * 37


def test_the_environment_is_used_when_the_task_gives_nothing():
    environ = {
        "CLOUDFLARE_API_TOKEN": "e" * 40,
        "CLOUDFLARE_ACCOUNT_ID": "a" * 32,
        "CLOUDFLARE_BASE_URL": "https://proxy.example/client/v4",
        "MAILSEC_CLOUDFLARE_STATE_DIR": "/tmp/st",
    }
    settings = resolve_connection(params(api_token=None, account_id=None), environ)
    assert (settings["api_token"], settings["account_id"], settings["base_url"], settings["state_dir"]) == (
        "e" * 40,
        "a" * 32,
        "https://proxy.example/client/v4",
        "/tmp/st",
    )


@pytest.mark.parametrize(
    "extra, environ, message",
    [
        ({"account_id": None}, {}, "CLOUDFLARE_ACCOUNT_ID"),
        ({"account_id": "../x"}, {}, "32-character hexadecimal"),
        ({"api_token": None}, {}, "no credentials"),
        ({"api_token": None, "api_key": "k" * 37}, {}, "needs both api_email and api_key"),
        ({"api_token": None}, {"CLOUDFLARE_API_TOKEN": "short"}, "CLOUDFLARE_API_TOKEN environment variable is 5"),
        ({"retries": 11}, {}, "retries must be from 0 to 10"),
        ({"timeout": float("nan")}, {}, "timeout must be a finite number"),
    ],
)
def test_what_cannot_work_names_the_option_and_variable(extra, environ, message):
    with pytest.raises(ValidationError, match=message):
        resolve_connection(params(**extra), environ)


def test_one_trailing_line_break_is_removed_with_a_notice():
    notices = []
    assert check_credential(TOKEN + "\r\n", "api_token", notices) == TOKEN
    assert len(notices) == 1 and TOKEN not in notices[0]


@pytest.mark.parametrize("value", ["x" * 19, "x" * 257, TOKEN + "\n\n", "tok en" + "x" * 20, "t\u00f6k" + "x" * 20])
def test_credentials_no_cloudflare_credential_is_are_refused_without_the_value(value):
    with pytest.raises(ValidationError) as raised:
        check_credential(value, "api_token", [])
    assert value.strip() not in str(raised.value)


@pytest.mark.parametrize(
    "url, validate, allowed, message",
    [
        ("https://u:p@api.example/client/v4", True, False, "user name or password"),
        ("http://api.example/client/v4", True, False, "allow_insecure=true"),
        ("https://api.example/client/v4", False, False, "allow_insecure=true"),
        ("ftp://api.example", True, False, r"http\(s\) URL"),
        ("api.cloudflare.com/client/v4", True, False, "starting with https://"),
        ("https://host/client/v4 junk", True, False, "a space at character 23 of 27"),
        ("https://host/client/v4\tjunk", True, False, "a control character at character 23"),
        ("https://host/client/v4?x=1", True, False, "query or fragment"),
        ("https://host/client/v4#top", True, False, "query or fragment"),
        ("https://host:99999/client/v4", True, False, "port"),
    ],
)
def test_base_url_refusals(url, validate, allowed, message):
    with pytest.raises(ValidationError, match=message):
        check_base_url(url, validate, allowed, [])


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/client/v4", "http://localhost/x", "http://[::1]:9/x"])
def test_plain_http_to_the_loopback_needs_no_permission(url):
    notices = []
    assert check_base_url(url, False, False, notices) == url and notices == []


def test_allow_insecure_warns():
    notices = []
    check_base_url("http://api.example/client/v4", True, True, notices)
    assert "not protected in transit" in notices[0]


def test_check_range_refuses_none_nan_and_out_of_range():
    assert check_range("x", 5, 1, 10) == 5
    for value in (None, 0, 11, float("inf")):
        with pytest.raises(ValidationError):
            check_range("x", value, 1, 10)


@pytest.mark.parametrize(
    "given, environ, where",
    [
        ({"account_id": " %s\n" % ACCOUNT}, {}, "account_id"),
        ({"account_id": None}, {"CLOUDFLARE_ACCOUNT_ID": ACCOUNT + " "}, "CLOUDFLARE_ACCOUNT_ID"),
        ({"base_url": " https://proxy.example/client/v4\n"}, {}, "base_url"),
        ({}, {"CLOUDFLARE_BASE_URL": "\thttps://proxy.example/client/v4"}, "CLOUDFLARE_BASE_URL"),
    ],
)
def test_whitespace_around_an_account_id_or_base_url_is_removed_with_a_warning(given, environ, where):
    """Issue 23: it was stripped and the request sent without a word."""
    notices = []

    settings = resolve_connection(params(**given), environ, notices)

    assert settings["account_id"] == ACCOUNT.lower()
    assert settings["base_url"] in ("https://api.cloudflare.com/client/v4", "https://proxy.example/client/v4")
    assert notices == ["%s had whitespace or a line break around it, which was removed; store it without" % where]


def test_an_account_id_yaml_read_as_a_number_says_to_quote_it():
    with pytest.raises(ValidationError) as raised:
        resolve_connection(params(account_id="0"), {})
    assert "read as a number" in str(raised.value) and "quote it" in str(raised.value)


def test_the_state_backend_is_local_unless_chosen_by_option_or_environment():
    assert resolve_connection(params(), {})["state_backend"] == "local"
    dsn = "postgresql://mailsec@db.example/awx"
    chosen = resolve_connection(params(), {"MAILSEC_CLOUDFLARE_STATE_BACKEND": "postgresql", ENV_STATE_DSN: dsn})
    assert (chosen["state_backend"], chosen["state_dsn"]) == ("postgresql", dsn)
    # The option wins over the environment, as every connection option does.
    given = resolve_connection(
        params(state_backend="postgresql", state_dsn="host=db.example dbname=mailsec"), {ENV_STATE_DSN: dsn}
    )
    assert given["state_dsn"] == "host=db.example dbname=mailsec"


def test_the_postgresql_backend_without_a_dsn_names_the_option_and_variable():
    with pytest.raises(ValidationError, match="set state_dsn or MAILSEC_CLOUDFLARE_STATE_DSN"):
        resolve_connection(params(state_backend="postgresql"), {})
    with pytest.raises(ValidationError, match="state_backend .or MAILSEC_CLOUDFLARE_STATE_BACKEND. must be one of"):
        resolve_connection(params(), {"MAILSEC_CLOUDFLARE_STATE_BACKEND": "redis"})


def test_a_dsn_with_the_local_backend_is_a_notice_that_does_not_show_it():
    notices = []
    settings = resolve_connection(params(state_dsn="postgresql://u:Pw-Secret-123@db/awx"), {}, notices)
    assert settings["state_backend"] == "local" and settings["state_dsn"] is None
    assert len(notices) == 1 and "state_backend is local" in notices[0] and "Pw-Secret" not in notices[0]


def test_a_base_url_refusal_names_where_it_came_from_and_never_shows_the_url():
    with pytest.raises(ValidationError) as option:
        check_base_url("https://user:Pass-Word-1@host/v4 junk", True, False, [])
    with pytest.raises(ValidationError) as variable:
        check_base_url("https://host/v4 junk", True, False, [], source="CLOUDFLARE_BASE_URL")

    assert "set the base_url option" in str(option.value) and "Pass-Word-1" not in str(option.value)
    assert "set the CLOUDFLARE_BASE_URL environment variable" in str(variable.value)
    assert "junk" not in str(variable.value)
