#!/usr/bin/env bash
# For `scripts/demo.sh --cluster`: kills (SIGKILL, as a crash would) the Redis
# master that owns a show's slot, so that you can watch a replica take over
# and the seat map carry on.
#   scripts/demo-kill-master.sh [SHOW] [ANY-NODE-PORT]   (default: demo 7001)
set -euo pipefail
show=${1:-demo}
port=${2:-${SEATMAP_REDIS_PORT:-7001}}
slot=$(redis-cli -p "$port" cluster keyslot "{$show}")
owner=$(redis-cli -p "$port" cluster nodes | awk -v s="$slot" '
  $3 ~ /master/ && $3 !~ /fail/ {
    for (i = 9; i <= NF; i++) {
      n = split($i, r, "-")
      if (s >= r[1] && s <= (n == 2 ? r[2] : r[1])) { split($2, a, "[:@]"); print a[2]; exit }
    }
  }')
if [ -z "$owner" ]; then
  echo "no live master owns slot $slot of show $show (is the cluster up?)" >&2
  exit 1
fi
pid=$(redis-cli -p "$owner" info server | tr -d '\r' | awk -F: '$1 == "process_id" { print $2 }')
echo "killing the master of show $show (slot $slot): 127.0.0.1:$owner, pid $pid"
kill -9 "$pid"
