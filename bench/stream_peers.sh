#!/usr/bin/env bash
# Streaming per-tick cost, one run, same machine, one thread: tickinfer's KV-cache decode
# (bench/stream.c) vs PyTorch with a hand-written KV cache and ONNX Runtime running a
# past/present decode graph (exported by torch.onnx, and the one `tickinfer export --graph
# decode` writes), plus the full-window recompute each engine would otherwise pay.
# Writes bench/results/stream.{json,md,svg} and bench/results/stream_peers.{json,md}.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
$PY -m pip install -q --disable-pip-version-check -r requirements-bench.txt
make -s -j"$(nproc)" all build/release/bench/stream
QUICK=${QUICK:-}
build/release/bench/stream ${QUICK:+--quick}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
build/release/tickinfer export --format onnx models/rv_causal_optiver.safetensors -o "$tmp/decode.onnx" --graph decode
$PY bench/peers_causal.py bench/results/stream_peers_raw.json --ti-decode "$tmp/decode.onnx" \
    --iters "${ITERS:-300}" ${QUICK:+--ctx 64,600}
$PY - <<'PY'
import json
ours = json.load(open("bench/results/stream.json"))
peers = json.load(open("bench/results/stream_peers_raw.json"))
dec = {r["ctx"]: r for r in ours["cache_vs_recompute"]}
rows = [r for r in peers["rows"] if r["threads"] == 1]
names = {"pytorch-kv": "PyTorch, hand-written KV cache", "onnxruntime-kv": "ONNX Runtime, torch.onnx decode graph",
         "onnxruntime-kv-ti": "ONNX Runtime, tickinfer-exported decode graph",
         "pytorch": "PyTorch, full window", "onnxruntime": "ONNX Runtime, full window"}
out = []
lines = ["| ctx | engine (per-tick path) | p50 us | p99 us | tickinfer decode p50 us | tickinfer speed-up |",
         "|---:|---|---:|---:|---:|---:|"]
for r in sorted(rows, key=lambda r: (r["ctx"], r["mode"] != "decode", r["batch"], r["engine"])):
    if r["ctx"] not in dec or r["batch"] != 1:
        continue
    t = dec[r["ctx"]]["decode_ring_p50_us"]
    sp = r["p50_us"] / t
    out.append({**r, "tickinfer_decode_p50_us": t, "speedup": sp})
    lines.append(f"| {r['ctx']} | {names.get(r['engine'], r['engine'])} | {r['p50_us']:.1f} | {r['p99_us']:.1f} | {t:.2f} | {sp:.1f}x |")
md = ("# Per-tick cost: tickinfer KV-cache decode vs peers (one thread, batch 1, one run)\n\n"
      "tickinfer: one decode step with the window full (`bench/stream.c`, ring layout). Peers: PyTorch "
      f"{rows[0]['version'] if rows else '?'} (Debian, eager) with a preallocated KV cache; ONNX Runtime "
      f"{next((r['version'] for r in rows if r['engine'].startswith('onnx')), '?')} (CPU EP) running a decode graph with "
      "the past keys/values passed in (P = ctx-1) -- both the torch.onnx export and tickinfer's own export; and "
      "the full-window forward of ctx ticks each would pay without a cache. Every decode graph was checked against "
      f"the full forward first (max abs diff: {peers['decode_check']}).\n\n" + "\n".join(lines) +
      "\n\nSpeed-up = peer p50 / tickinfer decode p50 (> 1: tickinfer faster). Command: `bash bench/stream_peers.sh`.\n")
json.dump(out, open("bench/results/stream_peers.json", "w"), indent=1)
open("bench/results/stream_peers.md", "w").write(md)
print(md)
PY
printf '\nMachine: %s\n' "$(bash bench/machine.sh)" >> bench/results/stream_peers.md
