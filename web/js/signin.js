// The staff sign-in shared by the box office (/boxoffice) and the admin dashboard (/admin):
// the form posts /api/login, then reads /api/me, and says in plain words what went wrong;
// signing out posts /api/logout and reloads the page. Nothing else here knows a page.

import { api } from './api.js';

/**
 * Wires a sign-in form. ui: {form, why, username, password, submit, error} (elements) and
 * usual (the text of `why` when there is no particular reason); onSignedIn(me) gets /api/me's
 * answer ({user, role}). Returns {show(reason)}, which readies the form for a new sign-in
 * (the page shows the form's section itself).
 */
export function wireSignIn(ui, onSignedIn) {
  const showError = (text) => {
    ui.error.textContent = text;
    ui.error.hidden = false;
  };
  ui.form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const username = ui.username.value.trim();
    const password = ui.password.value;
    if (!username || !password) {
      showError('Enter your user name and password.');
      return;
    }
    ui.submit.disabled = true;
    ui.submit.textContent = 'Signing in…';
    try {
      await api('POST', '/api/login', { username, password });
      const { data } = await api('GET', '/api/me');
      onSignedIn(data);
    } catch (e) {
      if (e.code === 'bad_credentials' || e.status === 401) showError('Wrong user name or password.');
      else if (e.status === 0 || e.status >= 500) showError('The server is not answering. Please try again in a moment.');
      else if (e.code === 'rate_limited') showError('Too many attempts. Please wait a minute and try again.');
      else showError(e.message || 'Sign-in failed.');
    } finally {
      ui.submit.disabled = false;
      ui.submit.textContent = 'Sign in';
    }
  });
  return {
    show(reason) {
      ui.why.textContent = reason || ui.usual;
      ui.why.className = reason ? 'notice warn' : 'hint';
      ui.error.hidden = true;
      ui.password.value = '';
      (ui.username.value ? ui.password : ui.username).focus();
    },
  };
}

/** Ends the session (whatever the server says) and goes to page. */
export async function signOut(page) {
  try {
    await api('POST', '/api/logout', {});
  } catch {
    /* signed out anyway from the page's point of view */
  }
  location.href = page;
}
