#!/usr/bin/env python3
"""Merge cuda_kernels.json, cuda_model.json and (if present) cuda_peers.json in DIR into
DIR/cuda.json and the table DIR/cuda.md.  Standard library only."""
import json
import os
import sys

d = sys.argv[1] if len(sys.argv) > 1 else "bench/results"


def load(name):
    p = os.path.join(d, name)
    return json.load(open(p)) if os.path.exists(p) else None


kern, model, peers = load("cuda_kernels.json"), load("cuda_model.json"), load("cuda_peers.json")
if kern is None:
    sys.exit("report.py: cuda_kernels.json missing (run bench/cuda/run.sh on a GPU)")
rows = list(kern["results"])
rows += [dict(r, kernel=r["bench"]) for r in (model or {}).get("results", [])]
rows += (peers or {}).get("results", [])
json.dump({"device": kern["device"], "cc": kern["cc"], "peak_bw_gbs": kern["peak_bw_gbs"],
           "peak_fp32_tflops": kern["peak_fp32_tflops"], "peers": (peers or {}).get("meta"), "results": rows},
          open(os.path.join(d, "cuda.json"), "w"), indent=1)

best = {}
for r in rows:
    if r["impl"] in ("tickinfer", "tickinfer-cuda", "tickinfer+graph"):
        k = (r["kernel"], r["shape"])
        best[k] = min(best.get(k, 1e30), r["median_us"])
lines = [f"# CUDA backend on {kern['device']} (sm {kern['cc']}; peak {kern['peak_bw_gbs']:.0f} GB/s, "
         f"{kern['peak_fp32_tflops']:.1f} FP32 TFLOP/s)", "",
         "| kernel | shape | impl | median us | p95 us | p99 us | GB/s (% peak) | GFLOP/s (% peak) | tickinfer speed-up |",
         "|---|---|---|---:|---:|---:|---:|---:|---:|"]
for r in sorted(rows, key=lambda r: (r["kernel"], r["shape"], not r["impl"].startswith("tickinfer"), r["impl"])):
    bw = f"{r['gb_s']:.0f} ({100 * r['bw_frac']:.0f}%)" if "gb_s" in r else ""
    fl = f"{r['gflop_s']:.0f} ({100 * r['flop_frac']:.1f}%)" if "gflop_s" in r else ""
    if "items_per_s" in r:
        fl = f"{r['items_per_s']:.0f} items/s"
    b = best.get((r["kernel"], r["shape"]))
    sp = f"{r['median_us'] / b:.2f}x" if b else ""
    lines.append(f"| {r['kernel']} | {r['shape']} | {r['impl']} | {r['median_us']:.2f} | {r['p95_us']:.2f} | "
                 f"{r['p99_us']:.2f} | {bw} | {fl} | {sp} |")
lines += ["", "Speed-up = this row's median / tickinfer's best median at the same shape (> 1: tickinfer faster).",
          "CUDA-event timing per call, %d runs after 10 warm-ups; FP32 everywhere (cuBLAS pedantic, torch TF32 off)."
          % kern["runs"],
          "Peers: " + (json.dumps(peers["meta"]) if peers else "none (no CUDA torch on the machine)") + ".",
          "Command: `bash bench/cuda/run.sh`."]
open(os.path.join(d, "cuda.md"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
