#!/usr/bin/env bash
# bench/compare.sh BASE [CHANGED]: two versions of the tracker in the production shape (2 silos and a gateway on
# PostgreSQL and Redis, as bench/run.sh starts it), alternating BASE, CHANGED, BASE, CHANGED ... on fresh services
# each time, under the bench's keep-alive load. BASE and CHANGED are git revisions; without CHANGED, the working tree.
#
# Each run: register, fill (every peer once, checked), a warm-up (checked), then one measured run. It prints a line
# per run: announces a second, p99, and the CPU time (utime + stime from /proc) each process spent per announce:
# the gateway, the two silos together, PostgreSQL (the postmaster and its backends). On a shared, noisy machine
# whole-run throughput spreads by 10 % or more between runs of one commit; CPU per announce and alternating runs are
# what make a change visible. With BENCH_EXPLAIN=1 PostgreSQL logs every statement's plan and time
# (auto_explain), and each run also prints the mean time per execution of the statements of the measured run, by
# the statement's first words: where the flushes' time goes, waits on row locks included. Each run also prints the
# WAL PostgreSQL wrote per tracker_peers row written (bytes, which CPU noise does not move).
set -euo pipefail

ROUNDS=${BENCH_ROUNDS:-2}                 # runs per version, alternating
DURATION=${BENCH_DURATION:-20s}           # the measured run
WARMUP=${BENCH_WARMUP:-10s}               # the checked warm-up run before it
EXPLAIN=${BENCH_EXPLAIN:-0}               # 1: per-statement times of the measured run (auto_explain)
TORRENTS=${BENCH_TORRENTS:-10000}         # torrent pool
PEERS=${BENCH_PEERS:-25}                  # peers per torrent per wrk thread
PASSKEYS=${BENCH_PASSKEYS:-1000}          # users registered; the load uses private=1
THREADS=${BENCH_THREADS:-1}               # wrk -t
CONNS=${BENCH_CONNECTIONS:-64}            # wrk -c
FILL_MAX=${BENCH_FILL_MAX:-180}           # upper bound, seconds, of one fill run
SEED_PARALLEL=${BENCH_SEED_PARALLEL:-8}   # concurrent admin requests while registering
KEEP=${BENCH_KEEP:-0}                     # 1: keep the work folder (logs, publish output, PostgreSQL logs)

source "$(dirname "$0")/lib.sh"
(($# == 1 || $# == 2)) || die "usage: bench/compare.sh BASE [CHANGED] (git revisions; without CHANGED, the working tree)"
need_count "BENCH_ROUNDS=$ROUNDS" "BENCH_TORRENTS=$TORRENTS" "BENCH_PEERS=$PEERS" "BENCH_PASSKEYS=$PASSKEYS" \
  "BENCH_THREADS=$THREADS" "BENCH_CONNECTIONS=$CONNS" "BENCH_FILL_MAX=$FILL_MAX" "BENCH_SEED_PARALLEL=$SEED_PARALLEL"
need_flag "BENCH_EXPLAIN=$EXPLAIN" "BENCH_KEEP=$KEEP"
need_duration "BENCH_DURATION=$DURATION" "BENCH_WARMUP=$WARMUP"
((CONNS >= THREADS)) || die "bad setting BENCH_CONNECTIONS=$CONNS: at least BENCH_THREADS ($THREADS) are needed"
((THREADS * PEERS <= 64511)) || die "bad setting BENCH_PEERS=$PEERS: threads x peers must stay within 64,511 (ports)"
revision() { git -C "$repo" rev-parse --verify --quiet "$1^{commit}" || die "bad revision $1: not a commit of this repository"; }
base=$(revision "$1")
changed=worktree
if (($# == 2)); then changed=$(revision "$2"); fi

bench_start compare

# version_source NAME REVISION: the sources of a revision, exported into the work folder (the working tree as it is)
version_source() {
  if [[ $2 == worktree ]]; then echo "$repo"; return; fi
  mkdir -p "$work/src-$1"
  git -C "$repo" archive "$2" | tar -x -C "$work/src-$1"
  echo "$work/src-$1"
}
# publish_version NAME REVISION: its gateway and silo in $work/NAME-gateway and $work/NAME-silo
publish_version() {
  local src
  src=$(version_source "$1" "$2")
  log "$1: $2"
  publish "$src/Gateway/Chihaya.Orleans.Gateway.csproj" "$work/$1-gateway" "$work/artifacts-$1"
  publish "$src/Silo/Chihaya.Orleans.Silo.csproj" "$work/$1-silo" "$work/artifacts-$1"
}
publish_version base "$base"
publish_version changed "$changed"

luajit "$load/announce.lua" dump=hashes torrents="$TORRENTS" > "$work/hashes.txt"
luajit "$load/announce.lua" dump=passkeys passkeys="$PASSKEYS" > "$work/passkeys.txt"
ours=(torrents="$TORRENTS" peers="$PEERS" private=1 passkeys="$PASSKEYS")
wrkopts="-t$THREADS -c$CONNS"

# PostgreSQL's CPU ticks: the postmaster and every backend it has now
pg_ticks() { local sum=0 pid; for pid in "$pg_pid" $(pgrep -P "$pg_pid"); do sum=$((sum + $(cpu_ticks "$pid" 2>/dev/null || echo 0))); done; echo "$sum"; }
# us_per_announce TICKS REQUESTS
us_per_announce() { echo "scale=1; $1 * 1000000 / $(getconf CLK_TCK) / $2" | bc; }

# statements LOG OFFSET: the auto_explain entries written after OFFSET, summed by the statement's first 48 characters
statements() {
  tail -c "+$(($2 + 1))" "$1" | awk '
    function flush() { if (ms != "" && text != "") { n[text]++; t[text] += ms } ms = ""; text = "" }
    /LOG:  duration: [0-9.]+ ms  plan:/ { flush(); match($0, /duration: [0-9.]+/); ms = substr($0, RSTART + 10, RLENGTH - 10); next }
    ms != "" && text == "" && /Query Text: / { sub(/.*Query Text: /, ""); gsub(/[ \t]+/, " "); text = substr($0, 1, 48) }
    ms != "" && text != "" && /tracker_peers/ && text ~ /^with v as/ { text = "with v as ... (tracker_peers)" }
    ms != "" && text != "" && /user_torrents/ && text ~ /^with v as/ { text = "with v as ... (user_torrents)" }
    END { flush(); for (k in n) printf "%10.1f ms %7d x %8.3f ms  %s\n", t[k], n[k], t[k] / n[k], k }' | sort -rn | head -12
}

rows=()
one_run() {  # one_run VERSION ROUND
  local name=$1-$2 dir=$work/svc-$1-$2 pglog offset=0 requests p99 t0 t1 g0 g1 p0 p1 s0=0 s1=0 pid w0 w1 r0 r1 wal
  start_services "$dir"
  pglog=$dir/pg/server.log
  if [[ $EXPLAIN == 1 ]]; then
    [[ -r $pglog ]] || die "BENCH_EXPLAIN=1 needs to read PostgreSQL's log $pglog (run as root)"
    printf "session_preload_libraries = 'auto_explain'\nauto_explain.log_min_duration = 0\n" >> "$dir/pg/data/postgresql.conf"
    pg_sql "select pg_reload_conf()" > /dev/null
  fi
  ln -sfn "$work/$1-gateway" "$work/publish"; gateway_bin=$work/publish/Chihaya.Orleans.Gateway
  ln -sfn "$work/$1-silo" "$work/publish-silo"; silo_bin=$work/publish-silo/Chihaya.Orleans.Silo
  start_cluster "$name"
  register "$prod_url" "$work/passkeys.txt" "$work/hashes.txt"
  fill_run "$name-fill" "$prod_url" "${ours[@]}"
  wrk_once "$name-warm" "$prod_url" "$wrkopts -d$WARMUP" "${ours[@]}" warm=1 check=1
  require_clean "$name-warm"
  [[ $EXPLAIN == 1 ]] && offset=$(stat -c %s "$pglog")
  g0=$(cpu_ticks "$prod_pid"); p0=$(pg_ticks)
  for pid in "${silo_pids[@]}"; do s0=$((s0 + $(cpu_ticks "$pid"))); done
  w0=$(pg_sql "select pg_current_wal_lsn()"); r0=$(peer_rows_written)
  t0=$(date +%s.%N)
  wrk_once "$name-run" "$prod_url" "$wrkopts -d$DURATION" "${ours[@]}" warm=1
  t1=$(date +%s.%N)
  g1=$(cpu_ticks "$prod_pid"); p1=$(pg_ticks)
  for pid in "${silo_pids[@]}"; do s1=$((s1 + $(cpu_ticks "$pid"))); done
  # The flushes of the run's last seconds land after it: wait for the next flush interval's writes (5 s) to count them.
  sleep 6
  w1=$(pg_sql "select pg_current_wal_lsn()"); r1=$(peer_rows_written)
  wal=$(pg_sql "select round(pg_wal_lsn_diff('$w1', '$w0') / greatest($((r1 - r0)), 1))")
  requests=$(field "$name-run" requests); p99=$(field "$name-run" p99_us)
  ((${requests:-0} > 0)) || die "$name: the measured run answered nothing (see $work/$name-run.log)"
  rows+=("$(printf '%-8s %5s %8.0f %8.2f %12s %12s %12s %12s' "$1" "$2" "$(echo "$requests / ($t1 - $t0)" | bc -l)" \
    "$(echo "$p99 / 1000" | bc -l)" "$(us_per_announce $((g1 - g0)) "$requests")" \
    "$(us_per_announce $((s1 - s0)) "$requests")" "$(us_per_announce $((p1 - p0)) "$requests")" "$wal")")
  log "${rows[-1]}"
  if [[ $EXPLAIN == 1 ]]; then
    { echo "$name: statements of the measured run (total, executions, mean per execution, statement)"; statements "$pglog" "$offset"; } \
      > "$work/$name-statements.txt"
    cat "$work/$name-statements.txt" >&2
  fi
  stop_cluster
  stop_services "$dir"
}

for round in $(seq 1 "$ROUNDS"); do
  one_run base "$round"
  one_run changed "$round"
done

header_line "bench/compare.sh"
echo "base $base, changed $changed; load: bench/load/announce.lua torrents=$TORRENTS peers=$PEERS (x$THREADS thread(s)), private=1 passkeys=$PASSKEYS; wrk $wrkopts -d$DURATION warm=1 after a ${WARMUP} warm-up"
printf '%-8s %5s %8s %8s %12s %12s %12s %12s\n' version round req/s p99_ms gateway_us silos_us postgres_us wal_B/row
printf '%s\n' "${rows[@]}"
echo "*_us: CPU time (utime + stime) of the process(es) per announce over the measured run."
echo "wal_B/row: PostgreSQL's WAL per tracker_peers row written, over the measured run and the flushes of the 6 s after it."
if [[ $EXPLAIN == 1 ]]; then cat "$work"/*-statements.txt; fi
