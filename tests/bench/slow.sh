#!/bin/sh
# slow.sh - the API's p50/p99 while N uploads trickle in at 20 KB/s (a
# phone on a weak network), beside the same with none, same run
# (tests/bench/slow.mjs). Target: p99 with 100 slow uploads <= 2x the p99
# with none.
#   tests/bench/slow.sh [rounds] [counts]      (default 3, 0,10,100)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
[ -x "$top/build/cubby-fcgi" ] || { echo "build first: make -C build"; exit 1; }
if ldd "$top/build/cubby-fcgi" | grep -q asan; then
	echo "build/ is a sanitizer build; benchmark an optimised one"; exit 1
fi
PATH=$PATH:/usr/sbin; export PATH
CUBBY_BUILDDIR=$top/build exec node "$top/tests/bench/slow.mjs" "${1:-3}" "${2:-0,10,100}"
