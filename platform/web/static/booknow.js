/* Holdfast "Book now with Calendly": an optional hand-off per service; the page's own slot booking
   stays the main flow. Each link carries a signed single-use token bound to this login, so none is
   ever written into the page: one is fetched (or prefetched) for one click, then thrown away. */
(function () {
  'use strict';
  var MARGIN = 60 * 1000; // a prefetched link is re-used only if it lives at least this much longer
  var LABEL = 'Book now with Calendly';
  var NOTE = "You'll finish booking on Calendly; it will appear in My bookings once confirmed.";

  /* d: { api, h, user(), login(message), signedOut(), refresh() } from book.js */
  window.HoldfastBookNow = function (d) {
    var links = new Map(), loading = new Map(), busy = new Set(), off = new Set(), nodes = new Map();
    var gen = 0, afterLogin = null, handedOff = false, h = d.h;

    // expires_at on this device's clock, corrected by the response's Date header (whole seconds).
    function deadline(r) {
      var exp = Date.parse(r.data.expires_at), server = Date.parse(r.date || '');
      return server ? Date.now() + (exp - server) - 1000 : exp;
    }

    function fetchLink(id) {
      if (loading.has(id)) return loading.get(id);
      var g = gen, p = d.api('POST', '/api/book-now', { service_id: id }).then(function (r) {
        if (loading.get(id) === p) loading.delete(id);
        if (g !== gen) return { status: 0, detail: 'Your account changed. Please try again.' };
        if (r.ok && !/^https?:\/\//i.test(String(r.data && r.data.url))) r = { ok: false, status: 502, data: { detail: 'Calendly is unavailable just now. Please try again.' } };
        if (!r.ok) { if (r.status === 503) hide(id); return { status: r.status, detail: r.data.detail }; }
        var link = { url: r.data.url, until: deadline(r) };
        links.set(id, link);
        return { link: link };
      });
      loading.set(id, p);
      return p;
    }

    // Before the click (e.g. on choosing a service), so the click can open Calendly at once.
    function prefetch(svc) {
      var link = links.get(svc.id);
      if (!d.user() || off.has(svc.id) || loading.has(svc.id) || (link && link.until - Date.now() > MARGIN)) return;
      fetchLink(svc.id);
    }

    function take(id) {
      var link = links.get(id);
      links.delete(id);
      return link && link.until - Date.now() > MARGIN ? link : null;
    }

    function setBusy(id, on) {
      if (on) busy.add(id); else busy.delete(id);
      var n = nodes.get(id);
      if (n) { n.btn.disabled = on; n.btn.setAttribute('aria-busy', String(on)); }
    }

    function hide(id) {
      off.add(id);
      var n = nodes.get(id);
      if (!n) return;
      var hadFocus = n.box.contains(document.activeElement);
      n.box.hidden = true;
      if (hadFocus) n.card.focus();
    }

    // The tab is opened during the click itself (pop-up blockers allow that), cut off from this page.
    function go(url, tab) {
      if (tab) tab.location.replace(url);
      else window.location.assign(url); // pop-ups blocked: continue in this tab instead
      handedOff = true;
    }

    function open(svc) {
      var id = svc.id, n = nodes.get(id);
      if (busy.has(id)) return;
      n.err.textContent = '';
      if (!d.user()) { afterLogin = id; d.login('Please log in or create an account to book with Calendly.'); return; }
      var ready = take(id), tab = window.open('', '_blank');
      if (tab) tab.opener = null;
      if (ready) return go(ready.url, tab);
      setBusy(id, true);
      fetchLink(id).then(function (r) {
        setBusy(id, false);
        if (tab && tab.closed) return; // closed before the link came: it stays unused for next time
        if (r.link) { if (links.get(id) === r.link) links.delete(id); return go(r.link.url, tab); }
        if (tab) tab.close();
        if (r.status === 503) return; // not set up for this service: the option is gone, no error
        if (r.status === 401) { d.signedOut(); afterLogin = id; d.login(r.detail); return; }
        (nodes.get(id) || n).err.textContent = r.detail;
      });
    }

    // One per service card; rebuilt whenever the cards are.
    function control(svc, card) {
      var id = svc.id, noteId = 'book-now-note-' + id, errId = 'book-now-error-' + id;
      var btn = h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'data-testid': 'book-now', 'data-service-id': id,
        'aria-label': LABEL + ': ' + svc.name + ' (opens in a new tab)', 'aria-describedby': noteId + ' ' + errId,
        onclick: function () { open(svc); } }, LABEL);
      var err = h('p', { id: errId, class: 'error', role: 'alert', 'data-testid': 'book-now-error' });
      // The services list says whether Calendly is set up for this service at all.
      if (svc.calendly === false) off.add(id);
      var box = h('div', { class: 'book-now', 'data-testid': 'book-now-option', hidden: off.has(id) }, btn,
        h('p', { id: noteId, class: 'hint', 'data-testid': 'book-now-note' }, NOTE), err);
      nodes.set(id, { btn: btn, err: err, box: box, card: card });
      if (busy.has(id)) setBusy(id, true);
      return box;
    }

    // A new login (or none): links belong to the old session, so drop them all.
    function reset(user) {
      gen++; links.clear(); loading.clear();
      if (!user || !afterLogin) return;
      var n = nodes.get(afterLogin);
      afterLogin = null;
      if (!n || n.box.hidden) return;
      fetchLink(n.btn.dataset.serviceId);
      n.btn.focus();
    }

    // Back from Calendly: the booking shows up here once Calendly has told Holdfast about it.
    document.addEventListener('visibilitychange', function () {
      if (handedOff && document.visibilityState === 'visible') d.refresh();
    });

    return { control: control, prefetch: prefetch, reset: reset };
  };
})();
