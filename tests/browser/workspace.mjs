// End-to-end browser test of the agents' workspace (/app): a whole shift.
//
// Usage: node workspace.mjs <base-url> <admin-token> <screenshot-dir> <email-A> <email-B> <password>
//
// Agents A and B exist with that password (the Rust test creates them). Drives headless
// Chromium (/usr/bin/chromium, playwright-core): wrong password → the Spanish error; sign in;
// "Mis casos"; open a ticket; `::` canned response; reply (the API shows the message, the
// outbox the mail); internal note; a second browser context sees "está viendo" / "está
// respondiendo"; a mail posted to the inbound endpoint appears without reload; solve (after the
// "newer message" warning); the bell counts an assignment; keyboard (j/k, Enter, ?, Ctrl+K, r);
// sign out. Every screen at 1366×768 and 1920×1080: axe-core (0 serious/critical), no sideways
// scrolling, a screenshot (ws-<screen>-<width>.png). Prints `browser workspace test: ok` on success.

import assert from 'node:assert/strict';
import { harness, LARGE, SMALL } from './lib.mjs';

const [base, admin, shots, emailA, emailB, password] = process.argv.slice(2);
if (!base || !admin || !shots || !emailA || !emailB || !password) {
  console.error('usage: node workspace.mjs <base-url> <admin-token> <screenshot-dir> <email-A> <email-B> <password>');
  process.exit(2);
}
const { call, ok, shot, axe, browser, main, signIn } = harness({ base, token: admin, shots, password, prefix: 'ws' });

/** Both sizes of one screen; back to the small one afterwards. */
async function shots2(page, name) {
  await page.setViewportSize(SMALL);
  await shot(page, `${name}-1366`);
  await page.setViewportSize(LARGE);
  await shot(page, `${name}-1920`);
  await page.setViewportSize(SMALL);
}


async function run() {
  // --- data through the API
  const me = async (email) => (await ok('GET', '/agents')).find((a) => a.email === email);
  const agentA = await me(emailA);
  const agentB = await me(emailB);
  const requester = { name: 'María Pérez', email: 'maria.perez@proveedor.cl', rut: '12.345.678-5', segment: 'proveedor', organization: 'Ferretería Pérez' };
  const newTicket = (subject, assignee) => ok('POST', '/tickets', { subject, body: `Detalle: ${subject}`, requester, queue: 'mesa-de-ayuda', assignee_id: assignee, acknowledge: false });
  // A works the help desk's queue: its new tickets reach A live.
  const helpDesk = (await ok('GET', '/queues')).find((q) => q.slug === 'mesa-de-ayuda');
  await ok('PATCH', `/queues/${helpDesk.id}/routing`, { members: [agentA.id] });
  const t1 = await newTicket('No puedo recuperar mi clave', agentA.id);
  const t2 = await newTicket('Consulta sobre Compra Ágil', agentA.id);
  const canned = await ok('POST', '/canned-responses', {
    shortcut: 'clavetest', title: 'Recuperar clave (prueba)', scope: 'shared',
    body: 'Hola {nombre}: para su caso {numero}, use la opción «Recuperar clave».',
  });
  console.log(`tickets ${t1.number} and ${t2.number}; canned response ${canned.id}`);

  // --- sign-in: wrong password, then right
  const a = await browser('A');
  const first = await a.goto(`${base}/app`);
  assert.equal(first.status(), 200);
  const csp = first.headers()['content-security-policy'];
  assert.ok(csp.includes("script-src 'self'") && !csp.includes('unsafe-inline'), csp);
  assert.ok(first.headers().etag, 'the page has an ETag');
  assert.equal(await a.getAttribute('html', 'lang'), 'es-CL');
  await a.getByLabel('Correo electrónico').fill(emailA);
  await a.getByLabel('Contraseña').fill('no-es-la-clave');
  await a.getByRole('button', { name: 'Ingresar' }).click();
  await a.getByRole('alert').filter({ hasText: 'El correo electrónico o la contraseña no son correctos.' }).waitFor();
  await axe(a, 'ingreso');
  await a.getByLabel('Contraseña').fill(password);
  await a.getByRole('button', { name: 'Ingresar' }).click();
  await a.getByRole('navigation', { name: 'Vistas' }).waitFor();
  console.log('signed in after the Spanish error');

  // --- Mis casos
  await a.getByRole('heading', { name: 'Mis casos', level: 1 }).waitFor();
  const row1 = a.getByRole('link', { name: `${t1.number} ${t1.subject}` });
  await row1.waitFor();
  await a.getByRole('link', { name: `${t2.number} ${t2.subject}` }).waitFor();
  await a.locator('a[data-vista="mine"] .cuenta').filter({ hasText: /^2 casos$/ }).waitFor();
  await axe(a, 'lista');

  // --- the lists are live: a new unassigned ticket of A's queue shows in "Sin asignar", row and
  // count, without a reload
  const unassigned = a.locator('a[data-vista="unassigned"] .cuenta');
  const waiting = Number((await unassigned.textContent()).match(/\d+/)[0]);
  await a.locator('a[data-vista="unassigned"]').click();
  await a.getByRole('heading', { name: 'Sin asignar', level: 1 }).waitFor();
  const t0 = await newTicket('Boleta de garantía por devolver', null);
  await a.getByRole('link', { name: `${t0.number} ${t0.subject}` }).waitFor();
  await unassigned.filter({ hasText: new RegExp(`^${waiting + 1} casos$`) }).waitFor();
  await a.locator('a[data-vista="mine"]').click();
  await row1.waitFor();
  console.log('a new ticket appeared in "Sin asignar" (row and count) without a reload');

  // --- open a ticket
  const clicked = Date.now();
  await row1.click();
  await a.getByRole('heading', { name: t1.subject, level: 1 }).waitFor();
  await a.locator('#mensajes li').first().waitFor();
  console.log(`ticket shown ${Date.now() - clicked} ms after the click`);
  assert.ok(a.url().endsWith(`/app/casos/${t1.number}`), a.url());
  await a.getByText('María Pérez <maria.perez@proveedor.cl>').or(a.getByText('María Pérez', { exact: true })).first().waitFor();
  await a.getByText('12345678-5').waitFor();
  await axe(a, 'caso');

  // --- `::` canned response at the cursor
  const reply = a.getByRole('textbox', { name: 'Respuesta', exact: true });
  await reply.click();
  await reply.pressSequentially('Estimada: ::clavet');
  const option = a.getByRole('option', { name: /Recuperar clave \(prueba\)/ });
  await option.waitFor();
  await axe(a, 'caso con sugerencias');
  await reply.press('Enter');
  const filled = `Estimada: Hola María Pérez: para su caso ${t1.number}, use la opción «Recuperar clave».`;
  await a.waitForFunction((text) => document.querySelector('#redactor-texto').value === text, filled);
  console.log('canned response inserted with its placeholders filled');

  // --- the draft survives a reload
  await a.reload();
  await a.waitForFunction((text) => document.querySelector('#redactor-texto')?.value === text, filled);

  // --- attach two files, remove one, send the reply with the other
  const guide = '%PDF-1.4\n% guía de prueba\n%%EOF\n';
  const picker = a.getByLabel('Adjuntar archivos', { exact: true });
  await picker.setInputFiles([
    { name: 'guia.pdf', mimeType: 'application/pdf', buffer: Buffer.from(guide) },
    { name: 'borrador.txt', mimeType: 'text/plain', buffer: Buffer.from('no va') },
  ]);
  await a.getByRole('button', { name: 'Quitar borrador.txt', exact: true }).click();
  assert.equal(await a.locator('#elegidos li').count(), 1);
  assert.match(await a.locator('#elegidos li').first().textContent(), /guia\.pdf .*B/);

  // --- send the reply: the API has the message, the outbox the mail
  await a.getByRole('button', { name: 'Enviar', exact: true }).click();
  await a.locator('#mensajes li.publico.agent').filter({ hasText: 'Recuperar clave' }).waitFor();
  await a.locator('#mensajes li.publico.agent .adjuntos a').filter({ hasText: 'guia.pdf' }).waitFor();
  assert.equal(await a.locator('#elegidos li').count(), 0, 'the sent files leave the composer');
  assert.equal(await reply.inputValue(), '');
  const messages = await ok('GET', `/tickets/${t1.id}/messages`);
  const sent = messages.find((m) => m.visibility === 'public' && m.author_agent_id === agentA.id && m.body === filled);
  assert.ok(sent, JSON.stringify(messages));
  assert.deepEqual(sent.attachments.map((f) => [f.filename, f.size]), [['guia.pdf', Buffer.byteLength(guide)]]);
  const outbox = await ok('GET', `/channels/email/outbox?ticket_id=${t1.id}`);
  assert.ok(outbox.some((m) => m.message_row_id === sent.id && m.recipient === 'maria.perez@proveedor.cl'), JSON.stringify(outbox));
  console.log('reply stored and mailed through the outbox');

  // --- internal note with `n` and Ctrl+Enter
  await a.locator('#titulo-caso').click();
  await a.keyboard.press('n');
  const note = a.getByRole('textbox', { name: 'Nota interna', exact: true });
  await assert.doesNotReject(note.waitFor());
  assert.ok(await note.evaluate((el) => el === document.activeElement), 'n focuses the note box');
  await note.fill('Revisar si el proveedor tiene la clave bloqueada.');
  await note.press('Control+Enter');
  await a.locator('#mensajes li.interno').filter({ hasText: 'clave bloqueada' }).waitFor();
  const stored = (await ok('GET', `/tickets/${t1.id}/messages`)).find((m) => m.visibility === 'internal' && m.body.includes('clave bloqueada'));
  assert.ok(stored, 'the note is stored as internal');
  assert.ok(!(await ok('GET', `/channels/email/outbox?ticket_id=${t1.id}`)).some((m) => m.message_row_id === stored.id), 'a note is never mailed');
  await shots2(a, 'ws-caso');
  console.log('internal note added apart from the replies');

  // --- two agents on the same ticket
  const b = await browser('B');
  await signIn(b, emailB, 'Vistas');
  await b.goto(`${base}/app/casos/${t1.number}`);
  await b.getByRole('heading', { name: t1.subject, level: 1 }).waitFor();
  await a.getByText(`${agentB.name} está viendo este caso`).waitFor();
  await b.getByText(`${agentA.name} está viendo este caso`).waitFor();
  await b.getByRole('textbox', { name: 'Respuesta', exact: true }).pressSequentially('Escribo algo');
  await a.getByText(`${agentB.name} está respondiendo`).waitFor();
  await shot(a, 'ws-dos-agentes-1366');
  console.log('each agent sees the other on the ticket');
  await b.getByRole('button', { name: 'Cerrar sesión' }).click();
  await b.getByRole('button', { name: 'Ingresar' }).waitFor();
  await a.getByText(`${agentB.name} está`).waitFor({ state: 'detached', timeout: 35_000 }).catch(() => {});

  // --- a mail from the requester appears without reload
  const pdf = '%PDF-1.4\n%comprobante\n';
  const mail = [
    'From: María Pérez <maria.perez@proveedor.cl>', 'To: soporte@mesa.chilecompra.cl', `Subject: Re: [${t1.number}] ${t1.subject}`,
    `Message-ID: <${Date.now()}@proveedor.cl>`, 'Content-Type: multipart/mixed; boundary="b"', '',
    '--b', 'Content-Type: text/plain; charset=utf-8', '', 'Gracias, ya pude entrar con la clave nueva.',
    '--b', 'Content-Type: application/pdf; name="comprobante.pdf"', 'Content-Disposition: attachment; filename="comprobante.pdf"',
    'Content-Transfer-Encoding: base64', '', Buffer.from(pdf).toString('base64'), '--b--', '',
  ].join('\r\n');
  const posted = Date.now();
  const inbound = await call('POST', '/channels/email/inbound', mail, { 'content-type': 'message/rfc822' });
  assert.ok(inbound.status < 300, JSON.stringify(inbound));
  await a.locator('#mensajes li.requester').filter({ hasText: 'ya pude entrar' }).waitFor();
  console.log(`inbound mail shown live after ${Date.now() - posted} ms`);
  // Its attachment is listed with a link that serves the same bytes, typed from them.
  const file = a.locator('#mensajes li.requester').getByRole('link', { name: 'comprobante.pdf' });
  await file.waitFor();
  const download = await a.request.get(new URL(await file.getAttribute('href'), base).toString());
  assert.equal(download.status(), 200);
  assert.equal(download.headers()['content-type'], 'application/pdf');
  assert.equal(await download.text(), pdf);

  // --- solve: reply and set "Resuelto"; the newer message makes it warn first
  await a.locator('#titulo-caso').click();
  await a.keyboard.press('r');
  await a.getByRole('textbox', { name: 'Respuesta', exact: true }).fill('Nos alegra. Cerramos el caso.');
  await a.getByLabel('Estado al enviar').selectOption('solved');
  await a.getByRole('button', { name: 'Enviar', exact: true }).click();
  await a.getByText('Llegó un mensaje nuevo desde que abrió el caso').waitFor();
  await axe(a, 'advertencia');
  await a.getByRole('button', { name: 'Enviar de todos modos' }).click();
  await a.locator('#estado-caso').filter({ hasText: 'Resuelto' }).waitFor();
  assert.equal((await ok('GET', `/tickets/${t1.id}`)).status, 'solved');
  console.log('solved with the reply');

  // --- event history on demand
  await a.getByRole('button', { name: 'Ver historial' }).click();
  await a.locator('#historial li').filter({ hasText: 'Cambio de estado' }).first().waitFor();

  // --- the bell counts an assignment
  // Unread so far: T1 and T2 assigned to A, and María's answer on T1.
  const before = 3;
  await a.waitForFunction((n) => Number(document.querySelector('#campana').dataset.unread) === n, before);
  const t3 = await newTicket('Registro de proveedores rechazado', null);
  await ok('PATCH', `/tickets/${t3.id}`, { assignee_id: agentA.id });
  await a.waitForFunction((n) => Number(document.querySelector('#campana').dataset.unread) === n + 1, before);
  const bell = a.getByRole('button', { name: new RegExp(`Notificaciones\\W*${before + 1} sin leer`) });
  await bell.click();
  await a.getByRole('link', { name: new RegExp(t3.number) }).waitFor();
  await axe(a, 'notificaciones');
  await bell.click();
  console.log(`bell went from ${before} to ${before + 1}`);

  // --- keyboard: the list with j/k and Enter, ?, Ctrl+K, r
  await a.getByRole('link', { name: /^Mis casos/ }).click();
  await a.getByRole('link', { name: `${t3.number} ${t3.subject}` }).waitFor();
  const numbers = await a.locator('table.casos tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.numero));
  await a.locator('#principal').focus();
  await a.keyboard.press('j');
  await a.keyboard.press('j');
  await a.keyboard.press('k');
  assert.equal(await a.evaluate(() => document.activeElement.textContent), numbers[0]);
  await a.keyboard.press('j');
  assert.equal(await a.evaluate(() => document.activeElement.textContent), numbers[1]);
  await a.keyboard.press('Enter');
  await a.waitForURL(`**/app/casos/${numbers[1]}`);
  await a.locator('#titulo-caso').waitFor();
  await a.locator('#titulo-caso').click();
  await a.keyboard.press('?');
  const help = a.getByRole('dialog', { name: 'Atajos de teclado' });
  await help.waitFor();
  await axe(a, 'atajos');
  await a.keyboard.press('Escape');
  await help.waitFor({ state: 'detached' });
  await a.keyboard.press('Control+k');
  const palette = a.getByRole('dialog', { name: 'Paleta de comandos' });
  await palette.waitFor();
  await a.getByRole('combobox', { name: 'Comando o número de caso' }).fill(t2.number);
  await a.getByRole('option', { name: `Ir al caso ${t2.number}` }).waitFor();
  await axe(a, 'paleta');
  await a.keyboard.press('Enter');
  await a.waitForURL(`**/app/casos/${t2.number}`);
  await a.getByRole('heading', { name: t2.subject, level: 1 }).waitFor();
  await a.keyboard.press('Control+k');
  await a.getByRole('combobox', { name: 'Comando o número de caso' }).fill('pendiente');
  await a.getByRole('option', { name: 'Cambiar estado a Pendiente' }).click();
  await a.locator('#estado-caso').filter({ hasText: 'Pendiente' }).waitFor();
  assert.equal((await ok('GET', `/tickets/${t2.id}`)).status, 'pending');
  await a.locator('#titulo-caso').click();
  await a.keyboard.press('Control+k');
  await a.getByRole('combobox', { name: 'Comando o número de caso' }).fill('clavetest');
  await a.getByRole('option', { name: 'Insertar respuesta predefinida: Recuperar clave (prueba) (::clavetest)' }).click();
  await a.waitForFunction((n) => document.querySelector('#redactor-texto')?.value.includes(`para su caso ${n},`), t2.number);
  await a.locator('#titulo-caso').click();
  await a.keyboard.press('r');
  assert.ok(await a.getByRole('textbox', { name: 'Respuesta', exact: true }).evaluate((el) => el === document.activeElement));
  console.log('keyboard: j/k, Enter, ?, Ctrl+K (go to a number, change status, insert a canned response), r');

  // --- the other lists
  for (const view of ['unassigned', 'warning', 'breached']) {
    const link = a.locator(`a[data-vista="${view}"]`);
    if (await link.count()) {
      await link.click();
      await a.locator('#tabla:not([aria-busy]) > *').first().waitFor();
      await axe(a, `vista ${view}`);
    } else {
      throw new Error(`no link to the view ${view}`);
    }
  }

  // --- sign out
  await a.getByRole('button', { name: 'Cerrar sesión' }).click();
  await a.getByRole('button', { name: 'Ingresar' }).waitFor();
  const after = await a.evaluate(() => fetch('/api/v1/session').then((r) => r.status));
  assert.equal(after, 401, 'the session ended');
  console.log('signed out');

  // --- the invitation page
  await a.goto(`${base}/app/clave#token-que-no-existe`);
  assert.ok(!a.url().includes('token-que-no-existe'), 'the token leaves the address bar');
  await a.getByLabel('Nueva contraseña').fill('una-clave-larga-2026');
  await a.getByLabel('Repita la contraseña').fill('una-clave-larga-2026');
  await a.getByRole('button', { name: 'Guardar contraseña' }).click();
  await a.getByRole('alert').filter({ hasText: /\S/ }).first().waitFor();
  await axe(a, 'clave');
}

await main(run, 'browser workspace test: ok');
