# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import itertools
import threading


def run_in_order(work, items, workers):
    """Call work(item) for every item on up to ``workers`` threads; return the results in item order.

    Threads pull the next item when they are free, so memory holds one result per item and no
    queue of pending calls, however many items there are. The first exception raised by work
    stops the hand-out of further items and is raised here once every thread has stopped.
    """
    results = [None] * len(items)
    if workers <= 1 or len(items) <= 1:
        for index, item in enumerate(items):
            results[index] = work(item)
        return results
    lock = threading.Lock()
    cursor = [0]
    errors = []

    def worker():
        while True:
            with lock:
                index = cursor[0]
                if errors or index >= len(items):
                    return
                cursor[0] = index + 1
            try:
                results[index] = work(items[index])
            except BaseException as exc:  # pylint: disable=broad-except
                with lock:
                    errors.append(exc)
                return

    threads = [threading.Thread(target=worker, daemon=True) for dummy in range(min(workers, len(items)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def in_batches(items, size):
    """items cut into lists of at most size, in order."""
    remaining = iter(items)
    return list(iter(lambda: list(itertools.islice(remaining, size)), []))
