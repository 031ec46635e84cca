// Entry point: the sign-in card, then one ChatSession over an mqtt.js
// WebSocket connection to the broker that served this page (and only that
// one: server.js decides, the page's CSP enforces). mqtt.js reconnects by
// itself; the session resubscribes, resends and syncs.
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

function start({ user, password, url: wanted }) {
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
      login.reset();
      app = new AppView({ session: s, onSignOut: signOut });
      root.replaceChildren(app.el);
      document.title = `mqchat · ${user}`;
    } else if (st === 'denied') {
      off();
      if (!signedIn) {
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

function signOut() {
  if (session) session.close();
  session = null;
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
