/* The admin console's settings: GET /api/admin/settings, read-only — the practice, each
   integration (configured or not, its non-secret parameters), then every setting by section
   with its environment variable, value and meaning; secrets only "set" or "not set"
   (templates/admin_settings.html). */
(function () {
  'use strict';
  var H = window.Holdfast, A = window.HoldfastAdmin, $ = H.$, h = H.h;

  function label(key) { var s = key.replace(/_/g, ' '); return s.charAt(0).toUpperCase() + s.slice(1); }
  function text(v) {
    if (v === true) return 'Yes';
    if (v === false) return 'No';
    if (v === null || v === undefined || v === '') return '—';
    if (Array.isArray(v)) return v.length ? v.map(text).join(', ') : '—';
    if (typeof v === 'object') return Object.keys(v).map(function (k) { return label(k) + ': ' + text(v[k]); }).join('; ');
    return String(v);
  }
  function region(name, heads, rows) {
    return h('div', { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': name }, H.table('', heads, rows));
  }
  function group(title, testid, body) {
    return h('section', { class: 'step', 'data-testid': testid }, h('h2', {}, title), body);
  }
  function render(c) {
    var practice = [['Practice name', c.practice_name], ['Address', c.practice_address], ['Your timezone', c.your_timezone]];
    $('settings-how').textContent = c.how_to_change;
    $('settings').replaceChildren(
      group('Practice', 'settings-practice', region('Practice', ['Setting', 'Value'], practice.map(function (p) {
        return h('tr', {}, h('th', { scope: 'row' }, p[0]), h('td', {}, text(p[1])));
      }))),
      group('Integrations', 'settings-integrations', region('Integrations', ['Integration', 'Configured', 'Parameters'], c.integrations.map(function (i) {
        return h('tr', { 'data-testid': 'settings-integration', 'data-integration': i.name }, h('th', { scope: 'row' }, label(i.name)),
          h('td', {}, i.configured ? 'Yes' : 'No'), h('td', {}, text(i.parameters)));
      }))),
      c.sections.map(function (s) {
        return group(label(s.name), 'settings-section', region(label(s.name), ['Setting', 'Value', 'Meaning'], s.settings.map(function (x) {
          return h('tr', { 'data-testid': 'setting', 'data-name': x.name },
            h('th', { scope: 'row' }, h('code', {}, x.variable)),
            h('td', { 'data-testid': 'setting-value' }, text(x.value), x.default ? h('span', { class: 'muted' }, ' (default)') : null),
            h('td', {}, x.description));
        })));
      }));
  }

  document.addEventListener('DOMContentLoaded', function () {
    A.ready(function () {
      A.api('GET', '/api/admin/settings').then(function (r) { if (r.ok) render(r.data); else A.fail($('settings'), r); });
    });
  });
})();
