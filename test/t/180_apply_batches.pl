# 180_apply_batches: a backlog applied in batches of remote transactions,
# where a mirror's updates of one key are merged and written once per batch,
# and rows are found without a lock: the targets must end equal to the
# source whatever the mix, and a session holding a mirror's row is waited
# for, never overwritten under it.
#   - 4,000 random transactions on 60 hot keys (updates that leave a TOASTed
#     value out, updates of it, key changes, deletes and re-inserts, NULLs),
#     applied from a backlog;
#   - a mirror with a second unique index whose values the source swaps
#     between rows in one transaction (merged updates written out of order
#     would collide: such a mirror is written change by change);
#   - a mirror row locked, then updated, by a session on the consumer while
#     the source updates it: the worker waits for the session, then writes
#     the source's row;
#   - the target altered here while streaming (a column added with a
#     default, another widened to another type): mapped again, no restart;
#   - under a steady stream, flushed commits are acknowledged while it goes
#     on (the slot's confirmed_flush_lsn moves during the load);
#   - one transaction updating every row of a 200-column table: the updates
#     held back for the merge stay within their memory bound (the worker's
#     peak RSS grows by less than 40 MB; it took 1 kB a column, 400 MB for
#     the 2,048 rows held back before a flush).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use LaredoTest;

my $source = PostgreSQL::Test::Cluster->new('source');
$source->init(allows_streaming => 'logical');
$source->start;

my $consumer = PostgreSQL::Test::Cluster->new('consumer');
$consumer->init;
$consumer->append_conf('postgresql.conf', "shared_preload_libraries = 'laredo'\n");
$consumer->start;

$source->safe_psql('postgres', q{
	CREATE TABLE hot (id int PRIMARY KEY, n int, big text, note text);
	ALTER TABLE hot ALTER COLUMN big SET STORAGE EXTERNAL;
	INSERT INTO hot SELECT i, 0, repeat(md5(i::text), 200), 'start' FROM generate_series(1, 60) i;
	CREATE TABLE swap (id int PRIMARY KEY, code text NOT NULL UNIQUE, n int);
	INSERT INTO swap SELECT i, 'c' || i, 0 FROM generate_series(1, 20) i;
});
# 200 short text columns
my $widecols = join(', ', map { "c$_ text DEFAULT 'v'" } 1 .. 200);
$source->safe_psql('postgres', qq{
	CREATE TABLE wide (id int PRIMARY KEY, $widecols);
	INSERT INTO wide (id) SELECT generate_series(1, 4000);
});
my $connstr = $source->connstr('postgres');
$consumer->safe_psql('postgres', qq{
	CREATE EXTENSION laredo;
	CREATE SCHEMA m;
	CREATE TABLE m.swap (id int PRIMARY KEY, code text NOT NULL UNIQUE, n int);
	BEGIN;
	SELECT laredo.create_source('b', connection => \$c\$$connstr\$c\$);
	SELECT laredo.add_table('b', 'public.hot');
	SELECT laredo.add_table('b', 'public.swap');
	SELECT laredo.add_table('b', 'public.wide');
	SELECT laredo.create_pipeline('hot', 'b', 'public.hot', target => 'm.hot');
	SELECT laredo.create_pipeline('wide', 'b', 'public.wide', target => 'm.wide');
	SELECT laredo.create_pipeline('swap', 'b', 'public.swap', target => 'm.swap');
	COMMIT;
});
is($consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('b', '120s'); SELECT true}), 't', 'baseline');

sub content
{
	my ($node, $table) = @_;
	return $node->safe_psql('postgres',
		"SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY id)), '') FROM $table t");
}

# The backlog: the consumer is stopped while the source writes.
$consumer->safe_psql('postgres', q{SELECT laredo.alter_source('b', enabled => false)});
my $seed = $ENV{LAREDO_BATCH_SEED} // int(rand(1_000_000));
note("seed $seed");
srand($seed);
my @sql;
for my $i (1 .. 4000)
{
	my $id = 1 + int(rand(60));
	my $r = rand();
	push @sql,
	    $r < 0.45 ? "UPDATE hot SET n = n + 1 WHERE id = $id;"
	  : $r < 0.55 ? "UPDATE hot SET big = repeat(md5('$i'), 200), n = n + 1 WHERE id = $id;"
	  : $r < 0.65 ? "UPDATE hot SET note = NULL WHERE id = $id;"
	  : $r < 0.70 ? "UPDATE hot SET note = 'back $i', n = -n WHERE id = $id;"
	  : $r < 0.76 ? "DELETE FROM hot WHERE id = $id;"
	  : $r < 0.84 ? "INSERT INTO hot VALUES ($id, $i, repeat(md5('i$i'), 200), 'again') ON CONFLICT (id) DO UPDATE SET n = excluded.n;"
	  : $r < 0.88 ? "UPDATE hot SET id = id + 60 WHERE id = $id AND NOT EXISTS (SELECT FROM hot WHERE id = $id + 60);"
	  : $r < 0.92 ? "UPDATE hot SET id = id - 60 WHERE id = $id + 60 AND NOT EXISTS (SELECT FROM hot WHERE id = $id);"
	  : sprintf("BEGIN; UPDATE swap SET code = '~' || code WHERE id IN (%d, %d); "
		  . "UPDATE swap SET code = (SELECT substr(o.code, 2) FROM swap o WHERE o.id = CASE swap.id WHEN %d THEN %d ELSE %d END) "
		  . "WHERE id IN (%d, %d); COMMIT;",
		  1 + $id % 20, 1 + ($id + 1) % 20, 1 + $id % 20, 1 + ($id + 1) % 20, 1 + $id % 20,
		  1 + $id % 20, 1 + ($id + 1) % 20);
	# the last kind exchanges the codes of two rows through marked values
}
$source->safe_psql('postgres', join("\n", @sql));
$consumer->safe_psql('postgres', q{SELECT laredo.alter_source('b', enabled => true)});
is($consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('b', '180s'); SELECT true}), 't',
	'4,000 transactions drained from the backlog');
is(content($consumer, 'm.hot'), content($source, 'hot'), 'hot keys: every row equal (TOASTed values included)');
is(content($consumer, 'm.swap'), content($source, 'swap'), 'swapped unique values: every row equal');
is($consumer->safe_psql('postgres', q{SELECT state FROM laredo.sources WHERE source_id = 'b'}), 'STREAMING',
	'no error on the way');
my $log = slurp_file($consumer->logfile);
unlike($log, qr/TRAP|missing in the target|invisible|unexpected result|duplicate key/,
	'no failure, no missing row in the consumer log');

# A session holding a mirror row: the worker waits for it, then writes the source's row.
my $holder = $consumer->background_psql('postgres', on_error_stop => 1);
$holder->query_safe(q{BEGIN; SELECT n FROM m.hot WHERE id = (SELECT min(id) FROM m.hot) FOR UPDATE});
my $id = $consumer->safe_psql('postgres', 'SELECT min(id) FROM m.hot');
$source->safe_psql('postgres', "UPDATE hot SET n = 424242 WHERE id = $id; INSERT INTO swap VALUES (100, 'marker', 0)");
ok($consumer->poll_query_until('postgres', q{SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE backend_type = 'laredo source worker'}),
	'the worker waits for the session holding the row');
isnt($consumer->safe_psql('postgres', "SELECT n FROM m.hot WHERE id = $id"), '424242', 'not written under the lock');
$holder->query_safe("UPDATE m.hot SET note = 'written by a session' WHERE id = $id");
$holder->query_safe('COMMIT');
is($consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('b', '60s'); SELECT true}), 't', 'caught up after the session committed');
is(content($consumer, 'm.hot'), content($source, 'hot'), 'the source row won over the session\'s change');
is($consumer->safe_psql('postgres', q{SELECT count(*) FROM m.swap WHERE code = 'marker'}), '1', 'and the stream went on');

# A deadlock with a session here (it holds m.swap, the worker holds m.hot
# and waits for m.swap, the session then asks for m.hot): the worker is the
# victim (the session's deadlock_timeout is longer), and a deadlock says
# nothing about the change, so the worker retries it, as the built-in apply
# worker does, instead of stopping the source for a person.
$holder->query_safe(q{BEGIN; SET LOCAL deadlock_timeout = '60s'; LOCK TABLE m.swap IN SHARE MODE});
$source->safe_psql('postgres', "BEGIN; INSERT INTO hot VALUES (2000, 1, 'deadlock', 'deadlock'); UPDATE swap SET n = n + 1 WHERE code = 'marker'; COMMIT");
ok($consumer->poll_query_until('postgres', q{
	SELECT bool_or(l.relation = 'm.hot'::regclass AND l.granted) AND bool_or(l.relation = 'm.swap'::regclass AND NOT l.granted)
	  FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.backend_type = 'laredo source worker'}),
	'the worker holds m.hot and waits for m.swap');
$holder->query_safe('LOCK TABLE m.hot IN SHARE MODE');    # returns once the worker's transaction is gone
$holder->query_safe('COMMIT');
is($consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('b', '60s'); SELECT true}), 't',
	'caught up after the deadlock');
like(slurp_file($consumer->logfile), qr/ERROR:  deadlock detected/,
	'the worker was the deadlock\'s victim');
is($consumer->safe_psql('postgres', q{SELECT state || ':' || coalesce(last_error, '') FROM laredo.pipelines WHERE pipeline_id = 'hot'}),
	'STREAMING:', 'the deadlock left no error on the pipeline');
is(content($consumer, 'm.hot'), content($source, 'hot'), 'hot: every row equal after the deadlock');
is(content($consumer, 'm.swap'), content($source, 'swap'), 'swap: every row equal after the deadlock');
$holder->quit;

# The target changed here while the worker streams (a column added with a
# default, a column widened to another type): no restart, the next
# transaction maps it again.
$consumer->safe_psql('postgres', q{
	ALTER TABLE m.hot ADD COLUMN extra int DEFAULT 7;
	ALTER TABLE m.hot ALTER COLUMN n TYPE numeric;
});
$source->safe_psql('postgres', q{
	INSERT INTO hot VALUES (1000, 1000, 'new row', 'after ddl');
	UPDATE hot SET n = n + 1000000, note = 'after ddl' WHERE id % 2 = 0;
});
is($consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('b', '60s'); SELECT true}), 't', 'caught up after local DDL');
my $cols = q{SELECT count(*) || ':' || md5(string_agg(concat_ws(',', id, n::bigint, md5(big), note), '|' ORDER BY id))};
is($consumer->safe_psql('postgres', "$cols FROM m.hot"), $source->safe_psql('postgres', "$cols FROM hot"),
	'every source column equal after the target changed');
is($consumer->safe_psql('postgres', q{SELECT extra FROM m.hot WHERE id = 1000}), '7',
	'a row inserted after the new column has its default');
is($consumer->safe_psql('postgres', q{SELECT count(*) FROM m.hot WHERE extra IS DISTINCT FROM 7}), '0',
	'rows updated after it keep the value they had');

# Under a steady stream, what the WAL writer has flushed is acknowledged
# while the stream goes on (not only once it pauses): the slot's
# confirmed_flush_lsn moves during the load.
my $script = $source->basedir . '/steady.sql';
open my $fh, '>', $script or die;
print $fh "UPDATE hot SET n = n + 1 WHERE id = 1 + (random() * 59)::int;\n";
close $fh;
my $slot_pos = sub {
	return $source->safe_psql('postgres',
		q{SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name LIKE 'laredo%'});
};
my $before = $slot_pos->();
my ($out, $err) = ('', '');
my $load = IPC::Run::start([ 'pgbench', '-n', '-c', '4', '-T', '8', '-f', $script,
	'-h', $source->host, '-p', $source->port, 'postgres' ], '>', \$out, '2>', \$err);
sleep 4;
my $during = $slot_pos->();
my $still_running = $load->pumpable;
$load->finish;
ok($still_running, 'the load was still running when the slot was read');
is($source->safe_psql('postgres', "SELECT '$during'::pg_lsn > '$before'::pg_lsn"), 't',
	"acknowledged while the stream goes on ($before -> $during)");
is($consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('b', '60s'); SELECT true}), 't', 'caught up after the load');
is($consumer->safe_psql('postgres', "$cols FROM m.hot"), $source->safe_psql('postgres', "$cols FROM hot"),
	'every row equal after the steady load');

# Every row of a 200-column table updated in one transaction: the updates
# are held back for the merge until 2,048 rows or 4 MB, whichever comes
# first; the worker's peak RSS (shared buffers touched included: this
# table is 3 MB) must not grow by more than 40 MB.
my $worker_hwm = sub {
	my $pid = $consumer->safe_psql('postgres',
		q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'laredo source worker'});
	my $status = slurp_file("/proc/$pid/status");
	$status =~ /^VmHWM:\s+(\d+) kB/m or die "no VmHWM for $pid";
	return ($pid, $1);
};
my ($pid_before, $hwm_before) = $worker_hwm->();
$source->safe_psql('postgres', q{UPDATE wide SET c1 = 'u' || id, c200 = 'w'});
is($consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('b', '120s'); SELECT true}), 't',
	'caught up after the wide update');
is(content($consumer, 'm.wide'), content($source, 'wide'), 'wide table: every row equal');
my ($pid_after, $hwm_after) = $worker_hwm->();
is($pid_after, $pid_before, 'the same worker applied it');
cmp_ok($hwm_after - $hwm_before, '<', 40 * 1024,
	"held-back updates within their bound (peak RSS $hwm_before kB -> $hwm_after kB)");

done_testing();
