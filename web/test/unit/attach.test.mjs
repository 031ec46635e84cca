// Unit tests of attach.js: the attachment a message carries (checked), the
// upload flow (request, PUT with the signed headers and progress, then the
// message), store refusals, and the download URL cache.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Attachments, attachmentOf, formatSize, isImage, previewText } from '../../src/attach.js';

const KEY = `c1/${'a'.repeat(32)}/cat.jpg`;

test('attachmentOf checks what a message carries', () => {
  const ev = { conv: 'c1', body: '', attrs: { attachment: { key: KEY, name: 'cat.jpg', type: 'image/jpeg', size: 5 } } };
  assert.deepEqual(attachmentOf(ev), { key: KEY, name: 'cat.jpg', type: 'image/jpeg', size: 5 });
  assert.equal(attachmentOf({ ...ev, conv: 'c2' }), null); // another conversation's key
  assert.equal(attachmentOf({ conv: 'c1', attrs: { attachment: { key: 'c1/../x' } } }), null);
  assert.equal(attachmentOf({ conv: 'c1', attrs: {} }), null);
  assert.equal(attachmentOf({ conv: 'c1' }), null);
  const odd = attachmentOf({ conv: 'c1', attrs: { attachment: { key: KEY, type: 'text/html<x>', size: -1 } } });
  assert.deepEqual(odd, { key: KEY, name: 'file', type: 'application/octet-stream', size: null });
  assert.ok(isImage({ type: 'image/png' }));
  assert.ok(!isImage({ type: 'image/svg+xml' }));
  assert.equal(previewText(ev), '📷 Photo');
  assert.equal(previewText({ ...ev, attrs: { attachment: { key: KEY, name: 'a.pdf', type: 'application/pdf' } } }), '📎 a.pdf');
  assert.equal(previewText({ ...ev, body: 'hi' }), 'hi');
  assert.equal(formatSize(812), '812 B');
  assert.equal(formatSize(4200), '4.2 KB');
  assert.equal(formatSize(13000000), '13 MB');
});

function fakeSession(replies) {
  const s = { asked: [], sent: [] };
  s.request = (op, fields) => {
    s.asked.push({ op, ...fields });
    const r = replies[op];
    return r instanceof Error ? Promise.reject(r) : Promise.resolve(typeof r === 'function' ? r(fields) : r);
  };
  s.send = (conv, body, attrs) => s.sent.push({ conv, body, attrs });
  return s;
}

function fakeXHR(status, log) {
  return class {
    constructor() {
      this.headers = {};
      this.upload = {};
      log.push(this);
    }
    open(method, url) { this.method = method; this.url = url; }
    setRequestHeader(k, v) { this.headers[k] = v; }
    send(body) {
      this.body = body;
      queueMicrotask(() => {
        this.upload.onprogress({ lengthComputable: true, loaded: 2, total: 4 });
        this.status = status;
        this.onload();
      });
    }
  };
}

test('upload: request, PUT with the signed headers and progress, then the message', async () => {
  const s = fakeSession({ upload: { key: KEY, put_url: 'http://s3/b/k?sig', headers: { 'Content-Type': 'image/jpeg' }, expires: 1 } });
  const xhrs = [];
  const a = new Attachments(s, { XHR: fakeXHR(200, xhrs) });
  const progress = [];
  const file = { name: 'cat.jpg', type: 'image/jpeg', size: 4 };
  const att = await a.upload('c1', file, (f) => progress.push(f));
  assert.deepEqual(s.asked, [{ op: 'upload', conv: 'c1', name: 'cat.jpg', type: 'image/jpeg', size: 4 }]);
  assert.equal(xhrs[0].method, 'PUT');
  assert.equal(xhrs[0].url, 'http://s3/b/k?sig');
  assert.deepEqual(xhrs[0].headers, { 'Content-Type': 'image/jpeg' });
  assert.equal(xhrs[0].body, file);
  assert.deepEqual(progress, [0.5, 1]);
  assert.deepEqual(att, { key: KEY, name: 'cat.jpg', type: 'image/jpeg', size: 4 });
  assert.deepEqual(s.sent, [{ conv: 'c1', body: '', attrs: { attachment: att } }]);
});

test('upload: a refused PUT sends nothing; a refused request is passed on', async () => {
  const s = fakeSession({ upload: { key: KEY, put_url: 'u', headers: { 'Content-Type': 'x/y' } } });
  const a = new Attachments(s, { XHR: fakeXHR(403, []) });
  await assert.rejects(a.upload('c1', { name: 'f', type: '', size: 4 }), /refused the upload \(HTTP 403\)/);
  assert.equal(s.asked[0].type, 'application/octet-stream');
  assert.deepEqual(s.sent, []);
  const tooBig = Object.assign(new Error('too_large'), { code: 'too_large' });
  const s2 = fakeSession({ upload: tooBig });
  await assert.rejects(new Attachments(s2, { XHR: fakeXHR(200, []) }).upload('c1', { name: 'f', size: 9e9 }), /too_large/);
  assert.deepEqual(s2.sent, []);
});

test('download URLs are cached until a minute before they expire', async () => {
  let now = 1000000;
  let n = 0;
  const s = fakeSession({ download: () => ({ url: `u${++n}`, expires: now + 900000 }) });
  const a = new Attachments(s, { now: () => now });
  const [x, y] = await Promise.all([a.url('c1', KEY), a.url('c1', KEY)]);
  assert.equal(x, 'u1');
  assert.equal(y, 'u1');
  now += 800000;
  assert.equal(await a.url('c1', KEY), 'u1');
  now += 50000; // 50 s left
  assert.equal(await a.url('c1', KEY), 'u2');
  assert.equal(s.asked.length, 2);
});

test('download URLs: a refusal is remembered a while, few requests at a time', async () => {
  let now = 0;
  const notMember = Object.assign(new Error('not_member'), { code: 'not_member' });
  const s = fakeSession({ download: notMember });
  const a = new Attachments(s, { now: () => now });
  await assert.rejects(a.url('c1', KEY), /not_member/);
  await assert.rejects(a.url('c1', KEY), /not_member/);
  assert.equal(s.asked.length, 1);
  now += 31000;
  await assert.rejects(a.url('c1', KEY), /not_member/);
  assert.equal(s.asked.length, 2);

  let open = 0;
  let most = 0;
  const s2 = fakeSession({});
  s2.request = () => {
    open++;
    most = Math.max(most, open);
    return new Promise((r) => setTimeout(() => { open--; r({ url: 'u', expires: 1e12 }); }, 5));
  };
  const b = new Attachments(s2, { now: () => 0 });
  const keys = Array.from({ length: 20 }, (_, i) => `c1/${String(i).padStart(32, '0')}`);
  await Promise.all(keys.map((k) => b.url('c1', k)));
  assert.equal(most, 4);
});
