// Unit tests of the outbox (what is resent, when, and what ends it) and of
// a conversation's timeline (dedupe, order, cursors, group marks).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Outbox } from '../../src/outbox.js';
import { Timeline } from '../../src/timeline.js';
import { MemStorage } from './fakes.mjs';

test('outbox: due entries, resend interval, ack only for the same conversation', () => {
  const ob = new Outbox({ retryMs: 1000 });
  ob.add({ id: 'a', conv: 'c1', body: 'x', ts: 1 });
  ob.add({ id: 'b', conv: 'c2', body: 'y', ts: 2, attrs: { reply_to: 3 } });
  assert.deepEqual(ob.due(100).map((i) => i.id), ['a', 'b']);
  assert.deepEqual(ob.due(500).map((i) => i.id), [], 'not again before retryMs');
  assert.deepEqual(ob.due(600, true).map((i) => i.id), ['a', 'b'], 'all after a reconnect');
  assert.deepEqual(ob.due(1700).map((i) => i.id), ['a', 'b']);
  assert.equal(Outbox.payload(ob.get('b')), '{"id":"b","body":"y","attrs":{"reply_to":3}}');
  assert.equal(ob.ack('c2', 'a'), null, 'an echo in another conversation is not ours');
  assert.equal(ob.ack('c1', 'a').id, 'a');
  assert.equal(ob.size, 1);
  assert.equal(ob.get('b').tries, 3);
});

test('outbox: persisted, and a broken stored value is dropped', () => {
  const st = new MemStorage();
  const ob = new Outbox({ storage: st, key: 'k' });
  ob.add({ id: 'a', conv: 'c1', body: 'x', ts: 1 });
  ob.error('a', 'too_large');
  const again = new Outbox({ storage: st, key: 'k' });
  assert.equal(again.get('a').failed, 'too_large');
  assert.deepEqual(again.due(1), [], 'failed entries wait for retry()');
  again.retry('a');
  assert.deepEqual(again.due(2).map((i) => i.id), ['a']);
  st.setItem('k', '{not json');
  assert.equal(new Outbox({ storage: st, key: 'k' }).size, 0);
  st.setItem('k', '[{"id":5},null,{"id":"ok","conv":"c","body":"b"}]');
  assert.deepEqual([...new Outbox({ storage: st, key: 'k' }).items.keys()], ['ok']);
});

test('timeline: one event per seq, ascending; cursors never go back', () => {
  const tl = new Timeline('c');
  assert.equal(tl.add({ t: 'msg', seq: 3, body: 'c' }), true);
  assert.equal(tl.add({ t: 'msg', seq: 1, body: 'a' }), true);
  assert.equal(tl.add({ t: 'msg', seq: 3, body: 'again' }), false);
  assert.equal(tl.add({ t: 'msg', seq: 0 }), false);
  assert.equal(tl.add({ t: 'msg', seq: '2' }), false);
  assert.deepEqual(tl.list().map((e) => e.body), ['a', 'c']);
  assert.equal(tl.firstSeq, 1);
  assert.equal(tl.lastSeq, 3);
  assert.equal(tl.setCursor('bob', 'read', 3), true);
  assert.deepEqual(tl.cursor('bob'), { delivered: 3, read: 3 }, 'read implies delivered');
  assert.equal(tl.setCursor('bob', 'delivered', 2), false);
  assert.equal(tl.setCursor('bob', 'seen', 9), false);
});

test('timeline: a group message is read only when every other member read it', () => {
  const tl = new Timeline('g');
  const members = ['alice', 'bob', 'carol'];
  assert.equal(tl.mark(5, 'alice', members), 'sent');
  tl.setCursor('bob', 'read', 5);
  assert.equal(tl.mark(5, 'alice', members), 'sent');
  tl.setCursor('carol', 'delivered', 5);
  assert.equal(tl.mark(5, 'alice', members), 'delivered');
  tl.setCursor('carol', 'read', 6);
  assert.equal(tl.mark(5, 'alice', members), 'read');
  assert.equal(tl.mark(5, 'alice', ['alice']), 'sent', 'alone in a group');
});
