#!/usr/bin/env bash
# Full-text search at scale (issue 19): p50/p99 of a one-word, a two-word and a ticket-number
# search through `GET /api/v1/search` over TICKETS tickets (default 1M) with 3 messages each, on
# Postgres, release build; then the ticket creation rate (benches/loadgen.rs, 1 and 4 clients)
# with the search index kept by its triggers and with those triggers disabled, alternated ROUNDS
# times (default 4) in the same run; prints each round's ratio and their median.
# Usage: [BENCH_BIN=path BENCH_LOADGEN=path ROUNDS=n] benches/search.sh [tickets] [requests-per-query] [secs]
# BENCH_LOAD_ONLY=1 stops after loading the data; BENCH_REUSE=1 measures the data already loaded.
#
# The text: every subject (6 words) and message (15–45 words) is drawn from a Zipf-like
# vocabulary (rank r with probability ∝ 1/r, over 20,400 words): the head is 400 real Spanish
# words of ChileCompra's support (in rank order, accents included), the long tail made-up words
# from syllables, so common words are in most tickets and rarer ones in few, as in real mail.
# The words searched sit at ranks 40 ("garantía") and 18/21 ("orden", "compra"): the script
# prints how many tickets each matches. Times are curl's total over loopback, new connection
# per request (an upper bound of server time).
set -euo pipefail
cd "$(dirname "$0")/.."
TICKETS="${1:-1000000}"
REQUESTS="${2:-200}"
SECS="${3:-10}"
PG="${BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
DB=atencion_bench_search
PORT="${BENCH_PORT:-18082}"
BASE="http://127.0.0.1:$PORT"

BIN="${BENCH_BIN:-target/release/atencion}"
LOADGEN="${BENCH_LOADGEN:-target/release/loadgen}"
[ -n "${BENCH_BIN:-}" ] || cargo build --release --bin atencion --bin loadgen -q
export ATENCION__DATABASE__URL="$PG/$DB" ATENCION__SERVER__PORT="$PORT" ATENCION__LOG__FILTER=warn
export ATENCION__SLA__SCAN_INTERVAL_SECS=0 ATENCION__KPI__POLL_INTERVAL_MS=0 ATENCION__REPORTS__REFRESH_INTERVAL_SECS=0

# The head of the vocabulary, by rank: 400 words of ChileCompra's support mail.
VOCAB='{clave,mercado,publico,orden,compra,proveedor,licitacion,oferta,registro,usuario,sistema,error,plataforma,comprador,contrato,pago,factura,documento,correo,cuenta,'
VOCAB+='compra,ingresar,acceso,problema,solicitud,consulta,municipalidad,servicio,producto,plazo,empresa,convenio,marco,agil,bases,adjudicacion,cotizacion,catalogo,ficha,garantía,'
VOCAB+='boleta,estado,fecha,monto,precio,unidad,institucion,hospital,ministerio,organismo,postulacion,habilidad,inscripción,certificado,declaracion,jurada,firma,electronica,perfil,rol,'
VOCAB+='administrador,supervisor,operador,proceso,tramite,requisito,antecedente,archivo,formulario,pantalla,mensaje,aviso,notificacion,alerta,respuesta,reclamo,sugerencia,felicitacion,demora,retraso,'
VOCAB+='envio,recepcion,conforme,despacho,entrega,bodega,stock,inventario,cantidad,item,linea,detalle,resumen,informe,reporte,historial,busqueda,filtro,resultado,listado,'
VOCAB+='órdenes,facturas,pagos,ofertas,licitaciones,proveedores,compradores,contratos,documentos,usuarios,claves,cuentas,errores,plazos,montos,precios,productos,servicios,empresas,instituciones,'
VOCAB+='recuperar,cambiar,actualizar,modificar,eliminar,anular,cancelar,aceptar,rechazar,enviar,recibir,descargar,cargar,subir,adjuntar,publicar,revisar,evaluar,adjudicar,firmar,'
VOCAB+='bloqueada,bloqueado,vencida,vencido,pendiente,aprobada,rechazada,publicada,cerrada,desierta,urgente,importante,necesario,posible,correcto,incorrecto,valido,invalido,nuevo,antiguo,'
VOCAB+='rut,razon,social,giro,direccion,telefono,comuna,region,santiago,valparaiso,concepcion,temuco,antofagasta,iquique,arica,talca,rancagua,chillan,osorno,punta,'
VOCAB+='capacitacion,curso,taller,manual,guia,tutorial,video,ayuda,soporte,mesa,ejecutivo,agente,llamada,telefonica,chat,web,portal,pagina,enlace,link,'
VOCAB+='navegador,chrome,firefox,computador,celular,aplicacion,version,actualizacion,descarga,instalacion,sesion,contrasena,codigo,verificacion,token,unica,autenticacion,identidad,cedula,carnet,'
VOCAB+='multa,sancion,inhabilidad,tribunal,contraloria,auditoria,fiscalizacion,denuncia,transparencia,probidad,presupuesto,financiamiento,fondos,tesoreria,contabilidad,devengo,compromiso,imputacion,cuenta,subtitulo,'
VOCAB+='trato,directo,excepcion,causal,resolucion,decreto,ley,reglamento,articulo,norma,evaluacion,criterio,puntaje,comision,acta,informe,apertura,cierre,foro,pregunta,'
VOCAB+='aclaracion,modificacion,prorroga,ampliacion,reduccion,termino,anticipado,renovacion,vigencia,duracion,suministro,obra,consultoria,arriendo,mantencion,reparacion,aseo,seguridad,alimentacion,transporte,'
VOCAB+='combustible,medicamentos,insumos,equipos,mobiliario,computadores,impresoras,papel,toner,software,licencia,hardware,red,internet,servidor,respaldo,nube,correo,dominio,hosting,'
VOCAB+='pyme,mipyme,emprendedor,persona,natural,juridica,sociedad,limitada,anonima,cooperativa,dia,semana,mes,ano,hora,minuto,lunes,martes,viernes,hoy,'
VOCAB+='ayer,manana,tarde,noche,siempre,nunca,todavia,ahora,luego,despues,gracias,favor,saludos,atentamente,estimado,estimada,senor,senora,don,dona,'
VOCAB+='funciona,aparece,permite,sale,carga,muestra,indica,dice,llega,falla,puedo,necesito,quiero,debo,tengo,hice,intente,envie,recibi,pedi,'
VOCAB+='nombre,apellido,email,direccion,numero,identificador,folio,id,referencia,asunto,oportunidad,mejora,cambio,ajuste,correccion,revision,validacion,aprobacion,autorizacion,visacion,'
VOCAB+='descuento,reajuste,interes,deuda,saldo,cobro,cobranza,abono,transferencia,deposito,juan,maria,pedro,ana,luis,carmen,jose,rosa,diego,camila}'

load() {
psql "$PG/postgres" -q -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
"$BIN" migrate >/dev/null

began=$(date +%s)
# Bulk load: the per-row triggers are off while loading and the documents are built once at the
# end (what search_document(), the function the triggers use, computes), then the GIN index.
psql "$PG/$DB" -q -v ON_ERROR_STOP=1 <<SQL
SET maintenance_work_mem = '1GB';
ALTER TABLE tickets DISABLE TRIGGER ticket_search_insert;
ALTER TABLE messages DISABLE TRIGGER message_search_insert;
DROP INDEX ticket_search_doc_idx;
INSERT INTO agents (name, email, role) SELECT 'Agente ' || g, 'agente' || g || '@example.cl', 'agent' FROM generate_series(1, 100) g;
INSERT INTO queues (slug, name) SELECT 'cola-' || g, 'Cola ' || g FROM generate_series(1, 9) g;
INSERT INTO requesters (name, email, segment)
  SELECT (ARRAY['Ana','Luis','Marta','Pedro','Rosa','Diego'])[1 + g % 6] || ' ' || (ARRAY['Pérez','Soto','Muñoz','Rojas','Díaz'])[1 + g % 5] || ' ' || g,
         'persona' || g || '@example.cl', (ARRAY['comprador', 'proveedor', 'ciudadano'])[1 + g % 3]
  FROM generate_series(1, 100000) g;
-- Texts of random words: a word of rank r (1-based) with probability ∝ 1/r, the head real words,
-- the tail made up; one function word in four (dropped by the index as stopwords).
CREATE UNLOGGED TABLE bench_text (m bigint, kind int, body text);
INSERT INTO bench_text
SELECT m, kind, (SELECT string_agg(CASE WHEN k % 4 = 0 THEN (ARRAY['de','la','el','que','en','no','mi','por','con','para'])[1 + (m + k) % 10]
                                WHEN r <= 400 THEN ('$VOCAB'::text[])[r]
                                ELSE (ARRAY['pa','ro','te','li','cu','ma','se','do','ni','ga','bo','ve','ra','lo','fu','che','tri','pla','mo','sa'])[1 + r % 20]
                                  || (ARRAY['ra','le','ti','no','ca','mu','pe','di','so','ba','re','go','la','vi','to','que','bri','plo','me','za'])[1 + (r / 20) % 20]
                                  || (ARRAY['do','ta','ne','ro','sa','lia','mo','ble','cion','mente'])[1 + (r / 400) % 10] END, ' ')
                 FROM (SELECT k, floor(exp(random() * ln(20401)))::int AS r FROM generate_series(1, t.words) k) x)
FROM (SELECT m, 0 AS kind, 6 + m % 2 AS words FROM generate_series(1::bigint, $TICKETS) m
      UNION ALL SELECT m, 1, 15 + (m * 7) % 31 FROM generate_series(1::bigint, 3 * $TICKETS) m) t;
CREATE INDEX ON bench_text (kind, m);
WITH q AS (SELECT array_agg(id ORDER BY id) a, count(*) n FROM queues),
     r AS (SELECT min(id) lo FROM requesters),
     s AS (SELECT g, TIMESTAMPTZ '2025-01-01 03:00:00+00' + (g - 1) * (interval '1 second' * 31536000 * 2 / $TICKETS) AS at,
                  CASE WHEN g > $TICKETS - 20000 THEN 'open' WHEN g % 5 = 3 THEN 'closed' ELSE 'solved' END AS status
           FROM generate_series(1::bigint, $TICKETS) g)
INSERT INTO tickets (number, subject, status, priority, channel, queue_id, requester_id,
                     created_at, updated_at, solved_at, closed_at, kind)
SELECT 'AU-' || (2025 + (s.g * 2 > $TICKETS)::int) || '-' || lpad((CASE WHEN s.g * 2 > $TICKETS THEN s.g - $TICKETS / 2 ELSE s.g END)::text, 6, '0'),
       initcap(b.body), s.status, 'normal', 'email', q.a[(1 + (s.g / 7) % q.n)::int], r.lo + s.g % 100000,
       s.at, s.at + interval '1 hour', CASE WHEN s.status IN ('solved', 'closed') THEN s.at + interval '1 day' END,
       CASE WHEN s.status = 'closed' THEN s.at + interval '4 days' END, 'standard'
FROM s JOIN bench_text b ON b.kind = 0 AND b.m = s.g, q, r ORDER BY s.g;
INSERT INTO messages (ticket_id, author_type, author_requester_id, author_agent_id, visibility, channel, body_text, created_at)
SELECT t.id, CASE WHEN k = 2 THEN 'agent' ELSE 'requester' END, CASE WHEN k = 2 THEN NULL ELSE t.requester_id END,
       CASE WHEN k = 2 THEN (SELECT min(id) FROM agents) END, CASE WHEN k = 3 AND t.id % 5 = 0 THEN 'internal' ELSE 'public' END,
       'email', b.body, t.created_at + k * interval '1 hour'
FROM (SELECT id, requester_id, created_at, row_number() OVER (ORDER BY id) AS n FROM tickets) t
CROSS JOIN generate_series(1, 3) k
JOIN bench_text b ON b.kind = 1 AND b.m = (t.n - 1) * 3 + k
ORDER BY t.id, k;
DROP TABLE bench_text;
SQL
loaded=$(( $(date +%s) - began ))
psql "$PG/$DB" -q -v ON_ERROR_STOP=1 <<SQL
SET maintenance_work_mem = '1GB';
TRUNCATE ticket_search;
-- What search_document() computes for each ticket, set-based.
INSERT INTO ticket_search (ticket_id, doc)
SELECT t.id, search_head(t.number, t.subject) || search_requester_doc(r.name, r.email, r.rut) || coalesce(m.doc, '')
FROM tickets t JOIN requesters r ON r.id = t.requester_id
LEFT JOIN (SELECT ticket_id,
                  search_message(string_agg(body_text, ' ') FILTER (WHERE visibility <> 'internal'), 'public')
                  || search_message(string_agg(body_text, ' ') FILTER (WHERE visibility = 'internal'), 'internal') AS doc
           FROM messages GROUP BY ticket_id) m ON m.ticket_id = t.id;
CREATE INDEX ticket_search_doc_idx ON ticket_search USING gin (doc);
ALTER TABLE tickets ENABLE TRIGGER ticket_search_insert;
ALTER TABLE messages ENABLE TRIGGER message_search_insert;

-- New tickets are numbered after the loaded ones (2026: sequences 1 to TICKETS/2).
SELECT next_ticket_number(2026); SELECT setval('ticket_number_2026', $TICKETS / 2);
VACUUM ANALYZE;
SQL
echo "datos: $TICKETS tickets, $(psql "$PG/$DB" -Atc "SELECT count(*) FROM messages") mensajes en $loaded s; índice en $(( $(date +%s) - began - loaded )) s"
}
[ -n "${BENCH_REUSE:-}" ] || load
[ -z "${BENCH_LOAD_ONLY:-}" ] || exit 0
psql "$PG/$DB" -Atc "SELECT 'tamaño: ticket_search ' || pg_size_pretty(pg_total_relation_size('ticket_search')) || ', índice GIN ' || pg_size_pretty(pg_relation_size('ticket_search_doc_idx'))"
for q in garantia 'orden & compra'; do
  echo "«$q» aparece en $(psql "$PG/$DB" -Atc "SELECT count(*) FROM ticket_search WHERE doc @@ to_tsquery('spanish', '$q')") tickets"
done

TOKEN=$("$BIN" token create --role agent --name buscador 2>/dev/null)
NUMBER=$(psql "$PG/$DB" -Atc "SELECT number FROM tickets WHERE id = (SELECT min(id) + $TICKETS / 3 FROM tickets)")
"$BIN" serve &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null' EXIT
for _ in $(seq 1 100); do curl -fs "$BASE/health" >/dev/null && break; sleep 0.2; done

. benches/measure.sh
echo "| Petición | p50 (ms) | p99 (ms) |"
echo "|---|---|---|"
measure "/api/v1/search?q=garant%C3%ADa"
measure "/api/v1/search?q=orden%20compra"
measure "/api/v1/search?q=$NUMBER"
measure "/api/v1/tickets?q=garant%C3%ADa&limit=50"
measure "/api/v1/tickets/$NUMBER/similar"

# Creation: the same load with the index kept by its triggers, then with them disabled.
INTEGRATION=$("$BIN" token create --role integration --name loadgen 2>/dev/null)
create() {
  "$LOADGEN" --server "$BASE" --token "$INTEGRATION" --database-url "$PG/$DB" \
    --concurrency 1,4 --duration-secs "$SECS" --warmup-secs 2 --server-pid "$SERVER" | grep -E '^ +[0-9]+ \|'
}
# Alternated ROUNDS times (on, off, on, off, ...) so a machine that slows down in the middle shows
# as such; the verdict is the median over the rounds of (service ops/s with) / (without).
off() { psql "$PG/$DB" -q -c "ALTER TABLE tickets $1 TRIGGER ticket_search_insert" -c "ALTER TABLE messages $1 TRIGGER message_search_insert"; }
RESULTS="$(mktemp)"
for round in $(seq 1 "${ROUNDS:-4}"); do
  echo "ronda $round, creación con índice (clientes | raw ops/s | servicio ops/s | ...):"
  create | tee >(sed "s/^/$round on /" >>"$RESULTS")
  off DISABLE
  echo "ronda $round, creación sin índice:"
  create | tee >(sed "s/^/$round off /" >>"$RESULTS")
  off ENABLE
done
sleep 1
# Lines: round mode clients | raw | service | ...: per client count, each round's ratio and the median.
awk -F'|' '{ split($1, a, " "); key = a[3]; svc[a[1] " " a[2] " " key] = $3 + 0; clients[key] = 1; rounds[a[1]] = 1 }
  END { for (c in clients) { n = 0; line = "";
          for (r in rounds) { on = svc[r " on " c]; offv = svc[r " off " c]; if (offv > 0) { x[++n] = on / offv; line = line sprintf(" %.3f", on / offv) } }
          for (i = 2; i <= n; i++) { v = x[i]; for (j = i - 1; j >= 1 && x[j] > v; j--) x[j + 1] = x[j]; x[j + 1] = v }
          med = (n % 2) ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2;
          printf "%s clientes: con/sin índice por ronda:%s; mediana %.3f (creación %.1f %% más lenta con el índice)\n", c, line, med, (1 - med) * 100; delete x } }' "$RESULTS"
rm -f "$RESULTS"
