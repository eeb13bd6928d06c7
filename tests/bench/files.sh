#!/bin/sh
# files.sh - the file API against nginx doing the same work itself, in one
# run (alternating rounds), through the same nginx:
#  - upload: PUT of a 100 MiB body (the file API's largest) to a presigned
#    URL vs nginx's WebDAV PUT;
#  - upload of 256 MiB (4 parts of 64 MiB in flight, the asset API's
#    multipart: the same core and blob store) vs nginx's WebDAV PUT, with
#    the shipped snippet's upload locations (request buffering off) and
#    with nginx's default request buffering;
#  - download of a 1 GiB object through the file API: X-Accel-Redirect vs
#    nginx serving the file statically, and the same download streamed
#    through FastCGI;
#  - GET /api/v1/files?limit=50 with 100,000 files vs 1,000 (wrk).
#   tests/bench/files.sh [rounds]
set -eu
. "$(dirname "$0")/lib.sh"
rounds=${1:-5}
secs=${secs:-5}
bench_init
size=104857600
head -c $size /dev/urandom > "$tmp/body.bin"
mkdir -p "$tmp/dav" "$tmp/static"

CUBBY_BENCH_EXTRA="download_offload = auto" start_cubby
cat > "$tmp/nginx.conf" <<CONF
user root;
worker_processes 1; pid $tmp/nginx.pid; error_log $tmp/nginx.err warn;
events { worker_connections 4096; }
http { access_log off; client_max_body_size 0; sendfile on;
  client_body_temp_path $tmp/cb; fastcgi_temp_path $tmp/ft; proxy_temp_path $tmp/pt;
  uwsgi_temp_path $tmp/ut; scgi_temp_path $tmp/st;
  server { listen 127.0.0.1:18201;
    location /_cubby_blobs/ { internal; alias $tmp/data/blobs/; }
    location /v1/uploads/ { include fastcgi_params; fastcgi_param REQUEST_URI \$request_uri;
      fastcgi_pass unix:$tmp/cubby.sock; fastcgi_keep_conn off; fastcgi_request_buffering off; fastcgi_read_timeout 600s; }
    location /_internal/upload/ { include fastcgi_params; fastcgi_param REQUEST_URI \$request_uri;
      fastcgi_pass unix:$tmp/cubby.sock; fastcgi_keep_conn off; fastcgi_request_buffering off; fastcgi_read_timeout 600s; }
    location / { include fastcgi_params; fastcgi_param REQUEST_URI \$request_uri;
      fastcgi_pass unix:$tmp/cubby.sock; fastcgi_keep_conn off; } }
  server { listen 127.0.0.1:18204;
    location / { include fastcgi_params; fastcgi_param REQUEST_URI \$request_uri;
      fastcgi_pass unix:$tmp/cubby.sock; fastcgi_keep_conn off; } }
  server { listen 127.0.0.1:18203;
    location / { fastcgi_param SERVER_SOFTWARE streamed; include fastcgi_params;
      fastcgi_param REQUEST_URI \$request_uri; fastcgi_pass unix:$tmp/cubby.sock; } }
  server { listen 127.0.0.1:18202;
    location /dav/ { root $tmp; dav_methods PUT; create_full_put_path on; }
    location /static/ { alias $tmp/static/; } }
}
CONF
nginx -p "$tmp" -c "$tmp/nginx.conf"
sleep 0.3
base=http://127.0.0.1:18201
admin=$(sed -n 's/^admin key (shown once, store it now): //p' "$tmp/init.out")
tenant_json=$(curl -sf -X POST "$base/api/v1/admin/tenants" -H "Authorization: Bearer $admin" \
    -H 'Content-Type: application/json' -d '{"name":"bench","quotaBytes":1099511627776}')
key=$(echo "$tenant_json" | sed 's/.*"apiKey":"\([^"]*\)".*/\1/')
tid=$(echo "$tenant_json" | sed 's/.*"id":"\([^"]*\)".*/\1/')

upload_cubby() {  # base URL
	url=$(curl -sf -X POST "$1/api/v1/upload/request" -H "Authorization: Bearer $key" \
	    -H 'Content-Type: application/json' -d '{"fileType":"application/pdf","fileName":"b.pdf"}' |
	    sed 's/.*"presignedUrl":"\([^"]*\)".*/\1/')
	curl -sf -o "$tmp/put.json" -w '%{time_total}\n' -X PUT "$1$url" \
	    -H 'Content-Type: application/pdf' -T "$tmp/body.bin"
}
: > "$tmp/up_c"; : > "$tmp/up_u"; : > "$tmp/up_d"; i=0
while [ $i -lt "$rounds" ]; do
	curl -sf -o /dev/null -w '%{time_total}\n' -T "$tmp/body.bin" "http://127.0.0.1:18202/dav/f$i" >> "$tmp/up_d"
	upload_cubby "$base" >> "$tmp/up_c"
	upload_cubby http://127.0.0.1:18204 >> "$tmp/up_u"
	i=$((i + 1))
done
mbs() { awk -v s="$2" -v t="$1" 'BEGIN { printf "%.0f", s / t / 1048576 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "median of $rounds alternating rounds, through nginx:"
t=$(median < "$tmp/up_c"); u=$(median < "$tmp/up_u"); d=$(median < "$tmp/up_d")
echo "  upload 100 MiB: nginx WebDAV PUT $(mbs "$d" $size) MiB/s"
echo "    cubby presigned PUT, shipped snippet (upload paths unbuffered) $(mbs "$t" $size) MiB/s   ratio $(ratio "$d" "$t")"
echo "    the same with nginx's default request buffering $(mbs "$u" $size) MiB/s   ratio $(ratio "$d" "$u")"

# 256 MiB through the multipart path (4 x 64 MiB in flight) vs WebDAV.
big=268435456
head -c $big /dev/urandom > "$tmp/big.bin"
: > "$tmp/mp_18201"; : > "$tmp/mp_18204"; : > "$tmp/mp_d"; i=0
while [ $i -lt "$rounds" ]; do
	curl -sf -o /dev/null -w '%{time_total}\n' -T "$tmp/big.bin" "http://127.0.0.1:18202/dav/big" >> "$tmp/mp_d"
	rm -f "$tmp/dav/big"
	for port in 18201 18204; do
		multipart_upload "http://127.0.0.1:$port" "$key" "$tmp/big.bin" $big 67108864 >> "$tmp/mp_$port"
		curl -sf -o /dev/null -X DELETE "$base/v1/assets/$(cat "$tmp/mp.id")" -H "Authorization: Bearer $key"
	done
	i=$((i + 1))
done
d=$(median < "$tmp/mp_d"); c=$(median < "$tmp/mp_18201"); u=$(median < "$tmp/mp_18204")
echo "  upload 256 MiB: nginx WebDAV PUT $(mbs "$d" $big) MiB/s"
echo "    cubby multipart, 4 x 64 MiB in flight, shipped snippet (upload paths unbuffered) $(mbs "$c" $big) MiB/s   ratio $(ratio "$d" "$c")"
echo "    the same with nginx's default request buffering $(mbs "$u" $big) MiB/s   ratio $(ratio "$d" "$u")"
rm -f "$tmp/big.bin"; rm -rf "$tmp/mp.parts"

# Downloads of a 1 GiB object (uploaded as an asset, read through the file
# API by its UUID) vs nginx serving the same file statically.
gib=1073741824
head -c $gib /dev/urandom > "$tmp/static/gib.bin"
multipart_upload "$base" "$key" "$tmp/static/gib.bin" $gib 67108864 > /dev/null
rm -rf "$tmp/mp.parts"
hexid=$(sed 's/^ast_//' "$tmp/mp.id")
fid=$(echo "$hexid" | sed 's/^\(.\{8\}\)\(.\{4\}\)\(.\{4\}\)\(.\{4\}\)\(.\{12\}\)$/\1-\2-\3-\4-\5/')
: > "$tmp/dl_x"; : > "$tmp/dl_s"; : > "$tmp/dl_f"; i=0
while [ $i -lt "$rounds" ]; do
	curl -sf -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:18202/static/gib.bin" >> "$tmp/dl_s"
	curl -sf -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $key" "$base/api/v1/files/$fid/download" >> "$tmp/dl_x"
	curl -sf -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $key" "http://127.0.0.1:18203/api/v1/files/$fid/download" >> "$tmp/dl_f"
	i=$((i + 1))
done
x=$(median < "$tmp/dl_x"); s=$(median < "$tmp/dl_s"); f=$(median < "$tmp/dl_f")
echo "  download 1 GiB: X-Accel-Redirect $(mbs "$x" $gib) MiB/s   nginx static $(mbs "$s" $gib) MiB/s   ratio $(ratio "$s" "$x")"
echo "    streamed through FastCGI $(mbs "$f" $gib) MiB/s   ratio to static $(ratio "$s" "$f")"

# Listing: two tenants, 1,000 and 100,000 completed files (rows made with
# SQL: this is a fixture, not an upload benchmark).
small=$(curl -sf -X POST "$base/api/v1/admin/tenants" -H "Authorization: Bearer $admin" \
    -H 'Content-Type: application/json' -d '{"name":"small"}')
skey=$(echo "$small" | sed 's/.*"apiKey":"\([^"]*\)".*/\1/'); sid=$(echo "$small" | sed 's/.*"id":"\([^"]*\)".*/\1/')
fill() {  # tenant count marker
	sqlite3 "$tmp/data/cubby.db" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $2)
	  INSERT INTO objects (id, tenant_id, name, content_type, size_bytes, reserved_bytes, state,
	    processing_status, created_at, updated_at)
	  SELECT printf('%08x-%04x-4000-8000-%012x', i, $3, i), '$1', 'f.png', 'image/png', 10, 10,
	    'completed', 'completed', 1700000000000 + i, 1700000000000 + i FROM n;
	  UPDATE tenants SET file_count = file_count + $2 WHERE id = '$1';"
}
fill "$sid" 1000 1
fill "$tid" 100000 2
cat > "$tmp/small.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $skey"
LUA
cat > "$tmp/big.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $key"
LUA
: > "$tmp/ls_s"; : > "$tmp/ls_b"; i=0
while [ $i -lt 3 ]; do
	wrk_run "$base/api/v1/files?limit=50" "$tmp/small.lua" >> "$tmp/ls_s"
	wrk_run "$base/api/v1/files?limit=50" "$tmp/big.lua" >> "$tmp/ls_b"
	i=$((i + 1))
done
rs=$(col "$tmp/ls_s" 1); rb=$(col "$tmp/ls_b" 1)
echo "GET /api/v1/files?limit=50, $conns connections, median of 3 rounds:"
echo "  1,000 files   $rs req/s  p50 $(col "$tmp/ls_s" 2) ms  p99 $(col "$tmp/ls_s" 3) ms"
echo "  100,000 files $rb req/s  p50 $(col "$tmp/ls_b" 2) ms  p99 $(col "$tmp/ls_b" 3) ms"
echo "  cost ratio (100k / 1k) = $(awk -v a="$rs" -v b="$rb" 'BEGIN { printf "%.2f", a / b }')"
