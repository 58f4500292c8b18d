#!/usr/bin/env bash
# `make bench`: webhookd beside its reference, pgbench, on one throwaway
# PostgreSQL in the same run, so the ratio is what means something on
# whatever machine runs it. Never part of `make test`.
#
#   /healthz  (no database)  wrk -t2 -c32 -d${DUR}s   vs  pgbench -S -M prepared -c32 -j2 -T${DUR}
#   /readyz   (one query)    same
#   OData, 10,000 configurations (bench/seed.sql), at $CONNS connections:
#     GET WebhookConfigurations('k')                        vs pgbench -S -M prepared
#     GET ...?$filter=eventType eq '...'&$top=20&$expand=destination   vs the same
#     POST deep upsert (bench/deep_upsert.lua)             vs pgbench one-row INSERT (bench/insert.sql)
#   then the dispatcher (bench/dispatch.sh) and inbound webhooks and PULL
#   (bench/inbound.sh) on the same cluster, in databases of their own;
#   BENCH_DISPATCH=0 / BENCH_INBOUND=0 skip them.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${BENCH_SECONDS:-10}
CONNS=${BENCH_CONNECTIONS:-32}
BIN=$PWD/build/webhookd
PGBIN=/usr/lib/postgresql/15/bin
work=$(mktemp -d /tmp/webhookd-bench.XXXXXX)
chmod 755 "$work"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pgport=$(free_port); port=$(free_port)
srv=
cleanup() {
  [ -n "$srv" ] && kill -TERM "$srv" 2>/dev/null && wait "$srv" 2>/dev/null || true
  bash scripts/pg.sh stop "$work" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

url=$(bash scripts/pg.sh start "$work" "$pgport")
export WEBHOOKD_DATABASE_URL="$url"
"$BIN" migrate >/dev/null
printf 'k1 %s\n' "$(openssl rand -base64 32)" > "$work/master.key"; chmod 600 "$work/master.key"
sock=$(echo "$url" | sed 's/.*host=\([^ ]*\).*/\1/')
"$PGBIN/pgbench" -q -i -s 10 -h "$sock" -p "$pgport" -U webhookd webhookd >/dev/null 2>&1
psql_() { "$PGBIN/psql" -q -X -v ON_ERROR_STOP=1 -h "$sock" -p "$pgport" -U webhookd webhookd "$@"; }
psql_ -f bench/seed.sql >/dev/null
psql_ -c "CREATE TABLE bench_insert (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v int, at timestamptz DEFAULT now())"
pw=$(openssl rand -hex 12)
printf '%s' "$pw" | WEBHOOKD_KDF_ITERATIONS=1000 "$BIN" user add bench --role admin --password-stdin >/dev/null
export BENCH_AUTH="Basic $(printf 'bench:%s' "$pw" | base64 -w0)"

WEBHOOKD_TLS=false WEBHOOKD_PORT=$port WEBHOOKD_LISTEN_ADDRESS=127.0.0.1 \
WEBHOOKD_MASTER_KEY_FILE="$work/master.key" WEBHOOKD_ACCESS_LOG=/dev/null \
  "$BIN" serve 2>"$work/server.log" &
srv=$!
for _ in $(seq 100); do
  (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
  sleep 0.1
done

wrk_run() {  # path [lua script] -> "rps p99ms"
  local out script=()
  [ -n "${2:-}" ] && script=(-s "$2")
  out=$(wrk -t2 -c"$CONNS" -d"${DUR}s" --latency "${script[@]}" "http://127.0.0.1:$port$1")
  local rps p99
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  local non2xx
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  [ -n "$non2xx" ] && echo "warning: $1 had $non2xx non-2xx answers" >&2
  echo "$rps $p99"
}
pgbench_run() {  # [pgbench args] -> tps
  local args=("$@")
  [ ${#args[@]} -eq 0 ] && args=(-S)
  "$PGBIN/pgbench" -n "${args[@]}" -M prepared -c "$CONNS" -j 2 -T "$DUR" -h "$sock" -p "$pgport" -U webhookd webhookd 2>/dev/null \
    | awk '/^tps/ {print $3; exit}'
}

echo "warming up..." >&2
wrk -t2 -c"$CONNS" -d2s "http://127.0.0.1:$port/readyz" >/dev/null
read -r h_rps h_p99 < <(wrk_run /healthz)
read -r r_rps r_p99 < <(wrk_run /readyz)
pg_tps=$(pgbench_run)
wrk -t2 -c"$CONNS" -d2s -s bench/get_by_key.lua "http://127.0.0.1:$port/" >/dev/null
read -r k_rps k_p99 < <(wrk_run / bench/get_by_key.lua)
read -r f_rps f_p99 < <(wrk_run / bench/filter_expand.lua)
pg_tps2=$(pgbench_run)
read -r u_rps u_p99 < <(wrk_run / bench/deep_upsert.lua)
ins_tps=$(pgbench_run -f bench/insert.sql)

ratio() { python3 -c "print(f'{$1/$2*100:.0f}%')"; }
cat <<MD
| what | rate | p99 | reference (pgbench -S -M prepared, -c$CONNS) | ratio |
|---|---|---|---|---|
| GET /healthz (no database), wrk -t2 -c$CONNS -d${DUR}s | ${h_rps} req/s | ${h_p99} | ${pg_tps} tps | $(ratio "$h_rps" "$pg_tps") |
| GET /readyz (one query), wrk -t2 -c$CONNS -d${DUR}s | ${r_rps} req/s | ${r_p99} | ${pg_tps} tps | $(ratio "$r_rps" "$pg_tps") |
| GET WebhookConfigurations('k'), random of 10,000 (bench/get_by_key.lua) | ${k_rps} req/s | ${k_p99} | ${pg_tps2} tps | $(ratio "$k_rps" "$pg_tps2") |
| GET \$filter=eventType eq ..&\$top=20&\$expand=destination (bench/filter_expand.lua) | ${f_rps} req/s | ${f_p99} | ${pg_tps2} tps | $(ratio "$f_rps" "$pg_tps2") |

| what | rate | p99 | reference (pgbench one-row INSERT, bench/insert.sql, -c$CONNS) | ratio |
|---|---|---|---|---|
| POST WebhookConfigurations deep upsert, new destination each (bench/deep_upsert.lua) | ${u_rps} req/s | ${u_p99} | ${ins_tps} tps | $(ratio "$u_rps" "$ins_tps") |
MD
echo "(machine: $(nproc) cores; $(date -u +%Y-%m-%dT%H:%MZ); $("$BIN" version))"

# The dispatcher benchmarks start their own webhookd: this one goes first.
kill -TERM "$srv" 2>/dev/null && wait "$srv" 2>/dev/null || true
srv=
if [ "${BENCH_DISPATCH:-1}" != 0 ]; then
  BENCH_PG_SOCK=$sock BENCH_PG_PORT=$pgport bash bench/dispatch.sh
fi
if [ "${BENCH_INBOUND:-1}" != 0 ]; then
  BENCH_PG_SOCK=$sock BENCH_PG_PORT=$pgport bash bench/inbound.sh
fi
