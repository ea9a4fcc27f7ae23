# bench/report.awk - turns seatmap-bench "result" lines into Markdown tables.
# Input: lines "result <scenario> key=value ..."; one table per scenario,
# with the issue's target beside each measured figure.
function get(k) { return (k in v) ? v[k] : "-" }
function mb(kb) { return (kb == "-" || kb < 0) ? "-" : sprintf("%.0f", kb / 1024) }
function cpu(x) { return (x == "-" || x < 0) ? "-" : sprintf("%.0f", x) }
$1 == "result" {
  delete v
  for (i = 3; i <= NF; i++) { n = index($i, "="); if (n) v[substr($i, 1, n - 1)] = substr($i, n + 1) }
  s = $2; rows[s] = rows[s] row(s) "\n"
  # seatmapd and the Node peer (runs named ...-node) side by side
  if (s == "fanout") peer = peer peerrow() "\n"
  if (s == "fanout" && get("label") ~ /-node$/) havepeer = 1
}
function peerrow() {
  return sprintf("| %s | %s | %s | %s | %s | %s | %s | %s | %s / %s | %s | %s | %s | %s | %s | %s |",
    get("label") ~ /-node$/ ? "node" : "seatmapd", get("wire"), get("watchers"), get("rate"),
    sprintf("%.0f", get("changes") / get("window_s")), get("lat_ms_p50"), get("lat_ms_p99"),
    get("lat_ms_max"), get("hold_rtt_ms_p50"), get("hold_rtt_ms_p99"), get("missing"),
    get("seq_gaps"), cpu(get("server_cpu_pct")), get("frames_per_s"), get("server_us_per_frame"),
    get("server_us_per_change")) oth()
}
# CPU used by other programs on the machine during the window (% of one core)
function oth() { return sprintf(" %s |", cpu(get("others_cpu_pct"))) }
function row(s) {
  if (s == "fanout")
    return sprintf("| %s | %s | %.0f | %s | %s | %s | %s | %s / %s | %s / %s | %s / %s | %s | %s | %s | %s | %s | %s | %s | %s |",
      get("wire"), get("watchers") (get("label") ~ /-w[0-9]+$/ ? " (--workers " substr(get("label"), match(get("label"), /-w[0-9]+$/) + 2) ")" : ""),
      get("changes") / get("window_s"), get("lat_ms_p50"), get("lat_ms_p99"),
      get("lat_ms_p999"), get("lat_ms_max"), get("hold_rtt_ms_p50"), get("hold_rtt_ms_p99"),
      get("hold_srv_ms_p50"), get("hold_srv_ms_p99"), get("arrivals"), get("expected"), get("missing"),
      get("seq_gaps"), get("delta_bytes_per_seat"), cpu(get("server_cpu_pct")), get("server_us_per_frame"), mb(get("server_rss_kb")),
      cpu(get("redis_cpu_pct")), cpu(get("gen_cpu_pct"))) oth()
  if (s == "holds")
    return sprintf("| %s | %s | %s | %s | %s / %s | %s / %s | %s | %s | %s | %s / %s | %s | %s | %s | %s | %s |",
      get("label") ~ /-node$/ ? "node" : "seatmapd", get("buyers"), get("pairs_per_s"), get("requests_per_s"), get("hold_rtt_ms_p50"),
      get("hold_rtt_ms_p99"), get("hold_srv_ms_p50"), get("hold_srv_ms_p99"), get("hold_ok"), get("seat_unavailable"),
      get("hold_other") + get("release_err") + get("rate_limited") + get("hold_limit"),
      get("client_doubles"), get("redis_doubles"), cpu(get("server_cpu_pct")),
      get("server_us_per_request"), cpu(get("redis_cpu_pct")), get("redis_us_per_request"),
      cpu(get("gen_cpu_pct"))) oth()
  if (s == "expiry")
    return sprintf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s | %s | %s | %s | %s |",
      get("wire"), get("holds"), get("watchers"), get("junk_keys"), get("deadline_spread_ms"),
      get("after_deadline_ms_p50"), get("after_deadline_ms_p99"),
      get("after_deadline_ms_p999"), get("after_deadline_ms_max"), get("arrivals"),
      get("expected"), get("missing"), get("delta_bytes_per_seat"), cpu(get("server_cpu_pct")), cpu(get("redis_cpu_pct"))) oth()
  if (s == "snapshot")
    return sprintf("| %s | %s | %s | %.1f | %s | %s | %s / %s | %s | %s / %s | %s |",
      get("wire"), get("seats"), get("frame_bytes"), get("frame_bytes") / 1024, get("single_ms_p50"),
      get("single_ms_max"), get("joined"), get("joiners"), get("all_joined_ms"),
      get("join_ms_p50"), get("join_ms_p99"), cpu(get("server_cpu_pct"))) oth()
  if (s == "idle")
    return sprintf("| %s | %s | %s | %s | %.1f | %s | %.1f | %s |",
      get("open"), mb(get("rss_before_kb")), mb(get("rss_hello_kb")), get("bytes_per_conn"),
      get("bytes_per_conn") / 1024, get("bytes_per_watching_conn"),
      get("bytes_per_watching_conn") / 1024, cpu(get("server_cpu_pct"))) oth()
  if (s == "pick")
    return sprintf("| %s | %s | %s | %s | %s | %s | %s | %s |", get("seats"), get("held"),
      get("picks"), get("pick_us_p50"), get("pick_us_p99"), get("pick_us_p999"), get("pick_us_max"),
      get("failed"))
  if (s == "best")
    return sprintf("| %s | %s | %s | %s | %s | %s | %s / %s | %s | %s | %s | %s / %s | %s | %s | %s |",
      get("label"), get("servers"), get("buyers"), get("section"), get("preload"),
      get("picks_per_s"), get("best_rtt_ms_p50"), get("best_rtt_ms_p99"), get("retries"),
      get("retries_per_pick"), get("seat_unavailable"), get("client_doubles"),
      get("redis_doubles"), cpu(get("server_cpu_pct")), get("server_us_per_pick_and_release"),
      cpu(get("redis_cpu_pct"))) oth()
  if (s == "storm")
    return sprintf("| %s | %s | %s | %s | %s | %s | %s | %s | %s |", get("watchers"), get("mode"),
      get("all_in_sync_ms"), get("server_cpu_ms"), get("storm_cpu_ms"), get("resumed"),
      get("snapshots"), get("bytes_in"), get("gen_cpu_ms"))
  return ""
}
END {
  if ("storm" in rows) {
    print "## Reconnect storm: the server restarts under its watchers\n"
    print "Target: 10k watchers of the stadium all in sync <= 2 s after the new process listens, < 1 core-second.\n"
    print "| watchers | reconnect | all in sync ms | server CPU ms (from start) | of it the storm ms | resumed | snapshots | bytes to watchers | generator CPU ms |"
    print "| ---: | :--- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    printf "%s\n", rows["storm"]
  }
  if ("fanout" in rows) {
    print "## 1. Fan-out: change -> arrival at every watcher\n"
    print "Target: 10k watchers at 1,000 changes/s, p99 <= 150 ms, nothing lost, server <= 100 % of one core.\n"
    print "| wire | watchers | changes/s | p50 ms | p99 ms | p99.9 ms | max ms | hold RTT p50 / p99 ms | hold reply in the server p50 / p99 ms | arrivals / expected | missing | seq gaps | delta bytes / seat | server CPU % | server CPU µs / frame | server RSS MB | redis CPU % | generator CPU % | other programs CPU % |"
    print "| :--- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    printf "%s\n", rows["fanout"]
  }
  if (havepeer) {
    print "### Fan-out against the Node peer (bench/node-peer/, run back to back)\n"
    print "Issue 13: seatmapd 10 times the Node peer's sustained changes/s at a fifth of its p99.\n"
    print "| server | wire | watchers | offered /s | changes/s made | p50 ms | p99 ms | max ms | hold RTT p50 / p99 ms | missing | seq gaps | server CPU % | frames /s | server CPU µs / frame | server CPU µs / change | other programs CPU % |"
    print "| :--- | :--- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    printf "%s\n", peer
  }
  if ("holds" in rows) {
    print "## 2. Holds: hold + release as fast as the server answers\n"
    print "Target: >= 20,000 hold+release per second, 0 double holds.\n"
    print "| server | buyers | hold+release /s | requests /s | hold RTT p50 / p99 ms | hold reply in the server p50 / p99 ms | holds ok | seat_unavailable | other errors | double holds (client / Redis) | server CPU % | server CPU µs / request | redis CPU % | redis CPU µs / request | generator CPU % | other programs CPU % |"
    print "| :--- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    printf "%s\n", rows["holds"]
  }
  if ("expiry" in rows) {
    print "## 3. Expiry: deadline -> every watcher sees the seat free\n"
    print "Target: p99 <= 250 ms, max <= 1 s after the deadline.\n"
    print "| wire | holds | watchers | unrelated TTL keys | deadline spread ms | p50 ms | p99 ms | p99.9 ms | max ms | seen / expected | missing | delta bytes / seat | server CPU % | redis CPU % | other programs CPU % |"
    print "| :--- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    printf "%s\n", rows["expiry"]
  }
  if ("snapshot" in rows) {
    print "## 4. Snapshot\n"
    print "Target: a 60k-seat snapshot <= 70 KB.\n"
    print "| wire | seats | frame bytes | KiB | one snapshot p50 ms | max ms | joined | all joined ms | join p50 / p99 ms | server CPU % | other programs CPU % |"
    print "| :--- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    printf "%s\n", rows["snapshot"]
  }
  if ("idle" in rows) {
    print "## 5. Idle connections\n"
    print "Target: <= 10 KB of server memory per idle connection.\n"
    print "| connections | RSS before MB | RSS after hello MB | bytes / conn | KiB / conn | bytes / watching conn | KiB / watching conn | server CPU % idle | other programs CPU % |"
    print "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    printf "%s\n", rows["idle"]
  }
  if ("pick" in rows || "best" in rows) {
    print "## 6. Best available\n"
    print "Target: one pick on the 60k-seat stadium with 10k seats held under 1 ms of server CPU at p99.\n"
  }
  if ("pick" in rows) {
    print "CPU of one pick (the server's code, timed with the thread's CPU clock):\n"
    print "| seats | held | picks | p50 µs | p99 µs | p99.9 µs | max µs | nothing fitted |"
    print "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    printf "%s\n", rows["pick"]
  }
  if ("best" in rows) {
    print "Over WebSocket: each buyer asks for the best 2 seats and releases them, one request in flight:\n"
    print "| run | servers | buyers | section | seats held first | picks /s | best RTT p50 / p99 ms | retries | retries / pick | seat_unavailable | double holds (client / Redis) | server CPU % | server CPU µs / pick + release | redis CPU % | other programs CPU % |"
    print "| :--- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    printf "%s\n", rows["best"]
  }
}
