/* The booking page's payments: each of the client's bookings that has a payment says what was
   paid (or refunded) with a link to its receipt, or, while still held, a link to pay.
   Kept apart from book.js: it follows the "My bookings" list through the DOM. */
(function () {
  'use strict';
  var H = window.Holdfast, $ = H.$, h = H.h, api = H.api;

  function amount(cents, currency) {
    try { return new Intl.NumberFormat(undefined, { style: 'currency', currency: currency }).format(cents / 100); }
    catch (e) { return (cents / 100).toFixed(2) + ' ' + currency; }
  }
  function label(p) {
    var paid = amount(p.amount_cents, p.currency);
    if (p.status === 'paid') return 'Paid ' + paid;
    if (p.status === 'refunded') return 'Refunded ' + paid;
    if (p.status === 'partially_refunded') return 'Paid ' + paid + ', ' + amount(p.refunded_cents, p.currency) + ' refunded';
    if (p.status === 'pending') return 'Awaiting payment of ' + paid;
    if (p.status === 'due') return paid + ' to pay at the practice';
    return 'Not paid';
  }

  function decorate() {
    var rows = $('my-bookings').querySelectorAll('[data-testid="booking-row"]');
    if (!rows.length) return;
    api('GET', '/api/payments?limit=100').then(function (r) {
      if (!r.ok) return;
      var byBooking = new Map();
      r.data.forEach(function (p) { byBooking.set(p.booking_id, p); });
      rows.forEach(function (li) {
        var p = byBooking.get(li.dataset.bookingId), old = li.querySelector('[data-testid="booking-payment"]');
        if (old) old.remove();
        if (!p || p.status === 'expired' || p.status === 'failed') return;
        var go = p.status === 'pending'
          ? (p.checkout_url ? h('a', { href: p.checkout_url, 'data-testid': 'booking-pay' }, 'Pay now') : null)
          : h('a', { href: '/payments/' + encodeURIComponent(p.id) + '/receipt', 'data-testid': 'booking-receipt' }, 'Receipt');
        (li.querySelector('.booking-main') || li).append(h('span', { class: 'payment-line', 'data-testid': 'booking-payment',
          'data-payment-status': p.status }, label(p), go ? ' · ' : null, go));
      });
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    var box = $('my-bookings');
    // book.js replaces the list's children whenever it loads it: decorate each new list.
    if (box) new MutationObserver(decorate).observe(box, { childList: true });
  });
})();
