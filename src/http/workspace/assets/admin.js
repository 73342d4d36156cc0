// Administración (rol `admin`): agentes, colas con su enrutamiento y reglas de enrutamiento con su
// probador. Cada formulario muestra los errores de la API junto a su campo.
// Rutas: /app/admin/agentes, /app/admin/colas, /app/admin/reglas.

import { h, $, api, get, announce, state, showFieldErrors, CHANNEL, PRIORITY } from './app.js';

const ROLE = { agent: 'Agente', supervisor: 'Supervisor', admin: 'Administrador', department: 'Departamento', integration: 'Integración' };
const STRATEGY = { manual: 'Manual (los agentes toman)', round_robin: 'Rotativa (round robin)', least_loaded: 'Al menos cargado' };

export function adminRoute(section) {
  const screens = { agentes: agentsScreen, colas: queuesScreen, reglas: rulesScreen };
  const screen = screens[section];
  if (!screen) {
    $('#principal').replaceChildren(h('h1', 'Sección no encontrada'), h('p', h('a', { href: '/app/admin/agentes' }, 'Ir a Agentes')));
    return null;
  }
  return screen();
}

// ------------------------------------------------------------------ formularios

/** Un campo con su etiqueta y su lugar para el error de la API (`field` como lo nombra la API). */
export function field(form, name, label, control, help) {
  const id = control.id;
  const error = h(`p.error-campo#error-${id}`, { role: 'alert' });
  control.setAttribute('aria-describedby', [help ? `ayuda-${id}` : null, `error-${id}`].filter(Boolean).join(' '));
  form.errors.set(name, error);
  return h('div.campo', h('label', { for: id }, label), control, help ? h(`span.tenue#ayuda-${id}`, help) : null, error);
}

/** Un formulario que envía `collect()` con `send` y muestra cada error junto a su campo. */
export function apiForm(title, id, build, { submit, send, done }) {
  const form = h(`form.tarjeta.formulario#${id}`, { novalidate: true, 'aria-labelledby': `${id}-titulo` });
  form.errors = new Map();
  const general = h('p.error', { role: 'alert' });
  const ok = h('p.exito', { role: 'status' });
  const button = h('button', { type: 'submit' }, submit);
  form.append(h(`h2#${id}-titulo`, title), ...build(form), general, ok, button);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    for (const el of form.errors.values()) el.textContent = '';
    general.textContent = '';
    ok.textContent = '';
    button.disabled = true;
    try {
      const result = await send();
      // Its role=status announces it.
      ok.textContent = await done(result);
    } catch (e) {
      const first = showFieldErrors(e, form.errors, general);
      if (first) general.textContent = 'Revise los campos marcados.';
      first?.parentElement?.querySelector('input, select, textarea')?.focus();
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

export const list = (text) => text.split(',').map((x) => x.trim()).filter(Boolean);
export const options = (entries, value) => entries.map(([v, t]) => h('option', { value: v, selected: String(v) === String(value ?? '') }, t));

// ------------------------------------------------------------------ agentes

async function agentsScreen() {
  document.title = 'Agentes · Administración';
  const [agents, departments] = await Promise.all([get('/agents'), get('/departments')]);
  const holder = h('div#tabla-agentes');
  const render = (rows) => holder.replaceChildren(h('table.casos', h('caption', 'Agentes y usuarios'),
    h('thead', h('tr', ['Nombre', 'Correo', 'Rol', 'Departamento', 'Estado', 'Acciones'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', rows.map((a) => h('tr', { 'data-agente': a.id },
      h('th', { scope: 'row' }, a.name), h('td', a.email || '—'), h('td', ROLE[a.role] || a.role),
      h('td', departments.find((d) => d.id === a.department_id)?.name || '—'), h('td', a.active ? 'Activo' : 'Desactivado'),
      h('td.acciones-fila', a.active && a.email && a.role !== 'integration'
        ? h('button.secundaria', { type: 'button', onclick: (ev) => invite(ev.target, a) }, 'Enviar invitación', h('span.oculto', ` a ${a.name}`)) : null,
      a.active && STAFF.includes(a.role)
        ? h('button.secundaria', { type: 'button', onclick: () => editRouting(a, editor) }, 'Enrutamiento', h('span.oculto', ` de ${a.name}`)) : null,
      a.active && a.id !== state.me.id
        ? h('button.peligro', { type: 'button', onclick: (ev) => deactivate(ev.target, a) }, 'Desactivar', h('span.oculto', ` a ${a.name}`)) : null))))));
  const editor = h('div#enrutamiento-agente');
  async function reload() {
    render(await get('/agents'));
  }
  async function invite(button, a) {
    button.disabled = true;
    try {
      const sent = await api('POST', `/agents/${a.id}/invitation`);
      announce(`Invitación enviada a ${sent.email}`);
      button.replaceWith(h('span.exito', `Invitación enviada a ${sent.email}`));
    } catch (e) {
      button.disabled = false;
      button.after(h('p.error', { role: 'alert' }, e.message));
    }
  }
  async function deactivate(button, a) {
    button.disabled = true;
    try {
      await api('DELETE', `/agents/${a.id}`);
      announce(`${a.name} desactivado`);
      await reload();
    } catch (e) {
      button.disabled = false;
      button.after(h('p.error', { role: 'alert' }, e.message));
    }
  }
  const name = h('input#a-nombre', { maxlength: 120, autocomplete: 'off' });
  const email = h('input#a-correo', { type: 'email', maxlength: 254, autocomplete: 'off' });
  const role = h('select#a-rol', options(Object.entries(ROLE), 'agent'));
  const department = h('select#a-departamento', options([['', 'Ninguno'], ...departments.map((d) => [d.id, d.name])], ''));
  const extension = h('input#a-anexo', { maxlength: 20, inputmode: 'numeric' });
  const form = apiForm('Nuevo agente', 'nuevo-agente', (f) => [
    h('div.fila-campos',
      field(f, 'name', 'Nombre', name), field(f, 'email', 'Correo electrónico', email),
      field(f, 'role', 'Rol', role), field(f, 'department_id', 'Departamento', department, 'Obligatorio para el rol Departamento.'),
      field(f, 'extension', 'Anexo telefónico', extension)),
  ], {
    submit: 'Crear agente',
    send: () => api('POST', '/agents', {
      name: name.value, email: email.value.trim() || null, role: role.value,
      department_id: department.value ? Number(department.value) : null, extension: extension.value.trim() || null,
    }),
    done: async (agent) => {
      for (const el of [name, email, extension]) el.value = '';
      await reload();
      return `Agente creado: ${agent.name}. Envíele la invitación para que defina su contraseña.`;
    },
  });
  $('#principal').replaceChildren(h('h1', 'Agentes'), form, editor, holder);
  render(agents);
}

export const STAFF = ['agent', 'supervisor', 'admin'];

/** Habilidades, capacidad por canal y colas de un agente (`PATCH /agents/{id}/routing` y los
 *  miembros de cada cola que cambia). */
async function editRouting(agent, holder) {
  const [routing, queues] = await Promise.all([get(`/agents/${agent.id}/routing`), get('/queues')]);
  const members = await Promise.all(queues.map((q) => get(`/queues/${q.id}/routing`)));
  const skills = h('input#e-habilidades', { maxlength: 500, autocomplete: 'off', value: routing.skills.join(', ') });
  const capacity = Object.fromEntries(Object.keys(CHANNEL).map((c) => [c, h(`input#e-capacidad-${c}`, { type: 'number', min: 0, inputmode: 'numeric', value: routing.capacity[c] })]));
  const boxes = queues.map((q, i) => h('input', { type: 'checkbox', value: q.id, checked: members[i].members.includes(agent.id) }));
  const form = apiForm(`Enrutamiento de ${agent.name}`, 'editar-enrutamiento', (f) => [
    field(f, 'skills', 'Habilidades', skills, 'Separadas por comas: letras, números, _ y -.'),
    h('fieldset.miembros', h('legend', 'Capacidad por canal (casos abiertos a la vez)'),
      Object.entries(CHANNEL).map(([c, label]) => field(f, `capacity.${c}`, label, capacity[c]))),
    h('fieldset.miembros', h('legend', 'Colas que atiende'), queues.map((q, i) => h('label.opcion', boxes[i], ` ${q.name}`))),
  ], {
    submit: 'Guardar enrutamiento',
    send: async () => {
      const saved = await api('PATCH', `/agents/${agent.id}/routing`, {
        skills: list(skills.value), capacity: Object.fromEntries(Object.entries(capacity).map(([c, el]) => [c, Number(el.value)])),
      });
      for (const [i, q] of queues.entries()) {
        const was = members[i].members.includes(agent.id);
        if (boxes[i].checked === was) continue;
        const next = boxes[i].checked ? [...members[i].members, agent.id] : members[i].members.filter((id) => id !== agent.id);
        members[i] = await api('PATCH', `/queues/${q.id}/routing`, { members: next });
      }
      return saved;
    },
    done: () => `Enrutamiento de ${agent.name} guardado.`,
  });
  holder.replaceChildren(form);
  form.querySelector('input')?.focus();
}

// ------------------------------------------------------------------ colas

async function queuesScreen() {
  document.title = 'Colas · Administración';
  const [queues, agents] = await Promise.all([get('/queues'), get('/agents')]);
  const people = agents.filter((a) => a.active && ['agent', 'supervisor', 'admin'].includes(a.role));
  const holder = h('div#tabla-colas');
  async function reload() {
    const all = await get('/queues');
    const routing = await Promise.all(all.map((q) => get(`/queues/${q.id}/routing`).catch(() => null)));
    holder.replaceChildren(h('table.casos', h('caption', 'Colas'),
      h('thead', h('tr', ['Nombre', 'Identificador', 'Estrategia', 'Miembros', 'Habilidades requeridas', 'En espera'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', all.map((q, i) => h('tr', { 'data-cola': q.slug },
        h('th', { scope: 'row' }, q.name), h('td', q.slug), h('td', STRATEGY[routing[i]?.strategy] || '—'),
        h('td', (routing[i]?.members || []).map((id) => agents.find((a) => a.id === id)?.name || `n.º ${id}`).join(', ') || '—'),
        h('td', (routing[i]?.required_skills || []).join(', ') || '—'), h('td', String(routing[i]?.waiting ?? '—')))))));
  }
  const slug = h('input#c-identificador', { maxlength: 60, autocomplete: 'off', pattern: '[a-z0-9-]+' });
  const name = h('input#c-nombre', { maxlength: 120, autocomplete: 'off' });
  const strategy = h('select#c-estrategia', options(Object.entries(STRATEGY), 'manual'));
  const skills = h('input#c-habilidades', { maxlength: 500, autocomplete: 'off' });
  const members = h('fieldset.miembros', h('legend', 'Miembros'),
    people.map((a) => h('label.opcion', h('input', { type: 'checkbox', value: a.id, name: 'miembro' }), ` ${a.name}`)));
  const form = apiForm('Nueva cola', 'nueva-cola', (f) => [
    h('div.fila-campos',
      field(f, 'slug', 'Identificador', slug, 'Minúsculas, números y guiones, p. ej. «compra-agil».'),
      field(f, 'name', 'Nombre', name),
      field(f, 'strategy', 'Estrategia de asignación', strategy),
      field(f, 'required_skills', 'Habilidades requeridas', skills, 'Separadas por comas.')),
    members,
  ], {
    submit: 'Crear cola',
    send: async () => {
      const queue = await api('POST', '/queues', { slug: slug.value.trim(), name: name.value });
      const chosen = [...members.querySelectorAll('input:checked')].map((c) => Number(c.value));
      await api('PATCH', `/queues/${queue.id}/routing`, { strategy: strategy.value, required_skills: list(skills.value), members: chosen });
      return queue;
    },
    done: async (queue) => {
      slug.value = '';
      name.value = '';
      skills.value = '';
      state.queues = await get('/queues');
      await reload();
      return `Cola creada: ${queue.name}.`;
    },
  });
  $('#principal').replaceChildren(h('h1', 'Colas'), form, holder);
  state.queues = queues;
  await reload();
}

// ------------------------------------------------------------------ reglas

function describeRule(r) {
  const c = r.conditions || {};
  const when = [
    c.keywords?.length ? `palabras: ${c.keywords.join(', ')}` : null,
    c.channel?.length ? `canal: ${c.channel.map((x) => CHANNEL[x] || x).join(', ')}` : null,
    c.category?.length ? `categoría: ${c.category.join(', ')}` : null,
    c.subject_regex ? `asunto ~ ${c.subject_regex}` : null,
    c.mailbox?.length ? `buzón: ${c.mailbox.join(', ')}` : null,
  ].filter(Boolean).join('; ') || 'siempre';
  const a = r.actions || {};
  const then = [
    a.queue ? `cola ${a.queue}` : null, a.category ? `categoría ${a.category}` : null,
    a.priority ? `prioridad ${(PRIORITY[a.priority] || a.priority).toLowerCase()}` : null,
    a.tags?.length ? `etiquetas ${a.tags.join(', ')}` : null, a.stop ? 'y se detiene' : null,
  ].filter(Boolean).join(', ') || 'nada';
  return [when, then];
}

async function rulesScreen() {
  document.title = 'Reglas de enrutamiento · Administración';
  const queues = await get('/queues');
  const holder = h('div#tabla-reglas');
  async function reload() {
    const rules = await get('/routing/rules');
    holder.replaceChildren(rules.length ? h('table.casos', h('caption', 'Reglas, en el orden en que se evalúan'),
      h('thead', h('tr', ['Orden', 'Nombre', 'Cuando', 'Entonces', 'Estado'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', rules.map((r) => {
        const [when, then] = describeRule(r);
        return h('tr', { 'data-regla': r.id }, h('td', String(r.position)), h('th', { scope: 'row' }, r.name), h('td', when), h('td', then), h('td', r.active ? 'Activa' : 'Inactiva'));
      }))) : h('p.vacio', 'No hay reglas: todo llega a la cola por defecto.'));
  }
  // The draft rule, shared by the tester and the creation form.
  const name = h('input#r-nombre', { maxlength: 120, autocomplete: 'off' });
  const keywords = h('input#r-palabras', { maxlength: 1000, autocomplete: 'off' });
  const channel = h('select#r-canal', options([['', 'Cualquiera'], ...Object.entries(CHANNEL)], ''));
  const queue = h('select#r-cola', options([['', 'No cambiar'], ...queues.map((q) => [q.slug, q.name])], ''));
  const priority = h('select#r-prioridad', options([['', 'No cambiar'], ...Object.entries(PRIORITY)], ''));
  const stop = h('input#r-detener', { type: 'checkbox' });
  const draft = () => ({
    name: name.value,
    conditions: { ...(list(keywords.value).length ? { keywords: list(keywords.value) } : {}), ...(channel.value ? { channel: [channel.value] } : {}) },
    actions: { ...(queue.value ? { queue: queue.value } : {}), ...(priority.value ? { priority: priority.value } : {}), stop: stop.checked },
  });
  const ruleFields = (f) => [h('div.fila-campos',
    field(f, 'name', 'Nombre de la regla', name),
    field(f, 'conditions.keywords', 'Palabras clave', keywords, 'Separadas por comas; en el asunto o el texto, sin importar mayúsculas ni tildes.'),
    field(f, 'conditions.channel', 'Canal', channel),
    field(f, 'actions.queue', 'Enviar a la cola', queue),
    field(f, 'actions.priority', 'Prioridad', priority)),
  h('div.campo.casilla', h('label', { for: 'r-detener' }, stop, ' Detener aquí (no evaluar las reglas siguientes)'))];
  const form = apiForm('Nueva regla', 'nueva-regla', ruleFields, {
    submit: 'Crear regla',
    send: () => api('POST', '/routing/rules', draft()),
    done: async (rule) => {
      await reload();
      return `Regla creada: ${rule.name}. Se aplica a los casos que lleguen desde ahora.`;
    },
  });
  // The tester: the saved rules plus the one being written, on a test subject and body.
  const subject = h('input#p-asunto', { maxlength: 300, autocomplete: 'off' });
  const body = h('textarea#p-texto', { rows: 3, maxlength: 5000 });
  const testChannel = h('select#p-canal', options(Object.entries(CHANNEL), 'email'));
  const withDraft = h('input#p-borrador', { type: 'checkbox', checked: true });
  const result = h('div#resultado-prueba', { role: 'status' });
  const tester = apiForm('Probar las reglas', 'probador', (f) => [
    h('p.tenue', 'Escriba un asunto y un texto como los de un caso: verá qué reglas aplican y qué harían. No cambia nada.'),
    h('div.fila-campos', field(f, 'subject', 'Asunto de prueba', subject), field(f, 'channel', 'Canal de prueba', testChannel)),
    field(f, 'body', 'Texto de prueba', body),
    h('div.campo.casilla', h('label', { for: 'p-borrador' }, withDraft, ' Incluir la regla nueva que estoy escribiendo')),
    ...draftErrors(f),
    result,
  ], {
    submit: 'Probar',
    send: () => api('POST', '/routing/rules/test', { channel: testChannel.value, subject: subject.value, body: body.value, ...(withDraft.checked ? { draft: draft() } : {}) }),
    done: (d) => {
      const names = d.applied.map((a) => (a.rule_id === 0 ? `${a.rule_name} (la regla nueva)` : a.rule_name));
      const outcome = [d.queue ? `cola ${d.queue}` : null, d.priority ? `prioridad ${(PRIORITY[d.priority] || d.priority).toLowerCase()}` : null,
        d.category ? `categoría ${d.category}` : null].filter(Boolean).join(', ');
      result.replaceChildren(names.length
        ? h('ul.lista-simple', h('li', h('strong', 'Reglas que aplican: '), names.join(', ')), h('li', h('strong', 'Resultado: '), outcome || 'sin cambios'))
        : h('p', 'Ninguna regla aplica: el caso quedaría en la cola por defecto.'));
      return names.length ? `${names.length} ${names.length === 1 ? 'regla aplica' : 'reglas aplican'}.` : 'Ninguna regla aplica.';
    },
  });
  // The draft's errors from the tester are shown next to the rule's own fields.
  function draftErrors(f) {
    for (const [key, el] of form.errors) f.errors.set(`draft.${key}`, el);
    return [];
  }
  $('#principal').replaceChildren(h('h1', 'Reglas de enrutamiento'), h('div.dos-columnas', form, tester), holder);
  await reload();
}
