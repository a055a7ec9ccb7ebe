#!/usr/bin/env bash
# Starts (or stops) a private PostgreSQL and Redis on loopback for tests and local runs, with all their
# data under one folder. Installs the Debian packages where missing. No Docker needed.
#
#   local-services.sh start DIR     start both (whichever is not running), write DIR/env (variables to source), print it
#   local-services.sh stop DIR      stop both (the data stays in DIR)
#   local-services.sh stop DIR postgres|redis    stop only that one (fault tests take one away, then start again)
#
# Ports: CHIHAYA_PG_PORT / CHIHAYA_REDIS_PORT, else free ones. PostgreSQL runs as the 'postgres'
# system user (initdb refuses root); the superuser password is random and written to DIR/env (mode 0600).
# Starting again after a stop reuses DIR's database, ports and password; Redis starts empty (no persistence).
set -euo pipefail

usage="usage: local-services.sh start DIR | stop DIR [postgres|redis]"
command=${1:?$usage}
dir=${2:?$usage}
only=${3:-}

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# A free port below the kernel's ephemeral range: one the kernel hands out (port 0) can be taken as the local port of
# an outgoing connection (a load generator's, a client's) before the server binds it.
free_port() {
  python3 -c '
import random, socket
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for _ in range(500):
    port = random.randint(10000, low - 1)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    break
else:
    raise SystemExit("no free port below the ephemeral range")
'
}

pg_bin() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$bin" ] || { echo "PostgreSQL server binaries not found" >&2; exit 1; }
  echo "$bin"
}

install_missing() {
  local missing=()
  for package in postgresql redis-server python3; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing: ${missing[*]}" >&2
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  # The Debian packages start their own cluster/server on the default ports; ours do not use them.
}

run_as_postgres() { as_root runuser -u postgres -- "$@"; }

start() {
  install_missing
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  # The postgres user must reach its files inside DIR (mktemp -d makes it 0700).
  chmod 755 "$dir"
  if ! run_as_postgres test -x "$dir"; then
    # A folder above DIR is private: a home folder (Debian makes them 0700; /root always is).
    echo "local-services.sh: the postgres user cannot reach $dir (a folder above it is private, as home folders are); give a DIR under /tmp or /var/tmp instead" >&2
    exit 1
  fi
  local bin pg_port redis_port password
  bin=$(pg_bin)

  if [ -f "$dir/pg/data/PG_VERSION" ] && [ -f "$dir/env" ]; then
    # Started before and stopped since: same data, same ports, same password.
    # shellcheck disable=SC1091
    source "$dir/env"
    pg_port=$CHIHAYA_PG_PORT
    redis_port=$CHIHAYA_REDIS_PORT
    password=$(sed -n 's/.*Password=\([^;]*\);.*/\1/p' <<< "$CHIHAYA_TEST_POSTGRES")
  else
    # DIR/pg is the postgres user's.
    as_root rm -rf "$dir/pg"
    rm -rf "$dir/redis"
    pg_port=${CHIHAYA_PG_PORT:-$(free_port)}
    redis_port=${CHIHAYA_REDIS_PORT:-$(free_port)}
    password=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
    mkdir -p "$dir/pg"
    as_root chown postgres:postgres "$dir/pg"
    # The password file lives only while initdb reads it, readable by nobody else, and goes even if initdb fails.
    local password_file="$dir/pg.pw" initdb_status=0
    (umask 077; printf '%s\n' "$password" > "$password_file")
    as_root chown postgres:postgres "$password_file"
    run_as_postgres "$bin/initdb" -D "$dir/pg/data" -U postgres --auth=scram-sha-256 --pwfile="$password_file" -E UTF8 \
      >"$dir/initdb.log" 2>&1 || initdb_status=$?  # in DIR: the caller's shell writes it, and DIR/pg is postgres's
    as_root rm -f "$password_file"
    if [ "$initdb_status" -ne 0 ]; then
      echo "initdb failed (exit $initdb_status); see $dir/initdb.log" >&2
      exit "$initdb_status"
    fi
  fi

  mkdir -p "$dir/redis"
  # Only what is not running: after 'stop DIR postgres' (or redis) a start brings back that one alone.
  if ! run_as_postgres "$bin/pg_ctl" -D "$dir/pg/data" status >/dev/null 2>&1; then
    run_as_postgres "$bin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -c port=$pg_port -c unix_socket_directories=$dir/pg -c fsync=off -c synchronous_commit=off -c max_connections=200" start >/dev/null
  fi

  if ! redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG; then
    redis-server --port "$redis_port" --bind 127.0.0.1 --daemonize yes --save "" --appendonly no \
      --dir "$dir/redis" --pidfile "$dir/redis/redis.pid" --logfile "$dir/redis/redis.log"
    for _ in $(seq 1 50); do
      redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG && break
      sleep 0.1
    done
  fi

  # Holds the database password: readable by its owner only.
  (umask 077; cat > "$dir/env" <<ENV
export CHIHAYA_PG_PORT=$pg_port
export CHIHAYA_REDIS_PORT=$redis_port
export CHIHAYA_TEST_POSTGRES="Host=127.0.0.1;Port=$pg_port;Username=postgres;Password=$password;Database=postgres"
export CHIHAYA_TEST_REDIS="127.0.0.1:$redis_port"
ENV
  )
  chmod 600 "$dir/env"
  cat "$dir/env"
}

stop() {
  case $only in
    '') stop_redis; stop_postgres ;;
    redis) stop_redis ;;
    postgres) stop_postgres ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
}

stop_redis() {
  if [ -f "$dir/redis/redis.pid" ]; then
    redis-cli -p "$(sed -n 's/^export CHIHAYA_REDIS_PORT=//p' "$dir/env" 2>/dev/null)" shutdown nosave >/dev/null 2>&1 \
      || kill "$(cat "$dir/redis/redis.pid")" 2>/dev/null || true
    for _ in $(seq 1 100); do
      [ -f "$dir/redis/redis.pid" ] && kill -0 "$(cat "$dir/redis/redis.pid")" 2>/dev/null || break
      sleep 0.1
    done
    rm -f "$dir/redis/redis.pid"
  fi
}

stop_postgres() {
  local bin
  bin=$(pg_bin)
  if [ -d "$dir/pg/data" ]; then
    # -w: returns once the server has stopped.
    run_as_postgres "$bin/pg_ctl" -D "$dir/pg/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
}

case $command in
  start) start ;;
  stop) stop ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
