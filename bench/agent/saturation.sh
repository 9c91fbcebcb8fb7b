#!/usr/bin/env bash
# Device occupancy at saturation (BENCHMARKS.md, "Agent: a device's time at
# saturation"): one agent with one emulated device that holds every request a
# fixed time (no spread), driven straight (no server) by closed-loop clients
# that always keep its queue non-empty. At saturation the device should finish
# one request every hold; what it loses between two requests (the slot's own
# work, the answer's encoding and send when it is done on the slot) shows as
# occupancy per request - hold. With several binaries they alternate per hold
# and round, so the machine's noise hits each alike.
# Usage: [HOLDS="2 5 20"] bench/agent/saturation.sh [ROUNDS=3] [SECONDS=8] BINARY...
#        (default binary: build/bin/heteroaccel). HOLDS=0 gives the floor: what
#        the machine's CPU lets the clients and the agent carry with no hold.
set -euo pipefail
rounds=${1:-3}
seconds=${2:-8}
shift $(( $# >= 2 ? 2 : $# ))
binaries=("$@")
[ ${#binaries[@]} -gt 0 ] || binaries=(build/bin/heteroaccel)
models_dir=${HETEROACCEL_MODELS_DIR:-$PWD/models}
dir=$(mktemp -d)
agent_pid=
. "$(dirname "$0")/agent.sh"
cleanup() { [ -z "$agent_pid" ] || kill "$agent_pid" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

printf '%-8s %-32s %5s %10s %10s %12s %9s\n' hold_ms binary round req/s compute_ms occupancy_ms of_ideal
for hold in ${HOLDS:-2 5 20}; do
  cat > "$dir/agent.yaml" <<YAML
node: saturation
opencl: false
cpu: {slots: 1, emulated: true, types: []}
devices:
  - {id: hold0, kind: gpu, slots: 1, latency_ms: {face: $hold}, default_latency_ms: $hold, latency_sigma: 0, types: [face], reuse_results: true}
YAML
  for round in $(seq "$rounds"); do
    for bin in "${binaries[@]}"; do
      start_agent "$bin" "$dir/agent.yaml" face
      wait_ready 300 0.1 || exit 1
      "$bin" bench --target "$url" --cameras 4 --mix face --duration "${seconds}s" --warmup 2s \
        --images "$models_dir/images" --json >"$dir/report.json" 2>/dev/null
      stop_agent
      python3 - "$dir/report.json" "$hold" "$bin" "$round" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
hold = float(sys.argv[2])
device = next(iter(r["per_device"].values()))
rps = r["throughput_rps"]
occupancy = 1000.0 / rps
print(f"{hold:<8g} {sys.argv[3][-32:]:<32} {sys.argv[4]:>5} {rps:10.2f} "
      f"{device['mean_compute_ms']:10.3f} {occupancy:12.3f} {hold / occupancy:9.4f}")
PY
    done
  done
done
