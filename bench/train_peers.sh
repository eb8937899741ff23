#!/usr/bin/env bash
# Training-step throughput: tickinfer vs PyTorch (CPU), same shapes and threads, one run.
# Writes bench/results/train_peers.{json,md}.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s -j"$(nproc)" build/release/bench/train_step
out=bench/results/train_peers.jsonl
: > "$out"
for t in 1 2; do
    build/release/bench/train_step "$t" >> "$out"
    .venv/bin/python bench/train_peers.py "$t" >> "$out"
done
.venv/bin/python - "$out" "$(bash bench/machine.sh)" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ours = {(r["model"], r["threads"]): r["samples_per_s"] for r in rows if r["engine"] == "tickinfer"}
lines = ["| model | batch | T | threads | engine | step ms | samples/s | tickinfer speed-up |", "|---|---:|---:|---:|---|---:|---:|---:|"]
for r in sorted(rows, key=lambda r: (r["model"], r["threads"], r["engine"] != "tickinfer")):
    lines.append(f"| {r['model']} | {r['batch']} | {r['T']} | {r['threads']} | {r['engine']} | {r['step_ms']:.1f} | {r['samples_per_s']:.1f} | {ours[(r['model'], r['threads'])] / r['samples_per_s']:.2f}x |")
md = "# Training step (forward + backward + AdamW): tickinfer vs PyTorch CPU, one run\n\n" + "\n".join(lines) + \
     "\n\nPyTorch: Debian's torch 1.13 (eager). Best of the timed steps after one warm-up step (tickinfer: 5 rv_causal, 3 tinyrv; PyTorch: 3 and 1, its steps take seconds). Command: `bash bench/train_peers.sh`.\n\nMachine: " + sys.argv[2] + "\n"
json.dump(rows, open("bench/results/train_peers.json", "w"), indent=1)
open("bench/results/train_peers.md", "w").write(md)
print(md)
PY
rm -f "$out"
