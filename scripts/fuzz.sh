#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/) with clang into build-fuzz/ (or
# $SEATMAP_FUZZ_DIR), runs each over its seed corpus (tests/fuzz/corpus/<t>:
# every past crash is a file there, so this is the regression test), then
# fuzzes each for a fixed time. New inputs go to BUILD/fuzz-corpus/<t>, a
# crash to BUILD/fuzz-artifacts/ (copy it into tests/fuzz/corpus/<t>/ once
# fixed).
#
# Usage: scripts/fuzz.sh [--time SECONDS_PER_TARGET] [--only TARGET] [--no-build]
#   default 20 s a target (seven targets: two and a half minutes, what CI runs);
#   a long run: scripts/fuzz.sh --time 3600
# Exits non-zero when a target crashes, leaks or times out.
set -uo pipefail
cd "$(dirname "$0")/.."
dir=${SEATMAP_FUZZ_DIR:-build-fuzz}
secs=20
only=""
build=1
while [ $# -gt 0 ]; do
    case $1 in
    --time) secs=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    *) echo "usage: scripts/fuzz.sh [--time SECONDS] [--only TARGET] [--no-build]" >&2; exit 2 ;;
    esac
done
if [ "$build" = 1 ]; then
    CC=clang scripts/build.sh "$dir" -DSEATMAP_FUZZ=ON || exit 1
fi
mkdir -p "$dir/fuzz-artifacts"
# Leaks are checked per input; the app the targets share lives for the process.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}:abort_on_error=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
rc=0
for bin in "$dir"/tests/fuzz/fuzz_*; do
    [ -x "$bin" ] || continue
    t=$(basename "$bin"); t=${t#fuzz_}
    [ -n "$only" ] && [ "$only" != "$t" ] && continue
    seeds=tests/fuzz/corpus/$t
    work=$dir/fuzz-corpus/$t
    mkdir -p "$work"
    dict=()
    [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
    log=$dir/fuzz-$t.log
    # The server's own log lines (warnings about bad input) are noise here.
    if ! "$bin" "${dict[@]}" -runs=0 -timeout=10 -artifact_prefix="$dir/fuzz-artifacts/$t-" \
        "$seeds" >"$log" 2>&1; then
        echo "fuzz $t: a corpus file fails (see $log)"
        grep -aE 'ERROR|SUMMARY|Test unit' "$log" | head -5
        rc=1
        continue
    fi
    echo "fuzz $t: corpus of $(ls "$seeds" | wc -l) files passes"
    if [ "$secs" -gt 0 ]; then
        if ! "$bin" "${dict[@]}" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
            -artifact_prefix="$dir/fuzz-artifacts/$t-" "$work" "$seeds" >"$log" 2>&1; then
            echo "fuzz $t: FOUND A PROBLEM (see $log):"
            grep -aE 'ERROR|SUMMARY|Test unit' "$log" | head -5
            rc=1
            continue
        fi
        echo "fuzz $t: ${secs} s, $(grep -a 'DONE' "$log" | tail -1 | sed 's/^#\([0-9]*\).*cov: \([0-9]*\).*/\1 runs, coverage \2/')"
    fi
done
exit $rc
