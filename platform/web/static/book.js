/* Holdfast booking page: services -> times -> confirm -> my bookings. No build step. */
(function () {
  'use strict';
  var Z = window.HoldfastZones, TZ = Z.device, DAYS = 14;
  var H = window.Holdfast, $ = H.$, h = H.h, api = H.api, say = H.say, money = H.money;
  var todayYmd = H.todayYmd, fmtWhen = H.fmtWhen, localYmd = H.localYmd, newKey = H.newKey;
  // zone: the signed-in client's own timezone, else this device's, unless changed on the page.
  var state = { user: null, services: [], providers: new Map(), service: null, providerId: '', zone: TZ,
    from: null, days: [], byDate: new Map(), day: null, slot: null, intent: null, inFlight: false, seq: 0 };
  var STATUS = window.HoldfastMyBookings.STATUS;

  function duration(n) { return n < 60 ? n + ' min' : Math.floor(n / 60) + ' h' + (n % 60 ? ' ' + (n % 60) + ' min' : ''); }
  function utcDate(ymd) { var p = ymd.split('-').map(Number); return new Date(Date.UTC(p[0], p[1] - 1, p[2])); }
  function addDays(ymd, n) { var d = utcDate(ymd); d.setUTCDate(d.getUTCDate() + n); return d.toISOString().slice(0, 10); }
  function fmtDay(ymd, opts) { return new Intl.DateTimeFormat(undefined, Object.assign({ timeZone: 'UTC' }, opts)).format(utcDate(ymd)); }
  function fmtTime(iso, zone) { return new Intl.DateTimeFormat(undefined, { timeZone: zone, hour: '2-digit', minute: '2-digit' }).format(new Date(iso)); }
  function providerName(id) { var p = state.providers.get(id); return p ? p.name : 'Practitioner'; }
  function serviceById(id) { return state.services.find(function (s) { return s.id === id; }); }

  /* ---- account ---- */
  function setUser(user) {
    state.user = user; bookNow.reset(user);
    $('whoami').hidden = !user; $('whoami').textContent = user ? 'Signed in as ' + user.name : '';
    $('login-open').hidden = !!user; $('register-open').hidden = !!user; $('logout-button').hidden = !user;
    $('account-link').hidden = !user;
    if (user) closeAuth();
    var zone = user ? user.timezone : TZ;
    if (zone !== state.zone) { state.zone = zone; showZone(); loadSlots(true); }
    myBookings.load(user);
  }
  function loadBookings() { myBookings.load(); }

  /* ---- the timezone times are shown in ("Times shown in …, change") ---- */
  function showZone() {
    say('tz-name', Z.label(state.zone) + ' (' + state.zone + ')');
  }
  function changeZone() {
    Z.fill($('tz-select'), state.zone); $('tz-picker').hidden = false; $('tz-change').setAttribute('aria-expanded', 'true');
    $('tz-select').focus();
  }
  function closeZone() { $('tz-picker').hidden = true; $('tz-change').setAttribute('aria-expanded', 'false'); }
  function applyZone() {
    var zone = $('tz-select').value;
    closeZone(); say('tz-error', '');
    var saved = state.user ? api('PATCH', '/api/me', { timezone: zone }) : Promise.resolve({ ok: true, data: null });
    return saved.then(function (r) {
      if (!r.ok) { say('tz-error', r.data.detail); return; }
      if (r.data) state.user = r.data;
      state.zone = zone; showZone(); loadSlots(true); loadBookings();
      $('tz-change').focus();
    });
  }
  function openAuth(which, message) {
    $('auth-panel').hidden = false;
    $('login-form').hidden = which !== 'login'; $('register-form').hidden = which !== 'register';
    $('login-open').setAttribute('aria-expanded', String(which === 'login'));
    $('register-open').setAttribute('aria-expanded', String(which === 'register'));
    say('auth-message', message); $('auth-message').hidden = !message;
    say('login-error', ''); say('register-error', '');
    $(which === 'login' ? 'login-email' : 'register-name').focus();
  }
  function closeAuth() {
    $('auth-panel').hidden = true;
    $('login-open').setAttribute('aria-expanded', 'false'); $('register-open').setAttribute('aria-expanded', 'false');
  }
  // The first empty field, said in words and focused (never the server's raw validation text).
  function missing(errId, fields) {
    var empty = fields.find(function (f) { return !$(f[0]).value.trim(); });
    if (!empty) return false;
    say(errId, empty[1]); $(empty[0]).focus();
    return true;
  }
  function submitting(btn, busy, label) { btn.disabled = busy; btn.setAttribute('aria-busy', String(busy)); btn.textContent = label; }

  function logIn(email, password, errId, btn, label) {
    return api('POST', '/api/auth/login', { email: email, password: password }).then(function (r) {
      submitting(btn, false, label);
      if (!r.ok) return say(errId, r.data.detail);
      $('login-form').reset(); $('register-form').reset(); $('register-timezone').value = TZ;
      setUser(r.data.user);
      if (state.slot && !$('confirm-panel').hidden) $('book-button').focus();
    });
  }

  /* ---- services and times ---- */
  // Optional per-service hand-off to Calendly (booknow.js); the page works the same without it.
  var bookNow = window.HoldfastBookNow ? window.HoldfastBookNow({ api: api, h: h, user: function () { return state.user; },
    login: function (message) { openAuth('login', message); }, signedOut: function () { setUser(null); },
    refresh: function () { loadBookings(); loadSlots(true); } })
    : { control: function () { return null; }, prefetch: function () {}, reset: function () {} };

  function renderServices() {
    var box = $('services');
    box.setAttribute('aria-busy', 'false'); box.replaceChildren();
    if (!state.services.length) box.append(h('p', { class: 'muted', 'data-testid': 'services-empty' }, 'No services are open for booking yet.'));
    state.services.forEach(function (svc) {
      var card = h('button', { type: 'button', class: 'card', 'data-testid': 'service-card', 'data-service-id': svc.id,
        'aria-pressed': String(state.service === svc), onclick: function () { chooseService(svc); } },
      h('span', { class: 'card-title', 'data-testid': 'service-name' }, svc.name),
      svc.description ? h('span', { class: 'card-desc', 'data-testid': 'service-description' }, svc.description) : null,
      h('span', { class: 'card-meta' },
        h('span', { 'data-testid': 'service-duration' }, duration(svc.duration_minutes)),
        h('span', { class: 'price', 'data-testid': 'service-price' }, money(svc.price))));
      box.append(h('div', { class: 'service', 'data-testid': 'service' }, card, bookNow.control(svc, card)));
    });
  }

  // Re-rendering replaces the buttons: the one that had focus gets it back (else it falls to
  // <body>, and a keyboard user starts again from the top of the page).
  function refocus(box, selector) {
    var el = box.querySelector(selector);
    if (el) el.focus();
  }

  function chooseService(svc) {
    state.service = svc; state.slot = null; state.from = null; renderServices(); bookNow.prefetch(svc);
    refocus($('services'), '[data-testid="service-card"][data-service-id="' + svc.id + '"]');
    var sel = $('provider-filter');
    sel.replaceChildren(h('option', { value: '' }, 'Any practitioner'));
    svc.provider_ids.forEach(function (id) { sel.append(h('option', { value: id }, providerName(id))); });
    if (svc.provider_ids.indexOf(state.providerId) < 0) state.providerId = '';
    sel.value = state.providerId;
    $('times-section').hidden = false; $('confirm-panel').hidden = true;
    loadSlots(false);
  }

  // Availability comes a page at a time: follow `next` until the window is complete.
  function allSlots(q, earlier) {
    return api('GET', '/api/availability?' + q).then(function (r) {
      if (!r.ok) return r;
      var slots = (earlier || []).concat(r.data.slots);
      if (!r.data.next || slots.length >= 10000) { r.data.slots = slots; return r; }
      q.set('cursor', r.data.next);
      return allSlots(q, slots);
    });
  }

  // The first day shown (today in the zone shown, or later after "Later days").
  function firstDay() { return localYmd(new Date().toISOString(), state.zone); }

  function loadSlots(keepDay) {
    var svc = state.service, seq = ++state.seq, today = firstDay();
    if (!svc) return Promise.resolve();
    if (!state.from || state.from < today) state.from = today;
    var from = state.from;
    var q = new URLSearchParams({ service_id: svc.id, from: from, days: String(DAYS), tz: state.zone });
    if (state.providerId) q.set('provider_id', state.providerId);
    $('slots').setAttribute('aria-busy', 'true');
    if (!keepDay) $('slots').replaceChildren(h('p', { class: 'muted' }, 'Loading available times…'));
    return allSlots(q).then(function (r) {
      if (seq !== state.seq) return;
      $('slots').setAttribute('aria-busy', 'false');
      if (!r.ok) return $('slots').replaceChildren(h('p', { class: 'error', role: 'alert', 'data-testid': 'slots-error' }, r.data.detail));
      state.byDate = new Map();
      r.data.slots.forEach(function (s) {
        var d = localYmd(s.start, state.zone);
        state.byDate.set(d, (state.byDate.get(d) || []).concat([s]));
      });
      state.days = [];
      for (var i = 0; i < DAYS; i++) state.days.push(addDays(from, i));
      state.byDate.forEach(function (_, d) { if (state.days.indexOf(d) < 0) state.days.push(d); });
      state.days.sort();
      if (!keepDay || !state.byDate.has(state.day)) state.day = state.days.find(function (d) { return state.byDate.has(d); }) || null;
      renderSlots();
      if (state.focusDays) { var which = state.focusDays; state.focusDays = null; refocus($('slots'), '[data-testid="days-' + which + '"]:not([disabled])'); }
    });
  }

  /* Earlier / later fortnights: any day within the booking horizon can be reached. */
  function pageDays(which) {
    state.from = addDays(state.from, which === 'later' ? DAYS : -DAYS);
    state.slot = null; state.focusDays = which; $('confirm-panel').hidden = true;
    return loadSlots(false);
  }
  function dayNav() {
    var last = addDays(state.from, DAYS - 1);
    return h('div', { class: 'day-nav actions' },
      h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'data-testid': 'days-earlier', disabled: state.from <= firstDay(),
        onclick: function () { pageDays('earlier'); } }, '‹ Earlier days'),
      h('span', { class: 'muted', 'data-testid': 'days-range' }, fmtDay(state.from, { day: 'numeric', month: 'short' }) + ' – ' + fmtDay(last, { day: 'numeric', month: 'short', year: 'numeric' })),
      h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'data-testid': 'days-later', onclick: function () { pageDays('later'); } }, 'Later days ›'));
  }

  function slotButton(s, testid) {
    var selected = state.slot && state.slot.start === s.start && state.slot.provider_id === s.provider_id;
    var many = !state.providerId && state.service.provider_ids.length > 1;
    return h('button', {
      type: 'button', class: 'slot', 'data-testid': testid, 'data-start': s.start, 'data-provider-id': s.provider_id,
      'aria-pressed': String(!!selected), onclick: function () { selectSlot(s); },
      'aria-label': fmtDay(localYmd(s.start, state.zone), { weekday: 'long', day: 'numeric', month: 'long' }) + ' at ' +
        fmtTime(s.start, state.zone) + ' with ' + providerName(s.provider_id)
    }, h('span', { class: 'slot-time' }, fmtTime(s.start, state.zone)),
    many || testid !== 'slot' ? h('span', { class: 'slot-who' }, providerName(s.provider_id)) : null);
  }

  function renderSlots() {
    var box = $('slots');
    box.replaceChildren();
    if (!state.byDate.size) {
      return box.append(dayNav(), h('p', { class: 'empty', 'data-testid': 'slots-empty' }, 'No times are free on these days. Try later days, another practitioner, or check back soon.'));
    }
    var strip = h('div', { class: 'daystrip', role: 'group', 'aria-label': 'Days', 'data-testid': 'day-strip' });
    state.days.forEach(function (d) {
      var n = (state.byDate.get(d) || []).length;
      strip.append(h('button', { type: 'button', class: 'day', 'data-testid': 'day-button', 'data-date': d, disabled: n === 0,
        'aria-pressed': String(d === state.day), onclick: function () { state.day = d; renderSlots(); refocus($('slots'), '[data-testid="day-button"][data-date="' + d + '"]'); } }, h('span', { class: 'day-name' }, fmtDay(d, { weekday: 'short' })),
      h('span', { class: 'day-num' }, fmtDay(d, { day: 'numeric', month: 'short' })),
      h('span', { class: 'day-count' }, n ? n + (n === 1 ? ' time' : ' times') : 'No times')));
    });
    var slots = state.byDate.get(state.day) || [];
    var group = h('div', { class: 'day-group', 'data-testid': 'day-group', 'data-date': state.day },
      h('h3', {}, fmtDay(state.day, { weekday: 'long', day: 'numeric', month: 'long' })),
      slots.length ? h('div', { class: 'slot-grid' }, slots.map(function (s) { return slotButton(s, 'slot'); }))
        : h('p', { class: 'muted' }, 'No free times on this day.'));
    box.append(dayNav(), strip, group);
  }

  function selectSlot(s) {
    state.slot = s; state.day = localYmd(s.start, state.zone); $('book-button').disabled = false; renderSlots();
    var svc = state.service, rows = [
      ['Service', svc.name], ['Practitioner', providerName(s.provider_id)],
      ['Date', fmtDay(state.day, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' })],
      ['Time', fmtTime(s.start, state.zone) + ' – ' + fmtTime(s.end, state.zone) + ' (' + state.zone + ')'],
      ['Duration', duration(svc.duration_minutes)], ['Price', money(svc.price)]
    ];
    $('confirm-details').replaceChildren.apply($('confirm-details'), rows.map(function (r) {
      return h('div', { class: 'detail' }, h('dt', {}, r[0]), h('dd', { 'data-testid': 'confirm-' + r[0].toLowerCase() }, r[1]));
    }));
    say('book-error', ''); $('alternatives').replaceChildren();
    $('confirmation').hidden = true; $('confirm-panel').hidden = false; $('confirm-panel').focus();
  }

  function book() {
    if (state.inFlight || !state.slot) return;
    if (!state.user) { openAuth('login', 'Please log in or create an account to book. Your chosen time is kept.'); return; }
    var s = state.slot, svc = state.service, btn = $('book-button');
    var body = { service_id: svc.id, provider_id: s.provider_id, start: s.start }, sig = JSON.stringify(body);
    if (!state.intent || state.intent.sig !== sig) state.intent = { sig: sig, key: newKey() };
    state.inFlight = true; submitting(btn, true, 'Booking…');
    say('book-error', ''); $('alternatives').replaceChildren();
    api('POST', '/api/bookings', body, { 'Idempotency-Key': state.intent.key }).then(function (r) {
      state.inFlight = false; submitting(btn, false, 'Book');
      if (r.ok) {
        state.intent = null; state.slot = null; $('confirm-panel').hidden = true;
        showConfirmation(r.data);
        // A prepaid service: on to Stripe's Checkout (no reloads the page is leaving would
        // abort); only Stripe's webhook confirms it.
        if (r.data.payment && r.data.payment.checkout_url) return window.location.assign(r.data.payment.checkout_url);
        loadSlots(true); loadBookings();
        return;
      }
      var retryable = r.status === 0 || r.status >= 500 || r.data.error === 'request_in_progress';
      if (retryable) return say('book-error', r.data.detail + ' Pressing Book again is safe: it will not book twice.');
      state.intent = null; say('book-error', r.data.detail);
      if (r.status === 401) { setUser(null); openAuth('login', r.data.detail); return; }
      if (r.status === 409 && r.data.error === 'slot_taken') {
        var alts = r.data.alternatives || [];
        if (alts.length) $('alternatives').append(h('p', { class: 'hint' }, 'These nearby times are free:'));
        alts.forEach(function (a) { $('alternatives').append(slotButton(a, 'alternative-slot')); });
        btn.disabled = true; loadSlots(true);
      }
    });
  }

  // Where the session takes place, as the invite says (see holdfast.notifications.compose).
  function where(svc, b) {
    var location = svc ? svc.location : 'in_person';
    if (location === 'video') return b.meeting ? h('a', { href: b.meeting.join_url, 'data-testid': 'confirmation-join' }, b.meeting.join_url) : 'Online: the video link follows by email';
    if (location === 'phone') return 'By phone: ' + providerName(b.provider_id) + ' will call you';
    return document.body.dataset.practiceAddress || 'In person with ' + providerName(b.provider_id);
  }

  function showConfirmation(b) {
    var svc = serviceById(b.service_id), box = $('confirmation');
    var head = b.status === 'confirmed' ? 'You’re booked' : b.status === 'pending_payment' ? 'Almost done: awaiting payment' : 'Your time is held';
    var rows = [
      ['When', fmtWhen(b.start, state.zone), 'confirmation-time'],
      ['Ends', fmtTime(b.end, state.zone), 'confirmation-end'],
      ['Price', money(svc && svc.price), 'confirmation-price'],
      ['Where', where(svc, b), 'confirmation-where']
    ];
    box.replaceChildren(h('h2', {}, head),
      h('p', {}, (svc ? svc.name : 'Session') + ' with ' + providerName(b.provider_id)),
      h('dl', { class: 'details' }, rows.map(function (r) {
        return h('div', { class: 'detail' }, h('dt', {}, r[0]), h('dd', { 'data-testid': r[2] }, r[1]));
      })),
      h('p', { class: 'muted' }, 'Status: ', h('span', { 'data-testid': 'confirmation-status' }, STATUS[b.status] || b.status),
        ' · Reference ', h('span', { 'data-testid': 'confirmation-id' }, b.id)),
      b.status === 'expired' || b.status === 'cancelled' ? null : h('p', {},
        h('a', { class: 'btn btn-quiet', href: '/api/bookings/' + encodeURIComponent(b.id) + '/calendar.ics', download: 'holdfast-' + b.id + '.ics',
          'data-testid': 'confirmation-calendar' }, 'Add to calendar')));
    box.hidden = false; box.focus();
  }

  /* ---- my bookings (mybookings.js) ---- */
  var myBookings = window.HoldfastMyBookings({
    box: document.getElementById('my-bookings'), zone: function () { return state.zone; }, service: serviceById, providerName: providerName,
    changed: function () { loadSlots(true); }, signedOut: function () { setUser(null); }
  });

  /* ---- wiring ---- */
  document.addEventListener('DOMContentLoaded', function () {
    Z.fill($('register-timezone'), TZ);
    showZone();
    $('tz-change').addEventListener('click', changeZone);
    $('tz-apply').addEventListener('click', applyZone);
    $('tz-cancel').addEventListener('click', function () { closeZone(); $('tz-change').focus(); });
    $('login-open').addEventListener('click', function () { openAuth('login'); });
    $('register-open').addEventListener('click', function () { openAuth('register'); });
    $('auth-close').addEventListener('click', closeAuth);
    $('auth-panel').addEventListener('keydown', function (e) { if (e.key === 'Escape') { closeAuth(); $('login-open').focus(); } });
    document.querySelectorAll('[data-auth-switch]').forEach(function (b) {
      b.addEventListener('click', function () { openAuth(b.dataset.authSwitch, $('auth-message').textContent); });
    });
    $('login-form').addEventListener('submit', function (e) {
      e.preventDefault(); say('login-error', '');
      if (missing('login-error', [['login-email', 'Please give your email address.'], ['login-password', 'Please give your password.']])) return;
      submitting($('login-submit'), true, 'Logging in…');
      logIn($('login-email').value.trim(), $('login-password').value, 'login-error', $('login-submit'), 'Log in');
    });
    $('register-form').addEventListener('submit', function (e) {
      e.preventDefault(); say('register-error', '');
      var btn = $('register-submit'), email = $('register-email').value.trim(), password = $('register-password').value;
      if (missing('register-error', [['register-name', 'Please tell us your name.'], ['register-email', 'Please give your email address.'],
        ['register-password', 'Please choose a password (at least 8 characters).']])) return;
      if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) { say('register-error', 'That email address does not look right; please check it.'); $('register-email').focus(); return; }
      if (password.length < 8) { say('register-error', 'Please choose a password of at least 8 characters.'); $('register-password').focus(); return; }
      submitting(btn, true, 'Creating account…');
      api('POST', '/api/auth/register', {
        email: email, password: password, name: $('register-name').value.trim(), timezone: $('register-timezone').value.trim() || TZ
      }).then(function (r) {
        if (!r.ok) { submitting(btn, false, 'Create account'); return say('register-error', r.data.detail); }
        return logIn(email, password, 'register-error', btn, 'Create account');
      });
    });
    $('logout-button').addEventListener('click', function () { api('POST', '/api/auth/logout').then(function () { setUser(null); $('login-open').focus(); }); });
    $('provider-filter').addEventListener('change', function (e) {
      state.providerId = e.target.value; state.slot = null; $('confirm-panel').hidden = true; loadSlots(false);
    });
    $('book-button').addEventListener('click', book);
    $('change-slot').addEventListener('click', function () {
      $('confirm-panel').hidden = true; state.slot = null; renderSlots();
      var first = $('slots').querySelector('.slot'); if (first) first.focus();
    });
    Promise.all([api('GET', '/api/services'), api('GET', '/api/providers'), api('GET', '/api/me')]).then(function (rs) {
      if (rs[1].ok) rs[1].data.forEach(function (p) { state.providers.set(p.id, p); });
      if (rs[0].ok) { state.services = rs[0].data; renderServices(); }
      else $('services').replaceChildren(h('p', { class: 'error', role: 'alert', 'data-testid': 'services-error' }, rs[0].data.detail));
      setUser(rs[2].ok ? rs[2].data : null);
    });
  });
})();
