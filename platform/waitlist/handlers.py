"""Job handlers: each calls one flow (see `flows`), or sends an offer's messages."""

from __future__ import annotations

from datetime import datetime, timedelta

from holdfast.accounts.models import User
from holdfast.context import Context
from holdfast.events import Event
from holdfast.jobs.models import Job
from holdfast.jobs.registry import JobKind
from holdfast.notifications.compose import account_url, message, render_text
from holdfast.notifications.delivery import DeliveryFailed, send_once
from holdfast.notifications.models import Message
from holdfast.notifications.timefmt import local_label
from holdfast.waitlist import flows
from holdfast.waitlist.links import offer_token, offer_url
from holdfast.waitlist.models import Offer
from holdfast.waitlist.service import offer_minutes, offered
from holdfast.waitlist.states import ACTIVE
from holdfast.waitlist.webhook import process_cancellation


async def open_slot(ctx: Context, job: Job) -> None:
    p = job.payload
    await flows.open_slot(
        ctx,
        opening_id=p["opening_id"],
        provider_id=p["provider_id"],
        service_id=p["service_id"],
        start=datetime.fromisoformat(p["start"]),
        freed_at=datetime.fromisoformat(p["freed_at"]),
        source=p["source"],
    )


async def offer_next(ctx: Context, job: Job) -> None:
    await flows.offer_next(ctx, opening_id=job.payload["opening_id"])


async def expire_offer(ctx: Context, job: Job) -> None:
    await flows.expire_offer(ctx, offer_id=job.payload["offer_id"])


async def notify_offer(ctx: Context, job: Job) -> None:
    """SMS and email to the person offered the slot, with claim and decline links (each message
    sent once: a re-run finds it sent). An offer that has moved on meanwhile says nothing."""
    offer = await Offer.get(job.payload["offer_id"])
    if offer is None or offer.state not in ACTIVE:
        return
    person = await User.get(offer.user_id)
    service, provider = await offered(ctx, offer)
    if person is None or provider is None:
        return  # the account or the provider is gone: nobody to tell, nothing to offer
    # The same link on every run: the token's issue time is the offer's.
    token = offer_token(ctx, offer.id, offer.start, offer.created_at)
    variables = {
        "name": person.name,
        "service": service.name,
        "provider": provider.name,
        "when": local_label(offer.start, person.timezone),
        "minutes": offer_minutes(offer),
        "claim_url": offer_url(ctx, token),
        "decline_url": offer_url(ctx, token, "decline"),
        "account_url": account_url(ctx),
    }
    now = ctx.now()
    outgoing: list[Message] = []
    if person.phone:
        body = render_text("waitlist_offer_sms.txt", variables).strip()
        outgoing.append(
            message("sms", person.phone, "", body, job_id=job.id, template="waitlist_offer",
                    now=now)
        )  # fmt: skip
    subject = f"An opening for {service.name}: claim it in {variables['minutes']} minutes"
    body = render_text("waitlist_offer.txt", variables)
    outgoing.append(
        message("email", person.email, subject, body, job_id=job.id, template="waitlist_offer",
                now=now)
    )  # fmt: skip
    failures: list[str] = []
    for each in outgoing:
        try:
            await send_once(ctx, each, job.claim_token)
        except DeliveryFailed as exc:
            failures.append(str(exc))
    await ctx.events.publish(Event("message-updated"))
    if failures:
        raise DeliveryFailed("; ".join(failures))


def kinds(job_timeout: timedelta) -> list[JobKind]:
    quick = timedelta(seconds=1)  # a chain waits on these: retry soon
    return [
        JobKind("waitlist.open", open_slot, timeout=job_timeout, backoff_base=quick),
        JobKind("waitlist.next", offer_next, timeout=job_timeout, backoff_base=quick),
        JobKind("waitlist.expire", expire_offer, timeout=job_timeout, backoff_base=quick),
        JobKind("waitlist.notify", notify_offer, timeout=job_timeout, backoff_base=quick),
        JobKind("inbox.cancellations", process_cancellation, timeout=job_timeout),
    ]
