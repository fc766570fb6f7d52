#!/usr/bin/env bash
# Runs every laredo test on a fresh Debian 12 machine: installs the packages
# it needs, builds and installs laredo, then runs pg_regress (its own temp
# server) and the TAP suite (several servers each) as the postgres user, from
# a copy of the tree that postgres owns.  Twice: on Debian's PostgreSQL 15,
# then on a debug build of it (test/debug_server.sh: assertions on, freed
# memory clobbered), where a misuse of memory fails at once instead of by
# luck.  Any server that logs a crash fails the run.
#
# LAREDO_TEST_SERVERS: which runs (default "release debug").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/test/setup.sh"

works=()
trap 'rm -rf "${works[@]}"' EXIT

# run_suite LABEL PG_CONFIG: the whole suite against that server build
run_suite() {
	local label=$1 pgc=$2 work status=0
	echo "=== laredo tests on $label: $("$pgc" --version)"
	# (called as `run_suite ... || ...`: set -e does not apply in here)
	(cd "$root" && make -s clean PG_CONFIG="$pgc" >/dev/null && make -s PG_CONFIG="$pgc" >/dev/null &&
		as_root make -s install PG_CONFIG="$pgc" >/dev/null) || return 1
	work=$(mktemp -d) || return 1
	works+=("$work")
	cp -a "$root"/. "$work"/ && as_root chown -R postgres "$work" && chmod 755 "$work" && cd "$work" || return 1
	# pg_regress first, on its own temporary server
	as_root runuser -u postgres -- make -s installcheck PG_CONFIG="$pgc" TAP_TESTS= || status=$?
	# laredo must never take its server down: pg_regress's server must not
	# have logged a crash (the TAP tests check their own in LaredoTest.pm)
	if grep -E "terminated by signal|was terminated by exception|PANIC|TRAP:|WARNING:.* leak\b" log/postmaster.log; then
		echo "pg_regress's server logged a crash (above)"
		status=1
	fi
	if [ "$status" -ne 0 ]; then
		[ -f regression.diffs ] && cat regression.diffs
		echo "pg_regress failed on $label: the TAP tests were not run"
		return "$status"
	fi
	# then the TAP suite
	as_root runuser -u postgres -- make -s installcheck PG_CONFIG="$pgc" REGRESS= || status=$?
	if [ "$status" -ne 0 ]; then
		for f in tmp_check/log/*; do [ -f "$f" ] && { echo "=== $f"; tail -n 60 "$f"; }; done
		echo "the TAP tests failed on $label"
	fi
	cd "$root"
	return "$status"
}

failed=()
for server in ${LAREDO_TEST_SERVERS:-release debug}; do
	case $server in
		release)
			label="Debian's PostgreSQL 15"
			pgc=$(command -v pg_config) ;;
		debug)
			label="a debug build of PostgreSQL 15 (cassert)"
			pgc=$(bash "$root/test/debug_server.sh" | tail -n 1) ;;
		*) echo "unknown server \"$server\" in LAREDO_TEST_SERVERS" >&2; exit 2 ;;
	esac
	run_suite "$label" "$pgc" || failed+=("$label")
done
# the system's server gets back the laredo built for it
(cd "$root" && make -s clean >/dev/null && make -s >/dev/null && as_root make -s install >/dev/null)
if [ ${#failed[@]} -gt 0 ]; then
	printf 'failed on: %s\n' "${failed[@]}"
	echo "Result: FAIL"
	exit 1
fi
echo "Result: PASS"
