// The booking page's waitlist: "Tell me if something opens up" for the chosen service (and
// practitioner, if one is chosen), and the client's own entries with a way to leave them.
// Kept apart from book.js: it follows the page through its DOM (the chosen service card, the
// practitioner filter, the signed-in name) rather than through book.js's internals.
'use strict';

(function () {
  var $ = window.Holdfast.$, el = window.Holdfast.h, api = window.Holdfast.api;
  var chosen = { serviceId: null, serviceName: '' };
  var services = new Map();

  function signedIn() { var who = $('whoami'); return who && !who.hidden; }

  function join() {
    var status = $('waitlist-status');
    if (!chosen.serviceId) return;
    if (!signedIn()) { status.textContent = 'Log in or register first, then we can tell you when a time opens up.'; return; }
    var body = { service_id: chosen.serviceId };
    var provider = $('provider-filter') && $('provider-filter').value;
    if (provider) body.provider_id = provider;
    $('waitlist-join').disabled = true;
    api('POST', '/api/waitlist', body).then(function (r) {
      $('waitlist-join').disabled = false;
      if (r.ok) {
        status.textContent = "You're on the waitlist for " + chosen.serviceName + '. When a time opens up we send you a text and an email with a link to claim it.';
        loadEntries();
      } else {
        status.textContent = r.data.detail || 'Something went wrong; please try again.';
      }
    });
  }

  function loadEntries() {
    var box = $('my-waitlist');
    if (!signedIn()) { box.replaceChildren(el('p', { class: 'muted' }, 'Log in to see your waitlist.')); return; }
    api('GET', '/api/waitlist').then(function (r) {
      if (!r.ok) { box.replaceChildren(el('p', { class: 'muted' }, 'Log in to see your waitlist.')); return; }
      if (!r.data.length) { box.replaceChildren(el('p', { class: 'muted', 'data-testid': 'my-waitlist-empty' }, 'You are not waiting for anything.')); return; }
      var list = el('ul', { class: 'booking-list' });
      r.data.forEach(function (entry) {
        var svc = services.get(entry.service_id);
        var row = el('li', { class: 'booking', 'data-testid': 'waitlist-row', 'data-entry-id': entry.id });
        row.append(el('strong', {}, 'Waiting for ' + (svc ? svc.name : 'a service')));
        var leave = el('button', { type: 'button', class: 'btn btn-quiet', 'data-testid': 'waitlist-leave' }, 'Leave the waitlist');
        leave.addEventListener('click', function () {
          leave.disabled = true;
          api('DELETE', '/api/waitlist/' + encodeURIComponent(entry.id)).then(loadEntries);
        });
        row.append(leave);
        list.append(row);
      });
      box.replaceChildren(list);
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    var offer = $('waitlist-offer');
    if (!offer) return;
    api('GET', '/api/services').then(function (r) {
      if (r.ok) r.data.forEach(function (s) { services.set(s.id, s); });
      loadEntries();
    });
    $('services').addEventListener('click', function (event) {
      var card = event.target.closest('[data-service-id]');
      if (!card) return;
      var svc = services.get(card.dataset.serviceId);
      chosen = { serviceId: card.dataset.serviceId, serviceName: svc ? svc.name : '' };
      $('waitlist-status').textContent = '';
      offer.hidden = false;
    });
    $('waitlist-join').addEventListener('click', join);
    var who = $('whoami');
    if (who) new MutationObserver(loadEntries).observe(who, { attributes: true, attributeFilter: ['hidden'] });
  });
})();
