#!/bin/sh
# media.sh - thumbnails per second for a batch of 12-megapixel JPEGs
# (4000 x 3000) through Cubby's processor, end to end: the batch is
# uploaded through nginx, then every asset is reprocessed at once and
# timed until the last one is done (the jobs worker's processors make a
# 320 px WebP thumbnail and a 1600 px JPEG preview of each). In the same
# run, alternating rounds, the vipsthumbnail command on the same files:
#  - a 320 px thumbnail of each (what the issue compares with);
#  - both outputs (a 1600 px JPEG and a 320 px WebP run), the same work.
# Also the peak RSS (VmHWM) of the jobs worker and of its processors.
# PREVIEW=0 runs Cubby with preview_size = 0 (thumbnails only, the same
# work as the first vipsthumbnail column).
#   tests/bench/media.sh [rounds] [files]
set -eu
. "$(dirname "$0")/lib.sh"
rounds=${1:-3}
n=${2:-24}
command -v vipsthumbnail >/dev/null || { echo "needs vipsthumbnail (Debian libvips-tools)"; exit 1; }
bench_init
[ "${PREVIEW:-1600}" = 1600 ] || CUBBY_BENCH_EXTRA="preview_size = $PREVIEW"
export CUBBY_BENCH_EXTRA
start_cubby
start_nginx "18401:cubby:off"
base=http://127.0.0.1:18401
admin=$(sed -n 's/^admin key (shown once, store it now): //p' "$tmp/init.out")
key=$(curl -sf -X POST "$base/api/v1/admin/tenants" -H "Authorization: Bearer $admin" \
    -H 'Content-Type: application/json' -d '{"name":"media"}' | sed 's/.*"apiKey":"\([^"]*\)".*/\1/')

# A photo-like 12 MP JPEG (smooth noise, a few MiB at quality 90), copied.
mkdir -p "$tmp/in" "$tmp/out"
vips gaussnoise "$tmp/n.v" 4000 3000 --sigma 60 --mean 128
vips gaussblur "$tmp/n.v" "$tmp/b.v" 1.5
vips cast "$tmp/b.v" "$tmp/c.v" uchar
vips bandjoin "$tmp/c.v $tmp/c.v $tmp/c.v" "$tmp/rgb.v"
vips colourspace "$tmp/rgb.v" "$tmp/photo.jpg[Q=90]" srgb
i=1
while [ "$i" -le "$n" ]; do cp "$tmp/photo.jpg" "$tmp/in/p$i.jpg"; i=$((i + 1)); done
size=$(stat -c %s "$tmp/photo.jpg")

# The batch, uploaded once (not timed).
ids=""
i=1
while [ "$i" -le "$n" ]; do
	j=$(curl -sf -X POST "$base/v1/assets" -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
	    -d "{\"filename\":\"p$i.jpg\",\"content_type\":\"image/jpeg\",\"size_bytes\":$size}")
	id=$(echo "$j" | sed 's/.*"asset":{"id":"\([^"]*\)".*/\1/')
	url=$(echo "$j" | sed 's/.*"upload":{[^}]*"url":"\([^"]*\)".*/\1/')
	curl -sf -o /dev/null -X PUT -H 'Content-Type: image/jpeg' --data-binary "@$tmp/in/p$i.jpg" "$url"
	curl -s -X POST "$base/v1/assets/$id/complete" -H "Authorization: Bearer $key" >"$tmp/c.out"; grep -q "\"status\":\"active\"" "$tmp/c.out" ||
	    { echo "upload $i did not complete:"; cat "$tmp/c.out"; exit 1; }
	ids="$ids $id"
	i=$((i + 1))
done
pending() {
	sqlite3 "$tmp/data/cubby.db" "SELECT count(*) FROM objects WHERE processing_status = 'pending'"
}
wait_done() {
	while [ "$(pending)" != 0 ]; do sleep 0.02; done
}
wait_done
[ "$(sqlite3 "$tmp/data/cubby.db" "SELECT count(*) FROM objects WHERE processing_status = 'completed' AND thumb_key IS NOT NULL")" = "$n" ] ||
	{ echo "processing failed:"; sqlite3 "$tmp/data/cubby.db" "SELECT processing_error FROM objects"; exit 1; }

now() { date +%s.%N; }
rate() { echo "$1 $2 $3" | awk '{ printf "%.2f", $1 / ($3 - $2) }'; }

cubby_round() {
	t0=$(now)
	for id in $ids; do
		curl -sf -o /dev/null -X POST "$base/v1/assets/$id/reprocess" -H "Authorization: Bearer $key"
	done
	wait_done
	t1=$(now)
	rate "$n" "$t0" "$t1"
}
thumbs_round() {
	rm -f "$tmp/out/"*
	t0=$(now)
	vipsthumbnail -s 320 -o "$tmp/out/t_%s.webp[Q=75,strip]" "$tmp/in/"*.jpg
	t1=$(now)
	rate "$n" "$t0" "$t1"
}
both_round() {
	rm -f "$tmp/out/"*
	t0=$(now)
	vipsthumbnail -s 1600 -o "$tmp/out/p_%s.jpg[Q=82,strip,optimize_coding]" "$tmp/in/"*.jpg
	vipsthumbnail -s 320 -o "$tmp/out/t_%s.webp[Q=75,strip]" "$tmp/in/"*.jpg
	t1=$(now)
	rate "$n" "$t0" "$t1"
}

echo "$n JPEGs of 4000x3000 ($size bytes each), $(nproc) CPUs, preview_size ${PREVIEW:-1600}"
echo "round  cubby/s  vipsthumbnail-320/s  ratio  vipsthumbnail-both/s  ratio"
r=1
while [ "$r" -le "$rounds" ]; do
	c=$(cubby_round); t=$(thumbs_round); b=$(both_round)
	echo "$r $c $t $b" | awk '{ printf "%5d  %7.2f  %19.2f  %5.2f  %20.2f  %5.2f\n", $1, $2, $3, $2 / $3, $4, $2 / $4 }'
	r=$((r + 1))
done

# Peak RSS: the jobs worker (the pool's child without a FastCGI socket
# of its own is the one whose children are cubby-media) and its processors.
for p in $(pgrep -f "cubby-media --serve"); do
	parent=$(awk '/^PPid:/ { print $2 }' "/proc/$p/status")
	echo "processor $p: peak RSS $(awk '/^VmHWM:/ { print $2, $3 }' "/proc/$p/status")"
done
[ -n "${parent:-}" ] && echo "jobs worker $parent: peak RSS $(awk '/^VmHWM:/ { print $2, $3 }' "/proc/$parent/status")"
