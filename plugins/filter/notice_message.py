# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: notice_message
short_description: Write what a runbook run tells the ticket, the channel and the people, for each medium
version_added: 1.3.0
author:
  - mailsec.cloudflare maintainers (@mailsec)
description:
  - Takes the description of a run that the P(mailsec.cloudflare.notices#role) role receives from a runbook, and writes
    the notice for one medium.
  - Every word from the mail (a sender, a subject) is escaped for the medium, so that a link, a Slack
    V(<url|label>), HTML, a ServiceNow V([code]) tag or a table pipe shows as text; addresses and links are
    defanged (V(hxxps), V([.])) so that no client makes them live.
positional: _input, medium
options:
  _input:
    description:
      - The run, a dict with C(runbook), C(title), C(verb) (what was done, such as V(released)), C(acted_statuses)
        (the statuses of the messages acted on), C(check_mode), C(ticket), C(reason), C(requested_by), C(job),
        C(counts), C(key) (the notice's key), C(reports) (paths), C(results) (the write's results, each with C(id),
        C(status), C(cf_ray) and the recipients in C(delivered) or C(moved)) and C(messages) (as
        M(mailsec.cloudflare.email_security_message_info) returns them, for each one's sender and subject).
    type: dict
    required: true
  medium:
    description:
      - V(servicenow), a work note (text); V(slack), a Slack incoming webhook's payload; V(teams), a Teams
        Workflows webhook's payload (an Adaptive Card); V(email), the requester's C(subject) and C(body);
        V(recipient), one affected recipient's C(subject), C(body) and C(count) (see O(recipient));
        V(recipients), the list of affected recipients; V(reporter), the answer to an employee who reported a message
        (P(mailsec.cloudflare.user_report_triage#role)), its C(subject) and C(body), from the run's C(decision)
        (V(malicious), V(false_alarm) or V(no_action)), C(why), C(put_back), C(destination) and C(reported) (the
        reported message's C(from), C(subject), C(sent_date) and the report's C(submission_id)).
    type: str
    choices: [servicenow, slack, teams, email, recipient, recipients, reporter]
    required: true
  recipient:
    description: With O(medium=recipient), whose e-mail to write.
    type: str
"""

EXAMPLES = r"""
- name: Post the outcome to the team's Slack channel
  ansible.builtin.uri:
    url: "{{ webhook_url }}"
    method: POST
    body_format: json
    body: "{{ run | mailsec.cloudflare.notice_message('slack') }}"
  no_log: true
"""

RETURN = r"""
_value:
  description: The text, the payload (a dict), the subject and body (a dict), or the recipients (a list).
  type: raw
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.mailsec.cloudflare.plugins.plugin_utils._notices import (
    affected_recipients,
    recipient_email,
    reporter_email,
    requester_email,
    slack_message,
    teams_message,
    work_note,
)

_WRITERS = {
    "servicenow": work_note,
    "slack": slack_message,
    "teams": teams_message,
    "email": requester_email,
    "recipients": affected_recipients,
    "reporter": reporter_email,
}


def notice_message(run, medium, recipient=None):
    if not isinstance(run, dict) or not isinstance(run.get("results", []), list):
        raise AnsibleFilterError("notice_message expects the run a runbook hands the notices role (a dict)")
    if medium == "recipient":
        if not recipient:
            raise AnsibleFilterError("notice_message with medium recipient needs recipient")
        return recipient_email(run, recipient)
    if medium not in _WRITERS:
        raise AnsibleFilterError(
            "notice_message medium must be one of %s, got %r" % (", ".join(sorted(_WRITERS) + ["recipient"]), medium)
        )
    try:
        return _WRITERS[medium](run)
    except ValueError as exc:
        raise AnsibleFilterError("notice_message: %s" % exc) from None


class FilterModule(object):
    def filters(self):
        return {"notice_message": notice_message}
