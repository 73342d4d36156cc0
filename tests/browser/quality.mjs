// Browser test of the Quality screens in /app (`/app/calidad`).
//
// Usage: node quality.mjs <base-url> <admin-token> <screenshot-dir> <supervisor> <agent> <password> <scan-at>
//
// Set up through the API: a scorecard and three tickets the agent solved today. The supervisor
// opens "Calidad", draws the sample (a reversed period first: the API's error next to "Hasta"),
// opens an evaluation and sends it incomplete (the API names the missing criteria next to each),
// then fills it in: the score. The agent, in a browser of their own, finds it under "Mis
// evaluaciones" and disputes it (an empty reason first); the supervisor corrects a mark in the
// resolution; the API agrees. A ticket outside the sample is evaluated from its own screen's link
// ("Evaluar la calidad del caso"; an unknown number first). Then a trend alert (the Rust side wrote eight calm weeks and a spike;
// the scan runs as of <scan-at>): its history chart (an image named "Historia…") has a point per
// week and one for the alert; the supervisor edits the draft opportunity (an empty title first)
// and sends it to the department, which the API shows with the alert's evidence tickets. Every
// screen passes axe-core at both sizes and is screenshotted (calidad-<screen>-<width>.png).
// Prints `browser quality test: ok`.

import assert from 'node:assert/strict';
import { harness } from './lib.mjs';

const [base, admin, shots, emailSupervisor, emailAgent, password, scanAt] = process.argv.slice(2);
if (!base || !admin || !shots || !emailSupervisor || !emailAgent || !password || !scanAt) {
  console.error('usage: node quality.mjs <base-url> <admin-token> <screenshot-dir> <supervisor> <agent> <password> <scan-at>');
  process.exit(2);
}
const { ok, axe, browser, main, signIn } = harness({ base, token: admin, shots, password, prefix: 'calidad' });

const santiagoDay = (offset = 0) => new Intl.DateTimeFormat('en-CA', { timeZone: 'America/Santiago' }).format(new Date(Date.now() + offset * 86_400_000));
const SCORECARD = {
  name: 'Pauta de atención 2026',
  description: 'Correo y formulario web',
  criteria: [
    { key: 'saludo', name: 'Saludo y presentación', weight: 10 },
    { key: 'exactitud', name: 'Exactitud de la información', weight: 40, critical: true, max: 4 },
    { key: 'normativa', name: 'Cumple la normativa de compras', weight: 20, critical: true },
    { key: 'empatia', name: 'Empatía', weight: 20, max: 4 },
    { key: 'cierre', name: 'Cierre', weight: 10 },
  ],
};

/** Marks criterion `name` (its group) with the option `option`. */
async function mark(page, name, option) {
  await page.getByRole('group', { name }).getByRole('radio', { name: option, exact: true }).check();
}

async function run() {
  const javier = (await ok('GET', '/agents')).find((a) => a.email === emailAgent);
  await ok('POST', '/quality/scorecards', SCORECARD);
  const requester = { name: 'Luis Araya', email: 'luis.araya@proveedor.cl' };
  const solved = [];
  for (const [subject, channel] of [['No puedo publicar la licitación', 'email'], ['Consulta por garantía de seriedad', 'web'], ['Orden de compra rechazada', 'email']]) {
    const t = await ok('POST', '/tickets', { subject, body: `Detalle: ${subject}`, requester, channel, assignee_id: javier.id });
    await ok('PATCH', `/tickets/${t.id}`, { status: 'solved' });
    solved.push(t);
  }

  // --- the supervisor draws the sample
  const s = await browser('supervisor');
  await signIn(s, emailSupervisor, 'Gestión');
  await s.getByRole('navigation', { name: 'Gestión' }).getByRole('link', { name: 'Calidad', exact: true }).click();
  await s.getByRole('heading', { name: 'Calidad', level: 1 }).waitFor();
  await s.getByText('No hay evaluaciones con estos filtros.').waitFor();
  assert.equal(await s.getByRole('link', { name: 'Calidad', exact: true }).getAttribute('aria-current'), 'page');
  // A scorecard of its own: the key follows the name; a missing weight is shown on its criterion.
  const newCard = s.getByRole('form', { name: 'Nueva pauta de evaluación' });
  await newCard.getByLabel('Nombre de la pauta').fill('Pauta de llamadas');
  const c1 = newCard.getByRole('group', { name: 'Criterio 1', exact: true });
  await c1.getByLabel('Qué se evalúa').fill('Saludo con nombre');
  assert.equal(await c1.getByLabel('Clave').inputValue(), 'saludo-con-nombre');
  await c1.getByLabel('Peso').fill('30');
  await newCard.getByRole('button', { name: 'Agregar criterio' }).click();
  const c2 = newCard.getByRole('group', { name: 'Criterio 2', exact: true });
  await c2.getByLabel('Qué se evalúa').fill('Resuelve la consulta');
  await c2.getByLabel('Peso').fill('');
  await c2.getByLabel('Nota').selectOption({ label: 'De 0 a 5' });
  await c2.getByLabel(/Crítico/).check();
  await newCard.getByRole('button', { name: 'Crear pauta' }).click();
  await c2.getByText('debe estar entre 1 y 100').waitFor();
  assert.equal(await c1.locator('.error-campo').allTextContents().then((t) => t.join('')), '', 'the first criterion is fine');
  await axe(s, 'pauta con errores');
  await c2.getByLabel('Peso').fill('70');
  await newCard.getByRole('button', { name: 'Crear pauta' }).click();
  await newCard.getByText('Pauta «Pauta de llamadas» creada con 2 criterios.').waitFor();
  const made = (await ok('GET', '/quality/scorecards')).find((c) => c.name === 'Pauta de llamadas');
  assert.deepEqual(made.criteria, [
    { key: 'saludo-con-nombre', name: 'Saludo con nombre', weight: 30, critical: false, max: 1 },
    { key: 'resuelve-la-consulta', name: 'Resuelve la consulta', weight: 70, critical: true, max: 5 },
  ]);
  await s.getByLabel('Pauta de evaluación', { exact: true }).locator('option', { hasText: 'Pauta de llamadas' }).waitFor({ state: 'attached' });
  assert.equal(await newCard.getByRole('group', { name: /^Criterio \d/ }).count(), 1, 'the form starts again with one criterion');

  await s.getByLabel('Desde', { exact: true }).fill(santiagoDay());
  await s.getByLabel('Hasta', { exact: true }).fill(santiagoDay(-2));
  await s.getByRole('button', { name: 'Sortear muestra' }).click();
  await s.locator('#error-m-hasta').filter({ hasText: 'posterior' }).waitFor();
  await axe(s, 'muestra con errores');
  await s.getByLabel('Desde', { exact: true }).fill(santiagoDay(-6));
  await s.getByLabel('Hasta', { exact: true }).fill(santiagoDay());
  await s.getByLabel('Casos al azar por agente').fill('2');
  await s.getByLabel('Pauta de evaluación', { exact: true }).selectOption({ label: SCORECARD.name });
  await s.getByRole('button', { name: 'Sortear muestra' }).click();
  await s.locator('#sorteo .exito').filter({ hasText: '2 evaluaciones nuevas' }).waitFor();
  assert.equal(await s.locator('#error-m-hasta').textContent(), '');
  const pending = (await ok('GET', '/quality/evaluations?status=pending')).items;
  assert.equal(pending.length, 2);
  assert.equal(await s.locator('tr[data-evaluacion]').count(), 2);
  const first = pending[0];
  const row = s.locator(`tr[data-evaluacion="${first.id}"]`);
  for (const text of ['Javier Rojas', 'Pendiente', SCORECARD.name]) await row.getByText(text, { exact: true }).waitFor();
  await row.getByRole('link', { name: `${first.ticket_number} ${first.ticket_subject}` }).waitFor();
  await axe(s, 'muestra');

  // --- the evaluation: incomplete first, then filled in
  await row.getByRole('link', { name: `Evaluación n.º ${first.id}` }).click();
  await s.getByRole('heading', { name: `Evaluación n.º ${first.id}`, level: 1 }).waitFor();
  assert.equal(await s.getByRole('link', { name: 'Calidad', exact: true }).getAttribute('aria-current'), 'page', 'a subpage marks Calidad');
  await mark(s, /^Saludo y presentación/, 'Cumple');
  await s.getByRole('button', { name: 'Enviar evaluación' }).click();
  await s.getByRole('group', { name: /^Exactitud de la información/ }).getByText('falta el criterio «exactitud»: marque una nota o «No aplica»').waitFor();
  await s.getByRole('group', { name: /^Cierre/ }).getByText(/falta el criterio «cierre»/).waitFor();
  assert.equal(await s.locator('#error-nota-saludo').textContent(), '', 'the marked criterion has no error');
  await axe(s, 'evaluacion con errores');
  await mark(s, /^Exactitud de la información/, '3');
  await s.getByRole('group', { name: /^Exactitud de la información/ }).getByLabel('Observación (opcional)').fill('Faltó indicar el plazo de reclamo.');
  await mark(s, /^Cumple la normativa de compras/, 'Cumple');
  await mark(s, /^Empatía/, '4');
  await mark(s, /^Cierre/, 'No aplica');
  await s.getByLabel('Comentario general (opcional)').fill('Buena atención; revisar los plazos.');
  await s.getByRole('button', { name: 'Enviar evaluación' }).click();
  await s.getByRole('heading', { name: 'Resultado' }).waitFor();
  // (10 + 40·3/4 + 20 + 20) / 90: Cierre does not apply.
  assert.equal(await s.locator('#puntaje').textContent(), '88,9 de 100');
  await s.getByRole('row', { name: /Exactitud de la información/ }).getByText('3 de 4').waitFor();
  await axe(s, 'evaluacion');

  // --- the agent finds it under "Mis evaluaciones" and disputes it
  const g = await browser('agente');
  await signIn(g, emailAgent, 'Vistas');
  await g.getByRole('navigation', { name: 'Calidad' }).getByRole('link', { name: 'Mis evaluaciones' }).click();
  await g.getByRole('heading', { name: 'Mis evaluaciones', level: 1 }).waitFor();
  await g.locator(`tr[data-evaluacion="${first.id}"]`).getByText('88,9 de 100').waitFor();
  assert.equal(await g.locator('tr[data-evaluacion]').count(), 1, 'pending evaluations are not the agent\'s yet');
  await axe(g, 'mis evaluaciones');
  await g.getByRole('link', { name: `Evaluación n.º ${first.id}` }).click();
  await g.getByRole('heading', { name: 'Resultado' }).waitFor();
  await g.getByRole('button', { name: 'Disputar' }).click();
  await g.locator('#error-d-motivo').filter({ hasText: 'es obligatorio' }).waitFor();
  await g.getByLabel('Motivo de la disputa').fill('Sí indiqué el plazo de reclamo en mi segunda respuesta.');
  await g.getByRole('button', { name: 'Disputar' }).click();
  await g.getByRole('heading', { name: 'Disputa del agente' }).waitFor();
  assert.equal(await g.locator('#estado-evaluacion').textContent(), 'Disputada');
  await g.getByText('Un supervisor revisará su disputa').waitFor();
  await axe(g, 'evaluacion disputada');

  // --- the supervisor corrects a mark in the resolution
  await s.reload();
  await s.getByText('Sí indiqué el plazo de reclamo en mi segunda respuesta.').waitFor();
  await s.getByRole('radio', { name: 'Corregir las notas' }).check();
  await mark(s, /^Exactitud de la información/, '4');
  await s.getByLabel('Resolución').fill('Revisado el caso: el plazo sí se indicó. Se corrige la exactitud.');
  await axe(s, 'resolucion');
  await s.getByRole('button', { name: 'Resolver la disputa' }).click();
  await s.getByRole('heading', { name: 'Resolución del supervisor' }).waitFor();
  assert.equal(await s.locator('#puntaje').textContent(), '100,0 de 100');
  assert.equal(await s.locator('#estado-evaluacion').textContent(), 'Resuelta');
  const resolved = await ok('GET', `/quality/evaluations/${first.id}`);
  assert.equal(resolved.status, 'resolved');
  assert.equal(resolved.score, 100);
  assert.equal(resolved.dispute_reason, 'Sí indiqué el plazo de reclamo en mi segunda respuesta.');
  assert.equal(resolved.resolution, 'Revisado el caso: el plazo sí se indicó. Se corrige la exactitud.');
  assert.deepEqual(resolved.marks.map((m) => [m.key, m.mark]), [['saludo', 1], ['exactitud', 4], ['normativa', 1], ['empatia', 4], ['cierre', null]]);
  await g.reload();
  await g.getByText('Revisado el caso: el plazo sí se indicó.', { exact: false }).waitFor();

  // --- the evaluations of a period: none created up to yesterday, both today
  await s.getByRole('navigation', { name: 'Gestión' }).getByRole('link', { name: 'Calidad', exact: true }).click();
  await s.locator('tr[data-evaluacion]').first().waitFor();
  await s.getByLabel('Creadas hasta').fill(santiagoDay(-1));
  await s.getByText('No hay evaluaciones con estos filtros.').waitFor();
  assert.match(s.url(), new RegExp(`hasta=${santiagoDay(-1)}`));
  await s.getByLabel('Creadas desde').fill(santiagoDay());
  await s.getByLabel('Creadas hasta').fill(santiagoDay());
  await s.locator(`tr[data-evaluacion="${first.id}"]`).getByText('Resuelta').waitFor();
  assert.equal(await s.locator('tr[data-evaluacion]').count(), 2);

  // --- the quality report: this week's score (the resolution's 100), CSAT and SLA per agent
  await s.getByRole('link', { name: 'Informe de calidad' }).click();
  await s.getByRole('heading', { name: 'Informe de calidad', level: 1 }).waitFor();
  const weekly = s.getByRole('img', { name: /^Calidad por semana/ });
  await weekly.waitFor();
  const scorePoints = weekly.locator('g[data-serie="Puntaje de calidad"] circle');
  assert.ok(await scorePoints.count() >= 1, 'a point per week');
  assert.match(await scorePoints.last().locator('title').textContent(), /Puntaje de calidad: 100$/);
  const javierRow = s.getByRole('row', { name: /^Javier Rojas/ }).last();
  assert.deepEqual((await javierRow.locator('td').allTextContents()).slice(1, 2), ['1'], 'one evaluation with a score');
  assert.match(await javierRow.textContent(), /100,0/);
  await s.getByLabel('Agrupar por').selectOption({ label: 'Cola' });
  await s.getByRole('button', { name: 'Actualizar' }).click();
  await s.getByRole('columnheader', { name: 'Cola' }).waitFor();
  assert.match(s.url(), /por=queue/);
  await axe(s, 'informe de calidad');
  await s.getByLabel('Desde', { exact: true }).fill(santiagoDay(1));
  await s.getByLabel('Hasta', { exact: true }).fill(santiagoDay(-1));
  await s.getByRole('button', { name: 'Actualizar' }).click();
  await s.locator('#error-i-hasta').filter({ hasText: /posterior/ }).waitFor();

  // --- a ticket outside the sample: an unknown number first, then from the ticket's own link
  const outside = solved.find((t) => !pending.some((e) => e.ticket_id === t.id));
  await s.getByRole('navigation', { name: 'Gestión' }).getByRole('link', { name: 'Calidad', exact: true }).click();
  await s.getByLabel('Número del caso').fill('AU-1999-999999');
  await s.getByRole('button', { name: 'Evaluar el caso' }).click();
  await s.getByRole('heading', { name: 'Caso no disponible', level: 1 }).waitFor();
  await s.goto(`${base}/app/casos/${outside.number}`);
  await s.getByRole('link', { name: 'Evaluar la calidad del caso' }).waitFor();
  await axe(s, 'caso del supervisor');
  await s.getByRole('link', { name: 'Evaluar la calidad del caso' }).click();
  await s.getByRole('heading', { name: `Evaluar el caso ${outside.number}`, level: 1 }).waitFor();
  await s.getByRole('link', { name: `${outside.number} ${outside.subject}` }).waitFor();
  assert.equal(await s.getByLabel('Agente evaluado').inputValue(), String(javier.id), 'the assignee by default');
  await s.getByLabel('Pauta de evaluación').selectOption({ label: SCORECARD.name });
  await mark(s, /^Saludo y presentación/, 'Cumple');
  await s.getByRole('button', { name: 'Guardar evaluación' }).click();
  await s.getByRole('group', { name: /^Empatía/ }).getByText(/falta el criterio «empatia»/).waitFor();
  await axe(s, 'evaluar un caso con errores');
  await mark(s, /^Exactitud de la información/, '2');
  await mark(s, /^Cumple la normativa de compras/, 'Cumple');
  await mark(s, /^Empatía/, '2');
  await mark(s, /^Cierre/, 'Cumple');
  await s.getByRole('button', { name: 'Guardar evaluación' }).click();
  await s.getByRole('heading', { name: 'Resultado' }).waitFor();
  // (10 + 40·2/4 + 20 + 20·2/4 + 10) / 100
  assert.equal(await s.locator('#puntaje').textContent(), '70,0 de 100');
  await s.getByText('Elegida por un supervisor', { exact: true }).waitFor();
  const manual = (await ok('GET', `/quality/evaluations?agent_id=${javier.id}`)).items.filter((e) => e.reason === 'manual');
  assert.deepEqual(manual.map((e) => [e.ticket_id, e.status, e.score, e.period_from]), [[outside.id, 'completed', 70, null]]);
  assert.match(s.url(), new RegExp(`/app/calidad/evaluaciones/${manual[0].id}$`));
  await axe(s, 'evaluar un caso');

  // --- a trend alert: its history, and its draft opportunity edited and sent
  const scan = await ok('POST', '/quality/trends/scan', { at: scanAt });
  const alert = scan.raised.find((a) => a.granularity === 'hour');
  assert.ok(alert, JSON.stringify(scan));
  const draft = await ok('GET', `/opportunities/${alert.opportunity_id}`);
  assert.equal(draft.status, 'draft');
  await s.getByRole('navigation', { name: 'Gestión' }).getByRole('link', { name: 'Calidad', exact: true }).click();
  await s.getByRole('link', { name: 'Alertas de tendencia' }).click();
  await s.getByRole('heading', { name: 'Alertas de tendencia', level: 1 }).waitFor();
  const card = s.locator(`#alerta-${alert.id}`);
  const chart = card.getByRole('img', { name: /^Historia/ });
  await chart.waitFor();
  assert.equal(await chart.locator('g[data-serie="Casos"] circle').count(), alert.history.length + 1, 'a point per week and the alert');
  const last = await chart.locator('g[data-serie="Casos"] circle').last().locator('title').textContent();
  assert.equal(last, `Alerta, Casos: ${alert.observed}`);
  await card.getByText(alert.explanation).waitFor();
  assert.equal(await card.locator('.lista-evidencia a').count(), draft.evidence.length);
  await axe(s, 'tendencias');
  await card.getByLabel('Título').fill('');
  await card.getByRole('button', { name: 'Enviar a departamento' }).click();
  await card.getByText('es obligatorio').waitFor();
  await card.getByLabel('Descripción').scrollIntoViewIfNeeded();
  await axe(s, 'oportunidad con errores');
  const title = 'Alza de casos por error al emitir órdenes de compra en Compra Ágil';
  await card.getByLabel('Título').fill(title);
  await card.getByRole('button', { name: 'Enviar a departamento' }).click();
  await card.getByText('Enviada', { exact: true }).waitFor();
  await card.getByText(`«${title}»`, { exact: false }).waitFor();
  await card.locator('.oportunidad-alerta').scrollIntoViewIfNeeded();
  await axe(s, 'tendencia enviada');
  const sent = await ok('GET', `/opportunities/${draft.id}`);
  assert.deepEqual([sent.status, sent.title], ['sent', title], 'the draft itself, edited and sent');
  assert.equal(sent.department, draft.department);
  assert.equal(sent.description, draft.description);
  assert.deepEqual(sent.ticket_ids, draft.ticket_ids, 'with the alert\'s evidence');
  assert.ok(sent.ticket_ids.every((id) => alert.ticket_ids.includes(id)) && sent.ticket_ids.length > 0);
  assert.equal((await ok('GET', '/opportunities?status=sent')).items.length, 1, 'no second opportunity');
  // Seen again later: sent, no form.
  await s.reload();
  await card.getByText(`«${title}»`, { exact: false }).waitFor();
  assert.equal(await card.getByRole('button', { name: 'Enviar a departamento' }).count(), 0);
}

await main(run, 'browser quality test: ok');
