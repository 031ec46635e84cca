// Unit tests of the views' pure formatting helpers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lastSeen, memberText, shortTime, typingText, initials } from '../../src/ui/format.js';

test('last seen reads like a person would say it', () => {
  const now = new Date(2026, 10, 29, 15, 0).getTime();
  assert.equal(lastSeen({ state: 'online' }, now), 'online');
  assert.equal(lastSeen({ state: 'away' }, now), 'away');
  assert.equal(lastSeen({ state: 'offline', last_seen: now - 10000 }, now), 'last seen just now');
  assert.equal(lastSeen({ state: 'offline', last_seen: now - 5 * 60000 }, now), 'last seen 5 min ago');
  assert.equal(lastSeen({ state: 'offline', last_seen: now - 3 * 3600000 }, now), 'last seen today at 12:00');
  assert.equal(lastSeen({ state: 'offline', last_seen: now - 86400000 }, now), 'last seen Yesterday at 15:00');
  assert.equal(lastSeen({ state: 'offline', last_seen: 0 }, now), 'offline');
  assert.equal(shortTime(now - 60000, now), '14:59');
});

test('typing, member events and initials', () => {
  assert.equal(typingText([]), '');
  assert.equal(typingText(['bob']), 'bob is typing');
  assert.equal(typingText(['bob', 'carol']), 'bob and carol are typing');
  assert.equal(typingText(['a', 'b', 'c']), '3 people are typing');
  assert.equal(memberText({ op: 'added', seq: 1, by: 'alice', users: ['alice', 'bob'] }), 'alice created the group with bob');
  assert.equal(memberText({ op: 'added', seq: 7, by: 'alice', users: ['dave'] }), 'alice added dave');
  assert.equal(memberText({ op: 'left', seq: 9, by: 'bob', users: ['bob'] }), 'bob left');
  assert.equal(initials('alice'), 'AL');
  assert.equal(initials('mary.jane'), 'MJ');
});
