// Gráficos SVG dibujados aquí (sin biblioteca): líneas con un punto por valor y barras agrupadas.
// Cada gráfico es una imagen con nombre accesible (su <title>), una leyenda visible y colores
// por clase (la CSP no admite estilos en línea). Las cifras van además en una tabla junto a él.

import { h } from './app.js';

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 880;
const HEIGHT = 280;
const PAD = { left: 52, right: 12, top: 14, bottom: 44 };
const SERIES_CLASSES = 6;

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  for (const c of children.flat()) if (c != null) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

/** Límites redondos del eje Y para valores de 0 a `top`. */
export function niceTicks(top) {
  const steps = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 50000, 100000];
  const step = steps.find((s) => top / s <= 5) || Math.ceil(top / 5);
  const out = [0];
  while (out[out.length - 1] < top) out.push(out[out.length - 1] + step);
  return out.length > 1 ? out : [0, step];
}

/** El marco común: ejes, título, leyenda. `plot(x, y)` dibuja las series. */
function frame({ id, title, labels, series, format = String, max }, plot) {
  const values = series.flatMap((s) => s.values).filter((v) => v != null);
  const ticks = niceTicks(Math.max(max ?? 0, ...values, 1));
  const top = ticks[ticks.length - 1];
  const y = (v) => PAD.top + (HEIGHT - PAD.top - PAD.bottom) * (1 - v / top);
  const slot = (WIDTH - PAD.left - PAD.right) / Math.max(labels.length, 1);
  // At most ~14 labels under the axis; every point keeps its own <title>.
  const every = Math.max(1, Math.ceil(labels.length / 14));
  const chart = svg('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img', 'aria-labelledby': `${id}-titulo`, class: 'grafico', id },
    svg('title', { id: `${id}-titulo` }, title),
    ticks.map((t) => svg('g', { class: 'eje' }, svg('line', { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(t), y2: y(t) }),
      svg('text', { x: PAD.left - 6, y: y(t) + 4, 'text-anchor': 'end' }, format(t)))),
    labels.map((label, i) => (i % every === 0 ? svg('text', { class: 'mes', x: PAD.left + slot * (i + 0.5), y: HEIGHT - PAD.bottom + 18, 'text-anchor': 'middle' }, label) : null)),
    plot({ y, slot, labels, series, format }));
  const legend = h('ul.leyenda', { 'aria-hidden': 'true' }, series.map((s, j) => h('li', h(`span.muestra.serie-${j % SERIES_CLASSES}`), s.name)));
  return h('figure.figura', chart, legend);
}

/** Una línea por serie, con un punto (círculo) por valor; `null` corta la línea. */
export function lineChart(spec) {
  return frame(spec, ({ y, slot, labels, series, format }) => series.map((s, j) => {
    const x = (i) => PAD.left + slot * (i + 0.5);
    const points = s.values.map((v, i) => (v == null ? null : [x(i), y(v)]));
    const path = points.reduce((d, p, i) => (p ? `${d}${d && points[i - 1] ? 'L' : 'M'}${p[0].toFixed(1)},${p[1].toFixed(1)}` : d), '');
    return svg('g', { class: `linea serie-${j % SERIES_CLASSES}`, 'data-serie': s.name },
      svg('path', { d: path }),
      points.map((p, i) => (p ? svg('circle', { cx: p[0].toFixed(1), cy: p[1].toFixed(1), r: 3 }, svg('title', {}, `${labels[i]}, ${s.name}: ${format(s.values[i])}`)) : null)));
  }));
}

/** Barras agrupadas: una por serie en cada etiqueta. */
export function barChart(spec) {
  return frame(spec, ({ y, slot, labels, series, format }) => labels.map((label, i) => {
    const bar = Math.max(3, Math.min(22, (slot - 10) / series.length));
    const x0 = PAD.left + slot * i + (slot - bar * series.length) / 2;
    return svg('g', {}, series.map((s, j) => (s.values[i] == null ? null
      : svg('rect', { class: `serie-${j % SERIES_CLASSES}`, x: x0 + j * bar, y: y(s.values[i]), width: bar - 1, height: Math.max(0, y(0) - y(s.values[i])) },
        svg('title', {}, `${label}, ${s.name}: ${format(s.values[i])}`)))));
  }));
}
