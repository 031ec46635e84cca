// The conversation list: one row per conversation, newest activity first,
// with the avatar (presence dot for direct chats), title, last event and
// unread badge. Calls onOpen(conv).
import { h, replace } from './dom.js';
import { avatar } from './avatar.js';
import { memberText, shortTime } from './format.js';
import { previewText } from '../relations.js';
import { previewText as attachPreview } from '../attach.js';

export class ConvList {
  constructor({ session, onOpen }) {
    this.session = session;
    this.onOpen = onOpen;
    this.active = null;
    this.el = h('ul', { id: 'conv-list', class: 'conv-list', role: 'list' });
  }

  preview(info) {
    const ev = info.lastEvent;
    if (!ev) return info.kind === 'group' ? `${info.members.length} members` : 'No messages yet';
    if (ev.t === 'member') return memberText(ev);
    const who = ev.from === this.session.user ? 'You: ' : info.kind === 'group' ? `${ev.from}: ` : '';
    return who + (previewText(ev) ?? attachPreview(ev));
  }

  render() {
    const s = this.session;
    const items = s.conversations();
    if (!items.length) {
      replace(this.el, h('li', { class: 'empty-list' }, 'No conversations yet. Start one with “New”.'));
      return;
    }
    replace(this.el, items.map((info) => {
      const peer = s.peer(info.conv);
      const typing = s.typingUsers(info.conv);
      const pres = peer ? (s.presence.get(peer) || {}).state || 'offline' : null;
      return h('li', {
        class: `conv ${info.conv === this.active ? 'active' : ''} ${info.unread ? 'has-unread' : ''}`,
        'data-conv': info.conv,
        'data-title': s.title(info.conv),
        role: 'button',
        tabindex: '0',
        onclick: () => this.onOpen(info.conv),
        onkeydown: (e) => (e.key === 'Enter' ? this.onOpen(info.conv) : null),
      },
      avatar(s.title(info.conv), { presence: peer ? pres : null, group: info.kind === 'group' }),
      h('div', { class: 'conv-main' },
        h('div', { class: 'conv-top' },
          h('span', { class: 'conv-title' }, s.title(info.conv)),
          h('span', { class: 'conv-time' }, shortTime(info.lastTs))),
        h('div', { class: 'conv-bottom' },
          typing.length
            ? h('span', { class: 'conv-preview typing' }, 'typing…')
            : h('span', { class: 'conv-preview' }, this.preview(info)),
          info.unread ? h('span', { class: 'badge', 'data-unread': info.unread }, String(info.unread)) : null)));
    }));
  }
}
