"""The practice's lists in the admin console, through the API as the console reads them:
every booking filtered and paged with its people named, the same set as a CSV file, and the
day's sessions per practitioner."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from holdfast.bookings.models import Booking
from holdfast.scheduling.agenda import agenda_filter

from tests.integration.payments.conftest import add_prepaid
from tests.support import Practice, register


@dataclass
class Seeded:
    """A practice's week: who booked what (ids), made through the API."""

    ann: dict[str, str]  # Ann Archer's login
    ann_id: str
    bob_id: str
    prepaid: str
    web: str  # Ann, Ada, Tue 2027-03-02 10:00Z, booked online
    series: list[str]  # Bob's weekly series with Ada, Tuesdays 14:00 London, three sessions
    due: str  # Bob, Ada, Wed 2027-03-03 09:00Z, prepaid, booked by the practice: pay later
    evening: str  # Ann, Sam (New York), Wed 2027-03-03 21:00Z = 16:00 New York
    cancelled: str  # Ann, Ada, Thu 2027-03-04 11:00Z, cancelled


async def seed(client: httpx.AsyncClient, practice: Practice) -> Seeded:
    admin = practice.admin
    ann = await register(client, name="Ann Archer", email="ann@example.com")
    bob = await register(client, name="Bob Baker", email="bob@example.com")
    ann_id = (await client.get("/api/me", headers=ann)).json()["id"]
    bob_id = (await client.get("/api/me", headers=bob)).json()["id"]
    prepaid = await add_prepaid(
        client, practice, name="Assessment", price={"amount_cents": 12000, "currency": "GBP"}
    )

    async def book(who: dict[str, str], provider: str, start: str) -> str:
        body = {"service_id": practice.session, "provider_id": provider, "start": start}
        booked = await client.post("/api/bookings", json=body, headers=who)
        assert booked.status_code == 201, booked.text
        return str(booked.json()["id"])

    web = await book(ann, practice.london, "2027-03-02T10:00:00Z")
    evening = await book(ann, practice.new_york, "2027-03-03T21:00:00Z")
    cancelled = await book(ann, practice.london, "2027-03-04T11:00:00Z")
    gone = await client.post(f"/api/bookings/{cancelled}/cancel", json={}, headers=ann)
    assert gone.status_code == 200, gone.text
    series = await client.post(
        "/api/admin/series",
        json={
            "user_id": bob_id,
            "service_id": practice.session,
            "provider_id": practice.london,
            "rrule": "FREQ=WEEKLY;BYDAY=TU",
            "start_local": "2027-03-02T14:00",
            "timezone": "Europe/London",
            "count": 3,
        },
        headers=admin,
    )
    assert series.status_code == 201, series.text
    due = await client.post(
        "/api/admin/bookings",
        json={
            "user_id": bob_id,
            "service_id": prepaid,
            "provider_id": practice.london,
            "start": "2027-03-03T09:00:00Z",
            "pay_later": True,
        },
        headers=admin,
    )
    assert due.status_code == 201, due.text
    return Seeded(
        ann=ann,
        ann_id=ann_id,
        bob_id=bob_id,
        prepaid=prepaid,
        web=web,
        series=[o["booking_id"] for o in series.json()["occurrences"]],
        due=due.json()["id"],
        evening=evening,
        cancelled=cancelled,
    )


async def listed(
    client: httpx.AsyncClient,
    practice: Practice,
    query: Any = (),
    path: str = "/api/admin/bookings",
) -> list[dict[str, Any]]:
    """One page of an admin list, as the console reads it."""
    found = await client.get(path, params=query, headers=practice.admin)
    assert found.status_code == 200, found.text
    items: list[dict[str, Any]] = found.json()
    return items


async def test_the_practice_lists_every_booking_with_its_people_named_and_filters_it(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    s = await seed(client, practice)
    everything = await listed(client, practice)
    # Soonest first, whatever the order they were made in.
    assert [b["id"] for b in everything] == [
        s.web,
        s.series[0],
        s.due,
        s.evening,
        s.cancelled,
        s.series[1],
        s.series[2],
    ]
    assert [b["start"] for b in everything] == sorted(b["start"] for b in everything)
    first = everything[0]
    assert first["client"] == {"id": s.ann_id, "name": "Ann Archer", "email": "ann@example.com"}
    assert first["provider"] == {"id": practice.london, "name": "Ada"}
    assert first["service"] == {"id": practice.session, "name": "Session", "location": "in_person"}
    assert (first["status"], first["source"], first["payment"], first["series_id"]) == (
        "confirmed",
        "web",
        None,
        None,
    )
    occurrence = everything[1]
    assert (occurrence["client"]["name"], occurrence["source"]) == ("Bob Baker", "series")
    assert occurrence["series_id"] is not None
    assert occurrence["start"] == "2027-03-02T14:00:00Z"
    owed = everything[2]
    assert owed["service"]["name"] == "Assessment"
    assert {k: v for k, v in owed["payment"].items() if k != "id"} == {
        "status": "due", "amount_cents": 12000, "currency": "GBP", "refunded_cents": 0
    }  # fmt: skip

    def ids(items: list[dict[str, Any]]) -> list[str]:
        return [b["id"] for b in items]

    by_sam = await listed(client, practice, {"provider_id": practice.new_york})
    assert ids(by_sam) == [s.evening]
    assert ids(await listed(client, practice, {"service_id": s.prepaid})) == [s.due]
    assert ids(await listed(client, practice, {"user_id": s.bob_id})) == [
        s.series[0], s.due, s.series[1], s.series[2]
    ]  # fmt: skip
    assert ids(await listed(client, practice, {"status": "cancelled"})) == [s.cancelled]
    # Repeated: any of them.
    repeated = [("source", "web"), ("source", "admin"), ("status", "confirmed")]
    assert ids(await listed(client, practice, repeated)) == [s.web, s.due, s.evening]
    assert ids(await listed(client, practice, {"source": "series", "status": "cancelled"})) == []

    # A date is that whole day in `tz`: 2027-03-04 in Tokyo (UTC+9) runs from 15:00Z on the
    # 3rd, so it holds New York's 16:00 session of the 3rd and not London's of the 3rd.
    tokyo = {"from": "2027-03-04", "to": "2027-03-04", "tz": "Asia/Tokyo"}
    assert ids(await listed(client, practice, tokyo)) == [s.evening, s.cancelled]
    # Without `tz`, the admin's own zone (UTC); a time without an offset is in that zone.
    assert ids(await listed(client, practice, {"from": "2027-03-03", "to": "2027-03-03"})) == [
        s.due, s.evening
    ]  # fmt: skip
    window = {"from": "2027-03-02T10:00", "to": "2027-03-02T14:00:00+00:00"}
    assert ids(await listed(client, practice, window)) == [s.web]

    refusals = [
        ({"status": "booked"}, "invalid"),
        ({"from": "next tuesday"}, "invalid_date"),
        ({"from": "2027-03-05", "to": "2027-03-04"}, "invalid_date"),
        ({"provider_id": "ada"}, "invalid_filter"),
        ({"tz": "Mars/Olympus"}, "invalid_timezone"),
        ({"tz": ""}, "invalid_timezone"),
        ({"to": "20270302"}, "invalid_date"),
    ]
    for query, code in refusals:
        refused = await client.get("/api/admin/bookings", params=query, headers=practice.admin)
        assert (refused.status_code, refused.json()["error"]) == (422, code), query
    assert (await client.get("/api/admin/bookings", headers=s.ann)).status_code == 403


async def test_the_booking_list_pages_with_its_filters_and_refuses_a_cursor_of_others(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    s = await seed(client, practice)
    query = {"provider_id": practice.london, "limit": "2"}
    seen: list[str] = []
    url: str | None = "/api/admin/bookings"
    params: Any = query
    while url is not None:
        page = await client.get(url, params=params, headers=practice.admin)
        assert page.status_code == 200, page.text
        assert len(page.json()) <= 2
        seen += [b["id"] for b in page.json()]
        link = page.headers.get("link")
        url, params = (link.split(">")[0].lstrip("<"), None) if link else (None, None)
    assert seen == [s.web, s.series[0], s.due, s.cancelled, s.series[1], s.series[2]]

    first = await client.get("/api/admin/bookings", params=query, headers=practice.admin)
    cursor = first.headers["x-next-cursor"]
    other = {"provider_id": practice.new_york, "limit": "2", "cursor": cursor}
    refused = await client.get("/api/admin/bookings", params=other, headers=practice.admin)
    assert (refused.status_code, refused.json()["error"]) == (422, "invalid_cursor")


async def test_the_csv_export_is_the_whole_filtered_set_in_the_chosen_zone(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    s = await seed(client, practice)
    query = {"provider_id": practice.london, "tz": "Europe/Paris", "limit": "1"}
    exported = await client.get("/api/admin/bookings.csv", params=query, headers=practice.admin)
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.headers["content-disposition"].startswith("attachment;")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    # Not paged: every London booking, soonest first (`limit` is no filter here).
    assert [r["booking_id"] for r in rows] == [
        s.web, s.series[0], s.due, s.cancelled, s.series[1], s.series[2]
    ]  # fmt: skip
    web = rows[0]
    assert (web["start"], web["end"], web["timezone"]) == (
        "2027-03-02T11:00:00+01:00", "2027-03-02T12:00:00+01:00", "Europe/Paris"
    )  # fmt: skip
    assert (web["client_name"], web["client_email"], web["practitioner"], web["service"]) == (
        "Ann Archer", "ann@example.com", "Ada", "Session"
    )  # fmt: skip
    due = rows[2]
    assert (due["payment_status"], due["amount"], due["currency"]) == ("due", "120.00", "GBP")
    assert rows[3]["status"] == "cancelled"
    assert rows[1]["series_id"] and not web["series_id"]

    nothing = await client.get(
        "/api/admin/bookings.csv", params={"status": "expired"}, headers=practice.admin
    )
    assert nothing.text.splitlines() == [",".join(csv_header(nothing.text))]
    refused = await client.get(
        "/api/admin/bookings.csv", params={"to": "soon"}, headers=practice.admin
    )
    assert (refused.status_code, refused.json()["error"]) == (422, "invalid_date")
    assert (await client.get("/api/admin/bookings.csv", headers=s.ann)).status_code == 403


def csv_header(text: str) -> list[str]:
    return next(csv.reader(io.StringIO(text)))


async def test_a_name_that_looks_like_a_formula_stays_text_in_the_export(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    who = await register(client, name='=HYPERLINK("http://evil")')
    body = {"service_id": practice.session, "provider_id": practice.london,
            "start": "2027-03-02T10:00:00Z"}  # fmt: skip
    assert (await client.post("/api/bookings", json=body, headers=who)).status_code == 201
    exported = await client.get("/api/admin/bookings.csv", headers=practice.admin)
    [row] = list(csv.DictReader(io.StringIO(exported.text)))
    assert row["client_name"] == '\'=HYPERLINK("http://evil")'


async def test_the_day_view_groups_the_days_sessions_by_practitioner(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    s = await seed(client, practice)
    day = await client.get(
        "/api/admin/today",
        params={"date": "2027-03-02", "tz": "Europe/London"},
        headers=practice.admin,
    )
    assert day.status_code == 200, day.text
    found = day.json()
    assert (found["date"], found["timezone"]) == ("2027-03-02", "Europe/London")
    # Every practitioner, by name; Sam's Tuesday is free.
    assert [(p["name"], [b["id"] for b in p["sessions"]]) for p in found["providers"]] == [
        ("Ada", [s.web, s.series[0]]),
        ("Sam", []),
    ]
    occurrence = found["providers"][0]["sessions"][1]
    assert occurrence["client"]["name"] == "Bob Baker" and occurrence["series_id"]

    # Only sessions that hold their time: the cancelled one of Thursday is not on the day.
    thursday = await client.get(
        "/api/admin/today", params={"date": "2027-03-04"}, headers=practice.admin
    )
    assert [p["sessions"] for p in thursday.json()["providers"]] == [[], []]
    # Wednesday in the admin's zone (UTC): the paid-later assessment and New York's evening.
    wednesday = (
        await client.get("/api/admin/today", params={"date": "2027-03-03"}, headers=practice.admin)
    ).json()
    ada, sam = wednesday["providers"]
    assert [(b["id"], b["payment"]["status"]) for b in ada["sessions"]] == [(s.due, "due")]
    assert [b["id"] for b in sam["sessions"]] == [s.evening]
    # By default: today, in the admin's zone (the test clock says 2027-03-01 06:00Z).
    today = (await client.get("/api/admin/today", headers=practice.admin)).json()
    assert (today["date"], today["timezone"]) == ("2027-03-01", "UTC")
    refused = await client.get(
        "/api/admin/today", params={"date": "Tuesday"}, headers=practice.admin
    )
    assert refused.status_code == 422


async def test_each_filter_reads_only_the_bookings_it_returns(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    """At 100,000 bookings a filter must walk its own index over the asked window, not every
    booking: MongoDB's own account of the query says how many documents it read."""
    s = await seed(client, practice)
    utc = ZoneInfo("UTC")
    filters = [
        agenda_filter(tz=utc, provider_id=practice.new_york),
        agenda_filter(tz=utc, service_id=s.prepaid),
        agenda_filter(tz=utc, user_id=s.bob_id, start_from="2027-03-03"),
        agenda_filter(tz=utc, statuses=["cancelled"]),
        agenda_filter(tz=utc, start_from="2027-03-03", start_to="2027-03-03"),
    ]
    collection = Booking.get_pymongo_collection()
    for chosen in filters:
        cursor = collection.find(chosen.where(), sort=[("start", 1), ("_id", 1)])
        plan = await cursor.explain()
        stats = plan["executionStats"]
        assert stats["nReturned"] >= 1, chosen
        assert stats["totalDocsExamined"] == stats["nReturned"], (chosen, plan["queryPlanner"])


async def test_a_clients_record_carries_bookings_payments_series_and_waitlist(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    s = await seed(client, practice)
    joined = await client.post(
        "/api/waitlist", json={"service_id": s.prepaid}, headers=await login_as_bob(client)
    )
    assert joined.status_code == 201, joined.text
    found = await client.get(f"/api/admin/users/{s.bob_id}", headers=practice.admin)
    assert found.status_code == 200, found.text
    record = found.json()
    assert record["user"]["name"] == "Bob Baker"
    assert [b["id"] for b in record["upcoming"]] == [s.series[0], s.due, *s.series[1:]]
    due = record["upcoming"][1]
    assert (due["service"]["name"], due["provider"]["name"], due["payment"]["status"]) == (
        "Assessment", "Ada", "due"
    )  # fmt: skip
    assert [(p["booking_id"], p["status"], p["amount_cents"]) for p in record["payments"]] == [
        (s.due, "due", 12000)
    ]
    assert len(record["series"]) == 1 and record["series"][0]["client"]["name"] == "Bob Baker"
    assert [(e["service_name"], e["user_name"], e["user_email"]) for e in record["waitlist"]] == [
        ("Assessment", "Bob Baker", "bob@example.com")
    ]
    assert record["offers"] == []
    # Ann's record has none of Bob's.
    ann = (await client.get(f"/api/admin/users/{s.ann_id}", headers=practice.admin)).json()
    assert (ann["payments"], ann["waitlist"], ann["series"]) == ([], [], [])
    assert [b["id"] for b in ann["past"] + ann["upcoming"]] == [s.web, s.evening, s.cancelled]


async def login_as_bob(client: httpx.AsyncClient) -> dict[str, str]:
    login = await client.post(
        "/api/auth/login", json={"email": "bob@example.com", "password": "correct horse"}
    )
    assert login.status_code == 200, login.text
    client.cookies.clear()
    return {"Authorization": f"Bearer {login.json()['token']}"}


async def test_a_practitioners_week_names_each_sessions_client_and_service(
    client: httpx.AsyncClient, practice: Practice
) -> None:
    s = await seed(client, practice)
    week = await client.get(
        "/api/admin/calendar",
        params={"provider_id": practice.london, "from": "2027-03-01", "days": 7},
        headers=practice.admin,
    )
    assert week.status_code == 200, week.text
    found = week.json()
    assert found["timezone"] == "Europe/London"
    # Sessions that hold their time, soonest first: the cancelled one is not in the week.
    assert [
        (b["id"], b["client"]["name"], b["service"]["name"], (b["payment"] or {}).get("status"))
        for b in found["bookings"]
    ] == [
        (s.web, "Ann Archer", "Session", None),
        (s.series[0], "Bob Baker", "Session", None),
        (s.due, "Bob Baker", "Assessment", "due"),
    ]
