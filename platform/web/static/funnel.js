/* The booking funnel's beacon: tells our own server (POST /api/funnel) that the booking page
   loaded, that a service was chosen and that a time was selected. Nothing identifies the
   visitor, no cookie is set, and nothing goes anywhere but Holdfast. It watches the page's own
   buttons, so the booking script needs no hooks. */
(function () {
  'use strict';
  var service = null;

  function send(step, serviceId) {
    var body = JSON.stringify(serviceId ? { step: step, service_id: serviceId } : { step: step });
    try {
      fetch('/api/funnel', { method: 'POST', credentials: 'same-origin', keepalive: true,
        headers: { 'Content-Type': 'application/json' }, body: body }).catch(function () {});
    } catch (e) { /* a beacon never gets in the way */ }
  }

  document.addEventListener('click', function (event) {
    var target = event.target instanceof Element ? event.target : null;
    var card = target && target.closest('[data-testid="service-card"]');
    if (card) { service = card.getAttribute('data-service-id'); send('service', service); return; }
    if (target && target.closest('[data-testid="slot"], [data-testid="alternative-slot"]')) send('slot', service);
  }, true);

  document.addEventListener('DOMContentLoaded', function () { send('view'); });
})();
