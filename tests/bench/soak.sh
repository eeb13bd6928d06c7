#!/bin/sh
# soak.sh - a bounded mixed load through nginx (tests/bench/soak.mjs): per
# minute, requests, 5xx, p50/p99 latency and the workers' RSS; then the
# crash-safety checks. Not part of the default test run.
#   tests/bench/soak.sh [minutes] [clients]      (default 10, 8)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
[ -x "$top/build/cubby-fcgi" ] || { echo "build first: make -C build"; exit 1; }
if ldd "$top/build/cubby-fcgi" | grep -q asan; then
	echo "build/ is a sanitizer build; soak an optimised one"; exit 1
fi
CUBBY_BUILDDIR=$top/build exec node "$top/tests/bench/soak.mjs" "${1:-10}" "${2:-8}"
