# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The simulator speaks the vendored contract: property-based requests from schemathesis for every operation it
serves, and the official Cloudflare SDK, whose strict response models must accept every answer."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import cloudflare
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from conftest import SIMULATOR_DIR
from tests.simulator.contract import CONTRACT_PATH
from tests.simulator import Simulator, load_state

SERVED = ["email_security_post_release", "email_security_get_message", "email_security_investigate"]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
SCHEMA = schemathesis.openapi.from_path(CONTRACT_PATH).include(operation_id=SERVED)
EXAMPLES_PER_OPERATION = 60


@pytest.fixture
def contract_sim():
    with Simulator(load_state(os.path.join(SIMULATOR_DIR, "seeds", "demo.json"))) as running:
        yield running
    # Requests outside the contract are what this test sends on purpose; answers outside it never.
    assert running.state.ledger("response_violation") == []


@SCHEMA.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_every_served_operation_answers_within_the_contract(case, contract_sim):
    state = contract_sim.state
    # Most valid requests aim at the simulator's account and messages, so that they reach the operation's own
    # checks; invalid ones (negative generation) are sent as generated, for the contract checks to refuse.
    if case.meta is None or case.meta.generation.mode == GenerationMode.POSITIVE:
        if "account_id" in case.path_parameters and len(repr(case.query)) % 4:
            case.path_parameters["account_id"] = state.account_id
        if "investigate_id" in case.path_parameters and len(repr(case.query)) % 2:
            case.path_parameters["investigate_id"] = sorted(state.messages)[0]
    case.call_and_validate(
        base_url=contract_sim.base_url, headers={"Authorization": "Bearer " + state.api_token}, checks=CHECKS
    )


@pytest.fixture
def sdk_sim():
    with Simulator(load_state(os.path.join(SIMULATOR_DIR, "seeds", "demo.json"))) as running:
        client = cloudflare.Cloudflare(
            api_token=running.state.api_token,
            base_url=running.base_url,
            max_retries=0,
            _strict_response_validation=True,
        )
        yield running, client
        client.close()
    assert running.state.ledger("response_violation") == []


def test_the_official_sdk_releases_reads_and_lists_against_the_simulator(sdk_sim):
    sim, client = sdk_sim
    account = sim.state.account_id
    quarantined = [m.id for m in sim.state.messages.values() if m.is_quarantined][:2]

    page = client.email_security.investigate.list(account_id=account, per_page=5, detections_only=False)
    detail = client.email_security.investigate.get(quarantined[0], account_id=account)
    released = client.email_security.investigate.release.bulk(account_id=account, ids=quarantined)

    assert len(page.result) == 5
    assert detail.id == quarantined[0] and detail.is_quarantined is True
    assert [item.id for item in released] == quarantined
    assert sim.state.deliveries() == dict.fromkeys(quarantined, 1)
    assert sim.state.ledger("contract_violation") == []


def test_the_official_sdk_cannot_loop_on_the_retired_page_parameter(sdk_sim):
    sim, client = sdk_sim

    with pytest.raises(cloudflare.BadRequestError) as raised:
        client.email_security.investigate.list(account_id=sim.state.account_id, per_page=5, page=2)

    assert "cursor" in str(raised.value)
    assert len(sim.state.ledger("contract_violation")) == 1
