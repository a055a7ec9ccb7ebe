#!/usr/bin/env bash
# The production shape on one machine, in one command: PostgreSQL and Redis on loopback, the schema migrated,
# N silos and M gateways clustered through Redis, nginx load-balancing over the gateways, the demo users and
# torrents registered. Everything listens on loopback; data, logs and pids live under one folder.
#
#   deploy/local/cluster.sh start [DIR]    build, start everything, print the announce URL (default DIR: .run/cluster)
#   deploy/local/cluster.sh status [DIR]   each process: running or not, and its /readyz report (Prometheus: its
#                                          targets up)
#   deploy/local/cluster.sh stop [DIR]     stop everything started under DIR, each program given its graceful stop
#                                          (data stays in DIR; start again with start)
#
# Environment: SILOS (3), GATEWAYS (2), PORT (6969: nginx, where clients announce), ADMIN_TOKEN (random, written to
# DIR/admin-token), BUILD (1; 0 runs what is already built), PROMETHEUS (0; 1 also runs Debian's Prometheus on
# loopback port PROMETHEUS_PORT, 9090, with deploy/prometheus/prometheus.yml, scraping every silo and gateway, data in
# DIR/prometheus). Ports besides PORT, each counted up from a base: gateways GATEWAY_PORTS_FROM+n (6970), silo-to-silo
# SILO_PORTS_FROM+n (11110), silos' gateway connections SILO_GATEWAY_PORTS_FROM+n (30000), silos' /healthz, /readyz
# and /metrics SILO_HTTP_PORTS_FROM+n (8080).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
command=${1:-start}
dir=${2:-$root/.run/cluster}
silos=${SILOS:-3}
gateways=${GATEWAYS:-2}
port=${PORT:-${GATEWAY_PORT:-6969}}
gateway_ports_from=${GATEWAY_PORTS_FROM:-6970}
silo_ports_from=${SILO_PORTS_FROM:-11110}
silo_gateway_ports_from=${SILO_GATEWAY_PORTS_FROM:-30000}
silo_http_ports_from=${SILO_HTTP_PORTS_FROM:-8080}
prometheus=${PROMETHEUS:-0}
prometheus_port=${PROMETHEUS_PORT:-9090}
silo_dll="$root/Silo/bin/Release/net10.0/Chihaya.Orleans.Silo.dll"
gateway_dll="$root/Gateway/bin/Release/net10.0/Chihaya.Orleans.Gateway.dll"

# Prints the pid in PIDFILE if that process runs and is still the one this script started under DIR (its command line
# names one of our programs or DIR): after a reboot a pid file outlives its process, and the pid may be anyone's.
running_pid() {
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -e "Chihaya.Orleans." -e "$dir" || return 1
  echo "$pid"
}

# Stops one program by its pid file: SIGTERM, then waits for its graceful stop (the programs bound theirs at 26 s),
# then SIGKILL. A pid file whose process is gone (or is no longer ours) is only removed.
stop_program() {
  local pidfile=$1 pid
  if pid=$(running_pid "$pidfile") && kill -TERM "$pid" 2>/dev/null; then
    for _ in $(seq 1 400); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "$(basename "$pidfile" .pid) did not stop within 40 s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$pidfile"
}

stop() {
  # Prometheus first (it only watches); nginx and the gateways next, so no announce arrives while silos hand their
  # swarms on; then each silo in turn, so the others take over its swarms.
  [ -f "$dir/prometheus.pid" ] && { echo "Stopping Prometheus..."; stop_program "$dir/prometheus.pid"; }
  [ -f "$dir/nginx.pid" ] && { echo "Stopping nginx..."; stop_program "$dir/nginx.pid"; }
  for pidfile in "$dir"/gateway*.pid "$dir"/silo*.pid; do
    [ -f "$pidfile" ] || continue
    echo "Stopping $(basename "$pidfile" .pid)..."
    stop_program "$pidfile"
  done
  echo "Stopping PostgreSQL and Redis..."
  "$root/deploy/scripts/local-services.sh" stop "$dir/services"
  echo "Stopped. Data stays in $dir; start again with: $0 start $dir"
}

# The readiness report of the process at URL, on one line: "ready" or "NOT READY", and each check's finding.
readiness() {
  curl -s --max-time 3 "$1/readyz" | python3 -c '
import json, sys
try:
    report = json.load(sys.stdin)
except ValueError:
    print("no answer"); sys.exit()
marks = "; ".join(("" if c["ok"] else "FAILING ") + c["name"] + ": " + c["detail"] for c in report["checks"])
print(("ready" if report["ready"] else "NOT READY") + " - " + marks)'
}

# Prometheus' targets at URL, on one line: how many are up, and each one down with its last scrape's error.
targets() {
  curl -s --max-time 3 "$1/api/v1/targets?state=active" | python3 -c '
import json, sys
try:
    targets = json.load(sys.stdin)["data"]["activeTargets"]
except (ValueError, KeyError):
    print("no answer"); sys.exit()
down = [t["labels"]["job"] + " " + t["labels"]["instance"] + " " + t["health"] + (": " + t["lastError"] if t["lastError"] else "") for t in targets if t["health"] != "up"]
print(f"{len(targets) - len(down)} of {len(targets)} targets up" + "".join("; " + d for d in down))'
}

status() {
  local any=0 name pid url
  for pidfile in "$dir"/silo*.pid "$dir"/gateway*.pid "$dir"/nginx.pid "$dir"/prometheus.pid; do
    [ -f "$pidfile" ] || continue
    any=1
    name=$(basename "$pidfile" .pid)
    pid=$(cat "$pidfile")
    url=$(cat "$dir/$name.url" 2>/dev/null || true)
    if ! running_pid "$pidfile" >/dev/null; then
      printf '%-10s pid %-7s NOT RUNNING (log: %s)\n' "$name" "$pid" "$dir/$name.log"
    elif [ "$name" = nginx ]; then
      printf '%-10s pid %-7s running, %s -> %s\n' "$name" "$pid" "$url" "$(readiness "$url")"
    elif [ "$name" = prometheus ]; then
      printf '%-10s pid %-7s running, %s: %s\n' "$name" "$pid" "$url" "$(targets "$url")"
    else
      printf '%-10s pid %-7s %s\n' "$name" "$pid" "$(readiness "$url")"
    fi
  done
  [ "$any" -eq 1 ] || { echo "Nothing running under $dir"; exit 1; }
  # shellcheck disable=SC1091
  source "$dir/services/env"
  if pg_isready -q -h 127.0.0.1 -p "$CHIHAYA_PG_PORT" 2>/dev/null || /usr/lib/postgresql/*/bin/pg_isready -q -h 127.0.0.1 -p "$CHIHAYA_PG_PORT"; then
    echo "postgres   127.0.0.1:$CHIHAYA_PG_PORT answers"
  else
    echo "postgres   127.0.0.1:$CHIHAYA_PG_PORT NOT ANSWERING"
  fi
  if [ "$(redis-cli -p "$CHIHAYA_REDIS_PORT" ping 2>/dev/null)" = PONG ]; then
    echo "redis      127.0.0.1:$CHIHAYA_REDIS_PORT answers"
  else
    echo "redis      127.0.0.1:$CHIHAYA_REDIS_PORT NOT ANSWERING"
  fi
}

# Waits until URL/readyz (or URL/PATH) answers 200, or fails the start if the program behind PIDFILE exits or 120 s
# pass.
wait_ready() {
  local url=$1 pidfile=$2 path=${3:-/readyz} name
  name=$(basename "$pidfile" .pid)
  for _ in $(seq 1 240); do
    # Its own process first: an answer on its port from a process that is not it (another cluster's) is no start.
    if ! running_pid "$pidfile" >/dev/null; then
      echo "$name exited during start; its log ($dir/$name.log) ends:" >&2
      tail -n 5 "$dir/$name.log" >&2
      rm -f "$pidfile"
      stop
      exit 1
    fi
    curl -fs --max-time 2 "$url$path" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  echo "$name was not ready within 120 s: $(readiness "$url"); see $dir/$name.log" >&2
  stop
  exit 1
}

# Prometheus with deploy/prometheus/prometheus.yml, its targets (file-based discovery) written from the .url files of
# the silos and gateways started.
start_prometheus() {
  echo "Starting Prometheus on port $prometheus_port..."
  mkdir -p "$dir/prometheus/targets"
  cp "$root/deploy/prometheus/prometheus.yml" "$dir/prometheus/prometheus.yml"
  python3 - "$dir" "$silos" "$gateways" <<'PY'
import json, sys
dir, silos, gateways = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for kind, count in (("silo", silos), ("gateway", gateways)):
    targets = [{"targets": [open(f"{dir}/{kind}{i}.url").read().strip().removeprefix("http://")], "labels": {"process": f"{kind}{i}"}}
               for i in range(1, count + 1)]
    with open(f"{dir}/prometheus/targets/{kind}s.json.new", "w") as file:
        json.dump(targets, file, indent=2)
PY
  # Renamed into place, so Prometheus never reads half a file.
  mv "$dir/prometheus/targets/silos.json.new" "$dir/prometheus/targets/silos.json"
  mv "$dir/prometheus/targets/gateways.json.new" "$dir/prometheus/targets/gateways.json"
  echo "http://127.0.0.1:$prometheus_port" > "$dir/prometheus.url"
  nohup /usr/bin/prometheus --config.file="$dir/prometheus/prometheus.yml" --storage.tsdb.path="$dir/prometheus/data" \
    --web.listen-address="127.0.0.1:$prometheus_port" > "$dir/prometheus.log" 2>&1 &
  echo $! > "$dir/prometheus.pid"
  wait_ready "http://127.0.0.1:$prometheus_port" "$dir/prometheus.pid" /-/ready
  echo "Prometheus: http://127.0.0.1:$prometheus_port (targets: http://127.0.0.1:$prometheus_port/targets)"
}

# Ends a start that failed part-way: stops what it started, so nothing is left running.
fail_start() {
  echo "$1; stopping what was started" >&2
  stop >&2
  exit 1
}

# Whether something already listens on 127.0.0.1:PORT (another cluster.sh under another DIR, say).
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
  mkdir -p "$dir"
  for pidfile in "$dir"/*.pid; do
    [ -f "$pidfile" ] || continue
    if running_pid "$pidfile" >/dev/null; then
      echo "Already running under $dir; stop it first: $0 stop $dir" >&2
      exit 1
    fi
    # Left by a run that ended without its stop (a reboot): its process is gone.
    rm -f "$pidfile"
  done
  for taken in "$port" $(seq $((gateway_ports_from + 1)) $((gateway_ports_from + gateways))) \
      $(seq $((silo_ports_from + 1)) $((silo_ports_from + silos))) $(seq $((silo_gateway_ports_from + 1)) $((silo_gateway_ports_from + silos))) \
      $(seq $((silo_http_ports_from + 1)) $((silo_http_ports_from + silos))); do
    if port_taken "$taken"; then
      echo "Port $taken on 127.0.0.1 is in use (another cluster.sh under another DIR?); stop it, or choose other ports (PORT, GATEWAY_PORTS_FROM, SILO_PORTS_FROM, SILO_GATEWAY_PORTS_FROM, SILO_HTTP_PORTS_FROM)" >&2
      exit 1
    fi
  done
  [ -x /usr/sbin/nginx ] || { echo "nginx is missing: install Debian's nginx-light (or run deploy/scripts/install-test-deps.sh)" >&2; exit 1; }
  # Readiness and status are read over HTTP: without curl every wait would time out as if the silos never came up.
  command -v curl >/dev/null || { echo "curl is missing: install Debian's curl (or run deploy/scripts/install-test-deps.sh)" >&2; exit 1; }
  if [ "$prometheus" = 1 ] && [ ! -x /usr/bin/prometheus ]; then
    echo "prometheus is missing: install Debian's prometheus (or run deploy/scripts/install-test-deps.sh)" >&2
    exit 1
  fi

  if [ "${BUILD:-1}" != 0 ]; then
    echo "Building (Release)..."
    # MSBuild writes its errors to standard output: shown when the build fails, not thrown away with the rest.
    if ! build_output=$(dotnet build "$root/Chihaya.Orleans.sln" -c Release -v quiet -nologo 2>&1); then
      printf '%s\n' "$build_output" >&2
      echo "The build failed (above)." >&2
      exit 1
    fi
  fi
  echo "Starting PostgreSQL and Redis on loopback..."
  # Ports of a test run's services (./test.sh exports them) must not leak into this cluster's.
  unset CHIHAYA_PG_PORT CHIHAYA_REDIS_PORT
  "$root/deploy/scripts/local-services.sh" start "$dir/services" >/dev/null
  # shellcheck disable=SC1091
  source "$dir/services/env"
  token=${ADMIN_TOKEN:-$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')}
  printf '%s\n' "$token" > "$dir/admin-token"
  chmod 600 "$dir/admin-token"

  export Cluster__Membership=Redis
  export Cluster__Redis="$CHIHAYA_TEST_REDIS"
  export Cluster__AdvertisedAddress=127.0.0.1
  export Site__Store=Postgres
  export Database__ConnectionString="$CHIHAYA_TEST_POSTGRES"

  echo "Migrating the schema..."
  dotnet "$silo_dll" migrate || fail_start "The migration failed (above)"

  echo "Starting $silos silos..."
  for i in $(seq 1 "$silos"); do
    echo "http://127.0.0.1:$((silo_http_ports_from + i))" > "$dir/silo$i.url"
    Cluster__SiloPort=$((silo_ports_from + i)) Cluster__GatewayPort=$((silo_gateway_ports_from + i)) Urls="$(cat "$dir/silo$i.url")" \
      nohup dotnet "$silo_dll" > "$dir/silo$i.log" 2>&1 &
    echo $! > "$dir/silo$i.pid"
  done
  for i in $(seq 1 "$silos"); do
    wait_ready "$(cat "$dir/silo$i.url")" "$dir/silo$i.pid"
  done

  echo "Starting $gateways gateways..."
  upstreams=""
  for i in $(seq 1 "$gateways"); do
    echo "http://127.0.0.1:$((gateway_ports_from + i))" > "$dir/gateway$i.url"
    # nginx on loopback sends X-Real-IP / X-Forwarded-For; the gateways believe them from there only.
    Cluster__Mode=Client Admin__Token="$token" Gateway__TrustedProxies__0=127.0.0.0/8 \
      nohup dotnet "$gateway_dll" --urls "$(cat "$dir/gateway$i.url")" > "$dir/gateway$i.log" 2>&1 &
    echo $! > "$dir/gateway$i.pid"
    upstreams+="        server 127.0.0.1:$((gateway_ports_from + i)) max_fails=1 fail_timeout=1s;"$'\n'
  done
  for i in $(seq 1 "$gateways"); do
    wait_ready "$(cat "$dir/gateway$i.url")" "$dir/gateway$i.pid"
  done

  echo "Starting nginx on port $port..."
  mkdir -p "$dir/nginx/tmp"/{body,proxy,fastcgi,uwsgi,scgi}
  chmod 777 "$dir/nginx/tmp"/*
  python3 - "$root/deploy/nginx" "$dir/nginx" "$port" "$upstreams" > "$dir/nginx/nginx.conf" <<'PY'
import sys
nginx, prefix, port, upstreams = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].rstrip("\n")
template = open(f"{nginx}/local.conf.template").read()
print(template.replace("@PREFIX@", prefix).replace("@LISTEN_PORT@", port).replace("@PROXY_CONF@", f"{nginx}/chihaya-proxy.conf")
      .replace("@UPSTREAM_SERVERS@", upstreams), end="")
PY
  echo "http://127.0.0.1:$port" > "$dir/nginx.url"
  nohup /usr/sbin/nginx -p "$dir/nginx" -c "$dir/nginx/nginx.conf" -e "$dir/nginx/error.log" > "$dir/nginx.log" 2>&1 &
  echo $! > "$dir/nginx.pid"
  wait_ready "http://127.0.0.1:$port" "$dir/nginx.pid"

  # Register the demo users and torrents as a site would, through the admin API (through nginx).
  python3 - "$root/deploy/seed/demo.json" "$port" "$token" <<'PY' || fail_start "Registering the demo users and torrents through the admin API failed (above)"
import json, sys, urllib.request
seed, port, token = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
def put(path, body):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/admin/{path}", data=json.dumps(body).encode(), method="PUT",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=30).read()
for user in seed["users"]:
    put(f"users/{user['passkey']}", user)
for torrent in seed["torrents"]:
    put(f"torrents/{torrent['infoHash']}", torrent)
print(f"demo announce URL: http://127.0.0.1:{port}/{seed['users'][0]['passkey']}/announce")
PY
  [ "$prometheus" = 1 ] && start_prometheus
  echo "$silos silos, $gateways gateways and nginx running; logs and pids in $dir; admin token in $dir/admin-token"
  echo "status page: http://127.0.0.1:$port/status (it asks for the admin token)"
  echo "see them with: $0 status $dir    stop with: $0 stop $dir"
}

case $command in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|status|stop [DIR]" >&2; exit 2 ;;
esac
