#!/usr/bin/env bash
# Prints a JSON object describing this machine (for bench/results/*.json).
model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
flags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|fma|avx512f|avx512bw|avx512vl|avx512_bf16|avx512_vnni|amx_bf16|avx_vnni)$' | tr '\n' ' ' | sed 's/ $//')
cores=$(nproc)
mem=$(awk '/MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo)
cc=$(gcc --version | head -1)
kernel=$(uname -r)
printf '{"cpu": "%s", "flags": "%s", "cores": %s, "memory": "%s", "compiler": "%s", "kernel": "%s", "date": "%s"}' \
    "$model" "$flags" "$cores" "$mem" "$cc" "$kernel" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
