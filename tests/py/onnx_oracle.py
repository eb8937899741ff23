"""ONNX oracles for tests/onnx/ (test use only).

  check MODEL.onnx                       onnx.checker.check_model (full_check: shape inference)
  run MODEL.onnx X.f32 B T F Y.f32       ONNX Runtime full forward: x [B,T,F] -> y_log (raw f32)
  decode MODEL.onnx X.f32 B T F Y.f32    ONNX Runtime one-step decode over the stream x [B,T,F],
                                         starting from empty past (P = 0): y [B,T] = y_t of each step
  torch_tinyrv PT OPSET FOLD OUT.onnx X.f32 B Y.f32
                                         torch.onnx.export of ti_models.TinyRV with the weights of PT
                                         (do_constant_folding=FOLD), and PyTorch's y [B] on x (T = seq_len)
  meta MODEL.onnx                        print metadata_props as JSON
Exit status non-zero on any failure (the C test then fails)."""
import json
import os
import sys

import numpy as np


def load_x(path, B, T, F):
    x = np.fromfile(path, dtype=np.float32)
    assert x.size == B * T * F, f"{path}: {x.size} floats, expected {B * T * F}"
    return x.reshape(B, T, F)


def session(path):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def main(argv):
    cmd = argv[1]
    if cmd == "check":
        import onnx
        m = onnx.load(argv[2])
        onnx.checker.check_model(m, full_check=True)
        return 0
    if cmd == "meta":
        import onnx
        m = onnx.load(argv[2])
        print(json.dumps({p.key: p.value for p in m.metadata_props}))
        return 0
    if cmd == "run":
        path, xp, B, T, F, yp = argv[2], argv[3], int(argv[4]), int(argv[5]), int(argv[6]), argv[7]
        y = session(path).run(["y_log"], {"x": load_x(xp, B, T, F)})[0]
        y.astype(np.float32).tofile(yp)
        return 0
    if cmd == "decode":
        path, xp, B, T, F, yp = argv[2], argv[3], int(argv[4]), int(argv[5]), int(argv[6]), argv[7]
        x = load_x(xp, B, T, F)
        s = session(path)
        past = [i for i in s.get_inputs() if i.name.startswith("past_")]
        outs = [o.name for o in s.get_outputs()]
        assert outs[0] == "y_t", outs
        H, hd = past[0].shape[1], past[0].shape[3]
        feeds = {i.name: np.zeros((B, H, 0, hd), np.float32) for i in past}
        ys = []
        for t in range(T):
            feeds["x_t"] = x[:, t:t + 1, :]
            res = s.run(outs, feeds)
            assert res[0].shape == (B, 1), res[0].shape
            for name, val in zip(outs[1:], res[1:]):
                assert val.shape == (B, H, t + 1, hd), (name, val.shape)
                feeds[name.replace("present_", "past_")] = val
            ys.append(res[0][:, 0])
        np.stack(ys, axis=1).astype(np.float32).tofile(yp)
        return 0
    if cmd == "torch_tinyrv":
        import torch
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from ti_models import TinyRV
        pt, opset, fold, out, xp, B, yp = argv[2], int(argv[3]), argv[4] == "1", argv[5], argv[6], int(argv[7]), argv[8]
        ck = torch.load(pt, map_location="cpu")
        sd = ck["model"] if "model" in ck else ck  # the seed saves {"model": state_dict, ...}
        sd = {k.replace("_orig_mod.", "").replace("module.", ""): v.float() for k, v in sd.items()}
        F = sd["proj.weight"].shape[1]
        d = sd["proj.weight"].shape[0]
        T = sd["pos"].shape[1] - 1
        L = 1 + max(int(k.split(".")[2]) for k in sd if k.startswith("enc.layers."))
        dff = sd["enc.layers.0.linear1.weight"].shape[0]
        m = TinyRV(n_features=F, seq_len=T, d_model=d, n_heads=4, n_layers=L, d_ff=dff).eval()
        m.load_state_dict(sd)
        x = torch.from_numpy(load_x(xp, B, T, F).copy())
        with torch.no_grad():
            y = m(x)
        # outside no_grad: under it torch 1.13 takes the fused fast path, which does not export
        if True:
            torch.onnx.export(m, x, out, input_names=["x"], output_names=["y_log"], opset_version=opset,
                              do_constant_folding=fold, dynamic_axes={"x": {0: "batch"}, "y_log": {0: "batch"}})
        y.numpy().astype(np.float32).tofile(yp)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
