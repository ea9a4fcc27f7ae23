#!/usr/bin/env bash
# bench/run.sh - the seatmap benchmarks, one command each.
#
#   bench/run.sh fanout|holds|expiry|snapshot|idle|best|storm|all [--smoke]
#   bench/run.sh report       # rebuilds results.md and the plot from the result lines
#   bench/run.sh soak         # SOAK_SECONDS (default 180) of mixed traffic on the demo
#                             # show; RSS and fds must stay flat (bench/soak.mjs)
#
# Starts its own redis-server and the real seatmapd (env SEATMAPD, default
# build/seatmapd) on free loopback ports with a temporary database, creates
# the 60,000-seat show "stadium" from assets/venues/stadium.json, runs the
# scenario with bench/seatmap-bench (env SEATMAP_BENCH, default next to
# seatmapd) and writes bench/results/results.md, bench/results/fanout.png and
# the result lines (results-<scenario>.txt, which the report is built from) in
# bench/results/, and the tool's and servers' full output in bench/results/raw/.
#
# --smoke runs every size tiny (seconds), prints its report instead of
# writing bench/results/, and exits 0 whenever the tool works: slowness never
# fails it. It fails only when the tool or the server cannot run, nothing was
# measured, or a double hold was found.
#
# Extra server flags can be passed in SEATMAPD_ARGS (e.g. "--tick-ms 100");
# BENCH_FANOUT_SIZES="1000 2000" and BENCH_DURATION=SECONDS change the sizes
# and measured window of fanout and holds; BENCH_PERF=1 records a perf
# profile of seatmapd during each scenario into bench/results/raw/, and
# BENCH_OUT=DIR writes the report somewhere else than bench/results/.
# BENCH_WIRES="v1 v2" (the default) runs fanout, expiry and snapshot once per
# subprotocol the watchers speak, side by side (runs of v2 are named NAME-v2).
# BENCH_EXPIRY_HOLDS=N changes the size of the expiry wave (default 10,000).
# BENCH_EXPIRY_SIZES="WATCHERS HOLDS JUNK" changes the expiry scenario's sizes.
# BENCH_REDIS=cluster puts holds in a local Redis Cluster of 3 masters and 3
# replicas instead of one redis-server (the Redis figures are then those of
# the master that has the show); its result lines are labelled "-cluster".
# BENCH_PEERS="seatmapd node" runs fanout and holds against seatmapd and then
# against the Node peer of the same contract (bench/node-peer/server.mjs,
# seatmap.v1 only), back to back; the peer's runs are named NAME-node.
set -euo pipefail

usage() { echo "usage: bench/run.sh fanout|holds|expiry|snapshot|idle|best|storm|all|report|soak [--smoke]" >&2; exit 1; }
[ $# -ge 1 ] || usage
scenario=$1; shift
smoke=0
for a in "$@"; do
  case $a in --smoke) smoke=1 ;; *) usage ;; esac
done
case $scenario in fanout|holds|expiry|snapshot|idle|best|storm|all|report|soak) ;; *) usage ;; esac

root=$(cd "$(dirname "$0")/.." && pwd)
SEATMAPD=${SEATMAPD:-$root/build/seatmapd}
SEATMAP_BENCH=${SEATMAP_BENCH:-$(dirname "$SEATMAPD")/bench/seatmap-bench}
if [ ! -x "$SEATMAPD" ] || [ ! -x "$SEATMAP_BENCH" ]; then
  echo "run.sh: building into build/ (SEATMAPD=$SEATMAPD not found)" >&2
  "$root/scripts/build.sh" build
  SEATMAPD=$root/build/seatmapd; SEATMAP_BENCH=$root/build/bench/seatmap-bench
fi
venue=$root/assets/venues/stadium.json
[ -f "$venue" ] || { echo "run.sh: $venue is missing" >&2; exit 1; }

# Every connection is a file descriptor on both sides.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

tmp=$(mktemp -d /tmp/seatmap-bench.XXXXXX)
# A smoke run (CI, ctest) may run beside another one: it writes into its own
# temporary directory and prints its report. A full run takes a lock.
if [ $smoke = 1 ]; then out=$tmp/results; raw=$out
else out=${BENCH_OUT:-$root/bench/results}; raw=$out/raw; fi
mkdir -p "$out" "$raw"
if [ $smoke = 0 ]; then
  exec 9>"$raw/.lock"
  flock -n 9 || { echo "run.sh: another run.sh is writing $out" >&2; rm -rf "$tmp"; exit 1; }
fi
redis_pid=""; server_pid=""; server2_pid=""; cluster_pids=(); cluster_ports=()
cluster=0; label_suffix=""
if [ "${BENCH_REDIS:-}" = cluster ]; then cluster=1; label_suffix=-cluster; fi

cleanup() {
  local rc=$?
  set +e
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; fi
  if [ -n "$server2_pid" ]; then kill "$server2_pid" 2>/dev/null; wait "$server2_pid" 2>/dev/null; fi
  if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null; wait "$redis_pid" 2>/dev/null; fi
  for p in "${cluster_pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$tmp"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A loopback port nobody listens on.
free_port() {
  local p
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  echo "run.sh: no free port" >&2; return 1
}

# Six cluster nodes, joined 3 masters + 3 replicas; rport and redis_pid are
# then the master that owns the stadium show's slot (the audit, the junk keys
# and the Redis CPU figure use it), redis_url names every node.
start_cluster() {
  local p i owner pid try
  for i in 1 2 3 4 5 6; do
    # a random port may be taken by the time the node binds it: try another
    for try in 1 2 3 4 5; do
      p=$(free_port)
      mkdir -p "$tmp/node-$p"
      redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes --cluster-config-file nodes.conf \
        --cluster-node-timeout 1000 --save '' --appendonly no --dir "$tmp/node-$p" --maxclients 1000 \
        >"$raw/redis-$p.log" 2>&1 &
      pid=$!
      for _ in $(seq 1 100); do
        redis-cli -p "$p" ping 2>/dev/null | grep -q PONG && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      if kill -0 "$pid" 2>/dev/null && redis-cli -p "$p" ping 2>/dev/null | grep -q PONG; then
        cluster_pids+=("$pid"); cluster_ports+=("$p"); continue 2
      fi
      kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
    done
    echo "run.sh: a cluster node did not start:" >&2; tail -5 "$raw/redis-$p.log" >&2; exit 1
  done
  redis-cli --cluster create $(printf '127.0.0.1:%s ' "${cluster_ports[@]}") --cluster-replicas 1 \
    --cluster-yes >"$raw/cluster-create.log" 2>&1 ||
    { echo "run.sh: cluster create failed:" >&2; tail -5 "$raw/cluster-create.log" >&2; exit 1; }
  for p in "${cluster_ports[@]}"; do
    for _ in $(seq 1 300); do redis-cli -p "$p" cluster info | grep -q cluster_state:ok && break; sleep 0.1; done
  done
  for i in "${!cluster_ports[@]}"; do
    p=${cluster_ports[$i]}
    if [ "$(redis-cli -p "$p" exists 'sm:{stadium}:seq' 2>&1)" = 0 ]; then owner=$i; fi
  done
  [ -n "${owner:-}" ] || { echo "run.sh: no cluster node has the stadium slot" >&2; exit 1; }
  rport=${cluster_ports[$owner]}; redis_pid=${cluster_pids[$owner]}
  redis_url="redis+cluster://$(printf '127.0.0.1:%s,' "${cluster_ports[@]}" | sed 's/,$//')"
}

flush_redis() {
  local p
  if [ $cluster = 1 ]; then
    for p in "${cluster_ports[@]}"; do redis-cli -p "$p" flushall >/dev/null 2>&1 || true; done
  else
    redis-cli -p "$rport" flushall >/dev/null
  fi
}

# A port free_port found may be taken before redis-server binds it (free_port
# only sees listeners; an outgoing connection's port in 32768-40000 is taken
# too): a redis-server that exits is started again on another port.
start_redis() {
  local attempt
  if [ $cluster = 1 ]; then start_cluster; return; fi
  for attempt in 1 2 3 4 5; do
    rport=$(free_port)
    redis_url="redis://127.0.0.1:$rport/0"
    redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" \
      --maxclients 1000 >"$raw/redis.log" 2>&1 &
    redis_pid=$!
    for _ in $(seq 1 100); do
      redis-cli -p "$rport" ping 2>/dev/null | grep -q PONG && return 0
      kill -0 "$redis_pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$redis_pid" 2>/dev/null; then break; fi # running but not answering
    echo "run.sh: redis-server on port $rport exited (attempt $attempt): $(tail -n 1 "$raw/redis.log")" >&2
  done
  echo "run.sh: redis-server did not start; its log:" >&2; tail -n 20 "$raw/redis.log" >&2; exit 1
}

# The servers under test, each listening on $listen_port, run in a
# background subshell that execs them (so $! is the server's pid).
# Every client of the bench comes from 127.0.0.1: the per-address limits
# (docs/security.md) are off, and the total connection cap is above what
# the scenarios open.
exec_seatmapd() { # HOLD_TTL [extra flags...]
  local ttl=$1; shift
  cd "$root" || exit 1
  # shellcheck disable=SC2086
  exec "$SEATMAPD" serve --listen "127.0.0.1:$listen_port" --redis "$redis_url" \
    --db "$tmp/bench.db" --hold-ttl "$ttl" --ip-limits off --max-conns 100000 "$@" ${SEATMAPD_ARGS:-}
}
# The Node peer (bench/node-peer/) serves the stadium from the same venue
# file; seatmapd's own flags (--workers, --rate) mean nothing to it.
exec_node_peer() { # HOLD_TTL [seatmapd flags, ignored]
  cd "$root" || exit 1
  exec node bench/node-peer/server.mjs --listen "127.0.0.1:$listen_port" --redis "$redis_url" \
    --show "stadium=$venue" --hold-ttl "$1"
}

# listen_on PIDVAR PORTVAR LOG COMMAND [args...]: runs COMMAND in the
# background on a free port until its log says it listens. A port that
# free_port found free can be taken meanwhile (the loopback ports of earlier
# runs' clients, other programs): then another one. 1 when it did not start.
listen_on() {
  local pidvar=$1 portvar=$2 log=$3 attempt pid; shift 3
  for attempt in 1 2 3 4 5; do
    listen_port=$(free_port)
    "$@" >"$log" 2>&1 &
    pid=$!
    printf -v "$pidvar" %s "$pid"
    printf -v "$portvar" %s "$listen_port"
    for _ in $(seq 1 200); do
      grep -q "listening on" "$log" 2>/dev/null && return 0
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && break # alive but not listening: give up
    wait "$pid" 2>/dev/null || true
    grep -q "cannot listen" "$log" 2>/dev/null || break
    echo "run.sh: port $listen_port was taken (attempt $attempt); another one" >&2
  done
  return 1
}

# start_server NAME HOLD_TTL [extra flags...]: seatmapd, or with
# server=node the Node peer, on an empty Redis.
server=seatmapd
start_server() {
  local name=$1
  flush_redis
  log=$raw/$server-$name.log
  shift
  local cmd=exec_seatmapd
  if [ "$server" = node ]; then cmd=exec_node_peer; fi
  listen_on server_pid port "$log" "$cmd" "$@" && return 0
  echo "run.sh: $server did not start; its log:" >&2; tail -20 "$log" >&2; exit 1
}

stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

# bench NAME SCENARIO [options...]: runs the tool, keeps its result line.
failed=0
bench() {
  local name=$1; shift
  local rc=0
  local results=$out/results-${name%%-*}.txt
  local perf_pid=""
  echo "== $name" >&2
  if [ -n "${BENCH_PERF:-}" ]; then
    perf record -g -F 499 -p "$server_pid" -o "$raw/perf-$name.data" >/dev/null 2>&1 &
    perf_pid=$!
  fi
  "$SEATMAP_BENCH" "$@" --port "$port" --server-pid "$server_pid" --redis-port "$rport" \
    --redis-pid "$redis_pid" --label "$name${label_suffix:-}" >"$raw/$name.out" 2>"$raw/$name.err" || rc=$?
  if [ -n "$perf_pid" ]; then kill -INT "$perf_pid"; wait "$perf_pid" || true
    echo "run.sh: profile in $raw/perf-$name.data (perf report -i ...)" >&2; fi
  cat "$raw/$name.err" >&2
  cat "$raw/$name.out"
  grep '^result ' "$raw/$name.out" >>"$results" || true
  if [ $rc = 2 ]; then echo "run.sh: $name found a DOUBLE HOLD" >&2; failed=2
  elif [ $rc != 0 ]; then echo "run.sh: $name: the tool failed (exit $rc); seatmapd's log ends:" >&2
    tail -20 "$log" >&2
    if [ $failed = 0 ]; then failed=1; fi
  fi
}

wires=(${BENCH_WIRES:-v1 v2})
peers=(${BENCH_PEERS:-seatmapd})
for peer in "${peers[@]}"; do
  case $peer in seatmapd|node) ;; *) echo "run.sh: BENCH_PEERS: unknown server $peer (seatmapd or node)" >&2; exit 1 ;; esac
  if [ "$peer" = node ] && [ $cluster = 1 ]; then
    echo "run.sh: the Node peer speaks to one Redis, not a cluster (BENCH_REDIS=cluster)" >&2; exit 1
  fi
done
# The run's name for a wire: v1 keeps the plain name.
wname() { if [ "$2" = v1 ]; then echo "$1"; else echo "$1-$2"; fi; }

# BENCH_WORKERS="1 2" runs each size with seatmapd --workers 1, then 2
# (names end in -wN; CPU and RSS are then the supervisor's and its workers').
# BENCH_PEERS="seatmapd node" runs each size against seatmapd and then the
# Node peer (bench/node-peer/, seatmap.v1 only; names end in -node), back to
# back, so both meet the same neighbours.
run_fanout() {
  local sizes=(1000 5000 10000) rate=1000 dur=10 warm=2 buyers=100 wire workers=(1) n name
  local peer
  if [ $smoke = 1 ]; then sizes=(20 50); rate=50; dur=1; warm=0.5; buyers=10; fi
  if [ -n "${BENCH_FANOUT_SIZES:-}" ]; then read -ra sizes <<<"$BENCH_FANOUT_SIZES"; fi
  if [ -n "${BENCH_WORKERS:-}" ]; then read -ra workers <<<"$BENCH_WORKERS"; fi
  dur=${BENCH_DURATION:-$dur}
  # BENCH_FANOUT_RATE=3000 offers more changes than the server can fan out
  # (overload); each buyer holds at most max_seats - 1 seats for hold_ms, so
  # the buyers scale with the rate.
  rate=${BENCH_FANOUT_RATE:-$rate}
  buyers=${BENCH_FANOUT_BUYERS:-$(( buyers * (rate > 1000 ? rate : 1000) / 1000 ))}
  for w in "${sizes[@]}"; do
    for wire in "${wires[@]}"; do
      for peer in "${peers[@]}"; do
        [ "$peer" = seatmapd ] || [ "$wire" = v1 ] || continue # the peer speaks seatmap.v1 only
        for n in "${workers[@]}"; do
          [ "$peer" = seatmapd ] || [ "$n" = "${workers[0]}" ] || continue
          name=$(wname "fanout-$w" "$wire")
          if [ "$peer" = node ]; then name=$name-node
          elif [ ${#workers[@]} -gt 1 ] || [ "$n" != 1 ]; then name=$name-w$n; fi
          server=$peer
          start_server "$name" 120 --workers "$n"
          bench "$name" fanout --watchers "$w" --buyers "$buyers" --rate "$rate" \
            --duration "$dur" --warmup "$warm" --hold-ms 500 --wire "$wire"
          stop_server
          server=seatmapd
        done
      done
    done
  done
}

run_holds() {
  local buyers=100 dur=10 peer name
  [ $smoke = 1 ] && { buyers=5; dur=1; }
  dur=${BENCH_DURATION:-$dur}
  for peer in "${peers[@]}"; do
    name=holds
    if [ "$peer" = node ]; then name=holds-node; fi
    server=$peer
    # The per-connection request limit is an abuse guard, not what is measured.
    start_server "$name" 120 --rate 100000
    bench "$name" holds --buyers "$buyers" --duration "$dur" --warmup 1 --pool 1000 --hold-seats 2
    stop_server
    server=seatmapd
  done
}

run_expiry() {
  local w=1000 holds=10000 junk=100000 ttl=8 wire
  [ $smoke = 1 ] && { w=10; holds=50; junk=1000; ttl=2; }
  if [ -n "${BENCH_EXPIRY_SIZES:-}" ]; then read -r w holds junk <<<"$BENCH_EXPIRY_SIZES"; fi
  holds=${BENCH_EXPIRY_HOLDS:-$holds}
  for wire in "${wires[@]}"; do
    start_server "$(wname expiry "$wire")" "$ttl" --rate 100000
    bench "$(wname expiry "$wire")" expiry --watchers "$w" --holds "$holds" --junk "$junk" --wire "$wire"
    stop_server
  done
}

# The reconnect storm: watchers of the stadium, the server restarts, all come
# back with `since` (resume) and without (a snapshot each). bench/storm.mjs
# starts its own seatmapd processes on this Redis and database.
run_storm() {
  local watchers=${BENCH_STORM_WATCHERS:-10000}
  [ $smoke = 1 ] && watchers=50
  echo "== storm" >&2
  redis-cli -p "$rport" flushall >/dev/null
  node "$root/bench/storm.mjs" --seatmapd "$SEATMAPD" --redis-port "$rport" --db "$tmp/bench.db" \
    --watchers "$watchers" --modes "${BENCH_STORM_MODES:-snapshot,since}" | tee -a "$out/results-storm.txt" || failed=1
}

run_snapshot() {
  local joiners=1000 snaps=20 wire
  [ $smoke = 1 ] && { joiners=20; snaps=3; }
  for wire in "${wires[@]}"; do
    start_server "$(wname snapshot "$wire")" 120
    bench "$(wname snapshot "$wire")" snapshot --joiners "$joiners" --snaps "$snaps" --wire "$wire"
    stop_server
  done
}

run_idle() {
  local conns=10000
  [ $smoke = 1 ] && conns=50
  start_server idle 120
  bench idle idle --conns "$conns"
  stop_server
}

# A second seatmapd on the same Redis and database (after start_server).
start_server2() {
  local name=$1 log2=$raw/seatmapd-$1-2.log; shift
  listen_on server2_pid port2 "$log2" exec_seatmapd "$@" && return 0
  echo "run.sh: the second seatmapd did not start; its log:" >&2; tail -20 "$log2" >&2; exit 1
}

# Best available: the CPU of one pick on the server's own code (seatmap-pick,
# 60k seats, 10k held), then picks over WebSocket with 10k seats held, then
# 200 buyers on two servers racing for pairs in one nearly full section.
run_best() {
  local picks=20000 buyers=50 racers=200 dur=10 preload=10000 section=101 free=450
  [ $smoke = 1 ] && { picks=300; buyers=5; racers=10; dur=1; preload=300; free=40; }
  dur=${BENCH_DURATION:-$dur}
  local pick_tool
  pick_tool=$(dirname "$SEATMAP_BENCH")/seatmap-pick
  echo "== best-pick" >&2
  if "$pick_tool" "$venue" --held "$preload" --picks "$picks" --label best-pick \
      >"$raw/best-pick.out" 2>"$raw/best-pick.err"; then
    cat "$raw/best-pick.out"
    grep '^result ' "$raw/best-pick.out" >>"$out/results-best.txt" || true
  else
    echo "run.sh: seatmap-pick failed:" >&2; cat "$raw/best-pick.err" >&2; failed=1
  fi
  start_server best 120 --rate 100000 --max-seats 100
  bench best-held best --buyers "$buyers" --preload "$preload" --count 2 --duration "$dur" \
    --warmup 1
  stop_server
  # Section 101 has 864 seats: all but $free of them held before the race.
  start_server best-race 120 --rate 100000 --max-seats 100
  start_server2 best-race 120 --rate 100000 --max-seats 100
  bench best-race best --buyers "$racers" --section "$section" --preload $((864 - free)) \
    --count 2 --duration "$dur" --warmup 1 --port2 "$port2"
  kill "$server2_pid" 2>/dev/null || true; wait "$server2_pid" 2>/dev/null || true; server2_pid=""
  stop_server
}

# Soak: mixed holds, releases, expiries, confirms and cancels, reconnects and
# slow readers for SOAK_SECONDS (180; --smoke 20) with 2 s holds, while
# bench/soak.mjs samples seatmapd's RSS and fds; fails when either grows by
# 5 % or more over the second half. Its result line goes to results-soak.txt
# (not part of results.md), the samples (ms rss_kb fds) to raw/soak-samples.txt.
run_soak() {
  local secs=${SOAK_SECONDS:-180} rc=0
  [ $smoke = 1 ] && secs=20
  printf 'soak-password-1234\n' | "$SEATMAPD" user add soak --role admin --db "$tmp/bench.db" \
    >"$raw/soak-user.log" 2>&1 || { echo "run.sh: user add failed:" >&2; cat "$raw/soak-user.log" >&2; exit 1; }
  start_server soak 2 --demo --web "$root/web"
  echo "== soak ($secs s)" >&2
  node "$root/bench/soak.mjs" --port "$port" --pid "$server_pid" --user soak \
    --password soak-password-1234 --seconds "$secs" --samples "$raw/soak-samples.txt" \
    >"$raw/soak.out" || rc=$?
  cat "$raw/soak.out"
  grep '^result ' "$raw/soak.out" >>"$out/results-soak.txt" || true
  stop_server
  if [ $rc != 0 ]; then echo "run.sh: soak failed (exit $rc); seatmapd's log ends:" >&2; tail -20 "$log" >&2; fi
  exit $rc
}

# The Markdown report from the result lines.
report() {
  local md=$out/results.md dat=$out/fanout.dat files=() s
  for s in fanout holds expiry snapshot idle best storm; do
    if [ -s "$out/results-$s.txt" ]; then files+=("$out/results-$s.txt"); fi
  done
  [ ${#files[@]} -gt 0 ] || { echo "run.sh: no scenario produced a result" >&2; exit 1; }
  {
    echo "# seatmap benchmark results"
    echo
    echo "Generated by \`bench/run.sh $scenario$([ $smoke = 1 ] && echo ' --smoke')\` on $(date -u +%Y-%m-%dT%H:%MZ)" \
      "from the result lines in results-<scenario>.txt. Each row was measured alone; its last" \
      "column is the CPU that other programs on the machine used during that row's window."
    echo
    echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores," \
      "$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM," \
      "Linux $(uname -r).$([ "$scenario" = report ] || echo " Load average before/after: $load_before / $(cut -d' ' -f1-3 /proc/loadavg).")"
    echo "seatmapd: $("$SEATMAPD" --version 2>/dev/null | head -1 || true)" \
      "git $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo none)$(git -C "$root" diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')."
    echo
    awk -f "$root/bench/report.awk" "${files[@]}"
  } >"$md"
  awk '$2 == "fanout" && $3 !~ /-w([2-9]|[1-9][0-9])$/ { for (i = 3; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
       print v["watchers"], v["lat_ms_p50"], v["lat_ms_p99"], v["lat_ms_p999"], v["lat_ms_max"],
             v["server_cpu_pct"], v["gen_cpu_pct"] }' "${files[@]}" | sort -n >"$dat"
  if [ -s "$dat" ] && command -v gnuplot >/dev/null; then
    gnuplot <<EOF 2>"$raw/gnuplot.err" || echo "run.sh: gnuplot failed (see $raw/gnuplot.err)" >&2
set terminal png size 800,500
set output "$out/fanout.png"
set title "seatmapd fan-out: change -> arrival at every watcher (1,000 changes/s)"
set xlabel "watchers on one show"
set ylabel "latency (ms)"
set y2label "CPU (% of one core)"
set ytics nomirror
set y2tics
set key top left
set grid
set yrange [0:*]
set y2range [0:*]
plot "$dat" using 1:2 with linespoints lw 2 title "p50", \
     "$dat" using 1:3 with linespoints lw 2 title "p99", \
     "$dat" using 1:4 with linespoints lw 2 title "p99.9", \
     "$dat" using 1:5 with linespoints dt 2 title "max", \
     "$dat" using 1:6 axes x1y2 with linespoints dt 3 title "server CPU %", \
     "$dat" using 1:7 axes x1y2 with linespoints dt 3 title "generator CPU %", \
     150 with lines dt 4 lc rgb "red" title "p99 target"
EOF
  fi
  echo "run.sh: wrote $md" >&2
}

if [ "$scenario" = report ]; then load_before=$(cut -d' ' -f1-3 /proc/loadavg); report; exit 0; fi

# A scenario's results replace its previous ones; the report shows them all.
for s in fanout holds expiry snapshot idle best storm; do
  if [ "$scenario" = all ] || [ "$scenario" = $s ]; then : >"$out/results-$s.txt"; fi
done
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
start_redis
"$SEATMAPD" show add stadium --venue "$venue" --name Stadium --db "$tmp/bench.db" \
  >"$raw/show-add.log" 2>&1 || { echo "run.sh: show add failed:" >&2; cat "$raw/show-add.log" >&2; exit 1; }

case $scenario in
  soak) run_soak ;;
  all) run_fanout; run_holds; run_expiry; run_snapshot; run_idle; run_best ;;
  *) "run_$scenario" ;;
esac
report
if [ $smoke = 1 ]; then cat "$out/results.md" >&2; fi
exit $failed
