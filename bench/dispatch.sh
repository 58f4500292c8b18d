#!/usr/bin/env bash
# Dispatcher benchmarks (issue 4), run by bench/run.sh after the OData ones,
# or alone: `bash bench/dispatch.sh` (after `make all` and `scripts/deps.sh
# bench`). Every figure is measured in this run beside its reference:
#
#   reference   pgbench -n -f bench/insert.sql -M prepared -c$CONNS -j2 -T$DUR
#               (one one-row INSERT per transaction) on the database webhookd
#               dispatches from
#   one/request wrk -t2 -c$CONNS -d${DUR}s -s bench/publish.lua, one event per
#               POST /api/v1/events, each delivered to bench/sink.c (200, empty
#               body): events delivered / (last delivered_at - first received_at)
#   half load   the same throttled (wrk delay()) to half that rate: p99 of
#               delivered_at - received_at (percentile_cont over the run)
#   100/request the same with arrays of 100 events (wrk stops after
#               $BATCH_EVENTS events, so that the drain stays bounded)
#   fan-out     one event matching 1,000 destinations (distinct urls on the
#               sink): max(delivered_at) - received_at, $FANOUT_RUNS times
#   memory      100,000 configurations (bench/dispatch_memory.sql) cached, then
#               one-per-request load: VmRSS sampled, VmHWM at the end
#   (not a target) one/request again with the sink's maxInFlight raised from 8
#               to $WIDE, to show what the per-destination limit costs
#
# Uses the cluster of run.sh when BENCH_PG_SOCK/BENCH_PG_PORT are set (its own
# databases whd_dispatch and whd_memory, dropped at the end), otherwise a
# throwaway cluster. Knobs: BENCH_SECONDS, BENCH_CONNECTIONS, BENCH_FANOUT_RUNS,
# BENCH_BATCH_EVENTS (events the 100-per-request run publishes, default 50,000),
# BENCH_WIDE_MAX_IN_FLIGHT (200), BENCH_DRAIN_TIMEOUT (seconds to wait for the
# dispatcher to finish a run, 600), BENCH_BIN (the binary; build/webhookd);
# other WEBHOOKD_<KEY> settings pass through to the server.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${BENCH_SECONDS:-10}
CONNS=${BENCH_CONNECTIONS:-32}
FANOUT_RUNS=${BENCH_FANOUT_RUNS:-5}
BATCH_EVENTS=${BENCH_BATCH_EVENTS:-50000}
DRAIN_TIMEOUT=${BENCH_DRAIN_TIMEOUT:-600}
BIN=${BENCH_BIN:-$PWD/build/webhookd}
PGBIN=/usr/lib/postgresql/15/bin
work=$(mktemp -d /tmp/webhookd-dispatch.XXXXXX)
chmod 755 "$work"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
log() { echo "dispatch: $*" >&2; }
# The server is started with dispatcher=true, ssrf_allow=127.0.0.1/32 (the
# sink) and log_level=debug (the script waits for "N configurations cached").

own_cluster=
if [ -n "${BENCH_PG_SOCK:-}" ]; then
  sock=$BENCH_PG_SOCK; pgport=$BENCH_PG_PORT
else
  pgport=$(free_port)
  own_cluster=1
fi
port=$(free_port)
srv= sinkpid= dbs=()
stop_server() {
  if [ -n "$srv" ]; then
    kill -TERM "$srv" 2>/dev/null || true
    wait "$srv" 2>/dev/null || true
    srv=
  fi
}
cleanup() {
  stop_server
  [ -n "$sinkpid" ] && kill -TERM "$sinkpid" 2>/dev/null && wait "$sinkpid" 2>/dev/null || true
  if [ -n "$own_cluster" ]; then
    bash scripts/pg.sh stop "$work" >/dev/null 2>&1 || true
  else
    for db in "${dbs[@]}"; do
      "$PGBIN/psql" -q -X -h "$sock" -p "$pgport" -U webhookd -d postgres \
        -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    done
  fi
  rm -rf "$work"
}
trap cleanup EXIT

if [ -n "$own_cluster" ]; then
  url=$(bash scripts/pg.sh start "$work" "$pgport")
  sock=$(echo "$url" | sed 's/.*host=\([^ ]*\).*/\1/')
fi
psql_() { local db=$1; shift; "$PGBIN/psql" -q -X -v ON_ERROR_STOP=1 -h "$sock" -p "$pgport" -U webhookd -d "$db" "$@"; }
q() { local db=$1; shift; psql_ "$db" -tA -c "$@"; }
new_db() {
  q postgres "DROP DATABASE IF EXISTS $1 WITH (FORCE)" >/dev/null 2>&1
  q postgres "CREATE DATABASE $1" >/dev/null
  dbs+=("$1")
  WEBHOOKD_DATABASE_URL="host=$sock port=$pgport dbname=$1 user=webhookd" "$BIN" migrate >/dev/null
}

# ---- the sink ---------------------------------------------------------------
cc -O2 -o "$work/sink" bench/sink.c $(pkg-config --cflags --libs libevent)
"$work/sink" 0 >"$work/sink.out" 2>&1 &
sinkpid=$!
for _ in $(seq 50); do grep -q '^port ' "$work/sink.out" 2>/dev/null && break; sleep 0.1; done
sinkport=$(awk '/^port / {print $2}' "$work/sink.out")
sink_count() { curl -s "http://127.0.0.1:$sinkport/_count" | awk '{print $1}'; }
sink_reset() { curl -s -o /dev/null "http://127.0.0.1:$sinkport/_reset"; }

# ---- the server -------------------------------------------------------------
printf 'k1 %s\n' "$(openssl rand -base64 32)" > "$work/master.key"; chmod 600 "$work/master.key"
pw=$(openssl rand -hex 12); apw=$(openssl rand -hex 12)
export BENCH_AUTH="Basic $(printf 'pub:%s' "$pw" | base64 -w0)"
add_users() {
  local u="host=$sock port=$pgport dbname=$1 user=webhookd"
  printf '%s' "$pw" | WEBHOOKD_DATABASE_URL=$u WEBHOOKD_KDF_ITERATIONS=1000 \
    "$BIN" user add pub --role publisher --password-stdin >/dev/null 2>&1
  printf '%s' "$apw" | WEBHOOKD_DATABASE_URL=$u WEBHOOKD_KDF_ITERATIONS=1000 \
    "$BIN" user add adm --role admin --password-stdin >/dev/null 2>&1
}
# start_server DB: dispatcher on, 127.0.0.1 allowed (the sink), debug log
# (it says how many configurations are cached); waits for the first cache.
start_server() {
  local db=$1
  : >"$work/server-$db.log"
  WEBHOOKD_DATABASE_URL="host=$sock port=$pgport dbname=$db user=webhookd" \
  WEBHOOKD_TLS=false WEBHOOKD_PORT=$port WEBHOOKD_LISTEN_ADDRESS=127.0.0.1 \
  WEBHOOKD_MASTER_KEY_FILE="$work/master.key" WEBHOOKD_ACCESS_LOG=/dev/null \
  WEBHOOKD_KDF_ITERATIONS=1000 \
  WEBHOOKD_DISPATCHER=true WEBHOOKD_SSRF_ALLOW=127.0.0.1/32 WEBHOOKD_LOG_LEVEL=debug \
    "$BIN" serve 2>"$work/server-$db.log" &
  srv=$!
  for _ in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
    sleep 0.1
  done
  wait_cached "$db" '[0-9]+' 1
}
# wait_cached DB REGEX [nth]: until the log has its nth "N configurations cached".
wait_cached() {
  local n=${3:-1}
  for _ in $(seq 1200); do
    [ "$(grep -cE "dispatcher: $2 configurations cached" "$work/server-$1.log")" -ge "$n" ] && return 0
    kill -0 "$srv" 2>/dev/null || { cat "$work/server-$1.log" >&2; return 1; }
    sleep 0.1
  done
  log "the dispatcher did not cache its configurations"; return 1
}
odata() {  # method path body
  curl -sf -o /dev/null -u "adm:$apw" -X "$1" -H 'Content-Type: application/json' \
    "http://127.0.0.1:$port/odata2webservices/WebhookService/$2" -d "$3"
}
publish_one() {  # body -> id
  curl -sf -H "Authorization: $BENCH_AUTH" -H 'Content-Type: application/json' \
    "http://127.0.0.1:$port/api/v1/events" -d "$1" >/dev/null
}
rss() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$srv/status"; }   # kB

# wrk_pub [env...]: one wrk run of bench/publish.lua -> "req/s p99"
wrk_pub() {
  local out rps p99 non2xx
  out=$(env "$@" wrk -t2 -c"$CONNS" -d"${DUR}s" --latency -s bench/publish.lua "http://127.0.0.1:$port/")
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  [ -n "$non2xx" ] && log "warning: publishing had $non2xx non-2xx answers"
  echo "$rps $p99"
}

# drain DB: wait until every event is fanned out and no delivery is pending
# or in flight (the sink answers 200 at once, so nothing should be retried).
drain() {
  local t0=$SECONDS r
  while :; do
    r=$(q "$1" "SELECT (SELECT count(*) FROM webhookd.event WHERE NOT fanned_out)
                     + (SELECT count(*) FROM webhookd.delivery WHERE status IN ('PENDING', 'IN_FLIGHT'))")
    [ "$r" = 0 ] && return 0
    if [ $((SECONDS - t0)) -ge "$DRAIN_TIMEOUT" ]; then
      log "warning: $r events/deliveries still open after ${DRAIN_TIMEOUT}s"; return 0
    fi
    sleep 0.5
  done
}
clean() {
  q "$1" "TRUNCATE webhookd.event, webhookd.destination_state CASCADE" >/dev/null 2>&1
  q "$1" "VACUUM ANALYZE webhookd.event, webhookd.delivery, webhookd.delivery_attempt" >/dev/null
  sink_reset
}
# run_stats DB -> "events delivered not_delivered span_s rate p50_ms p99_ms
# max_ms pub_rate": over every delivery of the events now in the tables;
# rate = delivered / (last delivered_at - first received_at); pub_rate =
# events / (last received_at - first received_at).
run_stats() {
  q "$1" "SELECT (SELECT count(*) FROM webhookd.event), count(*) FILTER (WHERE d.status = 'DELIVERED'),
     count(*) FILTER (WHERE d.status <> 'DELIVERED'),
     round(extract(epoch FROM max(d.delivered_at) - min(e.received_at))::numeric, 1),
     round(count(*) FILTER (WHERE d.status = 'DELIVERED')
           / extract(epoch FROM max(d.delivered_at) - min(e.received_at))::numeric, 0),
     round((1000 * percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM d.delivered_at - e.received_at)))::numeric, 1),
     round((1000 * percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM d.delivered_at - e.received_at)))::numeric, 1),
     round((1000 * extract(epoch FROM max(d.delivered_at - e.received_at)))::numeric, 1),
     (SELECT round(count(*) / greatest(extract(epoch FROM max(received_at) - min(received_at)), 0.001)::numeric, 0)
        FROM webhookd.event)
   FROM webhookd.delivery d JOIN webhookd.event e ON e.pk = d.event_pk" | tr '|' ' '
}
# phases DB -> "fanout claim http store" (averages in ms): received_at ->
# delivery row created (fan-out), -> attempt started (waiting for a claim),
# the HTTP attempt (duration_ms), its end -> delivered_at (storing the outcome).
phases() {
  q "$1" "SELECT round((1000 * avg(extract(epoch FROM d.created_at - e.received_at)))::numeric, 1),
     round((1000 * avg(extract(epoch FROM a.started_at - d.created_at)))::numeric, 1),
     round(avg(a.duration_ms)::numeric, 1),
     round((1000 * avg(extract(epoch FROM d.delivered_at - a.started_at)) - avg(a.duration_ms))::numeric, 1)
   FROM webhookd.delivery d JOIN webhookd.event e ON e.pk = d.event_pk
   JOIN webhookd.delivery_attempt a ON a.delivery_pk = d.pk AND a.attempt_no = d.attempts
   WHERE d.status = 'DELIVERED'" | tr '|' ' '
}
# measure DB VAR [env for wrk...]: clean, publish, drain; sets VAR_<field>.
measure() {
  local db=$1 var=$2 f v; shift 2
  clean "$db"
  read -r "${var}_rps" "${var}_wp99" < <(wrk_pub "$@")
  drain "$db"
  read -r "${var}_ev" "${var}_del" "${var}_bad" "${var}_span" "${var}_rate" \
    "${var}_l50" "${var}_l99" "${var}_lmax" "${var}_pub" < <(run_stats "$db")
  read -r "${var}_pf" "${var}_pc" "${var}_ph" "${var}_ps" < <(phases "$db")
  printf -v "${var}_sink" '%s' "$(sink_count)"
}
pct() { python3 -c "print(f'{$1/$2*100:.0f}%')"; }
times_() { python3 -c "print(f'{$1/$2:.1f}x')"; }

load0=$(cut -d' ' -f1-3 /proc/loadavg)
# ============================================================================
D=whd_dispatch
log "database $D: 1 + 1,000 configurations (bench/dispatch_seed.sql), sink on :$sinkport"
new_db $D
psql_ $D -v sink="$sinkport" -f bench/dispatch_seed.sql >/dev/null
add_users $D
start_server $D
# Signing stays on (the default): every destination gets the same secret,
# set once through OData (stored encrypted under the master key, bound to
# the column) and copied by SQL to the others.
odata PATCH "ConsumedDestinations('sink%7Cbench')" "{\"signingSecret\":\"whsec_$(openssl rand -base64 32)\"}"
secret=$(q $D "SELECT signing_secret FROM webhookd.consumed_destination WHERE id = 'sink'")
q $D "UPDATE webhookd.consumed_destination SET signing_secret = '$secret' WHERE signing_secret IS NULL" >/dev/null
wait_cached $D 1001 2     # the reload after the PATCH (secrets are read per claim, not cached)

log "warm-up (2 s of publishing)"
DUR_SAVE=$DUR; DUR=2; wrk_pub PUBLISH_IO=BenchIO >/dev/null; DUR=$DUR_SAVE
drain $D; clean $D

log "reference: pgbench one-row INSERT, -c$CONNS -T$DUR"
ins_tps=$("$PGBIN/pgbench" -n -f bench/insert.sql -M prepared -c "$CONNS" -j 2 -T "$DUR" \
  -h "$sock" -p "$pgport" -U webhookd $D 2>/dev/null | awk '/^tps/ {printf "%.0f", $3; exit}')

log "one event per request, -c$CONNS -d${DUR}s"
measure $D one PUBLISH_IO=BenchIO PUBLISH_BATCH=1
rss_one=$(rss VmRSS)

half=$(python3 -c "print(max(1, round($one_rate / 2)))")
delay=$(python3 -c "print(max(1, round($CONNS * 1000 / $half)))")
log "half load: ~$half events/s (delay ${delay} ms per request per connection)"
measure $D half PUBLISH_IO=BenchIO PUBLISH_BATCH=1 PUBLISH_DELAY_MS="$delay"

log "100 events per request, -c$CONNS, stopping after $BATCH_EVENTS events"
measure $D hun PUBLISH_IO=BenchIO PUBLISH_BATCH=100 PUBLISH_MAX_PER_THREAD=$((BATCH_EVENTS / 200))

# Not a target: the same one-per-request load with the sink destination's
# maxInFlight raised from its default (8) to $WIDE, to show how much of the
# end-to-end rate is the per-destination concurrency limit.
WIDE=${BENCH_WIDE_MAX_IN_FLIGHT:-200}
q $D "UPDATE webhookd.consumed_destination SET max_in_flight = $WIDE WHERE id = 'sink'" >/dev/null
log "one event per request, sink maxInFlight $WIDE"
measure $D wide PUBLISH_IO=BenchIO PUBLISH_BATCH=1
q $D "UPDATE webhookd.consumed_destination SET max_in_flight = 8 WHERE id = 'sink'" >/dev/null
clean $D

log "fan-out: one event to 1,000 destinations, $FANOUT_RUNS runs"
fan=()
for i in $(seq "$FANOUT_RUNS"); do
  sink_reset
  publish_one "{\"id\":\"fan-$i\",\"integrationObject\":\"FanIO\",\"action\":\"created\",\"integrationKey\":\"f$i\",\"payload\":{\"run\":$i}}"
  drain $D
  fan+=("$(q $D "SELECT count(*) FILTER (WHERE d.status = 'DELIVERED'),
      round((1000 * extract(epoch FROM max(d.created_at) - e.received_at))::numeric, 0),
      round((1000 * extract(epoch FROM max(d.delivered_at) - e.received_at))::numeric, 0)
    FROM webhookd.delivery d JOIN webhookd.event e ON e.pk = d.event_pk
    WHERE e.id = 'fan-$i' GROUP BY e.received_at" | tr '|' ' ') $(sink_count)")
  sleep 1
done
stop_server

# ============================================================================
M=whd_memory
log "database $M: 100,000 configurations (bench/dispatch_memory.sql)"
new_db $M
psql_ $M -v sink="$sinkport" -v secret="$secret" -f bench/dispatch_memory.sql >/dev/null
q $M "SELECT count(*) FROM webhookd.webhook_configuration" | grep -qx 100000
add_users $M
sink_reset
t_start=$(date +%s.%N)
start_server $M
wait_cached $M 100000 1
t_cached=$(date +%s.%N)
rss_idle=$(rss VmRSS)
log "memory: one event per request to MemIO1..MemIO25000, -c$CONNS -d${DUR}s, RSS sampled"
( while kill -0 "$srv" 2>/dev/null; do rss VmRSS; sleep 0.25; done ) >"$work/rss.txt" 2>/dev/null &
sampler=$!
read -r mem_rps mem_p99 < <(wrk_pub PUBLISH_IO=MemIO PUBLISH_IOS=25000 PUBLISH_BATCH=1)
drain $M
kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
rss_max=$(sort -n "$work/rss.txt" | tail -n1)
rss_end=$(rss VmRSS); hwm=$(rss VmHWM)
read -r mem_ev mem_del mem_bad mem_span mem_rate mem_l50 mem_l99 mem_lmax mem_pub < <(run_stats $M)
stop_server

mib() { python3 -c "print(f'{$1/1024:.1f} MiB')"; }
cache_s=$(python3 -c "print(f'{$t_cached - $t_start:.1f}')")
row() {  # var label -> one line of the throughput table (without ratio and target)
  local v=$1
  g() { local n="${v}_$1"; printf '%s' "${!n}"; }
  echo "| $2 | $(g ev) events, $(g pub)/s (wrk: $(g rps) req/s, p99 $(g wp99)) | $(g del) (sink $(g sink)); $(g bad) not delivered | **$(g rate) events/s** over $(g span) s |"
}
cat <<MD

### Dispatcher (bench/dispatch.sh) — reference: pgbench one-row INSERT (bench/insert.sql), -c$CONNS -j2 -T$DUR, same database: **${ins_tps} tps**

| load (wrk -t2 -c$CONNS -s bench/publish.lua) | published (DB: received_at span) | delivered | end to end: delivered / (last delivered_at − first received_at) | ratio | target |
|---|---|---|---|---|---|
$(row one "1 event per request, -d${DUR}s") $(pct "$one_rate" "$ins_tps") of INSERT | ≥ 50% |
$(row hun "100 events per request (PUBLISH_BATCH=100), stopped after ${BATCH_EVENTS} events") $(times_ "$hun_rate" "$one_rate") the 1-per-request rate ($(pct "$hun_rate" "$ins_tps") of INSERT) | ≥ 5x |
$(row wide "not a target: 1 event per request, sink maxInFlight ${WIDE} instead of 8") $(pct "$wide_rate" "$ins_tps") of INSERT | — |

| publish→delivery latency: delivered_at − received_at (delivered_at is stamped when the outcome is stored, so it includes that transaction) | p50 | p99 | max | target |
|---|---|---|---|---|
| half load: PUBLISH_DELAY_MS=${delay} (aimed at ${half}/s; published ${half_pub}/s, delivered ${half_rate}/s; ${half_del} events) | ${half_l50} ms | **${half_l99} ms** | ${half_lmax} ms | p99 ≤ 250 ms |
| full load, 1 event per request | ${one_l50} ms | ${one_l99} ms | ${one_lmax} ms | — |
| full load, 100 events per request | ${hun_l50} ms | ${hun_l99} ms | ${hun_lmax} ms | — |
| full load, 1 per request, maxInFlight ${WIDE} | ${wide_l50} ms | ${wide_l99} ms | ${wide_lmax} ms | — |

| where a delivery's time goes (averages, from the rows' timestamps) | fan-out: received_at → delivery row created | waiting for a claim: → attempt started | HTTP attempt (duration_ms) | storing the outcome: attempt end → delivered_at |
|---|---|---|---|---|
| half load | ${half_pf} ms | ${half_pc} ms | ${half_ph} ms | ${half_ps} ms |
| full load, 1 event per request | ${one_pf} ms | ${one_pc} ms | ${one_ph} ms | ${one_ps} ms |
| full load, 100 events per request | ${hun_pf} ms | ${hun_pc} ms | ${hun_ph} ms | ${hun_ps} ms |
| full load, 1 per request, maxInFlight ${WIDE} | ${wide_pf} ms | ${wide_pc} ms | ${wide_ph} ms | ${wide_ps} ms |

| one event → 1,000 destinations (FanIO), run | delivered (DB / sink) | last delivery row created | last delivered_at − received_at | target |
|---|---|---|---|---|
$(i=0; for f in "${fan[@]}"; do i=$((i+1)); set -- $f; echo "| $i | $1 / $4 | $2 ms | **$3 ms** | ≤ 2000 ms |"; done)

| resident memory of webhookd, 100,000 configurations (bench/dispatch_memory.sql: 25,000 destinations × 4 event types, one integration object each) | VmRSS | target |
|---|---|---|
| after the cache is loaded (${cache_s} s from start), idle | $(mib "$rss_idle") | |
| under load: 1 event per request to random MemIO1..25000 for ${DUR} s (${mem_ev} events, ${mem_pub}/s published, ${mem_rate}/s delivered end to end), sampled every 0.25 s | max $(mib "$rss_max") | ≤ 64 MiB |
| after the run: VmRSS / **VmHWM (peak)** | $(mib "$rss_end") / **$(mib "$hwm")** | ≤ 64 MiB |
| for comparison: 1,001 configurations, after the 1-per-request run | $(mib "$rss_one") | |
MD
echo "(load average before/after: $load0 / $(cut -d' ' -f1-3 /proc/loadavg))"
echo "(machine: $(nproc) cores; $(date -u +%Y-%m-%dT%H:%MZ); $("$BIN" version); dispatcher_threads=${WEBHOOKD_DISPATCHER_THREADS:-default} dispatch_batch=${WEBHOOKD_DISPATCH_BATCH:-default})"
