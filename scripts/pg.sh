#!/usr/bin/env bash
# A private PostgreSQL 15 cluster for webhookd: `make run` keeps one under
# ./var/pg, the tests make throwaway ones. Socket only, no TCP listener.
#
#   pg.sh start DIR [PORT]   initdb on first use, start, create database
#                            "webhookd"; prints the libpq conninfo
#   pg.sh stop DIR           fast shutdown (the data stays)
#   pg.sh url DIR [PORT]     print the conninfo without starting anything
#
# initdb refuses to run as root, so as root the cluster runs as the
# unprivileged "postgres" system user (created by Debian's package).
set -euo pipefail

BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
cmd=${1:-}; dir=${2:-}; port=${3:-${PGPORT_WEBHOOKD:-55432}}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop|url DIR [PORT]" >&2; exit 2; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

if [ "$(id -u)" -eq 0 ]; then
  owner=postgres
  as_owner() { runuser -u postgres -- "$@"; }
else
  owner=$(id -un)
  as_owner() { "$@"; }
fi

# The cluster lives in $dir/pg when its owner can reach it; a checkout under
# /root is not reachable by "postgres", so the cluster then lives under /tmp
# and $dir/pg is a symlink to it. Socket paths are limited to 107 bytes.
root="$dir/pg"
if [ ! -L "$root" ] && ! as_owner test -x "$dir" 2>/dev/null; then
  key=$(printf '%s' "$dir" | cksum | cut -d' ' -f1)
  target="/tmp/webhookd-pg-$key"
  mkdir -p "$target"
  ln -sfn "$target" "$root"
fi
mkdir -p "$root"
root=$(cd "$root" && pwd -P)
data="$root/data"; sock="$root/run"; log="$root/postgres.log"
if [ ${#sock} -gt 90 ]; then
  key=$(printf '%s' "$root" | cksum | cut -d' ' -f1)
  sock="/tmp/webhookd-sock-$key"
fi
url="host=$sock port=$port dbname=webhookd user=webhookd"

case "$cmd" in
url)
  echo "$url" ;;
start)
  mkdir -p "$sock"
  [ "$(id -u)" -eq 0 ] && chown "$owner" "$root" "$sock"
  chmod 700 "$root" "$sock"
  if [ ! -s "$data/PG_VERSION" ]; then
    as_owner "$BIN/initdb" -D "$data" -U webhookd --auth=trust -E UTF8 --locale=C >"$root/initdb.log" 2>&1 \
      || { cat "$root/initdb.log" >&2; exit 1; }
    cat >>"$data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_permissions = 0700
fsync = on
max_connections = 200
shared_buffers = 128MB
CONF
  fi
  if ! as_owner "$BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    as_owner "$BIN/pg_ctl" -D "$data" -l "$log" -w -t 60 \
      -o "-k $sock -p $port" start >/dev/null \
      || { tail -n 20 "$log" >&2; exit 1; }
  fi
  if ! "$BIN/psql" -X -q -h "$sock" -p "$port" -U webhookd -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = 'webhookd'" | grep -q 1; then
    "$BIN/psql" -X -q -h "$sock" -p "$port" -U webhookd -d postgres -c "CREATE DATABASE webhookd" >/dev/null
  fi
  echo "$url" ;;
stop)
  if [ -s "$data/PG_VERSION" ]; then
    as_owner "$BIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
  fi ;;
*)
  echo "usage: $0 start|stop|url DIR [PORT]" >&2; exit 2 ;;
esac
