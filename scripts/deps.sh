#!/usr/bin/env bash
# Installs what seatmap needs on Debian 12, only what is missing.
# Usage: scripts/deps.sh [--test]   (--test adds what the test suite needs)
set -euo pipefail
pkgs=(build-essential cmake pkg-config libwebsockets-dev libwebsockets-evlib-uv libhiredis-dev
      libcjson-dev libsqlite3-dev libuv1-dev libsodium-dev zlib1g-dev libcurl4-openssl-dev libpq-dev redis-server
      sqlite3)
if [ "${1:-}" = "--test" ]; then
  pkgs+=(libcmocka-dev chromium nodejs npm gnuplot-nox clang-format prometheus lintian curl postgresql-15 clang libclang-rt-14-dev valgrind redis-tools)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# nodejs may come from elsewhere than Debian: a working node and npm will do.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
read -ra missing <<<"${missing[*]:-}"
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
