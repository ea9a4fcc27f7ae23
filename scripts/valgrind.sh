#!/usr/bin/env bash
# Runs a subset of the integration suite (tests/integration) with every
# seatmapd process (servers and CLI commands) under valgrind memcheck, and
# fails on any memcheck error or any definite leak.
#
# Usage: scripts/valgrind.sh [TEST ...]     (names without .test.mjs)
#   default subset: $SEATMAP_VALGRIND_TESTS or "basic bad-input" (files that log
#   in time out: the password hash takes over 10 s under valgrind)
#   the binary: $SEATMAPD_REAL (default build/seatmapd, built when missing)
#
# How: tests/lib/stack.mjs starts whatever $SEATMAPD names, so SEATMAPD is a
# wrapper script that execs `valgrind --leak-check=full --error-exitcode=1`
# with one log file per process. A server stopped with SIGTERM shuts down
# in order and valgrind checks its heap at exit; a process killed with
# SIGKILL on purpose (durability tests) leaves no verdict, which is why the
# default subset has no such test. Every log that has a verdict must say
# "ERROR SUMMARY: 0 errors" (definite leaks count as errors); at least one
# must have one.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN=${SEATMAPD_REAL:-$ROOT/build/seatmapd}
if [ ! -x "$BIN" ]; then scripts/build.sh build || exit 1; BIN=$ROOT/build/seatmapd; fi
command -v valgrind >/dev/null || { echo "valgrind is not installed (scripts/deps.sh --test)" >&2; exit 1; }
if [ $# -gt 0 ]; then tests=("$@"); else read -ra tests <<<"${SEATMAP_VALGRIND_TESTS:-basic bad-input}"; fi
logs=$(mktemp -d /tmp/seatmap-valgrind.XXXXXX)
wrapper=$logs/seatmapd
printf '#!/bin/sh\nexec valgrind --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite --error-exitcode=1 --num-callers=30 --log-file=%s/vg-%%p.log "%s" "$@"\n' \
    "$logs" "$BIN" >"$wrapper"
chmod +x "$wrapper"
rc=0
for t in "${tests[@]}"; do
    f=tests/integration/$t.test.mjs
    [ -f "$f" ] || { echo "valgrind: no $f" >&2; rc=1; continue; }
    echo "=== valgrind: $t"
    # valgrind makes everything 10-50x slower: give the harness time to start it.
    if ! SEATMAPD="$wrapper" SEATMAP_READY_TIMEOUT_MS=60000 node --test --test-concurrency=1 \
        --test-reporter=dot "$f"; then
        echo "valgrind: $t failed its assertions under valgrind" >&2
        rc=1
    fi
done
bad=0
n=0
killed=0
for l in "$logs"/vg-*.log; do
    [ -e "$l" ] || continue
    if ! grep -q 'ERROR SUMMARY:' "$l"; then
        killed=$((killed + 1)) # SIGKILLed on purpose: no verdict
        continue
    fi
    n=$((n + 1))
    if ! grep -q 'ERROR SUMMARY: 0 errors' "$l"; then
        bad=$((bad + 1))
        echo "--- $l" >&2
        grep -v '^==[0-9]*== *$' "$l" | head -80 >&2
    fi
done
echo "valgrind: $n seatmapd processes checked ($killed killed without a verdict), $bad with errors or definite leaks"
[ $n -gt 0 ] || rc=1
[ $bad -eq 0 ] || rc=1
if [ $rc -ne 0 ]; then echo "valgrind: logs in $logs"; else rm -rf "$logs"; fi
exit $rc
