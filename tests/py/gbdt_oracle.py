#!/usr/bin/env python3
"""Parity oracle for the gradient-boosted-tree model kind (src/model/gbdt/), test use only.

    gbdt_oracle.py OUTDIR --flat FLATDIR [--only NAME,NAME..] [--rows 500]

FLATDIR is a flat feature export (`tickinfer dataset export DIR --flat -o FLATDIR`:
X.npy float32 [N,K], y.npy float32 [N] target RV > 0, split.npy int8 [N] 0/1/2 =
train/val/test, stock_id.npy / time_id.npy int32 [N], features.json).  The script
trains small real models on the train rows with LightGBM, XGBoost and (through
onnxmltools) ONNX-ML, and for every case writes into OUTDIR:

    <model file>           the file the C loader reads (.txt LightGBM, .json/.ubj XGBoost,
                           .onnx ONNX-ML); several cases may share one file
    <case>.rows.npy        float32 [M, K]: real test rows, then adversarial rows (NaN,
                           +-inf, +-0, +-3e38, +-1e-45, +-1e-35, split thresholds as
                           float32 and their float32 neighbours, unseen categories)
    <case>.pred.npy        float64 [M] or [M, C]: the library's own prediction on the rows,
                           in its default output space (probabilities, exp() for
                           poisson/gamma/tweedie, class index for multi:softmax)
    <case>.margin.npy      float64, same shape: raw scores (LightGBM raw_score=True,
                           XGBoost margin), where the library gives them
    <case>.lib.npy         ONNX cases: the source library's own prediction on the rows
    <case>.label.npy       onnx_lgb_binary: int64 [M] label output of onnxruntime
    cases.json             list of case objects (fields documented in CASE_FIELDS below)

The C test loads each model file (with num_iteration when > 0), predicts the rows and
compares with pred (and margin), or, for expect_error cases, checks that loading fails
with a message containing expect_error.  Predictions are made from the model files as
reloaded from disk, so they are what the C side must reproduce.

Deterministic: fixed seeds, one thread everywhere.  Exit status non-zero on any failure.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

SEED = 20211
N_ADV_THRESHOLDS = 700  # (feature, threshold) pairs per case turned into 3 rows each

CASE_FIELDS = """
name          case name; files are <name>.rows.npy, <name>.pred.npy, ...
file          model file in OUTDIR (relative)
library       "lightgbm" | "xgboost" | "onnxruntime"
objective     the objective as the model file names it (LightGBM: first word of its
              objective= line; XGBoost: learner.objective.name; ONNX: of the source)
n_class       classes (1 for regression and for LightGBM/XGBoost binary, 2 for ONNX binary)
n_features    columns of rows (K, or K+1 with a categorical column)
pred_shape    [M] or [M, C]
num_iteration 0 = all trees; > 0: load with this iteration limit (pred made with it)
expect_error  null, or a substring the C loader's error must contain
categorical   list of categorical column indices (empty if none)
margin        file name of the raw scores, or null
lib           ONNX cases: file name of the source library's prediction, else null
label         onnx_lgb_binary: file name of the label output, else null
n_real_rows   the first n_real_rows rows are real test rows; the rest are adversarial
notes         free text
"""


# ---- data --------------------------------------------------------------------------

def load_flat(d):
    X = np.load(os.path.join(d, "X.npy"))
    y = np.load(os.path.join(d, "y.npy"))
    split = np.load(os.path.join(d, "split.npy"))
    meta = json.load(open(os.path.join(d, "features.json")))
    assert X.dtype == np.float32 and X.ndim == 2, f"{d}/X.npy: want float32 [N,K], got {X.dtype} {X.shape}"
    assert y.shape == (X.shape[0],) and split.shape == (X.shape[0],), f"{d}: X, y, split lengths differ"
    assert len(meta["names"]) == X.shape[1], f"{d}/features.json: {len(meta['names'])} names for {X.shape[1]} columns"
    assert (split == 0).sum() > 100 and (split == 2).sum() > 10, f"{d}: too few train/test rows"
    return X, y.astype(np.float32), split, meta


def category_column(X, train, n_cat=40, span=100):
    """A categorical column with many categories that carries signal: 40 quantile bins of
    column 0, relabelled with category ids scattered over 0..99 (not ordinal).  Category 0
    is one of them, so that -0.5 (LightGBM: category 0; XGBoost: invalid) tells apart."""
    edges = np.quantile(X[train, 0], np.linspace(0, 1, n_cat + 1)[1:-1])
    bins = np.searchsorted(edges, X[:, 0])
    rng = np.random.default_rng(SEED)
    ids = rng.permutation(np.r_[0, 1 + rng.choice(span - 1, n_cat - 1, replace=False)])
    return ids[bins].astype(np.float32), np.sort(ids)


def with_nans(X, frac, seed):
    Xn = X.copy()
    Xn[np.random.default_rng(seed).random(X.shape) < frac] = np.nan
    return Xn


# ---- adversarial rows --------------------------------------------------------------

def special_rows(base):
    """base [B,K] real rows.  Per feature (categorical ones too: floats on the wire): NaN,
    +-inf, +-0, +-3e38, +-1e-45 (subnormal), +-1e-35f (LightGBM's kZeroThreshold: it
    reads |x| <= 1e-35f as 0) and the next float32 away from 0; then one all-NaN row."""
    K = base.shape[1]
    z = np.float32(1e-35)
    vals = [np.nan, np.inf, -np.inf, 0.0, -0.0, 3e38, -3e38, 1e-45, -1e-45,
            z, -z, np.nextafter(z, np.float32(1)), np.nextafter(-z, np.float32(-1))]
    rows = []
    for v in vals:
        for j in range(K):
            r = base[len(rows) % len(base)].copy()
            r[j] = v
            rows.append(r)
    rows.append(np.full(K, np.nan, np.float32))
    return np.array(rows, np.float32)


def threshold_rows(base, splits, seed):
    """splits: (feature, threshold as float64) pairs.  Each gives 3 rows: the threshold
    rounded to float32 and its two float32 neighbours (the rounding may land on either
    side of a float64 threshold, so both sides are covered)."""
    pairs = sorted({(int(f), float(t)) for f, t in splits})
    near0 = [p for p in pairs if abs(p[1]) < 1e-30]  # LightGBM's +-1e-35 bin edges: all kept
    rest = [p for p in pairs if abs(p[1]) >= 1e-30]
    if len(rest) > N_ADV_THRESHOLDS:
        pick = np.random.default_rng(seed).choice(len(rest), N_ADV_THRESHOLDS, replace=False)
        rest = [rest[i] for i in sorted(pick)]
    pairs = near0 + rest
    rows = []
    for f, t in pairs:
        t32 = np.float32(t)
        for v in (np.nextafter(t32, np.float32(-np.inf)), t32, np.nextafter(t32, np.float32(np.inf))):
            r = base[len(rows) % len(base)].copy()
            r[f] = v
            rows.append(r)
    return np.array(rows, np.float32).reshape(-1, base.shape[1])


def category_rows(base, col, seen):
    """Every seen category, unseen ones (between, above, huge), negative, fractional."""
    seen = [float(c) for c in seen]
    vals = seen + [max(seen) + 1, 1000.0, 4096.0, 1e6, 16777216.0, 2147483648.0, 3e38, np.inf,
                   -1.0, -0.5, -0.99, -1.5, -1000.0, -np.inf, -0.0, 1e-45, -1e-45, np.nan]
    vals += [c + 0.5 for c in seen[:5]] + [c + 0.999 for c in seen[:3]]
    vals += [c for c in range(int(max(seen))) if c not in seen][:10]  # unseen, inside the range
    rows = []
    for v in vals:
        r = base[len(rows) % len(base)].copy()
        r[col] = v
        rows.append(r)
    return np.array(rows, np.float32)


def build_rows(real, splits, cat_col=None, seen=None, seed=0):
    parts = [real, special_rows(real), threshold_rows(real, splits, seed)]
    if cat_col is not None:
        parts.append(category_rows(real, cat_col, seen))
    return np.concatenate(parts).astype(np.float32)


# ---- split thresholds from the libraries' own dumps --------------------------------

def lgb_numeric_splits(booster):
    out = []

    def walk(node):
        if "split_feature" not in node:
            return
        if node["decision_type"] == "<=":
            out.append((node["split_feature"], node["threshold"]))
        walk(node["left_child"])
        walk(node["right_child"])

    for tree in booster.dump_model()["tree_info"]:
        walk(tree["tree_structure"])
    return out


def xgb_numeric_splits(booster):
    gb = json.loads(booster.save_raw("json"))["learner"]["gradient_booster"]
    gb = gb.get("gbtree", gb)  # dart wraps its gbtree
    out = []
    for tree in gb.get("model", {}).get("trees", []):  # gblinear has no trees
        for i, left in enumerate(tree["left_children"]):
            if left != -1 and tree["split_type"][i] == 0:
                out.append((tree["split_indices"][i], tree["split_conditions"][i]))
    return out


# ---- cases --------------------------------------------------------------------------

class Oracle:
    def __init__(self, outdir, X, y, split, n_rows, only):
        self.out, self.only = outdir, only
        self.X, self.y = X, y
        self.tr, self.va, self.te = split == 0, split == 1, split == 2
        test_idx = np.nonzero(self.te)[0]
        pick = np.random.default_rng(SEED).choice(len(test_idx), min(n_rows, len(test_idx)), replace=False)
        self.real_idx = np.sort(test_idx[pick])
        w = 1.0 / (y[self.tr].astype(np.float64) ** 2)
        self.w = w / w.mean()  # RMSPE weights 1/y^2, scaled to mean 1 (same optimum)
        self.cases = []
        self.models = {}  # name -> (reloaded booster, rows, pred, objective), for cases made from others
        self.files = {}  # name -> model file in OUTDIR

    def wanted(self, name):
        """The case goes into cases.json."""
        return not self.only or name in self.only

    def runs(self, name):
        """The case is wanted, or another wanted case is made from its model."""
        return self.wanted(name) or any(self.wanted(c) for c, src in SOURCE.items() if src == name)

    def save(self, name, file, library, objective, rows, pred, margin=None, n_class=1,
             num_iteration=0, expect_error=None, categorical=(), notes="", lib=None, label=None):
        np.save(os.path.join(self.out, f"{name}.rows.npy"), rows.astype(np.float32))
        np.save(os.path.join(self.out, f"{name}.pred.npy"), np.asarray(pred, np.float64))
        files = {}
        for tag, arr in (("margin", margin), ("lib", lib), ("label", label)):
            if arr is not None:
                files[tag] = f"{name}.{tag}.npy"
                np.save(os.path.join(self.out, files[tag]), arr)
            else:
                files[tag] = None
        pred = np.asarray(pred)
        assert pred.shape[0] == rows.shape[0], f"{name}: {pred.shape[0]} predictions for {rows.shape[0]} rows"
        assert np.isfinite(pred[: len(self.real_idx)]).all(), f"{name}: non-finite prediction on a real row"
        self.cases.append({
            "name": name, "file": file, "library": library, "objective": objective,
            "n_class": int(n_class), "n_features": int(rows.shape[1]), "pred_shape": list(pred.shape),
            "num_iteration": int(num_iteration), "expect_error": expect_error,
            "categorical": list(categorical), **files, "n_real_rows": int(len(self.real_idx)),
            "notes": notes})
        print(f"  {name:<22} {library:<11} {objective:<18} rows {rows.shape[0]:5d}  pred {tuple(pred.shape)}"
              f"{'  expect_error ' + repr(expect_error) if expect_error else ''}", flush=True)

    # -- LightGBM -----------------------------------------------------------------

    def lgb(self, name, params, rounds=30, label=None, X=None, weight=True, cat_col=None, seen=None,
            num_iteration=0, expect_error=None, notes="", reuse=None):
        """Train (or, with reuse, take the model file of case `reuse`), reload, predict."""
        import lightgbm as lgb
        if not self.runs(name):
            return
        X = self.X if X is None else X
        file = self.files[reuse] if reuse else f"{name}.txt"
        path = os.path.join(self.out, file)
        if reuse is None:
            p = {"verbose": -1, "num_threads": 1, "deterministic": True, "force_row_wise": True,
                 "seed": SEED, "num_leaves": 15, "learning_rate": 0.1, "min_data_in_leaf": 20, **params}
            lab = self.y[self.tr] if label is None else label[self.tr]
            ds = lgb.Dataset(X[self.tr], lab, weight=self.w if weight else None,
                             categorical_feature=[cat_col] if cat_col is not None else "auto",
                             params={"verbose": -1})
            booster = lgb.train(p, ds, rounds)
            booster.save_model(path)
        loaded = lgb.Booster(model_file=path)
        real = X[self.real_idx]
        rows = build_rows(real, lgb_numeric_splits(loaded), cat_col, seen, seed=len(self.cases))
        it = num_iteration if num_iteration > 0 else None
        pred = loaded.predict(rows, num_iteration=it, num_threads=1)
        margin = loaded.predict(rows, num_iteration=it, raw_score=True, num_threads=1)
        if reuse is None:  # the file says what the trained booster says
            same = booster.predict(rows, num_iteration=it, num_threads=1)
            assert np.array_equal(same, pred, equal_nan=True), f"{name}: reloaded model predicts differently"
        objective = loaded.model_to_string().split("objective=", 1)[1].split("\n", 1)[0].split(" ")[0]
        n_class = loaded.num_model_per_iteration()
        self.models[name], self.files[name] = (loaded, rows, pred, objective), file
        if self.wanted(name):
            self.save(name, file, "lightgbm", objective, rows, pred, margin, n_class=n_class,
                      num_iteration=num_iteration, expect_error=expect_error,
                      categorical=[cat_col] if cat_col is not None else [], notes=notes)

    # -- XGBoost ------------------------------------------------------------------

    def xgb(self, name, params, rounds=30, label=None, X=None, weight=True, cat_col=None, seen=None,
            num_iteration=0, expect_error=None, notes="", reuse=None, file=None):
        """Train (or, with reuse, take case `reuse`'s model or `file`), reload, predict."""
        import xgboost as xgb
        if not self.runs(name):
            return
        X = self.X if X is None else X
        ftypes = None if cat_col is None else ["q"] * X.shape[1]
        if ftypes is not None:
            ftypes[cat_col] = "c"
        if reuse is None:
            file = f"{name}.json"
            p = {"nthread": 1, "seed": SEED, "eta": 0.1, **params}
            if p.get("booster") != "gblinear":
                p = {"max_depth": 4, "tree_method": "hist", **p}
            lab = self.y[self.tr] if label is None else label[self.tr]
            dtrain = xgb.DMatrix(X[self.tr], lab, weight=self.w if weight else None, feature_types=ftypes,
                                 enable_categorical=cat_col is not None, nthread=1)
            booster = xgb.train(p, dtrain, rounds)
            booster.save_model(os.path.join(self.out, file))
        else:
            file = file or self.files[reuse]
        loaded = xgb.Booster(model_file=os.path.join(self.out, file))
        loaded.set_param({"nthread": 1})
        real = X[self.real_idx]
        rows = build_rows(real, xgb_numeric_splits(loaded), cat_col, seen, seed=len(self.cases))
        it_range = (0, num_iteration) if num_iteration > 0 else (0, 0)  # (0, 0): all trees
        # Booster.predict on a DMatrix, except for rows with +-inf, which DMatrix refuses
        # ("Input data contains `inf`"): inplace_predict takes them as ordinary numbers.
        # On finite rows the two agree bit for bit, but for dart (1 ulp, another order).
        finite = ~np.isinf(rows).any(axis=1)
        dm = xgb.DMatrix(rows[finite], feature_types=ftypes, enable_categorical=cat_col is not None, nthread=1)
        cfg = json.loads(loaded.save_config())["learner"]
        dart = cfg["gradient_booster"]["name"] == "dart"
        if cfg["gradient_booster"]["name"] == "gblinear":  # no inplace_predict: NaN on the inf rows
            pred, margin = np.full(len(rows), np.nan, np.float32), np.full(len(rows), np.nan, np.float32)
        else:
            pred = loaded.inplace_predict(rows, iteration_range=it_range)
            margin = loaded.inplace_predict(rows, iteration_range=it_range, predict_type="margin")
        for out, kind in ((pred, {}), (margin, {"output_margin": True})):
            canon = loaded.predict(dm, iteration_range=it_range, **kind)
            same = np.allclose(canon, out[finite], rtol=1e-6, atol=0) if dart else np.array_equal(canon, out[finite])
            same = same or np.isnan(out).all()  # gblinear: nothing to compare yet
            assert same, f"{name}: DMatrix and inplace predictions differ"
            out[finite] = canon
        if reuse is None:
            assert np.array_equal(booster.predict(dm, iteration_range=it_range), pred[finite]), \
                f"{name}: reloaded model predicts differently"
        n_class = max(1, int(cfg["learner_model_param"]["num_class"]))
        objective = cfg["objective"]["name"]
        self.models[name], self.files[name] = (loaded, rows, pred, objective), file
        if self.wanted(name):
            self.save(name, file, "xgboost", objective, rows,
                      pred.astype(np.float64), margin.astype(np.float64), n_class=n_class,
                      num_iteration=num_iteration, expect_error=expect_error,
                      categorical=[cat_col] if cat_col is not None else [], notes=notes)

    # -- ONNX-ML (onnxmltools converts, onnxruntime predicts) ------------------------

    def onnx(self, name, source, classifier=False):
        if not self.wanted(name):
            return
        import onnxruntime as ort
        from onnxmltools.convert.common.data_types import FloatTensorType
        import onnxmltools
        booster, rows, lib_pred, objective = self.models[source]
        types = [("x", FloatTensorType([None, rows.shape[1]]))]
        if source.startswith("lgb"):
            model = onnxmltools.convert_lightgbm(booster, name=name, initial_types=types, target_opset=15, zipmap=False)
        else:
            model = onnxmltools.convert_xgboost(xgb_for_onnxmltools(booster), name=name, initial_types=types, target_opset=15)
        for op in model.opset_import:
            assert (op.domain in ("", "ai.onnx") and op.version <= 17) or (op.domain == "ai.onnx.ml" and op.version <= 3), \
                f"{name}: opset {op.domain} {op.version} is past what onnx 1.12 knows"
        file = f"{name}.onnx"
        with open(os.path.join(self.out, file), "wb") as f:
            f.write(model.SerializeToString())
        so = ort.SessionOptions()
        so.intra_op_num_threads = so.inter_op_num_threads = 1
        so.log_severity_level = 3  # the classifier declares label [1]; onnxruntime warns on every run
        sess = ort.InferenceSession(os.path.join(self.out, file), so, providers=["CPUExecutionProvider"])
        outs = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"x": rows})))
        ops = "+".join(n.op_type for n in model.graph.node)
        opsets = ", ".join(f"{o.domain or 'ai.onnx'} {o.version}" for o in model.opset_import)
        real = len(self.real_idx)
        if classifier:
            pred, label = outs["probabilities"].astype(np.float64), outs["label"].astype(np.int64)
            diff = np.abs(pred[:real, 1] - lib_pred[:real]).max()
        else:
            (out,) = outs.values()  # the one output, "variable" [M,1]
            pred, label = out.astype(np.float64).reshape(-1), None
            diff = np.abs(pred[:real] - lib_pred[:real]).max()
        notes = (f"{ops}, opsets {opsets}, converted by onnxmltools {onnxmltools.__version__}; "
                 f"max |onnxruntime - {source}| on the real rows {diff:.3g} (float32 thresholds and sums)")
        self.save(name, file, "onnxruntime", objective,
                  rows, pred, n_class=2 if classifier else 1, notes=notes, lib=np.asarray(lib_pred, np.float64),
                  label=label)


def xgb_for_onnxmltools(booster):
    """onnxmltools 1.14 misreads XGBoost 3.x boosters twice; hand it a corrected wrapper.
    1. It reads learner_model_param.base_score from save_config() as one float, but 3.x
       writes a vector string "[1.5E-3]": give it a copy whose save_config() has the scalar.
    2. It guesses regression vs classification from whether every node's cover (hessian
       sum) is an integer, so a regressor trained with sample weights comes out as a
       TreeEnsembleClassifier: set the regressor operator from the real objective."""
    import xgboost as xgb
    from onnxmltools.convert.xgboost._parse import WrappedBooster

    class ScalarBaseScore(xgb.Booster):
        def save_config(self):
            cfg = json.loads(super().save_config())
            param = cfg["learner"]["learner_model_param"]
            v = json.loads(param["base_score"]) if param["base_score"].startswith("[") else [param["base_score"]]
            assert len(v) == 1, "onnxmltools takes one base_score"
            param["base_score"] = repr(float(v[0]))
            return json.dumps(cfg)

    copy = booster.copy()
    copy.__class__ = ScalarBaseScore
    wrapped = WrappedBooster(copy)
    objective = json.loads(booster.save_config())["learner"]["objective"]["name"]
    if objective.startswith("reg:"):
        wrapped.kwargs.update(objective=objective, num_class=0, num_target=1)
        wrapped.operator_name = "XGBRegressor"
    return wrapped


# case -> the case whose model it reuses
SOURCE = {"lgb_reg_iter": "lgb_reg", "lgb_multiclass_iter": "lgb_multiclass", "xgb_reg_ubj": "xgb_reg",
          "xgb_iter": "xgb_reg", "xgb_multi_iter": "xgb_multi", "xgb_forest_iter": "xgb_forest",
          "onnx_lgb_reg": "lgb_reg", "onnx_lgb_binary": "lgb_binary", "onnx_xgb_reg": "xgb_reg"}


def run_cases(o):
    X, y, tr = o.X, o.y, o.tr
    med = np.median(y[tr])
    binary = (y > med).astype(np.float32)
    terciles = np.searchsorted(np.quantile(y[tr], [1 / 3, 2 / 3]), y).astype(np.float32)
    ranks = np.argsort(np.argsort(y)).astype(np.float64)
    xent = ((ranks + 0.5) / len(y)).astype(np.float32)  # label in (0,1)
    Xnan = with_nans(X, 0.10, SEED)
    cat, seen = category_column(X, tr)
    Xcat = np.concatenate([X, cat[:, None]], axis=1)
    kc = X.shape[1]

    print("LightGBM", flush=True)
    o.lgb("lgb_reg", {"objective": "regression", "num_leaves": 31}, rounds=60,
          notes="l2, weights 1/y^2, 60 trees x 31 leaves")
    o.lgb("lgb_reg_iter", {}, num_iteration=20, reuse="lgb_reg",
          notes="lgb_reg.txt predicted with num_iteration=20")
    o.lgb("lgb_nan", {"objective": "regression"}, X=Xnan,
          notes="10% NaN in the train data: splits with missing_type NaN (decision_type bits 2-3 = 2)")
    o.lgb("lgb_zero_missing", {"objective": "regression", "zero_as_missing": True},
          notes="zero_as_missing: missing_type Zero; |x| <= 1e-35f and NaN take the default side")
    o.lgb("lgb_binary", {"objective": "binary"}, label=binary, weight=False, notes="y above the train median")
    o.lgb("lgb_multiclass", {"objective": "multiclass", "num_class": 3, "num_leaves": 7}, label=terciles,
          weight=False, notes="3 classes by train terciles of y; softmax")
    o.lgb("lgb_multiclass_iter", {}, num_iteration=7, reuse="lgb_multiclass",
          notes="lgb_multiclass.txt with num_iteration=7 (21 trees)")
    o.lgb("lgb_multiova", {"objective": "multiclassova", "num_class": 3, "num_leaves": 7}, label=terciles,
          weight=False, notes="one-vs-all: a sigmoid per class, rows do not sum to 1")
    o.lgb("lgb_cat", {"objective": "regression", "min_data_per_group": 20, "cat_smooth": 1.0,
                      "max_cat_threshold": 64}, X=Xcat, cat_col=kc, seen=seen,
          notes=f"column {kc} categorical: 40 categories scattered over 0..99 (bitsets of up to 4 words)")
    o.lgb("lgb_poisson", {"objective": "poisson"}, weight=False, notes="pred = exp(raw)")
    o.lgb("lgb_gamma", {"objective": "gamma"}, weight=False, notes="pred = exp(raw)")
    o.lgb("lgb_tweedie", {"objective": "tweedie", "tweedie_variance_power": 1.5}, weight=False,
          notes="pred = exp(raw)")
    o.lgb("lgb_xentropy", {"objective": "cross_entropy"}, label=xent, weight=False,
          notes="label = rank of y in (0,1); pred = sigmoid(raw)")
    o.lgb("lgb_huber", {"objective": "huber", "alpha": float(np.std(y[tr]))}, notes="huber; pred = raw")
    o.lgb("lgb_dart", {"objective": "regression", "boosting": "dart", "drop_rate": 0.2, "drop_seed": SEED},
          notes="dart: the saved trees already carry the dart scaling; pred = plain sum")
    o.lgb("lgb_rf", {"objective": "regression", "boosting": "rf", "bagging_fraction": 0.6, "bagging_freq": 1,
                     "feature_fraction": 0.8}, rounds=20,
          notes="random forest: average_output in the header; pred = mean of the trees, "
                "but LightGBM's raw_score (margin) is their plain SUM")
    o.lgb("lgb_single_leaf", {"objective": "regression", "min_data_in_leaf": int(tr.sum())}, rounds=5,
          notes="no split possible: LightGBM stops after one tree with num_leaves=1 and empty "
                "split_feature=/threshold=/... lines; pred = its leaf_value")
    o.lgb("lgb_linear_tree", {"objective": "regression", "linear_tree": True}, rounds=10,
          expect_error="linear", notes="linear_tree=True (is_linear=1 trees): the C loader must refuse")

    print("XGBoost", flush=True)
    o.xgb("xgb_reg", {"objective": "reg:squarederror", "max_depth": 5}, rounds=60,
          notes="reg:squarederror, weights 1/y^2, 60 trees of depth 5, JSON")
    xgb_reg_as_ubj(o)
    o.xgb("xgb_base_score", {"objective": "reg:squarederror", "base_score": 0.3},
          notes="explicit base_score 0.3 (stored as \"[3E-1]\")")
    o.xgb("xgb_nan", {"objective": "reg:squarederror"}, X=Xnan, notes="10% NaN in train data: default_left learned")
    o.xgb("xgb_binary", {"objective": "binary:logistic"}, label=binary, weight=False,
          notes="pred = sigmoid(margin); base_score is a probability: the margin starts at logit(base_score)")
    o.xgb("xgb_logitraw", {"objective": "binary:logitraw"}, label=binary, weight=False,
          notes="pred = margin; unlike binary:logistic, base_score is added to the margin as it is (no logit)")
    o.xgb("xgb_multi", {"objective": "multi:softprob", "num_class": 3, "max_depth": 3}, label=terciles,
          weight=False, notes="softprob: pred [M,3] softmax of the margins")
    o.xgb("xgb_softmax", {"objective": "multi:softmax", "num_class": 3, "max_depth": 3}, label=terciles,
          weight=False, notes="softmax: pred = argmax class index as float; margin [M,3]")
    o.xgb("xgb_multi_iter", {}, num_iteration=7, reuse="xgb_multi",
          notes="xgb_multi.json with iteration_range (0,7): trees 0..20")
    o.xgb("xgb_poisson", {"objective": "count:poisson"}, weight=False, notes="pred = exp(margin)")
    o.xgb("xgb_gamma", {"objective": "reg:gamma"}, weight=False, notes="pred = exp(margin)")
    o.xgb("xgb_tweedie", {"objective": "reg:tweedie", "tweedie_variance_power": 1.5}, weight=False,
          notes="pred = exp(margin)")
    o.xgb("xgb_cat", {"objective": "reg:squarederror", "max_cat_to_onehot": 1, "max_depth": 4}, X=Xcat,
          cat_col=kc, seen=seen, notes=f"column {kc} categorical (feature_types 'c'), partition splits")
    o.xgb("xgb_iter", {}, num_iteration=20, reuse="xgb_reg",
          notes="xgb_reg.json with iteration_range (0,20)")
    o.xgb("xgb_forest", {"objective": "reg:squarederror", "num_parallel_tree": 3, "subsample": 0.7,
                         "colsample_bynode": 0.8, "max_depth": 3}, rounds=8,
          notes="num_parallel_tree 3: 3 trees per iteration, pred = their sum")
    o.xgb("xgb_forest_iter", {}, num_iteration=3, reuse="xgb_forest",
          notes="xgb_forest.json with iteration_range (0,3): trees 0..8")
    o.xgb("xgb_dart", {"objective": "reg:squarederror", "booster": "dart", "rate_drop": 0.3, "skip_drop": 0.0},
          notes="dart: leaf values times weight_drop[tree] at inference; rows with +-inf come "
                "from inplace_predict, which may differ from DMatrix predict by 1 float32 ulp")
    o.xgb("xgb_single_leaf", {"objective": "reg:squarederror", "base_score": 0.01, "gamma": 1e9}, rounds=5,
          notes="min_split_loss 1e9: every tree is one leaf node (left_children [-1]), leaf != 0")
    o.xgb("xgb_gblinear", {"objective": "reg:squarederror", "booster": "gblinear"}, rounds=10,
          expect_error="gblinear", notes="linear booster: the C loader must refuse")

    if any(o.wanted(c) for c in ("onnx_lgb_reg", "onnx_lgb_binary", "onnx_xgb_reg")):
        print("ONNX-ML", flush=True)
        o.onnx("onnx_lgb_reg", "lgb_reg")
        o.onnx("onnx_lgb_binary", "lgb_binary", classifier=True)
        o.onnx("onnx_xgb_reg", "xgb_reg")


def xgb_reg_as_ubj(o):
    """xgb_reg_ubj: the xgb_reg booster saved as UBJSON (same trees, same predictions)."""
    if not o.wanted("xgb_reg_ubj"):
        return
    booster, rows, pred, _ = o.models["xgb_reg"]
    booster.save_model(os.path.join(o.out, "xgb_reg.ubj"))
    o.xgb("xgb_reg_ubj", {}, reuse="xgb_reg", file="xgb_reg.ubj", notes="xgb_reg saved as UBJSON")
    assert np.array_equal(o.models["xgb_reg_ubj"][2], pred), "UBJSON and JSON models predict differently"


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir")
    ap.add_argument("--flat", required=True, help="flat feature export folder")
    ap.add_argument("--only", default="", help="comma-separated case names (default: all)")
    ap.add_argument("--rows", type=int, default=500, help="real test rows per case (default 500)")
    a = ap.parse_args(argv[1:])
    t0 = time.time()
    os.makedirs(a.outdir, exist_ok=True)
    X, y, split, meta = load_flat(a.flat)
    only = set(filter(None, a.only.split(",")))
    import lightgbm
    import xgboost
    print(f"gbdt_oracle: {a.flat}: {X.shape[0]} rows x {X.shape[1]} features (train {int((split == 0).sum())}); "
          f"lightgbm {lightgbm.__version__}, xgboost {xgboost.__version__}", flush=True)
    o = Oracle(a.outdir, X, y, split, a.rows, only)
    run_cases(o)
    unknown = only - {c["name"] for c in o.cases}
    assert not unknown, f"unknown or skipped cases: {sorted(unknown)}"
    with open(os.path.join(a.outdir, "cases.json"), "w") as f:
        json.dump(o.cases, f, indent=1)
    print(f"gbdt_oracle: {len(o.cases)} cases in {a.outdir} in {time.time() - t0:.1f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
