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
as_root runuser -u postgres -- make -s installcheck || status=$?
if [ "$status" -ne 0 ]; then
	[ -f regression.diffs ] && cat regression.diffs
	for f in tmp_check/log/*; do [ -f "$f" ] && { echo "=== $f"; tail -n 60 "$f"; }; done
fi
exit "$status"
