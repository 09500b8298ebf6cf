# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the PostgreSQL backend decides before it talks to a server. Everything it does with one is tested against
a real PostgreSQL server (tests/integration/test_state_postgresql.py and the release property suite), never a mock.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import StateStoreError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._state.postgres import (
    PostgresState,
    dsn_secrets,
)


@pytest.mark.parametrize(
    "dsn, secrets",
    [
        ("postgresql://mailsec:p%40ss%2Fw0rd@db.example:5432/awx", {"p%40ss%2Fw0rd", "p@ss/w0rd"}),
        ("host=db.example user=mailsec password='Key Value Secret' dbname=awx", {"Key Value Secret"}),
        ("postgresql://mailsec@db.example/awx", set()),
    ],
)
def test_every_form_of_a_dsns_password_is_masked(dsn, secrets):
    assert dsn_secrets(dsn) == secrets | {dsn}


def test_a_malformed_dsn_is_refused_without_showing_it_or_connecting():
    with pytest.raises(StateStoreError) as raised:
        PostgresState("host=db.example password='Unclosed-Secret-1 dbname=awx")
    assert "not a libpq connection string" in raised.value.message
    assert "Unclosed-Secret" not in raised.value.message and raised.value.is_fatal


def test_a_parser_error_quoting_the_dsn_is_masked():
    dsn = "postgresql://mailsec:Quoted-Secret-2@[::1/awx"
    with pytest.raises(StateStoreError) as raised:
        PostgresState(dsn)
    assert "IPv6 host address" in raised.value.message and "Quoted-Secret" not in raised.value.message
