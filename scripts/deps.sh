#!/usr/bin/env bash
# Install the Debian packages webhookd needs to build, run and test.
# As root: installs what is missing, non-interactively. Otherwise prints the
# one apt-get line to run and fails, so nobody is surprised by a sudo prompt.
set -euo pipefail

build=(gcc make pkg-config libc6-dev libevent-dev libpq-dev libjansson-dev
       libssl-dev libcurl4-openssl-dev openssl)
server=(postgresql-15 postgresql-contrib util-linux)
tests=(libcmocka-dev python3 python3-pytest python3-requests libxml2-utils)
fuzz=(clang libclang-rt-14-dev)
bench=(wrk curl)

want=("${build[@]}" "${server[@]}")
case "${1:-run}" in
  run)   ;;
  test)  want+=("${tests[@]}") ;;
  fuzz)  want+=("${tests[@]}" "${fuzz[@]}") ;;
  bench) want+=("${tests[@]}" "${bench[@]}") ;;
  *) echo "usage: $0 run|test|fuzz|bench" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "webhookd: missing Debian packages; run as root:" >&2
  echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
echo "webhookd: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Fresh machines have empty package lists; refresh when they are missing or old.
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages' -mmin -1440 2>/dev/null | head -n1)" ]; then
  apt-get update -qq
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null
