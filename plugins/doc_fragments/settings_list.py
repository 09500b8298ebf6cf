# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The options of an entry of a settings list (allow policies, trusted domains, blocked senders), shared by their modules.
    DOCUMENTATION = r"""
options:
  state:
    description:
      - V(present) creates the entry, or changes only the fields that differ from the ones given.
      - V(absent) deletes every entry with this pattern.
    type: str
    choices: [present, absent]
    default: present
  is_regex:
    description:
      - Whether O(pattern) is a regular expression rather than a literal value. Checked to compile before any
        request.
      - Left as it is on an existing entry when not given; V(false) for a new one.
    type: bool
  comments:
    description:
      - Free text shown with the entry in the Cloudflare dashboard, for example the ticket and the reason.
      - When not given, an existing entry keeps its text. The expiry marker is added after it.
    type: str
  expires_at:
    description:
      - When the entry expires, as an RFC 3339 date-time with a time zone (C(2026-12-31T18:00:00Z)) or a date
        (midnight UTC of that day); V(never) removes an expiry.
      - Cloudflare has no expiry of its own. The moment is kept in the entry's C(comments), after the text, as
        C([mailsec.cloudflare expires_at=2026-12-31T18:00:00Z]); the info modules return it, and
        C(playbooks/expire_allow_policies.yml) deletes entries whose moment has passed.
      - Mutually exclusive with O(ttl).
    type: str
  ttl:
    description:
      - How long the entry lasts from this run, as seconds or a number with a unit (V(s), V(m), V(h), V(d), V(w)),
        for example V(30d).
      - Sets an expiry only where none is running, so running the task again does not move it on; give
        O(expires_at) to move an expiry.
      - Mutually exclusive with O(expires_at).
    type: str
  only_expired:
    description:
      - With O(state=absent), delete a matching entry only when its expiry has passed at the moment the task
        reads the list, so that an entry extended meanwhile is kept.
    type: bool
    default: false
"""
