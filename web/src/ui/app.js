// The signed-in screen: a status banner, the sidebar (me, "New", sign out,
// conversation list) and the chat pane side by side, or one at a time on a
// phone. Turns session events into view updates.
import { h } from './dom.js';
import { avatar } from './avatar.js';
import { ConvList } from './convlist.js';
import { ChatView } from './chatview.js';
import { NewChat } from './newchat.js';

const STATUS_TEXT = {
  connecting: 'Connecting…',
  reconnecting: 'Connection lost. Reconnecting…',
  denied: 'Signed out: the server refused the login.',
  closed: 'Disconnected.',
};

export class AppView {
  constructor({ session, onSignOut }) {
    this.session = session;
    const s = session;
    this.list = new ConvList({ session: s, onOpen: (c) => this.open(c) });
    this.chat = new ChatView({ session: s, onBack: () => this.back() });
    this.newChat = new NewChat({
      onDirect: (u) => s.openDirect(u).then((c) => this.open(c)),
      onGroup: (t, m) => s.createGroup(t, m).then((c) => this.open(c)),
    });
    this.banner = h('div', { id: 'status-banner', class: 'banner', role: 'status', hidden: true });
    this.meDot = avatar(s.user, { presence: 'offline' });
    this.el = h('div', { id: 'app', class: 'app' },
      this.banner,
      h('div', { class: 'layout' },
        h('aside', { id: 'sidebar', class: 'sidebar' },
          h('header', { class: 'side-head' },
            this.meDot,
            h('div', { class: 'me' }, h('strong', { id: 'me-name' }, s.user), h('span', { id: 'me-status', class: 'me-status' }, '')),
            h('button', { id: 'new-chat', class: 'pill', onclick: () => this.newChat.show() }, '+ New'),
            h('button', { id: 'sign-out', class: 'icon', title: 'Sign out', 'aria-label': 'Sign out', onclick: onSignOut }, '⎋')),
          this.list.el),
        this.chat.el),
      this.newChat.el);
    this.unsub = [
      s.on('status', () => {
        this.renderStatus();
        this.chat.renderHead();
      }),
      s.on('convs', () => this.onConvs()),
      s.on('messages', (c) => this.onMessages(c)),
      s.on('receipts', (c) => (c === this.chat.conv ? this.chat.renderMarks() : null)),
      s.on('typing', (c) => this.onTyping(c)),
      s.on('presence', () => this.onPresence()),
      s.on('reset', () => (this.chat.conv ? this.open(this.chat.conv) : null)),
    ];
    this.renderStatus();
    this.list.render();
    // Relative times ("3 min ago") and typing expiry stay fresh.
    this.ticker = setInterval(() => this.chat.renderHead(), 30000);
  }

  destroy() {
    clearInterval(this.ticker);
    for (const u of this.unsub) u();
    this.el.remove();
  }

  open(conv) {
    this.list.active = conv;
    this.session.setActive(conv);
    this.chat.open(conv);
    this.el.classList.add('show-chat');
    this.list.render();
  }

  back() {
    this.session.setActive(null);
    this.list.active = null;
    this.chat.close();
    this.el.classList.remove('show-chat');
    this.list.render();
  }

  renderStatus() {
    const st = this.session.status;
    const text = st === 'online' ? '' : STATUS_TEXT[st] || '';
    this.banner.hidden = !text;
    this.banner.textContent = text;
    this.banner.dataset.status = st;
    this.el.dataset.status = st;
    const dot = this.meDot.querySelector('.dot');
    const shown = st === 'online' ? 'online' : 'offline';
    dot.className = `dot ${shown}`;
    dot.dataset.presence = shown;
    this.el.querySelector('#me-status').textContent = st === 'online' ? 'online' : STATUS_TEXT[st] ? st : '';
  }

  onConvs() {
    this.list.render();
    const unread = [...this.session.convs.values()].reduce((n, c) => n + (c.unread || 0), 0);
    document.title = `${unread ? `(${unread}) ` : ''}mqchat · ${this.session.user}`;
    if (this.chat.conv) this.chat.renderHead();
  }

  onMessages(conv) {
    if (conv === this.chat.conv) this.chat.renderMessages();
  }

  onTyping(conv) {
    if (conv === this.chat.conv) this.chat.renderTyping();
    this.list.render();
  }

  onPresence() {
    this.list.render();
    this.chat.renderHead();
  }
}
