#!/usr/bin/env bash
# bench/micro.sh: BenchmarkDotNet microbenchmarks of the announce path's pieces (bench/Microbenchmarks), with the
# bytes each operation allocates. No network, no database: each benchmark builds its state in memory.
#
#   bench/micro.sh                                        # every benchmark, BenchmarkDotNet's default job
#   BENCH_MICRO_QUICK=1 bench/micro.sh                    # short job (3 warm-up and 3 measured iterations)
#   BENCH_MICRO_FILTER='*PeerSelection*' bench/micro.sh   # some classes or methods only (a glob on full names)
#   bench/micro.sh --list flat                            # further arguments go to BenchmarkDotNet as they are
#
# BenchmarkDotNet's artifacts (logs, reports in Markdown, CSV and HTML) go to a new temporary folder, named at the end;
# BENCH_MICRO_ARTIFACTS names another. The build goes to the project's bin/ and obj/, which git ignores.
set -euo pipefail

FILTER=${BENCH_MICRO_FILTER:-*}
QUICK=${BENCH_MICRO_QUICK:-0}
ARTIFACTS=${BENCH_MICRO_ARTIFACTS:-$(mktemp -d "${TMPDIR:-/tmp}/chihaya-micro.XXXXXX")}

repo=$(cd "$(dirname "$0")/.." && pwd)
args=(--filter "$FILTER" --artifacts "$ARTIFACTS")
if [[ $QUICK == 1 ]]; then
  args+=(--job short)
fi

cd "$repo"
status=0
dotnet run -c Release --project bench/Microbenchmarks -- "${args[@]}" "$@" || status=$?
echo "bench/micro.sh: BenchmarkDotNet artifacts in $ARTIFACTS (reports in $ARTIFACTS/results)" >&2
exit "$status"
