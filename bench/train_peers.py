#!/usr/bin/env python3
"""PyTorch training-step throughput on the shapes of bench/train_step.c (same threads).
Usage: train_peers.py THREADS  -> JSON lines."""
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "py"))
import ti_models  # noqa: E402


def bench(name, model, B, T, F, threads, reps):
    torch.set_num_threads(threads)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(B, T, F)
    best = 1e30
    for r in range(reps + 1):  # one warm-up step, then reps timed (as bench/train_step.c)
        t0 = time.perf_counter()
        y = model(x)
        loss = y.mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        dt = time.perf_counter() - t0
        if r >= 1:
            best = min(best, dt)
    print(json.dumps({"engine": "pytorch", "model": name, "batch": B, "T": T, "threads": threads,
                      "step_ms": best * 1e3, "samples_per_s": B / best}), flush=True)


threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
torch.manual_seed(0)
bench("rv_causal", ti_models.RVCausal(n_features=15, d_model=64, n_heads=4, n_layers=2, d_ff=128), 64, 300, 15, threads, 3)
bench("tinyrv", ti_models.TinyRV(), 32, 600, 14, threads, 1)
