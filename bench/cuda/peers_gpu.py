#!/usr/bin/env python3
"""GPU peers for bench/cuda: PyTorch (CUDA) for each kernel at the shapes of
bench_kernels.c, and the TinyRV full-window forward at batch 1 and 32 in PyTorch eager and
ONNX Runtime's CUDA execution provider.  CUDA-event timing, median/p95/p99.

Usage: peers_gpu.py OUT.json [--runs N]
Needs PyPI torch (CUDA build) and onnxruntime-gpu (install them on the GPU machine only;
bench/cuda/run.sh skips this script when they are missing).  FP32 everywhere, TF32 off, so
the comparison with tickinfer's FP32 kernels is like for like.
"""
import json
import math
import os
import sys
import tempfile

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "py"))
import ti_models  # noqa: E402

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
DEV = "cuda"
RUNS = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 200


def cuda_time(fn, runs=RUNS, warmup=10):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(runs):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        ts.append(a.elapsed_time(b) * 1e3)  # us
    ts.sort()
    return ts[len(ts) // 2], ts[int(len(ts) * 0.95)], ts[int(len(ts) * 0.99)]


rows = []


def rec(kernel, impl, shape, fn):
    med, p95, p99 = cuda_time(fn)
    rows.append({"kernel": kernel, "impl": impl, "shape": shape, "median_us": med, "p95_us": p95, "p99_us": p99})
    print(f"{kernel:18s} {impl:22s} {shape:30s} median {med:9.2f} us  p99 {p99:9.2f} us", flush=True)


def r(*shape, lo=-1.0, hi=1.0):
    return torch.rand(*shape, device=DEV) * (hi - lo) + lo


@torch.inference_mode()
def kernels():
    for B, i, o in ((1024, 256, 256), (4096, 512, 512)):
        W, x = r(B, i, o), r(B, 1, i)
        rec("batched_gemv", "pytorch-bmm", f"B={B} in={i} out={o}", lambda: torch.bmm(x, W))
    for B, D in ((1024, 1000), (16384, 4096)):
        x = r(B, D, lo=-5, hi=5)
        rec("batched_softmax", "pytorch", f"B={B} dim={D}", lambda: torch.softmax(x, dim=-1))
    for B, A, Fe in ((1024, 50, 20), (262144, 50, 20)):
        p, W = r(B, A, lo=10, hi=100), r(A, Fe)
        rec("price_vectors", "pytorch-matmul", f"B={B} assets={A} features={Fe}", lambda: p @ W)
    for n in (1024, 10 << 20):
        pred, tgt = r(n, lo=1, hi=2), r(n, lo=1, hi=2)

        def rmspe():  # forward + backward, as ti_cuda_rmspe with a gradient
            with torch.enable_grad():
                pr = pred.detach().requires_grad_()
                loss = torch.sqrt(torch.mean(((tgt - pr) / tgt) ** 2))
                loss.backward()
                return loss.item()  # host loss, like ours
        rec("rmspe_fwd_bwd", "pytorch-autograd", f"n={n}", rmspe)
    for M, N, K in ((1024, 256, 256), (8192, 1024, 1024)):
        x, W, b = r(M, K), r(N, K), r(N)
        rec("matmul_bias_gelu", "pytorch", f"M={M} N={N} K={K}", lambda: F.gelu(F.linear(x, W, b), approximate="tanh"))
    for N, C in ((32768, 64), (32768, 1024)):
        x, w, b = r(N, C), r(C), r(C)
        rec("layernorm", "pytorch", f"N={N} C={C}", lambda: F.layer_norm(x, (C,), w, b, 1e-5))
    for B, T, H, hd in ((1, 100, 4, 16), (32, 100, 4, 16), (32, 512, 8, 64)):
        q, k, v = r(B, H, T, hd), r(B, H, T, hd), r(B, H, T, hd)
        i = torch.arange(T, device=DEV).view(T, 1)
        j = torch.arange(T, device=DEV).view(1, T)
        bias = (ti_models.alibi_slopes(H).to(DEV).view(H, 1, 1) * (j - i).float()).masked_fill(j > i, float("-inf"))
        rec("attention_alibi", "pytorch-sdpa", f"B={B} T={T} H={H} hd={hd} causal",
            lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=bias))


@torch.inference_mode()
def tinyrv():
    try:
        import onnxruntime as ort
    except ImportError as e:
        print(f"peers_gpu: onnxruntime missing ({e}); TinyRV peers: PyTorch only", file=sys.stderr)
        ort = None
    torch.manual_seed(0)
    model = ti_models.TinyRV().eval().to(DEV)
    with tempfile.TemporaryDirectory() as d:
        sess = None
        if ort is not None:
            path = os.path.join(d, "tinyrv.onnx")
            kw = dict(input_names=["x"], output_names=["y_log"], opset_version=17,
                      dynamic_axes={"x": {0: "B"}, "y_log": {0: "B"}})
            try:
                try:  # torch >= 2.5 defaults to the dynamo exporter (needs onnxscript): ask for TorchScript
                    torch.onnx.export(model.cpu(), torch.randn(1, 600, 14), path, dynamo=False, **kw)
                except TypeError:
                    torch.onnx.export(model.cpu(), torch.randn(1, 600, 14), path, **kw)
                sess = ort.InferenceSession(path, providers=["CUDAExecutionProvider"])
            except Exception as e:  # noqa: BLE001 -- keep the PyTorch rows
                print(f"peers_gpu: ONNX export / session failed ({e}); TinyRV peers: PyTorch only",
                      file=sys.stderr)
            model.to(DEV)
        if sess is not None and "CUDAExecutionProvider" not in sess.get_providers():
            print("onnxruntime: CUDA EP not available, skipping it", file=sys.stderr)
            sess = None
        for B in (1, 32):
            x = torch.randn(B, 600, 14, device=DEV)
            shape = f"B={B} T=600 d=128 L=3"
            rec("tinyrv_forward", "pytorch-eager", shape, lambda: model(x))
            if sess is not None:
                # IO binding on device memory: no host copies, like bench_model.c
                xo = ort.OrtValue.ortvalue_from_numpy(x.cpu().numpy(), "cuda", 0)
                io = sess.io_binding()
                io.bind_ortvalue_input("x", xo)
                io.bind_output("y_log", "cuda")
                rec("tinyrv_forward", f"onnxruntime-cuda-{ort.__version__}", shape,
                    lambda: sess.run_with_iobinding(io))


def main():
    out = sys.argv[1]
    if not torch.cuda.is_available():
        print("peers_gpu: torch has no CUDA device", file=sys.stderr)
        sys.exit(2)
    kernels()
    tinyrv()
    meta = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "runs": RUNS}
    with open(out, "w") as f:
        json.dump({"meta": meta, "results": rows}, f, indent=1)


if __name__ == "__main__":
    main()
