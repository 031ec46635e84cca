// Builds the web client into one folder that mosquitto's `http_dir` serves:
// index.html (with style.css inlined) and app.js (src/main.js and mqtt.js
// bundled by esbuild into one classic script). Mosquitto's little HTTP
// server sends no Content-Type, so the page uses nothing the browser would
// refuse without one (no module scripts, no external stylesheet). The
// Content-Security-Policy <meta> in index.html allows that one inline
// <style> by its hash, computed here ('STYLE-HASH' in the source).
//
// The page fetches attachments from the object store (PROTOCOL.md
// "Attachments"): --s3-origin ORIGIN (or MQCHAT_S3_ORIGIN), e.g.
// http://127.0.0.1:4568, adds exactly that origin to connect-src (the
// upload PUT) and img-src (inline images); without it the CSP stays as it
// is and uploads are blocked by the browser.
//
//   node tools/build.mjs [--outdir DIR] [--dev] [--s3-origin ORIGIN]
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const web = path.resolve(here, '..');
const args = process.argv.slice(2);
const dev = args.includes('--dev');
const oi = args.indexOf('--outdir');
const outdir = path.resolve(oi >= 0 ? args[oi + 1] : path.join(web, 'dist'));
const si = args.indexOf('--s3-origin');
const s3Origin = (si >= 0 ? args[si + 1] : process.env.MQCHAT_S3_ORIGIN) || '';
// One origin, nothing wider: scheme, host and optional port, no path or wildcard.
if (s3Origin && !/^https?:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?$/.test(s3Origin)) {
  throw new Error(`--s3-origin must be an origin like https://bucket.s3.amazonaws.com, not ${s3Origin}`);
}

await mkdir(outdir, { recursive: true });
const result = await build({
  entryPoints: [path.join(web, 'src/main.js')],
  outfile: path.join(outdir, 'app.js'),
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: ['chrome100', 'firefox100', 'safari15'],
  minify: !dev,
  sourcemap: dev ? 'inline' : false,
  legalComments: 'eof',
  metafile: true,
  logLevel: 'warning',
  define: { 'process.env.NODE_ENV': dev ? '"development"' : '"production"' },
});
const css = await readFile(path.join(web, 'src/style.css'), 'utf8');
let html = (await readFile(path.join(web, 'src/index.html'), 'utf8')).replace('/*STYLE*/', () => css);
const styles = [...html.matchAll(/<style>([\s\S]*?)<\/style>/g)];
if (styles.length !== 1 || !html.includes("'STYLE-HASH'")) throw new Error('index.html: expected one <style> and the CSP placeholder');
const styleHash = createHash('sha256').update(styles[0][1], 'utf8').digest('base64');
html = html.replace("'STYLE-HASH'", `'sha256-${styleHash}'`);
if (s3Origin) {
  html = html.replace('img-src data:;', `img-src data: ${s3Origin};`).replace("connect-src 'self';", `connect-src 'self' ${s3Origin};`);
  if (!html.includes(`connect-src 'self' ${s3Origin};`)) throw new Error('index.html: CSP connect-src not found');
}
await writeFile(path.join(outdir, 'index.html'), html);
const bytes = result.metafile.outputs[Object.keys(result.metafile.outputs)[0]].bytes;
console.log(`web: built ${outdir}/index.html and app.js (${Math.round(bytes / 1024)} KiB)${s3Origin ? `, files from ${s3Origin}` : ''}`);
