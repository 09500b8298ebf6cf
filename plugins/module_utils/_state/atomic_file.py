# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""One way to replace a JSON state file whole, for the journal, the request budget and the event source's checkpoint."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os


def write_json(path, data, durable=True):
    """Replace the JSON file at path whole: a reader sees the old content or the new, never a torn file.

    ``durable`` syncs the content to disk before the rename, for what must survive a crash (a journal entry
    written before its request leaves); without it a crash may lose the newest content, never tear it.
    """
    temporary = "%s.%d.tmp" % (path, os.getpid())
    with open(temporary, "w", encoding="utf-8") as target:
        json.dump(data, target, sort_keys=True)
        if durable:
            target.flush()
            os.fsync(target.fileno())
    os.replace(temporary, path)
