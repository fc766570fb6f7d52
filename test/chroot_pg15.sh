#!/usr/bin/env bash
# Builds PostgreSQL 15 from Debian's source package inside the PostgreSQL 18
# chroot (test/chroot_server.sh), once, and caches it there; prints the path
# of its pg_config inside the chroot (/opt/pg15/bin/pg_config).
#
# Why: the cross-version tests need servers of both versions side by side,
# run by one PostgreSQL::Test::Cluster as one user on one filesystem: a
# consumer on 15 with a source on 18, a consumer on 18 with a source on 15,
# and pg_upgrade of a consumer from 15 to 18 (pg_upgrade runs the old and the
# new binaries itself).  Debian's postgresql-15 is built for bookworm's
# libraries (ICU 72, ...), which the 18 chroot (forky) does not have, and the
# 18 packages need forky's libc, which the host does not have; so 15 is built
# in the chroot, from the upstream tarball that Debian's source package
# carries (bookworm's, fetched with apt-get source --download-only; its
# generated parsers are included, so no bison or flex is needed).  It is a
# plain server (no assertions, no ICU, no readline, no zlib) in its own
# prefix, with laredo installed into it by the caller
# (make PG_CONFIG=/opt/pg15/bin/pg_config install).
#
# Usage (as root): pgc=$(bash test/chroot_pg15.sh | tail -1)
# Cache: <chroot>/opt/pg15, complete when <chroot>/opt/pg15/.complete
# exists.  Made under an flock, .complete written last.  About 4 minutes of a
# 2-core machine, once.  Log: /var/cache/laredo/chroot-pg18-pg15-build.log.
set -euo pipefail
umask 022
exec 3>&1 1>&2 </dev/null
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${LAREDO_CHROOT_CACHE:-/var/cache/laredo}
prefix=/opt/pg15
mirror=${LAREDO_DEBIAN_MIRROR:-http://deb.debian.org/debian}
dir=$(bash "$root/test/chroot_server.sh" 18 | tail -n 1)
complete() { [[ -e $dir$prefix/.complete && -x $dir$prefix/bin/pg_config ]]; }
done_with() { printf '%s\n' "$prefix/bin/pg_config" >&3; exit 0; }
complete && done_with
if [[ $(id -u) -ne 0 ]]; then
	echo "chroot_pg15.sh: no PostgreSQL 15 in $dir yet; run once as root to build it" >&2
	exit 1
fi
exec 9>"$cache/.chroot-pg18-pg15.lock"
flock 9
complete && done_with
log=$cache/chroot-pg18-pg15-build.log
: >"$log"
trap 'rc=$?; ((rc == 0)) || { echo "chroot_pg15.sh: building PostgreSQL 15 in $dir failed (exit $rc); last lines of $log:" >&2; tail -n 40 "$log" >&2; }' EXIT
echo "chroot_pg15.sh: building PostgreSQL 15 in the PostgreSQL 18 chroot (a few minutes, once; log: $log)" >&2
started=$SECONDS
in_chroot() { bash "$root/test/chroot_server.sh" 18 run -- "$@" >>"$log" 2>&1; }
rm -rf "$dir$prefix" "$dir/build/pg15-src"
# bookworm's source lines, in a list of their own (the chroot's own suite has no postgresql-15)
printf 'deb-src %s bookworm main\ndeb-src %s bookworm-updates main\ndeb-src %s-security bookworm-security main\n' \
	"$mirror" "$mirror" "${mirror%/debian}/debian" >"$dir/etc/apt/sources.list.d/laredo-pg15-src.list"
in_chroot apt-get -q update
mkdir -p "$dir/build/pg15-src"
# the newest version whose source the mirror really serves (the security
# archive can list a version whose files it does not have)
fetched=
for v in $(chroot "$dir" apt-cache showsrc postgresql-15 2>/dev/null | sed -n 's/^Version: //p' | sort -ruV); do
	if in_chroot sh -c "cd /build/pg15-src && apt-get -q source --download-only postgresql-15=$v"; then
		fetched=$v
		break
	fi
done
[[ -n $fetched ]] || { echo "no postgresql-15 source could be fetched" >>"$log"; exit 1; }
tarball=$(ls "$dir"/build/pg15-src/postgresql-15_*.orig.tar.* | sort -V | tail -n 1)
[[ -n $tarball ]] || { echo "no postgresql-15 orig tarball" >>"$log"; exit 1; }
echo "building from $tarball" >>"$log"
tar -C "$dir/build/pg15-src" -xf "$tarball"
src=$(ls -d "$dir"/build/pg15-src/postgresql-15.*/ | head -n 1)
src=/build/pg15-src/$(basename "$src")
in_chroot sh -c "cd $src && ./configure --prefix=$prefix --without-readline --without-zlib --without-icu \
	--without-llvm CFLAGS='-O2' && make -s -j\$(nproc) && make -s install"
rm -rf "$dir/build/pg15-src"
[[ $(chroot "$dir" "$prefix/bin/pg_config" --version) == "PostgreSQL 15"* ]]
printf 'PostgreSQL 15 from %s, built in %ss\n' "$(basename "$tarball")" "$((SECONDS - started))" >"$dir$prefix/.complete"
cat "$dir$prefix/.complete" >>"$log"
done_with
