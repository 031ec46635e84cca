// The "new conversation" sheet: a direct chat with one user, or a group
// with a title and members. Calls onDirect(user) / onGroup(title, members),
// which return promises; their RequestError codes become messages.
import { h } from './dom.js';
import { validId } from '../protocol.js';

const ERRORS = {
  not_found: 'No such user.',
  bad_request: 'That is not a valid user name (or it is you).',
  offline: 'Not connected; try again in a moment.',
  timeout: 'The server did not answer; try again.',
};

export class NewChat {
  constructor({ onDirect, onGroup }) {
    this.onDirect = onDirect;
    this.onGroup = onGroup;
    this.user = h('input', { id: 'new-direct-user', placeholder: 'user name', autocapitalize: 'none', spellcheck: 'false' });
    this.title = h('input', { id: 'new-group-title', placeholder: 'Group name' });
    this.members = h('input', { id: 'new-group-members', placeholder: 'bob, carol', autocapitalize: 'none', spellcheck: 'false' });
    this.error = h('p', { id: 'new-error', class: 'form-error', role: 'alert' });
    this.el = h('div', { id: 'new-dialog', class: 'sheet-backdrop', hidden: true, onclick: (e) => (e.target === this.el ? this.hide() : null) },
      h('div', { class: 'sheet', role: 'dialog', 'aria-modal': 'true', 'aria-label': 'New conversation' },
        h('header', {}, h('h2', {}, 'New conversation'),
          h('button', { class: 'icon', 'aria-label': 'Close', onclick: () => this.hide() }, '✕')),
        h('form', { id: 'new-direct', onsubmit: (e) => this.direct(e) },
          h('label', {}, 'Chat with', h('div', { class: 'row' }, this.user,
            h('button', { id: 'new-direct-go', class: 'primary', type: 'submit' }, 'Start')))),
        h('div', { class: 'or' }, h('span', {}, 'or create a group')),
        h('form', { id: 'new-group', onsubmit: (e) => this.group(e) },
          h('label', {}, 'Name', this.title),
          h('label', {}, 'Members (comma separated)', this.members),
          h('button', { id: 'new-group-go', class: 'primary wide', type: 'submit' }, 'Create group')),
        this.error));
  }

  show() {
    this.error.textContent = '';
    this.el.hidden = false;
    this.user.focus();
  }

  hide() {
    this.el.hidden = true;
    this.user.value = this.title.value = this.members.value = '';
  }

  async run(promise) {
    this.error.textContent = '';
    try {
      await promise;
      this.hide();
    } catch (e) {
      this.error.textContent = ERRORS[e.code] || e.message || 'Something went wrong.';
    }
  }

  direct(e) {
    e.preventDefault();
    const u = this.user.value.trim();
    if (!validId(u)) return (this.error.textContent = ERRORS.bad_request);
    return this.run(this.onDirect(u));
  }

  group(e) {
    e.preventDefault();
    const title = this.title.value.trim();
    const members = this.members.value.split(/[\s,]+/).filter(Boolean);
    if (!title) return (this.error.textContent = 'Give the group a name.');
    if (!members.every(validId)) return (this.error.textContent = ERRORS.bad_request);
    return this.run(this.onGroup(title, members));
  }
}
