// Unit tests of the relations model (web/src/relations.js) and of the
// session's relation sends: edits, deletes and reactions apply in seq order
// whatever order they arrive in, repeats change nothing, an edit of a
// deleted message shows nothing, reaction sets toggled many times converge
// to the last one, and sends go through the outbox with their own payloads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  canDelete, canEdit, chips, fold, mySet, previewText, quote, toggle,
} from '../../src/relations.js';
import { Timeline } from '../../src/timeline.js';
import { Outbox } from '../../src/outbox.js';
import { ChatSession } from '../../src/protocol.js';
import { FakeClock, FakeClient, MemStorage, tick } from './fakes.mjs';

const C = 'g-rel';
const msg = (seq, from = 'bob', extra = {}) => ({ t: 'msg', conv: C, seq, id: `m${seq}`, from, ts: seq, body: `b${seq}`, ...extra });
const edit = (seq, target, body, from = 'bob') => ({ t: 'edit', conv: C, seq, id: `e${seq}`, from, target, body, ts: seq });
const del = (seq, target, from = 'bob') => ({ t: 'delete', conv: C, seq, id: `d${seq}`, from, target, ts: seq });
const react = (seq, target, from, emojis) => ({ t: 'react', conv: C, seq, id: `r${seq}`, from, target, emojis, ts: seq });

// Every order of a list (small lists only).
function* orders(list) {
  if (list.length <= 1) {
    yield list;
    return;
  }
  for (let i = 0; i < list.length; i++) {
    for (const rest of orders([...list.slice(0, i), ...list.slice(i + 1)])) yield [list[i], ...rest];
  }
}

// What a timeline fed events in this order shows.
function view(events, me = 'alice') {
  const tl = new Timeline(C);
  for (const ev of events) tl.add(ev);
  const msgs = fold(tl.list());
  return [...msgs.values()].map((m) => ({
    seq: m.seq, body: m.body, edited: m.edited, deleted: m.deleted, chips: chips(m, me),
  }));
}

test('edits: the newest by seq wins whatever the arrival order, marked edited', () => {
  const evs = [msg(1), edit(2, 1, 'one'), edit(3, 1, 'two'), msg(4), edit(5, 1, 'three')];
  const want = view(evs);
  assert.equal(want[0].body, 'three');
  assert.equal(want[0].edited, true);
  assert.equal(want[1].edited, false);
  for (const o of orders(evs)) assert.deepEqual(view(o), want, JSON.stringify(o.map((e) => e.seq)));
  // Repeated events (live, then sync, then history) change nothing.
  assert.deepEqual(view([...evs, ...evs.slice().reverse(), edit(3, 1, 'two')]), want);
});

test('deletes: placeholder, sticky against later and earlier edits, also from history', () => {
  const evs = [msg(1), edit(2, 1, 'fixed'), del(3, 1), edit(4, 1, 'too late'), react(5, 1, 'carol', ['👍'])];
  const want = view(evs);
  assert.deepEqual(want[0], { seq: 1, body: undefined, edited: true, deleted: true, chips: [] });
  for (const o of orders(evs)) assert.deepEqual(view(o), want);
  // history returns the target as deleted without the delete event itself
  // (an older page), or after the live copy was held.
  const hist = { t: 'msg', conv: C, seq: 1, id: 'm1', from: 'bob', ts: 1, deleted: true };
  assert.equal(view([hist])[0].deleted, true);
  assert.equal(view([msg(1), hist])[0].deleted, true, 'the erased copy replaces the live one');
  assert.equal(view([hist, msg(1)])[0].deleted, true, 'and a stale copy never brings the body back');
  // An erased edit (tombstone without body) shows nothing.
  assert.equal(view([msg(1), { ...edit(2, 1), body: undefined, deleted: true }])[0].edited, false);
});

test('reactions: each member’s whole set, the later replacing the earlier, [] removing', () => {
  const evs = [
    msg(1),
    react(2, 1, 'alice', ['👍', '🎉']),
    react(3, 1, 'bob', ['👍']),
    react(4, 1, 'alice', ['👍']),
    react(5, 1, 'carol', ['❤️', '❤️']),
    react(6, 1, 'carol', []),
    react(7, 1, 'dave', ['🎉', '👍']),
  ];
  const want = view(evs);
  assert.deepEqual(want[0].chips, [
    { emoji: '👍', count: 3, users: ['alice', 'bob', 'dave'], mine: true },
    { emoji: '🎉', count: 1, users: ['dave'], mine: false },
  ]);
  for (const o of orders(evs.slice(1))) assert.deepEqual(view([...o, msg(1)]), want);
});

test('reactions toggled many times converge to the last set sent', () => {
  let set = [];
  const evs = [msg(1)];
  const emojis = ['👍', '❤️', '😂', '👍', '🎉', '❤️', '👍', '😮', '🎉', '😂', '👍'];
  let seq = 1;
  for (const e of emojis) {
    set = toggle(set, e);
    evs.push(react(++seq, 1, 'alice', set));
  }
  assert.deepEqual(set, ['😮']);
  const shuffled = evs.slice().sort((a, b) => ((a.seq * 7919) % 13) - ((b.seq * 7919) % 13));
  const m = fold(shuffled).get(1);
  assert.deepEqual(mySet(m, 'alice'), ['😮']);
  assert.deepEqual(chips(m, 'alice'), [{ emoji: '😮', count: 1, users: ['alice'], mine: true }]);
  assert.deepEqual(toggle(Array.from({ length: 20 }, (_, i) => `e${i}`), 'x').length, 20, 'at most 20');
});

test('replies quote their target, or say it is not loaded or deleted', () => {
  const msgs = fold([msg(1), msg(2, 'alice', { reply_to: 1 }), msg(3, 'alice', { reply_to: 9 }), msg(9, 'carol'), del(10, 9, 'carol')]);
  assert.equal(msgs.get(2).reply_to, 1);
  assert.deepEqual(quote(msgs, 1), { state: 'ok', seq: 1, from: 'bob', body: 'b1' });
  assert.deepEqual(quote(msgs, 9), { state: 'deleted', seq: 9, from: 'carol' });
  assert.deepEqual(quote(msgs, 4), { state: 'missing', seq: 4 });
  const edited = fold([msg(1), edit(5, 1, 'new words')]);
  assert.equal(quote(edited, 1).body, 'new words', 'a quote shows the latest text');
});

test('pending sends apply on top; permissions follow sender and group admins', () => {
  const evs = [msg(1, 'alice'), msg(2), react(3, 2, 'alice', ['👍'])];
  const pending = [
    { rel: { edit: 1 }, body: 'draft fix', from: 'alice' },
    { rel: { react: 2, emojis: [] }, from: 'alice' },
    { rel: { delete: 2 }, from: 'alice' },
  ];
  const msgs = fold(evs, pending);
  assert.equal(msgs.get(1).body, 'draft fix');
  assert.equal(msgs.get(1).pending.edit, true);
  assert.deepEqual(chips(msgs.get(2), 'alice'), []);
  assert.equal(msgs.get(2).pending.delete, true);
  const group = { kind: 'group', admins: ['alice'] };
  assert.equal(canEdit(msgs.get(1), 'alice'), true);
  assert.equal(canEdit(msgs.get(2), 'alice'), false);
  assert.equal(canDelete(msgs.get(2), 'alice', group), true, 'an admin deletes anyone’s');
  assert.equal(canDelete(msgs.get(2), 'alice', { kind: 'direct', admins: [] }), false);
  assert.equal(canDelete(msgs.get(2), 'carol', group), false);
  assert.equal(previewText(react(4, 1, 'bob', ['👍'])), 'reacted 👍');
  assert.equal(previewText(react(4, 1, 'bob', [])), 'removed a reaction');
  assert.equal(previewText({ ...msg(1), deleted: true }), 'message deleted');
  assert.equal(previewText(msg(1)), null);
});

test('outbox payloads of each relation', () => {
  const p = (rel, body) => JSON.parse(Outbox.payload({ id: 'x', body, rel }));
  assert.deepEqual(p({ reply_to: 4 }, 'hi'), { id: 'x', body: 'hi', reply_to: 4 });
  assert.deepEqual(p({ edit: 4 }, 'new'), { id: 'x', body: 'new', edit: 4 });
  assert.deepEqual(p({ delete: 4 }), { id: 'x', delete: 4 });
  assert.deepEqual(p({ react: 4, emojis: ['👍'] }), { id: 'x', react: 4, emojis: ['👍'] });
});

test('session: relation sends retry with the same id, echoes settle them, views fold them', async () => {
  const clock = new FakeClock();
  const client = new FakeClient();
  const s = new ChatSession({ user: 'alice', storage: new MemStorage(), now: clock.now, timers: clock.api, retryMs: 1000, tag: 't' });
  s.attach(client);
  client.emit('connect');
  for (let i = 0; i < 5; i++) await tick();
  const convs = client.lastReq('convs').obj;
  client.deliver('alice', { t: 'res', req: convs.req, op: 'convs', items: [{ conv: C, kind: 'group', members: ['alice', 'bob'], admins: ['alice'], last_seq: 0, read_seq: 0 }] });
  for (let i = 0; i < 5; i++) await tick();
  const sync = client.lastReq('sync').obj;
  client.deliver('alice', { t: 'res', req: sync.req, op: 'sync', events: [], next: 't1', more: false });
  for (let i = 0; i < 5; i++) await tick();
  client.take();

  client.deliver('alice', msg(1));
  const sends = () => client.take((p) => p.topic === `chat/c/${C}/send`).map((p) => p.obj);
  const rid = s.reply(C, 1, 'answer');
  const tid = s.toggleReaction(C, 1, '👍');
  const t2 = s.toggleReaction(C, 1, '🎉'); // before the first echo: built on the pending set
  const did = s.deleteMessage(C, 1);
  assert.deepEqual(sends(), [
    { id: rid, body: 'answer', reply_to: 1 },
    { id: tid, react: 1, emojis: ['👍'] },
    { id: t2, react: 1, emojis: ['👍', '🎉'] },
    { id: did, delete: 1 },
  ]);
  assert.deepEqual(s.messages(C).map((e) => [e.seq, e.reply_to, e.pending]), [[1, undefined, undefined], [undefined, 1, true]]);
  assert.equal(s.relations(C).get(1).pending.delete, true);
  clock.advance(1100);
  assert.deepEqual(sends().map((o) => o.id), [rid, tid, t2, did], 'resent with the same ids');
  // Echoes, out of order; the delete is refused (not an admin here, say).
  client.deliver('alice', react(4, 1, 'alice', ['👍', '🎉']));
  client.deliver('alice', { ...react(3, 1, 'alice', ['👍']), id: tid });
  client.deliver('alice', msg(2, 'alice', { id: rid, body: 'answer', reply_to: 1 }));
  client.deliver('alice', { t: 'err', id: did, code: 'forbidden', msg: 'no' });
  client.deliver('alice', { ...react(4, 1, 'alice', ['👍', '🎉']), id: t2 });
  assert.equal(s.outbox.size, 1, 'only the refused delete is left');
  assert.equal(s.failedRelations(C).length, 1);
  const m = s.relations(C).get(1);
  assert.equal(m.deleted, false);
  assert.deepEqual(chips(m, 'alice').map((c) => c.emoji), ['👍', '🎉']);
  assert.deepEqual(s.messages(C).map((e) => e.seq), [1, 2], 'relation events are not rows');
  assert.equal(s.convs.get(C).unread, 0, 'my relations are never unread');
  client.deliver('alice', react(5, 2, 'bob', ['😂']));
  assert.equal(s.convs.get(C).unread, 0, 'nor are theirs');
  client.deliver('alice', edit(6, 1, 'b1 fixed'));
  assert.equal(s.relations(C).get(1).body, 'b1 fixed');
  assert.equal(s.timeline(C).lastSeq, 6, 'receipts cover relation seqs');
});
