// Browser test of the administrators' reference data in /app.
//
// Usage: node settings.mjs <base-url> <admin-token> <screenshot-dir> <admin-email> <password> <webhook-url>
//
// An administrator creates an SLA policy (an empty form first: the API's errors next to the
// fields), adds a holiday to a calendar and changes its hours (a bad time first), previews a
// rotation plan before saving it (no agents first: the error next to them), creates and stops it,
// creates, edits and deletes a canned response (a bad shortcut first), and configures a
// department: its internal SLA (a zero first), the webhook that a receiver's HTTP 500 disabled is
// re-enabled and delivers what waited. Every change is checked through the API too; every screen
// passes axe-core at both sizes and is screenshotted (ajustes-<screen>-<width>.png). Prints
// `browser settings test: ok`.

import assert from 'node:assert/strict';
import { harness } from './lib.mjs';

const [base, admin, shots, emailAdmin, password, hookUrl] = process.argv.slice(2);
if (!base || !admin || !shots || !emailAdmin || !password || !hookUrl) {
  console.error('usage: node settings.mjs <base-url> <admin-token> <screenshot-dir> <admin-email> <password> <webhook-url>');
  process.exit(2);
}
const { ok, axe, browser, main, signIn } = harness({ base, token: admin, shots, password, prefix: 'ajustes' });

/** Polls `check` (an async function) until it returns something truthy. */
async function eventually(what, check, ms = 10_000) {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
    const value = await check();
    if (value) return value;
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function run() {
  const agents = await ok('GET', '/agents');
  const javier = agents.find((a) => a.email === 'javier.rojas@chilecompra.cl');
  const camila = agents.find((a) => a.email === 'camila.soto@chilecompra.cl');
  await ok('POST', '/queues', { slug: 'compra-agil', name: 'Compra Ágil' });
  const compradores = (await ok('GET', '/departments')).find((d) => d.slug === 'compradores');

  // The department's webhook fails once (HTTP 500) and is disabled, with the escalation waiting.
  await ok('PUT', `/departments/${compradores.id}/webhook`, { url: hookUrl, secret: 'un-secreto-de-prueba-largo' });
  const ticket = await ok('POST', '/tickets', { subject: 'Consulta por orden de compra', body: 'Detalle', requester: { name: 'Luis Araya', email: 'luis.araya@proveedor.cl' }, channel: 'web' });
  await ok('POST', `/tickets/${ticket.id}/escalations`, { department: 'compradores', mode: 'consult', reason: '¿La orden está emitida?' });
  await eventually('the webhook disabled', async () => !(await ok('GET', `/departments/${compradores.id}/webhook`)).enabled);

  const p = await browser('admin');
  await signIn(p, emailAdmin, 'Gestión');

  // --- SLA policies
  await p.getByRole('link', { name: 'Políticas de SLA' }).click();
  await p.getByRole('heading', { name: 'Políticas de SLA', level: 1 }).waitFor();
  const policy = p.locator('#politica-n');
  await policy.getByRole('button', { name: 'Crear política' }).click();
  await p.locator('#error-n-nombre').filter({ hasText: /\S/ }).waitFor();
  await policy.getByLabel('Nombre', { exact: true }).fill('Proveedores urgentes');
  await policy.getByLabel('Orden', { exact: true }).fill('1');
  await policy.getByRole('group', { name: /Segmentos/ }).getByLabel('Proveedor').check();
  await policy.getByLabel('Primera respuesta, urgente').fill('30');
  await policy.getByLabel('Resolución, urgente').fill('240');
  await policy.getByRole('button', { name: 'Crear política' }).click();
  await policy.getByRole('status').filter({ hasText: 'Política creada: Proveedores urgentes' }).waitFor();
  await p.getByRole('row', { name: /Proveedores urgentes/ }).waitFor();
  const saved = (await ok('GET', '/sla/policies')).find((x) => x.name === 'Proveedores urgentes');
  assert.deepEqual(saved.targets, { first_reply: { urgent: 30 }, resolution: { urgent: 240 } });
  assert.deepEqual(saved.conditions.segments, ['proveedor']);
  assert.equal(saved.position, 1);
  await axe(p, 'sla');

  // Edited: its own form, the change in the table and in the API.
  await p.getByRole('button', { name: 'Editar Proveedores urgentes' }).click();
  const edit = p.locator(`#politica-e${saved.id}`);
  await edit.getByLabel('Resolución, urgente').fill('180');
  await edit.getByRole('button', { name: 'Guardar política' }).click();
  await p.getByRole('row', { name: /Proveedores urgentes/ }).filter({ hasText: 'urgente 180' }).waitFor();
  assert.equal((await ok('GET', `/sla/policies/${saved.id}`)).targets.resolution.urgent, 180);

  // --- calendars and holidays
  await p.getByRole('link', { name: 'Calendarios y feriados' }).click();
  await p.getByRole('heading', { name: 'Calendarios y feriados', level: 1 }).waitFor();
  const calendar = (await ok('GET', '/calendars'))[0];
  await p.getByRole('button', { name: `Feriados y horario de ${calendar.name}` }).click();
  await p.getByRole('heading', { name: calendar.name, level: 2, exact: true }).waitFor();
  await p.getByLabel('Fecha del feriado').fill('2031-03-14');
  await p.getByRole('button', { name: 'Agregar feriado' }).click();
  await p.locator('#error-f-nombre').filter({ hasText: /\S/ }).waitFor();
  await p.getByLabel('Nombre del feriado').fill('Feriado regional de prueba');
  await p.getByRole('button', { name: 'Agregar feriado' }).click();
  await p.getByRole('table', { name: `Feriados de 2031 en ${calendar.name}` }).getByRole('row', { name: /Feriado regional de prueba/ }).waitFor();
  const year = () => ok('GET', `/calendars/${calendar.id}/holidays?year=2031`);
  assert.ok((await year()).some((d) => d.date === '2031-03-14' && d.name === 'Feriado regional de prueba'));
  await p.getByLabel('Sábado').fill('25:00-26:00');
  await p.getByRole('button', { name: 'Guardar horario' }).click();
  await p.locator('#error-horario').filter({ hasText: /\S/ }).waitFor();
  await p.getByLabel('Sábado').fill('10:00-13:00');
  await p.getByRole('button', { name: 'Guardar horario' }).click();
  await p.getByRole('status').filter({ hasText: 'Horario guardado' }).waitFor();
  assert.deepEqual((await ok('GET', `/calendars/${calendar.id}`)).week[5], [{ start: '10:00', end: '13:00' }]);
  await axe(p, 'calendarios');
  await p.getByRole('button', { name: 'Quitar el feriado del 2031-03-14' }).click();
  await p.getByRole('row', { name: /Feriado regional de prueba/ }).waitFor({ state: 'detached' });
  assert.ok(!(await year()).some((d) => d.date === '2031-03-14'), 'the holiday removed');

  // --- rotation plans: the preview first
  await p.getByRole('link', { name: 'Rotaciones' }).click();
  await p.getByRole('heading', { name: 'Rotaciones', level: 1 }).waitFor();
  await p.getByLabel('Nombre del plan').fill('Turnos de la mesa');
  await p.getByRole('button', { name: 'Vista previa' }).click();
  await p.locator('#error-rot-agentes').filter({ hasText: /\S/ }).waitFor();
  const people = p.getByRole('group', { name: 'Agentes, en orden de rotación' });
  await people.getByLabel('Javier Rojas').check();
  await people.getByLabel('Camila Soto').check();
  const queues = p.getByRole('group', { name: 'Colas por las que rotan' });
  await queues.getByLabel('Mesa de Ayuda').check();
  await queues.getByLabel('Compra Ágil').check();
  await p.getByLabel('Rota cada').selectOption('daily');
  await p.getByLabel('Hora', { exact: true }).fill('08:30');
  await p.getByLabel('Desde').fill('2040-01-02');
  await p.getByRole('button', { name: 'Vista previa' }).click();
  const preview = p.getByRole('table', { name: 'Próximas rotaciones del plan sin guardar' });
  await preview.waitFor();
  assert.equal(await preview.locator('tbody tr').count(), 4);
  assert.equal(await p.locator('#error-rot-agentes').textContent(), '');
  const second = await preview.locator('tbody tr').nth(1).textContent();
  assert.ok(second.includes('Javier Rojas → Compra Ágil') && second.includes('Camila Soto → Mesa de Ayuda'), second);
  assert.deepEqual(await ok('GET', '/routing/rotations'), [], 'the preview saves nothing');
  await axe(p, 'rotaciones');
  await p.getByRole('button', { name: 'Crear plan' }).click();
  await p.getByRole('row', { name: /Turnos de la mesa/ }).waitFor();
  const plans = await ok('GET', '/routing/rotations');
  assert.deepEqual([plans.length, plans[0].agents, plans[0].period, plans[0].at], [1, [javier.id, camila.id], 'daily', '08:30']);
  await p.getByRole('button', { name: 'Detener Turnos de la mesa' }).click();
  await p.getByText('No hay planes de rotación.').waitFor();
  assert.deepEqual(await ok('GET', '/routing/rotations'), []);

  // --- canned responses
  await p.getByRole('link', { name: 'Respuestas predefinidas' }).click();
  await p.getByRole('heading', { name: 'Respuestas predefinidas', level: 1 }).waitFor();
  const create = p.locator('#respuesta-rn');
  await create.getByLabel('Atajo').fill('mal atajo!');
  await create.getByLabel('Título').fill('Saludo a proveedores');
  await create.getByLabel('Texto de la respuesta').fill('Hola {nombre}, le saluda {agente}.');
  await create.getByRole('button', { name: 'Crear respuesta' }).click();
  await p.locator('#error-rn-atajo').filter({ hasText: /\S/ }).waitFor();
  await create.getByLabel('Atajo').fill('saludo-proveedor');
  await create.getByRole('button', { name: 'Crear respuesta' }).click();
  await p.getByRole('row', { name: /Saludo a proveedores/ }).waitFor();
  const canned = (await ok('GET', '/canned-responses')).find((r) => r.shortcut === 'saludo-proveedor');
  assert.equal(canned.scope, 'shared');
  await p.getByRole('button', { name: 'Editar Saludo a proveedores' }).click();
  const change = p.locator(`#respuesta-re${canned.id}`);
  await change.getByLabel('Título').fill('Bienvenida a proveedores');
  await change.getByRole('button', { name: 'Guardar respuesta' }).click();
  await p.getByRole('row', { name: /Bienvenida a proveedores/ }).waitFor();
  assert.equal((await ok('GET', `/canned-responses/${canned.id}`)).title, 'Bienvenida a proveedores');
  await axe(p, 'respuestas');
  await p.getByRole('button', { name: 'Eliminar Bienvenida a proveedores' }).click();
  await p.getByRole('row', { name: /Bienvenida a proveedores/ }).waitFor({ state: 'detached' });

  // --- a department: internal SLA, and the disabled webhook re-enabled
  await p.getByRole('link', { name: 'Departamentos' }).click();
  await p.getByRole('heading', { name: 'Departamentos', level: 1 }).waitFor();
  await p.getByRole('row', { name: new RegExp(compradores.name) }).filter({ hasText: 'Desactivado' }).waitFor();
  await p.getByRole('button', { name: `Configurar ${compradores.name}` }).click();
  await p.getByRole('heading', { name: compradores.name, level: 2, exact: true }).waitFor();
  await p.getByLabel('Acusar recibo (minutos hábiles)').fill('0');
  await p.getByRole('button', { name: 'Guardar SLA interno' }).click();
  await p.locator('#error-d-acuse').filter({ hasText: /\S/ }).waitFor();
  await p.getByLabel('Acusar recibo (minutos hábiles)').fill('45');
  await p.getByRole('button', { name: 'Guardar SLA interno' }).click();
  await p.getByRole('status').filter({ hasText: 'SLA interno' }).waitFor();
  assert.equal((await ok('GET', `/departments/${compradores.id}/sla`)).ack_minutes, 45);
  const deliveries = p.getByRole('table', { name: `Entregas a ${compradores.name}, de la más antigua a la más reciente` });
  await deliveries.filter({ hasText: 'falla (500)' }).waitFor();
  await p.locator('#estado-webhook').filter({ hasText: 'Desactivado' }).waitFor();
  await axe(p, 'departamentos');
  await p.getByLabel('URL del webhook').fill('no es una url');
  await p.getByRole('button', { name: 'Guardar webhook' }).click();
  await p.locator('#error-w-url').filter({ hasText: /\S/ }).waitFor();
  await p.getByRole('button', { name: 'Reactivar webhook' }).click();
  await p.locator('#estado-webhook').filter({ hasText: 'Activo' }).waitFor();
  await eventually('the waiting escalation delivered', async () => (await ok('GET', `/departments/${compradores.id}/deliveries`)).items.every((d) => d.webhook_status === 'delivered'));
  await p.getByRole('button', { name: `Configurar ${compradores.name}` }).click();
  await deliveries.filter({ hasText: 'entregado (204)' }).waitFor();
  assert.ok((await deliveries.textContent()).includes('Entregada'));
  await axe(p, 'departamentos-reactivado');
}

await main(run, 'browser settings test: ok');
