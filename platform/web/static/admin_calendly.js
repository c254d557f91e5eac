/* The admin console's Calendly deliveries: each webhook Calendly sent, newest first, a page at
   a time, with what became of it (booked, cancelled, rejected and why)
   (templates/admin_calendly.html). */
(function () {
  'use strict';
  var H = window.Holdfast, A = window.HoldfastAdmin, $ = H.$, h = H.h;
  var STATUS = { received: 'Received', booked: 'Booked', cancelled: 'Cancelled a booking', rejected: 'Rejected', ignored: 'Ignored' };
  var EVENT = { 'invitee.created': 'New booking', 'invitee.canceled': 'Cancellation' };
  var load;

  // Who booked, as Calendly named them; the invitee's URI when it named nobody.
  function invitee(d) {
    if (d.invitee_name || d.invitee_email) {
      return (d.invitee_name || '') + (d.invitee_email ? ' <' + d.invitee_email + '>' : '');
    }
    return h('span', { class: 'mono' }, d.invitee_uri);
  }

  function row(d) {
    return h('tr', { 'data-testid': 'calendly-row', 'data-status': d.status },
      h('td', {}, A.when(d.received_at)), h('td', {}, EVENT[d.event] || d.event),
      h('td', {}, invitee(d), d.start ? h('div', { class: 'muted' }, 'For ' + A.when(d.start)) : null),
      h('td', {}, STATUS[d.status] || d.status, d.reason ? h('div', { class: 'muted' }, d.reason) : null),
      h('td', {}, d.booking_id ? h('span', { class: 'mono' }, d.booking_id) : ''));
  }
  document.addEventListener('DOMContentLoaded', function () {
    $('calendly-status').addEventListener('change', function () { load(false); });
    $('calendly-refresh').addEventListener('click', function () { load(false); });
    load = A.pagedTable({ box: $('calendly'), more: $('calendly-more'), path: '/api/admin/calendly', testid: 'calendly', row: row,
      query: function () { return new URLSearchParams($('calendly-status').value ? { status: $('calendly-status').value } : {}); },
      heads: function () { return ['Received', 'Event', 'Invitee', 'Outcome', 'Booking']; },
      empty: function () { return 'No deliveries from Calendly.'; } });
    A.ready(function () { load(false); });
  });
})();
