#!/bin/sh
# Two scheduler_benchmark binaries, alternating, ROUNDS rounds each: the median
# over rounds of each benchmark's Dispatch p50 and p99 and of Complete +
# Enqueue + Dispatch p99 (for a benchmark without those, such as BM_Burst4000,
# its time), in microseconds, and the ratio old / new of the medians. On a
# shared machine single runs differ by 1.5x; alternating spreads the noise over
# both.
#
#   bench/scheduler/ab.sh OLD_BINARY NEW_BINARY [ROUNDS] [FILTER]
#
# OLD_BINARY is typically the benchmark built at an earlier commit in a worktree
# (git worktree add /tmp/old COMMIT; cmake -S /tmp/old -B /tmp/old/build -G Ninja
# -DCMAKE_BUILD_TYPE=RelWithDebInfo; ninja -C /tmp/old/build scheduler_benchmark).
# A benchmark only one of them has shows "-" for the other.
set -eu
old=$1
new=$2
rounds=${3:-3}
filter=${4:-BM_Decision4000(Light|Grouped|Degrading|KindPinned|VariantPinned|Probing)/1}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
i=1
while [ "$i" -le "$rounds" ]; do
  for side in old new; do
    eval bin=\$$side
    "$bin" --benchmark_filter="$filter" --benchmark_format=json > "$out/$side.$i.json" 2>/dev/null
  done
  i=$((i + 1))
done
python3 - "$out" "$rounds" <<'EOF'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
figures = {}  # (name, side) -> {counter: [values]}
names = []
for side in ("old", "new"):
    for i in range(1, rounds + 1):
        with open(f"{out}/{side}.{i}.json") as f:
            for b in json.load(f)["benchmarks"]:
                name = b["name"].split("/iterations")[0]
                if name not in names:
                    names.append(name)
                per = figures.setdefault((name, side), {})
                if "dispatch_p50_ns" not in b:  # e.g. BM_Burst4000: its time
                    scale = {"ns": 1e-3, "us": 1, "ms": 1e3, "s": 1e6}[b["time_unit"]]
                    per.setdefault("time", []).append(b["real_time"] * scale)
                    continue
                for c in ("dispatch_p50_ns", "dispatch_p99_ns", "total_p99_ns"):
                    per.setdefault(c, []).append(b[c] / 1000)

def median(name, side, c):
    v = figures.get((name, side), {}).get(c)
    return statistics.median(v) if v else None

print(f"{rounds} rounds, medians in µs (old / new, ratio old/new)")
for name in names:
    cells = []
    timed = "time" in figures.get((name, "old"), figures.get((name, "new"), {}))
    for c, label in ((("time", "time"),) if timed else
                     (("dispatch_p50_ns", "dispatch p50"), ("dispatch_p99_ns", "dispatch p99"),
                      ("total_p99_ns", "total p99"))):
        a, b = median(name, "old", c), median(name, "new", c)
        fa = "-" if a is None else f"{a:.2f}"
        fb = "-" if b is None else f"{b:.2f}"
        ratio = f" ({a / b:.1f}x)" if a and b else ""
        cells.append(f"{label} {fa} / {fb}{ratio}")
    print(f"{name}: " + "; ".join(cells))
EOF
