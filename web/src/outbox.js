// Messages sent but not yet acknowledged. The acknowledgement of a send is
// the sender's own copy of the msg event (it proves the message is stored);
// until it arrives the message is resent with the same id, which the server
// turns into the original seq instead of a second copy. Entries survive a page
// reload when a storage is given. Pure: the caller publishes and keeps time.

const RETRYABLE = new Set(['unavailable', 'rate_limited', 'internal']);

export class Outbox {
  // storage: localStorage-like (getItem/setItem), or null; key: where to keep it.
  constructor({ storage = null, key = 'mqchat.outbox', retryMs = 3000 } = {}) {
    this.storage = storage;
    this.key = key;
    this.retryMs = retryMs;
    this.items = new Map(); // id -> {id, conv, body, attrs, ts, sentAt, tries, failed}
    this.load();
  }

  load() {
    if (!this.storage) return;
    try {
      const list = JSON.parse(this.storage.getItem(this.key) || '[]');
      for (const it of list) {
        if (it && typeof it.id === 'string' && typeof it.conv === 'string') {
          this.items.set(it.id, { ...it, sentAt: 0 });
        }
      }
    } catch {
      /* a broken entry is dropped, never fatal */
    }
  }

  save() {
    if (!this.storage) return;
    try {
      this.storage.setItem(this.key, JSON.stringify([...this.items.values()]));
    } catch {
      /* quota or privacy mode: retries still work for this page */
    }
  }

  add(entry) {
    const it = { attrs: undefined, tries: 0, sentAt: 0, failed: null, ...entry };
    this.items.set(it.id, it);
    this.save();
    return it;
  }

  get(id) {
    return this.items.get(id);
  }

  // The payload to publish for entry `it` (same id on every try).
  static payload(it) {
    const p = { id: it.id, body: it.body };
    if (it.attrs && typeof it.attrs === 'object') p.attrs = it.attrs;
    // A relation (relations.js): reply_to, or edit/delete/react with its
    // target (delete and react carry no body).
    if (it.rel && typeof it.rel === 'object') Object.assign(p, it.rel);
    return JSON.stringify(p);
  }

  // Entries to (re)publish at time now: never-sent ones, and unacknowledged
  // ones sent more than retryMs ago; all of them when `all` (after a
  // reconnect). Marks them sent at now.
  due(now, all = false) {
    const out = [];
    for (const it of this.items.values()) {
      if (it.failed) continue;
      if (all || !it.sentAt || now - it.sentAt >= this.retryMs) {
        it.sentAt = now;
        it.tries += 1;
        out.push(it);
      }
    }
    return out;
  }

  // The echo of a stored message: returns the entry it acknowledges, if any.
  ack(conv, id) {
    const it = this.items.get(id);
    if (!it || it.conv !== conv) return null;
    this.items.delete(id);
    this.save();
    return it;
  }

  // An err event about send `id`: retryable codes wait for the next retry;
  // others fail the entry for good. Returns the entry or null.
  error(id, code) {
    const it = this.items.get(id);
    if (!it) return null;
    if (!RETRYABLE.has(code)) {
      it.failed = code;
      this.save();
    }
    return it;
  }

  // The user asks to try a failed entry again: it is resent at the next tick.
  retry(id) {
    const it = this.items.get(id);
    if (!it) return null;
    it.failed = null;
    it.sentAt = 0;
    this.save();
    return it;
  }

  // Drops a failed entry the user gave up on (or any entry).
  discard(id) {
    const had = this.items.delete(id);
    if (had) this.save();
    return had;
  }

  // Unacknowledged entries of one conversation, oldest first.
  pending(conv) {
    return [...this.items.values()].filter((it) => it.conv === conv).sort((a, b) => a.ts - b.ts);
  }

  get size() {
    return this.items.size;
  }
}
