# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mailsec.cloudflare.plugins.plugin_utils._progress_relay import ProgressRelayAction


class ActionModule(ProgressRelayAction):
    """Runs email_security_analytics_info, printing what it waits for while it waits."""
