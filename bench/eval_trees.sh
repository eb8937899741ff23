#!/usr/bin/env bash
# Gradient-boosted trees on the full 60-stock Optiver set (needs ../shared): the flat
# export of the dataset, LightGBM and XGBoost trained on it by tools/py/train_gbdt.py
# (RMSPE-aligned, early-stopped on val), each scored on val/test by `tickinfer eval`
# beside the baselines, like the transformer (bench/results/eval_full/).
#   bash bench/eval_trees.sh [OUT]      (default bench/results/eval_trees)
# OUT/{lightgbm,xgboost}/eval.md, OUT/summary.md, OUT/rv_gbdt_report.json; the trained
# files go to models/ (rv_lgbm.*, rv_xgb.*: the bundled tree models).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-bench/results/eval_trees}
SRC=../shared/data/optiver_rv_trade_train/trade_train.parquet
T=build/release/tickinfer
PY=.venv/bin/python
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
[[ -x $T ]] || make -j"$(nproc)" all
mkdir -p "$OUT"
$T ingest "$SRC" -o "$W/ds"
$T dataset export "$W/ds" --flat -o "$W/flat" --quiet
$PY tools/py/train_gbdt.py --flat "$W/flat" --out models
mv models/rv_gbdt_report.json "$OUT/"
$T eval --model models/rv_lgbm.json --dataset "$W/ds" -o "$OUT/lightgbm"
$T eval --model models/rv_xgb.tickinfer.json --dataset "$W/ds" -o "$OUT/xgboost"
$PY - "$OUT" <<'PY'
import json, sys, os
out = sys.argv[1]
rows = [(n, json.load(open(os.path.join(out, d, "eval.json")))) for n, d in
        (("LightGBM, trees kind (models/rv_lgbm.json)", "lightgbm"), ("XGBoost, trees kind", "xgboost"))]
ref = "bench/results/eval_full/eval.json"
r = lambda v: v["rmspe"] if isinstance(v, dict) else v
tr = json.load(open(ref)) if os.path.exists(ref) else None
with open(os.path.join(out, "summary.md"), "w") as f:
    f.write("# Trees vs the transformer and the baselines (full 60-stock Optiver set, same split)\n\n")
    f.write("Every number is `tickinfer eval` (output scale fitted on train). Made by `bash bench/eval_trees.sh`.\n\n")
    f.write("| model | val RMSPE | test RMSPE |\n|---|---:|---:|\n")
    for name, e in rows:
        f.write("| %s | %.4f | %.4f |\n" % (name, r(e["val"]), r(e["test"])))
    if tr:
        f.write("| causal transformer (models/rv_causal_optiver, bench/results/eval_full) | %.4f | %.4f |\n" % (r(tr["val"]), r(tr["test"])))
    for b in rows[0][1]["baselines"]:
        f.write("| baseline %s | %.4f | %.4f |\n" % (b["name"], b["val"], b["test"]))
    f.write("\nTraining (tools/py/train_gbdt.py, RMSPE-aligned, early-stopped on val): rv_gbdt_report.json.\n")
print(open(os.path.join(out, "summary.md")).read())
PY
