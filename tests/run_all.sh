#!/usr/bin/env bash
# Runs every test executable of each build dir given, then replays every fuzz corpus,
# and ends with the reason of every skip (deduplicated, with counts) and one summary line
# "N passed, N failed, N skipped" (the last line; CI parses it).
# Test executables print "TI_RESULT pass=P fail=F skip=S" and "TI_SKIPPED <name>\t<why>"
# per skipped test; a crash or a missing summary counts as one failure.  Exit status is
# non-zero if anything failed.
set -u
cd "$(dirname "$0")/.."
pass=0 fail=0 skip=0
failed_names=()
logdir=$(mktemp -d)
skips=$logdir/skips.tsv  # one line per skipped test: why<TAB>build/binary
: >"$skips"
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
for build in "$@"; do
    echo "== tests in $build"
    while IFS= read -r bin; do
        rel=${bin#"$build"/}
        log="$logdir/$(echo "$build/$rel" | tr '/' '_').log"
        t0=$EPOCHREALTIME
        "$bin" >"$log" 2>&1
        rc=$?
        dt=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.2f", b-a}')
        line=$(grep -m1 '^TI_RESULT' "$log" || true)
        if [[ -n "$line" ]]; then
            p=$(sed -E 's/.*pass=([0-9]+).*/\1/' <<<"$line")
            f=$(sed -E 's/.*fail=([0-9]+).*/\1/' <<<"$line")
            s=$(sed -E 's/.*skip=([0-9]+).*/\1/' <<<"$line")
        else
            p=0 f=0 s=0
        fi
        if [[ $rc -ne 0 && $f -eq 0 ]]; then f=1; fi
        pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
        if [[ $s -gt 0 ]]; then
            n_why=0
            while IFS=$'\t' read -r _ why; do
                printf '%s\t%s\n' "${why:-(no reason given)}" "$build/$rel" >>"$skips"
                n_why=$((n_why + 1))
            done < <(grep -a '^TI_SKIPPED ' "$log")
            for ((k = n_why; k < s; k++)); do printf '(no reason given)\t%s\n' "$build/$rel" >>"$skips"; done
        fi
        status=ok
        [[ $f -gt 0 ]] && status=FAIL && failed_names+=("$build/$rel")
        printf '  %-4s %-48s %3d passed %2d failed %2d skipped  %6ss\n' "$status" "$rel" "$p" "$f" "$s" "$dt"
        if [[ $f -gt 0 || $s -gt 0 ]]; then grep -E 'FAIL|SKIP|ERROR|runtime error|Sanitizer' "$log" | grep -v '^TI_SKIPPED ' | head -20 | sed 's/^/       /'; fi
        # A crash (no summary line) shows the end of the output: the sanitizer report.
        if [[ $f -gt 0 && -z "$line" ]]; then tail -n 25 "$log" | sed 's/^/       | /'; fi
    done < <(find "$build/tests" -type f -perm -u+x 2>/dev/null | sort)
    for bin in "$build"/fuzz/*_replay; do
        [[ -x "$bin" ]] || continue
        name=$(basename "$bin" _replay)
        corpus="fuzz/corpus/$name"
        log="$logdir/$(echo "$build" | tr '/' '_')_fuzz_$name.log"
        if [[ ! -d "$corpus" ]]; then
            echo "  FAIL fuzz replay $name: no corpus folder $corpus"
            fail=$((fail + 1)); failed_names+=("$build fuzz $name"); continue
        fi
        if "$bin" "$corpus" >"$log" 2>&1; then
            pass=$((pass + 1))
            printf '  ok   %-48s %s\n' "fuzz replay $name" "$(tail -n1 "$log")"
        else
            fail=$((fail + 1)); failed_names+=("$build fuzz $name")
            printf '  FAIL %-48s\n' "fuzz replay $name"
            tail -n 20 "$log" | sed 's/^/       | /'
        fi
    done
done
echo
if [[ -s "$skips" ]]; then
    echo "skipped: $(wc -l <"$skips") tests, by reason:"
    # count, reason and the programs that skipped for it; most frequent first
    awk -F'\t' '{ n[$1]++; if (!(($1, $2) in seen)) { seen[$1, $2] = 1; at[$1] = at[$1] (at[$1] ? ", " : "") $2 } }
                END { for (w in n) printf "%d\t%s\t%s\n", n[w], w, at[w] }' "$skips" |
        sort -t$'\t' -k1,1nr -k2,2 | awk -F'\t' '{ printf "  %4d  %s\n        (%s)\n", $1, $2, $3 }'
else
    echo "skipped: 0 tests"
fi
rm -rf "$logdir"
if [[ ${#failed_names[@]} -gt 0 ]]; then
    echo "failed:"; printf '  %s\n' "${failed_names[@]}"
fi
echo "$pass passed, $fail failed, $skip skipped"
[[ $fail -eq 0 ]]
