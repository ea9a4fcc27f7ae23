#!/usr/bin/env bash
# The README's first command: from a fresh Debian 12 machine to a running demo.
# Installs what is missing, builds, starts a private redis-server (unless
# SEATMAP_REDIS points at one), creates a staff login, and serves the demo show.
#   SEATMAP_LISTEN  where to listen (default 127.0.0.1:8080)
#   SEATMAP_REDIS   use this Redis instead of a private one
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
run="$root/.run"
mkdir -p "$run"

scripts/deps.sh
scripts/build.sh build

listen=${SEATMAP_LISTEN:-127.0.0.1:8080}
db=${SEATMAP_DB:-$run/seatmap.db}
redis_pid=""
server_pid=""
# Stops what this script started, however it ends (Ctrl-C, kill, an error).
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "${SEATMAP_REDIS:-}" ]; then
  port=${SEATMAP_REDIS_PORT:-6390}
  # Persistence on: the demo's Redis survives a restart like a real one would.
  redis-server --port "$port" --bind 127.0.0.1 --dir "$run" --appendonly yes \
    --save "" --daemonize no --logfile "$run/redis.log" &
  redis_pid=$!
  for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  export SEATMAP_REDIS="redis://127.0.0.1:$port/0"
  echo "private Redis on 127.0.0.1:$port (data in $run)"
fi

# A staff login for the box office, created once and kept in .run/staff.txt.
if [ ! -s "$run/staff.txt" ]; then
  pw=$(head -c 12 /dev/urandom | base64 | tr -d '/+=' | head -c 16)
  echo "$pw" | build/seatmapd user add staff --role admin --db "$db" >/dev/null
  echo "staff $pw" >"$run/staff.txt"
fi
read -r user pw <"$run/staff.txt"
cat <<MSG

  seat map:    http://$listen/
  box office:  http://$listen/boxoffice   (user: $user  password: $pw)

  Open the seat map in two tabs, hold a seat in one and watch it turn pending
  in the other. Ctrl-C stops the server and the private Redis.

MSG
build/seatmapd serve --listen "$listen" --db "$db" --demo --web "$root/web" &
server_pid=$!
wait "$server_pid"
