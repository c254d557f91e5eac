/* The admin console's Calendly deliveries: each webhook Calendly sent, newest first, a page at
   a time, with what became of it (booked, cancelled, rejected and why)
   (templates/admin_calendly.html). */
(function () {
  'use strict';
  var H = window.Holdfast, A = window.HoldfastAdmin, $ = H.$, h = H.h;
  var STATUS = { received: 'Received', booked: 'Booked', cancelled: 'Cancelled a booking', rejected: 'Rejected', ignored: 'Ignored' };
  var EVENT = { 'invitee.created': 'New booking', 'invitee.canceled': 'Cancellation' };
  var cursor = null;

  function row(d) {
    return h('tr', { 'data-testid': 'calendly-row', 'data-status': d.status },
      h('td', {}, A.when(d.received_at)), h('td', {}, EVENT[d.event] || d.event),
      h('td', {}, d.invitee ? A.person(d.invitee) : h('span', { class: 'mono' }, d.invitee_uri)),
      h('td', {}, STATUS[d.status] || d.status, d.reason ? h('div', { class: 'muted' }, d.reason) : null),
      h('td', {}, d.booking_id ? h('span', { class: 'mono' }, d.booking_id) : ''));
  }
  function load(more) {
    var q = new URLSearchParams({ limit: '50' }), box = $('calendly');
    if ($('calendly-status').value) q.set('status', $('calendly-status').value);
    if (more && cursor) q.set('cursor', cursor);
    A.api('GET', '/api/admin/calendly?' + q).then(function (r) {
      if (!r.ok) return A.fail(box, r);
      cursor = r.next; $('calendly-more').hidden = !cursor;
      var body = more ? box.querySelector('tbody') : null;
      if (body) { r.data.forEach(function (d) { body.append(row(d)); }); return; }
      if (!r.data.length) return A.empty(box, 'calendly-empty', 'No deliveries from Calendly.');
      box.replaceChildren(H.table('calendly-table', ['Received', 'Event', 'Invitee', 'Outcome', 'Booking'], r.data.map(row)));
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    $('calendly-status').addEventListener('change', function () { load(false); });
    $('calendly-refresh').addEventListener('click', function () { load(false); });
    $('calendly-more').addEventListener('click', function () { load(true); });
    A.ready(function () { load(false); });
  });
})();
