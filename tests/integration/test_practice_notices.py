"""Who hears of the practice's scheduling: the practitioner of moves and of sessions the practice
booked, both parties once of a series cut short, every admin of series sessions that stopped
fitting. Through the API, with the jobs run as the worker runs them (no mail server configured:
messages land in the outbox, as `GET /api/admin/messages` shows them)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
from holdfast.accounts.service import create_or_reset_admin
from holdfast.context import Context
from holdfast.scheduling import horizon

from tests.conftest import Clock
from tests.support import Practice, register, run_all_due

ADA = "ada@practice.example"


async def person(client: httpx.AsyncClient, **more: Any) -> tuple[dict[str, Any], dict[str, str]]:
    headers = await register(client, **more)
    return (await client.get("/api/me", headers=headers)).json(), headers


class Outbox:
    """The messages sent since the last look (the test clock stands still, so they are told
    apart by id, not by time)."""

    def __init__(self, ctx: Context, client: httpx.AsyncClient, practice: Practice) -> None:
        self.ctx, self.client, self.practice = ctx, client, practice
        self.seen: set[str] = set()

    async def new(self) -> list[dict[str, Any]]:
        """Run what is due, as the worker would; the messages it sent, by recipient."""
        outcomes = await run_all_due(self.ctx, self.ctx.settings)
        assert set(outcomes) <= {"succeeded"}, outcomes
        found = await self.client.get(
            "/api/admin/messages", params={"limit": 500}, headers=self.practice.admin
        )
        assert found.status_code == 200, found.text
        fresh = [m for m in found.json() if m["id"] not in self.seen]
        self.seen |= {m["id"] for m in fresh}
        return sorted(fresh, key=lambda m: (m["to"], m["template"]))


async def give_ada_an_email(client: httpx.AsyncClient, practice: Practice) -> None:
    patched = await client.patch(
        f"/api/admin/providers/{practice.london}", json={"email": ADA}, headers=practice.admin
    )
    assert patched.status_code == 200, patched.text


async def test_the_practitioner_hears_of_moves_and_of_what_the_practice_booked(
    client: httpx.AsyncClient, practice: Practice, ctx: Context, clock: Clock
) -> None:
    outbox = Outbox(ctx, client, practice)
    await give_ada_an_email(client, practice)
    me, headers = await person(client, name="Grace Hopper", email="grace@example.com")
    # The practice books Grace in: she is confirmed, and Ada hears of it.
    body = {
        "user_id": me["id"], "service_id": practice.session, "provider_id": practice.london,
        "start": "2027-03-03T10:00:00Z",
    }  # fmt: skip
    booked = await client.post("/api/admin/bookings", json=body, headers=practice.admin)
    assert booked.status_code == 201, booked.text
    sent = await outbox.new()
    assert [(m["to"], m["template"]) for m in sent] == [
        (ADA, "booked"),
        ("grace@example.com", "confirmation"),
    ]
    assert "Grace Hopper" in sent[0]["body"] and "10:00 GMT" in sent[0]["body"]

    # Grace books another herself: Ada is not emailed for it (her calendar shows it).
    own = {**body, "start": "2027-03-04T10:00:00Z"}
    del own["user_id"]
    mine = await client.post("/api/bookings", json=own, headers=headers)
    assert mine.status_code == 201, mine.text
    assert [m["to"] for m in await outbox.new()] == ["grace@example.com"]

    # A little later, Grace moves it: both hear of it, with the old and the new time.
    clock.advance(minutes=5)
    url = f"/api/bookings/{mine.json()['id']}/reschedule"
    moved = await client.post(url, json={"start": "2027-03-05T11:00:00Z"}, headers=headers)
    assert moved.status_code == 200, moved.text
    sent = await outbox.new()
    assert [(m["to"], m["template"]) for m in sent] == [
        (ADA, "moved"),
        ("grace@example.com", "confirmation"),
    ]
    for message in sent:
        assert "Friday 5 March 2027, 11:00 GMT" in message["body"], message["body"]
        assert "Thursday 4 March 2027, 10:00 GMT" in message["body"], message["body"]
    assert sent[0]["subject"].startswith("Moved: Session with Grace Hopper")

    # The practice cancels the first: both hear of it (as before).
    cancelled = await client.post(
        f"/api/bookings/{booked.json()['id']}/cancel", json={}, headers=practice.admin
    )
    assert cancelled.status_code == 200, cancelled.text
    assert [(m["to"], m["template"]) for m in await outbox.new()] == [
        (ADA, "cancellation"),
        ("grace@example.com", "cancellation"),
    ]


async def test_a_move_of_a_practitioner_without_an_email_reaches_every_admin(
    client: httpx.AsyncClient, practice: Practice, ctx: Context, clock: Clock
) -> None:
    outbox = Outbox(ctx, client, practice)
    await create_or_reset_admin(ctx, email="second@practice.example", password="second password")
    _, headers = await person(client, email="kay@example.com")
    body = {"service_id": practice.session, "provider_id": practice.new_york}
    made = await client.post(
        "/api/bookings", json={**body, "start": "2027-03-03T15:00:00Z"}, headers=headers
    )
    assert made.status_code == 201, made.text
    await outbox.new()
    clock.advance(minutes=5)
    moved = await client.post(
        f"/api/bookings/{made.json()['id']}/reschedule",
        json={"start": "2027-03-04T15:00:00Z"},
        headers=headers,
    )
    assert moved.status_code == 200, moved.text
    assert [(m["to"], m["template"]) for m in await outbox.new()] == [
        ("admin@example.com", "moved"),
        ("kay@example.com", "confirmation"),
        ("second@practice.example", "moved"),
    ]


async def test_cutting_a_series_short_sends_one_notice_listing_the_sessions(
    client: httpx.AsyncClient, practice: Practice, ctx: Context
) -> None:
    outbox = Outbox(ctx, client, practice)
    await give_ada_an_email(client, practice)
    me, _ = await person(client, name="Alan Turing", email="alan@example.com")
    body = {
        "user_id": me["id"], "service_id": practice.session, "provider_id": practice.london,
        "rrule": "FREQ=WEEKLY;BYDAY=WE", "start_local": "2027-03-03T11:00",
        "timezone": "Europe/London", "count": 6,
    }  # fmt: skip
    made = (await client.post("/api/admin/series", json=body, headers=practice.admin)).json()
    starts = [o["start"] for o in made["occurrences"]]
    await outbox.new()  # the series' confirmation
    url = f"/api/admin/series/{made['id']}/cancel"

    following = await client.post(
        url, json={"scope": "following", "start": starts[2]}, headers=practice.admin
    )
    assert following.status_code == 200, following.text
    assert [o["status"] for o in following.json()["occurrences"]].count("cancelled") == 4
    sent = await outbox.new()
    assert [(m["to"], m["template"]) for m in sent] == [
        (ADA, "cancellations"),
        ("alan@example.com", "cancellations"),
    ]
    for message in sent:
        for day in ("17 March", "24 March", "31 March", "7 April"):
            assert day in message["body"], message["body"]
        assert "10 March" not in message["body"]
        assert message["subject"].startswith("Cancelled: 4 sessions of Session")
    # No per-session notices besides the one.
    kinds = Counter(j["kind"] for j in await ctx.db.jobs.find({}).to_list())
    assert kinds["notify.cancellation"] == 0 and kinds["notify.cancellations"] == 1
    # Their reminders stopped; the two sessions left keep theirs.
    pending = await ctx.db.jobs.count_documents({"kind": "notify.reminder", "state": "scheduled"})
    assert pending == 2

    everything = await client.post(url, json={"scope": "all"}, headers=practice.admin)
    assert [o["status"] for o in everything.json()["occurrences"]] == ["cancelled"] * 6
    sent = await outbox.new()
    assert len(sent) == 2 and all(m["subject"].startswith("Cancelled: 2 sessions") for m in sent)
    again = await client.post(url, json={"scope": "all"}, headers=practice.admin)
    assert again.status_code == 200
    assert await outbox.new() == []  # nothing more to say


async def test_sessions_that_stop_fitting_are_emailed_to_every_admin_once(
    client: httpx.AsyncClient, practice: Practice, ctx: Context, clock: Clock
) -> None:
    outbox = Outbox(ctx, client, practice)
    await create_or_reset_admin(ctx, email="second@practice.example", password="second password")
    me, _ = await person(client, name="Edsger Client")
    body = {
        "user_id": me["id"], "service_id": practice.session, "provider_id": practice.london,
        "rrule": "FREQ=WEEKLY;BYDAY=MO", "start_local": "2027-03-01T09:00",
        "timezone": "Europe/London",
    }  # fmt: skip
    made = (await client.post("/api/admin/series", json=body, headers=practice.admin)).json()
    await outbox.new()
    # The practitioner stops working Mondays.
    hours = {"rules": [{"weekday": d, "start": "09:00", "end": "17:00"} for d in range(1, 5)]}
    put = await client.put(
        f"/api/admin/providers/{practice.london}/availability", json=hours, headers=practice.admin
    )
    assert put.status_code == 200, put.text
    clock.advance(days=1)
    await horizon.extend_all(ctx, None)  # type: ignore[arg-type]
    sent = await outbox.new()
    # Two findings, each told to both admins: the booked Mondays ahead that stopped fitting,
    # and the Monday that came within reach and could not be booked.
    assert [m["to"] for m in sent] == ["admin@example.com"] * 2 + ["second@practice.example"] * 2
    shown = (await client.get(f"/api/admin/series/{made['id']}", headers=practice.admin)).json()
    unfit = [c for c in shown["conflicts"] if c["booking_id"]]
    unbookable = [c for c in shown["conflicts"] if not c["booking_id"]]
    assert len(unfit) == 11 and len(unbookable) == 1  # visible in the series' record too
    bodies = sorted((m["body"] for m in sent if m["to"] == "admin@example.com"), key=len)
    assert "Monday 24 May 2027, 09:00 BST" in bodies[0]
    assert "outside the practitioner's working hours" in bodies[0]
    assert bodies[1].count("booked, but now outside the practitioner's working hours") == 11
    assert all("Edsger Client" in m["subject"] for m in sent)

    # The next days report nothing new about these sessions.
    for _ in range(2):
        clock.advance(days=1)
        await horizon.extend_all(ctx, None)  # type: ignore[arg-type]
    assert await outbox.new() == []
