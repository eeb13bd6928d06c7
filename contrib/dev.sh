#!/bin/sh
# dev.sh - set up, serve and test Cubby from a checkout on Debian.
#   contrib/dev.sh serve   install what is missing, build, initialise ./var and
#                          serve Cubby behind lighttpd on http://127.0.0.1:8080
#   contrib/dev.sh test    install what is missing, build and run every test
#   contrib/dev.sh deps    only install the Debian packages
# Never touches anything outside the checkout but apt packages.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

BUILD_DEPS="build-essential autoconf automake libtool pkg-config libfcgi-dev
libsqlite3-dev libgcrypt20-dev libjson-c-dev libcurl4-openssl-dev libvips-dev"
RUN_DEPS="lighttpd sqlite3 ffmpeg jq curl"
TEST_DEPS="nginx-light spawn-fcgi libfcgi-bin gdb nodejs wrk chromium time curl procps
	apache2 libapache2-mod-fcgid libapache2-mod-xsendfile systemd
	swift swift-proxy swift-object swift-container swift-account memcached faketime
	clang libfuzzer-14-dev libvips-tools"

deps() {
	missing=""
	for p in $BUILD_DEPS $RUN_DEPS ${1:-}; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
			missing="$missing $p"
	done
	# node >= 18 (and npm, for the client and browser tests) may come from outside
	# Debian; then Debian's packages are not needed
	case "$missing" in *nodejs*)
		if command -v node >/dev/null 2>&1 &&
		    [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 18 ]; then
			missing=$(echo "$missing" | sed 's/ nodejs//')
		fi;;
	esac
	case " ${1:-} " in *" nodejs "*)
		command -v npm >/dev/null 2>&1 || missing="$missing npm";;
	esac
	[ -z "$missing" ] && return 0
	echo "dev.sh: installing:$missing"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	$sudo apt-get update -qq
	# Debian would start the packaged lighttpd and nginx, both on port 80;
	# Cubby runs its own. A temporary policy-rc.d keeps them from starting.
	policy=""
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		policy=/usr/sbin/policy-rc.d
		printf '#!/bin/sh\nexit 101\n' | $sudo tee $policy >/dev/null
		$sudo chmod 755 $policy
	fi
	rc=0
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null || rc=$?
	[ -z "$policy" ] || $sudo rm -f "$policy"
	[ $rc -eq 0 ] || { echo "dev.sh: apt-get install failed ($rc)"; exit $rc; }
	for svc in nginx lighttpd; do
		$sudo service "$svc" stop >/dev/null 2>&1 || true
	done
}

build() {
	dir=$1; shift
	[ -x configure ] || autoreconf -fi
	mkdir -p "$dir"
	if [ ! -f "$dir/Makefile" ] || [ configure -nt "$dir/Makefile" ]; then
		(cd "$dir" && ../configure -q "$@")
	fi
	make -C "$dir" -s -j"$(nproc)"
}

serve() {
	deps
	build build --enable-werror
	# CUBBY_DEV_VAR and CUBBY_DEV_PORT serve a second instance beside the
	# first (the README test does).
	var=${CUBBY_DEV_VAR:-$top/var}
	port=${CUBBY_DEV_PORT:-8080}
	base="http://127.0.0.1:$port"
	mkdir -p "$var/run" "$var/www"
	conf="$var/cubby.conf"
	if [ ! -f "$conf" ]; then
		cat > "$conf" <<-CONF
		# written by contrib/dev.sh serve
		listen = unix:$var/run/cubby.sock
		listen_mode = 0666
		data_dir = $var/data
		workers = 2
		log_level = info
		public_url = $base
		stream_listen = unix:$var/run/cubby-stream.sock
		stream_workers = 16
		CONF
	fi
	sed -i "s|^public_url = .*|public_url = $base|" "$conf"
	# (a var/ from before the stream pool: the snippet sends uploads there)
	grep -q '^stream_listen' "$conf" ||
		echo "stream_listen = unix:$var/run/cubby-stream.sock" >> "$conf"
	if [ ! -f "$var/data/cubby.db" ]; then
		# A fresh data directory: the admin key, and a first tenant with
		# its API key, printed once and kept for this checkout's shell in
		# var/try-it.env (0600).
		init=$(CUBBY_CONFIG=$conf ./build/cubbyctl init)
		echo "$init"
		admin=$(echo "$init" | sed -n 's/^admin key (shown once, store it now): //p')
		tenant=$(CUBBY_CONFIG=$conf ./build/cubbyctl tenant create first)
		echo "$tenant"
		key=$(echo "$tenant" | sed -n 's/^API key (shown once, store it now): //p')
		(umask 077; cat > "$var/try-it.env" <<-ENV
		# written by contrib/dev.sh serve for the README's "Try it": . var/try-it.env
		export CUBBY_BASE_URL=$base
		export CUBBY_API_KEY=$key
		export CUBBY_ADMIN_KEY=$admin
		export PATH="$top/build:\$PATH"
		ENV
		)
		echo "the first tenant's API key is the one above; more tenants and keys:"
		echo "  build/cubbyctl -c $conf tenant create NAME"
		echo "  build/cubbyctl -c $conf key create NAME --name laptop --scope write"
	else
		CUBBY_CONFIG=$conf ./build/cubbyctl init
		[ -f "$var/try-it.env" ] || echo "no $var/try-it.env (this data directory predates it):" \
		    "move $var away for a fresh start, or make a tenant with" \
		    "build/cubbyctl -c $conf tenant create NAME"
	fi
	cat > "$var/lighttpd.conf" <<-CONF
	server.document-root = "$var/www"
	server.bind = "127.0.0.1"
	server.port = $port
	server.errorlog = "$var/lighttpd.err"
	server.pid-file = "$var/run/lighttpd.pid"
	CONF
	# The shipped bin-path snippet, with this checkout's paths.
	sed -e "s|@runstatedir@/cubby/|$var/run/|g" \
	    -e "s|@bindir@|$top/build|g" \
	    -e "s|@sysconfdir@/cubby/cubby.conf|$conf|g" \
	    -e "s|@pkgdatadir@|$top/src|g" \
	    -e "s|@localstatedir@/lib/cubby|$var/data|g" \
	    etc/lighttpd-cubby-spawn.conf.in >> "$var/lighttpd.conf"
	sed -i 's|^listen = .*|listen =|' "$conf"   # lighttpd hands over the socket
	echo
	echo "Cubby is serving on $base (Ctrl-C stops it). In another shell, from"
	echo "this checkout, follow the README's \"Try it\":"
	echo "  . ${var#"$top"/}/try-it.env    # CUBBY_BASE_URL, CUBBY_API_KEY, CUBBY_ADMIN_KEY; build/ on PATH"
	echo "  curl -s \$CUBBY_BASE_URL/health"
	echo "  cubby upload README.md"
	echo "Cubby's log lines follow here; lighttpd's own go to $var/lighttpd.err"
	echo
	exec lighttpd -D -f "$var/lighttpd.conf"
}

# failures OUT: each failing test point in a make check output, with the
# first lines of its error.
failures() {
	[ -f "$1" ] || return 0
	awk -v run="${1%%/*}" '
		/^ *not ok [0-9]+/ { print run ": " $0; want = 8; skip = 0; next }
		want > 0 && /^ *\.\.\.$/ { want = 0; next }
		want > 0 && /^ *(stack|duration_ms|failureType|code|name|operator):/ { skip = ($0 ~ /stack:/); next }
		want > 0 && !skip && !/^ *---$/ { print run ": " $0; want--; next }
		/^(FAIL|ERROR):/ { print run ": " $0 }
	' "$1" | head -n 40
}

run_tests() {
	deps "$TEST_DEPS valgrind"
	rc=0
	# First the build that is installed (no sanitizers): the unit tests
	# under valgrind, then every test.
	build build --enable-werror
	make -C build -s check-valgrind >build/valgrind.out 2>&1 || rc=$?
	cat build/valgrind.out | grep -E '^(PASS|FAIL):' || true
	[ $rc -eq 0 ] || tail -n 60 build/valgrind.out
	make -C build -s check VERBOSE=1 >build/check.out 2>&1 || rc=$?
	grep -E '^(PASS|FAIL|XFAIL|XPASS|ERROR|SKIP):' build/check.out | sed 's/^/plain /' || true
	# Then again on an ASan + UBSan build: any report fails the run.
	build build-test --enable-werror --enable-asan --enable-ubsan
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
	make -C build-test -s check VERBOSE=1 >build-test/check.out 2>&1 || rc=$?
	grep -E '^(PASS|FAIL|XFAIL|XPASS|ERROR|SKIP):' build-test/check.out | sed 's/^/sanitized /' || true
	# On failure: each run's last lines, each followed at once by what
	# failed in it (a CI page that shows only the lines around make's
	# error still names the test), and all of it again at the very end.
	if [ $rc -ne 0 ]; then
		tail -n 100 build/check.out; failures build/check.out
		tail -n 200 build-test/check.out; failures build-test/check.out
	fi
	# Sanitizer reports fail the run (the API harness also fails on one in
	# a pool log, and keeps it as build-test/sanitizer-*.log).
	if grep -l -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' \
	    build-test/tests/*/*.log build-test/sanitizer-*.log 2>/dev/null; then
		echo "dev.sh: sanitizer reports found"
		rc=1
	fi
	# One closing line counting every test point of both runs: unit TAP +
	# API subtests.
	logs="build/tests/unit/*.log build/tests/api/*.log build-test/tests/unit/*.log build-test/tests/api/*.log"
	# shellcheck disable=SC2086
	passed=$(cat $logs 2>/dev/null | grep -E '^ *ok [0-9]+' | grep -vc '# SKIP' || true)
	# shellcheck disable=SC2086
	failed=$(cat $logs 2>/dev/null | grep -cE '^ *not ok [0-9]+' || true)
	failures build/check.out
	failures build-test/check.out
	echo "$passed passed, $failed failed (both runs)"
	[ "$failed" -eq 0 ] || rc=1
	return $rc
}

case "${1:-}" in
serve) serve ;;
test) run_tests ;;
deps) deps "$TEST_DEPS" ;;
*) echo "usage: contrib/dev.sh serve|test|deps" >&2; exit 2 ;;
esac
