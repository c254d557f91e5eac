/* The admin console's payments section: revenue per day, week or month (paid minus refunded),
   every payment with its client (a page at a time), refunds in full or in part, and "Mark
   paid" for a payment due at the practice. Loaded once an admin is signed in. */
(function () {
  'use strict';
  var H = window.Holdfast, $ = H.$, h = H.h, api = H.api;
  var STATUS = { pending: 'Awaiting payment', due: 'Due (pay later)', paid: 'Paid', refunded: 'Refunded', partially_refunded: 'Partly refunded',
    failed: 'Failed', expired: 'Not paid' };
  var cursor = null;

  function amount(cents, currency) {
    try { return new Intl.NumberFormat(undefined, { style: 'currency', currency: currency }).format(cents / 100); }
    catch (e) { return (cents / 100).toFixed(2) + ' ' + currency; }
  }
  var when = window.HoldfastAdmin.when;
  function day(iso) { return iso ? iso.slice(0, 10) : ''; }

  function loadRevenue() {
    var q = new URLSearchParams({ period: $('revenue-period').value });
    if ($('revenue-from').value) q.set('from', $('revenue-from').value);
    if ($('revenue-to').value) q.set('to', $('revenue-to').value);
    api('GET', '/api/admin/payments/revenue?' + q).then(function (r) {
      var box = $('revenue');
      if (!r.ok) return box.replaceChildren(h('p', { class: 'error', role: 'alert' }, r.data.detail));
      if (!r.data.length) return box.replaceChildren(h('p', { class: 'muted', 'data-testid': 'revenue-empty' }, 'No payments or refunds in this window.'));
      box.replaceChildren(H.table('revenue-table', ['From', 'Payments', 'Paid', 'Refunded', 'Net'], r.data.map(function (x) {
        return h('tr', { 'data-testid': 'revenue-row', 'data-start': day(x.start) }, h('td', {}, day(x.start)), h('td', {}, String(x.payments)),
          h('td', {}, amount(x.paid_cents, x.currency)), h('td', {}, amount(x.refunded_cents, x.currency)),
          h('td', { 'data-testid': 'revenue-net' }, amount(x.net_cents, x.currency)));
      })));
    });
  }

  function refundControls(p) {
    var left = p.amount_cents - p.refunded_cents;
    // Money taken at the practice is given back there, never through Stripe.
    if ((p.status !== 'paid' && p.status !== 'partially_refunded') || left <= 0 || p.method) return null;
    var input = h('input', { type: 'number', min: '0.01', step: '0.01', max: (left / 100).toFixed(2), value: (left / 100).toFixed(2),
      'aria-label': 'Amount to refund', class: 'amount', 'data-testid': 'refund-amount' });
    var btn = h('button', { type: 'button', class: 'btn btn-quiet', 'data-testid': 'refund-button', onclick: function () {
      var cents = Math.round(parseFloat(input.value) * 100);
      if (!(cents > 0)) return H.say('payments-message', 'Enter an amount to refund.');
      btn.disabled = true;
      api('POST', '/api/admin/payments/' + encodeURIComponent(p.id) + '/refund', cents >= left ? {} : { amount_cents: cents }).then(function (r) {
        btn.disabled = false;
        H.say('payments-message', r.ok ? 'Refund of ' + amount(cents >= left ? left : cents, p.currency) + ' requested; it shows here once Stripe has made it.' : r.data.detail);
      });
    } }, 'Refund');
    return h('span', { class: 'row-actions' }, input, btn);
  }

  /* A payment due at the practice (booked "pay later") is marked paid once the client paid there:
     how they paid goes into the payment's history, and revenue counts it from then. */
  var METHODS = [['cash', 'Cash'], ['card_terminal', 'Card terminal'], ['bank_transfer', 'Bank transfer'], ['other', 'Other']];
  function methodName(m) { var x = METHODS.find(function (y) { return y[0] === m; }); return x ? x[1].toLowerCase() : m; }
  function markPaidControls(p) {
    if (p.status !== 'due') return null;
    var method = h('select', { 'aria-label': 'How it was paid', 'data-testid': 'paid-method' },
      METHODS.map(function (m) { return h('option', { value: m[0] }, m[1]); }));
    var btn = h('button', { type: 'button', class: 'btn btn-quiet', 'data-testid': 'mark-paid', onclick: function () {
      btn.disabled = true;
      api('POST', '/api/admin/payments/' + encodeURIComponent(p.id) + '/paid', { method: method.value }).then(function (r) {
        btn.disabled = false;
        H.say('payments-message', r.ok ? 'Marked ' + amount(p.amount_cents, p.currency) + ' from ' + (p.client ? p.client.name : 'the client') + ' as paid.' : r.data.detail);
        if (r.ok) loadPayments(false);
      });
    } }, 'Mark paid');
    return h('span', { class: 'row-actions' }, method, btn);
  }

  function row(p) {
    return h('tr', { 'data-testid': 'payment-row', 'data-payment-id': p.id, 'data-status': p.status },
      h('td', {}, when(p.created_at)),
      h('td', { 'data-testid': 'payment-client' }, p.client ? p.client.name + ' <' + p.client.email + '>' : ''),
      h('td', {}, amount(p.amount_cents, p.currency)),
      h('td', {}, h('span', { 'data-testid': 'payment-status' }, STATUS[p.status] || p.status),
        p.method ? h('div', { class: 'muted', 'data-testid': 'payment-method' }, 'At the practice: ' + methodName(p.method)) : null),
      h('td', {}, p.refunded_cents ? amount(p.refunded_cents, p.currency) : ''),
      h('td', {}, h('a', { href: '/payments/' + encodeURIComponent(p.id) + '/receipt', 'data-testid': 'payment-receipt' }, 'Receipt'), ' ', refundControls(p), markPaidControls(p)));
  }

  function loadPayments(more) {
    var q = new URLSearchParams({ limit: '50' });
    if ($('payments-status').value) q.set('status', $('payments-status').value);
    if (more && cursor) q.set('cursor', cursor);
    api('GET', '/api/admin/payments?' + q).then(function (r) {
      var box = $('payments-list');
      if (!r.ok) return box.replaceChildren(h('p', { class: 'error', role: 'alert' }, r.data.detail));
      cursor = r.next; $('payments-more').hidden = !cursor;
      var body = more ? box.querySelector('tbody') : null;
      if (body) { r.data.forEach(function (p) { body.append(row(p)); }); return; }
      if (!r.data.length) return box.replaceChildren(h('p', { class: 'muted', 'data-testid': 'payments-empty' }, $('payments-status').value ? 'None.' : 'No payments yet.'));
      box.replaceChildren(H.table('payments-table', ['Created', 'Client', 'Amount', 'Status', 'Refunded', ''], r.data.map(row)));
    });
  }

  function load() { H.say('payments-message', ''); loadRevenue(); loadPayments(false); }

  document.addEventListener('DOMContentLoaded', function () {
    $('payments-refresh').addEventListener('click', load);
    ['revenue-period', 'revenue-from', 'revenue-to'].forEach(function (id) { $(id).addEventListener('change', loadRevenue); });
    $('payments-more').addEventListener('click', function () { loadPayments(true); });
    $('payments-status').addEventListener('change', function () { loadPayments(false); });
    window.HoldfastAdmin.ready(load);
  });
})();
