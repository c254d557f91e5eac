/* A client's own bookings, upcoming first then the past, each with Reschedule, Cancel and "Add to
   calendar" (.ics) while it still keeps its time. Shared by the booking page and the account page:
   window.HoldfastMyBookings({ box, zone(), service(id), providerName(id), changed(), signedOut(),
   split }) returns { load(user) }. `split` puts "Upcoming" and "Past" under their own headings. */
(function () {
  'use strict';
  var H = window.Holdfast, h = H.h, api = H.api, fmtWhen = H.fmtWhen, localYmd = H.localYmd;
  var STATUS = { held: 'Held', pending_payment: 'Awaiting payment', confirmed: 'Confirmed', cancelled: 'Cancelled', expired: 'Expired (not paid)' };

  function busy(btn, on, label) { btn.disabled = on; btn.setAttribute('aria-busy', String(on)); btn.textContent = label; }

  window.HoldfastMyBookings = function (opts) {
    var user = null;

    function load(who) {
      user = who === undefined ? user : who;
      var box = opts.box;
      if (!user) return box.replaceChildren(h('p', { class: 'muted', 'data-testid': 'my-bookings-login' }, 'Log in to see your bookings.'));
      return api('GET', '/api/bookings').then(function (r) {
        if (r.status === 401) return opts.signedOut();
        if (!r.ok) return box.replaceChildren(h('p', { class: 'error', role: 'alert' }, r.data.detail));
        var now = Date.now(), list = r.data.slice().sort(function (a, b) { return a.start < b.start ? -1 : 1; });
        var upcoming = list.filter(function (b) { return Date.parse(b.end) > now; });
        var past = list.filter(function (b) { return Date.parse(b.end) <= now; }).reverse();
        if (!list.length) return box.replaceChildren(h('p', { class: 'muted', 'data-testid': 'my-bookings-empty' }, 'You have no bookings yet.'));
        if (!opts.split) return box.replaceChildren(h('ul', { class: 'booking-list' }, upcoming.concat(past).map(row)));
        box.replaceChildren(
          h('h3', {}, 'Upcoming'), upcoming.length ? h('ul', { class: 'booking-list', 'data-testid': 'upcoming-bookings' }, upcoming.map(row))
            : h('p', { class: 'muted' }, 'Nothing booked ahead.'),
          h('h3', {}, 'Past'), past.length ? h('ul', { class: 'booking-list', 'data-testid': 'past-bookings' }, past.map(row))
            : h('p', { class: 'muted' }, 'No past sessions yet.'));
      });
    }

    function row(b) {
      var zone = opts.zone(), svc = opts.service(b.service_id), actions = h('div', { class: 'row-actions' }), err = h('p', { class: 'error', role: 'alert' });
      var li = h('li', { class: 'booking', 'data-testid': 'booking-row', 'data-booking-id': b.id, 'data-status': b.status },
        h('div', { class: 'booking-main' },
          h('strong', {}, (svc ? svc.name : 'Session') + ' with ' + opts.providerName(b.provider_id)),
          h('span', { 'data-testid': 'booking-time' }, fmtWhen(b.start, zone)),
          b.meeting ? h('a', { href: b.meeting.join_url, 'data-testid': 'booking-join' }, 'Join the video session') : null,
          h('span', { class: 'badge badge-' + b.status, 'data-testid': 'booking-status' }, STATUS[b.status] || b.status)),
        actions, err);
      function changed() { load(); opts.changed(); }
      function showActions() {
        actions.replaceChildren(
          h('button', { type: 'button', class: 'btn btn-quiet', 'data-testid': 'reschedule-button', onclick: askReschedule }, 'Reschedule'),
          h('button', { type: 'button', class: 'btn btn-quiet', 'data-testid': 'cancel-button', onclick: askCancel }, 'Cancel'),
          h('a', { class: 'btn btn-quiet', href: '/api/bookings/' + encodeURIComponent(b.id) + '/calendar.ics', download: 'holdfast-' + b.id + '.ics',
            'data-testid': 'add-to-calendar' }, 'Add to calendar'));
      }
      function keep() { showActions(); actions.querySelector('button').focus(); }
      /* Reschedule: the free times of the same service and practitioner, a week at a time. */
      function askReschedule() {
        var id = 'move-' + b.id, day = h('input', { id: id, type: 'date', value: localYmd(b.start, zone), 'data-testid': 'reschedule-date' });
        var times = h('div', { class: 'slots', 'data-testid': 'reschedule-slots', 'aria-live': 'polite' });
        function moveButton(s) {
          return h('button', { type: 'button', class: 'slot', 'data-testid': 'reschedule-slot', 'data-start': s.start,
            onclick: function (e) { move(s, e.currentTarget); } }, fmtWhen(s.start, zone));
        }
        function more() {
          times.replaceChildren(h('p', { class: 'muted' }, 'Loading times…'));
          var q = new URLSearchParams({ service_id: b.service_id, provider_id: b.provider_id, from: day.value, days: 7, tz: zone });
          api('GET', '/api/availability?' + q).then(function (r) {
            if (!r.ok) return times.replaceChildren(h('p', { class: 'error', role: 'alert' }, r.data.detail));
            if (!r.data.slots.length) return times.replaceChildren(h('p', { class: 'muted' }, 'No free times that week; try another date.'));
            times.replaceChildren.apply(times, r.data.slots.slice(0, 40).map(moveButton));
          });
        }
        function move(s, btn) {
          btn.disabled = true; err.textContent = '';
          api('POST', '/api/bookings/' + encodeURIComponent(b.id) + '/reschedule', { start: s.start }).then(function (r) {
            if (r.ok) return changed();
            btn.disabled = false; err.textContent = r.data.detail;
            var alts = r.data.alternatives || [];
            if (alts.length) times.replaceChildren.apply(times, alts.map(moveButton));
          });
        }
        day.addEventListener('change', more);
        actions.replaceChildren(h('div', { class: 'confirm-box', role: 'group', 'aria-label': 'Reschedule' },
          h('p', {}, 'Move this booking to another time (' + zone + ')'),
          h('div', { class: 'field' }, h('label', { for: id }, 'Week from'), day), times,
          h('div', { class: 'actions' }, h('button', { type: 'button', class: 'btn btn-quiet', 'data-testid': 'reschedule-keep', onclick: keep }, 'Keep this time'))));
        day.focus();
        more();
      }
      function askCancel() {
        var id = 'reason-' + b.id, reason = h('input', { id: id, type: 'text', maxlength: 1000, 'data-testid': 'cancel-reason' });
        var yes = h('button', { type: 'button', class: 'btn btn-danger', 'data-testid': 'cancel-confirm', onclick: function () {
          busy(yes, true, 'Cancelling…'); err.textContent = '';
          api('POST', '/api/bookings/' + encodeURIComponent(b.id) + '/cancel', { reason: reason.value.trim() || null }).then(function (r) {
            if (!r.ok) { busy(yes, false, 'Yes, cancel it'); err.textContent = r.data.detail; return; }
            changed();
          });
        } }, 'Yes, cancel it');
        actions.replaceChildren(h('div', { class: 'confirm-box', role: 'group', 'aria-label': 'Confirm cancellation' },
          h('p', {}, 'Cancel this booking?'),
          h('div', { class: 'field' }, h('label', { for: id }, 'Reason (optional)'), reason),
          h('div', { class: 'actions' }, yes,
            h('button', { type: 'button', class: 'btn btn-quiet', 'data-testid': 'cancel-keep', onclick: keep }, 'Keep booking'))));
        reason.focus();
      }
      // Only a booking that still keeps its time can be moved or cancelled (not a lapsed hold).
      if (b.status !== 'cancelled' && b.status !== 'expired' && Date.parse(b.start) > Date.now()) showActions();
      return li;
    }

    return { load: load };
  };
  window.HoldfastMyBookings.STATUS = STATUS;  // how a booking's status is said, on every page
})();
