// Espacio de trabajo de agentes: cliente de la API /api/v1 con la cookie de sesión.
// Sin biblioteca: funciones pequeñas que construyen el DOM. Rutas en el cliente (History API):
// /app, /app/vistas/<clave>, /app/casos/<número>, /app/clave#<token>. Los miembros de otros
// departamentos ven sus propias pantallas (departments.js).

// The other roles' modules load on first use (dynamic import): an agent downloads none of them.
// The page itself preloads the modules of the screen it opens on (http/workspace/mod.rs).
const departments = () => import('./departments.js');
const reports = () => import('./reports.js');
const admin = () => import('./admin.js');
const team = () => import('./team.js');
const quality = () => import('./quality.js');
const settings = () => import('./settings.js');
const ADMIN_SECTIONS = [['agentes', 'Agentes'], ['colas', 'Colas'], ['reglas', 'Reglas de enrutamiento']];
// The administration's reference data (SLA, calendars, rotations, canned responses, webhooks): settings.js.
const SETTINGS_SECTIONS = [['sla', 'Políticas de SLA'], ['calendarios', 'Calendarios y feriados'], ['rotaciones', 'Rotaciones'],
  ['respuestas', 'Respuestas predefinidas'], ['departamentos', 'Departamentos']];

const API = '/api/v1';
const TZ = 'America/Santiago';
const PAGE_SIZE = 50;
const HEARTBEAT_MS = 10_000;
const TYPING_MS = 6_000;

// ------------------------------------------------------------------ textos

const STATUS = { new: 'Nuevo', open: 'Abierto', pending: 'Pendiente', on_hold: 'En espera', solved: 'Resuelto', closed: 'Cerrado' };
export const PRIORITY = { low: 'Baja', normal: 'Normal', high: 'Alta', urgent: 'Urgente' };
export const CHANNEL = { email: 'Correo', web: 'Formulario web', phone: 'Teléfono', api: 'API' };
export const SEGMENT = { comprador: 'Comprador', proveedor: 'Proveedor', ciudadano: 'Ciudadano' };
export const PRESENCE = { available: 'Disponible', busy: 'Ocupado', away: 'Ausente', after_call_work: 'Post-llamada', offline: 'Desconectado' };
const METRIC = { first_reply: 'Primera respuesta', next_reply: 'Siguiente respuesta', periodic_update: 'Actualización periódica', resolution: 'Resolución', callback: 'Devolución de llamada' };
const METRIC_STATE = { active: 'En curso', paused: 'En pausa', met: 'Cumplido', breached: 'Vencido', cancelled: 'Cancelado' };
const SLA_WORD = { ok: 'A tiempo', warning: 'En riesgo', breached: 'Vencido' };
export const ESCALATION_MODE = { consult: 'Consulta', transfer: 'Traspaso' };
export const ESCALATION_STATUS = { open: 'Abierta', answered: 'Respondida' };
const EVENT = {
  created: 'Creado', message_added: 'Mensaje agregado', status_changed: 'Cambio de estado', priority_changed: 'Cambio de prioridad',
  queue_changed: 'Cambio de cola', assignee_changed: 'Cambio de asignación', category_changed: 'Cambio de categoría',
  tags_changed: 'Cambio de etiquetas', subject_changed: 'Cambio de asunto', sla_policy_applied: 'Política SLA aplicada',
  sla_warning: 'Aviso de SLA', sla_breached: 'SLA vencido', sla_met: 'SLA cumplido', linked: 'Vinculado',
  call_answered: 'Llamada atendida', call_missed: 'Llamada perdida', callback_requested: 'Devolución de llamada pedida',
  merged: 'Fusionado', routed: 'Enrutado', escalated: 'Escalado', escalation_answered: 'Escalamiento respondido',
  opportunity_outcome: 'Resultado de oportunidad de mejora', csat_answered: 'Encuesta respondida',
};
const SORTS = { updated: 'Última actualización', created: 'Creación', due: 'Vencimiento SLA', priority: 'Prioridad' };
const DEFAULT_VIEWS = [
  { key: 'mine', name: 'Mis casos', count: null, query: 'assignee=me&status=new,open,pending,on_hold' },
  { key: 'unassigned', name: 'Sin asignar', count: null, query: 'assignee=none&status=new,open,pending,on_hold' },
];

// ------------------------------------------------------------------ estado

export const state = {
  me: null, csrf: null, views: DEFAULT_VIEWS, queues: [], categories: [], agents: new Map(),
  unread: 0, notifications: [], stream: null, route: null,
  list: null, // { key, query, cursors, rows, selected }
  ticket: null, // { data, messages, lastId, newer, mode, viewers, typingAt, heartbeat }
};

// ------------------------------------------------------------------ utilidades

/** Crea un elemento: h('p.clase#id', {atributos}, hijos…). */
export function h(spec, attrs, ...children) {
  const [tag, ...rest] = spec.split(/(?=[.#])/);
  const el = document.createElement(tag || 'div');
  for (const part of rest) {
    if (part[0] === '.') el.classList.add(part.slice(1));
    else el.id = part.slice(1);
  }
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else if (k in el && !k.startsWith('aria') && !k.startsWith('data') && k !== 'list' && k !== 'for') el[k] = v;
    else el.setAttribute(k === 'for' ? 'for' : k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) if (c != null && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

const dateParts = new Intl.DateTimeFormat('es-CL', {
  timeZone: TZ, day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
});
/** dd-mm-aaaa HH:MM en hora de Santiago. */
export function fmtDate(iso) {
  if (!iso) return '—';
  const p = Object.fromEntries(dateParts.formatToParts(new Date(iso)).map((x) => [x.type, x.value]));
  return `${p.day}-${p.month}-${p.year} ${p.hour}:${p.minute}`;
}
export function timeEl(iso) {
  return h('time', { datetime: iso || '', title: iso ? `${fmtDate(iso)} (hora de Santiago)` : null }, fmtDate(iso));
}
/** "en 2 h 5 min" / "hace 3 días". */
export function relative(iso, now = Date.now()) {
  const diff = new Date(iso).getTime() - now;
  const mins = Math.round(Math.abs(diff) / 60_000);
  let text;
  if (mins < 1) text = 'menos de 1 min';
  else if (mins < 60) text = `${mins} min`;
  else if (mins < 60 * 24) text = `${Math.floor(mins / 60)} h${mins % 60 ? ` ${mins % 60} min` : ''}`;
  else text = `${Math.floor(mins / 1440)} ${Math.floor(mins / 1440) === 1 ? 'día' : 'días'}`;
  return diff >= 0 ? `en ${text}` : `hace ${text}`;
}

export function announce(text) {
  const live = $('#anuncios');
  live.textContent = '';
  setTimeout(() => { live.textContent = text; }, 30);
}

class ApiError extends Error {
  constructor(status, problem) {
    super(problemText(problem) || `Error ${status}`);
    this.status = status;
    this.problem = problem;
  }
}
function problemText(p) {
  if (!p) return '';
  const fields = (p.errors || []).map((e) => `${e.field}: ${e.message}`).join('; ');
  return [p.detail || p.title, fields].filter(Boolean).join(' ');
}

/** The element of `field` in `map` or, failing that, of the nearest field that encloses it
 *  (`week[5][0].start` → `week[5][0]` → `week[5]` → `week`). */
function placeOf(map, field) {
  for (let f = field, up = ''; f; [f, up] = [f.replace(/(\.[^.[\]]+|\[\d+\])$/, ''), f]) {
    if (f === up) return undefined;
    if (map.has(f)) return map.get(f);
  }
  return undefined;
}

/** The API's field errors of `e`, each in its element of `errors` (a Map or an object: field →
 *  element; the others emptied); what no field names goes to `general`. Returns the first element
 *  that got one (to focus its control). */
export function showFieldErrors(e, errors, general) {
  const map = errors instanceof Map ? errors : new Map(Object.entries(errors));
  for (const el of map.values()) el.textContent = '';
  const shown = (e.problem?.errors || [])
    .map((f) => [placeOf(map, f.field), f.message])
    .filter(([el]) => el);
  for (const [el, message] of shown) el.textContent = message;
  general.textContent = shown.length ? '' : e.message;
  return shown[0]?.[0];
}

/** Llama a la API; los métodos que cambian algo llevan X-CSRF-Token. */
export async function api(method, path, body, { keepalive = false } = {}) {
  const headers = { accept: 'application/json' };
  // A FormData (files) goes as multipart: the browser writes its content type.
  const form = body instanceof FormData;
  if (body !== undefined && !form) headers['content-type'] = 'application/json';
  if (method !== 'GET' && state.csrf) headers['x-csrf-token'] = state.csrf;
  const res = await fetch(API + path, { method, headers, body: body === undefined || form ? body : JSON.stringify(body), credentials: 'same-origin', keepalive });
  if (res.status === 204) return null;
  const text = await res.text();
  const data = text ? safeJson(text) : null;
  if (!res.ok) {
    if (res.status === 401 && path !== '/session' && state.me) signedOut('Su sesión terminó. Ingrese nuevamente.');
    throw new ApiError(res.status, data);
  }
  return data;
}
function safeJson(text) {
  try { return JSON.parse(text); } catch { return null; }
}

/** GETs the first screen asked for before the session answered (see `start`): `get` hands each
 *  out once, while fresh (a screen never reached leaves its answers behind), then asks again. */
const early = new Map();
const EARLY_FRESH_MS = 10_000;
let sessionAnswered = false;
function getEarly(path) {
  // Too late once the session answered: the screen asks for itself (or there is no session).
  if (sessionAnswered) return;
  const answer = api('GET', path);
  answer.catch(() => { /* whoever takes it sees the error; a page that never does, none */ });
  early.set(path, { answer, at: performance.now() });
}
export function get(path) {
  const kept = early.get(path);
  early.delete(path);
  return kept && performance.now() - kept.at < EARLY_FRESH_MS ? kept.answer : api('GET', path);
}

/** Hoy en Santiago, `YYYY-MM-DD`. */
export function today() {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'America/Santiago' }).format(new Date());
}
export function addDays(iso, n) {
  return new Date(new Date(`${iso}T00:00:00Z`).getTime() + n * 86_400_000).toISOString().slice(0, 10);
}

/** A report screen's period in its address (`?desde=&hasta=`), by default the `days` days to today. */
export function addressRange(days) {
  const params = new URLSearchParams(location.search);
  const to = params.get('hasta') || today();
  return [params.get('desde') || addDays(to, 1 - days), to];
}

/** "Informes": the six reports of a period, in the order they are drawn. */
export function reportPaths(from, to) {
  const q = new URLSearchParams({ from, to }).toString();
  return [
    `/reports/volume?${q}&interval=day&by=channel`,
    `/reports/response-times?${q}&by=channel`,
    `/reports/sla?${q}&by=channel`,
    `/reports/backlog?${q}&by=channel`,
    `/reports/abandonment?${q}&interval=day`,
    `/quality/csat?${q}&by=channel`,
  ];
}

/** "Informe de calidad": the report of a period by agent or by queue. */
export const qualityReportPath = (from, to, by) => `/quality/report?${new URLSearchParams({ from, to, by })}`;
/** Its period and grouping in the address (`&por=`), by default the last eight weeks by agent. */
export const qualityAddress = () => [...addressRange(56), new URLSearchParams(location.search).get('por') || 'agent'];

/** The screens whose data is asked for with the session, not after it: a report screen's requests
 *  take longest, and the session's answer decides nothing about which they are. Their paths are
 *  built here, so that they leave before the screen's modules have arrived. */
const EARLY = {
  '/app/informes': () => reportPaths(...addressRange(30)),
  '/app/calidad/informe': () => [qualityReportPath(...qualityAddress())],
};

function debounce(fn, ms) {
  let t;
  return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
}

/** Runs `fn` at once, then at most once every `ms` and never twice at the same time: calls
 * meanwhile make one more run afterwards. For refreshes that events trigger, which on a busy
 * floor arrive faster than a debounce would ever let through, or than the server answers. */
function throttle(fn, ms) {
  let busy = false;
  let again = false;
  const run = async () => {
    if (busy) { again = true; return; }
    busy = true;
    try { await fn(); } catch { /* the next call retries */ }
    setTimeout(() => {
      busy = false;
      if (again) { again = false; run(); }
    }, ms);
  };
  return run;
}

function select(label, id, options, value, attrs = {}) {
  return h('div.campo', h('label', { for: id }, label),
    h('select', { id, ...attrs }, options.map(([v, text]) => h('option', { value: v, selected: String(v) === String(value ?? '') }, text))));
}

// ------------------------------------------------------------------ rutas

export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  route();
}

document.addEventListener('click', (ev) => {
  const a = ev.target.closest('a[href^="/app"]');
  if (!a || ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.button !== 0 || a.target) return;
  ev.preventDefault();
  navigate(a.getAttribute('href'));
});
window.addEventListener('popstate', () => route());

async function route() {
  const path = location.pathname.replace(/\/+$/, '');
  if (path === '/app/clave') return passwordScreen();
  if (!state.me) return;
  if (state.me.role === 'department') return (await departments()).departmentRoute(path);
  leaveTicket();
  markManagement(path);
  if (path === '/app/informes' && manages()) {
    state.route = { type: 'reports' };
    renderViews();
    return (await reports()).reportsRoute();
  }
  if (path === '/app/dotacion' && manages()) {
    state.route = { type: 'staffing' };
    renderViews();
    return (await reports()).staffingRoute();
  }
  if (path === '/app/equipo' && manages()) {
    state.route = { type: 'team' };
    renderViews();
    return (await team()).teamScreen();
  }
  // The other screens name queues, categories and agents.
  await state.loadReference();
  const qualityMatch = path.match(/^\/app\/calidad(\/.*)?$/);
  if (qualityMatch) {
    state.route = { type: 'quality' };
    renderViews();
    return (await quality()).qualityRoute(qualityMatch[1] || '');
  }
  const adminMatch = path.match(/^\/app\/admin\/([a-z-]+)$/);
  if (adminMatch && state.me.role === 'admin') {
    state.route = { type: 'admin' };
    renderViews();
    if (SETTINGS_SECTIONS.some(([key]) => key === adminMatch[1])) return (await settings()).settingsRoute(adminMatch[1]);
    return (await admin()).adminRoute(adminMatch[1]);
  }
  const caseMatch = path.match(/^\/app\/casos\/([^/]+)$/);
  const viewMatch = path.match(/^\/app\/vistas\/([^/]+)$/);
  if (caseMatch) return ticketScreen(decodeURIComponent(caseMatch[1]));
  const key = viewMatch ? decodeURIComponent(viewMatch[1]) : 'mine';
  return listScreen(key);
}

// ------------------------------------------------------------------ inicio de sesión

async function start() {
  const path = location.pathname.replace(/\/+$/, '');
  if (path === '/app/clave') return passwordScreen();
  try {
    const session = get('/session').finally(() => { sessionAnswered = true; });
    for (const early of EARLY[path]?.() ?? []) getEarly(early);
    await signedIn(await session);
  } catch (e) {
    // Asked without a session: the answers are refusals, not the screen's data after signing in.
    early.clear();
    if (e.status === 401) signInScreen();
    else fatal(e);
  }
}

function fatal(e) {
  $('#raiz').replaceChildren(h('main#principal.acceso', h('h1', 'No se pudo cargar el espacio de trabajo'), h('p.error', { role: 'alert' }, e.message)));
}

function signInScreen(message) {
  document.title = 'Ingresar · Atención Usuaria';
  const error = h('p.error#error-acceso', { role: 'alert' }, message || '');
  const email = h('input#correo', { type: 'email', name: 'email', autocomplete: 'username', required: true, maxlength: 254 });
  const password = h('input#contrasena', { type: 'password', name: 'password', autocomplete: 'current-password', required: true, maxlength: 200 });
  const button = h('button', { type: 'submit' }, 'Ingresar');
  const form = h('form', { novalidate: true, 'aria-describedby': 'error-acceso' },
    h('div.campo', h('label', { for: 'correo' }, 'Correo electrónico'), email),
    h('div.campo', h('label', { for: 'contrasena' }, 'Contraseña'), password),
    error, button);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    if (!email.value.trim() || !password.value) {
      error.textContent = 'Escriba su correo electrónico y su contraseña.';
      (email.value.trim() ? password : email).focus();
      return;
    }
    button.disabled = true;
    try {
      const session = await api('POST', '/session', { email: email.value.trim(), password: password.value });
      password.value = '';
      await signedIn(session);
    } catch (e) {
      error.textContent = e.status === 429 ? (e.problem?.detail || 'Demasiados intentos. Espere un momento.') : e.message;
      password.select();
      password.focus();
    } finally {
      button.disabled = false;
    }
  });
  $('#raiz').replaceChildren(h('main#principal.acceso',
    h('h1.marca', 'Atención ', h('span', 'Usuaria')),
    h('p', 'Espacio de trabajo de la Mesa de Ayuda de ChileCompra.'),
    h('h2', 'Iniciar sesión'), form));
  email.focus();
}

function passwordScreen() {
  document.title = 'Definir contraseña · Atención Usuaria';
  const token = location.hash.slice(1);
  if (token) {
    sessionStorage.setItem('clave-token', token);
    history.replaceState(null, '', '/app/clave');
  }
  const stored = sessionStorage.getItem('clave-token');
  const msg = h('p.error#error-clave', { role: 'alert' });
  const first = h('input#clave-nueva', { type: 'password', autocomplete: 'new-password', required: true, minlength: 10, maxlength: 200, 'aria-describedby': 'regla-clave' });
  const second = h('input#clave-repetida', { type: 'password', autocomplete: 'new-password', required: true, maxlength: 200 });
  const form = h('form', { novalidate: true },
    h('div.campo', h('label', { for: 'clave-nueva' }, 'Nueva contraseña'), first,
      h('span.tenue#regla-clave', 'Entre 10 y 200 caracteres.')),
    h('div.campo', h('label', { for: 'clave-repetida' }, 'Repita la contraseña'), second),
    msg, h('button', { type: 'submit' }, 'Guardar contraseña'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    msg.textContent = '';
    if (first.value !== second.value) { msg.textContent = 'Las contraseñas no coinciden.'; second.focus(); return; }
    try {
      await api('POST', '/session/password', { token: stored || '', password: first.value });
      sessionStorage.removeItem('clave-token');
      main.replaceChildren(h('h1', 'Contraseña guardada'), h('p.exito', { role: 'status' }, 'Ya puede ingresar con su correo electrónico y la nueva contraseña.'),
        h('p', h('a', { href: '/app' }, 'Ir a Ingresar')));
    } catch (e) {
      msg.textContent = e.message;
    }
  });
  const main = h('main#principal.acceso', h('h1.marca', 'Atención ', h('span', 'Usuaria')), h('h2', 'Definir contraseña'),
    stored ? form : h('p.error', { role: 'alert' }, 'El enlace no trae su código. Ábralo tal como llegó en el correo.'));
  $('#raiz').replaceChildren(main);
  if (stored) first.focus();
}

async function signedIn(session) {
  state.me = session.agent;
  state.csrf = session.csrf_token;
  state.agents.set(state.me.id, state.me.name);
  if (state.me.role === 'department') {
    await (await departments()).departmentShell();
    if (location.pathname === '/app/clave') history.replaceState(null, '', '/app');
    return route();
  }
  shell();
  // The views (their counts run over every ticket) and the reference data load when a screen
  // needs them, or after the first screen is shown: a report does not wait, nor compete, for them.
  state.loadViews = once(loadViews);
  state.loadReference = once(loadReference);
  loadNotifications();
  loadPresence();
  connectStream();
  if (location.pathname === '/app/clave') history.replaceState(null, '', '/app');
  await route();
  state.loadViews();
  state.loadReference();
}

/** `load` runs on the first call; every call answers its one promise. */
function once(load) {
  let started;
  return () => (started ||= load());
}

function signedOut(message) {
  state.me = null;
  state.csrf = null;
  state.stream?.close();
  state.stream = null;
  leaveTicket();
  history.replaceState(null, '', '/app');
  signInScreen(message);
}

export async function signOut() {
  await leaveTicket();
  try { await api('DELETE', '/session'); } catch { /* la cookie se borra igual al expirar */ }
  signedOut('Sesión cerrada.');
}

async function loadReference() {
  const manager = state.me.role === 'admin' || state.me.role === 'supervisor';
  const [queues, categories, agents] = await Promise.all([get('/queues').catch(() => []), get('/categories').catch(() => []),
    manager ? get('/agents').catch(() => null) : null]);
  state.queues = Array.isArray(queues) ? queues : queues?.items || [];
  state.categories = Array.isArray(categories) ? categories : categories?.items || [];
  if (manager) {
    for (const a of (Array.isArray(agents) ? agents : agents?.items || [])) state.agents.set(a.id, a.name);
    state.agentList = Array.isArray(agents) ? agents : agents?.items || [];
  }
}

// ------------------------------------------------------------------ marco: barra y vistas

function shell() {
  const presence = h('select#presencia', { onchange: (ev) => setPresence(ev.target.value) },
    Object.entries(PRESENCE).map(([v, t]) => h('option', { value: v }, t)));
  const bell = h('div.campana',
    h('button#campana.secundaria', { type: 'button', 'aria-expanded': 'false', 'aria-controls': 'avisos', onclick: toggleNotifications },
      'Notificaciones', h('span.insignia.cero#no-leidas', { 'aria-hidden': 'true' }, '0'), h('span.oculto#no-leidas-texto', ': 0 sin leer')),
    h('section#avisos.panel-avisos', { hidden: true, 'aria-label': 'Notificaciones' }));
  $('#raiz').replaceChildren(
    h('header.barra',
      h('a.marca', { href: '/app' }, 'Atención ', h('span', 'Usuaria')),
      h('span.espacio'),
      h('button#tomar', { type: 'button', onclick: takeNext }, 'Tomar siguiente'),
      h('div.presencia', h('label', { for: 'presencia' }, 'Mi estado'), presence),
      bell,
      h('span.quien', state.me.name),
      h('button.secundaria', { type: 'button', onclick: () => shortcutsDialog() }, h('span', { 'aria-hidden': 'true' }, '?'), h('span.oculto', 'Atajos de teclado')),
      h('button#salir.secundaria', { type: 'button', onclick: signOut }, 'Cerrar sesión')),
    h('div.cuerpo',
      h('div.lateral-izq',
        h('nav.vistas', { 'aria-label': 'Vistas' }, h('h2', 'Vistas'), h('ul#lista-vistas')),
        managementNav()),
      h('main#principal', { tabindex: '-1' })));
  renderViews();
}

const manages = () => state.me.role === 'supervisor' || state.me.role === 'admin';

/** Informes (supervisores y administradores) y administración (administradores); los agentes,
 *  sus evaluaciones de calidad. */
function managementNav() {
  const title = manages() ? 'Gestión' : 'Calidad';
  const links = manages() ? [['/app/equipo', 'Equipo y colas'], ['/app/informes', 'Informes'], ['/app/dotacion', 'Dotación'], ['/app/calidad', 'Calidad']] : [['/app/calidad', 'Mis evaluaciones']];
  if (state.me.role === 'admin') links.push(...[...ADMIN_SECTIONS, ...SETTINGS_SECTIONS].map(([key, name]) => [`/app/admin/${key}`, name]));
  return h('nav.vistas.gestion', { 'aria-label': title }, h('h2', title),
    h('ul', links.map(([href, name]) => h('li', h('a', { href, 'data-gestion': href }, h('span', name))))));
}

function markManagement(path) {
  const current = (href) => path === href || path.startsWith(`${href}/`);
  for (const a of $$('[data-gestion]')) a.setAttribute('aria-current', current(a.dataset.gestion) ? 'page' : 'false');
}

async function loadViews() {
  try {
    const data = await get('/tickets/views');
    if (data?.views?.length) state.views = data.views;
  } catch { /* sin el endpoint quedan las vistas básicas, sin cuentas */ }
  renderViews();
}
const refreshViews = throttle(loadViews, 1000);

function renderViews() {
  const ul = $('#lista-vistas');
  if (!ul) return;
  const current = state.route?.type === 'list' ? state.route.key : null;
  ul.replaceChildren(...state.views.map((v) => h('li',
    h('a', { href: `/app/vistas/${encodeURIComponent(v.key)}`, 'aria-current': v.key === current ? 'page' : null, 'data-vista': v.key },
      h('span', v.name),
      v.count == null ? null : h('span.cuenta', String(v.count), h('span.oculto', ' casos'))))));
}

async function loadPresence() {
  try {
    const r = await get(`/agents/${state.me.id}/routing`);
    state.routing = r;
    const sel = $('#presencia');
    if (sel && r?.presence) sel.value = r.presence;
  } catch { /* agentes sin datos de enrutamiento */ }
}

async function setPresence(value) {
  try {
    state.routing = await api('PUT', `/agents/${state.me.id}/presence`, { presence: value });
    announce(`Estado: ${PRESENCE[value]}`);
  } catch (e) {
    announce(e.message);
  }
}

/** Modo pull: el caso más urgente de las colas del agente. */
async function takeNext() {
  const slugs = state.routing?.queues || [];
  const queues = state.queues.filter((q) => q.member || slugs.includes(q.slug));
  for (const q of (queues.length ? queues : state.queues)) {
    try {
      const ticket = await api('POST', `/queues/${q.id}/next`);
      if (ticket) {
        announce(`Tomó el caso ${ticket.number}`);
        refreshViews();
        return navigate(`/app/casos/${encodeURIComponent(ticket.number)}`);
      }
    } catch (e) {
      if (e.status !== 403 && e.status !== 409) { announce(e.message); return; }
    }
  }
  announce('No hay casos esperando en sus colas.');
  flash('No hay casos esperando en sus colas.');
}

function flash(text, kind = 'exito') {
  const main = $('#principal');
  if (!main) return;
  $('.destello', main)?.remove();
  main.prepend(h(`p.destello.${kind}`, { role: kind === 'error' ? 'alert' : 'status' }, text));
}

// ------------------------------------------------------------------ notificaciones

async function loadNotifications() {
  try {
    const data = await get('/notifications?limit=20');
    state.notifications = data?.items || [];
    setUnread(data?.unread ?? state.notifications.filter((n) => !n.read_at).length);
  } catch { setUnread(0); }
}

function setUnread(n) {
  state.unread = n;
  const badge = $('#no-leidas');
  if (!badge) return;
  badge.textContent = String(n);
  badge.classList.toggle('cero', n === 0);
  $('#no-leidas-texto').textContent = `: ${n} sin leer`;
  $('#campana').dataset.unread = String(n);
}

function toggleNotifications() {
  const panel = $('#avisos');
  const open = panel.hidden;
  panel.hidden = !open;
  $('#campana').setAttribute('aria-expanded', String(open));
  if (open) renderNotifications();
}

function renderNotifications() {
  const panel = $('#avisos');
  const items = state.notifications;
  panel.replaceChildren(
    h('h2', 'Notificaciones'),
    h('button.secundaria', { type: 'button', onclick: markAllRead, disabled: state.unread === 0 }, 'Marcar todas como leídas'),
    items.length ? h('ul', items.map((n) => h(`li${n.read_at ? '' : '.no-leido'}`,
      h('a', { href: `/app/casos/${encodeURIComponent(n.ticket_number || n.ticket_id)}`, onclick: () => markRead(n) },
        n.read_at ? '' : h('span.oculto', 'No leída: '), n.title),
      timeEl(n.created_at)))) : h('p', 'No tiene notificaciones.'));
}

async function markRead(n) {
  $('#avisos').hidden = true;
  $('#campana').setAttribute('aria-expanded', 'false');
  if (n.read_at) return;
  n.read_at = new Date().toISOString();
  try { setUnread((await api('POST', '/notifications/read', { ids: [n.id] })).unread); } catch { /* se reintenta al recargar */ }
}

async function markAllRead() {
  try {
    const r = await api('POST', '/notifications/read', { all: true });
    state.notifications.forEach((n) => { n.read_at ||= new Date().toISOString(); });
    setUnread(r.unread);
    renderNotifications();
  } catch (e) { announce(e.message); }
}

// ------------------------------------------------------------------ en vivo

function connectStream() {
  state.stream?.close();
  const es = new EventSource(`${API}/stream`);
  state.stream = es;
  es.addEventListener('open', () => { document.body.dataset.live = 'on'; });
  es.addEventListener('error', () => { document.body.dataset.live = 'off'; });
  es.addEventListener('ticket', (ev) => onTicketEvent(safeJson(ev.data)));
  es.addEventListener('notification', (ev) => onNotification(safeJson(ev.data)));
  es.addEventListener('viewers', (ev) => {
    const d = safeJson(ev.data);
    if (d && state.ticket && d.ticket_id === state.ticket.data.id) renderViewers(d.viewers.filter((v) => v.agent_id !== state.me.id));
  });
}

function onTicketEvent(e) {
  if (!e) return;
  refreshViews();
  // Notifications are written just after the event that causes them: resync the bell then.
  if (e.assignee_id === state.me.id) { setTimeout(loadNotifications, 1000); setTimeout(loadNotifications, 4000); }
  if (state.route?.type === 'list') refreshList();
  const t = state.ticket;
  if (t && e.ticket_id === t.data.id) {
    if (e.kind === 'message_added') loadNewMessages();
    else refreshTicketFields();
  }
}

function onNotification(n) {
  if (!n) return;
  state.notifications.unshift(n);
  state.notifications = state.notifications.slice(0, 30);
  setUnread(state.unread + 1);
  announce(`Nueva notificación: ${n.title}`);
  if (!$('#avisos').hidden) renderNotifications();
}

// ------------------------------------------------------------------ lista

function viewByKey(key) {
  return state.views.find((v) => v.key === key) || DEFAULT_VIEWS[0];
}

async function listScreen(key) {
  await state.loadViews();
  const view = viewByKey(key);
  state.route = { type: 'list', key: view.key };
  renderViews();
  document.title = `${view.name} · Atención Usuaria`;
  const params = new URLSearchParams(location.search);
  state.list = { key: view.key, view, params, cursors: [null], page: 0, rows: [], selected: -1 };
  const main = $('#principal');
  main.replaceChildren(
    h('div.cabeza-lista', h('h1#titulo-lista', view.name), h('p.tenue#resumen-lista', { role: 'status' })),
    filtersForm(params),
    h('div#tabla'));
  await loadList();
}

function filtersForm(params) {
  const apply = () => {
    const p = new URLSearchParams();
    for (const id of ['q', 'status', 'channel', 'category', 'sort', 'order']) {
      const v = $(`#f-${id}`).value.trim();
      if (v) p.set(id, v);
    }
    history.replaceState(null, '', `${location.pathname}${p.toString() ? `?${p}` : ''}`);
    state.list.params = p;
    state.list.cursors = [null];
    state.list.page = 0;
    loadList();
  };
  const form = h('form.filtros', { role: 'search', 'aria-label': 'Filtrar casos', onsubmit: (ev) => { ev.preventDefault(); apply(); } },
    h('div.campo', h('label', { for: 'f-q' }, 'Buscar (número, asunto, mensajes, solicitante o RUT)'), h('input#f-q', { type: 'search', value: params.get('q') || '', maxlength: 200 })),
    select('Estado', 'f-status', [['', 'Los de la vista'], ...Object.entries(STATUS)], params.get('status'), { onchange: apply }),
    select('Canal', 'f-channel', [['', 'Todos'], ...Object.entries(CHANNEL)], params.get('channel'), { onchange: apply }),
    select('Categoría', 'f-category', [['', 'Todas'], ...state.categories.filter((c) => c.active !== false).map((c) => [c.slug, c.name])], params.get('category'), { onchange: apply }),
    select('Ordenar por', 'f-sort', Object.entries(SORTS), params.get('sort') || 'updated', { onchange: apply }),
    select('Orden', 'f-order', [['desc', 'Descendente'], ['asc', 'Ascendente']], params.get('order') || 'desc', { onchange: apply }),
    h('button', { type: 'submit' }, 'Buscar'));
  return form;
}

function listQuery(cursor) {
  const l = state.list;
  const q = new URLSearchParams(l.view.query);
  for (const [k, v] of l.params) q.set(k, v);
  q.set('limit', String(PAGE_SIZE));
  if (!q.has('sort')) q.set('sort', 'updated');
  if (cursor) q.set('cursor', cursor);
  return q.toString();
}

async function loadList() {
  const l = state.list;
  const holder = $('#tabla');
  if (!holder) return;
  holder.setAttribute('aria-busy', 'true');
  try {
    const page = await get(`/tickets?${listQuery(l.cursors[l.page])}`);
    if (state.list !== l) return;
    const hadFocus = document.activeElement?.classList.contains('enlace-caso');
    l.rows = page.items;
    l.next = page.next_cursor;
    l.selected = Math.min(l.selected, l.rows.length - 1);
    renderTable();
    if (hadFocus && l.selected >= 0) selectRow(l.selected);
  } catch (e) {
    holder.replaceChildren(h('p.error', { role: 'alert' }, e.message));
  } finally {
    holder.removeAttribute('aria-busy');
  }
}
const refreshList = throttle(async () => { if (state.route?.type === 'list') await loadList(); }, 1000);

function slaCell(t) {
  if (!t.next_due_at) return h('span.sla.sla-none', 'Sin plazo');
  const st = t.sla_state || (new Date(t.next_due_at) < Date.now() ? 'breached' : 'ok');
  return h(`span.sla.sla-${st}`, { title: `Vence ${fmtDate(t.next_due_at)} (hora de Santiago)` }, `${SLA_WORD[st] || ''} · ${relative(t.next_due_at)}`);
}

function renderTable() {
  const l = state.list;
  const holder = $('#tabla');
  const sort = l.params.get('sort') || 'updated';
  const order = l.params.get('order') || 'desc';
  $('#resumen-lista').textContent = l.rows.length ? `Página ${l.page + 1} · ${l.rows.length} casos` : '';
  if (!l.rows.length) {
    holder.replaceChildren(h('p.vacio', 'No hay casos en esta vista con estos filtros.'));
    return;
  }
  const sortHeader = (label, key) => {
    const active = sort === key;
    return h('th', { scope: 'col', 'aria-sort': active ? (order === 'asc' ? 'ascending' : 'descending') : null },
      h('button', { type: 'button', onclick: () => sortBy(key, active && order === 'desc' ? 'asc' : 'desc') },
        label, active ? h('span', { 'aria-hidden': 'true' }, order === 'asc' ? ' ▲' : ' ▼') : null));
  };
  const table = h('table.casos', h('caption.oculto', `${l.view.name}: casos`),
    h('thead', h('tr',
      h('th', { scope: 'col' }, 'Número'), h('th', { scope: 'col' }, 'Asunto'), h('th', { scope: 'col' }, 'Solicitante'),
      h('th', { scope: 'col' }, 'Estado'), sortHeader('Prioridad', 'priority'), sortHeader('Próximo vencimiento', 'due'),
      sortHeader('Última actualización', 'updated'))),
    h('tbody', l.rows.map((t, i) => h(`tr${i === l.selected ? '.elegida' : ''}`, { 'data-numero': t.number, onclick: (ev) => { if (!ev.target.closest('a')) openRow(i); } },
      h('td.numero', h('a.enlace-caso', { href: `/app/casos/${encodeURIComponent(t.number)}`, 'aria-label': `${t.number} ${t.subject}`, onfocus: () => selectRow(i, false) }, t.number)),
      h('td.asunto', t.subject),
      h('td', t.requester?.name || '—'),
      h('td', h(`span.marca-estado.estado-${t.status}`, STATUS[t.status] || t.status)),
      h('td', h(`span.prioridad-${t.priority}`, PRIORITY[t.priority] || t.priority)),
      h('td', slaCell(t)),
      h('td.fecha', timeEl(t.updated_at))))));
  const pages = h('nav.paginas', { 'aria-label': 'Páginas' },
    h('button.secundaria', { type: 'button', disabled: l.page === 0, onclick: () => { l.page -= 1; loadList(); } }, 'Página anterior'),
    h('span', `Página ${l.page + 1}`),
    h('button.secundaria', { type: 'button', disabled: !l.next, onclick: () => { l.cursors[l.page + 1] = l.next; l.page += 1; loadList(); } }, 'Página siguiente'));
  holder.replaceChildren(table, pages);
}

function sortBy(key, order) {
  $('#f-sort').value = key;
  $('#f-order').value = order;
  $('form.filtros').requestSubmit();
}

function selectRow(i, focus = true) {
  const l = state.list;
  if (!l || !l.rows.length) return;
  l.selected = Math.max(0, Math.min(l.rows.length - 1, i));
  $$('table.casos tbody tr').forEach((tr, j) => tr.classList.toggle('elegida', j === l.selected));
  if (focus) $$('table.casos tbody a.enlace-caso')[l.selected]?.focus();
}
function openRow(i) {
  const t = state.list.rows[i];
  if (t) navigate(`/app/casos/${encodeURIComponent(t.number)}`);
}

// ------------------------------------------------------------------ caso

async function ticketScreen(ref) {
  state.route = { type: 'ticket', ref };
  renderViews();
  const main = $('#principal');
  main.replaceChildren(h('p.cargando', { role: 'status' }, 'Cargando el caso…'));
  let data;
  let messages;
  try {
    [data, messages] = await Promise.all([get(`/tickets/${encodeURIComponent(ref)}`), get(`/tickets/${encodeURIComponent(ref)}/messages`)]);
  } catch (e) {
    main.replaceChildren(h('h1', 'Caso no disponible'), h('p.error', { role: 'alert' }, e.message), h('p', h('a', { href: '/app' }, 'Volver a Mis casos')));
    return;
  }
  if (state.route?.ref !== ref) return;
  document.title = `${data.number} · ${data.subject}`;
  const lastId = messages.reduce((m, x) => Math.max(m, x.id), 0);
  state.ticket = { data, messages, lastId, newer: false, mode: 'public', viewers: [], typingAt: 0, seen: new Set(messages.map((m) => m.id)) };
  if (data.assignee_id && data.assignee_name) state.agents.set(data.assignee_id, data.assignee_name);
  main.replaceChildren(h('div.caso',
    h('section.conversacion', { 'aria-labelledby': 'titulo-caso' },
      h('header.cabeza-caso.tarjeta',
        h('p.numero', data.number),
        h('h1#titulo-caso', data.subject),
        h('p', h(`span.marca-estado.estado-${data.status}#estado-caso`, STATUS[data.status]), ' ',
          h('span.tenue', `Canal: ${CHANNEL[data.channel] || data.channel} · Creado ${fmtDate(data.created_at)}`)),
        h('p.presentes#presentes', { role: 'status', 'aria-live': 'polite' }),
        manages() ? h('p', h('a', { href: `/app/calidad/evaluar/${encodeURIComponent(data.number)}` }, 'Evaluar la calidad del caso')) : null),
      h('h2.oculto', 'Conversación'),
      h('ol.mensajes#mensajes', { 'aria-label': 'Conversación, del más antiguo al más reciente' }, messages.map((m) => messageItem(m))),
      composer()),
    h('div.lateral',
      h('section.tarjeta.datos', { 'aria-labelledby': 'titulo-datos' }, h('h2#titulo-datos', 'Datos del caso'), fieldsForm(data),
        h('h3', 'Plazos (SLA)'), h('div#relojes', h('p.tenue', 'Cargando…')),
        h('h3', 'Escalamientos'), h('div#escalamientos', h('p.tenue', 'Cargando…')),
        h('h3', 'Historial'), h('button.secundaria#ver-historial', { type: 'button', 'aria-expanded': 'false', 'aria-controls': 'historial', onclick: toggleHistory }, 'Ver historial'),
        h('ol.historial#historial', { hidden: true, tabindex: '0', 'aria-label': 'Historial del caso' })),
      h('section.tarjeta.solicitante', { 'aria-labelledby': 'titulo-solicitante' }, h('h2#titulo-solicitante', 'Solicitante'), h('div#ficha-solicitante', requesterCard(data.requester)),
        h('h3', 'Casos anteriores'), h('div#casos-anteriores', h('p.tenue', 'Cargando…')),
        h('h3', 'Llamadas'), h('div#llamadas', h('p.tenue', 'Cargando…')),
        h('h3', 'Encuestas'), h('div#encuestas', h('p.tenue', 'Cargando…'))),
      h('section.tarjeta.similares', { 'aria-labelledby': 'titulo-similares' }, h('h2#titulo-similares', 'Casos similares'),
        h('div#casos-similares', h('p.tenue', 'Cargando…'))))));
  document.body.dataset.ticket = data.number;
  restoreDraft();
  startHeartbeat();
  loadSla();
  loadEscalations();
  loadRequesterHistory();
  loadSimilar();
  const last = $('#mensajes li:last-child');
  last?.scrollIntoView?.({ block: 'nearest' });
}

function authorOf(m) {
  const t = state.ticket.data;
  switch (m.author_type) {
    case 'agent': return m.author_name || state.agents.get(m.author_agent_id) || (m.author_agent_id ? `Agente n.º ${m.author_agent_id}` : 'Agente');
    case 'system': return 'Sistema';
    case 'participant': return [m.sender_name, m.sender_email && `<${m.sender_email}>`].filter(Boolean).join(' ') || 'Participante';
    default: {
      const name = m.sender_name || t.requester?.name || 'Solicitante';
      return m.sender_email ? `${name} <${m.sender_email}>` : name;
    }
  }
}

function messageItem(m, fresh = false) {
  const internal = m.visibility === 'internal';
  const kind = internal ? 'Nota interna' : (m.author_type === 'agent' ? 'Respuesta pública' : 'Mensaje del solicitante');
  return h(`li.mensaje.${m.author_type}${internal ? '.interno' : '.publico'}${fresh ? '.nuevo' : ''}`, { 'data-id': m.id },
    h('article', { 'aria-label': `${kind} de ${authorOf(m)}` },
      h('header',
        h('strong', authorOf(m)),
        h(`span.tipo.${internal ? 'interno' : 'publico'}`, kind),
        h('span', `vía ${CHANNEL[m.channel] || m.channel}`),
        timeEl(m.created_at),
        m.sender_status === 'unknown' ? h('span.aviso-remitente', 'Remitente desconocido: no cambió el caso') : null,
        m.sender_status === 'cc' ? h('span', 'En copia') : null),
      h('p.texto', m.body),
      m.attachments?.length ? h('ul.adjuntos', { 'aria-label': 'Archivos adjuntos' }, m.attachments.map((f) => h('li',
        SCAN_BLOCKED[f.scan] ? h('span', f.filename) : h('a', { href: `/api/v1/attachments/${f.id}`, target: '_blank', rel: 'noopener' }, f.filename),
        h('span.tenue', ` ${fileSize(f.size)}`),
        SCAN_BLOCKED[f.scan] ? h(`span.analisis.${f.scan}`, ` ${SCAN_BLOCKED[f.scan](f.scan_detail)}`) : null))) : null));
}

/** Por qué un adjunto no se puede abrir (análisis antivirus). */
const SCAN_BLOCKED = {
  pending: () => 'Se está analizando en busca de malware',
  infected: (firma) => `Contiene malware (${firma || 'firma desconocida'}); fue apartado`,
};

/** Tamaño legible de un archivo: «12 KB», «1,4 MB». */
function fileSize(bytes) {
  const [value, unit] = bytes < 1024 ? [bytes, 'B'] : bytes < 1048576 ? [bytes / 1024, 'KB'] : [bytes / 1048576, 'MB'];
  return `${new Intl.NumberFormat('es-CL', { maximumFractionDigits: 1 }).format(value)} ${unit}`;
}

async function loadNewMessages() {
  const t = state.ticket;
  if (!t) return;
  try {
    const all = await get(`/tickets/${t.data.id}/messages`);
    if (state.ticket !== t) return;
    const list = $('#mensajes');
    for (const m of all) {
      if (t.seen.has(m.id)) continue;
      t.seen.add(m.id);
      t.messages.push(m);
      list.append(messageItem(m, true));
      if (!t.sending && !(m.author_type === 'agent' && m.author_agent_id === state.me.id)) {
        t.newer = true;
        announce(`Nuevo mensaje de ${authorOf(m)}`);
      }
    }
    t.lastId = all.reduce((mx, x) => Math.max(mx, x.id), t.lastId);
  } catch { /* el próximo evento lo reintenta */ }
}

async function refreshTicketFields() {
  const t = state.ticket;
  if (!t) return;
  try {
    const data = await get(`/tickets/${t.data.id}`);
    if (state.ticket !== t) return;
    t.data = data;
    const badge = $('#estado-caso');
    badge.className = `marca-estado estado-${data.status}`;
    badge.textContent = STATUS[data.status];
    if (!document.activeElement?.closest('#form-datos')) $('#form-datos').replaceWith(fieldsForm(data));
    loadSla();
  } catch { /* sin cambios */ }
}

// --- campos editables

function fieldsForm(t) {
  const queueOptions = state.queues.map((q) => [q.slug, q.name]);
  if (t.queue && !queueOptions.some(([s]) => s === t.queue)) queueOptions.unshift([t.queue, t.queue]);
  const assignees = new Map([['', 'Sin asignar'], [String(state.me.id), `${state.me.name} (yo)`]]);
  if (t.assignee_id) assignees.set(String(t.assignee_id), t.assignee_name || `Agente n.º ${t.assignee_id}`);
  for (const a of state.agentList || []) if (a.active && ['agent', 'supervisor', 'admin'].includes(a.role)) assignees.set(String(a.id), a.name);
  const form = h('form#form-datos', { onsubmit: (ev) => ev.preventDefault() },
    h('div.campo', h('label', { for: 'c-asunto' }, 'Asunto'), h('input#c-asunto', { value: t.subject, maxlength: 200, 'data-campo': 'subject' })),
    select('Estado', 'c-estado', Object.entries(STATUS), t.status, { 'data-campo': 'status' }),
    select('Prioridad', 'c-prioridad', Object.entries(PRIORITY), t.priority, { 'data-campo': 'priority' }),
    select('Cola', 'c-cola', queueOptions, t.queue, { 'data-campo': 'queue' }),
    select('Asignado a', 'c-asignado', [...assignees], t.assignee_id ?? '', { 'data-campo': 'assignee_id' }),
    select('Categoría', 'c-categoria', [['', 'Sin categoría'], ...state.categories.map((c) => [c.slug, c.name])], t.category ?? '', { 'data-campo': 'category' }),
    h('div.campo', h('label', { for: 'c-etiquetas' }, 'Etiquetas'), h('input#c-etiquetas', { value: t.tags.join(', '), 'aria-describedby': 'ayuda-etiquetas', 'data-campo': 'tags' }),
      h('span.tenue#ayuda-etiquetas', 'Separadas por comas.')),
    h('p.error#error-datos', { role: 'alert' }), h('p.exito#ok-datos', { role: 'status' }));
  form.addEventListener('change', (ev) => {
    const field = ev.target.dataset.campo;
    if (field) saveField(field, ev.target.value);
  });
  return form;
}

async function saveField(field, raw) {
  const t = state.ticket;
  let value = raw;
  if (field === 'assignee_id') value = raw ? Number(raw) : null;
  if (field === 'category') value = raw || null;
  if (field === 'tags') value = raw.split(',').map((x) => x.trim()).filter(Boolean);
  if (field === 'subject' && !raw.trim()) return;
  $('#error-datos').textContent = '';
  $('#ok-datos').textContent = '';
  try {
    t.data = await api('PATCH', `/tickets/${t.data.id}`, { [field]: value });
    $('#ok-datos').textContent = 'Cambio guardado.';
    if (field === 'status') {
      $('#estado-caso').className = `marca-estado estado-${t.data.status}`;
      $('#estado-caso').textContent = STATUS[t.data.status];
    }
    if (field === 'subject') $('#titulo-caso').textContent = t.data.subject;
    refreshViews();
    loadSla();
  } catch (e) {
    $('#error-datos').textContent = e.message;
  }
}

async function setStatus(status) {
  if (!state.ticket) return;
  const sel = $('#c-estado');
  sel.value = status;
  await saveField('status', status);
}

// --- SLA, escalamientos, historial, solicitante

async function loadSla() {
  const t = state.ticket;
  if (!t) return;
  const box = $('#relojes');
  try {
    const sla = await get(`/tickets/${t.data.id}/sla`);
    const metrics = (sla.metrics || []).filter((m) => m.state !== 'cancelled');
    box.replaceChildren(metrics.length ? h('ul.relojes', metrics.map((m) => h('li',
      h('strong', METRIC[m.metric] || m.metric), ': ',
      h(`span.sla.sla-${m.state === 'breached' ? 'breached' : m.state === 'met' ? 'ok' : (m.warn_at && new Date(m.warn_at) < Date.now() ? 'warning' : 'ok')}`, METRIC_STATE[m.state] || m.state),
      h('br'),
      m.due_at ? h('span.tenue', 'Vence ', timeEl(m.due_at), ` (${relative(m.due_at)}, hora de Santiago)`) : h('span.tenue', 'Sin vencimiento'),
      m.met_at ? h('span.tenue', ' · cumplido ', timeEl(m.met_at)) : null))) : h('p.tenue', sla.policy ? 'Sin plazos activos.' : 'Ninguna política de SLA aplica.'));
  } catch (e) { box.replaceChildren(h('p.tenue', e.message)); }
}

async function loadEscalations() {
  const t = state.ticket;
  const box = $('#escalamientos');
  try {
    const list = await get(`/tickets/${t.data.id}/escalations`);
    box.replaceChildren(list.length ? h('ul.lista-simple', list.map((e) => h('li',
      h('strong', e.department), ` · ${ESCALATION_MODE[e.mode] || e.mode} · `, h('span', ESCALATION_STATUS[e.status] || e.status),
      h('br'), h('span.tenue', 'Motivo: ', e.reason), h('br'), h('span.tenue', 'Enviado ', timeEl(e.created_at)),
      e.answer ? h('p.texto', h('strong', 'Respuesta: '), e.answer) : null))) : h('p.tenue', 'Sin escalamientos.'));
  } catch (e) { box.replaceChildren(h('p.tenue', e.message)); }
}

async function toggleHistory() {
  const btn = $('#ver-historial');
  const list = $('#historial');
  const open = list.hidden;
  list.hidden = !open;
  btn.setAttribute('aria-expanded', String(open));
  btn.textContent = open ? 'Ocultar historial' : 'Ver historial';
  if (!open) return;
  try {
    const events = await get(`/tickets/${state.ticket.data.id}/events`);
    list.replaceChildren(...events.map((e) => h('li', timeEl(e.created_at), ' · ', h('strong', EVENT[e.kind] || e.kind), eventDetail(e))));
  } catch (e) { list.replaceChildren(h('li', e.message)); }
}

function eventDetail(e) {
  const d = e.data || {};
  if (e.kind === 'status_changed') return `: ${STATUS[d.from] || d.from || '—'} → ${STATUS[d.to] || d.to}`;
  if (e.kind === 'priority_changed') return `: ${PRIORITY[d.from] || d.from || '—'} → ${PRIORITY[d.to] || d.to}`;
  if (d.reason) return `: ${d.reason}`;
  return e.actor_type === 'system' ? ' (sistema)' : '';
}

function requesterCard(r) {
  return h('dl.ficha',
    h('dt', 'Nombre'), h('dd', r.name || '—'),
    h('dt', 'Correo'), h('dd', r.email || '—'),
    h('dt', 'Teléfono'), h('dd', r.phone || '—'),
    h('dt', 'RUT'), h('dd', r.rut || '—'),
    h('dt', 'Segmento'), h('dd', SEGMENT[r.segment] || r.segment || '—'),
    h('dt', 'Organización'), h('dd', r.organization || '—'));
}

async function loadRequesterHistory() {
  const t = state.ticket;
  const rid = t.data.requester.id;
  const [tickets, calls] = await Promise.all([
    get(`/tickets?requester_id=${rid}&limit=10`).catch((e) => e),
    get(`/calls?requester_id=${rid}&limit=10`).catch((e) => e),
  ]);
  if (state.ticket !== t) return;
  const prev = tickets.items ? tickets.items.filter((x) => x.id !== t.data.id) : null;
  $('#casos-anteriores').replaceChildren(!prev ? h('p.tenue', tickets.message) : prev.length ? h('ul.lista-simple', prev.map((x) => h('li',
    h('a', { href: `/app/casos/${encodeURIComponent(x.number)}` }, `${x.number} ${x.subject}`), h('br'),
    h('span.tenue', `${STATUS[x.status]} · `, timeEl(x.created_at))))) : h('p.tenue', 'No tiene otros casos.'));
  const callItems = calls.items || null;
  $('#llamadas').replaceChildren(!callItems ? h('p.tenue', calls.message) : callItems.length ? h('ul.lista-simple', callItems.map((c) => h('li',
    `${c.direction === 'out' ? 'Saliente' : 'Entrante'} · `, timeEl(c.queued_at || c.created_at),
    h('br'), h('span.tenue', c.outcome ? `Resultado: ${c.outcome}` : c.state, c.talk_seconds != null ? ` · ${Math.round(c.talk_seconds / 60)} min` : '')))) : h('p.tenue', 'Sin llamadas registradas.'));
  loadSurveys(t);
}

/** Casos resueltos parecidos (GET /tickets/{id}/similar), cada uno con la respuesta que lo resolvió. */
async function loadSimilar() {
  const t = state.ticket;
  const found = await get(`/tickets/${t.data.id}/similar?limit=5`).catch((e) => e);
  if (state.ticket !== t) return;
  const items = found.items || null;
  $('#casos-similares').replaceChildren(!items ? h('p.tenue', found.message) : items.length ? h('ul.lista-simple', items.map((x) => h('li',
    h('a', { href: `/app/casos/${encodeURIComponent(x.number)}` }, `${x.number} ${x.subject}`),
    x.reply ? h('details', h('summary', 'Cómo se respondió'), h('p.respuesta-similar', x.reply.body)) : h('br'),
    h('span.tenue', x.solved_at ? ['Resuelto ', timeEl(x.solved_at)] : STATUS[x.status])))) : h('p.tenue', 'No hay casos resueltos parecidos.'));
}

/** Las respuestas de encuesta del solicitante (GET /requesters/{id}/surveys), la más reciente primero. */
async function loadSurveys(t) {
  const answers = t.data.requester?.id ? await get(`/requesters/${t.data.requester.id}/surveys`).catch(() => []) : [];
  if (state.ticket !== t) return;
  $('#encuestas').replaceChildren(answers.length ? h('ul.lista-simple', answers.map((a) => h('li',
    `${a.ticket_number}: `, h('strong', `nota ${a.score}`),
    a.resolved != null ? h('span', a.resolved ? ' · resuelto' : ' · no resuelto') : null,
    a.comment ? h('span', ` — “${a.comment}”`) : null, h('br'), h('span.tenue', timeEl(a.answered_at))))) : h('p.tenue', 'Sin respuestas de encuesta.'));
}

// --- presencia en el caso

function startHeartbeat() {
  const t = state.ticket;
  const beat = async () => {
    if (state.ticket !== t) return;
    const typing = Date.now() - t.typingAt < TYPING_MS;
    try {
      const r = await api('PUT', `/tickets/${t.data.id}/viewers`, { state: typing ? 'typing' : 'viewing' });
      t.beatState = typing ? 'typing' : 'viewing';
      if (state.ticket === t && r?.viewers) renderViewers(r.viewers.filter((v) => v.agent_id !== state.me.id));
    } catch { /* sin el endpoint no se muestra quién más mira */ }
  };
  t.beat = beat;
  beat();
  t.heartbeat = setInterval(beat, HEARTBEAT_MS);
}

function renderViewers(viewers) {
  const box = $('#presentes');
  if (!box || !state.ticket) return;
  state.ticket.viewers = viewers;
  for (const v of viewers) state.agents.set(v.agent_id, v.name);
  box.textContent = viewers.map((v) => (v.state === 'typing' ? `${v.name} está respondiendo` : `${v.name} está viendo este caso`)).join(' · ');
}

function leaveTicket() {
  const t = state.ticket;
  if (!t) return Promise.resolve();
  clearInterval(t.heartbeat);
  state.ticket = null;
  delete document.body.dataset.ticket;
  return api('DELETE', `/tickets/${t.data.id}/viewers`, undefined, { keepalive: true }).catch(() => {});
}
window.addEventListener('pagehide', () => leaveTicket());

// --- redactor

function draftKey(mode) {
  return `atencion:borrador:${state.me.id}:${state.ticket.data.id}:${mode}`;
}

function composer() {
  const box = h('textarea#redactor-texto', {
    rows: 7, maxlength: 50000, 'aria-describedby': 'ayuda-redactor', 'aria-autocomplete': 'list', 'aria-controls': 'sugerencias',
  });
  const label = h('label#etiqueta-redactor', { for: 'redactor-texto' }, 'Respuesta');
  const modeButton = (mode, text) => h('button.secundaria', { type: 'button', 'aria-pressed': String(mode === 'public'), 'data-modo': mode, onclick: () => setMode(mode, true) }, text);
  const after = h('select#despues', h('option', { value: '' }, 'Sin cambio'), h('option', { value: 'pending' }, 'Pendiente'), h('option', { value: 'solved' }, 'Resuelto'));
  const form = h('form.redactor.modo-public#redactor', { 'aria-label': 'Redactar', onsubmit: (ev) => { ev.preventDefault(); send(); } },
    h('div.modos', { role: 'group', 'aria-label': 'Tipo de mensaje' }, modeButton('public', 'Responder al solicitante'), modeButton('internal', 'Escribir nota interna')),
    label, box,
    h('ul.sugerencias#sugerencias', { role: 'listbox', 'aria-label': 'Respuestas predefinidas', hidden: true }),
    h('div.adjuntar',
      h('label', { for: 'adjuntos' }, 'Adjuntar archivos'),
      h('input#adjuntos', { type: 'file', multiple: true, onchange: (ev) => { addFiles([...ev.target.files]); ev.target.value = ''; } }),
      h('span.tenue', `Hasta ${FILE_LIMITS.files} archivos, ${fileSize(FILE_LIMITS.file)} cada uno y ${fileSize(FILE_LIMITS.total)} en total.`),
      h('ul.elegidos#elegidos', { 'aria-label': 'Archivos por enviar' })),
    h('div#advertencia'),
    h('p.error#error-redactor', { role: 'alert' }),
    h('div.acciones',
      h('label', { for: 'despues' }, 'Estado al enviar'), after,
      h('button#enviar', { type: 'submit' }, 'Enviar'),
      h('span.ayuda#ayuda-redactor', 'Ctrl+Enter envía. Escriba :: y parte del nombre para insertar una respuesta predefinida.')));
  box.addEventListener('input', onComposerInput);
  box.addEventListener('keydown', onComposerKey);
  box.addEventListener('blur', () => setTimeout(closeSuggestions, 150));
  return form;
}

// The [attachments] defaults; the service refuses beyond its configured limits all the same.
const FILE_LIMITS = { files: 10, file: 10 * 1048576, total: 25 * 1048576 };

function addFiles(files) {
  const t = state.ticket;
  t.files ||= [];
  const error = $('#error-redactor');
  error.textContent = '';
  for (const f of files) {
    const total = t.files.reduce((n, x) => n + x.size, f.size);
    if (t.files.length >= FILE_LIMITS.files) error.textContent = `Puede adjuntar a lo más ${FILE_LIMITS.files} archivos.`;
    else if (!f.size) error.textContent = `«${f.name}» está vacío.`;
    else if (f.size > FILE_LIMITS.file) error.textContent = `«${f.name}» supera ${fileSize(FILE_LIMITS.file)}.`;
    else if (total > FILE_LIMITS.total) error.textContent = `Los archivos superan ${fileSize(FILE_LIMITS.total)} en total.`;
    else t.files.push(f);
  }
  renderFiles();
}

function renderFiles() {
  const t = state.ticket;
  $('#elegidos')?.replaceChildren(...(t.files || []).map((f, i) => h('li', f.name, h('span.tenue', ` ${fileSize(f.size)} `),
    h('button.secundaria', { type: 'button', onclick: () => { t.files.splice(i, 1); renderFiles(); $('#adjuntos').focus(); } }, `Quitar ${f.name}`))));
}

function setMode(mode, focus, keepDraft = true) {
  const t = state.ticket;
  if (!t) return;
  if (keepDraft) saveDraft();
  t.mode = mode;
  $$('.modos button').forEach((b) => b.setAttribute('aria-pressed', String(b.dataset.modo === mode)));
  $('#etiqueta-redactor').textContent = mode === 'internal' ? 'Nota interna' : 'Respuesta';
  $('#redactor').className = `redactor modo-${mode}`;
  $('#redactor-texto').value = localStorage.getItem(draftKey(mode)) || '';
  $('#despues').disabled = false;
  if (focus) $('#redactor-texto').focus();
}

function restoreDraft() {
  const saved = localStorage.getItem(draftKey('internal')) && !localStorage.getItem(draftKey('public')) ? 'internal' : 'public';
  setMode(saved, false, false);
}

function saveDraft() {
  const t = state.ticket;
  const box = $('#redactor-texto');
  if (!t || !box) return;
  if (box.value) localStorage.setItem(draftKey(t.mode), box.value);
  else localStorage.removeItem(draftKey(t.mode));
}

function onComposerInput() {
  const t = state.ticket;
  saveDraft();
  const wasTyping = Date.now() - t.typingAt < TYPING_MS;
  t.typingAt = Date.now();
  if (!wasTyping || t.beatState !== 'typing') t.beat?.();
  suggest();
}

function onComposerKey(ev) {
  const list = $('#sugerencias');
  if (!list.hidden) {
    const options = $$('li', list);
    const cur = options.findIndex((o) => o.getAttribute('aria-selected') === 'true');
    if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      ev.preventDefault();
      highlight(options, (cur + (ev.key === 'ArrowDown' ? 1 : -1) + options.length) % options.length);
      return;
    }
    if ((ev.key === 'Enter' || ev.key === 'Tab') && cur >= 0 && !ev.ctrlKey) {
      ev.preventDefault();
      applyCanned(options[cur].dataset.id, true);
      return;
    }
    if (ev.key === 'Escape') { ev.preventDefault(); closeSuggestions(); return; }
  }
  if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
    ev.preventDefault();
    send();
  }
}

function highlight(options, i) {
  options.forEach((o, j) => o.setAttribute('aria-selected', String(j === i)));
  const box = $('#redactor-texto');
  if (options[i]) {
    box.setAttribute('aria-activedescendant', options[i].id);
    options[i].scrollIntoView({ block: 'nearest' });
  }
}

/** `::` y parte del nombre antes del cursor. */
function cannedTerm() {
  const box = $('#redactor-texto');
  if (!box) return null;
  const before = box.value.slice(0, box.selectionStart);
  const m = before.match(/::([\p{L}\p{N}_.-]*)$/u);
  return m ? { term: m[1], start: before.length - m[0].length, end: box.selectionStart } : null;
}

const suggest = debounce(async () => {
  const found = cannedTerm();
  if (!found) return closeSuggestions();
  let items;
  try {
    items = await get(`/canned-responses?q=${encodeURIComponent(found.term)}`);
  } catch { return closeSuggestions(); }
  items = (Array.isArray(items) ? items : items?.items || []).slice(0, 8);
  const list = $('#sugerencias');
  if (!list || !cannedTerm()) return;
  if (!items.length) return closeSuggestions();
  list.replaceChildren(...items.map((c, i) => h('li', {
    id: `sugerencia-${c.id}`, role: 'option', 'aria-selected': String(i === 0), 'data-id': c.id,
    onmousedown: (ev) => { ev.preventDefault(); applyCanned(c.id, true); },
  }, h('span.atajo', `::${c.shortcut}`), c.title)));
  list.hidden = false;
  $('#redactor-texto').setAttribute('aria-activedescendant', `sugerencia-${items[0].id}`);
}, 150);

function closeSuggestions() {
  const list = $('#sugerencias');
  if (!list) return;
  list.hidden = true;
  list.replaceChildren();
  $('#redactor-texto')?.removeAttribute('aria-activedescendant');
}

/** Pide el texto con los datos del caso y lo pone en el cursor (en lugar de `::…` si lo hay). */
async function applyCanned(id, replaceTerm) {
  const t = state.ticket;
  const box = $('#redactor-texto');
  const found = replaceTerm ? cannedTerm() : null;
  closeSuggestions();
  try {
    const { body } = await api('POST', `/canned-responses/${id}/render`, { ticket_id: String(t.data.id) });
    const start = found ? found.start : box.selectionStart;
    const end = found ? found.end : box.selectionEnd;
    box.setRangeText(body, start, end, 'end');
    box.focus();
    saveDraft();
    announce('Respuesta predefinida insertada.');
  } catch (e) {
    $('#error-redactor').textContent = e.message;
  }
}

async function send(confirmed = false) {
  const t = state.ticket;
  const box = $('#redactor-texto');
  const error = $('#error-redactor');
  if (!t || !box) return;
  error.textContent = '';
  const body = box.value;
  if (!body.trim()) {
    error.textContent = t.mode === 'internal' ? 'Escriba la nota antes de enviarla.' : 'Escriba la respuesta antes de enviarla.';
    box.focus();
    return;
  }
  if (t.newer && !confirmed) {
    $('#advertencia').replaceChildren(h('div.advertencia', { role: 'alert' },
      h('p', 'Llegó un mensaje nuevo desde que abrió el caso. Léalo antes de enviar.'),
      h('div.acciones',
        h('button', { type: 'button', onclick: () => send(true) }, 'Enviar de todos modos'),
        h('button.secundaria', { type: 'button', onclick: () => { $('#advertencia').replaceChildren(); t.newer = false; $('#mensajes li:last-child')?.scrollIntoView(); box.focus(); } }, 'Revisar primero'))));
    return;
  }
  $('#advertencia').replaceChildren();
  const status = $('#despues').value || undefined;
  const button = $('#enviar');
  button.disabled = true;
  t.sending = true;
  try {
    const files = t.files || [];
    let payload = { body, visibility: t.mode, status };
    if (files.length) {
      payload = new FormData();
      payload.append('body', body);
      payload.append('visibility', t.mode);
      if (status) payload.append('status', status);
      files.forEach((f) => payload.append('files', f, f.name));
    }
    const message = await api('POST', `/tickets/${t.data.id}/messages`, payload);
    t.files = [];
    renderFiles();
    if (!t.seen.has(message.id)) {
      t.seen.add(message.id);
      t.messages.push(message);
      $('#mensajes').append(messageItem(message, true));
    }
    t.newer = false;
    box.value = '';
    localStorage.removeItem(draftKey(t.mode));
    $('#despues').value = '';
    announce(t.mode === 'internal' ? 'Nota interna agregada.' : 'Respuesta enviada.');
    if (status) await refreshTicketFields();
    refreshViews();
  } catch (e) {
    error.textContent = e.message;
  } finally {
    button.disabled = false;
    t.sending = false;
  }
}

// ------------------------------------------------------------------ teclado

function typingInField(el) {
  return el && (el.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName));
}

document.addEventListener('keydown', (ev) => {
  // The shortcuts are the agents' (a department's screens are plain pages).
  if (!state.me || state.me.role === 'department') return;
  if ((ev.ctrlKey || ev.metaKey) && ev.key.toLowerCase() === 'k') {
    ev.preventDefault();
    palette();
    return;
  }
  if (ev.ctrlKey || ev.metaKey || ev.altKey || typingInField(ev.target) || $('dialog[open]')) return;
  if (state.route?.type === 'list' && (ev.key === 'j' || ev.key === 'k')) {
    ev.preventDefault();
    const l = state.list;
    selectRow(l.selected < 0 ? 0 : l.selected + (ev.key === 'j' ? 1 : -1));
  } else if (state.route?.type === 'list' && ev.key === 'Enter' && state.list.selected >= 0 && !ev.target.closest('a,button')) {
    openRow(state.list.selected);
  } else if (state.ticket && (ev.key === 'r' || ev.key === 'n')) {
    ev.preventDefault();
    setMode(ev.key === 'r' ? 'public' : 'internal', true);
  } else if (ev.key === '?') {
    ev.preventDefault();
    shortcutsDialog();
  }
});

function dialog(title, ...content) {
  $('dialog')?.remove();
  const d = h('dialog', { 'aria-labelledby': 'titulo-dialogo' },
    h('button.secundaria.cerrar-dialogo', { type: 'button', onclick: () => d.close() }, 'Cerrar'),
    h('h2#titulo-dialogo', title), ...content);
  d.addEventListener('close', () => { d.remove(); state.returnFocus?.focus?.(); });
  state.returnFocus = document.activeElement;
  document.body.append(d);
  d.showModal();
  return d;
}

function shortcutsDialog() {
  const rows = [
    ['j / k', 'Bajar / subir en la lista'], ['Enter', 'Abrir el caso elegido'], ['r', 'Responder al solicitante'],
    ['n', 'Escribir una nota interna'], ['Ctrl+Enter', 'Enviar el mensaje'], ['::', 'Insertar una respuesta predefinida'],
    ['Ctrl+K', 'Paleta de comandos'], ['?', 'Esta lista de atajos'], ['Esc', 'Cerrar el diálogo'],
  ];
  dialog('Atajos de teclado', h('table', h('thead', h('tr', h('th', { scope: 'col' }, 'Tecla'), h('th', { scope: 'col' }, 'Acción'))),
    h('tbody', rows.map(([k, a]) => h('tr', h('td', h('kbd', k)), h('td', a))))));
}

/** Ctrl+K: ir a un caso por número, aplicar una respuesta predefinida, cambiar el estado, ir a una vista. */
function palette() {
  const input = h('input#paleta-texto', { type: 'text', role: 'combobox', 'aria-expanded': 'true', 'aria-controls': 'paleta-opciones', 'aria-autocomplete': 'list', autocomplete: 'off' });
  const list = h('ul#paleta-opciones', { role: 'listbox', 'aria-label': 'Comandos', hidden: true });
  let options = [];
  let active = 0;
  const render = () => {
    list.replaceChildren(...options.map((o, i) => h('li', { id: `cmd-${i}`, role: 'option', 'aria-selected': String(i === active), onmousedown: (ev) => { ev.preventDefault(); run(i); } }, o.label)));
    list.hidden = !options.length;
    input.setAttribute('aria-expanded', String(options.length > 0));
    if (options[active]) input.setAttribute('aria-activedescendant', `cmd-${active}`);
    else input.removeAttribute('aria-activedescendant');
  };
  const run = (i) => { const o = options[i]; if (!o) return; d.close(); o.run(); };
  const compute = async () => {
    const text = input.value.trim();
    const low = text.toLowerCase();
    const out = [];
    const num = text.toUpperCase().match(/^(AU-\d{4}-\d{1,6}|\d{1,12})$/);
    if (num) out.push({ label: `Ir al caso ${num[1]}`, run: () => navigate(`/app/casos/${encodeURIComponent(num[1])}`) });
    if (state.ticket) {
      for (const [k, v] of Object.entries(STATUS)) {
        if (!low || `estado ${v}`.toLowerCase().includes(low) || v.toLowerCase().startsWith(low)) out.push({ label: `Cambiar estado a ${v}`, run: () => setStatus(k) });
      }
    }
    for (const v of state.views) if (!low || v.name.toLowerCase().includes(low)) out.push({ label: `Ir a la vista ${v.name}`, run: () => navigate(`/app/vistas/${encodeURIComponent(v.key)}`) });
    if (state.ticket) {
      const term = low.replace(/^::/, '');
      const canned = await get(`/canned-responses?q=${encodeURIComponent(term)}`).catch(() => []);
      for (const c of (Array.isArray(canned) ? canned : []).slice(0, 6)) {
        out.push({ label: `Insertar respuesta predefinida: ${c.title} (::${c.shortcut})`, run: () => { setMode(state.ticket.mode, true); applyCanned(c.id, false); } });
      }
    }
    if (input.value.trim() !== text) return;
    options = out;
    active = 0;
    render();
  };
  input.addEventListener('input', debounce(compute, 120));
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      ev.preventDefault();
      active = (active + (ev.key === 'ArrowDown' ? 1 : -1) + options.length) % Math.max(options.length, 1);
      render();
    } else if (ev.key === 'Enter') {
      ev.preventDefault();
      run(active);
    }
  });
  const d = dialog('Paleta de comandos', h('div.paleta', h('label', { for: 'paleta-texto' }, 'Comando o número de caso'), input, list));
  input.focus();
  compute();
}

start();
