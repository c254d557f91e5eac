/* Holdfast admin dashboard: bookings, practitioners and their hours, services. */
(function () {
  'use strict';
  var TZ = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  var DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
  var STATUS = { held: 'Held', pending_payment: 'Awaiting payment', confirmed: 'Confirmed', cancelled: 'Cancelled', expired: 'Expired (not paid)' };
  var H = window.Holdfast, $ = H.$, h = H.h, say = H.say, money = H.money, nameOf = H.nameOf, table = H.table;
  var state = { user: null, providers: [], services: [], editing: null, uid: 0 };

  /* The shared call, and back to the login gate when the session has ended. */
  function api(method, path, body) {
    return H.api(method, path, body).then(function (r) {
      if (r.status === 401 && path !== '/api/auth/login') showGate('Your session has ended. Please log in again.');
      return r;
    });
  }
  function busy(btn, on) { btn.disabled = on; btn.setAttribute('aria-busy', String(on)); }
  function fmtWhen(iso) { return H.fmtWhen(iso, TZ); }
  function nextId(prefix) { state.uid += 1; return prefix + '-' + state.uid; }

  /* ---- gate ---- */
  function showGate(message) {
    state.user = null;
    $('dashboard').hidden = true; $('gate').hidden = false;
    $('whoami').hidden = true; $('logout-button').hidden = true;
    say('gate-message', message);
  }
  function enter(user) {
    if (!user || user.role !== 'admin') {
      return showGate(user ? 'You are signed in as ' + user.email + ', which is not an admin account. Log in as an admin to continue.'
        : 'Please log in with an admin account.');
    }
    state.user = user;
    $('gate').hidden = true; $('dashboard').hidden = false;
    $('whoami').hidden = false; $('whoami').textContent = 'Signed in as ' + user.name; $('logout-button').hidden = false;
    loadCatalog().then(loadBookings);
  }

  /* ---- bookings ---- */
  /* Upcoming first, a page at a time: "Show more" follows the list's X-Next-Cursor. */
  function loadBookings() { return bookingsPage(null, []); }
  function bookingsPage(cursor, rows) {
    var box = $('bookings');
    return api('GET', '/api/bookings' + (cursor ? '?cursor=' + encodeURIComponent(cursor) : '')).then(function (r) {
      if (!r.ok) return box.replaceChildren(h('p', { class: 'error', role: 'alert' }, r.data.detail));
      if (!r.data.length && !rows.length) return box.replaceChildren(h('p', { class: 'muted', 'data-testid': 'bookings-empty' }, 'No bookings yet.'));
      r.data.forEach(function (b) { rows.push.apply(rows, bookingRows(b)); });
      var more = r.next ? h('button', { type: 'button', class: 'btn btn-quiet', 'data-testid': 'bookings-more',
        onclick: function () { bookingsPage(r.next, rows); } }, 'Show more') : null;
      box.replaceChildren(table('bookings-table', ['When', 'Practitioner', 'Service', 'Client', 'Status', 'Source', ''], rows), more);
    });
  }
  function bookingRows(b) {
    var detail = h('tr', { class: 'history-row', hidden: true }), cell = h('td', { colspan: 7 });
    detail.append(cell);
    var histBtn = h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'data-testid': 'history-button', 'aria-expanded': 'false',
      onclick: function () { toggleHistory(b, histBtn, detail, cell); } }, 'History');
    var actions = h('td', { class: 'row-actions' }, histBtn);
    if (b.status !== 'cancelled') {
      actions.prepend(h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'data-testid': 'cancel-button',
        onclick: function () { histBtn.setAttribute('aria-expanded', 'false'); askCancel(b, detail, cell); } }, 'Cancel'));
    }
    var row = h('tr', { 'data-testid': 'booking-row', 'data-booking-id': b.id, 'data-status': b.status },
      h('td', { 'data-testid': 'booking-time' }, fmtWhen(b.start)), h('td', {}, nameOf(state.providers, b.provider_id)),
      h('td', {}, nameOf(state.services, b.service_id)), h('td', { 'data-testid': 'booking-client' }, b.client ? b.client.name + ' <' + b.client.email + '>' : b.user_id),
      h('td', {}, h('span', { class: 'badge badge-' + b.status, 'data-testid': 'booking-status' }, STATUS[b.status] || b.status)),
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
      if (!r.ok) return cell.replaceChildren(h('p', { class: 'error', role: 'alert' }, r.data.detail));
      cell.replaceChildren(h('ol', { class: 'history', 'data-testid': 'history' }, r.data.map(function (e) {
        return h('li', { 'data-testid': 'history-entry' }, h('strong', {}, e.action), ' · ',
          (e.from_status ? (STATUS[e.from_status] || e.from_status) + ' → ' : '') + (STATUS[e.to_status] || e.to_status),
          ' · ' + fmtWhen(e.at) + ' · by ' + e.actor + (e.reason ? ' · “' + e.reason + '”' : ''));
      })));
    });
  }
  function askCancel(b, detail, cell) {
    var id = nextId('reason'), reason = h('input', { id: id, type: 'text', maxlength: 1000, 'data-testid': 'cancel-reason' });
    var err = h('p', { class: 'error', role: 'alert' });
    var yes = h('button', { type: 'button', class: 'btn btn-danger btn-small', 'data-testid': 'cancel-confirm', onclick: function () {
      busy(yes, true);
      api('POST', '/api/bookings/' + encodeURIComponent(b.id) + '/cancel', { reason: reason.value.trim() || null }).then(function (r) {
        busy(yes, false);
        if (!r.ok) { err.textContent = r.data.detail; return; }
        loadBookings();
      });
    } }, 'Yes, cancel booking');
    cell.replaceChildren(h('div', { class: 'confirm-box', role: 'group', 'aria-label': 'Confirm cancellation' },
      h('p', {}, 'Cancel this booking on ' + fmtWhen(b.start) + '?'),
      h('div', { class: 'field' }, h('label', { for: id }, 'Reason (optional)'), reason), err,
      h('div', { class: 'actions' }, yes, h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'data-testid': 'cancel-keep',
        onclick: function () { detail.hidden = true; } }, 'Keep booking'))));
    detail.hidden = false; reason.focus();
  }

  /* ---- catalog ---- */
  function loadCatalog() {
    return Promise.all([api('GET', '/api/providers'), api('GET', '/api/services')]).then(function (rs) {
      if (rs[0].ok) state.providers = rs[0].data;
      if (rs[1].ok) state.services = rs[1].data;
      renderProviders(); renderServices();
    });
  }
  function renderProviders() {
    $('providers').replaceChildren.apply($('providers'), state.providers.length ? state.providers.map(function (p) {
      return h('li', { class: 'item', 'data-testid': 'provider-row', 'data-provider-id': p.id },
        h('span', {}, h('strong', {}, p.name), ' ', h('span', { class: 'muted' }, p.timezone)),
        h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'data-testid': 'edit-hours', onclick: function () { openHours(p); } }, 'Edit hours'));
    }) : [h('li', { class: 'muted' }, 'No practitioners yet.')]);
    var checks = $('service-providers'), ticked = {};
    checks.querySelectorAll('input:checked').forEach(function (c) { ticked[c.value] = true; });
    checks.replaceChildren.apply(checks, state.providers.map(function (p) {
      var id = 'svc-prov-' + p.id;
      return h('div', { class: 'check' }, h('input', { type: 'checkbox', id: id, value: p.id, checked: !!ticked[p.id],
        'data-testid': 'service-provider-checkbox', 'data-provider-id': p.id }), h('label', { for: id }, p.name));
    }));
  }
  function renderServices() {
    $('services').replaceChildren.apply($('services'), state.services.length ? state.services.map(function (s) {
      return h('li', { class: 'item', 'data-testid': 'service-row', 'data-service-id': s.id },
        h('span', {}, h('strong', {}, s.name), ' ', h('span', { class: 'muted' }, s.duration_minutes + ' min · ' + money(s.price) + ' · ' +
          s.provider_ids.map(function (id) { return nameOf(state.providers, id); }).join(', '))));
    }) : [h('li', { class: 'muted' }, 'No services yet.')]);
  }
  function intField(id, optional) {
    var v = $(id).value.trim();
    if (v === '') return optional ? null : 0;
    return Number(v);
  }

  /* ---- weekly hours ---- */
  function timeInput(label, value, testid, extra) {
    var id = nextId('t');
    return h('div', { class: 'field field-time' }, h('label', { for: id }, label),
      h('input', Object.assign({ id: id, type: 'text', inputmode: 'numeric', placeholder: 'HH:MM', pattern: '([01][0-9]|2[0-3]):[0-5][0-9]|24:00',
        size: 5, value: value || '', 'data-testid': testid }, extra)));
  }
  function intervalRow(weekday, rule) {
    var row = h('div', { class: 'interval', 'data-testid': 'hours-interval', 'data-weekday': weekday },
      timeInput('From', rule && rule.start, 'hours-start', { 'data-weekday': weekday }),
      timeInput('To', rule && rule.end, 'hours-end', { 'data-weekday': weekday }));
    row.append(h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'data-testid': 'hours-remove', 'aria-label': 'Remove these ' + DAYS[weekday] + ' hours',
      onclick: function () { row.remove(); } }, 'Remove'));
    return row;
  }
  function exceptionRow(ex) {
    var id = nextId('ex');
    var row = h('div', { class: 'interval', 'data-testid': 'exception-row' },
      h('div', { class: 'field' }, h('label', { for: id }, 'Date'), h('input', { id: id, type: 'date', value: ex && ex.date || '', 'data-testid': 'exception-date' })),
      timeInput('From', ex && ex.start, 'exception-start'), timeInput('To', ex && ex.end, 'exception-end'));
    row.append(h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'data-testid': 'exception-remove', onclick: function () { row.remove(); } }, 'Remove'));
    return row;
  }
  function openHours(p) {
    state.editing = p;
    say('hours-error', ''); say('hours-saved', ''); say('hours-heading', 'Weekly hours: ' + p.name);
    say('hours-zone', 'Times are in ' + p.name + '’s timezone (' + p.timezone + ').');
    $('hours-editor').hidden = false;
    $('hours-days').replaceChildren(h('p', { class: 'muted' }, 'Loading…')); $('exceptions').replaceChildren();
    api('GET', '/api/providers/' + encodeURIComponent(p.id) + '/availability').then(function (r) {
      if (state.editing !== p) return;
      if (!r.ok) return say('hours-error', r.data.detail);
      $('hours-days').replaceChildren.apply($('hours-days'), DAYS.map(function (day, w) {
        var list = h('div', { class: 'intervals' });
        r.data.rules.filter(function (x) { return x.weekday === w; }).forEach(function (x) { list.append(intervalRow(w, x)); });
        return h('fieldset', { class: 'day-hours', 'data-testid': 'hours-day', 'data-weekday': w }, h('legend', {}, day), list,
          h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'data-testid': 'hours-add', 'data-weekday': w,
            onclick: function () { list.append(intervalRow(w)); list.lastChild.querySelector('input').focus(); } }, 'Add hours'));
      }));
      r.data.exceptions.forEach(function (ex) { $('exceptions').append(exceptionRow(ex)); });
      $('hours-heading').setAttribute('tabindex', '-1'); $('hours-heading').focus();
    });
  }
  function collectHours() {
    var rules = [], exceptions = [], problem = null;
    document.querySelectorAll('#hours-days .interval').forEach(function (row) {
      var s = row.querySelector('[data-testid="hours-start"]').value.trim(), e = row.querySelector('[data-testid="hours-end"]').value.trim();
      if (!s && !e) return;
      if (!s || !e) problem = problem || DAYS[row.dataset.weekday] + ': give both a start and an end time.';
      rules.push({ weekday: Number(row.dataset.weekday), start: s, end: e });
    });
    document.querySelectorAll('#exceptions .interval').forEach(function (row) {
      var d = row.querySelector('[data-testid="exception-date"]').value, s = row.querySelector('[data-testid="exception-start"]').value.trim(),
        e = row.querySelector('[data-testid="exception-end"]').value.trim();
      if (!d) { if (s || e) problem = problem || 'Each date exception needs a date.'; return; }
      if (!s !== !e) problem = problem || d + ': give both a start and an end, or neither to close the day.';
      exceptions.push(s ? { date: d, start: s, end: e } : { date: d });
    });
    return { problem: problem, body: { rules: rules, exceptions: exceptions } };
  }

  /* ---- wiring ---- */
  document.addEventListener('DOMContentLoaded', function () {
    $('tz-note').textContent = 'Times shown in your timezone (' + TZ + ')';
    $('provider-timezone').value = TZ;
    $('login-form').addEventListener('submit', function (e) {
      e.preventDefault(); say('login-error', ''); busy($('login-submit'), true);
      api('POST', '/api/auth/login', { email: $('login-email').value.trim(), password: $('login-password').value }).then(function (r) {
        busy($('login-submit'), false);
        if (!r.ok) return say('login-error', r.data.detail);
        $('login-form').reset(); enter(r.data.user);
      });
    });
    $('logout-button').addEventListener('click', function () {
      api('POST', '/api/auth/logout').then(function () { showGate('You have logged out.'); $('login-email').focus(); });
    });
    $('bookings-refresh').addEventListener('click', loadBookings);
    $('provider-form').addEventListener('submit', function (e) {
      e.preventDefault(); say('provider-error', ''); busy($('provider-submit'), true);
      api('POST', '/api/admin/providers', { name: $('provider-name').value.trim(), timezone: $('provider-timezone').value.trim() }).then(function (r) {
        busy($('provider-submit'), false);
        if (!r.ok) return say('provider-error', r.data.detail);
        $('provider-name').value = ''; state.providers.push(r.data); renderProviders(); openHours(r.data);
      });
    });
    $('exception-add').addEventListener('click', function () { $('exceptions').append(exceptionRow()); $('exceptions').lastChild.querySelector('input').focus(); });
    $('hours-close').addEventListener('click', function () { $('hours-editor').hidden = true; state.editing = null; });
    $('hours-editor').addEventListener('submit', function (e) {
      e.preventDefault(); say('hours-error', ''); say('hours-saved', '');
      var c = collectHours(), p = state.editing;
      if (!p) return;
      if (c.problem) return say('hours-error', c.problem);
      busy($('hours-save'), true);
      api('PUT', '/api/admin/providers/' + encodeURIComponent(p.id) + '/availability', c.body).then(function (r) {
        busy($('hours-save'), false);
        if (!r.ok) return say('hours-error', r.data.detail);
        say('hours-saved', 'Saved ' + p.name + '’s hours.');
      });
    });
    $('service-form').addEventListener('submit', function (e) {
      e.preventDefault(); say('service-error', '');
      var ids = Array.from(document.querySelectorAll('#service-providers input:checked'), function (c) { return c.value; });
      if (!ids.length) return say('service-error', 'Choose at least one practitioner who offers this service.');
      var price = $('service-price').value.trim(), cents = Math.round(Number(price) * 100);
      if (price && !(cents >= 0)) return say('service-error', 'The price must be a number, like 60 or 59.50.');
      var body = { name: $('service-name').value.trim(), description: $('service-description').value.trim(),
        duration_minutes: intField('service-duration'), buffer_before_minutes: intField('service-buffer-before'),
        buffer_after_minutes: intField('service-buffer-after'), min_notice_minutes: intField('service-min-notice'),
        slot_step_minutes: intField('service-step', true), provider_ids: ids, location: $('service-location').value,
        price: price && cents > 0 ? { amount_cents: cents, currency: $('service-currency').value.trim().toUpperCase() } : null };
      busy($('service-submit'), true);
      api('POST', '/api/admin/services', body).then(function (r) {
        busy($('service-submit'), false);
        if (!r.ok) return say('service-error', r.data.detail);
        $('service-name').value = ''; $('service-description').value = ''; state.services.push(r.data); renderServices();
      });
    });
    api('GET', '/api/me').then(function (r) { enter(r.ok ? r.data : null); });
  });
})();
