#!/usr/bin/env python3
"""Peers for the streaming (rv_causal) model: PyTorch and ONNX Runtime, same machine, same
threads, same weights (models/rv_causal_optiver.safetensors).

Two modes, as a user of each peer would run them:
  full    full-window forward of the last T inputs, batch 1 and 32 (the per-tick cost
          without a cache: what a plain ONNX/Triton deployment pays on every tick)
  decode  one new tick with the keys/values of the previous ctx-1 ticks passed in:
          PyTorch with a hand-written KV cache (preallocated, in place, no cat), ONNX Runtime
          with a past-key/value decode graph exported by torch.onnx (inputs past_k/past_v
          [L,H,P,hd], outputs present_k/present_v [L,H,P+1,hd]).
The decode graphs are checked against the full forward (last position) before timing.

With --ti-decode PATH (the graph `tickinfer export --graph decode` writes: x_t, past_key_l,
past_value_l [B,H,P,hd] per layer) ONNX Runtime also runs tickinfer's own exported decode graph
("onnxruntime-kv-ti"), checked against the full forward the same way.

Usage: peers_causal.py OUT.json [--iters N] [--ctx 64,256,600,...] [--model PATH] [--ti-decode PATH]
"""
import json
import math
import os
import struct
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "py"))
import ti_models  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
import peer_timing  # noqa: E402


def timeit(fn, iters, warmup=5):
    return peer_timing.timeit(fn, iters, warmup, 1e6)


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        hdr = json.loads(f.read(n))
        blob = f.read()
    meta = hdr.pop("__metadata__", {})
    out = {}
    for name, t in hdr.items():
        assert t["dtype"] == "F32", name
        a, b = t["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(blob[a:b], dtype=np.float32).reshape(t["shape"]).copy())
    return out, meta


def load_causal(path, max_len):
    sd, meta = read_safetensors(path)
    cfg = json.loads(meta["tickinfer.config"])
    m = ti_models.RVCausal(n_features=cfg["n_features"], d_model=cfg["d_model"], n_heads=cfg["n_heads"],
                           n_layers=cfg["n_layers"], d_ff=cfg["d_ff"], max_len=max_len)
    m.load_state_dict(sd)
    return m.eval(), cfg


class DecodeStep(nn.Module):
    """One tick: x_t [1,1,F], past_k/past_v [L,H,P,hd] -> y [1], present_k/v [L,H,P+1,hd].
    ALiBi bias -slope * (P - j) for cached key j; the new token sees itself with bias 0."""

    def __init__(self, m):
        super().__init__()
        self.m = m
        self.register_buffer("slopes", ti_models.alibi_slopes(m.n_heads))

    def forward(self, x, past_k, past_v):
        m = self.m
        H = m.n_heads
        h = m.proj(x)[0]  # [1, C]
        C = h.shape[-1]
        hd = C // H
        P = past_k.shape[2]
        dist = torch.arange(P, -1, -1, dtype=torch.float32)  # P .. 0 for keys 0..P
        bias = -self.slopes.view(H, 1) * dist.view(1, P + 1)  # [H, P+1]
        ks, vs = [], []
        for li, blk in enumerate(m.layers):
            q, k, v = blk.in_proj(blk.norm1(h)).split(C, dim=-1)
            q = q.view(H, 1, hd)
            kk = torch.cat([past_k[li], k.view(H, 1, hd)], dim=1)  # [H, P+1, hd]
            vv = torch.cat([past_v[li], v.view(H, 1, hd)], dim=1)
            ks.append(kk)
            vs.append(vv)
            att = (q @ kk.transpose(-2, -1)).view(H, P + 1) / math.sqrt(hd) + bias
            y = (att.softmax(-1).view(H, 1, P + 1) @ vv).reshape(1, C)
            h = h + blk.out_proj(y)
            h = h + blk.linear2(F.gelu(blk.linear1(blk.norm2(h)), approximate="tanh"))
        return m.head(h).view(1), torch.stack(ks), torch.stack(vs)


class TorchKVCache:
    """PyTorch per-tick path with a preallocated sliding-window cache (written in place)."""

    def __init__(self, m, W):
        self.m, self.W = m, W
        L, H = len(m.layers), m.n_heads
        C = m.proj.out_features
        self.hd = C // H
        self.k = torch.zeros(L, H, W, self.hd)
        self.v = torch.zeros(L, H, W, self.hd)
        self.n = 0
        self.slopes = ti_models.alibi_slopes(H).view(H, 1)
        self.pos = torch.zeros(W)

    @torch.inference_mode()
    def step(self, x):
        m, H, hd = self.m, self.m.n_heads, self.hd
        slot = self.n % self.W
        self.pos[slot] = self.n
        nk = min(self.n + 1, self.W)
        bias = -self.slopes * (self.n - self.pos[:nk]).view(1, nk)
        h = m.proj(x)[0]
        C = h.shape[-1]
        for li, blk in enumerate(m.layers):
            q, k, v = blk.in_proj(blk.norm1(h)).split(C, dim=-1)
            self.k[li, :, slot] = k.view(H, hd)
            self.v[li, :, slot] = v.view(H, hd)
            kk, vv = self.k[li, :, :nk], self.v[li, :, :nk]
            att = (q.view(H, 1, hd) @ kk.transpose(-2, -1)).view(H, nk) / math.sqrt(hd) + bias
            y = (att.softmax(-1).view(H, 1, nk) @ vv).reshape(1, C)
            h = h + blk.out_proj(y)
            h = h + blk.linear2(F.gelu(blk.linear1(blk.norm2(h)), approximate="tanh"))
        self.n += 1
        return m.head(h).view(1)


def row(engine, version, mode, batch, threads, ctx, p50, p99):
    return {"engine": engine, "version": version, "mode": mode, "batch": batch, "threads": threads, "ctx": ctx,
            "p50_us": p50, "p99_us": p99, "samples_per_s": batch / p50 * 1e6}


def main():
    args = sys.argv[1:]
    out = args[0]
    opt = lambda k, d: args[args.index(k) + 1] if k in args else d  # noqa: E731
    iters = int(opt("--iters", "200"))
    ctxs = [int(c) for c in opt("--ctx", "64,256,600,1024,2048,4096").split(",")]
    ti_dec = opt("--ti-decode", None)
    path = opt("--model", os.path.join(os.path.dirname(__file__), "..", "models", "rv_causal_optiver.safetensors"))
    import onnxruntime as ort

    model, cfg = load_causal(path, max(ctxs))
    Fdim, L, H = cfg["n_features"], cfg["n_layers"], cfg["n_heads"]
    hd = cfg["d_model"] // H
    dec = DecodeStep(model).eval()
    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        full_path, dec_path = os.path.join(d, "causal.onnx"), os.path.join(d, "decode.onnx")
        x0 = torch.randn(1, 64, Fdim)
        torch.onnx.export(model, x0, full_path, input_names=["x"], output_names=["y_log"], opset_version=17,
                          dynamic_axes={"x": {0: "B", 1: "T"}, "y_log": {0: "B", 1: "T"}})
        pk = torch.zeros(L, H, 7, hd)
        torch.onnx.export(dec, (torch.randn(1, 1, Fdim), pk, pk), dec_path,
                          input_names=["x", "past_k", "past_v"], output_names=["y_log", "present_k", "present_v"],
                          opset_version=17, dynamic_axes={"past_k": {2: "P"}, "past_v": {2: "P"},
                                                         "present_k": {2: "P1"}, "present_v": {2: "P1"}})
        # Correctness of both decode paths against the full forward before any timing.
        xs = torch.from_numpy(rng.standard_normal((1, 100, Fdim)).astype(np.float32))
        with torch.inference_mode():
            ref = model(xs)[0]
            cache = TorchKVCache(model, 128)
            got = torch.stack([cache.step(xs[:, t:t + 1])[0] for t in range(100)])
        err_torch = float((got - ref).abs().max())
        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads = 1, 1
        sess = ort.InferenceSession(dec_path, so, providers=["CPUExecutionProvider"])
        kc = np.zeros((L, H, 0, hd), np.float32)
        vc = kc
        err_ort = 0.0
        for t in range(100):
            y, kc, vc = sess.run(None, {"x": xs[:, t:t + 1].numpy(), "past_k": kc, "past_v": vc})
            err_ort = max(err_ort, abs(float(y[0]) - float(ref[t])))
        err_ti = 0.0
        if ti_dec:
            tsess = ort.InferenceSession(ti_dec, so, providers=["CPUExecutionProvider"])
            past = {f"past_{kv}_{li}": np.zeros((1, H, 0, hd), np.float32) for li in range(L) for kv in ("key", "value")}
            names = [o.name for o in tsess.get_outputs()]
            for t in range(100):
                outs = dict(zip(names, tsess.run(None, {"x_t": xs[:, t:t + 1].numpy(), **past})))
                past = {f"past_{kv}_{li}": outs[f"present_{kv}_{li}"] for li in range(L) for kv in ("key", "value")}
                err_ti = max(err_ti, abs(float(outs["y_t"].reshape(-1)[0]) - float(ref[t])))
        print(f"decode check: max |torch kv - full| {err_torch:.2e}, |ort decode - full| {err_ort:.2e}, "
              f"|ort tickinfer-exported decode - full| {err_ti:.2e}", file=sys.stderr)
        assert err_torch < 1e-4 and err_ort < 1e-4 and err_ti < 1e-4, "decode graph disagrees with the full forward"

        for threads in (1, 2):
            torch.set_num_threads(threads)
            so = ort.SessionOptions()
            so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
            full = ort.InferenceSession(full_path, so, providers=["CPUExecutionProvider"])
            decs = ort.InferenceSession(dec_path, so, providers=["CPUExecutionProvider"])
            tdecs = ort.InferenceSession(ti_dec, so, providers=["CPUExecutionProvider"]) if ti_dec else None
            for ctx in ctxs:
                n_full = max(5, min(iters, int(2e6 / (ctx * ctx + 50 * ctx))))
                for batch in ((1, 32) if ctx == 600 else (1,)):
                    x = torch.from_numpy(rng.standard_normal((batch, ctx, Fdim)).astype(np.float32))
                    xn = x.numpy()
                    nb = max(3, n_full // (8 if batch > 1 else 1))
                    with torch.inference_mode():
                        p50, p99 = timeit(lambda: model(x), nb)
                    rows.append(row("pytorch", torch.__version__, "full", batch, threads, ctx, p50, p99))
                    p50, p99 = timeit(lambda: full.run(None, {"x": xn}), nb)
                    rows.append(row("onnxruntime", ort.__version__, "full", batch, threads, ctx, p50, p99))
                # decode with ctx-1 cached ticks (the window is full: ctx keys incl. the new one)
                cache = TorchKVCache(model, ctx)
                cache.n = ctx  # steady state: window full, wrapping
                cache.pos[:] = torch.arange(ctx).float()
                xt = torch.from_numpy(rng.standard_normal((1, 1, Fdim)).astype(np.float32))
                p50, p99 = timeit(lambda: cache.step(xt), iters)
                rows.append(row("pytorch-kv", torch.__version__, "decode", 1, threads, ctx, p50, p99))
                past = rng.standard_normal((L, H, ctx - 1, hd)).astype(np.float32)
                feed = {"x": xt.numpy(), "past_k": past, "past_v": past}
                p50, p99 = timeit(lambda: decs.run(None, feed), iters)
                rows.append(row("onnxruntime-kv", ort.__version__, "decode", 1, threads, ctx, p50, p99))
                if tdecs:
                    tfeed = {"x_t": xt.numpy()}
                    for li in range(L):
                        tfeed[f"past_key_{li}"] = past[li:li + 1]
                        tfeed[f"past_value_{li}"] = past[li:li + 1]
                    p50, p99 = timeit(lambda: tdecs.run(None, tfeed), iters)
                    rows.append(row("onnxruntime-kv-ti", ort.__version__, "decode", 1, threads, ctx, p50, p99))
                print(json.dumps(rows[-2:]), file=sys.stderr, flush=True)
    with open(out, "w") as f:
        json.dump({"decode_check": {"torch_kv_max_abs": err_torch, "ort_decode_max_abs": err_ort,
                                    "ort_ti_decode_max_abs": err_ti}, "rows": rows},
                  f, indent=1)


if __name__ == "__main__":
    main()
