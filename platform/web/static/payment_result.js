/* Where Stripe's Checkout sends the payer back. It never confirms anything: only Stripe's signed
   webhook does. It says what it knows ("payment received, waiting for confirmation") and asks
   the booking again until the webhook has confirmed it (or the hold has lapsed). */
(function () {
  'use strict';
  var H = window.Holdfast, $ = H.$, h = H.h, api = H.api, money = H.money;
  var TZ = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  var query = new URLSearchParams(window.location.search);
  var bookingId = query.get('booking') || '', cameBack = query.get('cancelled') === '1';
  var started = Date.now(), GIVE_UP_MS = 10 * 60 * 1000;

  function show(state, title, text, rows, actions) {
    $('result').dataset.state = state;
    $('result-title').textContent = title;
    $('result-text').textContent = text || '';
    $('result-details').replaceChildren.apply($('result-details'), (rows || []).map(function (r) {
      return h('div', { class: 'detail' }, h('dt', {}, r[0]), h('dd', { 'data-testid': 'payment-result-' + r[0].toLowerCase() }, r[1]));
    }));
    $('result-actions').replaceChildren.apply($('result-actions'), actions || []);
  }
  function link(href, text, testid) { return h('a', { class: 'btn btn-quiet', href: href, 'data-testid': testid }, text); }
  function home() { return link('/', 'Back to my bookings', 'payment-result-home'); }

  function paymentOf(id) {
    return api('GET', '/api/payments?limit=100').then(function (r) {
      return r.ok ? r.data.find(function (p) { return p.booking_id === id; }) || null : null;
    });
  }

  function check() {
    return api('GET', '/api/bookings/' + encodeURIComponent(bookingId)).then(function (r) {
      // Paid from a link (a waitlist offer) on a device where they are not logged in.
      if (r.status === 401) {
        return show(cameBack ? 'login' : 'waiting-signed-out', cameBack ? 'Not paid yet' : 'Payment received, waiting for confirmation',
          cameBack ? 'You left the payment page without paying. Log in on the booking page to pay while the time is held.'
            : 'Thank you. As soon as the payment provider confirms it, your booking is confirmed and we email you. Log in on the booking page to follow it there.',
          [], [home()]);
      }
      if (!r.ok) return show('error', 'We could not find this booking', r.data.detail, [], [home()]);
      var b = r.data, when = [['When', H.fmtWhen(b.start, TZ)], ['Reference', b.id]];
      if (b.status === 'confirmed') {
        return paymentOf(b.id).then(function (p) {
          var rows = p ? when.concat([['Paid', money(p)]]) : when;
          var actions = [home()];
          if (p) actions.unshift(link('/payments/' + encodeURIComponent(p.id) + '/receipt', 'Receipt', 'payment-result-receipt'));
          show('confirmed', 'You’re booked', 'Your payment is confirmed and so is your booking. A confirmation email is on its way.', rows, actions);
        });
      }
      if (b.status === 'expired') {
        return show('expired', 'This time was not kept',
          'The payment did not reach us before the hold ended, so the time was let go. If you were charged all the same, it is either kept for this booking or refunded in full, and we email you either way.',
          when, [home()]);
      }
      if (b.status === 'cancelled') return show('cancelled', 'This booking was cancelled', '', when, [home()]);
      if (cameBack) {
        // Back from Checkout without paying: the time is still held until the hold ends.
        return paymentOf(b.id).then(function (p) {
          var rows = p ? when.concat([['Held until', H.fmtWhen(p.hold_until, TZ)], ['Price', money(p)]]) : when;
          var actions = [home()];
          if (p && p.status === 'pending' && p.checkout_url) actions.unshift(h('a', { class: 'btn btn-primary', href: p.checkout_url, 'data-testid': 'payment-result-pay' }, 'Pay now'));
          show('unpaid', 'Not paid yet', 'You left the payment page without paying. Your time is held for a few minutes more; after that it is let go.', rows, actions);
        });
      }
      show('waiting', 'Payment received, waiting for confirmation',
        'Thank you. We confirm your booking as soon as the payment provider tells us it is paid; this page updates by itself.', when, [home()]);
      if (Date.now() - started > GIVE_UP_MS) {
        return show('slow', 'Still waiting for confirmation', 'This is taking longer than usual. We email you as soon as it is confirmed; you can close this page.', when, [home()]);
      }
      // Ask again: quickly at first, then every few seconds.
      window.setTimeout(check, Math.min(5000, 500 + (Date.now() - started) / 10));
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    if (!bookingId) return show('error', 'No booking named', 'This link names no booking.', [], [home()]);
    check();
  });
})();
