// Equipo y colas (/app/equipo), para supervisores y administradores: el estado de cada agente
// (presencia y desde cuándo, trabajo abierto por canal, colas) y, por cola, lo que espera en el
// orden en que la asignación lo tomará.

import { h, $, get, fmtDate, relative, CHANNEL, PRESENCE, PRIORITY } from './app.js';

const STRATEGY = { manual: 'Manual', round_robin: 'Rotativa', least_loaded: 'Al menos cargado' };

export async function teamScreen() {
  document.title = 'Equipo y colas · Atención Usuaria';
  const main = $('#principal');
  main.replaceChildren(h('h1', 'Equipo y colas'), h('p.cargando', { role: 'status' }, 'Cargando…'));
  const [agents, routing, queues] = await Promise.all([get('/agents'), get('/routing/agents'), get('/queues')]);
  const name = (id) => agents.find((a) => a.id === id)?.name || `n.º ${id}`;
  const queueRouting = await Promise.all(queues.map((q) => get(`/queues/${q.id}/routing`).catch(() => null)));
  const now = Date.now();
  const people = h('section.tarjeta', { 'aria-labelledby': 'titulo-equipo' }, h('h2#titulo-equipo', 'Agentes'),
    h('table.casos.equipo', h('caption.oculto', 'Estado de cada agente'),
      h('thead', h('tr', ['Agente', 'Estado', 'En ese estado', 'Trabajo abierto', 'Colas'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', routing.map((r) => {
        const load = Object.entries(CHANNEL).map(([k, channel]) => `${channel} ${r.load[k] ?? 0}`).join(' · ');
        return h('tr', { 'data-agente': r.agent_id },
          h('th', { scope: 'row' }, name(r.agent_id)),
          h('td', h(`span.presencia-${r.presence}`, PRESENCE[r.presence] || r.presence)),
          h('td', r.presence_since ? h('span', { title: fmtDate(r.presence_since) }, relative(r.presence_since, now).replace(/^hace /, '')) : '—'),
          h('td', load), h('td', r.queues.join(', ') || '—'));
      }))));
  const waiting = h('div#espera');
  const lanes = h('section.tarjeta', { 'aria-labelledby': 'titulo-colas' }, h('h2#titulo-colas', 'Colas'),
    h('table.casos', h('caption.oculto', 'Colas: estrategia, miembros y casos en espera'),
      h('thead', h('tr', ['Cola', 'Estrategia', 'Miembros', 'En espera', ''].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', queues.map((q, i) => h('tr', { 'data-cola': q.slug },
        h('th', { scope: 'row' }, q.name), h('td', STRATEGY[queueRouting[i]?.strategy] || '—'),
        h('td', String(queueRouting[i]?.members?.length ?? '—')), h('td', String(queueRouting[i]?.waiting ?? '—')),
        h('td', h('button.secundaria', { type: 'button', onclick: () => showWaiting(q, waiting) }, 'Ver la espera', h('span.oculto', ` de ${q.name}`))))))),
    waiting);
  main.replaceChildren(h('h1', 'Equipo y colas'), people, lanes);
}

/** Lo que espera en la cola `q`, en el orden en que la asignación lo tomará. */
async function showWaiting(q, holder) {
  holder.setAttribute('aria-busy', 'true');
  try {
    const items = await get(`/queues/${q.id}/waiting?limit=50`);
    holder.replaceChildren(h('h3#titulo-espera', { tabindex: '-1' }, `En espera en ${q.name}, en el orden en que se asignarán`),
      items.length ? h('ol.espera', { 'aria-labelledby': 'titulo-espera' }, items.map((t) => h('li',
        h('a', { href: `/app/casos/${encodeURIComponent(t.number)}`, 'aria-label': `${t.number} ${t.subject}` }, h('span.numero', t.number), ' ', t.subject),
        h('span.tenue', ` · ${PRIORITY[t.priority] || t.priority}`, t.next_due_at ? ` · vence ${relative(t.next_due_at)}` : ' · sin plazo'))))
        : h('p.vacio', 'No hay casos esperando en esta cola.'));
    $('#titulo-espera').focus();
  } catch (e) {
    holder.replaceChildren(h('p.error', { role: 'alert' }, e.message));
  } finally {
    holder.removeAttribute('aria-busy');
  }
}
