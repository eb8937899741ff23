"""Reference outputs and gradients of tickinfer's models from PyTorch (test oracle).

    python tests/py/model_refs.py OUTDIR [--seed-pt best.pt] [--only NAME,...]

For each case (ti_models.py architectures, float32, fixed seeds, one thread) writes into
OUTDIR/<case>/:
    weights.safetensors  the state dict (written by hand: u64 header length, JSON, data)
    x.f32                input [B,T,F]
    y.f32                output [B] (TinyRV) or [B,T] (causal)
    w.f32                fixed random weights of the loss: loss = sum(y * w)
    dx.f32               d loss / d x  [B,T,F]
    grads.f32            d loss / d param for every parameter, concatenated in state-dict
                         order (the layout of tickinfer's parameter block)
and OUTDIR/index.json: {"cases": [{"name", "kind", "config", "B", "T", "tensors": [{"name",
"shape", "offset"}], "metadata_config"}]}.  All .f32 files are raw little-endian float32.

With --seed-pt, also case "seed": the seed's trained TinyRV (state dict under "model",
names prefixed "_orig_mod.") on B=3 fixed inputs; only x.f32 and y.f32 (the C test loads
the .pt itself with its own reader).
"""
import argparse
import json
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ti_models import RVCausal, TinyRV  # noqa: E402

# name, kind, config (tickinfer JSON names), B, T, write config into the metadata?
CASES = [
    ("tiny_small", "tinyrv", dict(n_features=14, context=32, d_model=32, n_heads=4, n_layers=2, d_ff=64), 3, 32, True),
    ("causal_small", "rv_causal", dict(n_features=12, context=48, d_model=32, n_heads=4, n_layers=2, d_ff=64), 2, 48, True),
    # 3 heads (ALiBi slopes for H not a power of two), odd widths, one layer
    ("causal_h3", "rv_causal", dict(n_features=5, context=20, d_model=24, n_heads=3, n_layers=1, d_ff=40), 2, 20, True),
    # the seed's real shape; no config in the metadata: the C loader infers it from shapes
    ("tiny_real", "tinyrv", dict(n_features=14, context=600, d_model=128, n_heads=4, n_layers=3, d_ff=256), 2, 600, False),
]


def full_config(kind, c):
    act = "relu" if kind == "tinyrv" else "gelu_tanh"
    return dict(kind=kind, **c, activation=act, ln_eps=1e-5)


def build(kind, c):
    if kind == "tinyrv":
        return TinyRV(c["n_features"], c["context"], c["d_model"], c["n_heads"], c["n_layers"], c["d_ff"], dropout=0.0)
    return RVCausal(c["n_features"], c["d_model"], c["n_heads"], c["n_layers"], c["d_ff"], max_len=c["context"])


def perturb(model):
    """Move every parameter away from its init so each one matters: cls/pos and biases
    would be zero, LayerNorm weights one."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name in ("cls", "pos") or name.endswith("bias"):
                p.add_(0.1 * torch.randn_like(p))
            elif p.dim() == 1:  # LayerNorm weight
                p.mul_(1.0 + 0.2 * torch.randn_like(p))


def f32_bytes(t):
    return t.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()


def write_f32(path, t):
    with open(path, "wb") as f:
        f.write(f32_bytes(t))


def write_safetensors(path, sd, metadata):
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, t in sd.items():
        b = f32_bytes(t)
        header[name] = {"dtype": "F32", "shape": list(sd[name].shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def run_case(outdir, name, kind, c, B, T, meta_config):
    model = build(kind, c)
    perturb(model)
    model.eval()
    d = os.path.join(outdir, name)
    os.makedirs(d, exist_ok=True)
    cfg = full_config(kind, c)
    meta = {"tickinfer.config": json.dumps(cfg, separators=(",", ":"))} if meta_config else None
    sd = model.state_dict()
    write_safetensors(os.path.join(d, "weights.safetensors"), sd, meta)
    x = torch.randn(B, T, c["n_features"], requires_grad=True)
    y = model(x)
    w = torch.randn(y.shape)
    (y * w).sum().backward()
    params = dict(model.named_parameters())
    grads, tensors, off = [], [], 0
    for pname, t in sd.items():
        g = params[pname].grad
        grads.append(g.reshape(-1) if g is not None else torch.zeros(t.numel()))
        tensors.append({"name": pname, "shape": list(t.shape), "offset": off})
        off += t.numel()
    write_f32(os.path.join(d, "x.f32"), x)
    write_f32(os.path.join(d, "y.f32"), y)
    write_f32(os.path.join(d, "w.f32"), w)
    write_f32(os.path.join(d, "dx.f32"), x.grad)
    write_f32(os.path.join(d, "grads.f32"), torch.cat(grads))
    return {"name": name, "kind": kind, "config": cfg, "B": B, "T": T, "tensors": tensors,
            "n_params": off, "metadata_config": meta_config}


def run_seed(outdir, pt_path):
    ck = torch.load(pt_path, map_location="cpu")
    sd = {k.replace("_orig_mod.", "", 1): v.float() for k, v in ck["model"].items()}
    model = TinyRV(14, 600, 128, 4, 3, 256, dropout=0.0)
    model.load_state_dict(sd)
    model.eval()
    d = os.path.join(outdir, "seed")
    os.makedirs(d, exist_ok=True)
    x = torch.randn(3, 600, 14)
    with torch.no_grad():
        y = model(x)
    write_f32(os.path.join(d, "x.f32"), x)
    write_f32(os.path.join(d, "y.f32"), y)
    return {"name": "seed", "kind": "tinyrv", "B": 3, "T": 600, "pt": os.path.abspath(pt_path)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--seed-pt", help="the seed's best.pt (torch.save of {'model': state_dict})")
    ap.add_argument("--only", help="comma-separated case names")
    a = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(a.outdir, exist_ok=True)
    only = set(a.only.split(",")) if a.only else None
    cases = []
    for i, (name, kind, c, B, T, meta) in enumerate(CASES):
        if only and name not in only:
            continue
        torch.manual_seed(1000 + i)
        cases.append(run_case(a.outdir, name, kind, c, B, T, meta))
    if a.seed_pt and (not only or "seed" in only):
        torch.manual_seed(7)
        cases.append(run_seed(a.outdir, a.seed_pt))
    with open(os.path.join(a.outdir, "index.json"), "w") as f:
        json.dump({"cases": cases}, f, indent=1)


if __name__ == "__main__":
    main()
