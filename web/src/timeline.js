// One conversation's events as the client knows them: stored events (msg and
// member) keyed by seq, so the same event arriving live, from sync and from
// history is kept once; the members' delivered/read cursors; and what
// history paging has reached. Pure data, no DOM, no I/O.

export class Timeline {
  constructor(conv) {
    this.conv = conv;
    this.events = new Map(); // seq -> event
    this.sorted = null; // cache of events ascending by seq
    this.historyLoaded = false; // the newest page has been read
    this.more = true; // older events exist on the server
    this.cursors = new Map(); // user -> {delivered, read}
  }

  // Adds a stored event (t msg|member|edit|delete|react with a seq).
  // Returns true when it is new, false for a duplicate or an event without a
  // usable seq. A msg that comes back deleted (history after a delete)
  // replaces the copy held: the erasure wins.
  add(ev) {
    if (!ev || !Number.isInteger(ev.seq) || ev.seq < 1) return false;
    const old = this.events.get(ev.seq);
    if (old && ev.deleted === true && old.deleted !== true && old.t === ev.t) {
      this.events.set(ev.seq, ev);
      this.sorted = null;
      return true;
    }
    if (old) return false;
    this.events.set(ev.seq, ev);
    this.sorted = null;
    return true;
  }

  has(seq) {
    return this.events.has(seq);
  }

  list() {
    if (!this.sorted) this.sorted = [...this.events.values()].sort((a, b) => a.seq - b.seq);
    return this.sorted;
  }

  get size() {
    return this.events.size;
  }

  get lastSeq() {
    const l = this.list();
    return l.length ? l[l.length - 1].seq : 0;
  }

  get firstSeq() {
    const l = this.list();
    return l.length ? l[0].seq : 0;
  }

  last() {
    const l = this.list();
    return l.length ? l[l.length - 1] : null;
  }

  // Receipts are cumulative and never move backwards.
  setCursor(user, type, seq) {
    if (type !== 'delivered' && type !== 'read') return false;
    const c = this.cursors.get(user) || { delivered: 0, read: 0 };
    if (seq <= c[type]) return false;
    c[type] = seq;
    if (type === 'read' && c.delivered < seq) c.delivered = seq;
    this.cursors.set(user, c);
    return true;
  }

  cursor(user) {
    return this.cursors.get(user) || { delivered: 0, read: 0 };
  }

  // The mark of message seq for its author `me` among `members`: 'read' when
  // every other member has read it, 'delivered' when every other member has
  // it, else 'sent'. A conversation with nobody else stays 'sent'.
  mark(seq, me, members) {
    const others = (members || []).filter((u) => u !== me);
    if (!others.length) return 'sent';
    let read = true;
    let delivered = true;
    for (const u of others) {
      const c = this.cursor(u);
      if (c.read < seq) read = false;
      if (c.delivered < seq) delivered = false;
    }
    if (read) return 'read';
    if (delivered) return 'delivered';
    return 'sent';
  }

  clear() {
    this.events.clear();
    this.sorted = null;
    this.historyLoaded = false;
    this.more = true;
  }
}
