# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Random fault schedules against the other writes: bulk job creates, submissions, the settings lists (allow
policies) and moves.

Like the release suite, each policy runs through the write engine in this process against a real HTTP simulator,
journalled, with lost answers, slow processing, server errors, rate limits and odd answer shapes on its routes. What
must hold:
- bulk jobs: one job per intent (a run, then a run again with its journal, while a slow first create may still be
  landing), the run again adopts it, and no message is delivered twice;
- submissions: no message submitted twice (a run, then a run again at once, while a slow submission of the first
  may still be landing), and no status that the simulator's ledger contradicts;
- settings lists: no entry created twice (by the run, or by a run again with its journal), no entry the task did not name
  changed or deleted, no expiry lost, and no result that the list as it ends up contradicts; a run that stops leaves
  each named entry as it was or as declared, nothing in between;
- moves: no message moved twice (a run, then a run again at once, while a slow move of the first may still be
  landing), no move sent to the folder a message is in already, and no status that the ledger or the mailbox
  contradicts.
Bounded by max_examples and by the client's deadline per schedule.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import datetime
import shutil
import tempfile
import time

from hypothesis import given, strategies as st

from property_support import bounded, run_and_record, write_fault
from tests.simulator import Simulator, SimulatorState, generate_messages

from ansible_collections.mailsec.cloudflare.tests.unit.plugins.write_runs import (
    BulkReleaseRun,
    MoveRun,
    SettingsListRun,
    SubmissionRun,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._writes.bulk import BulkJobs, intent_key, job_comment
from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.client import CloudflareClient
from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import CloudflareError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._state.local import LocalState
from ansible_collections.mailsec.cloudflare.plugins.module_utils._writes.move import (
    ALREADY_THERE,
    MOVED,
    MOVED_UNCONFIRMED,
    NOT_MOVED,
    PARTIALLY_MOVED,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.search import search_spec
from ansible_collections.mailsec.cloudflare.plugins.module_utils._writes.settings_list import (
    ALLOW_POLICY,
    Declared,
    split_comments,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._writes.submission import (
    ALREADY_SUBMITTED,
    NOT_FOUND,
    NOT_SUBMITTED,
    SUBMITTED,
)

SCHEDULES = 60
TIMEOUT = 0.3
MAX_PROCESSING_DELAY = 0.5
# Longer than any processing delay a schedule draws: the settle rule's assumption holds, as it must.
SETTLE_TIMEOUT = 2 * MAX_PROCESSING_DELAY
DISPOSITION = "NONE"


def _write_fault(shapes=True):
    return write_fault(MAX_PROCESSING_DELAY, shapes)


READ_FAULT = st.one_of(
    st.builds(dict, kind=st.sampled_from(["drop_after", "malformed"])),
    st.builds(dict, kind=st.just("status"), status=st.sampled_from([500, 503])),
    st.builds(dict, kind=st.just("slow_after"), delay=st.floats(0.05, 0.2)),
)


def _client(sim, state, concurrency=1):
    return CloudflareClient(
        dict(
            api_token=state.api_token,
            base_url=sim.base_url,
            timeout=TIMEOUT,
            retries=2,
            max_retry_wait=0.5,
            concurrency=concurrency,
        ),
        deadline=time.monotonic() + 30,
    )


SETTINGS_WRITES = ("settings_create", "settings_patch", "settings_delete", "settings_batch")


def _inject(state, faults):
    for endpoint, fault, count in faults:
        for route in SETTINGS_WRITES if endpoint == "writes" else [endpoint]:
            options = dict(fault)
            state.inject(options.pop("kind"), route, count, **options)
    return sum(count for dummy, dummy, count in faults)


def _faults_met(state):
    """How many injected faults requests met (a fault set on a route the run never took is not counted)."""
    return sum(fault.count - fault.remaining for fault in state.faults)


def _let_slow_requests_land(faults):
    """What a slow request still processes lands before the ledger is read (and before a run again)."""
    if any(fault["kind"].startswith("slow") for dummy, fault, dummy in faults):
        time.sleep(MAX_PROCESSING_DELAY)


def _state(state_dir, account_id):
    """The journal and lock every run of one schedule shares, as runs on one machine do."""
    store = LocalState(state_dir)
    return dict(journal=store.journal(account_id), lock=store.lock(account_id), settle_timeout=SETTLE_TIMEOUT)


def _check_bounded(check, name, stats):
    run_and_record(check, "property-%s.json" % name, stats)
    assert stats["schedules"] >= SCHEDULES


# Bulk job creates ------------------------------------------------------------------------------------------------

BULK_SCHEDULE = st.fixed_dictionaries(
    {
        "messages": st.integers(1, 12),
        "faults": st.lists(
            st.one_of(
                st.tuples(st.just("bulk_create"), _write_fault(shapes=False), st.integers(1, 2)),
                st.tuples(st.just("bulk_list"), READ_FAULT, st.integers(1, 2)),
            ),
            max_size=3,
        ),
    }
)
BULK_SEARCH = search_spec({"all_time": True})


def _run_bulk(schedule, stats):
    state = SimulatorState(generate_messages(schedule["messages"], seed=len(schedule["faults"])))
    state.configure({"bulk_discovery_seconds": 0, "bulk_rate": 10000})
    intent = intent_key(state.account_id, BULK_SEARCH.as_search_params(), ticket="INC-1")
    state_dir = tempfile.mkdtemp(prefix="bulk-")
    journal_and_lock = _state(state_dir, state.account_id)
    options = dict(
        settle_timeout=journal_and_lock.pop("settle_timeout"),
        wait=False,
        wait_timeout=0,
        poll_interval=1,
        cancel_on_timeout=False,
    )
    ended = {}
    with Simulator(state) as sim:
        _inject(state, schedule["faults"])
        for attempt in ("first run", "run again"):
            client = _client(sim, state)
            run = BulkReleaseRun(
                BulkJobs(client, state.account_id),
                BULK_SEARCH,
                intent,
                job_comment(intent, ticket="INC-1"),
                options,
                **journal_and_lock,
            )
            try:
                ended[attempt] = run.run(check_mode=False)["job_id"]
            except CloudflareError:
                ended[attempt] = None
            finally:
                client.close()
            if attempt == "first run":
                met = _faults_met(state)
                for fault in state.faults:
                    fault.remaining = 0
        _let_slow_requests_land(schedule["faults"])
        made = [event["job_id"] for event in state.ledger("bulk_job_created")]
        # The jobs run to their end (at 10000 rows a second, at once), so that a second job would show as a second
        # delivery too.
        ends_by = time.monotonic() + 10
        while time.monotonic() < ends_by and any(job.status != "COMPLETED" for job in state.bulk_jobs().jobs.values()):
            time.sleep(0.05)
    shutil.rmtree(state_dir)
    problems = []
    if ended["run again"] != (made[0] if len(made) == 1 else None):
        problems.append("the run again ended with job %s; the simulator made %s" % (ended["run again"], made))
    if ended["first run"] not in (None, ended["run again"]):
        problems.append("the first run reported job %s, which is not the job made" % ended["first run"])
    twice = made[1:] + [message for message, count in state.deliveries().items() if count > 1]
    stats["schedules"] += 1
    stats["faults_met"] += met
    stats["runs_stopped"] += int(ended["first run"] is None)
    stats["created_twice"] += len(twice)
    stats["contradictions"] += len(problems)
    return twice, problems, state


def test_no_fault_schedule_creates_a_second_bulk_job_or_delivers_twice():
    stats = collections.Counter()

    @bounded(SCHEDULES)
    @given(schedule=BULK_SCHEDULE)
    def check(schedule):
        twice, problems, state = _run_bulk(schedule, stats)
        assert twice == [], schedule
        assert problems == [], (schedule, problems)
        assert state.ledger("contract_violation") == []

    _check_bounded(check, "bulk-creates", stats)


# Submissions ---------------------------------------------------------------------------------------------------

SUBMISSION_SCHEDULE = st.fixed_dictionaries(
    {
        "messages": st.integers(1, 8),
        "submitted_before": st.integers(0, 2),
        "unknown_ids": st.integers(0, 2),
        "concurrency": st.integers(1, 3),
        "faults": st.lists(
            st.one_of(
                st.tuples(st.just("submit"), _write_fault(), st.integers(1, 2)),
                st.tuples(st.sampled_from(["get", "message_part"]), READ_FAULT, st.integers(1, 2)),
            ),
            max_size=4,
        ),
    }
)


def _submission_contradictions(results, state, requested, before, ledger_start):
    """What the statuses of one run claim that the submissions this run made (the ledger from ledger_start) deny."""
    submitted = collections.Counter(event["id"] for event in state.ledger("submission")[ledger_start:])
    found = []
    if [entry["id"] for entry in results] != requested:
        found.append("results are not one per requested id, in order")
    for entry in results:
        status, count = entry["status"], submitted[entry["id"]]
        if status == SUBMITTED and not count:
            found.append("%s is %s but the ledger has no submission" % (entry["id"], status))
        if status in (NOT_SUBMITTED, NOT_FOUND) and count:
            found.append("%s is %s but the ledger submitted it" % (entry["id"], status))
        if status == ALREADY_SUBMITTED and entry["id"] not in before:
            found.append("%s is already_submitted but nothing submitted it before this run" % entry["id"])
    return found


def _run_submissions(schedule, stats):
    messages = generate_messages(schedule["messages"], seed=len(schedule["faults"]))
    state = SimulatorState(messages)
    before = {m.id for m in messages[: schedule["submitted_before"]]}
    state.submit([{"alert_id": m.alert_id, "expected_disposition": DISPOSITION} for m in messages if m.id in before])
    requested = [m.id for m in messages] + [
        "zzUnknown%02d-2026-11-01T00:00:00-0" % n for n in range(schedule["unknown_ids"])
    ]
    found, state_dir = [], tempfile.mkdtemp(prefix="submissions-")
    with Simulator(state) as sim:
        _inject(state, schedule["faults"])
        for attempt in ("first run", "run again at once"):
            ledger_start = len(state.ledger("submission"))
            client = _client(sim, state, schedule["concurrency"])
            try:
                results = SubmissionRun(
                    client,
                    state.account_id,
                    DISPOSITION,
                    concurrency=schedule["concurrency"],
                    **_state(state_dir, state.account_id),
                ).run(requested)
            finally:
                client.close()
            found += [
                "%s: %s" % (attempt, c)
                for c in _submission_contradictions(results, state, requested, before, ledger_start)
            ]
            before = before | {e["id"] for e in state.ledger("submission")}
            met = _faults_met(state)
            for fault in state.faults:
                fault.remaining = 0
        _let_slow_requests_land(schedule["faults"])
        twice = [i for i, n in collections.Counter(e["id"] for e in state.ledger("submission")).items() if n > 1]
    shutil.rmtree(state_dir)
    stats["schedules"] += 1
    stats["faults_met"] += met
    stats["submitted_twice"] += len(twice)
    stats["status_contradictions"] += len(found)
    return twice, found, state


def test_no_fault_schedule_submits_twice_or_misreports():
    stats = collections.Counter()

    @bounded(SCHEDULES)
    @given(schedule=SUBMISSION_SCHEDULE)
    def check(schedule):
        twice, contradictions, state = _run_submissions(schedule, stats)
        assert twice == [], schedule
        assert contradictions == [], schedule
        assert state.ledger("response_violation") == []

    _check_bounded(check, "submissions", stats)


# Settings lists --------------------------------------------------------------------------------------------------

EXISTING_OPERATIONS = ("untouched", "present", "present_flag", "present_ttl", "absent", "absent_only_expired")
EXPIRIES = ("none", "running", "expired")
SETTINGS_SCHEDULE = st.fixed_dictionaries(
    {
        "existing": st.lists(st.tuples(st.sampled_from(EXISTING_OPERATIONS), st.sampled_from(EXPIRIES)), max_size=5),
        "new": st.lists(st.booleans(), max_size=3),
        # A write fault is set on every write route, so that it meets whichever one the run's changes take.
        "faults": st.lists(
            st.one_of(
                st.tuples(st.just("writes"), _write_fault(shapes=False), st.integers(1, 2)),
                st.tuples(st.just("settings_list"), READ_FAULT, st.integers(1, 2)),
            ),
            max_size=3,
        ),
    }
)


def _marker(days):
    moment = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)
    return " [mailsec.cloudflare expires_at=%s]" % moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _seed(state, existing):
    """The list before the run: one allow policy per existing row; {pattern: entry}."""
    entries = {}
    for number, (dummy, expiry) in enumerate(existing):
        comments = "kept %d" % number + {"none": "", "running": _marker(10), "expired": _marker(-1)}[expiry]
        body = {
            "pattern": "keep%d@partner.example" % number,
            "pattern_type": "EMAIL",
            "is_acceptable_sender": True,
            "is_exempt_recipient": False,
            "is_regex": False,
            "is_trusted_sender": False,
            "verify_sender": True,
            "comments": comments,
        }
        entries[body["pattern"]] = state.settings["allow_policies"].create(body)
    return entries


def _declared(schedule):
    specs = []
    for number, (operation, dummy) in enumerate(schedule["existing"]):
        pattern = "keep%d@partner.example" % number
        if operation == "present":
            specs.append({"pattern": pattern})
        elif operation == "present_flag":
            specs.append({"pattern": pattern, "is_trusted_sender": True})
        elif operation == "present_ttl":
            specs.append({"pattern": pattern, "ttl": "30d"})
        elif operation == "absent":
            specs.append({"pattern": pattern, "state": "absent"})
        elif operation == "absent_only_expired":
            specs.append({"pattern": pattern, "state": "absent", "only_expired": True})
    for number, with_ttl in enumerate(schedule["new"]):
        specs.append(dict({"pattern": "new%d@partner.example" % number}, **({"ttl": "30d"} if with_ttl else {})))
    return specs or [{"pattern": "new-only@partner.example"}]


def _as_declared(before, spec, now):
    """What the entry named by spec is once the task is done: None when it should not exist."""
    current = before.get(spec["pattern"])
    if spec.get("state") == "absent":
        if current is None:
            return None
        expired = (split_comments(current["comments"])[1] or now + datetime.timedelta(days=1)) <= now
        return current if spec.get("only_expired") and not expired else None
    return "present"


def _settings_problems(schedule, before, after, results, failed):
    """Every way the list as it ends up, and the results, break what the task promised."""
    now = datetime.datetime.now(datetime.timezone.utc)
    specs = {spec["pattern"]: spec for spec in _declared(schedule)}
    problems = [
        "%s was not named but changed or went" % pattern
        for pattern, entry in before.items()
        if pattern not in specs and after.get(pattern) != entry
    ]
    for pattern, spec in specs.items():
        problems += _named_entry_problems(pattern, spec, before.get(pattern), after.get(pattern), failed, now)
    return problems + _result_problems(results or [], before, after)


def _named_entry_problems(pattern, spec, current, now_entry, failed, now):
    wanted = _as_declared({pattern: current} if current else {}, spec, now)
    problems = []
    if wanted is None and now_entry is not None and not (failed and now_entry == current):
        problems.append("%s should be gone" % pattern)
    if wanted == "present" and now_entry is None and not (failed and current is None):
        problems.append("%s should exist" % pattern)
    if wanted not in (None, "present") and now_entry != wanted:
        problems.append("%s (not expired) should be kept as it was" % pattern)
    if current is not None and now_entry is not None and spec.get("state") != "absent":
        kept = split_comments(current["comments"])[1]
        if kept is not None and kept > now and split_comments(now_entry["comments"])[1] != kept:
            problems.append("%s lost or moved its running expiry" % pattern)
    return problems


def _result_problems(results, before, after):
    problems = []
    for result in results:
        now_entry, action = after.get(result["pattern"]), result["action"]
        if action == "created" and (now_entry is None or before.get(result["pattern"]) is not None):
            problems.append("%s is created but the list does not show a new entry" % result["pattern"])
        if action == "deleted" and now_entry is not None:
            problems.append("%s is deleted but still listed" % result["pattern"])
        if action == "unchanged" and now_entry != before.get(result["pattern"]):
            problems.append("%s is unchanged but changed" % result["pattern"])
    return problems


def _run_settings(schedule, stats):
    state = SimulatorState([])
    before = _seed(state, schedule["existing"])
    now = datetime.datetime.now(datetime.timezone.utc)
    declared = [Declared(ALLOW_POLICY, spec, now) for spec in _declared(schedule)]
    failed, results, state_dir = False, None, tempfile.mkdtemp(prefix="settings-")
    with Simulator(state) as sim:
        _inject(state, schedule["faults"])
        client = _client(sim, state)
        try:
            results = SettingsListRun(
                client, state.account_id, ALLOW_POLICY, now=now, **_state(state_dir, state.account_id)
            ).run(declared)[0]
        except CloudflareError:
            failed = True
        finally:
            client.close()
        _let_slow_requests_land(schedule["faults"])
        after = {e["pattern"]: e for e in state.settings["allow_policies"].entries.values()}
        # Run again with the same journal, the faults spent: what the first run left unsettled is settled first.
        met = _faults_met(state)
        for fault in state.faults:
            fault.remaining = 0
        client = _client(sim, state)
        try:
            SettingsListRun(client, state.account_id, ALLOW_POLICY, now=now, **_state(state_dir, state.account_id)).run(
                declared
            )
        finally:
            client.close()
        patterns = collections.Counter(e["pattern"] for e in state.settings["allow_policies"].entries.values())
    shutil.rmtree(state_dir)
    # A create sent twice would make a second entry, or be refused by the list itself as a duplicate (409; an
    # injected 409 after processing is a fault's answer, not the list's).
    twice = [p for p, n in patterns.items() if n > 1] + [
        r for r in state.requests(endpoint="settings_create") if r.get("status") == 409 and "fault" not in r
    ]
    problems = _settings_problems(schedule, before, after, results, failed)
    stats["schedules"] += 1
    stats["faults_met"] += met
    stats["runs_stopped"] += int(failed)
    stats["created_twice"] += len(twice)
    stats["contradictions"] += len(problems)
    return twice, problems, state


def test_no_fault_schedule_duplicates_deletes_the_wrong_entry_or_loses_an_expiry():
    stats = collections.Counter()

    @bounded(SCHEDULES)
    @given(schedule=SETTINGS_SCHEDULE)
    def check(schedule):
        twice, problems, state = _run_settings(schedule, stats)
        assert twice == [], schedule
        assert problems == [], (schedule, problems)
        assert state.ledger("contract_violation") == []

    _check_bounded(check, "settings-lists", stats)


# Moves ----------------------------------------------------------------------------------------------------------

MOVE_SCHEDULE = st.fixed_dictionaries(
    {
        "messages": st.integers(1, 8),
        "in_inbox_already": st.integers(0, 2),
        "unknown_ids": st.integers(0, 2),
        "concurrency": st.integers(1, 3),
        "batch_size": st.integers(1, 4),
        "faults": st.lists(
            st.one_of(
                st.tuples(st.just("move"), _write_fault(), st.integers(1, 2)),
                st.tuples(st.sampled_from(["get", "message_part"]), READ_FAULT, st.integers(1, 2)),
            ),
            max_size=4,
        ),
    }
)
# Statuses that claim this run's move reached the message, and those that claim it is in the destination.
_MOVED_BY_THIS_RUN = (MOVED, PARTIALLY_MOVED)
_IN_DESTINATION = (MOVED, MOVED_UNCONFIRMED, ALREADY_THERE)


def _move_contradictions(results, state, requested, ledger_start):
    """What the statuses of one run claim that the ledger (moves from ledger_start are this run's) or the mailboxes
    deny."""
    this_run = collections.Counter(event["id"] for event in state.ledger("move")[ledger_start:])
    ever = collections.Counter(event["id"] for event in state.ledger("move"))
    found = []
    if [entry["id"] for entry in results] != requested:
        found.append("results are not one per requested id, in order")
    for entry in results:
        message_id, status = entry["id"], entry["status"]
        message = state.messages.get(message_id)
        if status in _MOVED_BY_THIS_RUN and not this_run[message_id]:
            found.append("%s is %s but this run's ledger has no move of it" % (message_id, status))
        if status == MOVED_UNCONFIRMED and not ever[message_id]:
            found.append("%s is %s but the ledger never moved it" % (message_id, status))
        if status == NOT_MOVED and this_run[message_id]:
            found.append("%s is %s but this run moved it" % (message_id, status))
        if status in _IN_DESTINATION and (message is None or message.folder() != "Inbox"):
            found.append("%s is %s but it is in %s" % (message_id, status, message and message.folders))
    return found


def _run_moves(schedule, stats):
    messages = generate_messages(schedule["messages"], seed=len(schedule["faults"]))
    state = SimulatorState(messages, deployment="api")
    for message in messages[: schedule["in_inbox_already"]]:
        message.move("Inbox")
    requested = [m.id for m in messages] + ["zzUnknown%02d-mv" % n for n in range(schedule["unknown_ids"])]
    found, state_dir, met = [], tempfile.mkdtemp(prefix="moves-"), 0
    with Simulator(state) as sim:
        _inject(state, schedule["faults"])
        for attempt in ("first run", "run again at once"):
            ledger_start = len(state.ledger("move"))
            client = _client(sim, state, schedule["concurrency"])
            try:
                report = MoveRun(
                    client,
                    state.account_id,
                    "Inbox",
                    batch_size=schedule["batch_size"],
                    concurrency=schedule["concurrency"],
                    **_state(state_dir, state.account_id),
                ).run(requested)
            finally:
                client.close()
            found += [
                "%s: %s" % (attempt, c) for c in _move_contradictions(report.results, state, requested, ledger_start)
            ]
            if attempt == "first run":
                met = _faults_met(state)
                for fault in state.faults:
                    fault.remaining = 0
        _let_slow_requests_land(schedule["faults"])
        moved = collections.Counter(event["id"] for event in state.ledger("move"))
        twice = [i for i, n in moved.items() if n > 1] + [e["id"] for e in state.ledger("redundant_move")]
    shutil.rmtree(state_dir)
    stats["schedules"] += 1
    stats["faults_met"] += met
    stats["moves"] += sum(moved.values())
    stats["moved_twice"] += len(twice)
    stats["status_contradictions"] += len(found)
    return twice, found, state


def test_no_fault_schedule_moves_twice_or_misreports():
    stats = collections.Counter()

    @bounded(SCHEDULES)
    @given(schedule=MOVE_SCHEDULE)
    def check(schedule):
        twice, contradictions, state = _run_moves(schedule, stats)
        assert twice == [], schedule
        assert contradictions == [], (schedule, contradictions)
        assert state.ledger("contract_violation") == []

    _check_bounded(check, "moves", stats)
