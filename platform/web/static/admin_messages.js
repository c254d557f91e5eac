/* The admin console's messages: the outbox, newest first, a page at a time, filtered by status
   or recipient, each with its delivery status, tries and last error; Open shows the message's
   text and links its calendar invite (.ics) (templates/admin_messages.html). */
(function () {
  'use strict';
  var H = window.Holdfast, A = window.HoldfastAdmin, $ = H.$, h = H.h;
  var STATUS = { queued: 'Queued', sending: 'Sending', sent: 'Sent', failed: 'Failed', outbox: 'In the outbox' };
  var load;

  function open(m) {
    var box = $('message');
    box.hidden = false; box.replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
    A.api('GET', '/api/admin/messages/' + encodeURIComponent(m.id)).then(function (r) {
      if (!r.ok) return A.fail(box, r);
      var x = r.data, ics = '/api/admin/messages/' + encodeURIComponent(x.id) + '/invite.ics';
      box.replaceChildren(
        h('h2', { 'data-testid': 'message-subject' }, x.subject || '(no subject)'),
        h('p', { class: 'muted' }, 'To ' + x.to + ' by ' + x.channel + ' · ' + (STATUS[x.status] || x.status) +
          (x.sent_at ? ' · sent ' + A.when(x.sent_at) : '') + (x.last_error ? ' · last error: ' + x.last_error : '')),
        h('pre', { class: 'message-text', 'data-testid': 'message-text' }, x.text || x.body || ''),
        h('div', { class: 'actions' },
          x.has_invite ? h('a', { class: 'btn btn-quiet', href: ics, download: 'invite.ics', 'data-testid': 'message-ics' }, 'Calendar invite (.ics)') : null,
          h('button', { type: 'button', class: 'btn btn-quiet', 'data-testid': 'message-close', onclick: function () { box.hidden = true; } }, 'Close')));
      box.focus();
    });
  }
  function row(m) {
    return h('tr', { 'data-testid': 'message-row', 'data-message-id': m.id, 'data-status': m.status },
      h('td', {}, A.when(m.sent_at || m.created_at)), h('td', { 'data-testid': 'message-to' }, m.to_name && m.to_name !== m.to ? m.to_name + ' <' + m.to + '>' : m.to),
      h('td', {}, m.subject || m.template), h('td', {}, m.channel),
      h('td', { 'data-testid': 'message-status' }, STATUS[m.status] || m.status, m.attempts > 1 ? ' (' + m.attempts + ' tries)' : '',
        m.last_error && m.status !== 'sent' ? h('div', { class: 'error' }, m.last_error) : null),
      h('td', {}, h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'data-testid': 'message-open', onclick: function () { open(m); } }, 'Open')));
  }
  document.addEventListener('DOMContentLoaded', function () {
    $('messages-filters').addEventListener('submit', function (e) { e.preventDefault(); load(false); });
    $('messages-status').addEventListener('change', function () { load(false); });
    $('messages-refresh').addEventListener('click', function () { load(false); });
    load = A.pagedTable({ box: $('messages'), more: $('messages-more'), path: '/api/admin/messages', testid: 'messages', row: row,
      query: function () {
        var q = new URLSearchParams();
        if ($('messages-status').value) q.set('status', $('messages-status').value);
        if ($('messages-to').value.trim()) q.set('to', $('messages-to').value.trim());
        return q;
      },
      heads: function () { return ['When', 'To', 'Subject', 'By', 'Status', '']; },
      empty: function () { return 'No messages.'; } });
    A.ready(function () { load(false); });
  });
})();
