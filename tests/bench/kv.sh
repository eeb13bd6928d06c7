#!/bin/sh
# kv.sh - the KV API against GET /health through the same nginx, in one
# run (alternating rounds): GET of a 100-byte key, PUT of a 100-byte value,
# and counter increments from 32 connections on one key. Credentials are
# sent as a Bearer read/write key, as a client would.
#   tests/bench/kv.sh [seconds-per-round] [rounds]
set -eu
. "$(dirname "$0")/lib.sh"
secs=${1:-8}
rounds=${2:-3}
bench_init
start_cubby
start_nginx 18191:cubby:off
base=http://127.0.0.1:18191
bucket=$(curl -sf -X POST "$base/api/v1/" --data-urlencode email=bench@example.com \
    --data-urlencode secret_key=bench-admin --data-urlencode read_key=bench-read \
    --data-urlencode write_key=bench-write)
value=$(head -c 100 /dev/zero | tr '\0' 'v')
curl -sf -X PUT "$base/api/v1/$bucket/k100" -H 'Authorization: Bearer bench-write' \
    -H 'Content-Type: text/plain' --data "$value" >/dev/null
cat > "$tmp/get.lua" <<LUA
wrk.headers["Authorization"] = "Bearer bench-read"
LUA
cat > "$tmp/put.lua" <<LUA
wrk.method = "PUT"
wrk.body = string.rep("v", 100)
wrk.headers["Content-Type"] = "text/plain"
wrk.headers["Authorization"] = "Bearer bench-write"
LUA
cat > "$tmp/incr.lua" <<LUA
wrk.method = "PATCH"
wrk.body = "+1"
wrk.headers["Authorization"] = "Bearer bench-write"
LUA
: > "$tmp/health.txt"; : > "$tmp/get.txt"; : > "$tmp/put.txt"; : > "$tmp/incr.txt"
i=0
while [ $i -lt "$rounds" ]; do
	wrk_run "$base/health" >> "$tmp/health.txt"
	wrk_run "$base/api/v1/$bucket/k100" "$tmp/get.lua" >> "$tmp/get.txt"
	wrk_run "$base/api/v1/$bucket/put100" "$tmp/put.lua" >> "$tmp/put.txt"
	wrk_run "$base/api/v1/$bucket/hits" "$tmp/incr.lua" >> "$tmp/incr.txt"
	i=$((i + 1))
done
hits=$(curl -sf "$base/api/v1/$bucket/hits" -H 'Authorization: Bearer bench-read')
h=$(col "$tmp/health.txt" 1)
echo "KV through nginx, $conns connections, $workers workers, ${secs}s x $rounds rounds (alternating)"
for t in health get put incr; do
	r=$(col "$tmp/$t.txt" 1)
	printf '  %-28s %7s req/s  p50 %6s ms  p99 %7s ms  ratio %s  non-2xx: %s\n' \
	    "$(case $t in health) echo 'GET /health';; get) echo 'GET 100-byte key';; put) echo 'PUT 100-byte value';; incr) echo 'PATCH +1, one key';; esac)" \
	    "$r" "$(col "$tmp/$t.txt" 2)" "$(col "$tmp/$t.txt" 3)" \
	    "$(awk -v a="$r" -v b="$h" 'BEGIN { printf "%.2f", a / b }')" \
	    "$(cut -d' ' -f4 "$tmp/$t.txt" | tr '\n' ' ')"
done
acked=$(awk '$4 == 0 { n += $5 } END { print n + 0 }' "$tmp/incr.txt")
# wrk stops with up to $conns requests in flight per round and does not
# count their answers: those may be applied too, nothing else may.
inflight=$((conns * rounds))
if [ "$hits" -ge "$acked" ] && [ "$hits" -le $((acked + inflight)) ]; then
	echo "  counter after the run: $hits; wrk saw $acked acknowledged (+ at most $inflight in flight at the stops)"
else
	echo "  counter after the run: $hits, but wrk saw $acked acknowledged: MISMATCH"
	exit 1
fi
