#!/usr/bin/env bash
# make bench: every benchmark, results in bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash bench/ingest.sh
bash bench/tinyrv_peers.sh
bash bench/train_peers.sh
for b in build/release/bench/*; do
    [[ -x "$b" ]] || continue
    case "$(basename "$b")" in model_forward|train_step) continue ;; esac  # run by the peer scripts above
    echo "== $b"
    "$b"
done
