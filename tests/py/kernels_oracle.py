#!/usr/bin/env python3
"""PyTorch oracle for tests/kernels/test_kernels_torch.c.

    kernels_oracle.py DIR

DIR/spec.txt lists cases, one a line; inputs are raw little-endian float32 files
DIR/<name>.<tensor>.bin written by the C test, and the outputs go to
DIR/<name>.<tensor>.out in the same format.  Everything runs in float32 on the CPU with
PyTorch's own modules (nn.MultiheadAttention, F.layer_norm, F.gelu, torch.optim.AdamW),
so the C kernels are held to PyTorch's conventions, not to a re-derivation of them:

  mha NAME B T C H CAUSAL ALIBI   x [B,T,C], win [3C,C], bin [3C], r [B,T,C], slopes [H]
        -> y = MHA(x) with out_proj = identity, and grads of sum(y*r): dx, dwin, dbin
  ln NAME N C                     x, w, b, r -> y, dx, dw, db
  act NAME N KIND                 x, r -> y, dx   (KIND: relu, gelu_tanh, gelu_erf)
  linear NAME M N K KIND          x [M,K], w [N,K], b [N] -> y = act(x w^T + b)
  softmax NAME N C                x, r -> y, dx
  adamw NAME N STEPS              p, g [STEPS,N] -> p, m, v after STEPS steps
                                  (lr 1e-2, betas (0.9, 0.99), eps 1e-8, wd 0.1)
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F


def load(d, name, tensor, shape):
    a = np.fromfile(os.path.join(d, f"{name}.{tensor}.bin"), dtype="<f4")
    return torch.from_numpy(a.reshape(shape).copy())


def save(d, name, tensor, t):
    t.detach().contiguous().numpy().astype("<f4").tofile(os.path.join(d, f"{name}.{tensor}.out"))


def act_fn(kind):
    return {
        "none": lambda x: x,
        "relu": F.relu,
        "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
        "gelu_erf": F.gelu,
    }[kind]


def mha(d, name, B, T, C, H, causal, alibi):
    x = load(d, name, "x", (B, T, C)).requires_grad_()
    m = torch.nn.MultiheadAttention(C, H, batch_first=True)
    with torch.no_grad():
        m.in_proj_weight.copy_(load(d, name, "win", (3 * C, C)))
        m.in_proj_bias.copy_(load(d, name, "bin", (3 * C,)))
        m.out_proj.weight.copy_(torch.eye(C))
        m.out_proj.bias.zero_()
    mask = torch.zeros(B * H, T, T)
    if alibi:
        slopes = load(d, name, "slopes", (H,))
        dist = (torch.arange(T)[:, None] - torch.arange(T)[None, :]).abs().float()
        mask = mask - (slopes[:, None, None] * dist).repeat(B, 1, 1)
    if causal:
        mask = mask.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
    y, _ = m(x, x, x, attn_mask=mask, need_weights=False)
    (y * load(d, name, "r", (B, T, C))).sum().backward()
    save(d, name, "y", y)
    save(d, name, "dx", x.grad)
    save(d, name, "dwin", m.in_proj_weight.grad)
    save(d, name, "dbin", m.in_proj_bias.grad)


def ln(d, name, N, C):
    x = load(d, name, "x", (N, C)).requires_grad_()
    w = load(d, name, "w", (C,)).requires_grad_()
    b = load(d, name, "b", (C,)).requires_grad_()
    y = F.layer_norm(x, (C,), w, b, eps=1e-5)
    (y * load(d, name, "r", (N, C))).sum().backward()
    for t, v in (("y", y), ("dx", x.grad), ("dw", w.grad), ("db", b.grad)):
        save(d, name, t, v)


def act(d, name, N, kind):
    x = load(d, name, "x", (N,)).requires_grad_()
    y = act_fn(kind)(x)
    (y * load(d, name, "r", (N,))).sum().backward()
    save(d, name, "y", y)
    save(d, name, "dx", x.grad)


def linear(d, name, M, N, K, kind):
    y = act_fn(kind)(F.linear(load(d, name, "x", (M, K)), load(d, name, "w", (N, K)), load(d, name, "b", (N,))))
    save(d, name, "y", y)


def softmax(d, name, N, C):
    x = load(d, name, "x", (N, C)).requires_grad_()
    y = torch.softmax(x, dim=-1)
    (y * load(d, name, "r", (N, C))).sum().backward()
    save(d, name, "y", y)
    save(d, name, "dx", x.grad)


def adamw(d, name, N, steps):
    p = torch.nn.Parameter(load(d, name, "p", (N,)))
    g = load(d, name, "g", (steps, N))
    opt = torch.optim.AdamW([p], lr=1e-2, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1)
    for s in range(steps):
        p.grad = g[s].clone()
        opt.step()
    st = opt.state[p]
    save(d, name, "p", p)
    save(d, name, "m", st["exp_avg"])
    save(d, name, "v", st["exp_avg_sq"])


def main():
    d = sys.argv[1]
    torch.set_num_threads(1)
    with open(os.path.join(d, "spec.txt")) as f:
        for line in f:
            w = line.split()
            if not w:
                continue
            op, name, args = w[0], w[1], w[2:]
            if op == "mha":
                mha(d, name, *map(int, args))
            elif op == "ln":
                ln(d, name, *map(int, args))
            elif op == "act":
                act(d, name, int(args[0]), args[1])
            elif op == "linear":
                linear(d, name, int(args[0]), int(args[1]), int(args[2]), args[3])
            elif op == "softmax":
                softmax(d, name, *map(int, args))
            elif op == "adamw":
                adamw(d, name, *map(int, args))
            else:
                sys.exit(f"kernels_oracle: unknown op {op!r}")


if __name__ == "__main__":
    main()
