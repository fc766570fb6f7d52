#!/usr/bin/env bash
# Makes, once, and caches on the machine a Debian chroot with PostgreSQL
# MAJOR (17, 18 or 19) and what laredo's build and tests need; prints its
# path.  With `run`, runs a command inside it.
#
# Why: laredo must build and pass its tests on the PostgreSQL versions after
# 15 too, and Debian's packages of them are built for a newer libc (and
# toolchain) than this machine's bookworm: they cannot be installed on the
# host, but they run in a chroot of the release that ships them.  A chroot
# shares the host's kernel and network, so a server in it listens on the
# host's loopback, where servers of other versions (on the host or in the
# other chroots) reach it: cross-version replication can be tested.
#
#   MAJOR  Debian suite                           PostgreSQL package from
#   17     trixie (+ trixie-updates, -security)   trixie
#   18     forky (testing)                        forky
#   19     sid, with an experimental line         experimental (19~rc...)
#
# 18 is in both forky and sid; forky is used: the same postgresql-18 as sid
# reaches it a few days later, but only after it and its dependencies passed
# testing's migration checks, so a chroot built from it is not caught in one
# of sid's half-done transitions, and forky is what the next Debian stable
# (and so most of laredo's users on 18) will run.  bookworm's debootstrap has
# no forky script: sid's is used for it (they are the same).  19 exists only
# in experimental, which is not a whole distribution: its base is sid, and
# only postgresql-19 and the libpq5/libpq-dev it needs are taken from
# experimental (apt's -t experimental would take every package that
# experimental has a version of too: libc6, perl, ...).
#
# Each chroot has (with no recommends): postgresql-MAJOR (the server and
# all of contrib, amcheck included: Debian has no separate contrib package
# since PostgreSQL 10; `postgresql-contrib` is only a virtual package of the
# default version's `postgresql` metapackage), postgresql-server-dev-MAJOR
# (pg_config at /usr/lib/postgresql/MAJOR/bin/pg_config, headers under
# /usr/include/postgresql/MAJOR/server, PGXS with pg_regress and
# PostgreSQL::Test::Cluster under /usr/lib/postgresql/MAJOR/lib/pgxs),
# libipc-run-perl, make, gcc, perl, python3.  No cluster is created
# (createcluster.conf says create_main_cluster = false before the server is
# installed) and no service is started (a policy-rc.d that refuses all).
# Apt in the chroot does not check Release files' Valid-Until (the archive's
# forky, sid and experimental ones can be past it).
#
# Usage (as root):
#   dir=$(bash test/chroot_server.sh 18 | tail -1)     # everything else: stderr
#   bash test/chroot_server.sh 18 run [-u USER] [--] COMMAND [ARG...]
# `run` makes the chroot first when it is missing, then runs COMMAND in it
# (as USER with runuser, e.g. -u postgres; else as root) with a clean
# environment (PATH, HOME, LANG=C.UTF-8, TERM), its stdin, stdout and stderr
# the caller's, and exits with its status.  It runs in a mount namespace of
# its own, in which /proc, /dev (with /dev/pts) and a fresh tmpfs /dev/shm
# are mounted into the chroot: nothing is mounted in the host's namespace,
# so each run starts clean, any number may run at once, and the mounts go
# away with the last process of the run (a server it started in the
# background keeps them while it lives).  E.g.
#   tar -C . -cf - . | bash test/chroot_server.sh 18 run -u postgres -- tar -C /build/laredo -xf -
#   bash test/chroot_server.sh 18 run -u postgres -- make -C /build/laredo \
#       PG_CONFIG=/usr/lib/postgresql/18/bin/pg_config
# /build exists in each chroot, owned by postgres.
#
# Cache: /var/cache/laredo/chroot-pgMAJOR, complete when its .complete exists
# (then this prints the path and does nothing else; .complete says what is
# in it).  It is made under an flock, and .complete is written last, so a
# chroot whose making was interrupted is never taken as complete: the next
# run removes it and starts over.  About 1.5 GB each, and a minute to make
# (three on a machine busy with other builds).
# Quiet on success; the log is /var/cache/laredo/chroot-pgMAJOR-build.log,
# whose tail is printed on failure.  A cached chroot is not upgraded: remove
# it (rm -rf, with nothing running in it) to have it made anew.
#
# Environment: LAREDO_CHROOT_CACHE (default /var/cache/laredo),
# LAREDO_DEBIAN_MIRROR (default http://deb.debian.org/debian).

set -euo pipefail
umask 022

me=chroot_server.sh
usage() {
	echo "usage: $me MAJOR                                  (MAJOR: 17, 18 or 19)" >&2
	echo "       $me MAJOR run [-u USER] [--] COMMAND [ARG...]" >&2
	exit 2
}
(($# >= 1)) || usage
major=$1
shift
case $major in
17) suite=trixie script=sid ;;
18) suite=forky script=sid ;;
19) suite=sid script=sid ;;
*) usage ;;
esac
cache=${LAREDO_CHROOT_CACHE:-/var/cache/laredo}
mirror=${LAREDO_DEBIAN_MIRROR:-http://deb.debian.org/debian}
dir=$cache/chroot-pg$major

complete() { [[ -e $dir/.complete && -x $dir/usr/lib/postgresql/$major/bin/pg_config ]]; }
# Run by /bin/sh in a new, private mount namespace (unshare): mounts what a
# command in the chroot needs, there only, then runs it in the chroot with a
# clean environment.  $1: the chroot; then NAME=VALUE... and the command.
in_ns='
	d=$1; shift
	mount -t proc proc "$d/proc"
	mount --rbind /dev "$d/dev"
	mount -t tmpfs -o nosuid,nodev,mode=1777 shm "$d/dev/shm"
	exec chroot "$d" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		LANG=C.UTF-8 "$@"
'

# ---- run: COMMAND inside the chroot, in a mount namespace of its own ----
if (($# >= 1)) && [[ $1 == run ]]; then
	shift
	user=
	while (($#)); do
		case $1 in
		-u) (($# >= 2)) || usage; user=$2; shift 2 ;;
		--) shift; break ;;
		-*) usage ;;
		*) break ;;
		esac
	done
	(($#)) || usage
	if [[ $(id -u) -ne 0 ]]; then
		echo "$me: run needs root (chroot, mount)" >&2
		exit 1
	fi
	if ! complete; then
		bash "${BASH_SOURCE[0]}" "$major" >/dev/null || exit
	fi
	[[ -n $user ]] && set -- runuser -u "$user" -- "$@"
	exec unshare --mount --propagation private -- /bin/sh -euc "$in_ns" sh "$dir" \
		HOME=/root TERM="${TERM:-dumb}" "$@"
fi
(($# == 0)) || usage

# ---- make the chroot, unless it is complete ----
# stdout carries only the final path; everything else goes to stderr.
exec 3>&1 1>&2 </dev/null
done_with() { printf '%s\n' "$dir" >&3; exit 0; }

# Fast path: a stat or two.
complete && done_with

if [[ $(id -u) -ne 0 ]]; then
	echo "$me: no complete chroot at $dir; run once as root to make it" >&2
	exit 1
fi

mkdir -p "$cache"
chmod 755 "$cache"
exec 9>"$cache/.chroot-pg$major.lock"
flock 9
# Someone else may have made it while we waited for the lock.
complete && done_with

log=$cache/chroot-pg$major-build.log
: >"$log"
on_exit() {
	local rc=$?
	if ((rc != 0)); then
		echo "$me: making the PostgreSQL $major chroot at $dir failed (exit $rc); last lines of $log:" >&2
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
# In the chroot, in a private mount namespace (so that whatever is mounted
# for it, or left mounted by a failing step, goes away with the namespace).
ns_chroot() {
	unshare --mount --propagation private -- /bin/sh -euc "$in_ns" sh "$dir" \
		HOME=/root DEBIAN_FRONTEND=noninteractive "$@"
}
in_chroot() { say "+ (chroot) $*"; ns_chroot "$@" >>"$log" 2>&1; }
apt_get() { in_chroot apt-get -q -y "$@"; }
started=$SECONDS

# What is left of an interrupted attempt.  Every mount this script and `run`
# make is in a namespace of its own, so none is in ours; refuse all the same
# to remove a tree that has one.
if [[ -e $dir || -L $dir ]]; then
	if awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
		say "something is mounted under the incomplete $dir: not removing it"
		exit 1
	fi
	say "removing the incomplete $dir"
	rm -rf --one-file-system "$dir"
fi

echo "$me: making a Debian $suite chroot with PostgreSQL $major at $dir (a minute or more, once; log: $log)" >&2

# debootstrap, on the host.
if ! dpkg-query -W -f='${db:Status-Status}' debootstrap 2>/dev/null | grep -qx installed ||
	! dpkg-query -W -f='${db:Status-Status}' debian-archive-keyring 2>/dev/null | grep -qx installed; then
	run env DEBIAN_FRONTEND=noninteractive apt-get -q update
	run env DEBIAN_FRONTEND=noninteractive apt-get -q -y install --no-install-recommends debootstrap debian-archive-keyring
fi
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[[ -r $keyring ]] || { say "no $keyring"; exit 1; }

# The base system.  debootstrap checks the Release file's signature against
# the keyring (bookworm's has the trixie keys that sign trixie, forky and
# sid), not its Valid-Until.
run unshare --mount --propagation private -- debootstrap --variant=minbase --keyring="$keyring" \
	"$suite" "$dir" "$mirror" "/usr/share/debootstrap/scripts/$script"

# Apt: the suite's lines, no Valid-Until check, no recommends.
say "configuring apt, policy-rc.d and createcluster.conf"
mirror_security=${mirror%/debian}/debian-security
{
	echo "deb $mirror $suite main"
	if [[ $suite == trixie ]]; then
		echo "deb $mirror $suite-updates main"
		echo "deb $mirror_security $suite-security main"
	fi
	if ((major == 19)); then
		echo "deb $mirror experimental main"
	fi
} >"$dir/etc/apt/sources.list"
cat "$dir/etc/apt/sources.list" >>"$log"
cat >"$dir/etc/apt/apt.conf.d/99laredo" <<'EOF'
// written by laredo's test/chroot_server.sh
// the archive's forky, sid and experimental Release files can be past their Valid-Until
Acquire::Check-Valid-Until "false";
APT::Install-Recommends "false";
APT::Install-Suggests "false";
EOF
# No service is started by a package's maintainer scripts.
printf '#!/bin/sh\n# written by laredo test/chroot_server.sh: start no service in this chroot\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"
chmod 755 "$dir/usr/sbin/policy-rc.d"
# No cluster is created when the server is installed.
mkdir -p "$dir/etc/postgresql-common"
printf '# written by laredo test/chroot_server.sh: no main cluster\ncreate_main_cluster = false\n' \
	>"$dir/etc/postgresql-common/createcluster.conf"
# Names of the loopback addresses, the host's name among them (ssl-cert's
# postinst asks for it); debootstrap copies resolv.conf, not hosts.
host=$(hostname 2>/dev/null || echo localhost)
printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' "$host" >"$dir/etc/hosts"

apt_get update
pkgs=(postgresql-server-dev-"$major" libipc-run-perl make gcc perl python3 bc)
if ((major == 19)); then
	pkgs+=(postgresql-19/experimental postgresql-client-19/experimental
		libpq5/experimental libpq-dev/experimental)
else
	pkgs+=(postgresql-"$major")
fi
apt_get install "${pkgs[@]}"
apt_get clean

# Checks: the packages' files where laredo's build and tests look, and no
# cluster, no server.
say "checking"
pgc=/usr/lib/postgresql/$major/bin/pg_config
pgxs=/usr/lib/postgresql/$major/lib/pgxs
need=("$pgc" "/usr/lib/postgresql/$major/bin/postgres" "/usr/lib/postgresql/$major/bin/initdb"
	"/usr/lib/postgresql/$major/bin/pg_ctl" "/usr/lib/postgresql/$major/lib/amcheck.so"
	"/usr/share/postgresql/$major/extension/amcheck.control"
	"/usr/include/postgresql/$major/server/postgres.h" "$pgxs/src/makefiles/pgxs.mk"
	/usr/include/postgresql/libpq-fe.h /usr/bin/make /usr/bin/gcc /usr/bin/perl /usr/bin/python3)
for f in "${need[@]}"; do
	[[ -e $dir$f ]] || { say "missing: $f"; exit 1; }
done
[[ $(chroot "$dir" "$pgc" --version) == "PostgreSQL $major"* ]] ||
	{ say "pg_config --version is not $major: $(chroot "$dir" "$pgc" --version)"; exit 1; }
in_chroot perl -MIPC::Run -e 1
clusters=$(ns_chroot pg_lsclusters -h 2>>"$log" || true)
if [[ -n $clusters ]]; then
	say "clusters were created: $clusters; dropping them"
	while read -r ver name _; do
		in_chroot pg_dropcluster --stop "$ver" "$name"
	done <<<"$clusters"
fi
for p in /proc/[0-9]*; do
	if [[ $(readlink "$p/root" 2>/dev/null) == "$dir" ]]; then
		say "a process is still running in the chroot: $(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)"
		exit 1
	fi
done
install -d -o "$(stat -c %u "$dir/var/lib/postgresql")" -g "$(stat -c %g "$dir/var/lib/postgresql")" -m 755 "$dir/build"

# What is in it, for .complete and whoever reads it.
cluster_pm=$pgxs/src/test/perl/PostgreSQL/Test/Cluster.pm
[[ -e $dir$cluster_pm ]] || cluster_pm="none (not in $pgxs/src/test/perl)"
pg_regress=$pgxs/src/test/regress/pg_regress
[[ -x $dir$pg_regress ]] || pg_regress="none"
{
	printf 'laredo chroot for PostgreSQL %s: Debian %s (debootstrap --variant=minbase, script %s) from %s\n' \
		"$major" "$suite" "$script" "$mirror"
	printf 'server: %s (package %s)\n' "$(chroot "$dir" "/usr/lib/postgresql/$major/bin/postgres" --version)" \
		"$(chroot "$dir" dpkg-query -W -f='${Version}' "postgresql-$major")"
	printf 'libpq5: %s\n' "$(chroot "$dir" dpkg-query -W -f='${Version}' libpq5)"
	printf 'pg_config: %s\n' "$pgc"
	printf 'gcc: %s\n' "$(chroot "$dir" gcc --version | head -n 1)"
	printf 'libc6: %s\n' "$(chroot "$dir" dpkg-query -W -f='${Version}' libc6)"
	printf 'perl: %s\n' "$(chroot "$dir" dpkg-query -W -f='${Version}' perl)"
	printf 'PostgreSQL::Test::Cluster: %s\n' "$cluster_pm"
	printf 'pg_regress: %s\n' "$pg_regress"
	printf 'made %(%F %T %Z)T in %ss, %s\n' -1 "$((SECONDS - started))" "$(du -sh --one-file-system "$dir" | cut -f1)"
} >"$dir/.complete.new"
chmod 644 "$dir/.complete.new"
cat "$dir/.complete.new" >>"$log"
mv "$dir/.complete.new" "$dir/.complete"
say "complete: $dir ($((SECONDS - started))s)"
done_with
