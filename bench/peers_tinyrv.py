#!/usr/bin/env python3
"""Peers for the TinyRV full-window forward: PyTorch (eager, Debian's torch) and ONNX
Runtime (CPU EP, model exported by torch.onnx, opset 17), same threads, same shapes.

Usage: peers_tinyrv.py OUT.json [--iters N]
Writes one row per (engine, batch, threads): p50/p99 latency (ms) and samples/s.
"""
import json
import os
import sys
import tempfile

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "py"))
import ti_models  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
import peer_timing  # noqa: E402


def timeit(fn, iters, warmup=5):
    return peer_timing.timeit(fn, iters, warmup, 1e3)


def main():
    out = sys.argv[1]
    iters = int(sys.argv[sys.argv.index("--iters") + 1]) if "--iters" in sys.argv else 30
    torch.manual_seed(0)
    model = ti_models.TinyRV().eval()
    rows = []
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "tinyrv.onnx")
        x0 = torch.randn(1, 600, 14)
        torch.onnx.export(model, x0, path, input_names=["x"], output_names=["y_log"], opset_version=17,
                          dynamic_axes={"x": {0: "B"}, "y_log": {0: "B"}})
        for threads in (1, 2):
            torch.set_num_threads(threads)
            so = ort.SessionOptions()
            so.intra_op_num_threads = threads
            so.inter_op_num_threads = 1
            sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
            for batch in (1, 32):
                x = torch.randn(batch, 600, 14)
                xn = x.numpy()
                n = max(5, iters // (4 if batch > 1 else 1))
                with torch.inference_mode():
                    p50, p99 = timeit(lambda: model(x), n)
                rows.append({"engine": "pytorch", "version": torch.__version__, "batch": batch, "threads": threads,
                             "p50_ms": p50, "p99_ms": p99, "samples_per_s": batch / p50 * 1e3})
                p50, p99 = timeit(lambda: sess.run(None, {"x": xn}), n)
                rows.append({"engine": "onnxruntime", "version": ort.__version__, "batch": batch, "threads": threads,
                             "p50_ms": p50, "p99_ms": p99, "samples_per_s": batch / p50 * 1e3})
                print(rows[-2], rows[-1], flush=True)
    with open(out, "w") as f:
        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
