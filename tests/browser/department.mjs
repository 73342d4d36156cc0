// Browser test of the departments' screens in /app.
//
// Usage: node department.mjs <base-url> <admin-token> <screenshot-dir> <member-A> <member-B> <agent> <password>
//
// Member A belongs to "compradores", member B to "proveedores", the agent to Atención Usuaria; all
// sign in with <password> (the Rust test creates them). The agent escalates a ticket to
// compradores and an opportunity is sent there. A signs in: the inbox lists both, oldest first,
// unread; A acknowledges the escalation and answers it (an empty answer first: the API's Spanish
// error next to the field); the agent's ticket shows the internal note and the agent's bell the
// notification; A moves the opportunity to `implemented` (the resolution the rules require); the
// monthly summary is a chart. B sees none of it, not even by direct address. Every screen passes
// axe-core at 1366×768 and 1920×1080 and is screenshotted (dept-<screen>-<width>.png). Prints
// `browser department test: ok`.

import assert from 'node:assert/strict';
import { harness } from './lib.mjs';

const [base, admin, shots, emailA, emailB, emailAgent, password] = process.argv.slice(2);
if (!base || !admin || !shots || !emailA || !emailB || !emailAgent || !password) {
  console.error('usage: node department.mjs <base-url> <admin-token> <screenshot-dir> <member-A> <member-B> <agent> <password>');
  process.exit(2);
}
const { ok, call, axe, browser, main, signIn } = harness({ base, token: admin, shots, password, prefix: 'dept' });


async function run() {
  // --- data through the API: the agent escalates, Atención Usuaria sends an opportunity
  const agents = await ok('GET', '/agents');
  const agent = agents.find((x) => x.email === emailAgent);
  const agentToken = (await ok('POST', `/agents/${agent.id}/tokens`, { name: 'prueba' })).token;
  const requester = { name: 'Rosa Fuentes', email: 'rosa.fuentes@municipalidad.cl', segment: 'comprador', organization: 'Municipalidad de Talca' };
  const ticket = await ok('POST', '/tickets', { subject: 'Plazo de la compra ágil de alimentos', body: 'Necesito saber si puedo ampliar el plazo de la cotización.', requester, assignee_id: agent.id });
  const reason = '¿Se puede ampliar el plazo de una compra ágil ya publicada?';
  const escalation = await ok('POST', `/tickets/${ticket.id}/escalations`, { department: 'compradores', mode: 'consult', reason }, agentToken);
  const draft = await ok('POST', '/opportunities', {
    title: 'Aclarar en la guía cómo ampliar plazos', description: 'Muchas entidades preguntan cómo ampliar el plazo de una compra ágil.',
    department: 'compradores', ticket_ids: [ticket.id],
  });
  const opportunity = await ok('POST', `/opportunities/${draft.id}/transitions`, { to: 'sent' });
  console.log(`ticket ${ticket.number}, escalation ${escalation.id}, opportunity ${opportunity.id}`);

  // --- member A: the inbox, oldest first, both items unread
  const a = await browser('A');
  await signIn(a, emailA, 'Secciones del departamento');
  await a.getByRole('heading', { name: 'Bandeja del departamento', level: 1 }).waitFor();
  assert.ok(a.url().endsWith('/app/bandeja'), a.url());
  const escalationLink = a.getByRole('link', { name: `${ticket.number} ${ticket.subject}` });
  const opportunityLink = a.getByRole('link', { name: opportunity.title });
  await escalationLink.waitFor();
  await opportunityLink.waitFor();
  const order = await a.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.elemento));
  assert.deepEqual(order, [`escalation:${escalation.id}`, `opportunity:${opportunity.id}`], 'oldest first');
  assert.equal(await a.locator('tr.no-leida').count(), 2, 'both unread');
  await a.locator(`tr[data-elemento="escalation:${escalation.id}"] .sla`).first().filter({ hasText: 'A tiempo' }).waitFor();
  await axe(a, 'bandeja');

  // --- the escalation: what is asked, the first message, the requester as granted (no contact)
  await escalationLink.click();
  await a.getByRole('heading', { name: ticket.subject, level: 1 }).waitFor();
  await a.getByText(reason).waitFor();
  await a.getByText('Necesito saber si puedo ampliar el plazo de la cotización.').waitFor();
  await a.getByText('Atención Usuaria no compartió los datos de contacto del solicitante.').waitFor();
  assert.equal(await a.getByText('rosa.fuentes@municipalidad.cl').count(), 0, 'contact data hidden');
  await axe(a, 'derivacion');

  // --- acknowledge: the ack clock stops
  await a.getByRole('button', { name: 'Acusar recibo' }).click();
  await a.getByText('Recibo acusado').first().waitFor();
  const acked = await ok('GET', `/escalations/${escalation.id}`);
  assert.ok(acked.sla.find((c) => c.metric === 'ack').stopped_at, 'the ack clock stopped');

  // --- an empty answer: the API's error next to the field; then the answer
  const box = a.getByRole('textbox', { name: 'Respuesta' });
  await a.getByRole('button', { name: 'Enviar' }).click();
  const fieldError = a.locator('#error-respuesta');
  await fieldError.filter({ hasText: /\S/ }).waitFor();
  assert.equal(await box.getAttribute('aria-describedby').then((d) => d.includes('error-respuesta')), true);
  await axe(a, 'derivacion con error');
  const answer = 'Sí: mientras no haya cerrado, la entidad puede ampliar el plazo una vez desde la ficha.';
  await box.fill(answer);
  await a.getByRole('button', { name: 'Enviar' }).click();
  await a.getByRole('heading', { name: 'Respuesta enviada' }).waitFor();
  await axe(a, 'derivacion respondida');
  const messages = await ok('GET', `/tickets/${ticket.id}/messages`);
  assert.ok(messages.some((m) => m.visibility === 'internal' && m.body.includes(answer)), 'the answer is an internal note');

  // --- the agent: the note on the ticket, the notification in the bell
  const g = await browser('agente');
  await signIn(g, emailAgent, 'Vistas');
  await g.locator('#no-leidas-texto').filter({ hasText: /: [1-9]\d* sin leer/ }).waitFor({ timeout: 20_000 });
  await g.getByRole('button', { name: /^Notificaciones/ }).click();
  await g.getByText(`Respuesta de Departamento de Gestión y Asesoría de Compradores a la derivación del caso ${ticket.number}`).waitFor();
  await g.goto(`${base}/app/casos/${ticket.number}`);
  await g.locator('#mensajes li.interno').filter({ hasText: answer }).waitFor();
  console.log('the agent sees the note and the notification');

  // --- back in the inbox: the answered escalation left the pending list
  await a.getByRole('link', { name: /^Bandeja/ }).click();
  await opportunityLink.waitFor();
  assert.equal(await escalationLink.count(), 0, 'answered: no longer pending');
  await a.getByLabel('Mostrar').selectOption('todas');
  await escalationLink.waitFor();

  // --- the opportunity: in progress, then implemented (a resolution is required)
  await opportunityLink.click();
  await a.getByRole('heading', { name: opportunity.title, level: 1 }).waitFor();
  await a.getByText('1 caso de evidencia, de').waitFor();
  await a.getByRole('list', { name: 'Casos de evidencia' }).getByText(ticket.number).waitFor();
  await axe(a, 'oportunidad');
  await a.getByLabel('Nuevo estado').selectOption({ label: 'Acusar recibo' });
  await a.getByRole('button', { name: 'Cambiar estado' }).click();
  await a.locator('#estado-oportunidad').filter({ hasText: 'Recibida' }).waitFor();
  await a.getByLabel('Nuevo estado').selectOption('in_progress');
  await a.getByLabel('Comentario').fill('Lo vemos con el equipo de contenidos.');
  await a.getByRole('button', { name: 'Cambiar estado' }).click();
  await a.locator('#estado-oportunidad').filter({ hasText: 'En curso' }).waitFor();
  await a.getByLabel('Nuevo estado').selectOption('implemented');
  await a.getByRole('button', { name: 'Cambiar estado' }).click();
  await a.locator('#error-resolucion').filter({ hasText: 'indique qué se implementó' }).waitFor();
  await axe(a, 'oportunidad con error');
  await a.getByLabel('Resolución').fill('La guía de Compra Ágil explica ahora cómo ampliar plazos.');
  await a.getByRole('button', { name: 'Cambiar estado' }).click();
  await a.locator('#estado-oportunidad').filter({ hasText: 'Implementada' }).waitFor();
  assert.equal((await ok('GET', `/opportunities/${opportunity.id}`)).status, 'implemented');
  await axe(a, 'oportunidad implementada');

  // --- the monthly summary: a chart and its figures
  await a.getByRole('link', { name: 'Resumen mensual' }).click();
  const chart = a.getByRole('img', { name: /Resumen mensual/ });
  await chart.waitFor();
  const month = new Intl.DateTimeFormat('en-CA', { timeZone: 'America/Santiago', year: 'numeric', month: '2-digit' }).format(new Date());
  const row = a.locator('table.cifras tbody tr').last();
  const figures = await row.locator('td').allTextContents();
  assert.equal(figures[0], '2', `received this month (${month}): ${figures}`);
  assert.equal(figures[4], '1', `implemented this month: ${figures}`);
  assert.equal(await chart.locator('rect').count(), 6 * 5, 'six months × five series');
  await axe(a, 'resumen');

  // --- member B: nothing of A's, not even by direct address
  const b = await browser('B');
  await signIn(b, emailB, 'Secciones del departamento');
  await b.getByRole('heading', { name: 'Bandeja del departamento', level: 1 }).waitFor();
  await b.getByRole('status').filter({ hasText: /elementos?, \d+ sin leer/ }).waitFor();
  assert.equal(await b.getByRole('link', { name: `${ticket.number} ${ticket.subject}` }).count(), 0);
  assert.equal(await b.getByRole('link', { name: opportunity.title }).count(), 0);
  await b.goto(`${base}/app/derivaciones/${escalation.id}`);
  await b.getByRole('heading', { name: 'Derivación no disponible', level: 1 }).waitFor();
  assert.equal(await b.getByText(reason).count(), 0);
  await axe(b, 'no disponible');
  await b.goto(`${base}/app/oportunidades/${opportunity.id}`);
  await b.getByRole('heading', { name: 'Oportunidad no disponible', level: 1 }).waitFor();
  const direct = await call('GET', `/escalations/${escalation.id}`, undefined, {}, (await ok('POST', `/agents/${agents.find((x) => x.email === emailB).id}/tokens`, { name: 'b' })).token);
  assert.equal(direct.status, 404);
  console.log('another department sees none of it');
}

await main(run, 'browser department test: ok');
