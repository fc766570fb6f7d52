#!/usr/bin/env bash
# Large transactions: baseline of N rows, then one transaction on the source
# updating M of them.  Reports the time to catch up, the source worker's
# memory (peak private (anonymous) RSS sampled every 100 ms, and VmHWM, the
# peak total RSS, which also counts the shared buffers it touched), and what
# the consumer wrote: WAL generated and database size after each step.
#   bash test/bench/large_txn.sh [rows] [updated rows]   (default 1000000, all)
set -euo pipefail
rows=${1:-1000000}
urows=${2:-$rows}
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/test/setup.sh"

bin=$(pg_config --bindir)
dir=$(mktemp -d)
chmod 755 "$dir"
as_root chown postgres "$dir"
sport=$(free_port); cport=$(free_port)
cleanup() {
	pg "$bin/pg_ctl" -D "$dir/source" -m immediate stop >/dev/null 2>&1 || true
	pg "$bin/pg_ctl" -D "$dir/consumer" -m immediate stop >/dev/null 2>&1 || true
	as_root rm -rf "$dir"
}
trap cleanup EXIT
init_server "$dir/source" "$sport" 'max_wal_size = 4GB'
init_server "$dir/consumer" "$cport" "shared_preload_libraries = 'laredo'" 'max_wal_size = 4GB'
pg "$bin/pg_ctl" -D "$dir/source" -l "$dir/source.log" -w start >/dev/null
pg "$bin/pg_ctl" -D "$dir/consumer" -l "$dir/consumer.log" -w start >/dev/null
src() { pg psql -h 127.0.0.1 -p "$sport" -X -q -At -v ON_ERROR_STOP=1 -d postgres "$@"; }
dst() { pg psql -h 127.0.0.1 -p "$cport" -X -q -At -v ON_ERROR_STOP=1 -d postgres "$@"; }

src -c "CREATE TABLE big (id int PRIMARY KEY, v int NOT NULL, pad text)" \
	-c "INSERT INTO big SELECT g, g, repeat('p', 50) FROM generate_series(1, $rows) g"

now() { date +%s.%N; }
wal() { dst -c "SELECT pg_current_wal_lsn()"; }
walsize() { dst -c "SELECT pg_wal_lsn_diff('$2', '$1')::bigint / 1048576"; }
dbsize() { dst -c "SELECT pg_database_size('postgres') / 1048576"; }
w0=$(wal)
t0=$(now)
dst -c "CREATE EXTENSION laredo" -c "BEGIN" \
	-c "SELECT laredo.create_source('big', connection => 'host=127.0.0.1 port=$sport dbname=postgres user=postgres')" \
	-c "SELECT laredo.add_table('big', 'public.big')" \
	-c "SELECT laredo.create_pipeline('big', 'big', 'public.big', target => 'public.big')" -c "COMMIT" >/dev/null
pid=""
while [ -z "$pid" ]; do
	pid=$(dst -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'laredo source worker'")
	sleep 0.1
done
# sample the worker's private memory in the background
( peak=0; while kill -0 "$pid" 2>/dev/null; do
	a=$(awk '/^RssAnon:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
	[ "${a:-0}" -gt "$peak" ] && peak=$a && echo "$peak" > "$dir/peak_anon"
	sleep 0.1; done ) &
sampler=$!
[ "$(dst -c "CALL laredo.wait_for_catchup('big', '3600s'); SELECT true")" = t ] || { echo "baseline did not finish"; exit 1; }
t1=$(now)
hwm_baseline=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")
anon_baseline=$(cat "$dir/peak_anon")
w1=$(wal); db1=$(dbsize)

src -c "UPDATE big SET v = v + 1 WHERE id <= $urows"
t2=$(now)
[ "$(dst -c "CALL laredo.wait_for_catchup('big', '3600s'); SELECT true")" = t ] || { echo "update did not apply"; exit 1; }
t3=$(now)
hwm_update=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")
anon_update=$(cat "$dir/peak_anon")
w2=$(wal); db2=$(dbsize)
kill "$sampler" 2>/dev/null || true
same=$( [ "$(src -c "SELECT md5(string_agg(v::text, ',' ORDER BY id)) FROM big")" = \
          "$(dst -c "SELECT md5(string_agg(v::text, ',' ORDER BY id)) FROM big")" ] && echo yes || echo NO)

printf '\nlaredo large-transaction benchmark (%s rows, %s updated in one transaction; %s)\n' \
	"$rows" "$urows" "$(nproc) cores, $(uname -r)"
printf '%-44s %s\n' "baseline: time to STREAMING (s)" "$(echo "$t1 - $t0" | bc)"
printf '%-44s %s\n' "  consumer WAL written (MiB)" "$(walsize "$w0" "$w1")"
printf '%-44s %s\n' "  consumer database size after (MiB)" "$db1"
printf '%-44s %s\n' "update in one transaction, on the source (s)" "$(echo "$t2 - $t1" | bc)"
printf '%-44s %s\n' "  then time until applied here (s)" "$(echo "$t3 - $t2" | bc)"
printf '%-44s %s\n' "  consumer WAL written (MiB)" "$(walsize "$w1" "$w2")"
printf '%-44s %s\n' "  consumer database size after (MiB)" "$db2"
printf '%-44s %s\n' "worker peak private RSS, baseline (MiB)" "$((anon_baseline / 1024))"
printf '%-44s %s\n' "worker peak private RSS, after update (MiB)" "$((anon_update / 1024))"
printf '%-44s %s\n' "worker VmHWM incl. shared buffers (MiB)" "$((hwm_baseline / 1024)) -> $((hwm_update / 1024))"
printf '%-44s %s\n' "target equals source" "$same"
