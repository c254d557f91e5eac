/* A payment's printable receipt: /payments/{id}/receipt reads /api/payments/{id}/receipt. */
(function () {
  'use strict';
  var H = window.Holdfast, $ = H.$, h = H.h, api = H.api;
  var TZ = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  var STATUS = { pending: 'Not paid yet', due: 'To be paid at the practice', paid: 'Paid', refunded: 'Refunded', partially_refunded: 'Partly refunded',
    failed: 'Failed', expired: 'Not paid (hold ended)' };
  // How a payment taken at the practice was made (an admin marked it paid); otherwise online.
  var METHOD = { cash: 'Cash, at the practice', card_terminal: 'Card, at the practice', bank_transfer: 'Bank transfer',
    other: 'At the practice' };

  // Zero is an amount here (nothing kept after a full refund), not "Free" as on a price.
  function amount(cents, currency) {
    try { return new Intl.NumberFormat(undefined, { style: 'currency', currency: currency }).format(cents / 100); }
    catch (e) { return (cents / 100).toFixed(2) + ' ' + currency; }
  }
  function row(label, value, testid) {
    return h('div', { class: 'detail' }, h('dt', {}, label), h('dd', { 'data-testid': 'receipt-' + testid }, value));
  }

  function render(r) {
    var rows = [
      row('Receipt', r.id, 'id'),
      r.client ? row('Client', r.client.name + ' <' + r.client.email + '>', 'client') : null,
      row('For', r.service + (r.provider ? ' with ' + r.provider : ''), 'what'),
      r.start ? row('Session', H.fmtWhen(r.start, TZ), 'session') : null,
      row('Paid on', r.paid_at ? H.fmtWhen(r.paid_at, TZ) : 'Not paid', 'paid-at'),
      r.paid_at ? row('Paid by', METHOD[r.method] || 'Card, online', 'paid-by') : null,
      row('Amount', amount(r.amount_cents, r.currency), 'amount'),
      row('Status', STATUS[r.status] || r.status, 'status')
    ];
    var refunds = r.refunds.length ? H.table('receipt-refunds', ['Refunded on', 'Amount'], r.refunds.map(function (x) {
      return h('tr', { 'data-testid': 'receipt-refund' }, h('td', {}, H.fmtWhen(x.at, TZ)), h('td', {}, amount(x.amount_cents, r.currency)));
    })) : h('p', { class: 'muted', 'data-testid': 'receipt-no-refunds' }, 'No refunds.');
    $('receipt').replaceChildren(h('h1', {}, 'Receipt'), h('dl', { class: 'details' }, rows), h('h2', {}, 'Refunds'), refunds,
      h('p', { class: 'total' }, 'Total paid: ', h('span', { 'data-testid': 'receipt-net' }, amount(r.net_cents, r.currency))));
    $('receipt').setAttribute('aria-busy', 'false');
  }

  document.addEventListener('DOMContentLoaded', function () {
    var id = window.location.pathname.split('/')[2] || '';
    $('receipt-print').addEventListener('click', function () { window.print(); });
    api('GET', '/api/payments/' + encodeURIComponent(id) + '/receipt').then(function (r) {
      if (r.ok) return render(r.data);
      $('receipt').setAttribute('aria-busy', 'false');
      $('receipt').replaceChildren(h('h1', {}, 'Receipt'), h('p', { class: 'error', role: 'alert', 'data-testid': 'receipt-error' },
        r.status === 401 ? 'Please log in on the booking page to see your receipts.' : r.data.detail));
    });
  });
})();
