// Browser test of the supervisors' reports and the administrators' screens in /app.
//
// Usage: node management.mjs <base-url> <admin-token> <screenshot-dir> <supervisor> <admin> <agent> <password>
//
// The supervisor signs in at "Informes": the volume chart (an image named "Volumen…") has one point per
// day of the range; they change the range (a reversed one first: the API's error next to the
// field), download the CSV of the range and print. Then staffing (a measured day and the Erlang C
// calculator), and the team: each agent's state and a queue's waiting tickets in the order
// assignment takes them. The administrator creates a queue (an empty form first: the errors next
// to the fields), tries a new rule in the tester, creates it, creates an agent, invites them and
// sets their skills, capacity and queues; the next ticket that matches the rule lands in the new
// queue. Every screen passes axe-core at both sizes and is screenshotted
// (gestion-<screen>-<width>.png). Prints `browser management test: ok`.

import assert from 'node:assert/strict';
import { harness } from './lib.mjs';

const [base, admin, shots, emailSupervisor, emailAdmin, emailAgent, password] = process.argv.slice(2);
if (!base || !admin || !shots || !emailSupervisor || !emailAdmin || !emailAgent || !password) {
  console.error('usage: node management.mjs <base-url> <admin-token> <screenshot-dir> <supervisor> <admin> <agent> <password>');
  process.exit(2);
}
const { ok, axe, shot, browser, main, signIn } = harness({ base, token: admin, shots, password, prefix: 'gestion' });


const santiagoDay = (offset = 0) => new Intl.DateTimeFormat('en-CA', { timeZone: 'America/Santiago' }).format(new Date(Date.now() + offset * 86_400_000));

async function run() {
  const requester = { name: 'Luis Araya', email: 'luis.araya@proveedor.cl' };
  const helpDesk = (await ok('GET', '/queues')).find((q) => q.slug === 'mesa-de-ayuda');
  for (const [subject, channel] of [['No llega el correo de la orden', 'email'], ['Consulta por garantía', 'web'], ['Llamada por clave', 'phone']]) {
    await ok('POST', '/tickets', { subject, body: `Detalle: ${subject}`, requester, channel });
  }

  // --- the supervisor's reports
  const s = await browser('supervisor');
  // Signed in at the reports' address: they are asked for again with the session, not taken
  // from the refusals asked for before it.
  await signIn(s, emailSupervisor, 'Gestión', '/app/informes');
  await s.getByRole('heading', { name: 'Informes', level: 1 }).waitFor();
  assert.equal(await s.getByRole('link', { name: 'Informes' }).getAttribute('aria-current'), 'page');
  const volume = s.getByRole('img', { name: /Volumen/ });
  await volume.waitFor();
  const totalPoints = () => volume.locator('g[data-serie="Total"] circle').count();
  assert.equal(await totalPoints(), 30, 'the default range: 30 days, one point each');
  const rows = await s.locator('#informe-volumen tbody tr').count();
  assert.equal(rows, 30);
  for (const name of [/Tiempos de primera respuesta/, /Cumplimiento de SLA/, /pendientes al cierre/, /Llamadas/, /CSAT/]) {
    await s.getByRole('img', { name }).waitFor();
  }
  await axe(s, 'informes');

  // A reversed range: the API's error next to "Hasta"; then a week.
  await s.getByLabel('Desde').fill(santiagoDay());
  await s.getByLabel('Hasta').fill(santiagoDay(-3));
  await s.getByRole('button', { name: 'Actualizar' }).click();
  await s.locator('#error-r-hasta').filter({ hasText: 'posterior' }).waitFor();
  await s.getByLabel('Desde').fill(santiagoDay(-6));
  await s.getByLabel('Hasta').fill(santiagoDay());
  await s.getByRole('button', { name: 'Actualizar' }).click();
  await volume.waitFor();
  await s.waitForFunction(() => document.querySelectorAll('#grafico-volumen g[data-serie="Total"] circle').length === 7);
  assert.ok(s.url().includes(`desde=${santiagoDay(-6)}`), s.url());
  const today = await volume.locator('g[data-serie="Total"] circle').last().locator('title').textContent();
  assert.match(today, /Total: 3$/, 'today: the three tickets');

  // The CSV of the same range: the link a supervisor clicks, fetched with their session.
  const link = s.getByRole('link', { name: 'Descargar CSV: Volumen por día y canal' });
  assert.equal(await link.getAttribute('download'), '');
  const response = await s.request.get(new URL(await link.getAttribute('href'), base).href);
  assert.equal(response.status(), 200);
  assert.match(response.headers()['content-disposition'], /^attachment; filename=".+\.csv"$/);
  const csv = await response.text();
  assert.match(csv.split('\n')[0], /period/, csv);
  assert.ok(csv.includes(santiagoDay()) && !csv.includes(santiagoDay(-7)), csv);
  console.log(`CSV: ${response.headers()['content-disposition']}`);

  // Printed for the monthly meeting: no navigation, the charts.
  await s.emulateMedia({ media: 'print' });
  assert.equal(await s.getByRole('navigation', { name: 'Gestión' }).isVisible(), false);
  assert.ok(await volume.isVisible());
  await shot(s, 'gestion-informes-impresion');
  await s.emulateMedia({ media: 'screen' });

  // --- staffing: a measured day (none of its calls here), and the Erlang C calculator
  await s.getByRole('link', { name: 'Dotación' }).click();
  await s.getByRole('heading', { name: 'Dotación', level: 1 }).waitFor();
  await s.getByText('Ese día no entró ninguna llamada.').waitFor();
  await s.getByLabel('Llamadas en el intervalo').fill('60');
  await s.getByLabel('Intervalo (minutos)').fill('30');
  await s.getByLabel('Duración media de atención, AHT (segundos)').fill('180');
  await s.getByRole('button', { name: 'Calcular agentes' }).click();
  const erlang = await ok('POST', '/kpis/staffing', { arrivals: 60, interval_secs: 1800, aht_secs: 180, target_service_level: 0.8, answer_secs: 20, max_occupancy: 0.85, shrinkage: 0.3 });
  await s.locator('#resultado-calculo dd').first().filter({ hasText: new RegExp(`^${erlang.agents}$`) }).waitFor();
  await axe(s, 'dotacion');

  // --- the team: each agent's state, and a queue's waiting tickets in assignment order
  await s.getByRole('link', { name: 'Equipo y colas' }).click();
  await s.getByRole('heading', { name: 'Equipo y colas', level: 1 }).waitFor();
  await s.locator('tr[data-agente]').filter({ hasText: 'Javier Rojas' }).filter({ hasText: 'Desconectado' }).waitFor();
  await s.getByRole('button', { name: 'Ver la espera de Mesa de Ayuda' }).click();
  const waiting = s.getByRole('list', { name: /En espera en Mesa de Ayuda/ }).getByRole('link');
  await waiting.first().waitFor();
  const expected = (await ok('GET', `/queues/${helpDesk.id}/waiting?limit=50`)).map((t) => `${t.number} ${t.subject}`);
  const shown = await waiting.evaluateAll((links) => links.map((l) => l.getAttribute('aria-label')));
  assert.deepEqual(shown, expected, 'the waiting order of the API');
  assert.equal(shown.length, 3);
  await axe(s, 'equipo');

  // --- the administrator: a queue
  const a = await browser('admin');
  await signIn(a, emailAdmin, 'Gestión');
  await a.getByRole('link', { name: 'Colas', exact: true }).click();
  await a.getByRole('heading', { name: 'Colas', level: 1 }).waitFor();
  await a.getByRole('button', { name: 'Crear cola' }).click();
  await a.locator('#error-c-identificador').filter({ hasText: /\S/ }).waitFor();
  await a.locator('#error-c-nombre').filter({ hasText: /\S/ }).waitFor();
  await axe(a, 'colas con errores');
  await a.getByLabel('Identificador').fill('compra-agil');
  await a.getByLabel('Nombre').fill('Compra Ágil');
  await a.getByLabel('Estrategia de asignación').selectOption('round_robin');
  await a.getByRole('checkbox', { name: 'Javier Rojas' }).check();
  await a.getByRole('button', { name: 'Crear cola' }).click();
  await a.getByText('Cola creada: Compra Ágil.').waitFor();
  await a.locator('tr[data-cola="compra-agil"]').filter({ hasText: 'Javier Rojas' }).waitFor();
  await axe(a, 'colas');

  // --- a rule, tried in the tester before it exists
  await a.getByRole('link', { name: 'Reglas de enrutamiento' }).click();
  await a.getByRole('heading', { name: 'Reglas de enrutamiento', level: 1 }).waitFor();
  await a.getByLabel('Nombre de la regla').fill('Compra Ágil a su cola');
  await a.getByLabel('Palabras clave').fill('compra agil, cotización');
  await a.getByLabel('Enviar a la cola').selectOption('compra-agil');
  await a.getByLabel('Asunto de prueba').fill('No puedo publicar una Compra Ágil');
  await a.getByLabel('Texto de prueba').fill('Al enviar la cotización aparece un error.');
  await a.getByRole('button', { name: 'Probar' }).click();
  await a.locator('#resultado-prueba').filter({ hasText: 'Compra Ágil a su cola (la regla nueva)' }).waitFor();
  await a.locator('#resultado-prueba').filter({ hasText: 'cola compra-agil' }).waitFor();
  await axe(a, 'reglas con prueba');
  await a.getByRole('button', { name: 'Crear regla' }).click();
  await a.getByText('Regla creada: Compra Ágil a su cola.', { exact: false }).waitFor();
  await a.getByRole('rowheader', { name: 'Compra Ágil a su cola' }).waitFor();
  // With the draft left out, the saved rule alone still matches.
  await a.getByLabel('Incluir la regla nueva que estoy escribiendo').uncheck();
  await a.getByRole('button', { name: 'Probar' }).click();
  await a.locator('#resultado-prueba li').first().filter({ hasText: /^Reglas que aplican: Compra Ágil a su cola$/ }).waitFor();

  // --- an agent, and the invitation
  await a.getByRole('link', { name: 'Agentes', exact: true }).click();
  await a.getByRole('heading', { name: 'Agentes', level: 1 }).waitFor();
  await a.getByLabel('Nombre', { exact: true }).fill('Paula Soto');
  await a.getByLabel('Correo electrónico').fill('paula.soto@chilecompra.cl');
  await a.getByLabel('Rol').selectOption('department');
  await a.getByRole('button', { name: 'Crear agente' }).click();
  await a.locator('#error-a-departamento').filter({ hasText: /\S/ }).waitFor();
  await axe(a, 'agentes con error');
  await a.getByLabel('Rol').selectOption('agent');
  await a.getByRole('button', { name: 'Crear agente' }).click();
  await a.getByText('Agente creado: Paula Soto.', { exact: false }).waitFor();
  await a.getByRole('button', { name: 'Enviar invitación a Paula Soto' }).click();
  await a.locator('#tabla-agentes span.exito').filter({ hasText: 'Invitación enviada a paula.soto@chilecompra.cl' }).waitFor();
  const created = (await ok('GET', '/agents')).find((x) => x.email === 'paula.soto@chilecompra.cl');
  assert.equal(created.role, 'agent');
  // Her skills, capacity and queues (a bad skill first: the error next to the field).
  await a.getByRole('button', { name: 'Enrutamiento de Paula Soto' }).click();
  const skills = a.getByLabel('Habilidades');
  await skills.fill('convenio marco');
  await a.getByRole('button', { name: 'Guardar enrutamiento' }).click();
  await a.locator('#error-e-habilidades').filter({ hasText: 'no es una habilidad válida' }).waitFor();
  await skills.fill('convenio_marco, licitaciones');
  await a.getByLabel('Correo', { exact: true }).fill('5');
  await a.getByRole('group', { name: 'Colas que atiende' }).getByRole('checkbox', { name: 'Compra Ágil' }).check();
  await a.getByRole('button', { name: 'Guardar enrutamiento' }).click();
  await a.getByText('Enrutamiento de Paula Soto guardado.').waitFor();
  const routing = await ok('GET', `/agents/${created.id}/routing`);
  assert.deepEqual([routing.skills, routing.capacity.email, routing.queues], [['convenio_marco', 'licitaciones'], 5, ['compra-agil']]);
  await axe(a, 'agentes');

  // --- the new rule routes the next ticket
  const next = await ok('POST', '/tickets', { subject: 'Duda con mi compra ágil', body: '¿Cómo amplío el plazo?', requester, channel: 'web' });
  const routed = await ok('GET', `/tickets/${next.id}`);
  assert.equal(routed.queue, 'compra-agil', JSON.stringify(routed));
  console.log(`ticket ${next.number} routed to ${routed.queue}`);
}

await main(run, 'browser management test: ok');
