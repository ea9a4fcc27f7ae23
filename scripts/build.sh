#!/usr/bin/env bash
# Builds seatmapd into build/ (or $1), warnings as errors. Extra args go to cmake.
# Quiet when it works; on failure prints the compiler's output and exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEATMAP_WERROR=ON "$@" >"$log" 2>&1 ||
   ! cmake --build "$dir" -j"$(nproc)" >>"$log" 2>&1; then
  cat "$log" >&2
  echo "build failed in $dir" >&2
  exit 1
fi
test -x "$dir/seatmapd"
