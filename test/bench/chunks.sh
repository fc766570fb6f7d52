#!/usr/bin/env bash
# A table added to a running source, copied in one snapshot and in key
# ranges, on loopback: one source (pgbench_accounts of the given scale, and
# a small table the source streams from the start) and one consumer.  For
# each way (the snapshot, then ranges of each size given), the table is
# added, and the script measures:
#   - the copy's time, until wait_for_catchup returns (the pipeline streams);
#   - the longest time a laredo reader holds one snapshot on the source
#     during it (sampled every 50 ms from pg_stat_activity: how long the same
#     backend_xmin stays), which is how long vacuum there is held back;
#   - how long the source's stream paused: a row inserted into the small
#     table every 100 ms on the source is stamped on arrival by an ALWAYS
#     trigger on the consumer, and the longest wait between insert and
#     arrival is printed.
# With a load (LAREDO_CHUNK_LOAD=tps, pgbench updates of pgbench_accounts at
# that rate during each copy), the mirror is compared with the source at
# the end.  Timings are printed, never asserted.
#   bash test/bench/chunks.sh [scale] [chunk_rows[:copy_readers] ...]
# LAREDO_BENCH_INSTALL=0: install and build nothing (test/chroot_server.sh).
set -euo pipefail
shopt -s inherit_errexit
scale=${1:-20}
shift || true
sizes=("$@")
((${#sizes[@]})) || sizes=(10000 100000)
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

echo "initialising pgbench scale $scale on the source ..."
pg "$bin/pgbench" -i -q -s "$scale" -h 127.0.0.1 -p "${port[source]}" postgres >/dev/null 2>&1
q source -c "CREATE TABLE tick (id bigserial PRIMARY KEY, sent timestamptz NOT NULL DEFAULT clock_timestamp())"
q laredo -c "CREATE EXTENSION laredo" \
	-c "SELECT laredo.create_source('b', connection => '$conn', slot_name => 'laredo_chunks_bench')" \
	-c "SELECT laredo.add_table('b', 'public.tick')" \
	-c "SELECT laredo.create_pipeline('tick', 'b', 'public.tick')"
q laredo -c "CALL laredo.wait_for_catchup('b', '600s')"
q laredo -c "ALTER TABLE tick ADD COLUMN arrived timestamptz" \
	-c "CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS \$\$BEGIN NEW.arrived := clock_timestamp(); RETURN NEW; END\$\$" \
	-c "CREATE TRIGGER stamp BEFORE INSERT ON tick FOR EACH ROW EXECUTE FUNCTION stamp()" \
	-c "ALTER TABLE tick ENABLE ALWAYS TRIGGER stamp"
cat > "$dir/load.sql" <<EOF
\\set aid random(1, $((scale * 100000)))
UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = :aid;
EOF
chmod 644 "$dir/load.sql"

printf '%s (PostgreSQL %s, %s cores): a table of %d rows added to a running source\n' \
	"$(uname -r)" "$(pg_config --version | awk '{print $2}')" "$(nproc)" $((scale * 100000))
printf '%-26s %10s %22s %22s %8s\n' "copy" "time (s)" "longest snapshot (s)" "longest stream wait (s)" "rows ok"
one() {
	local label=$1 options=$2 t0 t1 age=0 a ticker sampler loader=
	q laredo -c "DROP TABLE IF EXISTS pgbench_accounts" -c "TRUNCATE tick"
	q source -c "TRUNCATE tick"
	(while :; do q source -c "INSERT INTO tick DEFAULT VALUES" 2>/dev/null || true; sleep 0.1; done) &
	ticker=$!
	# each reader's snapshot as its backend_xmin: how long one value stays
	# (a walsender's pg_stat_activity has no xact_start)
	(while :; do
		q source -c "SELECT extract(epoch FROM clock_timestamp()) || ' ' || pid || ':' || backend_xmin FROM pg_stat_activity
		             WHERE (application_name LIKE 'laredo chunks %' OR application_name LIKE 'laredo sync %')
		               AND backend_xmin IS NOT NULL"
		sleep 0.05
	done > "$dir/ages") 2>/dev/null &
	sampler=$!
	if [ -n "${LAREDO_CHUNK_LOAD:-}" ]; then
		pg "$bin/pgbench" -n -c 2 -j 2 -T 3600 -R "$LAREDO_CHUNK_LOAD" -f "$dir/load.sql" \
			-h 127.0.0.1 -p "${port[source]}" postgres >/dev/null 2>&1 &
		loader=$!
	fi
	sleep 1
	t0=$(now)
	q laredo -c "BEGIN" -c "SELECT laredo.add_table('b', 'public.pgbench_accounts')" \
		-c "SELECT laredo.create_pipeline('accounts', 'b', 'public.pgbench_accounts', options => '$options')" \
		-c "COMMIT" >/dev/null
	q laredo -c "CALL laredo.wait_for_catchup('b', '3600s')"
	t1=$(now)
	sleep 1
	kill "$ticker" "$sampler" 2>/dev/null || true
	# (runuser's child, pgbench, is stopped by name)
	[ -z "$loader" ] || { as_root pkill -f -- "-f $dir/load.sql" || true; wait "$loader" 2>/dev/null || true; }
	wait "$ticker" "$sampler" 2>/dev/null || true
	q laredo -c "CALL laredo.wait_for_catchup('b', '600s')"
	a=$(awk '{ if (!($2 in first)) first[$2] = $1; if ($1 - first[$2] > m) m = $1 - first[$2] } END { print m + 0 }' "$dir/ages")
	local wait ok
	wait=$(q laredo -c "SELECT round(extract(epoch FROM max(arrived - sent))::numeric, 2) FROM tick")
	ok=$([ "$(q source -c "SELECT md5(string_agg(t::text, '|' ORDER BY aid)) FROM pgbench_accounts t")" = \
		"$(q laredo -c "SELECT md5(string_agg(t::text, '|' ORDER BY aid)) FROM pgbench_accounts t")" ] && echo yes || echo NO)
	printf '%-26s %10.2f %22.2f %22s %8s\n' "$label" "$(echo "$t1 - $t0" | bc)" "${a:-0}" "$wait" "$ok"
	q laredo -c "SELECT laredo.drop_pipeline('accounts')" -c "SELECT laredo.remove_table('b', 'public.pgbench_accounts')" >/dev/null
}
one "one snapshot" '{}'
# a size may name the connections that read at once: 10000:4 (copy_readers; 2 unless told)
for n in "${sizes[@]}"; do
	if [[ $n == *:* ]]; then
		one "ranges of ${n%%:*} rows, ${n##*:} readers" "{\"copy\": \"chunks\", \"chunk_rows\": ${n%%:*}, \"copy_readers\": ${n##*:}}"
	else
		one "ranges of $n rows" "{\"copy\": \"chunks\", \"chunk_rows\": $n}"
	fi
done
