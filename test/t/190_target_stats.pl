# 190_target_stats: what laredo writes into a target is counted in the
# consumer's cumulative statistics, as any session's writes are, so that
# pg_stat_user_tables shows it and autovacuum vacuums and analyzes mirrors
# that are only ever written by laredo.  The baseline (bulk-loaded into a new
# target), streamed inserts, updates (merged in batches or not) and deletes
# all count; a long-running worker reports them while it runs, not only when
# it exits.
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
$consumer->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'laredo'
autovacuum_naptime = 1
});
$consumer->start;

$source->safe_psql('postgres', q{
	CREATE TABLE items (id int PRIMARY KEY, n int NOT NULL, note text);
	INSERT INTO items SELECT g, 0, 'baseline' FROM generate_series(1, 1000) g;
});
$consumer->safe_psql('postgres', qq{
	CREATE EXTENSION laredo;
	BEGIN;
	SELECT laredo.create_source('st', connection => \$c\$@{[ $source->connstr('postgres') ]}\$c\$,
	                            slot_name => 'laredo_st');
	SELECT laredo.add_table('st', 'public.items');
	SELECT laredo.create_pipeline('items', 'st', 'public.items', target => 'public.items_copy');
	COMMIT;
});
is($consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('st', '120s'); SELECT true}), 't', 'baseline done');

# autovacuum may act on the mirror as soon as laredo's writes are counted
$consumer->safe_psql('postgres', q{
	ALTER TABLE items_copy SET (autovacuum_vacuum_threshold = 50, autovacuum_vacuum_scale_factor = 0,
	                            autovacuum_analyze_threshold = 50, autovacuum_analyze_scale_factor = 0);
});

# 500 inserts, 100 deletes, and updates in many transactions (the same rows
# again and again, which the worker merges within a batch)
$source->safe_psql('postgres', q{
	INSERT INTO items SELECT g, 0, 'streamed' FROM generate_series(1001, 1500) g;
	DELETE FROM items WHERE id <= 100;
});
for my $round (1 .. 20)
{
	$source->safe_psql('postgres', qq{UPDATE items SET n = n + 1 WHERE id BETWEEN 101 AND 300});
}
is($consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('st', '120s'); SELECT true}), 't', 'stream applied');
is($consumer->safe_psql('postgres', q{SELECT count(*) || '/' || sum(n) FROM items_copy}),
	$source->safe_psql('postgres', q{SELECT count(*) || '/' || sum(n) FROM items}), 'mirror equals the source');

# The worker keeps running: its counts must reach the statistics anyway
# (each poll is a new session, with a fresh statistics snapshot).
$consumer->poll_query_until('postgres', q{
	SELECT n_tup_ins = 1500 AND n_tup_del = 100 AND n_tup_upd > 0
	FROM pg_stat_user_tables WHERE relname = 'items_copy'});
my ($ins, $upd, $del) = split /\|/, $consumer->safe_psql('postgres', q{
	SELECT n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables WHERE relname = 'items_copy'});
is($ins, 1500, 'pg_stat_user_tables counts the baseline rows and the streamed inserts');
is($del, 100, 'and the deletes');
cmp_ok($upd, '>=', 200, 'and the updates (at least one per updated row; merged updates count once per batch)');
cmp_ok($upd, '<=', 4000, 'never more than the source made');

ok($consumer->poll_query_until('postgres', q{
	SELECT last_autovacuum IS NOT NULL AND last_autoanalyze IS NOT NULL
	FROM pg_stat_user_tables WHERE relname = 'items_copy'}),
	'autovacuum vacuumed and analyzed the mirror that only laredo writes');
is($consumer->safe_psql('postgres', q{SELECT count(*) > 0 FROM pg_stats WHERE tablename = 'items_copy'}), 't',
	'the planner has statistics for it');
is($consumer->safe_psql('postgres',
	q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'laredo source worker'}), '1',
	'the worker still runs: it reported while running');

done_testing();
