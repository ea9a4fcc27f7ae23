// The staff sign-in shared by the box office (/boxoffice) and the admin dashboard (/admin):
// the form posts /api/login, then reads /api/me, and says in plain words what went wrong;
// signing out posts /api/logout and reloads the page. Nothing else here knows a page.

import { api } from './api.js';
import { el } from './util.js';

/**
 * Builds the sign-in form inside section (the page's empty `<section id="login">`, which the page
 * shows and hides itself): a heading `title`, the hint `usual` (shown when there is no particular
 * reason to sign in), user name, password and the submit button, with the ids the pages' tests
 * know (#login-form, #username, #password, #login-submit, #login-error). onSignedIn(me) gets
 * /api/me's answer ({user, role}). Returns {show(reason)}, which readies the form for a new
 * sign-in.
 */
export function mountSignIn(section, { title, usual }, onSignedIn) {
  const field = (id, label, type, autocomplete) =>
    el('div', { class: 'field' },
      el('label', { for: id, text: label }),
      el('input', { type, id, name: id, autocomplete, required: true }));
  const ui = {
    why: el('p', { class: 'hint', id: 'login-why', text: usual }),
    error: el('div', { class: 'notice bad', id: 'login-error', role: 'alert', hidden: true }),
    username: null,
    password: null,
    submit: el('button', { type: 'submit', class: 'primary block', id: 'login-submit', text: 'Sign in' }),
    usual,
  };
  const user = field('username', 'User name', 'text', 'username');
  const pass = field('password', 'Password', 'password', 'current-password');
  ui.username = user.querySelector('input');
  ui.password = pass.querySelector('input');
  ui.form = el('form', { class: 'login-card', id: 'login-form', novalidate: true },
    el('h1', { text: title }), ui.why, ui.error, user, pass, ui.submit);
  section.replaceChildren(ui.form);
  return wire(ui, onSignedIn);
}

function wire(ui, onSignedIn) {
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
