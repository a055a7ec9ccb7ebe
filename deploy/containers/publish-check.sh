#!/usr/bin/env bash
# Proves the images' build steps without a container engine (none can pull the .NET base images here): runs each
# Dockerfile's own `dotnet` commands, read from the file, in a copy of the build context, then starts what they
# published the way the image's ENTRYPOINT would:
#   * the silo's `migrate` against a database that does not answer must end with one clear line and exit status 3 (a supervisor retries it);
#   * the gateway (embedded, on free loopback ports) must answer GET /healthz with 200 and stop on SIGTERM.
# Usage: deploy/containers/publish-check.sh [--keep DIR]   (DIR receives the published programs)
#        PUBLISH_CHECK_PORTS="HTTP SILO GATEWAY" picks the embedded gateway's loopback ports.
# Prints one line per step and `publish-check: ok` at the end; exit status 1 on the first failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)

work=$(mktemp -d)
keep=""
[ "${1:-}" = "--keep" ] && keep=${2:?--keep needs a folder}
gateway_pid=""
cleanup() {
  [ -n "$gateway_pid" ] && kill "$gateway_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "publish-check: FAILED: $*" >&2; exit 1; }

# The build context as a container engine gets it: the repository's files without build output or local state.
# (.dockerignore leaves out what .gitignore does, plus .git.)
context="$work/src"
mkdir -p "$context"
git ls-files -z --cached --others --exclude-standard | tar --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -xf - -C "$context"

# NAME DOCKERFILE pairs, and for each the RUN lines that call dotnet, with the image's /app put under $work/out.
declare -A entry_dll
while read -r name dockerfile; do
  case "$name" in ''|'#'*) continue ;; esac
  [ -f "$dockerfile" ] || fail "$dockerfile (image $name) does not exist"
  out="$work/out/$name"
  steps=0
  while IFS= read -r command; do
    command=${command/ -o \/app/ -o $out}
    echo "publish-check: $name: $command"
    (cd "$context" && eval "$command" -nologo -v quiet) || fail "$name: '$command' failed"
    steps=$((steps + 1))
  done < <(sed -n 's/^RUN \(dotnet .*\)$/\1/p' "$dockerfile")
  [ "$steps" -gt 0 ] || fail "$dockerfile has no RUN dotnet ... line"
  dll=$(sed -n 's/^ENTRYPOINT \["dotnet", "\([^"]*\)".*$/\1/p' "$dockerfile")
  [ -n "$dll" ] || fail "$dockerfile has no ENTRYPOINT [\"dotnet\", \"....dll\"]"
  [ -f "$out/$dll" ] || fail "$name: the ENTRYPOINT's $dll is not in the published output"
  [ -f "$out/appsettings.json" ] || fail "$name: appsettings.json is not in the published output"
  entry_dll[$name]=$dll
done < deploy/containers/images

for name in "${!entry_dll[@]}"; do
  out="$work/out/$name"
  case "${entry_dll[$name]}" in
    Chihaya.Orleans.Silo.dll)
      # Port 9 (discard) on loopback: nothing answers, so the migration must fail as an operator would see it.
      set +e
      problem=$(cd "$out" && Database__ConnectionString='Host=127.0.0.1;Port=9;Database=none;Username=none;Timeout=3' \
        dotnet Chihaya.Orleans.Silo.dll migrate 2>&1)
      status=$?
      set -e
      [ "$status" -eq 3 ] || fail "$name: migrate against no database ended with status $status, not 3: $problem"
      [ "$(printf '%s\n' "$problem" | wc -l)" -eq 1 ] || fail "$name: migrate against no database printed more than one line: $problem"
      echo "publish-check: $name: migrate without a database: status 3, '$problem'"
      ;;
    Chihaya.Orleans.Gateway.dll)
      # Three free loopback ports (HTTP, silo, silo gateway): from the caller (PUBLISH_CHECK_PORTS="A B C", as the
      # test passes its own), else from the kernel.
      read -r http silo gateway <<<"${PUBLISH_CHECK_PORTS:-$(python3 -c '
import socket
sockets = [socket.socket() for _ in range(3)]
for s in sockets: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in sockets))')}"
      (cd "$out" && exec env Urls="http://127.0.0.1:$http" Cluster__SiloPort="$silo" Cluster__GatewayPort="$gateway" \
        dotnet Chihaya.Orleans.Gateway.dll >"$work/gateway.log" 2>&1) &
      gateway_pid=$!
      answered=""
      for _ in $(seq 1 120); do
        if answered=$(curl -fsS --max-time 2 "http://127.0.0.1:$http/healthz" 2>/dev/null); then break; fi
        kill -0 "$gateway_pid" 2>/dev/null || fail "$name: the gateway exited before answering /healthz: $(cat "$work/gateway.log")"
        sleep 0.5
      done
      [ -n "$answered" ] || fail "$name: no answer from /healthz within 60 s: $(cat "$work/gateway.log")"
      kill -TERM "$gateway_pid"
      status=0
      wait "$gateway_pid" || status=$?
      gateway_pid=""
      [ "$status" -eq 0 ] || fail "$name: the gateway ended with status $status on SIGTERM: $(cat "$work/gateway.log")"
      echo "publish-check: $name: embedded gateway answered /healthz ('$answered') and stopped on SIGTERM"
      ;;
    *) fail "$name: no smoke test for ${entry_dll[$name]}" ;;
  esac
done

if [ -n "$keep" ]; then
  mkdir -p "$keep" && cp -r "$work/out/." "$keep/"
fi
echo "publish-check: ok"
