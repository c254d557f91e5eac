"""The webhook inbox every sender shares: stored once, one job each, decided once."""

from __future__ import annotations

import httpx
from holdfast.context import Context
from holdfast.inbox import service as inbox
from holdfast.inbox.models import Delivery
from holdfast.jobs.models import Job

from tests.support import Practice


async def test_a_delivery_sent_five_times_is_stored_once_worked_once_and_listed(
    client: httpx.AsyncClient, ctx: Context, practice: Practice
) -> None:
    stored = [
        await inbox.store(ctx, source="test", key="evt_1", kind="thing.happened", payload={"n": i})
        for i in range(5)
    ]
    assert stored == [True, False, False, False, False]
    jobs = await inbox.enqueue_received(ctx)
    assert [(j.kind, j.payload) for j in jobs] == [("inbox.test", {"delivery_id": "test:evt_1"})]
    assert await inbox.enqueue_received(ctx) == []  # the promoter's next tick adds nothing
    assert await Job.find({"kind": "inbox.test"}).count() == 1

    [job] = jobs
    delivery = await inbox.pending(job)
    assert delivery is not None and delivery.payload == {"n": 0}  # the first one, raw
    assert await inbox.settle(delivery, "rejected", ctx.now(), reason="no such thing")
    assert not await inbox.settle(delivery, "processed", ctx.now())  # decided once
    assert await inbox.pending(job) is None

    listed = await client.get(
        "/api/admin/webhooks", params={"source": "test"}, headers=practice.admin
    )
    assert listed.status_code == 200, listed.text
    assert [(d["id"], d["status"], d["reason"]) for d in listed.json()] == [
        ("test:evt_1", "rejected", "no such thing")
    ]
    other = await client.get(
        "/api/admin/webhooks", params={"source": "stripe"}, headers=practice.admin
    )
    assert other.json() == []


async def test_a_burst_of_deliveries_gets_one_job_each_even_after_a_tick_stopped_halfway(
    ctx: Context,
) -> None:
    for i in range(120):
        await inbox.store(ctx, source="test", key=f"evt_{i}", kind="thing.happened", payload={})
    # A tick that wrote the first 50 deliveries' jobs and stopped before marking them.
    first = await inbox.enqueue_received(ctx, limit=50)
    await Delivery.get_pymongo_collection().update_many({}, {"$set": {"job_id": None}})

    again = await inbox.enqueue_received(ctx)
    assert len(again) == 120
    assert [j.id for j in again[:50]] == [j.id for j in first]  # the same jobs, not new ones
    assert await Job.find({"kind": "inbox.test"}).count() == 120
    unmarked = await Delivery.find({"job_id": None}).count()
    assert unmarked == 0
    assert await inbox.enqueue_received(ctx) == []
    # each delivery names its own job, in the order received
    marks = {d.id: d.job_id for d in await Delivery.find({"source": "test"}).to_list()}
    assert {j.payload["delivery_id"]: j.id for j in again} == marks
