// The message view's part of message relations (relations.js): the quoted
// message of a reply, the "edited" mark, the "message deleted" placeholder,
// reaction chips (tap to toggle, title says who), a message's actions
// (reply, react through a small picker, edit and delete where allowed, the
// delete confirmed in place), the composer's "Replying to" / "Editing" bar,
// and notices for edits, deletes and reactions the server refused. The
// chat view rebuilds its list on every change, so what is open (picker,
// delete confirmation, the message tapped on a touch screen) lives here.
import { h, replace } from './dom.js';
import { hue } from './format.js';
import {
  DELETED_TEXT, QUICK_EMOJIS, QUOTE_TEXT, canDelete, canEdit, chips, quote, relKind,
} from '../relations.js';

const clip = (s, n = 80) => (s.length > n ? `${s.slice(0, n)}…` : s);
const FAILED_TEXT = { edit: 'edit', delete: 'delete', react: 'reaction' };

export class RelView {
  // session: the ChatSession; view: the ChatView (conv, input, renderMessages).
  constructor({ session, view }) {
    this.session = session;
    this.view = view;
    this.mode = null; // null | {kind: 'reply'|'edit', seq}
    this.picker = 0; // seq whose reaction picker is open
    this.confirm = 0; // seq whose delete asks for confirmation
    this.selected = 0; // seq tapped (actions shown on touch screens)
    this.ctxText = h('span', { class: 'ctx-text' });
    this.bar = h('div', { id: 'compose-context', class: 'compose-context', hidden: true },
      this.ctxText,
      h('button', { id: 'compose-cancel', type: 'button', class: 'icon', 'aria-label': 'Cancel', onclick: () => this.cancel() }, '✕'));
    this.msgs = new Map();
  }

  // Call at the start of each list render: the folded state of conv.
  begin(conv) {
    this.msgs = this.session.relations(conv);
    return this.msgs;
  }

  reset() {
    this.cancel(false);
    this.picker = this.confirm = this.selected = 0;
  }

  rerender() {
    this.view.renderMessages();
  }

  // ---- inside a bubble ------------------------------------------------

  quote(replyTo) {
    if (!replyTo) return null;
    const q = quote(this.msgs, replyTo);
    const text = q.state === 'ok' ? clip(q.body || '') : QUOTE_TEXT[q.state];
    return h('div', {
      class: `quote ${q.state}`, 'data-state': q.state, 'data-target': replyTo,
      onclick: (e) => {
        e.stopPropagation();
        const el = this.view.list.querySelector(`.msg[data-seq="${replyTo}"]`);
        if (el) el.scrollIntoView({ block: 'center' });
      },
    },
    q.from ? h('span', { class: 'quote-from', style: { '--h': hue(q.from) } }, q.from) : null,
    h('span', { class: 'quote-text' }, text));
  }

  // The body element of message ev with state m (m undefined while pending).
  body(ev, m) {
    if (m && (m.deleted || m.pending.delete)) {
      return h('span', { class: 'body deleted' }, m.deleted ? DELETED_TEXT : 'deleting…');
    }
    return h('span', { class: 'body' }, m ? m.body : ev.body);
  }

  edited(m) {
    if (!m || m.deleted || !(m.edited || m.pending.edit)) return null;
    return h('span', { class: 'edited', title: m.pending.edit ? 'saving the edit' : 'edited' }, m.pending.edit ? 'editing…' : 'edited');
  }

  chips(conv, m) {
    const list = chips(m, this.session.user);
    if (!list.length) return null;
    return h('div', { class: 'chips' }, list.map((c) => h('button', {
      type: 'button',
      class: `chip ${c.mine ? 'mine' : ''}`,
      'data-emoji': c.emoji,
      'data-count': c.count,
      'data-users': c.users.join(','),
      title: c.users.join(', '),
      'aria-label': `${c.emoji} ${c.count}: ${c.users.join(', ')}${c.mine ? ' (tap to remove yours)' : ''}`,
      'aria-pressed': c.mine ? 'true' : 'false',
      onclick: (e) => {
        e.stopPropagation();
        this.session.toggleReaction(conv, m.seq, c.emoji);
      },
    }, `${c.emoji} ${c.count}`)));
  }

  // The actions of a stored message (none while it is pending or deleted).
  actions(conv, ev, m) {
    if (!m || m.deleted || m.pending.delete || !ev.seq) return null;
    const s = this.session;
    const info = s.convs.get(conv);
    const btn = (cls, label, text, fn) => h('button', {
      type: 'button', class: `act ${cls}`, title: label, 'aria-label': label,
      onclick: (e) => {
        e.stopPropagation();
        fn();
      },
    }, text);
    const row = [
      btn('act-reply', 'Reply', '↩', () => this.start('reply', ev.seq)),
      btn('act-react', 'React', '☺', () => {
        this.picker = this.picker === ev.seq ? 0 : ev.seq;
        this.confirm = 0;
        this.rerender();
      }),
    ];
    if (canEdit(m, s.user)) row.push(btn('act-edit', 'Edit', '✎', () => this.start('edit', ev.seq)));
    if (canDelete(m, s.user, info)) {
      row.push(this.confirm === ev.seq
        ? btn('act-delete-confirm danger', 'Delete for everyone', 'Delete?', () => {
          this.confirm = 0;
          if (this.mode && this.mode.seq === ev.seq) this.cancel(false);
          s.deleteMessage(conv, ev.seq);
        })
        : btn('act-delete', 'Delete', '🗑', () => {
          this.confirm = ev.seq;
          this.picker = 0;
          this.rerender();
        }));
    }
    const open = this.picker === ev.seq || this.confirm === ev.seq || this.selected === ev.seq;
    return h('div', { class: `actions ${open ? 'open' : ''}` }, row);
  }

  // The reaction picker of message ev when it is open: a row under the
  // bubble (in the flow, so the list's edges never clip it).
  pickerRow(conv, ev, m) {
    if (!m || this.picker !== ev.seq || m.deleted) return null;
    const s = this.session;
    const mine = new Set(chips(m, s.user).filter((c) => c.mine).map((c) => c.emoji));
    return h('div', { class: 'picker', role: 'menu' }, QUICK_EMOJIS.map((emoji) => h('button', {
      type: 'button', class: `pick ${mine.has(emoji) ? 'mine' : ''}`, title: `React ${emoji}`, 'aria-label': `React ${emoji}`,
      onclick: (e) => {
        e.stopPropagation();
        this.picker = 0;
        s.toggleReaction(conv, ev.seq, emoji);
      },
    }, emoji)));
  }

  // A tap on a bubble shows its actions (touch screens have no hover).
  tap(seq) {
    const sel = globalThis.getSelection ? String(globalThis.getSelection()) : '';
    if (sel) return; // selecting text is no tap
    this.selected = this.selected === seq ? 0 : seq;
    if (!this.selected) this.picker = this.confirm = 0;
    this.rerender();
  }

  // Notices for relations the server refused for good (tap to dismiss).
  failedRows(conv) {
    return this.session.failedRelations(conv).map((it) => h('div', {
      class: 'system rel-failed', 'data-id': it.id, role: 'button', title: 'Dismiss',
      onclick: () => {
        this.session.outbox.discard(it.id);
        this.rerender();
      },
    }, `Your ${FAILED_TEXT[relKind(it.rel)] || 'change'} was refused (${it.failed}). Tap to dismiss.`));
  }

  // ---- composer -------------------------------------------------------

  start(kind, seq) {
    const m = this.msgs.get(seq);
    if (!m) return;
    this.mode = { kind, seq };
    this.picker = this.confirm = 0;
    const input = this.view.input;
    if (kind === 'edit') {
      input.value = m.body || '';
      replace(this.ctxText, h('strong', {}, 'Editing'), ` ${clip(m.body || '', 60)}`);
    } else {
      replace(this.ctxText, h('strong', {}, `Replying to ${m.from === this.session.user ? 'yourself' : m.from}`), ` ${clip(m.body || '', 60)}`);
    }
    this.bar.hidden = false;
    this.bar.dataset.mode = kind;
    this.bar.dataset.target = seq;
    input.focus();
    this.rerender();
  }

  cancel(render = true) {
    const wasEdit = this.mode && this.mode.kind === 'edit';
    this.mode = null;
    this.bar.hidden = true;
    delete this.bar.dataset.mode;
    delete this.bar.dataset.target;
    if (wasEdit) this.view.input.value = '';
    if (render && this.view.conv) this.rerender();
  }

  // The composer sends body: a reply or an edit when one is under way.
  // Returns true when it took the send.
  submit(conv, body) {
    if (!this.mode) return false;
    const { kind, seq } = this.mode;
    if (kind === 'edit') {
      const m = this.msgs.get(seq);
      if (m && m.body !== body) this.session.edit(conv, seq, body);
    } else {
      this.session.reply(conv, seq, body);
    }
    this.cancel(false);
    return true;
  }
}
