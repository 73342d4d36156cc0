// Calidad: la muestra de evaluación del período, la evaluación con su pauta, la disputa del agente
// y la resolución del supervisor; las alertas de tendencia con su historia y la oportunidad propuesta.
// Rutas: /app/calidad (supervisores: la muestra; agentes: «Mis evaluaciones»),
// /app/calidad/evaluaciones/<id>, /app/calidad/informe y /app/calidad/tendencias (supervisores y
// administradores).

import { h, $, api, get, announce, navigate, state, fmtDate, timeEl, showFieldErrors, CHANNEL, today, addDays, qualityAddress, qualityReportPath } from './app.js';
import { field, apiForm, options } from './admin.js';
import { lineChart } from './charts.js';
import { OPPORTUNITY_STATUS } from './departments.js';

const STATUS = { pending: 'Pendiente', completed: 'Enviada', disputed: 'Disputada', resolved: 'Resuelta' };
const REASON = { random: 'Al azar', low_csat: 'Encuesta con nota 4 o menos', manual: 'Elegida por un supervisor' };
const GRANULARITY = { hour: 'Por hora', day: 'Por día' };
const METHOD = { seasonal: 'Banda estacional (promedio + k·σ)', seasonal_poisson: 'Banda estacional y cola de Poisson' };

const manages = () => state.me.role === 'supervisor' || state.me.role === 'admin';
// One formatter per number of decimals and one collator: built per call, they cost more than the
// rest of drawing a report of a hundred agents.
const formats = new Map();
const number = (v, digits = 1) => {
  if (!formats.has(digits)) formats.set(digits, new Intl.NumberFormat('es-CL', { minimumFractionDigits: digits, maximumFractionDigits: digits }));
  return formats.get(digits).format(Number(v));
};
const byName = new Intl.Collator('es');
const scoreText = (v) => (v == null ? '—' : `${number(v)} de 100`);
const agentName = (id) => (id === state.me.id ? state.me.name : state.agents.get(id)) || `Agente n.º ${id}`;
const day = (iso) => fmtDate(iso).slice(0, 10);
/** El período de la muestra: su fin es exclusivo (la medianoche siguiente al último día). */
const periodText = (e) => (e.period_from ? `${day(e.period_from)} al ${day(new Date(new Date(e.period_to).getTime() - 1).toISOString())}` : 'Fuera de muestra');
const statusMark = (s, id) => h(`span.marca-estado.eval-${s}`, { id }, STATUS[s] || s);
const caseLink = (e) => h('a', { href: `/app/casos/${encodeURIComponent(e.ticket_number)}` }, h('span.numero', e.ticket_number), ' ', e.ticket_subject);

export function qualityRoute(rest) {
  const evaluation = rest.match(/^\/evaluaciones\/(\d+)$/);
  if (evaluation) return evaluationScreen(Number(evaluation[1]));
  const ticket = rest.match(/^\/evaluar\/([^/]+)$/);
  if (ticket && manages()) return caseEvaluationScreen(decodeURIComponent(ticket[1]));
  if (rest === '/tendencias' && manages()) return trendsScreen();
  if (rest === '/informe' && manages()) return reportScreen();
  if (rest === '') return manages() ? sampleScreen() : mineScreen();
  $('#principal').replaceChildren(h('h1', 'Página no encontrada'), h('p', h('a', { href: '/app/calidad' }, 'Ir a Calidad')));
  return null;
}

/** Las pestañas de Calidad para supervisores y administradores. */
function sections(current) {
  if (!manages()) return null;
  const links = [['/app/calidad', 'Muestra y evaluaciones'], ['/app/calidad/informe', 'Informe de calidad'], ['/app/calidad/tendencias', 'Alertas de tendencia']];
  return h('nav.secciones', { 'aria-label': 'Secciones de Calidad' },
    h('ul', links.map(([href, name]) => h('li', h('a', { href, 'aria-current': href === current ? 'page' : null }, name)))));
}

/** Draws in `holder` the elements `build()` answers, busy meanwhile; the API's errors go next to
 *  the filters' fields (or to `general`) and leave the holder empty. */
async function showFiltered(holder, filters, general, build) {
  for (const el of filters.errors.values()) el.textContent = '';
  general.textContent = '';
  holder.setAttribute('aria-busy', 'true');
  try {
    holder.replaceChildren(...await build());
  } catch (e) {
    showFieldErrors(e, filters.errors, general);
    holder.replaceChildren();
  } finally {
    holder.removeAttribute('aria-busy');
  }
}

function loading(text) {
  $('#principal').replaceChildren(h('p.cargando', { role: 'status' }, text));
}

// ------------------------------------------------------------------ lista de evaluaciones

/** La tabla de evaluaciones con «Ver más» (`GET /quality/evaluations`, la más nueva primero). */
function evaluationsTable(caption, query, cards, { agent = true } = {}) {
  const holder = h('div.tabla-evaluaciones');
  const cardName = (id) => cards.find((c) => c.id === id)?.name || (id ? `Pauta n.º ${id}` : 'Sin elegir');
  const row = (e) => h('tr', { 'data-evaluacion': e.id },
    h('th', { scope: 'row' }, h('a', { href: `/app/calidad/evaluaciones/${e.id}` }, `Evaluación n.º ${e.id}`)),
    h('td.asunto', caseLink(e), h('span.tenue', ` · ${CHANNEL[e.channel] || e.channel}`)),
    agent ? h('td', agentName(e.agent_id)) : null,
    h('td', cardName(e.scorecard_id)), h('td', periodText(e)), h('td', REASON[e.reason] || e.reason),
    h('td', statusMark(e.status)), h('td.puntaje-celda', scoreText(e.score)));
  const tbody = h('tbody');
  const more = h('button.secundaria', { type: 'button', hidden: true }, 'Ver más evaluaciones');
  let cursor = null;
  async function load(append) {
    holder.setAttribute('aria-busy', 'true');
    try {
      const q = new URLSearchParams({ ...query, limit: '50' });
      if (append && cursor) q.set('cursor', cursor);
      const page = await get(`/quality/evaluations?${q}`);
      if (!append) tbody.replaceChildren();
      tbody.append(...page.items.map(row));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      holder.replaceChildren(tbody.children.length ? table : h('p.vacio', 'No hay evaluaciones con estos filtros.'), more);
    } catch (e) {
      holder.replaceChildren(h('p.error', { role: 'alert' }, e.message));
    } finally {
      holder.removeAttribute('aria-busy');
    }
  }
  const heads = ['Evaluación', 'Caso', agent ? 'Agente' : null, 'Pauta', 'Período de la muestra', 'Motivo', 'Estado', 'Puntaje'].filter(Boolean);
  const table = h('table.casos.evaluaciones', h('caption', caption), h('thead', h('tr', heads.map((t) => h('th', { scope: 'col' }, t)))), tbody);
  more.addEventListener('click', () => load(true));
  holder.reload = () => load(false);
  return holder;
}

async function sampleScreen() {
  document.title = 'Calidad · Atención Usuaria';
  loading('Cargando la muestra…');
  const cards = await get('/quality/scorecards');
  const active = cards.filter((c) => c.active);
  const params = new URLSearchParams(location.search);
  const query = { status: params.get('estado') || '', agent_id: params.get('agente') || '', from: params.get('desde') || '', to: params.get('hasta') || '' };

  // El sorteo de la muestra de un período.
  const until = addDays(today(), -1);
  const from = h('input#m-desde', { type: 'date', value: addDays(until, -6) });
  const to = h('input#m-hasta', { type: 'date', value: until });
  const perAgent = h('input#m-por-agente', { type: 'number', min: 0, max: 100, step: 1, value: 3, inputmode: 'numeric' });
  const card = h('select#m-pauta', options([['', 'Elegirla al evaluar'], ...active.map((c) => [c.id, c.name])], active[0]?.id ?? ''));
  const form = apiForm('Sortear la muestra de un período', 'sorteo', (f) => [
    h('p.tenue', 'Por agente, casos resueltos en el período elegidos al azar por canal, más todos los que la encuesta calificó con 4 o menos. Repetir el sorteo del mismo período no duplica evaluaciones.'),
    h('div.fila-campos',
      field(f, 'from', 'Desde', from), field(f, 'to', 'Hasta', to, 'Incluye el día completo.'),
      field(f, 'per_agent', 'Casos al azar por agente', perAgent, 'De 0 a 100.'),
      field(f, 'scorecard_id', 'Pauta de evaluación', card)),
  ], {
    submit: 'Sortear muestra',
    send: () => api('POST', '/quality/samples', {
      from: from.value, to: to.value, per_agent: perAgent.value === '' ? null : Number(perAgent.value),
      scorecard_id: card.value ? Number(card.value) : null,
    }),
    done: async (r) => {
      await list.reload();
      const text = `Muestra del ${periodText({ period_from: r.period.from, period_to: r.period.to })}: ${r.created} evaluaciones nuevas${r.already_sampled ? `, ${r.already_sampled} ya estaban en la muestra` : ''}.`;
      announce(text);
      return text;
    },
  });

  // Filtros de la lista.
  const status = h('select#f-estado', options([['', 'Todos'], ...Object.entries(STATUS)], query.status));
  const people = (state.agentList || []).filter((a) => a.active !== false && ['agent', 'supervisor', 'admin'].includes(a.role));
  const agent = h('select#f-agente', options([['', 'Todos'], ...people.map((a) => [a.id, a.name])], query.agent_id));
  const createdFrom = h('input#f-desde', { type: 'date', value: query.from });
  const createdTo = h('input#f-hasta', { type: 'date', value: query.to });
  const filters = h('form.filtros', { 'aria-label': 'Filtrar evaluaciones' },
    h('div.campo', h('label', { for: 'f-estado' }, 'Estado'), status),
    h('div.campo', h('label', { for: 'f-agente' }, 'Agente'), agent),
    h('div.campo', h('label', { for: 'f-desde' }, 'Creadas desde'), createdFrom),
    h('div.campo', h('label', { for: 'f-hasta' }, 'Creadas hasta'), createdTo));
  let list = evaluationsTable('Evaluaciones de calidad, la más reciente primero', clean(query), cards);
  filters.addEventListener('submit', (ev) => ev.preventDefault());
  filters.addEventListener('change', () => {
    const q = clean({ status: status.value, agent_id: agent.value, from: createdFrom.value, to: createdTo.value });
    const address = clean({ estado: q.status, agente: q.agent_id, desde: q.from, hasta: q.to });
    history.replaceState(null, '', `/app/calidad${Object.keys(address).length ? `?${new URLSearchParams(address)}` : ''}`);
    const next = evaluationsTable('Evaluaciones de calidad, la más reciente primero', q, cards);
    list.replaceWith(next);
    list = next;
    list.reload();
  });

  // Any ticket, outside the sample.
  const number = h('input#o-caso', { maxlength: 40, autocomplete: 'off' });
  const other = h('form.filtros#fuera-de-muestra', { 'aria-labelledby': 'titulo-fuera' },
    h('h2#titulo-fuera', 'Evaluar un caso fuera de la muestra'),
    h('div.campo', h('label', { for: 'o-caso' }, 'Número del caso'), number),
    h('button', { type: 'submit' }, 'Evaluar el caso'));
  other.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (number.value.trim()) navigate(`/app/calidad/evaluar/${encodeURIComponent(number.value.trim())}`);
    else number.focus();
  });

  let scorecards = scorecardsList(cards);
  $('#principal').replaceChildren(
    h('div.cabeza-lista', h('h1', 'Calidad'), h('p.tenue', 'Muestra de evaluación, disputas y alertas de tendencia.')),
    sections('/app/calidad'), form, other,
    h('section', { 'aria-labelledby': 'titulo-evaluaciones' }, h('h2#titulo-evaluaciones', 'Evaluaciones'), filters, list),
    scorecards, scorecardForm((created) => {
      cards.push(created);
      const next = scorecardsList(cards);
      scorecards.replaceWith(next);
      scorecards = next;
      card.append(...options([[created.id, created.name]]));
    }));
  await list.reload();
}

const clean = (q) => Object.fromEntries(Object.entries(q).filter(([, v]) => v !== '' && v != null));

/** Las pautas de evaluación, con sus criterios (de solo lectura: una pauta no cambia). */
function scorecardsList(cards) {
  if (!cards.length) return h('p.vacio', 'No hay pautas de evaluación. Cree la primera en «Nueva pauta de evaluación».');
  return h('details.pautas', h('summary', `Pautas de evaluación (${cards.length})`),
    cards.map((c) => h('div.pauta', h('h3', c.name, c.active ? null : ' (inactiva)'), c.description ? h('p.tenue', c.description) : null,
      h('ul.lista-simple', c.criteria.map((k) => h('li', `${k.name}: peso ${k.weight}`, k.critical ? ', crítico' : '', k.max > 1 ? `, nota de 0 a ${k.max}` : ', cumple o no cumple'))))));
}

/** «Ida y vuelta» → «ida-y-vuelta»: la clave que se propone para un criterio. */
const keyOf = (name) => name.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40);

/** Una pauta nueva (`POST /quality/scorecards`) con sus criterios; una pauta no cambia después. */
function scorecardForm(created) {
  const name = h('input#p-nombre', { maxlength: 120, autocomplete: 'off' });
  const description = h('textarea#p-descripcion', { rows: 2 });
  const criteria = h('div.criterios');
  const rows = [];
  let form;
  function criterionRow(values = {}) {
    const row = { name: h('input', { value: values.name || '', autocomplete: 'off' }), key: h('input', { value: values.key || '', autocomplete: 'off' }),
      weight: h('input', { type: 'number', min: 1, max: 100, step: 1, inputmode: 'numeric', value: values.weight ?? 10 }),
      max: h('select', options([[1, 'Cumple o no cumple'], ...[2, 3, 4, 5, 7, 10].map((n) => [n, `De 0 a ${n}`])], values.max ?? 1)),
      critical: h('input', { type: 'checkbox', checked: !!values.critical }) };
    // The key follows the name until someone edits it.
    row.key.dataset.auto = values.key ? '' : 'si';
    row.name.addEventListener('input', () => { if (row.key.dataset.auto) row.key.value = keyOf(row.name.value); });
    row.key.addEventListener('input', () => { row.key.dataset.auto = ''; });
    return row;
  }
  /** Dibuja los criterios de nuevo (al agregar o quitar uno cambian los números y sus errores). */
  function draw() {
    for (const k of [...form.errors.keys()]) if (k.startsWith('criteria[')) form.errors.delete(k);
    criteria.replaceChildren(...rows.map((row, i) => {
      const n = i + 1;
      const id = (part) => { row[part].id = `p-${part}-${n}`; return row[part]; };
      const remove = h('button.secundaria', { type: 'button', disabled: rows.length === 1 }, `Quitar el criterio ${n}`);
      remove.addEventListener('click', () => { rows.splice(i, 1); draw(); criteria.querySelector('input')?.focus(); });
      return h('fieldset.criterio', h('legend', `Criterio ${n}`),
        h('div.fila-campos',
          field(form, `criteria[${i}].name`, 'Qué se evalúa', id('name')),
          field(form, `criteria[${i}].key`, 'Clave', id('key'), 'Minúsculas, dígitos, «-» o «_».'),
          field(form, `criteria[${i}].weight`, 'Peso', id('weight'), 'De 1 a 100.'),
          field(form, `criteria[${i}].max`, 'Nota', id('max')),
          h('div.campo.casilla', h('label', { for: id('critical').id }, row.critical, ' Crítico: un 0 deja la evaluación en 0'))),
        remove);
    }));
  }
  const add = h('button.secundaria', { type: 'button' }, 'Agregar criterio');
  add.addEventListener('click', () => { rows.push(criterionRow()); draw(); rows.at(-1).name.focus(); });
  const listError = h('p.error-campo#error-p-criterios', { role: 'alert' });
  form = apiForm('Nueva pauta de evaluación', 'nueva-pauta', (f) => [
    h('p.tenue', 'Una pauta no cambia una vez creada, para que las evaluaciones hechas conserven su sentido: para cambiar criterios, cree otra.'),
    field(f, 'name', 'Nombre de la pauta', name), field(f, 'description', 'Descripción (opcional)', description),
    h('fieldset.criterios-pauta', { 'aria-describedby': 'error-p-criterios' }, h('legend', 'Criterios'), criteria, listError, add),
  ], {
    submit: 'Crear pauta',
    send: () => api('POST', '/quality/scorecards', {
      name: name.value, description: description.value.trim() || null,
      criteria: rows.map((r) => ({ key: r.key.value.trim(), name: r.name.value, weight: r.weight.value === '' ? 0 : Number(r.weight.value),
        max: Number(r.max.value), critical: r.critical.checked })),
    }),
    done: (card) => {
      created(card);
      name.value = '';
      description.value = '';
      rows.splice(0, rows.length, criterionRow());
      draw();
      return `Pauta «${card.name}» creada con ${card.criteria.length} criterios.`;
    },
  });
  form.errors.set('criteria', listError);
  rows.push(criterionRow());
  draw();
  return form;
}

async function mineScreen() {
  document.title = 'Mis evaluaciones · Atención Usuaria';
  loading('Cargando sus evaluaciones…');
  const cards = await get('/quality/scorecards');
  const list = evaluationsTable('Mis evaluaciones de calidad, la más reciente primero', {}, cards, { agent: false });
  $('#principal').replaceChildren(
    h('div.cabeza-lista', h('h1', 'Mis evaluaciones'),
      h('p.tenue', 'Las evaluaciones de calidad de sus casos, una vez hechas. Si no está de acuerdo con una, puede disputarla una vez.')),
    list);
  await list.reload();
}

// ------------------------------------------------------------------ una evaluación

async function evaluationScreen(id) {
  document.title = `Evaluación n.º ${id} · Calidad`;
  loading('Cargando la evaluación…');
  let ev;
  let cards;
  try {
    [ev, cards] = await Promise.all([get(`/quality/evaluations/${id}`), get('/quality/scorecards')]);
  } catch (e) {
    $('#principal').replaceChildren(h('h1', 'Evaluación no disponible'),
      h('p', e.status === 404 ? 'No existe esa evaluación o usted no puede verla.' : e.message),
      h('p', h('a', { href: '/app/calidad' }, manages() ? 'Volver a Calidad' : 'Volver a Mis evaluaciones')));
    return;
  }
  renderEvaluation(ev, cards);
}

function renderEvaluation(ev, cards, focus) {
  const card = cards.find((c) => c.id === ev.scorecard_id);
  const mine = ev.agent_id === state.me.id;
  $('#principal').replaceChildren(h('div.evaluacion',
    h('p.volver', h('a', { href: '/app/calidad' }, manages() ? '← Calidad' : '← Mis evaluaciones')),
    h('div.cabeza-lista', h('h1#titulo-evaluacion', `Evaluación n.º ${ev.id}`), statusMark(ev.status, 'estado-evaluacion')),
    h('dl.ficha.ficha-evaluacion',
      h('dt', 'Caso'), h('dd', caseLink(ev)),
      h('dt', 'Agente evaluado'), h('dd', agentName(ev.agent_id)),
      h('dt', 'Canal'), h('dd', CHANNEL[ev.channel] || ev.channel),
      h('dt', 'Período de la muestra'), h('dd', periodText(ev)),
      h('dt', 'Motivo'), h('dd', REASON[ev.reason] || ev.reason),
      h('dt', 'Pauta'), h('dd', card?.name || 'Por elegir')),
    ev.status === 'pending'
      ? (manages() ? markingForm(ev, cards) : h('p', 'Esta evaluación aún no se hace.'))
      : result(ev, card),
    ev.dispute_reason ? h('section.tarjeta', { 'aria-labelledby': 'titulo-disputa' },
      h('h2#titulo-disputa', 'Disputa del agente'), h('p.texto', ev.dispute_reason),
      h('p.tenue', `${mine ? 'Usted la disputó' : `${agentName(ev.agent_id)} la disputó`} el `, timeEl(ev.disputed_at), '.')) : null,
    ev.status === 'completed' && mine ? disputeForm(ev, cards) : null,
    ev.status === 'disputed' && manages() ? resolutionForm(ev, card, cards) : null,
    ev.status === 'disputed' && !manages() ? h('p.aviso', 'Un supervisor revisará su disputa y le responderá aquí.') : null,
    ev.resolution ? h('section.tarjeta', { 'aria-labelledby': 'titulo-resolucion' },
      h('h2#titulo-resolucion', 'Resolución del supervisor'), h('p.texto', ev.resolution),
      h('p.tenue', `Resuelta por ${ev.resolved_by && manages() ? agentName(ev.resolved_by) : 'un supervisor'} el `, timeEl(ev.resolved_at), '.')) : null));
  if (focus) {
    const el = $(focus);
    el?.setAttribute('tabindex', '-1');
    el?.focus();
  }
}

/** Lo que vale una nota, en palabras. */
function markText(c, m) {
  if (!m || m.mark == null) return 'No aplica';
  if (c.max === 1) return m.mark === 1 ? 'Cumple' : 'No cumple';
  return `${m.mark} de ${c.max}`;
}

function result(ev, card) {
  const marks = new Map((ev.marks || []).map((m) => [m.key, m]));
  const failed = (card?.criteria || []).filter((c) => ev.critical_failed.includes(c.key)).map((c) => c.name);
  return h('section.tarjeta', { 'aria-labelledby': 'titulo-resultado' },
    h('h2#titulo-resultado', 'Resultado'),
    h('p.puntaje', 'Puntaje: ', h('strong#puntaje', scoreText(ev.score))),
    failed.length ? h('p.alerta-error', `No cumplió un criterio crítico (${failed.join(', ')}): el puntaje es 0.`) : null,
    card ? h('table.casos.notas', h('caption', 'Notas por criterio'),
      h('thead', h('tr', ['Criterio', 'Peso', 'Nota', 'Observación'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', card.criteria.map((c) => h('tr',
        h('th', { scope: 'row' }, c.name, c.critical ? h('span.tenue', ' (crítico)') : null), h('td', String(c.weight)),
        h('td', markText(c, marks.get(c.key))), h('td', marks.get(c.key)?.comment || '—'))))) : null,
    ev.comment ? h('div', h('h3', 'Comentario del evaluador'), h('p.texto', ev.comment)) : null,
    h('p.tenue', 'Evaluada ', ev.evaluator_id && manages() ? `por ${agentName(ev.evaluator_id)} ` : '', 'el ', timeEl(ev.evaluated_at), '.'));
}

/** Un criterio como grupo de botones de opción: las notas posibles y «No aplica»; su error es el
 *  que la API da para `marks` nombrando su clave o para `marks[i]`. */
function criterionField(form, prefix, c, current) {
  const choices = c.max === 1 ? [[1, 'Cumple'], [0, 'No cumple']] : Array.from({ length: c.max + 1 }, (_, i) => [c.max - i, String(c.max - i)]);
  choices.push(['na', 'No aplica']);
  const name = `${prefix}-${c.key}`;
  const error = h(`p.error-campo#error-${name}`, { role: 'alert' });
  form.errors.set(`mark.${c.key}`, error);
  const isCurrent = (v) => current !== undefined && (current?.mark == null ? v === 'na' : current.mark === v);
  const note = h(`input#obs-${name}`, { maxlength: 2000, autocomplete: 'off', value: current?.comment || '' });
  const hint = [`peso ${c.weight}`, c.critical ? 'crítico: si no cumple, el puntaje es 0' : null, c.max > 1 ? `nota de 0 a ${c.max}` : null].filter(Boolean).join(' · ');
  const set = h('fieldset.criterio', { 'data-criterio': c.key, 'aria-describedby': error.id },
    h('legend', c.name, h('span.tenue', ` (${hint})`)),
    h('div.opciones', choices.map(([v, t]) => h('label.opcion', h('input', { type: 'radio', name, value: String(v), checked: isCurrent(v) }), ` ${t}`))),
    error,
    h('div.campo.observacion', h('label', { for: note.id }, 'Observación (opcional)'), note));
  set.mark = () => {
    const chosen = set.querySelector('input[type=radio]:checked');
    if (!chosen) return null;
    return { key: c.key, mark: chosen.value === 'na' ? null : Number(chosen.value), comment: note.value.trim() || null };
  };
  return set;
}

/** La API nombra un criterio sin nota en el mensaje de `marks` y una nota mala por su posición en
 *  lo enviado (`marks[i]`): ambos errores van junto a su criterio. */
function markErrors(e, keys) {
  const errors = (e.problem?.errors || []).map((f) => {
    const index = f.field.match(/^marks\[(\d+)\]/)?.[1];
    const key = index != null ? keys[Number(index)] : f.field === 'marks' ? f.message.match(/«(.+?)»/)?.[1] : null;
    return key ? { field: `mark.${key}`, message: f.message.replace(' (use null si no aplica)', ': marque una nota o «No aplica»') } : f;
  });
  return Object.assign(new Error(e.message), { status: e.status, problem: e.problem && { ...e.problem, errors } });
}

function criteriaOf(form, prefix, card, marks) {
  const current = new Map((marks || []).map((m) => [m.key, m]));
  const sets = card ? card.criteria.map((c) => criterionField(form, prefix, c, marks ? current.get(c.key) ?? null : undefined)) : [];
  const collect = () => sets.map((s) => s.mark()).filter(Boolean);
  return { sets, collect };
}

/** The marks of a scorecard: the scorecard to use (a choice unless `fixed`), a group per criterion
 *  and a general comment. `send({ scorecard_id, marks, comment })` answers the saved evaluation,
 *  which is then shown with its result. */
function marksForm({ cards, fixed, chosen = '', extra = () => [], submit, send, done }) {
  const active = cards.filter((c) => c.active || c.id === fixed);
  const card = h('select#e-pauta', options([['', 'Elija una pauta'], ...active.map((c) => [c.id, c.name])], chosen));
  const holder = h('div.criterios');
  const comment = h('textarea#e-comentario', { rows: 4, maxlength: 2000 });
  let criteria = { sets: [], collect: () => [] };
  let form;
  const showCriteria = () => {
    for (const k of [...form.errors.keys()]) if (k.startsWith('mark.')) form.errors.delete(k);
    criteria = criteriaOf(form, 'nota', cards.find((c) => c.id === (fixed ?? Number(card.value))));
    holder.replaceChildren(...criteria.sets);
  };
  const marksError = h('p.error-campo#error-notas', { role: 'alert' });
  form = apiForm('Evaluar con la pauta', 'evaluar', (f) => {
    f.errors.set('marks', marksError);
    return [
      h('p.tenue', 'Marque cada criterio; «No aplica» lo deja fuera del puntaje. Todos los criterios son obligatorios.'),
      ...extra(f),
      ...(fixed == null ? [field(f, 'scorecard_id', 'Pauta de evaluación', card)] : []),
      marksError, holder,
      field(f, 'comment', 'Comentario general (opcional)', comment),
    ];
  }, {
    submit,
    send: () => {
      const marks = criteria.collect();
      return send({ scorecard_id: fixed == null && card.value ? Number(card.value) : null, marks, comment: comment.value.trim() || null })
        .catch((e) => { throw markErrors(e, marks.map((m) => m.key)); });
    },
    done: (saved) => {
      renderEvaluation(saved, cards, '#titulo-resultado');
      announce(`${done} Puntaje: ${scoreText(saved.score)}.`);
      return '';
    },
  });
  card.addEventListener('change', showCriteria);
  showCriteria();
  return form;
}

/** A sampled evaluation, pending: the supervisor fills it in. */
function markingForm(ev, cards) {
  return marksForm({
    cards,
    fixed: ev.scorecard_id ?? undefined,
    submit: 'Enviar evaluación',
    send: (body) => api('PUT', `/quality/evaluations/${ev.id}`, body),
    done: 'Evaluación enviada.',
  });
}

// ------------------------------------------------------------------ evaluar un caso fuera de la muestra

/** /app/calidad/evaluar/<número>: a supervisor evaluates any ticket (`POST /quality/evaluations`),
 *  by default its assignee. */
async function caseEvaluationScreen(ref) {
  document.title = `Evaluar el caso ${ref} · Calidad`;
  loading('Cargando el caso…');
  let ticket;
  let cards;
  try {
    [ticket, cards] = await Promise.all([get(`/tickets/${encodeURIComponent(ref)}`), get('/quality/scorecards')]);
  } catch (e) {
    $('#principal').replaceChildren(h('h1', 'Caso no disponible'),
      h('p', e.status === 404 ? `No existe el caso ${ref}.` : e.message),
      h('p', h('a', { href: '/app/calidad' }, 'Volver a Calidad')));
    return;
  }
  const people = (state.agentList || []).filter((a) => a.active !== false && ['agent', 'supervisor', 'admin'].includes(a.role));
  const agent = h('select#e-agente', options([['', ticket.assignee_id ? 'El agente asignado' : 'Elija un agente'], ...people.map((a) => [a.id, a.name])], ticket.assignee_id ?? ''));
  const firstCard = cards.find((c) => c.active)?.id ?? '';
  document.title = `Evaluar ${ticket.number} · Calidad`;
  $('#principal').replaceChildren(h('div.evaluacion',
    h('p.volver', h('a', { href: '/app/calidad' }, '← Calidad')),
    h('div.cabeza-lista', h('h1', `Evaluar el caso ${ticket.number}`),
      h('p.tenue', 'Una evaluación fuera de la muestra del período: queda como «Elegida por un supervisor» y el agente la ve al guardarla.')),
    h('dl.ficha.ficha-evaluacion',
      h('dt', 'Caso'), h('dd', caseLink({ ticket_number: ticket.number, ticket_subject: ticket.subject })),
      h('dt', 'Canal'), h('dd', CHANNEL[ticket.channel] || ticket.channel),
      h('dt', 'Asignado a'), h('dd', ticket.assignee_name || 'Nadie')),
    marksForm({
      cards,
      chosen: firstCard,
      extra: (f) => [field(f, 'agent_id', 'Agente evaluado', agent)],
      submit: 'Guardar evaluación',
      send: ({ scorecard_id: card, marks, comment }) => api('POST', '/quality/evaluations', {
        ticket_id: ticket.id, agent_id: agent.value ? Number(agent.value) : null, scorecard_id: card, marks, comment,
      }).then((saved) => {
        history.replaceState(null, '', `/app/calidad/evaluaciones/${saved.id}`);
        document.title = `Evaluación n.º ${saved.id} · Calidad`;
        return saved;
      }),
      done: 'Evaluación guardada.',
    })));
}

function disputeForm(ev, cards) {
  const reason = h('textarea#d-motivo', { rows: 4, maxlength: 2000 });
  return apiForm('Disputar la evaluación', 'disputar', (f) => [
    h('p.tenue', 'Explique con qué no está de acuerdo. Una evaluación se puede disputar una sola vez; un supervisor la resolverá.'),
    field(f, 'reason', 'Motivo de la disputa', reason),
  ], {
    submit: 'Disputar',
    send: () => api('POST', `/quality/evaluations/${ev.id}/dispute`, { reason: reason.value }),
    done: (saved) => {
      renderEvaluation(saved, cards, '#titulo-disputa');
      announce('Evaluación disputada. Un supervisor la revisará.');
      return '';
    },
  });
}

function resolutionForm(ev, card, cards) {
  const resolution = h('textarea#r-resolucion', { rows: 4, maxlength: 2000 });
  const holder = h('div.criterios', { hidden: true });
  const decision = (value, text, checked) => h('label.opcion', h('input', { type: 'radio', name: 'decision', value, checked }), ` ${text}`);
  let criteria;
  const form = apiForm('Resolver la disputa', 'resolver', (f) => {
    criteria = criteriaOf(f, 'revision', card, ev.marks || []);
    holder.append(h('p.tenue', 'Las notas corregidas recalculan el puntaje.'), ...criteria.sets);
    return [
      h('fieldset.miembros.decision', h('legend', 'Decisión'),
        decision('mantener', 'Mantener la evaluación', true), decision('corregir', 'Corregir las notas', false)),
      holder,
      field(f, 'resolution', 'Resolución', resolution, 'La respuesta al agente: por qué se mantiene o qué se corrige.'),
    ];
  }, {
    submit: 'Resolver la disputa',
    send: () => {
      const revise = !holder.hidden;
      const marks = revise ? criteria.collect() : null;
      return api('POST', `/quality/evaluations/${ev.id}/resolution`, { resolution: resolution.value, marks })
        .catch((e) => { throw markErrors(e, (marks || []).map((m) => m.key)); });
    },
    done: (saved) => {
      renderEvaluation(saved, cards, '#titulo-resolucion');
      announce(`Disputa resuelta. Puntaje: ${scoreText(saved.score)}.`);
      return '';
    },
  });
  form.addEventListener('change', (e) => { if (e.target.name === 'decision') holder.hidden = e.target.value !== 'corregir'; });
  return form;
}

// ------------------------------------------------------------------ alertas de tendencia

// ------------------------------------------------------------------ informe de calidad

const percentText = (v) => (v == null ? '—' : `${number(v)} %`);
/** Lunes de la semana → «dd-mm». */
const weekLabel = (iso) => `${iso.slice(8, 10)}-${iso.slice(5, 7)}`;

/** El puntaje de calidad, la CSAT y el cumplimiento de SLA por semana (`GET /quality/report`):
 * un gráfico con las tres cifras del conjunto y la tabla por agente o cola. */
async function reportScreen() {
  document.title = 'Informe de calidad · Calidad';
  const [initialFrom, initialTo, initialBy] = qualityAddress();
  const to = h('input#i-hasta', { type: 'date', value: initialTo });
  const from = h('input#i-desde', { type: 'date', value: initialFrom });
  const by = h('select#i-por', options([['agent', 'Agente'], ['queue', 'Cola']], initialBy));
  const filters = { errors: new Map() };
  const general = h('p.error', { role: 'alert' });
  const form = h('form.filtros', { 'aria-label': 'Período del informe de calidad', novalidate: true },
    field(filters, 'from', 'Desde', from), field(filters, 'to', 'Hasta', to, 'Incluye el día completo.'), field(filters, 'by', 'Agrupar por', by),
    h('button', { type: 'submit' }, 'Actualizar'), general);
  const holder = h('div#informe-calidad');
  const load = () => showFiltered(holder, filters, general, async () => {
    const report = await get(qualityReportPath(from.value, to.value, by.value));
    return qualityReport(report, by.value === 'queue' ? 'Cola' : 'Agente', mondays(from.value, to.value));
  });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    history.replaceState(null, '', `/app/calidad/informe?${new URLSearchParams({ desde: from.value, hasta: to.value, por: by.value })}`);
    load();
  });
  $('#principal').replaceChildren(
    h('div.cabeza-lista', h('h1', 'Informe de calidad'),
      h('p.tenue', 'Por semana (desde el lunes, hora de Santiago): el puntaje de las evaluaciones hechas, la satisfacción de las encuestas respondidas y el SLA de los casos resueltos.')),
    sections('/app/calidad/informe'), form, holder);
  await load();
}

/** Los lunes de las semanas que tocan los días `from`…`to` (ISO). */
function mondays(from, to) {
  const weekday = new Date(`${from}T00:00:00Z`).getUTCDay();
  const out = [];
  for (let monday = addDays(from, -((weekday + 6) % 7)); monday <= to; monday = addDays(monday, 7)) out.push(monday);
  return out;
}

function qualityReport(report, groupName, weeks) {
  if (!report.rows.length) return [h('p.vacio', 'No hay evaluaciones, encuestas ni casos resueltos en ese período.')];
  // Las cifras del conjunto por semana, ponderadas por evaluaciones, respuestas y casos.
  const total = (week) => report.rows.filter((r) => r.week === week).reduce((t, r) => ({
    evaluations: t.evaluations + r.evaluations,
    points: t.points + (r.quality_score ?? 0) * r.evaluations,
    responses: t.responses + r.csat.responses,
    satisfied: t.satisfied + r.csat.satisfied,
    solved: t.solved + r.solved,
    breached: t.breached + r.sla_breached,
  }), { evaluations: 0, points: 0, responses: 0, satisfied: 0, solved: 0, breached: 0 });
  const share = (part, whole) => (whole ? Math.round((1000 * part) / whole) / 10 : null);
  const totals = weeks.map(total);
  const series = [
    { name: 'Puntaje de calidad', values: totals.map((t) => (t.evaluations ? Math.round((10 * t.points) / t.evaluations) / 10 : null)) },
    { name: 'CSAT', values: totals.map((t) => share(t.satisfied, t.responses)) },
    { name: 'SLA cumplido', values: totals.map((t) => share(t.solved - t.breached, t.solved)) },
  ];
  const range = `del ${day(report.period.from)} al ${day(new Date(new Date(report.period.to).getTime() - 1).toISOString())}`;
  const chart = lineChart({ id: 'grafico-calidad', title: `Calidad por semana: puntaje, CSAT y SLA cumplido (de 0 a 100), ${range}`,
    labels: weeks.map(weekLabel), series, format: (v) => number(v, 0), max: 100 });
  const rows = [...report.rows].sort((a, b) => byName.compare(a.name, b.name) || a.week.localeCompare(b.week));
  const table = h('table.casos.cifras', h('caption', `${groupName === 'Cola' ? 'Por cola' : 'Por agente'} y semana, ${range}`),
    h('thead', h('tr', [groupName, 'Semana', 'Evaluaciones', 'Puntaje', 'Encuestas', 'CSAT', 'FCR', 'Casos resueltos', 'SLA cumplido'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', rows.map((r) => h('tr', h('th', { scope: 'row' }, r.name), h('td', weekLabel(r.week)), h('td', String(r.evaluations)),
      h('td', r.quality_score == null ? '—' : number(r.quality_score)), h('td', String(r.csat.responses)), h('td', percentText(r.csat.csat)),
      h('td', percentText(r.csat.fcr)), h('td', String(r.solved)), h('td', percentText(r.sla_compliance))))));
  return [h('section.tarjeta.informe', { 'aria-labelledby': 'informe-calidad-h' }, h('h2#informe-calidad-h', 'Por semana'), chart), table];
}

async function trendsScreen() {
  document.title = 'Alertas de tendencia · Calidad';
  const params = new URLSearchParams(location.search);
  const since = h('input#t-desde', { type: 'date', value: params.get('desde') || addDays(today(), -7) });
  const granularity = h('select#t-granularidad', options([['', 'Todas'], ...Object.entries(GRANULARITY)], params.get('granularidad') || ''));
  const filters = { errors: new Map() };
  const general = h('p.error', { role: 'alert' });
  const form = h('form.filtros', { 'aria-label': 'Filtrar alertas', novalidate: true },
    field(filters, 'since', 'Desde', since), field(filters, 'granularity', 'Granularidad', granularity),
    h('button', { type: 'submit' }, 'Ver alertas'),
    state.me.role === 'admin' ? h('button.secundaria', { type: 'button', onclick: scanNow }, 'Revisar tendencias ahora') : null, general);
  const holder = h('div#alertas');
  const departments = (await get('/departments')).filter((d) => d.active);
  const load = () => showFiltered(holder, filters, general, async () => {
    const alerts = await get(`/quality/trends?${new URLSearchParams(clean({ since: since.value, granularity: granularity.value }))}`);
    const drafts = await Promise.all(alerts.map((a) => (a.opportunity_id ? opportunityOf(a.opportunity_id) : null)));
    return alerts.length ? alerts.map((a, i) => alertCard(a, drafts[i], departments)) : [h('p.vacio', 'No hay alertas de tendencia desde esa fecha.')];
  });
  async function scanNow(ev) {
    ev.target.disabled = true;
    try {
      const r = await api('POST', '/quality/trends/scan');
      announce(r.raised.length ? `Nuevas alertas: ${r.raised.length}.` : 'Sin alertas nuevas.');
      await load();
    } catch (e) {
      general.textContent = e.message;
    } finally {
      ev.target.disabled = false;
    }
  }
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = clean({ desde: since.value, granularidad: granularity.value });
    history.replaceState(null, '', `/app/calidad/tendencias?${new URLSearchParams(q)}`);
    load();
  });
  $('#principal').replaceChildren(
    h('div.cabeza-lista', h('h1', 'Alertas de tendencia'),
      h('p.tenue', 'Alzas inusuales de casos por categoría o palabra clave frente a las mismas horas y días de las semanas anteriores.')),
    sections('/app/calidad/tendencias'), form, holder);
  await load();
}

/** La oportunidad que propuso una alerta (`null` si ya no está disponible). */
async function opportunityOf(id) {
  try {
    return await get(`/opportunities/${id}`);
  } catch {
    return null;
  }
}

function alertCard(a, o, departments) {
  const p = `a${a.id}`;
  const what = a.keyword ? `${a.category_name}, palabra clave «${a.keyword}»` : a.category_name;
  const weeks = a.history.length;
  const labels = [...a.history.map((_, i) => `hace ${weeks - i} sem.`), 'Alerta'];
  const count = (v) => number(v, Number.isInteger(v) ? 0 : 1);
  const chart = lineChart({
    id: `historia-${a.id}`,
    title: `Historia de ${what}: casos ${a.granularity === 'hour' ? 'en la misma hora' : 'el mismo día'} de las ${weeks} semanas anteriores y en la alerta (${a.period}), con el umbral de alerta y el promedio`,
    labels,
    series: [
      { name: 'Casos', values: [...a.history, a.observed] },
      { name: 'Umbral de alerta', values: labels.map(() => a.threshold) },
      { name: 'Promedio de la línea base', values: labels.map(() => Math.round(a.baseline_mean * 10) / 10) },
    ],
    format: count,
  });
  const pValue = a.p_value < 0.0001 ? 'menos de 0,0001' : a.p_value.toLocaleString('es-CL', { maximumSignificantDigits: 2 });
  const section = h(`section.tarjeta.alerta#alerta-${a.id}`, { 'aria-labelledby': `${p}-titulo` },
    h('div.cabeza-informe', h(`h2#${p}-titulo`, what), h('p.tenue', `${GRANULARITY[a.granularity] || a.granularity} · ${a.period}`)),
    h('p.explicacion', a.explanation),
    h('dl.cifras-grandes',
      h('div', h('dt', 'Casos observados'), h('dd', String(a.observed))),
      h('div', h('dt', 'Umbral de alerta'), h('dd', String(a.threshold))),
      h('div', h('dt', 'Línea base (promedio ± σ)'), h('dd', `${number(a.baseline_mean)} ± ${number(a.baseline_sigma)}`)),
      h('div', h('dt', 'Probabilidad (Poisson)'), h('dd', pValue))),
    chart,
    h('p.tenue', `Semanas anteriores, de la más antigua a la última: ${a.history.join(', ') || 'sin historia'}. Método: ${METHOD[a.method] || a.method}.`),
    a.related_terms.length ? h('p', h('strong', 'Términos relacionados: '), a.related_terms.join(', ')) : null,
    evidence(a, o, p),
    h('div.oportunidad-alerta', opportunityPart(a, o, departments, p)));
  return section;
}

function evidence(a, o, p) {
  const shown = o?.evidence || [];
  const list = h('ul.lista-simple.lista-evidencia', shown.map((t) => h('li', h('a', { href: `/app/casos/${encodeURIComponent(t.number)}` }, h('span.numero', t.number), ' ', t.subject))));
  const heading = `Casos de evidencia (${a.ticket_ids.length})`;
  // Una lista larga va plegada: primero el gráfico y el borrador.
  return h('div.evidencia',
    shown.length > 8 ? h('details', h('summary', heading), list) : [h('h3', heading), shown.length ? list : null],
    a.ticket_ids.length > shown.length ? h('p.tenue', `${shown.length ? `Y ${a.ticket_ids.length - shown.length} más` : `${a.ticket_ids.length} casos`}: la oportunidad lleva como evidencia los primeros.`) : null);
}

/** La oportunidad propuesta: el borrador para revisar y enviar, o lo que pasó con ella. */
function opportunityPart(a, o, departments, p) {
  if (!a.opportunity_id) return h('p.tenue', 'Esta alerta no propuso una oportunidad de mejora.');
  if (!o) return h('p.tenue', `La oportunidad n.º ${a.opportunity_id} no está disponible.`);
  const deptName = (slug) => departments.find((d) => d.slug === slug)?.name || slug;
  if (o.status !== 'draft') {
    const sent = o.events.find((e) => e.to === 'sent');
    return h('div', h(`h3#${p}-op`, 'Oportunidad de mejora'),
      h('p', { id: `${p}-estado` }, `n.º ${o.id} «${o.title}», para ${deptName(o.department)}: `,
        h(`span.marca-estado.op-${o.status}`, OPPORTUNITY_STATUS[o.status] || o.status),
        sent ? [' (enviada el ', timeEl(sent.at), ')'] : null, '.'),
      h('p.tenue', `${o.ticket_count} ${o.ticket_count === 1 ? 'caso' : 'casos'} de evidencia, de ${o.requester_count} ${o.requester_count === 1 ? 'usuario' : 'usuarios distintos'}.`));
  }
  const title = h(`input#${p}-titulo-op`, { maxlength: 200, value: o.title, autocomplete: 'off' });
  const description = h(`textarea#${p}-descripcion-op`, { rows: 8, value: o.description });
  const department = h(`select#${p}-departamento-op`, options(departments.map((d) => [d.slug, d.name]), o.department));
  const form = apiForm('Oportunidad de mejora propuesta (borrador)', `${p}-oportunidad`, (f) => [
    h('p.tenue', 'Revise el título, la descripción y el departamento antes de enviarla. Va con los casos de evidencia.'),
    field(f, 'title', 'Título', title),
    field(f, 'description', 'Descripción', description),
    field(f, 'department', 'Departamento', department),
  ], {
    submit: 'Enviar a departamento',
    send: () => sendDraft(o, { title: title.value, description: description.value, department: department.value }),
    done: (sent) => {
      const part = opportunityPart(a, sent, departments, p);
      form.replaceWith(part);
      announce(`Oportunidad enviada a ${deptName(sent.department)}.`);
      $(`#${p}-estado`)?.setAttribute('tabindex', '-1');
      $(`#${p}-estado`)?.focus();
      return '';
    },
  });
  return form;
}

/** Guarda lo que el supervisor cambió del borrador (`PATCH /opportunities/{id}`) y lo envía. */
async function sendDraft(o, edited) {
  const changed = Object.fromEntries(Object.entries(edited).filter(([k, v]) => v !== o[k]));
  if (Object.keys(changed).length) await api('PATCH', `/opportunities/${o.id}`, changed);
  return api('POST', `/opportunities/${o.id}/transitions`, { to: 'sent' });
}
