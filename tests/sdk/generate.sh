#!/usr/bin/env bash
# Generates the SAP Cloud SDK for JavaScript's typed OData V2 client from
# webhookd's EDMX: proof that a strict, widely used consumer loads
# $metadata (every EntityType becomes a class, every NavigationProperty a
# link). Run by tests/e2e/test_metadata.py when npx is on PATH.
#
#   usage: tests/sdk/generate.sh EDMX OUTDIR
#
# EDMX is the document (`webhookd metadata > file`); OUTDIR must not exist or
# be empty; the client lands in OUTDIR/WebhookService/*.ts.
#
# Needs Node.js >= 18 (Debian 12's nodejs) with npx (Debian's npm). The first
# run downloads the pinned generator from the npm registry into npm's cache
# (~140 MB); later runs reuse it. Validation is on (no --skipValidation): a
# duplicate or invalid name in the EDMX fails the run instead of being renamed.
set -euo pipefail

GENERATOR=@sap-cloud-sdk/generator@3.26.4   # last 3.x: the major that supports Node 18
SERVICE=WebhookService
BASE_PATH=/odata2webservices/WebhookService

if [ $# -ne 2 ]; then
  echo "usage: $0 EDMX OUTDIR" >&2
  exit 2
fi
edmx=$(realpath -e -- "$1")
mkdir -p -- "$2"
out=$(realpath -e -- "$2")
if [ -n "$(ls -A -- "$out")" ]; then
  echo "$0: $out is not empty" >&2
  exit 2
fi

work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT
mkdir "$work/input"
cp -- "$edmx" "$work/input/$SERVICE.edmx"
# The service's base path cannot come from an EDMX (no atom:link self), so it
# is given per service; the key is the input file's path as passed below.
cat >"$work/options-per-service.json" <<JSON
{
  "input/$SERVICE.edmx": {
    "packageName": "webhookservice",
    "directoryName": "$SERVICE",
    "basePath": "$BASE_PATH"
  }
}
JSON

export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
cd "$work"
npx --yes "$GENERATOR" --input input --outputDir "$out" \
  --optionsPerService options-per-service.json --transpile false
