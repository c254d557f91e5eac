/* The admin console's catalog: practitioners and their weekly hours and date exceptions,
   services, and editing or archiving either (templates/admin_catalog.html). */
(function () {
  'use strict';
  var DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
  var H = window.Holdfast, A = window.HoldfastAdmin, $ = H.$, h = H.h, say = H.say, money = H.money, nameOf = H.nameOf, table = H.table;
  var api = A.api, busy = A.busy, nextId = A.nextId;
  var state = { providers: [], services: [], editing: null };

  /* ---- practitioners and services ---- */
  function loadCatalog() {
    return A.loadCatalog(true).then(function (c) {
      state.providers = c.providers; state.services = c.services;
      renderProviders(); renderServices(); renderEditable();
    });
  }
  function current(list) { return list.filter(function (x) { return !x.archived; }); }
  function renderProviders() {
    $('providers').replaceChildren.apply($('providers'), current(state.providers).length ? current(state.providers).map(function (p) {
      return h('li', { class: 'item', 'data-testid': 'provider-row', 'data-provider-id': p.id },
        h('span', {}, h('strong', {}, p.name), ' ', h('span', { class: 'muted' }, p.timezone)),
        h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'data-testid': 'edit-hours', onclick: function () { openHours(p); } }, 'Edit hours'));
    }) : [h('li', { class: 'muted' }, 'No practitioners yet.')]);
    var checks = $('service-providers'), ticked = {};
    checks.querySelectorAll('input:checked').forEach(function (c) { ticked[c.value] = true; });
    checks.replaceChildren.apply(checks, current(state.providers).map(function (p) {
      var id = 'svc-prov-' + p.id;
      return h('div', { class: 'check' }, h('input', { type: 'checkbox', id: id, value: p.id, checked: !!ticked[p.id],
        'data-testid': 'service-provider-checkbox', 'data-provider-id': p.id }), h('label', { for: id }, p.name));
    }));
  }
  function renderServices() {
    $('services').replaceChildren.apply($('services'), current(state.services).length ? current(state.services).map(function (s) {
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

  /* ---- edit and archive ---- */
  function renderEditable() {
    $('catalog-services').replaceChildren(table('catalog-services-table', ['Service', 'Minutes', '', ''], state.services.map(function (s) {
      var name = h('input', { type: 'text', value: s.name, 'aria-label': 'Name of ' + s.name, 'data-testid': 'catalog-service-name' });
      var mins = h('input', { type: 'number', min: 5, step: 5, value: s.duration_minutes, 'aria-label': 'Minutes', 'data-testid': 'catalog-service-minutes' });
      return h('tr', { 'data-testid': 'catalog-service', 'data-service-id': s.id, 'data-archived': String(s.archived) }, h('td', {}, name), h('td', {}, mins),
        h('td', {}, h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'data-testid': 'catalog-service-save',
          onclick: function () { change('services', s.id, { name: name.value.trim(), duration_minutes: Number(mins.value) }); } }, 'Save')),
        h('td', {}, archiveButton('services', s)));
    })));
    $('catalog-providers').replaceChildren(table('catalog-providers-table', ['Practitioner', 'Email', '', ''], state.providers.map(function (p) {
      var name = h('input', { type: 'text', value: p.name, 'aria-label': 'Name of ' + p.name, 'data-testid': 'catalog-provider-name' });
      var email = h('input', { type: 'email', value: p.email || '', 'aria-label': 'Email', 'data-testid': 'catalog-provider-email' });
      return h('tr', { 'data-testid': 'catalog-provider', 'data-provider-id': p.id, 'data-archived': String(p.archived) }, h('td', {}, name), h('td', {}, email),
        h('td', {}, h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'data-testid': 'catalog-provider-save',
          onclick: function () { change('providers', p.id, email.value.trim() ? { name: name.value.trim(), email: email.value.trim() } : { name: name.value.trim() }); } }, 'Save')),
        h('td', {}, archiveButton('providers', p)));
    })));
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


  /* ---- wiring ---- */
  document.addEventListener('DOMContentLoaded', function () {
    $('provider-timezone').value = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
    $('provider-form').addEventListener('submit', function (e) {
      e.preventDefault(); say('provider-error', ''); busy($('provider-submit'), true);
      api('POST', '/api/admin/providers', { name: $('provider-name').value.trim(), timezone: $('provider-timezone').value.trim() }).then(function (r) {
        busy($('provider-submit'), false);
        if (!r.ok) return say('provider-error', r.data.detail);
        $('provider-name').value = ''; loadCatalog(); openHours(r.data);
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
        $('service-name').value = ''; $('service-description').value = ''; loadCatalog();
      });
    });
    A.ready(loadCatalog);
  });
})();
