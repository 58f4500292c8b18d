#!/usr/bin/env bash
# `make bench`: webhookd beside its reference, pgbench, on one throwaway
# PostgreSQL in the same run, so the ratio is what means something on
# whatever machine runs it. Never part of `make test`.
#
#   /healthz  (no database)  wrk -t2 -c32 -d${DUR}s   vs  pgbench -S -M prepared -c32 -j2 -T${DUR}
#   /readyz   (one query)    same
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

WEBHOOKD_TLS=false WEBHOOKD_PORT=$port WEBHOOKD_LISTEN_ADDRESS=127.0.0.1 \
WEBHOOKD_MASTER_KEY_FILE="$work/master.key" WEBHOOKD_ACCESS_LOG=/dev/null \
  "$BIN" serve 2>"$work/server.log" &
srv=$!
for _ in $(seq 100); do
  (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
  sleep 0.1
done

wrk_run() {  # path -> "rps p99ms"
  local out
  out=$(wrk -t2 -c"$CONNS" -d"${DUR}s" --latency "http://127.0.0.1:$port$1")
  local rps p99
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  local non2xx
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  [ -n "$non2xx" ] && echo "warning: $1 had $non2xx non-2xx answers" >&2
  echo "$rps $p99"
}
pgbench_run() {
  "$PGBIN/pgbench" -n -S -M prepared -c "$CONNS" -j 2 -T "$DUR" -h "$sock" -p "$pgport" -U webhookd webhookd 2>/dev/null \
    | awk '/^tps/ {print $3; exit}'
}

echo "warming up..." >&2
wrk -t2 -c"$CONNS" -d2s "http://127.0.0.1:$port/readyz" >/dev/null
read -r h_rps h_p99 < <(wrk_run /healthz)
read -r r_rps r_p99 < <(wrk_run /readyz)
pg_tps=$(pgbench_run)

ratio() { python3 -c "print(f'{$1/$2*100:.0f}%')"; }
cat <<MD
| what | rate | p99 | reference (pgbench -S -M prepared, -c$CONNS) | ratio |
|---|---|---|---|---|
| GET /healthz (no database), wrk -t2 -c$CONNS -d${DUR}s | ${h_rps} req/s | ${h_p99} | ${pg_tps} tps | $(ratio "$h_rps" "$pg_tps") |
| GET /readyz (one query), wrk -t2 -c$CONNS -d${DUR}s | ${r_rps} req/s | ${r_p99} | ${pg_tps} tps | $(ratio "$r_rps" "$pg_tps") |
MD
echo "(machine: $(nproc) cores; $(date -u +%Y-%m-%dT%H:%MZ); $("$BIN" version))"
