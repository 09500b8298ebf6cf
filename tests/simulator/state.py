# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The account, its credentials, its messages and switches; what a release or a search does to them."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import datetime
import threading
import time
import uuid

from . import contract
from .api import DEFAULT_ACCOUNT_ID, DEFAULT_EMAIL, DEFAULT_KEY, DEFAULT_READ_ONLY_TOKEN, DEFAULT_TOKEN, DETECTIONS
from .bulk import BulkJobs
from .faults import Fault
from .ledger import Ledger
from .messages import Message, generate_messages, rebase_dates
from .quota import Quota
from .reports import listed, monthly_report, new_submission, phishguard_listed
from .settings import settings_lists


class SimulatorState:
    """The account, its credentials, its messages, the switches, and the ledger. Thread-safe."""

    def __init__(
        self,
        messages=(),
        account_id=DEFAULT_ACCOUNT_ID,
        api_token=DEFAULT_TOKEN,
        read_only_token=DEFAULT_READ_ONLY_TOKEN,
        api_email=DEFAULT_EMAIL,
        api_key=DEFAULT_KEY,
        ledger_path=None,
        deployment="inline",
    ):
        self.lock = threading.RLock()
        self.account_id = account_id
        self.api_token = api_token
        self.read_only_token = read_only_token
        self.api_email = api_email
        self.api_key = api_key
        # "inline": Cloudflare quarantines what it judges bad. "api" (post-delivery, through the mailbox integration
        # with Microsoft 365 or Google Workspace): it delivers everything and moves what it judges bad out of the Inbox.
        self.deployment = deployment
        # Moves need the account's mailbox integration; without it every move is refused with a 4XX.
        self.mailbox_integration = True
        self.messages = {}
        self.add_messages(messages)
        # The contract's release body is {"ids": [...]}; "array" or "both" is an opt-in drift mode.
        self.accept_body = "object"
        # Where a 202's Location points: "root" (/client/v4/...), "absolute" (http://host/client/v4/...) or
        # "api" (/accounts/..., relative to the API's base path).
        self.search_location = "root"
        # Answers are checked against the contract and departures recorded as response_violation.
        self.check_answers = True
        self.reject_status = 400
        self.postfix_only = False
        self.search_polls = 0
        self.latency = 0.0
        # How long a released message shows delivery_status queued before delivered (or bounced).
        self.transit_seconds = 0.0
        # Page-numbered listings serve at most this many a page (None: what per_page asks, up to the contract's 1000).
        self.max_per_page = None
        # The largest search page served: the contract's 1000 (a larger per_page is refused, naming it), or 10000 as
        # Cloudflare's changelog of 2026-03-15 announces (unverified against the live API).
        self.search_page_limit = 1000
        # How many items of a search page the next page repeats (0: none), as a search over a changing index may.
        self.search_page_overlap = 0
        self.faults = []
        self.ledger_book = Ledger(ledger_path)
        self.quota = Quota(lambda seconds: self.record("lockout", seconds=seconds))
        self.bulk = BulkJobs()
        self.submissions = []
        # When a submission made now is reviewed, and how: {"after": seconds, "decision": accepted | rejected}, or
        # None for never (it stays unreviewed, as a fresh one is).
        self.submission_review = None
        self.phishguard_reports = []
        self.settings = settings_lists(self.record)
        # Messages quarantined later, on a schedule: [(time.time() when due, Message)], soonest first.
        self.arrivals = []
        self._polls = {}
        # How far the seed's dates (and the times its ids carry) were moved: see rebase_dates.
        self.date_shift = datetime.timedelta(0)

    @classmethod
    def from_seed(cls, seed, ledger_path=None):
        messages = [Message.from_dict(item) for item in seed.get("messages", [])]
        date_shift = rebase_dates(messages)
        generate = seed.get("generate")
        if generate:
            messages.extend(generate_messages(generate.get("count", 0), generate.get("seed", 0)))
        keys = ("account_id", "api_token", "read_only_token", "api_email", "api_key", "deployment")
        state = cls(messages, ledger_path=ledger_path, **{k: seed[k] for k in keys if k in seed})
        state.schedule_arrivals(seed.get("arrivals", []))
        state.date_shift = date_shift
        return state

    def describe_date_shift(self):
        """The start-up line that says how far the seed's dates, and the times its ids carry, were moved."""
        days, seconds = self.date_shift.days, self.date_shift.seconds
        return (
            "seed dates moved by %+d day(s) %02d:%02d:%02d so that the newest message was sent an hour ago; the time "
            "in each seeded id moved with them (an id's time is when its message was received)"
            % (days, seconds // 3600, seconds // 60 % 60, seconds % 60)
        )

    # Configuration -------------------------------------------------------------------------------------

    def add_messages(self, messages):
        with self.lock:
            for message in messages:
                self._arrived(message)
                self.messages[message.id] = message

    def _arrived(self, message):
        """An API deployment delivers what it judges bad and then moves it: malicious and spoofed mail to Deleted
        Items, the rest to Junk Email."""
        if self.deployment != "api" or not message.is_quarantined:
            return
        message.mark_never_quarantined()
        message.auto_move(AUTO_MOVE_FOLDERS.get(message.final_disposition, "JunkEmail"))

    def schedule_arrivals(self, arrivals):
        """Quarantine messages later: each ``{"after_seconds": N, "message": {...}}`` (a seed message; its
        sent_date, when not given, is the moment it arrives)."""
        with self.lock:
            now = time.time()
            for arrival in arrivals:
                self.arrivals.append((now + float(arrival.get("after_seconds", 0)), dict(arrival["message"])))
            self.arrivals.sort(key=lambda pending: pending[0])

    def arrive_due(self):
        """Quarantine the scheduled messages whose time has come, as if mail had just come in."""
        with self.lock:
            now = time.time()
            while self.arrivals and self.arrivals[0][0] <= now:
                data = self.arrivals.pop(0)[1]
                data.setdefault("sent_date", _utc_text())
                message = Message.from_dict(data)
                self._arrived(message)
                self.messages[message.id] = message
                self.record("arrival", id=message.id, sender=message.sender)

    def inject(self, kind, endpoint="any", count=1, **options):
        with self.lock:
            self.faults.append(Fault(kind, endpoint, count, **options))

    def let_go(self):
        """Answer every request a slow_before fault holds now, instead of at the end of its delay."""
        with self.lock:
            for fault in self.faults:
                fault.let_go.set()

    def lock_out(self, seconds):
        """Start a lockout now, as one caused by another client of the same token would."""
        self.quota.lock_out(seconds)

    def set_quota(self, limit, window=300.0, lockout=None, burst=None, burst_window=1.0, announce=True):
        self.quota.set(limit, window, lockout, burst, burst_window, announce)

    def configure(self, settings):
        """Apply a dict of switches, as sent to POST /_sim/config."""
        with self.lock:
            for name in (
                "accept_body",
                "reject_status",
                "postfix_only",
                "search_polls",
                "latency",
                "search_location",
                "check_answers",
                "transit_seconds",
                "max_per_page",
                "search_page_limit",
                "search_page_overlap",
                "mailbox_integration",
                "submission_review",
            ):
                if name in settings:
                    setattr(self, name, settings[name])
            for name in ("discovery_seconds", "rate", "fail_after"):
                if "bulk_" + name in settings:
                    setattr(self.bulk.settings, name, settings["bulk_" + name])
            if "fixed_ratelimit" in settings:
                self.quota.fixed_ratelimit = settings["fixed_ratelimit"]
            if "quota" in settings:
                self.set_quota(
                    settings["quota"],
                    settings.get("window", 300.0),
                    settings.get("lockout"),
                    settings.get("burst"),
                    settings.get("burst_window", 1.0),
                    settings.get("announce", True),
                )
            for fault in settings.get("faults", []):
                self.faults.append(Fault(**fault))
            self.schedule_arrivals(settings.get("arrivals", []))

    # Ledger --------------------------------------------------------------------------------------------

    def record(self, event, **fields):
        self.ledger_book.record(event, **fields)

    def ledger(self, event=None):
        return self.ledger_book.events(event)

    def requests(self, method=None, endpoint=None):
        return self.ledger_book.requests(method, endpoint)

    def deliveries(self):
        """Message id -> how many times it was delivered."""
        return self.ledger_book.deliveries()

    def double_deliveries(self):
        return self.ledger("double_delivery")

    def close(self):
        self.ledger_book.close()

    # Behaviour -----------------------------------------------------------------------------------------

    def take_fault(self, endpoint):
        with self.lock:
            for fault in self.faults:
                if fault.remaining > 0 and fault.endpoint in (endpoint, "any"):
                    fault.remaining -= 1
                    return fault
        return None

    def spend_quota(self):
        """Count one request; return (headers, lockout seconds left or None)."""
        return self.quota.spend()

    def release(self, ids):
        items = []
        with self.lock:
            for message_id in ids:
                message = self.messages.get(message_id)
                if message is None:
                    items.append(
                        {
                            "id": message_id,
                            "postfix_id": message_id.split("-", 1)[0],
                            "delivered": [],
                            "failed": [],
                            "undelivered": [],
                        }
                    )
                    continue
                item = {"id": message.id, "postfix_id": message.postfix_id}
                delivered, failed = self._deliver(message)
                if delivered or failed:
                    item.update(delivered=delivered, failed=failed, undelivered=[])
                else:
                    item.update(delivered=[], failed=[], undelivered=list(message.recipients))
                if self.postfix_only:
                    del item["id"]
                items.append(item)
        return items

    def _deliver(self, message):
        """Release one message: (delivered, failed) recipients; a message out of quarantine is a double delivery."""
        if not message.is_quarantined:
            self.record("double_delivery", id=message.id)
            return [], []
        delivered = [r for r in message.recipients if r not in message.failing_recipients]
        message.release(delivered, message.failing_recipients, self.transit_seconds)
        self.record("delivery", id=message.id, recipients=delivered)
        return delivered, list(message.failing_recipients)

    def move(self, ids, destination):
        """POST investigate/move: a MoveResponseItem per recipient of each message. A move to the folder a message
        is in already is recorded as a redundant move: the collection must never send one."""
        items = []
        with self.lock:
            for message_id in ids:
                message = self.messages.get(message_id)
                if message is None or not message.folders:
                    items.append(_move_item(message_id, None, destination, False, "not_in_mailbox"))
                    self.record("move_refused", id=message_id, why="unknown" if message is None else "not in a mailbox")
                    continue
                outcome = self._move(message, destination)
                items.extend(
                    _move_item(message_id, recipient, destination, moved, "completed" if moved else "failed")
                    for recipient, moved in outcome.items()
                )
        return items

    def _move(self, message, destination, requested_by="api"):
        """Move one message, recorded in the ledger (a move to the folder it is in already as a redundant one too):
        {recipient: moved?}."""
        was = message.folder()
        if was == destination:
            self.record("redundant_move", id=message.id, destination=destination)
        outcome = message.move(destination, requested_by=requested_by)
        self.record("move", id=message.id, destination=destination, folder_before=was, requested_by=requested_by)
        return outcome

    def moves(self):
        """Message id -> how many move requests reached it, redundant ones included."""
        return self.ledger_book.per_id("move")

    def submit(self, reclassifications):
        """POST /submissions: one SubmissionResult per message; a submission is recorded on its message."""
        results = []
        with self.lock:
            by_alert = {m.alert_id: m for m in self.messages.values()}
            for item in reclassifications:
                message = by_alert.get(item["alert_id"])
                submission_id = uuid.uuid4().hex[:16]
                if message is None:
                    results.append({"id": submission_id, "accepted": False, "error": "no message has this alert_id"})
                    continue
                escalated, refusal = self._escalated_report(item.get("escalated_submission_id"))
                if refusal:
                    results.append({"id": submission_id, "accepted": False, "error": refusal})
                    continue
                disposition = item["expected_disposition"]
                review = self.submission_review or {}
                self.submissions.append(
                    new_submission(
                        submission_id,
                        _utc_text(),
                        message.postfix_id,
                        message.final_disposition if message.final_disposition in SUBMISSION_DISPOSITIONS else None,
                        disposition,
                        message.subject,
                        # The list's type filter takes TEAM or USER; its answers say Team or User.
                        review_at=time.time() + review["after"] if review else None,
                        decision=review.get("decision"),
                    )
                )
                message.submitted(submission_id, disposition)
                self.record("submission", id=message.id, submission_id=submission_id, disposition=disposition)
                if escalated is not None:
                    escalated.update(
                        status="escalated",
                        customer_status="escalated",
                        escalated_submission_id=submission_id,
                        escalated_at=_utc_text(),
                        escalated_as=disposition,
                    )
                    self.record("escalation", id=escalated["submission_id"], submission_id=submission_id)
                results.append({"id": submission_id, "accepted": True, "error": None})
        return results

    def _escalated_report(self, user_submission_id):
        """(the user report a reclassification escalates, or None; why it is refused, or None). A report is escalated
        once, and only an employee's report can be."""
        if user_submission_id is None:
            return None, None
        for entry in self.submissions:
            if entry["submission_id"] == user_submission_id and str(entry.get("type")).upper() == "USER":
                if entry.get("escalated_submission_id"):
                    return None, "user submission %s was escalated already" % user_submission_id
                return entry, None
        return None, "no user submission has the id %s" % user_submission_id

    def escalations(self):
        """User submission id -> how many team submissions escalated it."""
        return self.ledger_book.per_id("escalation")

    def listed_submissions(self, query):
        with self.lock:
            return listed(self.submissions, query)

    def add_submissions(self, entries):
        """Submissions made before (see reports.new_submission), such as the history a report reads."""
        with self.lock:
            self.submissions.extend(entries)

    def monthly_report(self):
        with self.lock:
            return monthly_report(list(self.messages.values()))

    def listed_phishguard_reports(self, query):
        with self.lock:
            return phishguard_listed(self.phishguard_reports, query)

    # Bulk jobs: progress is brought up to date whenever a job is read or created.

    def bulk_jobs(self):
        with self.lock:
            self.bulk.advance_all(self._discover, self._act)
            return self.bulk

    def _discover(self, job):
        """What a job acts on: the messages its search matches that are quarantined (RELEASE) or in a mailbox (MOVE)."""
        query = {name: [_query_text(value)] for name, value in job.search_params.items() if value is not None}
        start, end = _window(query)
        matches_search = _matcher(query, query.get("detections_only", ["true"])[0].lower() != "false")
        actionable = (lambda m: bool(m.folders)) if job.action == "MOVE" else (lambda m: m.is_quarantined)
        return [m for m in self.messages.values() if actionable(m) and start <= m.sent_at < end and matches_search(m)]

    def _act(self, job, message):
        """A job's action on one message: (recipients reached, recipients failed)."""
        if job.action == "RELEASE":
            return self._deliver(message)
        outcome = self._move(message, job.destination, "bulk job %s" % job.job_id)
        return [r for r, moved in outcome.items() if moved], [r for r, moved in outcome.items() if not moved]

    def search(self, query):
        """(messages, result_info) of one page, or raise SearchRefused when Cloudflare would refuse the search."""

        def first(name, default=None):
            return query.get(name, [default])[0]

        now = datetime.datetime.now(datetime.timezone.utc)
        start, end = _window(query, now)
        if start > now:
            raise SearchRefused("start must not be in the future")
        if start > end:
            raise SearchRefused("start must not be after end")
        per_page = min(int(first("per_page", "20")), self.max_per_page or self.search_page_limit)
        offset = _cursor_offset(first("cursor")) if first("cursor") else 0
        detections_only = first("detections_only", "true").lower() != "false"
        matches_search = _matcher(query, detections_only)
        with self.lock:
            matches = [m for m in self.messages.values() if start <= m.sent_at < end and matches_search(m)]
        # Newest first, as a mail search lists them: the messages asked for are among the rest of that time's mail.
        matches.sort(key=lambda m: m.sent_at, reverse=True)
        page = matches[offset : offset + per_page]
        # A drifting index serves the last items of a page again at the top of the next one.
        following = offset + per_page - min(self.search_page_overlap, per_page - 1)
        more = offset + per_page < len(matches)
        next_cursor = base64.urlsafe_b64encode(str(following).encode()).decode() if more else None
        previous = base64.urlsafe_b64encode(str(max(0, offset - per_page)).encode()).decode() if offset else None
        return [m.as_api() for m in page], {
            "count": len(page),
            "per_page": per_page,
            "next": next_cursor,
            "previous": previous,
            "page": 0,
            "total_count": 0,
        }

    def poll_ticket(self, ticket):
        """True when the search can be answered now, else the ticket its 202 answer tells the client to poll with."""
        with self.lock:
            if ticket is None:
                if self.search_polls <= 0:
                    return True
                ticket = "job%d" % (len(self._polls) + 1)
                self._polls[ticket] = self.search_polls
                return ticket
            left = self._polls.get(ticket, 0) - 1
            self._polls[ticket] = left
            return True if left <= 0 else ticket


def _query_text(value):
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _window(query, now=None):
    """(start, end) of a search: Cloudflare's default is the last 30 days."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    start, end = query.get("start", [None])[0], query.get("end", [None])[0]
    return (
        contract.parse_date_time(start) if start else now - datetime.timedelta(days=30),
        contract.parse_date_time(end) if end else now,
    )


# Where an API deployment moves mail it judges bad, by final disposition; anything else it moves to Junk Email.
AUTO_MOVE_FOLDERS = {"MALICIOUS": "DeletedItems", "MALICIOUS-BEC": "DeletedItems", "SPOOF": "DeletedItems"}


def _move_item(message_id, recipient, destination, success, status):
    """A MoveResponseItem: one recipient's mailbox."""
    return {
        "message_id": message_id,
        "recipient": recipient,
        "destination": destination,
        "operation": "MOVE",
        "status": status,
        "success": success,
        "completed_at": _utc_text(),
    }


SUBMISSION_DISPOSITIONS = ("MALICIOUS", "SUSPICIOUS", "SPOOF", "SPAM", "BULK", "NONE")


def _utc_text():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class SearchRefused(Exception):
    """A search Cloudflare answers with a 4XX."""


def _cursor_offset(cursor):
    try:
        offset = int(base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii"))
    except (ValueError, UnicodeError):
        raise SearchRefused("cursor %r is not a cursor a search returned" % cursor[:40]) from None
    if offset < 0:
        raise SearchRefused("cursor %r is not a cursor a search returned" % cursor[:40])
    return offset


def _contains(value, needle):
    return needle.lower() in (value or "").lower()


def _matcher(query, detections_only):
    """A test of one message against the search's filters, built once per search: it runs for every message."""

    def first(name):
        values = query.get(name)
        return values[0] if values else None

    checks = []
    if detections_only:
        checks.append(lambda m: m.final_disposition in DETECTIONS)
    text = first("query")
    if text:
        checks.append(lambda m: any(_contains(v, text) for v in [m.sender, m.subject, m.id] + m.recipients))
    by_filter = (
        ("sender", lambda v: lambda m: _contains(m.sender, v)),
        ("recipient", lambda v: lambda m: any(_contains(r, v) for r in m.recipients)),
        ("subject", lambda v: lambda m: _contains(m.subject, v)),
        (
            "domain",
            lambda v: lambda m: any(a.lower().endswith("@" + v.lower()) for a in [m.sender or ""] + m.recipients),
        ),
        ("message_id", lambda v: lambda m: v in (m.id, m.as_api()["message_id"])),
        ("alert_id", lambda v: lambda m: v == m.alert_id),
        ("final_disposition", lambda v: lambda m: v.upper() == m.final_disposition),
        ("delivery_status", lambda v: lambda m: v in m.as_api()["delivery_status"]),
        (
            "message_action",
            lambda v: lambda m: v != "QUARANTINE_RELEASED" or "QUARANTINE_RELEASE" in m.post_delivery_operations,
        ),
    )
    checks.extend(make(first(name)) for name, make in by_filter if first(name) is not None)
    return lambda message: all(check(message) for check in checks)
