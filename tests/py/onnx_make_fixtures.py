"""Writes the small ONNX fixtures of tests/onnx/ (tests/data/onnx/) and the importer's fuzz
corpus (fuzz/corpus/onnx_import/).  Run from the repo root after `make`:
    .venv/bin/python tests/py/onnx_make_fixtures.py build/release/tickinfer
Deterministic (fixed seeds).  Test use only."""
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ti_models import RVCausal, TinyRV  # noqa: E402

DATA = "tests/data/onnx"
CORPUS = "fuzz/corpus/onnx_import"


def tiny_model():
    torch.manual_seed(1)
    m = TinyRV(n_features=2, seq_len=3, d_model=4, n_heads=2, n_layers=1, d_ff=8).eval()
    for p in m.parameters():
        torch.nn.init.normal_(p, std=0.5)
    return m


def tiny_torch(opset, fold):
    m = tiny_model()
    x = torch.randn(1, 3, 2)
    path = tempfile.mktemp(suffix=".onnx")
    # not under no_grad: torch 1.13 then takes the fused fast path (_transformer_encoder_layer_fwd),
    # which has no ONNX export
    if True:
        torch.onnx.export(m, x, path, input_names=["x"], output_names=["y_log"], opset_version=opset,
                          do_constant_folding=fold, dynamic_axes={"x": {0: "batch"}, "y_log": {0: "batch"}})
    b = open(path, "rb").read()
    os.unlink(path)
    return b


def write_st(path, sd, meta):
    header, blobs, off = {}, [], 0
    for k, v in sd.items():
        a = v.detach().numpy().astype("<f4").tobytes()
        header[k] = {"dtype": "F32", "shape": list(v.shape), "data_offsets": [off, off + len(a)]}
        blobs.append(a)
        off += len(a)
    header["__metadata__"] = meta
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def ti_export(cli, sd, cfg, graph):
    d = tempfile.mkdtemp()
    st, out = os.path.join(d, "m.safetensors"), os.path.join(d, "m.onnx")
    write_st(st, sd, {"tickinfer.config": json.dumps(cfg), "tickinfer.format": "model",
                      "tickinfer.features": json.dumps([f"f{i}" for i in range(cfg["n_features"])]),
                      "rv_scale": "0.5"})
    subprocess.run([cli, "export", "-q", "--format", "onnx", st, "-o", out, "--graph", graph], check=True)
    b = open(out, "rb").read()
    for p in (st, out):
        os.unlink(p)
    os.rmdir(d)
    return b


def mutate(b, fn):
    m = onnx.load_from_string(b)
    fn(m)
    return m.SerializeToString()


def set_op(m, old, new):
    n = next(n for n in m.graph.node if n.op_type == old)
    n.op_type = new


def reshape_init(m, name_part, shape):
    t = next(t for t in m.graph.initializer if name_part in t.name)
    a = numpy_helper.to_array(t)
    t.CopyFrom(numpy_helper.from_array(np.resize(a, shape).astype(np.float32), t.name))


def split_qkv(m):
    """Rewrite each packed in_proj (Transpose W, MatMul, Add b) into separate q, k, v Linears
    joined by a Concat: the unfused-projection form."""
    g = m.graph
    inits = {t.name: t for t in g.initializer}
    nodes = list(g.node)
    out = []
    i = 0
    while i < len(nodes):
        n = nodes[i]
        if n.op_type == "Transpose" and n.input[0].endswith("in_proj.weight"):
            mm, add = nodes[i + 1], nodes[i + 2]
            w = numpy_helper.to_array(inits[n.input[0]])
            bias_name = next(x for x in add.input if x.endswith("in_proj.bias"))
            b = numpy_helper.to_array(inits[bias_name])
            C = w.shape[1]
            parts = []
            for k, tag in enumerate("qkv"):
                wn, bn = f"{n.input[0]}.{tag}", f"{bias_name}.{tag}"
                g.initializer.append(numpy_helper.from_array(w[k * C:(k + 1) * C].copy(), wn))
                g.initializer.append(numpy_helper.from_array(b[k * C:(k + 1) * C].copy(), bn))
                out.append(helper.make_node("Transpose", [wn], [wn + "_t"], perm=[1, 0]))
                out.append(helper.make_node("MatMul", [mm.input[0], wn + "_t"], [wn + "_mm"]))
                out.append(helper.make_node("Add", [wn + "_mm", bn], [wn + "_y"]))
                parts.append(wn + "_y")
            out.append(helper.make_node("Concat", parts, [add.output[0]], axis=-1))
            for name in (n.input[0], bias_name):
                g.initializer.remove(inits[name])
            i += 3
            continue
        out.append(n)
        i += 1
    del g.node[:]
    g.node.extend(out)
    onnx.checker.check_model(m)


def external(m):
    t = m.graph.initializer[0]
    t.ClearField("raw_data")
    t.data_location = onnx.TensorProto.EXTERNAL
    t.external_data.add(key="location", value="weights.bin")


def nested(depth):
    """A ModelProto whose graph.node.attribute.g.node.attribute.g ... nests `depth` levels."""
    def ld(field, payload):  # length-delimited field
        key = (field << 3) | 2
        out, n = bytearray([key]), len(payload)
        while True:
            c = n & 0x7F
            n >>= 7
            out.append(c | (0x80 if n else 0))
            if not n:
                break
        return bytes(out) + payload
    g = b""
    for _ in range(depth):
        attr = ld(1, b"g") + bytes([0xA0, 0x01, 5]) + ld(6, g)  # name, type (field 20) GRAPH, g
        node = ld(4, b"If") + ld(5, attr)                           # op_type, attribute
        g = ld(1, node)                                            # GraphProto.node
    return bytes([(1 << 3) | 0, 8]) + ld(7, g)                     # ir_version, graph


def main():
    cli = sys.argv[1]
    os.makedirs(DATA, exist_ok=True)
    os.makedirs(CORPUS, exist_ok=True)
    torch.manual_seed(2)
    causal = RVCausal(n_features=2, d_model=4, n_heads=2, n_layers=1, d_ff=8, max_len=16).eval()
    for p in causal.parameters():
        torch.nn.init.normal_(p, std=0.5)
    ccfg = {"kind": "rv_causal", "n_features": 2, "context": 16, "d_model": 4, "n_heads": 2, "n_layers": 1,
            "d_ff": 8, "activation": "gelu_tanh", "ln_eps": 1e-5}
    t14, t17, t17nf = tiny_torch(14, True), tiny_torch(17, True), tiny_torch(17, False)
    cfull, cdec = ti_export(cli, causal.state_dict(), ccfg, "full"), ti_export(cli, causal.state_dict(), ccfg, "decode")
    files = {
        # valid: import must succeed
        "torch_tinyrv_op14.onnx": t14,
        "torch_tinyrv_op17.onnx": t17,
        "torch_tinyrv_op17_nofold.onnx": t17nf,
        "ti_causal_full.onnx": cfull,
        "causal_split_qkv.onnx": mutate(cfull, split_qkv),
        # refused with a named node / clear error
        "ti_causal_decode.onnx": cdec,
        "unknown_op.onnx": mutate(cfull, lambda m: set_op(m, "Tanh", "Selu")),
        "softmax_to_relu.onnx": mutate(cfull, lambda m: set_op(m, "Softmax", "Relu")),
        "wrong_shape.onnx": mutate(cfull, lambda m: reshape_init(m, "out_proj.weight", (4, 3))),
        "opset12.onnx": mutate(cfull, lambda m: m.opset_import[0].__setattr__("version", 12)),
        "external_data.onnx": mutate(cfull, external),
        "truncated_half.onnx": t17[: len(t17) // 2],
        "truncated_end.onnx": cfull[:-3],
        "deep_nesting.onnx": nested(200),
        "empty.onnx": b"",
        "garbage.onnx": bytes(np.random.RandomState(3).randint(0, 256, 300, dtype=np.uint8)),
    }
    for name, b in files.items():
        open(os.path.join(DATA, name), "wb").write(b)
    # reference outputs for x [2,3,2]: PyTorch's y of the torch fixtures (TinyRV, y [2]) and of
    # the causal fixture (y [2,3])
    x = torch.from_numpy(np.random.RandomState(5).randn(2, 3, 2).astype(np.float32))
    with torch.no_grad():
        ref = {"x": x.flatten().tolist(), "tinyrv_y": tiny_model()(x).flatten().tolist(),
               "causal_y": causal(x).flatten().tolist()}
    with open(os.path.join(DATA, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1)
    # the corpus: every fixture plus a few byte flips of the valid ones
    rs = np.random.RandomState(4)
    for name, b in files.items():  # the torch variants but one stay out of the corpus (size)
        if name not in ("torch_tinyrv_op14.onnx", "torch_tinyrv_op17_nofold.onnx"):
            open(os.path.join(CORPUS, name[:-5]), "wb").write(b)
    for k, src in enumerate([t17, cfull, cfull]):
        a = bytearray(src)
        for i in rs.randint(0, len(a), 8):
            a[i] ^= 1 << rs.randint(0, 8)
        open(os.path.join(CORPUS, f"flip_{k}"), "wb").write(bytes(a))


if __name__ == "__main__":
    main()
