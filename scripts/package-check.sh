#!/usr/bin/env bash
# Builds the Debian package of seatmapd and checks it the way an operator
# would meet it (docs/operations.md, "Install"):
#   1. cmake (prefix /usr) + cpack -> seatmapd_<version>_amd64.deb
#   2. lintian: no errors
#   3. dpkg -i on this machine; the service user exists
#   4. systemd-analyze verify on the installed unit
#   5. the installed binary: --version, `check` of the packaged config and
#      the installed demo venue, `check` refusing a broken config, and a
#      short `serve` (as the service user, against a throwaway redis-server)
#      that finds its pages from the install prefix and answers /healthz and
#      /metrics on the metrics listener
#   6. dpkg --purge: the files are gone
# Needs root (dpkg -i), lintian, redis-server, curl, node. Usage:
#   scripts/package-check.sh [BUILD_DIR]   (default build-pkg)
# Prints one line per step; exits non-zero on the first failure, always
# removing the package it installed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${1:-build-pkg}
PKG=seatmapd
VERSION=$(sed -n 's/^#define SM_VERSION "\(.*\)"/\1/p' server/config.h)
DEB="$BUILD/${PKG}_${VERSION}_$(dpkg --print-architecture).deb"
WORK=$(mktemp -d)
installed=0
redis_pid=""
serve_pid=""

step() { echo "--- $*"; }
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
cleanup() {
    [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
    [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
    if [ "$installed" = 1 ]; then
        dpkg_locked --purge "$PKG" >/dev/null 2>&1 || echo "warning: could not remove $PKG" >&2
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# dpkg ARGS...: retries while another dpkg/apt holds the lock (a shared
# machine), for up to two minutes.
dpkg_locked() {
    local i out
    for i in $(seq 1 60); do
        if out=$(dpkg "$@" 2>&1); then
            echo "$out"
            return 0
        fi
        if ! grep -q "lock" <<<"$out"; then
            echo "$out" >&2
            return 1
        fi
        sleep 2
    done
    echo "$out" >&2
    return 1
}

free_port() {
    node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# wait_for SECONDS CMD...: until CMD succeeds.
wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.1
    done
}

[ "$(id -u)" -eq 0 ] || fail "needs root (dpkg -i)"
if dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q "install ok installed"; then
    fail "$PKG is already installed on this machine; remove it first (dpkg --purge $PKG)"
fi

step "build and package ($BUILD, prefix /usr)"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSEATMAP_WERROR=ON -DCMAKE_INSTALL_PREFIX=/usr \
    -DSEATMAP_UNITDIR=/lib/systemd/system -DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON >"$WORK/cmake.log" 2>&1 || { cat "$WORK/cmake.log"; fail "cmake"; }
cmake --build "$BUILD" -j"$(nproc)" --target seatmapd seatmap_docs >>"$WORK/cmake.log" 2>&1 ||
    { cat "$WORK/cmake.log"; fail "build"; }
rm -f "$DEB"
(cd "$BUILD" && cpack -G DEB >"$WORK/cpack.log" 2>&1) || { cat "$WORK/cpack.log"; fail "cpack"; }
[ -f "$DEB" ] || fail "cpack made no $DEB"
echo "$DEB ($(stat -c %s "$DEB") bytes)"

step "lintian (no errors allowed)"
if ! lintian --fail-on error "$DEB" >"$WORK/lintian.log" 2>&1; then
    grep -v "root privileges" "$WORK/lintian.log"
    fail "lintian found errors"
fi
grep -v "root privileges" "$WORK/lintian.log" || true
echo "lintian: no errors"

step "dpkg -i"
dpkg_locked -i "$DEB" >"$WORK/dpkg.log" || { cat "$WORK/dpkg.log"; fail "dpkg -i"; }
installed=1
getent passwd seatmapd >/dev/null || fail "the postinst made no user seatmapd"
[ -x /usr/bin/seatmapd ] || fail "no /usr/bin/seatmapd"
echo "installed; user: $(getent passwd seatmapd)"

step "systemd-analyze verify"
if ! command -v systemd-analyze >/dev/null; then
    echo "SKIPPED: systemd-analyze is not installed (apt-get install systemd)"
elif out=$(systemd-analyze verify /lib/systemd/system/seatmapd.service 2>&1); then
    [ -z "$out" ] || echo "$out"
    echo "seatmapd.service: verified"
else
    echo "$out"
    fail "systemd-analyze verify found problems in seatmapd.service"
fi

step "the installed binary"
/usr/bin/seatmapd --version | grep -qx "seatmapd $VERSION" || fail "seatmapd --version"
echo "$(/usr/bin/seatmapd --version)"
man -w seatmapd >/dev/null 2>&1 || [ -f /usr/share/man/man8/seatmapd.8.gz ] || fail "no man page"
/usr/bin/seatmapd check --config /etc/seatmapd/seatmapd.conf \
    --venue /usr/share/seatmap/venues/demo.json >"$WORK/check.out" 2>&1 ||
    { cat "$WORK/check.out"; fail "seatmapd check of the packaged config and demo venue"; }
sed 's/^/  /' "$WORK/check.out"
printf 'listen = 127.0.0.1:8080\nredis = http://x\nmax-seats = 3\n' >"$WORK/bad.conf"
echo '{"name": "broken"' >"$WORK/bad-venue.json"
if /usr/bin/seatmapd check --config "$WORK/bad.conf" >"$WORK/bad.out" 2>&1; then
    fail "seatmapd check accepted a bad Redis URL"
fi
grep -q "redis" "$WORK/bad.out" || { cat "$WORK/bad.out"; fail "check did not name the Redis URL"; }
if /usr/bin/seatmapd check --venue "$WORK/bad-venue.json" >"$WORK/bad.out" 2>&1; then
    fail "seatmapd check accepted a broken venue"
fi
grep -q "bad-venue.json" "$WORK/bad.out" || { cat "$WORK/bad.out"; fail "check did not name the venue"; }
echo "check refuses a bad config and a broken venue, saying which"

step "serve (as user seatmapd, against a throwaway redis)"
rport=$(free_port)
port=$(free_port)
mport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" \
    --daemonize no --loglevel warning >"$WORK/redis.log" 2>&1 &
redis_pid=$!
wait_for 10 redis-cli -p "$rport" ping || fail "redis-server did not start"
install -d -o seatmapd -g seatmapd "$WORK/state"
chmod 755 "$WORK"
# From / so nothing relative to a source tree can help it find its pages.
(cd / && exec runuser -u seatmapd -- /usr/bin/seatmapd serve --config /etc/seatmapd/seatmapd.conf \
    --listen "127.0.0.1:$port" --redis "redis://127.0.0.1:$rport/0" --db "$WORK/state/seatmap.db" \
    --metrics-listen "127.0.0.1:$mport" --demo) >"$WORK/serve.log" 2>&1 &
serve_pid=$!
if ! wait_for 15 curl -fsS "http://127.0.0.1:$port/healthz"; then
    cat "$WORK/serve.log"
    fail "/healthz did not answer 200"
fi
curl -fsS "http://127.0.0.1:$port/healthz"
echo
curl -fsS "http://127.0.0.1:$port/" | grep -qi "<html" || { cat "$WORK/serve.log"; fail "GET / did not serve the installed pages"; }
curl -fsS "http://127.0.0.1:$port/api/shows/demo" | grep -q '"seats"' || fail "the demo show (installed venue) is missing"
curl -fsS "http://127.0.0.1:$mport/metrics" | grep -q '^seatmap_redis_up 1' || fail "/metrics on the metrics listener"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/metrics")
[ "$code" = 404 ] || fail "/metrics on the public port answered $code, not 404"
echo "GET / (pages from /usr/share/seatmap/web), /api/shows/demo, /metrics on :$mport: ok"
kill "$serve_pid"
wait "$serve_pid" 2>/dev/null || true
serve_pid=""

step "dpkg --purge"
dpkg_locked --purge "$PKG" >"$WORK/dpkg.log" || { cat "$WORK/dpkg.log"; fail "dpkg --purge"; }
installed=0
[ ! -e /usr/bin/seatmapd ] || fail "/usr/bin/seatmapd is still there"
[ ! -e /etc/seatmapd/seatmapd.conf ] || fail "/etc/seatmapd/seatmapd.conf survived the purge"
[ ! -e /usr/share/seatmap ] || fail "/usr/share/seatmap is still there"
echo "removed"
echo "package-check: ok ($DEB)"
