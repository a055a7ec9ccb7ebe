#!/usr/bin/env bash
# Runs every test of Chihaya.Orleans on a fresh Debian machine with the .NET SDK:
# installs what the tests need (real torrent clients, PostgreSQL, Redis), starts PostgreSQL and Redis on
# loopback, builds in Release and runs all test projects.
# Usage: ./test.sh [extra dotnet test arguments, e.g. --filter "Category!=RealClients"]
set -euo pipefail
cd "$(dirname "$0")"

deploy/scripts/install-test-deps.sh

# Real PostgreSQL and Redis on loopback, data in a temporary folder, stopped again at the end.
services=$(mktemp -d)
log=$(mktemp)
trap 'deploy/scripts/local-services.sh stop "$services"; rm -rf "$services" "$log"' EXIT
deploy/scripts/local-services.sh start "$services" >/dev/null
# shellcheck disable=SC1091
source "$services/env"

# Build everything first: the cluster tests start the Silo and Gateway programs as separate processes.
dotnet build Chihaya.Orleans.sln -c Release -nologo -v quiet
status=0
# Normal verbosity: each test's name and time, and what passing tests print (the fault suite's
# figures, the status page's screenshot path) stay in the CI log.
dotnet test Chihaya.Orleans.sln -c Release --no-build --logger "console;verbosity=normal" "$@" 2>&1 | tee "$log" || status=$?

# One closing line for the whole suite, summed over the test assemblies (each ends with "Total tests: N" and its
# "Passed:", "Failed:", "Skipped:" lines at normal verbosity). Above it, each failed test's name and the first line of
# its message: the assemblies run at once, so a failure is otherwise far up a long log, out of a tail's reach.
awk '
  /^Total tests: [0-9]+/ { assemblies++ }
  /^ +Passed: [0-9]+$/ { passed += $2 }
  /^ +Failed: [0-9]+$/ { failed += $2 }
  /^ +Skipped: [0-9]+$/ { skipped += $2 }
  /^ +Failed .+ \[[0-9][0-9. a-z]*\]$/ {
    name = $0; sub(/^ +Failed /, "", name); sub(/ \[[0-9][0-9. a-z]*\]$/, "", name)
    failures[++failedTests] = name; awaiting = failedTests; next
  }
  awaiting && /^ +Error Message:$/ { reading = 1; next }
  reading { sub(/^ +/, ""); failures[awaiting] = failures[awaiting] ": " $0; reading = 0; awaiting = 0 }
  END {
    for (i = 1; i <= failedTests; i++) printf "failed: %s\n", failures[i]
    printf "%d passed, %d failed, %d skipped\n", passed, failed, skipped
    if (assemblies == 0) exit 1
  }' "$log" || status=1
exit "$status"
