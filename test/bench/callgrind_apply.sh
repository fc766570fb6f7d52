#!/usr/bin/env bash
# Where the apply path spends its instructions: valgrind --tool=callgrind
# on a laredo consumer whose source worker applies a pgbench stream.
#
# One source and one consumer are created here and removed afterwards.  The
# consumer's postmaster runs under callgrind, collecting only inside
# laredo_apply_message and laredo_apply_flush (decoding, targets, commits);
# the baseline and the idle loop are left out.  Prints callgrind_annotate's
# inclusive and exclusive tops, and laredo.so's own share.
#   bash test/bench/callgrind_apply.sh [scale] [transactions per client]
set -euo pipefail
scale=${1:-2}
txns=${2:-1000}
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/test/setup.sh"
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null

bin=$(pg_config --bindir)
dir=$(mktemp -d)
chmod 755 "$dir"
as_root chown postgres "$dir"
declare -A port
for node in source consumer; do port[$node]=$(free_port); done
cleanup() {
	for node in source consumer; do
		pg "$bin/pg_ctl" -D "$dir/$node" -m immediate stop >/dev/null 2>&1 || true
	done
	pg pkill -f "callgrind.*$dir" >/dev/null 2>&1 || true
	as_root rm -rf "$dir"
}
trap cleanup EXIT
for node in source consumer; do
	init_server "$dir/$node" "${port[$node]}" 'shared_buffers = 256MB'
done
echo "shared_preload_libraries = 'laredo'" | pg tee -a "$dir/consumer/postgresql.conf" >/dev/null
pg "$bin/pg_ctl" -D "$dir/source" -l "$dir/source.log" -w start >/dev/null
pg mkdir "$dir/callgrind"
pg bash -c "valgrind --tool=callgrind --toggle-collect=laredo_apply_message --toggle-collect=laredo_apply_flush \
	--callgrind-out-file=$dir/callgrind/out.%p $bin/postgres -D $dir/consumer >$dir/consumer.log 2>&1 &"
q() { local node=$1; shift; PGOPTIONS='-c client_min_messages=warning' pg psql -h 127.0.0.1 -p "${port[$node]}" -X -q -At -v ON_ERROR_STOP=1 -d postgres "$@"; }
until q consumer -c "SELECT 1" >/dev/null 2>&1; do sleep 1; done

pg "$bin/pgbench" -i -q -s "$scale" -h 127.0.0.1 -p "${port[source]}" postgres >/dev/null 2>&1
tables="ARRAY['pgbench_accounts','pgbench_branches','pgbench_tellers','pgbench_history']"
q consumer -c "CREATE EXTENSION laredo" -c "BEGIN" \
	-c "SELECT laredo.create_source('cg', connection => 'host=127.0.0.1 port=${port[source]} dbname=postgres user=postgres')" \
	-c "SELECT laredo.add_table('cg', 'public.' || t) FROM unnest($tables) t" \
	-c "SELECT laredo.create_pipeline(t, 'cg', 'public.' || t) FROM unnest($tables) t" \
	-c "COMMIT" >/dev/null
q consumer -c "CALL laredo.wait_for_catchup('cg', '3600s')"
worker=$(q consumer -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'laredo source worker'")
pg "$bin/pgbench" -n -c 4 -j 2 -t "$txns" -h 127.0.0.1 -p "${port[source]}" postgres >/dev/null 2>&1
q consumer -c "CALL laredo.wait_for_catchup('cg', '3600s')"
[ "$(q consumer -c "SELECT md5(string_agg(t::text, '|' ORDER BY aid)) FROM pgbench_accounts t")" = \
  "$(q source -c "SELECT md5(string_agg(t::text, '|' ORDER BY aid)) FROM pgbench_accounts t")" ] ||
	echo "WARNING: pgbench_accounts differs from the source"
pg "$bin/pg_ctl" -D "$dir/consumer" -m fast -w stop >/dev/null   # the worker writes its profile as it exits
out="$dir/callgrind/out.$worker"
total=$(callgrind_annotate --auto=no "$out" | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
printf '\npgbench scale %s, %s x 4 transactions (%s row changes) applied by the laredo worker: %s instructions\n' \
	"$scale" "$txns" "$((txns * 16))" "$total"
echo "--- inclusive (top 30)"
callgrind_annotate --auto=no --inclusive=yes "$out" | grep -E '^ *[0-9,]+ \(' | grep -v 'PROGRAM TOTALS' | grep -v '???:0x' | head -30 || true
echo "--- exclusive (top 20)"
callgrind_annotate --auto=no "$out" | grep -E '^ *[0-9,]+ \(' | grep -v 'PROGRAM TOTALS' | head -20 || true
{ callgrind_annotate --auto=no --threshold=100 "$out" | grep 'laredo.so' || true; } |
	awk -v total="$total" '{gsub(",", "", $1); s += $1} END {printf "--- laredo.so itself: %d instructions, %.1f %% of the apply path\n", s, 100 * s / total}'
