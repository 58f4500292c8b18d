#!/usr/bin/env bash
# `make run`: a private PostgreSQL under ./var/pg (unless DATABASE_URL is
# set), migrations, a master key, a self-signed certificate and an admin
# user on first start, then `webhookd serve` in the foreground on :9002.
# Ctrl-C drains and stops the service; the database keeps running for the
# next start (`make stop-db` stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=build/webhookd
mkdir -p var/tls
chmod 755 var   # the postgres user must reach var/pg; secrets inside are 0600

if [ -n "${DATABASE_URL:-}" ]; then
  url=$DATABASE_URL
else
  url=$(bash scripts/pg.sh start var "${WEBHOOKD_PG_PORT:-55432}")
fi
export WEBHOOKD_DATABASE_URL="$url"
"$BIN" -c webhookd.conf migrate

if [ ! -s var/master.key ]; then
  (umask 077; printf 'k1 %s\n' "$(openssl rand -base64 32)" > var/master.key)
  echo "created var/master.key (AES-256-GCM master key; keep it out of backups of the database)"
fi
if [ ! -s var/tls/cert.pem ] || [ ! -s var/tls/key.pem ]; then
  (umask 077; openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -days 825 -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout var/tls/key.pem -out var/tls/cert.pem 2>/dev/null)
  echo "created a self-signed certificate in var/tls/cert.pem"
fi
if [ ! -s var/admin.txt ]; then
  if pw=$("$BIN" -c webhookd.conf user add admin --role admin 2>/dev/null); then :; else
    pw=$("$BIN" -c webhookd.conf user passwd admin)   # the user exists, its password file does not
  fi
  (umask 077; printf 'admin:%s\n' "$pw" > var/admin.txt)
  cat <<MSG

  admin user created; its credentials are in var/admin.txt (shown only this once):
      admin:$pw

MSG
fi
port=$(sed -n 's/^port *= *\([0-9]*\).*/\1/p' webhookd.conf | tail -n1)
port=${WEBHOOKD_PORT:-${port:-9002}}
cat <<MSG
  try:  curl --cacert var/tls/cert.pem -u "\$(cat var/admin.txt)" https://localhost:$port/odata2webservices/WebhookService/DestinationChannels
        curl --cacert var/tls/cert.pem -u "\$(cat var/admin.txt)" https://localhost:$port/metrics
        curl --cacert var/tls/cert.pem https://localhost:$port/readyz

MSG
exec "$BIN" -c webhookd.conf serve
