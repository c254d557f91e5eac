/* Password reset: ask for a link (no token), or choose a new password with the link's token.
   The token is in the URL's fragment, which browsers never send to a server; it is taken off the
   address bar at once so it is not left in the history. */
(function () {
  'use strict';
  var H = window.Holdfast, $ = H.$, api = H.api, say = H.say;

  function busy(btn, on, label) { btn.disabled = on; btn.setAttribute('aria-busy', String(on)); btn.textContent = label; }

  var token = null;
  // On load, and when the link is opened in a tab already on this page (only the fragment
  // changes then: no new page load).
  function readToken() {
    var found = new URLSearchParams(window.location.hash.slice(1)).get('token');
    if (!found) return;
    token = found;
    history.replaceState(null, '', window.location.pathname);
    say('reset-error', ''); say('reset-message', ''); $('reset-done').hidden = true;
    $('reset-request-form').hidden = true; $('reset-form').hidden = false; $('reset-password').focus();
  }

  document.addEventListener('DOMContentLoaded', function () {
    readToken();
    window.addEventListener('hashchange', readToken);

    $('reset-request-form').addEventListener('submit', function (e) {
      e.preventDefault(); say('reset-error', ''); say('reset-message', '');
      var email = $('reset-email').value.trim(), btn = $('reset-request-submit');
      if (!email) { say('reset-error', 'Please give the email address of your account.'); $('reset-email').focus(); return; }
      busy(btn, true, 'Sending…');
      api('POST', '/api/auth/password-reset', { email: email }).then(function (r) {
        busy(btn, false, 'Email me a link');
        if (!r.ok) { say('reset-error', r.data.detail); return; }
        say('reset-message', r.data.detail);
      });
    });

    $('reset-form').addEventListener('submit', function (e) {
      e.preventDefault(); say('reset-error', ''); say('reset-message', '');
      var password = $('reset-password').value, again = $('reset-password-again').value, btn = $('reset-submit');
      if (password.length < 8) { say('reset-error', 'Please choose a password of at least 8 characters.'); $('reset-password').focus(); return; }
      if (password !== again) { say('reset-error', 'The two passwords are not the same; please type them again.'); $('reset-password-again').focus(); return; }
      busy(btn, true, 'Saving…');
      api('POST', '/api/auth/password-reset/confirm', { token: token, password: password }).then(function (r) {
        busy(btn, false, 'Set new password');
        if (!r.ok) {
          say('reset-error', r.data.detail);
          if (r.status === 410 || r.data.error === 'invalid_reset_link') { $('reset-form').hidden = true; $('reset-request-form').hidden = false; }
          return;
        }
        $('reset-form').hidden = true; $('reset-done').hidden = false;
        say('reset-message', 'Your password has been changed, and every device has been logged out. You can log in with the new password now.');
        $('reset-done').querySelector('a').focus();
      });
    });
  });
})();
