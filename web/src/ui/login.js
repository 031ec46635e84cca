// The sign-in card: user, password, "keep me signed in" and (folded away)
// the server address. Calls onSubmit({user, password, url, keep}) only for a
// server of the page's own
// origin (server.js checkServer); shows errors given to fail(). `warning`
// (a ?mqtt= link naming another server, ignored by chooseServer) opens the
// server field and stays on the card until the user signs in.
import { h } from './dom.js';
import { validId } from '../protocol.js';
import { checkServer } from '../server.js';

export class LoginView {
  constructor({ defaultUrl, warning = null, pageUrl, lastUser, onSubmit }) {
    this.onSubmit = onSubmit;
    this.pageUrl = pageUrl;
    this.user = h('input', {
      id: 'login-user', name: 'username', autocomplete: 'username', autocapitalize: 'none',
      spellcheck: 'false', required: true, placeholder: 'alice', value: lastUser || '',
    });
    this.password = h('input', {
      id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password',
      required: true, placeholder: '••••••••',
    });
    this.keep = h('input', { id: 'login-keep', name: 'keep', type: 'checkbox' });
    this.url = h('input', { id: 'login-url', name: 'url', value: defaultUrl, spellcheck: 'false' });
    this.warning = h('p', { id: 'login-server-warning', class: 'form-warning', role: 'alert', hidden: !warning },
      warning || '');
    this.error = h('p', { id: 'login-error', class: 'form-error', role: 'alert' });
    this.button = h('button', { id: 'login-submit', type: 'submit', class: 'primary' }, 'Sign in');
    this.el = h('main', { id: 'login', class: 'login' },
      h('form', { class: 'card', onsubmit: (e) => this.submit(e) },
        h('div', { class: 'brand' }, h('span', { class: 'logo' }, 'mq'), h('h1', {}, 'mqchat')),
        h('p', { class: 'lead' }, 'Chat over MQTT, right from the browser.'),
        h('label', {}, 'User', this.user),
        h('label', {}, 'Password', this.password),
        h('label', { class: 'check' }, this.keep, 'Keep me signed in on this device'),
        this.server = h('details', { class: 'server', open: !!warning },
          h('summary', {}, 'Server'), this.warning, h('label', {}, 'WebSocket URL', this.url)),
        this.error,
        this.button));
  }

  submit(e) {
    e.preventDefault();
    const user = this.user.value.trim();
    if (!validId(user)) return this.fail('User names are 1-64 letters, digits, dots, dashes or underscores.');
    if (!this.password.value) return this.fail('Enter your password.');
    const server = checkServer(this.url.value, this.pageUrl);
    if (!server.ok) {
      this.server.open = true;
      return this.fail(server.reason);
    }
    this.busy(true);
    this.error.textContent = '';
    this.onSubmit({ user, password: this.password.value, url: server.url, keep: this.keep.checked });
  }

  busy(on, label = 'Signing in…') {
    this.button.disabled = on;
    this.button.textContent = on ? label : 'Sign in';
  }

  fail(text) {
    this.busy(false);
    this.error.textContent = text;
  }

  // The server cannot be reached yet: the attempt goes on, and the form can
  // be sent again (another address, say).
  note(text) {
    this.busy(false);
    this.error.textContent = text;
  }

  reset() {
    this.busy(false);
    this.password.value = '';
    this.error.textContent = '';
    this.warning.hidden = true;
  }
}
