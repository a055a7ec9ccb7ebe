#!/usr/bin/env bash
# bench/memory.sh: what a peer and an active torrent cost in memory, and what an idle tracker holding
# 100,000 active torrents costs in CPU: our embedded tracker next to opentracker, measured the same way in
# the same run (and the production shape's processes with BENCH_PRODUCTION=1).
#
#   bench/memory.sh                                  # 1,000,000 peers; 100,000 torrents x 1 peer; 30 s idle
#   BENCH_PRODUCTION=1 bench/memory.sh               # the production shape too (2 silos + gateway)
#   BENCH_MEM_TORRENTS=1000 BENCH_MEM_SWARMS=10000 BENCH_IDLE=5 bench/memory.sh   # quick trial
#
# Two phases for each tracker (opentracker, ours embedded, [the production shape]), each on a freshly started one:
#   peers:    BENCH_MEM_TORRENTS torrents x BENCH_MEM_PEERS peers (1,000,000 peers by default)
#   torrents: BENCH_MEM_SWARMS torrents x 1 peer, then BENCH_IDLE seconds without traffic (idle CPU)
# Each phase: whitelist or register its torrents; a warm-up fill of 20,000 other peers on 200 other torrents
# (all users, the announce path's code and pools are then in use); BENCH_SETTLE seconds of quiet; RSS
# before; the fill (fill=1 check=1: every peer started once, every reply checked); BENCH_SETTLE seconds of
# quiet; RSS after; the peers the tracker holds, counted by scrape. Growth per peer (per torrent) =
# (after - before) / peers held.
# Everything it starts is stopped on exit, also on failure or Ctrl-C.
set -euo pipefail

# ------------------------------------------------------------------ settings (env overridable)
MEM_TORRENTS=${BENCH_MEM_TORRENTS:-10000}  # peers phase: torrents
MEM_PEERS=${BENCH_MEM_PEERS:-100}        # peers phase: peers per torrent per wrk thread
MEM_SWARMS=${BENCH_MEM_SWARMS:-100000}   # torrents phase: torrents, one peer each
IDLE=${BENCH_IDLE:-30}                   # seconds of no traffic over which idle CPU is measured
SETTLE=${BENCH_SETTLE:-10}               # seconds of quiet before each RSS reading
PASSKEYS=${BENCH_PASSKEYS:-1000}         # users registered on our tracker (private=1)
THREADS=${BENCH_THREADS:-1}              # wrk -t
CONNS=${BENCH_CONNECTIONS:-64}           # wrk -c
FILL_MAX=${BENCH_FILL_MAX:-600}          # upper bound, seconds, of one fill run
SEED_PARALLEL=${BENCH_SEED_PARALLEL:-8}  # concurrent admin requests while registering
KEEP=${BENCH_KEEP:-0}                    # 1: keep the work folder (logs, publish output)
PRODUCTION=${BENCH_PRODUCTION:-0}        # 1: also the production shape (2 silos + 1 gateway on PostgreSQL and Redis)
TRACKERS=${BENCH_MEM_TRACKERS-opentracker ours}  # which trackers, in order (the production shape is added by BENCH_PRODUCTION=1)
WARM_TORRENTS=200 WARM_PEERS=100         # the warm-up fill: 20,000 peers on torrents outside both phases' pools

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
need_flag "BENCH_KEEP=$KEEP" "BENCH_PRODUCTION=$PRODUCTION"
need_count "BENCH_MEM_TORRENTS=$MEM_TORRENTS" "BENCH_MEM_PEERS=$MEM_PEERS" "BENCH_MEM_SWARMS=$MEM_SWARMS" \
  "BENCH_IDLE=$IDLE" "BENCH_SETTLE=$SETTLE" "BENCH_PASSKEYS=$PASSKEYS" "BENCH_THREADS=$THREADS" \
  "BENCH_CONNECTIONS=$CONNS" "BENCH_FILL_MAX=$FILL_MAX" "BENCH_SEED_PARALLEL=$SEED_PARALLEL"
((CONNS >= THREADS)) || die "bad setting BENCH_CONNECTIONS=$CONNS: at least BENCH_THREADS ($THREADS) are needed"
((THREADS * MEM_PEERS <= 64511)) || die "bad setting BENCH_MEM_PEERS=$MEM_PEERS: threads x peers must stay within 64,511 (ports)"
read -r -a trackers <<< "$TRACKERS"
[[ $PRODUCTION == 1 ]] && trackers+=(production)
((${#trackers[@]} > 0)) || die "bad setting BENCH_MEM_TRACKERS=$TRACKERS: name at least one of opentracker, ours"
for tracker in "${trackers[@]}"; do
  [[ $tracker =~ ^(opentracker|ours|production)$ ]] \
    || die "bad setting BENCH_MEM_TRACKERS=$TRACKERS: opentracker and ours are known (production: BENCH_PRODUCTION=1)"
done
bench_start memory

# ------------------------------------------------------------------ build and pools
publish_gateway
[[ $PRODUCTION == 1 ]] && publish_silo
# The warm-up torrents are the pool entries after the larger phase's, so no phase announces to them.
pool_size=$((MEM_TORRENTS > MEM_SWARMS ? MEM_TORRENTS : MEM_SWARMS))
luajit "$load/announce.lua" dump=hashes torrents="$pool_size" > "$work/pool.txt"
luajit "$load/announce.lua" dump=hashes torrents="$WARM_TORRENTS" offset="$pool_size" > "$work/warm.txt"
luajit "$load/announce.lua" dump=passkeys passkeys="$PASSKEYS" > "$work/passkeys.txt"
head -n "$MEM_TORRENTS" "$work/pool.txt" > "$work/peers-main.txt"
head -n "$MEM_SWARMS" "$work/pool.txt" > "$work/torrents-main.txt"
cat "$work/peers-main.txt" "$work/warm.txt" > "$work/peers-hashes.txt"
cat "$work/torrents-main.txt" "$work/warm.txt" > "$work/torrents-hashes.txt"
[[ $(wc -l < "$work/pool.txt") == "$pool_size" && $(wc -l < "$work/warm.txt") == "$WARM_TORRENTS" \
  && $(wc -l < "$work/passkeys.txt") == "$PASSKEYS" ]] || die "announce.lua dump gave unexpected pool sizes"
warm=(torrents="$WARM_TORRENTS" peers="$WARM_PEERS" offset="$pool_size")
private=(private=1 passkeys="$PASSKEYS")
passkey=$(head -n 1 "$work/passkeys.txt")   # for scrapes

# ------------------------------------------------------------------ measuring
declare -A result   # "PROCESS PHASE before|after" -> VmRSS kB; "PROCESS idle" -> % of one core
procs=()            # what is measured now: "NAME=PID" per process

# read_rss PHASE WHEN: the VmRSS of every process in procs (logged too, so a later failure keeps the figures)
read_rss() {
  local p
  for p in "${procs[@]}"; do
    kill -0 "${p#*=}" 2>/dev/null || die "${p%%=*} (pid ${p#*=}) exited"
    result["${p%%=*} $1 $2"]=$(rss_kb "${p#*=}")
    log "${p%%=*}: $1 phase, RSS $2 the fill: ${result["${p%%=*} $1 $2"]} kB"
  done
}

# measure_phase NAME PHASE URL SCRAPE_PREFIX T P [announce.lua options]: warm-up, settle, RSS, fill, settle,
# RSS, then how many of the fill's peers the tracker holds (scrapes, after the RSS reading)
measure_phase() {
  local name=$1 phase=$2 url=$3 scrape=$4 t=$5 p=$6; shift 6
  fill_run "$name-warmup" "$url" "${warm[@]}" "$@"
  log "$name: $SETTLE s of quiet, then RSS before the fill"
  sleep "$SETTLE"; read_rss "$phase" before
  fill_run "$name-fill" "$url" torrents="$t" peers="$p" "$@"
  log "$name: $SETTLE s of quiet, then RSS after the fill"
  sleep "$SETTLE"; read_rss "$phase" after
  result["$name held"]=$(peers_held "$scrape" "$work/$phase-main.txt")
  log "$name: the tracker holds ${result["$name held"]} of the fill's $((THREADS * t * p)) peers (scrape)"
  ((${result["$name held"]} * 100 >= THREADS * t * p * 99)) \
    || die "$name: the tracker holds only ${result["$name held"]} of the fill's $((THREADS * t * p)) peers"
}

# measure_idle NAME: CPU time of every process in procs over IDLE seconds without traffic, in % of one core
measure_idle() {
  local p i hz before=()
  hz=$(getconf CLK_TCK)
  log "$1: idle CPU over ${IDLE}s without traffic"
  for p in "${procs[@]}"; do before+=("$(cpu_ticks "${p#*=}")"); done
  sleep "$IDLE"
  for i in "${!procs[@]}"; do
    p=${procs[i]}
    result["${p%%=*} idle"]=$(echo "100 * ($(cpu_ticks "${p#*=}") - ${before[i]}) / $hz / $IDLE" | bc -l)
    log "${p%%=*}: idle CPU $(printf '%.2f' "${result["${p%%=*} idle"]}") % of one core"
  done
}

# phase TRACKER PHASE T P HASHES: one phase on a freshly started tracker, stopped afterwards
phase() {
  local tracker=$1 phase=$2 t=$3 p=$4 hashes=$5
  log "$tracker, phase '$phase': $t torrents x $((THREADS * p)) peers"
  case $tracker in
    opentracker)
      start_opentracker "opentracker-$phase" "$hashes"
      procs=("opentracker=$ot_pid")
      measure_phase "opentracker-$phase" "$phase" "$ot_url" "$ot_url" "$t" "$p"
      [[ $phase == torrents ]] && measure_idle opentracker
      stop_process "$ot_pid";;
    ours)
      start_embedded "ours-$phase"
      register "$gw_url" "$work/passkeys.txt" "$hashes"
      procs=("ours=$gw_pid")
      measure_phase "ours-$phase" "$phase" "$gw_url" "$gw_url/$passkey" "$t" "$p" "${private[@]}"
      [[ $phase == torrents ]] && measure_idle ours
      stop_process "$gw_pid";;
    production)
      # a fresh database and Redis for each phase, so the "before" of one is not the "after" of the other
      start_services "$work/services-$phase"
      start_cluster "production-$phase"
      register "$prod_url" "$work/passkeys.txt" "$hashes"
      procs=("gateway=$prod_pid" "silo1=${silo_pids[0]}" "silo2=${silo_pids[1]}")
      measure_phase "production-$phase" "$phase" "$prod_url" "$prod_url/$passkey" "$t" "$p" "${private[@]}"
      [[ $phase == torrents ]] && measure_idle production
      stop_cluster
      stop_services "$work/services-$phase";;
  esac
}

# the production shape last: it takes longest, and its figures are logged as they come
for tracker in "${trackers[@]}"; do
  phase "$tracker" peers "$MEM_TORRENTS" "$MEM_PEERS" "$work/peers-hashes.txt"
  phase "$tracker" torrents "$MEM_SWARMS" 1 "$work/torrents-hashes.txt"
done

# ------------------------------------------------------------------ table
npeers=$((THREADS * MEM_TORRENTS * MEM_PEERS)) nswarms=$((THREADS * MEM_SWARMS))
rows=()
for tracker in "${trackers[@]}"; do
  if [[ $tracker == production ]]; then rows+=(silos gateway); else rows+=("$tracker"); fi
done
label_of() {
  case $1 in
    opentracker) echo "opentracker";;
    ours) echo "ours embedded";;
    silos) echo "production silos (sum of 2)";;
    gateway) echo "production gateway";;
  esac
}
# kb PROCESS KEY: the figure of that row (the silos' row adds up both silos)
kb() { if [[ $1 == silos ]]; then echo $((${result["silo1 $2"]} + ${result["silo2 $2"]})); else echo "${result["$1 $2"]}"; fi; }
idle_of() { if [[ $1 == silos ]]; then echo "${result["silo1 idle"]} + ${result["silo2 idle"]}" | bc -l; else echo "${result["$1 idle"]}"; fi; }
# held PROCESS PHASE: the peers its tracker holds after that phase's fill
held() { case $1 in silos|gateway) echo "${result["production-$2 held"]}";; *) echo "${result["$1-$2 held"]}";; esac; }
# growth_table PHASE UNIT TARGET
growth_table() {
  local r before after held
  printf '%-28s %10s %10s %10s %14s %8s\n' process held before_MiB after_MiB "bytes/$2" target
  for r in "${rows[@]}"; do
    before=$(kb "$r" "$1 before"); after=$(kb "$r" "$1 after"); held=$(held "$r" "$1")
    ((held > 0)) || die "$(label_of "$r"): holds no peers after the $1 fill"
    printf '%-28s %10s %10.1f %10.1f %14.0f %8s\n' "$(label_of "$r")" "$held" "$(mib "$before")" "$(mib "$after")" \
      "$(echo "($after - $before) * 1024 / $held" | bc -l)" "$([[ $r == ours ]] && echo "$3" || echo -)"
  done
}
{
  echo
  header_line bench/memory.sh
  echo "load: bench/load/announce.lua fill=1 check=1, wrk -t$THREADS -c$CONNS; ours private=1 passkeys=$PASSKEYS. Each tracker freshly"
  echo "started per phase; before each fill a warm-up fill of $((THREADS * WARM_TORRENTS * WARM_PEERS)) peers on $WARM_TORRENTS other torrents; RSS read after ${SETTLE}s of quiet."
  echo
  echo "RSS growth per peer: $npeers peers ($MEM_TORRENTS torrents x $((THREADS * MEM_PEERS)) peers)"
  growth_table peers peer "<= 100"
  echo
  echo "RSS growth per active torrent: $nswarms torrents x 1 peer"
  growth_table torrents torrent "<= 1024"
  echo
  echo "Idle CPU holding $nswarms active torrents: ${IDLE}s without traffic, after the fill and ${SETTLE}s of quiet"
  printf '%-28s %10s %8s\n' process cpu% target
  for r in "${rows[@]}"; do
    printf '%-28s %10.2f %8s\n' "$(label_of "$r")" "$(idle_of "$r")" "$([[ $r == ours ]] && echo "< 2" || echo -)"
  done
  echo
  echo "held = peers of the fill the tracker holds afterwards, by scrape (a few starts of a million can be lost"
  echo "by wrk, see bench/README.md). bytes/peer (bytes/torrent) = (after - before) VmRSS / held; the per-peer"
  echo "figure includes the cost of activating its $MEM_TORRENTS torrents. cpu% = CPU time (user + system,"
  echo "/proc/PID/stat) in percent of one core. Targets (ours): the performance issue's. Every fill reply was"
  echo "checked (check=1): no failure, no non-200."
} | tee "$work/table.txt"
