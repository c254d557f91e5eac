"""The practice's bookings as a CSV file (`GET /api/admin/bookings.csv`): the whole filtered
set, streamed as it is read, with times in the practice's chosen zone and the zone named."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from zoneinfo import ZoneInfo

from holdfast.clock import as_utc
from holdfast.scheduling.agenda import AgendaEntry, AgendaFilter, agenda_batches

COLUMNS = (
    "booking_id", "start", "end", "timezone", "status", "source",
    "client_name", "client_email", "client_id", "practitioner", "practitioner_id",
    "service", "service_id", "location", "payment_status", "amount", "currency",
    "refunded", "join_url", "series_id", "created_at", "cancel_reason",
)  # fmt: skip


def _local(value: datetime | None, tz: ZoneInfo) -> str:
    return as_utc(value).astimezone(tz).isoformat() if value else ""


def _text(value: str) -> str:
    """Free text a person typed (a name, a reason): one that starts like a formula is kept as
    text, so opening the file in a spreadsheet never runs it (CSV injection)."""
    return f"'{value}" if value.startswith(("=", "+", "-", "@", "\t", "\r")) else value


def _money(cents: int | None) -> str:
    return f"{cents / 100:.2f}" if cents is not None else ""


def row(entry: AgendaEntry, tz: ZoneInfo) -> list[str]:
    booking, client, payment = entry.booking, entry.client, entry.payment
    return [
        str(booking.id), _local(booking.start, tz), _local(booking.end, tz), tz.key,
        booking.status, booking.source,
        _text(client.name) if client else "", _text(client.email) if client else "",
        str(booking.user_id),
        _text(entry.provider.name) if entry.provider else "", str(booking.provider_id),
        _text(entry.service.name) if entry.service else "", str(booking.service_id),
        entry.service.location if entry.service else "",
        payment.status if payment else "", _money(payment.amount_cents if payment else None),
        payment.currency if payment else "",
        _money(payment.refunded_cents if payment else None),
        booking.meeting.join_url if booking.meeting else "",
        str(booking.series_id) if booking.series_id else "",
        _local(booking.created_at, tz), _text(booking.cancel_reason or ""),
    ]  # fmt: skip


async def csv_lines(chosen: AgendaFilter) -> AsyncIterator[str]:
    """The header, then each booking soonest first, times in the filter's zone; a chunk of
    text per batch read."""
    tz = chosen.zone
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    yield out.getvalue()
    async for batch in agenda_batches(chosen):
        out.seek(0)
        out.truncate()
        writer.writerows(row(entry, tz) for entry in batch)
        yield out.getvalue()
