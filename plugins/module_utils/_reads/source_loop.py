# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""How every event source of the collection runs: poll, record each item before its event leaves, move on, wait."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import asyncio

from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import CloudflareError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.quarantine_feed import (
    SourceError,
    retry_delay,
    stops_the_source,
)


async def serve(queue, source, what, warn):
    """Put one event per new item of ``source.feed`` on the queue, each once, until cancelled. A poll that fails
    is tried again after a pause (a lockout's whole length), unless no retry can mend it."""
    try:
        while True:
            try:
                items = await asyncio.to_thread(source.feed.poll)
            except CloudflareError as exc:
                if stops_the_source(exc):
                    raise SourceError(exc.message) from None
                delay = retry_delay(exc, source.poll_interval)
                warn("polling for %s failed, trying again in %.0f s: %s" % (what, delay, exc.message))
                await asyncio.sleep(delay)
                continue
            try:
                for item in items:
                    await asyncio.to_thread(source.feed.emitting, item)
                    await queue.put(source.event(item))
                await asyncio.to_thread(source.feed.done)
            except CloudflareError as exc:
                # The checkpoint cannot be written (its state database is gone): no event leaves unrecorded.
                raise SourceError(exc.message) from None
            await asyncio.sleep(source.poll_interval)
    finally:
        source.close()
