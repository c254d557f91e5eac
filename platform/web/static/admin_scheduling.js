/* Holdfast admin: clients and their records, booking for a client, recurring series, editing and
   archiving the catalog, a practitioner's calendar (templates/admin_scheduling.html). */
(function () {
  'use strict';
  var H = window.Holdfast, $ = H.$, h = H.h, api = H.api, say = H.say, byId = H.byId, nameOf = H.nameOf;
  var todayYmd = H.todayYmd, fmtWhen = H.fmtWhen, table = H.table;
  var STATUS = { held: 'Held', pending_payment: 'Awaiting payment', confirmed: 'Confirmed', cancelled: 'Cancelled' };
  var REASON = { booked: 'already booked', outside_hours: 'outside working hours', not_offered: 'no longer offered' };
  var state = { client: null, services: [], providers: [], preview: null };

  function fields(ms, zone) {
    var p = {};
    new Intl.DateTimeFormat('en-GB', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', second: '2-digit' }).formatToParts(new Date(ms)).forEach(function (x) { p[x.type] = x.value; });
    return p;
  }
  /* A wall-clock time ("2027-03-02T09:00") in `zone` as an instant. */
  function zonedToIso(local, zone) {
    var m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(local);
    if (!m) return null;
    var wall = Date.UTC(+m[1], m[2] - 1, +m[3], +m[4], +m[5]), t = wall;
    for (var i = 0; i < 2; i++) {
      var f = fields(t, zone);
      t = wall - (Date.UTC(+f.year, f.month - 1, +f.day, +f.hour, +f.minute, +f.second) - t);
    }
    return new Date(t).toISOString();
  }
  function options(select, list, keep) {
    var was = keep ? select.value : '';
    select.replaceChildren.apply(select, list.map(function (x) { return h('option', { value: x.id }, x.name); }));
    if (was && byId(list, was)) select.value = was;
  }
  function clientName(c) { return c ? c.name + ' <' + c.email + '>' : ''; }

  /* ---- catalog lists the forms choose from ---- */
  function loadCatalog() {
    return Promise.all([api('GET', '/api/admin/services?archived=false&limit=500'), api('GET', '/api/admin/providers?limit=500')]).then(function (rs) {
      if (rs[0].ok) state.services = rs[0].data;
      if (rs[1].ok) state.providers = rs[1].data;
      var current = state.providers.filter(function (p) { return !p.archived; });
      options($('admin-book-service'), state.services, true); options($('series-service'), state.services, true);
      options($('calendar-provider'), current, true);
      offeredBy('admin-book'); offeredBy('series'); renderCatalog();
    });
  }
  function offeredBy(prefix) {
    var svc = byId(state.services, $(prefix + '-service').value);
    var list = svc ? state.providers.filter(function (p) { return !p.archived && svc.provider_ids.indexOf(p.id) >= 0; }) : [];
    options($(prefix + '-provider'), list, true);
    var p = byId(state.providers, $(prefix + '-provider').value);
    if (prefix === 'series' && p && !$('series-timezone').value) $('series-timezone').value = p.timezone;
    if (prefix === 'admin-book') say('admin-book-zone', p ? 'Times in ' + p.name + '’s timezone (' + p.timezone + ')' : '');
  }

  /* ---- clients ---- */
  function search(e) {
    e.preventDefault();
    var q = $('client-q').value.trim(), box = $('client-results');
    api('GET', '/api/admin/users' + (q ? '?q=' + encodeURIComponent(q) : '')).then(function (r) {
      if (!r.ok) return box.replaceChildren(h('p', { class: 'error', role: 'alert' }, r.data.detail));
      if (!r.data.length) return box.replaceChildren(h('p', { class: 'muted', 'data-testid': 'client-results-empty' }, 'No client matches.'));
      box.replaceChildren(table('clients-table', ['Name', 'Email', 'Timezone', ''], r.data.map(function (u) {
        return h('tr', { 'data-testid': 'client-row', 'data-user-id': u.id }, h('td', {}, u.name), h('td', {}, u.email), h('td', {}, u.timezone),
          h('td', {}, h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'data-testid': 'client-open',
            onclick: function () { openClient(u.id); } }, 'Open')));
      })));
    });
  }
  function openClient(id) {
    var box = $('client-record');
    box.hidden = false; box.replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
    return api('GET', '/api/admin/users/' + encodeURIComponent(id)).then(function (r) {
      if (!r.ok) return box.replaceChildren(h('p', { class: 'error', role: 'alert' }, r.data.detail));
      var rec = r.data, u = rec.user;
      state.client = u;
      say('admin-book-client', 'Booking for ' + clientName(u)); say('series-client', 'Series for ' + clientName(u));
      box.replaceChildren(
        h('h3', { 'data-testid': 'record-name' }, u.name), h('p', { class: 'muted' }, u.email + (u.phone ? ' · ' + u.phone : '') + ' · ' + u.timezone),
        h('h4', {}, 'Upcoming'), bookingsTable('record-upcoming', rec.upcoming, true),
        h('h4', {}, 'Past'), bookingsTable('record-past', rec.past, false),
        h('h4', {}, 'Series'), seriesTable(rec.series));
    });
  }
  function bookingsTable(testid, list, live) {
    if (!list.length) return h('p', { class: 'muted', 'data-testid': testid + '-empty' }, 'None.');
    return table(testid, ['When', 'Service', 'Practitioner', 'Status', ''], list.map(function (b) {
      var p = byId(state.providers, b.provider_id), zone = p ? p.timezone : 'UTC', cell = h('td', { class: 'row-actions' });
      if (live && b.status !== 'cancelled') cell.append(reschedulePicker(b, zone), cancelButton(b));
      return h('tr', { 'data-testid': 'record-booking', 'data-booking-id': b.id, 'data-status': b.status },
        h('td', { 'data-testid': 'record-booking-time' }, fmtWhen(b.start, zone)), h('td', {}, nameOf(state.services, b.service_id)),
        h('td', {}, nameOf(state.providers, b.provider_id)), h('td', {}, STATUS[b.status] || b.status), cell);
    }));
  }
  function reschedulePicker(b, zone) {
    var at = h('input', { type: 'datetime-local', step: 300, 'aria-label': 'New start (' + zone + ')', 'data-testid': 'record-reschedule-at' });
    var outside = h('input', { type: 'checkbox', 'data-testid': 'record-reschedule-outside' }), err = h('span', { class: 'error', role: 'alert' });
    var go = h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'data-testid': 'record-reschedule', onclick: function () {
      var start = zonedToIso(at.value, zone);
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
  function seriesTable(list) {
    if (!list.length) return h('p', { class: 'muted', 'data-testid': 'record-series-empty' }, 'None.');
    return table('record-series', ['Rule', 'From', 'State', 'Conflicts', ''], list.map(function (s) {
      return h('tr', { 'data-testid': 'record-series-row', 'data-series-id': s.id }, h('td', {}, s.rrule), h('td', {}, s.start_local + ' (' + s.timezone + ')'),
        h('td', {}, s.state), h('td', {}, String(s.conflicts.length)),
        h('td', {}, h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'data-testid': 'series-open',
          onclick: function () { showSeries(s.id); } }, 'Open')));
    }));
  }

  /* ---- book for a client: the booking page's slot picker, in the practitioner's zone ---- */
  function loadSlots() {
    var svc = $('admin-book-service').value, prov = $('admin-book-provider').value, box = $('admin-book-slots');
    var p = byId(state.providers, prov);
    if (!svc || !p) return box.replaceChildren();
    var q = new URLSearchParams({ service_id: svc, provider_id: prov, from: $('admin-book-date').value || todayYmd(), days: 7, tz: p.timezone });
    box.replaceChildren(h('p', { class: 'muted' }, 'Loading times…'));
    api('GET', '/api/availability?' + q).then(function (r) {
      if (!r.ok) return box.replaceChildren(h('p', { class: 'error', role: 'alert' }, r.data.detail));
      if (!r.data.slots.length) return box.replaceChildren(h('p', { class: 'muted' }, 'No free times that week.'));
      box.replaceChildren.apply(box, r.data.slots.slice(0, 60).map(function (s) {
        return h('button', { type: 'button', class: 'slot', 'data-testid': 'admin-book-slot', 'data-start': s.start,
          onclick: function () { bookFor(s.start, false); } }, fmtWhen(s.start, p.timezone));
      }));
    });
  }
  function bookFor(start, outside) {
    say('admin-book-error', ''); say('admin-book-done', '');
    if (!state.client) return say('admin-book-error', 'Open a client first (search above).');
    if (!start) return say('admin-book-error', 'Choose the date and time.');
    var body = { user_id: state.client.id, service_id: $('admin-book-service').value, provider_id: $('admin-book-provider').value,
      start: start, outside_hours: outside };
    api('POST', '/api/admin/bookings', body, { 'Idempotency-Key': keyFor('booking', body) }).then(function (r) {
      if (r.status && r.status < 500) answered('booking', body);
      if (!r.ok) return say('admin-book-error', r.data.detail);
      var p = byId(state.providers, r.data.provider_id);
      say('admin-book-done', 'Booked ' + fmtWhen(r.data.start, p ? p.timezone : 'UTC') + ' for ' + state.client.name + '.');
      loadSlots(); openClient(state.client.id);
    });
  }

  /* The same request sent again before it was answered (a double click, a retry after no
     answer) carries the same key, so the practice gets the first answer instead of a second
     booking or series; once answered, the next such request is a new one. */
  var keys = new Map();
  function keyFor(kind, body) {
    var what = kind + JSON.stringify(body);
    if (!keys.has(what)) keys.set(what, H.newKey());
    return keys.get(what);
  }
  function answered(kind, body) { keys.delete(kind + JSON.stringify(body)); }

  /* ---- series: preview, then create ---- */
  var RULES = {
    weekly: function () { return 'FREQ=WEEKLY'; },
    fortnightly: function () { return 'FREQ=WEEKLY;INTERVAL=2'; },
    'monthly-date': function (d) { return 'FREQ=MONTHLY;BYMONTHDAY=' + d.getUTCDate(); },
    'monthly-last': function (d) { return 'FREQ=MONTHLY;BYDAY=-1' + ['SU', 'MO', 'TU', 'WE', 'TH', 'FR', 'SA'][d.getUTCDay()]; }
  };
  function presetRule() {
    var kind = $('series-repeat').value, m = /^(\d{4})-(\d{2})-(\d{2})/.exec($('series-start').value);
    if (kind === 'custom' || !m) return;
    $('series-rrule').value = RULES[kind](new Date(Date.UTC(+m[1], m[2] - 1, +m[3])));
  }
  function seriesBody() {
    var count = $('series-count').value.trim();
    return { user_id: state.client ? state.client.id : '', service_id: $('series-service').value, provider_id: $('series-provider').value,
      rrule: $('series-rrule').value.trim(), start_local: $('series-start').value.slice(0, 16), timezone: $('series-timezone').value.trim(),
      count: count ? Number(count) : null, on_conflict: $('series-conflicts').value };
  }
  function preview(e) {
    e.preventDefault(); say('series-error', ''); $('series-create').disabled = true;
    if (!state.client) return say('series-error', 'Open a client first (search above).');
    presetRule();
    var body = seriesBody(), zone = body.timezone;
    api('POST', '/api/admin/series/preview', body).then(function (r) {
      if (!r.ok) return say('series-error', r.data.detail);
      state.preview = body;
      var rows = r.data.occurrences.map(function (o) {
        return h('tr', { 'data-testid': 'preview-occurrence' }, h('td', {}, fmtWhen(o.start, zone)), h('td', {}, 'will be booked'));
      }).concat(r.data.conflicts.map(function (c) {
        return h('tr', { class: 'conflict', 'data-testid': 'preview-conflict' }, h('td', {}, fmtWhen(c.start, zone)),
          h('td', {}, h('strong', {}, 'Conflict: ' + (REASON[c.reason] || c.reason))));
      }));
      $('series-result').replaceChildren(
        h('p', {}, r.data.occurrences.length + ' sessions will be booked, ' + r.data.conflicts.length + ' conflict' +
          (r.data.conflicts.length === 1 ? '' : 's') + '; later ones are booked as time passes (booked up to ' + fmtWhen(r.data.booked_until, zone) + ').'),
        table('series-preview', ['Session', ''], rows));
      $('series-create').disabled = false;
    });
  }
  function createSeries() {
    if (!state.preview) return;
    $('series-create').disabled = true;
    var body = state.preview;
    api('POST', '/api/admin/series', body, { 'Idempotency-Key': keyFor('series', body) }).then(function (r) {
      if (r.status && r.status < 500) answered('series', body);
      if (!r.ok) { say('series-error', r.data.detail); return; }
      state.preview = null; renderSeries(r.data, 'Series created.'); openClient(r.data.user_id);
    });
  }
  function showSeries(id) {
    api('GET', '/api/admin/series/' + encodeURIComponent(id)).then(function (r) {
      if (!r.ok) return say('series-error', r.data.detail);
      renderSeries(r.data, '');
      $('series-heading').scrollIntoView();
    });
  }
  function renderSeries(s, note) {
    var zone = s.timezone;
    function cancel(scope, start) {
      api('POST', '/api/admin/series/' + encodeURIComponent(s.id) + '/cancel', { scope: scope, start: start }).then(function (r) {
        if (!r.ok) return say('series-error', r.data.detail);
        renderSeries(r.data, 'Cancelled.'); if (state.client) openClient(state.client.id);
      });
    }
    var rows = s.occurrences.map(function (o) {
      var live = o.status !== 'cancelled' && Date.parse(o.start) > Date.now();
      return h('tr', { 'data-testid': 'series-occurrence', 'data-status': o.status }, h('td', {}, fmtWhen(o.start, zone)),
        h('td', {}, STATUS[o.status] || o.status), h('td', { class: 'row-actions' }, live ? [
          h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'data-testid': 'series-cancel-one', onclick: function () { cancel('one', o.start); } }, 'Cancel this'),
          h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'data-testid': 'series-cancel-following', onclick: function () { cancel('following', o.start); } }, 'This and following')
        ] : []));
    });
    var conflicts = s.conflicts.map(function (c) {
      return h('li', { 'data-testid': 'series-conflict' }, fmtWhen(c.start, zone) + ': ' + (REASON[c.reason] || c.reason));
    });
    $('series-result').replaceChildren(
      h('p', { class: 'ok', role: 'status', 'data-testid': 'series-note' }, note),
      s.client ? h('p', { 'data-testid': 'series-client' }, clientName(s.client)) : null,
      h('p', {}, s.rrule + ' from ' + s.start_local + ' (' + zone + ') · ' + s.state + ' · ' + s.occurrences.length + ' sessions booked'),
      conflicts.length ? h('ul', { class: 'plain-list', 'data-testid': 'series-conflicts-list' }, conflicts) : null,
      table('series-occurrences', ['Session', 'Status', ''], rows),
      s.state === 'cancelled' ? null : h('button', { type: 'button', class: 'btn btn-quiet', 'data-testid': 'series-cancel-all',
        onclick: function () { if (window.confirm('Cancel every session still ahead?')) cancel('all'); } }, 'Cancel the whole series'));
  }

  /* ---- edit and archive ---- */
  function renderCatalog() {
    Promise.all([api('GET', '/api/admin/services?limit=500'), api('GET', '/api/admin/providers?limit=500')]).then(function (rs) {
      if (!rs[0].ok || !rs[1].ok) return say('catalog-error', (rs[0].ok ? rs[1] : rs[0]).data.detail);
      $('catalog-services').replaceChildren(table('catalog-services-table', ['Service', 'Minutes', '', ''], rs[0].data.map(function (s) {
        var name = h('input', { type: 'text', value: s.name, 'aria-label': 'Name of ' + s.name, 'data-testid': 'catalog-service-name' });
        var mins = h('input', { type: 'number', min: 5, step: 5, value: s.duration_minutes, 'aria-label': 'Minutes', 'data-testid': 'catalog-service-minutes' });
        return h('tr', { 'data-testid': 'catalog-service', 'data-service-id': s.id, 'data-archived': String(s.archived) }, h('td', {}, name), h('td', {}, mins),
          h('td', {}, h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'data-testid': 'catalog-service-save',
            onclick: function () { change('services', s.id, { name: name.value.trim(), duration_minutes: Number(mins.value) }); } }, 'Save')),
          h('td', {}, archiveButton('services', s)));
      })));
      $('catalog-providers').replaceChildren(table('catalog-providers-table', ['Practitioner', 'Email', '', ''], rs[1].data.map(function (p) {
        var name = h('input', { type: 'text', value: p.name, 'aria-label': 'Name of ' + p.name, 'data-testid': 'catalog-provider-name' });
        var email = h('input', { type: 'email', value: p.email || '', 'aria-label': 'Email', 'data-testid': 'catalog-provider-email' });
        return h('tr', { 'data-testid': 'catalog-provider', 'data-provider-id': p.id, 'data-archived': String(p.archived) }, h('td', {}, name), h('td', {}, email),
          h('td', {}, h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'data-testid': 'catalog-provider-save',
            onclick: function () { change('providers', p.id, email.value.trim() ? { name: name.value.trim(), email: email.value.trim() } : { name: name.value.trim() }); } }, 'Save')),
          h('td', {}, archiveButton('providers', p)));
      })));
    });
  }
  function archiveButton(kind, x) {
    return h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'data-testid': 'catalog-archive',
      onclick: function () { change(kind, x.id, { archived: !x.archived }); } }, x.archived ? 'Restore' : 'Archive');
  }
  function change(kind, id, body) {
    say('catalog-error', '');
    api('PATCH', '/api/admin/' + kind + '/' + encodeURIComponent(id), body).then(function (r) {
      if (!r.ok) return say('catalog-error', r.data.detail);
      loadCatalog();
    });
  }

  /* ---- calendar ---- */
  function showCalendar(e) {
    if (e) e.preventDefault();
    var p = byId(state.providers, $('calendar-provider').value), box = $('calendar');
    if (!p) return;
    var q = new URLSearchParams({ provider_id: p.id, from: $('calendar-date').value || todayYmd(), days: $('calendar-view').value });
    api('GET', '/api/admin/calendar?' + q).then(function (r) {
      if (!r.ok) return box.replaceChildren(h('p', { class: 'error', role: 'alert' }, r.data.detail));
      var zone = r.data.timezone, days = new Map();
      r.data.bookings.forEach(function (b) {
        var f = fields(Date.parse(b.start), zone), day = f.year + '-' + f.month + '-' + f.day;
        if (!days.has(day)) days.set(day, []);
        days.get(day).push(h('li', { 'data-testid': 'calendar-booking' }, f.hour + ':' + f.minute + ' ' + nameOf(state.services, b.service_id) +
          ' · ' + (b.client ? b.client.name : b.user_id)));
      });
      if (!days.size) return box.replaceChildren(h('p', { class: 'muted', 'data-testid': 'calendar-empty' }, 'Nothing booked (' + zone + ').'));
      box.replaceChildren(h('p', { class: 'tz-note' }, 'Times in ' + p.name + '’s timezone (' + zone + ')'),
        Array.from(days, function (d) { return h('div', { 'data-testid': 'calendar-day' }, h('h4', {}, d[0]), h('ul', { class: 'plain-list' }, d[1])); }));
    });
  }

  /* ---- wiring: starts once the admin dashboard shows ---- */
  document.addEventListener('DOMContentLoaded', function () {
    $('admin-book-date').value = todayYmd(); $('calendar-date').value = todayYmd();
    $('client-search').addEventListener('submit', search);
    ['admin-book', 'series'].forEach(function (prefix) {
      $(prefix + '-service').addEventListener('change', function () { offeredBy(prefix); if (prefix === 'admin-book') loadSlots(); });
      $(prefix + '-provider').addEventListener('change', function () { offeredBy(prefix); if (prefix === 'admin-book') loadSlots(); });
    });
    $('admin-book-date').addEventListener('change', loadSlots);
    $('admin-book-at-submit').addEventListener('click', function () {
      var p = byId(state.providers, $('admin-book-provider').value);
      bookFor(p ? zonedToIso($('admin-book-at').value, p.timezone) : null, $('admin-book-outside').checked);
    });
    $('series-repeat').addEventListener('change', presetRule);
    $('series-start').addEventListener('change', presetRule);
    $('series-form').addEventListener('submit', preview);
    $('series-create').addEventListener('click', createSeries);
    $('calendar-form').addEventListener('submit', showCalendar);
    var shown = new MutationObserver(function () {
      if ($('dashboard').hidden) return;
      shown.disconnect(); loadCatalog().then(loadSlots);
    });
    shown.observe($('dashboard'), { attributes: true, attributeFilter: ['hidden'] });
  });
})();
