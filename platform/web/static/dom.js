/* Holdfast's page helpers, shared by every page's own script (loaded before it: the CSP allows no
   inline scripts and there is no build step). window.Holdfast = { $, h, api, say, byId, nameOf,
   pad, todayYmd, localYmd, fmtWhen, money, table, newKey }. */
(function () {
  'use strict';

  function $(id) { return document.getElementById(id); }

  /* An element: h('button', { class: 'btn', onclick: fn, disabled: true }, 'Save', child, [more]).
     on* attributes become listeners, `value` the property; null/false ones and kids are left out. */
  function h(tag, attrs) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v == null || v === false) return;
      if (k.slice(0, 2) === 'on') el.addEventListener(k.slice(2), v);
      else if (k === 'class') el.className = v;
      else if (k === 'value') el.value = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    });
    Array.prototype.slice.call(arguments, 2).flat().forEach(function (kid) {
      if (kid != null && kid !== false) el.append(kid.nodeType ? kid : String(kid));
    });
    return el;
  }

  /* A JSON call with the session cookie. Resolves (never rejects) to { ok, status, data, next,
     date }: a failed call's data always has a `detail` sentence to show; `next` is the paging
     cursor (X-Next-Cursor), `date` the server's Date header. */
  function api(method, path, body, headers) {
    var init = { method: method, credentials: 'same-origin', headers: Object.assign({ Accept: 'application/json' }, headers) };
    if (body !== undefined) { init.headers['Content-Type'] = 'application/json'; init.body = JSON.stringify(body); }
    return fetch(path, init).then(function (res) {
      return res.json().catch(function () { return null; }).then(function (data) {
        if (!res.ok && !(data && data.detail)) data = { error: 'http_' + res.status, detail: 'Something went wrong (' + res.status + '). Please try again.' };
        return { ok: res.ok, status: res.status, data: data, next: res.headers.get('X-Next-Cursor'), date: res.headers.get('Date') };
      });
    }, function () { return { ok: false, status: 0, data: { error: 'network', detail: 'Could not reach Holdfast. Check your connection and try again.' } }; });
  }

  function say(id, text) { $(id).textContent = text || ''; }
  function byId(list, id) { return list.find(function (x) { return x.id === id; }); }
  function nameOf(list, id) { var x = byId(list, id); return x ? x.name : id; }
  function pad(n) { return String(n).padStart(2, '0'); }
  function todayYmd() { var d = new Date(); return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()); }
  /* The date (YYYY-MM-DD) an instant falls on in a timezone. */
  function localYmd(iso, zone) {
    var parts = {};
    new Intl.DateTimeFormat('en-GB', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' })
      .formatToParts(new Date(iso)).forEach(function (p) { parts[p.type] = p.value; });
    return parts.year + '-' + parts.month + '-' + parts.day;
  }
  function fmtWhen(iso, zone) {
    var opts = { timeZone: zone, weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit' };
    return new Intl.DateTimeFormat(undefined, opts).format(new Date(iso)) + ' (' + zone + ')';
  }
  function money(price) {
    if (!price || !price.amount_cents) return 'Free';
    try { return new Intl.NumberFormat(undefined, { style: 'currency', currency: price.currency }).format(price.amount_cents / 100); }
    catch (e) { return (price.amount_cents / 100).toFixed(2) + ' ' + price.currency; }
  }
  function table(testid, heads, rows) {
    return h('table', { class: 'data', 'data-testid': testid },
      h('thead', {}, h('tr', {}, heads.map(function (t) { return h('th', { scope: 'col' }, t); }))), h('tbody', {}, rows));
  }

  /* An Idempotency-Key: one per request a person means, so a double submit repeats it. */
  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var x = Array.from(b, function (n) { return n.toString(16).padStart(2, '0'); }).join('');
    return [x.slice(0, 8), x.slice(8, 12), x.slice(12, 16), x.slice(16, 20), x.slice(20)].join('-');
  }

  window.Holdfast = Object.freeze({
    $: $, h: h, api: api, say: say, byId: byId, nameOf: nameOf, pad: pad, todayYmd: todayYmd,
    localYmd: localYmd, fmtWhen: fmtWhen, money: money, table: table, newKey: newKey
  });
})();
