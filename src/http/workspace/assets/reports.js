// Informes para supervisores y administradores (/app/informes): cada informe de /api/v1/reports
// y /api/v1/quality/csat como gráfico SVG, con su tabla y su descarga en CSV, para un rango de
// días en hora de Santiago. Se imprime bien (hoja de estilo de impresión) para la reunión mensual.

import { h, $, api, get, showFieldErrors, CHANNEL, today, addDays, addressRange, reportPaths } from './app.js';
import { barChart, lineChart } from './charts.js';

const API = '/api/v1';
const CHANNELS = ['email', 'web', 'phone', 'api'];

const dayFormat = new Intl.DateTimeFormat('es-CL', { day: '2-digit', month: '2-digit', timeZone: 'UTC' });
const longFormat = new Intl.DateTimeFormat('es-CL', { day: '2-digit', month: '2-digit', year: 'numeric', timeZone: 'UTC' });
const short = (iso) => dayFormat.format(new Date(`${iso}T00:00:00Z`));
const long = (iso) => longFormat.format(new Date(`${iso}T00:00:00Z`)).replaceAll('/', '-');
// One formatter each: `toLocaleString` with options builds a new one per number.
const oneDecimal = new Intl.NumberFormat('es-CL', { maximumFractionDigits: 1 });
const pct = (v) => (v == null ? '—' : `${oneDecimal.format(Number(v))} %`);
const hours = (secs) => (secs == null ? null : Math.round(secs / 360) / 10);
const hoursText = (v) => (v == null ? '—' : `${oneDecimal.format(v)} h`);

function days(from, to) {
  const out = [];
  for (let d = from; d <= to && out.length < 400; d = addDays(d, 1)) out.push(d);
  return out;
}

export function reportsRoute() {
  return reportsScreen();
}

export function staffingRoute() {
  return staffingScreen();
}

async function reportsScreen() {
  document.title = 'Informes · Atención Usuaria';
  const [from, to] = addressRange(30);
  const errors = { from: h('p.error-campo#error-r-desde', { role: 'alert' }), to: h('p.error-campo#error-r-hasta', { role: 'alert' }) };
  const general = h('p.error', { role: 'alert' });
  const fromInput = h('input#r-desde', { type: 'date', value: from, required: true, 'aria-describedby': 'error-r-desde' });
  const toInput = h('input#r-hasta', { type: 'date', value: to, required: true, 'aria-describedby': 'error-r-hasta' });
  const form = h('form.filtros', { 'aria-label': 'Período de los informes', novalidate: true },
    h('div.campo', h('label', { for: 'r-desde' }, 'Desde'), fromInput, errors.from),
    h('div.campo', h('label', { for: 'r-hasta' }, 'Hasta'), toInput, errors.to),
    h('button', { type: 'submit' }, 'Actualizar'),
    h('button.secundaria.imprimir', { type: 'button', onclick: () => window.print() }, 'Imprimir'), general);
  const holder = h('div#informes');
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    history.replaceState(null, '', `/app/informes?desde=${fromInput.value}&hasta=${toInput.value}`);
    load(fromInput.value, toInput.value);
  });
  $('#principal').replaceChildren(h('div.cabeza-lista', h('h1', 'Informes'), h('p.tenue', 'Días en hora de Santiago.')), form, holder);

  async function load(a, b) {
    for (const el of Object.values(errors)) el.textContent = '';
    general.textContent = '';
    holder.setAttribute('aria-busy', 'true');
    const paths = reportPaths(a, b);
    try {
      const [volume, times, sla, backlog, calls, csat] = await Promise.all(paths.map(get));
      const range = `del ${long(volume.from)} al ${long(volume.to)}`;
      const labels = days(volume.from, volume.to);
      holder.replaceChildren(
        volumeSection(volume, labels, range, paths[0]),
        timesSection(times, range, paths[1]),
        slaSection(sla, range, paths[2]),
        backlogSection(backlog, labels, range, paths[3]),
        callsSection(calls, labels, range, paths[4]),
        csatSection(csat, range, paths[5]));
    } catch (e) {
      showFieldErrors(e, errors, general);
      holder.replaceChildren();
    } finally {
      holder.removeAttribute('aria-busy');
    }
  }
  await load(from, to);
}

/** Un informe: título, gráfico, tabla de cifras y enlaces de descarga. */
function section(id, title, chart, table, csvPath) {
  return h(`section.tarjeta.informe#${id}`, { 'aria-labelledby': `${id}-h` },
    h('div.cabeza-informe', h(`h2#${id}-h`, title),
      h('p.descargas', h('a', { href: `${API}${csvPath}&formato=csv`, download: '', 'aria-label': `Descargar CSV: ${title}` }, 'Descargar CSV'), ' · ',
        h('a', { href: `${API}${csvPath}&formato=excel`, download: '', 'aria-label': `Descargar CSV para Excel: ${title}` }, 'CSV para Excel'))),
    chart, table);
}

function table(caption, head, rows) {
  return h('details.cifras-informe', h('summary', `Ver cifras: ${caption}`),
    h('table.casos.cifras', h('caption.oculto', caption),
      h('thead', h('tr', head.map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', rows.map((r) => h('tr', h('th', { scope: 'row' }, r[0]), r.slice(1).map((c) => h('td', String(c))))))));
}

function channelName(key) {
  return CHANNEL[key] || key || 'Sin canal';
}

function volumeSection(report, labels, range, path) {
  const count = new Map(report.rows.map((r) => [`${r.period}|${r.group}`, r.tickets]));
  const present = CHANNELS.filter((c) => report.rows.some((r) => r.group === c));
  const series = (present.length ? present : CHANNELS.slice(0, 1)).map((c) => ({ name: channelName(c), values: labels.map((d) => count.get(`${d}|${c}`) || 0) }));
  const total = { name: 'Total', values: labels.map((_, i) => series.reduce((s, x) => s + x.values[i], 0)) };
  const chart = lineChart({ id: 'grafico-volumen', title: `Volumen de casos por día y canal, ${range}`, labels: labels.map(short), series: [total, ...series] });
  return section('informe-volumen', 'Volumen por día y canal', chart,
    table('casos creados por día y canal', ['Día', 'Total', ...series.map((s) => s.name)], labels.map((d, i) => [long(d), total.values[i], ...series.map((s) => s.values[i])])),
    path);
}

function timesSection(report, range, path) {
  const rows = report.rows;
  const labels = rows.map((r) => channelName(r.group));
  const pick = (k) => rows.map((r) => hours(r[k]));
  const series = [
    { name: 'Primera respuesta, mediana', values: pick('first_reply_p50_secs') },
    { name: 'Primera respuesta, p90', values: pick('first_reply_p90_secs') },
    { name: 'Resolución, mediana', values: pick('resolution_p50_secs') },
    { name: 'Resolución, p90', values: pick('resolution_p90_secs') },
  ];
  const chart = barChart({ id: 'grafico-tiempos', title: `Tiempos de primera respuesta y de resolución por canal (horas, mediana y percentil 90), ${range}`, labels, series, format: hoursText });
  return section('informe-tiempos', 'Primera respuesta y resolución', chart,
    table('percentiles por canal, en horas', ['Canal', 'Casos', ...series.map((s) => s.name)], rows.map((r, i) => [labels[i], r.tickets, ...series.map((s) => hoursText(s.values[i]))])),
    path);
}

function slaSection(report, range, path) {
  const groups = [...new Set(report.rows.map((r) => r.group))];
  const of = (g, metric) => report.rows.find((r) => r.group === g && r.metric === metric);
  const series = [['first_reply', 'Primera respuesta'], ['resolution', 'Resolución']].map(([m, name]) => ({ name, values: groups.map((g) => of(g, m)?.compliance ?? null) }));
  const chart = barChart({ id: 'grafico-sla', title: `Cumplimiento de SLA por canal (porcentaje de plazos cumplidos), ${range}`, labels: groups.map(channelName), series, format: pct, max: 100 });
  return section('informe-sla', 'Cumplimiento de SLA', chart,
    table('cumplimiento por canal y plazo', ['Canal', 'Plazo', 'Casos', 'Cumplidos', 'Vencidos', 'En curso', 'Cumplimiento'],
      report.rows.map((r) => [channelName(r.group), r.metric === 'first_reply' ? 'Primera respuesta' : 'Resolución', r.tickets, r.met, r.breached, r.running, pct(r.compliance)])),
    path);
}

function backlogSection(report, labels, range, path) {
  const sum = (k) => labels.map((d) => report.rows.filter((r) => r.date === d).reduce((s, r) => s + r[k], 0));
  const series = [{ name: 'Pendientes al cierre', values: sum('open_at_end') }, { name: 'Creados', values: sum('created') }, { name: 'Resueltos', values: sum('resolved') }];
  const chart = lineChart({ id: 'grafico-pendientes', title: `Casos pendientes al cierre de cada día, creados y resueltos, ${range}`, labels: labels.map(short), series });
  return section('informe-pendientes', 'Pendientes (backlog)', chart,
    table('pendientes por día', ['Día', ...series.map((s) => s.name)], labels.map((d, i) => [long(d), ...series.map((s) => s.values[i])])),
    path);
}

function callsSection(report, labels, range, path) {
  const day = labels.map((d) => report.rows.filter((r) => r.period === d).reduce((s, r) => ({
    offered: s.offered + r.offered, answered: s.answered + r.answered, within: s.within + r.answered_within_target,
    abandoned: s.abandoned + r.abandoned, short: s.short + r.short_abandoned,
  }), { offered: 0, answered: 0, within: 0, abandoned: 0, short: 0 }));
  const ratio = (a, b) => (b > 0 ? Math.round((1000 * a) / b) / 10 : null);
  const series = [
    { name: 'Nivel de servicio', values: day.map((x) => ratio(x.within, x.answered + x.abandoned - x.short)) },
    { name: 'Abandono', values: day.map((x) => ratio(x.abandoned - x.short, x.offered - x.short)) },
  ];
  const chart = lineChart({ id: 'grafico-llamadas', title: `Llamadas: nivel de servicio y abandono por día (porcentaje), ${range}`, labels: labels.map(short), series, format: pct, max: 100 });
  return section('informe-llamadas', 'Abandono y nivel de servicio', chart,
    table('llamadas por día', ['Día', 'Ofrecidas', 'Atendidas', 'Abandonadas', 'Nivel de servicio', 'Abandono'],
      labels.map((d, i) => [long(d), day[i].offered, day[i].answered, day[i].abandoned, pct(series[0].values[i]), pct(series[1].values[i])])),
    path);
}

function csatSection(report, range, path) {
  const t = report.total;
  const groups = report.groups || [];
  const series = [{ name: 'CSAT', values: groups.map((g) => g.csat) }, { name: 'FCR', values: groups.map((g) => g.fcr) }];
  const chart = barChart({ id: 'grafico-csat', title: `Satisfacción (CSAT) y resolución al primer contacto (FCR) por canal (porcentaje), ${range}`, labels: groups.map((g) => channelName(g.key)), series, format: pct, max: 100 });
  const figures = h('dl.cifras-grandes',
    h('div', h('dt', 'CSAT'), h('dd', pct(t.csat))), h('div', h('dt', 'FCR'), h('dd', pct(t.fcr))),
    h('div', h('dt', 'Nota media (1 a 7)'), h('dd', t.average_score == null ? '—' : t.average_score.toLocaleString('es-CL'))),
    h('div', h('dt', 'Respuestas'), h('dd', String(t.responses))));
  return section('informe-csat', 'Satisfacción (CSAT) y resolución al primer contacto (FCR)', h('div', figures, chart),
    table('encuestas por canal', ['Canal', 'Respuestas', 'CSAT', 'FCR', 'Nota media'], groups.map((g) => [channelName(g.key), g.responses, pct(g.csat), pct(g.fcr), g.average_score ?? '—'])),
    path);
}

// ------------------------------------------------------------------ dotación (Erlang C)

const timeOfDay = new Intl.DateTimeFormat('es-CL', { hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone: 'America/Santiago' });
const percent = (input) => Number(input.value) / 100;

/** Dotación: las llamadas y el AHT medidos de un día, por media hora, con los agentes que Erlang C
 *  pide para los objetivos; y la calculadora, con la media hora más cargada del día ya escrita. */
async function staffingScreen() {
  document.title = 'Dotación · Atención Usuaria';
  const params = new URLSearchParams(location.search);
  const errors = new Map();
  const input = (id, label, attrs, name, help) => {
    const el = h(`input#${id}`, { inputmode: 'decimal', ...attrs, 'aria-describedby': `error-${id}` });
    const error = h(`p.error-campo#error-${id}`, { role: 'alert' });
    errors.set(name, error);
    return [el, h('div.campo', h('label', { for: id }, label), el, help ? h('span.tenue', help) : null, error)];
  };
  const [day, dayField] = input('d-dia', 'Día medido', { type: 'date', value: params.get('dia') || addDays(today(), -1) }, 'date');
  const [target, targetField] = input('d-objetivo', 'Nivel de servicio objetivo (%)', { type: 'number', min: 1, max: 99, value: 80 }, 'target_service_level');
  const [answer, answerField] = input('d-respuesta', 'Atender dentro de (segundos)', { type: 'number', min: 1, value: 20 }, 'answer_secs');
  const [occupancy, occupancyField] = input('d-ocupacion', 'Ocupación máxima (%)', { type: 'number', min: 1, max: 100, value: 85 }, 'max_occupancy');
  const [shrinkage, shrinkageField] = input('d-reduccion', 'Tiempo fuera del teléfono (%)', { type: 'number', min: 0, max: 99, value: 30 }, 'shrinkage', 'Pausas, capacitación, ausencias.');
  const general = h('p.error', { role: 'alert' });
  const form = h('form.filtros', { 'aria-label': 'Día y objetivos', novalidate: true },
    dayField, targetField, answerField, occupancyField, shrinkageField, h('button', { type: 'submit' }, 'Calcular'), general);
  const holder = h('div#dotacion');
  const showErrors = (e) => showFieldErrors(e, errors, general);
  const targets = () => ({
    target_service_level: percent(target), answer_secs: Number(answer.value), max_occupancy: percent(occupancy), shrinkage: percent(shrinkage),
  });
  async function load() {
    for (const el of errors.values()) el.textContent = '';
    general.textContent = '';
    holder.setAttribute('aria-busy', 'true');
    try {
      const q = new URLSearchParams({ date: day.value, ...Object.fromEntries(Object.entries(targets()).map(([k, v]) => [k, String(v)])) });
      const report = await get(`/reports/staffing?${q}`);
      history.replaceState(null, '', `/app/dotacion?dia=${day.value}`);
      holder.replaceChildren(staffingDay(report, q.toString()), calculator(report.rows, targets, showErrors));
    } catch (e) {
      showErrors(e);
      holder.replaceChildren();
    } finally {
      holder.removeAttribute('aria-busy');
    }
  }
  form.addEventListener('submit', (ev) => { ev.preventDefault(); load(); });
  $('#principal').replaceChildren(h('div.cabeza-lista', h('h1', 'Dotación'), h('p.tenue', 'Erlang C sobre las llamadas medidas, por media hora (hora de Santiago).')), form, holder);
  await load();
}

function staffingDay(report, q) {
  const rows = report.rows;
  const labels = rows.map((r) => timeOfDay.format(new Date(r.start)));
  const chart = barChart({
    id: 'grafico-dotacion', title: `Llamadas y agentes necesarios por media hora, ${long(report.from)}`, labels,
    series: [{ name: 'Llamadas', values: rows.map((r) => r.arrivals) }, { name: 'Agentes al teléfono', values: rows.map((r) => r.agents) }, { name: 'Agentes a programar', values: rows.map((r) => r.scheduled) }],
  });
  const busy = rows.filter((r) => r.arrivals > 0);
  return section('informe-dotacion', 'Llamadas medidas y agentes necesarios', busy.length ? chart : h('p.vacio', 'Ese día no entró ninguna llamada.'),
    table('dotación por media hora', ['Desde', 'Llamadas', 'Atendidas', 'AHT (s)', 'Erlangs', 'Agentes', 'A programar', 'Nivel de servicio'],
      busy.map((r) => [timeOfDay.format(new Date(r.start)), r.arrivals, r.handled, r.aht_secs == null ? '—' : Math.round(r.aht_secs), r.traffic == null ? '—' : r.traffic.toFixed(2),
        r.agents ?? '—', r.scheduled ?? '—', r.service_level == null ? '—' : pct(100 * r.service_level)])),
    `/reports/staffing?${q}`);
}

/** La calculadora de Erlang C, con la media hora más cargada del día medida ya escrita. */
function calculator(rows, targets, showErrors) {
  const peak = rows.reduce((best, r) => (r.arrivals > (best?.arrivals ?? -1) ? r : best), null);
  const arrivals = h('input#c-llamadas', { type: 'number', min: 0, inputmode: 'decimal', value: peak?.arrivals ?? 0 });
  const minutes = h('input#c-intervalo', { type: 'number', min: 1, inputmode: 'decimal', value: 30 });
  const aht = h('input#c-aht', { type: 'number', min: 1, inputmode: 'decimal', value: Math.round(peak?.aht_secs ?? 180) });
  const result = h('div#resultado-calculo', { role: 'status' });
  const form = h('form.tarjeta.formulario', { novalidate: true, 'aria-labelledby': 'titulo-calculadora' },
    h('h2#titulo-calculadora', 'Calculadora de Erlang C'),
    h('p.tenue', peak ? `Escrita con la media hora más cargada del día medido (${timeOfDay.format(new Date(peak.start))}); cambie los valores para otro escenario.` : 'Escriba las llamadas y su duración media.'),
    h('div.fila-campos',
      h('div.campo', h('label', { for: 'c-llamadas' }, 'Llamadas en el intervalo'), arrivals),
      h('div.campo', h('label', { for: 'c-intervalo' }, 'Intervalo (minutos)'), minutes),
      h('div.campo', h('label', { for: 'c-aht' }, 'Duración media de atención, AHT (segundos)'), aht)),
    h('button', { type: 'submit' }, 'Calcular agentes'), result);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const s = await api('POST', '/kpis/staffing', { arrivals: Number(arrivals.value), interval_secs: Number(minutes.value) * 60, aht_secs: Number(aht.value), ...targets() });
      result.replaceChildren(h('dl.cifras-grandes',
        h('div', h('dt', 'Agentes al teléfono'), h('dd', String(s.agents))), h('div', h('dt', 'Agentes a programar'), h('dd', String(s.scheduled))),
        h('div', h('dt', 'Tráfico (Erlangs)'), h('dd', s.traffic.toFixed(2))),
        h('div', h('dt', 'Nivel de servicio'), h('dd', pct(100 * s.service_level)))));
    } catch (e) {
      result.replaceChildren(h('p.error', e.message));
      showErrors(e);
    }
  });
  return form;
}
