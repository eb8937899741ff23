#!/usr/bin/env bash
# Cross-check of `tickinfer bench` with an independent client: Triton's perf_analyzer drives
# the same `tickinfer serve` (v2 binary tensors) at the same points, one run.
# Writes bench/results/perf_analyzer.{json,md}.
#
# perf_analyzer: PyPI `perf-analyzer` is a 0.1.0 placeholder without a binary, and the
# binary in tritonclient >= 2.53 wheels needs glibc 2.38 (Debian 12 has 2.36), so this takes
# it from the tritonclient 2.50.0 wheel (pinned), with its runtime libraries: libb64 (apt)
# and libcudart.so.12 (PyPI nvidia-cuda-runtime-cu12, ~1 MB; perf_analyzer links it but
# runs without a GPU).  Installed once under .venv/perf_analyzer/.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
TI=build/release/tickinfer
PA_DIR=.venv/perf_analyzer
PA=$PA_DIR/perf_analyzer
TC_VERSION=2.50.0
CUDART_VERSION=12.4.127
WINDOW_MS=${PA_WINDOW_MS:-2000}

install_pa() {
    if ! dpkg -s libb64-0d > /dev/null 2>&1; then
        if [[ $(id -u) == 0 ]]; then apt-get install -y -q libb64-0d > /dev/null
        else echo "perf_analyzer needs libb64-0d: sudo apt-get install libb64-0d" >&2; return 1; fi
    fi
    [[ -x $PA && -f $PA_DIR/lib/libcudart.so.12 ]] && return 0
    local tmp
    tmp=$(mktemp -d)
    $PY -m pip download -q --disable-pip-version-check --no-deps -d "$tmp" \
        "tritonclient==$TC_VERSION" "nvidia-cuda-runtime-cu12==$CUDART_VERSION"
    mkdir -p "$PA_DIR/lib"
    $PY - "$tmp" "$PA_DIR" <<'PY'
import glob, os, sys, zipfile
tmp, dst = sys.argv[1], sys.argv[2]
for whl in glob.glob(os.path.join(tmp, "*.whl")):
    with zipfile.ZipFile(whl) as z:
        for n in z.namelist():
            if n.endswith("/bin/perf_analyzer"):
                out = os.path.join(dst, "perf_analyzer")
            elif n.endswith("/libcudart.so.12"):
                out = os.path.join(dst, "lib", "libcudart.so.12")
            else:
                continue
            with z.open(n) as f, open(out + ".tmp", "wb") as g:
                g.write(f.read())
            os.chmod(out + ".tmp", 0o755)
            os.replace(out + ".tmp", out)
PY
    rm -rf "$tmp"
}

if ! install_pa; then
    echo "bench/perf_analyzer: perf_analyzer could not be installed; skipped" >&2
    exit 0
fi
export LD_LIBRARY_PATH=$PWD/$PA_DIR/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

tmp=$(mktemp -d)
srv_pid=""
cleanup() { [[ -n $srv_pid ]] && kill "$srv_pid" 2> /dev/null; wait 2> /dev/null; [[ -n ${KEEP_TMP:-} ]] && echo "kept $tmp" || rm -rf "$tmp"; }
trap cleanup EXIT
$TI serve --port 0 --model rv=models/rv_causal_optiver.safetensors \
    --model tinyrv=tests/model/data/seed_rv_tiny/best.pt > "$tmp/serve.log" 2>&1 &
srv_pid=$!
port=""
for _ in $(seq 1 100); do
    port=$(sed -n 's|.*listening on http://[^:]*:\([0-9]*\).*|\1|p' "$tmp/serve.log")
    [[ -n $port ]] && break
    sleep 0.1
done
[[ -n $port ]] || { cat "$tmp/serve.log" >&2; echo "bench/perf_analyzer: server did not start" >&2; exit 1; }

# points: model T F batch
points=("rv 60 12 1" "tinyrv 600 14 1")
for p in "${points[@]}"; do
    read -r model T F B <<< "$p"
    tag="${model}_b${B}"
    # the same kind of input both clients send: standard normal values, fixed seed
    $PY - "$T" "$F" "$tmp/$tag.input.json" <<'PY'
import json, sys, numpy as np
T, F = int(sys.argv[1]), int(sys.argv[2])
x = np.random.default_rng(7).standard_normal((T, F)).astype(np.float32)
json.dump({"data": [{"x": {"content": x.ravel().tolist(), "shape": [T, F]}}]}, open(sys.argv[3], "w"))
PY
    echo "== perf_analyzer $model [$B,$T,$F] concurrency 1, 8"
    $PA -m "$model" -u "127.0.0.1:$port" -i http -b "$B" --shape "x:$T,$F" --input-data "$tmp/$tag.input.json" \
        --concurrency-range 1:8:7 -p "$WINDOW_MS" --max-trials 10 --stability-percentage 15 -f "$tmp/$tag.pa.csv" > "$tmp/$tag.pa.log" 2>&1 ||
        { cat "$tmp/$tag.pa.log" >&2; exit 1; }
    echo "== tickinfer bench $model [$B,$T,$F] serial, closed 8"
    $TI bench --port "$port" --model-name "$model" --targets v2_binary --modes serial,closed --concurrency 8 \
        --batch "$B" --T "$T" --F "$F" --requests 1000 --min-s 4 --max-s 20 --out "$tmp" --name "$tag.ti" > /dev/null
done
$PY - "$tmp" "$(bash bench/machine.sh)" "$TC_VERSION" <<'PY'
import csv, glob, json, os, sys
tmp, machine, tc = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
rows = []
# perf_analyzer's csv has no mean; its latency parts add up to it
parts = ("Client Send", "Network+Server Send/Recv", "Server Queue", "Server Compute Input", "Server Compute Infer",
         "Server Compute Output", "Client Recv")
for f in sorted(glob.glob(os.path.join(tmp, "*.pa.csv"))):
    tag = os.path.basename(f)[:-len(".pa.csv")]
    model, b = tag.rsplit("_b", 1)
    for r in csv.DictReader(open(f)):
        c, ips = int(r["Concurrency"]), float(r["Inferences/Second"])
        srv = sum(float(r[k]) for k in ("Server Queue", "Server Compute Input", "Server Compute Infer", "Server Compute Output"))
        rows.append(dict(client="perf_analyzer", model=model, batch=int(b), concurrency=c, p50_us=float(r["p50 latency"]),
                         p99_us=float(r["p99 latency"]), mean_us=sum(float(r[k]) for k in parts), req_s=ips / int(b),
                         samples_s=ips, server_queue_compute_us=srv))
    ti = json.load(open(os.path.join(tmp, f"{tag}.ti.json")))
    for p in ti["points"]:
        q, cm = p.get("server_queue_ms", -1), p.get("server_compute_ms", -1)
        rows.append(dict(client="tickinfer bench", model=model, batch=p["batch"], concurrency=p["concurrency"],
                         p50_us=p["p50_ms"] * 1e3, p99_us=p["p99_ms"] * 1e3, mean_us=p["mean_ms"] * 1e3,
                         req_s=p["req_s"], samples_s=p["samples_s"],
                         server_queue_compute_us=(q + cm) * 1e3 if q >= 0 and cm >= 0 else None))
key = lambda r: (r["model"], r["batch"], r["concurrency"])
ours = {key(r): r for r in rows if r["client"] == "tickinfer bench"}
for r in rows:
    o = ours.get(key(r))
    r["req_s_ratio_to_tickinfer_bench"] = r["req_s"] / o["req_s"] if o else None
lines = ["| model | batch | clients | client | p50 us | p99 us | mean us | req/s | server queue+compute us | req/s vs tickinfer bench |",
         "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|"]
for r in sorted(rows, key=lambda r: (key(r), r["client"] != "tickinfer bench")):
    sq = f"{r['server_queue_compute_us']:.0f}" if r["server_queue_compute_us"] is not None else "-"
    ratio = f"{r['req_s_ratio_to_tickinfer_bench']:.2f}" if r["req_s_ratio_to_tickinfer_bench"] else "-"
    lines.append(f"| {r['model']} | {r['batch']} | {r['concurrency']} | {r['client']} | {r['p50_us']:.0f} | {r['p99_us']:.0f} | "
                 f"{r['mean_us']:.0f} | {r['req_s']:.1f} | {sq} | {ratio} |")
md = ("# Load generator cross-check: `tickinfer bench` vs Triton perf_analyzer (same server, same run)\n\n"
      "Both clients drive one `tickinfer serve` (models `rv` = models/rv_causal_optiver.safetensors, `tinyrv` = the seed "
      "TinyRV) over v2 infer with binary tensors, closed loop at 1 and 8 clients, the same standard-normal input. "
      f"perf_analyzer from the tritonclient {tc} wheel (time windows of {os.environ.get('PA_WINDOW_MS', '2000')} ms until "
      "three in a row agree within 15%, at most 10); its server-side split comes from tickinfer's `/v2/models/{m}/stats` (Triton statistics extension). "
      "tickinfer bench: `--targets v2_binary --modes serial,closed --concurrency 8`, server split from `/metrics`.\n\n"
      + "\n".join(lines) + f"\n\nMachine: {json.dumps(machine)}\n\nCommand: `bash bench/perf_analyzer.sh`.\n")
json.dump({"machine": machine, "perf_analyzer_from": f"tritonclient=={tc}", "rows": rows},
          open("bench/results/perf_analyzer.json", "w"), indent=1)
open("bench/results/perf_analyzer.md", "w").write(md)
print(md)
PY
