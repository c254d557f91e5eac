/* The admin console's calendar: a practitioner's (or everyone's) slot-holding sessions over a
   day or a week, from the admin bookings list (so each shows its client by name and email),
   laid out by day in the admin's zone (templates/admin_calendar.html). */
(function () {
  'use strict';
  var H = window.Holdfast, A = window.HoldfastAdmin, $ = H.$, h = H.h;
  var asked = 0;  // the latest request: an older answer arriving late is dropped

  function show(e) {
    if (e) e.preventDefault();
    var days = Number($('calendar-view').value), first = $('calendar-date').value || A.today(), zone = A.zone();
    var last = A.addDays(first, days - 1), box = $('calendar');
    var q = new URLSearchParams({ from: first, to: last, tz: zone });
    q.append('status', 'confirmed'); q.append('status', 'pending_payment');
    if ($('calendar-provider').value) q.set('provider_id', $('calendar-provider').value);
    box.replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
    var mine = ++asked;
    A.all('/api/admin/bookings', q).then(function (r) {
      if (mine !== asked) return;
      if (!r.ok) return A.fail(box, r);
      var byDay = {};
      r.data.forEach(function (b) { var d = H.localYmd(b.start, zone); (byDay[d] = byDay[d] || []).push(b); });
      var cols = [];
      for (var i = 0; i < days; i++) cols.push(A.addDays(first, i));
      box.classList.toggle('calendar-week', days > 1);
      box.replaceChildren.apply(box, cols.map(function (d) {
        var items = byDay[d] || [], label = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short', timeZone: 'UTC' })
          .format(new Date(d + 'T12:00:00Z'));
        return h('section', { class: 'calendar-day', 'data-testid': 'calendar-day', 'data-date': d, 'aria-label': label },
          h('h2', {}, label),
          items.length ? h('ul', { class: 'plain-list' }, items.map(function (b) {
            return h('li', { class: 'calendar-item', 'data-testid': 'calendar-booking', 'data-status': b.status },
              h('strong', {}, A.clock(b.start, zone) + '–' + A.clock(b.end, zone)), ' ',
              h('a', { href: '/admin/clients?id=' + encodeURIComponent(b.client ? b.client.id : b.user_id) }, b.client ? A.person(b.client) : b.user_id),
              h('div', { class: 'muted' }, (b.service ? b.service.name : '') + ($('calendar-provider').value ? '' : ' · ' + (b.provider ? b.provider.name : '')),
                b.status === 'pending_payment' ? ' · awaiting payment' : ''));
          })) : h('p', { class: 'muted', 'data-testid': 'calendar-empty' }, 'Nothing booked.'));
      }));
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    $('calendar-form').addEventListener('submit', show);
    ['calendar-provider', 'calendar-view'].forEach(function (id) { $(id).addEventListener('change', show); });
    function move(sign) { $('calendar-date').value = A.addDays($('calendar-date').value || A.today(), sign * Number($('calendar-view').value)); show(); }
    $('calendar-prev').addEventListener('click', function () { move(-1); });
    $('calendar-next').addEventListener('click', function () { move(1); });
    A.ready(function () {
      $('calendar-date').value = A.today();
      A.loadCatalog().then(function (c) {
        A.options($('calendar-provider'), c.providers.filter(function (p) { return !p.archived; }), true, 'Everyone');
        show();
      });
    });
  });
})();
