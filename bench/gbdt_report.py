#!/usr/bin/env python3
"""Tables of the gradient-boosted-tree benchmark: reads the harness output (bench/gbdt.c),
the models' metadata (bench/gbdt_models.py) and the machine (bench/machine.sh); writes
bench/results/gbdt_peers.{json,md}.  Speed-up = peer time / tickinfer time at the same
model, threads and batch (> 1: tickinfer faster).
Usage: gbdt_report.py HARNESS_JSON META_JSON MACHINE_JSON OUT_PREFIX"""
import json
import sys

GOAL_BATCH_US, GOAL_ROW_US = 0.3, 1.0  # the goals for the small model (embedding API)
NAMES = {
    "tickinfer": "tickinfer (embedding API)",
    "lightgbm": "LightGBM (C API, SingleRowFast / PredictForMat)",
    "xgboost": "XGBoost (C API, PredictFromDense)",
    "tl2cgen": "TL2cgen (compiled C, -O3 -march=native)",
    "lleaves": "lleaves (LLVM-compiled, float64)",
    "onnxruntime": "ONNX Runtime (C API, TreeEnsembleRegressor)",
}


def fmt_rate(x):
    return f"{x / 1e6:.2f} M" if x >= 1e6 else f"{x / 1e3:.1f} k"


def main():
    harness, meta, machine = (json.load(open(p)) for p in sys.argv[1:4])
    prefix = sys.argv[4]
    res = harness["results"]
    rows = []
    for r in res:
        row = dict(model=r["model"], engine=r["engine"], threads=r["threads"], valid=r["valid"], error=r["error"],
                   max_rel_err=max(r["max_rel_err_batch"], r["max_rel_err_row"]) if r["checked_rows"] else None)
        if r["valid"]:
            row.update(single_p50_us=r["single_p50_us"], single_p99_us=r["single_p99_us"],
                       single_mean_us=r["single_mean_us"],
                       rows_per_s={str(t["batch"]): t["rows_per_s"] for t in r["throughput"]},
                       us_per_row={str(t["batch"]): 1e6 / t["rows_per_s"] for t in r["throughput"]})
        rows.append(row)
    ti = {(r["model"], r["threads"]): r for r in rows if r["engine"] == "tickinfer" and r["valid"]}
    v = meta["versions"]
    out = {"benchmark": "gbdt_peers", "machine": machine, "versions": v, "data": meta["data"],
           "models": meta["models"], "tolerance": harness["tolerance"], "rows": rows}
    json.dump(out, open(prefix + ".json", "w"), indent=1)

    md = ["# Gradient-boosted trees: tickinfer vs LightGBM, XGBoost, TL2cgen, lleaves, ONNX Runtime (one run)", ""]
    md.append(f"Machine: {machine['cpu']}, {machine['cores']} cores, flags {machine['flags']}, {machine['memory']}, "
              f"{machine['compiler']}, kernel {machine['kernel']}, {machine['date']}.")
    md.append("")
    md.append(f"Versions: LightGBM {v['lightgbm']}, XGBoost {v['xgboost']} (xgboost-cpu wheel), ONNX Runtime "
              f"{v['onnxruntime']} (CPU EP, ai.onnx.ml opset 3), Treelite {v['treelite']} + TL2cgen {v['tl2cgen']}, "
              f"lleaves {v['lleaves']} + llvmlite {v['llvmlite']} (LLVM {v.get('llvm', '?')}), numpy {v['numpy']}.")
    md.append("Compiler flags: tickinfer `-O2` with run-time SIMD dispatch (Makefile); TL2cgen's generated C `gcc -O3 "
              "-march=native` (its own -O3 plus the host's ISA); lleaves compiles for the host CPU (LLVM -O3, its "
              "defaults); the pip wheels of LightGBM, XGBoost and ONNX Runtime as built upstream.")
    md.append("")
    md.append(f"Data: {meta['data']}; {meta['rows']:,} held-out rows, float32 [N, {meta['features']}], the same "
              "rows for every engine.  A speed benchmark: synthetic features, real tree shapes.")
    md.append("Every engine computes the same trees: one LightGBM model (model.txt) converted exactly (thresholds "
              "rounded down to float32, so every float32 row takes LightGBM's path) to XGBoost JSON and an ONNX "
              "TreeEnsembleRegressor; TL2cgen and lleaves compile model.txt.  Each engine's predictions of all "
              f"rows (and of the first 1,000 rows, 200 for the large model, one at a time) are checked against LightGBM's: relative error "
              f"|y - ref| / max(|ref|, rms(ref)) <= {harness['tolerance']:g}, else the engine is marked WRONG and not "
              "timed.  The error column shows the largest seen (float32 leaf sums in XGBoost / ONNX Runtime).")
    md.append("")
    md.append("Harness: `bench/gbdt.c`, one C process, every library through its C interface (dlopen), so no "
              "Python call overhead is measured.  Single row: one call per row cycling through the rows, p50/p99 "
              "over all calls; rows/s at 1 = 1e6 / p50.  Batches: rows / median call time over repeated calls "
              "(>= 0.3 s and >= 3 calls, or 2 s).  The large model's largest batch is 10,000 rows, not 100,000: "
              "one pass over 100,000 rows takes LightGBM over a minute there, and rows/s no longer change above "
              "1,024 rows.  Threads: each library's "
              "own setting (LightGBM num_threads, XGBoost nthread, ORT intra_op_num_threads, tickinfer "
              "n_threads); TL2cgen's and lleaves' compiled functions are single-threaded, so at 2 threads the "
              "harness splits the rows over a 2-worker pool, as their own runtimes do.")
    for model in ("small", "large"):
        mrows = [r for r in rows if r["model"] == model]
        if not mrows:
            continue
        mi = meta["models"][model]
        md += ["", f"## {model}: {mi['trees']} trees x {mi['max_leaves']} leaves, {meta['features']} features", ""]
        ks = next((sorted(r["rows_per_s"], key=int) for r in mrows if r["valid"]), ["1", "32", "1024", "100000"])
        lab = [f"{int(k):,}" for k in ks]
        md.append(f"| engine | threads | single row p50 us | p99 us | rows/s @{lab[0]} | "
                  + " | ".join("@" + x for x in lab[1:]) + f" | us/row @{lab[-1]} "
                  f"| max rel err | tickinfer speed-up (p50 / " + " / ".join("@" + x for x in lab[1:]) + ") |")
        md.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for r in sorted(mrows, key=lambda r: (r["threads"], r["engine"] != "tickinfer")):
            name = NAMES.get(r["engine"], r["engine"])
            if not r["valid"]:
                err = r["error"].replace("|", "/")
                md.append(f"| {name} | {r['threads']} | {err} |  |  |  |  |  |  |  |  |")
                continue
            rp = r["rows_per_s"]
            keys = sorted(rp, key=int)
            t = ti.get((model, r["threads"]))
            if r["engine"] == "tickinfer":
                sp = "1"
            elif t:
                parts = [r["single_p50_us"] / t["single_p50_us"]] + [t["rows_per_s"][k] / rp[k] for k in keys[1:]]
                sp = " / ".join(f"{p:.2f}x" for p in parts)
            else:
                sp = "n/a (tickinfer not measured)"
            md.append(f"| {name} | {r['threads']} | {r['single_p50_us']:.2f} | {r['single_p99_us']:.2f} | "
                      + " | ".join(fmt_rate(rp[k]) for k in keys)
                      + f" | {r['us_per_row'][keys[-1]]:.3f} | {r['max_rel_err']:.1e} | {sp} |")
    # goals and where tickinfer is behind
    md += ["", "## Goals (small model, embedding API) and where tickinfer is behind", ""]
    t1 = ti.get(("small", 1))
    if not t1:
        md.append("tickinfer was not measured in this run (its gradient-boosted-tree kind is not available: "
                  f"{next((r['error'] for r in rows if r['engine'] == 'tickinfer'), 'not run')}).")
    else:
        best_batch = min(t1["us_per_row"][k] for k in t1["us_per_row"] if int(k) > 1)
        md.append(f"- batched <= {GOAL_BATCH_US} us/row (1 thread): {best_batch:.3f} us/row at best -> "
                  f"{'met' if best_batch <= GOAL_BATCH_US else 'NOT met'}")
        md.append(f"- single row <= {GOAL_ROW_US} us (p50, 1 thread): {t1['single_p50_us']:.3f} us -> "
                  f"{'met' if t1['single_p50_us'] <= GOAL_ROW_US else 'NOT met'}")
        behind = []
        for r in rows:
            t = ti.get((r["model"], r["threads"]))
            if r["engine"] == "tickinfer" or not r["valid"] or not t:
                continue
            if r["single_p50_us"] < t["single_p50_us"]:
                behind.append(f"{r['model']} {r['threads']}T single row: {r['engine']} {r['single_p50_us']:.2f} us "
                              f"vs tickinfer {t['single_p50_us']:.2f} us")
            for k, x in r["rows_per_s"].items():
                if k != "1" and x > t["rows_per_s"].get(k, 0):
                    behind.append(f"{r['model']} {r['threads']}T batch {k}: {r['engine']} {fmt_rate(x)} rows/s vs "
                                  f"tickinfer {fmt_rate(t['rows_per_s'][k])}")
        md.append("- ahead of every peer in every row: " + ("yes" if not behind else "no; behind in:"))
        md += [f"  - {b}" for b in behind]
    md += ["", "Command: `bash bench/gbdt.sh` (a `make bench` stage; models and compiled peers cached in "
           "build/bench_gbdt/)."]
    open(prefix + ".md", "w").write("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
