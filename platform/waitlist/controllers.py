from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from holdfast.bookings.schemas import BookingOut
from holdfast.bookings.service import PaymentsOff, SlotTaken
from holdfast.errors import DomainError, NotFound
from holdfast.inbox.signature import SignatureInvalid
from holdfast.payments import service as payments
from holdfast.waitlist import flows, service
from holdfast.waitlist.links import offer_id_of
from holdfast.waitlist.schemas import (
    AdminEntryOut,
    AdminOfferOut,
    EntryOut,
    OfferView,
    WaitlistIn,
)
from holdfast.waitlist.service import OfferGone
from holdfast.waitlist.states import OfferState
from holdfast.waitlist.webhook import WebhookDisabled, receive
from holdfast.web.auth import AdminUser, Ctx, CurrentUser
from holdfast.web.errors import render_domain_error
from holdfast.web.openapi import answers
from holdfast.web.paging import PAGE_HEADERS, Paging, paged
from litestar import Controller, Request, Response, delete, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody, QueryParameter


class WaitlistController(Controller):
    path = "/api/waitlist"
    tags = ["waitlist"]

    @post(
        "/",
        status_code=201,
        opt=answers(NotFound),
        responses={
            200: ResponseSpec(EntryOut, description="Already waiting for this: the entry there.")
        },
    )
    async def join(
        self, data: JSONBody[WaitlistIn], ctx: Ctx, user: CurrentUser
    ) -> Response[EntryOut]:
        """Wait for a service (optionally one provider, optionally a window). Joining again for
        the same thing answers 200 with the entry already there."""
        entry, new = await service.join(
            ctx, user, service_id=data.service_id, provider_id=data.provider_id,
            earliest=data.earliest, latest=data.latest,
        )  # fmt: skip
        return Response(EntryOut.of(entry), status_code=201 if new else 200)

    @get("/")
    async def mine(self, user: CurrentUser) -> list[EntryOut]:
        """The user's own entries, in the order they joined."""
        return [EntryOut.of(e) for e in await service.my_entries(user)]

    @delete("/{entry_id:str}", status_code=204, opt=answers(NotFound))
    async def leave(self, entry_id: FromPath[str], user: CurrentUser) -> None:
        await service.leave(user, entry_id)


def _wants_page(request: Request[Any, Any, Any]) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept


def _page(request: Request[Any, Any, Any], status: int, **variables: Any) -> Response[Any]:
    engine = request.app.template_engine
    assert engine is not None
    html = engine.get_template("offer.html").render(**variables)
    return Response(html, status_code=status, media_type="text/html")


class OfferController(Controller):
    """The links in an offer's SMS and email: the token is the authentication (no login, no
    session: claiming from a phone is one tap)."""

    path = "/offers"
    tags = ["waitlist"]

    @get("/{token:str}", opt=answers(NotFound, OfferGone))
    async def show(
        self, token: FromPath[str], ctx: Ctx, request: Request[Any, Any, Any]
    ) -> Response[OfferView]:
        """The offer (a page for a browser, JSON otherwise); the first look marks it viewed.
        410 once it has expired, been declined or been taken by someone else."""
        try:
            offer = await flows.view_offer(ctx, offer_id=offer_id_of(ctx, token))
            view = await service.describe(ctx, offer)
        except DomainError as exc:
            if not _wants_page(request):
                raise
            status, body = render_domain_error(exc)
            return _page(request, status, offer=None, problem=body)
        if _wants_page(request):
            return _page(request, 200, offer=view, token=token, problem=None)
        return Response(view)

    @post(
        "/{token:str}/claim",
        status_code=201,
        opt=answers(NotFound, OfferGone, SlotTaken, PaymentsOff, payments.CheckoutUnavailable),
    )
    async def claim(self, token: FromPath[str], ctx: Ctx) -> BookingOut:
        """Book the offered time: 201 the booking (again on a second click); 410 expired,
        declined or superseded; 409 if the time was taken."""
        booking = await flows.claim_offer(ctx, offer_id=offer_id_of(ctx, token))
        # A prepaid service: held until paid, with the Checkout link to pay through.
        return BookingOut.of(booking, payment=await payments.checkout_for(ctx, booking))

    @post("/{token:str}/decline", status_code=200, opt=answers(NotFound, OfferGone))
    async def decline(self, token: FromPath[str], ctx: Ctx) -> OfferView:
        """Say no: the next person waiting is offered the time."""
        offer = await flows.decline_offer(ctx, offer_id=offer_id_of(ctx, token))
        return await service.describe(ctx, offer)


class CancellationWebhookController(Controller):
    """A scheduling platform's signed cancellations: never a session's (served outside the
    app's cross-site, rate-limit and cache layers: see `holdfast.web.app`)."""

    path = "/webhooks/cancellations"
    tags = ["waitlist"]

    @post("/", status_code=200, opt=answers(SignatureInvalid, WebhookDisabled))
    async def cancellation(self, ctx: Ctx, request: Request[Any, Any, Any]) -> dict[str, str]:
        """A scheduling platform's cancellation: verified, stored and acknowledged at once."""
        body = await request.body()
        new = await receive(ctx, request.headers.get("x-signature"), body)
        return {"status": "received" if new else "duplicate"}


class WaitlistAdminController(Controller):
    path = "/api/admin"
    tags = ["waitlist"]

    @get("/waitlist", response_headers=PAGE_HEADERS, opt=answers(NotFound))
    async def entries(
        self,
        admin: AdminUser,
        page: Paging,
        request: Request[Any, Any, Any],
        service_id: Annotated[
            str | None, QueryParameter(description="Only this service's waitlist.")
        ] = None,
    ) -> Response[Sequence[AdminEntryOut]]:
        """Everyone waiting, in the order they are served (first joined first), by name."""
        found = await service.list_entries(page, service_id)
        names = await service.names_of(found.items)
        entries = [AdminEntryOut.named(e, names) for e in found.items]
        return paged(request, entries, found.next_cursor)

    @get("/offers", response_headers=PAGE_HEADERS)
    async def offers(
        self,
        admin: AdminUser,
        page: Paging,
        request: Request[Any, Any, Any],
        offer_state: Annotated[
            OfferState | None, QueryParameter(name="state", description="Only this state.")
        ] = None,
    ) -> Response[Sequence[AdminOfferOut]]:
        """Offers, the newest first, with their state, by name."""
        found = await service.list_offers(page, offer_state)
        names = await service.names_of(found.items)
        offers = [AdminOfferOut.named(o, names) for o in found.items]
        return paged(request, offers, found.next_cursor)
