/* The admin console's clients: search by name or email, and one client's record at
   /admin/clients?id=<id> — details, upcoming bookings (reschedule, cancel), past ones,
   payments, waitlist entries and series, with links to book for them or set up a series
   (templates/admin_clients.html). */
(function () {
  'use strict';
  var H = window.Holdfast, A = window.HoldfastAdmin, $ = H.$, h = H.h, table = H.table;
  var api = A.api, when = A.when;
  var state = { client: null, services: [], providers: [] };

  function search(e) {
    if (e) e.preventDefault();
    var q = $('client-q').value.trim(), box = $('client-results');
    api('GET', '/api/admin/users?limit=50' + (q ? '&q=' + encodeURIComponent(q) : '')).then(function (r) {
      if (!r.ok) return A.fail(box, r);
      if (!r.data.length) return A.empty(box, 'client-results-empty', 'No client matches.');
      box.replaceChildren(table('clients-table', ['Name', 'Email', 'Timezone', ''], r.data.map(function (u) {
        return h('tr', { 'data-testid': 'client-row', 'data-user-id': u.id }, h('td', {}, u.name), h('td', {}, u.email), h('td', {}, u.timezone),
          h('td', {}, h('a', { class: 'btn btn-quiet btn-small', href: '/admin/clients?id=' + encodeURIComponent(u.id), 'data-testid': 'client-open',
            onclick: function (ev) { ev.preventDefault(); history.pushState(null, '', this.href); openClient(u.id); } }, 'Open')));
      })));
    });
  }

  function openClient(id) {
    var box = $('client-record');
    box.hidden = false; box.replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
    return api('GET', '/api/admin/users/' + encodeURIComponent(id)).then(function (r) {
      if (!r.ok) return A.fail(box, r);
      var rec = r.data, u = rec.user, q = '?client=' + encodeURIComponent(u.id);
      state.client = u;
      box.replaceChildren(
        h('h2', { 'data-testid': 'record-name' }, u.name),
        h('p', { class: 'muted', 'data-testid': 'record-details' }, u.email + (u.phone ? ' · ' + u.phone : '') + ' · lives in ' + u.timezone),
        h('div', { class: 'actions' },
          h('a', { class: 'btn btn-primary', href: '/admin/bookings' + q + '#admin-book-section', 'data-testid': 'record-book' }, 'Book a session'),
          h('a', { class: 'btn btn-quiet', href: '/admin/series' + q + '#series-form', 'data-testid': 'record-new-series' }, 'Set up a series'),
          h('a', { class: 'btn btn-quiet', href: '/admin/bookings?user_id=' + encodeURIComponent(u.id), 'data-testid': 'record-all-bookings' }, 'All their bookings')),
        h('h3', {}, 'Upcoming'), bookingsTable('record-upcoming', rec.upcoming, true),
        h('h3', {}, 'Past'), bookingsTable('record-past', rec.past, false),
        h('h3', {}, 'Payments'), paymentsTable(rec.payments),
        h('h3', {}, 'Waitlist'), waitlistTable(rec.waitlist), offersTable(rec.offers),
        h('h3', {}, 'Series'), seriesTable(rec.series));
    });
  }
  function bookingsTable(testid, list, live) {
    if (!list.length) return h('p', { class: 'muted', 'data-testid': testid + '-empty' }, 'None.');
    return table(testid, ['When', 'Service', 'Practitioner', 'Status', 'Payment', ''], list.map(function (b) {
      var p = H.byId(state.providers, b.provider_id), zone = p ? p.timezone : 'UTC', cell = h('td', { class: 'row-actions' });
      if (live && b.status !== 'cancelled' && b.status !== 'expired') cell.append(reschedulePicker(b, zone), cancelButton(b));
      return h('tr', { 'data-testid': 'record-booking', 'data-booking-id': b.id, 'data-status': b.status },
        h('td', { 'data-testid': 'record-booking-time' }, A.when(b.start)), h('td', {}, b.service ? b.service.name : b.service_id, A.join(b) ? [' · ', A.join(b)] : null),
        h('td', {}, b.provider ? b.provider.name : b.provider_id), h('td', {}, A.status(b.status)), h('td', {}, A.payment(b.payment)), cell);
    }));
  }
  /* A new start is given in the practitioner's timezone, the one their hours are set in. */
  function reschedulePicker(b, zone) {
    var at = h('input', { type: 'datetime-local', step: 300, 'aria-label': 'New start (' + zone + ')', 'data-testid': 'record-reschedule-at' });
    var outside = h('input', { type: 'checkbox', 'data-testid': 'record-reschedule-outside' }), err = h('span', { class: 'error', role: 'alert' });
    var go = h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'data-testid': 'record-reschedule', onclick: function () {
      var start = A.zonedToIso(at.value, zone);
      if (!start) { err.textContent = 'Choose the new date and time.'; return; }
      go.disabled = true;
      api('POST', '/api/bookings/' + encodeURIComponent(b.id) + '/reschedule', { start: start, outside_hours: outside.checked }).then(function (r) {
        go.disabled = false;
        if (!r.ok) { err.textContent = r.data.detail; return; }
        openClient(state.client.id);
      });
    } }, 'Reschedule');
    return h('span', { class: 'inline-form' }, at, h('label', { class: 'check' }, outside, ' outside hours'), go, err);
  }
  function cancelButton(b) {
    var btn = h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'data-testid': 'record-cancel', onclick: function () {
      if (!window.confirm('Cancel this booking?')) return;
      btn.disabled = true;
      api('POST', '/api/bookings/' + encodeURIComponent(b.id) + '/cancel', { reason: 'Cancelled by the practice.' }).then(function () {
        openClient(state.client.id);
      });
    } }, 'Cancel');
    return btn;
  }
  function paymentsTable(list) {
    if (!list.length) return h('p', { class: 'muted', 'data-testid': 'record-payments-empty' }, 'None.');
    return table('record-payments', ['Created', 'Payment', ''], list.map(function (p) {
      return h('tr', { 'data-testid': 'record-payment', 'data-status': p.status }, h('td', {}, when(p.created_at)),
        h('td', {}, A.payment(p)), h('td', {}, h('a', { href: '/payments/' + encodeURIComponent(p.id) + '/receipt' }, 'Receipt')));
    }));
  }
  function waitlistTable(list) {
    if (!list.length) return h('p', { class: 'muted', 'data-testid': 'record-waitlist-empty' }, 'Not waiting for anything.');
    return table('record-waitlist', ['Service', 'Practitioner', 'Joined'], list.map(function (e) {
      return h('tr', { 'data-testid': 'record-waitlist-entry' }, h('td', {}, e.service_name || e.service_id),
        h('td', {}, e.provider_id ? (e.provider_name || e.provider_id) : 'any'), h('td', {}, when(e.joined_at)));
    }));
  }
  function offersTable(list) {
    if (!list.length) return null;
    return table('record-offers', ['Offered', 'Session', 'State'], list.map(function (o) {
      return h('tr', { 'data-testid': 'record-offer', 'data-state': o.state }, h('td', {}, when(o.created_at)),
        h('td', {}, when(o.start) + ' · ' + (o.service_name || '') + ' with ' + (o.provider_name || '')), h('td', {}, o.state));
    }));
  }
  function seriesTable(list) {
    if (!list.length) return h('p', { class: 'muted', 'data-testid': 'record-series-empty' }, 'None.');
    return table('record-series', ['Rule', 'From', 'State', 'Conflicts', ''], list.map(function (s) {
      return h('tr', { 'data-testid': 'record-series-row', 'data-series-id': s.id }, h('td', {}, s.rrule), h('td', {}, s.start_local + ' (' + s.timezone + ')'),
        h('td', {}, s.state), h('td', {}, String(s.conflicts.length)),
        h('td', {}, h('a', { class: 'btn btn-quiet btn-small', href: '/admin/series?id=' + encodeURIComponent(s.id), 'data-testid': 'series-open' }, 'Open')));
    }));
  }

  document.addEventListener('DOMContentLoaded', function () {
    $('client-search').addEventListener('submit', search);
    window.addEventListener('popstate', function () { if (A.param('id')) openClient(A.param('id')); else $('client-record').hidden = true; });
    A.ready(function () {
      A.loadCatalog().then(function (c) {
        state.services = c.services; state.providers = c.providers;
        if (A.param('id')) openClient(A.param('id')); else search();
      });
    });
  });
})();
