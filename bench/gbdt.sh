#!/usr/bin/env bash
# Gradient-boosted trees (small: 100 trees x 31 leaves, large: 2,000 x 255; 40 features):
# tickinfer vs LightGBM, XGBoost, TL2cgen, lleaves and ONNX Runtime, same models, same rows,
# same threads, each through its C interface in one C harness (bench/gbdt.c).  Writes
# bench/results/gbdt_peers.{json,md}.  Models, rows and the compiled peers are cached in
# build/bench_gbdt/ (rebuilt only when their inputs change): a cold run trains and compiles
# for ~20 minutes on 2 cores (TL2cgen's gcc -O3 on the large model ~9, lleaves ~5, training
# ~2), a warm run takes ~2.  QUICK=1: fewer repetitions, 20,000 rows.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
DIR=build/bench_gbdt
# --no-deps: the pins must not upgrade the venv's numpy / scipy / onnx (Debian's)
$PY -m pip install -q --disable-pip-version-check --no-deps -r bench/requirements-peers.txt
make -s -j"$(nproc)" build/release/bench/gbdt
$PY bench/gbdt_models.py --out "$DIR"
SP=$($PY -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
ORT=$(ls "$SP"/onnxruntime/capi/libonnxruntime.so.* | head -1)
args=()
[[ -n "${QUICK:-}" ]] && args+=(--quick --rows 20000)
build/release/bench/gbdt --dir "$DIR" --out "$DIR/gbdt.json" "${args[@]}" \
    --lightgbm "$SP/lightgbm/lib/lib_lightgbm.so" --xgboost "$SP/xgboost/lib/libxgboost.so" --onnxruntime "$ORT"
bash bench/machine.sh > "$DIR/machine.json"
$PY bench/gbdt_report.py "$DIR/gbdt.json" "$DIR/meta.json" "$DIR/machine.json" bench/results/gbdt_peers > /dev/null
echo "wrote bench/results/gbdt_peers.md"
