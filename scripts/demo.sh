#!/usr/bin/env bash
# The README's first command: from a fresh Debian 12 machine to a running demo.
# Installs what is missing, builds, starts a private redis-server (unless
# SEATMAP_REDIS points at one), creates a staff login, and serves the demo show.
#
#   scripts/demo.sh [--shop] [--cluster]
#   --shop     also runs the example order system (examples/order-receiver) with
#              a webhook registered for it: it prints every event it receives,
#              hold.expired included (needs Node; installs nodejs and npm when
#              missing, and runs npm ci once)
#   --cluster  holds in a private 3-master 3-replica Redis Cluster instead of
#              one Redis: kill a master (the script prints how) and the map
#              carries on after the failover
#   SEATMAP_LISTEN  where to listen (default 127.0.0.1:8080)
#   SEATMAP_REDIS   use this Redis instead of a private one
#   SEATMAP_REDIS_PORT  the private Redis's port (6390), or the cluster's first (7001)
#   SEATMAP_SHOP_PORT   the order system's port (4000)
#   SEATMAP_RUN_DIR     where the demo keeps its data (.run)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
run=${SEATMAP_RUN_DIR:-$root/.run}
mkdir -p "$run"

shop=0
cluster=0
for a in "$@"; do
  case $a in
    --shop) shop=1 ;;
    --cluster) cluster=1 ;;
    *) echo "usage: scripts/demo.sh [--shop] [--cluster]" >&2; exit 2 ;;
  esac
done

scripts/deps.sh
if [ "$shop" = 1 ] && ! { command -v node >/dev/null && command -v npm >/dev/null; }; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >/dev/null
fi
scripts/build.sh build

listen=${SEATMAP_LISTEN:-127.0.0.1:8080}
db=${SEATMAP_DB:-$run/seatmap.db}
pids=()
# Stops what this script started, however it ends (Ctrl-C, kill, an error):
# the server first, so that it drains while Redis is still there.
cleanup() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[i]}" 2>/dev/null && wait "${pids[i]}" 2>/dev/null
  done
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_redis PORT: until it answers PING (5 s at most).
wait_redis() {
  for _ in $(seq 50); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "demo: redis-server on port $1 did not start (see $run)" >&2
  return 1
}

kill_hint=""
if [ -z "${SEATMAP_REDIS:-}" ] && [ "$cluster" = 1 ]; then
  base=${SEATMAP_REDIS_PORT:-7001}
  nodes=()
  for i in 0 1 2 3 4 5; do
    p=$((base + i))
    mkdir -p "$run/cluster/$p"
    redis-server --port "$p" --bind 127.0.0.1 --dir "$run/cluster/$p" --cluster-enabled yes \
      --cluster-config-file nodes.conf --cluster-node-timeout 2000 --appendonly yes --save "" \
      --daemonize no --logfile "$run/cluster/$p/redis.log" &
    pids+=($!)
    nodes+=("127.0.0.1:$p")
  done
  for n in "${nodes[@]}"; do wait_redis "${n#*:}"; done
  # A cluster made by an earlier run keeps its slots in nodes.conf.
  if ! redis-cli -p "$base" cluster info | grep -q 'cluster_state:ok'; then
    redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >"$run/cluster/create.log"
  fi
  # Ready when every slot is served and every replica has synced with its
  # master (an unsynced replica is not promoted when its master dies).
  for _ in $(seq 300); do
    ready=1
    redis-cli -p "$base" cluster info | grep -q 'cluster_state:ok' || ready=0
    for n in "${nodes[@]}"; do
      redis-cli -p "${n#*:}" info replication | tr -d '\r' |
        grep -Eq '^(connected_slaves:[1-9]|master_link_status:up)' || ready=0
    done
    [ "$ready" = 1 ] && break
    sleep 0.1
  done
  export SEATMAP_REDIS="redis+cluster://$(IFS=,; echo "${nodes[*]}")"
  echo "private Redis Cluster of 3 masters and 3 replicas on 127.0.0.1:$base-$((base + 5)) (data in $run/cluster)"
  kill_hint="  Kill the Redis master that owns the demo show and watch the map carry on
  once a replica has taken over (a few seconds):  scripts/demo-kill-master.sh
"
elif [ -z "${SEATMAP_REDIS:-}" ]; then
  port=${SEATMAP_REDIS_PORT:-6390}
  # Persistence on: the demo's Redis survives a restart like a real one would.
  redis-server --port "$port" --bind 127.0.0.1 --dir "$run" --appendonly yes \
    --save "" --daemonize no --logfile "$run/redis.log" &
  pids+=($!)
  wait_redis "$port"
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

shop_hint=""
if [ "$shop" = 1 ]; then
  [ -d node_modules/standardwebhooks ] || npm ci --no-audit --no-fund >/dev/null
  shop_port=${SEATMAP_SHOP_PORT:-4000}
  shop_url="http://127.0.0.1:$shop_port/webhooks/seatmap"
  # One webhook for the demo shop, registered once (its secret is shown only
  # when it is made, so it is kept in .run/shop.txt).
  if [ ! -s "$run/shop.txt" ] || ! build/seatmapd webhook list --db "$db" | grep -q "$shop_url"; then
    build/seatmapd webhook add "$shop_url" --events '*' --db "$db" >"$run/shop.txt"
  fi
  read -r _ secret <"$run/shop.txt"
  WEBHOOK_SECRET=$secret PORT=$shop_port node examples/order-receiver/server.mjs \
    > >(sed -u 's/^/shop: /') 2>&1 &
  pids+=($!)
  shop_hint="  The shop's order system (examples/order-receiver) prints every event it
  receives below, marked \"shop:\": hold a seat and let it expire to see
  hold.expired arrive (signed webhooks, docs/webhooks.md).
"
fi

cat <<MSG

  seat map:    http://$listen/
  box office:  http://$listen/boxoffice   (user: $user  password: $pw)
  dashboard:   http://$listen/admin       (the same login)
  metrics:     http://$listen/metrics

  Open the seat map in two tabs, hold a seat in one and watch it turn pending
  in the other. Ctrl-C stops everything this script started.
$shop_hint$kill_hint
MSG
build/seatmapd serve --listen "$listen" --db "$db" --demo --web "$root/web" &
pids+=($!)
wait "${pids[-1]}"
