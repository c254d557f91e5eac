/* The admin console's shell, loaded by every section page before the section's own script:
   the one sign-in gate, who is signed in, the section menu on a phone, and what every section
   shares (window.HoldfastAdmin): ready(fn) runs fn(user) once an admin is signed in (again
   after a new sign-in), times in the admin's own timezone with the zone named, people by name
   and email, catalog lists, and the pieces the scheduling forms share. */
(function () {
  'use strict';
  var H = window.Holdfast, $ = H.$, h = H.h, say = H.say;
  var STATUS = { held: 'Held', pending_payment: 'Awaiting payment', confirmed: 'Confirmed', cancelled: 'Cancelled', expired: 'Expired (not paid)' };
  var PAYMENT = { pending: 'Awaiting payment', due: 'Due (pay later)', paid: 'Paid', refunded: 'Refunded', partially_refunded: 'Partly refunded',
    failed: 'Failed', expired: 'Not paid' };
  var waiting = [], state = { user: null, uid: 0 };

  /* The shared call; a 401 means the session ended: back to the gate. */
  function api(method, path, body, headers) {
    return H.api(method, path, body, headers).then(function (r) {
      if (r.status === 401 && path !== '/api/auth/login') showGate('Your session has ended. Please log in again.');
      return r;
    });
  }
  function busy(btn, on) { btn.disabled = on; btn.setAttribute('aria-busy', String(on)); }
  function nextId(prefix) { state.uid += 1; return prefix + '-' + state.uid; }

  /* ---- the gate ---- */
  function showGate(message) {
    state.user = null;
    $('dashboard').hidden = true; $('console-nav').hidden = true; $('gate').hidden = false;
    $('whoami').hidden = true; $('logout-button').hidden = true;
    say('gate-message', message);
  }
  function enter(user) {
    if (!user || user.role !== 'admin') {
      return showGate(user ? 'You are signed in as ' + user.email + ', which is not an admin account. Log in as an admin to continue.'
        : 'Please log in with an admin account.');
    }
    state.user = user;
    $('gate').hidden = true; $('dashboard').hidden = false; $('console-nav').hidden = false;
    $('whoami').hidden = false; $('whoami').textContent = 'Signed in as ' + user.name; $('logout-button').hidden = false;
    $('admin-zone').replaceChildren('Times in your timezone, ' + zone() + ' (', h('a', { href: '/account' }, 'change'), ').');
    waiting.forEach(function (fn) { fn(user); });
  }
  function ready(fn) {
    waiting.push(fn);
    if (state.user) fn(state.user);
  }

  /* ---- what sections share ---- */
  /* The admin's own timezone (their account's), else the browser's. */
  function zone() { return (state.user && state.user.timezone) || Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'; }
  function when(iso) { return iso ? H.fmtWhen(iso, zone()) : ''; }
  function person(c) { return c ? c.name + ' <' + c.email + '>' : ''; }
  function status(s) { return h('span', { class: 'badge badge-' + s, 'data-testid': 'booking-status' }, STATUS[s] || s); }
  /* A booking's payment as a person reads it ('' when the session is not paid for). */
  function payment(p) {
    if (!p) return '';
    var paid = H.money({ amount_cents: p.amount_cents, currency: p.currency }) + ' · ' + (PAYMENT[p.status] || p.status);
    return p.refunded_cents ? paid + ' (' + H.money({ amount_cents: p.refunded_cents, currency: p.currency }) + ' refunded)' : paid;
  }
  /* A video session's join link, or null. */
  function join(b) {
    var url = b.meeting && b.meeting.join_url;
    return url ? h('a', { href: url, rel: 'noopener', target: '_blank', 'data-testid': 'join-link' }, 'Join video') : null;
  }
  /* Every item of a paged admin list (a day's or a week's sessions: a few pages at most). */
  function all(path, q) {
    var items = [];
    function page(cursor) {
      if (cursor) q.set('cursor', cursor);
      return api('GET', path + '?' + q).then(function (r) {
        if (!r.ok) return r;
        items = items.concat(r.data);
        return r.next ? page(r.next) : { ok: true, data: items };
      });
    }
    q.set('limit', '200');
    return page(null);
  }
  /* A paged admin list as a table, 50 rows a page: load(false) draws the first page, load(true)
     appends the next; the More button shows while the API has one. o: { box, more, path,
     query() (URLSearchParams), testid, heads() ([th]), row(item) (tr), empty() (text) }. */
  function pagedTable(o) {
    var cursor = null;
    function load(more) {
      var q = o.query();
      q.set('limit', '50');
      if (more && cursor) q.set('cursor', cursor);
      return api('GET', o.path + '?' + q).then(function (r) {
        if (!r.ok) return fail(o.box, r);
        cursor = r.next; o.more.hidden = !cursor;
        var body = more ? o.box.querySelector('tbody') : null;
        if (body) { r.data.forEach(function (x) { body.append(o.row(x)); }); return; }
        if (!r.data.length) return empty(o.box, o.testid + '-empty', o.empty());
        o.box.replaceChildren(H.table(o.testid + '-table', o.heads(), r.data.map(o.row)));
      });
    }
    o.more.addEventListener('click', function () { load(true); });
    return load;
  }
  function fail(box, r) { box.replaceChildren(h('p', { class: 'error', role: 'alert' }, r.data.detail)); }
  function empty(box, testid, text) { box.replaceChildren(h('p', { class: 'muted', 'data-testid': testid }, text)); }
  /* The query string's value of `name` ('' when absent). */
  function param(name) { return new URLSearchParams(window.location.search).get(name) || ''; }

  /* Services and practitioners (archived ones too: old bookings name them). */
  var catalog = null;
  function loadCatalog(fresh) {
    if (!catalog || fresh) {
      catalog = Promise.all([api('GET', '/api/admin/services?limit=500'), api('GET', '/api/admin/providers?limit=500')]).then(function (rs) {
        return { services: rs[0].ok ? rs[0].data : [], providers: rs[1].ok ? rs[1].data : [] };
      });
    }
    return catalog;
  }
  function options(select, list, keep, blank) {
    var was = keep ? select.value : '';
    var opts = list.map(function (x) { return h('option', { value: x.id }, x.name); });
    if (blank) opts.unshift(h('option', { value: '' }, blank));
    select.replaceChildren.apply(select, opts);
    if (was && (H.byId(list, was) || was === '')) select.value = was;
  }

  function fields(ms, tz) {
    var p = {};
    new Intl.DateTimeFormat('en-GB', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', second: '2-digit' }).formatToParts(new Date(ms)).forEach(function (x) { p[x.type] = x.value; });
    return p;
  }
  /* A wall-clock time ("2027-03-02T09:00") in `tz` as an instant. */
  function zonedToIso(local, tz) {
    var m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(local);
    if (!m) return null;
    var wall = Date.UTC(+m[1], m[2] - 1, +m[3], +m[4], +m[5]), t = wall;
    for (var i = 0; i < 2; i++) {
      var f = fields(t, tz);
      t = wall - (Date.UTC(+f.year, f.month - 1, +f.day, +f.hour, +f.minute, +f.second) - t);
    }
    return new Date(t).toISOString();
  }
  /* "HH:MM" of an instant in `tz`. */
  function clock(iso, tz) { var f = fields(Date.parse(iso), tz || zone()); return f.hour + ':' + f.minute; }
  /* Today's date in the admin's zone. */
  function today() { return H.localYmd(new Date().toISOString(), zone()); }
  function addDays(ymd, n) {
    var d = new Date(ymd + 'T12:00:00Z'); d.setUTCDate(d.getUTCDate() + n);
    return d.toISOString().slice(0, 10);
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

  /* A client chooser for the forms that act for a client: search by name or email, choose one;
     `?client=<id>` on the page's URL chooses that client at once. onPick(user). */
  function clientPicker(prefix, onPick) {
    var form = $(prefix + '-client-search'), box = $(prefix + '-client-results');
    function pick(u) {
      box.replaceChildren(); onPick(u);
      say(prefix + '-client', 'For ' + person(u));
    }
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      var q = $(prefix + '-client-q').value.trim();
      api('GET', '/api/admin/users?limit=20' + (q ? '&q=' + encodeURIComponent(q) : '')).then(function (r) {
        if (!r.ok) return fail(box, r);
        if (!r.data.length) return empty(box, prefix + '-client-none', 'No client matches.');
        box.replaceChildren(h('ul', { class: 'plain-list' }, r.data.map(function (u) {
          return h('li', { class: 'item' }, h('span', {}, person(u)), h('button', { type: 'button', class: 'btn btn-quiet btn-small',
            'data-testid': prefix + '-client-choose', onclick: function () { pick(u); } }, 'Choose'));
        })));
      });
    });
    var id = param('client');
    if (id) {
      ready(function () {
        api('GET', '/api/admin/users/' + encodeURIComponent(id)).then(function (r) { if (r.ok) pick(r.data.user); });
      });
    }
  }

  window.HoldfastAdmin = Object.freeze({
    ready: ready, api: api, busy: busy, nextId: nextId, zone: zone, when: when, person: person, status: status,
    STATUS: STATUS, PAYMENT: PAYMENT, payment: payment, join: join, all: all, pagedTable: pagedTable, fail: fail, empty: empty, param: param, loadCatalog: loadCatalog, options: options, fields: fields,
    zonedToIso: zonedToIso, clock: clock, today: today, addDays: addDays, keyFor: keyFor, answered: answered, clientPicker: clientPicker
  });

  document.addEventListener('DOMContentLoaded', function () {
    var toggle = $('menu-toggle'), nav = $('console-nav');
    toggle.addEventListener('click', function () {
      var open = toggle.getAttribute('aria-expanded') !== 'true';
      toggle.setAttribute('aria-expanded', String(open)); nav.classList.toggle('open', open);
    });
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
    api('GET', '/api/me').then(function (r) { enter(r.ok ? r.data : null); });
  });
})();
