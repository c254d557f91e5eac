/* The admin console's series: every recurring series with its client (a page at a time), one
   series' sessions at /admin/series?id=<id> with cancel one / this and following / all, and
   setting one up for a client: preview (what will be booked, what conflicts), then create
   (templates/admin_series.html). */
(function () {
  'use strict';
  var H = window.Holdfast, A = window.HoldfastAdmin, $ = H.$, h = H.h, say = H.say, byId = H.byId, nameOf = H.nameOf, table = H.table;
  var api = A.api, clientName = A.person;
  var STATUS = A.STATUS;
  var REASON = { booked: 'already booked', outside_hours: 'outside working hours', not_offered: 'no longer offered' };
  var state = { client: null, services: [], providers: [], preview: null };
  var loadList;

  /* ---- every series ---- */
  function seriesRow(s) {
    return h('tr', { 'data-testid': 'series-row', 'data-series-id': s.id },
      h('td', { 'data-testid': 'series-row-client' }, s.client ? A.person(s.client) : s.user_id),
      h('td', {}, nameOf(state.services, s.service_id) + ' with ' + nameOf(state.providers, s.provider_id)),
      h('td', {}, s.rrule), h('td', {}, s.start_local.replace('T', ' ') + ' (' + s.timezone + ')'), h('td', {}, s.state),
      h('td', {}, s.conflicts.length ? String(s.conflicts.length) : ''),
      h('td', {}, h('a', { class: 'btn btn-quiet btn-small', href: '/admin/series?id=' + encodeURIComponent(s.id), 'data-testid': 'series-open' }, 'Open')));
  }
  function options(select, list) { A.options(select, list, true); }
  function offeredBy(prefix) {
    var svc = byId(state.services, $(prefix + '-service').value);
    var list = svc ? state.providers.filter(function (p) { return !p.archived && svc.provider_ids.indexOf(p.id) >= 0; }) : [];
    options($(prefix + '-provider'), list);
    var p = byId(state.providers, $(prefix + '-provider').value);
    if (p && !$('series-timezone').value) $('series-timezone').value = p.timezone;
  }

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
    if (!state.client) return say('series-error', 'Choose the client first.');
    presetRule();
    var body = seriesBody();
    api('POST', '/api/admin/series/preview', body).then(function (r) {
      if (!r.ok) return say('series-error', r.data.detail);
      state.preview = body;
      var rows = r.data.occurrences.map(function (o) {
        return h('tr', { 'data-testid': 'preview-occurrence' }, h('td', {}, A.when(o.start)), h('td', {}, 'will be booked'));
      }).concat(r.data.conflicts.map(function (c) {
        return h('tr', { class: 'conflict', 'data-testid': 'preview-conflict' }, h('td', {}, A.when(c.start)),
          h('td', {}, h('strong', {}, 'Conflict: ' + (REASON[c.reason] || c.reason))));
      }));
      $('series-result').replaceChildren(
        h('p', {}, r.data.occurrences.length + ' sessions will be booked, ' + r.data.conflicts.length + ' conflict' +
          (r.data.conflicts.length === 1 ? '' : 's') + '; later ones are booked as time passes (booked up to ' + A.when(r.data.booked_until) + ').'),
        table('series-preview', ['Session', ''], rows));
      $('series-create').disabled = false;
    });
  }
  function createSeries() {
    if (!state.preview) return;
    $('series-create').disabled = true;
    var body = state.preview;
    api('POST', '/api/admin/series', body, { 'Idempotency-Key': A.keyFor('series', body) }).then(function (r) {
      if (r.status && r.status < 500) A.answered('series', body);
      if (!r.ok) { say('series-error', r.data.detail); return; }
      state.preview = null; renderSeries(r.data, 'Series created.', $('series-result')); loadList(false);
    });
  }
  function showSeries(id) {
    api('GET', '/api/admin/series/' + encodeURIComponent(id)).then(function (r) {
      if (!r.ok) return say('series-error', r.data.detail);
      renderSeries(r.data, '', $('series-record'));
      $('series-record').hidden = false; $('series-record').focus();
    });
  }
  function renderSeries(s, note, box) {
    var zone = s.timezone;
    function cancel(scope, start) {
      api('POST', '/api/admin/series/' + encodeURIComponent(s.id) + '/cancel', { scope: scope, start: start }).then(function (r) {
        if (!r.ok) return say('series-error', r.data.detail);
        renderSeries(r.data, 'Cancelled.', box); loadList(false);
      });
    }
    var rows = s.occurrences.map(function (o) {
      var live = o.status !== 'cancelled' && Date.parse(o.start) > Date.now();
      return h('tr', { 'data-testid': 'series-occurrence', 'data-status': o.status }, h('td', {}, A.when(o.start)),
        h('td', {}, STATUS[o.status] || o.status), h('td', { class: 'row-actions' }, live ? [
          h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'data-testid': 'series-cancel-one', onclick: function () { cancel('one', o.start); } }, 'Cancel this'),
          h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'data-testid': 'series-cancel-following', onclick: function () { cancel('following', o.start); } }, 'This and following')
        ] : []));
    });
    var conflicts = s.conflicts.map(function (c) {
      return h('li', { 'data-testid': 'series-conflict' }, A.when(c.start) + ': ' + (REASON[c.reason] || c.reason));
    });
    box.replaceChildren(
      h('p', { class: 'ok', role: 'status', 'data-testid': 'series-note' }, note),
      s.client ? h('p', { 'data-testid': 'series-client' }, clientName(s.client)) : null,
      h('p', {}, s.rrule + ' from ' + s.start_local + ' (' + zone + ') · ' + s.state + ' · ' + s.occurrences.length + ' sessions booked'),
      conflicts.length ? h('ul', { class: 'plain-list', 'data-testid': 'series-conflicts-list' }, conflicts) : null,
      table('series-occurrences', ['Session', 'Status', ''], rows),
      s.state === 'cancelled' ? null : h('button', { type: 'button', class: 'btn btn-quiet', 'data-testid': 'series-cancel-all',
        onclick: function () { if (window.confirm('Cancel every session still ahead?')) cancel('all'); } }, 'Cancel the whole series'));
  }


  document.addEventListener('DOMContentLoaded', function () {
    A.clientPicker('series', function (u) { state.client = u; });
    ['series-service', 'series-provider'].forEach(function (id) { $(id).addEventListener('change', function () { offeredBy('series'); }); });
    $('series-repeat').addEventListener('change', presetRule);
    $('series-start').addEventListener('change', presetRule);
    $('series-form').addEventListener('submit', preview);
    $('series-create').addEventListener('click', createSeries);
    loadList = A.pagedTable({ box: $('series-list'), more: $('series-more'), path: '/api/admin/series', testid: 'series', row: seriesRow,
      query: function () { return new URLSearchParams(); },
      heads: function () { return ['Client', 'Sessions', 'Rule', 'First', 'State', 'Conflicts', '']; },
      empty: function () { return 'No series yet.'; } });
    A.ready(function () {
      A.loadCatalog().then(function (c) {
        state.providers = c.providers; state.services = c.services.filter(function (s) { return !s.archived; });
        options($('series-service'), state.services); offeredBy('series');
        loadList(false);
        if (A.param('id')) showSeries(A.param('id'));
      });
    });
  });
})();
