/* Booking a session for a client, on the console's bookings page: choose the client (or arrive
   with ?client=<id> from their record), the service and practitioner, then one of the free
   times (in the practitioner's timezone, the one their hours are set in) or any five-minute
   mark, outside hours if need be (templates/admin_bookings.html). */
(function () {
  'use strict';
  var H = window.Holdfast, A = window.HoldfastAdmin, $ = H.$, h = H.h, say = H.say, byId = H.byId;
  var api = A.api;
  var state = { client: null, services: [], providers: [] };

  function offeredBy() {
    var svc = byId(state.services, $('admin-book-service').value);
    var list = svc ? state.providers.filter(function (p) { return !p.archived && svc.provider_ids.indexOf(p.id) >= 0; }) : [];
    A.options($('admin-book-provider'), list, true);
    var p = byId(state.providers, $('admin-book-provider').value);
    say('admin-book-zone', p ? 'Times in ' + p.name + '’s timezone (' + p.timezone + ')' : '');
  }
  function loadSlots() {
    var svc = $('admin-book-service').value, prov = $('admin-book-provider').value, box = $('admin-book-slots');
    var p = byId(state.providers, prov);
    if (!svc || !p) return box.replaceChildren();
    var q = new URLSearchParams({ service_id: svc, provider_id: prov, from: $('admin-book-date').value || A.today(), days: 7, tz: p.timezone });
    box.replaceChildren(h('p', { class: 'muted' }, 'Loading times…'));
    api('GET', '/api/availability?' + q).then(function (r) {
      if (!r.ok) return A.fail(box, r);
      if (!r.data.slots.length) return box.replaceChildren(h('p', { class: 'muted' }, 'No free times that week.'));
      box.replaceChildren.apply(box, r.data.slots.slice(0, 60).map(function (s) {
        return h('button', { type: 'button', class: 'slot', 'data-testid': 'admin-book-slot', 'data-start': s.start,
          onclick: function () { bookFor(s.start, false); } }, H.fmtWhen(s.start, p.timezone));
      }));
    });
  }
  function bookFor(start, outside) {
    say('admin-book-error', ''); say('admin-book-done', '');
    if (!state.client) return say('admin-book-error', 'Choose the client first.');
    if (!start) return say('admin-book-error', 'Choose the date and time.');
    var body = { user_id: state.client.id, service_id: $('admin-book-service').value, provider_id: $('admin-book-provider').value,
      start: start, outside_hours: outside };
    if ($('admin-book-pay-later').checked) body.pay_later = true;
    api('POST', '/api/admin/bookings', body, { 'Idempotency-Key': A.keyFor('booking', body) }).then(function (r) {
      if (r.status && r.status < 500) A.answered('booking', body);
      if (!r.ok) return say('admin-book-error', r.data.detail);
      var link = r.data.payment && r.data.payment.checkout_url, pay = link ? ' Send them this link to pay: ' + link : '';
      say('admin-book-done', 'Booked ' + A.when(r.data.start) + ' for ' + state.client.name + '.' + pay);
      loadSlots();
      document.dispatchEvent(new CustomEvent('holdfast:booked'));
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    $('admin-book-date').value = A.today();
    A.clientPicker('admin-book', function (u) { state.client = u; });
    ['admin-book-service', 'admin-book-provider'].forEach(function (id) {
      $(id).addEventListener('change', function () { offeredBy(); loadSlots(); });
    });
    $('admin-book-date').addEventListener('change', loadSlots);
    $('admin-book-at-submit').addEventListener('click', function () {
      var p = byId(state.providers, $('admin-book-provider').value);
      bookFor(p ? A.zonedToIso($('admin-book-at').value, p.timezone) : null, $('admin-book-outside').checked);
    });
    A.ready(function () {
      $('admin-book-date').value = A.today();
      A.loadCatalog().then(function (c) {
        state.providers = c.providers; state.services = c.services.filter(function (s) { return !s.archived; });
        A.options($('admin-book-service'), state.services, true); offeredBy(); loadSlots();
      });
    });
  });
})();
