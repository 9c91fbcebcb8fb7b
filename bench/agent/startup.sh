#!/usr/bin/env bash
# An agent's start-up (BENCHMARKS.md, "Components"): how long an agent takes
# from its start until it reports ready, and the CPU time (user, system) it
# spends until then, loading and warming the models one emulated device runs.
# That is what a node's restart costs, and on a shared machine what it takes
# from everything else. With several binaries they alternate per round, so the
# machine's noise hits each alike.
# Usage: [MODELS="face pose"] bench/agent/startup.sh [ROUNDS=5] BINARY...
#        (default binary: build/bin/heteroaccel)
set -euo pipefail
rounds=${1:-5}
shift $(( $# >= 1 ? 1 : 0 ))
binaries=("$@")
[ ${#binaries[@]} -gt 0 ] || binaries=(build/bin/heteroaccel)
models_dir=${HETEROACCEL_MODELS_DIR:-$PWD/models}
read -r -a models <<<"${MODELS:-face pose}"
dir=$(mktemp -d)
agent_pid=
. "$(dirname "$0")/agent.sh"
cleanup() { [ -z "$agent_pid" ] || kill "$agent_pid" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

types=$(IFS=,; echo "${models[*]}")
cat > "$dir/agent.yaml" <<YAML
node: startup
opencl: false
cpu: {slots: 1, emulated: true, types: []}
devices:
  - {id: npu0, kind: npu, slots: 1, default_latency_ms: 30, latency_sigma: 0, types: [$types], reuse_results: true}
YAML
ticks=$(getconf CLK_TCK)
printf '%-40s %5s %9s %8s %8s\n' binary round ready_s user_s sys_s
for round in $(seq "$rounds"); do
  for bin in "${binaries[@]}"; do
    start=$(date +%s.%N)
    start_agent "$bin" "$dir/agent.yaml" "${models[@]}"
    wait_ready 3000 0.01 || exit 1
    ready=$(date +%s.%N)
    read -r user sys < <(cut -d' ' -f14,15 "/proc/$agent_pid/stat")
    stop_agent
    name=$bin; [ ${#name} -le 40 ] || name=${name: -40}
    awk -v b="$name" -v r="$round" -v s="$start" -v e="$ready" -v u="$user" -v y="$sys" \
      -v t="$ticks" 'BEGIN { printf "%-40s %5d %9.3f %8.2f %8.2f\n", b, r, e - s, u / t, y / t }'
  done
done
