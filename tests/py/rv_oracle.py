#!/usr/bin/env python3
"""Independent oracle for the RV task, straight from the definition with pyarrow + numpy.

Reads Optiver trade files (hive layout stock_id=N/*.parquet), and for every
(stock_id, time_id) bucket writes one CSV row:
    stock_id,time_id,split,kept,target_rv,rv_hist_300,n_trades_horizon
target_rv  = sqrt(sum of squared log returns between consecutive trade prices over
             seconds 300..599, the first return taken from the last trade before 300)
kept       = n_trades_horizon >= 10 and target_rv >= 1e-4
split      = splitmix64(stock_id << 32 | time_id) % 10: 0..6 train(0), 7 val(1), 8..9 test(2)
Used by tests/data/test_ingest.c to check `tickinfer ingest` bucket by bucket.
"""
import glob
import os
import sys

import numpy as np
import pyarrow.parquet as pq

MASK = (1 << 64) - 1


def splitmix64(x):
    z = (x + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def split_of(stock, tid):
    v = splitmix64(((stock & 0xFFFFFFFF) << 32) | (tid & 0xFFFFFFFF)) % 10
    return 0 if v <= 6 else (1 if v == 7 else 2)


def rv(logp, mask_in_window):
    """Sum of squared returns of the prices inside the window, each from its predecessor."""
    idx = np.nonzero(mask_in_window)[0]
    idx = idx[idx > 0]
    r = logp[idx] - logp[idx - 1]
    return float(np.sqrt(np.sum(r * r)))


def main():
    root, out = sys.argv[1], sys.argv[2]
    rows = []
    for d in sorted(glob.glob(os.path.join(root, "stock_id=*")), key=lambda p: int(p.rsplit("=", 1)[1])):
        stock = int(os.path.basename(d).split("=")[1])
        for f in sorted(glob.glob(os.path.join(d, "*.parquet"))):
            t = pq.read_table(f)
            tid = t["time_id"].to_numpy()
            sec = t["seconds_in_bucket"].to_numpy()
            price = t["price"].to_numpy().astype(np.float32).astype(np.float64)
            order = np.lexsort((sec, tid))
            tid, sec, price = tid[order], sec[order], price[order]
            bounds = np.flatnonzero(np.diff(tid)) + 1
            for s, e in zip(np.r_[0, bounds], np.r_[bounds, len(tid)]):
                lp = np.log(price[s:e])
                ss = sec[s:e]
                horizon = ss >= 300
                n_h = int(horizon.sum())
                target = rv(lp, horizon)
                hist = rv(lp, ss < 300)
                kept = int(n_h >= 10 and target >= 1e-4)
                t_id = int(tid[s])
                rows.append(f"{stock},{t_id},{split_of(stock, t_id)},{kept},{target:.9e},{hist:.9e},{n_h}")
    with open(out, "w") as fh:
        fh.write("stock_id,time_id,split,kept,target_rv,rv_hist_300,n_trades_horizon\n")
        fh.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
