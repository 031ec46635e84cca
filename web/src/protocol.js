// The mqchat wire contract (docs/PROTOCOL.md) for one signed-in user, with
// no DOM: it drives an mqtt.js-like client (on/subscribe/publish/end), keeps
// the conversations, their events (deduplicated by conv+seq), cursors,
// presence and typing state, sends receipts, resends unacknowledged messages
// with the same id, and catches up with `sync` after every (re)connect using
// a token kept in storage. The UI listens to its events and calls its
// methods; tests drive it with a fake client and a fake clock.

import { Emitter } from './emitter.js';
import { Outbox } from './outbox.js';
import { Timeline } from './timeline.js';
import { fold, isRelation, mySet, relKind, toggle } from './relations.js';

export const topics = {
  inbox: (u) => `chat/u/${u}/inbox`,
  req: (u) => `chat/u/${u}/req`,
  send: (c) => `chat/c/${c}/send`,
  receipt: (c) => `chat/c/${c}/receipt`,
  typing: (c) => `chat/c/${c}/typing`,
  presence: (u) => `chat/presence/${u}`,
};

const ID_RE = /^[A-Za-z0-9_.-]{1,64}$/;
export const validId = (s) => typeof s === 'string' && ID_RE.test(s);

// A request answered with an `err` event, or one that could not complete
// (code 'offline' when the connection dropped, 'timeout').
export class RequestError extends Error {
  constructor(code, msg, op) {
    super(msg || code);
    this.code = code;
    this.op = op;
  }
}

const decoder = typeof TextDecoder !== 'undefined' ? new TextDecoder() : null;
function text(payload) {
  if (typeof payload === 'string') return payload;
  if (decoder && payload instanceof Uint8Array) return decoder.decode(payload);
  return String(payload);
}

function randomTag() {
  const c = globalThis.crypto;
  if (c && c.getRandomValues) {
    const b = new Uint8Array(6);
    c.getRandomValues(b);
    return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  }
  return Math.random().toString(16).slice(2, 14);
}

export const TYPING_SHOW_MS = 6000; // a composing state not renewed fades out
export const TYPING_RESEND_MS = 3000; // renew our composing state this often
export const TYPING_IDLE_MS = 5000; // then say paused

export class ChatSession extends Emitter {
  // user: the signed-in user id. storage: localStorage-like or null.
  // now/timers: injectable clock (Date.now and globalThis by default).
  constructor({
    user,
    storage = null,
    now = () => Date.now(),
    timers = globalThis,
    retryMs = 3000,
    requestTimeoutMs = 15000,
    syncDelayMs = 4000,
    historyPage = 50,
    tag = randomTag(),
  }) {
    super();
    if (!validId(user)) throw new Error('bad user id');
    this.user = user;
    this.storage = storage;
    this.now = now;
    this.timers = timers;
    this.retryMs = retryMs;
    this.requestTimeoutMs = requestTimeoutMs;
    this.syncDelayMs = syncDelayMs;
    this.historyPage = historyPage;
    this.tag = tag;
    this.client = null;
    this.status = 'idle'; // idle | connecting | online | reconnecting | denied | closed
    this.connected = false;
    this.ready = false; // convs and sync done since the last connect
    this.everConnected = false;
    this.convs = new Map(); // conv -> {conv, kind, title, members, admins, last_seq, read_seq, unread, lastTs}
    this.timelines = new Map(); // conv -> Timeline
    this.presence = new Map(); // user -> {state, last_seen, ts}
    this.typingState = new Map(); // conv -> Map(user -> expiresAt)
    this.outbox = new Outbox({ storage, key: `mqchat.outbox.${user}`, retryMs });
    this.pending = new Map(); // req id -> {resolve, reject, timer, op}
    this.reqN = 0;
    this.msgN = 0;
    this.active = null; // the conversation on screen
    this.visible = true; // the page is visible (read receipts only then)
    this.sentCursors = new Map(); // conv -> {delivered, read} we published
    this.receiptTimers = new Map();
    this.typingOut = new Map(); // conv -> {lastSent, idleTimer}
    this.historyBusy = new Map(); // conv -> Promise
    this.syncing = false;
    this.syncAgain = false;
    this.syncTimer = null;
    this.convsTimer = null;
    this.retryTimer = null;
    this.away = false;
    this.presenceSubs = new Set(); // contacts whose presence topic we hold
    this.connectEpoch = 0; // catch-ups of older connections give up
    this.closesInRow = 0; // closes since the last good connect (reconnect backoff)
  }

  // The wait before the next reconnect: jittered and doubling per close in a
  // row, 0.5-1 s up to 5-10 s. A close without a CONNACK is the server's
  // "busy" answer (login storm, login pacing: docs/PROTOCOL.md) and must not
  // be retried in lockstep by every client at once.
  nextReconnectMs() {
    const w = Math.min(1000 * 2 ** this.closesInRow, 10000);
    this.closesInRow += 1;
    return Math.round(w / 2 + Math.random() * (w / 2));
  }

  // ---- connection -----------------------------------------------------

  // Takes an mqtt.js client (connecting or connected, with reconnect on) and
  // follows its lifecycle until close().
  attach(client) {
    this.client = client;
    this.setStatus('connecting');
    client.on('connect', () => this.onConnect());
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
    client.on('close', () => {
      // mqtt.js reads reconnectPeriod when it schedules the next attempt.
      if (client.options) client.options.reconnectPeriod = this.nextReconnectMs();
      this.onClose();
    });
    client.on('offline', () => this.onClose());
    client.on('reconnect', () => {
      if (this.status !== 'denied' && this.status !== 'closed') {
        this.setStatus(this.everConnected ? 'reconnecting' : 'connecting');
      }
    });
    client.on('error', (err) => this.onClientError(err));
    this.retryTimer = this.timers.setInterval(() => this.flushOutbox(false), Math.max(250, this.retryMs / 2));
    return this;
  }

  close() {
    this.setStatus('closed');
    this.teardownTimers();
    this.failPending('closed');
    if (this.client) this.client.end(true);
  }

  teardownTimers() {
    const t = this.timers;
    if (this.retryTimer) t.clearInterval(this.retryTimer);
    if (this.syncTimer) t.clearTimeout(this.syncTimer);
    if (this.convsTimer) t.clearTimeout(this.convsTimer);
    for (const id of this.receiptTimers.values()) t.clearTimeout(id);
    for (const o of this.typingOut.values()) if (o.idleTimer) t.clearTimeout(o.idleTimer);
    this.retryTimer = this.syncTimer = this.convsTimer = null;
    this.receiptTimers.clear();
  }

  setStatus(s) {
    if (this.status === s) return;
    this.status = s;
    this.emit('status', s);
  }

  onClientError(err) {
    // CONNACK refusals: 4/5 (MQTT 3.1.1), 0x86/0x87 (MQTT 5). Retrying with
    // the same credentials cannot help.
    const code = err && err.code;
    if (code === 4 || code === 5 || code === 134 || code === 135) {
      this.setStatus('denied');
      this.teardownTimers();
      if (this.client) this.client.end(true);
      return;
    }
    this.emit('error', { code: 'transport', msg: (err && err.message) || String(err) });
  }

  onClose() {
    const was = this.connected;
    this.connected = false;
    this.ready = false;
    this.connectEpoch++;
    this.presenceSubs.clear(); // clean sessions: subscribe again on connect
    this.failPending('offline');
    if (this.status === 'denied' || this.status === 'closed') return;
    if (was || this.everConnected) this.setStatus('reconnecting');
  }

  async onConnect() {
    this.connected = true;
    this.closesInRow = 0;
    this.everConnected = true;
    this.setStatus('online');
    try {
      await this.subscribe([topics.inbox(this.user)]);
    } catch (e) {
      if (e.code !== 'offline') this.emit('error', { code: e.code || 'internal', msg: e.message });
      return;
    }
    if (this.away) this.publishPresence();
    this.flushOutbox(true);
    await this.catchUp();
  }

  // convs, sync and the open conversation's history after a connect. A
  // failure other than a drop (storage down: `unavailable`, a timeout) is
  // tried again a little later while the connection lasts.
  async catchUp() {
    const epoch = ++this.connectEpoch;
    try {
      await this.refreshConvs();
      await this.sync();
      if (this.active) {
        const tl = this.timeline(this.active);
        if (!tl.historyLoaded) await this.loadHistory(this.active);
        this.scheduleReceipt(this.active);
      }
      this.ready = true;
      this.emit('ready');
    } catch (e) {
      // A drop in the middle: the next connect starts over.
      if (e instanceof RequestError && (e.code === 'offline' || e.code === 'closed')) return;
      this.emit('error', { code: e.code || 'internal', msg: e.message });
      this.timers.setTimeout(() => {
        if (this.connected && epoch === this.connectEpoch && !this.ready) this.catchUp();
      }, this.retryMs);
    }
  }

  subscribe(list) {
    return new Promise((resolve, reject) => {
      this.client.subscribe(list, { qos: 1 }, (err, granted) => {
        if (err) return reject(new RequestError('offline', err.message, 'subscribe'));
        const bad = (granted || []).find((g) => g.qos >= 128);
        if (bad) return reject(new RequestError('forbidden', `subscribe refused: ${bad.topic}`, 'subscribe'));
        resolve(granted);
      });
    });
  }

  publish(topic, obj, qos = 1) {
    if (!this.client || !this.connected) return false;
    const payload = typeof obj === 'string' ? obj : JSON.stringify(obj);
    this.client.publish(topic, payload, { qos, retain: false }, () => {});
    return true;
  }

  // ---- requests -------------------------------------------------------

  // Publishes a request and resolves with its `res` event; rejects with a
  // RequestError for an `err` reply, a drop or a timeout.
  request(op, fields = {}) {
    if (!this.connected) return Promise.reject(new RequestError('offline', 'not connected', op));
    const req = `r${++this.reqN}.${this.tag}`;
    return new Promise((resolve, reject) => {
      const timer = this.timers.setTimeout(() => {
        this.pending.delete(req);
        reject(new RequestError('timeout', `${op}: no reply`, op));
      }, this.requestTimeoutMs);
      this.pending.set(req, { resolve, reject, timer, op });
      this.publish(topics.req(this.user), { ...fields, op, req });
    });
  }

  failPending(code) {
    for (const [req, p] of this.pending) {
      this.timers.clearTimeout(p.timer);
      p.reject(new RequestError(code, `${p.op}: ${code}`, p.op));
      this.pending.delete(req);
    }
  }

  // ---- incoming -------------------------------------------------------

  onMessage(topic, payload) {
    let ev;
    try {
      ev = JSON.parse(text(payload));
    } catch {
      return;
    }
    if (!ev || typeof ev !== 'object') return;
    if (topic === topics.inbox(this.user)) {
      this.handleEvent(ev, true);
    } else if (topic.startsWith('chat/presence/')) {
      this.handlePresence(topic.slice('chat/presence/'.length), ev);
    }
  }

  // One inbox event; live is false for events replayed by sync. notify
  // false leaves the 'messages'/'convs' events to the caller (batches).
  handleEvent(ev, live = true, notify = true) {
    switch (ev.t) {
      case 'msg':
      case 'member':
      case 'edit':
      case 'delete':
      case 'react':
        return this.handleStored(ev, live, notify);
      case 'receipt':
        return this.handleReceipt(ev);
      case 'typing':
        return this.handleTyping(ev);
      case 'res':
      case 'err':
        return this.handleReply(ev);
      default:
        return false;
    }
  }

  handleStored(ev, live, notify = true) {
    if (!validId(ev.conv) || !Number.isInteger(ev.seq)) return false;
    const conv = ev.conv;
    const tl = this.timeline(conv);
    const fresh = tl.add(ev);
    // Sending moves the sender's own read cursor to the new seq, so a
    // message proves its author has read everything before it.
    const cursorMoved = ev.t === 'msg' && validId(ev.from) && tl.setCursor(ev.from, 'read', ev.seq);
    if (cursorMoved && ev.from !== this.user && notify) this.emit('receipts', conv);
    let acked = null;
    if (ev.from === this.user) acked = this.outbox.ack(conv, ev.id);
    const info = this.convs.get(conv);
    if (!info || ev.t === 'member') this.scheduleConvsRefresh();
    if (info) {
      if (ev.seq > info.last_seq) info.last_seq = ev.seq;
      if (ev.t === 'msg' && ev.from === this.user && ev.seq > info.read_seq) info.read_seq = ev.seq;
      // Relations never count as unread: one arriving with nothing unread
      // (or of my own) keeps the count where it was.
      if (fresh && isRelation(ev) && (ev.from === this.user || info.unread === 0) && ev.seq > info.read_seq) {
        info.read_seq = ev.seq;
      }
      if (ev.seq >= (info.lastEvent?.seq || 0)) {
        info.lastTs = ev.ts;
        info.lastEvent = ev;
      }
      info.unread = Math.max(0, info.last_seq - info.read_seq);
    }
    if (fresh && ev.t === 'msg' && ev.from !== this.user) {
      this.clearTyping(conv, ev.from);
      this.scheduleReceipt(conv);
    }
    if (fresh && live) this.scheduleSync();
    if ((fresh || acked) && notify) {
      this.emit('messages', conv);
      this.emit('convs');
    }
    return fresh;
  }

  handleReceipt(ev) {
    if (!validId(ev.conv) || !validId(ev.user) || !Number.isInteger(ev.seq)) return false;
    const tl = this.timeline(ev.conv);
    const moved = tl.setCursor(ev.user, ev.type, ev.seq);
    if (ev.user === this.user) {
      const info = this.convs.get(ev.conv);
      const sent = this.sentCursor(ev.conv);
      if (ev.seq > sent[ev.type]) sent[ev.type] = ev.seq;
      if (info && ev.type === 'read' && ev.seq > info.read_seq) {
        info.read_seq = ev.seq;
        info.unread = Math.max(0, info.last_seq - info.read_seq);
        this.emit('convs');
      }
    }
    if (moved) this.emit('receipts', ev.conv);
    return moved;
  }

  handleTyping(ev) {
    if (!validId(ev.conv) || !validId(ev.user) || ev.user === this.user) return false;
    if (ev.state === 'composing') {
      if (!this.typingState.has(ev.conv)) this.typingState.set(ev.conv, new Map());
      this.typingState.get(ev.conv).set(ev.user, this.now() + TYPING_SHOW_MS);
      this.timers.setTimeout(() => this.expireTyping(ev.conv), TYPING_SHOW_MS + 50);
    } else {
      this.clearTyping(ev.conv, ev.user, true);
      return true;
    }
    this.emit('typing', ev.conv);
    return true;
  }

  clearTyping(conv, user, force = false) {
    const m = this.typingState.get(conv);
    if (m && m.delete(user)) this.emit('typing', conv);
    else if (force) this.emit('typing', conv);
  }

  expireTyping(conv) {
    const m = this.typingState.get(conv);
    if (!m) return;
    const now = this.now();
    let changed = false;
    for (const [u, until] of m) {
      if (until <= now) {
        m.delete(u);
        changed = true;
      }
    }
    if (changed) this.emit('typing', conv);
  }

  // Users shown typing in conv now.
  typingUsers(conv) {
    const m = this.typingState.get(conv);
    if (!m) return [];
    const now = this.now();
    return [...m].filter(([, until]) => until > now).map(([u]) => u).sort();
  }

  handleReply(ev) {
    if (typeof ev.req === 'string' && this.pending.has(ev.req)) {
      const p = this.pending.get(ev.req);
      this.pending.delete(ev.req);
      this.timers.clearTimeout(p.timer);
      if (ev.t === 'res') p.resolve(ev);
      else p.reject(new RequestError(ev.code || 'internal', ev.msg, p.op));
      return true;
    }
    if (ev.t === 'err' && typeof ev.id === 'string') {
      const it = this.outbox.error(ev.id, ev.code);
      if (it) this.emit('messages', it.conv);
      this.emit('error', ev);
      return true;
    }
    if (ev.t === 'err') this.emit('error', ev);
    return false;
  }

  handlePresence(user, ev) {
    if (!validId(user) || typeof ev.state !== 'string') return false;
    const prev = this.presence.get(user);
    if (prev && ev.ts && prev.ts && ev.ts < prev.ts) return false;
    this.presence.set(user, { state: ev.state, last_seen: ev.last_seen || 0, ts: ev.ts || 0 });
    this.emit('presence', user);
    return true;
  }

  // ---- conversations ---------------------------------------------------

  timeline(conv) {
    let tl = this.timelines.get(conv);
    if (!tl) {
      tl = new Timeline(conv);
      this.timelines.set(conv, tl);
    }
    return tl;
  }

  async refreshConvs() {
    const r = await this.request('convs');
    const seen = new Set();
    for (const it of r.items || []) {
      if (!validId(it.conv)) continue;
      seen.add(it.conv);
      const old = this.convs.get(it.conv) || {};
      const info = {
        ...old,
        conv: it.conv,
        kind: it.kind,
        title: it.title || '',
        members: Array.isArray(it.members) ? it.members : [],
        admins: Array.isArray(it.admins) ? it.admins : [],
        last_seq: Math.max(it.last_seq || 0, old.last_seq || 0),
        read_seq: Math.max(it.read_seq || 0, old.read_seq || 0),
      };
      info.unread = Math.max(0, info.last_seq - info.read_seq);
      this.convs.set(it.conv, info);
      const sent = this.sentCursor(it.conv);
      if (info.read_seq > sent.read) sent.read = info.read_seq;
    }
    for (const conv of [...this.convs.keys()]) if (!seen.has(conv)) this.convs.delete(conv);
    this.emit('convs');
    this.watchPresence();
    this.loadPreviews();
    return this.convs;
  }

  // The last event of each conversation without one, for the list's preview
  // and ordering (history with limit 1; a handful of requests).
  async loadPreviews() {
    const missing = [...this.convs.values()].filter((c) => !c.lastEvent && c.last_seq > 0).slice(0, 30);
    for (const c of missing) {
      try {
        const r = await this.request('history', { conv: c.conv, limit: 1 });
        const ev = (r.items || [])[0];
        const info = this.convs.get(c.conv);
        if (ev && info && !info.lastEvent) {
          info.lastEvent = ev;
          info.lastTs = ev.ts;
        }
      } catch {
        return;
      }
    }
    if (missing.length) this.emit('convs');
  }

  // Subscribes to the presence topic of every contact not yet watched. A
  // subscription made once we share a conversation brings the retained state
  // at once (`chat/presence/+` taken before the conversation existed would
  // only tell of the contact's next change).
  watchPresence() {
    if (!this.connected) return;
    const fresh = new Set();
    for (const info of this.convs.values()) {
      for (const u of info.members) if (u !== this.user && validId(u) && !this.presenceSubs.has(u)) fresh.add(u);
    }
    if (!fresh.size) return;
    for (const u of fresh) this.presenceSubs.add(u);
    this.subscribe([...fresh].map(topics.presence)).catch(() => {
      for (const u of fresh) this.presenceSubs.delete(u);
    });
  }

  scheduleConvsRefresh() {
    if (this.convsTimer || !this.connected) return;
    this.convsTimer = this.timers.setTimeout(() => {
      this.convsTimer = null;
      this.refreshConvs().catch(() => {});
    }, 200);
  }

  // Conversations for the list: newest activity first.
  conversations() {
    return [...this.convs.values()].sort(
      (a, b) => (b.lastTs || 0) - (a.lastTs || 0) || (a.conv < b.conv ? -1 : 1),
    );
  }

  // The other member of a direct conversation (null for groups).
  peer(conv) {
    const info = this.convs.get(conv);
    if (!info || info.kind !== 'direct') return null;
    return info.members.find((u) => u !== this.user) || null;
  }

  title(conv) {
    const info = this.convs.get(conv);
    if (!info) return conv;
    if (info.kind === 'direct') return this.peer(conv) || this.user;
    return info.title || info.members.join(', ');
  }

  async openDirect(other) {
    const r = await this.request('create', { kind: 'direct', with: other });
    await this.refreshConvs();
    return r.conv;
  }

  async createGroup(title, members) {
    const r = await this.request('create', { kind: 'group', title, members });
    await this.refreshConvs();
    return r.conv;
  }

  // Reads one page of history: the newest page first, then older pages
  // before the oldest event held. Returns how many new events it added.
  loadHistory(conv) {
    if (this.historyBusy.has(conv)) return this.historyBusy.get(conv);
    const tl = this.timeline(conv);
    const fields = { conv, limit: this.historyPage };
    if (tl.historyLoaded) {
      if (!tl.more || tl.firstSeq <= 1) {
        tl.more = false;
        return Promise.resolve(0);
      }
      fields.before = tl.firstSeq;
    }
    const p = this.request('history', fields)
      .then((r) => {
        let added = 0;
        for (const ev of r.items || []) if (ev.conv === conv && this.handleStored(ev, false, false)) added++;
        tl.historyLoaded = true;
        tl.more = !!r.more;
        this.emit('messages', conv);
        this.emit('convs');
        return added;
      })
      .finally(() => this.historyBusy.delete(conv));
    this.historyBusy.set(conv, p);
    return p;
  }

  // What the message view shows: stored events ascending, then the
  // unacknowledged sends (marked pending or failed).
  messages(conv) {
    const out = this.timeline(conv).list().filter((ev) => !isRelation(ev));
    for (const it of this.outbox.pending(conv)) {
      const kind = relKind(it.rel);
      if (kind !== 'msg' && kind !== 'reply') continue;
      out.push({
        t: 'msg',
        conv,
        id: it.id,
        from: this.user,
        body: it.body,
        attrs: it.attrs,
        reply_to: kind === 'reply' ? it.rel.reply_to : undefined,
        ts: it.ts,
        pending: true,
        failed: it.failed,
      });
    }
    return out;
  }

  // The conversation's messages with their edits, deletes and reactions
  // applied (relations.js fold), my unacknowledged ones on top.
  relations(conv) {
    const pending = this.outbox.pending(conv).filter((it) => !it.failed).map((it) => ({ ...it, from: this.user }));
    return fold(this.timeline(conv).list(), pending);
  }

  // Edits, deletes and reactions of conv that the server refused for good.
  failedRelations(conv) {
    return this.outbox.pending(conv).filter((it) => it.failed && !['msg', 'reply'].includes(relKind(it.rel)));
  }

  // 'pending' | 'failed' | 'sent' | 'delivered' | 'read' for our own messages.
  mark(ev) {
    if (ev.failed) return 'failed';
    if (ev.pending) return 'pending';
    const info = this.convs.get(ev.conv);
    return this.timeline(ev.conv).mark(ev.seq, this.user, info ? info.members : []);
  }

  // ---- sending --------------------------------------------------------

  // Queues a message; it is published now if connected and resent with the
  // same id until its echo arrives. Returns the client message id.
  send(conv, body, attrs) {
    const id = `m${this.now().toString(36)}.${++this.msgN}.${this.tag}`;
    this.outbox.add({ id, conv, body, attrs, ts: this.now() });
    this.stopTyping(conv);
    this.flushOutbox(false);
    this.emit('messages', conv);
    return id;
  }

  // Replies, edits, deletes and reactions (PROTOCOL.md "Message
  // relations") go through the outbox like messages: resent with the same
  // id until their echo arrives. Each returns the client id.
  queue(conv, fields) {
    const id = `m${this.now().toString(36)}.${++this.msgN}.${this.tag}`;
    this.outbox.add({ id, conv, ts: this.now(), ...fields });
    this.flushOutbox(false);
    this.emit('messages', conv);
    return id;
  }

  reply(conv, seq, body, attrs) {
    this.stopTyping(conv);
    return this.queue(conv, { body, attrs, rel: { reply_to: seq } });
  }

  edit(conv, seq, body) {
    this.stopTyping(conv);
    return this.queue(conv, { body, rel: { edit: seq } });
  }

  deleteMessage(conv, seq) {
    return this.queue(conv, { rel: { delete: seq } });
  }

  // My whole set for seq becomes emojis ([] removes mine).
  react(conv, seq, emojis) {
    return this.queue(conv, { rel: { react: seq, emojis: [...emojis] } });
  }

  // Tapping emoji on message seq: my current set (the newest one I sent,
  // even unacknowledged) with emoji added or removed.
  toggleReaction(conv, seq, emoji) {
    const m = this.relations(conv).get(seq);
    return this.react(conv, seq, toggle(mySet(m, this.user), emoji));
  }

  retry(id) {
    const it = this.outbox.retry(id);
    if (it) {
      this.flushOutbox(false);
      this.emit('messages', it.conv);
    }
  }

  flushOutbox(all) {
    if (!this.connected) return 0;
    const due = this.outbox.due(this.now(), all);
    for (const it of due) this.publish(topics.send(it.conv), Outbox.payload(it));
    return due.length;
  }

  // ---- receipts -------------------------------------------------------

  sentCursor(conv) {
    let c = this.sentCursors.get(conv);
    if (!c) {
      c = { delivered: 0, read: 0 };
      this.sentCursors.set(conv, c);
    }
    return c;
  }

  // The UI tells which conversation is on screen and whether the page is
  // visible: only then are messages marked read.
  setActive(conv) {
    this.active = conv;
    if (conv) this.scheduleReceipt(conv);
  }

  setVisible(visible) {
    this.visible = visible;
    if (visible && this.active) this.scheduleReceipt(this.active);
  }

  scheduleReceipt(conv) {
    if (this.receiptTimers.has(conv)) return;
    this.receiptTimers.set(
      conv,
      this.timers.setTimeout(() => {
        this.receiptTimers.delete(conv);
        this.sendReceipts(conv);
      }, 150),
    );
  }

  // Cumulative cursors up to the newest event held; read only when the
  // conversation is on screen and the page visible.
  sendReceipts(conv) {
    if (!this.connected) return;
    const top = this.timeline(conv).lastSeq;
    if (!top) return;
    const sent = this.sentCursor(conv);
    if (this.active === conv && this.visible && top > sent.read) {
      if (this.publish(topics.receipt(conv), { type: 'read', seq: top })) {
        sent.read = top;
        if (top > sent.delivered) sent.delivered = top;
      }
    } else if (top > sent.delivered && top > sent.read) {
      if (this.publish(topics.receipt(conv), { type: 'delivered', seq: top })) sent.delivered = top;
    }
  }

  // ---- typing and presence ---------------------------------------------

  // Called on every keystroke in conv's composer: says composing at most
  // every TYPING_RESEND_MS, and paused after TYPING_IDLE_MS without one.
  typing(conv) {
    const now = this.now();
    let o = this.typingOut.get(conv);
    if (!o) {
      o = { lastSent: 0, idleTimer: null };
      this.typingOut.set(conv, o);
    }
    if (!o.lastSent || now - o.lastSent >= TYPING_RESEND_MS) {
      if (this.publish(topics.typing(conv), { state: 'composing' }, 0)) o.lastSent = now;
    }
    if (o.idleTimer) this.timers.clearTimeout(o.idleTimer);
    o.idleTimer = this.timers.setTimeout(() => this.stopTyping(conv), TYPING_IDLE_MS);
  }

  stopTyping(conv) {
    const o = this.typingOut.get(conv);
    if (!o) return;
    if (o.idleTimer) this.timers.clearTimeout(o.idleTimer);
    this.typingOut.delete(conv);
    if (o.lastSent) this.publish(topics.typing(conv), { state: 'paused' }, 0);
  }

  setAway(away) {
    this.away = away;
    this.publishPresence();
  }

  publishPresence() {
    this.publish(topics.presence(this.user), { state: this.away ? 'away' : 'online' });
  }

  // ---- sync -----------------------------------------------------------

  tokenKey() {
    return `mqchat.sync.${this.user}`;
  }

  loadToken() {
    try {
      return (this.storage && this.storage.getItem(this.tokenKey())) || null;
    } catch {
      return null;
    }
  }

  saveToken(t) {
    if (typeof t !== 'string' || !this.storage) return;
    try {
      this.storage.setItem(this.tokenKey(), t);
    } catch {
      /* the next sync just replays more */
    }
  }

  // Live events arrived: move the token forward a little later, so that a
  // reconnect replays only what was really missed.
  scheduleSync() {
    if (this.syncTimer || !this.connected || this.syncing) return;
    this.syncTimer = this.timers.setTimeout(() => {
      this.syncTimer = null;
      this.sync().catch(() => {});
    }, this.syncDelayMs);
  }

  // Replays every event since the stored token (all pages), then keeps the
  // new token. Without a token it only takes the current position: the
  // screen comes from convs and history. reset: the events are past
  // retention, so re-read convs and forget the timelines.
  async sync() {
    if (this.syncing) {
      this.syncAgain = true;
      return;
    }
    this.syncing = true;
    try {
      let since = this.loadToken();
      for (let page = 0; page < 1000; page++) {
        const fields = since ? { since, limit: 200 } : {};
        let r;
        try {
          r = await this.request('sync', fields);
        } catch (e) {
          if (e.code === 'bad_request' && since) {
            // Not our token (another user's, or garbage): start afresh.
            since = null;
            this.storage?.removeItem?.(this.tokenKey());
            continue;
          }
          throw e;
        }
        if (r.reset) {
          for (const tl of this.timelines.values()) tl.clear();
          await this.refreshConvs();
          this.emit('reset');
        } else {
          const touched = new Set();
          for (const ev of r.events || []) {
            if (this.handleEvent(ev, false, false)) touched.add(ev.conv);
          }
          for (const c of touched) this.emit('messages', c);
          if (touched.size) this.emit('convs');
        }
        this.saveToken(r.next);
        since = r.next;
        if (!r.more || !since) break;
      }
      this.emit('synced');
    } finally {
      this.syncing = false;
      if (this.syncAgain) {
        this.syncAgain = false;
        this.scheduleSync();
      }
    }
  }
}
