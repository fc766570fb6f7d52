#!/usr/bin/env bash
# Builds a debug PostgreSQL 15 from Debian's own source package, once, and
# caches it on the machine; prints the path of its pg_config.
#
# Why: Debian's postgresql-15 is built without assertions, so a bug in
# laredo's C code that breaks one of the server's invariants (a buffer pinned
# twice, a lock held across a commit, a palloc'd chunk written past its end,
# memory used after its context was reset) goes unnoticed, or corrupts
# something much later.  This build has:
#   --enable-cassert   Assert() is live, and with it CLOBBER_FREED_MEMORY (each
#                      pfree'd chunk and reset context is overwritten with
#                      0x7f, so a use-after-free fails at once instead of
#                      reading stale but plausible data) and
#                      MEMORY_CONTEXT_CHECKING (sentinels after each chunk,
#                      checked on pfree and context reset/delete).
#   -DUSE_VALGRIND     the memory-context code tells valgrind about each
#                      chunk it hands out and takes back, so running the
#                      server under valgrind reports use of freed or
#                      uninitialised palloc memory (no cost outside valgrind).
#   -O1 -g, --enable-debug   readable backtraces.
#   --enable-tap-tests with PostgreSQL::Test::Cluster etc. installed, and
#                      pg_regress where PGXS looks for it, so laredo's
#                      `make installcheck` runs unchanged against it.
# It is a separate server in its own prefix: it need not, and does not, match
# Debian's build for extension compatibility.  Debian's patches are applied
# (by dpkg-source), except that 50-per-version-dirs' hard-coded
# /usr/lib/postgresql/15/lib is turned back into $(libdir), so that nothing
# is installed outside the prefix (pkglibdir, and so PGXS, is <prefix>/lib).
#
# Usage (as root for the first, building run; any user once cached):
#   pgc=$(bash test/debug_server.sh | tail -1)     # everything else: stderr
#   . test/debug_server.sh                          # sets LAREDO_PG_DEBUG_CONFIG
#   make PG_CONFIG="$pgc" ...
#
# Cache: /var/cache/laredo/pg15-debug-<Debian source version>, complete when
# <prefix>/bin/pg_config and <prefix>/.complete exist (then this prints the
# path and does nothing else).  The build runs in a temporary directory under
# an flock, installs into the prefix and writes .complete last, so a build
# that was interrupted is never taken as complete: the next run starts over.
# The source of the installed postgresql-15's version is fetched when the
# mirror has it; when it does not (e.g. deb.debian.org serves a security
# update's binaries but not its source), the newest postgresql-15 source it
# does have is built instead, and pg15-debug-<installed version> is made a
# symlink to it.  Quiet on success; the build's log is
# /var/cache/laredo/pg15-debug-build.log, whose tail is printed on failure.
#
# Environment: LAREDO_PG_DEBUG_CACHE (default /var/cache/laredo).

# Sourced: run in a child, so that set -e and exit stay out of the caller.
if [[ ${BASH_SOURCE[0]} != "$0" ]]; then
	_laredo_pgc=$(bash "${BASH_SOURCE[0]}") || return
	LAREDO_PG_DEBUG_CONFIG=${_laredo_pgc##*$'\n'}
	export LAREDO_PG_DEBUG_CONFIG
	unset _laredo_pgc
	return 0
fi

set -euo pipefail
# stdout carries only the final path; everything else goes to stderr.
exec 3>&1 1>&2 </dev/null
umask 022

cache=${LAREDO_PG_DEBUG_CACHE:-/var/cache/laredo}
pkg=postgresql-15
installed=$(dpkg-query -W -f='${db:Status-Status} ${source:Version}' "$pkg" 2>/dev/null | sed -n 's/^installed //p' || true)

complete() { [[ -x $1/bin/pg_config && -e $1/.complete ]]; }
done_with() { printf '%s\n' "$(cd "$1" && pwd -P)/bin/pg_config" >&3; exit 0; }
# newest complete build, whatever its version (when no postgresql-15 is installed)
newest_complete() {
	local d
	for d in $(printf '%s\n' "$cache"/pg15-debug-* | sort -rV); do
		complete "$d" && { printf '%s\n' "$d"; return 0; }
	done
	return 1
}

# Fast path: nothing but a few stat calls.
if [[ -n $installed ]]; then
	complete "$cache/pg15-debug-$installed" && done_with "$cache/pg15-debug-$installed"
elif d=$(newest_complete); then
	done_with "$d"
fi

if [[ $(id -u) -ne 0 ]]; then
	echo "debug_server.sh: no complete debug build in $cache; run once as root to build it" >&2
	exit 1
fi

mkdir -p "$cache"
chmod 755 "$cache"
exec 9>"$cache/.pg15-debug.lock"
flock 9
# Someone else may have built it while we waited for the lock.
if [[ -n $installed ]]; then
	complete "$cache/pg15-debug-$installed" && done_with "$cache/pg15-debug-$installed"
fi

log=$cache/pg15-debug-build.log
: >"$log"
work=
on_exit() {
	local rc=$?
	[[ -n $work ]] && rm -rf "$work"
	if ((rc != 0)); then
		echo "debug_server.sh: building the debug PostgreSQL failed (exit $rc); last lines of $log:" >&2
		tail -n 60 "$log" >&2 || true
	fi
}
trap on_exit EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'say "failed (exit $?) at line $LINENO: $BASH_COMMAND"' ERR
say() { printf '[%(%F %T)T] %s\n' -1 "$*" >>"$log"; }
run() { say "+ $*"; "$@" >>"$log" 2>&1; }
apt_get() { run env DEBIAN_FRONTEND=noninteractive apt-get -q -o APT::Sandbox::User=root "$@"; }
started=$SECONDS

# Build dependencies: a short explicit list rather than `apt-get build-dep`.
deps=(build-essential dpkg-dev bison flex pkg-config libreadline-dev zlib1g-dev
	libssl-dev libxml2-dev libicu-dev libipc-run-perl perl valgrind bzip2 xz-utils)
missing=()
for p in "${deps[@]}"; do
	dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed || missing+=("$p")
done
updated=0
if ((${#missing[@]})); then
	apt_get update
	updated=1
	apt_get install -y --no-install-recommends "${missing[@]}"
fi
# USE_VALGRIND needs valgrind/memcheck.h (from the valgrind package).
say "checking that valgrind/memcheck.h compiles"
printf '#include <valgrind/memcheck.h>\nint main(void) { char c = 0; VALGRIND_MAKE_MEM_DEFINED(&c, 1); return c; }\n' |
	run cc -x c - -o /dev/null

# Source lines: the release, its updates and its security updates.
srclist=/etc/apt/sources.list.d/laredo-src.list
if [[ ! -e $srclist ]]; then
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
	keyring=/usr/share/keyrings/debian-archive-keyring.gpg
	opt=
	[[ -r $keyring ]] && opt="[signed-by=$keyring] "
	say "writing $srclist"
	printf 'deb-src %shttp://deb.debian.org/debian %s main\ndeb-src %shttp://deb.debian.org/debian %s-updates main\ndeb-src %shttp://deb.debian.org/debian-security %s-security main\n' \
		"$opt" "$codename" "$opt" "$codename" "$opt" "$codename" >"$srclist"
	updated=0
fi
src_versions() { { apt-cache showsrc "$pkg" 2>/dev/null || true; } | sed -n 's/^Version: //p' | sort -ruV; }
versions=$(src_versions)
if ((!updated)) && { [[ -z $versions ]] || { [[ -n $installed ]] && ! grep -qxF "$installed" <<<"$versions"; }; }; then
	apt_get update
	versions=$(src_versions)
fi
[[ -n $versions ]] || { say "no source package $pkg found in any deb-src line"; exit 1; }

# Fetch (and unpack, applying Debian's patches) the installed version's
# source, else the newest one available; a complete build of a candidate is
# reused as it is.
work=$(mktemp -d "${TMPDIR:-/tmp}/laredo-pg15-debug.XXXXXX")
ver=
for v in $({ [[ -z $installed ]] || printf '%s\n' "$installed"; printf '%s\n' "$versions"; } | awk '!seen[$0]++'); do
	if complete "$cache/pg15-debug-$v"; then
		ver=$v
		break
	fi
	rm -rf "$work/src" && mkdir "$work/src"
	if (cd "$work/src" && apt_get source "$pkg=$v"); then
		ver=$v
		break
	fi
	say "source $pkg=$v could not be fetched; trying an older one"
done
[[ -n $ver ]] || { say "could not fetch any source of $pkg (tried: $installed $versions)"; exit 1; }
prefix=$cache/pg15-debug-$ver

if ! complete "$prefix"; then
	echo "debug_server.sh: building a debug PostgreSQL $ver into $prefix (a few minutes, once; log: $log)" >&2
	srcdir=$(find "$work/src" -mindepth 1 -maxdepth 1 -type d -name 'postgresql-15*' | head -n 1)
	[[ -n $srcdir && -x $srcdir/configure ]] || { say "no unpacked source tree in $work/src"; exit 1; }
	# Debian installs modules in /usr/lib/postgresql/15/lib whatever the
	# prefix: keep everything inside ours.
	run sed -i 's|/usr/lib/postgresql/@PG_MAJORVERSION@/lib|$(libdir)|' "$srcdir/src/Makefile.global.in"
	if grep -n '/usr/lib/postgresql' "$srcdir/src/Makefile.global.in" >>"$log"; then
		say "src/Makefile.global.in still names /usr/lib/postgresql"
		exit 1
	fi
	rm -rf "$prefix"
	cd "$srcdir"
	run ./configure --prefix="$prefix" --enable-cassert --enable-debug --enable-tap-tests \
		--with-icu --with-openssl --with-libxml CFLAGS="-O1 -g -DUSE_VALGRIND"
	jobs=$(nproc 2>/dev/null || echo 2)
	run make -j"$jobs" world-bin
	grep -qx "#define PKGLIBDIR \"$prefix/lib\"" src/port/pg_config_paths.h ||
		{ say "PKGLIBDIR is not $prefix/lib:"; cat src/port/pg_config_paths.h >>"$log"; exit 1; }
	run make install-world-bin
	run make -C src/test/perl install
	run make -C src/test/regress install
	cd /

	# Checks: everything inside the prefix, asserts on, valgrind hooks on,
	# and what laredo's tests need where PGXS looks for it.
	pgc=$prefix/bin/pg_config
	for opt in --bindir --libdir --pkglibdir --sharedir --includedir-server --pgxs; do
		p=$("$pgc" "$opt")
		[[ $p == "$prefix"/* ]] || { say "pg_config $opt is $p, outside $prefix"; exit 1; }
	done
	pkglib=$("$pgc" --pkglibdir)
	pgxsdir=$(dirname "$(dirname "$(dirname "$("$pgc" --pgxs)")")")
	need=("$pgxsdir/src/test/regress/pg_regress"
		"$pgxsdir/src/test/perl/PostgreSQL/Test/Cluster.pm"
		"$pgxsdir/src/test/perl/PostgreSQL/Test/Utils.pm"
		"$pkglib/amcheck.so" "$("$pgc" --sharedir)/extension/amcheck.control")
	for f in "${need[@]}"; do
		[[ -e $f ]] || { say "missing after install: $f"; exit 1; }
	done
	[[ -x $pgxsdir/src/test/regress/pg_regress ]] || { say "pg_regress is not executable"; exit 1; }
	grep -qx '#define USE_ASSERT_CHECKING 1' "$("$pgc" --includedir-server)/pg_config.h" ||
		{ say "USE_ASSERT_CHECKING is not defined"; exit 1; }
	"$pgc" --cflags | grep -q -- '-DUSE_VALGRIND' || { say "CFLAGS lack -DUSE_VALGRIND"; exit 1; }

	# Readable by the postgres user, who runs the tests.
	run chmod -R a+rX "$prefix"
	if id postgres >/dev/null 2>&1; then
		run runuser -u postgres -- "$prefix/bin/postgres" --version
		run runuser -u postgres -- test -r "$pgxsdir/src/test/perl/PostgreSQL/Test/Cluster.pm"
	fi
	printf 'source %s %s\nbuilt %(%F %T %Z)T in %ss\n' "$pkg" "$ver" -1 "$((SECONDS - started))" >"$prefix/.complete"
	chmod 644 "$prefix/.complete"
	say "complete: $prefix ($((SECONDS - started))s)"
fi

if [[ -n $installed && $ver != "$installed" ]]; then
	# The installed version's source could not be had: use this one for it.
	say "$pkg $installed is installed but its source was not available; using $ver"
	echo "debug_server.sh: source of $pkg $installed not available; using a debug build of $ver" >&2
	run ln -sfn "pg15-debug-$ver" "$cache/pg15-debug-$installed"
fi
done_with "$prefix"
