// End to end in headless Chromium: message relations (issue #18). alice, in
// her page, replies to bob, edits her message, reacts (toggling her set a
// few times) and deletes a message; bob's page shows each live (the quote,
// the edited text and mark, the chips with counts and who reacted, the
// "message deleted" placeholder, also in the quote of his reply to it),
// and the same after a reload, from history.
//
// A probe first sends a reaction from a plain MQTT client: the broker must
// take it (a refusal fails the test).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { Stack, TIMEOUT, waitFor } from './stack.mjs';
import { ARTIFACTS, WEB_DIST, launch, password, signIn } from './browser.mjs';

// A device of user on the plain MQTT listener: requests and sends resolve
// with their reply, echo or err.
async function device(stack, user, pw) {
  const c = mqtt.connect(`mqtt://127.0.0.1:${stack.mqttPort}`, {
    username: user, password: pw, clientId: `node-${user}`, protocolVersion: 4, reconnectPeriod: 0,
  });
  await new Promise((resolve, reject) => { c.once('connect', resolve); c.once('error', reject); });
  const waiting = new Map();
  c.on('message', (topic, payload) => {
    const ev = JSON.parse(payload);
    const key = ev.req || ((ev.t === 'err' || ev.from === user) && ev.id);
    if (key && waiting.has(key)) {
      waiting.get(key)(ev);
      waiting.delete(key);
    }
  });
  await c.subscribeAsync(`chat/u/${user}/inbox`, { qos: 1 });
  const until = (key, topic, obj) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer to ${JSON.stringify(obj)}`)), TIMEOUT);
    waiting.set(key, (ev) => { clearTimeout(timer); resolve(ev); });
    c.publish(topic, JSON.stringify(obj), { qos: 1 });
  });
  return {
    request: (op, fields) => {
      const req = `q${Math.random().toString(36).slice(2)}`;
      return until(req, `chat/u/${user}/req`, { ...fields, op, req });
    },
    send: (conv, obj) => until(obj.id, `chat/c/${conv}/send`, obj),
    end: () => c.endAsync(),
  };
}

test('relations: alice replies, edits, reacts and deletes; bob sees each live and after a reload', { timeout: 8 * TIMEOUT }, async (t) => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const stack = new Stack({ webDir: WEB_DIST });
  const profile = mkdtempSync(path.join(os.tmpdir(), 'mqchat-chromium-'));
  let browser = null;
  let dev = null;
  let failed = true;
  const pages = {};
  const pageErrors = [];
  t.after(async () => {
    for (const [name, page] of Object.entries(pages)) {
      if (!page.isClosed()) await page.screenshot({ path: path.join(ARTIFACTS, `relations-${name}.png`) }).catch(() => {});
    }
    if (browser) await browser.close().catch(() => {});
    if (dev) await dev.end().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
    await stack.stop({ failed });
  });

  await stack.start();
  const alicePw = password();
  const bobPw = password();
  stack.addUser('alice', alicePw);
  stack.addUser('bob', bobPw);

  // The probe, in a group of its own: does the broker take a reaction?
  dev = await device(stack, 'alice', alicePw);
  const probe = (await dev.request('create', { kind: 'group', title: 'probe', members: ['bob'] })).conv;
  const first = await dev.send(probe, { id: 'probe-msg', body: 'probe' });
  assert.equal(first.t, 'msg', `the probe message was refused: ${JSON.stringify(first)}`);
  const answer = await dev.send(probe, { id: 'probe-react', react: first.seq, emojis: ['👍'] });
  assert.equal(answer.t, 'react', `the probe reaction: ${JSON.stringify(answer)}`);
  const direct = (await dev.request('create', { kind: 'direct', with: 'bob' })).conv;

  browser = await launch(profile);
  const newPage = async (name) => {
    const ctx = await browser.newContext({ viewport: { width: 900, height: 760 }, deviceScaleFactor: 1 });
    ctx.setDefaultTimeout(TIMEOUT);
    const page = await ctx.newPage();
    page.on('pageerror', (e) => pageErrors.push(`${name}: ${e.message}`));
    pages[name] = page;
    return page;
  };
  const alice = await newPage('alice');
  const bob = await newPage('bob');
  await signIn(alice, stack.url, 'alice', alicePw);
  await signIn(bob, stack.url, 'bob', bobPw);
  for (const p of [alice, bob]) {
    await p.locator(`.conv[data-conv="${direct}"]`).click();
    await p.locator(`#chat[data-conv="${direct}"]`).waitFor();
  }
  const msgAt = (p, seq) => p.locator(`#messages .msg[data-seq="${seq}"]`);
  const say = async (p, text) => {
    await p.fill('#composer-input', text);
    await p.press('#composer-input', 'Enter');
  };
  const action = async (p, seq, cls) => {
    await msgAt(p, seq).hover();
    await msgAt(p, seq).locator(`.${cls}`).click();
  };

  // 1 bob writes; 2 alice replies to it.
  await say(bob, 'hello alice');
  await msgAt(alice, 1).waitFor();
  await action(alice, 1, 'act-reply');
  await alice.locator('#compose-context[data-mode="reply"]', { hasText: 'Replying to bob' }).waitFor();
  await say(alice, 'hi bob, this is a reply');
  await msgAt(bob, 2).locator('.quote[data-state="ok"] .quote-text', { hasText: 'hello alice' }).waitFor();
  await msgAt(bob, 2).locator('.quote-from', { hasText: 'bob' }).waitFor();
  assert.equal(await alice.locator('#compose-context').isHidden(), true, 'the reply bar closes on send');

  // 3 alice writes with a typo; 4 she edits it.
  await say(alice, 'see you at noon, Bbo');
  await msgAt(bob, 3).locator('.body', { hasText: 'see you at noon, Bbo' }).waitFor();
  await action(alice, 3, 'act-edit');
  await alice.locator('#compose-context[data-mode="edit"]').waitFor();
  assert.equal(await alice.inputValue('#composer-input'), 'see you at noon, Bbo', 'the composer holds the text');
  await say(alice, 'see you at noon, Bob');
  await msgAt(bob, 3).locator('.body', { hasText: 'see you at noon, Bob' }).waitFor();
  await msgAt(bob, 3).locator('.edited').waitFor();
  assert.equal(await msgAt(bob, 4).count(), 0, 'an edit is no row of its own');

  // 5.. alice reacts 👍 to bob's message, bob joins in from his chip, alice
  // toggles her set a few times: 👍 off, 🎉 on, 😂 on, 😂 off.
  const chip = (p, seq, emoji, users = null) => msgAt(p, seq).locator(
    `.chip[data-emoji="${emoji}"]${users ? `[data-users="${users}"]` : ''}`);
  const pick = async (p, seq, emoji) => {
    await action(p, seq, 'act-react');
    await msgAt(p, seq).locator(`.picker button[aria-label="React ${emoji}"]`).click();
  };
  await pick(alice, 1, '👍');
  await chip(bob, 1, '👍', 'alice').waitFor();
  await chip(bob, 1, '👍').click();
  await chip(alice, 1, '👍', 'alice,bob').waitFor();
  await chip(alice, 1, '👍').click();
  await pick(alice, 1, '🎉');
  await pick(alice, 1, '😂');
  await pick(alice, 1, '😂');
  const bobChips = async () => msgAt(bob, 1).locator('.chip').evaluateAll(
    (els) => els.map((e) => `${e.textContent} ${e.dataset.users}`));
  const want = ['👍 1 bob', '🎉 1 alice'];
  await waitFor(async () => JSON.stringify(await bobChips()) === JSON.stringify(want), `bob's chips to be ${want}`)
    .catch(async (e) => assert.fail(`${e.message}; they are ${JSON.stringify(await bobChips())}`));

  // alice writes a message, bob replies to it, alice deletes it.
  await say(alice, 'oops, wrong chat');
  const oops = Number(await alice.locator('#messages .msg.mine[data-seq]', { hasText: 'oops, wrong chat' }).getAttribute('data-seq'));
  await msgAt(bob, oops).waitFor();
  await action(bob, oops, 'act-reply');
  await say(bob, 'what was that?');
  await bob.locator('#messages .msg.mine .quote[data-state="ok"]', { hasText: 'oops, wrong chat' }).waitFor();
  assert.equal(await msgAt(bob, oops).locator('.act-delete').count(), 0, 'bob may not delete alice’s message');
  await action(alice, oops, 'act-delete');
  await msgAt(alice, oops).locator('.act-delete-confirm').click();
  await msgAt(bob, oops).locator('.body.deleted', { hasText: 'message deleted' }).waitFor();
  await bob.locator('#messages .msg.mine .quote[data-state="deleted"]', { hasText: 'message deleted' }).waitFor();

  // What bob sees, then the same after a reload (history).
  const snapshot = (p) => p.locator('#messages .msg').evaluateAll((els) => els.map((e) => ({
    seq: e.dataset.seq,
    body: e.querySelector('.body').textContent,
    edited: !!e.querySelector('.edited'),
    quote: e.querySelector('.quote') ? `${e.querySelector('.quote').dataset.state}:${e.querySelector('.quote-text').textContent}` : '',
    chips: [...e.querySelectorAll('.chip')].map((c) => `${c.textContent} ${c.dataset.users}`),
  })));
  const live = await snapshot(bob);
  assert.deepEqual(live.map((r) => r.body), ['hello alice', 'hi bob, this is a reply', 'see you at noon, Bob',
    'message deleted', 'what was that?']);
  await bob.reload();
  await signIn(bob, stack.url, 'bob', bobPw);
  await bob.locator(`.conv[data-conv="${direct}"]`).click();
  await msgAt(bob, oops).locator('.body.deleted').waitFor();
  await bob.locator('#messages .msg.mine .quote[data-state="deleted"]').waitFor();
  assert.deepEqual(await snapshot(bob), live, 'the same after a reload');
  assert.deepEqual(pageErrors, [], 'no script errors in the pages');
  failed = false;
});
