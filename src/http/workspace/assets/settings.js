// Administración de los datos de referencia: políticas de SLA, calendarios y feriados, rotaciones con
// su vista previa, respuestas predefinidas y los departamentos (SLA interno y webhook con sus entregas).
// Rutas: /app/admin/sla, /calendarios, /rotaciones, /respuestas, /departamentos.

import { h, $, api, get, announce, fmtDate, showFieldErrors, CHANNEL, PRIORITY, SEGMENT } from './app.js';
import { field, apiForm, list, options, STAFF } from './admin.js';

const METRIC = { first_reply: 'Primera respuesta', next_reply: 'Respuestas siguientes', periodic_update: 'Actualización periódica', resolution: 'Resolución', callback: 'Devolución de llamada' };
const WEEKDAY = { monday: 'Lunes', tuesday: 'Martes', wednesday: 'Miércoles', thursday: 'Jueves', friday: 'Viernes', saturday: 'Sábado', sunday: 'Domingo' };
const PERIOD = { weekly: 'Semanal', daily: 'Diaria' };
const KIND = { escalation: 'Derivación', opportunity: 'Oportunidad de mejora' };
const EVENT = { created: 'nueva', requester_reply: 'respuesta del solicitante', sla_warning: 'plazo en riesgo', sla_breached: 'plazo vencido' };
const DELIVERY = { pending: 'Pendiente', sending: 'Enviando', delivered: 'Entregada', cancelled: 'Cancelada' };

export function settingsRoute(section) {
  const screens = { sla: policiesScreen, calendarios: calendarsScreen, rotaciones: rotationsScreen, respuestas: cannedScreen, departamentos: departmentsScreen };
  return screens[section]();
}

/** Una tabla con su título (caption), encabezados de columna y la primera celda de cada fila como encabezado. */
function table(caption, headers, rows, empty) {
  if (!rows.length) return h('p.vacio', empty);
  return h('table.casos', h('caption', caption),
    h('thead', h('tr', headers.map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', rows.map(([first, ...rest]) => h('tr', h('th', { scope: 'row' }, first), rest.map((cell) => h('td', cell))))));
}

/** Casillas con leyenda; `values()` devuelve las marcadas. */
function checkboxes(legend, id, entries, chosen = []) {
  const boxes = entries.map(([v, t]) => h('label.opcion', h('input', { type: 'checkbox', value: v, checked: chosen.includes(v) }), ` ${t}`));
  const set = h(`fieldset.miembros#${id}`, h('legend', legend), boxes);
  set.values = () => [...set.querySelectorAll('input:checked')].map((c) => c.value);
  return set;
}

/** Un botón que llama a la API y muestra su error a su lado. */
function action(label, hidden, run, cls = 'secundaria') {
  const button = h(cls ? `button.${cls}` : 'button', { type: 'button' }, label, hidden ? h('span.oculto', ` ${hidden}`) : null);
  button.addEventListener('click', async () => {
    button.disabled = true;
    button.nextElementSibling?.matches('p.error') && button.nextElementSibling.remove();
    try {
      await run();
    } catch (e) {
      button.disabled = false;
      button.after(h('p.error', { role: 'alert' }, e.message));
    }
  });
  return button;
}

/** Where the API's errors named `names` go when they are about a group of controls, not one field. */
function groupError(f, id, ...names) {
  const el = h(`p.error-campo#error-${id}`, { role: 'alert' });
  for (const n of names) f.errors.set(n, el);
  return el;
}

const names = (entries, values) => (values?.length ? values.map((v) => entries[v] || v).join(', ') : 'todos');
const localDate = (iso) => new Date(iso).toLocaleString('es-CL', { timeZone: 'America/Santiago', weekday: 'long', day: 'numeric', month: 'long', year: 'numeric', hour: '2-digit', minute: '2-digit' });

// ------------------------------------------------------------------ políticas de SLA

async function policiesScreen() {
  document.title = 'Políticas de SLA · Administración';
  const [calendars, queues] = await Promise.all([get('/calendars'), get('/queues')]);
  const calendarName = (id) => calendars.find((c) => c.id === id)?.name || `n.º ${id}`;
  const holder = h('div#tabla-politicas');
  const editor = h('div#editor-politica');
  async function reload() {
    const policies = await get('/sla/policies');
    holder.replaceChildren(table('Políticas, en el orden en que se evalúan (la primera que coincide se aplica)',
      ['Nombre', 'Orden', 'Aplica a', 'Metas (minutos hábiles por prioridad)', 'Calendario', 'Estado', 'Acciones'],
      policies.map((p) => [p.name, String(p.position), describeConditions(p.conditions), describeTargets(p.targets), calendarName(p.calendar_id),
        p.active ? 'Activa' : 'Inactiva',
        h('span.acciones-fila', h('button.secundaria', { type: 'button', onclick: () => edit(p) }, 'Editar', h('span.oculto', ` ${p.name}`)))]),
      'No hay políticas de SLA: ningún caso tiene plazos.'));
  }
  function edit(policy) {
    editor.replaceChildren(policyForm(policy, calendars, queues, async (saved) => {
      await reload();
      editor.replaceChildren();
      return `Política guardada: ${saved.name}. Rige para los casos que cambien desde ahora.`;
    }));
    editor.querySelector('input')?.focus();
  }
  $('#principal').replaceChildren(h('h1', 'Políticas de SLA'), policyForm(null, calendars, queues, async (saved) => {
    await reload();
    return `Política creada: ${saved.name}.`;
  }), editor, holder);
  await reload();
}

function describeConditions(c = {}) {
  return [`segmentos: ${names(SEGMENT, c.segments)}`, `canales: ${names(CHANNEL, c.channels)}`, `prioridades: ${names(PRIORITY, c.priorities)}`,
    c.queues?.length ? `colas: ${c.queues.join(', ')}` : null, c.categories?.length ? `categorías: ${c.categories.join(', ')}` : null].filter(Boolean).join('; ');
}

function describeTargets(targets = {}) {
  return Object.entries(targets).map(([metric, by]) => `${METRIC[metric] || metric}: ${Object.entries(by).map(([p, m]) => `${(PRIORITY[p] || p).toLowerCase()} ${m}`).join(', ')}`).join('; ') || '—';
}

/** Crear (policy null) o editar una política: condiciones, metas por métrica y prioridad, calendario y aviso. */
function policyForm(policy, calendars, queues, done) {
  const key = policy ? `e${policy.id}` : 'n';
  const c = policy?.conditions || {};
  const name = h(`input#${key}-nombre`, { maxlength: 120, autocomplete: 'off', value: policy?.name || '' });
  const position = h(`input#${key}-orden`, { type: 'number', min: 0, inputmode: 'numeric', value: policy?.position ?? 10 });
  const calendar = h(`select#${key}-calendario`, options(calendars.map((x) => [x.id, x.name]), policy?.calendar_id ?? calendars[0]?.id));
  const warn = h(`input#${key}-aviso`, { type: 'number', min: 1, max: 99, inputmode: 'numeric', value: policy?.warn_percent ?? 80 });
  const active = h(`input#${key}-activa`, { type: 'checkbox', checked: policy?.active ?? true });
  const segments = checkboxes('Segmentos (ninguno marcado: todos)', `${key}-segmentos`, Object.entries(SEGMENT), c.segments);
  const channels = checkboxes('Canales (ninguno marcado: todos)', `${key}-canales`, Object.entries(CHANNEL), c.channels);
  const priorities = checkboxes('Prioridades (ninguna marcada: todas)', `${key}-prioridades`, Object.entries(PRIORITY), c.priorities);
  const inQueues = checkboxes('Colas (ninguna marcada: todas)', `${key}-colas`, queues.map((q) => [q.slug, q.name]), c.queues);
  // One row per metric, one box per priority: empty means no target.
  const targets = Object.fromEntries(Object.keys(METRIC).map((metric) => [metric, Object.fromEntries(Object.keys(PRIORITY).map((p) =>
    [p, h(`input#${key}-meta-${metric}-${p}`, { type: 'number', min: 1, inputmode: 'numeric', 'aria-label': `${METRIC[metric]}, ${PRIORITY[p].toLowerCase()}`, value: policy?.targets?.[metric]?.[p] ?? '' })]))]));
  const collectTargets = () => Object.fromEntries(Object.entries(targets).map(([metric, by]) =>
    [metric, Object.fromEntries(Object.entries(by).filter(([, el]) => el.value !== '').map(([p, el]) => [p, Number(el.value)]))])
    .filter(([, by]) => Object.keys(by).length));
  const only = (values) => (values.length ? values : null);
  return apiForm(policy ? `Editar «${policy.name}»` : 'Nueva política de SLA', `politica-${key}`, (f) => {
    // The API names a metric's errors `targets.<metric>`: one place under the grid.
    const targetError = groupError(f, `${key}-metas`, 'targets', ...Object.keys(targets).map((m) => `targets.${m}`));
    return [
      h('div.fila-campos', field(f, 'name', 'Nombre', name), field(f, 'position', 'Orden', position, 'Menor se evalúa primero.'),
        field(f, 'calendar_id', 'Calendario', calendar), field(f, 'warn_percent', 'Aviso al (% del plazo)', warn)),
      h('div.fila-campos', segments, channels, priorities, inQueues),
      h('table.metas', h('caption', 'Metas en minutos hábiles (vacío: sin meta)'),
        h('thead', h('tr', h('td'), Object.values(PRIORITY).map((p) => h('th', { scope: 'col' }, p)))),
        h('tbody', Object.entries(targets).map(([metric, by]) => h('tr', h('th', { scope: 'row' }, METRIC[metric]),
          Object.values(by).map((el) => h('td', el)))))),
      targetError,
      h('div.campo.casilla', h('label', { for: `${key}-activa` }, active, ' Activa')),
    ];
  }, {
    submit: policy ? 'Guardar política' : 'Crear política',
    send: () => {
      const body = {
        name: name.value, position: Number(position.value), calendar_id: Number(calendar.value), active: active.checked,
        warn_percent: warn.value === '' ? null : Number(warn.value), targets: collectTargets(),
        conditions: { segments: only(segments.values()), channels: only(channels.values()), priorities: only(priorities.values()), queues: only(inQueues.values()) },
      };
      return policy ? api('PATCH', `/sla/policies/${policy.id}`, body) : api('POST', '/sla/policies', body);
    },
    done,
  });
}

// ------------------------------------------------------------------ calendarios y feriados

async function calendarsScreen() {
  document.title = 'Calendarios y feriados · Administración';
  const calendars = await get('/calendars');
  const detail = h('div#calendario');
  const holder = h('div#tabla-calendarios');
  const render = (all) => holder.replaceChildren(table('Calendarios', ['Nombre', 'Identificador', 'Zona horaria', 'Horario', 'Acciones'],
    all.map((c) => [c.name, c.slug, c.time_zone, describeWeek(c.week),
      h('button.secundaria', { type: 'button', onclick: () => openCalendar(c, detail) }, 'Feriados y horario', h('span.oculto', ` de ${c.name}`))]),
    'No hay calendarios.'));
  const slug = h('input#cal-identificador', { maxlength: 60, autocomplete: 'off' });
  const name = h('input#cal-nombre', { maxlength: 120, autocomplete: 'off' });
  const zone = h('input#cal-zona', { maxlength: 60, autocomplete: 'off', value: 'America/Santiago' });
  const form = apiForm('Nuevo calendario', 'nuevo-calendario', (f) => [h('div.fila-campos',
    field(f, 'slug', 'Identificador', slug, 'Minúsculas, números y guiones.'), field(f, 'name', 'Nombre', name),
    field(f, 'time_zone', 'Zona horaria', zone, 'IANA, p. ej. America/Santiago.')),
  h('p.tenue', 'Se crea con horario de lunes a viernes, 09:00 a 18:00; cámbielo después en «Feriados y horario».')], {
    submit: 'Crear calendario',
    send: () => api('POST', '/calendars', { slug: slug.value.trim(), name: name.value, time_zone: zone.value.trim(), week: [[], ...Array(5).fill([{ start: '09:00', end: '18:00' }]), []].slice(0, 7) }),
    done: async (c) => {
      slug.value = '';
      name.value = '';
      render(await get('/calendars'));
      return `Calendario creado: ${c.name}.`;
    },
  });
  $('#principal').replaceChildren(h('h1', 'Calendarios y feriados'), form, holder, detail);
  render(calendars);
}

const DAYS = ['Lunes', 'Martes', 'Miércoles', 'Jueves', 'Viernes', 'Sábado', 'Domingo'];
const windows = (day) => day.map((w) => `${w.start}–${w.end}`).join(', ');

function describeWeek(week) {
  return week.map((day, i) => (day.length ? `${DAYS[i].slice(0, 2)} ${windows(day)}` : null)).filter(Boolean).join('; ') || 'sin horario';
}

/** El horario semanal (editable por día, «09:00-13:00, 14:00-18:00») y los feriados de un año. */
async function openCalendar(calendar, holder) {
  const year = h('input#f-anio', { type: 'number', min: 2000, max: 2100, inputmode: 'numeric', value: new Date().getFullYear() });
  const holidays = h('div#feriados');
  async function loadYear() {
    const days = await get(`/calendars/${calendar.id}/holidays?year=${Number(year.value)}`);
    holidays.replaceChildren(table(`Feriados de ${year.value} en ${calendar.name}`, ['Fecha', 'Nombre', 'Acciones'],
      days.map((d) => [d.date, d.name, action('Quitar', `el feriado del ${d.date}`, async () => {
        await api('DELETE', `/calendars/${calendar.id}/holidays/${d.date}`);
        announce(`Feriado del ${d.date} quitado`);
        await loadYear();
      }, 'peligro')]),
      `No hay feriados registrados en ${year.value}.`));
  }
  const week = calendar.week.map((day, i) => h(`input#h-dia-${i}`, { maxlength: 100, autocomplete: 'off', value: day.map((w) => `${w.start}-${w.end}`).join(', ') }));
  const hours = apiForm('Horario semanal', 'horario', (f) => [
    h('p.tenue', 'Tramos por día como «09:00-13:00, 14:00-18:00»; vacío: cerrado. Las horas son locales de la zona del calendario.'),
    h('div.fila-campos', week.map((el, i) => h('div.campo', h('label', { for: el.id }, DAYS[i]), el))),
    groupError(f, 'horario', 'week'),
  ], {
    submit: 'Guardar horario',
    send: () => api('PATCH', `/calendars/${calendar.id}`, { week: week.map((el) => windowsOf(el.value)) }),
    done: (c) => {
      calendar.week = c.week;
      return `Horario guardado: ${describeWeek(c.week)}.`;
    },
  });
  const date = h('input#f-fecha', { type: 'date' });
  const holidayName = h('input#f-nombre', { maxlength: 120, autocomplete: 'off' });
  const add = apiForm('Agregar feriado', 'nuevo-feriado', (f) => [h('div.fila-campos',
    field(f, 'date', 'Fecha del feriado', date), field(f, 'name', 'Nombre del feriado', holidayName))], {
    submit: 'Agregar feriado',
    send: () => api('PUT', `/calendars/${calendar.id}/holidays`, { date: date.value, name: holidayName.value }),
    done: async () => {
      const added = `${date.value} (${holidayName.value})`;
      year.value = date.value.slice(0, 4) || year.value;
      holidayName.value = '';
      await loadYear();
      return `Feriado agregado: ${added}. Los plazos de SLA ya lo descuentan.`;
    },
  });
  year.addEventListener('change', loadYear);
  holder.replaceChildren(h('section', { 'aria-labelledby': 'cal-titulo' }, h('h2#cal-titulo', calendar.name), hours,
    h('div.dos-columnas', add, h('div', h('div.campo', h('label', { for: 'f-anio' }, 'Año'), year), holidays))));
  await loadYear();
  hours.querySelector('input')?.focus();
}

/** «09:00-13:00, 14:00-18:00» → [{start, end}, …]; lo que no se entiende va tal cual para que la API lo nombre. */
function windowsOf(text) {
  return list(text).map((w) => {
    const [start, end] = w.split(/\s*[-–]\s*/);
    return { start: start || w, end: end || '' };
  });
}

// ------------------------------------------------------------------ rotaciones

async function rotationsScreen() {
  document.title = 'Rotaciones · Administración';
  const [agents, queues] = await Promise.all([get('/agents'), get('/queues')]);
  const people = agents.filter((a) => a.active && STAFF.includes(a.role));
  const who = (id) => agents.find((a) => a.id === id)?.name || `n.º ${id}`;
  const queueName = (slug) => queues.find((q) => q.slug === slug)?.name || slug;
  const plan = (memberships) => h('ul.lista-simple', memberships.map((m) => h('li', `${who(m.agent_id)} → ${queueName(m.queue)}`)));
  const holder = h('div#tabla-rotaciones');
  async function reload() {
    const plans = await get('/routing/rotations');
    holder.replaceChildren(table('Planes de rotación activos', ['Nombre', 'Cada', 'Agentes', 'Colas', 'Próxima rotación', 'Acciones'],
      plans.map((p) => [p.name, p.period === 'weekly' ? `semana, ${WEEKDAY[p.weekday]?.toLowerCase()} ${p.at}` : `día, ${p.at}`,
        p.agents.map(who).join(', '), p.queues.map(queueName).join(', '),
        h('div', h('p', localDate(p.next.starts_at)), plan(p.next.memberships)),
        action('Detener', p.name, async () => {
          await api('DELETE', `/routing/rotations/${p.id}`);
          announce(`Rotación detenida: ${p.name}`);
          await reload();
        }, 'peligro')]),
      'No hay planes de rotación.'));
  }
  const name = h('input#rot-nombre', { maxlength: 120, autocomplete: 'off' });
  const members = checkboxes('Agentes, en orden de rotación', 'rot-agentes', people.map((a) => [String(a.id), a.name]));
  const inQueues = checkboxes('Colas por las que rotan', 'rot-colas', queues.map((q) => [q.slug, q.name]));
  const period = h('select#rot-periodo', options(Object.entries(PERIOD), 'weekly'));
  const weekday = h('select#rot-dia', options(Object.entries(WEEKDAY), 'monday'));
  const at = h('input#rot-hora', { type: 'time', value: '09:00' });
  const start = h('input#rot-inicio', { type: 'date', value: new Date().toISOString().slice(0, 10) });
  const preview = h('div#vista-previa', { role: 'status' });
  const draft = () => ({
    name: name.value, agents: members.values().map(Number), queues: inQueues.values(), period: period.value,
    weekday: period.value === 'weekly' ? weekday.value : null, at: at.value, start: start.value || null,
  });
  const planFields = (f) => [
    h('div.fila-campos', field(f, 'name', 'Nombre del plan', name), field(f, 'period', 'Rota cada', period),
      field(f, 'weekday', 'Día de la semana', weekday, 'Solo en planes semanales.'), field(f, 'at', 'Hora', at), field(f, 'start', 'Desde', start)),
    h('div.fila-campos', h('div', members, groupError(f, 'rot-agentes', 'agents')), h('div', inQueues, groupError(f, 'rot-colas', 'queues'))),
    preview,
  ];
  const form = apiForm('Nuevo plan de rotación', 'nueva-rotacion', planFields, {
    submit: 'Crear plan',
    send: () => api('POST', '/routing/rotations', draft()),
    done: async (p) => {
      name.value = '';
      preview.replaceChildren();
      await reload();
      return `Plan creado: ${p.name}. Primera rotación: ${localDate(p.next.starts_at)}.`;
    },
  });
  // "Vista previa": the same draft through POST /routing/rotations/preview; its errors in the same places.
  const previewButton = h('button.secundaria', { type: 'button' }, 'Vista previa');
  previewButton.addEventListener('click', async () => {
    try {
      const next = await api('POST', '/routing/rotations/preview', draft());
      for (const el of form.errors.values()) el.textContent = '';
      preview.replaceChildren(h('h3', 'Vista previa: las próximas cuatro rotaciones'),
        table('Próximas rotaciones del plan sin guardar', ['Desde', 'Quién va a qué cola'], next.map((r) => [localDate(r.starts_at), plan(r.memberships)]), ''));
    } catch (e) {
      preview.replaceChildren();
      const general = form.querySelector('p.error');
      if (showFieldErrors(e, form.errors, general)) general.textContent = 'Revise los campos marcados.';
    }
  });
  form.querySelector('button[type=submit]').before(previewButton);
  $('#principal').replaceChildren(h('h1', 'Rotaciones'), h('p.tenue', 'En cada cambio de período, el agente i pasa a la cola (i + período) de la lista. Los casos abiertos siguen con su agente.'), form, holder);
  await reload();
}

// ------------------------------------------------------------------ respuestas predefinidas

async function cannedScreen() {
  document.title = 'Respuestas predefinidas · Administración';
  const categories = await get('/categories');
  const holder = h('div#tabla-respuestas');
  const editor = h('div#editor-respuesta');
  async function reload() {
    const items = await get('/canned-responses');
    holder.replaceChildren(table('Respuestas predefinidas', ['Atajo', 'Título', 'Categoría', 'Alcance', 'Usos', 'Acciones'],
      items.map((r) => [`::${r.shortcut}`, r.title, categories.find((c) => c.slug === r.category)?.name || '—',
        r.scope === 'shared' ? 'Compartida' : 'Personal', String(r.usage_count),
        h('span.acciones-fila',
          h('button.secundaria', { type: 'button', onclick: () => edit(r) }, 'Editar', h('span.oculto', ` ${r.title}`)),
          action('Eliminar', r.title, async () => {
            await api('DELETE', `/canned-responses/${r.id}`);
            announce(`Respuesta eliminada: ${r.title}`);
            await reload();
          }, 'peligro'))]),
      'No hay respuestas predefinidas.'));
  }
  function edit(r) {
    editor.replaceChildren(cannedForm(r, categories, async (saved) => {
      editor.replaceChildren();
      await reload();
      return `Respuesta guardada: ${saved.title}.`;
    }));
    editor.querySelector('input')?.focus();
  }
  $('#principal').replaceChildren(h('h1', 'Respuestas predefinidas'),
    h('p.tenue', 'Los agentes las insertan escribiendo «::» y el atajo. Marcadores: {nombre}, {numero}, {agente}, {asunto}, {enlace}.'),
    cannedForm(null, categories, async (saved) => {
      await reload();
      return `Respuesta creada: ::${saved.shortcut}.`;
    }), editor, holder);
  await reload();
}

function cannedForm(r, categories, done) {
  const key = r ? `re${r.id}` : 'rn';
  const shortcut = h(`input#${key}-atajo`, { maxlength: 40, autocomplete: 'off', value: r?.shortcut || '' });
  const title = h(`input#${key}-titulo`, { maxlength: 120, autocomplete: 'off', value: r?.title || '' });
  const body = h(`textarea#${key}-texto`, { rows: 5, maxlength: 10000 }, r?.body || '');
  const category = h(`select#${key}-categoria`, options([['', 'Cualquiera'], ...categories.map((c) => [c.slug, c.name])], r?.category || ''));
  return apiForm(r ? `Editar «${r.title}»` : 'Nueva respuesta compartida', `respuesta-${key}`, (f) => [
    h('div.fila-campos', field(f, 'shortcut', 'Atajo', shortcut, 'Letras, números y guiones, sin «::».'), field(f, 'title', 'Título', title), field(f, 'category', 'Categoría', category)),
    field(f, 'body', 'Texto de la respuesta', body),
  ], {
    submit: r ? 'Guardar respuesta' : 'Crear respuesta',
    send: () => {
      const fields = { shortcut: shortcut.value.trim(), title: title.value, body: body.value, category: category.value || null };
      return r ? api('PATCH', `/canned-responses/${r.id}`, fields) : api('POST', '/canned-responses', { ...fields, scope: 'shared' });
    },
    done: async (saved) => {
      if (!r) for (const el of [shortcut, title, body]) el.value = '';
      return done(saved);
    },
  });
}

// ------------------------------------------------------------------ departamentos: SLA interno y webhook

async function departmentsScreen() {
  document.title = 'Departamentos · Administración';
  const [departments, calendars] = await Promise.all([get('/departments'), get('/calendars')]);
  const detail = h('div#departamento');
  const hooks = await Promise.all(departments.map((d) => get(`/departments/${d.id}/webhook`).catch(() => null)));
  $('#principal').replaceChildren(h('h1', 'Departamentos'),
    table('Departamentos y su webhook', ['Departamento', 'Webhook', 'Estado', 'Acciones'],
      departments.map((d, i) => [d.name, hooks[i]?.url || 'Sin webhook (bandeja y stream de Redis)', hookState(hooks[i]),
        h('button.secundaria', { type: 'button', onclick: () => openDepartment(d, calendars, detail) }, 'Configurar', h('span.oculto', ` ${d.name}`))]),
      'No hay departamentos.'),
    detail);
}

function hookState(hook) {
  if (!hook) return '—';
  if (!hook.enabled) return h('span.sla.larga.sla-breached', `Desactivado: ${hook.disabled_reason || 'fallas repetidas'}`);
  if (hook.consecutive_failures) return h('span.sla.larga.sla-warning', `${hook.consecutive_failures} fallas seguidas; reintento ${hook.retry_at ? fmtDate(hook.retry_at) : 'pronto'}`);
  return h('span.sla.sla-ok', 'Activo');
}

/** El SLA interno del departamento, su webhook (estado, cambiar, reactivar, quitar) y sus entregas. */
async function openDepartment(d, calendars, holder) {
  const [sla, hook] = await Promise.all([get(`/departments/${d.id}/sla`), get(`/departments/${d.id}/webhook`).catch(() => null)]);
  const ack = h('input#d-acuse', { type: 'number', min: 1, inputmode: 'numeric', value: sla.ack_minutes });
  const answer = h('input#d-respuesta', { type: 'number', min: 1, inputmode: 'numeric', value: sla.answer_minutes });
  const warn = h('input#d-aviso', { type: 'number', min: 0, max: 99, inputmode: 'numeric', value: sla.warn_percent });
  const calendar = h('select#d-calendario', options(calendars.map((c) => [c.id, c.name]), sla.calendar_id));
  const slaForm = apiForm(`SLA interno de ${d.name}`, 'sla-departamento', (f) => [h('div.fila-campos',
    field(f, 'ack_minutes', 'Acusar recibo (minutos hábiles)', ack), field(f, 'answer_minutes', 'Responder (minutos hábiles)', answer),
    field(f, 'warn_percent', 'Aviso al (% del plazo; 0 sin aviso)', warn), field(f, 'calendar_id', 'Calendario del departamento', calendar))], {
    submit: 'Guardar SLA interno',
    send: () => api('PUT', `/departments/${d.id}/sla`, { ack_minutes: Number(ack.value), answer_minutes: Number(answer.value), warn_percent: Number(warn.value), calendar_id: Number(calendar.value) }),
    done: () => `SLA interno de ${d.name} guardado.`,
  });
  const url = h('input#w-url', { type: 'url', maxlength: 2000, autocomplete: 'off', value: hook?.url || '' });
  const secret = h('input#w-secreto', { type: 'password', maxlength: 256, autocomplete: 'new-password' });
  const status = h('p#estado-webhook', 'Estado: ', hookState(hook));
  const hookForm = apiForm(`Webhook de ${d.name}`, 'webhook', (f) => [status,
    h('div.fila-campos', field(f, 'url', 'URL del webhook', url, 'https://…'),
      field(f, 'secret', 'Secreto de firma', secret, hook ? 'Déjelo vacío para conservar el actual. No se vuelve a mostrar.' : 'Entre 16 y 256 caracteres.'))], {
    submit: hook ? 'Guardar webhook' : 'Activar webhook',
    send: () => api('PUT', `/departments/${d.id}/webhook`, { url: url.value.trim(), ...(secret.value ? { secret: secret.value } : {}) }),
    done: async (saved) => {
      secret.value = '';
      await openDepartment(d, calendars, holder);
      return `Webhook de ${d.name}: ${saved.enabled ? 'activo' : 'desactivado'}.`;
    },
  });
  // Setting it again (PUT with the same URL) enables it and makes what waits due at once.
  const reenable = hook && !hook.enabled ? action('Reactivar webhook', '', async () => {
    await api('PUT', `/departments/${d.id}/webhook`, { url: hook.url });
    announce(`Webhook de ${d.name} reactivado`);
    await openDepartment(d, calendars, holder);
  }, '') : null;
  const remove = hook ? action('Quitar webhook', '', async () => {
    await api('DELETE', `/departments/${d.id}/webhook`);
    announce(`Webhook de ${d.name} quitado`);
    await openDepartment(d, calendars, holder);
  }, 'peligro') : null;
  const deliveries = h('div#entregas');
  holder.replaceChildren(h('section', { 'aria-labelledby': 'dep-titulo' }, h('h2#dep-titulo', d.name),
    h('div.dos-columnas', slaForm, h('div', hookForm, h('p.acciones-fila', reenable, remove))), deliveries));
  holder.querySelector('input')?.focus();
  await deliveryLog(d, deliveries);
}

/** The delivery log, oldest first, 50 at a time (a full page offers "Ver más entregas": the feed's cursor). */
async function deliveryLog(d, holder, items = [], after = null) {
  const page = await get(`/departments/${d.id}/deliveries?limit=50${after ? `&after=${encodeURIComponent(after)}` : ''}`);
  items.push(...page.items);
  const attempt = (a) => `${fmtDate(a.at)}: ${a.error ? `falla (${a.status_code ?? a.error})` : `entregado (${a.status_code})`}, ${a.duration_ms} ms`;
  const webhook = (x) => (x.webhook_status ? `${DELIVERY[x.webhook_status] || x.webhook_status}${x.webhook_status === 'pending' && x.webhook_next_attempt_at ? `, próximo intento ${fmtDate(x.webhook_next_attempt_at)}` : ''}` : '—');
  const more = page.items.length === 50 ? h('button.secundaria', { type: 'button', onclick: () => deliveryLog(d, holder, items, page.next_cursor) }, 'Ver más entregas') : '';
  holder.replaceChildren(table(`Entregas a ${d.name}, de la más antigua a la más reciente`, ['Evento', 'Creado', 'Stream de Redis', 'Webhook', 'Intentos'],
    items.map((x) => [`${KIND[x.kind] || x.kind} n.º ${x.item_id}: ${EVENT[x.event] || x.event}`, fmtDate(x.created_at), x.streamed_at ? fmtDate(x.streamed_at) : '—', webhook(x),
      x.webhook_attempts.length ? h('ul.lista-simple', x.webhook_attempts.map((a) => h('li', attempt(a)))) : '—']),
    'Aún no hay entregas.'), more);
}
