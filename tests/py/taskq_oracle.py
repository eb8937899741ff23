"""numpy oracle for the task-queue kernels (tests/kernels/test_taskq.c).

usage: taskq_oracle.py DIR
Reads DIR/cases.txt, one case a line: "gemv B in out", "softmax B dim" or
"price B assets features", with inputs DIR/<k>_a.f32 (and DIR/<k>_b.f32) for case k
(float32, little-endian, row-major), and writes DIR/<k>_out.f32 computed in float64.
"""
import os
import sys

import numpy as np


def load(path, shape):
    a = np.fromfile(path, dtype="<f4")
    if a.size != int(np.prod(shape)):
        raise SystemExit(f"taskq_oracle: {path}: {a.size} floats, want {shape}")
    return a.reshape(shape).astype(np.float64)


def main():
    d = sys.argv[1]
    with open(os.path.join(d, "cases.txt")) as f:
        cases = [line.split() for line in f if line.strip()]
    for k, c in enumerate(cases):
        op, dims = c[0], [int(v) for v in c[1:]]
        a = os.path.join(d, f"{k}_a.f32")
        b = os.path.join(d, f"{k}_b.f32")
        if op == "gemv":
            B, n_in, n_out = dims
            W, x = load(a, (B, n_in, n_out)), load(b, (B, n_in))
            y = np.einsum("bi,bio->bo", x, W)
        elif op == "softmax":
            B, dim = dims
            x = load(a, (B, dim))
            e = np.exp(x - x.max(axis=1, keepdims=True))
            y = e / e.sum(axis=1, keepdims=True)
        elif op == "price":
            B, assets, features = dims
            p, W = load(a, (B, assets)), load(b, (assets, features))
            y = p @ W
        else:
            raise SystemExit(f"taskq_oracle: unknown op {op}")
        y.astype("<f4").tofile(os.path.join(d, f"{k}_out.f32"))
    print(f"taskq_oracle: {len(cases)} cases")


if __name__ == "__main__":
    main()
