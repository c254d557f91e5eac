/* The admin console's Today: GET /api/admin/today for a date in the admin's zone, each
   practitioner's sessions with time, client, service, join link and payment state; the date
   is in the URL (?date=), so a day can be bookmarked (templates/admin_today.html). */
(function () {
  'use strict';
  var H = window.Holdfast, A = window.HoldfastAdmin, $ = H.$, h = H.h, table = H.table;
  var asked = 0;  // the latest request: an older answer arriving late is dropped

  function show(date, remember) {
    $('day-date').value = date;
    if (remember) history.replaceState(null, '', '/admin/today?date=' + date);
    var box = $('day'), mine = ++asked;
    return A.api('GET', '/api/admin/today?' + new URLSearchParams({ date: date, tz: A.zone() })).then(function (r) {
      if (mine !== asked) return;
      if (!r.ok) return A.fail(box, r);
      var day = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' })
        .format(new Date(r.data.date + 'T12:00:00Z'));
      H.say('day-heading', day + ' (' + r.data.timezone + ')');
      var busy = r.data.providers.filter(function (p) { return p.sessions.length; });
      if (!busy.length) return A.empty(box, 'day-empty', 'No sessions this day.');
      box.replaceChildren.apply(box, busy.map(function (p) {
        return h('section', { class: 'step', 'data-testid': 'day-provider', 'data-provider-id': p.id, 'aria-label': p.name },
          h('h3', {}, p.name, ' ', h('span', { class: 'muted' }, p.sessions.length === 1 ? '1 session' : p.sessions.length + ' sessions')),
          h('div', { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': p.name + '’s sessions' }, table('day-sessions', ['Time', 'Client', 'Service', 'Where', 'Payment', 'Status'], p.sessions.map(function (b) {
            var where = b.service && b.service.location === 'video' ? (A.join(b) || 'Video: link not ready yet')
              : b.service && b.service.location === 'phone' ? 'Phone' : 'In person';
            return h('tr', { 'data-testid': 'day-session', 'data-booking-id': b.id, 'data-status': b.status },
              h('td', { 'data-testid': 'day-session-time' }, A.clock(b.start, r.data.timezone) + '–' + A.clock(b.end, r.data.timezone)),
              h('td', { 'data-testid': 'day-session-client' }, b.client ? h('a', { href: '/admin/clients?id=' + encodeURIComponent(b.client.id) }, A.person(b.client)) : ''),
              h('td', {}, b.service ? b.service.name : '', b.series_id ? [' · ', h('a', { href: '/admin/series?id=' + encodeURIComponent(b.series_id), 'data-testid': 'day-session-series' }, 'series')] : null),
              h('td', {}, where),
              h('td', { 'data-testid': 'day-session-payment' }, A.payment(b.payment) || '—'),
              h('td', {}, A.status(b.status)));
          }))));
      }));
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    function move(n) { show(A.addDays($('day-date').value || A.today(), n), true); }
    $('day-prev').addEventListener('click', function () { move(-1); });
    $('day-next').addEventListener('click', function () { move(1); });
    $('day-today').addEventListener('click', function () { show(A.today(), true); });
    $('day-date').addEventListener('change', function () { if ($('day-date').value) show($('day-date').value, true); });
    $('day-form').addEventListener('submit', function (e) { e.preventDefault(); });
    A.ready(function () { show(A.param('date') || A.today(), false); });
  });
})();
