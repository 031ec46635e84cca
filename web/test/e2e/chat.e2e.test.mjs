// End to end in a real headless Chromium (Debian's /usr/bin/chromium, driven
// by playwright-core): two browser contexts sign in as alice and bob through
// the page that mosquitto serves over its WebSockets listener, start a
// direct chat, exchange messages, see the read mark and the typing
// indicator; bob goes offline, alice sends three messages, bob comes back
// with the same browser storage (his sync token) and sees exactly those
// three, once. Then the broker restarts under alice: she sees the
// reconnecting state, and a message written meanwhile is resent with its id
// and arrives once. Screenshots of each side go to MQCHAT_WEB_ARTIFACTS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Stack, TIMEOUT } from './stack.mjs';
import { ARTIFACTS, WEB_DIST, bodies, launch, password, signIn } from './browser.mjs';

test('alice and bob chat in two headless Chromium contexts', { timeout: 6 * TIMEOUT }, async (t) => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const stack = new Stack({ webDir: WEB_DIST });
  const profile = mkdtempSync(path.join(os.tmpdir(), 'mqchat-chromium-'));
  let browser = null;
  let failed = true;
  const pages = {};
  const pageErrors = [];
  t.after(async () => {
    for (const [name, page] of Object.entries(pages)) {
      try {
        if (!page.isClosed()) await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
      } catch { /* the page is gone */ }
    }
    if (browser) await browser.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
    await stack.stop({ failed });
  });

  await stack.start();
  const alicePw = password();
  const bobPw = password();
  stack.addUser('alice', alicePw);
  stack.addUser('bob', bobPw);

  browser = await launch(profile);
  const newPage = async (name, viewport, storageState) => {
    const ctx = await browser.newContext({ viewport, storageState, deviceScaleFactor: 1 });
    ctx.setDefaultTimeout(TIMEOUT);
    const page = await ctx.newPage();
    page.on('pageerror', (e) => pageErrors.push(`${name}: ${e.message}`));
    pages[name] = page;
    return page;
  };

  // alice on a laptop-sized window, bob on a phone.
  const alice = await newPage('alice', { width: 1100, height: 720 });
  const bob = await newPage('bob', { width: 390, height: 780 });
  await signIn(alice, stack.url, 'alice', alicePw);
  await signIn(bob, stack.url, 'bob', bobPw);

  // A wrong password is refused with a message, not a retry loop.
  {
    const page = await newPage('wrong', { width: 390, height: 700 });
    await page.goto(stack.url);
    await page.fill('#login-user', 'bob');
    await page.fill('#login-password', 'not-the-password');
    await page.click('#login-submit');
    await page.locator('#login-error', { hasText: 'Wrong user name or password' }).waitFor();
    await page.context().close();
    delete pages.wrong;
  }

  // alice starts a direct chat with bob and writes.
  await alice.click('#new-chat');
  await alice.fill('#new-direct-user', 'bob');
  await alice.click('#new-direct-go');
  await alice.locator('#chat-title', { hasText: 'bob' }).waitFor();
  const conv = await alice.locator('#chat').getAttribute('data-conv');
  assert.match(conv, /^d-/);
  await alice.fill('#composer-input', 'hi bob');
  await alice.press('#composer-input', 'Enter');
  await alice.locator('.msg.mine[data-seq="1"] .mark:not([data-mark="pending"])').waitFor();

  // bob sees it in his list with an unread count, opens it: alice sees read.
  const bobRow = bob.locator(`.conv[data-conv="${conv}"]`);
  await bobRow.locator('.badge', { hasText: '1' }).waitFor();
  assert.equal(await bobRow.locator('.conv-title').textContent(), 'alice');
  await bobRow.click();
  await bob.locator('#messages .msg.theirs[data-seq="1"]', { hasText: 'hi bob' }).waitFor();
  await alice.locator('.msg.mine[data-seq="1"] .mark[data-mark="read"]').waitFor();
  await bobRow.locator('.badge').waitFor({ state: 'detached' });

  // Presence: each sees the other online.
  await alice.locator('#chat-sub[data-presence="online"]').waitFor();
  await bob.locator('#chat-sub[data-presence="online"]').waitFor();

  // bob types: alice sees the typing indicator, then his message.
  await bob.locator('#composer-input').pressSequentially('hello alice', { delay: 15 });
  await alice.locator('#typing.on', { hasText: 'bob is typing' }).waitFor();
  await alice.locator('#chat-sub', { hasText: 'typing…' }).waitFor();
  await bob.press('#composer-input', 'Enter');
  await alice.locator('.msg.theirs[data-seq="2"]', { hasText: 'hello alice' }).waitFor();
  await alice.locator('#typing.on').waitFor({ state: 'detached' });
  await bob.locator('.msg.mine[data-seq="2"] .mark[data-mark="read"]').waitFor();
  await alice.screenshot({ path: path.join(ARTIFACTS, 'alice-chatting.png') });
  await bob.screenshot({ path: path.join(ARTIFACTS, 'bob-chatting.png') });

  // bob goes away: his browser context closes, keeping its storage (and so
  // his sync token). alice sees him offline with a last-seen time.
  const bobStorage = await bob.context().storageState();
  const bobToken = bobStorage.origins.flatMap((o) => o.localStorage).find((e) => e.name === 'mqchat.sync.bob');
  assert.ok(bobToken && bobToken.value, 'bob kept a sync token in localStorage');
  await bob.context().close();
  delete pages.bob;
  await alice.locator('#chat-sub[data-presence="offline"]', { hasText: 'last seen' }).waitFor();

  // alice sends three messages while bob is away: stored (sent), not delivered.
  const away = ['while you were out 1', 'while you were out 2', 'while you were out 3'];
  for (const text of away) {
    await alice.fill('#composer-input', text);
    await alice.press('#composer-input', 'Enter');
  }
  for (const seq of [3, 4, 5]) await alice.locator(`.msg.mine[data-seq="${seq}"] .mark[data-mark="sent"]`).waitFor();

  // bob comes back in a new context with the same storage and signs in:
  // sync from his token brings exactly those three, once.
  const bob2 = await newPage('bob', { width: 390, height: 780 }, bobStorage);
  await bob2.goto(stack.url);
  assert.equal(await bob2.inputValue('#login-user'), 'bob', 'the last user is remembered');
  await bob2.fill('#login-password', bobPw);
  await bob2.click('#login-submit');
  await bob2.locator('#app[data-status="online"]').waitFor();
  const row2 = bob2.locator(`.conv[data-conv="${conv}"]`);
  await row2.locator('.badge', { hasText: '3' }).waitFor();
  // The badge comes from convs; sync follows: wait until it is done.
  await bob2.waitForFunction(() => window.mqchat && window.mqchat.ready, null, { timeout: TIMEOUT });
  assert.equal(await bob2.title(), '(3) mqchat · bob');
  // Before the chat is opened, what bob holds came from sync alone (his
  // token may predate his last live messages: those come again, deduped).
  const synced = await bob2.evaluate((c) => window.mqchat.timeline(c).list().map((e) => e.body), conv);
  for (const text of away) assert.equal(synced.filter((b) => b === text).length, 1, `synced ${text} once`);
  await row2.click();
  await bob2.locator('#unread-divider').waitFor();
  await bob2.locator('#messages .msg[data-seq="5"]').waitFor();
  await bob2.locator('#messages .msg[data-seq="1"]').waitFor();
  const shown = await bodies(bob2);
  assert.deepEqual(shown, ['hi bob', 'hello alice', ...away], 'history and sync merged, each message once');
  const fresh = await bob2.evaluate(() => {
    const out = [];
    for (let el = document.getElementById('unread-divider').nextElementSibling; el; el = el.nextElementSibling) {
      out.push(el.querySelector('.body')?.textContent);
    }
    return out;
  });
  assert.deepEqual(fresh, away, 'exactly the three missed messages are new');
  for (const seq of [3, 4, 5]) await alice.locator(`.msg.mine[data-seq="${seq}"] .mark[data-mark="read"]`).waitFor();
  await alice.locator('#chat-sub[data-presence="online"]').waitFor();

  // The broker restarts: alice sees the reconnecting state; what she sends
  // meanwhile waits (pending), is resent with its id after the reconnect
  // and reaches bob once.
  await stack.stopBroker();
  await alice.locator('#status-banner[data-status="reconnecting"]').waitFor();
  await bob2.locator('#status-banner[data-status="reconnecting"]').waitFor();
  await alice.screenshot({ path: path.join(ARTIFACTS, 'alice-reconnecting.png') });
  await alice.fill('#composer-input', 'sent while reconnecting');
  await alice.press('#composer-input', 'Enter');
  await alice.locator('.msg.mine .mark[data-mark="pending"]').waitFor();
  await stack.startBroker();
  await alice.locator('#app[data-status="online"]').waitFor({ timeout: 2 * TIMEOUT });
  await alice.locator('.msg.mine[data-seq="6"]', { hasText: 'sent while reconnecting' }).waitFor();
  await bob2.locator('#app[data-status="online"]').waitFor({ timeout: 2 * TIMEOUT });
  await bob2.locator('#messages .msg.theirs[data-seq="6"]', { hasText: 'sent while reconnecting' }).waitFor();
  const after = await bodies(bob2);
  assert.equal(after.filter((b) => b === 'sent while reconnecting').length, 1);
  assert.equal(after.length, 6);
  await alice.locator('.msg.mine[data-seq="6"] .mark[data-mark="read"]').waitFor();
  assert.equal(await alice.locator('.msg.mine[data-mark], .msg.mine .mark[data-mark="pending"]').count(), 0);

  assert.deepEqual(pageErrors, [], 'no script errors in the pages');
  failed = false;
});
