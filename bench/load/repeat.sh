#!/usr/bin/env bash
# bench/load/repeat.sh: the same wrk + announce.lua run N times against one server, one line per run, then
# the medians. It records where the CPU went as well: wrk and the server share the machine, and loopback
# TCP work lands in sys/softirq time that neither process is charged for.
#
#   bench/load/repeat.sh -p SERVER_PID -n RUNS -w "WRK_OPTIONS" [-r "PID ..."] URL [announce.lua key=value ...]
#   bench/load/repeat.sh -p "$(pgrep -n opentracker)" -n 3 -w "-t1 -c64 -d20s" http://127.0.0.1:6969 warm=1
#
# -r: more processes (each with its descendants) whose VmRSS is read after every run, e.g. silos or PostgreSQL.
#
# Lines printed (key=value fields, so callers can pick them with sed or awk):
#   run I/N  <announce.lua's RESULT fields> server_cpu= wrk_cpu= cpu_user= cpu_sys= cpu_softirq= cpu_idle= rss_kb=
#            [more_rss_kb=A,B,...]
#            server_cpu / wrk_cpu: percent of one core; cpu_*: percent of the whole machine (all cores);
#            rss_kb: the server's VmRSS after the run; more_rss_kb: that of each -r process tree, in -r's order
#   EVENTS / CHECK   announce.lua's lines of that run
#   median   rps= p50_us= p99_us= p999_us= server_cpu= wrk_cpu= cpu_user= cpu_sys= cpu_softirq= cpu_idle= rss_max_kb=
#            [more_rss_max_kb=A,B,...]   (the rss fields are the largest seen after a run, not medians)
set -euo pipefail

usage() { echo "usage: $0 -p SERVER_PID -n RUNS -w \"WRK_OPTIONS\" [-r \"PID ...\"] URL [announce.lua key=value ...]" >&2; exit 2; }
pid='' runs='' wrkopts='' more=''
while getopts p:n:w:r: opt; do
  case $opt in
    p) pid=$OPTARG;; n) runs=$OPTARG;; w) wrkopts=$OPTARG;; r) more=$OPTARG;; *) usage;;
  esac
done
shift $((OPTIND - 1))
(($# >= 1)) && [[ $pid =~ ^[0-9]+$ && $runs =~ ^[1-9][0-9]*$ && -n $wrkopts && $more =~ ^[0-9\ ]*$ ]] || usage
url=$1; shift
script="$(cd "$(dirname "$0")" && pwd)/announce.lua"
for p in $pid $more; do
  [[ -r /proc/$p/stat ]] || { echo "$0: no process $p" >&2; exit 1; }
done

ticks_per_sec=$(getconf CLK_TCK)
tmp=$(mktemp -d)

# utime + stime of a process, in clock ticks. The command name (field 2) may hold spaces, so count the
# fields after its closing parenthesis.
proc_ticks() { sed -E 's/^.*\) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
# machine-wide ticks: user+nice, system, irq+softirq, idle+iowait, and everything (steal included)
machine_ticks() { awk '$1 == "cpu" {t = 0; for (i = 2; i <= NF; i++) t += $i; print $2 + $3, $4, $7 + $8, $5 + $6, t}' /proc/stat; }
now() { date +%s.%N; }
# VmRSS of a process and all its descendants, in kB
tree_rss_kb() {
  { cat /proc/[0-9]*/status 2>/dev/null || true; } | awk -v root="$1" '
    $1 == "Pid:" {pid = $2} $1 == "PPid:" {parent[pid] = $2} $1 == "VmRSS:" {rss[pid] = $2}
    END {for (q in parent) {x = q; while (x != root && (x in parent) && x > 1) x = parent[x]; if (x == root) s += rss[q]}; printf "%d\n", s}'
}

declare -A series   # field -> space-separated values, one per run
keep() { series[$1]+="$2 "; }

# Each run is timed from wrk's "Running ..." line, which wrk prints once every thread's init() is done and
# just before its clock starts: announce.lua builds all its peers in init(), and that second or so of wrk
# alone on the CPU would otherwise dilute the server's share and inflate wrk's.
wrk_pid=''
trap 'if [[ -n $wrk_pid ]]; then kill "$wrk_pid" 2>/dev/null || true; fi; rm -rf "$tmp"' EXIT
for i in $(seq 1 "$runs"); do
  # bash's time keyword gives wrk's CPU over its whole life; TIMEFORMAT makes it print user and system
  # seconds only. stdbuf: wrk's stdout is a file, and its "Running" line must reach it at once.
  TIMEFORMAT='%3U %3S'
  # shellcheck disable=SC2086  # the wrk options are a word list
  { time stdbuf -oL wrk $wrkopts --latency -s "$script" "$url" -- "$@" > "$tmp/out" 2> "$tmp/err"; } 2> "$tmp/time" &
  job=$!
  until grep -q '^Running ' "$tmp/out" 2>/dev/null; do
    kill -0 "$job" 2>/dev/null || break
    sleep 0.02
  done
  read -r u0 s0 q0 d0 a0 < <(machine_ticks)
  p0=$(proc_ticks "$pid"); t0=$(now)
  # the background job is a subshell whose only child is wrk (stdbuf execs it): its CPU so far is init's
  wrk_pid=$(cat "/proc/$job/task/$job/children" 2>/dev/null || true); wrk_pid=${wrk_pid%% *}
  w0=0
  if [[ -n $wrk_pid ]]; then w0=$(proc_ticks "$wrk_pid" 2>/dev/null || echo 0); fi
  if ! wait "$job"; then
    cat "$tmp/out" "$tmp/err" >&2
    echo "$0: wrk failed in run $i" >&2
    exit 1
  fi
  wrk_pid=''
  t1=$(now)
  [[ -r /proc/$pid/stat ]] || { echo "$0: the server (pid $pid) exited during run $i" >&2; exit 1; }
  p1=$(proc_ticks "$pid")
  read -r u1 s1 q1 d1 a1 < <(machine_ticks)
  rss=$(awk '$1 == "VmRSS:" {print $2}' "/proc/$pid/status")
  more_rss=''
  for p in $more; do more_rss+="${more_rss:+,}$(tree_rss_kb "$p")"; done
  result=$(sed -n 's/^RESULT //p' "$tmp/out")
  [[ -n $result ]] || { cat "$tmp/out" "$tmp/err" >&2; echo "$0: no RESULT line from announce.lua in run $i" >&2; exit 1; }

  read -r wrk_user wrk_sys < "$tmp/time"
  cpu=$(awk -v el="$(echo "$t1 - $t0" | bc -l)" -v hz="$ticks_per_sec" -v srv=$((p1 - p0)) -v wu="$wrk_user" -v ws="$wrk_sys" -v winit="$w0" \
    -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v q=$((q1 - q0)) -v d=$((d1 - d0)) -v a=$((a1 - a0)) 'BEGIN {
      if (a <= 0) a = 1
      printf "server_cpu=%.0f wrk_cpu=%.0f cpu_user=%.0f cpu_sys=%.0f cpu_softirq=%.0f cpu_idle=%.0f",
        100 * srv / hz / el, 100 * (wu + ws - winit / hz) / el, 100 * u / a, 100 * s / a, 100 * q / a, 100 * d / a }')
  echo "run $i/$runs $result $cpu rss_kb=$rss${more:+ more_rss_kb=$more_rss}"
  grep -E '^(EVENTS|CHECK) ' "$tmp/out" || true

  for field in rps p50_us p99_us p999_us; do
    keep "$field" "$(sed -nE "s/^(.* )?$field=([0-9]+).*/\2/p" <<< "$result")"
  done
  for field in server_cpu wrk_cpu cpu_user cpu_sys cpu_softirq cpu_idle; do
    keep "$field" "$(sed -nE "s/^(.* )?$field=([0-9]+).*/\2/p" <<< "$cpu")"
  done
  keep rss_kb "$rss"
  [[ -z $more ]] || keep more_rss_kb "$more_rss"
done

# the middle value; with an even count, the mean of the two middle ones
median() { tr ' ' '\n' | grep . | sort -n | awk '{v[NR] = $1} END {printf "%.0f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
line=median
for field in rps p50_us p99_us p999_us server_cpu wrk_cpu cpu_user cpu_sys cpu_softirq cpu_idle; do
  line+=" $field=$(median <<< "${series[$field]}")"
done
line+=" rss_max_kb=$(tr ' ' '\n' <<< "${series[rss_kb]}" | grep . | sort -n | tail -1)"
# each -r process tree's largest, column by column
[[ -z $more ]] || line+=" more_rss_max_kb=$(tr ' ' '\n' <<< "${series[more_rss_kb]}" | grep . \
  | awk -F, '{for (i = 1; i <= NF; i++) if ($i > m[i]) m[i] = $i} END {for (i = 1; i <= NF; i++) printf "%s%d", (i > 1 ? "," : ""), m[i]}')"
echo "$line"
