# bench/lib.sh: what bench/run.sh and bench/memory.sh share. Sourced, not run.
#
# The caller sets its settings (THREADS, CONNS, PASSKEYS, CHECK_DURATION, FILL_MAX, SEED_PARALLEL, KEEP),
# checks them with need_count / need_flag / need_duration, then calls bench_start: tools, a work folder in
# /tmp and the clean-up trap that stops every process and service started through this file, also on
# failure or Ctrl-C. Everything listens on 127.0.0.1 only.

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
load=$here/load

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ------------------------------------------------------------------ settings
# need_count NAME=VALUE ...: whole numbers above 0; need_flag: 0 or 1; need_duration: wrk's 20s, 2m, 1h
need_count() { local kv; for kv; do [[ ${kv#*=} =~ ^[1-9][0-9]*$ ]] || die "bad setting $kv: a whole number above 0 is needed"; done; }
need_flag() { local kv; for kv; do [[ ${kv#*=} =~ ^[01]$ ]] || die "bad setting $kv: 0 or 1 is needed"; done; }
need_duration() { local kv; for kv; do [[ ${kv#*=} =~ ^[1-9][0-9]*[smh]?$ ]] || die "bad setting $kv: a duration such as 20s, 2m or 1h is needed"; done; }

# ------------------------------------------------------------------ tools, work folder and clean-up
install_missing() {
  local missing=() tool pkg pair
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

pids=()           # processes started here, stopped on exit
service_dirs=()   # local-services.sh folders started here, stopped on exit
bench_start() {  # bench_start NAME: tools, work folder /tmp/chihaya-NAME.XXXXXX, clean-up trap
  install_missing
  command -v dotnet >/dev/null || die "dotnet SDK not found"
  [[ -r $load/announce.lua && -x $load/repeat.sh ]] || die "load generator not found in $load"
  work=$(mktemp -d "/tmp/chihaya-$1.XXXXXX")
  trap bench_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}
bench_cleanup() {
  local rc=$? pid dir
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  for dir in "${service_dirs[@]}"; do
    "$repo/deploy/scripts/local-services.sh" stop "$dir" >/dev/null 2>&1 || true
  done
  if [[ $KEEP == 1 || $rc != 0 ]]; then log "work folder kept: $work"; else rm -rf "$work"; fi
  exit "$rc"
}

untrack() { local p rest=(); for p in "${pids[@]}"; do [[ $p == "$1" ]] || rest+=("$p"); done; pids=(${rest[@]+"${rest[@]}"}); }
# stop_process PID [SECONDS]: SIGTERM, up to SECONDS (default 10) for it to end, then SIGKILL; no longer tracked
stop_process() {
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 1 $((${2:-10} * 10))); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  untrack "$1"
}

used_ports=" "
# A free port below the kernel's ephemeral range (wrk's and curl's outgoing connections take theirs from it).
free_port() {
  local p low
  low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)
  for _ in $(seq 1 200); do
    p=$((10000 + RANDOM % (low - 10000)))
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

wait_ready() {  # wait_ready URL PID SECONDS LOG: until the gateway at URL is ready (/readyz); dies if it exits or stays silent
  local i
  for i in $(seq 1 $(($3 * 10))); do
    kill -0 "$2" 2>/dev/null || { cat "$4" >&2; die "the gateway at $1 exited"; }
    curl -fs --max-time 2 "$1/readyz" >/dev/null && return 0
    sleep 0.1
  done
  die "the gateway at $1 was not ready (/readyz) within $3s"
}

# ------------------------------------------------------------------ processes: memory and CPU
rss_kb() { awk '$1 == "VmRSS:" {print $2}' "/proc/$1/status"; }
# PSS of a process and all its descendants, in kB: memory shared by several processes is split between them,
# so PostgreSQL's shared buffers count once, not once per backend. Reading another user's smaps_rollup needs
# root; prints nothing if it cannot.
tree_pss_kb() {
  [[ -r /proc/$1/smaps_rollup ]] || return 0
  { cat /proc/[0-9]*/status 2>/dev/null || true; } | awk -v root="$1" '
    $1 == "Pid:" {pid = $2} $1 == "PPid:" {parent[pid] = $2}
    END {for (q in parent) {x = q; while (x != root && (x in parent) && x > 1) x = parent[x]; if (x == root) print "/proc/" q "/smaps_rollup"}}' \
    | { xargs cat 2>/dev/null || true; } | awk '$1 == "Pss:" {s += $2} END {printf "%d\n", s}'
}
# utime + stime of a process, in clock ticks (the command name in field 2 may hold spaces)
cpu_ticks() { sed -E 's/^.*\) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
mib() { echo "$1 / 1024" | bc -l; }

# the first line of a result: script, time, cores, commit
header_line() {
  echo "$1 $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, commit $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')$( [[ -n $(git -C "$repo" status --porcelain 2>/dev/null) ]] && echo ' (working tree modified)')"
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

# fill_run NAME URL [announce.lua options]: fill=1 check=1, every peer started once. Each wrk thread stops
# once as many replies as peers came back and prints FILLED; a second later (for what was still in flight)
# SIGINT ends wrk, at the latest after FILL_MAX seconds. Dies unless every thread filled and no reply was a
# failure or a non-200.
fill_run() {
  local name=$1 url=$2 job filled t0=$SECONDS; shift 2
  log "$name: fill run, fill=1 check=1, at most ${FILL_MAX}s"
  wrk "-t$THREADS" "-c$CONNS" "-d${FILL_MAX}s" --latency -s "$load/announce.lua" "$url" -- "$@" fill=1 check=1 \
    > "$work/$name.log" 2>&1 &
  job=$!; pids+=("$job")
  while kill -0 "$job" 2>/dev/null; do
    filled=$(grep -c '^FILLED ' "$work/$name.log" 2>/dev/null || true)
    if ((${filled:-0} >= THREADS)); then sleep 1; kill -INT "$job" 2>/dev/null || true; break; fi
    sleep 0.2
  done
  wait "$job" || { cat "$work/$name.log" >&2; die "wrk failed ($name)"; }
  untrack "$job"
  grep -E '^(CHECK|FILL) ' "$work/$name.log" | sed "s/^/  $name: /" >&2
  require_clean "$name"
  grep -qx "FILL threads_done=$THREADS threads=$THREADS" "$work/$name.log" \
    || die "$name: the fill did not reach every peer within ${FILL_MAX}s (raise BENCH_FILL_MAX). See $work/$name.log"
  log "$name: filled in $((SECONDS - t0))s"
}

# peers_held URL_PREFIX HASHES_FILE: seeders + leechers summed over the torrents of HASHES_FILE (40 hex
# characters a line), from scrapes of 50 info hashes each. URL_PREFIX: opentracker's URL, or a gateway's
# URL and a passkey (http://127.0.0.1:PORT/PASSKEY).
peers_held() {
  awk -v base="$1/scrape?" '{
      h = ""; for (i = 1; i < 40; i += 2) h = h "%" substr($1, i, 2)
      q = q (q == "" ? "" : "&") "info_hash=" h
      if (NR % 50 == 0) {print "url = \"" base q "\""; q = ""}
    } END {if (q != "") print "url = \"" base q "\""}' "$2" > "$work/scrape.curl"
  curl -sS --max-time 60 -K "$work/scrape.curl" | grep -aoE '(8:complete|10:incomplete)i[0-9]+e' \
    | awk '{sub(/^[0-9]+:(in)?completei/, ""); s += $0 + 0} END {printf "%d\n", s}'
}

# ------------------------------------------------------------------ build
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# publish PROJECT_CSPROJ OUT_DIR [ARTIFACTS_DIR]: Release; intermediate files go to the work folder too (ARTIFACTS_DIR,
# default $work/artifacts; one per source tree), so the repo's own bin/ and obj/ folders are left alone
publish() {
  log "publishing $(basename "$1" .csproj) (Release) into $2"
  dotnet publish "$1" -c Release -o "$2" --artifacts-path "${3:-$work/artifacts}" -v quiet -nologo > "$2.log" 2>&1 \
    || { tail -n 40 "$2.log" >&2; die "dotnet publish of $1 failed"; }
}
publish_gateway() {
  publish "$repo/Gateway/Chihaya.Orleans.Gateway.csproj" "$work/publish"
  gateway_bin="$work/publish/Chihaya.Orleans.Gateway"
  [[ -x $gateway_bin ]] || die "published gateway not found at $gateway_bin"
}
publish_silo() {
  publish "$repo/Silo/Chihaya.Orleans.Silo.csproj" "$work/publish-silo"
  silo_bin="$work/publish-silo/Chihaya.Orleans.Silo"
  [[ -x $silo_bin ]] || die "published silo not found at $silo_bin"
}
token=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')   # the admin token of every gateway started here

# ------------------------------------------------------------------ opentracker
# start_opentracker NAME WHITELIST: opentracker on a free port, TCP only, with that whitelist (40 hex
# characters a line); sets ot_pid and ot_url. Debian's build is whitelist-only, chroots into -d and drops to
# -u: the folder and the whitelist must be readable by that user. Only TCP is bound (-p; no -P, no UDP).
start_opentracker() {
  local name=$1 dir=$work/$1 port probe out i n
  n=$(wc -l < "$2")
  mkdir -p "$dir"; chmod 755 "$work" "$dir"
  cp "$2" "$dir/whitelist"; chmod 644 "$dir/whitelist"
  port=$(free_port)
  log "$name: starting opentracker on 127.0.0.1:$port with $n whitelisted info hashes"
  opentracker -i 127.0.0.1 -p "$port" -d "$dir" -u nobody -w /whitelist > "$work/$name.out" 2>&1 &
  ot_pid=$!; pids+=("$ot_pid")
  ot_url=http://127.0.0.1:$port
  wait_tcp "$port" "$ot_pid" 10 || { cat "$work/$name.out" >&2; die "opentracker did not start"; }
  # The whitelist is loaded by a background thread: wait until its last hash is accepted (event=stopped
  # from an unknown peer adds nothing to the swarm). Every byte percent-encoded is valid on the wire.
  probe="$ot_url/announce?info_hash=$(tail -n 1 "$2" | sed 's/../%&/g')&peer_id=-BENCH0-000000000000&port=1024&uploaded=0&downloaded=0&left=0&event=stopped&compact=1"
  for i in $(seq 1 300); do
    out=$(curl -sS --max-time 2 "$probe" || true)
    if [[ -n $out && $out != *"failure reason"* ]]; then
      # Seen with 100,000 hashes: the last one accepted while a few others were still refused for a moment.
      sleep 2
      return 0
    fi
    sleep 0.1
  done
  die "opentracker still refuses a whitelisted hash: $out"
}

# ------------------------------------------------------------------ our gateway, embedded
# start_embedded NAME: the gateway in its embedded mode (gateway + silo, site in memory) on free loopback
# ports, no demo seed, Warning logging, 5 s stats flush, the admin token in its environment; sets gw_pid and gw_url
start_embedded() {
  local name=$1 port silo_port silo_gw_port
  port=$(free_port); silo_port=$(free_port); silo_gw_port=$(free_port)
  log "$name: starting the embedded gateway on 127.0.0.1:$port (silo ports $silo_port/$silo_gw_port)"
  (
    cd "$work/publish"
    export Admin__Token=$token
    exec "$gateway_bin" --urls "http://127.0.0.1:$port" \
      --Cluster:Mode=Embedded --Cluster:SiloPort="$silo_port" --Cluster:GatewayPort="$silo_gw_port" \
      --Site:SeedFile= --Stats:FlushInterval=00:00:05 --Logging:LogLevel:Default=Warning
  ) > "$work/$name.out" 2>&1 &
  gw_pid=$!; pids+=("$gw_pid")
  gw_url=http://127.0.0.1:$port
  wait_ready "$gw_url" "$gw_pid" 30 "$work/$name.out"
}

# register GATEWAY_URL PASSKEYS_FILE HASHES_FILE: every passkey as a user, every info hash as a torrent,
# through the admin API: one curl config file, one block per PUT, sent over a few keep-alive connections in
# parallel; every status code must be 204.
register() {
  local gw=$1 users=$2 hashes=$3 t0 secs ok expected
  expected=$(($(wc -l < "$users") + $(wc -l < "$hashes")))
  log "registering $(wc -l < "$users") users and $(wc -l < "$hashes") torrents through the admin API of $gw"
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
    put_blocks users '{"id":%d,"uploadMultiplier":1,"downloadMultiplier":1,"canLeech":true}' 0 < "$users" > "$work/seed.curl"
    put_blocks torrents '{"id":%d,"status":"active"}' 1 < "$hashes" >> "$work/seed.curl"
  )
  t0=$(date +%s.%N)
  curl -sS --parallel --parallel-max "$SEED_PARALLEL" -K "$work/seed.curl" > "$work/seed.codes" 2> "$work/seed.err" || true
  secs=$(echo "$(date +%s.%N) - $t0" | bc -l)
  rm -f "$work/seed.curl"   # holds the token
  ok=$(grep -cx 204 "$work/seed.codes" || true)
  ((ok == expected)) || { sort "$work/seed.codes" | uniq -c >&2; head -5 "$work/seed.err" >&2; die "registration: $ok of $expected PUTs returned 204"; }
  log "registered $expected entries in $(printf '%.1f' "$secs")s"
}

# ------------------------------------------------------------------ the production shape
# start_services DIR: PostgreSQL and Redis on loopback (deploy/scripts/local-services.sh), stopped on exit;
# sets pg_pid (the postmaster), redis_pid and prod_env (the silos' and gateway's settings for them)
start_services() {
  local dir=$1
  log "starting PostgreSQL and Redis in $dir"
  service_dirs+=("$dir")
  # PostgreSQL runs as its own user, which must reach its folder inside the work folder (mktemp makes it 700).
  chmod 711 "$work"
  "$repo/deploy/scripts/local-services.sh" start "$dir" > "$dir.out" 2>&1 \
    || { cat "$dir.out" >&2; die "local-services.sh failed"; }
  # shellcheck disable=SC1091
  source "$dir/env"
  pg_pid=$(head -n 1 "$dir/pg/data/postmaster.pid"); redis_pid=$(cat "$dir/redis/redis.pid")
  prod_env=(Cluster__Membership=Redis Cluster__Redis="$CHIHAYA_TEST_REDIS" Cluster__AdvertisedAddress=127.0.0.1
    Cluster__ClusterId="bench-$RANDOM" Site__Store=Postgres Database__ConnectionString="$CHIHAYA_TEST_POSTGRES"
    Stats__FlushInterval=00:00:05 Logging__LogLevel__Default=Warning)
}
# pg_sql SQL: one value from the production shape's PostgreSQL (after start_services)
pg_sql() {
  PGPASSWORD=$(sed -nE 's/.*Password=([^;]*).*/\1/p' <<< "$CHIHAYA_TEST_POSTGRES") \
    psql -h 127.0.0.1 -p "$CHIHAYA_PG_PORT" -U postgres -d postgres -XAtqc "$1"
}
# Bytes the given processes sent to PostgreSQL over their open connections (the kernel's count per socket). A
# connection closed meanwhile takes its count with it, so read it over a span in which the pool keeps its
# connections (Npgsql keeps an idle one for 5 minutes).
bytes_sent_to_pg() {  # bytes_sent_to_pg PID...
  local pids; pids=$(IFS='|'; echo "$*")
  ss -tinpH state established "( dport = :$CHIHAYA_PG_PORT )" 2>/dev/null | awk -v pids="^($pids)\$" '
    /^[^ \t]/ { keep = 0; if (match($0, /pid=[0-9]+/)) keep = (substr($0, RSTART + 4, RLENGTH - 4) ~ pids); next }
    keep && match($0, /bytes_sent:[0-9]+/) { sent += substr($0, RSTART + 11, RLENGTH - 11) }
    END { printf "%.0f\n", sent }'   # mawk would print a sum above 2^31 as 5e+09
}
# peer_rows_written: rows of tracker_peers inserted, updated or deleted since the database started
peer_rows_written() {
  pg_sql "select coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) from pg_stat_user_tables where relname = 'tracker_peers'"
}
stop_services() {  # stop_services DIR
  local dir rest=()
  "$repo/deploy/scripts/local-services.sh" stop "$1" > /dev/null 2>&1 || true
  for dir in "${service_dirs[@]}"; do [[ $dir == "$1" ]] || rest+=("$dir"); done
  service_dirs=(${rest[@]+"${rest[@]}"})
}

# start_cluster NAME: on the services of start_services, the schema migrated, two silo processes and a gateway
# process in Client mode (what deploy/local/cluster.sh runs); sets silo_pids, prod_pid and prod_url
start_cluster() {
  local name=$1 i sp gp hp port
  (cd "$work/publish-silo" && env "${prod_env[@]}" "$silo_bin" migrate) > "$work/$name-migrate.out" 2>&1 \
    || { cat "$work/$name-migrate.out" >&2; die "migration failed"; }
  silo_pids=()
  for i in 1 2; do
    sp=$(free_port); gp=$(free_port); hp=$(free_port)
    (cd "$work/publish-silo" && exec env "${prod_env[@]}" Cluster__SiloPort="$sp" Cluster__GatewayPort="$gp" Urls="http://127.0.0.1:$hp" "$silo_bin") \
      > "$work/$name-silo$i.out" 2>&1 &
    silo_pids+=("$!"); pids+=("$!")
  done
  port=$(free_port)
  log "$name: 2 silos and a gateway on 127.0.0.1:$port"
  (cd "$work/publish" && exec env "${prod_env[@]}" Admin__Token="$token" Cluster__Mode=Client "$gateway_bin" --urls "http://127.0.0.1:$port") \
    > "$work/$name-gateway.out" 2>&1 &
  prod_pid=$!; pids+=("$prod_pid")
  prod_url=http://127.0.0.1:$port
  # The silos join through Redis first, so the gateway answers later than the embedded one.
  wait_ready "$prod_url" "$prod_pid" 120 "$work/$name-gateway.out"
}
stop_cluster() {  # the gateway first, then each silo (graceful: up to 30 s each)
  local pid
  stop_process "$prod_pid" 30
  for pid in "${silo_pids[@]}"; do stop_process "$pid" 30; done
}
