#!/bin/sh
# health.sh - GET /health on Cubby vs a bare libfcgi responder (bare.c),
# both behind the same nginx, in one run; wrk at 32 connections. Prints
# rates, the ratio, p50/p99, with fastcgi_keep_conn off (the shipped
# setting) and on. Ratios matter; absolute numbers depend on the machine.
#   tests/bench/health.sh [seconds-per-round] [rounds]
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-8}
rounds=${2:-3}
conns=32
workers=$(nproc)
PATH=$PATH:/usr/sbin

[ -x "$top/build/cubby-fcgi" ] || { echo "build first: contrib/dev.sh serve or make -C build"; exit 1; }
if ldd "$top/build/cubby-fcgi" | grep -q asan; then
	echo "build/ is a sanitizer build; benchmark an optimised one"; exit 1
fi
tmp=$(mktemp -d /tmp/cubby-bench-XXXXXX)
chmod 755 "$tmp"
cleanup() {
	[ -f "$tmp/nginx.pid" ] && kill "$(cat "$tmp/nginx.pid")" 2>/dev/null || true
	[ -n "${cpid:-}" ] && kill "$cpid" 2>/dev/null || true
	pkill -f "$tmp/bare" 2>/dev/null || true
	sleep 0.3
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

cc -O2 -o "$tmp/bare" "$top/tests/bench/bare.c" -lfcgi
"$tmp/bare" "$tmp/bare.sock" "$workers" &
cat > "$tmp/cubby.conf" <<CONF
listen = unix:$tmp/cubby.sock
listen_mode = 0666
data_dir = $tmp/data
workers = $workers
log_level = warn
access_log = ${CUBBY_BENCH_ACCESS_LOG:-on}
CONF
CUBBY_CONFIG=$tmp/cubby.conf "$top/build/cubbyctl" init >/dev/null
CUBBY_CONFIG=$tmp/cubby.conf "$top/build/cubby-fcgi" 2>"$tmp/cubby.log" &
cpid=$!
sleep 0.5
chmod 666 "$tmp/bare.sock"

cp /etc/nginx/fastcgi_params "$tmp/"
loc() {  # loc socket keepalive
	if [ "$2" = on ]; then
		echo "location / { include fastcgi_params; fastcgi_param REQUEST_URI \$request_uri; fastcgi_pass up_$1; fastcgi_keep_conn on; }"
	else
		echo "location / { include fastcgi_params; fastcgi_param REQUEST_URI \$request_uri; fastcgi_pass unix:$tmp/$1.sock; fastcgi_keep_conn off; }"
	fi
}
cat > "$tmp/nginx.conf" <<CONF
worker_processes 1; pid $tmp/nginx.pid; error_log $tmp/nginx.err warn;
events { worker_connections 4096; }
http { access_log off;
  client_body_temp_path $tmp/cb; fastcgi_temp_path $tmp/ft; proxy_temp_path $tmp/pt;
  uwsgi_temp_path $tmp/ut; scgi_temp_path $tmp/st;
  upstream up_cubby { server unix:$tmp/cubby.sock; keepalive $workers; }
  upstream up_bare  { server unix:$tmp/bare.sock;  keepalive $workers; }
  server { listen 127.0.0.1:18181; $(loc cubby off) }
  server { listen 127.0.0.1:18182; $(loc bare off) }
  server { listen 127.0.0.1:18183; $(loc cubby on) }
  server { listen 127.0.0.1:18184; $(loc bare on) }
}
CONF
nginx -p "$tmp" -c "$tmp/nginx.conf"
sleep 0.3
for p in 18181 18182 18183 18184; do
	curl -sf "http://127.0.0.1:$p/health" >/dev/null || { echo "port $p not answering"; cat "$tmp/nginx.err"; exit 1; }
done

# run port -> "rate p50ms p99ms non2xx"
run() {
	wrk -t2 -c$conns -d"${secs}s" --latency "http://127.0.0.1:$1/health" > "$tmp/wrk.out" 2>&1
	awk '
	function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
	/Requests\/sec/ { rate=$2 }
	/^ +50%/ { p50=ms($2) } /^ +99%/ { p99=ms($2) }
	/Non-2xx/ { bad=$4 } /Socket errors/ { bad = bad "+sock" }
	END { printf "%.0f %.2f %.2f %s\n", rate, p50, p99, (bad==""?0:bad) }' "$tmp/wrk.out"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "GET /health through nginx, $conns connections, $workers workers each, ${secs}s x $rounds rounds (alternating)"
for mode in off on; do
	if [ $mode = off ]; then cp=18181; bp=18182; else cp=18183; bp=18184; fi
	: > "$tmp/c.txt"; : > "$tmp/b.txt"
	i=0
	while [ $i -lt "$rounds" ]; do
		run $bp >> "$tmp/b.txt"
		run $cp >> "$tmp/c.txt"
		i=$((i + 1))
	done
	crate=$(cut -d' ' -f1 "$tmp/c.txt" | median); brate=$(cut -d' ' -f1 "$tmp/b.txt" | median)
	cp50=$(cut -d' ' -f2 "$tmp/c.txt" | median); cp99=$(cut -d' ' -f3 "$tmp/c.txt" | median)
	bp50=$(cut -d' ' -f2 "$tmp/b.txt" | median); bp99=$(cut -d' ' -f3 "$tmp/b.txt" | median)
	cbad=$(cut -d' ' -f4 "$tmp/c.txt" | tr '\n' ' '); bbad=$(cut -d' ' -f4 "$tmp/b.txt" | tr '\n' ' ')
	ratio=$(awk -v a="$crate" -v b="$brate" 'BEGIN { printf "%.2f", a / b }')
	echo "fastcgi_keep_conn $mode:"
	echo "  bare   $brate req/s  p50 ${bp50} ms  p99 ${bp99} ms  non-2xx: $bbad"
	echo "  cubby  $crate req/s  p50 ${cp50} ms  p99 ${cp99} ms  non-2xx: $cbad"
	echo "  ratio cubby/bare = $ratio"
done
