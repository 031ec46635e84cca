// Test doubles for the protocol module: a clock whose timers run only when
// the test advances it, an mqtt.js-like client that records publishes, and a
// Map-backed localStorage.
import { EventEmitter } from 'node:events';

export class FakeClock {
  constructor(start = 1_800_000_000_000) {
    this.t = start;
    this.seq = 0;
    this.timers = new Map(); // id -> {at, fn, every}
    this.now = () => this.t;
    const self = this;
    this.api = {
      setTimeout: (fn, ms) => self.add(fn, ms, 0),
      clearTimeout: (id) => self.timers.delete(id),
      setInterval: (fn, ms) => self.add(fn, ms, ms),
      clearInterval: (id) => self.timers.delete(id),
    };
  }

  add(fn, ms, every) {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, ms || 0), fn, every });
    return id;
  }

  // Moves time forward by ms, running every timer that falls due in order.
  advance(ms) {
    const end = this.t + ms;
    for (;;) {
      let next = null;
      for (const [id, tm] of this.timers) if (tm.at <= end && (!next || tm.at < next[1].at)) next = [id, tm];
      if (!next) break;
      const [id, tm] = next;
      this.t = tm.at;
      if (tm.every) tm.at += tm.every;
      else this.timers.delete(id);
      tm.fn();
    }
    this.t = end;
  }
}

export class FakeClient extends EventEmitter {
  constructor() {
    super();
    this.published = []; // {topic, obj, qos}
    this.subscriptions = [];
    this.refuse = new Set();
    this.ended = false;
  }

  subscribe(list, opts, cb) {
    const granted = list.map((topic) => ({ topic, qos: this.refuse.has(topic) ? 128 : opts.qos }));
    this.subscriptions.push(...list);
    queueMicrotask(() => cb(null, granted));
  }

  publish(topic, payload, opts, cb) {
    this.published.push({ topic, obj: JSON.parse(payload), qos: opts.qos });
    if (cb) cb(null);
  }

  end() {
    this.ended = true;
  }

  // Simulates the server: an inbox event for user.
  deliver(user, ev) {
    this.emit('message', `chat/u/${user}/inbox`, Buffer.from(JSON.stringify(ev)));
  }

  take(pred = () => true) {
    const out = this.published.filter(pred);
    this.published = this.published.filter((p) => !pred(p));
    return out;
  }

  // The last request with op, or undefined.
  lastReq(op) {
    return [...this.published].reverse().find((p) => p.topic.endsWith('/req') && p.obj.op === op);
  }
}

export class MemStorage {
  constructor() {
    this.m = new Map();
  }
  getItem(k) {
    return this.m.has(k) ? this.m.get(k) : null;
  }
  setItem(k, v) {
    this.m.set(k, String(v));
  }
  removeItem(k) {
    this.m.delete(k);
  }
}

export const tick = () => new Promise((r) => setImmediate(r));
