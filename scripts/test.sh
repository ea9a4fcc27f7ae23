#!/usr/bin/env bash
# Runs every test of seatmap, the way CI does (.ci/run calls this):
#   dependencies, the format check (scripts/check-format.sh), the
#   schema parity of the two ledger engines (scripts/check-schema.mjs), a -Werror
#   build, the layering check (scripts/check-layers.mjs: no cycle between
#   server modules, by includes or by calls) and its self-test, the C unit
#   tests (ctest), the integration
#   suite (tests/integration, real seatmapd + real redis-server), the browser
#   suite (tests/e2e, when it has tests), the smoke benchmark (bench/run.sh
#   --smoke, when present), the Debian package (scripts/package-check.sh,
#   as root), then everything C again under ASan+UBSan with the
#   integration suite run against the sanitizer build.
# It does not install anything but missing Debian packages and node_modules.
# Prints one line per suite and ends with "N passed, N failed"; exits non-zero
# on any failure.
#
# Environment: SEATMAP_SKIP_ASAN=1 skips the sanitizer pass (quick local runs).
#              SEATMAP_SKIP_FUZZ=1 skips the fuzz targets (scripts/fuzz.sh).
#              SEATMAP_SKIP_SOAK=1 skips the 3-minute soak and the valgrind run.
#              SEATMAP_JOBS=N build parallelism (default: nproc).
#              SEATMAP_BUILD_DIR / SEATMAP_ASAN_DIR / SEATMAP_PKG_DIR: build
#              directories (default build, build-asan, build-pkg), so a run
#              does not touch someone's build/.
set -uo pipefail
# Everything runs inside main, so bash has parsed the whole file before it
# starts (editing the script during a run can't derail it).
main() {
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${SEATMAP_BUILD_DIR:-build}
ASAN=${SEATMAP_ASAN_DIR:-build-asan}

passed=0
failed=0
summary=()
failures=() # per failed suite: its name and why, printed after the summary
SUITE_LOG=$(mktemp)
trap 'rm -f "$SUITE_LOG"' EXIT

# run_suite NAME CMD... : runs one suite, records PASS/FAIL with its duration.
run_suite() {
    local name=$1
    shift
    local t0=$SECONDS rc
    echo
    echo "=== ${name}"
    # to a file, not a pipe: a child a test leaves behind must not hold
    # the suite open; shown when the suite ends
    "$@" >"$SUITE_LOG" 2>&1
    rc=$?
    cat "$SUITE_LOG"
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
        summary+=("PASS  ${name}  ($((SECONDS - t0)) s)")
    else
        failed=$((failed + 1))
        summary+=("FAIL  ${name}  ($((SECONDS - t0)) s)")
        failures+=("--- ${name}" "$(why_failed "$SUITE_LOG")")
    fi
}

# why_failed LOG: the few lines that say why a suite failed (node:test's
# "failing tests" section, else the log's end), so that a red CI run names
# its cause at the very end of the output, where it is read.
why_failed() {
    if grep -q '^✖ failing tests:' "$1"; then
        sed -n '/^✖ failing tests:/,$p' "$1" | grep -v '^ *at \|^ *$' | head -n 25
    else
        tail -n 15 "$1"
    fi
}

# build DIR [cmake args]: warnings as errors; prints the compiler output on failure.
build() {
    scripts/build.sh "$@"
}

# node_test FILE [env...]: one test file in its own node process.
node_test() {
    local file=$1
    shift
    env "$@" node --test --test-concurrency=1 --test-reporter=spec "$file"
}

finish() {
    echo
    echo "=== summary"
    local line
    for line in "${summary[@]}"; do echo "  $line"; done
    echo "${passed} passed, ${failed} failed"
    if [ "$failed" -gt 0 ]; then
        echo
        echo "=== why"
        for line in "${failures[@]}"; do echo "$line"; done
        echo "${passed} passed, ${failed} failed"
    fi
    [ "$failed" -eq 0 ]
    exit $?
}

# ---- dependencies ----
echo "=== dependencies"
if ! scripts/deps.sh --test; then
    echo "scripts/deps.sh failed" >&2
    failed=$((failed + 1))
    summary+=("FAIL  dependencies")
    finish
fi
if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] ||
    [ package-lock.json -nt node_modules/.package-lock.json ] ||
    [ package.json -nt node_modules/.package-lock.json ]; then
    echo "npm ci"
    if ! npm ci --no-audit --no-fund; then
        failed=$((failed + 1))
        summary+=("FAIL  npm ci")
        finish
    fi
fi

integration_suites() {
    local label=$1
    shift
    local f
    for f in tests/integration/*.test.mjs; do
        [ -e "$f" ] || continue
        run_suite "${label} $(basename "$f" .test.mjs)" node_test "$f" "$@"
    done
}

# ---- static checks ----
run_suite "format" scripts/check-format.sh
run_suite "schema parity" node scripts/check-schema.mjs
run_suite "schema parity (self-test)" node --test --test-reporter=spec scripts/check-schema.test.mjs

# ---- normal build ----
run_suite "build (-Werror)" build "$BUILD"
if [ -x "$BUILD/seatmapd" ] && [ "${summary[-1]:0:4}" = "PASS" ]; then
    run_suite "layers" node scripts/check-layers.mjs "$BUILD" --print
    run_suite "layers (self-test)" node --test --test-reporter=spec scripts/check-layers.test.mjs
    run_suite "ctest" ctest --test-dir "$BUILD" --output-on-failure
    integration_suites "integration" SEATMAPD="$ROOT/$BUILD/seatmapd"
    # The core scenarios again with holds in a real 3+3 Redis Cluster
    # (tests/lib/cluster.mjs; cluster-failover and cluster-migrate above make their own):
    # holds and all-or-nothing, the 200-buyer race, expiry (events on, off,
    # subscriber killed), two processes as one, webhook events, resuming a
    # watch after a restart from the events stream.
    for f in holds contention expiry multiprocess webhooks overload; do
        run_suite "integration on Redis Cluster: $f" node_test "tests/integration/$f.test.mjs" \
            SEATMAPD="$ROOT/$BUILD/seatmapd" SEATMAP_TEST_REDIS=cluster
    done
    for f in tests/abuse/*.test.mjs; do
        [ -e "$f" ] || continue
        run_suite "abuse $(basename "$f" .test.mjs)" node_test "$f" SEATMAPD="$ROOT/$BUILD/seatmapd"
    done
    e2e_files=(tests/e2e/*.test.mjs)
    if [ -e "${e2e_files[0]}" ]; then
        for f in "${e2e_files[@]}"; do
            run_suite "e2e $(basename "$f" .test.mjs)" node_test "$f" SEATMAPD="$ROOT/$BUILD/seatmapd"
        done
    else
        echo "(tests/e2e has no tests yet: skipped)"
    fi
    if [ -f bench/run.sh ]; then
        if ctest --test-dir "$BUILD" -N 2>/dev/null | grep -q 'bench_smoke'; then
            echo "(bench/run.sh --smoke already ran inside ctest as bench_smoke)"
        else
            run_suite "bench smoke" env SEATMAPD="$ROOT/$BUILD/seatmapd" bash bench/run.sh all --smoke
        fi
    fi
else
    echo "build failed: skipping ctest, integration, e2e and bench"
fi

# ---- the Debian package (scripts/package-check.sh: cpack, lintian,
# systemd-analyze verify, dpkg -i, a smoke test of the installed binary) ----
if [ "$(id -u)" -ne 0 ]; then
    echo
    echo "=== package: skipped (dpkg -i needs root)"
else
    run_suite "package" scripts/package-check.sh "${SEATMAP_PKG_DIR:-build-pkg}"
fi

# ---- soak (bench/soak.mjs, 3 min: RSS and fds flat) and valgrind ----
if [ -x "$BUILD/seatmapd" ] && [ "${SEATMAP_SKIP_SOAK:-0}" != "1" ]; then
    run_suite "soak (3 min, RSS and fds flat)" env SEATMAPD="$ROOT/$BUILD/seatmapd" \
        SOAK_SECONDS="${SOAK_SECONDS:-180}" BENCH_OUT="$(mktemp -d)" bash bench/run.sh soak
    run_suite "valgrind (basic, bad-input)" env SEATMAPD_REAL="$ROOT/$BUILD/seatmapd" \
        scripts/valgrind.sh ${SEATMAP_VALGRIND_TESTS:-basic bad-input}
fi

# ---- fuzzing (tests/fuzz): corpus regression, then 20 s a target ----
if [ "${SEATMAP_SKIP_FUZZ:-0}" != "1" ]; then
    run_suite "fuzz (libFuzzer)" env SEATMAP_FUZZ_DIR="${SEATMAP_FUZZ_DIR:-build-fuzz}" scripts/fuzz.sh
fi

# ---- sanitizers ----
if [ "${SEATMAP_SKIP_ASAN:-0}" = "1" ]; then
    echo
    echo "=== sanitizer pass skipped (SEATMAP_SKIP_ASAN=1)"
else
    # LeakSanitizer needs ptrace-like powers some containers lack: probe it.
    leaks=1
    probe_dir=$(mktemp -d)
    printf 'int main(void){return 0;}\n' >"$probe_dir/p.c"
    if cc -fsanitize=address -o "$probe_dir/p" "$probe_dir/p.c" 2>/dev/null; then
        if ! ASAN_OPTIONS=detect_leaks=1 "$probe_dir/p" >/dev/null 2>&1; then
            leaks=0
            echo "(LeakSanitizer does not work here: leak detection off)"
        fi
    fi
    rm -rf "$probe_dir"
    export ASAN_OPTIONS="detect_leaks=${leaks}:abort_on_error=0:halt_on_error=1"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
    export LSAN_OPTIONS="${LSAN_OPTIONS:-}"
    # Failpoints (server/failpoint.h) are compiled into this build only:
    # tests/integration/failpoints.test.mjs runs against it (and skips
    # against the release-like build above).
    run_suite "build-asan (ASan+UBSan)" build "$ASAN" -DSEATMAP_SANITIZE=ON -DSEATMAP_FAILPOINTS=ON
    if [ -x "$ASAN/seatmapd" ] && [ "${summary[-1]:0:4}" = "PASS" ]; then
        run_suite "ctest (asan)" ctest --test-dir "$ASAN" --output-on-failure
        integration_suites "integration (asan)" SEATMAPD="$ROOT/$ASAN/seatmapd" \
            SEATMAP_READY_TIMEOUT_MS=40000
    else
        echo "sanitizer build failed: skipping its tests"
    fi
fi

finish
}

main "$@"
