# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A client built from a module's or the event source's resolved settings, paced on its state store's budget."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.client import CloudflareClient
from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.pacing import (
    DEFAULT_RATE_LIMIT,
    RATE_LIMIT_WINDOW_SECONDS,
    RequestPacer,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._state.local import LocalState


def connect(settings, on_warning, deadline=None, state=None, progress=None):
    """A client for resolved settings, paced on the request budget its state store shares per credential (the
    files in ``state_dir`` when no store is given), saying its waits to ``progress``.

    Raises OSError when ``state_dir`` cannot hold the shared budget.
    """
    credential = settings["api_token"] or "%s:%s" % (settings["api_email"], settings["api_key"])
    pacer = RequestPacer(
        limit=settings["rate_limit"] or DEFAULT_RATE_LIMIT,
        window=RATE_LIMIT_WINDOW_SECONDS,
        reserve=settings["concurrency"],
        ceiling_always=settings["rate_limit"] is not None,
        on_pause=on_warning,
        budget=(state or LocalState(settings["state_dir"])).budget(credential),
        progress=progress,
    )
    return CloudflareClient(settings, pacer=pacer, deadline=deadline, on_retry=on_warning, progress=progress)
