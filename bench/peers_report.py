#!/usr/bin/env python3
"""One peer table from the per-benchmark results of the same `make bench` run:
engine, mode, batch, threads, p50, p99, samples/s, ratio to tickinfer (tickinfer samples/s /
engine samples/s at the same model, mode, batch, threads; > 1 means tickinfer is faster).
Reads bench/results/{tinyrv_peers,stream.json,stream_peers_raw,train_peers,taskq,perf_analyzer}.json
when present; writes bench/results/peers.{json,md}: the model table, the kernel table and the
load generator cross-check."""
import json
import os
import sys

R = os.path.join(os.path.dirname(__file__), "results")


def load(name):
    p = os.path.join(R, name)
    return json.load(open(p)) if os.path.exists(p) else None


rows = []
t = load("tinyrv_peers.json")
if t:
    for r in t:
        rows.append(dict(model="tinyrv", engine=r["engine"], mode="full window T=600", batch=r["batch"],
                         threads=r["threads"], p50_us=r["p50_ms"] * 1e3, p99_us=r["p99_ms"] * 1e3,
                         samples_per_s=r["samples_per_s"]))
s, sp = load("stream.json"), load("stream_peers_raw.json")
if s and sp:
    for r in s["cache_vs_recompute"]:
        rows.append(dict(model="rv_causal", engine="tickinfer", mode=f"per tick ctx {r['ctx']}", batch=1, threads=1,
                         p50_us=r["decode_ring_p50_us"], p99_us=r["decode_ring_p99_us"],
                         samples_per_s=1e6 / r["decode_ring_p50_us"]))
        rows.append(dict(model="rv_causal", engine="tickinfer", mode=f"full window ctx {r['ctx']}", batch=1, threads=1,
                         p50_us=r["recompute_p50_us"], p99_us=r["recompute_p99_us"],
                         samples_per_s=1e6 / r["recompute_p50_us"]))
    names = {"pytorch-kv": "pytorch (KV cache)", "onnxruntime-kv": "onnxruntime (torch.onnx decode graph)",
             "onnxruntime-kv-ti": "onnxruntime (tickinfer decode graph)"}
    for r in sp["rows"]:
        mode = f"per tick ctx {r['ctx']}" if r["mode"] == "decode" else f"full window ctx {r['ctx']}"
        rows.append(dict(model="rv_causal", engine=names.get(r["engine"], r["engine"]), mode=mode, batch=r["batch"],
                         threads=r["threads"], p50_us=r["p50_us"], p99_us=r["p99_us"],
                         samples_per_s=r["samples_per_s"]))
tr = load("train_peers.json")
if tr:
    for r in tr:
        rows.append(dict(model=r["model"], engine=r["engine"], mode=f"train step B={r['batch']} T={r['T']}",
                         batch=r["batch"], threads=r["threads"], p50_us=r["step_ms"] * 1e3, p99_us=float("nan"),
                         samples_per_s=r["samples_per_s"]))


def kernel_table():
    """The task-queue kernels (bench/taskq.sh): tickinfer's best SIMD level against numpy and
    PyTorch at the same shape and threads.  Returns (markdown, rows where tickinfer is behind)."""
    tq = load("taskq.json")
    if not tq:
        return "\nNot measured in this run: the task-queue kernels (bench/taskq.sh).\n", []
    best = {}
    for r in tq["rows"]:
        k = (r["kernel"], r["B"], r["d1"], r["d2"], r["threads"])
        if r["engine"].startswith("tickinfer") and not r["engine"].endswith("scalar"):
            best[k] = min(best.get(k, float("inf")), r["median_us"])
    lines = ["| kernel | shape (B, d1, d2) | threads | tickinfer us | numpy us | torch us | vs numpy | vs torch |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    behind = []
    for k in sorted(best):
        peer = {r["engine"]: r["median_us"] for r in tq["rows"]
                if (r["kernel"], r["B"], r["d1"], r["d2"], r["threads"]) == k and not r["engine"].startswith("tickinfer")}
        ratios = {e: peer[e] / best[k] for e in peer}
        behind += [f"{e} {k[0]} B={k[1]} {k[2]}x{k[3]} t={k[4]} ({1 / v:.2f}x faster)" for e, v in ratios.items() if v < 1]
        cell = lambda e: (f"{peer[e]:.1f}", f"{ratios[e]:.2f}x") if e in peer else ("-", "-")
        (nu, nr), (tu, trr) = cell("numpy"), cell("torch")
        lines.append(f"| {k[0]} | {k[1]}, {k[2]}, {k[3]} | {k[4]} | {best[k]:.1f} | {nu} | {tu} | {nr} | {trr} |")
    return ("\n## Task-queue kernels: tickinfer (best SIMD level) vs numpy and PyTorch\n\nMedian us; vs = peer median / "
            "tickinfer median (> 1: tickinfer faster). Method and p95/p99: bench/results/taskq.md.\n\n"
            + "\n".join(lines) + "\n"), behind


def cross_check():
    """The perf_analyzer table (bench/perf_analyzer.sh): our load generator against Triton's."""
    pa = load("perf_analyzer.json")
    if not pa:
        return "\nNot measured in this run: Triton's perf_analyzer cross-check (bench/perf_analyzer.sh).\n"
    lines = ["| model | batch | clients | client | p50 us | p99 us | req/s | req/s vs tickinfer bench |",
             "|---|---:|---:|---|---:|---:|---:|---:|"]
    for r in sorted(pa["rows"], key=lambda r: (r["model"], r["batch"], r["concurrency"], r["client"] != "tickinfer bench")):
        ratio = r["req_s_ratio_to_tickinfer_bench"]
        lines.append(f"| {r['model']} | {r['batch']} | {r['concurrency']} | {r['client']} | {r['p50_us']:.0f} | "
                     f"{r['p99_us']:.0f} | {r['req_s']:.1f} | {ratio:.2f} |" if ratio else "| - |")
    return ("\n## Load generator cross-check: `tickinfer bench` vs Triton perf_analyzer\n\nBoth drive the same "
            "`tickinfer serve` over v2 binary infer in the same run (bench/perf_analyzer.md has the method and the "
            "server-side split).\n\n" + "\n".join(lines) + "\n")


ref = {(r["model"], r["mode"], r["batch"], r["threads"]): r["samples_per_s"] for r in rows if r["engine"] == "tickinfer"}
out, lines = [], ["| model | engine | mode | batch | threads | p50 us | p99 us | samples/s | tickinfer speed-up |",
                  "|---|---|---|---:|---:|---:|---:|---:|---:|"]
for r in sorted(rows, key=lambda r: (r["model"], r["mode"], r["batch"], r["threads"], r["engine"] != "tickinfer", r["engine"])):
    k = (r["model"], r["mode"], r["batch"], r["threads"])
    # the per-tick peers are compared with tickinfer's single-thread decode (it runs on one core)
    base = ref.get(k) or ref.get((r["model"], r["mode"], r["batch"], 1))
    r["speedup"] = base / r["samples_per_s"] if base else None
    out.append(r)
    sp_s = f"{r['speedup']:.2f}x" if r["speedup"] else "-"
    p99 = "-" if r["p99_us"] != r["p99_us"] else f"{r['p99_us']:.1f}"
    lines.append(f"| {r['model']} | {r['engine']} | {r['mode']} | {r['batch']} | {r['threads']} | {r['p50_us']:.1f} | {p99} | "
                 f"{r['samples_per_s']:.1f} | {sp_s} |")
behind = [f"{r['engine']} {r['model']} {r['mode']} B={r['batch']} t={r['threads']} ({1 / r['speedup']:.2f}x faster)"
          for r in out if r["speedup"] is not None and r["speedup"] < 1]
kmd, kbehind = kernel_table()
behind += kbehind
md = ("# Peers: tickinfer vs ONNX Runtime and PyTorch (same machine, same run)\n\n" + "\n".join(lines) +
      "\n\nSpeed-up = tickinfer samples/s / engine samples/s at the same model, mode, batch and threads "
      "(per-tick rows compare with tickinfer's one-thread decode). Sources: tinyrv_peers, stream, stream_peers, "
      "train_peers (see each .md for versions and method).\n\n" +
      ("Where tickinfer is behind: " + "; ".join(behind) + "\n"
       if behind else "tickinfer is ahead in every row of this run (models and kernels).\n") +
      kmd + cross_check())
json.dump(out, open(os.path.join(R, "peers.json"), "w"), indent=1)
open(os.path.join(R, "peers.md"), "w").write(md)
print(md)
