"""Timing loop shared by the peer scripts (bench/peers_*.py)."""
import time

import numpy as np

# A call slower than this is warmed up once, not `warmup` times (Debian's PyTorch takes
# 8 s for a TinyRV batch of 32; five warm-ups would cost 40 s and measure nothing new).
SLOW_CALL_S = 0.5
# Timed calls stop once they have taken this long, after at least MIN_ITERS of them.
BUDGET_S = 10.0
MIN_ITERS = 3


def timeit(fn, iters, warmup=5, unit=1e3):
    """Runs fn `warmup` times (once if the first call is slower than SLOW_CALL_S), then up
    to `iters` timed times, stopping early after BUDGET_S seconds once MIN_ITERS are in;
    returns (p50, p99) in seconds * unit (1e3: milliseconds, 1e6: microseconds)."""
    for i in range(warmup):
        t0 = time.perf_counter()
        fn()
        if i == 0 and time.perf_counter() - t0 > SLOW_CALL_S:
            break
    ts = []
    start = time.perf_counter()
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
        if len(ts) >= MIN_ITERS and time.perf_counter() - start > BUDGET_S:
            break
    ts = np.array(ts) * unit
    return float(np.percentile(ts, 50)), float(np.percentile(ts, 99))
