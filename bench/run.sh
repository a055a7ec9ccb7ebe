#!/usr/bin/env bash
# bench/run.sh: announce throughput of the embedded gateway and of the production shape next to opentracker,
# measured in the same run on this machine, with the repo's own load generator in bench/load (wrk +
# announce.lua, repeat.sh).
#
#   bench/run.sh                                   # default: 10k torrents x 25 peers, 3 runs of 20 s
#   BENCH_DURATION=5s BENCH_RUNS=1 bench/run.sh    # quick end-to-end trial
#   BENCH_PRODUCTION=0 bench/run.sh                # without the production shape
#   BENCH_HOT=1 bench/run.sh                       # hot swarm: one torrent with 100,000 peers
#
# Steps: publish the gateway (and the silo) in Release into a temporary folder; start opentracker with a
# whitelist of the load's info hashes; start the embedded gateway on a free loopback port with a random admin
# token and register the load's passkeys and info hashes through the admin API; likewise the production shape
# (PostgreSQL, Redis, 2 silos, a gateway); for each server run a verification (check=1), a fill run that
# announces every peer once (check=1), the measured runs (warm=1, medians from bench/load/repeat.sh) and a
# short check of the measured traffic. A warm-up run of the measured traffic (BENCH_WARMUP, checked, not
# measured) comes before each server's measured runs. Prints one table. Everything it starts is stopped on exit, also on
# failure or Ctrl-C.
set -euo pipefail

# ------------------------------------------------------------------ settings (env overridable)
HOT=${BENCH_HOT:-0}                      # 1: hot swarm, one torrent (BENCH_TORRENTS=1 BENCH_PEERS=100000 by default)
if [[ $HOT == 1 ]]; then default_torrents=1 default_peers=100000; else default_torrents=10000 default_peers=25; fi
TORRENTS=${BENCH_TORRENTS:-$default_torrents}  # torrent pool (whitelist / registered torrents)
PEERS=${BENCH_PEERS:-$default_peers}     # peers per torrent per wrk thread
PASSKEYS=${BENCH_PASSKEYS:-1000}         # users registered on our tracker (private=1)
THREADS=${BENCH_THREADS:-1}              # wrk -t
CONNS=${BENCH_CONNECTIONS:-64}           # wrk -c
DURATION=${BENCH_DURATION:-20s}          # wrk -d of each measured run
RUNS=${BENCH_RUNS:-3}                    # measured runs per mode (medians)
WARMUP=${BENCH_WARMUP:-15s}              # per server, a run of the measured traffic before the measured ones (0: none)
CHECK_DURATION=${BENCH_CHECK_DURATION:-5s}  # verification runs (check=1)
FILL_MAX=${BENCH_FILL_MAX:-180}          # upper bound, seconds, of one fill run
SEED_PARALLEL=${BENCH_SEED_PARALLEL:-8}  # concurrent admin requests while registering
KEEP=${BENCH_KEEP:-0}                    # 1: keep the work folder (logs, publish output)
PRODUCTION=${BENCH_PRODUCTION:-1}        # 1: also the production shape (2 silos + 1 gateway on PostgreSQL and Redis)

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
need_flag "BENCH_HOT=$HOT" "BENCH_KEEP=$KEEP" "BENCH_PRODUCTION=$PRODUCTION"
need_count "BENCH_TORRENTS=$TORRENTS" "BENCH_PEERS=$PEERS" "BENCH_PASSKEYS=$PASSKEYS" "BENCH_THREADS=$THREADS" \
  "BENCH_CONNECTIONS=$CONNS" "BENCH_RUNS=$RUNS" "BENCH_FILL_MAX=$FILL_MAX" "BENCH_SEED_PARALLEL=$SEED_PARALLEL"
need_duration "BENCH_DURATION=$DURATION" "BENCH_CHECK_DURATION=$CHECK_DURATION"
[[ $WARMUP == 0 ]] || need_duration "BENCH_WARMUP=$WARMUP"
((CONNS >= THREADS)) || die "bad setting BENCH_CONNECTIONS=$CONNS: at least BENCH_THREADS ($THREADS) are needed"
bench_start bench
wrkopts="-t$THREADS -c$CONNS -d$DURATION"

# verify + fill for one server, how many peers it holds (scrapes), then the warm-up; dies when the traffic is refused
declare -A held
prepare_server() {  # prepare_server NAME URL SCRAPE_PREFIX [announce.lua options]
  local name=$1 url=$2 scrape=$3; shift 3
  log "$name: verification, $CHECK_DURATION, check=1"
  wrk_once "$name-verify" "$url" "-t$THREADS -c$CONNS -d$CHECK_DURATION" "$@" check=1
  require_clean "$name-verify"
  fill_run "$name-fill" "$url" "$@"
  held[$name]=$(peers_held "$scrape" "$work/infohashes.txt")
  log "$name: holds ${held[$name]} peers after the fill (scrape)"
  warm_up "$name" "$url" "$@"
}

# A run of the measured traffic that is not measured (checked, like every run), so that the measured runs see the
# steady state: right after the fill, the production shape's first flushes insert every filled peer's row, and
# the first run after it had up to twice the p99 of the next two (15-23 ms against 8.5-15 ms in runs of 2026-11-28).
warm_up() {  # warm_up NAME URL [announce.lua options]
  local name=$1 url=$2; shift 2
  [[ $WARMUP == 0 ]] && return
  log "$name: warm-up, $WARMUP of the measured traffic (not measured), check=1"
  wrk_once "$name-warmup" "$url" "-t$THREADS -c$CONNS -d$WARMUP" "$@" warm=1 check=1
  require_clean "$name-warmup"
}

# measure NAME PID "MORE_PIDS" URL [announce.lua options]: repeat.sh medians (with the RSS of MORE_PIDS'
# process trees after each run), then a check of the same traffic
measure() {
  local name=$1 pid=$2 more=$3 url=$4; shift 4
  log "$name: $RUNS measured run(s), $wrkopts, warm=1 $*"
  "$load/repeat.sh" -p "$pid" -n "$RUNS" -w "$wrkopts" ${more:+-r "$more"} "$url" "$@" warm=1 | tee "$work/$name.bench" | sed 's/^/  /' >&2 \
    || die "$name: bench/load/repeat.sh failed"
  grep -q '^median ' "$work/$name.bench" || die "$name: repeat.sh printed no medians"
  log "$name: check of the measured traffic, $CHECK_DURATION"
  wrk_once "$name-postcheck" "$url" "-t$THREADS -c$CONNS -d$CHECK_DURATION" "$@" warm=1 check=1
  require_clean "$name-postcheck"
}

# ------------------------------------------------------------------ build and pools
publish_gateway
[[ $PRODUCTION == 1 ]] && publish_silo
luajit "$load/announce.lua" dump=hashes torrents="$TORRENTS" > "$work/infohashes.txt"
luajit "$load/announce.lua" dump=passkeys passkeys="$PASSKEYS" > "$work/passkeys.txt"
[[ $(wc -l < "$work/infohashes.txt") == "$TORRENTS" && $(wc -l < "$work/passkeys.txt") == "$PASSKEYS" ]] \
  || die "announce.lua dump gave unexpected pool sizes"
passkey=$(head -n 1 "$work/passkeys.txt")   # for scrapes

# ------------------------------------------------------------------ servers
start_opentracker opentracker "$work/infohashes.txt"
start_embedded gateway
register "$gw_url" "$work/passkeys.txt" "$work/infohashes.txt"
if [[ $PRODUCTION == 1 ]]; then
  start_services "$work/services"
  start_cluster production
  register "$prod_url" "$work/passkeys.txt" "$work/infohashes.txt"
fi

# ------------------------------------------------------------------ runs
pool=(torrents="$TORRENTS" peers="$PEERS")
wrapped=0
# more peers than ports (1025-65535): ports wrap; ours tells peers apart by peer_id, opentracker by address
if ((THREADS * PEERS > 64511)); then wrapped=1; pool+=(wrap=1); fi
ours=("${pool[@]}" private=1 passkeys="$PASSKEYS")

prepare_server opentracker "$ot_url" "$ot_url" "${pool[@]}"
measure opentracker "$ot_pid" "" "$ot_url" "${pool[@]}"

prepare_server ours "$gw_url" "$gw_url/$passkey" "${ours[@]}"
measure ours-keepalive "$gw_pid" "" "$gw_url" "${ours[@]}"
measure ours-close "$gw_pid" "" "$gw_url" "${ours[@]}" close=1

if [[ $PRODUCTION == 1 ]]; then
  # The embedded tracker stops first, so the production processes have the machine to themselves.
  stop_process "$gw_pid"
  prepare_server production "$prod_url" "$prod_url/$passkey" "${ours[@]}"
  # What the measured traffic wrote to PostgreSQL: its WAL (every byte the database writes goes there first) and
  # the peer rows written, so the bytes per changed peer can be read against a peer entry's 76 bytes.
  # And the bytes the silos sent PostgreSQL: the flushes' rows as the tracker writes them.
  wal_before=$(pg_sql "select pg_current_wal_lsn()"); rows_before=$(peer_rows_written); db_t0=$SECONDS
  sent_before=$(bytes_sent_to_pg "${silo_pids[@]}")
  measure production-keepalive "$prod_pid" "${silo_pids[*]}" "$prod_url" "${ours[@]}"
  sleep 2   # other sessions' table statistics reach pg_stat_user_tables within a second or so
  db_secs=$((SECONDS - db_t0)); wal_bytes=$(pg_sql "select pg_wal_lsn_diff(pg_current_wal_lsn(), '$wal_before')::bigint")
  rows_written=$(($(peer_rows_written) - rows_before)); sent_to_pg=$(($(bytes_sent_to_pg "${silo_pids[@]}") - sent_before))
  pg_pss=$(tree_pss_kb "$pg_pid"); redis_pss=$(tree_pss_kb "$redis_pid")
fi

# ------------------------------------------------------------------ table
median_of() { sed -nE "s/^median (.* )?$2=([0-9,]+).*/\2/p" "$work/$1.bench"; }
# errors summed over the measured runs, by kind (wrk's connect/read/write/status errors and timeouts)
errors_of() {
  grep '^run ' "$work/$1.bench" | grep -oE '[a-z]+_errors=[0-9]+|timeouts=[0-9]+' \
    | awk -F= '{sub(/_errors$/, "", $1); s[$1] += $2} END {o = ""; for (k in s) if (s[k] > 0) o = o (o == "" ? "" : ",") k "=" s[k]; print (o == "" ? "0" : o)}'
}
label_of() {
  case $1 in
    opentracker) echo "opentracker (conn close)";;
    ours-keepalive) echo "ours keep-alive";;
    ours-close) echo "ours close=1";;
    production-keepalive) echo "production keep-alive";;
  esac
}
ms() { echo "$1 / 1000" | bc -l; }
modes=(opentracker ours-keepalive ours-close)
[[ $PRODUCTION == 1 ]] && modes+=(production-keepalive)

ot_rps=$(median_of opentracker rps)
{
  echo
  header_line bench/run.sh
  [[ $HOT == 1 ]] && echo "hot swarm: $TORRENTS torrent(s), $((THREADS * PEERS)) peers each"
  echo "load: bench/load/announce.lua torrents=$TORRENTS peers=$PEERS (x$THREADS thread(s))$( ((wrapped)) && echo ' wrap=1'), ours private=1 passkeys=$PASSKEYS; wrk $wrkopts warm=1, median of $RUNS run(s)"
  row='%-24s %8s %7s %7s %8s %-20s %8s %9s %9s %7s %9s %8s %8s %6s\n'
  # shellcheck disable=SC2059  # the format is the row's
  printf "$row" mode req/s p50_ms p99_ms p99.9_ms "errors (all runs)" rss_MiB silo1_MiB silo2_MiB pg_MiB redis_MiB srv_cpu% wrk_cpu% ratio
  for m in "${modes[@]}"; do
    rps=$(median_of "$m" rps)
    more=(- - - -)
    if [[ $m == production-* ]]; then
      IFS=, read -r -a more <<< "$(median_of "$m" more_rss_max_kb),${pg_pss:--},${redis_pss:--}"
      for i in "${!more[@]}"; do [[ ${more[i]} == - ]] || more[i]=$(printf '%.1f' "$(mib "${more[i]}")"); done
    fi
    # shellcheck disable=SC2059
    printf "$row" "$(label_of "$m")" "$rps" \
      "$(printf '%.2f' "$(ms "$(median_of "$m" p50_us)")")" "$(printf '%.2f' "$(ms "$(median_of "$m" p99_us)")")" \
      "$(printf '%.2f' "$(ms "$(median_of "$m" p999_us)")")" "$(errors_of "$m")" \
      "$(printf '%.1f' "$(mib "$(median_of "$m" rss_max_kb)")")" "${more[@]}" \
      "$(median_of "$m" server_cpu)" "$(median_of "$m" wrk_cpu)" "$(printf '%.2f' "$(echo "$rps / $ot_rps" | bc -l)")"
  done
  echo
  # loopback TCP is mostly kernel time that neither process is charged for: this split shows it
  printf '%-24s %8s %7s %7s %8s\n' "CPU split (% of machine)" user sys softirq idle
  for m in "${modes[@]}"; do
    printf '%-24s %8s %7s %7s %8s\n' "$(label_of "$m")" "$(median_of "$m" cpu_user)" "$(median_of "$m" cpu_sys)" \
      "$(median_of "$m" cpu_softirq)" "$(median_of "$m" cpu_idle)"
  done
  echo
  echo "ratio = req/s / opentracker req/s. opentracker closes every connection without saying so: its"
  echo "read errors are wrk reconnecting (expected, see bench/README.md). rss = largest VmRSS seen after a"
  echo "measured run (production: the gateway's; silo1/silo2: each silo's). pg / redis = PSS summed over the"
  echo "PostgreSQL / Redis process tree after the runs (shared buffers counted once; '-' if not readable)."
  echo "srv_cpu / wrk_cpu = median CPU in percent of one core. All runs passed check=1."
  echo "peers held after the fill (scrape, of $((THREADS * TORRENTS * PEERS)) announced): opentracker ${held[opentracker]}, ours ${held[ours]}$([[ $PRODUCTION == 1 ]] && echo ", production ${held[production]}")"
  if [[ $PRODUCTION == 1 ]]; then
    echo "production database writes over the measured runs and their checks (${db_secs}s): $(printf '%.1f' "$(mib $((wal_bytes / 1024)))") MiB of WAL"
    echo "($((wal_bytes / db_secs / 1024)) KiB/s), $rows_written tracker_peers rows written ($((rows_written / db_secs))/s):" \
      "$((wal_bytes / (rows_written > 0 ? rows_written : 1))) bytes of WAL per peer row written (a peer entry is 76 bytes);"
    echo "the silos sent PostgreSQL $(printf '%.1f' "$(mib $((sent_to_pg / 1024)))") MiB: $((sent_to_pg / (rows_written > 0 ? rows_written : 1))) bytes per peer row written" \
      "(with its user's history row and totals)."
  fi
  ((wrapped)) && echo "wrap=1: more peers than ports, so peers share ports; opentracker tells peers apart by address and holds at most 64,511 of them per torrent."
  true
} | tee "$work/table.txt"
