#!/usr/bin/env bash
# Full-set ingest benchmark: time and disk size of `tickinfer ingest` on the 60-stock
# Optiver set against the budget (< 10 s on 2 cores, < 1 GB on disk).
# Usage: bench/ingest.sh [SOURCE] [RUNS]   (default ../shared/data/optiver_rv_trade_train)
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=${1:-../shared/data/optiver_rv_trade_train/trade_train.parquet}
RUNS=${2:-3}
TI=build/release/tickinfer
OUT=${BENCH_TMP:-/tmp}/tickinfer-bench-ingest
RES=bench/results
mkdir -p "$RES"
if [[ ! -d "$SRC" ]]; then
    echo "bench/ingest: source $SRC not found; skipping (it needs the shared Optiver data)"
    exit 0
fi
src_bytes=$(du -sb "$SRC" | cut -f1)
best=""
times=()
for r in $(seq 1 "$RUNS"); do
    sync
    t0=$EPOCHREALTIME
    $TI ingest "$SRC" -o "$OUT" --quiet > "$RES/ingest_full.log"
    t1=$EPOCHREALTIME
    t=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')
    times+=("$t")
    echo "run $r: $t s"
done
best=$(printf '%s\n' "${times[@]}" | sort -n | head -1)
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
disk=$(du -sb "$OUT" | cut -f1)
$TI dataset verify "$OUT"
$TI dataset info "$OUT" > "$RES/ingest_full_info.txt"
$TI baseline "$OUT" --json "$RES/baselines_full.json" --md "$RES/baselines_full.md" > /dev/null
cat "$RES/ingest_full.log"
machine=$(bash bench/machine.sh)
cat > "$RES/ingest.json" <<JSON
{
  "bench": "ingest full Optiver set",
  "source": "$SRC",
  "source_bytes": $src_bytes,
  "runs_s": [$(IFS=,; echo "${times[*]}")],
  "best_s": $best,
  "median_s": $median,
  "budget_s": 10,
  "disk_bytes": $disk,
  "budget_disk_bytes": 1000000000,
  "threads": $(nproc),
  "machine": $machine
}
JSON
cat > "$RES/ingest.md" <<MD
# Ingest benchmark (full Optiver trade set)

| metric | value | budget | within |
|---|---:|---:|:---:|
| wall time, median of $RUNS (s) | $median | 10 | $(awk -v m="$median" 'BEGIN{print (m < 10) ? "yes" : "NO"}') |
| dataset on disk (MB) | $(awk -v d="$disk" 'BEGIN{printf "%.1f", d/1e6}') | 1000 | $(awk -v d="$disk" 'BEGIN{print (d < 1e9) ? "yes" : "NO"}') |
| source Parquet (MB) | $(awk -v d="$src_bytes" 'BEGIN{printf "%.1f", d/1e6}') | | |

Machine: $machine

Command: \`bench/ingest.sh\` (\`tickinfer ingest $SRC -o OUT\`, $(nproc) threads).
\`\`\`
$(cat "$RES/ingest_full.log")
\`\`\`
MD
rm -rf "$OUT"
echo "wrote $RES/ingest.json, $RES/ingest.md, $RES/baselines_full.{json,md}"
