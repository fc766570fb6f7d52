#!/usr/bin/env bash
# Runs every laredo test on a fresh Debian 12 machine: installs the packages
# it needs, builds and installs laredo, then runs pg_regress (its own temp
# server) and the TAP suite (two servers) as the postgres user, from a copy of
# the tree that postgres owns.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/test/setup.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -a "$root"/. "$work"/
as_root chown -R postgres "$work"
chmod 755 "$work"
cd "$work"
status=0
# pg_regress first, on its own temporary server
as_root runuser -u postgres -- make -s installcheck TAP_TESTS= || status=$?
# laredo must never take its server down: pg_regress's server must not have
# logged a crash (the TAP tests check their own servers in LaredoTest.pm)
if grep -E "terminated by signal|was terminated by exception|PANIC|TRAP:" log/postmaster.log; then
	echo "pg_regress's server logged a crash (above)"
	status=1
fi
if [ "$status" -ne 0 ]; then
	[ -f regression.diffs ] && cat regression.diffs
	echo "pg_regress failed: the TAP tests were not run"
	exit "$status"
fi
# then the TAP suite (several servers each)
as_root runuser -u postgres -- make -s installcheck REGRESS= || status=$?
if [ "$status" -ne 0 ]; then
	for f in tmp_check/log/*; do [ -f "$f" ] && { echo "=== $f"; tail -n 60 "$f"; }; done
fi
exit "$status"
