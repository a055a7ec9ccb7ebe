#!/usr/bin/env bash
# The production shape on one machine, in one command: PostgreSQL and Redis on loopback, the schema
# migrated, N silos and one gateway clustered through Redis, the demo users and torrents registered.
#
#   deploy/local/cluster.sh start [DIR]    build, start everything, print the announce URL (default DIR: .run/cluster)
#   deploy/local/cluster.sh stop [DIR]     stop everything started under DIR, waiting for each program to end
#                                          (data stays in DIR; start again with start)
#
# Environment: SILOS (2), GATEWAY_PORT (6969), ADMIN_TOKEN (random, written to DIR/admin-token).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
command=${1:-start}
dir=${2:-$root/.run/cluster}
silos=${SILOS:-2}
gateway_port=${GATEWAY_PORT:-6969}

# Stops one program by its pid file: SIGTERM, then waits for it to finish its graceful shutdown (bounded), then SIGKILL.
stop_program() {
  local pidfile=$1 pid
  pid=$(cat "$pidfile")
  if kill -TERM "$pid" 2>/dev/null; then
    for _ in $(seq 1 600); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "$(basename "$pidfile" .pid) did not stop within 60 s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$pidfile"
}

stop() {
  # The gateway first, so no announce arrives while silos hand their swarms on; then each silo in turn.
  [ -f "$dir/gateway.pid" ] && { echo "Stopping the gateway..."; stop_program "$dir/gateway.pid"; }
  for pidfile in "$dir"/silo*.pid; do
    [ -f "$pidfile" ] || continue
    echo "Stopping $(basename "$pidfile" .pid)..."
    stop_program "$pidfile"
  done
  echo "Stopping PostgreSQL and Redis..."
  "$root/deploy/scripts/local-services.sh" stop "$dir/services"
  echo "Stopped. Data stays in $dir; start again with: $0 start"
}

start() {
  mkdir -p "$dir"
  if ls "$dir"/*.pid >/dev/null 2>&1; then
    echo "Already running under $dir; stop it first: $0 stop $dir" >&2
    exit 1
  fi

  echo "Building (Release)..."
  dotnet build "$root/Chihaya.Orleans.sln" -c Release -v quiet -nologo >/dev/null
  echo "Starting PostgreSQL and Redis on loopback..."
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
  dotnet "$root/Silo/bin/Release/net10.0/Chihaya.Orleans.Silo.dll" migrate

  echo "Starting $silos silos and a gateway on port $gateway_port..."
  for i in $(seq 1 "$silos"); do
    Cluster__SiloPort=$((11110 + i)) Cluster__GatewayPort=$((30000 + i)) \
      nohup dotnet "$root/Silo/bin/Release/net10.0/Chihaya.Orleans.Silo.dll" > "$dir/silo$i.log" 2>&1 &
    echo $! > "$dir/silo$i.pid"
  done

  Cluster__Mode=Client Admin__Token="$token" \
    nohup dotnet "$root/Gateway/bin/Release/net10.0/Chihaya.Orleans.Gateway.dll" --urls "http://0.0.0.0:$gateway_port" > "$dir/gateway.log" 2>&1 &
  echo $! > "$dir/gateway.pid"

  echo "Waiting for the gateway to answer (silos join the cluster first)..."
  local ready=0
  for _ in $(seq 1 240); do
    if curl -fsS "http://127.0.0.1:$gateway_port/healthz" >/dev/null 2>&1; then
      ready=1
      break
    fi
    for pidfile in "$dir"/*.pid; do
      if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        echo "$(basename "$pidfile" .pid) exited during start; its log ($dir/$(basename "$pidfile" .pid).log) ends:" >&2
        tail -n 5 "$dir/$(basename "$pidfile" .pid).log" >&2
        rm -f "$pidfile"
        stop
        exit 1
      fi
    done
    sleep 0.5
  done
  if [ "$ready" -ne 1 ]; then
    echo "The gateway did not answer within 120 s; see $dir/*.log" >&2
    stop
    exit 1
  fi

  # Register the demo users and torrents as a site would, through the admin API.
  python3 - "$root/deploy/seed/demo.json" "$gateway_port" "$token" <<'PY'
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
  echo "$silos silos and 1 gateway running; logs and pids in $dir; admin token in $dir/admin-token"
  echo "stop with: $0 stop $dir"
}

case $command in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop [DIR]" >&2; exit 2 ;;
esac
