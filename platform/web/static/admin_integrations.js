/* Holdfast admin: the integrations section (Google Calendar per practitioner, the others). */
(function () {
  'use strict';
  var NAMES = { google: 'Google Calendar', zoom: 'Zoom', calendly: 'Calendly', stripe: 'Stripe', smtp: 'Email (SMTP)', sms: 'SMS' };
  var STATES = { off: 'Off', connected: 'Connected', failing: 'Failing' };
  var H = window.Holdfast, $ = H.$, h = H.h, api = H.api, say = H.say;

  var when = window.HoldfastAdmin.when;

  function actions(row) {
    if (row.integration !== 'google' || !row.provider_id) return [];
    var base = '/api/admin/providers/' + encodeURIComponent(row.provider_id) + '/google';
    var connected = row.state !== 'off';
    var buttons = [];
    if (!connected || row.reconnect_needed) {
      buttons.push(h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'google-connect', onclick: function (e) {
        e.target.disabled = true;
        api('GET', base + '/connect').then(function (r) {
          if (r.ok) { window.location.assign(r.data.url); return; }
          e.target.disabled = false; say('integrations-error', r.data.detail);
        });
      } }, connected ? 'Connect again' : 'Connect'));
    }
    if (connected) {
      buttons.push(h('button', { type: 'button', class: 'btn btn-quiet', 'data-testid': 'google-sync', onclick: function (e) {
        e.target.disabled = true;
        api('POST', base + '/sync').then(function (r) {
          say('integrations-notice', r.ok ? 'Calendar read.' : ''); say('integrations-error', r.ok ? '' : r.data.detail);
          load();
        });
      } }, 'Read now'));
      buttons.push(h('button', { type: 'button', class: 'btn btn-quiet', 'data-testid': 'google-disconnect', onclick: function (e) {
        if (!window.confirm('Disconnect this Google Calendar? Its busy time stops blocking bookings.')) return;
        e.target.disabled = true;
        api('DELETE', base).then(function (r) { say('integrations-error', r.ok ? '' : r.data.detail); load(); });
      } }, 'Disconnect'));
    }
    return buttons;
  }

  function render(rows) {
    var body = rows.map(function (row) {
      var problem = row.state === 'failing'
        ? h('div', { class: 'error', 'data-testid': 'integration-error' }, row.last_error || '', row.failing_since ? ' (since ' + when(row.failing_since) + ')' : '')
        : null;
      return h('tr', { 'data-testid': 'integration-row', 'data-integration': row.integration, 'data-provider': row.provider_id || '' },
        h('td', {}, NAMES[row.integration] || row.integration),
        h('td', {}, row.provider_name || '—'),
        h('td', {}, h('span', { class: 'badge badge-' + row.state, 'data-testid': 'integration-state' }, STATES[row.state] || row.state)),
        h('td', {}, row.detail, problem, row.last_synced_at ? h('div', { class: 'hint' }, 'Read ' + when(row.last_synced_at)) : null),
        h('td', { class: 'row-actions' }, actions(row)));
    });
    var table = h('table', { class: 'data' },
      h('thead', {}, h('tr', {}, ['Integration', 'Practitioner', 'State', 'Details', ''].map(function (t) { return h('th', { scope: 'col' }, t); }))),
      h('tbody', {}, body));
    $('integrations').replaceChildren(table);
  }

  function load() {
    api('GET', '/api/admin/integrations').then(function (r) {
      if (r.ok) { say('integrations-error', ''); render(r.data); } else say('integrations-error', r.data.detail);
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    if (new URLSearchParams(window.location.search).get('google') === 'connected') {
      say('integrations-notice', 'Google Calendar connected. Its busy time is being read.');
    }
    $('integrations-refresh').addEventListener('click', load);
    window.HoldfastAdmin.ready(load);
  });
})();
