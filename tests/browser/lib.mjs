// What the browser tests of /app share: API calls with a token, a Chromium context per person,
// and the per-screen check (axe-core, no sideways scrolling, screenshots at both sizes).

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const TIMEOUT_MS = 15_000;
export const SMALL = { width: 1366, height: 768 };
export const LARGE = { width: 1920, height: 1080 };
const axeSource = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** `base`: the service; `token`: the default bearer token; `shots`: the screenshot folder;
 *  `prefix`: of every screenshot's name; `password`: the people's, for `signIn`. */
export function harness({ base, token, shots, prefix, password }) {
  const state = { dirs: [], contexts: [], errors: [], external: [] };

  async function call(method, url, body, headers = {}, as = token) {
    const res = await fetch(`${base}/api/v1${url}`, {
      method,
      headers: { authorization: `Bearer ${as}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  }
  async function ok(method, url, body, as = token) {
    const r = await call(method, url, body, {}, as);
    assert.ok(r.status >= 200 && r.status < 300, `${method} ${url}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  async function shot(page, name) {
    await page.screenshot({ path: path.join(shots, `${name}.png`) });
  }

  /** One screen as it is now, at both sizes: axe-core finds no serious or critical violation,
   *  nothing scrolls sideways (usable at 1366×768 and 1920×1080), and a screenshot of each size
   *  is kept (<prefix>-<screen>-<width>.png). CDP evaluation is not subject to the page's CSP, so
   *  the library is not added as a (forbidden) inline script. Back to the small size afterwards. */
  async function axe(page, screen) {
    const file = screen.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/[^a-z0-9]+/g, '-');
    for (const size of [LARGE, SMALL]) {
      await page.setViewportSize(size);
      await page.evaluate(`${axeSource}\n;0`);
      const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
      const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
      const describe = bad.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => `${n.target.join(' ')} ${n.failureSummary}`).join(', ')}`);
      assert.deepEqual(describe, [], `axe on ${screen} at ${size.width}×${size.height}`);
      const sideways = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(sideways <= 0, `${screen} at ${size.width}×${size.height} scrolls ${sideways}px sideways`);
      await shot(page, `${prefix}-${file}-${size.width}`);
      console.log(`axe ${screen} at ${size.width}: ${result.violations.length} minor/moderate, 0 serious/critical`);
    }
  }

  /** A browser of its own (a persistent context) for one person; script errors, CSP reports and
   *  requests to other hosts are collected in `state`. */
  async function browser(name) {
    const dir = await mkdtemp(path.join(tmpdir(), `atencion-${prefix}-${name}-`));
    state.dirs.push(dir);
    const context = await chromium.launchPersistentContext(dir, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
      locale: 'es-CL',
      timezoneId: 'America/Santiago',
      viewport: SMALL,
      timeout: TIMEOUT_MS,
    });
    state.contexts.push(context);
    context.setDefaultTimeout(TIMEOUT_MS);
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (e) => state.errors.push(`${name}: ${e}`));
    page.on('console', (m) => { if (/Content Security Policy|Refused to/i.test(m.text())) state.errors.push(`${name}: ${m.text()}`); });
    page.on('request', (r) => { if (!r.url().startsWith(base) && !r.url().startsWith('data:')) state.external.push(r.url()); });
    return page;
  }

  /** Signs `email` in at /app and waits for the navigation landmark `landmark` (what that
   *  person's first screen shows). */
  /** Signs in on the sign-in screen that `path` shows without a session. */
  async function signIn(page, email, landmark, path = '/app') {
    await page.goto(`${base}${path}`);
    await page.getByLabel('Correo electrónico').fill(email);
    await page.getByLabel('Contraseña').fill(password);
    await page.getByRole('button', { name: 'Ingresar' }).click();
    await page.getByRole('navigation', { name: landmark }).waitFor();
  }

  /** Runs `test` within `limitMs`, then closes every browser; prints `ok` on success. */
  async function main(test, ok, limitMs = 240_000) {
    const timer = setTimeout(() => { console.error(`${prefix} test timed out`); process.exit(1); }, limitMs);
    try {
      await test();
      assert.deepEqual(state.errors, [], 'no script errors or CSP violations');
      assert.deepEqual(state.external, [], 'no request leaves the service');
      console.log(ok);
    } catch (e) {
      console.error(e);
      console.error('page errors:', state.errors);
      process.exitCode = 1;
    } finally {
      clearTimeout(timer);
      for (const c of state.contexts) await c.close().catch(() => {});
      for (const d of state.dirs) await rm(d, { recursive: true, force: true }).catch(() => {});
    }
  }

  return { state, call, ok, shot, axe, browser, signIn, main };
}
