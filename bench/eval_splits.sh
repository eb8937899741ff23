#!/usr/bin/env bash
# Issue 18's comparison on the full 60-stock Optiver set (needs ../shared), under both split
# rules: the bucket hash split (new periods of known stocks) and --split-by stock (whole
# stocks never seen in training).  For each: ingest with market context, the flat export,
# LightGBM trained by tools/py/train_gbdt.py on that split's train rows (early-stopped on
# its val), scored by `tickinfer eval` (bootstrap 95% intervals, per-stock RMSPE) beside
# every baseline on the same buckets.
#   bash bench/eval_splits.sh [OUT]      (default bench/results/eval_splits)
# OUT/{bucket,stock}/{eval.md,eval.json,*.svg,rv_gbdt_report.json}, OUT/summary.md.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-bench/results/eval_splits}
SRC=../shared/data/optiver_rv_trade_train/trade_train.parquet
T=build/release/tickinfer
PY=.venv/bin/python
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
[[ -x $T ]] || make -j"$(nproc)" all
[[ -d $SRC ]] || { echo "eval_splits: $SRC not found (this benchmark needs ../shared)" >&2; exit 1; }
mkdir -p "$OUT"
for rule in bucket stock; do
    echo "== split by $rule"
    $T ingest "$SRC" -o "$W/ds_$rule" --market --split-by "$rule" -q
    $T dataset info "$W/ds_$rule" > "$OUT/dataset_$rule.txt"
    $T dataset export "$W/ds_$rule" --flat -o "$W/flat_$rule" --quiet
    $PY tools/py/train_gbdt.py --flat "$W/flat_$rule" --out "$W/models_$rule" --library lightgbm
    mkdir -p "$OUT/$rule"
    mv "$W/models_$rule/rv_gbdt_report.json" "$OUT/$rule/"
    $T eval --model "$W/models_$rule/rv_lgbm.json" --dataset "$W/ds_$rule" -o "$OUT/$rule" > /dev/null
done
$PY - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
ev = {r: json.load(open(os.path.join(out, r, "eval.json"))) for r in ("bucket", "stock")}
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
with open(os.path.join(out, "summary.md"), "w") as f:
    f.write("# Accuracy under both split rules (full 60-stock Optiver set, market context)\n\n")
    f.write("Made by `bash bench/eval_splits.sh` (%s, %d cores). Every number is `tickinfer eval` on the "
            "same buckets; [lo, hi] = 95%% bootstrap interval over buckets. LightGBM: tools/py/train_gbdt.py "
            "(RMSPE-aligned, early-stopped on val) on the flat export of that dataset (28 window terms incl. "
            "market), served by the trees kind.\n\n" % (cpu, os.cpu_count()))
    f.write("| predictor | bucket split val | bucket split test | stock split val | stock split test |\n|---|---:|---:|---:|---:|\n")
    ci = lambda d: "%.4f [%.4f, %.4f]" % (d["rmspe"], d["ci95"][0], d["ci95"][1])
    f.write("| LightGBM (trees kind) | %s | %s | %s | %s |\n" % (ci(ev["bucket"]["val"]), ci(ev["bucket"]["test"]),
                                                         ci(ev["stock"]["val"]), ci(ev["stock"]["test"])))
    base = {r: {b["name"]: b for b in ev[r]["baselines"]} for r in ev}
    for name in base["bucket"]:
        b, s = base["bucket"][name], base["stock"].get(name)
        f.write("| %s | %.4f | %.4f | %s | %s |\n" % (name, b["val"], b["test"], "%.4f" % s["val"] if s else "",
                                                     "%.4f" % s["test"] if s else ""))
    for r in ("bucket", "stock"):
        p = sorted(x["rmspe"] for x in ev[r]["per_stock_test"])
        f.write("\nSplit by %s: %d test stocks, per-stock test RMSPE min %.4f / median %.4f / max %.4f (%s/eval.md).\n"
                % (r, len(p), p[0], p[len(p) // 2], p[-1], r))
    f.write("\nOn the stock split, `stock_mean` and HAR-RV's stock-level regressor have no train history for the held-out "
            "stocks and use the global train mean.\n")
print(open(os.path.join(out, "summary.md")).read())
PY
