// End to end in headless Chromium: a long conversation written by another
// client over the plain MQTT listener (mqtt.js in node, as an app would)
// is paged in as alice scrolls up, every message once and in order; a group
// alice creates in the page shows who wrote what.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { Stack, TIMEOUT, waitFor } from './stack.mjs';
import { ARTIFACTS, WEB_DIST, bodies, launch, password, signIn } from './browser.mjs';

const N = 130; // more than two history pages of 50

// A device of `user` on the plain MQTT listener: request/response and sends
// that resolve with their echo.
async function device(stack, user, pw) {
  const c = mqtt.connect(`mqtt://127.0.0.1:${stack.mqttPort}`, {
    username: user, password: pw, clientId: `node-${user}`, protocolVersion: 4, reconnectPeriod: 0,
  });
  await new Promise((resolve, reject) => { c.once('connect', resolve); c.once('error', reject); });
  const waiting = new Map();
  c.on('message', (topic, payload) => {
    const ev = JSON.parse(payload);
    const key = ev.req || (ev.from === user && ev.id);
    if (key && waiting.has(key)) {
      waiting.get(key)(ev);
      waiting.delete(key);
    }
  });
  await c.subscribeAsync(`chat/u/${user}/inbox`, { qos: 1 });
  const until = (key, topic, obj) => new Promise((resolve) => {
    waiting.set(key, resolve);
    c.publish(topic, JSON.stringify(obj), { qos: 1 });
  });
  return {
    request(op, fields) {
      const req = `q${Math.random().toString(36).slice(2)}`;
      return until(req, `chat/u/${user}/req`, { ...fields, op, req });
    },
    send(conv, id, body) {
      return until(id, `chat/c/${conv}/send`, { id, body });
    },
    receipt(conv, type, seq) {
      return c.publishAsync(`chat/c/${conv}/receipt`, JSON.stringify({ type, seq }), { qos: 1 });
    },
    end: () => c.endAsync(),
  };
}

test('history pages in on scrolling up; a group shows its senders', { timeout: 6 * TIMEOUT }, async (t) => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const stack = new Stack({ webDir: WEB_DIST });
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'mqchat-chromium-'));
  let browser = null;
  let page = null;
  let bob = null;
  let carol = null;
  let failed = true;
  t.after(async () => {
    if (page && !page.isClosed()) await page.screenshot({ path: path.join(ARTIFACTS, 'alice-history.png') }).catch(() => {});
    if (browser) await browser.close().catch(() => {});
    for (const d of [bob, carol]) if (d) await d.end().catch(() => {});
    rmSync(scratch, { recursive: true, force: true });
    await stack.stop({ failed });
  });

  await stack.start();
  const alicePw = password();
  const bobPw = password();
  stack.addUser('alice', alicePw);
  stack.addUser('bob', bobPw);
  const carolPw = password();
  stack.addUser('carol', carolPw);

  // bob writes N messages to alice before she ever signs in.
  bob = await device(stack, 'bob', bobPw);
  const direct = (await bob.request('create', { kind: 'direct', with: 'alice' })).conv;
  for (let i = 1; i <= N; i++) {
    const echo = await bob.send(direct, `h${i}`, `message ${i}`);
    assert.equal(echo.seq, i);
  }

  browser = await launch(scratch);
  const ctx = await browser.newContext({ viewport: { width: 390, height: 780 } });
  ctx.setDefaultTimeout(TIMEOUT);
  page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await signIn(page, stack.url, 'alice', alicePw);
  const row = page.locator(`.conv[data-conv="${direct}"]`);
  await row.locator('.badge', { hasText: String(N) }).waitFor();
  await row.locator('.conv-preview', { hasText: `message ${N}` }).waitFor();
  await row.click();

  // The newest page first, pinned to the bottom; older pages as she scrolls up.
  await page.locator(`#messages .msg[data-seq="${N}"]`).waitFor();
  const first = await page.locator('#messages .msg').count();
  assert.ok(first < N, `only the newest page at first (${first})`);
  const scroller = page.locator('#messages');
  const atBottom = await scroller.evaluate((e) => e.scrollHeight - e.scrollTop - e.clientHeight < 48);
  assert.ok(atBottom, 'opened at the newest message');
  let shown = first;
  while (shown < N) {
    await scroller.evaluate((e) => { e.scrollTop = 0; e.dispatchEvent(new Event('scroll')); });
    const before = shown;
    await waitFor(async () => (shown = await page.locator('#messages .msg').count()) > before,
      `an older page after ${before} messages`);
  }
  await page.locator('#older', { hasText: 'Start of the conversation' }).waitFor();
  const all = await bodies(page);
  assert.deepEqual(all, Array.from({ length: N }, (_, i) => `message ${i + 1}`));
  const seqs = await page.locator('#messages .msg').evaluateAll((els) => els.map((e) => Number(e.dataset.seq)));
  assert.deepEqual(seqs, Array.from({ length: N }, (_, i) => i + 1));
  await row.locator('.badge').waitFor({ state: 'detached' });

  // A group: alice creates it in the page, bob writes from his device.
  await page.click('#back');
  await page.click('#new-chat');
  await page.fill('#new-group-title', 'Weekend');
  await page.fill('#new-group-members', 'bob, carol');
  await page.click('#new-group-go');
  await page.locator('#chat-title', { hasText: 'Weekend' }).waitFor();
  await page.locator('#messages .system', { hasText: 'alice created the group with bob, carol' }).waitFor();
  const group = await page.locator('#chat').getAttribute('data-conv');
  assert.match(group, /^g-/);
  await bob.send(group, 'g1', 'count me in');
  await page.locator('#messages .msg.theirs[data-seq="2"] .sender', { hasText: 'bob' }).waitFor();
  await page.fill('#composer-input', 'great');
  await page.press('#composer-input', 'Enter');
  // Marks in a group wait for every other member: bob reads, carol does not.
  await page.locator('.msg.mine[data-seq="3"] .mark[data-mark="sent"]').waitFor();
  await bob.receipt(group, 'read', 3);
  await page.waitForFunction((g) => window.mqchat.timeline(g).cursor('bob').read >= 3, group);
  assert.equal(await page.locator('.msg.mine[data-seq="3"] .mark').getAttribute('data-mark'), 'sent');
  carol = await device(stack, 'carol', carolPw);
  await carol.receipt(group, 'read', 3);
  await page.locator('.msg.mine[data-seq="3"] .mark[data-mark="read"]').waitFor();
  assert.deepEqual(errors, [], 'no script errors in the page');
  failed = false;
});
