# lib.sh - shared by the benchmarks: a Cubby pool and nginx in a temp dir,
# wrk runs and their parsing. Sourced, not run. Loopback only.
top=$(cd "$(dirname "$0")/../.." && pwd)
PATH=$PATH:/usr/sbin
conns=${CONNS:-32}
workers=${WORKERS:-$(nproc)}

bench_init() {
	[ -x "$top/build/cubby-fcgi" ] || { echo "build first: make -C build (contrib/dev.sh serve builds it)"; exit 1; }
	if ldd "$top/build/cubby-fcgi" | grep -q asan; then
		echo "build/ is a sanitizer build; benchmark an optimised one"; exit 1
	fi
	tmp=$(mktemp -d /tmp/cubby-bench-XXXXXX)
	chmod 755 "$tmp"
	trap bench_cleanup EXIT INT TERM
	cp /etc/nginx/fastcgi_params "$tmp/"
}

bench_cleanup() {
	[ -f "$tmp/nginx.pid" ] && kill "$(cat "$tmp/nginx.pid")" 2>/dev/null || true
	[ -n "${cpid:-}" ] && kill "$cpid" 2>/dev/null || true
	pkill -f "$tmp/bare" 2>/dev/null || true
	sleep 0.3
	rm -rf "$tmp"
}

# Start the pool on $tmp/cubby.sock with the shipped defaults.
start_cubby() {
	cat > "$tmp/cubby.conf" <<CONF
listen = unix:$tmp/cubby.sock
listen_mode = 0666
data_dir = $tmp/data
workers = $workers
log_level = warn
access_log = ${CUBBY_BENCH_ACCESS_LOG:-on}
${CUBBY_BENCH_EXTRA:-}
CONF
	CUBBY_CONFIG=$tmp/cubby.conf "$top/build/cubbyctl" init > "$tmp/init.out"
	CUBBY_CONFIG=$tmp/cubby.conf "$top/build/cubby-fcgi" 2>"$tmp/cubby.log" &
	cpid=$!
	sleep 0.5
}

# fastcgi location for a socket name, keep_conn off or on
nginx_location() {
	if [ "$2" = on ]; then
		echo "location / { include fastcgi_params; fastcgi_param REQUEST_URI \$request_uri; fastcgi_pass up_$1; fastcgi_keep_conn on; }"
	else
		echo "location / { include fastcgi_params; fastcgi_param REQUEST_URI \$request_uri; fastcgi_pass unix:$tmp/$1.sock; fastcgi_keep_conn off; }"
	fi
}

# start_nginx "port:socket:keepconn" ...
start_nginx() {
	{
		echo "worker_processes 1; pid $tmp/nginx.pid; error_log $tmp/nginx.err warn;"
		echo "events { worker_connections 4096; }"
		echo "http { access_log off; client_max_body_size 0;"
		echo "  client_body_temp_path $tmp/cb; fastcgi_temp_path $tmp/ft; proxy_temp_path $tmp/pt;"
		echo "  uwsgi_temp_path $tmp/ut; scgi_temp_path $tmp/st;"
		for s in $(printf '%s\n' "$@" | cut -d: -f2 | sort -u); do
			echo "  upstream up_$s { server unix:$tmp/$s.sock; keepalive $workers; }"
		done
		for spec in "$@"; do
			port=${spec%%:*}; rest=${spec#*:}
			echo "  server { listen 127.0.0.1:$port; $(nginx_location "${rest%%:*}" "${rest#*:}") }"
		done
		echo "}"
	} > "$tmp/nginx.conf"
	nginx -p "$tmp" -c "$tmp/nginx.conf"
	sleep 0.3
}

# wrk_run URL [lua-script] -> "rate p50ms p99ms non2xx total"
wrk_run() {
	secs=${secs:-8}
	if [ -n "${2:-}" ]; then
		wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$2" "$1" > "$tmp/wrk.out" 2>&1
	else
		wrk -t2 -c"$conns" -d"${secs}s" --latency "$1" > "$tmp/wrk.out" 2>&1
	fi
	awk '
	function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
	/Requests\/sec/ { rate=$2 }
	/^ +50%/ { p50=ms($2) } /^ +99%/ { p99=ms($2) }
	/Non-2xx/ { bad=$4 } /Socket errors/ { bad = bad "+sock" }
	/ requests in / { total=$1 }
	END { printf "%.0f %.2f %.2f %s %d\n", rate, p50, p99, (bad==""?0:bad), total }' "$tmp/wrk.out"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# col FILE N -> median of column N
col() { cut -d' ' -f"$2" "$1" | median; }

# multipart_upload BASE KEY FILE SIZE PART -> seconds taken; the asset id
# in $tmp/mp.id. Uploads FILE as an asset: create, presign every part,
# PUT 4 parts at a time (split from FILE into $tmp/mp.parts/), complete.
multipart_upload() {
	mkdir -p "$tmp/mp.parts"
	[ -f "$tmp/mp.parts/.$(basename "$3").$5" ] || {
		rm -f "$tmp/mp.parts"/p*
		split -b "$5" -d -a 4 "$3" "$tmp/mp.parts/p"
		: > "$tmp/mp.parts/.$(basename "$3").$5"
	}
	start=$(date +%s.%N)
	c=$(curl -sf -X POST "$1/v1/assets" -H "Authorization: Bearer $2" -H 'Content-Type: application/json' \
	    -d "{\"filename\":\"big.bin\",\"size_bytes\":$4,\"part_size\":$5,\"multipart\":true}")
	aid=$(echo "$c" | sed 's/.*"asset":{"id":"\([^"]*\)".*/\1/')
	up=$(echo "$c" | sed 's/.*"upload_id":"\([^"]*\)".*/\1/')
	count=$(echo "$c" | sed 's/.*"part_count":\([0-9]*\).*/\1/')
	n=1
	while [ "$n" -le "$count" ]; do
		u=$(curl -sf -X POST "$1/v1/assets/$aid/parts" -H "Authorization: Bearer $2" \
		    -H 'Content-Type: application/json' -d "{\"upload_id\":\"$up\",\"part_number\":$n}" |
		    sed 's/.*"url":"\([^"]*\)".*/\1/')
		printf '%04d %s\n' $((n - 1)) "$u"
		n=$((n + 1))
	done > "$tmp/mp.urls"
	xargs -P 4 -n 2 sh -c 'curl -sf -o /dev/null -X PUT -T "$0/mp.parts/p$1" "$2"' "$tmp" < "$tmp/mp.urls"
	curl -sf -o "$tmp/mp.done" -X POST "$1/v1/assets/$aid/complete" -H "Authorization: Bearer $2" \
	    -H 'Content-Type: application/json' -d "{\"upload_id\":\"$up\"}"
	grep -q '"status":"active"' "$tmp/mp.done" || { echo "multipart upload failed" >&2; cat "$tmp/mp.done" >&2; exit 1; }
	echo "$aid" > "$tmp/mp.id"
	awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f\n", b - a }'
}
