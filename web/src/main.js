// Entry point: the sign-in card, then one ChatSession over an mqtt.js
// WebSocket connection to the broker that served this page (and only that
// one: server.js decides, the page's CSP enforces). mqtt.js reconnects by
// itself; the session resubscribes, resends and syncs.
//
// "Keep me signed in" (PROTOCOL.md "Device sessions"): once signed in with
// the password, the page asks for a device session token and keeps it in
// localStorage (mqchat.device: user, token, server), never the password; the
// connection's own reconnects switch to the token too. A reload signs in
// with the token; a refused token is forgotten and the card comes back.
// Sign-out ends the session on the server (`logout`) and forgets it here.
import './trusted.js'; // before anything else: the Trusted Types default policy
import mqtt from 'mqtt';
import { ChatSession } from './protocol.js';
import { checkServer, chooseServer } from './server.js';
import { LoginView } from './ui/login.js';
import { AppView } from './ui/app.js';

const root = document.getElementById('root');
const storage = (() => {
  try {
    localStorage.setItem('mqchat.probe', '1');
    localStorage.removeItem('mqchat.probe');
    return localStorage;
  } catch {
    return null;
  }
})();

let session = null;
let app = null;

// ?mqtt= is used only when it names this page's own origin; otherwise the
// card opens its server field with a warning, pre-filled with our own.
const server = chooseServer(location.href);
const login = new LoginView({
  defaultUrl: server.url,
  warning: server.warning,
  pageUrl: location.href,
  lastUser: storage && storage.getItem('mqchat.user'),
  onSubmit: start,
});

function showLogin() {
  root.replaceChildren(login.el);
  document.title = 'mqchat';
}

const DEVICE_KEY = 'mqchat.device';

function loadDevice() {
  try {
    const d = storage && JSON.parse(storage.getItem(DEVICE_KEY) || 'null');
    return d && typeof d.user === 'string' && typeof d.token === 'string' && typeof d.url === 'string' ? d : null;
  } catch {
    return null;
  }
}

function saveDevice(d) {
  try {
    if (d) storage.setItem(DEVICE_KEY, JSON.stringify(d));
    else if (storage) storage.removeItem(DEVICE_KEY);
  } catch {
    /* storage full or gone: the next visit asks for the password */
  }
}

function deviceLabel() {
  const ua = navigator.userAgent || '';
  const browser = /Firefox\//.test(ua) ? 'Firefox' : /Edg\//.test(ua) ? 'Edge'
    : /Chrom(e|ium)\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : 'Browser';
  return `${browser} (web)`;
}

// Ask for a session token over the connection just signed in, keep it, and
// reconnect with it from now on.
async function keepSignedIn(s, client, user, url) {
  try {
    const r = await s.request('session', { device: deviceLabel() });
    if (session !== s || typeof r.token !== 'string') return;
    client.options.password = r.token;
    saveDevice({ user, token: r.token, url, device: r.device });
  } catch {
    /* not kept: the next visit asks for the password */
  }
}

function start({ user, password, url: wanted, keep = false, withToken = false }) {
  // The one place the password leaves the page: checked here again.
  const checked = checkServer(wanted, location.href);
  if (!checked.ok) {
    login.fail(checked.reason);
    return;
  }
  const { url } = checked;
  // A new attempt replaces one still trying to reach the server.
  if (session && !app) session.close();
  const tag = Math.random().toString(36).slice(2, 10);
  const client = mqtt.connect(url, {
    username: user,
    password,
    clientId: `web-${user}-${tag}`.slice(0, 64),
    protocolVersion: 4,
    clean: true,
    keepalive: 30,
    reconnectPeriod: 1000,
    connectTimeout: 8000,
    resubscribe: false, // the session subscribes on every connect
    queueQoSZero: false, // stale typing states are not worth sending later
  });
  const s = new ChatSession({ user, storage, tag });
  session = s;
  s.attach(client);
  let signedIn = false;
  let attempts = 0;
  const off = s.on('status', (st) => {
    if (st === 'online' && !signedIn) {
      signedIn = true;
      if (storage) storage.setItem('mqchat.user', user);
      if (keep && !withToken && storage) keepSignedIn(s, client, user, url);
      login.reset();
      app = new AppView({ session: s, onSignOut: () => signOut() });
      root.replaceChildren(app.el);
      document.title = `mqchat · ${user}`;
    } else if (st === 'denied') {
      off();
      if (withToken || (keep && loadDevice())) {
        // The kept session was ended, expired or revoked (its token is what
        // the reconnects used): forget it and ask for the password.
        saveDevice(null);
        if (signedIn) signOut(false);
        login.fail('Your session on this device has ended. Sign in again.');
      } else if (!signedIn) {
        login.fail('Wrong user name or password.');
      } else {
        signOut();
        login.fail('The server signed you out. Sign in again.');
      }
      s.close();
      if (session === s) session = null;
    }
  });
  client.on('close', () => {
    if (!signedIn && session === s && s.status !== 'denied' && ++attempts > 1) {
      login.note(`Cannot reach ${url} yet; retrying… (or fix the address and sign in again)`);
    }
  });
  // Expose the session to tests and curious developers.
  window.mqchat = s;
}

// Sign out: end this device's session on the server first (when there is
// one and the connection is up; a second at most), then forget it here.
async function signOut(endSession = true) {
  const s = session;
  session = null;
  if (endSession && loadDevice() && s && s.connected) {
    await Promise.race([s.request('logout').catch(() => {}),
      new Promise((r) => setTimeout(r, 1000))]);
  }
  if (endSession) saveDevice(null);
  if (s) s.close();
  if (app) app.destroy();
  app = null;
  window.mqchat = null;
  showLogin();
}

document.addEventListener('visibilitychange', () => {
  if (!session) return;
  const visible = document.visibilityState === 'visible';
  session.setVisible(visible);
  if (session.connected) session.setAway(!visible);
});

showLogin();
// A kept session: sign in with its token, without the password.
{
  const d = loadDevice();
  const checked = d && checkServer(d.url, location.href);
  if (d && checked.ok) {
    login.busy(true);
    start({ user: d.user, password: d.token, url: checked.url, withToken: true });
  } else if (d) {
    saveDevice(null);
  }
}
