# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures every unit test of the collection's plugins shares."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
import responses
from responses.registries import OrderedRegistry


@pytest.fixture
def api():
    """Scripted HTTP: registered answers are consumed in order, and anything unregistered fails the test."""
    with responses.RequestsMock(registry=OrderedRegistry, assert_all_requests_are_fired=True) as mocked:
        yield mocked
