#!/usr/bin/env bash
# gpu-slows under the saturation protocol (no deadlines, queues of 64), split
# at the GPU's slowdown (BENCHMARKS.md, "Scheduling under deadlines, fairness
# and overload"): for earliest-finish and idle-first, the requests refused,
# the answers before and after the slowdown within the measured window, and
# each device's idle time in each part, read from `heteroaccel sim --events`.
# Usage: bench/sim/phases.sh [SEED=1] [LOAD=1.3] [BINARY=build/bin/heteroaccel]
set -euo pipefail
seed=${1:-1}
load=${2:-1.3}
bin=${3:-build/bin/heteroaccel}
scenario=examples/sim/gpu-slows.yaml
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# The measured window and the slowdown, in seconds, from the scenario.
warmup=$(sed -n 's/^warmup: \([0-9]*\)s$/\1/p' "$scenario")
duration=$(sed -n 's/^duration: \([0-9]*\)s$/\1/p' "$scenario")
fault=$(sed -n 's/.*{at: \([0-9]*\)s, device:.*/\1/p' "$scenario")

for policy in earliest-finish idle-first; do
  sed -e "s/^policy: .*/policy: $policy/" -e 's/, deadline_ms: [0-9]*//' "$scenario" >"$dir/s.yaml"
  echo "queue_capacity: 64" >>"$dir/s.yaml"
  "$bin" sim "$dir/s.yaml" --load "$load" --seed "$seed" --events "$dir/events" --json \
    >"$dir/report.json"
  refused=$(grep -o '"refused": *[0-9]*' "$dir/report.json" | tail -1 | grep -o '[0-9]*$')
  awk -v policy="$policy" -v refused="$refused" -v t0="$warmup" -v tf="$fault" \
      -v t1="$((warmup + duration))" '
    function account(d, t,   a, b) {  # idle time of d up to t, split at the slowdown
      if (!(d in last)) last[d] = t0 * 1e9
      if (inflight[d] == 0) {
        a = last[d]; b = t < tf * 1e9 ? t : tf * 1e9
        if (b > a) idle_before[d] += b - a
        a = last[d] > tf * 1e9 ? last[d] : tf * 1e9; b = t < t1 * 1e9 ? t : t1 * 1e9
        if (b > a) idle_after[d] += b - a
      }
      if (t > last[d]) last[d] = t
    }
    $2 == "at_device" || $2 == "done" {
      t = $1 + 0
      for (i = 3; i <= NF; ++i) if ($i ~ /^device=/) d = substr($i, 8)
      devices[d] = 1
      if (t >= t0 * 1e9) account(d, t)
      if ($2 == "at_device") { ++inflight[d]; next }
      --inflight[d]
      if (t >= t0 * 1e9 && t < tf * 1e9) ++done_before
      else if (t >= tf * 1e9 && t < t1 * 1e9) ++done_after
    }
    END {
      for (d in devices) account(d, t1 * 1e9)
      printf "%s: refused %d; answered %d before the slowdown (%ds-%ds), %d after (%ds-%ds)\n",
             policy, refused, done_before, t0, tf, done_after, tf, t1
      n = 0
      for (d in devices) names[++n] = d
      for (i = 1; i <= n; ++i) for (j = i + 1; j <= n; ++j) if (names[j] < names[i]) {
        x = names[i]; names[i] = names[j]; names[j] = x
      }
      for (i = 1; i <= n; ++i) {
        printf "  %-16s idle %6.2f s before, %6.2f s after\n", names[i],
               idle_before[names[i]] / 1e9, idle_after[names[i]] / 1e9
      }
    }' "$dir/events"
done
