#!/usr/bin/env bash
# bench/run.sh: announce throughput of the embedded gateway next to opentracker, measured in the
# same run on this machine, with the repo's own load generator in bench/load (wrk + announce.lua, repeat.sh).
#
#   bench/run.sh                                   # default: 10k torrents x 25 peers, 3 runs of 20 s
#   BENCH_DURATION=5s BENCH_RUNS=1 bench/run.sh    # quick end-to-end trial
#   BENCH_PRODUCTION=0 bench/run.sh                # without the production shape
#
# Steps: publish the gateway (Release) into a temporary folder; start opentracker with a whitelist of
# the load's info hashes; start the gateway on a free loopback port with a random admin token and
# register the load's passkeys and info hashes through the admin API; for each server run a
# verification (check=1), a fill run that announces every peer once (check=1), the measured runs
# (warm=1, medians from bench/load/repeat.sh) and a short check of the measured traffic. Prints one table.
# Everything it starts is stopped on exit, also on failure or Ctrl-C.
set -euo pipefail

# ------------------------------------------------------------------ settings (env overridable)
TORRENTS=${BENCH_TORRENTS:-10000}        # torrent pool (whitelist / registered torrents)
PEERS=${BENCH_PEERS:-25}                 # peers per torrent per wrk thread
PASSKEYS=${BENCH_PASSKEYS:-1000}         # users registered on our tracker (private=1)
THREADS=${BENCH_THREADS:-1}              # wrk -t
CONNS=${BENCH_CONNECTIONS:-64}           # wrk -c
DURATION=${BENCH_DURATION:-20s}          # wrk -d of each measured run
RUNS=${BENCH_RUNS:-3}                    # measured runs per mode (medians)
CHECK_DURATION=${BENCH_CHECK_DURATION:-5s}  # verification runs (check=1)
FILL_MAX=${BENCH_FILL_MAX:-180}          # upper bound, seconds, of one fill run
SEED_PARALLEL=${BENCH_SEED_PARALLEL:-8}  # concurrent admin requests while registering
KEEP=${BENCH_KEEP:-0}                    # 1: keep the work folder (logs, publish output)
PRODUCTION=${BENCH_PRODUCTION:-1}        # 1: also the production shape (2 silos + 1 gateway on PostgreSQL and Redis)

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
load=$here/load
wrkopts="-t$THREADS -c$CONNS -d$DURATION"

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ------------------------------------------------------------------ tools
install_missing() {
  local missing=() tool pkg
  for pair in wrk:wrk luajit:luajit opentracker:opentracker curl:curl bc:bc ss:iproute2; do
    tool=${pair%%:*}; pkg=${pair#*:}
    command -v "$tool" >/dev/null 2>&1 || missing+=("$pkg")
  done
  ((${#missing[@]} == 0)) && return 0
  log "installing ${missing[*]}"
  local sudo=()
  ((EUID == 0)) || sudo=(sudo)
  "${sudo[@]}" apt-get update
  "${sudo[@]}" apt-get install -y "${missing[@]}"
}
install_missing
command -v dotnet >/dev/null || die "dotnet SDK not found"
[[ -r $load/announce.lua && -x $load/repeat.sh ]] || die "load generator not found in $load"

# ------------------------------------------------------------------ work folder and clean-up
work=$(mktemp -d /tmp/chihaya-bench.XXXXXX)
pids=()
cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  [[ -f $work/services/env ]] && "$repo/deploy/scripts/local-services.sh" stop "$work/services" >/dev/null 2>&1 || true
  if [[ $KEEP == 1 || $rc != 0 ]]; then log "work folder kept: $work"; else rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

used_ports=" "
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 40000))
    [[ $used_ports == *" $p "* ]] && continue
    if [[ -z $(ss -Htan "( sport = :$p )") && -z $(ss -Huan "( sport = :$p )") ]]; then
      used_ports+="$p "; echo "$p"; return 0
    fi
  done
  die "no free port found"
}

wait_tcp() {  # wait_tcp PORT PID SECONDS
  local i
  for i in $(seq 1 $(($3 * 10))); do
    kill -0 "$2" 2>/dev/null || return 1
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

wait_healthz() {  # wait_healthz URL PID SECONDS LOG: until the gateway at URL answers /healthz; dies if it exits or stays silent
  local i
  for i in $(seq 1 $(($3 * 10))); do
    kill -0 "$2" 2>/dev/null || { cat "$4" >&2; die "the gateway at $1 exited"; }
    [[ $(curl -s --max-time 2 "$1/healthz" || true) == ok ]] && return 0
    sleep 0.1
  done
  die "the gateway at $1 did not answer /healthz within $3s"
}

# ------------------------------------------------------------------ wrk helpers
# wrk_once NAME URL WRKOPTS [announce.lua options]: one wrk run, output kept in $work/NAME.log
wrk_once() {
  local name=$1 url=$2 opts=$3; shift 3
  # shellcheck disable=SC2086  # wrk options are a word list
  wrk $opts --latency -s "$load/announce.lua" "$url" -- "$@" > "$work/$name.log" 2>&1 \
    || { cat "$work/$name.log" >&2; die "wrk failed ($name)"; }
  grep -E '^(RESULT|EVENTS|CHECK|FILL) ' "$work/$name.log" | sed "s/^/  $name: /" >&2
}
field() { sed -nE "s/^RESULT (.* )?$2=([0-9]+).*/\2/p" "$work/$1.log" | head -1; }
# a verification passes when responses came back and none was a failure or a non-200
require_clean() {
  local name=$1 requests
  requests=$(field "$name" requests)
  grep -qx 'CHECK failure_reason=0 non200=0' "$work/$name.log" && ((${requests:-0} > 0)) \
    || die "verification '$name' failed (need requests>0 and 'CHECK failure_reason=0 non200=0'); the run is invalid. See $work/$name.log"
}

# verify + fill for one server: prints nothing, dies when the traffic is refused
prepare_server() {  # prepare_server NAME URL [announce.lua options]
  local name=$1 url=$2; shift 2
  log "$name: verification, $CHECK_DURATION, check=1"
  wrk_once "$name-verify" "$url" "-t$THREADS -c$CONNS -d$CHECK_DURATION" "$@" check=1
  require_clean "$name-verify"
  # a fill run starts every peer once; it must be long enough to visit them all (estimated
  # from the verification rate, which is mostly 'started' too)
  local rps total fill attempt
  rps=$(field "$name-verify" rps); total=$((THREADS * TORRENTS * PEERS))
  fill=$(( total * 3 / 2 / (rps > 0 ? rps : 1) + 3 ))
  for attempt in 1 2; do
    ((fill > FILL_MAX)) && fill=$FILL_MAX
    log "$name: fill run of $total peers, ${fill}s, check=1"
    wrk_once "$name-fill" "$url" "-t$THREADS -c$CONNS -d${fill}s" "$@" fill=1 check=1
    require_clean "$name-fill"
    grep -qx "FILL threads_done=$THREADS threads=$THREADS" "$work/$name-fill.log" && return 0
    ((fill >= FILL_MAX)) && break
    fill=$((fill * 2))
  done
  die "$name: the fill run did not reach every peer within ${FILL_MAX}s (raise BENCH_FILL_MAX)"
}

# measure NAME PID URL [announce.lua options]: repeat.sh medians, then a check of the same traffic
measure() {
  local name=$1 pid=$2 url=$3; shift 3
  log "$name: $RUNS measured run(s), $wrkopts, warm=1 $*"
  "$load/repeat.sh" -p "$pid" -n "$RUNS" -w "$wrkopts" "$url" "$@" warm=1 | tee "$work/$name.bench" | sed 's/^/  /' >&2
  grep -q '^median ' "$work/$name.bench" || die "$name: repeat.sh printed no medians"
  log "$name: check of the measured traffic, $CHECK_DURATION"
  wrk_once "$name-postcheck" "$url" "-t$THREADS -c$CONNS -d$CHECK_DURATION" "$@" warm=1 check=1
  require_clean "$name-postcheck"
}

# ------------------------------------------------------------------ build
log "publishing the gateway (Release) into $work/publish"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# intermediate files go to the work folder too, so the repo's own obj/ folders are left alone
dotnet publish "$repo/Gateway/Chihaya.Orleans.Gateway.csproj" -c Release -o "$work/publish" \
  --artifacts-path "$work/artifacts" -v quiet -nologo > "$work/publish.log" 2>&1 \
  || { tail -n 40 "$work/publish.log" >&2; die "dotnet publish failed"; }
gateway_bin="$work/publish/Chihaya.Orleans.Gateway"
[[ -x $gateway_bin ]] || die "published gateway not found at $gateway_bin"
if [[ $PRODUCTION == 1 ]]; then
  log "publishing the silo (Release) into $work/publish-silo"
  dotnet publish "$repo/Silo/Chihaya.Orleans.Silo.csproj" -c Release -o "$work/publish-silo" \
    --artifacts-path "$work/artifacts" -v quiet -nologo > "$work/publish-silo.log" 2>&1 \
    || { tail -n 40 "$work/publish-silo.log" >&2; die "dotnet publish of the silo failed"; }
  silo_bin="$work/publish-silo/Chihaya.Orleans.Silo"
  [[ -x $silo_bin ]] || die "published silo not found at $silo_bin"
fi

# ------------------------------------------------------------------ pools
luajit "$load/announce.lua" dump=hashes torrents="$TORRENTS" > "$work/infohashes.txt"
luajit "$load/announce.lua" dump=passkeys passkeys="$PASSKEYS" > "$work/passkeys.txt"
[[ $(wc -l < "$work/infohashes.txt") == "$TORRENTS" && $(wc -l < "$work/passkeys.txt") == "$PASSKEYS" ]] \
  || die "announce.lua dump gave unexpected pool sizes"
first_hash_enc=$(luajit "$load/announce.lua" dump=hashes-url torrents=1)

# ------------------------------------------------------------------ opentracker
# Debian's build is whitelist-only, chroots into -d and drops to -u: the folder and the whitelist
# must be readable by that user. Only TCP is bound (-p; no -P, so no UDP listener).
ot_dir="$work/opentracker"
mkdir -p "$ot_dir"; chmod 755 "$work" "$ot_dir"
cp "$work/infohashes.txt" "$ot_dir/whitelist"; chmod 644 "$ot_dir/whitelist"
ot_port=$(free_port)
log "starting opentracker on 127.0.0.1:$ot_port with $TORRENTS whitelisted info hashes"
opentracker -i 127.0.0.1 -p "$ot_port" -d "$ot_dir" -u nobody -w /whitelist > "$work/opentracker.out" 2>&1 &
ot_pid=$!; pids+=("$ot_pid")
wait_tcp "$ot_port" "$ot_pid" 10 || { cat "$work/opentracker.out" >&2; die "opentracker did not start"; }
# the whitelist is loaded by a background thread: wait until a listed hash is accepted
# (event=stopped from an unknown peer adds nothing to the swarm)
probe="http://127.0.0.1:$ot_port/announce?info_hash=$first_hash_enc&peer_id=-BENCH0-000000000000&port=1024&uploaded=0&downloaded=0&left=0&event=stopped&compact=1"
for i in $(seq 1 100); do
  out=$(curl -sS --max-time 2 "$probe" || true)
  [[ -n $out && $out != *"failure reason"* ]] && break
  ((i == 100)) && die "opentracker still refuses a whitelisted hash: $out"
  sleep 0.1
done

# ------------------------------------------------------------------ our gateway
gw_port=$(free_port); silo_port=$(free_port); silo_gw_port=$(free_port)
token=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
log "starting the gateway on 127.0.0.1:$gw_port (silo ports $silo_port/$silo_gw_port)"
(
  cd "$work/publish"
  export Admin__Token=$token
  exec "$gateway_bin" --urls "http://127.0.0.1:$gw_port" \
    --Cluster:Mode=Embedded --Cluster:SiloPort="$silo_port" --Cluster:GatewayPort="$silo_gw_port" \
    --Site:SeedFile= --Stats:FlushInterval=00:00:05 --Logging:LogLevel:Default=Warning
) > "$work/gateway.out" 2>&1 &
gw_pid=$!; pids+=("$gw_pid")
gw=http://127.0.0.1:$gw_port
wait_healthz "$gw" "$gw_pid" 30 "$work/gateway.out"

# Register users and torrents: one curl config file, one block per PUT, sent over a few
# keep-alive connections in parallel; every status code must be 204.
register() {  # register GATEWAY_URL
local gw=$1
log "registering $PASSKEYS users and $TORRENTS torrents through the admin API of $gw"
(
  umask 077
  put_blocks() {  # put_blocks KIND BODY_FORMAT APPEND < keys   (blocks separated by "next")
    BENCH_TOKEN=$token awk -v base="$gw/admin/$1" -v fmt="$2" -v append="$3" 'BEGIN{tok=ENVIRON["BENCH_TOKEN"]} {
      if (NR > 1 || append) print "next"
      printf "url = \"%s/%s\"\nrequest = \"PUT\"\nsilent\nshow-error\n", base, $1
      printf "header = \"Authorization: Bearer %s\"\nheader = \"Content-Type: application/json\"\n", tok
      body = sprintf(fmt, NR); gsub(/"/, "\\\"", body)
      printf "data = \"%s\"\nmax-time = 30\noutput = \"/dev/null\"\nwrite-out = \"%%{http_code}\\n\"\n", body
    }'
  }
  put_blocks users '{"id":%d,"uploadMultiplier":1,"downloadMultiplier":1,"canLeech":true}' 0 < "$work/passkeys.txt" > "$work/seed.curl"
  put_blocks torrents '{"id":%d,"status":"active"}' 1 < "$work/infohashes.txt" >> "$work/seed.curl"
)
t0=$(date +%s.%N)
curl -sS --parallel --parallel-max "$SEED_PARALLEL" -K "$work/seed.curl" > "$work/seed.codes" 2> "$work/seed.err" || true
seed_secs=$(echo "$(date +%s.%N) - $t0" | bc -l)
ok=$(grep -cx 204 "$work/seed.codes" || true)
expected=$((PASSKEYS + TORRENTS))
((ok == expected)) || { sort "$work/seed.codes" | uniq -c >&2; head -5 "$work/seed.err" >&2; die "registration: $ok of $expected PUTs returned 204"; }
log "registered $expected entries in $(printf '%.1f' "$seed_secs")s"
rm -f "$work/seed.curl"   # holds the token
}
register "$gw"

# ------------------------------------------------------------------ the production shape
# PostgreSQL and Redis on loopback (deploy/scripts/local-services.sh), the schema migrated, two silo
# processes and a gateway process in Client mode: what deploy/local/cluster.sh runs.
start_production() {
  log "production shape: starting PostgreSQL and Redis"
  "$repo/deploy/scripts/local-services.sh" start "$work/services" > "$work/services.out" 2>&1 \
    || { cat "$work/services.out" >&2; die "local-services.sh failed"; }
  # shellcheck disable=SC1091
  source "$work/services/env"
  export Cluster__Membership=Redis Cluster__Redis="$CHIHAYA_TEST_REDIS" Cluster__AdvertisedAddress=127.0.0.1 \
    Cluster__ClusterId="bench-$RANDOM" Site__Store=Postgres Database__ConnectionString="$CHIHAYA_TEST_POSTGRES" \
    Stats__FlushInterval=00:00:05 Logging__LogLevel__Default=Warning
  (cd "$work/publish-silo" && "$silo_bin" migrate) > "$work/migrate.out" 2>&1 || { cat "$work/migrate.out" >&2; die "migration failed"; }
  silo_pids=()
  local i sp gp
  for i in 1 2; do
    sp=$(free_port); gp=$(free_port)
    (cd "$work/publish-silo" && Cluster__SiloPort=$sp Cluster__GatewayPort=$gp exec "$silo_bin") > "$work/silo$i.out" 2>&1 &
    silo_pids+=("$!"); pids+=("$!")
  done
  prod_port=$(free_port)
  (cd "$work/publish" && Admin__Token=$token Cluster__Mode=Client exec "$gateway_bin" --urls "http://127.0.0.1:$prod_port") > "$work/prod-gateway.out" 2>&1 &
  prod_pid=$!; pids+=("$prod_pid")
  prod=http://127.0.0.1:$prod_port
  # The silos join through Redis first, so the gateway answers later than the embedded one.
  wait_healthz "$prod" "$prod_pid" 120 "$work/prod-gateway.out"
  register "$prod"
}
[[ $PRODUCTION == 1 ]] && start_production

# ------------------------------------------------------------------ runs
pool=(torrents="$TORRENTS" peers="$PEERS")
ours=("${pool[@]}" private=1 passkeys="$PASSKEYS")

prepare_server opentracker "http://127.0.0.1:$ot_port" "${pool[@]}"
measure opentracker "$ot_pid" "http://127.0.0.1:$ot_port" "${pool[@]}"

prepare_server ours "$gw" "${ours[@]}"
measure ours-keepalive "$gw_pid" "$gw" "${ours[@]}"
measure ours-close "$gw_pid" "$gw" "${ours[@]}" close=1

if [[ $PRODUCTION == 1 ]]; then
  # The embedded tracker stops first, so the production processes have the machine to themselves.
  kill -TERM "$gw_pid" 2>/dev/null || true
  prepare_server production "$prod" "${ours[@]}"
  measure production-keepalive "$prod_pid" "$prod" "${ours[@]}"
  silo_rss=$(for p in "${silo_pids[@]}"; do awk '/VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$p/status"; echo -n " "; done)
fi

# ------------------------------------------------------------------ table
median_of() { sed -nE "s/^median (.* )?$2=([0-9]+).*/\2/p" "$work/$1.bench"; }
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
modes=(opentracker ours-keepalive ours-close)
[[ $PRODUCTION == 1 ]] && modes+=(production-keepalive)

ot_rps=$(median_of opentracker rps)
{
  echo
  echo "bench/run.sh $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, commit $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')$( [[ -n $(git -C "$repo" status --porcelain 2>/dev/null) ]] && echo ' (working tree modified)')"
  echo "load: bench/load/announce.lua torrents=$TORRENTS peers=$PEERS (x$THREADS thread(s)), ours private=1 passkeys=$PASSKEYS; wrk $wrkopts warm=1, median of $RUNS run(s)"
  printf '%-26s %9s %9s %9s %-22s %9s %9s %9s %8s\n' mode req/s p50_ms p99_ms "errors (all runs)" rss_MiB srv_cpu% wrk_cpu% ratio
  for m in "${modes[@]}"; do
    rps=$(median_of "$m" rps)
    printf '%-26s %9s %9.2f %9.2f %-22s %9.1f %9s %9s %8.2f\n' "$(label_of "$m")" "$rps" \
      "$(echo "$(median_of "$m" p50_us) / 1000" | bc -l)" "$(echo "$(median_of "$m" p99_us) / 1000" | bc -l)" \
      "$(errors_of "$m")" "$(echo "$(median_of "$m" rss_max_kb) / 1024" | bc -l)" \
      "$(median_of "$m" server_cpu)" "$(median_of "$m" wrk_cpu)" "$(echo "$rps / $ot_rps" | bc -l)"
  done
  echo
  # loopback TCP is mostly kernel time that neither process is charged for: this split shows it
  printf '%-26s %9s %9s %9s %9s\n' "CPU split (% of machine)" user sys softirq idle
  for m in "${modes[@]}"; do
    printf '%-26s %9s %9s %9s %9s\n' "$(label_of "$m")" "$(median_of "$m" cpu_user)" "$(median_of "$m" cpu_sys)" \
      "$(median_of "$m" cpu_softirq)" "$(median_of "$m" cpu_idle)"
  done
  echo
  echo "ratio = req/s / opentracker req/s. opentracker closes every connection without saying so: its"
  echo "read errors are wrk reconnecting (expected, see bench/README.md). rss = largest VmRSS seen after a"
  echo "measured run; srv_cpu / wrk_cpu = median CPU in percent of one core. All runs passed check=1."
  [[ $PRODUCTION == 1 ]] && echo "production: 2 silos + 1 gateway on PostgreSQL and Redis; rss and srv_cpu are the gateway's; the silos' RSS after the runs: ${silo_rss}MiB."
} | tee "$work/table.txt"
