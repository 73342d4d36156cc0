//! `/wallboard`: the supervisors' screen. One self-contained page (no CDN): it reads the KPI
//! stream and, every 15 s, each agent's state (`GET /routing/agents`) and the waiting list of the
//! queue the supervisor opened (`GET /queues/{id}/waiting`), with the supervisor's token, taken
//! from the address's fragment (`#token=…`, never sent to the server or its logs) or typed in,
//! and keeps it for the browser session only.

use actix_web::HttpResponse;

pub async fn page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            "Content-Security-Policy",
            "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'",
        ))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .body(PAGE)
}

const PAGE: &str = r##"<!doctype html>
<html lang="es-CL">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Panel en vivo · Atención Usuaria</title>
<style>
  :root { --bg:#0f1720; --tile:#1b2633; --text:#f2f5f8; --muted:#9fb0c2; --green:#1f9d55; --amber:#d69e2e; --red:#e53e3e; --grey:#4a5568; }
  * { box-sizing: border-box; }
  body { margin:0; font-family: system-ui, "Segoe UI", Roboto, sans-serif; background:var(--bg); color:var(--text); }
  header { display:flex; justify-content:space-between; align-items:baseline; padding:1rem 2rem; }
  h1 { font-size:2.2rem; margin:0; }
  #estado { font-size:1.3rem; color:var(--muted); }
  #estado.desactualizado { color:var(--amber); font-weight:700; }
  main { display:grid; grid-template-columns:repeat(auto-fill, minmax(26rem, 1fr)); gap:1.2rem; padding:0 2rem 2rem; }
  .tile { background:var(--tile); border-radius:1rem; padding:1.2rem 1.5rem; border-top:0.8rem solid var(--grey); }
  .tile.verde { border-top-color:var(--green); } .tile.ambar { border-top-color:var(--amber); } .tile.rojo { border-top-color:var(--red); }
  .tile h2 { font-size:1.8rem; margin:0 0 .6rem; }
  .nivel { font-size:4.5rem; font-weight:800; line-height:1; }
  .nivel small { font-size:1.2rem; font-weight:400; color:var(--muted); display:block; }
  dl { display:grid; grid-template-columns:1fr auto; gap:.3rem 1rem; font-size:1.5rem; margin:.8rem 0 0; }
  dt { color:var(--muted); } dd { margin:0; font-weight:700; text-align:right; }
  .alerta { color:var(--red); }
  .oculto { position:absolute; width:1px; height:1px; overflow:hidden; clip:rect(0 0 0 0); white-space:nowrap; }
  form { padding:2rem; font-size:1.4rem; } input { font-size:1.2rem; width:30rem; max-width:100%; }
  #agentes { padding:0 2rem 2rem; } #agentes h2 { font-size:1.8rem; margin:0 0 .6rem; }
  #agentes table { width:100%; border-collapse:collapse; font-size:1.4rem; background:var(--tile); border-radius:1rem; }
  #agentes th, #agentes td { text-align:left; padding:.45rem 1rem; border-bottom:1px solid var(--bg); }
  #agentes thead th { color:var(--muted); font-weight:600; }
  .tile button { margin-top:1rem; font-size:1.2rem; padding:.4rem 1rem; border-radius:.5rem; border:1px solid var(--muted); background:transparent; color:var(--text); cursor:pointer; }
  .tile button[aria-expanded="true"] { background:var(--text); color:var(--bg); }
  #espera { padding:0 2rem 2rem; } #espera h2 { font-size:1.8rem; margin:0 0 .6rem; }
  #espera ol { margin:0; padding:.6rem 1rem .6rem 3.5rem; background:var(--tile); border-radius:1rem; font-size:1.4rem; }
  #espera li { padding:.3rem 0; } #espera a { color:var(--text); } #espera .tenue { color:var(--muted); }
  .p-available { color:#68d391; } .p-busy, .p-after_call_work { color:#f6c453; } .p-away, .p-offline { color:var(--muted); }
</style>
</head>
<body>
<header><h1>Atención Usuaria · Panel en vivo</h1><div id="estado">Conectando…</div></header>
<form id="acceso" hidden>
  <label>Token de supervisor <input id="token" type="password" autocomplete="off"></label>
  <button>Ver panel</button>
</form>
<main id="paneles"></main>
<section id="espera" aria-labelledby="t-espera" hidden><h2 id="t-espera" tabindex="-1"></h2><ol></ol><p></p></section>
<section id="agentes" aria-labelledby="t-agentes" hidden>
  <h2 id="t-agentes">Agentes</h2>
  <table><thead><tr><th scope="col">Agente</th><th scope="col">Estado</th><th scope="col">Desde hace</th><th scope="col">Trabajo abierto</th><th scope="col">Colas</th></tr></thead><tbody></tbody></table>
</section>
<script>
"use strict";
const state = document.getElementById("estado");
const board = document.getElementById("paneles");
const form = document.getElementById("acceso");
const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
if (fromHash) { sessionStorage.setItem("token", fromHash); history.replaceState(null, "", location.pathname); }
let token = sessionStorage.getItem("token");

const pct = v => v == null ? "—" : Math.round(v * 100) + " %";
const secs = v => {
  if (v == null) return "—";
  v = Math.round(v);
  return v < 60 ? v + " s" : Math.floor(v / 60) + " min " + String(v % 60).padStart(2, "0") + " s";
};
function colour(level, target) {
  if (level == null) return "";
  if (level >= target) return "verde";
  return level >= target - 0.1 ? "ambar" : "rojo";
}
function cell(dl, label, value, cls) {
  const dt = document.createElement("dt"); dt.textContent = label;
  const dd = document.createElement("dd"); dd.textContent = value; if (cls) dd.className = cls;
  dl.append(dt, dd);
}
function tile(s, data) {
  const t = document.createElement("section");
  const w = s.window;
  t.className = "tile " + colour(w.service_level, data.service_level_target);
  t.dataset.scope = s.scope;
  const h = document.createElement("h2"); h.textContent = s.label || s.scope;
  const level = document.createElement("div"); level.className = "nivel"; level.dataset.kpi = "nivel";
  level.textContent = pct(w.service_level);
  const sub = document.createElement("small");
  sub.textContent = "nivel de servicio (meta " + pct(data.service_level_target) + " en " + data.answer_target_secs + " s)";
  level.append(sub);
  const dl = document.createElement("dl");
  const a = s.agents || {};
  cell(dl, "En espera ahora", s.waiting, s.waiting > 0 ? "alerta" : "");
  cell(dl, "Espera más larga", secs(s.longest_wait_seconds));
  cell(dl, "Tickets abiertos", s.backlog_total);
  cell(dl, "Creados (" + data.window + " min)", w.created);
  cell(dl, "Agentes disponibles / ocupados", (a.available || 0) + " / " + (a.busy || 0));
  cell(dl, "En post-llamada / ausentes", (a.after_call_work || 0) + " / " + (a.away || 0));
  cell(dl, "ASA / AHT", secs(w.asa_seconds) + " / " + secs(w.aht_seconds));
  cell(dl, "Abandono", pct(w.abandonment_rate));
  cell(dl, "SLA vencidos / en riesgo", s.breached + " / " + s.at_risk, s.breached > 0 ? "alerta" : "");
  t.append(h, level, dl);
  if (s.scope.startsWith("q:")) {
    // The queue drill-down: its waiting tickets in the order assignment will take them.
    const open = document.createElement("button");
    open.type = "button";
    open.setAttribute("aria-expanded", String(drill && drill.scope === s.scope));
    open.setAttribute("aria-controls", "espera");
    open.textContent = "Ver la espera";
    const which = document.createElement("span"); which.className = "oculto"; which.textContent = " de " + (s.label || s.scope);
    open.append(which);
    open.addEventListener("click", () => {
      drill = drill && drill.scope === s.scope ? null : { scope: s.scope, label: s.label || s.scope };
      board.querySelectorAll(".tile button").forEach(b => b.setAttribute("aria-expanded", String(b === open && !!drill)));
      waiting(true);
    });
    t.append(open);
  }
  return t;
}
// "hoy a las 18:00" or "el 09-12 a las 10:30", in Santiago.
const SANTIAGO = { timeZone: "America/Santiago" };
function when(iso) {
  const at = new Date(iso);
  const day = d => d.toLocaleDateString("es-CL", { ...SANTIAGO, day: "2-digit", month: "2-digit" });
  const time = at.toLocaleTimeString("es-CL", { ...SANTIAGO, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  return (day(at) === day(new Date()) ? "hoy" : "el " + day(at)) + " a las " + time;
}
// The queue whose waiting list is open, if any.
let drill = null;
const PRIORITY = { low: "baja", normal: "normal", high: "alta", urgent: "urgente" };
async function waiting(focus) {
  const panel = document.getElementById("espera");
  if (!drill) { panel.hidden = true; return; }
  const [title, list, note] = [panel.querySelector("h2"), panel.querySelector("ol"), panel.querySelector("p")];
  title.textContent = "En espera en " + drill.label + ", en el orden en que se asignarán";
  try {
    const res = await fetch("/api/v1/queues/" + drill.scope.slice(2) + "/waiting?limit=20", { headers: { Authorization: "Bearer " + token } });
    if (!res.ok) throw new Error(res.status);
    const items = await res.json();
    list.replaceChildren(...items.map(t => {
      const li = document.createElement("li");
      const a = document.createElement("a"); a.href = "/app/casos/" + encodeURIComponent(t.number); a.textContent = t.number + " " + t.subject;
      const due = t.next_due_at ? " · vence " + when(t.next_due_at) : " · sin plazo";
      const tail = document.createElement("span"); tail.className = "tenue";
      tail.textContent = " · prioridad " + (PRIORITY[t.priority] || t.priority) + due + " · esperando " + since(t.created_at);
      li.append(a, tail); return li;
    }));
    list.hidden = !items.length;
    note.textContent = items.length ? "" : "No hay casos esperando en esta cola.";
  } catch (e) {
    list.replaceChildren(); note.textContent = "No se pudo leer la espera de la cola.";
  }
  panel.hidden = false;
  if (focus) title.focus();
}
function render(data) {
  const shown = data.scopes.filter(s => s.scope === "all" || s.scope.startsWith("q:"));
  board.replaceChildren(...shown.map(s => tile(s, data)));
  const at = new Date(data.generated_at).toLocaleTimeString("es-CL", { timeZone: "America/Santiago" });
  state.textContent = data.stale ? "Datos posiblemente desactualizados · " + at : "Actualizado " + at;
  state.className = data.stale ? "desactualizado" : "";
  document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
}
async function listen() {
  if (!token) { form.hidden = false; state.textContent = "Ingrese su token"; return; }
  try {
    const res = await fetch("/api/v1/kpis/stream?window=15", { headers: { Authorization: "Bearer " + token } });
    if (res.status === 401 || res.status === 403) {
      sessionStorage.removeItem("token"); token = null; form.hidden = false;
      state.textContent = "Token no válido o sin permiso de supervisor"; return;
    }
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end); buffer = buffer.slice(end + 2);
        const data = block.split("\n").filter(l => l.startsWith("data: ")).map(l => l.slice(6)).join("\n");
        if (data) render(JSON.parse(data));
      }
    }
  } catch (e) { /* reconnect below */ }
  state.textContent = "Reconectando…"; state.className = "desactualizado";
  setTimeout(listen, 2000);
}
// Each agent's state: connected ones first, then by name.
const PRESENCE = { available: "Disponible", busy: "Ocupado", after_call_work: "Post-llamada", away: "Ausente", offline: "Desconectado" };
const CHANNEL = { email: "Correo", web: "Web", phone: "Teléfono", api: "API" };
const since = iso => {
  if (!iso) return "—";
  const m = Math.max(0, Math.floor((Date.now() - new Date(iso)) / 60000));
  return m < 60 ? m + " min" : Math.floor(m / 60) + " h " + String(m % 60).padStart(2, "0") + " min";
};
function row(cells, presence) {
  const tr = document.createElement("tr");
  cells.forEach((text, i) => {
    const td = document.createElement(i ? "td" : "th");
    if (!i) td.scope = "row";
    if (i === 1) td.className = "p-" + presence;
    td.textContent = text; tr.append(td);
  });
  return tr;
}
async function agents() {
  if (!token) return;
  try {
    const auth = { headers: { Authorization: "Bearer " + token } };
    const [people, team] = await Promise.all(["/api/v1/agents", "/api/v1/routing/agents"].map(u =>
      fetch(u, auth).then(r => r.ok ? r.json() : Promise.reject(r.status))));
    const name = id => (people.find(a => a.id === id) || {}).name || "n.º " + id;
    const order = Object.keys(PRESENCE);
    team.sort((a, b) => order.indexOf(a.presence) - order.indexOf(b.presence));
    const work = r => Object.entries(CHANNEL).filter(([k]) => r.load[k]).map(([k, n]) => n + " " + r.load[k]).join(" · ") || "—";
    const panel = document.getElementById("agentes");
    panel.querySelector("tbody").replaceChildren(...team.map(r =>
      row([name(r.agent_id), PRESENCE[r.presence] || r.presence, since(r.presence_since), work(r), r.queues.join(", ") || "—"], r.presence)));
    panel.hidden = false;
  } catch (e) { /* next round */ }
  if (drill) waiting(false);
  setTimeout(agents, 15000);
}
agents();
form.addEventListener("submit", ev => {
  ev.preventDefault();
  token = document.getElementById("token").value.trim();
  sessionStorage.setItem("token", token); form.hidden = true; listen(); agents();
});
listen();
</script>
</body>
</html>
"##;
