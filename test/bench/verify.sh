#!/usr/bin/env bash
# Online verification and repair of a mirror, on loopback: one source
# (pgbench_accounts of the given scale) and one consumer mirroring it.  The
# script measures, for ranges of the given size:
#   1. a verification of the clean mirror: its time, its ranges and how
#      many of them were settled by their hashes alone, the source's CPU
#      for it (the reader backend's, from /proc), the longest time one
#      reader's snapshot stayed on the source (its backend_xmin, sampled
#      every 50 ms);
#   2. the same after 10 rows, then 1,000 rows spread over the whole table,
#      were changed in the mirror behind laredo's back (every range then
#      differs: the worst case, each range read as a hash and then as rows);
#   3. a repair of those 1,000 rows, and a verification after it;
#   4. for scale, a whole-table hash on the source in one statement (what an
#      offline compare does: one snapshot held for all of it).
# With LAREDO_VERIFY_LOAD=tps, pgbench updates pgbench_accounts at that rate
# throughout.  Timings are printed, never asserted; the counts are checked
# against what was changed.
#   bash test/bench/verify.sh [scale] [chunk_rows]
# LAREDO_BENCH_INSTALL=0: install and build nothing (test/chroot_server.sh).
set -euo pipefail
shopt -s inherit_errexit
scale=${1:-20}
rows=${2:-10000}
root=$(cd "$(dirname "$0")/../.." && pwd)
if [ "${LAREDO_BENCH_INSTALL:-1}" = 0 ]; then
	. <(sed '/^$/q' "$root/test/setup.sh")
else
	. "$root/test/setup.sh"
fi
bin=$(pg_config --bindir)
dir=$(mktemp -d)
chmod 755 "$dir"
as_root chown postgres "$dir"
declare -A port
for node in source laredo; do port[$node]=$(free_port); done
cleanup() {
	jobs -p | xargs -r kill 2>/dev/null || true
	as_root pkill -f -- "-f $dir/load.sql" 2>/dev/null || true
	for node in source laredo; do
		pg "$bin/pg_ctl" -D "$dir/$node" -m immediate stop >/dev/null 2>&1 || true
	done
	as_root rm -rf "$dir"
}
trap cleanup EXIT
for node in source laredo; do
	init_server "$dir/$node" "${port[$node]}" 'max_wal_size = 8GB' 'shared_buffers = 256MB' \
		'max_replication_slots = 20' 'max_wal_senders = 20'
done
echo "shared_preload_libraries = 'laredo'" | pg tee -a "$dir/laredo/postgresql.conf" >/dev/null
for node in source laredo; do
	pg "$bin/pg_ctl" -D "$dir/$node" -l "$dir/$node.log" -w start >/dev/null
done
q() { local node=$1; shift; PGOPTIONS='-c client_min_messages=warning' pg psql -h 127.0.0.1 -p "${port[$node]}" -X -q -At -v ON_ERROR_STOP=1 -d postgres "$@"; }
now() { date +%s.%N; }
conn="host=127.0.0.1 port=${port[source]} dbname=postgres user=postgres"
ticks=$(getconf CLK_TCK)

echo "initialising pgbench scale $scale on the source ..."
pg "$bin/pgbench" -i -q -s "$scale" -h 127.0.0.1 -p "${port[source]}" postgres >/dev/null 2>&1
q laredo -c "CREATE EXTENSION laredo" \
	-c "SELECT laredo.create_source('b', connection => '$conn', slot_name => 'laredo_verify_bench')" \
	-c "SELECT laredo.add_table('b', 'public.pgbench_accounts')" \
	-c "SELECT laredo.create_pipeline('accounts', 'b', 'public.pgbench_accounts')" >/dev/null
q laredo -c "CALL laredo.wait_for_catchup('b', '3600s')"
cat > "$dir/load.sql" <<EOF
\\set aid random(1, $((scale * 100000)))
UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = :aid;
EOF
chmod 644 "$dir/load.sql"
if [ -n "${LAREDO_VERIFY_LOAD:-}" ]; then
	pg "$bin/pgbench" -n -c 2 -j 2 -T 36000 -R "$LAREDO_VERIFY_LOAD" -f "$dir/load.sql" \
		-h 127.0.0.1 -p "${port[source]}" postgres >/dev/null 2>&1 &
fi

printf '%s (PostgreSQL %s, %s cores): pgbench_accounts, %d rows, ranges of %d rows%s\n' \
	"$(uname -r)" "$(pg_config --version | awk '{print $2}')" "$(nproc)" $((scale * 100000)) "$rows" \
	"${LAREDO_VERIFY_LOAD:+, under $LAREDO_VERIFY_LOAD updates a second}"
printf '%-34s %9s %8s %8s %11s %12s %14s\n' "run" "time (s)" "ranges" "hashed" "found" "source CPU (s)" "longest snapshot (s)"

# one verification (or repair): its time and counts, and what it cost the source
one() {
	local label=$1 call=$2 expect=$3 t0 t1 sampler ticker id res cpu age
	# (a transaction id taken every 100 ms, so that a new snapshot's xmin moves on even on an idle source)
	(while :; do q source -c "SELECT pg_catalog.txid_current()" >/dev/null; sleep 0.1; done) 2>/dev/null &
	ticker=$!
	(while :; do
		q source -c "SELECT extract(epoch FROM clock_timestamp()) || ' ' || pid || ':' || coalesce(backend_xmin::text, '-')
		             FROM pg_stat_activity WHERE application_name LIKE 'laredo chunks %'" | while read -r at pidx; do
			pid=${pidx%%:*}
			cpu=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo)
			echo "$at $pidx $cpu"
		done
		sleep 0.05
	done > "$dir/samples") 2>/dev/null &
	sampler=$!
	t0=$(now)
	id=$(q laredo -c "SELECT $call")
	q laredo -c "SELECT laredo.wait_for_verification('accounts', '3600s')" >/dev/null
	t1=$(now)
	kill "$sampler" "$ticker" 2>/dev/null || true
	wait "$sampler" "$ticker" 2>/dev/null || true
	res=$(q laredo -c "SELECT ranges || ' ' || hashed_ranges || ' ' || (missing + extra + different) || ' ' || state
		FROM laredo.verifications WHERE verification_id = $id")
	set -- $res
	# the reader's CPU: the last sample of each reader backend, less its first
	cpu=$(awk -v t="$ticks" '$3 != "" { split($2, a, ":"); if (!(a[1] in f)) f[a[1]] = $3; l[a[1]] = $3 }
		END { s = 0; for (p in f) s += l[p] - f[p]; printf "%.2f", s / t }' "$dir/samples")
	# a snapshot: how long one backend_xmin value stays
	age=$(awk '$2 !~ /:-$/ { if (!($2 in first)) first[$2] = $1; if ($1 - first[$2] > m) m = $1 - first[$2] }
		END { printf "%.2f", m + 0 }' "$dir/samples")
	printf '%-34s %9.2f %8s %8s %11s %12s %14s\n' "$label" "$(echo "$t1 - $t0" | bc)" "$1" "$2" "$3" "$cpu" "$age"
	[ "$4" = done ] || echo "  the verification ended $4"
	[ "$3" = "$expect" ] || echo "  found $3 rows that differ, expected $expect"
}

tamper() {
	q laredo -c "SET session_replication_role = replica" -c "$1" >/dev/null
}

one "clean mirror" "laredo.verify_pipeline('accounts', chunk_rows => $rows)" 0
tamper "UPDATE pgbench_accounts SET filler = 'changed' WHERE aid IN (SELECT g * $((scale * 10000)) FROM generate_series(1, 10) g)"
one "10 rows changed" "laredo.verify_pipeline('accounts', chunk_rows => $rows)" 10
tamper "UPDATE pgbench_accounts SET filler = 'changed' WHERE aid % $((scale * 100)) = 0"
one "1,000 rows changed, spread out" "laredo.verify_pipeline('accounts', chunk_rows => $rows)" 1000
one "repair of those 1,000 rows" "laredo.repair_pipeline('accounts', chunk_rows => $rows)" 1000
one "verification after the repair" "laredo.verify_pipeline('accounts', chunk_rows => $rows)" 0

t0=$(now)
# (the verification's own hash of each row, summed over the table in one
# statement: an md5 of the rows' text aggregated outgrows 1 GB at 20,000,000)
q source -c "SELECT count(*), sum(hashtextextended(t::text COLLATE \"C\", 0)) FROM pgbench_accounts t" >/dev/null
t1=$(now)
printf '%-34s %9.2f   (one statement, one snapshot for all of it)\n' "whole-table hash on the source" "$(echo "$t1 - $t0" | bc)"
