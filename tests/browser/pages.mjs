// The public pages a requester meets, in headless Chromium: the empty contact form (with its file
// input) and the case page of a ticket whose message carries files. At 1366×768 and 1920×1080:
// screenshot, axe-core (no serious or critical violation), controls found by their accessible
// names, nothing loaded from another host. The case page's file link downloads the file.
//
// Usage: node pages.mjs <base-url> <token (unused)> <screenshot-dir> <case-url> <file-name>
// Prints `browser pages test: ok` on success.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { chromium } from 'playwright-core';

const [base, , shots, caseUrl, fileName] = process.argv.slice(2);
if (!base || !shots || !caseUrl || !fileName) {
  console.error('usage: node pages.mjs <base-url> <token> <screenshot-dir> <case-url> <file-name>');
  process.exit(2);
}
const axeSource = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const SIZES = [[1366, 768], [1920, 1080]];

async function axe(page, screen) {
  await page.evaluate(`${axeSource}\n;0`);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const serious = result.violations.filter((v) => ['serious', 'critical'].includes(v.impact));
  assert.deepEqual(serious.map((v) => `${v.id}: ${v.nodes.map((n) => n.target).join(' ')}`), [], `axe on ${screen}`);
}

/** Opens `url` at every size: screenshot `name-<width>.png`, axe, then `check(page)`. */
async function screen(browser, url, name, check) {
  for (const [width, height] of SIZES) {
    const page = await browser.newPage({ viewport: { width, height }, locale: 'es-CL' });
    const external = [];
    const errors = [];
    page.on('request', (r) => { if (!r.url().startsWith(base)) external.push(r.url()); });
    page.on('pageerror', (e) => errors.push(String(e)));
    const response = await page.goto(url, { waitUntil: 'load' });
    assert.equal(response.status(), 200, `${url}: ${response.status()}`);
    assert.equal(await page.getAttribute('html', 'lang'), 'es-CL');
    await check(page);
    await axe(page, `${name} ${width}`);
    await page.screenshot({ path: path.join(shots, `${name}-${width}.png`), fullPage: true });
    assert.deepEqual(external, [], `${name} loads from another host`);
    assert.deepEqual(errors, [], `${name} script errors`);
    await page.close();
  }
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});
try {
  await screen(browser, `${base}/formulario`, 'formulario-vacio', async (page) => {
    await page.getByLabel('Adjuntar archivos (opcional)').waitFor();
    await page.getByRole('button', { name: /Enviar/ }).waitFor();
  });
  await screen(browser, caseUrl, 'caso-publico', async (page) => {
    const list = page.getByRole('list', { name: 'Archivos adjuntos' });
    const link = list.getByRole('link', { name: fileName });
    const href = await link.getAttribute('href');
    const download = await page.request.get(new URL(href, base).toString());
    assert.equal(download.status(), 200, `${href}: ${download.status()}`);
    assert.equal(download.headers()['content-type'], 'application/pdf');
  });
} finally {
  await browser.close();
}
console.log('browser pages test: ok');
