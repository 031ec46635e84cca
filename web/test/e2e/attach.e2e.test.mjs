// Attachments end to end in headless Chromium: s3rver (npm) on a free
// loopback port as the object store (path-style, data in a temp dir), the
// web client built with that origin in its CSP, the broker signing the
// URLs. alice attaches an image with the clip button; bob, in the open
// conversation, sees the thumbnail live (the image really loaded from the
// store), opens the full image by clicking it, and sees it again after a
// reload. alice pastes an image and drops a text file on the chat (a named
// link with its size for bob), uploads a 3 MB file (its progress row goes
// from 0% to 100%) and one over max_upload_bytes (refused in place). Screenshots of both pages:
// MQCHAT_WEB_ARTIFACTS/attach-alice.png and attach-bob.png (build/web-artifacts
// under ctest).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import { Stack, TIMEOUT, freePort, waitFor } from './stack.mjs';
import { ARTIFACTS, launch, password, signIn } from './browser.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const WEB = path.resolve(here, '../..');
const S3RVER = path.join(WEB, 'node_modules/s3rver/bin/s3rver.js');
const CORS = path.resolve(WEB, '../config/s3rver-cors.xml');
const BUCKET = 'mqchat-e2e';

// A w x h RGB PNG of a colour gradient (so a screenshot shows something).
function png(w, h, tint) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) {
    raw[y * (w * 3 + 1)] = 0;
    for (let x = 0; x < w; x++) {
      const o = y * (w * 3 + 1) + 1 + x * 3;
      raw[o] = Math.round((255 * x) / w);
      raw[o + 1] = Math.round((255 * y) / h);
      raw[o + 2] = tint;
    }
  }
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

// Wait until every thumbnail in the page's open conversation is a decoded image.
const thumbsLoaded = (page, n) => waitFor(() => page.evaluate((want) => {
  const imgs = [...document.querySelectorAll('#messages img.thumb')];
  return imgs.length >= want && imgs.every((i) => i.complete && i.naturalWidth > 0);
}, n), `${n} thumbnail(s) to load`);

test('alice sends bob an image and a file through the object store', { timeout: 8 * TIMEOUT }, async (t) => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'mqchat-attach-e2e-'));
  const s3Port = await freePort();
  const origin = `http://127.0.0.1:${s3Port}`;
  // The client, built with the store's origin in its CSP.
  const dist = path.join(tmp, 'dist');
  const b = spawnSync(process.execPath, [path.join(WEB, 'tools/build.mjs'), '--outdir', dist, '--s3-origin', origin],
    { encoding: 'utf8', timeout: 120000 });
  assert.equal(b.status, 0, b.stderr);
  const fd = openSync(path.join(tmp, 's3rver.log'), 'a');
  const s3 = spawn(process.execPath, [S3RVER, '-d', path.join(tmp, 's3data'), '-a', '127.0.0.1', '-p', String(s3Port),
    '--no-vhost-buckets', '--configure-bucket', BUCKET, CORS], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const s3exit = new Promise((r) => s3.once('exit', r));
  writeFileSync(path.join(tmp, 's3.secret'), 'S3RVER\n');
  const stack = new Stack({
    webDir: dist,
    options: {
      s3_endpoint: origin, s3_bucket: BUCKET, s3_access_key: 'S3RVER',
      s3_secret_key_file: path.join(tmp, 's3.secret'), s3_path_style: 'true',
      max_upload_bytes: 4000000,
    },
  });
  const profile = path.join(tmp, 'chromium');
  mkdirSync(profile);
  let browser = null;
  let failed = true;
  const pages = {};
  const pageErrors = [];
  t.after(async () => {
    for (const [name, page] of Object.entries(pages)) {
      try {
        if (!page.isClosed()) await page.screenshot({ path: path.join(ARTIFACTS, `attach-${name}.png`), fullPage: true });
      } catch { /* the page is gone */ }
    }
    if (browser) await browser.close().catch(() => {});
    s3.kill('SIGTERM');
    await s3exit;
    await stack.stop({ failed });
    rmSync(tmp, { recursive: true, force: true });
  });

  await waitFor(async () => {
    const r = await fetch(`${origin}/${BUCKET}`).catch(() => null);
    return r && r.status === 200;
  }, 's3rver to serve the bucket');
  await stack.start();
  const alicePw = password();
  const bobPw = password();
  stack.addUser('alice', alicePw);
  stack.addUser('bob', bobPw);

  browser = await launch(profile);
  const newPage = async (name, viewport) => {
    const ctx = await browser.newContext({ viewport, deviceScaleFactor: 1 });
    ctx.setDefaultTimeout(TIMEOUT);
    const page = await ctx.newPage();
    page.on('pageerror', (e) => pageErrors.push(`${name}: ${e.message}`));
    page.on('console', (m) => {
      if (/Content.Security.Policy|Refused to/i.test(m.text())) pageErrors.push(`${name}: ${m.text()}`);
    });
    pages[name] = page;
    return page;
  };
  const alice = await newPage('alice', { width: 1000, height: 760 });
  const bob = await newPage('bob', { width: 420, height: 820 });
  await signIn(alice, stack.url, 'alice', alicePw);
  await signIn(bob, stack.url, 'bob', bobPw);

  await alice.click('#new-chat');
  await alice.fill('#new-direct-user', 'bob');
  await alice.click('#new-direct-go');
  await alice.locator('#chat-title', { hasText: 'bob' }).waitFor();
  const conv = await alice.locator('#chat').getAttribute('data-conv');
  await alice.fill('#composer-input', 'a photo for you');
  await alice.press('#composer-input', 'Enter');
  const bobRow = bob.locator(`#conv-list li[data-conv="${conv}"]`);
  await bobRow.click();
  await bob.locator('#messages .msg.theirs .body', { hasText: 'a photo for you' }).waitFor();

  // 1. The clip button (its hidden file input): an image.
  const image = png(320, 200, 200);
  await alice.setInputFiles('#composer-file', { name: 'sunset.png', mimeType: 'image/png', buffer: image });
  await thumbsLoaded(alice, 1);
  // bob sees it live, loaded from the store.
  await thumbsLoaded(bob, 1);
  const key = await bob.locator('#messages .msg.theirs img.thumb').first().getAttribute('data-key');
  assert.match(key, new RegExp(`^${conv}/[0-9a-f]{32}/sunset\\.png$`));
  const src = await bob.locator('#messages img.thumb').first().getAttribute('src');
  assert.ok(src.startsWith(`${origin}/${BUCKET}/${key}?X-Amz-Algorithm=AWS4-HMAC-SHA256`), src);
  // The bytes in the store are the file's.
  const stored = Buffer.from(await (await fetch(src)).arrayBuffer());
  assert.ok(stored.equals(image), 'the stored object is the uploaded image');
  assert.equal(await bob.locator(`#conv-list li[data-conv="${conv}"] .conv-preview`).textContent(), '📷 Photo');

  // Click: the full image in a new tab, through a download URL.
  const [popup] = await Promise.all([bob.waitForEvent('popup'), bob.locator('#messages img.thumb').first().click()]);
  await popup.waitForLoadState();
  assert.ok(popup.url().startsWith(`${origin}/${BUCKET}/${key}?`), popup.url());
  await popup.close();

  // 2. Paste an image into the composer, 3. drop a text file on the chat.
  const pasted = png(120, 90, 40).toString('base64');
  await alice.evaluate((b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], 'pasted.png', { type: 'image/png' }));
    document.querySelector('#composer-input').dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
  }, pasted);
  await thumbsLoaded(bob, 2);
  await alice.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['meeting notes: 10:00, room 4\n'], 'notes.txt', { type: 'text/plain' }));
    const pane = document.querySelector('.chat-pane');
    pane.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
    pane.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
  const link = bob.locator('#messages .msg.theirs a.attachment.file');
  await link.waitFor();
  assert.equal(await link.locator('.file-name').textContent(), 'notes.txt');
  assert.equal(await link.locator('.file-size').textContent(), '29 B');
  await alice.locator('#uploads .upload').first().waitFor({ state: 'detached' }).catch(() => {});
  assert.equal(await alice.locator('#uploads .upload').count(), 0);

  // 4. A bigger file: its row shows the upload's progress (XHR upload
  // events) until it is sent; one over max_upload_bytes is refused in place.
  await alice.evaluate(() => {
    window.seenProgress = [];
    new MutationObserver(() => {
      for (const el of document.querySelectorAll('#uploads .upload-pct')) {
        if (window.seenProgress.at(-1) !== el.textContent) window.seenProgress.push(el.textContent);
      }
    }).observe(document.querySelector('#uploads'), { subtree: true, childList: true, characterData: true });
  });
  await alice.setInputFiles('#composer-file', { name: 'clip.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(3000000, 7) });
  await bob.locator('#messages a.attachment.file .file-name', { hasText: 'clip.bin' }).waitFor();
  assert.equal(await bob.locator('#messages a.attachment.file', { hasText: 'clip.bin' }).locator('.file-size').textContent(), '3.0 MB');
  const seen = await alice.evaluate(() => window.seenProgress);
  assert.ok(seen.length >= 2 && seen[0] === '0%' && seen.at(-1) === '100%', JSON.stringify(seen));
  await alice.setInputFiles('#composer-file', { name: 'huge.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(4000001, 1) });
  await alice.locator('#uploads .upload.error', { hasText: 'huge.bin: the file is too large' }).waitFor();
  await alice.locator('#uploads .upload.error button').click();

  // After a reload bob still sees the thumbnails (history, fresh URLs).
  await bob.reload();
  await bob.fill('#login-user', 'bob');
  await bob.fill('#login-password', bobPw);
  await bob.click('#login-submit');
  await bob.locator('#app[data-status="online"]').waitFor();
  await bob.locator(`#conv-list li[data-conv="${conv}"]`).click();
  await thumbsLoaded(bob, 2);
  await bob.locator('#messages a.attachment.file .file-name', { hasText: 'notes.txt' }).waitFor();
  await alice.locator('#messages').evaluate((el) => { el.scrollTop = el.scrollHeight; });

  assert.deepEqual(pageErrors, []);
  failed = false;
});
