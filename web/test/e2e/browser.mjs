// Shared by the browser tests: where things are, Debian's Chromium launched
// through playwright-core (never a downloaded browser), signing in.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { TIMEOUT } from './stack.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const WEB_DIST = process.env.MQCHAT_WEB_DIST || path.resolve(here, '../../dist');
export const ARTIFACTS = process.env.MQCHAT_WEB_ARTIFACTS || path.resolve(here, '../../../build/web-artifacts');
export const CHROMIUM = process.env.MQCHAT_CHROMIUM || '/usr/bin/chromium';
export const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'];

export const password = () => Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2);

// launch() runs Chromium on a fresh temporary profile of its own (and
// deletes it on close); `scratch` holds downloads and traces.
export function launch(scratch) {
  return chromium.launch({
    executablePath: CHROMIUM, headless: true, args: FLAGS, downloadsPath: scratch, tracesDir: scratch, timeout: TIMEOUT,
  });
}

export async function signIn(page, url, user, pw) {
  await page.goto(url);
  await page.fill('#login-user', user);
  await page.fill('#login-password', pw);
  await page.click('#login-submit');
  await page.locator('#app[data-status="online"]').waitFor();
}

// The bodies of the messages on screen, in order.
export const bodies = (page) => page.locator('#messages .msg .body').allTextContents();
