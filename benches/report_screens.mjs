// The report screens over December 2025 of the `reports` bench's data (1M tickets in 2025): the
// supervisors' "Informes", "Dotación" (a day) and "Informe de calidad", and a department's "Resumen
// mensual" (the year), measured in headless Chromium (playwright-core from tests/browser). Run through
// benches/report_screens.sh.
// Usage: node benches/report_screens.mjs <base> <supervisor-email> <department-email> <password> [runs]
//
// Per screen: the page load (navigation start → every chart drawn, after the next animation
// frame) once, then `runs` refreshes of the same range (just before the click on the form's
// button → every chart drawn again), the first two as warm-up.

import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const { chromium } = createRequire(path.join(here, '../tests/browser/package.json'))('playwright-core');
const [base, supervisor, department, password, runsArg = '10'] = process.argv.slice(2);
const runs = Number(runsArg);

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu'] });

async function signIn(email, landmark) {
  const page = await browser.newPage({ viewport: { width: 1366, height: 768 }, locale: 'es-CL', timezoneId: 'America/Santiago' });
  await page.goto(`${base}/app`);
  await page.getByLabel('Correo electrónico').fill(email);
  await page.getByLabel('Contraseña').fill(password);
  await page.getByRole('button', { name: 'Ingresar' }).click();
  await page.getByRole('navigation', { name: landmark }).waitFor({ timeout: 30_000 });
  return page;
}

/** Waits in the page until `holder` is no longer busy and holds `charts` charts, then a frame. */
async function drawn(page, holder, charts) {
  return page.evaluate(async ([sel, n]) => {
    const done = () => {
      const el = document.querySelector(sel);
      return el && !el.hasAttribute('aria-busy') && el.querySelectorAll('svg.grafico').length === n;
    };
    const deadline = performance.now() + 60_000;
    while (!done()) {
      if (performance.now() > deadline) throw new Error(`${sel}: no ${n} charts after 60 s`);
      await new Promise((r) => setTimeout(r, 2));
    }
    await new Promise((r) => requestAnimationFrame(() => r()));
    return performance.now();
  }, [holder, charts]);
}

/** BENCH_PROFILE=1: the page's main-thread functions by self time over the page load (CDP profiler). */
async function profiled(page, load) {
  if (process.env.BENCH_PROFILE !== '1') return load();
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 100 });
  await cdp.send('Profiler.start');
  const result = await load();
  const { profile } = await cdp.send('Profiler.stop');
  const self = new Map();
  const gap = (i) => (profile.timeDeltas[i] || 0) / 1000;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  profile.samples.forEach((id, i) => {
    const f = byId.get(id).callFrame;
    const key = `${f.functionName || '(anónima)'} ${f.url.replace(/^.*\//, '')}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) || 0) + gap(i + 1));
  });
  for (const [key, ms] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`  ${ms.toFixed(1).padStart(7)} ms  ${key}`);
  return result;
}

async function measure(name, page, url, holder, charts, button) {
  const load = await profiled(page, async () => {
    await page.goto(url);
    return drawn(page, holder, charts);
  });
  // BENCH_TRACE=1: what the page load waited for, request by request (start → end, ms).
  if (process.env.BENCH_TRACE === '1') {
    const entries = await page.evaluate(() => performance.getEntriesByType('resource').map((e) => [e.name.replace(location.origin, ''), e.startTime, e.responseEnd]));
    for (const [name, start, end] of entries) console.log(`  ${start.toFixed(0).padStart(5)} → ${end.toFixed(0).padStart(5)}  ${name}`);
  }
  const times = [];
  for (let i = 0; i < runs + 2; i++) {
    // Empty the charts first, so that the wait sees the new ones.
    await page.evaluate((sel) => { const el = document.querySelector(sel); el.replaceChildren(); el.setAttribute('aria-busy', 'true'); }, holder);
    const started = await page.evaluate(() => performance.now());
    await page.getByRole('button', { name: button, exact: true }).click();
    const shown = await drawn(page, holder, charts);
    if (i >= 2) times.push(shown - started);
  }
  times.sort((a, b) => a - b);
  const pct = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))].toFixed(0);
  console.log(`${name}: page load → charts ${load.toFixed(0)} ms; refresh → charts p50 ${pct(0.5)} ms, p90 ${pct(0.9)} ms, max ${pct(1)} ms (${times.length} runs)`);
}

const s = await signIn(supervisor, 'Gestión');
await measure('Informes (6 reports, 2025-12-01..2025-12-31)', s, `${base}/app/informes?desde=2025-12-01&hasta=2025-12-31`, '#informes', 6, 'Actualizar');
await measure('Dotación (2025-12-15)', s, `${base}/app/dotacion?dia=2025-12-15`, '#dotacion', 1, 'Calcular');
await measure('Informe de calidad (2025-12-01..2025-12-31)', s, `${base}/app/calidad/informe?desde=2025-12-01&hasta=2025-12-31`, '#informe-calidad', 1, 'Actualizar');
const d = await signIn(department, 'Secciones del departamento');
await measure('Resumen mensual (2025-01..2025-12)', d, `${base}/app/resumen?desde=2025-01&hasta=2025-12`, '#resumen', 1, 'Ver resumen');
await browser.close();
