#!/usr/bin/env python3
"""Checkpoint fixtures and oracle for tests/model/test_torch_pt.c and test_safetensors.c.

  make_pt_fixtures.py [OUTDIR]      (default tests/model/data) writes:
    sd_small.pt            state dict: contiguous, transposed, sliced (shared storage),
                           expanded (stride 0), permuted, 0-d, empty, Parameter, and
                           F64/F16/BF16/I64/U8/BOOL tensors
    ckpt_nested.pt         {"model": <state_dict with "_orig_mod." keys>, "best_rmspe": 0.25, "epoch": 7}
    ckpt_nested_deflate.pt the same archive re-zipped with DEFLATE
    ckpt_two.pt            {"model": sd, "ema": sd}: ambiguous without a key
    <name>.json + <name>.bin  for each .pt: every tensor as contiguous little-endian bytes
                           (index: name, dtype, shape, offset, nbytes) and the scalars,
                           so the C test compares values without Python
    tiny.safetensors       written by hand (struct + json, no safetensors package) in
                           the reference layout; tiny_unpadded.safetensors leaves the data
                           misaligned (header length not a multiple of 8)
  make_pt_fixtures.py --corpus FUZZDIR   (after the fixtures exist) writes the seed corpora
    FUZZDIR/safetensors/ and FUZZDIR/torch_pt/ for fuzz/safetensors.c and fuzz/torch_pt.c:
    valid files, truncations, hostile headers, and bare pickles (the driver wraps those
    into an archive)
  make_pt_fixtures.py --verify ST [--against PT [--key K] [--strip P]]
    checks ST against the reference writer's rules (8-byte padded header, contiguous
    offsets from 0 to end of file, tensors sorted by element size then name) and, with
    --against, that every tensor equals torch.load(PT) (after key selection and prefix
    stripping; non-F32 floats compared after conversion to float32).  Exit 0 = ok.

Needs torch (Debian's python3-torch) and numpy.  Fixtures are committed; regenerate them
only when this script changes.
"""
import collections
import json
import os
import struct
import sys
import zipfile

import numpy as np

ST_DTYPES = {  # name: (numpy dtype, element size)
    "F64": ("<f8", 8), "F32": ("<f4", 4), "F16": ("<f2", 2), "BF16": ("<u2", 2),
    "I64": ("<i8", 8), "I32": ("<i4", 4), "I16": ("<i2", 2), "I8": ("i1", 1),
    "U8": ("u1", 1), "BOOL": ("u1", 1),
}


def torch_dtype_name(t):
    import torch
    return {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16",
            torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
            torch.uint8: "U8", torch.bool: "BOOL"}[t.dtype]


def tensor_bytes(t):
    import torch
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def flatten(obj, prefix=""):
    """(name, tensor) pairs and (name, number) scalars, names '.'-joined like the C reader."""
    import torch
    tensors, scalars = [], []
    if isinstance(obj, torch.Tensor):
        tensors.append((prefix, obj))
    elif isinstance(obj, (bool, int, float)):
        scalars.append((prefix, float(obj)))
    elif isinstance(obj, dict):
        for k, v in obj.items():
            t, s = flatten(v, f"{prefix}.{k}" if prefix else str(k))
            tensors += t
            scalars += s
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            t, s = flatten(v, f"{prefix}.{i}" if prefix else str(i))
            tensors += t
            scalars += s
    return tensors, scalars


def write_index(outdir, name, state_dict, root):
    tensors, _ = flatten(state_dict)
    _, scalars = flatten(root)
    blob, index = bytearray(), []
    for n, t in tensors:
        b = tensor_bytes(t)
        index.append({"name": n, "dtype": torch_dtype_name(t), "shape": list(t.shape),
                      "offset": len(blob), "nbytes": len(b)})
        blob += b
    with open(os.path.join(outdir, name + ".bin"), "wb") as f:
        f.write(bytes(blob))
    with open(os.path.join(outdir, name + ".json"), "w") as f:  # one tensor a line
        f.write('{"tensors": [\n')
        f.write(",\n".join("  " + json.dumps(e) for e in index))
        f.write('\n],\n "scalars": ' + json.dumps(dict(scalars)) + "}\n")


def small_state_dict():
    import torch
    g = torch.Generator().manual_seed(1234)
    big = torch.arange(20, dtype=torch.float32) * 0.25
    sd = collections.OrderedDict()
    sd["w"] = torch.arange(12, dtype=torch.float32).reshape(3, 4) * 0.5 - 1.0
    sd["wt"] = torch.randn(4, 5, generator=g).t()            # [5,4], stride (1,5)
    sd["shared_a"] = big[2:10].view(2, 4)                    # offset 2 into a shared storage
    sd["shared_b"] = big[10:20:3]                            # offset 10, stride 3
    sd["expanded"] = torch.tensor([1.0, 2.0, 3.0]).expand(2, 3)  # stride (0,1)
    sd["permuted"] = torch.randn(2, 3, 4, generator=g).permute(2, 0, 1)
    sd["param"] = torch.nn.Parameter(torch.randn(2, 3, generator=g))
    sd["scalar0d"] = torch.tensor(3.5)
    sd["empty"] = torch.zeros(0, 3)
    sd["f64"] = torch.randn(2, 2, generator=g, dtype=torch.float64)
    sd["f16"] = torch.tensor([1.0, -2.5, 65504.0, 6.1e-5, 0.0], dtype=torch.float16)
    sd["bf16"] = torch.tensor([1.0, -3.0, 1e30, 0.1], dtype=torch.bfloat16)
    sd["i64"] = torch.tensor([1, -2, 3, 1 << 40])
    sd["u8"] = torch.tensor([0, 7, 255], dtype=torch.uint8)
    sd["mask"] = torch.tensor([True, False, True])
    return sd


def tiny_model_state_dict():
    import torch
    import torch.nn as nn
    torch.manual_seed(7)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(4, 3)
            self.norm = nn.LayerNorm(3)
            self.head = nn.Sequential(nn.LayerNorm(3), nn.Linear(3, 1))

    class Compiled(nn.Module):  # stands in for torch.compile's wrapper: keys get "_orig_mod."
        def __init__(self):
            super().__init__()
            self._orig_mod = Net()

    return Compiled().state_dict()


def deflate_copy(src, dst):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info.filename))


def write_safetensors_by_hand(path, tensors, metadata, pad=True):
    """tensors: {name: (dtype, shape, bytes)}; reference order: element size desc, then name."""
    order = sorted(tensors, key=lambda n: (-ST_DTYPES[tensors[n][0]][1], n))
    header, off = {}, 0
    if metadata:
        header["__metadata__"] = dict(sorted(metadata.items()))
    for n in order:
        dt, shape, b = tensors[n]
        header[n] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(b)]}
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        h += b" " * ((8 - len(h) % 8) % 8)
    elif len(h) % 8 == 0:
        h += b" "  # force misalignment
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for n in order:
            f.write(tensors[n][2])


def make_all(outdir):
    import torch
    os.makedirs(outdir, exist_ok=True)
    sd = small_state_dict()
    torch.save(sd, os.path.join(outdir, "sd_small.pt"))
    write_index(outdir, "sd_small", sd, sd)

    model = tiny_model_state_dict()
    ckpt = {"model": model, "best_rmspe": 0.25, "epoch": 7}
    torch.save(ckpt, os.path.join(outdir, "ckpt_nested.pt"))
    write_index(outdir, "ckpt_nested", model, ckpt)
    deflate_copy(os.path.join(outdir, "ckpt_nested.pt"), os.path.join(outdir, "ckpt_nested_deflate.pt"))
    torch.save({"model": model, "ema": model}, os.path.join(outdir, "ckpt_two.pt"))

    a = np.arange(6, dtype="<f4").reshape(2, 3) / 4 - 0.5
    tensors = {
        "a": ("F32", [2, 3], a.tobytes()),
        "b": ("I64", [2], np.array([5, -6], dtype="<i8").tobytes()),
        "c": ("F16", [3], np.array([1.0, -2.0, 0.5], dtype="<f2").tobytes()),
        "s": ("F32", [], np.array([7.25], dtype="<f4").tobytes()),
        "empty": ("F32", [0, 2], b""),
        "bytes": ("U8", [3], bytes([1, 2, 250])),
    }
    meta = {"format": "pt", "note": "hand-written"}
    write_safetensors_by_hand(os.path.join(outdir, "tiny.safetensors"), tensors, meta)
    write_safetensors_by_hand(os.path.join(outdir, "tiny_unpadded.safetensors"), tensors, meta, pad=False)


def fail(msg):
    print("verify: " + msg, file=sys.stderr)
    sys.exit(1)


def read_safetensors(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    if n % 8:
        fail(f"header length {n} is not a multiple of 8")
    hdr = json.loads(data[8:8 + n].decode())
    buf = data[8 + n:]
    meta = hdr.pop("__metadata__", {})
    items = sorted(hdr.items(), key=lambda kv: tuple(kv[1]["data_offsets"]))
    off = 0
    for name, info in items:
        b, e = info["data_offsets"]
        if b != off:
            fail(f"tensor {name}: begins at {b}, expected {off}")
        size = ST_DTYPES[info["dtype"]][1] * int(np.prod(info["shape"], dtype=np.int64))
        if e - b != size:
            fail(f"tensor {name}: {e - b} bytes, expected {size}")
        off = e
    if off != len(buf):
        fail(f"tensors cover {off} of {len(buf)} data bytes")
    names = [n for n, _ in items]
    want = sorted(names, key=lambda n: (-ST_DTYPES[hdr[n]["dtype"]][1], n))
    if names != want:
        fail("tensors are not in reference order (element size desc, then name)")
    out = {}
    for name, info in items:
        b, e = info["data_offsets"]
        arr = np.frombuffer(buf[b:e], dtype=ST_DTYPES[info["dtype"]][0]).reshape(info["shape"])
        out[name] = (info["dtype"], arr)
    return out, meta


def verify(args):
    st_path = args[0]
    tensors, meta = read_safetensors(st_path)
    if "--against" not in args:
        print(f"verify: {st_path}: {len(tensors)} tensors ok")
        return
    import torch
    pt = args[args.index("--against") + 1]
    key = args[args.index("--key") + 1] if "--key" in args else ""
    strip = args[args.index("--strip") + 1] if "--strip" in args else ""
    obj = torch.load(pt, map_location="cpu")
    for part in [p for p in key.split("/") if p]:
        obj = obj[part]
    ref, _ = flatten(obj)
    if len(ref) != len(tensors):
        fail(f"{len(tensors)} tensors in {st_path}, {len(ref)} in {pt}")
    for name, t in ref:
        if strip and name.startswith(strip):
            name = name[len(strip):]
        if name not in tensors:
            fail(f"tensor {name} missing")
        dt, arr = tensors[name]
        want = t.detach()
        if dt == "F32":
            want = want.float()
        elif dt == "BF16":
            want = want.view(torch.int16)
        want = want.contiguous().numpy()
        if dt == "BOOL":
            want = want.astype("u1")
        if list(arr.shape) != list(want.shape) or not np.array_equal(arr.view(want.dtype) if dt != "BF16" else arr.view("<i2"), want):
            fail(f"tensor {name}: values differ")
    print(f"verify: {st_path}: {len(tensors)} tensors equal torch.load({pt}); metadata {json.dumps(meta)}")


def make_corpus(fuzzdir, datadir="tests/model/data"):
    st_dir, pt_dir = os.path.join(fuzzdir, "safetensors"), os.path.join(fuzzdir, "torch_pt")
    os.makedirs(st_dir, exist_ok=True)
    os.makedirs(pt_dir, exist_ok=True)

    def put(d, name, data):
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)

    tiny = open(os.path.join(datadir, "tiny.safetensors"), "rb").read()
    put(st_dir, "tiny", tiny)
    put(st_dir, "tiny_unpadded", open(os.path.join(datadir, "tiny_unpadded.safetensors"), "rb").read())
    for cut in (7, 8, 40, len(tiny) - 30, len(tiny) - 1):
        put(st_dir, f"tiny_cut{cut}", tiny[:cut])

    def hdr(h, data_len):
        h = h.encode()
        return struct.pack("<Q", len(h)) + h + bytes(data_len)

    put(st_dir, "empty_header", hdr("{}", 0))
    put(st_dir, "gap", hdr('{"x":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', 12))
    put(st_dir, "overlap", hdr('{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
                               '"y":{"dtype":"F16","shape":[4],"data_offsets":[4,12]}}', 12))
    put(st_dir, "meta_only", hdr('{"__metadata__":{"a":"b","format":"pt"}}', 0))
    put(st_dir, "huge_len", struct.pack("<Q", 1 << 62) + b"{}")

    for name in ("sd_small.pt", "ckpt_nested.pt", "ckpt_nested_deflate.pt"):
        blob = open(os.path.join(datadir, name), "rb").read()
        stem = name[:-3]
        put(pt_dir, stem, blob)
        put(pt_dir, stem + "_cut_half", blob[:len(blob) // 2])
        put(pt_dir, stem + "_cut_end", blob[:-10])
        with zipfile.ZipFile(os.path.join(datadir, name)) as z:
            pkl = [n for n in z.namelist() if n.endswith("/data.pkl")][0]
            # a bare pickle: the driver wraps it (its storages are named 0..3 there)
            put(pt_dir, stem + "_pickle", z.read(pkl))
    put(pt_dir, "pickle_global_os_system", b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00ls\x85R.")
    put(pt_dir, "pickle_self_list", b"\x80\x02}X\x01\x00\x00\x00a]q\x00h\x00as.")
    put(pt_dir, "pickle_proto4", b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x01aK\x01u.")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--verify":
        verify(sys.argv[2:])
    elif len(sys.argv) > 2 and sys.argv[1] == "--corpus":
        make_corpus(sys.argv[2])
    else:
        make_all(sys.argv[1] if len(sys.argv) > 1 else "tests/model/data")
