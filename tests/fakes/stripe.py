"""A fake Stripe API on loopback: Checkout Sessions (create, retrieve, expire) and refunds, in
Stripe's wire format (form-encoded requests, JSON answers, Idempotency-Key replays), driven by
the official `stripe` library pointed at it. `pay` completes a Session as a payer would and
gives the event Stripe would send. It also serves a hosted Checkout page (`/pay/<session>`):
"Pay" completes the Session, sends the signed `checkout.session.completed` to `webhook_url`
(as Stripe does, signed with `webhook_secret`) and returns the payer to the Session's
`success_url`; "Cancel" returns them to its `cancel_url`."""

from __future__ import annotations

import html
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import stripe
from holdfast.embedded import free_port
from holdfast.payments.stripe.api import API_VERSION

_ids = itertools.count(1)


@dataclass
class StripeApi:
    port: int = field(default_factory=free_port)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    down: bool = False  # answer every request 500
    # Where "Pay" on the hosted page sends the signed event (unset: nowhere).
    webhook_url: str | None = None
    webhook_secret: str | None = None
    paid_on_page: list[dict[str, Any]] = field(default_factory=list)  # events "Pay" made
    # Called with (method, path) just before an API answer is written, and just after.
    before_answer: Callable[[str, str], None] | None = None
    after_answer: Callable[[str, str], None] | None = None
    _replays: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> StripeApi:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _page(self, status: int, body: str, location: str | None = None) -> None:
                raw = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(raw)))
                if location:
                    self.send_header("Location", location)
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self) -> None:
                if self.path.startswith("/pay/"):
                    self._page(*fake.hosted_page(self.path.split("/")[2]))
                    return
                query = dict(parse_qsl(urlsplit(self.path).query))
                self._answer(*fake.handle("GET", self.path, query, None))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(parse_qsl(self.rfile.read(length).decode()))
                if self.path.startswith("/pay/"):
                    _, _, session_id, choice = self.path.split("/")
                    self._page(303, "", fake.choose(session_id, choice))
                    return
                key = self.headers.get("Idempotency-Key")
                answer = fake.handle("POST", self.path, form, key)
                if fake.before_answer:
                    fake.before_answer("POST", self.path)
                self._answer(*answer)
                self.wfile.flush()
                if fake.after_answer:
                    fake.after_answer("POST", self.path)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def handle(
        self, method: str, path: str, form: dict[str, str], key: str | None
    ) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests.append((method, path))
            if self.down:
                return 500, _error("api_error", "Stripe is down (fake)")
            if key and key in self._replays:
                return self._replays[key]
            answer = self._route(method, path.split("?")[0], form)
            if key and answer[0] < 500:
                self._replays[key] = answer
            return answer

    def _route(self, method: str, path: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        parts = path.strip("/").split("/")
        if method == "POST" and parts == ["v1", "checkout", "sessions"]:
            return 200, self._create(form)
        if parts[:3] == ["v1", "checkout", "sessions"] and len(parts) >= 4:
            found = self.sessions.get(parts[3])
            if found is None:
                return 404, _error("invalid_request_error", "No such checkout.session")
            if method == "GET":
                return 200, found
            if parts[4:] == ["expire"]:
                if found["status"] != "open":
                    return 400, _error("invalid_request_error", "Only open sessions expire")
                found["status"] = "expired"
                return 200, found
        if method == "POST" and parts == ["v1", "refunds"]:
            return 200, self._refund(form["payment_intent"], int(form["amount"]))
        if method == "GET" and parts == ["v1", "refunds"]:
            intent = form.get("payment_intent")
            data = [r for r in self.refunds if r["payment_intent"] == intent]
            return 200, {"object": "list", "data": data, "has_more": False, "url": "/v1/refunds"}
        return 404, _error("invalid_request_error", f"Unrecognized request URL {path}")

    def _refund(self, payment_intent: str, amount: int) -> dict[str, Any]:
        refund = {
            "id": f"re_{next(_ids)}",
            "object": "refund",
            "amount": amount,
            "payment_intent": payment_intent,
            "status": "succeeded",
        }
        self.refunds.append(refund)
        return refund

    def refund_in_dashboard(self, payment_intent: str, amount: int) -> dict[str, Any]:
        """The practice refunds in Stripe's dashboard; the `charge.refunded` event about it."""
        with self._lock:
            self._refund(payment_intent, amount)
            total = sum(r["amount"] for r in self.refunds if r["payment_intent"] == payment_intent)
            charge = {
                "id": f"ch_{next(_ids)}",
                "object": "charge",
                "payment_intent": payment_intent,
                "amount_refunded": total,
            }
            return event("charge.refunded", charge)

    def _create(self, form: dict[str, str]) -> dict[str, Any]:
        session_id = f"cs_test_{next(_ids)}"
        amount = int(form["line_items[0][price_data][unit_amount]"])
        session = {
            "id": session_id,
            "object": "checkout.session",
            "url": f"{self.url}/pay/{session_id}",
            "status": "open",
            "payment_status": "unpaid",
            "amount_total": amount * int(form.get("line_items[0][quantity]", "1")),
            "currency": form["line_items[0][price_data][currency]"],
            "client_reference_id": form.get("client_reference_id"),
            "metadata": {"booking_id": form.get("metadata[booking_id]")},
            "payment_intent": None,
            "expires_at": int(form["expires_at"]),
            "success_url": form.get("success_url"),
            "cancel_url": form.get("cancel_url"),
        }
        self.sessions[session_id] = session
        return session

    def pay(self, session_id: str, kind: str = "checkout.session.completed") -> dict[str, Any]:
        """The payer completes Checkout; the event Stripe would send about it."""
        with self._lock:
            session = self.sessions[session_id]
            if session["status"] == "open":
                session.update(
                    status="complete", payment_status="paid", payment_intent=f"pi_{next(_ids)}"
                )
            return event(kind, dict(session))

    def hosted_page(self, session_id: str) -> tuple[int, str]:
        """Stripe's hosted Checkout page, reduced to what a payer decides: pay or go back."""
        with self._lock:
            session = self.sessions.get(session_id)
        if session is None:
            return 404, "<p>No such Checkout Session.</p>"
        amount = f"{session['amount_total'] / 100:.2f} {session['currency'].upper()}"
        sid = html.escape(session_id)
        return 200, (
            "<!doctype html><html><head><title>Fake Stripe Checkout</title>"
            '<meta name="viewport" content="width=device-width, initial-scale=1"></head><body>'
            f"<h1>Pay {html.escape(amount)}</h1>"
            f'<p data-testid="checkout-status">{html.escape(session["status"])}</p>'
            f'<form method="post" action="/pay/{sid}/pay">'
            '<button type="submit" data-testid="checkout-pay">Pay</button></form>'
            f'<form method="post" action="/pay/{sid}/cancel">'
            '<button type="submit" data-testid="checkout-cancel">Back</button></form>'
            "</body></html>"
        )

    def choose(self, session_id: str, choice: str) -> str:
        """The payer's choice on the hosted page; where Stripe sends them afterwards."""
        with self._lock:
            session = self.sessions[session_id]
        if choice != "pay":
            return str(session["cancel_url"])
        paid = self.pay(session_id)
        self.paid_on_page.append(paid)
        if self.webhook_url and self.webhook_secret:
            self.send(paid)
        return str(session["success_url"]).replace("{CHECKOUT_SESSION_ID}", session_id)

    def send(self, body: dict[str, Any]) -> httpx.Response:
        """Deliver an event to `webhook_url`, signed as Stripe signs (with Stripe's library)."""
        assert self.webhook_url and self.webhook_secret
        raw = json.dumps(body)
        header = stripe.WebhookSignature.generate_signature_header(
            raw, self.webhook_secret, timestamp=int(time.time())
        )
        headers = {"content-type": "application/json", "Stripe-Signature": header}
        return httpx.post(self.webhook_url, content=raw, headers=headers, timeout=10)


def event(event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"evt_{next(_ids)}",
        "object": "event",
        "api_version": API_VERSION,
        "created": int(time.time()),
        "type": event_type,
        "data": {"object": obj},
    }


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message}}
