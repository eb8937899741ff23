#!/usr/bin/env bash
# Timings of this tree against an earlier release, in the same run on the same core:
# the decode step (bench/stream --quick) and the full-window forward (bench/model_forward),
# ROUNDS rounds alternating old and new, best p50 of the rounds per configuration.
#   bash bench/compare_release.sh BASE_REV [ROUNDS] [OUT.md]
# BASE_REV is checked out into a temporary worktree and built there (release).
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${1:?usage: compare_release.sh BASE_REV [ROUNDS] [OUT.md]}
ROUNDS=${2:-3}
OUT=${3:-bench/results/compare_release.md}
W=$(mktemp -d)
trap 'git worktree remove --force "$W/base" >/dev/null 2>&1 || true; rm -rf "$W"' EXIT
git worktree add -q --detach "$W/base" "$BASE"
make -C "$W/base" -j"$(nproc)" benches >/dev/null
make -j"$(nproc)" benches >/dev/null
CORE=$(( $(nproc) - 1 ))
for r in $(seq 1 "$ROUNDS"); do
    for v in base new; do
        dir=$([[ $v == base ]] && echo "$W/base" || pwd)
        mkdir -p "$W/$v/s$r"
        (cd "$dir" && taskset -c "$CORE" build/release/bench/stream --quick --out "$W/$v/s$r" >"$W/$v/stream_$r.txt" 2>&1)
        (cd "$dir" && taskset -c "$CORE" build/release/bench/model_forward --seconds 1 --out "$W/$v/mf_$r.json" >"$W/$v/mf_$r.txt" 2>&1)
    done
done
python3 - "$W" "$ROUNDS" "$BASE" "$OUT" <<'PY'
import sys, subprocess, platform
w, rounds, base, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def best(v, kind):
    b = {}
    for r in range(1, rounds + 1):
        for line in open(f"{w}/{v}/{'stream' if kind == 's' else 'mf'}_{r}.txt"):
            p = line.split()
            if kind == 's' and len(p) >= 4 and p[0] == 'ctx' and p[1].isdigit():
                for j, lay in ((2, 'ring'), (3, 'paged')):
                    k = (lay, int(p[1])); b[k] = min(b.get(k, 1e18), float(p[j]))
            if kind == 'f' and len(p) >= 9 and p[0] in ('tinyrv', 'rv_causal'):
                k = (p[0], int(p[1]), int(p[2]), int(p[3])); b[k] = min(b.get(k, 1e18), float(p[5]))
    return b
cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), platform.processor())
head = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True).stdout.strip()
L = [f"# This tree ({head}) against {base}: decode step and full-window forward",
     "", f"`bash bench/compare_release.sh {base} {rounds}`: {rounds} rounds alternating old/new on one core "
     f"(taskset), best p50 of the rounds; CPU {cpu}, {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores, "
     "release build (-O2, run-time SIMD dispatch).", "",
     "| decode step (bench/stream --quick) | old p50 us | new p50 us | change |", "|---|---:|---:|---:|"]
bs, ns = best('base', 's'), best('new', 's')
for k in sorted(bs): L.append(f"| {k[0]} ctx {k[1]} | {bs[k]:.2f} | {ns[k]:.2f} | {100 * (ns[k] / bs[k] - 1):+.1f}% |")
L += ["", "| full forward (bench/model_forward) | old p50 ms | new p50 ms | change |", "|---|---:|---:|---:|"]
bf, nf = best('base', 'f'), best('new', 'f')
for k in bf: L.append(f"| {k[0]} T{k[1]} batch {k[2]}, {k[3]} thr | {bf[k]:.3f} | {nf[k]:.3f} | {100 * (nf[k] / bf[k] - 1):+.1f}% |")
open(out, 'w').write("\n".join(L) + "\n")
print("\n".join(L))
PY
