# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import threading

import pytest

from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.concurrency import run_in_order


def test_run_in_order_keeps_order_and_raises_the_first_error():
    assert run_in_order(lambda n: n * n, list(range(50)), 4) == [n * n for n in range(50)]

    def explode(n):
        if n == 3:
            raise ValueError("three")
        return n

    with pytest.raises(ValueError):
        run_in_order(explode, list(range(10)), 3)


def test_run_in_order_never_runs_more_than_the_workers_at_once():
    running, peak, lock = [0], [0], threading.Lock()
    release = threading.Event()

    def work(item):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        release.wait(0.01)
        with lock:
            running[0] -= 1
        return item

    assert run_in_order(work, list(range(40)), 3) == list(range(40))
    assert peak[0] <= 3


def test_run_in_order_stops_handing_out_items_after_an_error():
    started = []

    def work(item):
        started.append(item)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        run_in_order(work, list(range(100)), 2)
    assert len(started) <= 2
