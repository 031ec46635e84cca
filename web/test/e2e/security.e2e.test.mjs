// The page sends the password only to the server that served it (issue
// 21.4). In a real headless Chromium against the real stack:
// - a link with ?mqtt=ws://127.0.0.2:<port>/mqtt (a decoy listener that
//   records every connection) shows the server field open with a warning,
//   pre-filled with the page's own server; signing in goes there, and
//   nothing ever connects to the decoy; typing the decoy's address by hand
//   is refused with a reason;
// - the Content-Security-Policy <meta> is in the served page and enforced:
//   a WebSocket to another origin is blocked (a securitypolicyviolation for
//   connect-src, no connection) while one to the page's own origin opens
//   (CSP 'self' covers same-origin ws: in this Chromium); injected scripts
//   do not run (blob: script refused by script-src, inline script text and
//   handlers and HTML sinks refused by Trusted Types);
// - the page's HTTP listener refuses path traversal.
// Screenshots: security-warning.png (the warning), security.png (the end).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Stack, TIMEOUT, waitFor } from './stack.mjs';
import { ARTIFACTS, WEB_DIST, launch, password } from './browser.mjs';

// A TCP listener on 127.0.0.2 that records every connection (and answers
// nothing): where a crafted link would like the password to go.
function decoy() {
  const seen = [];
  const server = net.createServer((s) => {
    seen.push({ from: s.remoteAddress, data: '' });
    const rec = seen[seen.length - 1];
    s.on('data', (d) => { rec.data += d.toString('latin1'); });
    s.on('error', () => {});
    s.setTimeout(2000, () => s.destroy());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.2', () => resolve({
      server, seen, port: server.address().port,
      close: () => new Promise((r) => server.close(() => r())),
    }));
  });
}

// One raw HTTP/1.0 request for `target` (sent as is, not normalised) to
// the page's listener: { status, body }.
function rawGet(port, target) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    let got = '';
    const timer = setTimeout(() => { s.destroy(); reject(new Error(`no HTTP answer for ${target}`)); }, TIMEOUT);
    s.once('connect', () => s.write(`GET ${target} HTTP/1.0\r\nHost: 127.0.0.1:${port}\r\n\r\n`));
    s.on('data', (d) => { got += d.toString('latin1'); });
    s.once('error', (e) => { clearTimeout(timer); reject(e); });
    s.once('close', () => {
      clearTimeout(timer);
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(got);
      resolve({ status: m ? Number(m[1]) : 0, body: got });
    });
  });
}

test('the password goes only to the page\'s own server; CSP blocks other origins and injected scripts',
  { timeout: 6 * TIMEOUT }, async (t) => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const stack = new Stack({ webDir: WEB_DIST });
    const profile = mkdtempSync(path.join(os.tmpdir(), 'mqchat-chromium-'));
    let browser = null;
    let trap = null;
    let page = null;
    let failed = true;
    t.after(async () => {
      try {
        if (page && !page.isClosed()) await page.screenshot({ path: path.join(ARTIFACTS, 'security.png'), fullPage: true });
      } catch { /* the page is gone */ }
      if (browser) await browser.close().catch(() => {});
      if (trap) await trap.close();
      rmSync(profile, { recursive: true, force: true });
      await stack.stop({ failed });
    });

    await stack.start();
    const pw = password();
    stack.addUser('alice', pw);
    trap = await decoy();
    const own = `ws://127.0.0.1:${stack.wsPort}/mqtt`;
    const elsewhere = `ws://127.0.0.2:${trap.port}/mqtt`;

    browser = await launch(profile);
    const ctx = await browser.newContext({ viewport: { width: 420, height: 820 }, deviceScaleFactor: 1 });
    ctx.setDefaultTimeout(TIMEOUT);
    page = await ctx.newPage();
    const sockets = [];
    const pageErrors = [];
    page.on('websocket', (ws) => sockets.push(ws.url()));
    page.on('pageerror', (e) => pageErrors.push(e.message));

    // The crafted link: the card shows the server field open, pre-filled
    // with the page's own server, and warns about the ignored one.
    const link = `${stack.url}?mqtt=${encodeURIComponent(elsewhere)}`;
    await page.goto(link);
    const warning = page.locator('#login-server-warning');
    await warning.waitFor();
    assert.ok((await warning.textContent()).includes(elsewhere), 'the warning names the requested server');
    assert.match(await warning.textContent(), /ignored/);
    assert.equal(await page.locator('details.server').evaluate((d) => d.open), true, 'server field shown');
    assert.equal(await page.inputValue('#login-url'), own, 'pre-filled with the own server, not the requested one');
    await page.screenshot({ path: path.join(ARTIFACTS, 'security-warning.png') });

    // Typing the other server by hand is refused with a reason, and sends nothing.
    await page.fill('#login-user', 'alice');
    await page.fill('#login-password', pw);
    await page.fill('#login-url', elsewhere);
    await page.click('#login-submit');
    await page.locator('#login-error', { hasText: 'signs in only at' }).waitFor();
    assert.match(await page.textContent('#login-error'), /open the page that server serves \(http:\/\/127\.0\.0\.2:/);

    // Signing in from the link as it came: the sign-in goes to the own
    // server (or, without the fix, to the decoy: then this fails at once).
    await page.goto(link);
    await page.fill('#login-user', 'alice');
    await page.fill('#login-password', pw);
    await page.click('#login-submit');
    await waitFor(async () => trap.seen.length > 0
      || (await page.locator('#app[data-status="online"]').count()) > 0, 'alice online or a connection to the decoy');
    assert.deepEqual(trap.seen, [], 'nothing connected to the other server');
    await page.locator('#app[data-status="online"]').waitFor();
    assert.equal(await page.evaluate(() => window.mqchat && window.mqchat.user), 'alice');
    assert.ok(sockets.length >= 1, 'the page opened a WebSocket');
    for (const u of sockets) assert.equal(u, own, 'every WebSocket went to the own server');

    // The CSP is in the page as served.
    const csp = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
    const directives = Object.fromEntries(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k, v.join(' ')]));
    assert.equal(directives['default-src'], "'none'");
    assert.equal(directives['script-src'], "'self'");
    assert.equal(directives['connect-src'], "'self'");
    assert.equal(directives['object-src'], "'none'");
    assert.equal(directives['base-uri'], "'none'");
    assert.equal(directives['form-action'], "'none'");
    assert.match(directives['style-src'], /^'sha256-[A-Za-z0-9+/]+=*'$/);
    assert.equal(directives['require-trusted-types-for'], "'script'");
    assert.doesNotMatch(csp, /unsafe-|\*/);

    // Enforced: a WebSocket to another origin is blocked before any
    // connection (a connect-src violation); one to the own origin opens,
    // and only after that does the test look at the decoy again.
    const ws = await page.evaluate(async (target) => {
      const violations = [];
      document.addEventListener('securitypolicyviolation',
        (e) => violations.push({ directive: e.effectiveDirective, uri: e.blockedURI }));
      let thrown = null;
      try {
        const w = new WebSocket(target, 'mqtt');
        w.onerror = () => {};
      } catch (e) {
        thrown = e.name;
      }
      const ownWs = new WebSocket(`ws://${location.host}/mqtt`, 'mqtt');
      const opened = await new Promise((resolve) => {
        ownWs.onopen = () => resolve(true);
        ownWs.onerror = () => resolve(false);
      });
      ownWs.close();
      return { violations, thrown, opened };
    }, elsewhere);
    assert.ok(ws.violations.some((v) => v.directive === 'connect-src' && v.uri.startsWith(`ws://127.0.0.2:${trap.port}`)),
      `connect-src violation for the other origin: ${JSON.stringify(ws)}`);
    assert.equal(ws.opened, true, "a WebSocket to the page's own origin is allowed");
    assert.deepEqual(trap.seen, [], 'the blocked WebSocket never connected');

    // Injected scripts do not run: a same-origin blob: script (let through
    // by the page's Trusted Types policy) is refused by script-src 'self';
    // inline script text, inline handlers and HTML sinks are refused by
    // Trusted Types.
    const inj = await page.evaluate(async () => {
      const violations = [];
      document.addEventListener('securitypolicyviolation', (e) => violations.push(e.effectiveDirective));
      const errors = {};
      const attempt = (name, f) => {
        try {
          f();
        } catch (e) {
          errors[name] = e.name;
        }
      };
      const blocked = new Promise((resolve) => {
        const s = document.createElement('script');
        s.onerror = () => resolve('error');
        s.onload = () => resolve('loaded');
        s.src = URL.createObjectURL(new Blob(['window.__pwned = "blob"'], { type: 'text/javascript' }));
        document.body.append(s);
      });
      attempt('scriptText', () => {
        const s = document.createElement('script');
        s.textContent = 'window.__pwned = "inline"';
        document.body.append(s);
      });
      attempt('handler', () => {
        const b = document.createElement('button');
        b.setAttribute('onclick', 'window.__pwned = "handler"');
        document.body.append(b);
        b.click();
        b.remove();
      });
      attempt('innerHTML', () => {
        const d = document.createElement('div');
        d.innerHTML = '<img src=x onerror="window.__pwned = \'html\'">';
        document.body.append(d);
      });
      const blob = await blocked;
      // Violation events are queued as tasks: wait for both kinds (bounded).
      const until = Date.now() + 5000;
      while (!(violations.includes('script-src-elem') && violations.includes('require-trusted-types-for'))
        && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      return { blob, errors, violations, pwned: window.__pwned ?? null };
    });
    assert.equal(inj.pwned, null, `no injected script ran: ${JSON.stringify(inj)}`);
    assert.equal(inj.blob, 'error', 'the blob: script was not loaded');
    assert.ok(inj.violations.includes('script-src-elem'), `script-src violation: ${JSON.stringify(inj)}`);
    assert.deepEqual(inj.errors, { scriptText: 'TypeError', handler: 'TypeError', innerHTML: 'TypeError' });
    assert.ok(inj.violations.includes('require-trusted-types-for'));

    // The page still works after all that.
    assert.equal(await page.locator('#app[data-status="online"]').count(), 1);

    // The page's listener serves index.html and nothing outside http_dir.
    const index = await rawGet(stack.wsPort, '/');
    assert.equal(index.status, 200);
    assert.ok(index.body.includes('http-equiv="Content-Security-Policy"'));
    for (const target of ['/../../../../../../etc/passwd', '/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
      '/..%2f..%2f..%2f..%2f..%2fetc%2fpasswd', '/../broker.conf']) {
      const r = await rawGet(stack.wsPort, target);
      assert.notEqual(r.status, 200, `${target} refused`);
      assert.doesNotMatch(r.body, /root:|plugin_opt/, `${target} leaks nothing`);
    }

    assert.deepEqual(trap.seen, [], 'nothing ever connected to the other server');
    assert.deepEqual(pageErrors, [], 'no script errors in the page');
    failed = false;
  });
