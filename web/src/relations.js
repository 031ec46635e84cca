// Message relations (PROTOCOL.md "Message relations": replies, edits,
// deletes, reactions) folded into what the message view shows. The events
// are applied in seq order whatever order they arrived in (live, history
// pages, sync): fold() sorts what the timeline holds and starts over each
// time, so a page of history that brings an older edit, a repeated event or
// a delete seen before its target all come out the same. Pure: no DOM, no
// I/O.

export const RELATION_TYPES = new Set(['edit', 'delete', 'react']);
export const isRelation = (ev) => !!ev && RELATION_TYPES.has(ev.t);

// The reaction picker's choice (any emoji of at most 32 bytes is valid).
export const QUICK_EMOJIS = ['👍', '❤️', '😂', '😮', '😢', '🎉'];
export const REACT_MAX = 20; // emojis in one member's set (server limit)

// What an outbox entry asks (its `rel`): 'reply' | 'edit' | 'delete' |
// 'react', or 'msg' for a plain message.
export function relKind(rel) {
  if (!rel) return 'msg';
  if (rel.edit) return 'edit';
  if (rel.delete) return 'delete';
  if (rel.react) return 'react';
  return rel.reply_to ? 'reply' : 'msg';
}

const targetOf = (rel) => rel.edit || rel.delete || rel.react || 0;

// State of one message:
//   {seq, from, ts, body, attrs, reply_to, deleted, edited, editSeq,
//    reactions: Map(user -> {seq, emojis}), pending: {edit?, delete?}}
function fresh(ev) {
  const deleted = ev.deleted === true;
  return {
    seq: ev.seq,
    from: ev.from,
    ts: ev.ts,
    body: deleted ? undefined : ev.body,
    attrs: deleted ? undefined : ev.attrs,
    reply_to: Number.isInteger(ev.reply_to) ? ev.reply_to : 0,
    deleted,
    edited: false,
    editSeq: 0,
    reactions: new Map(),
    pending: {},
  };
}

function apply(m, ev) {
  if (ev.t === 'delete') {
    m.deleted = true;
    m.body = undefined;
    m.attrs = undefined;
    m.reactions.clear();
  } else if (m.deleted) {
    // An edit or a reaction of a deleted message shows nothing.
  } else if (ev.t === 'edit') {
    // A tombstone of an erased edit carries no body: nothing to show.
    if (typeof ev.body !== 'string' || ev.seq <= m.editSeq) return;
    m.body = ev.body;
    if (ev.attrs && typeof ev.attrs === 'object') m.attrs = ev.attrs;
    m.edited = true;
    m.editSeq = ev.seq;
  } else if (ev.t === 'react' && typeof ev.from === 'string' && Array.isArray(ev.emojis)) {
    const had = m.reactions.get(ev.from);
    if (had && had.seq >= ev.seq) return;
    const emojis = [...new Set(ev.emojis.filter((e) => typeof e === 'string' && e))];
    m.reactions.set(ev.from, { seq: ev.seq, emojis });
  }
}

// fold(events, pending) -> Map(seq -> state) of the msg events among
// `events` (stored events, any order, any types), with every edit, delete
// and react applied in seq order. `pending` (unacknowledged outbox entries
// {rel, body, attrs, from}, oldest first) go on top as the user's own
// intent: their edits and deletes are marked pending, their reaction set
// replaces the user's. Failed entries are left out by the caller.
export function fold(events, pending = []) {
  const list = [...events].filter((e) => e && Number.isInteger(e.seq)).sort((a, b) => a.seq - b.seq);
  const msgs = new Map();
  for (const ev of list) {
    if (ev.t === 'msg') {
      if (!msgs.has(ev.seq)) msgs.set(ev.seq, fresh(ev));
      else if (ev.deleted === true) apply(msgs.get(ev.seq), { t: 'delete' });
    } else if (isRelation(ev) && Number.isInteger(ev.target) && ev.target < ev.seq) {
      const m = msgs.get(ev.target);
      if (m) apply(m, ev);
    }
  }
  for (const it of pending) {
    const kind = relKind(it.rel);
    const m = msgs.get(targetOf(it.rel || {}));
    if (!m || kind === 'msg' || kind === 'reply') continue;
    if (kind === 'delete') m.pending.delete = true;
    else if (m.deleted) continue;
    else if (kind === 'edit') {
      m.pending.edit = true;
      m.body = it.body;
    } else if (kind === 'react') m.reactions.set(it.from, { seq: Infinity, emojis: it.rel.emojis || [] });
  }
  return msgs;
}

// The reaction chips of a message: [{emoji, count, users (sorted), mine}],
// each emoji in the order it was first given (by seq of the sets holding it).
export function chips(m, me) {
  if (!m || m.deleted) return [];
  const sets = [...m.reactions].sort((a, b) => a[1].seq - b[1].seq);
  const by = new Map();
  for (const [user, { emojis }] of sets) {
    for (const e of emojis) {
      if (!by.has(e)) by.set(e, []);
      by.get(e).push(user);
    }
  }
  return [...by].map(([emoji, users]) => ({
    emoji, count: users.length, users: users.sort(), mine: users.includes(me),
  }));
}

// The user's own set for message m (as the fold has it), [] when none.
export function mySet(m, me) {
  const r = m && m.reactions.get(me);
  return r ? [...r.emojis] : [];
}

// The set after tapping emoji: removed when it is in, else added (the
// oldest dropped past REACT_MAX).
export function toggle(set, emoji) {
  if (set.includes(emoji)) return set.filter((e) => e !== emoji);
  const next = [...set, emoji];
  return next.length > REACT_MAX ? next.slice(next.length - REACT_MAX) : next;
}

// What a reply shows of the message it quotes:
//   {state: 'ok', seq, from, body} | {state: 'deleted', seq} | {state: 'missing', seq}
export function quote(msgs, seq) {
  const m = msgs.get(seq);
  if (!m) return { state: 'missing', seq };
  if (m.deleted) return { state: 'deleted', seq, from: m.from };
  return { state: 'ok', seq, from: m.from, body: typeof m.body === 'string' ? m.body : '' };
}

export const QUOTE_TEXT = { missing: 'original message not loaded', deleted: 'message deleted' };
export const DELETED_TEXT = 'message deleted';

// May me delete m? Its sender, or an admin of a group (info from `convs`).
export function canDelete(m, me, info) {
  if (!m || m.deleted) return false;
  if (m.from === me) return true;
  return !!info && info.kind === 'group' && Array.isArray(info.admins) && info.admins.includes(me);
}

export const canEdit = (m, me) => !!m && !m.deleted && m.from === me;

// The conversation list's preview of a relation event (or a deleted msg),
// without the sender's prefix; null when ev is an ordinary message.
export function previewText(ev) {
  if (!ev) return null;
  if (ev.t === 'msg') return ev.deleted === true ? DELETED_TEXT : null;
  if (ev.t === 'edit') return 'edited a message';
  if (ev.t === 'delete') return 'deleted a message';
  if (ev.t === 'react') {
    const e = Array.isArray(ev.emojis) ? ev.emojis.filter((x) => typeof x === 'string') : [];
    return e.length ? `reacted ${e.join(' ')}` : 'removed a reaction';
  }
  return null;
}
