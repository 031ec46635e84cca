// The open conversation: header (title, presence or typing), the message
// list (day separators, sender names in groups, sent/delivered/read marks,
// an unread divider, older pages loaded on scrolling up, replies, edits,
// deletes and reactions through relview.js), the typing line and the
// composer. Attachments: the clip button, pasting files and dropping them on
// the pane upload them (a progress row each); images show inline (click: the
// full image in a new tab), other files as a link with size.
import { h, replace } from './dom.js';
import { Attachments, attachmentOf, formatSize, isImage } from '../attach.js';
import { avatar } from './avatar.js';
import { RelView } from './relview.js';
import { clock, day, hue, lastSeen, memberText, typingText } from './format.js';

// A paper clip drawn as SVG (an emoji may be missing from the fonts).
function clip() {
  const NS = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('width', '20');
  svg.setAttribute('height', '20');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'clip');
  const p = document.createElementNS(NS, 'path');
  p.setAttribute('d', 'M21 11.5l-8.6 8.6a5.5 5.5 0 01-7.8-7.8l8.6-8.6a3.7 3.7 0 015.2 5.2l-8.6 8.6a1.8 1.8 0 01-2.6-2.6l8-8');
  p.setAttribute('fill', 'none');
  p.setAttribute('stroke', 'currentColor');
  p.setAttribute('stroke-width', '2');
  p.setAttribute('stroke-linecap', 'round');
  svg.appendChild(p);
  return svg;
}

const MARK_TEXT = { pending: '◷', sent: '✓', delivered: '✓✓', read: '✓✓', failed: '!' };
const MARK_LABEL = {
  pending: 'sending', sent: 'sent', delivered: 'delivered', read: 'read', failed: 'not sent, tap to retry',
};

export class ChatView {
  constructor({ session, onBack }) {
    this.session = session;
    this.files = new Attachments(session);
    this.conv = null;
    this.unreadFrom = 0;
    this.loadingOlder = false;
    this.title = h('div', { id: 'chat-title', class: 'chat-title' });
    this.sub = h('div', { id: 'chat-sub', class: 'chat-sub' });
    this.headAvatar = h('span', { class: 'head-avatar' });
    this.list = h('div', { class: 'msg-list' });
    this.older = h('div', { class: 'older', id: 'older' });
    this.scroller = h('div', { id: 'messages', class: 'messages', onscroll: () => this.onScroll() },
      this.older, this.list);
    this.typingLine = h('div', { id: 'typing', class: 'typing-line', 'aria-live': 'polite' });
    this.input = h('textarea', {
      id: 'composer-input', rows: '1', placeholder: 'Message', autocomplete: 'off',
      oninput: () => this.onInput(), onkeydown: (e) => this.onKey(e),
    });
    this.rel = new RelView({ session, view: this });
    this.sendBtn = h('button', { id: 'composer-send', type: 'submit', class: 'send', 'aria-label': 'Send' }, '➤');
    this.fileInput = h('input', {
      id: 'composer-file', type: 'file', multiple: true, hidden: true,
      onchange: () => {
        this.uploadFiles([...this.fileInput.files]);
        this.fileInput.value = '';
      },
    });
    this.attachBtn = h('button', {
      id: 'composer-attach', type: 'button', class: 'icon attach', title: 'Attach a photo or file',
      'aria-label': 'Attach a photo or file', onclick: () => this.fileInput.click(),
    }, clip());
    this.input.addEventListener('paste', (e) => this.onPaste(e));
    this.uploads = h('div', { id: 'uploads', class: 'uploads', 'aria-live': 'polite' });
    this.empty = h('div', { class: 'chat-empty' },
      h('div', { class: 'logo big' }, 'mq'),
      h('p', {}, 'Pick a conversation, or start a new one.'));
    this.pane = h('section', { class: 'chat-pane', hidden: true },
      h('header', { class: 'chat-head' },
        h('button', { id: 'back', class: 'icon back', 'aria-label': 'Back', onclick: onBack }, '‹'),
        this.headAvatar,
        h('div', { class: 'chat-head-text' }, this.title, this.sub)),
      this.scroller,
      this.typingLine,
      this.rel.bar,
      this.uploads,
      h('form', { id: 'composer', class: 'composer', onsubmit: (e) => this.onSend(e) },
        this.attachBtn, this.fileInput, this.input, this.sendBtn));
    this.pane.addEventListener('dragover', (e) => this.onDrag(e));
    this.pane.addEventListener('dragleave', () => this.pane.classList.remove('dropping'));
    this.pane.addEventListener('drop', (e) => this.onDrop(e));
    this.el = h('div', { id: 'chat', class: 'chat' }, this.empty, this.pane);
  }

  open(conv) {
    const s = this.session;
    this.conv = conv;
    const info = s.convs.get(conv);
    this.unreadFrom = info && info.unread ? info.read_seq + 1 : 0;
    this.empty.hidden = true;
    this.pane.hidden = false;
    this.el.dataset.conv = conv;
    this.input.value = '';
    this.rel.reset();
    this.renderHead();
    this.renderMessages({ toBottom: true });
    this.renderTyping();
    const tl = s.timeline(conv);
    if (!tl.historyLoaded && s.connected) {
      s.loadHistory(conv).then(() => this.fill()).catch(() => {});
    }
    if (window.matchMedia('(min-width: 720px)').matches) this.input.focus();
  }

  close() {
    this.conv = null;
    this.pane.hidden = true;
    this.empty.hidden = false;
    delete this.el.dataset.conv;
  }

  renderHead() {
    const s = this.session;
    if (!this.conv) return;
    const info = s.convs.get(this.conv);
    const peer = s.peer(this.conv);
    const name = s.title(this.conv);
    const typing = s.typingUsers(this.conv);
    const pres = peer ? s.presence.get(peer) : null;
    replace(this.headAvatar, avatar(name, { presence: peer ? (pres && pres.state) || 'offline' : null, group: info && info.kind === 'group' }));
    this.title.textContent = name;
    let sub;
    if (s.status !== 'online') sub = 'waiting for the network…';
    else if (typing.length) sub = info && info.kind === 'group' ? `${typingText(typing)}…` : 'typing…';
    else if (peer) sub = lastSeen(pres) || 'offline';
    else sub = info ? info.members.join(', ') : '';
    this.sub.textContent = sub;
    this.sub.className = `chat-sub ${typing.length ? 'typing' : ''} ${pres && pres.state === 'online' && !typing.length ? 'online' : ''}`;
    this.sub.dataset.presence = pres ? pres.state : '';
  }

  renderTyping() {
    if (!this.conv) return;
    const users = this.session.typingUsers(this.conv);
    if (!users.length) {
      this.typingLine.classList.remove('on');
      this.typingLine.replaceChildren();
    } else {
      replace(this.typingLine, h('span', { class: 'dots' }, h('i'), h('i'), h('i')), ` ${typingText(users)}`);
      this.typingLine.classList.add('on');
    }
    this.renderHead();
  }

  // Rebuilds the message list, keeping the reader's place: pinned to the
  // bottom when they were there, still in place when older pages arrive.
  renderMessages({ toBottom = false } = {}) {
    const s = this.session;
    if (!this.conv) return;
    const sc = this.scroller;
    const fromBottom = sc.scrollHeight - sc.scrollTop - sc.clientHeight;
    const atBottom = toBottom || fromBottom < 48;
    const keepTop = sc.scrollTop;
    const info = s.convs.get(this.conv);
    const group = info && info.kind === 'group';
    const tl = s.timeline(this.conv);
    const rows = [];
    let lastDay = '';
    let prev = null;
    const rels = this.rel.begin(this.conv);
    for (const ev of s.messages(this.conv)) {
      const d = day(ev.ts || Date.now());
      if (d !== lastDay) {
        rows.push(h('div', { class: 'day' }, h('span', {}, d)));
        lastDay = d;
        prev = null;
      }
      if (this.unreadFrom && ev.seq === this.unreadFrom && ev.from !== s.user) {
        rows.push(h('div', { class: 'unread-divider', id: 'unread-divider' }, h('span', {}, 'New messages')));
      }
      if (ev.t === 'member') {
        rows.push(h('div', { class: 'system', 'data-seq': ev.seq }, memberText(ev)));
        prev = null;
        continue;
      }
      const mine = ev.from === s.user;
      const cont = prev && prev.from === ev.from && (ev.ts || 0) - (prev.ts || 0) < 5 * 60000;
      const mark = mine ? s.mark(ev) : null;
      const m = ev.seq ? rels.get(ev.seq) : undefined;
      rows.push(h('div', {
        class: `msg ${mine ? 'mine' : 'theirs'} ${cont ? 'cont' : ''} ${mark === 'failed' ? 'failed' : ''}`,
        'data-seq': ev.seq, 'data-id': ev.id, 'data-from': ev.from,
        onclick: mark === 'failed' ? () => s.retry(ev.id) : ev.seq ? () => this.rel.tap(ev.seq) : null,
      },
      h('div', { class: 'stack' },
        h('div', { class: 'bubble' },
          group && !mine && !cont ? h('div', { class: 'sender', style: { '--h': hue(ev.from) } }, ev.from) : null,
          this.rel.quote(m ? m.reply_to : ev.reply_to),
          // The folded state holds the latest attrs (an edit may replace
          // them) and none once deleted.
          m && m.deleted ? null : this.attachmentView(m ? { ...ev, attrs: m.attrs } : ev),
          (m ? m.deleted || m.body : ev.body) || !attachmentOf(m ? { attrs: m.attrs } : ev) ? this.rel.body(ev, m) : null,
          h('span', { class: 'meta' },
            this.rel.edited(m),
            h('span', { class: 'time' }, clock(ev.ts || Date.now())),
            mine ? h('span', { class: `mark ${mark}`, 'data-mark': mark, title: MARK_LABEL[mark], 'aria-label': MARK_LABEL[mark] }, MARK_TEXT[mark]) : null)),
        this.rel.chips(this.conv, m),
        this.rel.pickerRow(this.conv, ev, m)),
      this.rel.actions(this.conv, ev, m)));
      prev = ev;
    }
    rows.push(...this.rel.failedRows(this.conv));
    if (!rows.length) rows.push(h('div', { class: 'system' }, tl.historyLoaded ? 'No messages yet. Say hi!' : 'Loading…'));
    replace(this.list, rows);
    replace(this.older, tl.historyLoaded && tl.more ? (this.loadingOlder ? 'Loading older messages…' : '') : tl.historyLoaded && tl.size ? 'Start of the conversation' : '');
    if (atBottom) sc.scrollTop = sc.scrollHeight;
    else if (this.prepending) sc.scrollTop = sc.scrollHeight - sc.clientHeight - fromBottom;
    else sc.scrollTop = keepTop;
  }

  // Marks change without rebuilding the list.
  renderMarks() {
    const s = this.session;
    if (!this.conv) return;
    for (const el of this.list.querySelectorAll('.msg.mine[data-seq]')) {
      const seq = Number(el.dataset.seq);
      if (!seq) continue;
      const mark = s.mark({ conv: this.conv, seq });
      const m = el.querySelector('.mark');
      if (m && m.dataset.mark !== mark) {
        m.dataset.mark = mark;
        m.className = `mark ${mark}`;
        m.textContent = MARK_TEXT[mark];
        m.title = MARK_LABEL[mark];
        m.setAttribute('aria-label', MARK_LABEL[mark]);
      }
    }
  }

  // The attachment of ev as shown in its bubble, or null. Images get their
  // download URL when drawn (the URL is cached, so redraws reuse it).
  attachmentView(ev) {
    const a = attachmentOf(ev);
    if (!a) return null;
    const conv = ev.conv;
    const open = async (e) => {
      e.preventDefault();
      e.stopPropagation();
      try {
        window.open(await this.files.url(conv, a.key), '_blank', 'noopener');
      } catch (err) {
        this.showUploadError(a.name, err);
      }
    };
    if (isImage(a)) {
      const img = h('img', { class: 'thumb', alt: a.name, title: a.name, 'data-key': a.key, onclick: open });
      this.files.url(conv, a.key).then((url) => {
        img.src = url;
      }, () => img.classList.add('broken'));
      return h('div', { class: 'attachment image' }, img);
    }
    return h('a', { class: 'attachment file', href: '#', 'data-key': a.key, onclick: open },
      h('span', { class: 'file-icon' }, clip()),
      h('span', { class: 'file-name' }, a.name),
      a.size !== null ? h('span', { class: 'file-size' }, formatSize(a.size)) : null);
  }

  // ---- uploads ----

  uploadFiles(files) {
    for (const f of files) this.uploadOne(this.conv, f);
  }

  async uploadOne(conv, file) {
    if (!conv || !file) return;
    const bar = h('progress', { max: '1', value: '0' });
    const row = h('div', { class: 'upload', 'data-name': file.name || 'file' },
      h('span', { class: 'upload-name' }, file.name || 'file'), bar,
      h('span', { class: 'upload-pct' }, '0%'));
    this.uploads.appendChild(row);
    try {
      await this.files.upload(conv, file, (f) => {
        bar.value = f;
        row.querySelector('.upload-pct').textContent = `${Math.round(f * 100)}%`;
      });
      row.remove();
      this.unreadFrom = 0;
      if (this.conv === conv) this.renderMessages({ toBottom: true });
    } catch (err) {
      row.remove();
      this.showUploadError(file.name || 'file', err);
    }
  }

  showUploadError(name, err) {
    const why = err && err.code === 'too_large' ? 'the file is too large'
      : err && err.code === 'unavailable' ? 'this server does not take files'
        : (err && err.message) || 'failed';
    const row = h('div', { class: 'upload error', role: 'alert' }, `${name}: ${why}`,
      h('button', { type: 'button', class: 'icon', 'aria-label': 'Dismiss', onclick: () => row.remove() }, '×'));
    this.uploads.appendChild(row);
  }

  onPaste(e) {
    const files = [...((e.clipboardData && e.clipboardData.files) || [])];
    if (!files.length) return;
    e.preventDefault();
    this.uploadFiles(files);
  }

  onDrag(e) {
    if (!this.conv || !e.dataTransfer || ![...e.dataTransfer.types].includes('Files')) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'copy';
    this.pane.classList.add('dropping');
  }

  onDrop(e) {
    this.pane.classList.remove('dropping');
    const files = [...((e.dataTransfer && e.dataTransfer.files) || [])];
    if (!files.length) return;
    e.preventDefault();
    this.uploadFiles(files);
  }

  onScroll() {
    if (this.scroller.scrollTop < 80) this.loadOlder();
  }

  // Loads older pages on scrolling up, and until the view can scroll.
  async loadOlder() {
    const s = this.session;
    const conv = this.conv;
    if (!conv || this.loadingOlder || !s.connected) return;
    const tl = s.timeline(conv);
    if (!tl.historyLoaded || !tl.more) return;
    this.loadingOlder = true;
    this.older.textContent = 'Loading older messages…';
    try {
      this.prepending = true;
      await s.loadHistory(conv);
    } catch {
      /* offline: scrolling again retries */
    } finally {
      this.loadingOlder = false;
      if (this.conv === conv) this.renderMessages();
      this.prepending = false;
    }
    this.fill();
  }

  fill() {
    const sc = this.scroller;
    if (this.conv && sc.scrollHeight <= sc.clientHeight + 80) this.loadOlder();
  }

  onInput() {
    const el = this.input;
    el.style.height = 'auto';
    el.style.height = `${Math.min(el.scrollHeight, 140)}px`;
    if (this.conv && el.value.trim()) this.session.typing(this.conv);
    else if (this.conv) this.session.stopTyping(this.conv);
  }

  onKey(e) {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) this.onSend(e);
    else if (e.key === 'Escape' && this.rel.mode) this.rel.cancel();
  }

  onSend(e) {
    e.preventDefault();
    const body = this.input.value.trim();
    if (!body || !this.conv) return;
    if (!this.rel.submit(this.conv, body)) this.session.send(this.conv, body);
    this.input.value = '';
    this.input.style.height = 'auto';
    this.unreadFrom = 0;
    this.renderMessages({ toBottom: true });
  }
}

