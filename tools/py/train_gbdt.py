#!/usr/bin/env python3
"""Train gradient-boosted-tree RV models on a tickinfer flat feature export.

    train_gbdt.py --flat FLATDIR --out DIR [--library lightgbm,xgboost] [--trees N]
                  [--leaves L] [--depth D] [--lr R] [--patience P] [--threads T]

FLATDIR comes from `tickinfer dataset export DATASET --flat -o FLATDIR` (X.npy float32
[N,K] one row of window terms per bucket, y.npy target RV, split.npy 0/1/2 =
train/val/test, features.json with the terms that recompute a row from a window).

The setup is aligned with RMSPE, sqrt(mean(((y - p) / y)^2)): the trees predict RV itself
(objective l2 / reg:squarederror) with sample weights 1/y^2 (scaled to mean 1), so the
weighted squared error they minimise is RMSPE^2 up to a constant.  Training stops early on
the val rows' RMSPE (patience P rounds); the model is saved with the best iteration only.

Writes into DIR:
    rv_lgbm.txt                LightGBM save_model(num_iteration=best)
    rv_lgbm.json               tickinfer wrapper of it ("format": "tickinfer-trees")
    rv_xgb.json                XGBoost save_model JSON, trees up to the best iteration
    rv_xgb.tickinfer.json      tickinfer wrapper of it
    rv_gbdt_report.json        val/test RMSPE, best iteration, parameters, timings
("metrics" in a wrapper: val_rmspe and test_rmspe of the saved file's predictions,
best_iteration = boosting rounds kept, counted from 1 for both libraries, library version.)
A wrapper names the tree file (relative to the wrapper's folder), says the trees output RV
("output": "rv"), and copies "terms", "n_features", "context" verbatim from
FLATDIR/features.json, so that tickinfer computes each row from a window exactly as the
export did; "names" labels the K columns (the tree files use Column_i / f<i> by index).
Deterministic: fixed seed, T threads (default 1).
"""
import argparse
import json
import os
import sys
import time

import numpy as np


def rmspe(y, p):
    y = np.asarray(y, np.float64)
    return float(np.sqrt(np.mean(((y - np.asarray(p, np.float64)) / y) ** 2)))


def load_flat(d):
    X = np.load(os.path.join(d, "X.npy"))
    y = np.load(os.path.join(d, "y.npy")).astype(np.float32)
    split = np.load(os.path.join(d, "split.npy"))
    meta = json.load(open(os.path.join(d, "features.json")))
    if X.ndim != 2 or X.dtype != np.float32 or len(y) != len(X) or len(split) != len(X):
        sys.exit(f"train_gbdt: {d}: want X float32 [N,K], y [N], split [N]; got {X.dtype} {X.shape}, {y.shape}, {split.shape}")
    if len(meta["names"]) != X.shape[1]:
        sys.exit(f"train_gbdt: {d}/features.json: {len(meta['names'])} names for {X.shape[1]} columns")
    if not (y > 0).all():
        sys.exit(f"train_gbdt: {d}/y.npy: {int((~(y > 0)).sum())} targets are not > 0 (RMSPE needs y > 0)")
    for s, what in ((0, "train"), (1, "val"), (2, "test")):
        if not (split == s).any():
            sys.exit(f"train_gbdt: {d}: no {what} rows")
    return X, y, split, meta


def rmspe_weights(y):
    w = 1.0 / (np.asarray(y, np.float64) ** 2)
    return w / w.mean()


def train_lightgbm(a, X, y, tr, va):
    import lightgbm as lgb
    params = {"objective": "regression", "metric": "None", "learning_rate": a.lr, "num_leaves": a.leaves,
              "min_data_in_leaf": 50, "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1,
              "lambda_l2": 1.0, "num_threads": a.threads, "deterministic": True, "force_row_wise": True,
              "seed": a.seed, "verbose": -1}
    dtrain = lgb.Dataset(X[tr], y[tr], weight=rmspe_weights(y[tr]), params={"verbose": -1})
    dval = lgb.Dataset(X[va], y[va], reference=dtrain)

    def val_rmspe(pred, data):
        return "rmspe", rmspe(data.get_label(), pred), False

    booster = lgb.train(params, dtrain, a.trees, valid_sets=[dval], valid_names=["val"], feval=val_rmspe,
                        callbacks=[lgb.early_stopping(a.patience, verbose=False), lgb.log_evaluation(100)])
    best = booster.best_iteration or booster.current_iteration()
    path = os.path.join(a.out, "rv_lgbm.txt")
    booster.save_model(path, num_iteration=best)
    saved = lgb.Booster(model_file=path)  # score what tickinfer will load
    return saved.predict, best, {k: v for k, v in params.items() if k != "verbose"}, "rv_lgbm.txt", \
        "rv_lgbm.json", f"lightgbm {lgb.__version__}"


def train_xgboost(a, X, y, tr, va):
    import xgboost as xgb
    params = {"objective": "reg:squarederror", "eta": a.lr, "max_depth": a.depth, "min_child_weight": 1.0,
              "subsample": 0.8, "colsample_bytree": 0.8, "lambda": 1.0, "tree_method": "hist",
              "nthread": a.threads, "seed": a.seed, "disable_default_eval_metric": 1}
    dtrain = xgb.DMatrix(X[tr], y[tr], weight=rmspe_weights(y[tr]), nthread=a.threads)
    dval = xgb.DMatrix(X[va], y[va], nthread=a.threads)

    def val_rmspe(pred, data):
        return "rmspe", rmspe(data.get_label(), pred)

    booster = xgb.train(params, dtrain, a.trees, evals=[(dval, "val")], custom_metric=val_rmspe,
                        early_stopping_rounds=a.patience, verbose_eval=100)
    best = booster.best_iteration + 1  # best_iteration is 0-based; keep that many rounds
    path = os.path.join(a.out, "rv_xgb.json")
    booster[:best].save_model(path)
    saved = xgb.Booster(model_file=path)
    saved.set_param({"nthread": a.threads})

    def predict(rows):
        return saved.inplace_predict(rows)

    return predict, best, params, "rv_xgb.json", "rv_xgb.tickinfer.json", f"xgboost {xgb.__version__}"


TRAINERS = {"lightgbm": train_lightgbm, "xgboost": train_xgboost}


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--flat", required=True, help="flat feature export folder (tickinfer dataset export --flat)")
    ap.add_argument("--out", required=True, help="output folder (created if missing)")
    ap.add_argument("--library", default="lightgbm,xgboost", help="comma-separated: lightgbm, xgboost (default both)")
    ap.add_argument("--trees", type=int, default=2000, help="most boosting rounds (default 2000)")
    ap.add_argument("--leaves", type=int, default=31, help="LightGBM num_leaves (default 31)")
    ap.add_argument("--depth", type=int, default=6, help="XGBoost max_depth (default 6)")
    ap.add_argument("--lr", type=float, default=0.05, help="learning rate (default 0.05)")
    ap.add_argument("--patience", type=int, default=50, help="early-stopping rounds on val RMSPE (default 50)")
    ap.add_argument("--threads", type=int, default=1, help="threads (default 1; results depend on it)")
    ap.add_argument("--seed", type=int, default=42, help="seed (default 42)")
    a = ap.parse_args(argv[1:])
    libs = [s for s in a.library.split(",") if s]
    bad = [s for s in libs if s not in TRAINERS]
    if bad or not libs:
        ap.error(f"--library: unknown {bad}; choose from {sorted(TRAINERS)}")

    X, y, split, meta = load_flat(a.flat)
    tr, va, te = split == 0, split == 1, split == 2
    os.makedirs(a.out, exist_ok=True)
    print(f"train_gbdt: {a.flat}: {X.shape[1]} features; train {int(tr.sum())}, val {int(va.sum())}, "
          f"test {int(te.sum())} rows", flush=True)
    report = {"flat": os.path.abspath(a.flat), "n_columns": int(X.shape[1]),
              "rows": {"train": int(tr.sum()), "val": int(va.sum()), "test": int(te.sum())}, "models": {}}
    for lib in libs:
        t0 = time.time()
        print(f"{lib}: up to {a.trees} rounds, early stopping after {a.patience} on val RMSPE", flush=True)
        predict, best, params, tree_file, wrapper_file, version = TRAINERS[lib](a, X, y, tr, va)
        metrics = {"val_rmspe": rmspe(y[va], predict(X[va])), "test_rmspe": rmspe(y[te], predict(X[te])),
                   "best_iteration": int(best), "library": version}
        wrapper = {"format": "tickinfer-trees", "version": 1, "trees": tree_file, "output": "rv",
                   "n_features": meta["n_features"], "context": meta["context"], "terms": meta["terms"],
                   "names": meta["names"], "feature_names": meta.get("feature_names"), "metrics": metrics}
        if wrapper["feature_names"] is None:
            del wrapper["feature_names"]
        with open(os.path.join(a.out, wrapper_file), "w") as f:
            json.dump(wrapper, f, indent=1)
        report["models"][lib] = {**metrics, "trees": tree_file, "wrapper": wrapper_file, "params": params,
                                 "seconds": round(time.time() - t0, 2)}
        print(f"{lib}: best iteration {best}, val RMSPE {metrics['val_rmspe']:.5f}, test RMSPE "
              f"{metrics['test_rmspe']:.5f} ({time.time() - t0:.1f}s) -> {a.out}/{tree_file}, {wrapper_file}",
              flush=True)
    with open(os.path.join(a.out, "rv_gbdt_report.json"), "w") as f:
        json.dump(report, f, indent=1)
    print(f"train_gbdt: report {a.out}/rv_gbdt_report.json", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
