// Unit tests of the DOM-free protocol module: event handling, dedupe by
// conv+seq, retries with the same id, sync with a stored token, receipts,
// typing and presence, against a fake mqtt client and a fake clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChatSession, RequestError, topics } from '../../src/protocol.js';
import { FakeClock, FakeClient, MemStorage, tick } from './fakes.mjs';

const C = 'd-abc';
const conv = (extra = {}) => ({
  conv: C, kind: 'direct', members: ['alice', 'bob'], admins: [], last_seq: 0, read_seq: 0, unread: 0, ...extra,
});
const msg = (seq, from = 'bob', extra = {}) => ({
  t: 'msg', conv: C, seq, id: `x${seq}`, from, ts: 1000 + seq, body: `b${seq}`, ...extra,
});

function setup({ storage = new MemStorage(), user = 'alice' } = {}) {
  const clock = new FakeClock();
  const client = new FakeClient();
  const s = new ChatSession({ user, storage, now: clock.now, timers: clock.api, retryMs: 1000, tag: 't' });
  s.attach(client);
  return { s, clock, client, storage };
}

// Answers the request with op (the newest one) with res fields.
async function answer(client, s, op, fields = {}) {
  for (let i = 0; i < 20 && !client.lastReq(op); i++) await tick();
  const r = client.lastReq(op);
  assert.ok(r, `no ${op} request; published: ${JSON.stringify(client.published.map((p) => p.obj))}`);
  client.published.splice(client.published.indexOf(r), 1);
  client.deliver(s.user, { t: 'res', req: r.obj.req, op, ts: 1, ...fields });
  await tick();
  return r.obj;
}

async function connect(ctx, { convs = [conv()], sync = { events: [], next: 'tok1', more: false, reset: false } } = {}) {
  const { s, client } = ctx;
  client.emit('connect');
  await tick();
  await answer(client, s, 'convs', { items: convs });
  const req = await answer(client, s, 'sync', sync);
  for (let i = 0; i < 5; i++) await tick();
  return req;
}

test('subscribes to its inbox and presence on connect, then reads convs and syncs', async () => {
  const ctx = setup();
  const req = await connect(ctx);
  assert.deepEqual(ctx.client.subscriptions, ['chat/u/alice/inbox', 'chat/presence/bob']);
  assert.equal(req.since, undefined, 'no token yet: sync without since');
  assert.equal(ctx.storage.getItem('mqchat.sync.alice'), 'tok1');
  assert.equal(ctx.s.status, 'online');
  assert.equal(ctx.s.ready, true);
  assert.equal(ctx.s.title(C), 'bob');
});

test('the same event live, from sync and from history is kept once', async () => {
  const ctx = setup();
  await connect(ctx);
  let emitted = 0;
  ctx.s.on('messages', () => emitted++);
  ctx.client.deliver('alice', msg(1));
  ctx.client.deliver('alice', msg(1));
  assert.equal(ctx.s.handleEvent(msg(1), false), false);
  assert.equal(ctx.s.handleEvent({ ...msg(1), body: 'changed' }, false), false);
  ctx.s.setActive(C);
  const p = ctx.s.loadHistory(C);
  await answer(ctx.client, ctx.s, 'history', { conv: C, items: [msg(1), msg(2)], more: false });
  assert.equal(await p, 1);
  assert.deepEqual(ctx.s.messages(C).map((e) => [e.seq, e.body]), [[1, 'b1'], [2, 'b2']]);
  assert.equal(emitted, 2, 'one update for the first copy, one for history');
  // Same seq in another conversation is a different event.
  assert.equal(ctx.s.handleEvent({ ...msg(1), conv: 'g-other' }), true);
});

test('an unacknowledged send is resent with the same id until its echo arrives', async () => {
  const ctx = setup();
  await connect(ctx);
  const { s, client, clock } = ctx;
  const id = s.send(C, 'hello');
  let sends = client.take((p) => p.topic === topics.send(C));
  assert.equal(sends.length, 1);
  assert.deepEqual(sends[0].obj, { id, body: 'hello' });
  assert.equal(sends[0].qos, 1);
  assert.equal(s.mark(s.messages(C)[0]), 'pending');
  clock.advance(1100);
  clock.advance(1100);
  sends = client.take((p) => p.topic === topics.send(C));
  assert.ok(sends.length >= 2, `resent ${sends.length} times`);
  assert.ok(sends.every((p) => p.obj.id === id && p.obj.body === 'hello'));
  client.deliver('alice', { t: 'msg', conv: C, seq: 7, id, from: 'alice', ts: 5, body: 'hello' });
  assert.equal(s.outbox.size, 0);
  clock.advance(5000);
  assert.equal(client.take((p) => p.topic === topics.send(C)).length, 0, 'no resend after the echo');
  const shown = s.messages(C);
  assert.equal(shown.length, 1);
  assert.equal(shown[0].seq, 7);
  assert.equal(s.mark(shown[0]), 'sent');
  assert.equal(s.convs.get(C).read_seq, 7, 'own message counts as read');
  assert.equal(s.convs.get(C).unread, 0);
});

test('sends made offline go out on connect; the outbox survives a reload', async () => {
  const storage = new MemStorage();
  const ctx = setup({ storage });
  const id = ctx.s.send(C, 'queued');
  assert.equal(ctx.client.published.length, 0);
  // A reload: a new session over the same storage still holds the message.
  ctx.s.close();
  const ctx2 = setup({ storage });
  assert.equal(ctx2.s.outbox.get(id).body, 'queued');
  ctx2.client.emit('connect');
  for (let i = 0; i < 5; i++) await tick();
  const sends = ctx2.client.take((p) => p.topic === topics.send(C));
  assert.deepEqual(sends.map((p) => p.obj.id), [id]);
});

test('retryable errors keep retrying; others fail the message until retried', async () => {
  const ctx = setup();
  await connect(ctx);
  const { s, client, clock } = ctx;
  const a = s.send(C, 'a');
  client.deliver('alice', { t: 'err', id: a, code: 'unavailable', msg: 'x', ts: 1 });
  client.take();
  clock.advance(1100);
  assert.equal(client.take((p) => p.obj.id === a).length, 1, 'retried after unavailable');
  const errors = [];
  s.on('error', (e) => errors.push(e.code));
  client.deliver('alice', { t: 'err', id: a, code: 'not_member', msg: 'no', ts: 1 });
  clock.advance(5000);
  assert.equal(client.take((p) => p.obj.id === a).length, 0, 'no retry after not_member');
  assert.equal(s.mark(s.messages(C)[0]), 'failed');
  assert.deepEqual(errors, ['not_member']);
  s.retry(a);
  assert.equal(client.take((p) => p.obj.id === a).length, 1);
});

test('reconnect: resends pending messages and syncs from the stored token over every page', async () => {
  const storage = new MemStorage();
  storage.setItem('mqchat.sync.alice', 'tok0');
  const ctx = setup({ storage });
  const { s, client } = ctx;
  const statuses = [];
  s.on('status', (st) => statuses.push(st));
  client.emit('connect');
  await tick();
  await answer(client, s, 'convs', { items: [conv({ last_seq: 1, read_seq: 1 })] });
  let r = await answer(client, s, 'sync', { events: [msg(2), msg(3)], next: 'tokA', more: true, reset: false });
  assert.equal(r.since, 'tok0');
  r = await answer(client, s, 'sync', { events: [msg(3), msg(4)], next: 'tokB', more: false, reset: false });
  assert.equal(r.since, 'tokA');
  assert.equal(storage.getItem('mqchat.sync.alice'), 'tokB');
  assert.deepEqual(s.messages(C).map((e) => e.seq), [2, 3, 4]);
  assert.equal(s.convs.get(C).unread, 3);
  // Drop: pending requests fail, status shows reconnecting, sends wait.
  const pend = s.request('convs');
  client.emit('close');
  await assert.rejects(pend, (e) => e instanceof RequestError && e.code === 'offline');
  assert.equal(s.status, 'reconnecting');
  const id = s.send(C, 'while away');
  assert.equal(client.take((p) => p.topic === topics.send(C)).length, 0);
  client.emit('connect');
  await tick();
  await tick();
  assert.deepEqual(client.take((p) => p.topic === topics.send(C)).map((p) => p.obj.id), [id]);
  await answer(client, s, 'convs', { items: [conv({ last_seq: 5, read_seq: 1 })] });
  r = await answer(client, s, 'sync', { events: [msg(4), msg(5)], next: 'tokC', more: false, reset: false });
  assert.equal(r.since, 'tokB');
  assert.deepEqual(s.messages(C).filter((e) => !e.pending).map((e) => e.seq), [2, 3, 4, 5]);
  assert.deepEqual(statuses, ['online', 'reconnecting', 'online']);
});

test('sync reset forgets timelines and re-reads convs; a foreign token is dropped', async () => {
  const storage = new MemStorage();
  storage.setItem('mqchat.sync.alice', 'garbage');
  const ctx = setup({ storage });
  const { s, client } = ctx;
  client.emit('connect');
  await tick();
  await answer(client, s, 'convs', { items: [conv()] });
  // The stored token is refused: sync again without one.
  for (let i = 0; i < 5 && !client.lastReq('sync'); i++) await tick();
  const bad = client.lastReq('sync');
  assert.equal(bad.obj.since, 'garbage');
  client.published.splice(client.published.indexOf(bad), 1);
  client.deliver('alice', { t: 'err', req: bad.obj.req, code: 'bad_request', msg: 'bad token', ts: 1 });
  const fresh = await answer(client, s, 'sync', { events: [], next: 'tok1', more: false, reset: false });
  assert.equal(fresh.since, undefined);
  assert.equal(storage.getItem('mqchat.sync.alice'), 'tok1');
  s.handleEvent(msg(1));
  let resets = 0;
  s.on('reset', () => resets++);
  const p = s.sync();
  await answer(client, s, 'sync', { events: [], next: 'tok9', more: false, reset: true });
  await answer(client, s, 'convs', { items: [conv({ last_seq: 40, read_seq: 10 })] });
  await p;
  assert.equal(resets, 1);
  assert.equal(s.timeline(C).size, 0);
  assert.equal(s.convs.get(C).unread, 30);
  assert.equal(storage.getItem('mqchat.sync.alice'), 'tok9');
});

test('receipts: delivered for new messages, read when on screen; marks follow the peer', async () => {
  const ctx = setup();
  await connect(ctx);
  const { s, client, clock } = ctx;
  client.deliver('alice', msg(1));
  clock.advance(200);
  let rc = client.take((p) => p.topic === topics.receipt(C));
  assert.deepEqual(rc.map((p) => p.obj), [{ type: 'delivered', seq: 1 }]);
  assert.equal(s.convs.get(C).unread, 1);
  s.setActive(C);
  clock.advance(200);
  rc = client.take((p) => p.topic === topics.receipt(C));
  assert.deepEqual(rc.map((p) => p.obj), [{ type: 'read', seq: 1 }]);
  client.deliver('alice', { t: 'receipt', conv: C, user: 'alice', type: 'read', seq: 1, ts: 1 });
  assert.equal(s.convs.get(C).unread, 0);
  // Hidden page: only delivered.
  s.setVisible(false);
  client.deliver('alice', msg(2));
  clock.advance(200);
  rc = client.take((p) => p.topic === topics.receipt(C));
  assert.deepEqual(rc.map((p) => p.obj), [{ type: 'delivered', seq: 2 }]);
  // Own message marks from bob's receipts; cursors never go back.
  client.deliver('alice', { t: 'msg', conv: C, seq: 3, id: 'own', from: 'alice', ts: 9, body: 'hi' });
  const own = () => s.messages(C).find((e) => e.id === 'own');
  assert.equal(s.mark(own()), 'sent');
  client.deliver('alice', { t: 'receipt', conv: C, user: 'bob', type: 'delivered', seq: 3, ts: 1 });
  assert.equal(s.mark(own()), 'delivered');
  client.deliver('alice', { t: 'receipt', conv: C, user: 'bob', type: 'read', seq: 3, ts: 1 });
  assert.equal(s.mark(own()), 'read');
  client.deliver('alice', { t: 'receipt', conv: C, user: 'bob', type: 'read', seq: 2, ts: 1 });
  assert.equal(s.mark(own()), 'read');
  // A later message from bob proves he read what came before it.
  client.deliver('alice', { t: 'msg', conv: C, seq: 4, id: 'own2', from: 'alice', ts: 10, body: 'more' });
  assert.equal(s.mark(s.messages(C).find((e) => e.id === 'own2')), 'sent');
  s.handleEvent(msg(5), false);
  assert.equal(s.mark(s.messages(C).find((e) => e.id === 'own2')), 'read');
});

test('typing: shown, expired, cleared by a message; ours is throttled and paused', async () => {
  const ctx = setup();
  await connect(ctx);
  const { s, client, clock } = ctx;
  const seen = [];
  s.on('typing', (c) => seen.push(s.typingUsers(c)));
  client.deliver('alice', { t: 'typing', conv: C, user: 'bob', state: 'composing', ts: 1 });
  assert.deepEqual(s.typingUsers(C), ['bob']);
  clock.advance(7000);
  assert.deepEqual(s.typingUsers(C), []);
  client.deliver('alice', { t: 'typing', conv: C, user: 'bob', state: 'composing', ts: 1 });
  client.deliver('alice', msg(1));
  assert.deepEqual(s.typingUsers(C), []);
  client.deliver('alice', { t: 'typing', conv: C, user: 'alice', state: 'composing', ts: 1 });
  assert.deepEqual(s.typingUsers(C), [], 'own typing from another device is not shown');
  assert.deepEqual(seen, [['bob'], [], ['bob'], []]);
  client.take();
  s.typing(C);
  s.typing(C);
  clock.advance(1000);
  s.typing(C);
  let ty = client.take((p) => p.topic === topics.typing(C));
  assert.deepEqual(ty.map((p) => [p.obj.state, p.qos]), [['composing', 0]]);
  clock.advance(2500);
  s.typing(C);
  clock.advance(6000);
  ty = client.take((p) => p.topic === topics.typing(C));
  assert.deepEqual(ty.map((p) => p.obj.state), ['composing', 'paused']);
  s.typing(C);
  s.send(C, 'x');
  ty = client.take((p) => p.topic === topics.typing(C));
  assert.deepEqual(ty.map((p) => p.obj.state), ['composing', 'paused'], 'sending ends typing');
});

test('requests resolve with res, reject with err codes and time out', async () => {
  const ctx = setup();
  await connect(ctx);
  const { s, client, clock } = ctx;
  const p = s.openDirect('carol');
  const r = await answer(client, s, 'create', { conv: 'd-new' });
  assert.deepEqual(r, { op: 'create', req: r.req, kind: 'direct', with: 'carol' });
  await answer(client, s, 'convs', { items: [conv(), conv({ conv: 'd-new', members: ['alice', 'carol'] })] });
  assert.equal(await p, 'd-new');
  const q = s.request('create', { kind: 'direct', with: 'nobody' });
  const req = client.lastReq('create').obj.req;
  client.deliver('alice', { t: 'err', req, code: 'not_found', msg: 'no such user', ts: 1 });
  await assert.rejects(q, (e) => e.code === 'not_found');
  const t = s.request('convs');
  clock.advance(20000);
  await assert.rejects(t, (e) => e.code === 'timeout');
});

test('history pages backwards from the oldest event held until more is false', async () => {
  const ctx = setup();
  await connect(ctx, { convs: [conv({ last_seq: 5, read_seq: 5 })] });
  const { s, client } = ctx;
  // The list's preview of the last event comes first.
  const pre = await answer(client, s, 'history', { conv: C, items: [msg(5)], more: true });
  assert.equal(pre.limit, 1);
  assert.equal(s.conversations()[0].lastEvent.body, 'b5');
  let p = s.loadHistory(C);
  let r = await answer(client, s, 'history', { conv: C, items: [msg(4), msg(5)], more: true });
  assert.equal(r.before, undefined);
  assert.equal(await p, 2);
  p = s.loadHistory(C);
  r = await answer(client, s, 'history', { conv: C, items: [msg(2), msg(3)], more: false });
  assert.equal(r.before, 4);
  await p;
  assert.equal(await s.loadHistory(C), 0);
  assert.equal(client.lastReq('history'), undefined, 'no request once more is false');
  assert.deepEqual(s.messages(C).map((e) => e.seq), [2, 3, 4, 5]);
  assert.equal(s.conversations()[0].lastEvent.seq, 5);
});

test('presence from retained messages; older states are ignored', async () => {
  const ctx = setup();
  await connect(ctx);
  const { s, client } = ctx;
  const pres = (ev) => client.emit('message', 'chat/presence/bob', Buffer.from(JSON.stringify(ev)));
  pres({ user: 'bob', state: 'online', last_seen: 100, ts: 100 });
  assert.equal(s.presence.get('bob').state, 'online');
  pres({ user: 'bob', state: 'offline', last_seen: 200, ts: 200 });
  pres({ user: 'bob', state: 'online', last_seen: 150, ts: 150 });
  assert.deepEqual(s.presence.get('bob'), { state: 'offline', last_seen: 200, ts: 200 });
  client.take();
  s.setAway(true);
  assert.deepEqual(client.take().map((p) => [p.topic, p.obj]), [['chat/presence/alice', { state: 'away' }]]);
  // Garbage never throws.
  client.emit('message', 'chat/u/alice/inbox', Buffer.from('not json'));
  client.emit('message', 'chat/presence/bob', Buffer.from('[]'));
});

test('a refused login stops reconnecting', async () => {
  const ctx = setup();
  const err = new Error('Connection refused: Not authorized');
  err.code = 5;
  ctx.client.emit('error', err);
  assert.equal(ctx.s.status, 'denied');
  assert.equal(ctx.client.ended, true);
});

test('new conversations and membership changes re-read convs', async () => {
  const ctx = setup();
  await connect(ctx);
  const { s, client, clock } = ctx;
  client.deliver('alice', { t: 'member', conv: 'g-1', seq: 1, op: 'added', users: ['alice', 'bob'], by: 'bob', ts: 5 });
  clock.advance(300);
  await answer(client, s, 'convs', {
    items: [conv(), { conv: 'g-1', kind: 'group', title: 'Team', members: ['alice', 'bob', 'carol'], admins: ['bob'], last_seq: 1, read_seq: 0, unread: 1 }],
  });
  assert.equal(s.title('g-1'), 'Team');
  await tick();
  assert.deepEqual(client.subscriptions, ['chat/u/alice/inbox', 'chat/presence/bob', 'chat/presence/carol'],
    'a new contact\'s presence is watched once');
  assert.equal(s.convs.get('g-1').unread, 1);
});

test('a catch-up refused while storage is down is tried again', async () => {
  const ctx = setup();
  const { s, client, clock } = ctx;
  const errors = [];
  s.on('error', (e) => errors.push(e.code));
  client.emit('connect');
  await tick();
  const r = client.lastReq('convs');
  client.published.splice(client.published.indexOf(r), 1);
  client.deliver('alice', { t: 'err', req: r.obj.req, code: 'unavailable', msg: 'storage down', ts: 1 });
  await tick();
  await tick();
  assert.deepEqual(errors, ['unavailable']);
  assert.equal(s.ready, false);
  clock.advance(1000);
  await answer(client, s, 'convs', { items: [conv()] });
  await answer(client, s, 'sync', { events: [], next: 'tok1', more: false, reset: false });
  for (let i = 0; i < 5; i++) await tick();
  assert.equal(s.ready, true);
});
