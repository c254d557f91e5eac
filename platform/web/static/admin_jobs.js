/* The admin console's jobs: the backlog in one state at a time (dead letters first), what each
   job was about, its tries and last error, and Retry for a dead one (templates/admin_jobs.html). */
(function () {
  'use strict';
  var H = window.Holdfast, A = window.HoldfastAdmin, $ = H.$, h = H.h;
  var cursor = null;

  /* What a job was about: its client and booking when the API names them, else its subject. */
  function about(j) {
    var parts = [];
    if (j.client) parts.push(h('a', { href: '/admin/clients?id=' + encodeURIComponent(j.client.id), 'data-testid': 'job-client' }, A.person(j.client)));
    if (j.booking_id) parts.push(h('span', { class: 'mono' }, 'booking ' + j.booking_id));
    if (!parts.length) parts.push(h('span', { class: 'mono' }, j.subject));
    return parts.reduce(function (acc, x, i) { return i ? acc.concat([h('br'), x]) : [x]; }, []);
  }
  function row(j) {
    var retry = j.state === 'dead' ? h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'data-testid': 'job-retry', onclick: function () {
      retry.disabled = true;
      A.api('POST', '/api/admin/jobs/' + encodeURIComponent(j.id) + '/retry').then(function (r) {
        H.say('jobs-message', r.ok ? 'Retrying ' + j.kind + ': it runs again now.' : r.data.detail);
        load(false);
      });
    } }, 'Retry') : null;
    return h('tr', { 'data-testid': 'job-row', 'data-job-id': j.id, 'data-state': j.state },
      h('td', { 'data-testid': 'job-kind' }, j.kind), h('td', {}, about(j)), h('td', {}, String(j.attempts)),
      h('td', { 'data-testid': 'job-error' }, j.last_error || ''),
      h('td', {}, A.when(j.state === 'dead' ? (j.died_at || j.finished_at || j.updated_at) : j.run_at)), h('td', {}, retry));
  }
  function load(more) {
    var q = new URLSearchParams({ state: $('jobs-state').value, limit: '50' }), box = $('jobs');
    if (more && cursor) q.set('cursor', cursor);
    A.api('GET', '/api/admin/jobs?' + q).then(function (r) {
      if (!r.ok) return A.fail(box, r);
      cursor = r.next; $('jobs-more').hidden = !cursor;
      var body = more ? box.querySelector('tbody') : null;
      if (body) { r.data.forEach(function (j) { body.append(row(j)); }); return; }
      if (!r.data.length) return A.empty(box, 'jobs-empty', $('jobs-state').value === 'dead' ? 'No dead jobs: nothing gave up.' : 'None.');
      var whenHead = $('jobs-state').value === 'dead' ? 'Gave up' : 'Runs';
      box.replaceChildren(H.table('jobs-table', ['Job', 'About', 'Tries', 'Last error', whenHead, ''], r.data.map(row)));
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    $('jobs-state').addEventListener('change', function () { H.say('jobs-message', ''); load(false); });
    $('jobs-refresh').addEventListener('click', function () { load(false); });
    $('jobs-more').addEventListener('click', function () { load(true); });
    A.ready(function () { load(false); });
  });
})();
