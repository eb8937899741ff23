#!/usr/bin/env bash
# TinyRV full-window forward (T=600, F=14, d=128, 3 layers): tickinfer vs PyTorch vs ONNX
# Runtime, same machine, same run, same threads.  Writes bench/results/tinyrv_peers.{json,md}.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
$PY -m pip install -q --disable-pip-version-check -r requirements-bench.txt
make -s -j"$(nproc)" build/release/bench/model_forward
build/release/bench/model_forward > /dev/null
$PY bench/peers_tinyrv.py bench/results/tinyrv_peers_raw.json --iters "${ITERS:-30}" > /dev/null
$PY - <<'PY'
import json
ours = [r for r in json.load(open("bench/results/model_forward.json"))["results"] if r["model"] == "tinyrv"]
peers = json.load(open("bench/results/tinyrv_peers_raw.json"))
rows = []
for r in ours:
    rows.append({"engine": "tickinfer", "batch": r["batch"], "threads": r["threads"], "p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"], "samples_per_s": r["samples_per_s"]})
rows += [{k: p[k] for k in ("engine", "batch", "threads", "p50_ms", "p99_ms", "samples_per_s")} for p in peers]
ref = {(r["batch"], r["threads"]): r["samples_per_s"] for r in rows if r["engine"] == "tickinfer"}
lines = ["| engine | batch | threads | p50 ms | p99 ms | samples/s | tickinfer speed-up |", "|---|---:|---:|---:|---:|---:|---:|"]
for r in sorted(rows, key=lambda r: (r["batch"], r["threads"], r["engine"] != "tickinfer", r["engine"])):
    sp = ref[(r["batch"], r["threads"])] / r["samples_per_s"]
    lines.append(f"| {r['engine']} | {r['batch']} | {r['threads']} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['samples_per_s']:.1f} | {sp:.2f}x |")
vers = {p["engine"]: p["version"] for p in peers}
md = "# TinyRV full-window forward: tickinfer vs PyTorch vs ONNX Runtime (one run)\n\n" + "\n".join(lines) + \
     f"\n\nPeers: PyTorch {vers.get('pytorch')} (Debian, eager, inference_mode), ONNX Runtime {vers.get('onnxruntime')} (CPU EP, torch.onnx opset 17). " \
     "Speed-up = tickinfer samples/s / engine samples/s at the same batch and threads (> 1: tickinfer faster).\nCommand: `bash bench/tinyrv_peers.sh`.\n"
json.dump(rows, open("bench/results/tinyrv_peers.json", "w"), indent=1)
open("bench/results/tinyrv_peers.md", "w").write(md)
print(md)
PY
printf '\nMachine: %s\n\nNote: Debian'"'"'s torch 1.13 is a CPU build without oneDNN/MKL tuning and does not scale with threads here; a PyPI torch would be faster (it is not installed on CPU machines to keep set-up light).\n' "$(bash bench/machine.sh)" >> bench/results/tinyrv_peers.md
