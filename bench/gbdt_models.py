#!/usr/bin/env python3
"""Models and rows for the gradient-boosted-tree benchmark (bench/gbdt.sh, bench/gbdt.c).

Two LightGBM regressors on 40 synthetic heavy-tailed features (a speed benchmark: the
trees' shapes matter, not what they predict):
  small: 100 trees x 31 leaves;  large: 2,000 trees x 255 leaves.
Each model goes out in every peer's own format, all computing the same function:
  model.txt            LightGBM (what tickinfer and lleaves load too)
  xgb.json             the same trees as an XGBoost model (converted, see to_xgboost)
  model.onnx           the same trees as one ai.onnx.ml TreeEnsembleRegressor node
  tl2cgen.so           TL2cgen-compiled C (Treelite's LightGBM loader, -O3 -march=native)
  lleaves.so           lleaves' LLVM-compiled forest (its object cache linked as a .so)
plus the rows: rows.npy float32 [N, 40] (held out from training) and ref.npy float64 [N]
(LightGBM's predictions, the reference every engine is checked against).

Thresholds: LightGBM goes left when (double)x <= t.  For a float32 x that is exactly
x <= t32 with t32 = the largest float32 <= t, and x < nextafter(t32, +inf) (XGBoost's
"go left if x < split").  The converted models use those, so they route every float32
row exactly as LightGBM does; only the leaf sums may differ by float32 rounding.

Everything is cached in OUT (default build/bench_gbdt): a step reruns only when its
inputs changed (a stamp of the parameters and versions), so a second `make bench` skips
training and compiling.  Usage: gbdt_models.py [--out DIR] [--rows N] [--only small,large]
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import time

import numpy as np

N_FEATURES = 40
SEED = 20240611
MODELS = {
    # name: LightGBM parameters and rounds; training rows are subsampled for the large one
    "small": dict(rounds=100, train_rows=50_000,
                  params=dict(num_leaves=31, learning_rate=0.1, min_data_in_leaf=20)),
    "large": dict(rounds=2000, train_rows=60_000,
                  params=dict(num_leaves=255, learning_rate=0.05, min_data_in_leaf=20,
                              bagging_fraction=0.5, bagging_freq=1, feature_fraction=0.8, max_bin=63)),
}


def log(msg):
    print(f"gbdt_models: {msg}", file=sys.stderr, flush=True)


def make_data(n, seed):
    """Heavy-tailed regression rows: Student-t and log-normal features (some correlated),
    a non-linear target with interactions and t-distributed noise.  float32 X, float64 y."""
    rng = np.random.default_rng(seed)
    t = rng.standard_t(3, size=(n, 24))
    ln = rng.lognormal(0.0, 1.0, size=(n, 8))
    base = rng.standard_normal((n, 4))
    corr = base @ rng.standard_normal((4, 8)) + 0.3 * rng.standard_normal((n, 8))
    X = np.concatenate([t, ln, corr], axis=1).astype(np.float32)
    Xd = X.astype(np.float64)
    y = (np.tanh(Xd[:, 0]) * 2 + 0.5 * np.sign(Xd[:, 1]) * np.log1p(np.abs(Xd[:, 1]))
         + 0.3 * Xd[:, 2] * (Xd[:, 3] > 0) + np.log(Xd[:, 24]) - 0.2 * np.log(Xd[:, 25]) ** 2
         + np.sin(Xd[:, 32]) * Xd[:, 33] + 0.1 * np.clip(Xd[:, 4:12], -5, 5).sum(axis=1)
         + 0.5 * rng.standard_t(3, size=n))
    return X, y


def stamp_ok(path, key):
    return os.path.exists(path) and open(path).read() == key


def write_stamp(path, key):
    with open(path, "w") as f:
        f.write(key)


def sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def versions():
    import lightgbm, xgboost, onnx, onnxruntime, treelite, tl2cgen, llvmlite, llvmlite.binding  # noqa: E401
    from importlib.metadata import version
    return {"lightgbm": lightgbm.__version__, "xgboost": xgboost.__version__, "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__, "treelite": treelite.__version__,
            "tl2cgen": tl2cgen.__version__, "lleaves": version("lleaves"), "llvmlite": llvmlite.__version__,
            "numpy": np.__version__, "llvm": ".".join(map(str, llvmlite.binding.llvm_version_info))}


# ---- the LightGBM dump, flattened -------------------------------------------------------

def flat_trees(booster):
    """Every tree as parallel node lists, breadth first, the two children of a node at
    consecutive indices (right = left + 1: XGBoost's predictor relies on it).  Internal
    nodes and leaves share one index space per tree.
    Returns [dict(feature, threshold, left, right, value, is_leaf)]."""
    out = []
    for t in booster.dump_model()["tree_info"]:
        nodes = [t["tree_structure"]]
        feat, thr, left, right, val, leaf = [], [], [], [], [], []
        i = 0
        while i < len(nodes):
            node = nodes[i]
            feat.append(0), thr.append(0.0), left.append(-1), right.append(-1), val.append(0.0), leaf.append(True)
            if "leaf_value" in node:
                val[i] = float(node["leaf_value"])
            else:
                if node["decision_type"] != "<=":
                    raise ValueError(f"gbdt_models: decision type {node['decision_type']} not converted")
                if node.get("missing_type", "None") not in ("None", None):
                    raise ValueError("gbdt_models: trees with missing-value handling are not converted "
                                     "(the synthetic data has no NaN, so LightGBM should not make any)")
                leaf[i] = False
                feat[i] = int(node["split_feature"])
                thr[i] = float(node["threshold"])
                left[i], right[i] = len(nodes), len(nodes) + 1
                nodes += [node["left_child"], node["right_child"]]
            i += 1
        out.append(dict(feature=feat, threshold=thr, left=left, right=right, value=val, is_leaf=leaf))
    return out


def f32_floor(t):
    """Largest float32 <= t (a float64 array): x32 <= t  <=>  x32 <= f32_floor(t)."""
    f = np.asarray(t, dtype=np.float64).astype(np.float32)
    over = f.astype(np.float64) > t
    f[over] = np.nextafter(f[over], np.float32(-np.inf))
    big = np.float32(np.finfo(np.float32).max)
    return np.clip(f, -big, big)


# ---- XGBoost ---------------------------------------------------------------------------

def to_xgboost(trees, path, workdir):
    """The LightGBM trees as an XGBoost JSON model.  The skeleton (learner parameters,
    objective, version fields) comes from a one-tree XGBoost model trained here, so the
    file is exactly what this XGBoost writes; its trees are replaced by the converted ones.
    base_score 0: LightGBM folds its initial score into the first tree's leaves."""
    import xgboost as xgb
    rng = np.random.default_rng(0)
    d = xgb.DMatrix(rng.standard_normal((64, N_FEATURES)).astype(np.float32), label=rng.standard_normal(64))
    b = xgb.train({"max_depth": 2, "nthread": 1, "base_score": 0.0}, d, 1)
    skel = os.path.join(workdir, "xgb_skeleton.json")
    b.save_model(skel)
    j = json.load(open(skel))
    gb = j["learner"]["gradient_booster"]["model"]
    proto = gb["trees"][0]
    new = []
    for k, t in enumerate(trees):
        n = len(t["feature"])
        leaf = np.array(t["is_leaf"])
        thr32 = f32_floor(np.array(t["threshold"]))
        split = np.nextafter(thr32, np.float32(np.inf)).astype(np.float32)  # x < split <=> x <= thr32
        cond = np.where(leaf, np.array(t["value"], dtype=np.float32), split)
        parents = [2147483647] * n
        for i in range(n):
            if not leaf[i]:
                parents[t["left"][i]] = i
                parents[t["right"][i]] = i
        tree = dict(proto)
        tree.update({
            "id": k,
            "base_weights": [float(v) for v in np.where(leaf, cond, 0.0).astype(np.float32)],
            "categories": [], "categories_nodes": [], "categories_segments": [], "categories_sizes": [],
            "default_left": [0] * n,
            "left_children": [int(v) for v in t["left"]],
            "right_children": [int(v) for v in t["right"]],
            "loss_changes": [0.0] * n,
            "parents": parents,
            "split_conditions": [float(v) for v in cond],
            "split_indices": [int(f) if not l else 0 for f, l in zip(t["feature"], leaf)],
            "split_type": [0] * n,
            "sum_hessian": [1.0] * n,
        })
        tp = dict(proto["tree_param"])
        tp.update({"num_nodes": str(n), "num_deleted": "0", "num_feature": str(N_FEATURES)})
        tree["tree_param"] = tp
        new.append(tree)
    gb["trees"] = new
    gb["tree_info"] = [0] * len(new)
    if "iteration_indptr" in gb:
        gb["iteration_indptr"] = list(range(len(new) + 1))
    gb["gbtree_model_param"]["num_trees"] = str(len(new))
    lmp = j["learner"]["learner_model_param"]
    lmp["base_score"] = "[0E0]" if lmp["base_score"].startswith("[") else "0E0"
    json.dump(j, open(path, "w"))
    os.remove(skel)


# ---- ONNX ------------------------------------------------------------------------------

def to_onnx(trees, path):
    """One ai.onnx.ml TreeEnsembleRegressor (opset 3) node, X float [N, 40] -> Y float [N, 1].
    BRANCH_LEQ with float32 thresholds rounded down (exact routing, see the module doc)."""
    import onnx
    from onnx import TensorProto, helper
    a = {k: [] for k in ("nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_modes", "nodes_values",
                         "nodes_truenodeids", "nodes_falsenodeids", "nodes_missing_value_tracks_true",
                         "target_treeids", "target_nodeids", "target_ids", "target_weights")}
    for k, t in enumerate(trees):
        thr32 = f32_floor(np.array(t["threshold"]))
        for i in range(len(t["feature"])):
            a["nodes_treeids"].append(k)
            a["nodes_nodeids"].append(i)
            a["nodes_missing_value_tracks_true"].append(0)
            if t["is_leaf"][i]:
                a["nodes_featureids"].append(0), a["nodes_modes"].append("LEAF"), a["nodes_values"].append(0.0)
                a["nodes_truenodeids"].append(0), a["nodes_falsenodeids"].append(0)
                a["target_treeids"].append(k), a["target_nodeids"].append(i), a["target_ids"].append(0)
                a["target_weights"].append(float(t["value"][i]))
            else:
                a["nodes_featureids"].append(t["feature"][i]), a["nodes_modes"].append("BRANCH_LEQ")
                a["nodes_values"].append(float(thr32[i]))
                a["nodes_truenodeids"].append(t["left"][i]), a["nodes_falsenodeids"].append(t["right"][i])
    node = helper.make_node("TreeEnsembleRegressor", ["X"], ["Y"], domain="ai.onnx.ml", n_targets=1,
                            aggregate_function="SUM", post_transform="NONE", base_values=[0.0], **a)
    g = helper.make_graph([node], "gbdt",
                          [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, N_FEATURES])],
                          [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 1])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)],
                          producer_name="tickinfer bench/gbdt_models.py")
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, path)


# ---- compiled peers ----------------------------------------------------------------------

TL2CGEN_OPTIONS = ["-march=native"]  # after TL2cgen's own -O3


def to_tl2cgen(model_txt, path, workdir):
    """TL2cgen: Treelite's LightGBM loader, gcc -O3 -march=native, the trees split over
    translation units of 10 (parallel_comp; gcc's time grows faster than linearly with a
    unit's size), compiled on both cores.  The large model still takes ~10 CPU-minutes.
    Entry point: void predict(union Entry *row, int pred_margin, double *out) (out zeroed
    by the caller)."""
    import tl2cgen
    import treelite
    m = treelite.frontend.load_lightgbm_model(model_txt)
    units = max(2, m.num_tree // 10)
    tl2cgen.export_lib(m, toolchain="gcc", libpath=path, params={"parallel_comp": units}, nthread=2,
                       options=TL2CGEN_OPTIONS, verbose=False)


# lleaves' finline (inline every tree into the root function: its fastest code) per model.
# For the large model LLVM's inlined compile ran for 50 minutes on 2 cores, grew past 7.6 GB
# and was killed unfinished; finline=False (lleaves' faster-compile option) takes ~5 minutes.
LLEAVES_INLINE = {"small": True, "large": False}


def to_lleaves(model_txt, path, workdir, finline=True):
    """lleaves: LLVM-compiled forest, float64 in and out (its default; float32 thresholds would
    route differently), its object cache linked into a shared library.  Entry point:
    void forest_root(double *rows [n, F], double *out [n], int begin, int end)."""
    import lleaves
    obj = os.path.join(workdir, "lleaves.o")
    if os.path.exists(obj):
        os.remove(obj)
    lleaves.Model(model_file=model_txt).compile(cache=obj, finline=finline)
    subprocess.run(["gcc", "-shared", "-o", path, obj], check=True)
    os.remove(obj)


def artifact_key(model_sha, ver, name, dep):
    """What a converted or compiled model depends on (its stamp)."""
    k = {"model": model_sha, dep: ver[dep], "treelite": ver["treelite"], "llvmlite": ver["llvmlite"],
         "tl2cgen_options": TL2CGEN_OPTIONS, "units": "trees/10"}
    if dep == "lleaves":
        k["finline"] = LLEAVES_INLINE[name]
    return json.dumps(k)


def build_model(name, spec, out, X_train, y_train, ver):
    import lightgbm as lgb
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    txt = os.path.join(d, "model.txt")
    key = json.dumps({"spec": spec, "lightgbm": ver["lightgbm"], "numpy": ver["numpy"], "seed": SEED})
    if not stamp_ok(os.path.join(d, "train.stamp"), key):
        t0 = time.time()
        n = spec["train_rows"]
        params = dict(objective="regression", num_threads=1, deterministic=True, force_row_wise=True, seed=SEED,
                      verbose=-1, **spec["params"])
        booster = lgb.train(params, lgb.Dataset(X_train[:n], y_train[:n]), spec["rounds"])
        booster.save_model(txt)
        write_stamp(os.path.join(d, "train.stamp"), key)
        log(f"{name}: trained {booster.num_trees()} trees in {time.time() - t0:.1f} s")
    booster = lgb.Booster(model_file=txt)
    leaves = [int(line.split("=")[1]) for line in open(txt) if line.startswith("num_leaves=")]
    info = dict(trees=booster.num_trees(), max_leaves=max(leaves))
    h = sha(txt)
    trees = None
    rebuilt = False
    for fname, fn, dep in (("xgb.json", to_xgboost, "xgboost"), ("model.onnx", to_onnx, "onnx"),
                           ("tl2cgen.so", to_tl2cgen, "tl2cgen"), ("lleaves.so", to_lleaves, "lleaves")):
        stamp = os.path.join(d, fname + ".stamp")
        k = artifact_key(h, ver, name, dep)
        if stamp_ok(stamp, k) and os.path.exists(os.path.join(d, fname)):
            continue
        t0 = time.time()
        if fn in (to_xgboost, to_onnx):
            trees = trees or flat_trees(booster)
            fn(trees, os.path.join(d, fname)) if fn is to_onnx else fn(trees, os.path.join(d, fname), d)
        elif fn is to_lleaves:
            fn(txt, os.path.join(d, fname), d, finline=LLEAVES_INLINE[name])
        else:
            fn(txt, os.path.join(d, fname), d)
        write_stamp(stamp, k)
        rebuilt = True
        log(f"{name}: {fname} in {time.time() - t0:.1f} s")
    return booster, info, rebuilt


def check_peers(name, d, booster, X, ref):
    """Python-side sanity check of the converted models on 2,000 rows (the C harness checks
    all rows through the C interfaces it times).  Returns {engine: max relative error}."""
    import onnxruntime as ort
    import xgboost as xgb
    x = X[:2000]
    r = ref[:2000]
    scale = max(float(np.sqrt(np.mean(ref ** 2))), 1e-12)
    err = {}
    b = xgb.Booster(model_file=os.path.join(d, "xgb.json"))
    b.set_param({"nthread": 1})
    err["xgboost"] = b.inplace_predict(x)
    s = ort.InferenceSession(os.path.join(d, "model.onnx"), providers=["CPUExecutionProvider"])
    err["onnxruntime"] = s.run(None, {"X": x})[0].ravel()
    out = {}
    for k, y in err.items():
        out[k] = float(np.max(np.abs(y.astype(np.float64) - r) / np.maximum(np.abs(r), scale)))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="build/bench_gbdt")
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--only", default="small,large")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    ver = versions()
    max_train = max(s["train_rows"] for s in MODELS.values())
    X_train, y_train = make_data(max_train, SEED)
    X, _ = make_data(a.rows, SEED + 1)  # held-out rows: the benchmark's input
    rows_path = os.path.join(a.out, "rows.npy")
    if not os.path.exists(rows_path) or np.load(rows_path).shape != X.shape or not np.array_equal(np.load(rows_path), X):
        np.save(rows_path, X)
    meta_path = os.path.join(a.out, "meta.json")
    old_meta = json.load(open(meta_path)) if os.path.exists(meta_path) else {}
    meta = {"rows": a.rows, "features": N_FEATURES, "data": "synthetic heavy-tailed (Student-t(3), log-normal, "
            "correlated Gaussian features; non-linear target with t(3) noise), seed %d" % SEED,
            "versions": ver, "models": {}}
    for name in a.only.split(","):
        spec = MODELS[name]
        booster, info, rebuilt = build_model(name, spec, a.out, X_train, y_train, ver)
        d = os.path.join(a.out, name)
        ref_path = os.path.join(d, "ref.npy")
        key = json.dumps({"model": sha(os.path.join(d, "model.txt")), "rows": sha(rows_path)})
        if not stamp_ok(ref_path + ".stamp", key):
            t0 = time.time()
            np.save(ref_path, booster.predict(X, num_threads=2).astype(np.float64))
            write_stamp(ref_path + ".stamp", key)
            log(f"{name}: reference predictions in {time.time() - t0:.1f} s")
            rebuilt = True
        ref = np.load(ref_path)
        # the converted models, checked from Python when (re)made (the C harness checks every
        # engine on all rows in every run)
        errs = old_meta.get("models", {}).get(name, {}).get("python_check_max_rel_err")
        if rebuilt or errs is None:
            errs = check_peers(name, d, booster, X, ref)
        log(f"{name}: {info['trees']} trees, <= {info['max_leaves']} leaves; python check max rel err " +
            ", ".join(f"{k} {v:.2e}" for k, v in errs.items()))
        meta["models"][name] = dict(info, lleaves_finline=LLEAVES_INLINE[name], train_rows=spec["train_rows"], rounds=spec["rounds"],
                                    lightgbm_params=spec["params"], python_check_max_rel_err=errs,
                                    ref_mean=float(ref.mean()), ref_std=float(ref.std()))
    json.dump(meta, open(meta_path, "w"), indent=1)


if __name__ == "__main__":
    main()
