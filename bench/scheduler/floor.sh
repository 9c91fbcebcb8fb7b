#!/bin/sh
# The decision benchmarks against the machine's noise floor: ROUNDS runs of
# scheduler_benchmark, and per benchmark the median over rounds of its
# Dispatch p50 and p99, of its floor's p50 and p99 (a fixed computation
# calibrated to the Dispatch's median and timed after each operation; see
# DecisionLoop in src/scheduler/scheduler_benchmark.cc), and of the ratio
# Dispatch p99 / floor p99, in microseconds.
#
#   bench/scheduler/floor.sh [BINARY] [ROUNDS] [FILTER]
set -eu
bin=${1:-build/bin/scheduler_benchmark}
rounds=${2:-5}
filter=${3:-BM_Decision4000(Light|Grouped|Degrading|KindPinned|VariantPinned|Probing)/1}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
i=1
while [ "$i" -le "$rounds" ]; do
  "$bin" --benchmark_filter="$filter" --benchmark_format=json > "$out/$i.json" 2>/dev/null
  i=$((i + 1))
done
python3 - "$out" "$rounds" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
figures = {}
for i in range(1, rounds + 1):
    with open(f"{out}/{i}.json") as f:
        for b in json.load(f)["benchmarks"]:
            if "floor_p99_ns" not in b:
                continue
            per = figures.setdefault(b["name"].split("/iterations")[0], {})
            for c in ("dispatch_p50_ns", "dispatch_p99_ns", "floor_p50_ns", "floor_p99_ns"):
                per.setdefault(c, []).append(b[c] / 1000)
            per.setdefault("ratio", []).append(b["dispatch_p99_over_floor"])
print(f"{rounds} rounds, medians (µs): Dispatch p50 / p99, floor p50 / p99, Dispatch p99 / floor p99")
for name, per in figures.items():
    m = {c: statistics.median(v) for c, v in per.items()}
    print(f"{name}: dispatch {m['dispatch_p50_ns']:.2f} / {m['dispatch_p99_ns']:.2f}; "
          f"floor {m['floor_p50_ns']:.2f} / {m['floor_p99_ns']:.2f}; "
          f"p99 / floor p99 {m['ratio']:.2f} [{min(per['ratio']):.2f}-{max(per['ratio']):.2f}]")
PY
