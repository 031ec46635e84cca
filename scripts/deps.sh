#!/usr/bin/env bash
# Installs the Debian 12 packages mqchat needs to build, run and test.
# Used by `make run`/`make deps` (installs only what is missing; as non-root it
# prints the apt-get line and stops) and by CI (`--ci`: always apt-get update
# then install).
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config file
  mosquitto mosquitto-clients mosquitto-dev libmosquitto-dev
  redis-server libhiredis-dev libcjson-dev libsodium-dev libssl-dev
  libcurl4-openssl-dev
  python3 python3-paho-mqtt python3-h2 openssl curl
  chromium
)
# The web client is built with node and npm (web/), and tested in Debian's
# Chromium. A node installed outside Debian's packages counts: only without
# any node are Debian's nodejs and npm added.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  PKGS+=(nodejs npm)
fi

ci=0
[ "${1:-}" = "--ci" ] && ci=1

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "$ci" = 0 ] && [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "mqchat needs these Debian packages: ${missing[*]}" >&2
  echo "install them with:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "deps: installing ${missing[*]:-${PKGS[*]}}"
apt-get update
if [ "$ci" = 1 ]; then
  apt-get install -y --no-install-recommends "${PKGS[@]}"
else
  apt-get install -y --no-install-recommends "${missing[@]}"
fi
