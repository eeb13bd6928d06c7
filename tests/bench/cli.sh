#!/bin/sh
# cli.sh - `cubby upload` of a 1 GiB file vs `curl -T` of the same bytes to
# the same kind of presigned part URLs, through nginx with the shipped
# upload locations (request buffering off), alternating rounds.
#   tests/bench/cli.sh [rounds] [size-MiB]      (needs /usr/bin/time)
# The curl side is timed from its first part to its last (its asset,
# presigned URLs and part files are made beforehand, untimed); the cubby
# side is the whole command: create, presign, parts, complete. Also
# reports cubby's CPU time per GiB.
set -eu
. "$(dirname "$0")/lib.sh"
rounds=${1:-3}
mib=${2:-1024}
bench_init
[ -x "$top/build/cubby" ] || { echo "build first: make -C build"; exit 1; }
start_cubby
cat > "$tmp/nginx.conf" <<CONF
worker_processes 1; pid $tmp/nginx.pid; error_log $tmp/nginx.err warn;
events { worker_connections 4096; }
http { access_log off; client_max_body_size 0;
  client_body_temp_path $tmp/cb; fastcgi_temp_path $tmp/ft; proxy_temp_path $tmp/pt;
  uwsgi_temp_path $tmp/ut; scgi_temp_path $tmp/st;
  server { listen 127.0.0.1:18311;
    location /v1/uploads/ { include fastcgi_params; fastcgi_param REQUEST_URI \$request_uri;
      fastcgi_pass unix:$tmp/cubby.sock; fastcgi_keep_conn off; fastcgi_request_buffering off; fastcgi_read_timeout 600s; }
    location / { include fastcgi_params; fastcgi_param REQUEST_URI \$request_uri;
      fastcgi_pass unix:$tmp/cubby.sock; fastcgi_keep_conn off; fastcgi_read_timeout 600s; } }
}
CONF
nginx -p "$tmp" -c "$tmp/nginx.conf"
sleep 0.3
base=http://127.0.0.1:18311
admin=$(sed -n 's/^admin key (shown once, store it now): //p' "$tmp/init.out")
key=$(curl -sf -X POST "$base/api/v1/admin/tenants" -H "Authorization: Bearer $admin" \
    -H 'Content-Type: application/json' -d '{"name":"cli","quotaBytes":1099511627776}' |
    sed 's/.*"apiKey":"\([^"]*\)".*/\1/')
size=$((mib * 1048576)); part=8388608
head -c $size /dev/urandom > "$tmp/body.bin"
mkdir -p "$tmp/parts"
split -b $part -d -a 4 "$tmp/body.bin" "$tmp/parts/p"

# curl_round 1: one curl, every part in turn on one kept connection;
# curl_round 4: four curls at a time (xargs -P 4), one part each.
curl_round() {
	c=$(curl -sf -X POST "$base/v1/assets" -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
	    -d "{\"filename\":\"body.bin\",\"size_bytes\":$size,\"part_size\":$part,\"multipart\":true}")
	aid=$(echo "$c" | sed 's/.*"asset":{"id":"\([^"]*\)".*/\1/')
	up=$(echo "$c" | sed 's/.*"upload_id":"\([^"]*\)".*/\1/')
	count=$(echo "$c" | sed 's/.*"part_count":\([0-9]*\).*/\1/')
	: > "$tmp/curl.args"; n=1
	while [ "$n" -le "$count" ]; do
		u=$(curl -sf -X POST "$base/v1/assets/$aid/parts" -H "Authorization: Bearer $key" \
		    -H 'Content-Type: application/json' -d "{\"upload_id\":\"$up\",\"part_number\":$n}" |
		    sed 's/.*"url":"\([^"]*\)".*/\1/')
		printf '%s/parts/p%04d %s\n' "$tmp" $((n - 1)) "$u" >> "$tmp/curl.args"
		n=$((n + 1))
	done
	start=$(date +%s.%N)
	if [ "$1" = 1 ]; then
		# shellcheck disable=SC2046
		curl -sf $(sed 's/^\([^ ]*\) \(.*\)$/-T \1 \2 -o \/dev\/null/' "$tmp/curl.args")
	else
		xargs -P "$1" -n 2 sh -c 'curl -sf -o /dev/null -T "$0" "$1"' < "$tmp/curl.args"
	fi
	end=$(date +%s.%N)
	curl -sf -o "$tmp/done.json" -X POST "$base/v1/assets/$aid/complete" -H "Authorization: Bearer $key" \
	    -H 'Content-Type: application/json' -d "{\"upload_id\":\"$up\"}"
	grep -q '"status":"active"' "$tmp/done.json" || { echo "curl upload did not complete" >&2; exit 1; }
	curl -sf -o /dev/null -X DELETE "$base/v1/assets/$aid" -H "Authorization: Bearer $key"
	awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f\n", b - a }'
}

cubby_round() {
	/usr/bin/time -f '%e %U %S' -o "$tmp/time.out" env CUBBY_BASE_URL=$base CUBBY_API_KEY=$key \
	    CUBBY_CONFIG=$tmp/none.json "$top/build/cubby" upload "$tmp/body.bin" --json "$@" > "$tmp/up.json"
	aid=$(sed 's/.*"id":"\([^"]*\)".*/\1/' "$tmp/up.json")
	curl -sf -o /dev/null -X DELETE "$base/v1/assets/$aid" -H "Authorization: Bearer $key"
	cat "$tmp/time.out"
}

: > "$tmp/t_curl"; : > "$tmp/t_curl4"; : > "$tmp/t_cubby"; : > "$tmp/t_hash"; i=0
while [ $i -lt "$rounds" ]; do
	curl_round 1 >> "$tmp/t_curl"
	curl_round 4 >> "$tmp/t_curl4"
	cubby_round >> "$tmp/t_cubby"
	cubby_round --hash >> "$tmp/t_hash"
	i=$((i + 1))
done
mbs() { awk -v s=$size -v t="$1" 'BEGIN { printf "%.0f", s / t / 1048576 }'; }
tc=$(median < "$tmp/t_curl"); t4=$(median < "$tmp/t_curl4"); tb=$(col "$tmp/t_cubby" 1)
cpu=$(awk '{ print $2 + $3 }' "$tmp/t_cubby" | median)
th=$(col "$tmp/t_hash" 1); cpuh=$(awk '{ print $2 + $3 }' "$tmp/t_hash" | median)
echo "$mib MiB through nginx, 8 MiB parts, median of $rounds alternating rounds:"
echo "  curl -T, one connection, part after part   $(mbs "$tc") MiB/s"
echo "  curl -T, 4 at a time (xargs -P 4)         $(mbs "$t4") MiB/s"
echo "  cubby upload (4 parts in flight, no hash)  $(mbs "$tb") MiB/s   ratio $(awk -v a="$tc" -v b="$tb" 'BEGIN { printf "%.2f", a / b }') vs one curl, $(awk -v a="$t4" -v b="$tb" 'BEGIN { printf "%.2f", a / b }') vs four"
echo "  cubby upload --hash (SHA-256 per part, checked by the server)  $(mbs "$th") MiB/s   ratio $(awk -v a="$tc" -v b="$th" 'BEGIN { printf "%.2f", a / b }') vs one curl"
echo "  cubby CPU time (user+sys): $(awk -v c="$cpu" -v m=$mib 'BEGIN { printf "%.2f s per GiB", c * 1024 / m }'), with --hash $(awk -v c="$cpuh" -v m=$mib 'BEGIN { printf "%.2f s per GiB", c * 1024 / m }')"
