// Pantallas de los departamentos (rol `department`): su bandeja, una derivación, una oportunidad
// de mejora y el resumen mensual. Clientes de la API /api/v1 como el resto del espacio de trabajo.
// Rutas: /app/bandeja, /app/derivaciones/<id>, /app/oportunidades/<id>, /app/resumen.

import { h, $, api, get, fmtDate, timeEl, relative, announce, state, signOut, showFieldErrors, ESCALATION_MODE, ESCALATION_STATUS, PRIORITY, SEGMENT } from './app.js';
import { barChart } from './charts.js';

export const OPPORTUNITY_STATUS = {
  draft: 'Borrador', sent: 'Enviada', acknowledged: 'Recibida', in_progress: 'En curso',
  implemented: 'Implementada', rejected: 'Rechazada', duplicate: 'Duplicada',
};
/** Lo que el departamento puede hacer desde cada estado (domain/opportunity.rs). */
const NEXT_STEPS = {
  sent: ['acknowledged', 'implemented', 'rejected', 'duplicate'],
  acknowledged: ['in_progress', 'implemented', 'rejected', 'duplicate'],
  in_progress: ['implemented', 'rejected', 'duplicate'],
};
const STEP_WORD = {
  acknowledged: 'Acusar recibo', in_progress: 'Iniciar el trabajo', implemented: 'Marcar como implementada',
  rejected: 'Rechazar', duplicate: 'Marcar como duplicada',
};
const CLOCK = { ack: 'Acuse de recibo', answer: 'Respuesta' };
const CLOCK_STATE = { on_time: ['ok', 'A tiempo'], at_risk: ['warning', 'En riesgo'], breached: ['breached', 'Vencido'], met: ['ok', 'Cumplido'] };
const FIGURES = [
  ['received', 'Recibidos'], ['acknowledged_in_time', 'Acusados a tiempo'], ['answered_in_time', 'Respondidos a tiempo'],
  ['implemented', 'Implementadas'], ['rejected', 'Rechazadas'],
];
const MONTHS = ['ene', 'feb', 'mar', 'abr', 'may', 'jun', 'jul', 'ago', 'sept', 'oct', 'nov', 'dic'];

const dept = () => state.me.department_id;

// ------------------------------------------------------------------ marco

export async function departmentShell() {
  const name = await get(`/departments/${dept()}`).then((d) => d.name).catch(() => 'Departamento');
  state.department = name;
  $('#raiz').replaceChildren(
    h('header.barra',
      h('a.marca', { href: '/app/bandeja' }, 'Atención ', h('span', 'Usuaria')),
      h('span.depto', name),
      h('span.espacio'),
      h('span.quien', state.me.name),
      h('button#salir.secundaria', { type: 'button', onclick: signOut }, 'Cerrar sesión')),
    h('div.cuerpo',
      h('nav.vistas', { 'aria-label': 'Secciones del departamento' }, h('h2', 'Departamento'), h('ul#lista-vistas',
        h('li', h('a', { href: '/app/bandeja', 'data-seccion': 'bandeja' }, h('span', 'Bandeja'), h('span.cuenta#cuenta-bandeja'))),
        h('li', h('a', { href: '/app/resumen', 'data-seccion': 'resumen' }, h('span', 'Resumen mensual'))))),
      h('main#principal', { tabindex: '-1' })));
}

export function departmentRoute(path) {
  const item = path.match(/^\/app\/(derivaciones|oportunidades)\/(\d+)$/);
  let section = 'bandeja';
  if (path === '/app/resumen') section = 'resumen';
  for (const a of document.querySelectorAll('[data-seccion]')) {
    a.setAttribute('aria-current', a.dataset.seccion === section && !item ? 'page' : 'false');
  }
  if (item) return item[1] === 'derivaciones' ? escalationScreen(Number(item[2])) : opportunityScreen(Number(item[2]));
  if (section === 'resumen') return summaryScreen();
  if (path !== '/app/bandeja') history.replaceState(null, '', '/app/bandeja');
  return inboxScreen();
}

// ------------------------------------------------------------------ utilidades

/** Un reloj interno: palabra y color (nunca el color solo) y su vencimiento. */
function clockItem(c) {
  const [tone, word] = CLOCK_STATE[c.state] || ['ok', c.state];
  const when = c.stopped_at ? h('span.tenue', ' · detenido ', timeEl(c.stopped_at)) : h('span.tenue', ' · vence ', timeEl(c.due_at), ` (${relative(c.due_at)})`);
  return h('li', h('strong', CLOCK[c.metric] || c.metric), ': ', h(`span.sla.sla-${tone}`, word), when);
}
function clockCell(clocks, metric) {
  const c = (clocks || []).find((x) => x.metric === metric);
  if (!c) return h('span.sla.sla-none', 'Sin plazo');
  const [tone, word] = CLOCK_STATE[c.state] || ['ok', c.state];
  const detail = c.stopped_at ? `el ${fmtDate(c.stopped_at)}` : relative(c.due_at);
  return h(`span.sla.sla-${tone}`, { title: `Vence ${fmtDate(c.due_at)} (hora de Santiago)` }, `${word} · ${detail}`);
}

function fieldError(id) {
  return h(`p.error-campo#${id}`, { role: 'alert' });
}

/** Elementos sin leer de la bandeja: `tipo:id` → ids de la bandeja por acusar. */
async function unread() {
  const map = new Map();
  let after = null;
  for (let i = 0; i < 10; i += 1) {
    const q = new URLSearchParams({ limit: '100' });
    if (after) q.set('after', after);
    const page = await get(`/departments/${dept()}/inbox?${q}`);
    for (const item of page.items) {
      const key = `${item.kind}:${item.item_id}`;
      map.set(key, [...(map.get(key) || []), item.id]);
    }
    if (page.items.length < 100) break;
    after = page.next_cursor;
  }
  return map;
}

async function acknowledge(ids) {
  if (ids?.length) await api('POST', `/departments/${dept()}/inbox/ack`, { ids });
}

function unavailable(main, what, e) {
  document.title = `${what} no disponible · Atención Usuaria`;
  const text = e.status === 404 ? `No encontramos esta ${what.toLowerCase()}, o no fue enviada a su departamento.` : e.message;
  main.replaceChildren(h('h1', `${what} no disponible`), h('p.error', { role: 'alert' }, text), h('p', h('a', { href: '/app/bandeja' }, 'Volver a la bandeja')));
}

// ------------------------------------------------------------------ bandeja

async function inboxScreen() {
  const main = $('#principal');
  const all = new URLSearchParams(location.search).get('mostrar') === 'todas';
  document.title = `Bandeja · ${state.department}`;
  const show = h('select#mostrar', { onchange: (ev) => { history.replaceState(null, '', ev.target.value === 'todas' ? '/app/bandeja?mostrar=todas' : '/app/bandeja'); inboxScreen(); } },
    h('option', { value: 'pendientes', selected: !all }, 'Pendientes'), h('option', { value: 'todas', selected: all }, 'Todas, también las cerradas'));
  main.replaceChildren(
    h('div.cabeza-lista', h('h1', 'Bandeja del departamento'), h('p.tenue#resumen-bandeja', { role: 'status' }, 'Cargando…')),
    h('div.filtros', h('div.campo', h('label', { for: 'mostrar' }, 'Mostrar'), show)),
    h('div#tabla'));
  try {
    const [escalations, opportunities, marks] = await Promise.all([
      get(`/departments/${dept()}/escalations?limit=100${all ? '' : '&status=open'}`),
      get('/opportunities?limit=100'),
      unread(),
    ]);
    const rows = [
      ...escalations.items.map((e) => ({
        kind: 'escalation', id: e.id, at: e.created_at, clocks: e.sla, href: `/app/derivaciones/${e.id}`,
        label: [h('span.numero', e.ticket_number), ' ', e.subject],
        type: `Derivación: ${ESCALATION_MODE[e.mode] || e.mode}`, status: ESCALATION_STATUS[e.status] || e.status, open: e.status === 'open',
      })),
      ...opportunities.items.filter((o) => o.status !== 'draft').map((o) => ({
        kind: 'opportunity', id: o.id, at: o.created_at, clocks: o.sla, href: `/app/oportunidades/${o.id}`,
        label: [o.title], type: 'Oportunidad de mejora', status: OPPORTUNITY_STATUS[o.status] || o.status,
        open: !['implemented', 'rejected', 'duplicate'].includes(o.status),
      })),
    ].filter((r) => all || r.open).sort((a, b) => a.at.localeCompare(b.at));
    const unreadCount = rows.filter((r) => marks.has(`${r.kind}:${r.id}`)).length;
    $('#resumen-bandeja').textContent = `${rows.length} ${rows.length === 1 ? 'elemento' : 'elementos'}, ${unreadCount} sin leer`;
    const badge = $('#cuenta-bandeja');
    if (badge) badge.replaceChildren(String(rows.filter((r) => r.open).length), h('span.oculto', ' pendientes'));
    $('#tabla').replaceChildren(rows.length ? h('table.casos.bandeja', h('caption.oculto', 'Bandeja del departamento, de lo más antiguo a lo más reciente'),
      h('thead', h('tr', ...['Elemento', 'Tipo', 'Recibido', 'Acuse de recibo', 'Respuesta', 'Estado'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', rows.map((r) => {
        const isUnread = marks.has(`${r.kind}:${r.id}`);
        return h(`tr${isUnread ? '.no-leida' : ''}`, { 'data-elemento': `${r.kind}:${r.id}` },
          h('td.asunto', isUnread ? h('span.sin-leer', 'Sin leer') : null, h('a.enlace-caso', { href: r.href }, ...r.label)),
          h('td', r.type), h('td.fecha', timeEl(r.at)),
          h('td', clockCell(r.clocks, 'ack')), h('td', clockCell(r.clocks, 'answer')), h('td', r.status));
      }))) : h('p.vacio', all ? 'Su departamento no ha recibido nada todavía.' : 'No hay nada pendiente. ¡Bandeja al día!'));
  } catch (e) {
    $('#tabla').replaceChildren(h('p.error', { role: 'alert' }, e.message));
  }
}

// ------------------------------------------------------------------ derivación

async function escalationScreen(id) {
  const main = $('#principal');
  main.replaceChildren(h('p.cargando', { role: 'status' }, 'Cargando la derivación…'));
  let e;
  let marks;
  try {
    [e, marks] = await Promise.all([get(`/escalations/${id}`), unread()]);
  } catch (err) {
    return unavailable(main, 'Derivación', err);
  }
  document.title = `${e.ticket_number} · ${e.subject}`;
  const pending = marks.get(`escalation:${id}`) || [];
  const ackClock = e.sla.find((c) => c.metric === 'ack');
  const requester = e.requester;
  const contact = [['Correo', requester.email], ['Teléfono', requester.phone], ['RUT', requester.rut]].filter(([, v]) => v);
  const ack = h('div#acuse');
  if (pending.length || (ackClock && !ackClock.stopped_at)) {
    ack.append(h('button#acusar', { type: 'button', onclick: async (ev) => {
      ev.target.disabled = true;
      try {
        await acknowledge(pending);
        announce('Recibo acusado');
        await escalationScreen(id);
        $('#estado-acuse')?.focus();
      } catch (err) {
        ev.target.disabled = false;
        ack.append(h('p.error', { role: 'alert' }, err.message));
      }
    } }, 'Acusar recibo'));
  } else {
    ack.append(h('p.exito#estado-acuse', { tabindex: '-1' }, 'Recibo acusado', ackClock?.stopped_at ? [' el ', timeEl(ackClock.stopped_at)] : null, '.'));
  }
  main.replaceChildren(h('div.caso.derivacion',
    h('section', { 'aria-labelledby': 'titulo-derivacion' },
      h('header.cabeza-caso.tarjeta',
        h('p.numero', `Caso ${e.ticket_number}`),
        h('h1#titulo-derivacion', e.subject),
        h('p', h('span.marca-estado', ESCALATION_MODE[e.mode] || e.mode), ' ', h(`span.marca-estado.estado-${e.status === 'open' ? 'pending' : 'solved'}#estado-derivacion`, ESCALATION_STATUS[e.status] || e.status), ' ',
          h('span.tenue', 'Recibida ', timeEl(e.created_at)))),
      h('section.tarjeta', { 'aria-labelledby': 'titulo-consulta' }, h('h2#titulo-consulta', 'Lo que pregunta Atención Usuaria'), h('p.texto', e.reason)),
      h('section.tarjeta', { 'aria-labelledby': 'titulo-mensaje' }, h('h2#titulo-mensaje', 'Primer mensaje del solicitante'), h('p.texto', e.summary)),
      e.status === 'answered' ? answered(e) : answerForm(e)),
    h('div.lateral',
      h('section.tarjeta', { 'aria-labelledby': 'titulo-acuse' }, h('h2#titulo-acuse', 'Recepción'), ack,
        h('h3', 'Plazos internos'), e.sla.length ? h('ul.relojes', e.sla.map(clockItem)) : h('p.tenue', 'Sin plazos.')),
      h('section.tarjeta', { 'aria-labelledby': 'titulo-solicitante' }, h('h2#titulo-solicitante', 'Solicitante'),
        h('p', h('strong', requester.name), h('br'), h('span.tenue', [SEGMENT[requester.segment] || requester.segment, requester.organization].filter(Boolean).join(' · '))),
        contact.length ? h('dl.datos-contacto', contact.flatMap(([k, v]) => [h('dt', k), h('dd', v)]))
          : h('p.tenue', 'Atención Usuaria no compartió los datos de contacto del solicitante.')))));
}

function answered(e) {
  return h('section.tarjeta#respondida', { 'aria-labelledby': 'titulo-respuesta' }, h('h2#titulo-respuesta', 'Respuesta enviada'),
    h('p.texto', e.answer), h('p.tenue', 'Enviada ', timeEl(e.answered_at), '. Atención Usuaria la ve como nota interna del caso.'));
}

function answerForm(e) {
  const errors = { body: fieldError('error-respuesta') };
  const general = h('p.error', { role: 'alert' });
  const text = h('textarea#respuesta', { rows: 8, maxlength: 20000, 'aria-describedby': 'ayuda-respuesta error-respuesta' });
  const button = h('button', { type: 'submit' }, 'Enviar');
  const form = h('form.tarjeta.responder', { novalidate: true, 'aria-labelledby': 'titulo-responder' },
    h('h2#titulo-responder', 'Responder a Atención Usuaria'),
    h('div.campo', h('label', { for: 'respuesta' }, 'Respuesta'), text, errors.body,
      h('span.tenue#ayuda-respuesta', 'Queda como nota interna del caso y avisa al agente que la pidió. Se responde una sola vez.')),
    general, button);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    button.disabled = true;
    try {
      const done = await api('POST', `/escalations/${e.id}/answer`, { body: text.value });
      announce('Respuesta enviada');
      form.replaceWith(answered(done));
      $('#estado-derivacion').textContent = ESCALATION_STATUS[done.status] || done.status;
      $('#respondida').setAttribute('tabindex', '-1');
      $('#respondida').focus();
    } catch (err) {
      showFieldErrors(err, errors, general)?.previousElementSibling?.focus?.();
      button.disabled = false;
    }
  });
  return form;
}

// ------------------------------------------------------------------ oportunidad

async function opportunityScreen(id) {
  const main = $('#principal');
  main.replaceChildren(h('p.cargando', { role: 'status' }, 'Cargando la oportunidad…'));
  let o;
  let marks;
  try {
    [o, marks] = await Promise.all([get(`/opportunities/${id}`), unread()]);
  } catch (err) {
    return unavailable(main, 'Oportunidad', err);
  }
  document.title = `${o.title} · Oportunidad de mejora`;
  const steps = NEXT_STEPS[o.status] || [];
  main.replaceChildren(h('div.caso.oportunidad',
    h('section', { 'aria-labelledby': 'titulo-oportunidad' },
      h('header.cabeza-caso.tarjeta',
        h('p.numero', `Oportunidad de mejora n.º ${o.id}`),
        h('h1#titulo-oportunidad', o.title),
        h('p', h(`span.marca-estado.op-${o.status}#estado-oportunidad`, OPPORTUNITY_STATUS[o.status] || o.status), ' ',
          h('span.tenue', `Prioridad ${(PRIORITY[o.priority] || o.priority).toLowerCase()}`, o.category ? ` · Categoría ${o.category}` : '', ' · Recibida ', timeEl(o.created_at)))),
      h('section.tarjeta', { 'aria-labelledby': 'titulo-descripcion' }, h('h2#titulo-descripcion', 'Descripción'), h('p.texto', o.description),
        o.source === 'trend_detection' ? h('p.aviso', 'Propuesta por la detección de tendencias: un alza de casos del mismo tema.') : null),
      h('section.tarjeta', { 'aria-labelledby': 'titulo-impacto' }, h('h2#titulo-impacto', 'Impacto'),
        h('p.impacto', h('strong', String(o.ticket_count)), o.ticket_count === 1 ? ' caso de evidencia, de ' : ' casos de evidencia, de ',
          h('strong', String(o.requester_count)), o.requester_count === 1 ? ' solicitante' : ' solicitantes distintos'),
        o.evidence.length ? h('ul.lista-simple.evidencia', { 'aria-label': 'Casos de evidencia' }, o.evidence.map((t) => h('li', h('span.numero', t.number), ' ', t.subject))) : null,
        o.resolution ? [h('h3', 'Resolución'), h('p.texto', o.resolution)] : null),
      steps.length ? transitionForm(o, marks.get(`opportunity:${id}`) || []) : null),
    h('div.lateral',
      h('section.tarjeta', { 'aria-labelledby': 'titulo-plazos' }, h('h2#titulo-plazos', 'Plazos internos'),
        o.sla.length ? h('ul.relojes', o.sla.map(clockItem)) : h('p.tenue', 'Sin plazos.')),
      h('section.tarjeta', { 'aria-labelledby': 'titulo-historia' }, h('h2#titulo-historia', 'Historial'),
        h('ol.historial', o.events.map((ev) => h('li',
          h('strong', OPPORTUNITY_STATUS[ev.to] || ev.to), ' · ', timeEl(ev.at), ev.comment ? h('p.texto', ev.comment) : null)))))));
}

function transitionForm(o, pending) {
  const steps = NEXT_STEPS[o.status];
  const errors = { to: fieldError('error-paso'), comment: fieldError('error-comentario'), resolution: fieldError('error-resolucion'), duplicate_of: fieldError('error-duplicada') };
  const general = h('p.error', { role: 'alert' });
  const step = h('select#paso', { 'aria-describedby': 'error-paso' }, steps.map((s) => h('option', { value: s }, STEP_WORD[s])));
  const comment = h('textarea#comentario', { rows: 3, maxlength: 5000, 'aria-describedby': 'error-comentario' });
  const resolution = h('textarea#resolucion', { rows: 4, maxlength: 5000, 'aria-describedby': 'ayuda-resolucion error-resolucion' });
  const duplicate = h('input#duplicada', { type: 'number', min: 1, inputmode: 'numeric', 'aria-describedby': 'error-duplicada' });
  const resolutionField = h('div.campo', h('label', { for: 'resolucion' }, 'Resolución'), resolution, errors.resolution,
    h('span.tenue#ayuda-resolucion', 'Obligatoria al implementar (qué se hizo) o rechazar (por qué no).'));
  const duplicateField = h('div.campo', h('label', { for: 'duplicada' }, 'Duplicada de la oportunidad n.º'), duplicate, errors.duplicate_of);
  const sync = () => {
    resolutionField.hidden = !['implemented', 'rejected'].includes(step.value);
    duplicateField.hidden = step.value !== 'duplicate';
  };
  step.addEventListener('change', sync);
  sync();
  const button = h('button', { type: 'submit' }, 'Cambiar estado');
  const form = h('form.tarjeta.responder', { novalidate: true, 'aria-labelledby': 'titulo-paso' },
    h('h2#titulo-paso', 'Avanzar la oportunidad'),
    h('div.campo', h('label', { for: 'paso' }, 'Nuevo estado'), step, errors.to),
    h('div.campo', h('label', { for: 'comentario' }, 'Comentario'), comment, errors.comment),
    resolutionField, duplicateField, general, button);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { to: step.value };
    if (comment.value.trim()) body.comment = comment.value;
    if (!resolutionField.hidden && resolution.value.trim()) body.resolution = resolution.value;
    if (!duplicateField.hidden) body.duplicate_of = duplicate.value ? Number(duplicate.value) : null;
    button.disabled = true;
    try {
      const moved = await api('POST', `/opportunities/${o.id}/transitions`, body);
      // Actuar sobre ella es haberla leído.
      await acknowledge(pending).catch(() => {});
      announce(`Oportunidad: ${OPPORTUNITY_STATUS[moved.status]}`);
      await opportunityScreen(o.id);
      $('#estado-oportunidad')?.setAttribute('tabindex', '-1');
      $('#estado-oportunidad')?.focus();
    } catch (err) {
      showFieldErrors(err, errors, general)?.previousElementSibling?.focus?.();
      button.disabled = false;
    }
  });
  return form;
}

// ------------------------------------------------------------------ resumen mensual

function monthValue(date) {
  return `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, '0')}`;
}
function lastDay(month) {
  const [y, m] = month.split('-').map(Number);
  return `${month}-${String(new Date(y, m, 0).getDate()).padStart(2, '0')}`;
}
function monthName(month) {
  const [y, m] = month.split('-').map(Number);
  return `${MONTHS[m - 1]} ${y}`;
}

async function summaryScreen() {
  const main = $('#principal');
  document.title = `Resumen mensual · ${state.department}`;
  const params = new URLSearchParams(location.search);
  const now = new Date();
  const to = params.get('hasta') || monthValue(now);
  const from = params.get('desde') || monthValue(new Date(now.getFullYear(), now.getMonth() - 5, 1));
  const errors = { from: fieldError('error-desde'), to: fieldError('error-hasta') };
  const general = h('p.error', { role: 'alert' });
  const fromInput = h('input#desde', { type: 'month', value: from, required: true, 'aria-describedby': 'error-desde' });
  const toInput = h('input#hasta', { type: 'month', value: to, required: true, 'aria-describedby': 'error-hasta' });
  const form = h('form.filtros', { 'aria-label': 'Período del resumen' },
    h('div.campo', h('label', { for: 'desde' }, 'Desde (mes)'), fromInput, errors.from),
    h('div.campo', h('label', { for: 'hasta' }, 'Hasta (mes)'), toInput, errors.to),
    h('button', { type: 'submit' }, 'Ver resumen'), general);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    history.replaceState(null, '', `/app/resumen?desde=${fromInput.value}&hasta=${toInput.value}`);
    load();
  });
  const holder = h('div#resumen');
  main.replaceChildren(h('h1', 'Resumen mensual'), h('p.tenue', `${state.department}: lo recibido y lo resuelto cada mes, con sus plazos internos.`), form, holder);
  async function load() {
    holder.setAttribute('aria-busy', 'true');
    try {
      const q = new URLSearchParams({ from: `${fromInput.value}-01`, to: fromInput.value && toInput.value ? lastDay(toInput.value) : '' });
      const data = await get(`/departments/${dept()}/summary?${q}`);
      for (const el of Object.values(errors)) el.textContent = '';
      general.textContent = '';
      holder.replaceChildren(summaryChart(data.months), summaryTable(data.months));
    } catch (err) {
      showFieldErrors(err, errors, general)?.previousElementSibling?.focus?.();
      holder.replaceChildren();
    } finally {
      holder.removeAttribute('aria-busy');
    }
  }
  await load();
}

/** Barras agrupadas por mes: cada cifra con su color y su leyenda. */
function summaryChart(months) {
  const labels = months.map((m) => monthName(m.month));
  const title = `Resumen mensual de ${state.department}: recibidos, acusados y respondidos a tiempo, oportunidades implementadas y rechazadas, de ${labels[0]} a ${labels[labels.length - 1]}`;
  return h('div.tarjeta', barChart({ id: 'grafico-resumen', title, labels, series: FIGURES.map(([k, name]) => ({ name, values: months.map((m) => m[k]) })) }));
}

function summaryTable(months) {
  const pct = (part, whole) => (whole ? `${Math.round((100 * part) / whole)} %` : '—');
  return h('table.casos.cifras', h('caption', 'Cifras por mes'),
    h('thead', h('tr', h('th', { scope: 'col' }, 'Mes'), ...['Recibidos', 'Acusados a tiempo', 'Por responder', 'Respondidos a tiempo', 'Implementadas', 'Rechazadas'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', months.map((m) => h('tr', h('th', { scope: 'row' }, monthName(m.month)),
      h('td', String(m.received)), h('td', `${m.acknowledged_in_time} (${pct(m.acknowledged_in_time, m.received)})`),
      h('td', String(m.to_answer)), h('td', `${m.answered_in_time} (${pct(m.answered_in_time, m.to_answer)})`),
      h('td', String(m.implemented)), h('td', String(m.rejected))))));
}
