// End-to-end browser test of the public web form (/formulario).
//
// Usage: node form.mjs <base-url> <admin-token> <screenshot-dir>
//
// Drives the system Chromium (/usr/bin/chromium) headless through playwright-core:
// loads the form, submits an invalid RUT and checks the inline error, fixes it,
// submits again, reads the created ticket back through the admin API, and checks
// that every visible form control has a label. Prints `browser form test: ok`
// and exits 0 on success; prints the failure and exits 1 otherwise.

import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const STEP_TIMEOUT_MS = 15_000; // any single wait, navigation or HTTP call
const TOTAL_TIMEOUT_MS = 60_000; // the whole script

const TICKET_NUMBER = /^AU-\d{4}-\d{6}$/;
// A 1×1 PNG: the form takes images and PDF, typed by their bytes.
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGP4DwQACfsD/Wj6ZwAAAAAASUVORK5CYII=',
  'base64',
);
const INVALID_RUT = '12.345.678-9';
const VALID_RUT = '12.345.678-5';
const VALID_RUT_NORMALIZED = '12345678-5';
const SEGMENT = 'proveedor';
const CATEGORY = 'compra-agil';

function usage(msg) {
  console.error(`error: ${msg}`);
  console.error('usage: node form.mjs <base-url> <admin-token> <screenshot-dir>');
  process.exit(2);
}

const [baseArg, adminToken, screenshotDir] = process.argv.slice(2);
if (!baseArg || !adminToken || !screenshotDir) usage('missing arguments');
let base;
try {
  base = new URL(baseArg).toString().replace(/\/+$/, '');
} catch {
  usage(`invalid base URL: ${baseArg}`);
}

function step(n, text) {
  console.log(`step ${n}: ${text}`);
}

async function isVisible(page, selector) {
  return page.locator(selector).isVisible();
}

async function submitAndWaitIdle(page) {
  await page.click('#enviar');
  // The button is disabled while the request is in flight and re-enabled afterwards.
  await page.waitForFunction(
    () => {
      const b = document.getElementById('enviar');
      return !b.disabled && !document.getElementById('formulario').hasAttribute('aria-busy');
    },
    null,
    { timeout: STEP_TIMEOUT_MS },
  );
}

async function run(state) {
  state.userDataDir = await mkdtemp(path.join(tmpdir(), 'atencion-chromium-'));
  state.context = await chromium.launchPersistentContext(state.userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    locale: 'es-CL',
    viewport: { width: 1280, height: 900 },
    timeout: STEP_TIMEOUT_MS,
  });
  const context = state.context;
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(STEP_TIMEOUT_MS);

  const page = context.pages()[0] ?? (await context.newPage());
  const pageErrors = [];
  page.on('pageerror', (err) => pageErrors.push(String(err)));

  // 1. Page loads, metadata, categories filled from the API.
  step(1, `open ${base}/formulario`);
  const response = await page.goto(`${base}/formulario`, { waitUntil: 'load' });
  assert.ok(response, 'navigation to /formulario returned no response');
  assert.equal(response.status(), 200, `GET /formulario: expected HTTP 200, got ${response.status()}`);
  const title = await page.title();
  assert.ok(title.includes('Mesa de Ayuda'), `page title should contain "Mesa de Ayuda", got ${JSON.stringify(title)}`);
  const lang = await page.getAttribute('html', 'lang');
  assert.equal(lang, 'es-CL', `<html lang> should be "es-CL", got ${JSON.stringify(lang)}`);
  try {
    await page.waitForFunction(
      (slug) => {
        const s = document.getElementById('category');
        return s && s.options.length > 1 && Array.from(s.options).some((o) => o.value === slug);
      },
      CATEGORY,
      { timeout: STEP_TIMEOUT_MS },
    );
  } catch (err) {
    const options = await page.$$eval('#category option', (os) => os.map((o) => o.value));
    assert.fail(
      `category select was not filled with an option "${CATEGORY}" within ${STEP_TIMEOUT_MS} ms ` +
        `(options: ${JSON.stringify(options)}): ${err.message}`,
    );
  }
  const categoryCount = await page.$eval('#category', (s) => s.options.length);
  console.log(`  title ok, lang ok, ${categoryCount - 1} categories loaded`);

  // 2. Invalid RUT is rejected by the server and shown next to the field.
  step(2, `submit with invalid RUT ${INVALID_RUT}`);
  const stamp = new Date().toISOString();
  const subject = `Prueba navegador ${stamp}`;
  await page.fill('#name', 'María José Pérez Soto');
  await page.fill('#email', 'maria.perez@example.cl');
  await page.fill('#phone', '+56 9 1234 5678');
  await page.fill('#rut', INVALID_RUT);
  await page.selectOption('#segment', SEGMENT);
  await page.fill('#organization', 'Comercializadora Ñandú Ltda.');
  await page.selectOption('#category', CATEGORY);
  await page.fill('#subject', subject);
  await page.fill(
    '#body',
    'No puedo enviar mi cotización en Compra Ágil.\nEl sistema muestra "Error inesperado" al confirmar.',
  );
  await page.fill('#hp_field', ''); // honeypot stays empty
  await submitAndWaitIdle(page);
  await page.locator('#error-rut').waitFor({ state: 'visible', timeout: STEP_TIMEOUT_MS }).catch(async (err) => {
    const msg = await page.textContent('#mensaje');
    const summary = await page.textContent('#lista-errores');
    assert.fail(
      `#error-rut did not become visible: ${err.message}; ` +
        `#mensaje=${JSON.stringify(msg)}, #lista-errores=${JSON.stringify(summary)}`,
    );
  });
  const rutError = (await page.textContent('#error-rut')) ?? '';
  assert.ok(
    rutError.includes('dígito verificador'),
    `#error-rut should mention "dígito verificador", got ${JSON.stringify(rutError)}`,
  );
  assert.equal(
    await page.getAttribute('#rut', 'aria-invalid'),
    'true',
    '#rut should have aria-invalid="true" after a RUT error',
  );
  assert.equal(await isVisible(page, '#resultado'), false, 'success panel #resultado must stay hidden after a 422');
  assert.equal(await isVisible(page, '#resumen-errores'), true, 'error summary #resumen-errores should be visible');
  assert.equal(
    (await page.textContent('#numero-ticket')) ?? '',
    '',
    '#numero-ticket must be empty after a rejected submission',
  );
  // The other fields were valid: no error on them.
  const otherErrors = await page.$$eval('[id^="error-"]:not([hidden])', (els) =>
    els.filter((e) => e.id !== 'error-rut').map((e) => `${e.id}: ${e.textContent}`),
  );
  assert.deepEqual(otherErrors, [], 'only the RUT should be reported as invalid');
  // The data is kept in the form for correction.
  assert.equal(await page.inputValue('#subject'), subject, 'the form must keep the typed subject after a 422');
  console.log(`  RUT error shown: ${JSON.stringify(rutError)}`);

  // 3. Fix the RUT and submit: a ticket number is shown.
  step(3, `fix RUT to ${VALID_RUT}, attach a screenshot and resubmit`);
  await page.fill('#rut', VALID_RUT);
  const limits = (await page.textContent('#ayuda-files')) ?? '';
  assert.match(limits, /Hasta \d+ archivos/, 'the file limits are stated under the file input');
  await page.setInputFiles('#files', { name: 'captura.png', mimeType: 'image/png', buffer: PNG });
  await submitAndWaitIdle(page);
  try {
    await page.waitForFunction(
      (src) => {
        const el = document.getElementById('numero-ticket');
        return el && new RegExp(src).test(el.textContent.trim());
      },
      TICKET_NUMBER.source,
      { timeout: STEP_TIMEOUT_MS },
    );
  } catch (err) {
    const msg = await page.textContent('#mensaje');
    const summary = await page.textContent('#lista-errores');
    const shown = await page.textContent('#numero-ticket');
    assert.fail(
      `no ticket number matching ${TICKET_NUMBER} appeared: ${err.message}; ` +
        `#numero-ticket=${JSON.stringify(shown)}, #mensaje=${JSON.stringify(msg)}, ` +
        `#lista-errores=${JSON.stringify(summary)}`,
    );
  }
  const number = ((await page.textContent('#numero-ticket')) ?? '').trim();
  assert.match(number, TICKET_NUMBER, 'ticket number format');
  assert.equal(await isVisible(page, '#resultado'), true, 'success panel #resultado should be visible');
  assert.equal(await isVisible(page, '#error-rut'), false, '#error-rut should be hidden after a successful submission');
  assert.equal(await isVisible(page, '#resumen-errores'), false, 'error summary should be hidden after success');
  assert.equal(await page.getAttribute('#rut', 'aria-invalid'), null, '#rut aria-invalid should be cleared after success');
  await mkdir(screenshotDir, { recursive: true });
  const shot = path.join(screenshotDir, 'formulario.png');
  await page.screenshot({ path: shot, fullPage: true, timeout: STEP_TIMEOUT_MS });
  console.log(`  ticket ${number} created; screenshot ${shot}`);

  // 4. The ticket, read back through the admin API, holds what was typed.
  step(4, `GET /api/v1/tickets/${number} as admin`);
  const res = await fetch(`${base}/api/v1/tickets/${encodeURIComponent(number)}`, {
    headers: { Authorization: `Bearer ${adminToken}`, Accept: 'application/json' },
    signal: AbortSignal.timeout(STEP_TIMEOUT_MS),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `GET ticket ${number}: expected HTTP 200, got ${res.status}: ${text.slice(0, 500)}`);
  let ticket;
  try {
    ticket = JSON.parse(text);
  } catch {
    assert.fail(`GET ticket ${number}: response is not JSON: ${text.slice(0, 500)}`);
  }
  assert.equal(ticket.number, number, 'ticket.number');
  assert.equal(ticket.channel, 'web', 'ticket.channel');
  assert.equal(ticket.category, CATEGORY, 'ticket.category');
  assert.equal(ticket.subject, subject, 'ticket.subject');
  assert.ok(ticket.requester && typeof ticket.requester === 'object', 'ticket.requester should be an object');
  assert.equal(ticket.requester.rut, VALID_RUT_NORMALIZED, 'ticket.requester.rut');
  assert.equal(ticket.requester.segment, SEGMENT, 'ticket.requester.segment');
  assert.equal(ticket.requester.email, 'maria.perez@example.cl', 'ticket.requester.email');
  assert.equal(ticket.requester.name, 'María José Pérez Soto', 'ticket.requester.name');
  const listed = await fetch(`${base}/api/v1/tickets/${ticket.id}/messages`, {
    headers: { Authorization: `Bearer ${adminToken}`, Accept: 'application/json' },
    signal: AbortSignal.timeout(STEP_TIMEOUT_MS),
  }).then((r) => r.json());
  const files = listed[0].attachments.map((a) => `${a.filename} ${a.media_type} ${a.size}`);
  assert.deepEqual(files, [`captura.png image/png ${PNG.length}`], 'the attached file is on the first message');
  console.log('  ticket fields match; the screenshot is attached');

  // 5. Minimal accessibility: every visible control has a <label>; keyboard Tab
  //    walks the fields in order and skips the honeypot.
  step(5, 'labels and keyboard order');
  const unlabeled = await page.$$eval('input, select, textarea', (els) =>
    els
      .filter((el) => el.id !== 'hp_field' && el.type !== 'hidden')
      .filter((el) => {
        const r = el.getBoundingClientRect();
        const cs = getComputedStyle(el);
        return r.width > 0 && r.height > 0 && cs.visibility !== 'hidden' && cs.display !== 'none';
      })
      .filter((el) => !(el.labels && el.labels.length > 0))
      .map((el) => el.id || el.name || el.outerHTML.slice(0, 80)),
  );
  assert.deepEqual(unlabeled, [], `visible form controls without a <label>: ${unlabeled.join(', ')}`);
  const expectedOrder = ['name', 'email', 'phone', 'rut', 'segment', 'organization', 'category', 'subject', 'body', 'files', 'enviar'];
  await page.focus('#name');
  const visited = [await page.evaluate(() => document.activeElement && document.activeElement.id)];
  for (let i = 1; i < expectedOrder.length; i++) {
    await page.keyboard.press('Tab');
    visited.push(await page.evaluate(() => document.activeElement && document.activeElement.id));
  }
  assert.deepEqual(visited, expectedOrder, 'keyboard Tab order through the form');
  console.log(`  all visible controls labelled; Tab order ${visited.join(' → ')}`);

  assert.deepEqual(pageErrors, [], 'uncaught JavaScript errors on the page');
}

async function main() {
  const state = {};
  let timer;
  const watchdog = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`whole test exceeded ${TOTAL_TIMEOUT_MS / 1000} s`)),
      TOTAL_TIMEOUT_MS,
    );
  });
  let ok = false;
  try {
    await Promise.race([run(state), watchdog]);
    ok = true;
  } catch (err) {
    console.error(`browser form test: FAILED\n${err && err.stack ? err.stack : err}`);
  } finally {
    clearTimeout(timer);
    if (state.context) {
      await Promise.race([
        state.context.close().catch((e) => console.error(`closing browser: ${e}`)),
        new Promise((r) => setTimeout(r, 10_000)),
      ]);
    }
    if (state.userDataDir) await rm(state.userDataDir, { recursive: true, force: true }).catch(() => {});
  }
  if (ok) console.log('browser form test: ok');
  process.exit(ok ? 0 : 1);
}

main();
