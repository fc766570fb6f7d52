#!/usr/bin/env bash
# Runs every laredo test on a fresh Debian 12 machine: installs the packages
# it needs, builds and installs laredo, then runs pg_regress (its own temp
# server) and the TAP suite (two servers) as the postgres user, from a copy of
# the tree that postgres owns.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

as_root apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	postgresql-15 postgresql-server-dev-15 libipc-run-perl make gcc >/dev/null

cd "$root"
make -s clean >/dev/null
make -s >/dev/null
as_root make -s install >/dev/null

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
