#!/bin/sh
# assets.sh - the asset API, in one run:
#  - GET /v1/assets?limit=50 and ?search= with 1,000,000 assets vs 1,000
#    (wrk; the search term matches one asset in either library);
#  - a 1 GiB multipart upload (64 MiB parts, 4 in flight) through nginx vs
#    the same bytes through nginx's own WebDAV PUT (alternating rounds):
#    with the shipped snippet's upload locations (request buffering off),
#    and with nginx's default request buffering.
#   tests/bench/assets.sh [rounds] [assets]
set -eu
. "$(dirname "$0")/lib.sh"
rounds=${1:-3}
many=${2:-1000000}
secs=${secs:-5}
bench_init
CUBBY_BENCH_EXTRA="download_offload = auto" start_cubby
mkdir -p "$tmp/dav"
cat > "$tmp/nginx.conf" <<CONF
user root;
worker_processes 1; pid $tmp/nginx.pid; error_log $tmp/nginx.err warn;
events { worker_connections 4096; }
http { access_log off; client_max_body_size 0;
  client_body_temp_path $tmp/cb; fastcgi_temp_path $tmp/ft; proxy_temp_path $tmp/pt;
  uwsgi_temp_path $tmp/ut; scgi_temp_path $tmp/st;
  server { listen 127.0.0.1:18301;
    location /v1/uploads/ { include fastcgi_params; fastcgi_param REQUEST_URI \$request_uri;
      fastcgi_pass unix:$tmp/cubby.sock; fastcgi_keep_conn off; fastcgi_request_buffering off; fastcgi_read_timeout 600s; }
    location /_internal/upload/ { include fastcgi_params; fastcgi_param REQUEST_URI \$request_uri;
      fastcgi_pass unix:$tmp/cubby.sock; fastcgi_keep_conn off; fastcgi_request_buffering off; fastcgi_read_timeout 600s; }
    location / { include fastcgi_params; fastcgi_param REQUEST_URI \$request_uri;
      fastcgi_pass unix:$tmp/cubby.sock; fastcgi_keep_conn off; fastcgi_read_timeout 600s; } }
  server { listen 127.0.0.1:18303;
    location / { include fastcgi_params; fastcgi_param REQUEST_URI \$request_uri;
      fastcgi_pass unix:$tmp/cubby.sock; fastcgi_keep_conn off; fastcgi_read_timeout 600s; } }
  server { listen 127.0.0.1:18302;
    location /dav/ { root $tmp; dav_methods PUT; create_full_put_path on; } }
}
CONF
nginx -p "$tmp" -c "$tmp/nginx.conf"
sleep 0.3
base=http://127.0.0.1:18301
admin=$(sed -n 's/^admin key (shown once, store it now): //p' "$tmp/init.out")
mk() {  # name -> "id key"
	j=$(curl -sf -X POST "$base/api/v1/admin/tenants" -H "Authorization: Bearer $admin" \
	    -H 'Content-Type: application/json' -d "{\"name\":\"$1\",\"quotaBytes\":1099511627776}")
	echo "$(echo "$j" | sed 's/.*"id":"\([^"]*\)".*/\1/') $(echo "$j" | sed 's/.*"apiKey":"\([^"]*\)".*/\1/')"
}
set -- $(mk small); sid=$1; skey=$2
set -- $(mk big); bid=$1; bkey=$2

# Fixture rows made with SQL (the search index fills through its triggers).
fill() {  # tenant count marker
	sqlite3 "$tmp/data/cubby.db" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $2)
	  INSERT INTO objects (id, tenant_id, name, content_type, size_bytes, reserved_bytes, state,
	    processing_status, created_at, updated_at, kind, labels)
	  SELECT printf('%08x-%04x-4000-8000-%012x', i, $3, i), '$1', printf('clip-%d.mov', i),
	    'video/quicktime', 10, 10, 'completed', 'completed', 1700000000000 + i,
	    1700000000000 + i, 'video', '[\"raw\",\"drone\"]' FROM n;
	  UPDATE tenants SET file_count = file_count + $2 WHERE id = '$1';"
}
for who in small big; do
	k=$skey; [ $who = big ] && k=$bkey
	printf 'wrk.headers["Authorization"] = "Bearer %s"\n' "$k" > "$tmp/$who.lua"
done
q50="?limit=50"; qs="?limit=50&search=clip-777.mov"
measure() {  # who tag
	: > "$tmp/l_$2"; : > "$tmp/q_$2"; i=0
	while [ $i -lt 3 ]; do
		wrk_run "$base/v1/assets$q50" "$tmp/$1.lua" >> "$tmp/l_$2"
		wrk_run "$base/v1/assets$qs" "$tmp/$1.lua" >> "$tmp/q_$2"
		i=$((i + 1))
	done
	for f in "l_$2" "q_$2"; do
		[ "$(col "$tmp/$f" 4)" = 0 ] || { echo "non-2xx answers in $f" >&2; exit 1; }
	done
}
# First the database holds 1,000 assets; then another tenant gets $many,
# so the second measurement pays for a database (and a search index) of
# that size.
fill "$sid" 1000 1
measure small s
t0=$(date +%s)
fill "$bid" "$many" 2
echo "fixture: $many assets in $(( $(date +%s) - t0 )) s"
# The jobs worker merges the search index's segments in the background
# (asset_search_merge); measure the state it leaves, and say how long it took.
t0=$(date +%s)
while [ "$(sqlite3 "$tmp/data/cubby.db" 'SELECT count(DISTINCT segid) FROM asset_search_idx')" -gt 10 ] &&
    [ $(( $(date +%s) - t0 )) -lt 300 ]; do
	sleep 1
done
echo "search index: $(sqlite3 "$tmp/data/cubby.db" 'SELECT count(DISTINCT segid) FROM asset_search_idx') segments after $(( $(date +%s) - t0 )) s of background merging"
measure big b
echo "GET /v1/assets, $conns connections, median of 3 rounds each:"
for q in l q; do
	what=$q50; [ $q = q ] && what=$qs
	rs=$(col "$tmp/${q}_s" 1); rb=$(col "$tmp/${q}_b" 1)
	echo "  $what  1,000 assets: $rs req/s p99 $(col "$tmp/${q}_s" 3) ms   $many assets: $rb req/s p99 $(col "$tmp/${q}_b" 3) ms   cost ratio $(awk -v a="$rs" -v b="$rb" 'BEGIN { printf "%.2f", a / b }')"
done

# 1 GiB multipart upload, 64 MiB parts, 4 in flight, vs one WebDAV PUT.
size=1073741824; part=67108864
head -c $size /dev/urandom > "$tmp/body.bin"
upload_cubby() {  # base URL
	t=$(multipart_upload "$1" "$skey" "$tmp/body.bin" $size $part)
	curl -sf -o /dev/null -X DELETE "$1/v1/assets/$(cat "$tmp/mp.id")" -H "Authorization: Bearer $skey"
	echo "$t"
}
: > "$tmp/up_c"; : > "$tmp/up_u"; : > "$tmp/up_d"; i=0
while [ $i -lt "$rounds" ]; do
	curl -sf -o /dev/null -w '%{time_total}\n' -T "$tmp/body.bin" "http://127.0.0.1:18302/dav/f" >> "$tmp/up_d"
	rm -f "$tmp/dav/f"
	upload_cubby http://127.0.0.1:18301 >> "$tmp/up_c"
	upload_cubby http://127.0.0.1:18303 >> "$tmp/up_u"
	i=$((i + 1))
done
mbs() { awk -v s=$size -v t="$1" 'BEGIN { printf "%.0f", s / t / 1048576 }'; }
t=$(median < "$tmp/up_c"); u=$(median < "$tmp/up_u"); d=$(median < "$tmp/up_d")
echo "1 GiB through nginx, median of $rounds alternating rounds (16 x 64 MiB parts, 4 in flight, create/presign/complete included):"
echo "  nginx WebDAV PUT $(mbs "$d") MiB/s"
echo "  cubby multipart, shipped snippet (upload paths unbuffered) $(mbs "$t") MiB/s   ratio $(awk -v a="$d" -v b="$t" 'BEGIN { printf "%.2f", a / b }')"
echo "  cubby multipart, nginx's default request buffering $(mbs "$u") MiB/s   ratio $(awk -v a="$d" -v b="$u" 'BEGIN { printf "%.2f", a / b }')"
