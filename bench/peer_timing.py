"""Timing loop shared by the peer scripts (bench/peers_*.py)."""
import time

import numpy as np


def timeit(fn, iters, warmup=5, unit=1e3):
    """Runs fn `warmup` times, then `iters` timed times; returns (p50, p99) in seconds * unit
    (1e3: milliseconds, 1e6: microseconds)."""
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    ts = np.array(ts) * unit
    return float(np.percentile(ts, 50)), float(np.percentile(ts, 99))
