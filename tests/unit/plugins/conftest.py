# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures every unit test of the collection's plugins shares."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import json
import time

import pytest
import responses
from ansible.module_utils import basic
from ansible.module_utils.common.text.converters import to_bytes
from responses.registries import OrderedRegistry


@pytest.fixture
def api():
    """Scripted HTTP: registered answers are consumed in order, and anything unregistered fails the test."""
    with responses.RequestsMock(registry=OrderedRegistry, assert_all_requests_are_fired=True) as mocked:
        yield mocked


try:
    from ansible.module_utils.testing import patch_module_args  # ansible-core 2.19 and newer
except ImportError:
    from unittest import mock

    @contextlib.contextmanager
    def patch_module_args(args):
        with mock.patch.object(basic, "_ANSIBLE_ARGS", to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args}))):
            yield


ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"
BASE = "https://api.example.test/client/v4"
TOKEN = "tok-SECRET-0123456789abcdef"
RELEASE_URL = "%s/accounts/%s/email-security/investigate/release" % (BASE, ACCOUNT)


class ModuleExit(Exception):
    def __init__(self, result, failed):
        super(ModuleExit, self).__init__(result.get("msg"))
        self.result = result
        self.failed = failed


def _exit_json(self, **kwargs):
    kwargs.setdefault("changed", False)
    raise ModuleExit(kwargs, failed=False)


def _fail_json(self, msg, **kwargs):
    kwargs["msg"] = msg
    raise ModuleExit(kwargs, failed=True)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    for name in (
        "CLOUDFLARE_API_TOKEN",
        "CLOUDFLARE_ACCOUNT_ID",
        "CLOUDFLARE_BASE_URL",
        "CLOUDFLARE_EMAIL",
        "CLOUDFLARE_API_KEY",
        "HTTPS_PROXY",
        "HTTP_PROXY",
        "https_proxy",
        "http_proxy",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
    ):
        monkeypatch.delenv(name, raising=False)
    # The journal, the lock and the shared request budget of each test are its own.
    monkeypatch.setenv("MAILSEC_CLOUDFLARE_STATE_DIR", str(tmp_path / "state"))


@pytest.fixture
def run_module(monkeypatch):
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", _exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", _fail_json)
    # Retries, pauses and settle waits must not make the unit tests sleep: sleeping moves a fake clock instead.
    slept = [0.0]
    real_monotonic, real_time = time.monotonic, time.time
    monkeypatch.setattr("time.sleep", lambda seconds: slept.__setitem__(0, slept[0] + seconds))
    monkeypatch.setattr("time.monotonic", lambda: real_monotonic() + slept[0])
    monkeypatch.setattr("time.time", lambda: real_time() + slept[0])

    def run(main, args, check_mode=False, diff=False):
        args = dict(args)
        args["_ansible_check_mode"] = check_mode
        args["_ansible_diff"] = diff
        with patch_module_args(args):
            with pytest.raises(ModuleExit) as raised:
                main()
        return raised.value

    return run


def envelope(result=None, success=True, errors=None, messages=None, **extra):
    body = {"success": success, "errors": errors or [], "messages": messages or [], "result": result}
    body.update(extra)
    return body


class FakeClock:
    """A monotonic clock that sleeping moves: pass the instance as ``clock`` and its ``sleep`` as ``sleep``."""

    def __init__(self):
        self.now = 0.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def real_client(retries=0):
    """A CloudflareClient on the scripted base URL (the ``api`` fixture answers it)."""
    from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.client import CloudflareClient

    return CloudflareClient(dict(api_token=TOKEN, base_url=BASE, retries=retries))
