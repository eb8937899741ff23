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
echo "== 7. Streaming: replay the bundled trades through the per-symbol KV cache (one decode step per second) =="
$TI stream replay --model models/rv_causal_optiver.safetensors --source data/optiver --buckets 20 --out "$OUT/forecasts.csv"
$TI stream stats --model models/rv_causal_optiver.safetensors --symbols 1000
echo
echo "== 8. Serving: Open Inference Protocol v2 + /predict + stream ticks on an ephemeral port =="
$TI serve --port 0 --model models/rv_causal_optiver.safetensors:rv --model models/rv_ensemble.json:ens >"$OUT/serve.log" 2>&1 &
SERVE_PID=$!
for _ in $(seq 100); do grep -q listening "$OUT/serve.log" && break; sleep 0.1; done
URL=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$OUT/serve.log")
X='[[0,0.6,0.2,0,3,0.0005,0.001,0.0012,0,0.0004,7,0],[0.0002,1.2,0.7,1,0,0.0006,0.001,0.0012,0,0.0005,8,0.0002]]'
echo "GET $URL/v2/models/rv"; curl -s "$URL/v2/models/rv"; echo
echo "POST /predict"; curl -s -XPOST "$URL/predict" -d "{\"x\": [$X]}"; echo
echo "POST /v2/models/rv/infer"; curl -s -XPOST "$URL/v2/models/rv/infer" \
     -d "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2,12],\"datatype\":\"FP32\",\"data\":[$X]}]}"; echo
echo "POST /v1/streams/AAPL/ticks (same y_log as the last /predict step)"; curl -s -XPOST "$URL/v1/streams/AAPL/ticks" -d "{\"features\": $X}"; echo
echo "bad input:"; curl -s -XPOST "$URL/predict" -d '{"x": [[1,2,3]]}'; echo
echo "POST /predict?model=ens (the ensemble: causal transformer + HAR-style linear, stacked; docs/ensembles.md)"
curl -s -XPOST "$URL/predict?model=ens" -d "{\"x\": [$X]}"; echo
echo "GET /v2/models/ens/stats (per-step counts and time)"; curl -s "$URL/v2/models/ens/stats" | grep -o '"steps":.*'; echo
curl -s "$URL/metrics" | grep -E '^tickinfer_(requests_total|models_loaded)' | head -5
kill -TERM "$SERVE_PID"; wait "$SERVE_PID" || true
echo
echo "demo outputs are in $OUT/"
