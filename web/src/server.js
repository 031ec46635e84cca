// Which MQTT server the page may send a password to. Pure (no DOM): takes
// the page's own address (location.href) and returns decisions.
//
// The rule: only the server that served this page, i.e. the same origin
// (ws://host:port for a page loaded over http://host:port, wss:// for
// https://; any path). The page's Content-Security-Policy (connect-src
// 'self', see index.html) enforces the same in the browser; this module
// decides first so that the user is told why, and so that nothing (a
// crafted link's ?mqtt=, a typo) ever hands the sign-in to another origin.
// Another server's users open the page that server serves.

const WS_FOR = { 'http:': 'ws:', 'https:': 'wss:' };

function parse(s) {
  try {
    return new URL(s);
  } catch {
    return null;
  }
}

// The page's own MQTT-over-WebSockets address (ws(s)://host:port/mqtt), or
// null when the page was not loaded over http(s) (a file:// page has no
// server to talk to).
export function ownServer(pageUrl) {
  const page = parse(pageUrl);
  if (!page || !WS_FOR[page.protocol]) return null;
  return `${WS_FOR[page.protocol]}//${page.host}/mqtt`;
}

// The origin a server address would be reached at, for messages: "ws://h:p".
function originOf(u) {
  return `${u.protocol}//${u.host}`;
}

// checkServer(url, pageUrl) -> { ok: true, url } | { ok: false, reason }.
// ok only for an absolute ws:/wss: URL of the page's own origin, without
// user or password in it. `url` is the normalised address to connect to.
export function checkServer(url, pageUrl) {
  const own = ownServer(pageUrl);
  if (!own) {
    return { ok: false, reason: 'Open this page from the mqchat server (http://host:port/): it signs in only there.' };
  }
  const ownUrl = new URL(own);
  const text = String(url ?? '').trim();
  const u = parse(text);
  if (!u || (u.protocol !== 'ws:' && u.protocol !== 'wss:')) {
    return { ok: false, reason: `The server address must look like ${own}.` };
  }
  if (u.username || u.password) {
    return { ok: false, reason: 'The server address must not contain a user name or password.' };
  }
  if (u.protocol !== ownUrl.protocol || u.host !== ownUrl.host) {
    const page = parse(pageUrl);
    const there = `${u.protocol === 'wss:' ? 'https' : 'http'}://${u.host}/`;
    return {
      ok: false,
      reason: `This page signs in only at ${originOf(ownUrl)}, the server it came from `
        + `(${page.protocol}//${page.host}/). To use ${originOf(u)}, open the page that server serves (${there}).`,
    };
  }
  u.hash = '';
  return { ok: true, url: u.href };
}

// chooseServer(pageUrl) -> { url, warning }: what the sign-in card starts
// with. A `?mqtt=` naming the page's own origin is taken as it is (another
// path); any other value is ignored, and `warning` says so (the card then
// shows the server field open with the warning, pre-filled with the page's
// own server, never with the requested one). url is '' when the page has
// no server of its own.
export function chooseServer(pageUrl) {
  const own = ownServer(pageUrl) || '';
  const page = parse(pageUrl);
  const asked = page ? page.searchParams.get('mqtt') : null;
  if (asked === null || asked.trim() === '') return { url: own, warning: null };
  const c = checkServer(asked, pageUrl);
  if (c.ok) return { url: c.url, warning: null };
  const shown = asked.length > 200 ? `${asked.slice(0, 200)}…` : asked;
  return {
    url: own,
    warning: `The link asked to sign in at "${shown}". That is not the server this page came from, so it was `
      + `ignored: your password goes only to ${own || 'the server that serves this page'}.`,
  };
}
