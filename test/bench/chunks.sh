#!/usr/bin/env bash
# A table added to a running source, copied in one snapshot and in key
# ranges, on loopback: one source (pgbench_accounts of the given scale, and
# a small table the source streams from the start) and one consumer.  For
# each way (the snapshot, then ranges of each size given), the table is
# added, and the script measures:
#   - the copy's time, until wait_for_catchup returns (the pipeline streams);
#   - the longest time a laredo reader holds one snapshot on the source
#     during it (sampled every 5 ms from pg_stat_activity by a procedure on
#     the source: how long the same backend_xmin stays), which is how long
#     vacuum there is held back;
#   - how long the source's stream paused: a row inserted into the small
#     table every 100 ms on the source (by another procedure there) is
#     stamped on arrival by an ALWAYS trigger on the consumer, and the
#     longest wait between insert and arrival is printed.
# Both run in one session each on the source: a psql started every few
# milliseconds would take a share of the 2 cores the copies are timed on.
# With a load (LAREDO_CHUNK_LOAD=tps, pgbench updates of pgbench_accounts at
# that rate during each copy), the mirror is compared with the source at
# the end.  With LAREDO_CHUNK_BUILTIN=1, the built-in subscriber copies the
# same table on a third server in the same run (CREATE SUBSCRIPTION, its
# table synchronisation, measured the same way: until the table is ready,
# the longest snapshot its sync worker held on the source).  With
# LAREDO_CHUNK_CRASH=1 (or =size, that one only), each copy in ranges runs a second time with a crash
# of the consumer at half way (kill -9 of the worker: the postmaster
# restarts every backend, the copy resumes after the last range merged);
# its time is the whole copy's, crash and recovery included.  With
# LAREDO_CHUNK_PROFILE=prefix, perf records the whole machine during each
# copy (prefix.1 the snapshot's, prefix.2 the first size's, ...).  Timings
# are printed, never asserted.
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
nodes=(source laredo)
[ "${LAREDO_CHUNK_BUILTIN:-0}" = 0 ] || nodes+=(builtin)
for node in "${nodes[@]}"; do port[$node]=$(free_port); done
cleanup() {
	jobs -p | xargs -r kill 2>/dev/null || true
	for node in "${nodes[@]}"; do
		pg "$bin/pg_ctl" -D "$dir/$node" -m immediate stop >/dev/null 2>&1 || true
	done
	as_root rm -rf "$dir"
}
trap cleanup EXIT
for node in "${nodes[@]}"; do
	init_server "$dir/$node" "${port[$node]}" 'max_wal_size = 8GB' 'shared_buffers = 256MB' \
		'max_replication_slots = 20' 'max_wal_senders = 20'
done
echo "shared_preload_libraries = 'laredo'" | pg tee -a "$dir/laredo/postgresql.conf" >/dev/null
for node in "${nodes[@]}"; do
	pg "$bin/pg_ctl" -D "$dir/$node" -l "$dir/$node.log" -w start >/dev/null
done
q() { local node=$1; shift; PGOPTIONS='-c client_min_messages=warning' pg psql -h 127.0.0.1 -p "${port[$node]}" -X -q -At -v ON_ERROR_STOP=1 -d postgres "$@"; }
now() { date +%s.%N; }
conn="host=127.0.0.1 port=${port[source]} dbname=postgres user=postgres"

echo "initialising pgbench scale $scale on the source ..."
pg "$bin/pgbench" -i -q -s "$scale" -h 127.0.0.1 -p "${port[source]}" postgres >/dev/null 2>&1
q source -c "CREATE TABLE tick (id bigserial PRIMARY KEY, sent timestamptz NOT NULL DEFAULT clock_timestamp())" \
	-c "CREATE UNLOGGED TABLE sampling_stop (stop boolean)" \
	-c "CREATE UNLOGGED TABLE xmin_seen (pid int, seen_xmin text, first_at timestamptz, last_at timestamptz,
	                                     PRIMARY KEY (pid, seen_xmin))" \
	-c "CREATE PROCEDURE sample_xmins(apps text[]) LANGUAGE plpgsql AS \$\$
	    BEGIN
	        WHILE NOT EXISTS (SELECT FROM sampling_stop) LOOP
	            INSERT INTO xmin_seen
	            SELECT pid, backend_xmin::text, clock_timestamp(), clock_timestamp() FROM pg_stat_activity
	            WHERE application_name LIKE ANY (apps) AND backend_xmin IS NOT NULL
	            ON CONFLICT (pid, seen_xmin) DO UPDATE SET last_at = excluded.last_at;
	            COMMIT;
	            PERFORM pg_sleep(0.005);
	        END LOOP;
	    END \$\$" \
	-c "CREATE PROCEDURE tick_every_100ms() LANGUAGE plpgsql AS \$\$
	    BEGIN
	        WHILE NOT EXISTS (SELECT FROM sampling_stop) LOOP
	            INSERT INTO tick DEFAULT VALUES;
	            COMMIT;
	            PERFORM pg_sleep(0.1);
	        END LOOP;
	    END \$\$"
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
printf '%-46s %10s %22s %22s %8s\n' "copy" "time (s)" "longest snapshot (s)" "longest stream wait (s)" "rows ok"
# the samplers on the source: start_sampling APPS... (LIKE patterns of the
# readers' application_name), then stop_sampling (in this shell: a command
# substitution's subshell cannot wait for the sampler), then sampled, which
# prints the longest time one of them kept one snapshot (s)
start_sampling() {
	local apps
	apps=$(printf "'%s'," "$@")
	q source -c "TRUNCATE sampling_stop, xmin_seen"
	q source -c "CALL sample_xmins(ARRAY[${apps%,}])" &
	sampler=$!
}
stop_sampling() {
	q source -c "INSERT INTO sampling_stop VALUES (true)"
	wait "$sampler" || true
}
sampled() {
	q source -c "SELECT round(coalesce(max(extract(epoch FROM last_at - first_at)), 0)::numeric, 3) FROM xmin_seen"
}
# the copy's worker killed (-9) once the copy is half done; returns once the
# consumer has restarted
crash_at_half() {
	until [ "$(q laredo -c "SELECT coalesce((SELECT percent >= 50 FROM laredo.copies WHERE pipeline_id = 'accounts'), false)")" = t ]; do
		sleep 0.05
	done
	as_root kill -9 "$(q laredo -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'laredo source worker'")"
	sleep 1
	until q laredo -c "SELECT 1" >/dev/null 2>&1; do sleep 0.1; done
}
one() {
	local label=$1 options=$2 crash=${3:-} t0 t1 age=0 a ticker sampler loader=
	q laredo -c "DROP TABLE IF EXISTS pgbench_accounts" -c "TRUNCATE tick"
	q source -c "TRUNCATE tick"
	# each reader's snapshot as its backend_xmin: how long one value stays
	# (a walsender's pg_stat_activity has no xact_start)
	start_sampling 'laredo chunks %' 'laredo sync %' 'pg\_%\_sync\_%'
	q source -c "CALL tick_every_100ms()" &
	ticker=$!
	if [ -n "${LAREDO_CHUNK_LOAD:-}" ]; then
		pg "$bin/pgbench" -n -c 2 -j 2 -T 3600 -R "$LAREDO_CHUNK_LOAD" -f "$dir/load.sql" \
			-h 127.0.0.1 -p "${port[source]}" postgres >/dev/null 2>&1 &
		loader=$!
	fi
	sleep 1
	# LAREDO_CHUNK_PROFILE=prefix: a perf profile of the whole machine during
	# each copy, in prefix.N (N counting the copies from 1)
	if [ -n "${LAREDO_CHUNK_PROFILE:-}" ]; then
		profiled=$((${profiled:-0} + 1))
		perf record -q -a -g -o "$LAREDO_CHUNK_PROFILE.$profiled" >/dev/null 2>&1 &
		perfpid=$!
	fi
	t0=$(now)
	q laredo -c "BEGIN" -c "SELECT laredo.add_table('b', 'public.pgbench_accounts')" \
		-c "SELECT laredo.create_pipeline('accounts', 'b', 'public.pgbench_accounts', options => '$options')" \
		-c "COMMIT" >/dev/null
	[ -z "$crash" ] || crash_at_half
	q laredo -c "CALL laredo.wait_for_catchup('b', '3600s')"
	t1=$(now)
	if [ -n "${perfpid:-}" ]; then kill -INT "$perfpid"; wait "$perfpid" || true; perfpid=""; fi
	sleep 1
	stop_sampling
	a=$(sampled)
	wait "$ticker" || true
	# (runuser's child, pgbench, is stopped by name)
	[ -z "$loader" ] || { as_root pkill -f -- "-f $dir/load.sql" || true; wait "$loader" 2>/dev/null || true; }
	q laredo -c "CALL laredo.wait_for_catchup('b', '600s')"
	local wait ok
	wait=$(q laredo -c "SELECT round(extract(epoch FROM max(arrived - sent))::numeric, 2) FROM tick")
	ok=$([ "$(q source -c "SELECT count(*) || ':' || sum(('x' || left(md5(t::text), 15))::bit(60)::bigint) FROM pgbench_accounts t")" = \
		"$(q laredo -c "SELECT count(*) || ':' || sum(('x' || left(md5(t::text), 15))::bit(60)::bigint) FROM pgbench_accounts t")" ] && echo yes || echo NO)
	printf '%-46s %10.2f %22.2f %22s %8s\n' "$label" "$(echo "$t1 - $t0" | bc)" "${a:-0}" "$wait" "$ok"
	q laredo -c "SELECT laredo.drop_pipeline('accounts')" -c "SELECT laredo.remove_table('b', 'public.pgbench_accounts')" >/dev/null
}
# the built-in subscriber's copy of the same table: its table synchronisation
builtin() {
	local t0 t1 a sampler ok
	q builtin -c "DROP TABLE IF EXISTS pgbench_accounts" \
		-c "CREATE TABLE pgbench_accounts (aid integer PRIMARY KEY, bid integer, abalance integer, filler character(84))"
	q source -c "DROP PUBLICATION IF EXISTS bench_pub" -c "CREATE PUBLICATION bench_pub FOR TABLE pgbench_accounts"
	start_sampling 'pg\_%\_sync\_%'
	sleep 1
	t0=$(now)
	q builtin -c "CREATE SUBSCRIPTION bench_sub CONNECTION '$conn' PUBLICATION bench_pub" >/dev/null
	until [ "$(q builtin -c "SELECT coalesce(bool_and(srsubstate = 'r'), false) FROM pg_subscription_rel")" = t ]; do
		sleep 0.05
	done
	t1=$(now)
	stop_sampling
	a=$(sampled)
	ok=$([ "$(q source -c "SELECT count(*) || ':' || sum(('x' || left(md5(t::text), 15))::bit(60)::bigint) FROM pgbench_accounts t")" = \
		"$(q builtin -c "SELECT count(*) || ':' || sum(('x' || left(md5(t::text), 15))::bit(60)::bigint) FROM pgbench_accounts t")" ] && echo yes || echo NO)
	printf '%-46s %10.2f %22.2f %22s %8s\n' "built-in subscriber" "$(echo "$t1 - $t0" | bc)" "${a:-0}" "-" "$ok"
	q builtin -c "DROP SUBSCRIPTION bench_sub" -c "DROP TABLE pgbench_accounts"
}
[ "${LAREDO_CHUNK_BUILTIN:-0}" = 0 ] || builtin
one "one snapshot" '{"copy": "snapshot"}'
# a size may name the connections that read at once: 10000:4 (copy_readers; 2 unless told)
for n in "${sizes[@]}"; do
	if [[ $n == *:* ]]; then
		label="ranges of ${n%%:*} rows, ${n##*:} readers"
		options="{\"copy\": \"chunks\", \"chunk_rows\": ${n%%:*}, \"copy_readers\": ${n##*:}}"
	else
		label="ranges of $n rows"
		options="{\"copy\": \"chunks\", \"chunk_rows\": $n}"
	fi
	one "$label" "$options"
	case "${LAREDO_CHUNK_CRASH:-0}" in 1 | "$n") one "$label, crash at half" "$options" crash ;; esac
done
