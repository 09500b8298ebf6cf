# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The attributes of a module that only reads.
    INFO_MODULE = r"""
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details:
      - The module only reads, so check mode runs it as usual.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: N/A
    details:
      - The module changes nothing.
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second run reports no changes.
    support: full
"""

    # The attributes of a module that reads and, on request, saves what it read as files.
    INFO_MODULE_SAVING_FILES = r"""
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details:
      - The module changes no mail, so check mode reads as usual; the files it saves on request are not
        written, each result says where its file would go, and no mailbox preview is asked for.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: N/A
    details:
      - The module changes no mail; the files it saves are named in its result.
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second run reports no changes.
    support: full
    details:
      - A file saved again with the same content is left as it is.
"""
