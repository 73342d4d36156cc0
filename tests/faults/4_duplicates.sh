#!/usr/bin/env bash
# Fault 4: duplicate and reordered deliveries at volume. N ticket creations × COPIES with the same
# Idempotency-Key, N inbound mails × COPIES with the same Message-ID, N abandoned calls whose two
# events (queued, ended) are each sent COPIES times with the same call id; everything shuffled and
# sent concurrently. Checks: one ticket per Idempotency-Key (all copies answered with the same id),
# one stored mail and one ticket per Message-ID, one call record and one callback ticket per call id,
# every call ends `abandoned` whatever the order, no 5xx.
# Usage: tests/faults/4_duplicates.sh [n=200] [copies=3] [clients=8]
#   long mode: tests/faults/4_duplicates.sh 5000 4 16
source "$(dirname "$0")/lib.sh"
N="${1:-200}"; COPIES="${2:-3}"; CLIENTS="${3:-8}"
PORT="${FAULT_PORT:-18284}"
DB=${DB_PREFIX}_dupes
build
fresh_db "$DB"
export ATENCION__DATABASE__URL="$PG/$DB" ATENCION__SERVER__PORT="$PORT" ATENCION__LOG__FILTER=warn ATENCION__REDIS__URL=""
"$BIN" migrate >/dev/null
TOKEN=$("$BIN" token create --role integration --name fault-dupes)
start_server
python3 tests/faults/dupes.py --server "http://127.0.0.1:$PORT" --token "$TOKEN" --n "$N" --copies "$COPIES" \
  --clients "$CLIENTS" --out "$WORK/answers.jsonl" >"$WORK/dupes.json"
echo "sender: $(cat "$WORK/dupes.json")"
read -r S5XX SBAD DIFFIDS <<<"$(python3 -c "
import json, collections
rows=[json.loads(l) for l in open('$WORK/answers.jsonl')]
ids=collections.defaultdict(set)
for r in rows:
    if r['kind']!='call' and r['id'] is not None: ids[(r['kind'],r['key'])].add(r['id'])
print(sum(r['status']>=500 for r in rows), sum(r['status']>=400 and r['status']<500 for r in rows), sum(len(v)>1 for v in ids.values()))")"
check "no-error-answers" "$([ "$S5XX" = 0 ] && [ "$SBAD" = 0 ] && echo 0 || echo 1)" "(5xx=$S5XX 4xx=$SBAD)"
check "copies-answered-with-same-id" "$([ "$DIFFIDS" = 0 ] && echo 0 || echo 1)" "(keys answered with more than one id=$DIFFIDS)"
T_TICKETS=$(sql "SELECT count(*) FROM tickets WHERE channel='api'")
KEYS=$(sql "SELECT count(*) FROM idempotency_keys")
check "one-ticket-per-idempotency-key" "$([ "$T_TICKETS" = "$N" ] && [ "$KEYS" = "$N" ] && echo 0 || echo 1)" "(api tickets=$T_TICKETS keys=$KEYS expected=$N)"
MAILS=$(sql "SELECT count(*) FROM email_messages WHERE direction='in'")
MAILDIST=$(sql "SELECT count(DISTINCT message_id) FROM email_messages WHERE direction='in'")
E_TICKETS=$(sql "SELECT count(*) FROM tickets WHERE channel='email'")
check "one-mail-and-ticket-per-message-id" "$([ "$MAILS" = "$N" ] && [ "$MAILDIST" = "$N" ] && [ "$E_TICKETS" = "$N" ] && echo 0 || echo 1)" \
  "(stored mails=$MAILS distinct=$MAILDIST email tickets=$E_TICKETS expected=$N)"
CALLS=$(sql "SELECT count(*) FROM calls")
ABANDONED=$(sql "SELECT count(*) FROM calls WHERE outcome='abandoned'")
CALLBACKS=$(sql "SELECT count(DISTINCT callback_ticket_id) FROM calls WHERE callback_ticket_id IS NOT NULL")
P_TICKETS=$(sql "SELECT count(*) FROM tickets WHERE channel='phone'")
check "one-call-per-call-id" "$([ "$CALLS" = "$N" ] && [ "$ABANDONED" = "$N" ] && [ "$CALLBACKS" = "$N" ] && [ "$P_TICKETS" = "$N" ] && echo 0 || echo 1)" \
  "(calls=$CALLS abandoned=$ABANDONED callback tickets=$CALLBACKS phone tickets=$P_TICKETS expected=$N)"
PANICS=$(grep -c panicked "$WORK/server.log" || true)
check "no-panic" "$([ "$PANICS" = 0 ] && echo 0 || echo 1)" "(panics=$PANICS)"
echo "FIGURES duplicates: n=$N copies=$COPIES clients=$CLIENTS sender=$(cat "$WORK/dupes.json") tickets_api=$T_TICKETS mails=$MAILS calls=$CALLS callbacks=$CALLBACKS duplicated=$(( T_TICKETS + E_TICKETS + CALLS - 3 * N ))"
[ "$FAILED" = 0 ] || { echo "logs in $WORK"; exit 1; }
rm -rf "$WORK"
