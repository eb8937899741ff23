"""Drives a running `tickinfer serve` with Triton's own Python client (tritonclient[http]).

Called by tests/serve/test_serve_triton.c, which starts the server in-process and writes
x.npy (raw features [B,T,12]) and y.npy (the in-process forward of the same checkpoint,
[B,T]) into --dir.  Checks: server/model liveness and readiness, server and model
metadata, infer with JSON tensors and with binary tensors (in and out), model config and
statistics (the Triton extensions perf_analyzer reads), a shape error
surfacing as InferenceServerException, the repository index, and unload/load with a
bearer token.  Exit 0 ok, 1 failure, 77 when tritonclient is not installed (skip).
"""
import argparse
import os
import sys

try:
    import numpy as np
    import tritonclient.http as httpclient
    from tritonclient.utils import InferenceServerException
except ImportError as e:  # pragma: no cover - environment without the client
    print(f"skip: {e}")
    sys.exit(77)


def check(cond, what):
    if not cond:
        print(f"FAIL: {what}")
        sys.exit(1)
    print(f"ok   {what}")


def infer(client, model, x, binary_in, binary_out):
    inp = httpclient.InferInput("x", list(x.shape), "FP32")
    inp.set_data_from_numpy(x, binary_data=binary_in)
    out = httpclient.InferRequestedOutput("y", binary_data=binary_out)
    res = client.infer(model, inputs=[inp], outputs=[out], request_id="tc-1")
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--model", default="rv")
    a = ap.parse_args()
    x = np.load(os.path.join(a.dir, "x.npy"))
    y = np.load(os.path.join(a.dir, "y.npy"))
    client = httpclient.InferenceServerClient(url=a.url)
    check(client.is_server_live(), "server live")
    check(client.is_server_ready(), "server ready")
    check(client.is_model_ready(a.model), "model ready")
    check(not client.is_model_ready("no_such_model"), "unknown model not ready")
    sm = client.get_server_metadata()
    check(sm["name"] == "tickinfer" and "binary_tensor_data" in sm["extensions"], "server metadata")
    mm = client.get_model_metadata(a.model)
    check(mm["inputs"][0]["name"] == "x" and mm["inputs"][0]["shape"][-1] == x.shape[-1], "model metadata input")
    check(mm["outputs"][0]["datatype"] == "FP32", "model metadata output")
    for binary_in in (False, True):
        for binary_out in (False, True):
            res = infer(client, a.model, x, binary_in, binary_out)
            got = res.as_numpy("y")
            what = f"infer binary_in={binary_in} binary_out={binary_out}"
            check(got is not None and got.shape == y.shape and np.allclose(got, y, rtol=1e-4, atol=1e-4), what)
            check(res.get_response()["id"] == "tc-1", what + " id echoed")
    cfg = client.get_model_config(a.model)
    check(cfg["input"][0]["dims"][-1] == x.shape[-1] and cfg["max_batch_size"] >= x.shape[0], "model config")
    st = client.get_inference_statistics(a.model)["model_stats"][0]
    ist = st["inference_stats"]
    check(st["name"] == a.model and ist["success"]["count"] == 4 and st["inference_count"] == 4 * x.shape[0]
          and ist["compute_infer"]["ns"] > 0, f"inference statistics after 4 infers ({st})")
    try:
        infer(client, a.model, x[:, :, :5].copy(), True, True)
        check(False, "wrong feature count rejected")
    except InferenceServerException as e:
        check("expects 12" in str(e), f"wrong feature count rejected ({e})")
    idx = client.get_model_repository_index()
    check(any(m["name"] == a.model and m["state"] == "READY" for m in idx), "repository index")
    auth = {"Authorization": f"Bearer {a.token}"}
    client.unload_model(a.model, headers=auth)
    check(not client.is_model_ready(a.model), "unloaded")
    client.load_model(a.model, headers=auth)
    check(client.is_model_ready(a.model), "loaded again")
    try:
        client.unload_model(a.model)
        check(False, "unload without token refused")
    except InferenceServerException as e:
        check("Bearer" in str(e), "unload without token refused")
    res = infer(client, a.model, x, True, True)
    check(np.allclose(res.as_numpy("y"), y, rtol=1e-4, atol=1e-4), "infer after reload")
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
