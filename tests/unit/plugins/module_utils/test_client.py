# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import email.utils
import os

import pytest
import requests
import yaml

from ansible_collections.mailsec.cloudflare.plugins.module_utils._client import (
    CloudflareClient,
    CloudflareError,
    OutcomeUnknownError,
    parse_retry_after,
    redact,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._version import COLLECTION_VERSION

BASE = "https://api.example.test/client/v4"
PATH = "/accounts/023e105f4ecef8ad9ca31a8372d0c353/email-security/investigate/x"


@pytest.fixture
def client():
    waits = []
    made = CloudflareClient(api_token="secret-token", base_url=BASE, retries=2, sleep=waits.append)
    made.waits = waits
    return made


def test_retry_after_in_seconds_and_as_a_date():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    later = email.utils.formatdate(1000.0 + 30, usegmt=True)
    assert parse_retry_after(later, now=1000.0) == pytest.approx(30.0)


def test_reads_are_retried_on_server_errors(api, client):
    api.get(BASE + PATH, status=502, body="bad gateway")
    api.get(BASE + PATH, json={"success": True, "errors": [], "messages": [], "result": {"id": "x"}})

    assert client.get(PATH).result == {"id": "x"}
    assert client.retries_done == 1 and len(client.waits) == 1


def test_reads_give_up_after_the_configured_retries(api, client):
    for dummy in range(3):
        api.get(BASE + PATH, status=500, json={"success": False, "errors": [{"code": 1, "message": "oops"}]})

    with pytest.raises(CloudflareError) as raised:
        client.get(PATH)
    assert raised.value.status == 500
    assert "(after 2 retries)" in raised.value.message
    assert "[1] oops" in raised.value.message


def test_writes_are_never_resent_after_a_server_error(api, client):
    api.post(BASE + PATH, status=500, body="oops")

    with pytest.raises(OutcomeUnknownError):
        client.post(PATH, {"ids": ["a"]})
    assert len(api.calls) == 1


def test_writes_are_never_resent_after_a_read_timeout(api, client):
    api.post(BASE + PATH, body=requests.exceptions.ReadTimeout("read timed out"))

    with pytest.raises(OutcomeUnknownError):
        client.post(PATH, {"ids": ["a"]})
    assert len(api.calls) == 1


def test_writes_are_retried_when_the_connection_never_opened(api, client):
    api.post(BASE + PATH, body=requests.exceptions.ConnectTimeout("connect timed out"))
    api.post(BASE + PATH, json={"success": True, "errors": [], "messages": [], "result": []})

    assert client.post(PATH, {"ids": ["a"]}).result == []
    assert len(api.calls) == 2


def test_a_non_json_success_on_a_write_is_an_unknown_outcome(api, client):
    api.post(BASE + PATH, body="<html>proxy</html>", status=200)

    with pytest.raises(OutcomeUnknownError):
        client.post(PATH, {"ids": ["a"]})


def test_redirects_are_not_followed_with_the_credentials(api, client):
    api.get(BASE + PATH, status=302, headers={"Location": "https://evil.example.test/"})

    with pytest.raises(CloudflareError) as raised:
        client.get(PATH)
    assert raised.value.status == 302
    assert len(api.calls) == 1


def test_the_user_agent_names_the_collection(api, client):
    api.get(BASE + PATH, json={"success": True, "errors": [], "messages": [], "result": None})
    client.get(PATH)
    assert api.calls[0].request.headers["User-Agent"].startswith("mailsec.cloudflare/%s " % COLLECTION_VERSION)


def test_redact_walks_nested_data():
    data = {"msg": "token abc123 leaked", "list": ["x abc123", 3], "nested": {"k": ("abc123",)}}
    expected = {"msg": "token ******** leaked", "list": ["x ********", 3], "nested": {"k": ["********"]}}
    assert redact(data, ["abc123"]) == expected


def test_the_user_agent_version_is_the_collection_version():
    galaxy = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "galaxy.yml")
    with open(galaxy) as source:
        assert yaml.safe_load(source)["version"] == COLLECTION_VERSION
