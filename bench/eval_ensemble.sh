#!/usr/bin/env bash
# The first real ensemble on the full 60-stock Optiver set (needs ../shared): the bundled
# causal transformer + a HAR-style linear model fitted on train, stacking weights fitted on
# val, scored on test beside its members and the baselines by `tickinfer eval`.
#   bash bench/eval_ensemble.sh [OUT]     (default bench/results/eval_ensemble)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-bench/results/eval_ensemble}
SRC=../shared/data/optiver_rv_trade_train/trade_train.parquet
T=build/release/tickinfer
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
[[ -x $T ]] || make -j"$(nproc)" all
$T ingest "$SRC" -o "$W/ds"
$T fit linear --dataset "$W/ds" -o "$W/har_rv_linear.safetensors"
cat >"$W/ensemble.json" <<JSON
{"kind": "ensemble",
 "members": [{"name": "causal", "path": "$PWD/models/rv_causal_optiver.safetensors"},
             {"name": "har", "path": "$W/har_rv_linear.safetensors"}],
 "combiner": {"type": "weighted_average", "weights": [0.5, 0.5]}}
JSON
$T fit ensemble --config "$W/ensemble.json" --dataset "$W/ds" -o "$W/ensemble_fitted.json"
$T eval --model "$W/ensemble_fitted.json" --dataset "$W/ds" -o "$OUT"
cp "$W/ensemble_fitted.json" "$OUT/ensemble_fitted.json"
