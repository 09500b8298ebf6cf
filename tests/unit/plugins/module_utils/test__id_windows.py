# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading ids by the searches of the time windows they carry: the exact requests, and by id whatever is left."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.client import CloudflareClient
from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import CloudflareError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.id_windows import (
    id_time,
    plan_windows,
    read_states,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.messages import (
    STATE_NOT_FOUND,
    STATE_NOT_QUARANTINED,
    STATE_QUARANTINED,
    STATE_RELEASED,
)

ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"
BASE = "https://api.example.test/client/v4"
SEARCH = "%s/accounts/%s/email-security/investigate" % (BASE, ACCOUNT)
NOW = datetime.datetime(2026, 11, 30, 12, 0, 0, tzinfo=datetime.timezone.utc)
CAMPAIGN = ["a%03d-2026-11-24T08:%02d:00-%d" % (n, n % 60, n) for n in range(5)]


def client():
    return CloudflareClient(dict(api_token="tok-SECRET-0123456789abcdef", base_url=BASE, retries=0))


def page(items, cursor=None):
    return {"success": True, "errors": [], "messages": [], "result": items, "result_info": {"next": cursor}}


def message(message_id, quarantined=True, released=False):
    return {
        "id": message_id,
        "is_quarantined": quarantined,
        "delivery_status": ["quarantined"] if quarantined else ["delivered"],
        "post_delivery_operations": ["QUARANTINE_RELEASE"] if released else [],
    }


def answer(result):
    return {"success": True, "errors": [], "messages": [], "result": result}


def query(call):
    return parse_qs(urlsplit(call.request.url).query)


def requested(api):
    return [(call.request.method, urlsplit(call.request.url).path.rsplit("/", 1)[-1]) for call in api.calls]


def test_the_time_an_id_carries_is_read_and_nothing_else_is_taken_for_one():
    assert id_time("4Njp3P0STMz2c02Q-2024-01-05T10:00:00-12345678") == datetime.datetime(
        2024, 1, 5, 10, 0, 0, tzinfo=datetime.timezone.utc
    )
    assert id_time("plain-id") is None
    assert id_time("x-2026-13-40T10:00:00-1") is None  # the form of a time, not a real one
    assert id_time("x-2026-11-24T08:00:00") is not None


def test_windows_split_at_a_quiet_hour_and_a_day_and_leave_lone_untimed_and_future_ids_to_be_read_by_id():
    ids = CAMPAIGN[:3] + [
        "b-2026-11-24T10:30:00-1",  # more than an hour after the campaign: alone, so read by id
        "c-2026-11-26T00:00:00-1",
        "c-2026-11-26T00:59:00-2",
        "c-2026-11-26T01:58:00-3",  # within an hour of the one before: same window
        "untimed-id",
        "d-2026-12-24T08:00:00-1",  # in the future of NOW
        "d-2026-12-24T08:00:01-2",
    ]
    windows, by_id = plan_windows(ids, NOW)
    assert [window.ids for window in windows] == [CAMPAIGN[:3], ids[4:7]]
    assert sorted(by_id) == sorted(["b-2026-11-24T10:30:00-1", "untimed-id"] + ids[8:])
    assert windows[0].start == datetime.datetime(2026, 11, 24, 7, 0, 0, tzinfo=datetime.timezone.utc)
    assert windows[0].end == datetime.datetime(2026, 11, 24, 8, 17, 0, tzinfo=datetime.timezone.utc)

    day = ["e-2026-11-20T%02d:30:00-%d" % (hour, hour) for hour in range(24)] + ["e-2026-11-21T00:31:00-24"]
    windows, by_id = plan_windows(day, NOW)
    assert [len(window.ids) for window in windows] == [24] and by_id == [day[-1]]


def test_a_campaign_is_read_by_one_search_of_its_window_and_what_it_misses_by_id(api):
    api.get(
        SEARCH,
        json=page(
            [message("other-2026-11-24T08:01:00-9", quarantined=False)]
            + [message(CAMPAIGN[0]), message(CAMPAIGN[1], quarantined=False, released=True)]
            + [message(CAMPAIGN[2], quarantined=False), message(CAMPAIGN[3]), message(CAMPAIGN[0], quarantined=False)]
        ),
    )
    api.get(
        SEARCH + "/untimed-id", status=404, json={"success": False, "errors": [{"code": 1002, "message": "Not found"}]}
    )
    api.get(SEARCH + "/" + CAMPAIGN[4], json=answer(message(CAMPAIGN[4])))

    states = read_states(client(), ACCOUNT, ["untimed-id"] + CAMPAIGN, workers=1, now=NOW)

    assert [s.state for s in states] == [
        STATE_NOT_FOUND,
        STATE_QUARANTINED,  # the first item for an id counts; a page that repeats it later does not change it
        STATE_RELEASED,
        STATE_NOT_QUARANTINED,
        STATE_QUARANTINED,
        STATE_QUARANTINED,
    ]
    assert states[1].message["id"] == CAMPAIGN[0]
    assert requested(api) == [("GET", "investigate"), ("GET", "untimed-id"), ("GET", CAMPAIGN[4])]
    assert query(api.calls[0]) == {
        "start": ["2026-11-24T07:00:00Z"],
        "end": ["2026-11-24T08:19:00Z"],
        "detections_only": ["false"],
        "per_page": ["1000"],
    }


def test_a_window_of_other_mail_is_given_up_before_its_pages_outnumber_the_ids_it_covers(api):
    # Every page is other mail and points at one more; a fifth page asked for would meet the first GET's answer.
    for number in range(4):
        api.get(SEARCH, json=page([message("noise-2026-11-24T08:00:00-%d" % number)], cursor="c%d" % (number + 1)))
        if number == 0:
            api.get(SEARCH + "/" + CAMPAIGN[0], json=answer(message(CAMPAIGN[0])))
    for message_id in CAMPAIGN[1:]:
        api.get(SEARCH + "/" + message_id, json=answer(message(message_id)))

    states = read_states(client(), ACCOUNT, CAMPAIGN, workers=1, now=NOW)

    assert [s.state for s in states] == [STATE_QUARANTINED] * 5
    # The first page lists nothing to measure the ids' clock by: one id is read by GET for it (its message carries no
    # date either, so the plan stands). Then 4 pages in all (5 ids less one) and the other ids by GET: never more
    # than about twice what reading by id costs.
    searches = [call for call in api.calls if urlsplit(call.request.url).path.endswith("/investigate")]
    assert requested(api) == [("GET", "investigate"), ("GET", CAMPAIGN[0])] + [("GET", "investigate")] * 3 + [
        ("GET", i) for i in CAMPAIGN[1:]
    ]
    assert [query(call).get("cursor") for call in searches] == [None, ["c1"], ["c2"], ["c3"]]


def test_a_refused_search_falls_back_to_reading_by_id_and_a_fatal_error_stops(api):
    api.get(SEARCH, status=400, json={"success": False, "errors": [{"code": 1001, "message": "Invalid request"}]})
    for message_id in CAMPAIGN[:2]:
        api.get(SEARCH + "/" + message_id, json=answer(message(message_id)))

    assert [s.state for s in read_states(client(), ACCOUNT, CAMPAIGN[:2], workers=1, now=NOW)] == [
        STATE_QUARANTINED
    ] * 2
    assert requested(api) == [("GET", "investigate")] + [("GET", i) for i in CAMPAIGN[:2]]

    api.reset()
    api.get(SEARCH, status=403, json={"success": False, "errors": [{"code": 10000, "message": "Authentication"}]})
    with pytest.raises(CloudflareError) as raised:
        read_states(client(), ACCOUNT, CAMPAIGN[:2], workers=1, now=NOW)
    assert raised.value.is_fatal and requested(api) == [("GET", "investigate")]


def dated(message_id, skew, quarantined=True):
    """A message the search places by a date ``skew`` away from the time its id carries (id time less skew)."""
    moment = id_time(message_id) - skew
    item = message(message_id, quarantined=quarantined)
    item.update(sent_date=moment.strftime("%Y-%m-%dT%H:%M:%SZ"), ts=moment.strftime("%Y-%m-%dT%H:%M:%S.123456Z"))
    return item


def _campaign(first, count=5):
    return [
        "k%03d-%s-%d" % (n, (first + datetime.timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:%S"), n)
        for n in range(count)
    ]


def _windows(api):
    searches = [call for call in api.calls if urlsplit(call.request.url).path.endswith("/investigate")]
    return [(query(call)["start"][0], query(call).get("end", [None])[0]) for call in searches]


@pytest.mark.parametrize(
    "skew, first, windows",
    [
        # Ids two hours behind the dates the search filters on (the 0-of-10,000 case): the first window
        # lists other mail two hours off; the plan moves by it, and the campaign is one more page.
        (
            datetime.timedelta(hours=-2),
            datetime.datetime(2026, 11, 24, 8, 0, tzinfo=datetime.timezone.utc),
            [("2026-11-24T07:00:00Z", "2026-11-24T08:19:00Z"), ("2026-11-24T09:00:00Z", "2026-11-24T10:19:00Z")],
        ),
        # An hour ahead: the window planned by the ids lists the campaign at once; nothing is left to plan.
        (
            datetime.timedelta(hours=1),
            datetime.datetime(2026, 11, 24, 8, 0, tzinfo=datetime.timezone.utc),
            [("2026-11-24T07:00:00Z", "2026-11-24T08:19:00Z")],
        ),
        # Minutes apart: inside what a window reaches, so the plan stands.
        (
            datetime.timedelta(minutes=-7),
            datetime.datetime(2026, 11, 24, 8, 0, tzinfo=datetime.timezone.utc),
            [("2026-11-24T07:00:00Z", "2026-11-24T08:19:00Z")],
        ),
        # Two hours behind across midnight UTC.
        (
            datetime.timedelta(hours=-2),
            datetime.datetime(2026, 11, 24, 23, 58, tzinfo=datetime.timezone.utc),
            [("2026-11-24T22:58:00Z", "2026-11-25T00:17:00Z"), ("2026-11-25T00:58:00Z", "2026-11-25T02:17:00Z")],
        ),
    ],
)
def test_the_windows_move_by_the_skew_the_first_page_measures(api, skew, first, windows):
    campaign = _campaign(first)
    # Other mail of the planned window's dates, whose ids carry the same skew as every id does.
    start = first - datetime.timedelta(hours=1)
    others = [
        "o%03d-%s-%d" % (n, (start + skew + datetime.timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:%S"), n)
        for n in range(3)
    ]
    listed = [dated(i, skew, quarantined=False) for i in others]
    if len(windows) == 1:
        listed += [dated(i, skew) for i in campaign]
        api.get(SEARCH, json=page(listed))
    else:
        api.get(SEARCH, json=page(listed))
        api.get(SEARCH, json=page([dated(i, skew) for i in campaign]))

    states = read_states(client(), ACCOUNT, campaign, workers=1, now=NOW)

    assert [s.state for s in states] == [STATE_QUARANTINED] * 5
    assert _windows(api) == windows
    assert requested(api) == [("GET", "investigate")] * len(windows)


def test_a_first_page_with_nothing_to_measure_reads_one_id_for_the_skew_and_untimed_ids_are_read_by_id(api):
    skew = datetime.timedelta(hours=-3)
    campaign = _campaign(datetime.datetime(2026, 11, 24, 8, 0, tzinfo=datetime.timezone.utc))
    api.get(SEARCH, json=page([]))
    api.get(SEARCH + "/" + campaign[0], json=answer(dated(campaign[0], skew)))
    api.get(SEARCH, json=page([dated(i, skew) for i in campaign[1:]]))
    api.get(SEARCH + "/untimed-id", json=answer(message("untimed-id")))

    states = read_states(client(), ACCOUNT, campaign + ["untimed-id"], workers=1, now=NOW)

    assert [s.state for s in states] == [STATE_QUARANTINED] * 6
    assert requested(api) == [
        ("GET", "investigate"),
        ("GET", campaign[0]),
        ("GET", "investigate"),
        ("GET", "untimed-id"),
    ]
    # Planned anew for the ids still missing, three hours later by their dates.
    assert _windows(api)[1] == ("2026-11-24T10:01:00Z", "2026-11-24T11:19:00Z")
