#!/usr/bin/env bash
# Runs every laredo test on a fresh Debian 12 machine: installs the packages
# it needs, builds and installs laredo, then runs pg_regress (its own temp
# server) and the TAP suite (several servers each) as the postgres user, from
# a copy of the tree that postgres owns.  On each PostgreSQL laredo supports:
#   release  Debian's PostgreSQL 15 (this machine's): everything;
#   debug    a debug build of it (test/debug_server.sh: assertions on, freed
#            memory clobbered), where a misuse of memory fails at once
#            instead of by luck: everything;
#   18       PostgreSQL 18 in a chroot (test/chroot_server.sh): everything,
#            and the cross-version tests with a PostgreSQL 15 built in that
#            chroot (test/chroot_pg15.sh): 15 and 18 as source and consumer
#            both ways;
#   17, 19   PostgreSQL 17 and 19 (release candidate) in chroots: pg_regress
#            and the core TAP tests (resume, slot safety, reconnect,
#            operations, crash loop, laredo's own upgrade).
# A chroot or the debug build is made on the first run and cached in
# /var/cache/laredo.  Any server that logs a crash fails the run.
#
# The crash loop (TAP 130) runs its 20 cycles on the release build and 10 on
# the others, to keep the whole run within CI's hour.
#
# LAREDO_TEST_SERVERS: which runs, in order (default "release debug 18 17 19").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/test/setup.sh"

# the TAP tests a version runs: all, or these
core_tap="test/t/010_stateful_resume.pl test/t/030_slot_safety.pl test/t/080_reconnect.pl test/t/100_operations.pl test/t/130_crash_loop.pl test/t/260_upgrade.pl test/t/340_source_failover.pl"
crash_pattern="terminated by signal|was terminated by exception|PANIC|TRAP:|WARNING:.* leak\\b"

# the last commit of laredo 0.1.0 (library and catalog): TAP 260 upgrades from it
old_commit=9634194461f9fc7bd5cc8b92108bcf04f491788e
works=()
trap 'rm -rf "${works[@]}"' EXIT

# what failed, printed again at the very end (where CI shows the output)
report=$(mktemp)
works+=("$report")

# failure_report LABEL LOGDIR: for each TAP test of LOGDIR that failed, its
# failed assertions and how it ended, and the last errors of its servers
failure_report() {
	local label=$1 dir=$2 f t
	for f in "$dir"/regress_log_*; do
		[ -f "$f" ] || continue
		grep -qE '^(\[[0-9:.]+\]\([0-9.]+s\) )?not ok|Looks like your test|no plan was declared|^error running SQL|died|^[^#].* at test/t/[^ ]+\.pl line [0-9]+\.$' "$f" || continue
		t=${f##*/regress_log_}
		{
			echo "=== $label: TAP $t failed"
			# failed assertions, and a die's message (a poll that gave up)
			grep -E -A 6 '(^|\) )not ok|^error running SQL' "$f" | head -n 60
			grep -E '^[^#].* at test/t/[^ ]+\.pl line [0-9]+\.$' "$f" | head -n 5
			tail -n 4 "$f"
			for l in "$dir/${t}"_*.log; do
				[ -f "$l" ] || continue
				echo "--- last errors in ${l##*/}:"
				grep -E ' (ERROR|FATAL|PANIC|WARNING): ' "$l" | grep -v 'terminating connection due to administrator command' | tail -n 8 | cut -c1-400
			done
		} >>"$report"
	done
}

# run_suite LABEL PG_CONFIG [yes|no [CYCLES]]: the whole suite against that
# server build (yes: with laredo 0.1.0's own library for the upgrade test;
# CYCLES: the crash loop's, 20 unless told)
run_suite() {
	local label=$1 pgc=$2 with_old=${3:-no} cycles=LAREDO_CRASH_CYCLES=${4:-20} work old status=0
	echo "=== laredo tests on $label: $("$pgc" --version)"
	# (called as `run_suite ... || ...`: set -e does not apply in here)
	(cd "$root" && make -s clean PG_CONFIG="$pgc" >/dev/null && make -s PG_CONFIG="$pgc" >/dev/null &&
		as_root make -s install PG_CONFIG="$pgc" >/dev/null) || return 1
	# laredo 0.1.0's own library, for the first half of the upgrade test (TAP
	# 260): built from the commit of 0.1.0, found in the clone's history; not
	# on the debug build, where 0.1.0's use after free at CREATE EXTENSION
	# (fixed in 0.2.0) is the crash it was found as
	old=
	if [ "$with_old" != yes ]; then
		:
	elif git -C "$root" cat-file -e "$old_commit^{commit}" 2>/dev/null; then
		old=$(mktemp -d) && works+=("$old") && git -C "$root" archive "$old_commit" | tar -x -C "$old" &&
			(cd "$old" && make -s PG_CONFIG="$pgc" >/dev/null 2>&1) && chmod -R a+rX "$old" || return 1
		old="LAREDO_OLD_BUILD=$old"
	else
		echo "note: the clone has no commit $old_commit (laredo 0.1.0): TAP 260 runs without 0.1.0's own library"
	fi
	work=$(mktemp -d) || return 1
	works+=("$work")
	cp -a "$root"/. "$work"/ && as_root chown -R postgres "$work" && chmod 755 "$work" && cd "$work" || return 1
	# pg_regress first, on its own temporary server
	as_root runuser -u postgres -- make -s installcheck PG_CONFIG="$pgc" TAP_TESTS= || status=$?
	# laredo must never take its server down: pg_regress's server must not
	# have logged a crash (the TAP tests check their own in LaredoTest.pm)
	if grep -E "$crash_pattern" log/postmaster.log; then
		echo "pg_regress's server logged a crash (above)"
		status=1
	fi
	if [ "$status" -ne 0 ]; then
		[ -f regression.diffs ] && cat regression.diffs
		echo "pg_regress failed on $label: the TAP tests were not run"
		return "$status"
	fi
	# then the TAP suite
	as_root runuser -u postgres -- env $old $cycles make -s installcheck PG_CONFIG="$pgc" REGRESS= || status=$?
	if [ "$status" -ne 0 ]; then
		failure_report "$label" tmp_check/log
		echo "the TAP tests failed on $label"
	fi
	cd "$root"
	return "$status"
}

# run_chroot_suite MAJOR TAP-TESTS: the suite on PostgreSQL MAJOR, in its chroot
run_chroot_suite() {
	local major=$1 tests=$2 dir pgc pg15 cross= status=0
	local run="bash $root/test/chroot_server.sh $major run"
	echo "=== laredo tests on PostgreSQL $major (a chroot)"
	dir=$(bash "$root/test/chroot_server.sh" "$major" | tail -n 1) || return 1
	pgc=/usr/lib/postgresql/$major/bin/pg_config
	# the tree, without what a build here left, copied in for postgres
	rm -rf "$dir/build/laredo" && mkdir -p "$dir/build/laredo" || return 1
	(cd "$root" && tar cf - --exclude=./tmp_check --exclude=./tmp_check_regress --exclude=./results \
		--exclude=./log --exclude='*.o' --exclude='*.so' --exclude='*.bc' .) | tar xf - -C "$dir/build/laredo" || return 1
	# on 18, the cross-version tests also need laredo in a PostgreSQL 15
	# built in the same chroot (test/chroot_pg15.sh)
	if [ "$major" = 18 ]; then
		pg15=$(bash "$root/test/chroot_pg15.sh" | tail -n 1) || return 1
		cross="LAREDO_CROSS_PG15=${pg15%/bin/pg_config}"
		$run -- sh -c "chown -R postgres /build/laredo && cd /build/laredo &&
			make -s PG_CONFIG=$pg15 >/dev/null && make -s install PG_CONFIG=$pg15 >/dev/null &&
			make -s clean PG_CONFIG=$pg15 >/dev/null" || return 1
	fi
	$run -- sh -c "chown -R postgres /build/laredo && cd /build/laredo &&
		make -s PG_CONFIG=$pgc >/dev/null && make -s install PG_CONFIG=$pgc >/dev/null" || return 1
	$run -u postgres -- make -s -C /build/laredo installcheck PG_CONFIG="$pgc" TAP_TESTS= || status=$?
	if grep -E "$crash_pattern" "$dir/build/laredo/log/postmaster.log"; then
		echo "pg_regress's server logged a crash (above)"
		status=1
	fi
	if [ "$status" -ne 0 ]; then
		[ -f "$dir/build/laredo/regression.diffs" ] && cat "$dir/build/laredo/regression.diffs"
		echo "pg_regress failed on PostgreSQL $major: the TAP tests were not run"
		return "$status"
	fi
	$run -u postgres -- env $cross LAREDO_CRASH_CYCLES=10 make -s -C /build/laredo installcheck PG_CONFIG="$pgc" REGRESS= \
		${tests:+PROVE_TESTS="$tests"} || status=$?
	if [ "$status" -ne 0 ]; then
		failure_report "PostgreSQL $major" "$dir/build/laredo/tmp_check/log"
		echo "the TAP tests failed on PostgreSQL $major"
	fi
	return "$status"
}

failed=()
for server in ${LAREDO_TEST_SERVERS:-release debug 18 17 19}; do
	start=$SECONDS
	case $server in
		release)
			run_suite "Debian's PostgreSQL 15" "$(command -v pg_config)" yes || failed+=("PostgreSQL 15") ;;
		debug)
			pgc=$(bash "$root/test/debug_server.sh" | tail -n 1)
			run_suite "a debug build of PostgreSQL 15 (cassert)" "$pgc" no 10 || failed+=("PostgreSQL 15, debug build") ;;
		18)
			run_chroot_suite 18 "" || failed+=("PostgreSQL 18") ;;
		17 | 19)
			run_chroot_suite "$server" "$core_tap" || failed+=("PostgreSQL $server") ;;
		*) echo "unknown server \"$server\" in LAREDO_TEST_SERVERS" >&2; exit 2 ;;
	esac
	echo "=== $server: $((SECONDS - start)) s"
done
# the system's server gets back the laredo built for it
(cd "$root" && make -s clean >/dev/null && make -s >/dev/null && as_root make -s install >/dev/null)
if [ ${#failed[@]} -gt 0 ]; then
	cat "$report"
	printf 'failed on: %s\n' "${failed[@]}"
	echo "Result: FAIL"
	exit 1
fi
echo "Result: PASS"
