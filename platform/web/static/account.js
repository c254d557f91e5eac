/* The client's account page: details (name, timezone, mobile number, reminder emails), bookings
   (reschedule, cancel, add to calendar: mybookings.js), payments with their receipts, waitlist
   entries, and the password. Every time is shown in the account's own timezone. */
(function () {
  'use strict';
  var H = window.Holdfast, Z = window.HoldfastZones, $ = H.$, h = H.h, api = H.api, say = H.say;
  var PHONE = /^\+[1-9]\d{6,14}$/;
  var PAYMENT = { pending: 'Awaiting payment', paid: 'Paid', refunded: 'Refunded', partially_refunded: 'Partly refunded', expired: 'Not paid (expired)', failed: 'Failed' };
  var user = null, services = new Map(), providers = new Map(), bookings = new Map();

  function busy(btn, on, label) { btn.disabled = on; btn.setAttribute('aria-busy', String(on)); btn.textContent = label; }
  function zone() { return user ? user.timezone : Z.device; }
  function serviceName(id) { var s = services.get(id); return s ? s.name : 'a service'; }
  function providerName(id) { var p = providers.get(id); return p ? p.name : 'Practitioner'; }
  function amount(cents, currency) { return H.money({ amount_cents: cents, currency: currency }); }

  var myBookings = window.HoldfastMyBookings({
    box: document.getElementById('my-bookings'), zone: zone, split: true,
    service: function (id) { return services.get(id); }, providerName: providerName,
    changed: function () { loadPayments(); }, signedOut: function () { show(null); }
  });

  function show(who) {
    user = who;
    $('account-login').hidden = !!who; $('account').hidden = !who;
    $('whoami').hidden = !who; $('logout-button').hidden = !who;
    if (!who) return;
    $('whoami').textContent = 'Signed in as ' + who.name;
    $('profile-name').value = who.name; $('profile-email').value = who.email;
    Z.fill($('profile-timezone'), who.timezone);
    $('profile-phone').value = who.phone || '';
    $('profile-reminders').checked = who.reminder_emails !== false;
    say('account-zone', Z.label(who.timezone) + ' (' + who.timezone + ')');
    myBookings.load(who); loadPayments(); loadWaitlist();
  }

  /* ---- details ---- */
  function saveProfile(e) {
    e.preventDefault(); say('profile-error', ''); say('profile-saved', '');
    var name = $('profile-name').value.trim(), phone = $('profile-phone').value.replace(/[\s().-]/g, '');
    if (!name) { say('profile-error', 'Please give your name.'); $('profile-name').focus(); return; }
    if (phone && phone.charAt(0) !== '+' && phone.slice(0, 2) === '00') phone = '+' + phone.slice(2);
    if (phone && !PHONE.test(phone)) {
      say('profile-error', 'Please give the mobile number with its country code, starting with +, e.g. +44 7700 900123.');
      $('profile-phone').focus(); return;
    }
    var body = { name: name, timezone: $('profile-timezone').value, phone: phone || null, reminder_emails: $('profile-reminders').checked };
    var btn = $('profile-save');
    busy(btn, true, 'Saving…');
    api('PATCH', '/api/me', body).then(function (r) {
      busy(btn, false, 'Save');
      if (r.status === 401) return show(null);
      if (!r.ok) { say('profile-error', r.data.detail); return; }
      show(r.data);
      say('profile-saved', 'Saved.');
    });
  }

  /* ---- payments ---- */
  function loadPayments() {
    var box = $('my-payments');
    api('GET', '/api/payments').then(function (r) {
      if (!r.ok) return box.replaceChildren(h('p', { class: 'error', role: 'alert' }, r.data.detail));
      if (!r.data.length) return box.replaceChildren(h('p', { class: 'muted', 'data-testid': 'my-payments-empty' }, 'No payments yet.'));
      box.replaceChildren(H.table('payments-table', ['Date', 'For', 'Amount', 'Status', 'Receipt'], r.data.map(function (p) {
        var b = bookings.get(p.booking_id);
        return h('tr', { 'data-testid': 'payment-row', 'data-payment-id': p.id },
          h('td', {}, H.fmtWhen(p.created_at, zone())),
          h('td', {}, b ? serviceName(b.service_id) + ', ' + H.fmtWhen(b.start, zone()) : 'Booking ' + p.booking_id),
          h('td', {}, amount(p.amount_cents, p.currency) + (p.refunded_cents ? ' (' + amount(p.refunded_cents, p.currency) + ' refunded)' : '')),
          h('td', {}, PAYMENT[p.status] || p.status),
          h('td', {}, p.status === 'pending' || p.status === 'expired' ? '—'
            : h('a', { href: '/payments/' + encodeURIComponent(p.id) + '/receipt', 'data-testid': 'payment-receipt' }, 'Receipt')));
      })));
    });
  }

  /* ---- waitlist ---- */
  function loadWaitlist() {
    var box = $('my-waitlist');
    api('GET', '/api/waitlist').then(function (r) {
      if (!r.ok) return box.replaceChildren(h('p', { class: 'error', role: 'alert' }, r.data.detail));
      if (!r.data.length) return box.replaceChildren(h('p', { class: 'muted', 'data-testid': 'my-waitlist-empty' }, 'You are not waiting for anything.'));
      box.replaceChildren(h('ul', { class: 'booking-list' }, r.data.map(function (entry) {
        var leave = h('button', { type: 'button', class: 'btn btn-quiet', 'data-testid': 'waitlist-leave', onclick: function () {
          busy(leave, true, 'Leaving…');
          api('DELETE', '/api/waitlist/' + encodeURIComponent(entry.id)).then(loadWaitlist);
        } }, 'Leave the waitlist');
        var whom = entry.provider_id ? ' with ' + providerName(entry.provider_id) : '';
        return h('li', { class: 'booking', 'data-testid': 'waitlist-row', 'data-entry-id': entry.id },
          h('div', { class: 'booking-main' }, h('strong', {}, 'Waiting for ' + serviceName(entry.service_id) + whom),
            h('span', { class: 'muted' }, 'Since ' + H.fmtWhen(entry.joined_at, zone()))), h('div', { class: 'row-actions' }, leave));
      })));
    });
  }

  /* ---- password ---- */
  function changePassword(e) {
    e.preventDefault(); say('password-error', ''); say('password-saved', '');
    var current = $('password-current').value, next = $('password-new').value, btn = $('password-save');
    if (!current) { say('password-error', 'Please give your current password.'); $('password-current').focus(); return; }
    if (next.length < 8) { say('password-error', 'Please choose a new password of at least 8 characters.'); $('password-new').focus(); return; }
    busy(btn, true, 'Changing…');
    api('POST', '/api/me/password', { current_password: current, new_password: next }).then(function (r) {
      busy(btn, false, 'Change password');
      if (!r.ok) { say('password-error', r.data.detail); return; }
      $('password-form').reset();
      say('password-saved', 'Password changed. Every other device has been logged out.');
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    $('profile-form').addEventListener('submit', saveProfile);
    $('password-form').addEventListener('submit', changePassword);
    $('logout-button').addEventListener('click', function () {
      api('POST', '/api/auth/logout').then(function () { window.location.assign('/'); });
    });
    Promise.all([api('GET', '/api/services'), api('GET', '/api/providers'), api('GET', '/api/me'), api('GET', '/api/bookings')]).then(function (rs) {
      if (rs[0].ok) rs[0].data.forEach(function (s) { services.set(s.id, s); });
      if (rs[1].ok) rs[1].data.forEach(function (p) { providers.set(p.id, p); });
      if (rs[3].ok) rs[3].data.forEach(function (b) { bookings.set(b.id, b); });
      show(rs[2].ok ? rs[2].data : null);
    });
  });
})();
