/* Holdfast booking page: services -> times -> confirm -> my bookings. No build step. */
(function () {
  'use strict';
  var TZ = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  var H = window.Holdfast, $ = H.$, h = H.h, api = H.api, say = H.say, money = H.money;
  var todayYmd = H.todayYmd, fmtWhen = H.fmtWhen, newKey = H.newKey;
  var state = { user: null, services: [], providers: new Map(), service: null, providerId: '', zone: TZ,
    days: [], byDate: new Map(), day: null, slot: null, intent: null, inFlight: false, seq: 0 };
  var STATUS = { held: 'Held', pending_payment: 'Awaiting payment', confirmed: 'Confirmed', cancelled: 'Cancelled', expired: 'Expired (not paid)' };

  function duration(n) { return n < 60 ? n + ' min' : Math.floor(n / 60) + ' h' + (n % 60 ? ' ' + (n % 60) + ' min' : ''); }
  function utcDate(ymd) { var p = ymd.split('-').map(Number); return new Date(Date.UTC(p[0], p[1] - 1, p[2])); }
  function addDays(ymd, n) { var d = utcDate(ymd); d.setUTCDate(d.getUTCDate() + n); return d.toISOString().slice(0, 10); }
  function fmtDay(ymd, opts) { return new Intl.DateTimeFormat(undefined, Object.assign({ timeZone: 'UTC' }, opts)).format(utcDate(ymd)); }
  function fmtTime(iso, zone) { return new Intl.DateTimeFormat(undefined, { timeZone: zone, hour: '2-digit', minute: '2-digit' }).format(new Date(iso)); }
  function localYmd(iso, zone) {
    var parts = {};
    new Intl.DateTimeFormat('en-GB', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' })
      .formatToParts(new Date(iso)).forEach(function (p) { parts[p.type] = p.value; });
    return parts.year + '-' + parts.month + '-' + parts.day;
  }
  function providerName(id) { var p = state.providers.get(id); return p ? p.name : 'Practitioner'; }
  function serviceById(id) { return state.services.find(function (s) { return s.id === id; }); }

  /* ---- account ---- */
  function setUser(user) {
    state.user = user; bookNow.reset(user);
    $('whoami').hidden = !user; $('whoami').textContent = user ? 'Signed in as ' + user.name : '';
    $('login-open').hidden = !!user; $('register-open').hidden = !!user; $('logout-button').hidden = !user;
    if (user) closeAuth();
    loadBookings();
  }
  function openAuth(which, message) {
    $('auth-panel').hidden = false;
    $('login-form').hidden = which !== 'login'; $('register-form').hidden = which !== 'register';
    $('login-open').setAttribute('aria-expanded', String(which === 'login'));
    $('register-open').setAttribute('aria-expanded', String(which === 'register'));
    say('auth-message', message); $('auth-message').hidden = !message;
    $(which === 'login' ? 'login-email' : 'register-name').focus();
  }
  function closeAuth() {
    $('auth-panel').hidden = true;
    $('login-open').setAttribute('aria-expanded', 'false'); $('register-open').setAttribute('aria-expanded', 'false');
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

  function chooseService(svc) {
    state.service = svc; state.slot = null; renderServices(); bookNow.prefetch(svc);
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

  function loadSlots(keepDay) {
    var svc = state.service, seq = ++state.seq, from = todayYmd();
    if (!svc) return Promise.resolve();
    var q = new URLSearchParams({ service_id: svc.id, from: from, days: '14', tz: TZ });
    if (state.providerId) q.set('provider_id', state.providerId);
    $('slots').setAttribute('aria-busy', 'true');
    if (!keepDay) $('slots').replaceChildren(h('p', { class: 'muted' }, 'Loading available times…'));
    return allSlots(q).then(function (r) {
      if (seq !== state.seq) return;
      $('slots').setAttribute('aria-busy', 'false');
      if (!r.ok) return $('slots').replaceChildren(h('p', { class: 'error', role: 'alert', 'data-testid': 'slots-error' }, r.data.detail));
      state.zone = r.data.timezone || TZ;
      say('tz-note', 'Times shown in your timezone (' + state.zone + ')');
      state.byDate = new Map();
      r.data.slots.forEach(function (s) {
        var d = localYmd(s.start, state.zone);
        state.byDate.set(d, (state.byDate.get(d) || []).concat([s]));
      });
      state.days = [];
      for (var i = 0; i < 14; i++) state.days.push(addDays(from, i));
      state.byDate.forEach(function (_, d) { if (state.days.indexOf(d) < 0) state.days.push(d); });
      state.days.sort();
      if (!keepDay || !state.byDate.has(state.day)) state.day = state.days.find(function (d) { return state.byDate.has(d); }) || null;
      renderSlots();
    });
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
      return box.append(h('p', { class: 'empty', 'data-testid': 'slots-empty' }, 'No times are free in the next 14 days. Try another practitioner, or check back soon.'));
    }
    var strip = h('div', { class: 'daystrip', role: 'group', 'aria-label': 'Days', 'data-testid': 'day-strip' });
    state.days.forEach(function (d) {
      var n = (state.byDate.get(d) || []).length;
      strip.append(h('button', { type: 'button', class: 'day', 'data-testid': 'day-button', 'data-date': d, disabled: n === 0,
        'aria-pressed': String(d === state.day), onclick: function () { state.day = d; renderSlots(); } }, h('span', { class: 'day-name' }, fmtDay(d, { weekday: 'short' })),
      h('span', { class: 'day-num' }, fmtDay(d, { day: 'numeric', month: 'short' })),
      h('span', { class: 'day-count' }, n ? n + (n === 1 ? ' time' : ' times') : 'No times')));
    });
    var slots = state.byDate.get(state.day) || [];
    var group = h('div', { class: 'day-group', 'data-testid': 'day-group', 'data-date': state.day },
      h('h3', {}, fmtDay(state.day, { weekday: 'long', day: 'numeric', month: 'long' })),
      slots.length ? h('div', { class: 'slot-grid' }, slots.map(function (s) { return slotButton(s, 'slot'); }))
        : h('p', { class: 'muted' }, 'No free times on this day.'));
    box.append(strip, group);
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

  function showConfirmation(b) {
    var svc = serviceById(b.service_id), box = $('confirmation');
    var head = b.status === 'confirmed' ? 'You’re booked' : b.status === 'pending_payment' ? 'Almost done: awaiting payment' : 'Your time is held';
    box.replaceChildren(h('h2', {}, head),
      h('p', {}, (svc ? svc.name : 'Session') + ' with ' + providerName(b.provider_id)),
      h('p', { class: 'when', 'data-testid': 'confirmation-time' }, fmtWhen(b.start, state.zone)),
      h('p', { class: 'muted' }, 'Status: ', h('span', { 'data-testid': 'confirmation-status' }, STATUS[b.status] || b.status),
        ' · Reference ', h('span', { 'data-testid': 'confirmation-id' }, b.id)));
    box.hidden = false; box.focus();
  }

  /* ---- my bookings ---- */
  function loadBookings() {
    var box = $('my-bookings');
    if (!state.user) return box.replaceChildren(h('p', { class: 'muted', 'data-testid': 'my-bookings-login' }, 'Log in to see your bookings.'));
    return api('GET', '/api/bookings').then(function (r) {
      if (r.status === 401) return setUser(null);
      if (!r.ok) return box.replaceChildren(h('p', { class: 'error', role: 'alert' }, r.data.detail));
      var now = Date.now(), list = r.data.slice().sort(function (a, b) { return a.start < b.start ? -1 : 1; });
      var upcoming = list.filter(function (b) { return Date.parse(b.end) > now; });
      var past = list.filter(function (b) { return Date.parse(b.end) <= now; }).reverse();
      if (!list.length) return box.replaceChildren(h('p', { class: 'muted', 'data-testid': 'my-bookings-empty' }, 'You have no bookings yet.'));
      box.replaceChildren(h('ul', { class: 'booking-list' }, upcoming.concat(past).map(bookingRow)));
    });
  }

  function bookingRow(b) {
    var svc = serviceById(b.service_id), actions = h('div', { class: 'row-actions' }), err = h('p', { class: 'error', role: 'alert' });
    var li = h('li', { class: 'booking', 'data-testid': 'booking-row', 'data-booking-id': b.id, 'data-status': b.status },
      h('div', { class: 'booking-main' },
        h('strong', {}, (svc ? svc.name : 'Session') + ' with ' + providerName(b.provider_id)),
        h('span', { 'data-testid': 'booking-time' }, fmtWhen(b.start, TZ)),
        h('span', { class: 'badge badge-' + b.status, 'data-testid': 'booking-status' }, STATUS[b.status] || b.status)),
      actions, err);
    function showCancel() {
      actions.replaceChildren(
        h('button', { type: 'button', class: 'btn btn-quiet', 'data-testid': 'reschedule-button', onclick: askReschedule }, 'Reschedule'),
        h('button', { type: 'button', class: 'btn btn-quiet', 'data-testid': 'cancel-button', onclick: askCancel }, 'Cancel'));
    }
    /* Reschedule: the free times of the same service and practitioner, a week at a time. */
    function askReschedule() {
      var id = 'move-' + b.id, day = h('input', { id: id, type: 'date', value: localYmd(b.start, TZ), 'data-testid': 'reschedule-date' });
      var times = h('div', { class: 'slots', 'data-testid': 'reschedule-slots', 'aria-live': 'polite' });
      function moveButton(s) {
        return h('button', { type: 'button', class: 'slot', 'data-testid': 'reschedule-slot', 'data-start': s.start,
          onclick: function (e) { move(s, e.currentTarget); } }, fmtWhen(s.start, TZ));
      }
      function load() {
        times.replaceChildren(h('p', { class: 'muted' }, 'Loading times…'));
        var q = new URLSearchParams({ service_id: b.service_id, provider_id: b.provider_id, from: day.value, days: 7, tz: TZ });
        api('GET', '/api/availability?' + q).then(function (r) {
          if (!r.ok) return times.replaceChildren(h('p', { class: 'error', role: 'alert' }, r.data.detail));
          if (!r.data.slots.length) return times.replaceChildren(h('p', { class: 'muted' }, 'No free times that week; try another date.'));
          times.replaceChildren.apply(times, r.data.slots.slice(0, 40).map(moveButton));
        });
      }
      function move(s, btn) {
        btn.disabled = true; err.textContent = '';
        api('POST', '/api/bookings/' + encodeURIComponent(b.id) + '/reschedule', { start: s.start }).then(function (r) {
          if (r.ok) { loadBookings(); loadSlots(true); return; }
          btn.disabled = false; err.textContent = r.data.detail;
          var alts = r.data.alternatives || [];
          if (alts.length) times.replaceChildren.apply(times, alts.map(moveButton));
        });
      }
      day.addEventListener('change', load);
      actions.replaceChildren(h('div', { class: 'confirm-box', role: 'group', 'aria-label': 'Reschedule' },
        h('p', {}, 'Move this booking to another time (' + TZ + ')'),
        h('div', { class: 'field' }, h('label', { for: id }, 'Week from'), day), times,
        h('div', { class: 'actions' }, h('button', { type: 'button', class: 'btn btn-quiet', 'data-testid': 'reschedule-keep',
          onclick: function () { showCancel(); actions.querySelector('button').focus(); } }, 'Keep this time'))));
      load();
    }
    function askCancel() {
      var id = 'reason-' + b.id, reason = h('input', { id: id, type: 'text', maxlength: 1000, 'data-testid': 'cancel-reason' });
      var yes = h('button', { type: 'button', class: 'btn btn-danger', 'data-testid': 'cancel-confirm', onclick: function () {
        submitting(yes, true, 'Cancelling…'); err.textContent = '';
        api('POST', '/api/bookings/' + encodeURIComponent(b.id) + '/cancel', { reason: reason.value.trim() || null }).then(function (r) {
          if (!r.ok) { submitting(yes, false, 'Yes, cancel it'); err.textContent = r.data.detail; return; }
          loadBookings(); loadSlots(true);
        });
      } }, 'Yes, cancel it');
      actions.replaceChildren(h('div', { class: 'confirm-box', role: 'group', 'aria-label': 'Confirm cancellation' },
        h('p', {}, 'Cancel this booking?'),
        h('div', { class: 'field' }, h('label', { for: id }, 'Reason (optional)'), reason),
        h('div', { class: 'actions' }, yes,
          h('button', { type: 'button', class: 'btn btn-quiet', 'data-testid': 'cancel-keep',
            onclick: function () { showCancel(); actions.querySelector('button').focus(); } }, 'Keep booking'))));
      reason.focus();
    }
    // Only a booking that still keeps its time can be moved or cancelled (not a lapsed hold).
    if (b.status !== 'cancelled' && b.status !== 'expired' && Date.parse(b.start) > Date.now()) showCancel();
    return li;
  }

  /* ---- wiring ---- */
  document.addEventListener('DOMContentLoaded', function () {
    $('register-timezone').value = TZ;
    say('tz-note', 'Times shown in your timezone (' + TZ + ')');
    $('login-open').addEventListener('click', function () { openAuth('login'); });
    $('register-open').addEventListener('click', function () { openAuth('register'); });
    $('auth-close').addEventListener('click', closeAuth);
    $('auth-panel').addEventListener('keydown', function (e) { if (e.key === 'Escape') { closeAuth(); $('login-open').focus(); } });
    document.querySelectorAll('[data-auth-switch]').forEach(function (b) {
      b.addEventListener('click', function () { openAuth(b.dataset.authSwitch, $('auth-message').textContent); });
    });
    $('login-form').addEventListener('submit', function (e) {
      e.preventDefault(); say('login-error', ''); submitting($('login-submit'), true, 'Logging in…');
      logIn($('login-email').value.trim(), $('login-password').value, 'login-error', $('login-submit'), 'Log in');
    });
    $('register-form').addEventListener('submit', function (e) {
      e.preventDefault(); say('register-error', '');
      var btn = $('register-submit'), email = $('register-email').value.trim(), password = $('register-password').value;
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
