#!/usr/bin/env bash
# Criterion micro-benchmarks (every bench under benches/, or BENCH=sip_parse for one),
# RUNS times (default 1), then a table of each benchmark's median time per run and the
# median of those, from criterion's estimates.json. Results: $OUT/criterion.txt.
#
# Knobs: RUNS=3, BENCH=name, BENCH_OUT.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${BENCH_OUT:-$ROOT/var/bench}
RUNS=${RUNS:-1}
# The criterion benches only: webrtc_load is a whole-call load run (make bench-webrtc).
BENCH_ARGS=(--bench sip_parse --bench media --bench jitter --bench tts)
[ -n "${BENCH:-}" ] && BENCH_ARGS=(--bench "$BENCH")
mkdir -p "$OUT"
cd "$ROOT"

runs=()
for i in $(seq 1 "$RUNS"); do
    echo "== criterion run $i of $RUNS"
    stamp=$(date +%s)
    cargo bench "${BENCH_ARGS[@]}" 2>&1 | grep -E '^[a-z_]+/|time:|thrpt:' | grep -v '%' || true
    snap="$OUT/criterion.run$i.json"
    python3 - "$ROOT/target/criterion" "$snap" "$stamp" <<'EOF'
import json, pathlib, sys
root, out, stamp = pathlib.Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
medians = {}
# Only what this run measured (older results of other benches stay on disk).
for est in sorted(p for p in root.glob("*/*/new/estimates.json") if p.stat().st_mtime >= stamp):
    name = f"{est.parent.parent.parent.name}/{est.parent.parent.name}"
    medians[name] = json.loads(est.read_text())["median"]["point_estimate"]
json.dump(medians, open(out, "w"), indent=1)
EOF
    runs+=("$snap")
done

{
    echo "== criterion medians ($(date -u +%Y-%m-%dT%H:%MZ); $(nproc) cores, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo))"
    python3 - "${runs[@]}" <<'EOF'
import json, statistics, sys
runs = [json.load(open(p)) for p in sys.argv[1:]]
def show(ns):
    return f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.0f} ns"
print(f"{'benchmark':<36} {'median of runs':>15}   per run")
for name in runs[0]:
    vals = [r[name] for r in runs if name in r]
    print(f"{name:<36} {show(statistics.median(vals)):>15}   " + ", ".join(show(v) for v in vals))
EOF
} | tee "$OUT/criterion.txt"
