#!/usr/bin/env bash
# make bench: every benchmark and the peer report, results in bench/results/ (one run, so
# the ratios against peers are same-machine, same-time).  QUICK=1 (make bench-quick): short
# points only, a couple of minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
TI=build/release/tickinfer
if [[ -n "${QUICK:-}" ]]; then
    build/release/bench/stream --quick --out bench/results/tmp
    $TI bench --preset quick --out bench/results/tmp --name bench_quick
    build/release/bench/taskq --quick --out bench/results/tmp/taskq_quick.json
    exit 0
fi
t0=$(date +%s)
if [[ -d ../shared/data/optiver_rv_trade_train ]]; then bash bench/ingest.sh; else echo "== ingest: ../shared missing, skipped"; fi
bash bench/tinyrv_peers.sh
bash bench/stream_peers.sh
bash bench/train_peers.sh
bash bench/taskq.sh
$TI bench --preset seed --requests "${SEED_REQUESTS:-200}" --out bench/results --name bench_seed
$TI bench --preset quick --out bench/results --name bench_quick
build/release/bench/kvq || true
build/release/bench/kernels
.venv/bin/python bench/peers_report.py
echo "make bench: $(( $(date +%s) - t0 )) s"
