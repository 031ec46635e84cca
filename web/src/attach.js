// Attachments (PROTOCOL.md "Attachments"): ask the server for a signed
// upload URL, PUT the file straight to the object store (with progress),
// then send the message that carries it; download URLs are asked for when
// shown and kept until shortly before they expire. No DOM: XMLHttpRequest
// (for upload progress events) is injected, so tests pass a fake.

const TYPE_RE = /^[A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+$/;
const KEY_RE = /^[A-Za-z0-9_.-]{1,64}\/[0-9a-f]{32}(\/[A-Za-z0-9._-]{1,64})?$/;
// Shown inline: raster formats every browser decodes (no SVG).
const IMAGE_RE = /^image\/(png|jpeg|gif|webp|avif|bmp)$/;
// A download URL is asked for again this long before it expires.
const URL_MARGIN_MS = 60000;
// At most this many download requests in flight (a long history full of
// images must not run into the server's request rate limit).
const MAX_IN_FLIGHT = 4;
// A key whose download was refused is not asked for again before this.
const REFUSED_MS = 30000;

// The attachment a msg event carries, checked, or null.
export function attachmentOf(ev) {
  const a = ev && ev.attrs && typeof ev.attrs === 'object' ? ev.attrs.attachment : null;
  if (!a || typeof a !== 'object') return null;
  if (typeof a.key !== 'string' || !KEY_RE.test(a.key) || !a.key.startsWith(`${ev.conv}/`)) return null;
  const name = typeof a.name === 'string' && a.name ? a.name.slice(0, 255) : 'file';
  const type = typeof a.type === 'string' && TYPE_RE.test(a.type) ? a.type : 'application/octet-stream';
  const size = Number.isInteger(a.size) && a.size >= 0 ? a.size : null;
  return { key: a.key, name, type, size };
}

export const isImage = (att) => IMAGE_RE.test(att.type);

// "812 B", "4.2 KB", "13 MB".
export function formatSize(n) {
  if (!Number.isFinite(n) || n < 0) return '';
  if (n < 1000) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = -1;
  do {
    v /= 1000;
    u++;
  } while (v >= 1000 && u < units.length - 1);
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[u]}`;
}

// The line a conversation list shows for a message without text.
export function previewText(ev) {
  if (ev && ev.body) return ev.body;
  const a = attachmentOf(ev);
  if (!a) return ev && ev.body ? ev.body : '';
  return isImage(a) ? '📷 Photo' : `📎 ${a.name}`;
}

// At most 255 bytes of UTF-8, cut on a character boundary.
function fitName(name) {
  let out = String(name || 'file');
  const enc = new TextEncoder();
  while (enc.encode(out).length > 255) out = Array.from(out).slice(0, -1).join('');
  return out || 'file';
}

export class Attachments {
  constructor(session, { XHR = globalThis.XMLHttpRequest, now = () => Date.now() } = {}) {
    this.session = session;
    this.XHR = XHR;
    this.now = now;
    this.urls = new Map(); // key -> { url, expires } | { pending: Promise } | { error, until }
    this.inFlight = 0;
    this.waiting = []; // resolve functions of requests waiting for a slot
  }

  // Run fn (returning a promise) when fewer than MAX_IN_FLIGHT run.
  async limited(fn) {
    if (this.inFlight >= MAX_IN_FLIGHT) await new Promise((r) => this.waiting.push(r));
    this.inFlight++;
    try {
      return await fn();
    } finally {
      this.inFlight--;
      const next = this.waiting.shift();
      if (next) next();
    }
  }

  // Uploads file (a File or Blob with name/type/size) into conv and sends
  // the message; onProgress(fraction 0..1) follows the PUT. Resolves with
  // the attachment sent; rejects with the server's RequestError (too_large,
  // not_member, unavailable...) or an Error when the store refused the PUT.
  async upload(conv, file, onProgress = () => {}) {
    const name = fitName(file.name);
    const type = TYPE_RE.test(file.type || '') ? file.type : 'application/octet-stream';
    const r = await this.session.request('upload', { conv, name, type, size: file.size });
    await this.put(r.put_url, r.headers || { 'Content-Type': type }, file, onProgress);
    const attachment = { key: r.key, name, type, size: file.size };
    this.session.send(conv, '', { attachment });
    return attachment;
  }

  // PUT body to url with headers (the signed Content-Type; the browser sets
  // Content-Length from the body, which the URL signed too).
  put(url, headers, body, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new this.XHR();
      xhr.open('PUT', url);
      for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
      if (xhr.upload) {
        xhr.upload.onprogress = (e) => {
          if (e.lengthComputable && e.total > 0) onProgress(e.loaded / e.total);
        };
      }
      xhr.onload = () => {
        if (xhr.status >= 200 && xhr.status < 300) {
          onProgress(1);
          resolve();
        } else {
          reject(new Error(`the file store refused the upload (HTTP ${xhr.status})`));
        }
      };
      xhr.onerror = () => reject(new Error('the file store could not be reached'));
      xhr.send(body);
    });
  }

  // A download URL for key in conv, from the cache while it has more than
  // a minute left; one request at a time per key, a few keys at a time; a
  // refusal (not_member, not_found...) is remembered for a while, so that
  // redraws do not ask again and again.
  async url(conv, key) {
    const c = this.urls.get(key);
    if (c && c.pending) return c.pending;
    if (c && c.error && c.until > this.now()) throw c.error;
    if (c && c.url && c.expires - this.now() > URL_MARGIN_MS) return c.url;
    const pending = this.limited(() => this.session.request('download', { conv, key })).then(
      (r) => {
        this.urls.set(key, { url: r.url, expires: r.expires });
        return r.url;
      },
      (e) => {
        const retryable = e && (e.code === 'rate_limited' || e.code === 'timeout' || e.code === 'offline');
        if (retryable) this.urls.delete(key);
        else this.urls.set(key, { error: e, until: this.now() + REFUSED_MS });
        throw e;
      },
    );
    this.urls.set(key, { pending });
    return pending;
  }
}
