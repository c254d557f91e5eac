/* The admin console's jobs: the backlog in one state at a time (dead letters first), what each
   job was about, its tries and last error, and Retry for a dead one (templates/admin_jobs.html). */
(function () {
  'use strict';
  var H = window.Holdfast, A = window.HoldfastAdmin, $ = H.$, h = H.h;
  var load;

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
  document.addEventListener('DOMContentLoaded', function () {
    $('jobs-state').addEventListener('change', function () { H.say('jobs-message', ''); load(false); });
    $('jobs-refresh').addEventListener('click', function () { load(false); });
    load = A.pagedTable({ box: $('jobs'), more: $('jobs-more'), path: '/api/admin/jobs', testid: 'jobs', row: row,
      query: function () { return new URLSearchParams({ state: $('jobs-state').value }); },
      heads: function () { return ['Job', 'About', 'Tries', 'Last error', $('jobs-state').value === 'dead' ? 'Gave up' : 'Runs', '']; },
      empty: function () { return $('jobs-state').value === 'dead' ? 'No dead jobs: nothing gave up.' : 'None.'; } });
    A.ready(function () { load(false); });
  });
})();
