// Unit tests of server.js: which server the sign-in may go to. Only the
// page's own origin, whatever a link's ?mqtt= or the typed address says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkServer, chooseServer, ownServer } from '../../src/server.js';

const PAGE = 'http://127.0.0.1:8080/';
const TLS = 'https://chat.example.com/';

test('the page own server follows its scheme, host and port', () => {
  assert.equal(ownServer(PAGE), 'ws://127.0.0.1:8080/mqtt');
  assert.equal(ownServer('http://127.0.0.1:8080/index.html?x=1#y'), 'ws://127.0.0.1:8080/mqtt');
  assert.equal(ownServer(TLS), 'wss://chat.example.com/mqtt');
  assert.equal(ownServer('https://chat.example.com:8443/'), 'wss://chat.example.com:8443/mqtt');
  assert.equal(ownServer('http://[::1]:8080/'), 'ws://[::1]:8080/mqtt');
  assert.equal(ownServer('file:///home/a/index.html'), null);
  assert.equal(ownServer('not a url'), null);
});

test('without ?mqtt the card starts with the own server and no warning', () => {
  assert.deepEqual(chooseServer(PAGE), { url: 'ws://127.0.0.1:8080/mqtt', warning: null });
  assert.deepEqual(chooseServer(`${PAGE}?mqtt=`), { url: 'ws://127.0.0.1:8080/mqtt', warning: null });
  assert.deepEqual(chooseServer(TLS), { url: 'wss://chat.example.com/mqtt', warning: null });
});

test('?mqtt naming the own origin is used (another path)', () => {
  const own = encodeURIComponent('ws://127.0.0.1:8080/other');
  assert.deepEqual(chooseServer(`${PAGE}?mqtt=${own}`), { url: 'ws://127.0.0.1:8080/other', warning: null });
  assert.deepEqual(chooseServer(`${TLS}?mqtt=wss://CHAT.example.com:443/mqtt`),
    { url: 'wss://chat.example.com/mqtt', warning: null });
});

test('?mqtt naming any other server is ignored with a warning, never pre-filled', () => {
  const foreign = [
    'ws://127.0.0.2:8080/mqtt', // another host
    'ws://127.0.0.1:8081/mqtt', // another port
    'wss://127.0.0.1:8080/mqtt', // another scheme
    'ws://localhost:8080/mqtt', // another name for the same machine is another origin
    'ws://evil.example/mqtt',
    'ws://user:pw@127.0.0.1:8080/mqtt', // credentials in the address
    'http://127.0.0.1:8080/mqtt', // not a WebSocket URL
    'mqtt://127.0.0.1:1883',
    '//evil.example/mqtt', // relative: not taken
    'javascript:alert(1)',
    'garbage',
  ];
  for (const f of foreign) {
    const c = chooseServer(`${PAGE}?mqtt=${encodeURIComponent(f)}`);
    assert.equal(c.url, 'ws://127.0.0.1:8080/mqtt', f);
    assert.ok(c.warning && c.warning.includes(f), `${f}: ${c.warning}`);
    assert.match(c.warning, /ignored: your password goes only to ws:\/\/127\.0\.0\.1:8080\/mqtt/);
  }
  // An https page never takes ws:// to itself, nor another host.
  for (const f of ['ws://chat.example.com/mqtt', 'wss://chat.example.com.evil.example/mqtt']) {
    const c = chooseServer(`${TLS}?mqtt=${encodeURIComponent(f)}`);
    assert.equal(c.url, 'wss://chat.example.com/mqtt', f);
    assert.ok(c.warning, f);
  }
  // A long value is shortened in the warning.
  const long = `ws://evil.example/${'a'.repeat(5000)}`;
  const c = chooseServer(`${PAGE}?mqtt=${long}`);
  assert.ok(c.warning.length < 500);
});

test('a page without a server of its own signs in nowhere', () => {
  assert.deepEqual(chooseServer('file:///x/index.html'), { url: '', warning: null });
  const c = chooseServer('file:///x/index.html?mqtt=ws://127.0.0.1:8080/mqtt');
  assert.equal(c.url, '');
  assert.ok(c.warning);
  const k = checkServer('ws://127.0.0.1:8080/mqtt', 'file:///x/index.html');
  assert.equal(k.ok, false);
  assert.match(k.reason, /Open this page from the mqchat server/);
});

test('a typed address is accepted only for the own origin, with a reason otherwise', () => {
  assert.deepEqual(checkServer(' ws://127.0.0.1:8080/mqtt ', PAGE), { ok: true, url: 'ws://127.0.0.1:8080/mqtt' });
  assert.deepEqual(checkServer('ws://127.0.0.1:8080/mqtt#x', PAGE), { ok: true, url: 'ws://127.0.0.1:8080/mqtt' });
  assert.deepEqual(checkServer('wss://chat.example.com:443/m', TLS), { ok: true, url: 'wss://chat.example.com/m' });
  const other = checkServer('ws://10.0.0.5:8080/mqtt', PAGE);
  assert.equal(other.ok, false);
  assert.match(other.reason, /signs in only at ws:\/\/127\.0\.0\.1:8080/);
  assert.match(other.reason, /open the page that server serves \(http:\/\/10\.0\.0\.5:8080\/\)/);
  assert.match(checkServer('wss://x.example/mqtt', PAGE).reason, /\(https:\/\/x\.example\/\)/);
  assert.match(checkServer('', PAGE).reason, /must look like ws:\/\/127\.0\.0\.1:8080\/mqtt/);
  assert.match(checkServer(undefined, PAGE).reason, /must look like/);
  assert.match(checkServer('ftp://127.0.0.1:8080/', PAGE).reason, /must look like/);
  assert.match(checkServer('ws://a:b@127.0.0.1:8080/mqtt', PAGE).reason, /user name or password/);
  assert.equal(checkServer('ws://127.0.0.1:8080/mqtt', TLS).ok, false);
});

// The page builds every element with ui/dom.js h(): nothing is parsed as
// HTML, and (for the CSP) no style attribute or inline handler is written.
test('the page source uses no HTML sinks, eval, or inline style attributes', () => {
  const src = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src');
  const files = [];
  const walk = (d) => {
    for (const n of readdirSync(d)) {
      const p = path.join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.js')) files.push(p);
    }
  };
  walk(src);
  assert.ok(files.length > 5);
  const bad = /\binnerHTML\b|\bouterHTML\b|insertAdjacentHTML|document\.write|\beval\s*\(|new Function\b|createContextualFragment|setAttribute\(\s*['"](style|on)/;
  for (const f of files) {
    const text = readFileSync(f, 'utf8').replace(/^\s*\/\/.*$/gm, '');
    assert.doesNotMatch(text, bad, path.relative(src, f));
    assert.doesNotMatch(text, /\bstyle:\s*[`'"]/, `${path.relative(src, f)}: style as a string attribute`);
  }
  const html = readFileSync(path.join(src, 'index.html'), 'utf8');
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)/, 'no inline script in index.html');
  assert.doesNotMatch(html, /\son[a-z]+=/, 'no inline handler in index.html');
});
