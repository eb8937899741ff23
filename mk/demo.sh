#!/usr/bin/env bash
# make demo: ingest the bundled real data, show the dataset and the baseline table.
set -euo pipefail
cd "$(dirname "$0")/.."
TI=build/release/tickinfer
OUT=${DEMO_OUT:-out/demo}
mkdir -p "$OUT"
echo
echo "== 1. Ingest the bundled Optiver trades (5 stocks, data/optiver) =="
$TI ingest data/optiver/trade_train.parquet -o "$OUT/optiver" --market
echo
echo "== 2. Dataset =="
$TI dataset verify "$OUT/optiver"
$TI dataset info "$OUT/optiver"
echo
echo "== 3. Honest baselines (fitted on train; RMSPE of next-300 s realized volatility) =="
$TI baseline "$OUT/optiver" --json "$OUT/optiver_baselines.json" --md "$OUT/optiver_baselines.md"
echo
echo "== 4. Train a small causal transformer in C on the bundled data (configs/demo.json), then score it =="
$TI train --config configs/demo.json --dataset "$OUT/optiver" --out "$OUT/train"
$TI eval --model "$OUT/train/best.safetensors" --dataset "$OUT/optiver"
echo
echo "== 5. LOBSTER order book (AMZN, 2012-06-21, first 20k events: trades + level-1 book features) =="
$TI ingest data/lobster -o "$OUT/lobster" --quiet
$TI dataset info "$OUT/lobster" | head -12
echo
echo "== 6. Synthetic market with known volatility (4 symbols x 200 buckets) =="
$TI ingest sim:4:200:7 -o "$OUT/sim" --quiet
$TI baseline "$OUT/sim"
echo
echo "demo outputs are in $OUT/"
