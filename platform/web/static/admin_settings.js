/* The admin console's settings: GET /api/admin/settings shown as one table per group (nested
   groups flattened into "group · name" rows); read-only (templates/admin_settings.html). */
(function () {
  'use strict';
  var H = window.Holdfast, A = window.HoldfastAdmin, $ = H.$, h = H.h;

  function label(key) { var s = key.replace(/_/g, ' '); return s.charAt(0).toUpperCase() + s.slice(1); }
  function text(v) {
    if (v === true) return 'Yes';
    if (v === false) return 'No';
    if (v === null || v === undefined || v === '') return '—';
    if (Array.isArray(v)) return v.length ? v.map(text).join(', ') : '—';
    return String(v);
  }
  /* [name, value] rows of an object, nested objects as "outer · inner". */
  function rows(obj, prefix) {
    return Object.keys(obj).reduce(function (acc, k) {
      var v = obj[k], name = prefix ? prefix + ' · ' + label(k) : label(k);
      if (v && typeof v === 'object' && !Array.isArray(v)) return acc.concat(rows(v, name));
      return acc.concat([[name, text(v)]]);
    }, []);
  }
  function render(data) {
    var groups = Object.keys(data), box = $('settings');
    var loose = groups.filter(function (g) { return !(data[g] && typeof data[g] === 'object' && !Array.isArray(data[g])); });
    var parts = loose.length ? [[ 'General', loose.reduce(function (o, k) { o[k] = data[k]; return o; }, {}) ]] : [];
    groups.forEach(function (g) { if (loose.indexOf(g) < 0) parts.push([label(g), data[g]]); });
    box.replaceChildren.apply(box, parts.map(function (p) {
      return h('section', { class: 'step', 'data-testid': 'settings-group' }, h('h2', {}, p[0]),
        h('div', { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': p[0] }, h('table', { class: 'data' }, h('tbody', {}, rows(p[1], '').map(function (r) {
          return h('tr', { 'data-testid': 'setting' }, h('th', { scope: 'row' }, r[0]), h('td', {}, r[1]));
        })))));
    }));
  }

  document.addEventListener('DOMContentLoaded', function () {
    A.ready(function () {
      A.api('GET', '/api/admin/settings').then(function (r) { if (r.ok) render(r.data); else A.fail($('settings'), r); });
    });
  });
})();
