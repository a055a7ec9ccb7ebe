#!/usr/bin/env bash
# The production shape on one machine, in one command: PostgreSQL and Redis on loopback, the schema
# migrated, N silos and one gateway clustered through Redis, the demo users and torrents registered.
#
#   deploy/local/cluster.sh start [DIR]    build, start everything, print the announce URL (default DIR: .run/cluster)
#   deploy/local/cluster.sh stop [DIR]     stop everything started under DIR (data stays in DIR)
#
# Environment: SILOS (2), GATEWAY_PORT (6969), ADMIN_TOKEN (random, written to DIR/admin-token).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
command=${1:-start}
dir=${2:-$root/.run/cluster}
silos=${SILOS:-2}
gateway_port=${GATEWAY_PORT:-6969}

stop() {
  for pidfile in "$dir"/*.pid; do
    [ -f "$pidfile" ] || continue
    kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
  done
  sleep 2
  "$root/deploy/scripts/local-services.sh" stop "$dir/services"
}

start() {
  mkdir -p "$dir"
  if ls "$dir"/*.pid >/dev/null 2>&1; then
    echo "Already running under $dir; stop it first: $0 stop $dir" >&2
    exit 1
  fi

  echo "Building (Release)..."
  dotnet build "$root/Chihaya.Orleans.sln" -c Release -v quiet -nologo >/dev/null
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

  dotnet "$root/Silo/bin/Release/net10.0/Chihaya.Orleans.Silo.dll" migrate

  for i in $(seq 1 "$silos"); do
    Cluster__SiloPort=$((11110 + i)) Cluster__GatewayPort=$((30000 + i)) \
      nohup dotnet "$root/Silo/bin/Release/net10.0/Chihaya.Orleans.Silo.dll" > "$dir/silo$i.log" 2>&1 &
    echo $! > "$dir/silo$i.pid"
  done

  Cluster__Mode=Client Admin__Token="$token" \
    nohup dotnet "$root/Gateway/bin/Release/net10.0/Chihaya.Orleans.Gateway.dll" --urls "http://0.0.0.0:$gateway_port" > "$dir/gateway.log" 2>&1 &
  echo $! > "$dir/gateway.pid"

  for _ in $(seq 1 120); do
    curl -fsS "http://127.0.0.1:$gateway_port/healthz" >/dev/null 2>&1 && break
    sleep 0.5
  done

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
