// "Keep me signed in" (issue 17, PROTOCOL.md "Device sessions") in a real
// headless Chromium against the real stack: alice signs in with her password
// and the box ticked; the page keeps a device session token in localStorage
// (never the password); a reload signs her in again without the password;
// sign-out calls `logout`, after which the
// kept token is gone from the page and refused by the broker (CONNACK 5),
// and a reload shows the sign-in card. A page whose kept token was ended
// elsewhere (`mqchat user revoke`) comes back to the card with a reason.
// Screenshot: sessions.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { Stack, TIMEOUT, waitFor } from './stack.mjs';
import { ARTIFACTS, WEB_DIST, launch, password } from './browser.mjs';

// The CONNACK of one MQTT login on the plain listener: 0, or the refusal code.
function connack(stack, user, pw) {
  return new Promise((resolve) => {
    const c = mqtt.connect(`mqtt://127.0.0.1:${stack.mqttPort}`, {
      username: user, password: pw, clientId: `node-check-${Math.random().toString(36).slice(2)}`,
      protocolVersion: 4, reconnectPeriod: 0, connectTimeout: TIMEOUT,
    });
    c.once('connect', () => { c.end(true); resolve(0); });
    c.once('error', (e) => { c.end(true); resolve(e.code ?? -1); });
  });
}

const kept = (page) => page.evaluate(() => localStorage.getItem('mqchat.device'));

test('keep me signed in: a token, never the password; reload; sign-out ends it',
  { timeout: 6 * TIMEOUT }, async (t) => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const stack = new Stack({ webDir: WEB_DIST });
    const profile = mkdtempSync(path.join(os.tmpdir(), 'mqchat-chromium-'));
    let browser = null;
    let page = null;
    let failed = true;
    const pageErrors = [];
    t.after(async () => {
      try {
        if (page && !page.isClosed()) await page.screenshot({ path: path.join(ARTIFACTS, 'sessions.png'), fullPage: true });
      } catch { /* the page is gone */ }
      if (browser) await browser.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
      await stack.stop({ failed });
    });

    await stack.start();
    const pw = password();
    stack.addUser('alice', pw);
    browser = await launch(profile);
    const ctx = await browser.newContext({ viewport: { width: 1000, height: 700 } });
    ctx.setDefaultTimeout(TIMEOUT);
    page = await ctx.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));

    // Sign in with the password, keeping the device signed in.
    await page.goto(stack.url);
    await page.fill('#login-user', 'alice');
    await page.fill('#login-password', pw);
    await page.check('#login-keep');
    await page.click('#login-submit');
    await page.locator('#app[data-status="online"]').waitFor();
    await page.waitForFunction(() => localStorage.getItem('mqchat.device'));
    const device = JSON.parse(await kept(page));
    assert.equal(device.user, 'alice');
    assert.match(device.token, /^s1\./);
    // The password is nowhere in the page's storage.
    const everything = await page.evaluate(() => JSON.stringify(Object.entries(localStorage)) +
      JSON.stringify(Object.entries(sessionStorage)));
    assert.ok(!everything.includes(pw), 'the password is stored in the browser');
    // The token is a working login of its own.
    assert.equal(await connack(stack, 'alice', device.token), 0);

    // Reload: signed in again with the token, no password typed.
    await page.reload();
    await page.locator('#app[data-status="online"]').waitFor();
    assert.equal(await page.evaluate(() => window.mqchat && window.mqchat.user), 'alice');
    assert.equal(JSON.parse(await kept(page)).token, device.token);

    // Sign out: the page calls logout; the token is forgotten and refused.
    await page.click('#sign-out');
    await page.locator('#login').waitFor();
    await waitFor(async () => (await kept(page)) === null, 'the kept token to be forgotten');
    await waitFor(async () => (await connack(stack, 'alice', device.token)) === 5,
      'the broker to refuse the ended token');
    await page.reload();
    await page.locator('#login').waitFor();
    await page.waitForTimeout(300); // no sign-in starts by itself
    assert.equal(await page.locator('#app').count(), 0);

    // A kept token ended elsewhere: the page returns to the card, says why.
    await page.fill('#login-user', 'alice');
    await page.fill('#login-password', pw);
    await page.check('#login-keep');
    await page.click('#login-submit');
    await page.locator('#app[data-status="online"]').waitFor();
    await page.waitForFunction(() => localStorage.getItem('mqchat.device'));
    const second = JSON.parse(await kept(page));
    const r = spawnSync(stack.cli, ['--redis', `redis://127.0.0.1:${stack.redisPort}/0`, 'user',
      'revoke', 'alice', second.device], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    await page.locator('#login').waitFor();
    assert.match(await page.locator('#login-error').textContent(), /ended/);
    assert.equal(await kept(page), null);

    assert.deepEqual(pageErrors, []);
    failed = false;
  });
