#!/usr/bin/env bash
# Inbound and PULL benchmarks (issue 5), run by bench/run.sh after the
# dispatcher ones, or alone: `bash bench/inbound.sh` (after `make all` and
# `scripts/deps.sh bench`). Every figure is measured in this run beside its
# reference, on the same database:
#
#   reference   pgbench -n -f bench/insert.sql -M prepared -c$CONNS -j2 -T$DUR
#               (one one-row INSERT per transaction)
#   inbound     (an instance without dispatcher, then one with; the events of
#               the first run are fanned out by the second instance meanwhile)
#               wrk -t2 -c$CONNS -d${DUR}s -s bench/inbound.lua: POST
#               /inbound/{code} to an HMAC_SHA256 source, each body with its
#               own sender id and signature (precomputed by bench/inbound_bodies.py),
#               each verified, committed (event + inbound_request) and answered 200
#   PULL reference  pgbench -n -c1 -T$DUR -f (a read of $PULL_BATCH_EVENTS 1 KiB
#               payload rows of the same event table by a random pk range)
#   PULL        one consumer reads a stream of $PULL_EVENTS events of 1 KiB
#               with autoCommit=true and maxBatchSize=$((PULL_BATCH_EVENTS)) KiB
#               until it is empty: events / seconds
#
# Uses run.sh's cluster when BENCH_PG_SOCK/BENCH_PG_PORT are set (its own
# database whd_inbound, dropped at the end), otherwise a throwaway cluster.
# Knobs: BENCH_SECONDS, BENCH_CONNECTIONS, BENCH_PULL_EVENTS (100,000),
# BENCH_PULL_BATCH_EVENTS (512), BENCH_PULL=0 (inbound only), BENCH_BIN; other
# WEBHOOKD_<KEY> settings pass through to the server.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${BENCH_SECONDS:-10}
CONNS=${BENCH_CONNECTIONS:-32}
PULL_EVENTS=${BENCH_PULL_EVENTS:-100000}
PULL_BATCH_EVENTS=${BENCH_PULL_BATCH_EVENTS:-512}
BIN=${BENCH_BIN:-$PWD/build/webhookd}
PGBIN=/usr/lib/postgresql/15/bin
DB=whd_inbound
work=$(mktemp -d /tmp/webhookd-inbound.XXXXXX)
chmod 755 "$work"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
log() { echo "inbound: $*" >&2; }

own_cluster=
if [ -n "${BENCH_PG_SOCK:-}" ]; then
  sock=$BENCH_PG_SOCK; pgport=$BENCH_PG_PORT
else
  pgport=$(free_port); own_cluster=1
fi
port=$(free_port)
srv=
cleanup() {
  [ -n "$srv" ] && { kill -TERM "$srv" 2>/dev/null; wait "$srv" 2>/dev/null || true; }
  if [ -n "$own_cluster" ]; then
    bash scripts/pg.sh stop "$work" >/dev/null 2>&1 || true
  else
    "$PGBIN/psql" -q -X -h "$sock" -p "$pgport" -U webhookd -d postgres \
      -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

if [ -n "$own_cluster" ]; then
  url=$(bash scripts/pg.sh start "$work" "$pgport")
  sock=$(echo "$url" | sed 's/.*host=\([^ ]*\).*/\1/')
fi
q() { "$PGBIN/psql" -q -X -v ON_ERROR_STOP=1 -h "$sock" -p "$pgport" -U webhookd -d "$1" -tA -c "$2"; }
q postgres "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
q postgres "CREATE DATABASE $DB" >/dev/null
export WEBHOOKD_DATABASE_URL="host=$sock port=$pgport dbname=$DB user=webhookd"
"$BIN" migrate >/dev/null
q $DB "CREATE TABLE bench_insert (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v int, at timestamptz DEFAULT now())"
printf 'k1 %s\n' "$(openssl rand -base64 32)" > "$work/master.key"; chmod 600 "$work/master.key"
apw=$(openssl rand -hex 12); spw=$(openssl rand -hex 12)
printf '%s' "$apw" | WEBHOOKD_KDF_ITERATIONS=1000 "$BIN" user add adm --role admin --password-stdin >/dev/null
printf '%s' "$spw" | WEBHOOKD_KDF_ITERATIONS=1000 "$BIN" user add sub --role subscriber --password-stdin >/dev/null

# The dispatcher is off while inbound requests are measured: the figure is
# the request path (verify, commit, answer); fanning the events out is the
# dispatcher's benchmark. It is on for the PULL run's seed.
start_server() {
  WEBHOOKD_TLS=false WEBHOOKD_PORT=$port WEBHOOKD_LISTEN_ADDRESS=127.0.0.1 \
  WEBHOOKD_MASTER_KEY_FILE="$work/master.key" WEBHOOKD_ACCESS_LOG=/dev/null \
  WEBHOOKD_DISPATCHER=$1 \
    "$BIN" serve 2>>"$work/server.log" &
  srv=$!
  for _ in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
    sleep 0.1
  done
}
stop_server() { kill -TERM "$srv" 2>/dev/null; wait "$srv" 2>/dev/null || true; srv=; }
odata() {  # path body
  curl -sf -o /dev/null -u "adm:$apw" -H 'Content-Type: application/json' \
    "http://127.0.0.1:$port/odata2webservices/WebhookService/$1" -d "$2"
}
pgbench_() { "$PGBIN/pgbench" -n "$@" -h "$sock" -p "$pgport" -U webhookd $DB 2>/dev/null | awk '/^tps/ {print $3; exit}'; }

# ---- inbound ----------------------------------------------------------------
start_server false
secret=$(openssl rand -hex 24)
odata IntegrationObjects '{"code": "InboundBenchIO"}'
odata InboundSources "{\"code\": \"bench\", \"integrationObject\": {\"code\": \"InboundBenchIO\"},
  \"action\": \"created\", \"verification\": \"HMAC_SHA256\", \"secret\": \"$secret\",
  \"headerName\": \"X-Signature\", \"encoding\": \"hex\", \"idPath\": \"id\"}"
log "signing bodies..."
python3 bench/inbound_bodies.py "$secret" 250000 > "$work/bodies.txt"
INBOUND_BODIES="$work/bodies.txt" wrk -t2 -c"$CONNS" -d2s -s bench/inbound.lua \
  "http://127.0.0.1:$port/inbound/bench" >/dev/null
# wrk_inbound OFFSET -> "req/s p99": every body from OFFSET on is new
wrk_inbound() {
  local out non2xx
  out=$(INBOUND_BODIES="$work/bodies.txt" INBOUND_OFFSET=$1 wrk -t2 -c"$CONNS" -d"${DUR}s" \
    --latency -s bench/inbound.lua "http://127.0.0.1:$port/inbound/bench")
  echo "$out" | awk '/Latency Distribution/,/99%/' | tr -s ' ' | tr '\n' ' ' | sed 's/^/inbound: latency /' >&2; echo >&2
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  if [ -n "$non2xx" ]; then
    log "error: $non2xx non-2xx answers; the server log says:"; tail -5 "$work/server.log" >&2; exit 1
  fi
  echo "$(echo "$out" | awk '/Requests\/sec/ {print $2}') $(echo "$out" | awk '$1=="99%" {print $2}')"
}
# the request path alone (this instance runs no dispatcher) ...
q $DB "CHECKPOINT" >/dev/null
read -r in_rps in_p99 < <(wrk_inbound 40000)
dups=$(q $DB "SELECT count(*) FILTER (WHERE duplicate) || ' duplicates of ' || count(*) FROM webhookd.inbound_request")
stop_server
# the references, with no webhookd running
q $DB "CHECKPOINT" >/dev/null
ins_tps=$(pgbench_ -f bench/insert.sql -M prepared -c"$CONNS" -j2 -T"$DUR")
# Where the ceiling is: the request's storing statement alone (the text of
# service/inbound.c's store_sql, fresh ids), run by pgbench in the same way.
python3 - "$work/store.sql" <<'PY'
import re, sys
src = open("service/inbound.c").read()
block = src[src.index("static const char store_sql[] ="):]
block = block[:block.index(";\n")]
sql = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', block)).replace('\\"', '"')
for k, v in {"$1": "('inb_' || :n || '_' || :m)", "$2": "'InboundBenchIO'", "$3": "'created'",
             "$4": "('evt-' || :n)", "$5": "'{\"id\":\"evt-1\",\"type\":\"order.paid\",\"data\":{\"order\":\"o-1\",\"total\":1.5,\"currency\":\"EUR\"}}'",
             "$6": "'bench'", "$7": "NULL", "$8": "'/inbound/bench'"}.items():
    sql = sql.replace(k, v)
open(sys.argv[1], "w").write("\\set n random(1, 1000000000)\n\\set m random(1, 1000000000)\n" + sql + ";\n")
PY
store_tps=$(PGOPTIONS="-c webhookd.local_wake=on" pgbench_ -f "$work/store.sql" -M prepared -c"$CONNS" -j2 -T"$DUR")
# ... and an instance whose dispatcher turns the requests into events and
# fans them out meanwhile (the first run's backlog included)
start_server true
read -r ind_rps ind_p99 < <(wrk_inbound 140000)
stop_server

# ---- PULL -------------------------------------------------------------------
if [ "${BENCH_PULL:-1}" = 0 ]; then
  echo "inbound: ${in_rps} req/s, p99 ${in_p99} (with dispatcher ${ind_rps}, ${ind_p99}); INSERT ${ins_tps} tps; store statement ${store_tps} tps; $dups"; exit 0
fi
start_server true
odata IntegrationObjects '{"code": "PullBenchIO"}'
odata WebhookConfigurations '{"integrationObject": {"code": "PullBenchIO"},
  "destination": {"id": "pull-bench", "url": "https://consumer.example/pull",
   "destinationTarget": {"id": "pull-bench", "destinationChannel": {"code": "PULL"},
    "eventConfigurations": [{"eventClass": "de.hybris.platform.webhookservices.event.ItemSavedEvent"}]}}}'
log "publishing $PULL_EVENTS events of 1 KiB through the outbox..."
pad=$(head -c 1000 /dev/zero | tr '\0' x)
q $DB "SELECT webhookd.publish_event('PullBenchIO', 'created',
         jsonb_build_object('n', g, 'pad', '$pad'), 'k' || g, 'pull-' || g)
       FROM generate_series(1, $PULL_EVENTS) g" >/dev/null
for _ in $(seq 1200); do
  [ "$(q $DB "SELECT count(*) FROM webhookd.event WHERE NOT fanned_out")" = 0 ] && break
  sleep 0.5
done
n_stream=$(q $DB "SELECT count(*) FROM webhookd.delivery WHERE stream_offset IS NOT NULL")
size=$(q $DB "SELECT round(avg(octet_length(payload::text))) FROM webhookd.event WHERE integration_object = 'PullBenchIO'")
read -r lo hi < <(q $DB "SELECT min(pk), max(pk) FROM webhookd.event WHERE integration_object = 'PullBenchIO'" | tr '|' ' ')
q $DB "VACUUM ANALYZE webhookd.event, webhookd.delivery" >/dev/null
read -r pull_n pull_s < <(python3 - "$port" "$spw" "$((PULL_BATCH_EVENTS * 1024))" <<'PY'
import base64, http.client, re, sys, time
port, pw, size = sys.argv[1], sys.argv[2], sys.argv[3]
h = {"Authorization": "Basic " + base64.b64encode(f"sub:{pw}".encode()).decode()}
c = http.client.HTTPConnection("127.0.0.1", int(port))
path = f"/api/v1/subscriptions/pull-bench%7Cpull-bench/events?autoCommit=true&maxBatchSize={size}"
n, t0 = 0, time.monotonic()
while True:
    c.request("GET", path, headers=h)
    r = c.getresponse(); body = r.read()
    assert r.status == 200, (r.status, body[:300])
    k = int(re.search(rb'"total"\s*:\s*(\d+)', body).group(1))
    if k == 0:
        break
    n += k
print(n, round(time.monotonic() - t0, 3))
PY
)
stop_server
cat > "$work/read.sql" <<SQL
\set start random($lo, $((hi - PULL_BATCH_EVENTS)))
SELECT payload FROM webhookd.event WHERE pk >= :start ORDER BY pk LIMIT $PULL_BATCH_EVENTS;
SQL
read_tps=$(pgbench_ -f "$work/read.sql" -M prepared -c1 -j1 -T"$DUR")

ratio() { python3 -c "print(f'{$1/$2*100:.0f}%')"; }
pull_rate=$(python3 -c "print(round($pull_n/$pull_s))")
read_rate=$(python3 -c "print(round($read_tps*$PULL_BATCH_EVENTS))")
cat <<MD

| what | rate | p99 | reference | ratio |
|---|---|---|---|---|
| POST /inbound/{code}, HMAC_SHA256 verified and committed, one per request (wrk -t2 -c$CONNS -d${DUR}s -s bench/inbound.lua; $dups) | ${in_rps} req/s | ${in_p99} | ${ins_tps} tps (pgbench one-row INSERT, -c$CONNS) | $(ratio "$in_rps" "$ins_tps") |
| the same while this instance's dispatcher turns the requests into events and fans them out | ${ind_rps} req/s | ${ind_p99} | ${ins_tps} tps | $(ratio "$ind_rps" "$ins_tps") |
| (ceiling) the request's storing statement alone (service/inbound.c store_sql: the inbound_request row), pgbench -c$CONNS | ${store_tps} tps | | ${ins_tps} tps | $(ratio "$store_tps" "$ins_tps") |
| PULL: one consumer, autoCommit, maxBatchSize ${PULL_BATCH_EVENTS} KiB, $pull_n events of ${size} bytes in ${pull_s} s (stream of $n_stream) | ${pull_rate} events/s | | ${read_rate} rows/s (pgbench -c1: $PULL_BATCH_EVENTS payload rows per query, ${read_tps} tps) | $(ratio "$pull_rate" "$read_rate") |
MD
echo "(machine: $(nproc) cores; $(date -u +%Y-%m-%dT%H:%MZ); $("$BIN" version))"
