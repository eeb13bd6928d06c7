#!/bin/sh
# run.sh - the libFuzzer targets in tests/fuzz/: build each with clang
# (ASan + UBSan + libFuzzer, against a clang build of libcubby.a in
# build-fuzz/), then run it for a bounded time over its committed seed
# corpus (tests/fuzz/corpus/<target>/, which also holds every input that
# once crashed it) and a working corpus in build-fuzz/.
#   tests/fuzz/run.sh [seconds-per-target] [target...]   (default 60, all)
# `make fuzz-smoke` runs it; CI runs it after the tests. A crash stops the
# run, leaves crash-* in build-fuzz/ and exits 1: add that input to the
# target's corpus as a regression test once fixed. Longer runs:
#   tests/fuzz/run.sh 3600 fuzz_sigv4
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-60}
[ $# -gt 0 ] && shift
bd=$top/build-fuzz
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
if [ ! -f "$bd/Makefile" ]; then
	[ -x "$top/configure" ] || (cd "$top" && autoreconf -fi)
	mkdir -p "$bd"
	(cd "$bd" && CC=clang CFLAGS="-g -O1 -fsanitize=fuzzer-no-link $san" \
	    "$top/configure" --quiet)
fi
make -C "$bd" -s src/api/embedded.c libcubby.a
libs=$(pkg-config --libs sqlite3 libgcrypt json-c libcurl 2>/dev/null || echo "-lsqlite3 -lgcrypt -ljson-c -lcurl")
targets=${*:-$(cd "$top/tests/fuzz" && ls fuzz_*.c | sed 's/\.c$//')}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
total=0
for t in $targets; do
	clang -g -O1 -fsanitize=fuzzer $san -I"$bd" -I"$top/include" -I"$top/src" \
	    "$top/tests/fuzz/$t.c" "$bd/libcubby.a" $libs -lfcgi -lpthread -o "$bd/$t"
	mkdir -p "$bd/corpus-$t"
	dict=
	[ -f "$top/tests/fuzz/$t.dict" ] && dict="-dict=$top/tests/fuzz/$t.dict"
	(cd "$bd" && ./"$t" -max_total_time="$secs" -print_final_stats=1 $dict \
	    "corpus-$t" "$top/tests/fuzz/corpus/$t" > "$bd/$t.log" 2>&1) || {
		tail -n 40 "$bd/$t.log"
		echo "fuzz: $t crashed; the input is in $bd (crash-*)"
		exit 1
	}
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$bd/$t.log")
	echo "fuzz: $t: $runs runs in ${secs}s, no crash"
	total=$((total + ${runs:-0}))
done
echo "fuzz: $total runs in all"
