#!/usr/bin/env bash
# Task-queue kernels: tickinfer (bench/taskq.c) beside numpy and PyTorch at the same
# thread counts, same machine, same run.  Writes bench/results/taskq.{json,md}.
#   bash bench/taskq.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
QUICK=${1:-}
PY=${TI_PYTHON:-.venv/bin/python}
NCORES=$(nproc)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
make -s build/release/bench/taskq
build/release/bench/taskq $QUICK --out "$TMP/c.json"
# numpy's BLAS reads its thread count at import: one process per thread count.
OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 "$PY" bench/taskq_peers.py --threads 1 $QUICK --out "$TMP/p1.json"
OPENBLAS_NUM_THREADS=$NCORES OMP_NUM_THREADS=$NCORES MKL_NUM_THREADS=$NCORES \
    "$PY" bench/taskq_peers.py --threads "$NCORES" $QUICK --out "$TMP/pn.json"
mkdir -p bench/results
"$PY" - "$TMP" <<'PYEOF'
import json, sys
d = sys.argv[1]
c = json.load(open(f"{d}/c.json"))
p1, pn = json.load(open(f"{d}/p1.json")), json.load(open(f"{d}/pn.json"))
rows = []
best = {}  # (kernel, size, threads) -> tickinfer median at the best level
for r in c["results"]:
    rows.append(dict(engine="tickinfer " + r["level"], **{k: r[k] for k in ("kernel", "size", "B", "d1", "d2", "threads", "median_us", "p95_us", "p99_us")}))
    key = (r["kernel"], r["size"], r["threads"])
    if r["level"] != "scalar" and (key not in best or r["median_us"] < best[key]):
        best[key] = r["median_us"]
for p in (p1, pn):
    for r in p["results"]:
        rows.append(dict(engine=r["engine"], **{k: r[k] for k in ("kernel", "size", "B", "d1", "d2", "threads", "median_us", "p95_us", "p99_us")}))
for r in rows:
    t = best.get((r["kernel"], r["size"], r["threads"]))
    r["ratio_to_tickinfer"] = r["median_us"] / t if t else None  # > 1: slower than tickinfer
def shape(r):
    if r["kernel"] == "batched_gemv": return f"B={r['B']} in={r['d1']} out={r['d2']}"
    if r["kernel"] == "batched_softmax": return f"B={r['B']} dim={r['d1']}"
    return f"B={r['B']} assets={r['d1']} features={r['d2']}"
out = {"cpu": c["cpu"], "cores": c["cores"], "versions": pn.get("versions", {}), "rows": rows}
json.dump(out, open("bench/results/taskq.json", "w"), indent=1)
with open("bench/results/taskq.md", "w") as f:
    f.write(f"# Task-queue kernels (CPU): tickinfer vs numpy and PyTorch\n\n{c['cpu']}, {c['cores']} cores; "
            f"versions {out['versions']}. Median / p95 / p99 in microseconds over many runs after warm-up "
            "(about 1 s of runs per row). ratio = engine median / tickinfer's best SIMD level at the same "
            "thread count (> 1: tickinfer is faster).\n\n")
    f.write("| kernel | shape | engine | threads | median us | p95 us | p99 us | ratio |\n|---|---|---|---|---|---|---|---|\n")
    key = lambda r: (["batched_gemv", "batched_softmax", "process_price_vectors"].index(r["kernel"]), r["size"] != "seed", r["threads"], r["median_us"])
    for r in sorted(rows, key=key):
        ratio = f"{r['ratio_to_tickinfer']:.2f}" if r["ratio_to_tickinfer"] else "-"
        f.write(f"| {r['kernel']} | {shape(r)} | {r['engine']} | {r['threads']} | {r['median_us']:.1f} | "
                f"{r['p95_us']:.1f} | {r['p99_us']:.1f} | {ratio} |\n")
print("wrote bench/results/taskq.json, bench/results/taskq.md")
PYEOF
