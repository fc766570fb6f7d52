#!/usr/bin/env bash
# laredo against PostgreSQL's own subscription, side by side, on loopback.
#
# One source and two consumers are created here and removed afterwards:
# consumer A runs laredo (a stateful source, table targets for the four
# pgbench tables), consumer B a CREATE SUBSCRIPTION on an identical
# publication.  In the same run and on the same data it measures:
#   1. baseline: time to copy a pgbench database of the given scale until
#      laredo's pipelines are STREAMING / the subscription's tables ready
#      (the median of LAREDO_BASELINE_ROUNDS rounds, 3 unless set);
#   2. catch-up: pgbench runs a fixed number of transactions with 4 clients
#      while both consumers are paused, their shared buffers warmed first
#      (pg_prewarm of the four tables and their indexes, as on a server that
#      has run a while: on servers just started, the drain's first reads
#      into shared buffers make the kernel zero shared memory's pages, the
#      same for both consumers, up to a quarter of laredo's CPU on this
#      machine depending on the host's state; LAREDO_BENCH_COLD=1 skips it);
#      then each drains the backlog alone
#      (done when pgbench_history, insert-only and applied in commit
#      order, matches the source's row count): the time and the apply rate
#      in rows per second; then the time until the source's slot confirms
#      the load's end LSN (the consumer's acknowledgement, by its own
#      feedback schedule); and what the drain cost in CPU: the apply
#      process (and its kernel time: reading pages from the page cache,
#      first touches of shared memory), the source's walsender feeding it,
#      the machine as a whole (when both are near a core each on 2 cores,
#      anything else running slows the drain);
#   3. lag at a steady rate: pgbench --rate (3 s of warm-up first), plus
#      probe rows inserted by a second pgbench at 100 per second (Poisson
#      arrivals, 3,000 of them) and stamped on arrival by an ALWAYS trigger
#      on both consumers; p50/p95/p99 of each, and per probe the difference
#      between the two (both see the same source, so a stall of the source
#      or of the machine delays both: the paired difference shows what is
#      the consumer's own);
#   4. ceiling: pg_recvlogical (pgoutput) draining the same backlog, and
#      the source's decoding alone (pg_logical_slot_peek_binary_changes with
#      pgoutput, no network, no client): pg_recvlogical writes every
#      message and a newline to its file, two write() calls per change, and
#      on 2 cores that client is its own bottleneck; the decoding alone is
#      the bound no consumer of this source can pass.
# Timings are printed, never asserted.
#   bash test/bench/compare.sh [scale] [transactions per client] [rate]
# LAREDO_BUILTIN_BINARY=1: the subscription is made WITH (binary = true)
# (PostgreSQL 16 or later, where its initial copy is binary too); its other
# options keep their defaults (on 18, streaming = parallel).
# LAREDO_BINARY_STREAM=off: laredo streams in text (laredo.binary_stream;
# on by default: in binary, pgbench's columns being all built-in types).
# LAREDO_BENCH_INSTALL=0: install no package and build nothing (only
# test/setup.sh's helpers): the laredo installed for the pg_config on PATH
# is measured, e.g. PostgreSQL 18's in its chroot, built and installed there
# first (test/chroot_server.sh):
#   bash test/chroot_server.sh 18 run -- env PATH=/usr/lib/postgresql/18/bin:/usr/sbin:/usr/bin:/sbin:/bin \
#       LAREDO_BENCH_INSTALL=0 bash /build/laredo/test/bench/compare.sh
set -euo pipefail
shopt -s inherit_errexit
scale=${1:-20}
txns=${2:-5000}
rate=${3:-500}
root=$(cd "$(dirname "$0")/../.." && pwd)
if [ "${LAREDO_BENCH_INSTALL:-1}" = 0 ]; then
	# setup.sh's helpers only: its lines up to the first blank one
	. <(sed '/^$/q' "$root/test/setup.sh")
else
	. "$root/test/setup.sh"
fi

bin=$(pg_config --bindir)
major=$(pg_config --version | awk '{print int($2)}')
sub_options=
if [ "${LAREDO_BUILTIN_BINARY:-0}" = 1 ]; then
	((major >= 16)) || { echo "LAREDO_BUILTIN_BINARY=1 needs PostgreSQL 16 or later (this is $major)" >&2; exit 2; }
	sub_options=" WITH (binary = true)"
fi
dir=$(mktemp -d)
chmod 755 "$dir"
as_root chown postgres "$dir"
declare -A port
for node in source laredo builtin; do port[$node]=$(free_port); done
cleanup() {
	for node in source laredo builtin; do
		pg "$bin/pg_ctl" -D "$dir/$node" -m immediate stop >/dev/null 2>&1 || true
	done
	as_root rm -rf "$dir"
}
trap cleanup EXIT
for node in source laredo builtin; do
	init_server "$dir/$node" "${port[$node]}" 'max_wal_size = 8GB' 'shared_buffers = 256MB' \
		'max_replication_slots = 20' 'max_wal_senders = 20'
done
{ echo "shared_preload_libraries = 'laredo'"; echo "laredo.binary_stream = ${LAREDO_BINARY_STREAM:-on}"; } |
	pg tee -a "$dir/laredo/postgresql.conf" >/dev/null
for node in source laredo builtin; do
	pg "$bin/pg_ctl" -D "$dir/$node" -l "$dir/$node.log" -w start >/dev/null
done
q() { local node=$1; shift; PGOPTIONS='-c client_min_messages=warning' pg psql -h 127.0.0.1 -p "${port[$node]}" -X -q -At -v ON_ERROR_STOP=1 -d postgres "$@"; }
now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc; }
conn="host=127.0.0.1 port=${port[source]} dbname=postgres user=postgres"

echo "initialising pgbench scale $scale on the source ..."
pg "$bin/pgbench" -i -q -s "$scale" -h 127.0.0.1 -p "${port[source]}" postgres >/dev/null 2>&1
accounts=$((scale * 100000))
q source -c "CREATE TABLE probe (id bigserial PRIMARY KEY, sent timestamptz NOT NULL)" \
	-c "CREATE PUBLICATION bench_pub FOR TABLE pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history, probe"
# the built-in subscriber needs the tables; laredo creates its own
pg pg_dump -s -h 127.0.0.1 -p "${port[source]}" -t 'pgbench_*' -t probe postgres | q builtin >/dev/null
for node in laredo builtin; do
	q "$node" -c "CREATE SCHEMA IF NOT EXISTS public"
done

# 1. baselines, one after the other, each on a quiet machine (every
# server's dirty pages written out first, so neither pays for the other's
# writes).
# The machine is shared and noisy: each consumer takes the baseline in
# several rounds, taking turns at going first, and the median counts; all
# but the last round are then undone (laredo's source and targets dropped,
# the subscription dropped and its tables emptied).
rounds=${LAREDO_BASELINE_ROUNDS:-3}
tables="pgbench_accounts,pgbench_branches,pgbench_tellers,pgbench_history,probe"
settle() { for node in source laredo builtin; do q "$node" -c "CHECKPOINT"; done; sync; }
q laredo -c "CREATE EXTENSION laredo"
baseline_laredo() {
	local t0
	settle
	t0=$(now)
	q laredo -c "BEGIN" \
		-c "SELECT laredo.create_source('bench', connection => '$conn', slot_name => 'laredo_bench')" \
		-c "SELECT laredo.add_table('bench', 'public.' || t) FROM unnest(string_to_array('$tables', ',')) t" \
		-c "SELECT laredo.create_pipeline(t, 'bench', 'public.' || t) FROM unnest(string_to_array('$tables', ',')) t" \
		-c "COMMIT" >/dev/null
	[ "$(q laredo -c "CALL laredo.wait_for_catchup('bench', '3600s'); SELECT true")" = t ]
	secs "$t0" "$(now)"
	[ "$(q laredo -c "SELECT count(*) FROM pgbench_accounts")" = "$accounts" ]
}
undo_laredo() {
	q laredo -c "SELECT laredo.drop_source('bench')" -c "DROP TABLE $tables" >/dev/null
}
baseline_builtin() {
	local t0
	settle
	t0=$(now)
	q builtin -c "CREATE SUBSCRIPTION bench_sub CONNECTION '$conn' PUBLICATION bench_pub$sub_options" >/dev/null
	until [ "$(q builtin -c "SELECT count(*) FILTER (WHERE srsubstate <> 'r') = 0 AND count(*) = 5 FROM pg_subscription_rel")" = t ]; do
		sleep 0.1
	done
	secs "$t0" "$(now)"
	[ "$(q builtin -c "SELECT count(*) FROM pgbench_accounts")" = "$accounts" ]
}
undo_builtin() {
	q builtin -c "DROP SUBSCRIPTION bench_sub" -c "TRUNCATE $tables" >/dev/null
}
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
laredo_rounds=(); builtin_rounds=()
for ((r = 1; r <= rounds; r++)); do
	if ((r % 2)); then
		laredo_rounds+=("$(baseline_laredo)"); builtin_rounds+=("$(baseline_builtin)")
	else
		builtin_rounds+=("$(baseline_builtin)"); laredo_rounds+=("$(baseline_laredo)")
	fi
	# the built-in launcher starts no apply worker within
	# wal_retrieve_retry_interval (5 s) of its last start
	if ((r < rounds)); then undo_laredo; undo_builtin; sleep 5; fi
done
laredo_baseline=$(median "${laredo_rounds[@]}")
builtin_baseline=$(median "${builtin_rounds[@]}")

# 4 (prepared now). the ceiling's slots see exactly the load below
q source -c "SELECT 'ok' FROM pg_create_logical_replication_slot('ceiling', 'pgoutput')" \
	-c "SELECT 'ok' FROM pg_create_logical_replication_slot('decode', 'pgoutput')" >/dev/null

# 2. catch-up on a backlog: both consumers are paused during the load, then
# each drains it alone
history_of() { q "$1" -c "SELECT count(*) FROM pgbench_history"; }
q laredo -c "SELECT laredo.alter_source('bench', enabled => false)" >/dev/null
q builtin -c "ALTER SUBSCRIPTION bench_sub DISABLE" >/dev/null
if [ "${LAREDO_BENCH_COLD:-0}" != 1 ]; then
	for node in laredo builtin; do
		q "$node" -c "CREATE EXTENSION IF NOT EXISTS pg_prewarm" \
			-c "WITH t AS (SELECT unnest('{pgbench_branches,pgbench_tellers,pgbench_history,pgbench_accounts}'::regclass[]) t)
				SELECT sum(pg_prewarm(c)) FROM (SELECT indexrelid::regclass FROM pg_index JOIN t ON indrelid = t
					UNION ALL SELECT t FROM t) w(c)" >/dev/null
	done
fi
sleep 1
pg "$bin/pgbench" -n -c 4 -j 2 -t "$txns" -h 127.0.0.1 -p "${port[source]}" postgres >"$dir/load.log" 2>&1
target_lsn=$(q source -c "SELECT pg_current_wal_lsn()")
want=$(history_of source)
rows=$(( (want) * 4 ))   # each pgbench transaction changes four rows
declare -A caught acked worker_cpu worker_sys sender_cpu host_busy
declare -A slot=([laredo]=laredo_bench [builtin]=bench_sub)
# CPU seconds a process has used, in all and in the kernel (all three
# servers run on this host)
ticks=$(getconf CLK_TCK)
cpu_of() { awk -v t="$ticks" '{sub(/^.*\) /, ""); printf "%.2f %.2f", ($12 + $13) / t, $13 / t}' "/proc/$1/stat" 2>/dev/null || echo "? ?"; }
# busy and total jiffies of the whole machine
host_jiffies() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat; }
# the pid of a consumer's apply process (empty while there is none)
apply_pid() {
	if [ "$1" = laredo ]; then
		q laredo -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'laredo source worker'"
	else
		q builtin -c "SELECT pid FROM pg_stat_subscription WHERE subname = 'bench_sub' AND relid IS NULL"
	fi
}
# timed from the moment the consumer's apply process is up (the built-in
# launcher looks for enabled subscriptions only every few seconds)
drain() {
	local node=$1 t0
	if [ "$node" = laredo ]; then
		q laredo -c "SELECT laredo.alter_source('bench', enabled => true)" >/dev/null
	else
		q builtin -c "ALTER SUBSCRIPTION bench_sub ENABLE" >/dev/null
	fi
	local busy0 total0 busy1 total1 wpid spid
	until wpid=$(apply_pid "$node"); [ -n "$wpid" ]; do sleep 0.01; done
	# LAREDO_PROFILE=file: a perf profile (cpu-clock, call graphs) of laredo's worker draining the backlog
	if [ "$node" = laredo ] && [ -n "${LAREDO_PROFILE:-}" ]; then
		perf record -q -e cpu-clock -g -o "$LAREDO_PROFILE" -p "$wpid" >/dev/null 2>&1 &
		perfpid=$!
	fi
	read -r busy0 total0 <<<"$(host_jiffies)"
	t0=$(now)
	until [ "$(history_of "$node")" = "$want" ]; do sleep 0.05; done
	caught[$node]=$(secs "$t0" "$(now)")
	read -r busy1 total1 <<<"$(host_jiffies)"
	host_busy[$node]=$(( 100 * (busy1 - busy0) / (total1 - total0) ))
	# and the source's slot confirms the load's end LSN: the position is
	# acknowledged, not only the rows applied
	local waited=0
	until [ "$(q source -c "SELECT confirmed_flush_lsn >= '$target_lsn' FROM pg_replication_slots WHERE slot_name = '${slot[$node]}'")" = t ]; do
		sleep 0.05
		if [ $((++waited)) -gt 1200 ]; then echo "WARNING: $node did not acknowledge $target_lsn within 60 s" >&2; break; fi
	done
	acked[$node]=$(secs "$t0" "$(now)")
	# what the drain cost in CPU: the apply process and the source's
	# walsender that fed it (both started with the drain, and idle while the
	# acknowledgement was awaited); the machine's busy share is the drain's
	spid=$(q source -c "SELECT active_pid FROM pg_replication_slots WHERE slot_name = '${slot[$node]}'")
	read -r "worker_cpu[$node]" "worker_sys[$node]" <<<"$(cpu_of "$wpid")"
	read -r "sender_cpu[$node]" _ <<<"$(cpu_of "$spid")"
	if [ -n "${perfpid:-}" ]; then kill -INT "$perfpid"; wait "$perfpid" || true; perfpid=""; fi
}
drain laredo
drain builtin

# 4. the ceiling: pg_recvlogical drains the load's WAL from its own slot
t0=$(now)
pg pg_recvlogical -h 127.0.0.1 -p "${port[source]}" -d postgres -S ceiling --start --no-loop \
	-o proto_version=1 -o publication_names=bench_pub -E "$target_lsn" -f /dev/null >/dev/null 2>&1 || true
t1=$(now)
ceiling_secs=$(secs "$t0" "$t1")
t0=$(now)
q source -c "SELECT count(*) FROM pg_logical_slot_peek_binary_changes('decode', '$target_lsn', NULL,
	'proto_version', '1', 'publication_names', 'bench_pub')" >/dev/null
t1=$(now)
decode_secs=$(secs "$t0" "$t1")
q source -c "SELECT pg_drop_replication_slot('ceiling')" -c "SELECT pg_drop_replication_slot('decode')" >/dev/null

# 3. lag at a steady rate, with probe rows stamped on arrival
for node in laredo builtin; do
	q "$node" -c "ALTER TABLE probe ADD COLUMN arrived timestamptz" \
		-c "CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS \$\$BEGIN NEW.arrived := clock_timestamp(); RETURN NEW; END\$\$" \
		-c "CREATE TRIGGER stamp BEFORE INSERT ON probe FOR EACH ROW EXECUTE FUNCTION stamp()" \
		-c "ALTER TABLE probe ENABLE ALWAYS TRIGGER stamp" >/dev/null
done
[ "$(q laredo -c "CALL laredo.wait_for_catchup('bench', '600s'); SELECT true")" = t ]
pg "$bin/pgbench" -n -c 4 -j 2 -T 34 -R "$rate" -h 127.0.0.1 -p "${port[source]}" postgres >"$dir/rate.log" 2>&1 &
loadpid=$!
# both consumers warm up on the steady load first
sleep 3
echo "INSERT INTO probe (sent) VALUES (clock_timestamp());" | pg tee "$dir/probe.sql" >/dev/null
pg "$bin/pgbench" -n -c 1 -t 3000 -R 100 -f "$dir/probe.sql" -h 127.0.0.1 -p "${port[source]}" postgres \
	>"$dir/probe.log" 2>&1
wait $loadpid || true
want=$(history_of source)
for node in laredo builtin; do
	until [ "$(history_of "$node")" = "$want" ] &&
	      [ "$(q "$node" -c "SELECT count(*) FROM probe")" = "$(q source -c "SELECT count(*) FROM probe")" ]; do
		sleep 0.05
	done
done
lag() {
	q "$1" -c "SELECT round((percentile_cont(0.5) WITHIN GROUP (ORDER BY ms))::numeric, 1) || ' ' ||
	                  round((percentile_cont(0.95) WITHIN GROUP (ORDER BY ms))::numeric, 1) || ' ' ||
	                  round((percentile_cont(0.99) WITHIN GROUP (ORDER BY ms))::numeric, 1) || ' ' || count(*)
	           FROM (SELECT extract(epoch FROM arrived - sent) * 1000 AS ms FROM probe WHERE arrived IS NOT NULL) s"
}
read -r l50 l95 l99 lcount <<<"$(lag laredo)"
read -r b50 b95 b99 bcount <<<"$(lag builtin)"
# per probe: laredo's lag minus the built-in's
paired() {
	q "$1" -c "COPY (SELECT id, extract(epoch FROM arrived - sent) * 1000 FROM probe WHERE arrived IS NOT NULL) TO STDOUT"
}
paired laredo | sort >"$dir/probe.laredo"
paired builtin | sort >"$dir/probe.builtin"
# LAREDO_PROBES=dir: keep each probe's lag (id, ms) of both consumers there,
# when it was sent (id, epoch seconds on the source), to look for when the
# worst ones happen, and laredo's server log (a scratch build's timings)
if [ -n "${LAREDO_PROBES:-}" ]; then
	cp "$dir/probe.laredo" "$dir/probe.builtin" "$dir/laredo.log" "$LAREDO_PROBES/"
	q source -c "COPY (SELECT id, extract(epoch FROM sent) FROM probe) TO STDOUT" | sort >"$LAREDO_PROBES/probe.sent"
fi
# the difference's p99 is how much later laredo was on its worst 1 % of
# probes; minus its p01 is the same for the built-in: equal when neither has
# a tail of its own; and how many probes each consumer applied over a
# millisecond after the other: a tail of its own shows there, where p99
# mostly compares the source's stalls, which both wait out alike
read -r d50 d99 d01 dfaster late_l late_b <<<"$(join "$dir/probe.laredo" "$dir/probe.builtin" | awk '{print $2 - $3}' | sort -g |
	awk '{d[NR] = $1; if ($1 < 0) f++; if ($1 > 1) l++; if ($1 < -1) b++}
	     END {printf "%.2f %.2f %.2f %d %d %d", d[int(NR * 0.5) + 1], d[int(NR * 0.99) + 1], -d[int(NR * 0.01) + 1], 100 * f / NR, l, b}')"
laredo_pid=$(apply_pid laredo)
rss=$(awk '/^VmHWM:/ {print int($2/1024)}' "/proc/$laredo_pid/status" 2>/dev/null || echo "?")
anon=$(awk '/^RssAnon:/ {print int($2/1024)}' "/proc/$laredo_pid/status" 2>/dev/null || echo "?")

# the targets must equal the source
for t in pgbench_accounts pgbench_branches pgbench_tellers; do
	s=$(q source -c "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM (SELECT * FROM $t) t")
	for node in laredo builtin; do
		[ "$(q "$node" -c "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM (SELECT * FROM $t) t")" = "$s" ] ||
			echo "WARNING: $t on $node differs from the source"
	done
done

ratio() { echo "scale=2; $1 / $2" | bc; }
apply_rate() { echo "scale=0; $rows / $1" | bc; }
lr=$(apply_rate "${caught[laredo]}"); br=$(apply_rate "${caught[builtin]}")
cr=$(echo "scale=0; $rows / $ceiling_secs" | bc)
dr=$(echo "scale=0; $rows / $decode_secs" | bc)
printf '\nlaredo vs built-in subscription: pgbench scale %s, %s x 4 transactions, %s (%s cores)\n' \
	"$scale" "$txns" "$(uname -r)" "$(nproc)"
printf '%s; the built-in subscription: %s\n' "$(pg_config --version)" \
	"$(q builtin -c "SELECT 'binary = ' || subbinary || ', streaming = ' || substream::text FROM pg_subscription WHERE subname = 'bench_sub'")"
if [ "${LAREDO_BENCH_COLD:-0}" = 1 ]; then echo "the drain on cold shared buffers (LAREDO_BENCH_COLD=1)"; else echo "the drain on shared buffers warmed with pg_prewarm"; fi
printf '%-42s %12s %12s %10s %10s\n' "figure" "laredo" "built-in" "l / b" "l / ceil"
printf '%-42s %12.2f %12.2f %10s %10s\n' "baseline, $accounts accounts (s)" "$laredo_baseline" "$builtin_baseline" \
	"$(ratio "$laredo_baseline" "$builtin_baseline")" "-"
printf '%-42s %12s %12s\n' "  median of $rounds rounds; each round" "$(printf '%.2f ' "${laredo_rounds[@]}")" \
	"$(printf '%.2f ' "${builtin_rounds[@]}")"
printf '%-42s %12.2f %12.2f %10s %10s\n' "catch-up on the backlog of $rows rows (s)" "${caught[laredo]}" "${caught[builtin]}" \
	"$(ratio "${caught[laredo]}" "${caught[builtin]}")" "$(ratio "${caught[laredo]}" "$ceiling_secs")"
printf '%-42s %12.2f %12.2f %10s %10s\n' "  its end LSN confirmed by the slot (s)" "${acked[laredo]}" "${acked[builtin]}" \
	"$(ratio "${acked[laredo]}" "${acked[builtin]}")" "-"
printf '%-42s %12s %12s %10s %10s\n' "  CPU of the apply process (s)" "${worker_cpu[laredo]}" "${worker_cpu[builtin]}" \
	"$(ratio "${worker_cpu[laredo]}" "${worker_cpu[builtin]}")" "-"
printf '%-42s %12s %12s\n' "    of which in the kernel (s)" "${worker_sys[laredo]}" "${worker_sys[builtin]}"
printf '%-42s %12s %12s\n' "  CPU of the source's walsender (s)" "${sender_cpu[laredo]}" "${sender_cpu[builtin]}"
printf '%-42s %11s%% %11s%%\n' "  the machine busy ($(nproc) cores)" "${host_busy[laredo]}" "${host_busy[builtin]}"
printf '%-42s %12s %12s %10s %10s\n' "apply rate on the backlog (rows/s)" "$lr" "$br" "$(ratio "$lr" "$br")" "$(ratio "$lr" "$cr")"
printf '%-42s %12s %12s %10s %10s\n' "pg_recvlogical ceiling (rows/s)" "-" "-" "-" "$cr"
printf '%-42s %12s %12s %10s %10s\n' "decoding alone, no client (rows/s)" "-" "-" "-" "$dr"
printf '%-42s %12s %12s %10s %10s\n' "apply rate / decoding alone" "$(ratio "$lr" "$dr")" "$(ratio "$br" "$dr")" "-" "-"
printf '%-42s %12s %12s %10s %10s\n' "lag p50 at $rate tps (ms)" "$l50" "$b50" "$(ratio "$l50" "$b50")" "-"
printf '%-42s %12s %12s %10s %10s\n' "lag p95 at $rate tps (ms)" "$l95" "$b95" "$(ratio "$l95" "$b95")" "-"
printf '%-42s %12s %12s %10s %10s\n' "lag p99 at $rate tps (ms)" "$l99" "$b99" "$(ratio "$l99" "$b99")" "-"
printf '%-42s %12s %12s\n' "probe rows measured" "$lcount" "$bcount"
printf '%-42s %12s\n' "per probe, laredo - built-in: p50 (ms)" "$d50"
printf '%-42s %12s %12s\n' "per probe, later than the other: p99 (ms)" "$d99" "$d01"
printf '%-42s %11s%%\n' "probes laredo applied first" "$dfaster"
printf '%-42s %12s %12s\n' "probes applied over 1 ms after the other" "$late_l" "$late_b"
printf '%-42s %12s\n' "laredo worker peak RSS (VmHWM, MiB)" "$rss"
printf '%-42s %12s\n' "laredo worker private RSS at the end (MiB)" "$anon"
