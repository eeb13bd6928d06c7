#!/bin/sh
# run.sh - the API tests as one automake TAP test: node's built-in runner
# (no npm packages) over tests/api/*.test.mjs, against the real lighttpd,
# nginx, Apache and cubby-fcgi. Needs: node >= 20, lighttpd, nginx, apache2
# (with mod_fcgid and mod_xsendfile), spawn-fcgi, cgi-fcgi,
# sqlite3, gdb (contrib/dev.sh deps installs them).
set -u
srcdir=${CUBBY_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
for tool in node lighttpd nginx apache2 spawn-fcgi cgi-fcgi systemd-analyze systemd-socket-activate sqlite3 gdb; do
	if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$tool" ]; then
		echo "Bail out! $tool is not installed (contrib/dev.sh deps)"
		exit 1
	fi
done
PATH=$PATH:/usr/sbin; export PATH
exec node --test --test-reporter=tap --test-concurrency=1 "$srcdir"/tests/api/*.test.mjs
