/* The admin console's bookings: the filters live in the page's URL (a plain GET form), so a
   filtered list can be bookmarked and the CSV link carries the same filters; a page at a time
   (Next follows the API's cursor, Previous goes back along the cursors already seen); each
   booking with its client by name and email, its payment, its history, and Cancel
   (templates/admin_bookings.html). */
(function () {
  'use strict';
  var H = window.Holdfast, A = window.HoldfastAdmin, $ = H.$, h = H.h, table = H.table;
  var api = A.api, when = A.when;
  var FILTERS = ['provider_id', 'service_id', 'status', 'source', 'from', 'to', 'user_id'];
  var PAGE = 50;
  var cursors = [], shown = null;  // the cursors of the pages before this one ('' for the first), and this one's

  /* The filters as the page's URL has them, plus the admin's zone for dates. */
  function filters() {
    var url = new URLSearchParams(window.location.search), q = new URLSearchParams();
    FILTERS.forEach(function (k) { url.getAll(k).forEach(function (v) { if (v) q.append(k, v); }); });
    q.set('tz', A.zone());
    return q;
  }
  function showFilters(c) {
    var url = new URLSearchParams(window.location.search);
    A.options($('filter-provider'), c.providers, false, 'All'); A.options($('filter-service'), c.services, false, 'All');
    $('filter-provider').value = url.get('provider_id') || ''; $('filter-service').value = url.get('service_id') || '';
    $('filter-from').value = url.get('from') || ''; $('filter-to').value = url.get('to') || ''; $('filter-user').value = url.get('user_id') || '';
    document.querySelectorAll('#bookings-filters input[type=checkbox]').forEach(function (box) {
      box.checked = url.getAll(box.name).indexOf(box.value) >= 0;
    });
    var who = url.get('user_id');
    if (who) {
      api('GET', '/api/admin/users/' + encodeURIComponent(who)).then(function (r) {
        if (r.ok) H.say('filter-client', 'Only ' + A.person(r.data.user) + '’s bookings.');
      });
    }
    $('bookings-csv').href = '/api/admin/bookings.csv?' + filters();
  }

  function load(cursor) {
    var q = filters(), box = $('bookings');
    q.set('limit', String(PAGE));
    if (cursor) q.set('cursor', cursor);
    shown = cursor;
    return api('GET', '/api/admin/bookings?' + q).then(function (r) {
      if (!r.ok) return A.fail(box, r);
      $('bookings-next').hidden = !r.next; $('bookings-prev').hidden = !cursors.length;
      $('bookings-next').onclick = function () { cursors.push(cursor || ''); load(r.next).then(top); };
      var from = cursors.length * PAGE;
      H.say('bookings-count', r.data.length ? 'Bookings ' + (from + 1) + '–' + (from + r.data.length) + ', soonest first.' : '');
      if (!r.data.length) return A.empty(box, 'bookings-empty', cursors.length ? 'No more bookings.' : 'No bookings match.');
      var rows = [];
      r.data.forEach(function (b) { rows.push.apply(rows, bookingRows(b)); });
      box.replaceChildren(table('bookings-table', ['When', 'Client', 'Service', 'Practitioner', 'Status', 'Payment', 'Source', ''], rows));
    });
  }
  function top() { $('bookings-count').scrollIntoView({ block: 'nearest' }); }
  function bookingRows(b) {
    var detail = h('tr', { class: 'history-row', hidden: true }), cell = h('td', { colspan: 8 });
    detail.append(cell);
    var histBtn = h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'data-testid': 'history-button', 'aria-expanded': 'false',
      onclick: function () { toggleHistory(b, histBtn, detail, cell); } }, 'History');
    var actions = h('td', { class: 'row-actions' }, histBtn);
    if (b.status !== 'cancelled' && b.status !== 'expired') {
      actions.prepend(h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'data-testid': 'cancel-button',
        onclick: function () { histBtn.setAttribute('aria-expanded', 'false'); askCancel(b, detail, cell); } }, 'Cancel'));
    }
    var service = b.service ? b.service.name : b.service_id, join = A.join(b);
    var row = h('tr', { 'data-testid': 'booking-row', 'data-booking-id': b.id, 'data-status': b.status },
      h('td', { 'data-testid': 'booking-time' }, when(b.start)),
      h('td', { 'data-testid': 'booking-client' }, b.client ? h('a', { href: '/admin/clients?id=' + encodeURIComponent(b.client.id) }, A.person(b.client)) : b.user_id),
      h('td', {}, service, join ? [' · ', join] : null,
        b.series_id ? [' · ', h('a', { href: '/admin/series?id=' + encodeURIComponent(b.series_id) }, 'series')] : null),
      h('td', {}, b.provider ? b.provider.name : b.provider_id),
      h('td', {}, A.status(b.status)), h('td', { 'data-testid': 'booking-payment' }, A.payment(b.payment)),
      h('td', { 'data-testid': 'booking-source' }, b.source), actions);
    return [row, detail];
  }
  function toggleHistory(b, btn, detail, cell) {
    var open = btn.getAttribute('aria-expanded') !== 'true';
    btn.setAttribute('aria-expanded', String(open));
    detail.hidden = !open;
    if (!open) return;
    cell.replaceChildren(h('p', { class: 'muted' }, 'Loading history…'));
    api('GET', '/api/bookings/' + encodeURIComponent(b.id) + '/history').then(function (r) {
      if (!r.ok) return A.fail(cell, r);
      cell.replaceChildren(h('ol', { class: 'history', 'data-testid': 'history' }, r.data.map(function (e) {
        return h('li', { 'data-testid': 'history-entry' }, h('strong', {}, e.action), ' · ',
          (e.from_status ? (A.STATUS[e.from_status] || e.from_status) + ' → ' : '') + (A.STATUS[e.to_status] || e.to_status),
          ' · ' + when(e.at) + ' · by ' + e.actor + (e.reason ? ' · “' + e.reason + '”' : ''));
      })));
    });
  }
  function askCancel(b, detail, cell) {
    var id = A.nextId('reason'), reason = h('input', { id: id, type: 'text', maxlength: 1000, 'data-testid': 'cancel-reason' });
    var err = h('p', { class: 'error', role: 'alert' });
    var yes = h('button', { type: 'button', class: 'btn btn-danger btn-small', 'data-testid': 'cancel-confirm', onclick: function () {
      A.busy(yes, true);
      api('POST', '/api/bookings/' + encodeURIComponent(b.id) + '/cancel', { reason: reason.value.trim() || null }).then(function (r) {
        A.busy(yes, false);
        if (!r.ok) { err.textContent = r.data.detail; return; }
        load(shown);
      });
    } }, 'Yes, cancel booking');
    cell.replaceChildren(h('div', { class: 'confirm-box', role: 'group', 'aria-label': 'Confirm cancellation' },
      h('p', {}, 'Cancel ' + (b.client ? b.client.name + '’s' : 'this') + ' booking on ' + when(b.start) + '?'),
      h('div', { class: 'field' }, h('label', { for: id }, 'Reason (optional)'), reason), err,
      h('div', { class: 'actions' }, yes, h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'data-testid': 'cancel-keep',
        onclick: function () { detail.hidden = true; } }, 'Keep booking'))));
    detail.hidden = false; reason.focus();
  }

  document.addEventListener('DOMContentLoaded', function () {
    document.addEventListener('holdfast:booked', function () { load(shown); });
    $('bookings-prev').addEventListener('click', function () {
      var back = cursors.pop();
      load(back || null).then(top);
    });
    A.ready(function () {
      cursors = [];
      A.loadCatalog().then(function (c) { showFilters(c); return load(null); });
    });
  });
})();
