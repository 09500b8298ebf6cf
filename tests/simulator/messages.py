# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Messages in the simulated quarantine, as the contract's MessageDetails, and synthetic ones."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import random
import re
import time

from . import contract
from .api import DETECTIONS


class Message:
    """One message in the simulated quarantine."""

    def __init__(
        self,
        message_id,
        sender,
        recipients,
        subject,
        sent_date,
        final_disposition="SPAM",
        is_quarantined=True,
        failing_recipients=(),
        alert_id=None,
        postfix_id=None,
    ):
        self.id = message_id
        self.postfix_id = postfix_id or message_id.split("-", 1)[0]
        self.sender = sender
        self.recipients = list(recipients)
        self.failing_recipients = [r for r in failing_recipients if r in self.recipients]
        self.subject = subject
        self.sent_date = sent_date
        self.final_disposition = final_disposition
        self.is_quarantined = is_quarantined
        self.alert_id = alert_id or "%s-alert" % self.postfix_id
        self.post_delivery_operations = [] if is_quarantined else ["QUARANTINE_RELEASE"]
        self.action_log = [] if is_quarantined else [_action("QUARANTINE_RELEASE")]
        # A message that was never quarantined (delivered, or moved by a rule) carries no release in its history.
        self.never_quarantined = False
        # Fields served as null, as the contract allows (see from_dict).
        self.null_fields = set()
        self._sent_parsed = (None, None)
        # What the message went through, as GET .../trace shows it; a release adds its outbound lines.
        self.delivered_to = []
        self.failed_to = []
        # Until this moment (time.time()) a released message is still on its way: delivery_status shows queued.
        self.in_transit_until = 0.0
        # The folder of the message in each recipient's mailbox (an API deployment's mailbox integration); a message
        # in no mailbox (quarantined, or not delivered yet) has none.
        self.folders = {} if is_quarantined else dict.fromkeys(self.recipients, "Inbox")
        # Recipients whose mailbox refuses a move (a mailbox the integration cannot reach).
        self.move_failing_recipients = []
        # Whether a move ever succeeded, and whether the last one failed: what delivery_status shows.
        self.ever_moved = False
        self.last_move_failed = False
        # What its EML and screenshot show (see evidence.py): authentication verdicts, Reply-To, links...
        self.evidence = {}

    @property
    def sent_at(self):
        """sent_date as a datetime, parsed once per value: every search compares it for every message."""
        text, parsed = self._sent_parsed
        if text != self.sent_date:
            parsed = contract.parse_date_time(self.sent_date)
            self._sent_parsed = (self.sent_date, parsed)
        return parsed

    @classmethod
    def from_dict(cls, data):
        """A seed message. A field the contract lets be null and the seed gives as null is served as null (its
        other uses, such as a search on it, see it missing); ``to: null`` still delivers to ``client_recipients``."""
        recipients = data["to"] if data["to"] is not None else data.get("client_recipients", [])
        stamped = _STAMPED_ID.match(data["id"])
        message = cls(
            data["id"],
            data["from"],
            recipients,
            data.get("subject", ""),
            # A null sent_date is served as null; the message is still found by when its id says it arrived.
            data.get("sent_date", "") if data.get("sent_date", "") is not None else stamped.group(2) + "Z",
            data.get("final_disposition") or "SPAM",
            data.get("is_quarantined", True),
            data.get("failing_recipients", ()),
            data.get("alert_id"),
            data.get("postfix_id"),
        )
        message.null_fields = {name for name in NULLABLE_FIELDS if name in data and data[name] is None}
        if data.get("from") is None:
            message.null_fields.add("from_name")
        if data.get("never_quarantined"):
            message.mark_never_quarantined()
        message.move_failing_recipients = [
            r for r in data.get("move_failing_recipients", ()) if r in message.recipients
        ]
        message.evidence = dict(data.get("evidence") or {})
        if data.get("folder"):
            message.mark_never_quarantined()
            message.auto_move(data["folder"])
        return message

    def mark_never_quarantined(self):
        self.is_quarantined = False
        self.never_quarantined = True
        self.post_delivery_operations = []
        self.action_log = []
        self.folders = dict.fromkeys(self.recipients, "Inbox")

    def auto_move(self, folder):
        """What an API deployment does on arrival to mail it judges bad: delivered, then moved to ``folder``."""
        self.move(folder, requested_by="auto-remediation")

    def move(self, destination, requested_by="api"):
        """Move the message in every recipient's mailbox: {recipient: moved?}; the action log records the move."""
        outcome = {}
        for recipient in self.recipients:
            if recipient in self.move_failing_recipients or recipient not in self.folders:
                outcome[recipient] = False
            else:
                self.folders[recipient] = destination
                outcome[recipient] = True
        succeeded = bool(outcome) and all(outcome.values())
        self.ever_moved = self.ever_moved or any(outcome.values())
        self.last_move_failed = not succeeded
        if "MOVE" not in self.post_delivery_operations:
            self.post_delivery_operations.append("MOVE")
        entry = _action("MOVE")
        entry["properties"] = {"folder": destination, "requested_by": requested_by}
        entry["status"] = "completed" if succeeded else "failed"
        entry["success"] = succeeded
        self.action_log.append(entry)
        return outcome

    def folder(self):
        """The one folder the message is in for every recipient, or None (in no mailbox, or in several folders)."""
        folders = set(self.folders.values())
        return folders.pop() if len(folders) == 1 and len(self.folders) == len(self.recipients) else None

    def release(self, delivered=(), failed=(), transit_seconds=0.0):
        self.is_quarantined = False
        self.in_transit_until = time.time() + transit_seconds
        self.post_delivery_operations.append("QUARANTINE_RELEASE")
        self.action_log.append(_action("QUARANTINE_RELEASE"))
        self.folders.update((r, "Inbox") for r in delivered)
        self.delivered_to.extend(delivered)
        self.failed_to.extend(failed)

    @property
    def has_detection(self):
        return self.final_disposition != "NONE"

    def previewed_from_mailbox(self):
        """A preview rendered from the recipients' mailbox, as the action log records it."""
        if "PREVIEW" not in self.post_delivery_operations:
            self.post_delivery_operations.append("PREVIEW")
        self.action_log.append(_action("PREVIEW"))

    def submitted(self, submission_id, disposition):
        """A reclassification submission of this message, as its action log records it."""
        entry = _action("SUBMISSION")
        entry["properties"] = {
            "requested_by": "api",
            "submission_id": submission_id,
            "requested_disposition": disposition,
            "submission_type": "reclassification",
        }
        self.action_log.append(entry)

    def trace(self):
        """The contract's MessageTrace: how the message came in, and, once released, where it went."""
        inbound = [
            "connection from %s accepted" % self.sender_domain,
            "scanned: final disposition %s" % self.final_disposition,
        ]
        if not self.never_quarantined:
            inbound.append("quarantined")
        outbound = ["released from quarantine"] if "QUARANTINE_RELEASE" in self.post_delivery_operations else []
        outbound += ["delivered to %s" % r for r in self.delivered_to]
        outbound += ["delivery to %s failed" % r for r in self.failed_to]
        return {
            "inbound": {"lines": _trace_lines(inbound, self.sent_date), "pending": False},
            "outbound": {"lines": _trace_lines(outbound, self.sent_date), "pending": False},
        }

    def detections(self):
        """The contract's MessageDetectionDetails: why the message was quarantined."""
        verdict = self.final_disposition
        return {
            "action": "QUARANTINE" if not self.never_quarantined else "DELIVER",
            "final_disposition": verdict,
            "findings": [
                {
                    "name": "Sender reputation",
                    "detection": verdict,
                    "detail": "the sender's domain %s is new to this organisation" % self.sender_domain,
                    "field": "from",
                    "value": self.sender or "",
                    "score": 0.82,
                    "attachment": None,
                    "portion": None,
                    "reason": "new sender",
                }
            ],
            "headers": [
                {"name": name, "value": value}
                for name, value in (("From", self.sender), ("Subject", self.subject))
                if value is not None
            ],
            "links": [],
            "attachments": [],
            "threat_categories": [{"id": 7, "name": "Reputation", "description": "Sender reputation"}],
            "sender_info": {"as_name": None, "as_number": None, "geo": None, "ip": None, "pld": None},
            "validation": {"spf": "pass", "dkim": "pass", "dmarc": "pass", "comment": None},
        }

    def as_api(self):
        """The message as the contract's MessageDetails: every required field, real nulls where allowed."""
        if self.is_quarantined:
            delivery_status = ["quarantined"]
        elif self.ever_moved or self.last_move_failed:
            delivery_status = ["moved" if self.ever_moved else "delivered"] + (
                ["move_failed"] if self.last_move_failed else []
            )
        elif self.never_quarantined:
            delivery_status = ["delivered"]
        elif time.time() < self.in_transit_until:
            delivery_status = ["queued"]
        elif self.failed_to and not self.delivered_to:
            delivery_status = ["bounced"]
        elif self.failed_to:
            delivery_status = ["delivered", "bounced"]
        else:
            delivery_status = ["delivered"]
        body = {
            "id": self.id,
            "ts": self.sent_date,
            "detection_reasons": ["Sender reputation"] if self.final_disposition != "NONE" else [],
            "action_log": [dict(entry) for entry in self.action_log],
            "is_phish_submission": False,
            "properties": {"allowlisted_pattern": None, "blocklisted_message": None},
            "envelope_from": None,
            "replyto": None,
            "edf_hash": None,
            "postfix_id": self.postfix_id,
            "from": self.sender,
            "from_name": self.evidence.get("from_name") or (self.sender or "").split("@", 1)[0],
            "to": list(self.recipients),
            "client_recipients": list(self.recipients),
            "subject": self.subject,
            "sent_date": self.sent_date,
            "final_disposition": self.final_disposition,
            "is_quarantined": self.is_quarantined,
            "delivery_status": delivery_status,
            "post_delivery_operations": list(self.post_delivery_operations),
            "alert_id": self.alert_id,
            "message_id": "<%s@%s>" % (self.postfix_id, self.sender_domain),
        }
        body.update(dict.fromkeys(self.null_fields))
        return body

    @property
    def sender_domain(self):
        return (self.sender or "@unknown.invalid").split("@")[-1]


def _trace_lines(messages, logged_at):
    return [{"lineno": number, "message": text, "logged_at": logged_at} for number, text in enumerate(messages, 1)]


def _now_text(moment=None):
    moment = moment or datetime.datetime.now(datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _action(operation):
    return {
        "completed_at": _now_text(),
        "operation": operation,
        "properties": {"requested_by": "api"},
        "status": "completed",
    }


def generate_messages(count, seed=0, quarantined=True, within_hours=None, clean=False, stamped=True, id_skew=0.0):
    """Synthetic messages with realistic ids: ``<postfix_id>-<received>-<suffix>``, the moment Cloudflare received
    the message (a few seconds after its ``sent_date``), as Cloudflare's ids carry it.

    Ids are the same for the same arguments within a day. Sending dates lie in the 28 days before today, inside
    the search's default 30-day window; with ``within_hours``, in that many hours before the last full hour (one
    campaign). ``clean``: mail that was delivered and never quarantined, the bulk of an account's traffic.
    ``stamped=False``: ids of another form, ``<postfix_id>-<suffix>``, that carry no time. ``id_skew``: seconds the
    time an id carries runs ahead of (negative: behind) the message's dates, for a clock that disagrees on purpose.
    """
    today = datetime.datetime.now(datetime.timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    last_hour = datetime.datetime.now(datetime.timezone.utc).replace(minute=0, second=0, microsecond=0)
    rng = random.Random(seed)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    senders = ["billing@vendor.example", "news@partner.example", "hr@corp.example", "alerts@saas.example"]
    messages = []
    for index in range(count):
        postfix = "".join(rng.choice(alphabet) for dummy in range(16))
        if within_hours is None:
            sent = today - datetime.timedelta(days=1 + index % 27, hours=-(index % 24), minutes=-(index % 60))
        else:
            sent = last_hour - datetime.timedelta(seconds=(index * within_hours * 3600.0) // max(count, 1) + 1)
        received = sent + datetime.timedelta(seconds=index % 7)
        stamp = (received + datetime.timedelta(seconds=id_skew)).strftime("%Y-%m-%dT%H:%M:%S-") if stamped else ""
        message_id = "%s-%s%08d" % (postfix, stamp, index)
        recipients = ["user%d@corp.example" % ((index + n) % 50) for n in range(1 + index % 3)]
        message = Message(
            message_id,
            senders[index % len(senders)],
            recipients,
            "Generated message %d" % index,
            _now_text(sent),
            "NONE" if clean else DETECTIONS[index % len(DETECTIONS)],
            quarantined and not clean,
        )
        if clean:
            message.mark_never_quarantined()
        messages.append(message)
    return messages


# The fields of the contract's MessageDetails that may be null, and that a seed may serve as null. Not
# final_disposition: its type admits null, but it must also be one of DispositionLabel's values (allOf), which null
# is not, so the contract's own schema refuses a null there.
NULLABLE_FIELDS = (
    "alert_id",
    "delivery_status",
    "envelope_from",
    "from",
    "from_name",
    "message_id",
    "post_delivery_operations",
    "replyto",
    "sent_date",
    "subject",
    "to",
)

# An id that carries when Cloudflare received the message: <postfix_id>-<YYYY-MM-DDTHH:MM:SS>-<suffix>.
_STAMPED_ID = re.compile(r"^([^-]+)-(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)-(.+)$")


def shifted_id(message_id, shift):
    """The id with the time it carries moved by ``shift``; an id that carries none, unchanged."""
    stamped = _STAMPED_ID.match(message_id)
    if not stamped:
        return message_id
    moved = datetime.datetime.strptime(stamped.group(2), "%Y-%m-%dT%H:%M:%S") + shift
    return "%s-%s-%s" % (stamped.group(1), moved.strftime("%Y-%m-%dT%H:%M:%S"), stamped.group(3))


def rebase_dates(messages):
    """Move seed messages in time so the newest was sent an hour ago (inside the default search window, always),
    the time each id carries with its date, so that an id still tells when its message was received. Returns the
    shift, in whole seconds."""
    dates = [contract.parse_date_time(m.sent_date) for m in messages if m.sent_date]
    if not dates:
        return datetime.timedelta(0)
    shift = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1) - max(dates)
    shift = datetime.timedelta(seconds=round(shift.total_seconds()))
    for message in messages:
        if message.sent_date:
            message.sent_date = _now_text(contract.parse_date_time(message.sent_date) + shift)
        message.id = shifted_id(message.id, shift)
    return shift
