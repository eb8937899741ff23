#!/usr/bin/env bash
# CUDA benchmarks, for a session that has a GPU (see docs/cuda.md):
#   bash bench/cuda/run.sh            -> bench/results/cuda.{json,md}
# 1. builds the library with nvcc, runs the CUDA tests (they must pass, not skip);
# 2. bench_kernels (each kernel vs cuBLAS, % of peak) and bench_model (TinyRV forward,
#    rv_causal decode step for 1k/10k symbols);
# 3. the PyTorch / ONNX Runtime CUDA peers.  Unless PEERS_PY names an interpreter that has
#    a CUDA torch, the script installs PyPI torch + onnxruntime-gpu into a throw-away venv
#    (/tmp/ti_cuda_peers, this machine only; WHEELS=DIR installs from local wheels instead
#    of the index).  If that fails (no network), the table has our numbers and cuBLAS only.
# Env: RUNS (timed runs per case, default 200), JOBS (make -j), PEERS_PY, WHEELS.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v nvcc >/dev/null && [[ ! -x /usr/local/cuda/bin/nvcc ]]; then
    echo "run.sh: no nvcc on this machine: the build would link the CUDA stub" >&2
    exit 1
fi
mkdir -p bench/results
J=${JOBS:-$(nproc)}
make -s -j"$J" all tests cuda-benches
for t in build/release/tests/cuda/test_*; do
    "$t" | tee /tmp/ti_cuda_test.log
    if grep -q 'skip=[1-9]' /tmp/ti_cuda_test.log; then echo "run.sh: $t skipped tests on a GPU machine" >&2; exit 1; fi
done
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv > bench/results/cuda_device.txt 2>&1 || true
build/release/bench/cuda/bench_kernels bench/results/cuda_kernels.json "${RUNS:-200}"
TINY=tests/model/data/seed_rv_tiny/best.pt
CAUSAL=models/rv_causal_optiver.safetensors
[[ -f $CAUSAL ]] || CAUSAL=""
build/release/bench/cuda/bench_model bench/results/cuda_model.json "$TINY" "$CAUSAL"

has_torch() { "$1" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; }
PY=${PEERS_PY:-}
if [[ -z $PY ]]; then
    PY=/tmp/ti_cuda_peers/bin/python
    if ! has_torch "$PY"; then
        echo "run.sh: installing torch + onnxruntime-gpu into /tmp/ti_cuda_peers" >&2
        SRC=()
        [[ -n ${WHEELS:-} ]] && SRC=(--no-index --find-links "$WHEELS")
        { /usr/bin/python3 -m venv --system-site-packages /tmp/ti_cuda_peers &&
          timeout 900 "$PY" -m pip install -q "${SRC[@]}" torch onnxruntime-gpu onnx numpy; } ||
            echo "run.sh: peer install failed (no network? set WHEELS or PEERS_PY)" >&2
    fi
fi
rm -f bench/results/cuda_peers.json
if has_torch "$PY"; then
    "$PY" bench/cuda/peers_gpu.py bench/results/cuda_peers.json --runs "${RUNS:-200}" || echo "run.sh: peers failed" >&2
else
    echo "run.sh: no CUDA torch for $PY: peers skipped (see docs/cuda.md)" >&2
fi
python3 bench/cuda/report.py bench/results
