// The admin console's waitlist section: the recovery figures, the offers (by state) and who is
// waiting, in the order they are served; times in the admin's zone. Loaded once an admin is signed in.
'use strict';

(function () {
  var $ = window.Holdfast.$, api = window.Holdfast.api;

  function cell(row, text) { var td = document.createElement('td'); td.textContent = text; row.append(td); }

  function table(box, headings, rows) {
    if (!rows.length) { var p = document.createElement('p'); p.className = 'muted'; p.textContent = 'Nothing here yet.'; box.replaceChildren(p); return; }
    var t = document.createElement('table'), head = document.createElement('tr');
    headings.forEach(function (h) { var th = document.createElement('th'); th.textContent = h; head.append(th); });
    t.append(head);
    rows.forEach(function (values) { var tr = document.createElement('tr'); values.forEach(function (v) { cell(tr, v); }); t.append(tr); });
    box.replaceChildren(t);
  }

  var when = window.HoldfastAdmin.when;
  function person(x) { return x.user_name ? x.user_name + ' <' + x.user_email + '>' : x.user_id; }

  function load() {
    api('GET', '/api/admin/stats').then(function (r) {
      if (!r.ok) return;
      var w = r.data.waitlist, money = Object.keys(w.revenue_recovered).map(function (c) { return (w.revenue_recovered[c] / 100).toFixed(2) + ' ' + c; }).join(', ');
      $('waitlist-figures').textContent = 'Last 30 days: ' + w.freed_slots + ' freed slots, ' + w.refilled_slots + ' refilled' +
        (w.fill_rate === null ? '' : ' (' + Math.round(w.fill_rate * 100) + '%)') + (money ? ', ' + money + ' recovered' : '') +
        (w.offer_latency.p50_seconds === null ? '' : '; first offer after ' + w.offer_latency.p50_seconds + ' s (median)') + '.';
    });
    var state = $('offer-state').value;
    api('GET', '/api/admin/offers' + (state ? '?state=' + encodeURIComponent(state) : '')).then(function (r) {
      if (!r.ok) return;
      table($('waitlist-offers'), ['Slot', 'Client', 'Session', 'State', 'Offered', 'Expires'], r.data.map(function (o) {
        return [when(o.start), person(o), (o.service_name || '') + ' with ' + (o.provider_name || ''), o.state, when(o.created_at), when(o.expires_at)];
      }));
    });
    api('GET', '/api/admin/waitlist').then(function (r) {
      if (!r.ok) return;
      table($('waitlist-entries'), ['Client', 'Service', 'Provider', 'Joined'], r.data.map(function (e) {
        return [person(e), e.service_name || e.service_id, e.provider_id ? (e.provider_name || e.provider_id) : 'any', when(e.joined_at)];
      }));
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    $('waitlist-refresh').addEventListener('click', load);
    $('offer-state').addEventListener('change', load);
    window.HoldfastAdmin.ready(load);
  });
})();
