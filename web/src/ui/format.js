// Formatting for the views, pure (no DOM): times, last seen, avatars.

const pad = (n) => String(n).padStart(2, '0');

export function clock(ts) {
  const d = new Date(ts);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function sameDay(a, b) {
  const x = new Date(a);
  const y = new Date(b);
  return x.getFullYear() === y.getFullYear() && x.getMonth() === y.getMonth() && x.getDate() === y.getDate();
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export function day(ts, now = Date.now()) {
  if (sameDay(ts, now)) return 'Today';
  if (sameDay(ts, now - 86400000)) return 'Yesterday';
  const d = new Date(ts);
  const y = new Date(now).getFullYear() === d.getFullYear() ? '' : ` ${d.getFullYear()}`;
  return `${d.getDate()} ${MONTHS[d.getMonth()]}${y}`;
}

// The conversation list's time: clock today, else the day.
export function shortTime(ts, now = Date.now()) {
  if (!ts) return '';
  return sameDay(ts, now) ? clock(ts) : day(ts, now);
}

export function lastSeen(p, now = Date.now()) {
  if (!p) return '';
  if (p.state === 'online') return 'online';
  if (p.state === 'away') return 'away';
  if (!p.last_seen) return 'offline';
  const ago = now - p.last_seen;
  if (ago < 60000) return 'last seen just now';
  if (ago < 3600000) return `last seen ${Math.floor(ago / 60000)} min ago`;
  if (sameDay(p.last_seen, now)) return `last seen today at ${clock(p.last_seen)}`;
  return `last seen ${day(p.last_seen, now)} at ${clock(p.last_seen)}`;
}

export function initials(name) {
  const parts = String(name || '?').split(/[\s._-]+/).filter(Boolean);
  const s = parts.length > 1 ? parts[0][0] + parts[1][0] : String(name || '?').slice(0, 2);
  return s.toUpperCase();
}

// A stable hue per name, so each person keeps a colour.
export function hue(name) {
  let x = 0;
  for (const ch of String(name)) x = (x * 31 + ch.codePointAt(0)) >>> 0;
  return x % 360;
}

export function typingText(users) {
  if (!users.length) return '';
  if (users.length === 1) return `${users[0]} is typing`;
  if (users.length === 2) return `${users[0]} and ${users[1]} are typing`;
  return `${users.length} people are typing`;
}

export function memberText(ev) {
  const users = ev.users || [];
  const who = users.join(', ');
  if (ev.op === 'added' && ev.seq === 1) {
    const others = users.filter((u) => u !== ev.by);
    return others.length ? `${ev.by} created the group with ${others.join(', ')}` : `${ev.by} created the group`;
  }
  if (ev.op === 'added') return `${ev.by} added ${who}`;
  if (ev.op === 'removed') return `${ev.by} removed ${who}`;
  if (ev.op === 'left') return `${who} left`;
  return `${ev.op} ${who}`;
}
