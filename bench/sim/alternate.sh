#!/usr/bin/env bash
# Alternates two sim_scale binaries on one cut of a scenario and prints each
# one's median user CPU seconds (BENCHMARKS.md, "Simulator"). The machine is
# shared: alternating puts both under the same load, so their ratio holds where
# either time alone does not.
# Usage: bench/sim/alternate.sh OLD NEW [PAIRS=7] [DURATION=20s] [SCENARIO]
set -euo pipefail
old=${1:?old sim_scale binary}
new=${2:?new sim_scale binary}
pairs=${3:-7}
duration=${4:-20s}
scenario=${5:-examples/sim/scale.yaml}
TIMEFORMAT=%U
declare -A times
for _ in $(seq "$pairs"); do
  for bin in "$old" "$new"; do
    t=$( { time "$bin" "$scenario" --duration "$duration" >/dev/null; } 2>&1 )
    times[$bin]+="$t "
  done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
m_old=$(echo "${times[$old]}" | median)
m_new=$(echo "${times[$new]}" | median)
echo "old $old: median ${m_old} s user (${times[$old]% })"
echo "new $new: median ${m_new} s user (${times[$new]% })"
awk -v a="$m_old" -v b="$m_new" 'BEGIN {printf "new / old: %.3f\n", b / a}'
