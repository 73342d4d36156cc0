// End-to-end browser test of the supervisors' wallboard (/wallboard).
//
// Usage: node wallboard.mjs <base-url> <supervisor-token> <screenshot-dir>
//
// Opens the wallboard in headless Chromium (/usr/bin/chromium, via playwright-core) with the
// token in the address's fragment, waits for the live tiles, creates a ticket in the
// "Mesa de Ayuda" queue through the API and checks that its tile shows it within 2 s, that the
// queue's drill-down lists it among the waiting tickets, and that the panel of agents shows the
// one at work ("Disponible") first. Saves
// wallboard.png in the screenshot dir. Prints `browser wallboard test: ok` on success.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const [base, token, shots] = process.argv.slice(2);
if (!base || !token || !shots) {
  console.error('usage: node wallboard.mjs <base-url> <supervisor-token> <screenshot-dir>');
  process.exit(2);
}
const TIMEOUT_MS = 15_000;
const axeSource = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

// The number shown next to a label in the tile of a queue.
async function tileValue(page, queueName, label) {
  return page.evaluate(
    ([queueName, label]) => {
      const tile = [...document.querySelectorAll('section.tile')].find((t) => t.querySelector('h2').textContent === queueName);
      if (!tile) return null;
      const dt = [...tile.querySelectorAll('dt')].find((d) => d.textContent === label);
      return dt ? dt.nextElementSibling.textContent : null;
    },
    [queueName, label],
  );
}

async function run(state) {
  state.dir = await mkdtemp(path.join(tmpdir(), 'atencion-wallboard-'));
  state.context = await chromium.launchPersistentContext(state.dir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    locale: 'es-CL',
    viewport: { width: 1600, height: 900 },
    timeout: TIMEOUT_MS,
  });
  state.context.setDefaultTimeout(TIMEOUT_MS);
  const page = state.context.pages()[0] ?? (await state.context.newPage());
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const external = [];
  page.on('request', (r) => { if (!r.url().startsWith(base)) external.push(r.url()); });

  const response = await page.goto(`${base}/wallboard#token=${token}`, { waitUntil: 'load' });
  assert.equal(response.status(), 200);
  assert.equal(await page.getAttribute('html', 'lang'), 'es-CL');
  await page.waitForFunction(() => Number(document.body.dataset.updates || 0) > 0);
  assert.ok(!page.url().includes('token'), 'the token leaves the address bar');
  await page.locator('section.tile h2', { hasText: 'Mesa de Ayuda' }).waitFor();
  const before = Number(await tileValue(page, 'Mesa de Ayuda', 'Tickets abiertos'));
  assert.ok(Number.isInteger(before), `open tickets before: ${before}`);
  console.log(`tiles shown; Mesa de Ayuda has ${before} open tickets`);

  const started = Date.now();
  const created = await fetch(`${base}/api/v1/tickets`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ subject: 'Consulta desde la prueba del panel', body: 'Detalle', queue: 'mesa-de-ayuda',
      requester: { name: 'Pedro', email: 'panel@example.cl' } }),
  });
  const createdBody = await created.text();
  assert.equal(created.status, 201, createdBody);
  const ticket = JSON.parse(createdBody);
  await page.waitForFunction(
    ([before]) => {
      const tile = [...document.querySelectorAll('section.tile')].find((t) => t.querySelector('h2').textContent === 'Mesa de Ayuda');
      const dt = tile && [...tile.querySelectorAll('dt')].find((d) => d.textContent === 'Tickets abiertos');
      return dt && Number(dt.nextElementSibling.textContent) === before + 1;
    },
    [before],
    { timeout: 2_000 },
  );
  const elapsed = Date.now() - started;
  console.log(`new ticket shown after ${elapsed} ms`);
  assert.equal(await tileValue(page, 'Mesa de Ayuda', 'Tickets abiertos'), String(before + 1));
  // The queue drill-down: the new ticket waits in Mesa de Ayuda, listed by number and subject.
  const drill = page.getByRole('button', { name: 'Ver la espera de Mesa de Ayuda' });
  await drill.click();
  const waiting = page.getByRole('region', { name: 'En espera en Mesa de Ayuda, en el orden en que se asignarán' });
  const item = waiting.getByRole('link', { name: `${ticket.number} Consulta desde la prueba del panel` });
  await item.waitFor();
  assert.equal(await item.getAttribute('href'), `/app/casos/${ticket.number}`);
  assert.equal(await drill.getAttribute('aria-expanded'), 'true');
  assert.match(await waiting.textContent(), /prioridad normal/);
  // Each agent's state, by the supervisor's token too: the agent at work, connected ones first.
  const javier = page.getByRole('row', { name: /Javier Rojas/ });
  await javier.waitFor();
  assert.match(await javier.textContent(), /Javier Rojas\s*Disponible\s*\d+ min/);
  assert.equal(await page.locator('#agentes tbody th').first().textContent(), 'Javier Rojas');
  const status = await page.textContent('#estado');
  assert.ok(status.startsWith('Actualizado'), `status line: ${status}`);
  await page.screenshot({ path: path.join(shots, 'wallboard.png'), fullPage: true });
  // axe-core at both sizes, with the drill-down open.
  for (const size of [{ width: 1366, height: 768 }, { width: 1920, height: 1080 }]) {
    await page.setViewportSize(size);
    await page.evaluate(`${axeSource}\n;0`);
    const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
    const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
    assert.deepEqual(bad, [], `axe on the wallboard at ${size.width}×${size.height}`);
    await page.screenshot({ path: path.join(shots, `wallboard-${size.width}.png`), fullPage: true });
  }
  assert.deepEqual(errors, [], 'no script errors');
  assert.deepEqual(external, [], 'no request leaves the service (no CDN)');
}

const state = {};
const timer = setTimeout(() => { console.error('wallboard test timed out'); process.exit(1); }, 60_000);
try {
  await run(state);
  console.log('browser wallboard test: ok');
} catch (e) {
  console.error(e);
  process.exitCode = 1;
} finally {
  clearTimeout(timer);
  await state.context?.close().catch(() => {});
  if (state.dir) await rm(state.dir, { recursive: true, force: true }).catch(() => {});
}
