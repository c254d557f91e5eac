// The offer page: claim or decline with the link's own token (no login needed).
"use strict";

(function () {
  const panel = document.getElementById("offer");
  if (!panel) return;
  const token = panel.dataset.token;
  const message = document.getElementById("offer-message");
  const claim = document.getElementById("offer-claim");
  const decline = document.getElementById("offer-decline");
  if (!claim || !decline) return;

  function say(text) {
    message.textContent = text;
  }

  async function act(action) {
    claim.disabled = true;
    decline.disabled = true;
    let response;
    try {
      response = await fetch(`/offers/${encodeURIComponent(token)}/${action}`, {
        method: "POST",
        headers: { Accept: "application/json" },
        credentials: "omit",
      });
    } catch (error) {
      say("We could not reach Holdfast. Please check your connection and try again.");
      claim.disabled = false;
      decline.disabled = false;
      return;
    }
    const body = await response.json().catch(() => ({}));
    claim.hidden = true;
    decline.hidden = true;
    if (!response.ok) {
      panel.dataset.state = body.state || "gone";
      say(body.detail || "This offer is no longer open.");
    } else if (action === "claim" && body.payment && body.payment.checkout_url) {
      // A prepaid service: the time is held while the person pays; Stripe's webhook confirms.
      panel.dataset.state = "paying";
      say("The time is held for you while you pay. Taking you to the payment page…");
      window.location.assign(body.payment.checkout_url);
    } else if (action === "claim") {
      panel.dataset.state = "accepted";
      say("It's yours: the time is booked, and a confirmation is on its way.");
    } else {
      panel.dataset.state = "declined";
      say("Thanks for letting us know. The time goes to the next person; you stay on the waitlist.");
    }
  }

  claim.addEventListener("click", () => act("claim"));
  decline.addEventListener("click", () => act("decline"));
  if (new URLSearchParams(window.location.search).get("action") === "decline") {
    decline.focus();
  }
})();
