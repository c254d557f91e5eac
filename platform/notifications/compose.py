"""Which messages a booking event produces, for whom, in their own timezone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from holdfast.accounts.models import User
from holdfast.bookings.models import Booking
from holdfast.catalog.models import Provider, Service
from holdfast.context import Context
from holdfast.notifications.ics import CalendarEntry, calendar_file
from holdfast.notifications.models import Channel, Message
from holdfast.notifications.timefmt import local_label
from jinja2 import Environment, FileSystemLoader, StrictUndefined

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    undefined=StrictUndefined,
    autoescape=False,  # plain-text email and SMS
    keep_trailing_newline=True,
)
SUBJECTS = {
    "confirmation": "Confirmed: {service} on {when}",
    "reminder": "Reminder: {service} on {when}",
    "cancellation": "Cancelled: {service} on {when}",
    "meeting_link": "Your video link: {service} on {when}",
    # The practice's side of changes (the provider, else every admin).
    "moved": "Moved: {service} with {client}, now on {when}",
    "booked": "Booked: {service} with {client} on {when}",
    # Several sessions of one client cancelled together (a series cut short), in one notice.
    "cancellations": "Cancelled: {count} sessions of {service} from {when}",
}
# Bookings the practice made (for a client): the practitioner hears of them. A client's own
# booking reaches the practitioner through the calendar (and would be one email per booking).
PRACTICE_MADE = ("admin", "series")


@dataclass(frozen=True, slots=True)
class Recipient:
    name: str
    email: str | None
    phone: str | None
    timezone: str
    for_provider: bool = False
    reminder_emails: bool = True  # the client's choice (SMS reminders go to a phone they gave)


@dataclass(frozen=True, slots=True)
class BookingFacts:
    booking: Booking
    client: User
    provider: Provider
    service: Service
    money: str | None = None  # a cancellation: what happens to what was paid (payments)


async def recipients(
    facts: BookingFacts, template: str, *, moved: bool = False
) -> list[tuple[Recipient, str]]:
    """Who hears of a booking's change, each with the template they get. Both parties hear of
    a cancellation and of a move; the practitioner of a booking the practice made for a client
    (if they have an email address: the admins made it)."""
    client = facts.client
    me = Recipient(
        client.name,
        client.email,
        client.phone,
        client.timezone,
        reminder_emails=client.reminder_emails,
    )
    people = [(me, template)]
    practice_side = None
    if template in ("cancellation", "cancellations"):
        practice_side = template
    elif template == "confirmation" and moved:
        practice_side = "moved"
    elif template == "confirmation" and facts.booking.source in PRACTICE_MADE:
        if facts.provider.email:
            people.append((_provider(facts.provider), "booked"))
    if practice_side:
        people += [(p, practice_side) for p in await _practice_side(facts.provider)]
    return people


def _provider(provider: Provider) -> Recipient:
    return Recipient(provider.name, provider.email, None, provider.timezone, for_provider=True)


async def _practice_side(provider: Provider) -> list[Recipient]:
    """The provider if they have an email address, else every admin."""
    if provider.email:
        return [_provider(provider)]
    return await every_admin()


async def every_admin() -> list[Recipient]:
    """The practice's admins (what only the practice must hear of reaches each of them)."""
    admins = await User.find(User.role == "admin").sort("_id").to_list()
    return [Recipient(a.name, a.email, None, a.timezone, for_provider=True) for a in admins]


def _variables(
    ctx: Context,
    facts: BookingFacts,
    person: Recipient,
    template: str,
    moved_from: datetime | None,
    sessions: Sequence[datetime],
) -> dict[str, Any]:
    return {
        "template": template,
        "name": person.name,
        "client": facts.client.name,
        "service": facts.service.name,
        "provider": facts.provider.name,
        "duration": facts.service.duration_minutes,
        "when": local_label(facts.booking.start, person.timezone),
        "reason": facts.booking.cancel_reason,
        "for_provider": person.for_provider,
        "account_url": account_url(ctx),
        "join_url": facts.booking.meeting.join_url if facts.booking.meeting else None,
        "was": local_label(moved_from, person.timezone) if moved_from else None,
        "series": facts.booking.series_id is not None,
        "sessions": [local_label(start, person.timezone) for start in sessions],
        "count": len(sessions),
        "money": facts.money,
        "where": where(ctx, facts),
    }


def render_text(template: str, variables: dict[str, Any]) -> str:
    return _templates.get_template(template).render(variables)


def render(
    ctx: Context,
    facts: BookingFacts,
    person: Recipient,
    template: str,
    job_id: str,
    *,
    moved_from: datetime | None = None,
    sessions: Sequence[datetime] = (),
) -> list[Message]:
    """`person`'s messages of `template` about `facts` (`moved_from`: where a moved booking
    was; `sessions`: the starts of sessions cancelled together)."""
    now = ctx.now()
    variables = _variables(ctx, facts, person, template, moved_from, sessions)
    common: dict[str, Any] = {
        "job_id": job_id,
        "booking_id": str(facts.booking.id),
        "template": template,
        "now": now,
    }
    messages: list[Message] = []
    if person.email and (template != "reminder" or person.reminder_emails):
        ics = None
        method = INVITE_METHODS.get(template)
        if method and not person.for_provider:
            # The same UID in every version; the cancellation's higher SEQUENCE removes it.
            ics = calendar_file(calendar_entry(ctx, facts), method=method, stamp=now)
        messages.append(
            message(
                "email",
                person.email,
                SUBJECTS[template].format(**variables),
                render_text(f"{template}.txt", variables),
                ics=ics,
                **common,
            )
        )
    if person.phone:
        body = render_text("sms.txt", variables).strip()
        messages.append(message("sms", person.phone, "", body, **common))
    return messages


INVITE_METHODS: dict[str, Literal["REQUEST", "CANCEL"]] = {
    "confirmation": "REQUEST",
    "meeting_link": "REQUEST",
    "cancellation": "CANCEL",
}


def sequence(booking: Booking) -> int:
    """The booking's version for calendars: every change (a move, a cancellation) is a later
    `updated_at`, so whole seconds since it was made only grow; a cancellation counts one more,
    so it outranks a move made within the same second, and so does a meeting link (written
    without touching `updated_at`): the invite that brings a late link updates the one
    without it."""
    changed = int((booking.updated_at - booking.created_at).total_seconds())
    ended = 1 if booking.status in ("cancelled", "expired") else 0
    return max(changed, 0) + ended + (1 if booking.meeting else 0)


def where(ctx: Context, facts: BookingFacts) -> str:
    """Where the session takes place, as the client is told."""
    booking, location = facts.booking, facts.service.location
    if location == "video":
        return booking.meeting.join_url if booking.meeting else "Online (the link follows by email)"
    if location == "phone":
        return f"By phone: {facts.provider.name} will call you"
    return ctx.settings.practice_address or f"In person with {facts.provider.name}"


def calendar_entry(ctx: Context, facts: BookingFacts) -> CalendarEntry:
    booking, service, provider = facts.booking, facts.service, facts.provider
    place = where(ctx, facts)
    account = f"{ctx.settings.public_url.rstrip('/')}/account"
    description = (
        f"{service.name} with {provider.name}, {service.duration_minutes} minutes.\n"
        f"Where: {place}\n"
        f"To reschedule or cancel: {account}\n"
        f"Reference: {booking.id}"
    )
    return CalendarEntry(
        uid=f"{booking.id}@holdfast",
        sequence=sequence(booking),
        start=booking.start,
        end=booking.end,
        summary=f"{service.name} with {provider.name}",
        description=description,
        location=place,
        organizer_email=ctx.settings.mail_from_address,
        organizer_name=provider.name,
        attendee_email=facts.client.email,
        attendee_name=facts.client.name,
        url=booking.meeting.join_url if booking.meeting else None,
    )


def message(
    channel: Channel,
    to: str,
    subject: str,
    body: str,
    *,
    job_id: str,
    template: str,
    now: datetime,
    booking_id: str | None = None,
    ics: str | None = None,
) -> Message:
    """One message of one job to one address; its id is the dedupe key a re-run finds."""
    return Message(
        id=message_id(job_id, channel, to),
        job_id=job_id,
        booking_id=booking_id,
        template=template,
        channel=channel,
        to=to,
        subject=subject,
        body=body,
        ics=ics,
        created_at=now,
        updated_at=now,
    )


def message_id(job_id: str, channel: Channel, to: str) -> str:
    return f"{job_id}/{channel}/{to.lower()}"


def account_url(ctx: Context) -> str:
    return f"{ctx.settings.public_url.rstrip('/')}/"
