#!/usr/bin/env bash
# Installs web/'s npm packages from package-lock.json (npm ci, only when the
# lock file changed since the last install) and bundles the client into
# OUTDIR (default web/dist). Used by ctest (fixture web_bundle) and by
# `make run`. Several build dirs share web/node_modules: a lock serialises
# them.
#   bash web/tools/prepare.sh [OUTDIR]
set -euo pipefail
WEB=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$WEB/dist}
cd "$WEB"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "web: node and npm are needed to build the web client (bash scripts/deps.sh)" >&2
  exit 1
fi
exec 9>"$WEB/.npm.lock"
flock 9
stamp=node_modules/.mqchat-lock-sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  npm ci --no-audit --no-fund
  echo "$want" > "$stamp"
fi
node tools/build.mjs --outdir "$OUT"
