/* The monitoring page: GET /api/admin/stats for the chosen period, as figures, the service
   objectives, charts (uPlot, served from our own /static/vendor) and tables; refreshed every
   15 seconds while the page is visible. */
(function () {
  'use strict';
  var H = window.Holdfast, $ = H.$, h = H.h, api = window.HoldfastAdmin.api, table = H.table;
  var REFRESH_MS = 15000;
  var charts = {};

  function pct(x) { return x === null || x === undefined ? '–' : (Math.round(x * 1000) / 10) + '%'; }
  function num(x) { return x === null || x === undefined ? '–' : String(x); }
  function cents(map) {
    var parts = Object.keys(map || {}).map(function (c) { return H.money({ amount_cents: map[c], currency: c }); });
    return parts.length ? parts.join(', ') : '–';
  }
  function received(revenue) {  // the window's net per currency, from the payments' revenue rows
    var byCurrency = {};
    (revenue || []).forEach(function (r) { byCurrency[r.currency] = (byCurrency[r.currency] || 0) + r.net_cents; });
    return byCurrency;
  }
  function ymd(d) { return d.toISOString().slice(0, 10); }
  function period() {
    var days = Number($('span').value), to = new Date();
    var from = new Date(to.getTime() - (days - 1) * 86400000);
    return '?from=' + ymd(from) + '&to=' + ymd(to);
  }
  function rows(pairs) {
    return pairs.map(function (p) { return h('tr', {}, h('th', { scope: 'row' }, p[0]), h('td', {}, p[1])); });
  }

  function tiles(s) {
    var b = s.bookings, items = [
      ['Booking attempts', num(b.attempts)], ['Success rate', pct(b.success_rate)],
      ['Booking p95', b.p95_ms === null ? '–' : b.p95_ms + ' ms'], ['Server errors', num(b.server_errors)],
      ['Job backlog', num(s.queue.backlog)], ['Dead jobs', num(s.queue.dead)],
      ['Queue lag p50', s.queue.lag.p50_seconds === null ? '–' : s.queue.lag.p50_seconds + ' s'],
      ['Recovered by waitlist', cents(s.waitlist.revenue_recovered)]
    ];
    $('tiles').replaceChildren.apply($('tiles'), items.map(function (t) {
      return h('div', { 'data-testid': 'tile' }, h('dt', {}, t[0]), h('dd', {}, t[1]));
    }));
  }

  /* Open incidents first (the API sends them newest first): what fired, since when, and now. */
  function alerts(s) {
    var when = window.HoldfastAdmin.when;
    if (!s.alerts.length) { $('alerts').replaceChildren(h('p', { class: 'muted', 'data-testid': 'alerts-none' }, 'No alerts in this period.')); return; }
    var list = s.alerts.slice().sort(function (a, b) { return (a.state === 'open' ? 0 : 1) - (b.state === 'open' ? 0 : 1); });
    $('alerts').replaceChildren(table('alerts-table', ['Alert', 'State', 'Since', 'Resolved', 'Details'], list.map(function (a) {
      return h('tr', { 'data-testid': 'alert-' + a.rule }, h('td', {}, a.title),
        h('td', {}, h('span', { class: a.state === 'open' ? 'met-no' : 'met-yes' }, a.state === 'open' ? 'Open' : 'Resolved')),
        h('td', {}, when(a.opened_at)), h('td', {}, when(a.resolved_at)), h('td', {}, a.latest));
    })));
  }

  function sla(s) {
    $('sla').replaceChildren(table('sla-table', ['Objective', 'Compliance', 'Target', 'Judged', 'Met'], s.sla.map(function (o) {
      var met = o.met === null ? h('span', { class: 'muted' }, 'nothing to judge')
        : h('span', { class: o.met ? 'met-yes' : 'met-no' }, o.met ? 'Met' : 'Missed');
      return h('tr', { 'data-testid': 'sla-' + o.name }, h('td', {}, o.objective), h('td', {}, pct(o.compliance)),
        h('td', {}, pct(o.target)), h('td', {}, String(o.measured)), h('td', {}, met));
    })));
  }

  function failures(s) {
    var f = s.failures;
    $('failures').replaceChildren(h('table', { class: 'data', 'data-testid': 'failures-table' }, h('tbody', {}, rows([
      ['Slot taken', num(f.slot_taken)], ['Invalid request', num(f.invalid)], ['Other refusals', num(f.other_refusals)],
      ['Server errors (5xx)', num(f.server_errors)], ['Payment expired', num(f.payment_expired)],
      ['Dead jobs', num(f.dead_jobs)], ['Failed delivery tries', num(f.failed_deliveries)],
      ['Integrations failing now', num(f.integrations_failing)]
    ]))));
  }

  function queue(s) {
    var q = s.queue, d = s.deliveries, w = s.waitlist;
    $('queue').replaceChildren(h('table', { class: 'data', 'data-testid': 'queue-table' }, h('tbody', {}, rows([
      ['Promoter', q.promoter], ['Due, not yet handed to the queue', num(q.due_not_promoted)],
      ['Oldest due job waiting', q.oldest_due_age_seconds + ' s'], ['Queue lag p99', q.lag.p99_seconds === null ? '–' : q.lag.p99_seconds + ' s'],
      ['Messages', num(d.messages) + ' (' + num(d.sent) + ' sent, ' + num(d.failing) + ' failing now)'],
      ['Freed slots refilled', num(w.refilled_slots) + ' of ' + num(w.freed_slots) + ' (' + pct(w.fill_rate) + ')'],
      ['Payments received, less refunds', cents(received(s.payments.revenue))]
    ]))));
  }

  /* Totals first (with each step's conversion from the one before), then each service. */
  function funnel(s) {
    var f = s.funnel, c = f.conversion, t = f.total;
    function cells(label, r, testid) {
      return h('tr', { 'data-testid': testid }, h('th', { scope: 'row' }, label),
        [r.views, r.services, r.slots, r.attempts, r.booked, r.paid].map(function (n) { return h('td', {}, String(n)); }));
    }
    var body = [cells('All services', t, 'funnel-total'),
      h('tr', { 'data-testid': 'funnel-conversion' }, h('th', { scope: 'row' }, 'Conversion'),
        [null, c.chose_service, c.selected_time, c.attempted, c.booked, c.paid].map(function (x) { return h('td', {}, x === null ? '' : pct(x)); }))];
    f.by_service.forEach(function (r) { body.push(cells(r.service, Object.assign({}, r, { views: '' }), 'funnel-service')); });
    $('funnel').replaceChildren(table('funnel-table', ['', 'Page views', 'Service chosen', 'Time selected', 'Attempted', 'Booked', 'Paid'], body),
      h('p', { class: 'muted', 'data-testid': 'funnel-overall' }, 'Bookings per page view: ' + pct(c.overall)));
  }

  /* One uPlot per box, rebuilt when the period changes and fed new data on each refresh. */
  function chart(id, data, series) {
    var box = $(id), width = Math.max(280, box.clientWidth || 600);
    if (!window.uPlot) { box.textContent = 'Charts could not be loaded.'; return; }
    var key = id + ':' + series.length;
    if (charts[id] && charts[id].key === key && charts[id].width === width) { charts[id].plot.setData(data); return; }
    if (charts[id]) charts[id].plot.destroy();
    var opts = { width: width, height: 220, series: [{}].concat(series), axes: [{}, { size: 56 }], legend: { live: false } };
    charts[id] = { key: key, width: width, plot: new window.uPlot(opts, data, box) };
  }

  function draw(s) {
    var t = s.series.map(function (p) { return Date.parse(p.at) / 1000; });
    function col(name) { return s.series.map(function (p) { return p[name]; }); }
    chart('chart-bookings', [t, col('attempts'), col('booked')], [
      { label: 'Attempts', stroke: '#3a6ea5', width: 2 }, { label: 'Booked', stroke: '#2d6a3a', width: 2 }]);
    chart('chart-latency', [t, col('p95_ms')], [{ label: 'p95 ms', stroke: '#8a5a00', width: 2, spanGaps: false }]);
    chart('chart-errors', [t, col('requests'), col('server_errors')], [
      { label: 'Requests', stroke: '#56645f', width: 1 }, { label: '5xx', stroke: '#9b3328', width: 2 }]);
  }

  function load() {
    return api('GET', '/api/admin/stats' + period()).then(function (r) {
      if (r.status === 401 || r.status === 403) return;  // admin.js shows the sign-in gate
      if (!r.ok) { $('problem').textContent = r.data.detail; return; }
      $('problem').textContent = '';
      tiles(r.data); alerts(r.data); sla(r.data); funnel(r.data); failures(r.data); queue(r.data); draw(r.data);
      $('updated').textContent = 'Updated ' + window.HoldfastAdmin.when(new Date().toISOString());
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    var timer = null;
    $('span').addEventListener('change', load);
    window.HoldfastAdmin.ready(function () {
      load();
      if (!timer) timer = setInterval(function () { if (!document.hidden && !$('dashboard').hidden) load(); }, REFRESH_MS);
    });
  });
})();
