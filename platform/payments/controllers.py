from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any

from holdfast.accounts.service import users_by_id
from holdfast.errors import Invalid, NotFound
from holdfast.inbox import service as inbox
from holdfast.inbox.signature import SignatureInvalid, verify
from holdfast.monitoring.controllers import FROM, TO
from holdfast.monitoring.stats import window
from holdfast.payments import offline, service
from holdfast.payments.handlers import SOURCE
from holdfast.payments.models import PaymentStatus
from holdfast.payments.offline import PaymentNotDue
from holdfast.payments.receipts import receipt_of
from holdfast.payments.schemas import MarkPaidIn, PaymentOut, ReceiptOut, RefundIn
from holdfast.payments.stats import Period, RevenueRow, revenue
from holdfast.web.auth import AdminUser, Ctx, CurrentUser
from holdfast.web.openapi import answers
from holdfast.web.paging import PAGE_HEADERS, Paging, paged
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Template

# Stripe's own tolerance for a signature's timestamp.
TOLERANCE_SECONDS = 300


class StripeWebhookController(Controller):
    """Stripe's webhook: verified by its signature, never by a session (served outside the
    app's cross-site, rate-limit and cache layers: see `holdfast.web.app`)."""

    path = ""
    tags = ["payments"]

    @post("/webhooks/stripe", status_code=200, opt=answers(SignatureInvalid, Invalid))
    async def webhook(self, ctx: Ctx, request: Request[Any, Any, Any]) -> dict[str, str]:
        """Verified, stored raw once (by Stripe's event id) and acknowledged at once; a durable
        job acts on it."""
        secret = ctx.settings.stripe_webhook_secret
        if secret is None:
            raise SignatureInvalid("Stripe webhooks are not configured here.")
        body = await request.body()
        header = request.headers.get("stripe-signature")
        verify(
            secret.get_secret_value(),
            header,
            body,
            ctx.now(),
            named="Stripe-Signature",
            tolerance=TOLERANCE_SECONDS,
        )
        try:
            event = json.loads(body)
        except ValueError:
            raise Invalid("The body is not JSON.", code="invalid_event") from None
        if not isinstance(event, dict) or not all(
            isinstance(event.get(k), str) and event[k] for k in ("id", "type")
        ):
            raise Invalid("The event needs a string id and type.", code="invalid_event")
        stored = await inbox.store(
            ctx, source=SOURCE, key=event["id"], kind=event["type"], payload=event
        )
        return {"status": "received" if stored else "duplicate"}


class PaymentController(Controller):
    path = ""
    tags = ["payments"]

    @get("/api/payments", response_headers=PAGE_HEADERS)
    async def mine(
        self, user: CurrentUser, page: Paging, request: Request[Any, Any, Any]
    ) -> Response[Sequence[PaymentOut]]:
        found = await service.list_payments(page, user=user)
        return paged(request, [PaymentOut.of(p) for p in found.items], found.next_cursor)

    @get("/api/payments/{payment_id:str}/receipt", opt=answers(NotFound))
    async def receipt(self, payment_id: FromPath[str], user: CurrentUser) -> ReceiptOut:
        """The receipt of one of your payments (an admin: of anyone's)."""
        return ReceiptOut.of(await receipt_of(payment_id, user))

    @post(
        "/api/admin/payments/{payment_id:str}/refund",
        status_code=202,
        opt=answers(NotFound, Invalid, service.NotRefundable),
    )
    async def refund(
        self,
        payment_id: FromPath[str],
        ctx: Ctx,
        admin: AdminUser,
        data: JSONBody[RefundIn | None] = None,
    ) -> PaymentOut:
        """Refund all that is left of a payment, or `amount_cents` of it; the refund is made
        by a durable job (202), and the payment shows it once Stripe has made it."""
        amount = data.amount_cents if data else None
        return PaymentOut.of(await service.refund_as_admin(ctx, payment_id, amount))

    @post(
        "/api/admin/payments/{payment_id:str}/paid",
        status_code=200,
        opt=answers(NotFound, PaymentNotDue),
    )
    async def mark_paid(
        self, payment_id: FromPath[str], data: JSONBody[MarkPaidIn], ctx: Ctx, admin: AdminUser
    ) -> PaymentOut:
        """A payment `due` (booked "pay later") was paid at the practice: it becomes `paid`
        now (revenue counts it from now; its receipt says how), with the admin and the method
        in its history. Marking it again answers the same payment; one that is not due: 409."""
        payment = await offline.mark_paid(ctx, payment_id, admin, data.method, data.note)
        people = await users_by_id([payment.user_id])
        return PaymentOut.of(payment, people.get(payment.user_id))

    @get("/api/admin/payments", response_headers=PAGE_HEADERS)
    async def everyone(
        self,
        admin: AdminUser,
        page: Paging,
        request: Request[Any, Any, Any],
        status: FromQuery[PaymentStatus | None] = None,
    ) -> Response[Sequence[PaymentOut]]:
        """Everyone's payments, the newest first, each naming its client; `status=due`: the
        ones to be paid at the practice (mark each paid with POST .../paid)."""
        found = await service.list_payments(page, user=None, status=status)
        people = await users_by_id(p.user_id for p in found.items)
        listed = [PaymentOut.of(p, people.get(p.user_id)) for p in found.items]
        return paged(request, listed, found.next_cursor)

    @get("/api/admin/payments/revenue", opt=answers(Invalid))
    async def revenue(
        self,
        ctx: Ctx,
        admin: AdminUser,
        period: FromQuery[Period] = "day",
        start: Annotated[date | None, FROM] = None,
        end: Annotated[date | None, TO] = None,
    ) -> list[RevenueRow]:
        """Paid minus refunded per UTC day, week (from Monday) or month and currency: a
        payment counts when it was paid, a refund when it was made."""
        lo, hi = window(start, end, ctx.now())
        return await revenue(lo, hi, period)


class PaymentPageController(Controller):
    """The pages of paying: where Checkout returns the payer, and a printable receipt. Both
    read through the API from the browser (the payer's own session)."""

    path = ""
    include_in_schema = False

    @get("/payments/result")
    async def result_page(self) -> Template:
        return Template(template_name="payment_result.html")

    @get("/payments/{payment_id:str}/receipt")
    async def receipt_page(self, payment_id: FromPath[str]) -> Template:
        return Template(template_name="payment_receipt.html")
