// Click on a row of "Mis casos" → the ticket's conversation shown, measured in headless Chromium
// (playwright-core from tests/browser). Run through benches/workspace_click.sh.
// Usage: node benches/workspace_click.mjs <base> <admin-token> <email> <password> [clicks] [tickets]

import { createRequire } from 'node:module';
import { gzipSync } from 'node:zlib';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const { chromium } = createRequire(path.join(here, '../tests/browser/package.json'))('playwright-core');
const [base, admin, email, password, clicksArg = '20', ticketsArg = '60'] = process.argv.slice(2);
const clicks = Number(clicksArg);

async function api(method, url, body) {
  const res = await fetch(`${base}/api/v1${url}`, {
    method, headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: body && JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`);
  return res.json();
}

const agent = (await api('GET', '/agents')).find((a) => a.email === email);
for (let i = 0; i < Number(ticketsArg); i++) {
  const t = await api('POST', '/tickets', {
    subject: `Consulta de medición ${i + 1}`, body: 'Primer mensaje del solicitante.', assignee_id: agent.id, acknowledge: false,
    requester: { name: `Solicitante ${i + 1}`, email: `solicitante${i + 1}@example.cl` },
  });
  for (let m = 0; m < 4; m++) await api('POST', `/tickets/${t.id}/messages`, { body: `Mensaje ${m + 1} de la conversación.`, visibility: m % 2 ? 'internal' : 'public' });
}

const sizes = {};
const ASSETS = ['app.js', 'departments.js', 'charts.js', 'reports.js', 'admin.js', 'team.js', 'app.css'];
for (const name of ASSETS) {
  const body = Buffer.from(await (await fetch(`${base}/app/assets/${name}`)).arrayBuffer());
  sizes[name] = { bytes: body.length, gzip: gzipSync(body).length };
}

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu'] });
const page = await browser.newPage({ viewport: { width: 1366, height: 768 }, locale: 'es-CL' });
await page.goto(`${base}/app`);
await page.getByLabel('Correo electrónico').fill(email);
await page.getByLabel('Contraseña').fill(password);
await page.getByRole('button', { name: 'Ingresar' }).click();
await page.locator('table.casos a.enlace-caso').first().waitFor();

const times = [];
for (let i = 0; i < clicks + 2; i++) {
  const link = page.locator('table.casos a.enlace-caso').nth(i % 20);
  const number = await link.textContent();
  const started = await page.evaluate(() => performance.now());
  await link.click();
  // Shown: the number's page with its messages in the DOM and painted (next animation frame).
  const shown = await page.evaluate(async (n) => {
    while (!(document.body.dataset.ticket === n && document.querySelector('#mensajes li'))) await new Promise((r) => setTimeout(r, 2));
    await new Promise((r) => requestAnimationFrame(() => r()));
    return performance.now();
  }, number);
  if (i >= 2) times.push(shown - started); // the first two warm the caches
  await page.getByRole('link', { name: /^Mis casos/ }).click();
  await page.locator('table.casos a.enlace-caso').first().waitFor();
}
await browser.close();
times.sort((a, b) => a - b);
const pct = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))].toFixed(0);
console.log(`clicks: ${times.length}; click → conversation shown: p50 ${pct(0.5)} ms, p90 ${pct(0.9)} ms, max ${pct(1)} ms`);
const total = ASSETS.reduce((sum, name) => sum + sizes[name].bytes, 0);
const each = ASSETS.map((name) => `${name} ${sizes[name].bytes} B (gzip ${sizes[name].gzip})`).join(', ');
console.log(`assets: ${each}; JS + CSS ${total} B of 153600 B`);
