#!/usr/bin/env bash
# Catch-up after a consumer restart under an unthrottled load that grows a
# table without a key (REPLICA IDENTITY FULL): laredo against PostgreSQL's
# own subscriber on the same consumer, a consumer on 18 of a source on 15
# and the reverse (test/bench/catchup_keyless.pl: TAP 270's tables and load,
# without its rate).  As root: makes the PostgreSQL 18 chroot and the
# PostgreSQL 15 inside it when missing (test/chroot_server.sh,
# test/chroot_pg15.sh), installs laredo from a copy of this tree into both,
# and prints, for each direction, the transactions of the load and how long
# each consumer took to confirm the source's last position after the load
# ended.  Nothing else may use the chroot meanwhile (its laredo is
# reinstalled).
#   bash test/bench/catchup.sh [seconds of load, default 6]
set -euo pipefail
shopt -s inherit_errexit
root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-6}
pgc=/usr/lib/postgresql/18/bin/pg_config
dir=$(bash "$root/test/chroot_server.sh" 18 | tail -n 1)
pg15=$(bash "$root/test/chroot_pg15.sh" | tail -n 1)
run="bash $root/test/chroot_server.sh 18 run"
rm -rf "$dir/build/catchup" && mkdir -p "$dir/build/catchup"
(cd "$root" && tar cf - --exclude=./tmp_check --exclude=./tmp_check_regress --exclude=./results \
	--exclude=./log --exclude='*.o' --exclude='*.so' --exclude='*.bc' .) | tar xf - -C "$dir/build/catchup"
$run -- sh -c "chown -R postgres /build/catchup && cd /build/catchup &&
	make -s PG_CONFIG=$pg15 >/dev/null && make -s install PG_CONFIG=$pg15 >/dev/null &&
	make -s clean PG_CONFIG=$pg15 >/dev/null &&
	make -s PG_CONFIG=$pgc >/dev/null && make -s install PG_CONFIG=$pgc >/dev/null"
$run -u postgres -- env LAREDO_CROSS_PG15="${pg15%/bin/pg_config}" LAREDO_CATCHUP_SECONDS="$seconds" \
	make -s -C /build/catchup installcheck PG_CONFIG=$pgc REGRESS= PROVE_TESTS=test/bench/catchup_keyless.pl
