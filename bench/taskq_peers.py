"""Peers for the task-queue kernel benchmark: numpy and PyTorch on the same shapes and the
same thread count as bench/taskq.c.  Run by bench/taskq.sh (which pins numpy's BLAS
threads through OPENBLAS_NUM_THREADS / OMP_NUM_THREADS before Python starts).

usage: taskq_peers.py --threads N [--quick] --out PATH
"""
import argparse
import json
import time

import numpy as np

CASES = [  # kernel, size, B, d1, d2 -- keep in step with bench/taskq.c
    ("batched_gemv", "seed", 1024, 256, 256),
    ("batched_gemv", "large", 64, 1024, 1024),
    ("batched_softmax", "seed", 1024, 1000, 0),
    ("batched_softmax", "large", 4096, 4096, 0),
    ("process_price_vectors", "seed", 1024, 50, 20),
    ("process_price_vectors", "large", 16384, 200, 64),
]


def np_softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    e /= e.sum(axis=1, keepdims=True)
    return e


def make(kernel, B, d1, d2, rng):
    f = lambda *s: (rng.random(s, dtype=np.float32) - 0.5)  # noqa: E731
    if kernel == "batched_gemv":
        return f(B, d1, d2), f(B, d1)
    if kernel == "batched_softmax":
        return f(B, d1), None
    return f(B, d1), f(d1, d2)


def np_fn(kernel, a, b):
    if kernel == "batched_gemv":
        return lambda: np.matmul(b[:, None, :], a)[:, 0, :]
    if kernel == "batched_softmax":
        return lambda: np_softmax(a)
    return lambda: a @ b


def torch_fn(torch, kernel, a, b):
    ta = torch.from_numpy(a)
    tb = torch.from_numpy(b) if b is not None else None
    if kernel == "batched_gemv":
        return lambda: torch.bmm(tb.unsqueeze(1), ta).squeeze(1)
    if kernel == "batched_softmax":
        return lambda: torch.softmax(ta, dim=1)
    return lambda: ta @ tb


def time_it(fn, quick):
    for _ in range(3):
        fn()
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-6)
    reps = int(1.0 / one)
    if quick:
        reps //= 5
    reps = min(max(reps, 20), 2000)
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter_ns()
        fn()
        ts.append((time.perf_counter_ns() - t0) / 1e3)
    ts.sort()
    return reps, ts[reps // 2], ts[int(0.95 * (reps - 1))], ts[int(0.99 * (reps - 1))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    engines = [("numpy", None)]
    try:
        import torch

        torch.set_num_threads(args.threads)
        engines.append(("torch", torch))
    except ImportError:
        print("taskq_peers: torch not importable; numpy only")
    rng = np.random.default_rng(1)
    res = []
    for kernel, size, B, d1, d2 in CASES:
        a, b = make(kernel, B, d1, d2, rng)
        for name, mod in engines:
            fn = np_fn(kernel, a, b) if mod is None else torch_fn(mod, kernel, a, b)
            reps, med, p95, p99 = time_it(fn, args.quick)
            res.append(dict(engine=name, kernel=kernel, size=size, B=B, d1=d1, d2=d2, threads=args.threads,
                            reps=reps, median_us=med, p95_us=p95, p99_us=p99))
            print(f"{name:6s} {kernel:22s} {size:6s} thr {args.threads}  median {med:10.1f} us  p99 {p99:10.1f} us",
                  flush=True)
    versions = {"numpy": np.__version__}
    if len(engines) > 1:
        versions["torch"] = engines[1][1].__version__
    with open(args.out, "w") as f:
        json.dump({"versions": versions, "results": res}, f, indent=1)


if __name__ == "__main__":
    main()
