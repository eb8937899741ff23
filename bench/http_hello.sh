#!/usr/bin/env bash
# HTTP library choice for `tickinfer serve` (issue 6): a hello-world keep-alive server on
# libmicrohttpd (epoll + thread pool, the mode the server uses) vs libevent's evhttp (one
# loop per thread on SO_REUSEPORT sockets), driven by wrk over loopback.  Needs `wrk` and
# `libevent-dev` (apt); skips with a message without them.  Writes bench/results/http_hello.md.
#   bash bench/http_hello.sh [seconds per run, default 5]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
if ! command -v wrk >/dev/null || [[ ! -f /usr/include/event2/http.h ]]; then
    echo "http_hello: needs wrk and libevent-dev (apt-get install wrk libevent-dev); skipped"
    exit 0
fi
out=build/release/http_hello  # not under bench/: bench/run_all.sh runs everything there
mkdir -p "$out" bench/results
gcc -O2 -std=c11 -D_GNU_SOURCE -pthread bench/http_hello/mhd_hello.c -lmicrohttpd -o "$out/mhd_hello"
gcc -O2 -std=c11 -D_GNU_SOURCE -pthread bench/http_hello/evhttp_hello.c -levent -o "$out/evhttp_hello"
res=bench/results/http_hello.md
{
    echo "# Hello-world keep-alive HTTP: libmicrohttpd vs libevent evhttp"
    echo
    echo "\`bash bench/http_hello.sh $secs\` on $(nproc) cores ($(uptime | sed 's/.*load average/load average/')); wrk 4.1, loopback, ${secs} s per run."
    echo
    echo "| server | server threads | wrk threads x connections | requests/s | p50 | p99 |"
    echo "|---|---|---|---|---|---|"
} >"$res"
port=18990
for srv in mhd_hello evhttp_hello; do
    for threads in 1 2; do
        "$out/$srv" "$port" "$threads" &
        pid=$!
        sleep 0.5
        for conns in 1 32; do
            w=$(wrk -t1 -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:$port/v2/health/live")
            rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$w")
            p50=$(awk '$1=="50%" {print $2}' <<<"$w")
            p99=$(awk '$1=="99%" {print $2}' <<<"$w")
            echo "| ${srv%_hello} | $threads | 1 x $conns | $rps | $p50 | $p99 |" | tee -a "$res"
        done
        kill "$pid"
        wait "$pid" 2>/dev/null || true
        port=$((port + 1))
    done
done
echo "wrote $res"
