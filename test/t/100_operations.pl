# 100_operations: operating a source in SQL, on two servers.
#  - reset_source: the slot is dropped and a new one made (and, with
#    drop_publication, the publication too); targets are rebuilt equal to the
#    source;
#  - a reader running during the reset never sees the target empty or
#    partial: the new baseline replaces the rows in one transaction, and the
#    table itself (its OID) stays;
#  - pause/resume with writes in between; resync of one pipeline;
#  - drop_source and DROP EXTENSION leave no slot and no publication on the
#    source.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use LaredoTest;
use IPC::Run;

my $source = PostgreSQL::Test::Cluster->new('source');
$source->init(allows_streaming => 'logical');
$source->start;
my $consumer = PostgreSQL::Test::Cluster->new('consumer');
$consumer->init;
$consumer->append_conf('postgresql.conf', "shared_preload_libraries = 'laredo'\nlaredo.restart_delay = 200\n");
$consumer->start;

my $rows = 200000;
$source->safe_psql('postgres', qq{
	CREATE TABLE a (id int PRIMARY KEY, v text);
	INSERT INTO a SELECT g, 'a' || g FROM generate_series(1, $rows) g;
	CREATE TABLE b (id int PRIMARY KEY, v text);
	INSERT INTO b SELECT g, 'b' || g FROM generate_series(1, 1000) g;
});
my $conn = $source->connstr('postgres');
$consumer->safe_psql('postgres', qq{
	CREATE EXTENSION laredo;
	BEGIN;
	SELECT laredo.create_source('ops', connection => \$c\$$conn\$c\$, slot_name => 'laredo_ops');
	SELECT laredo.add_table('ops', 'public.a');
	SELECT laredo.add_table('ops', 'public.b');
	SELECT laredo.create_pipeline('a', 'ops', 'public.a', target => 'public.a_copy');
	SELECT laredo.create_pipeline('b', 'ops', 'public.b', target => 'public.b_copy');
	COMMIT;
});

sub equal
{
	my ($what) = @_;
	is($consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('ops', '300s'); SELECT true}), 't', "$what: caught up");
	for my $t ('a', 'b')
	{
		my $q = q{SELECT count(*) || ':' || md5(string_agg(t::text, '|' ORDER BY id)) FROM %s t};
		is($consumer->safe_psql('postgres', sprintf($q, "${t}_copy")),
			$source->safe_psql('postgres', sprintf($q, $t)), "$what: ${t}_copy equals $t");
	}
}
sub slot_of
{
	return $source->safe_psql('postgres',
		q{SELECT coalesce(max(confirmed_flush_lsn::text), 'none') FROM pg_replication_slots WHERE slot_name = 'laredo_ops'});
}
sub pub_oid
{
	return $source->safe_psql('postgres', q{SELECT coalesce(max(oid::text), 'none') FROM pg_publication WHERE pubname = 'laredo_ops_pub'});
}
sub baselines
{
	my $log = slurp_file($consumer->logfile);
	return scalar(() = $log =~ /taking the baseline/g);
}

equal('baseline');

# reset_source without drop_publication, while a reader counts the target
my $oid = $consumer->safe_psql('postgres', q{SELECT 'a_copy'::regclass::oid});
my $slot_before = slot_of();
my $pub_before = pub_oid();
$source->safe_psql('postgres', q{DELETE FROM a WHERE id % 1000 = 0; UPDATE b SET v = 'before reset'});
is($consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('ops', '300s'); SELECT true}), 't', 'caught up before the reset');
my $expected_rows = $source->safe_psql('postgres', q{SELECT count(*) FROM a});
$consumer->safe_psql('postgres', q{CREATE TABLE reader_log (n bigint, at timestamptz DEFAULT clock_timestamp())});
my ($rout, $rerr) = ('', '');
my $reader = IPC::Run::start(
	[ 'psql', '-X', '-d', $consumer->connstr('postgres'), '-c', q{SET lock_timeout = '100ms'}, '-c', q{
	DO $$
	BEGIN
		FOR i IN 1..400 LOOP
			INSERT INTO reader_log (n) SELECT count(*) FROM a_copy;
			COMMIT;
			PERFORM pg_sleep(0.02);
		END LOOP;
	END $$;} ],
	'>', \$rout, '2>', \$rerr);
$consumer->poll_query_until('postgres', q{SELECT count(*) > 5 FROM reader_log}) or die 'reader did not start';
$consumer->safe_psql('postgres', q{SELECT laredo.reset_source('ops')});
equal('after reset_source');
$reader->finish;
ok(baselines() >= 2, 'reset_source took a new baseline');
isnt(slot_of(), $slot_before, 'the slot was dropped and created again');
is(pub_oid(), $pub_before, 'the publication was kept');
is($consumer->safe_psql('postgres', q{SELECT 'a_copy'::regclass::oid}), $oid, 'the target table itself was kept');
my ($reads, $min, $max) = split /\|/, $consumer->safe_psql('postgres',
	q{SELECT count(*) || '|' || min(n) || '|' || max(n) FROM reader_log});
is($reads, '400', 'the reader was never blocked during the reset (lock_timeout 100ms, all 400 reads done)');
is($min, $expected_rows, "the reader never saw the target empty or partial (min $min rows)");
is($max, $expected_rows, 'nor with extra rows');

# reset_source with drop_publication
$pub_before = pub_oid();
$consumer->safe_psql('postgres', q{SELECT laredo.reset_source('ops', drop_publication => true)});
$source->safe_psql('postgres', q{INSERT INTO b VALUES (5000, 'after the second reset')});
equal('after reset_source with drop_publication');
isnt(pub_oid(), $pub_before, 'the publication was dropped and created again');

# pause and resume, with writes in between
$consumer->safe_psql('postgres', q{SELECT laredo.pause_pipeline('b')});
$consumer->poll_query_until('postgres', q{SELECT state = 'PAUSED' FROM laredo.sources}) or die;
$source->safe_psql('postgres', q{INSERT INTO b VALUES (5001, 'while paused'); UPDATE a SET v = 'while paused' WHERE id < 10});
is($consumer->safe_psql('postgres', q{SELECT count(*) FROM b_copy WHERE id = 5001}), '0', 'nothing applied while paused');
is($source->safe_psql('postgres', q{SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'laredo_ops'}), '1',
	'the slot keeps the changes while paused');
# A caller waiting for a held source holds no snapshot: its xmin would keep
# the worker's replaced row versions from being pruned.
my ($wout, $werr) = ('', '');
my $waiter = IPC::Run::start(
	[ 'psql', '-XAtq', '-d', $consumer->connstr('postgres'), '-c', q{CALL laredo.wait_for_catchup('ops', '30s'); SELECT true} ],
	'>', \$wout, '2>', \$werr);
$consumer->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity
	WHERE query LIKE 'CALL laredo.wait_for_catchup%' AND state = 'active' AND wait_event IS NOT NULL})
  or die 'the waiter did not start';
# (between its waits it takes a snapshot for a moment, every 10 ms, to read
# the pipelines still to copy: a single look can land on one; a snapshot
# held across the waits would never let this see it without)
ok($consumer->poll_query_until('postgres', q{
	SELECT backend_xmin IS NULL AND backend_xid IS NULL FROM pg_stat_activity
	WHERE query LIKE 'CALL laredo.wait_for_catchup%' AND state = 'active'}),
	'wait_for_catchup waits without an xmin');
$consumer->safe_psql('postgres', q{SELECT laredo.resume_pipeline('b')});
$waiter->finish;
chomp $wout;
is($wout, 't', 'and returns true once the source is resumed and caught up');
equal('after resume');

# resync of one pipeline: the other is not copied again
my $a_baseline = $consumer->safe_psql('postgres', q{SELECT baseline_lsn FROM laredo.pipeline_config WHERE pipeline_id = 'a'});
$consumer->safe_psql('postgres', q{DELETE FROM b_copy WHERE id <= 500});   # the target drifted
$consumer->safe_psql('postgres', q{SELECT laredo.resync_pipeline('b')});
equal('after resync of b');
is($consumer->safe_psql('postgres', q{SELECT baseline_lsn FROM laredo.pipeline_config WHERE pipeline_id = 'a'}),
	$a_baseline, 'pipeline a was not copied again');

# drop_source leaves nothing on the source
$consumer->safe_psql('postgres', q{SELECT laredo.drop_source('ops')});
is($source->safe_psql('postgres', q{SELECT count(*) FROM pg_replication_slots}), '0', 'drop_source: no slot left');
is($source->safe_psql('postgres', q{SELECT count(*) FROM pg_publication}), '0', 'drop_source: no publication left');

# DROP EXTENSION leaves nothing on the source either
$consumer->safe_psql('postgres', qq{
	BEGIN;
	SELECT laredo.create_source('x1', connection => \$c\$$conn\$c\$, slot_name => 'laredo_x1');
	SELECT laredo.create_source('x2', connection => \$c\$$conn\$c\$, slot_name => 'laredo_x2', slot_mode => 'ephemeral');
	SELECT laredo.add_table('x1', 'public.b');
	SELECT laredo.add_table('x2', 'public.b');
	SELECT laredo.create_pipeline('x1', 'x1', 'public.b', target => 'public.x1_b');
	SELECT laredo.create_pipeline('x2', 'x2', 'public.b', target => 'public.x2_b');
	COMMIT;
});
is($consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('x1', '120s'); CALL laredo.wait_for_catchup('x2', '120s'); SELECT true}),
	't', 'two sources running');
is($source->safe_psql('postgres', q{SELECT count(*) FROM pg_replication_slots}), '2', 'two slots on the source');
$consumer->safe_psql('postgres', q{DROP EXTENSION laredo});
is($source->safe_psql('postgres', q{SELECT count(*) FROM pg_replication_slots}), '0', 'DROP EXTENSION: no slot left');
is($source->safe_psql('postgres', q{SELECT count(*) FROM pg_publication}), '0', 'DROP EXTENSION: no publication left');
is($consumer->safe_psql('postgres', q{SELECT count(*) FROM pg_replication_origin}), '0', 'DROP EXTENSION: no origin left');
$consumer->poll_query_until('postgres',
	q{SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type IN ('laredo source worker', 'laredo manager')})
  or die 'workers did not stop';
pass('DROP EXTENSION: the workers and the manager stopped');

done_testing();
