#!/usr/bin/env bash
# Builds seatmapd into build/ (or $1), warnings as errors. Extra args go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}; shift || true
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEATMAP_WERROR=ON "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)" 2>&1 | grep -v '^\[' || true
test -x "$dir/seatmapd"
