#!/bin/sh
# s3.sh - blob_backend = s3: a 256 MiB object uploaded (4 parts of 64 MiB,
# one after another) and downloaded through Cubby's presigned URLs, vs the
# same multipart upload and GET done directly against the S3 peer with
# curl --aws-sigv4, alternating rounds. Cubby only signs: the bytes go
# between curl and the store either way. Also reports the pool's CPU time
# per GiB moved via presigned URLs (creating, presigning, completing).
#   tests/bench/s3.sh [rounds] [size-MiB]
# Starts tests/tools/s3-peer.sh (OpenStack Swift's s3api, which checks
# signatures) on ports 19400-19404.
set -eu
. "$(dirname "$0")/lib.sh"
rounds=${1:-3}
mib=${2:-256}
bench_init
peerdir=$tmp/peer
bash "$top/tests/tools/s3-peer.sh" start "$peerdir" 19400 > "$tmp/peer.env"
trap 'bash "$top/tests/tools/s3-peer.sh" stop "$peerdir" >/dev/null 2>&1; bench_cleanup' EXIT INT TERM
. "$tmp/peer.env"
hostport=${S3_ENDPOINT#http://}
s3() {  # s3 METHOD /bucket/key?query [curl args]: signed by curl itself
	m=$1; p=$2; shift 2
	curl -sf --aws-sigv4 "aws:amz:$S3_REGION:s3" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
	    -X "$m" "$@" "http://test%3Atester:$S3_SECRET_KEY@$hostport$p"
}
s3 PUT /bench >/dev/null
CUBBY_BENCH_EXTRA="blob_backend = s3
s3_endpoint = $S3_ENDPOINT
s3_region = $S3_REGION
s3_bucket = bench
s3_access_key = $S3_ACCESS_KEY
s3_secret_key = $S3_SECRET_KEY"
export CUBBY_BENCH_EXTRA
start_cubby
cat > "$tmp/nginx.conf" <<CONF
worker_processes 1; pid $tmp/nginx.pid; error_log $tmp/nginx.err warn;
events { worker_connections 1024; }
http { access_log off; client_max_body_size 0;
  client_body_temp_path $tmp/cb; fastcgi_temp_path $tmp/ft; proxy_temp_path $tmp/pt;
  uwsgi_temp_path $tmp/ut; scgi_temp_path $tmp/st;
  server { listen 127.0.0.1:18321;
    location / { include fastcgi_params; fastcgi_param REQUEST_URI \$request_uri;
      fastcgi_pass unix:$tmp/cubby.sock; fastcgi_keep_conn off; } }
}
CONF
nginx -p "$tmp" -c "$tmp/nginx.conf"
sleep 0.3
base=http://127.0.0.1:18321
admin=$(sed -n 's/^admin key (shown once, store it now): //p' "$tmp/init.out")
key=$(curl -sf -X POST "$base/api/v1/admin/tenants" -H "Authorization: Bearer $admin" \
    -H 'Content-Type: application/json' -d '{"name":"s3","quotaBytes":1099511627776}' |
    sed 's/.*"apiKey":"\([^"]*\)".*/\1/')
size=$((mib * 1048576)); part=$((64 * 1048576)); count=$(( (size + part - 1) / part ))
head -c $size /dev/urandom > "$tmp/body.bin"
mkdir -p "$tmp/parts"
split -b $part -d -a 2 "$tmp/body.bin" "$tmp/parts/p"
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", b - a }'; }
# CPU seconds (user + sys) of the pool: the master and its children.
pool_cpu() {
	for p in $cpid $(pgrep -P "$cpid"); do cat "/proc/$p/stat" 2>/dev/null; done |
	    awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); t += $12 + $13 + $14 + $15 } END { printf "%.3f\n", t / hz }'
}

# Through Cubby: create, presign each part, PUT them (timed), complete;
# then mint the download URL and GET it (timed).
cubby_round() {
	c=$(curl -sf -X POST "$base/v1/assets" -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
	    -d "{\"filename\":\"body.bin\",\"size_bytes\":$size,\"part_size\":$part,\"multipart\":true}")
	aid=$(echo "$c" | sed 's/.*"asset":{"id":"\([^"]*\)".*/\1/')
	up=$(echo "$c" | sed 's/.*"upload_id":"\([^"]*\)".*/\1/')
	n=1; : > "$tmp/urls"
	while [ $n -le $count ]; do
		u=$(curl -sf -X POST "$base/v1/assets/$aid/parts" -H "Authorization: Bearer $key" \
		    -H 'Content-Type: application/json' -d "{\"upload_id\":\"$up\",\"part_number\":$n}" |
		    sed 's/.*"url":"\([^"]*\)".*/\1/')
		printf '%s\n' "$u" >> "$tmp/urls"
		n=$((n + 1))
	done
	t0=$(now); n=0
	while read -r u; do
		curl -sf -o /dev/null -T "$tmp/parts/p$(printf %02d $n)" "$u"
		n=$((n + 1))
	done < "$tmp/urls"
	t1=$(now)
	curl -sf -o "$tmp/done.json" -X POST "$base/v1/assets/$aid/complete" -H "Authorization: Bearer $key" \
	    -H 'Content-Type: application/json' -d "{\"upload_id\":\"$up\"}"
	grep -q '"status":"active"' "$tmp/done.json" || { echo "upload did not complete: $(cat "$tmp/done.json")" >&2; exit 1; }
	url=$(curl -sf "$base/v1/assets/$aid/url" -H "Authorization: Bearer $key" | sed 's/.*"url":"\([^"]*\)".*/\1/')
	t2=$(now)
	curl -sf -o "$tmp/got.bin" "$url"
	t3=$(now)
	cmp -s "$tmp/got.bin" "$tmp/body.bin" || { echo "downloaded bytes differ" >&2; exit 1; }
	curl -sf -o /dev/null -X DELETE "$base/v1/assets/$aid" -H "Authorization: Bearer $key"
	echo "$(secs "$t0" "$t1") $(secs "$t2" "$t3")"
}

# Straight to the store: the same multipart upload signed by curl.
direct_round() {
	k=direct/body.bin
	upid=$(s3 POST "/bench/$k?uploads=" | tr -d '\n' | sed 's/.*<UploadId>\([^<]*\)<.*/\1/')
	t0=$(now); n=1; : > "$tmp/complete.xml"
	printf '<CompleteMultipartUpload>' > "$tmp/complete.xml"
	while [ $n -le $count ]; do
		etag=$(s3 PUT "/bench/$k?partNumber=$n&uploadId=$upid" -T "$tmp/parts/p$(printf %02d $((n - 1)))" -D - -o /dev/null |
		    tr -d '\r' | sed -n 's/^[Ee][Tt]ag: //p')
		printf '<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>' $n "$etag" >> "$tmp/complete.xml"
		n=$((n + 1))
	done
	t1=$(now)
	printf '</CompleteMultipartUpload>' >> "$tmp/complete.xml"
	s3 POST "/bench/$k?uploadId=$upid" --data-binary "@$tmp/complete.xml" > /dev/null
	t2=$(now)
	s3 GET "/bench/$k" -o "$tmp/got.bin"
	t3=$(now)
	cmp -s "$tmp/got.bin" "$tmp/body.bin" || { echo "direct: downloaded bytes differ" >&2; exit 1; }
	s3 DELETE "/bench/$k" > /dev/null
	echo "$(secs "$t0" "$t1") $(secs "$t2" "$t3")"
}

: > "$tmp/t_cubby"; : > "$tmp/t_direct"; i=0
cpu0=$(pool_cpu)
while [ $i -lt "$rounds" ]; do
	direct_round >> "$tmp/t_direct"
	c0=$(pool_cpu)
	cubby_round >> "$tmp/t_cubby"
	c1=$(pool_cpu)
	echo "$c0 $c1" >> "$tmp/cpu"
	i=$((i + 1))
done
mbs() { awk -v s=$size -v t="$1" 'BEGIN { printf "%.0f", s / t / 1048576 }'; }
cu=$(col "$tmp/t_cubby" 1); cd=$(col "$tmp/t_cubby" 2)
du=$(col "$tmp/t_direct" 1); dd=$(col "$tmp/t_direct" 2)
cpu=$(awk '{ s += $2 - $1 } END { printf "%.3f", s }' "$tmp/cpu")
echo "$mib MiB, $count parts of 64 MiB one after another, median of $rounds alternating rounds:"
echo "  upload via Cubby's presigned URLs     $(mbs "$cu") MiB/s   vs curl --aws-sigv4 direct $(mbs "$du") MiB/s   ratio $(awk -v a="$du" -v b="$cu" 'BEGIN { printf "%.2f", a / b }')"
echo "  download via Cubby's presigned URL    $(mbs "$cd") MiB/s   vs curl --aws-sigv4 direct $(mbs "$dd") MiB/s   ratio $(awk -v a="$dd" -v b="$cd" 'BEGIN { printf "%.2f", a / b }')"
echo "  pool CPU (user+sys) for the Cubby rounds: $cpu s for $((rounds * 2 * mib)) MiB moved = $(awk -v c="$cpu" -v m=$((rounds * 2 * mib)) 'BEGIN { printf "%.3f s per GiB", c * 1024 / m }')"
