#!/usr/bin/env bash
# make bench: every benchmark and the peer report, results in bench/results/ (one run, so
# the ratios against peers are same-machine, same-time).  QUICK=1 (make bench-quick): short
# points only, a couple of minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
TI=build/release/tickinfer
if [[ -n "${QUICK:-}" ]]; then
    mkdir -p bench/results/tmp
    build/release/bench/stream --quick --out bench/results/tmp
    $TI bench --preset quick --out bench/results/tmp --name bench_quick
    build/release/bench/taskq --quick --out bench/results/tmp/taskq_quick.json
    exit 0
fi
t0=$(date +%s)
timing=()
# stage NAME CMD...: run one benchmark and record its wall time (bench/results/bench_timing.md)
stage() {
    local name=$1 s e
    shift
    s=$(date +%s.%N)
    echo "== make bench: $name"
    "$@"
    e=$(date +%s.%N)
    timing+=("$name $(awk -v a="$s" -v b="$e" 'BEGIN{printf "%.1f", b-a}')")
}
if [[ -d ../shared/data/optiver_rv_trade_train ]]; then stage ingest bash bench/ingest.sh
else echo "== ingest: ../shared missing, skipped"; fi
stage tinyrv_peers bash bench/tinyrv_peers.sh
stage stream_peers bash bench/stream_peers.sh
stage train_peers bash bench/train_peers.sh
stage gbdt_peers bash bench/gbdt.sh
stage taskq bash bench/taskq.sh
stage seed_preset $TI bench --preset seed --requests "${SEED_REQUESTS:-400}" --out bench/results --name bench_seed
stage quick_preset $TI bench --preset quick --out bench/results --name bench_quick
stage perf_analyzer bash bench/perf_analyzer.sh
stage kvq build/release/bench/kvq
stage kernels build/release/bench/kernels
stage peers_report .venv/bin/python bench/peers_report.py
total=$(( $(date +%s) - t0 ))
{
    echo "# make bench: wall time per stage"
    echo
    echo "| stage | seconds |"
    echo "|---|---:|"
    for t in "${timing[@]}"; do echo "| ${t% *} | ${t##* } |"; done
    echo "| **total** | **$total** |"
    echo
    echo "Budget: 20 minutes (1200 s) on 2 cores. Machine: $(bash bench/machine.sh)"
} > bench/results/bench_timing.md
cat bench/results/bench_timing.md
