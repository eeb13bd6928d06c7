#!/bin/sh
# health.sh - GET /health on Cubby vs a bare libfcgi responder (bare.c),
# both behind the same nginx, in one run; wrk at 32 connections. Prints
# rates, the ratio, p50/p99, with fastcgi_keep_conn off (the shipped
# setting) and on. Ratios matter; absolute numbers depend on the machine.
#   tests/bench/health.sh [seconds-per-round] [rounds]
set -eu
. "$(dirname "$0")/lib.sh"
secs=${1:-8}
rounds=${2:-3}
bench_init
cc -O2 -o "$tmp/bare" "$top/tests/bench/bare.c" -lfcgi
"$tmp/bare" "$tmp/bare.sock" "$workers" &
start_cubby
chmod 666 "$tmp/bare.sock"
start_nginx 18181:cubby:off 18182:bare:off 18183:cubby:on 18184:bare:on
for p in 18181 18182 18183 18184; do
	curl -sf "http://127.0.0.1:$p/health" >/dev/null || { echo "port $p not answering"; cat "$tmp/nginx.err"; exit 1; }
done

echo "GET /health through nginx, $conns connections, $workers workers each, ${secs}s x $rounds rounds (alternating)"
for mode in off on; do
	if [ $mode = off ]; then cp=18181; bp=18182; else cp=18183; bp=18184; fi
	: > "$tmp/c.txt"; : > "$tmp/b.txt"
	i=0
	while [ $i -lt "$rounds" ]; do
		wrk_run "http://127.0.0.1:$bp/health" >> "$tmp/b.txt"
		wrk_run "http://127.0.0.1:$cp/health" >> "$tmp/c.txt"
		i=$((i + 1))
	done
	crate=$(col "$tmp/c.txt" 1); brate=$(col "$tmp/b.txt" 1)
	echo "fastcgi_keep_conn $mode:"
	echo "  bare   $brate req/s  p50 $(col "$tmp/b.txt" 2) ms  p99 $(col "$tmp/b.txt" 3) ms  non-2xx: $(cut -d' ' -f4 "$tmp/b.txt" | tr '\n' ' ')"
	echo "  cubby  $crate req/s  p50 $(col "$tmp/c.txt" 2) ms  p99 $(col "$tmp/c.txt" 3) ms  non-2xx: $(cut -d' ' -f4 "$tmp/c.txt" | tr '\n' ' ')"
	echo "  ratio cubby/bare = $(awk -v a="$crate" -v b="$brate" 'BEGIN { printf "%.2f", a / b }')"
done
