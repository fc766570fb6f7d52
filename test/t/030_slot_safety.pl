# 030_slot_safety: laredo never skips changes silently.  Each way a slot can
# go bad puts the source in ERROR with a message naming the cause and a hint
# naming laredo.reset_source, and the source stays there instead of
# restarting in a loop: the slot advanced behind laredo's back (ahead of the
# stored position), dropped, held by another consumer, invalidated by
# max_slot_wal_keep_size, or the publication dropped on the source.  After
# each, reset_source brings the target back to exactly the source's content.
# Also: CREATE DATABASE works while laredo runs (no connection to a template),
# and a terminated worker is restarted and resumes exactly.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use LaredoTest;
use IPC::Run;

my $source = PostgreSQL::Test::Cluster->new('source');
$source->init(allows_streaming => 'logical');
$source->append_conf('postgresql.conf', "wal_keep_size = 0\n");
$source->start;
my $consumer = PostgreSQL::Test::Cluster->new('consumer');
$consumer->init;
$consumer->append_conf('postgresql.conf', "shared_preload_libraries = 'laredo'\nlaredo.restart_delay = 200\n");
$consumer->start;

$source->safe_psql('postgres', q{
	CREATE TABLE t (id int PRIMARY KEY, v text);
	INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 100) g;
});
$consumer->safe_psql('postgres', qq{
	CREATE EXTENSION laredo;
	BEGIN;
	SELECT laredo.create_source('s', connection => \$c\$@{[ $source->connstr('postgres') ]}\$c\$,
	                            slot_name => 'laredo_s');
	SELECT laredo.add_table('s', 'public.t');
	SELECT laredo.create_pipeline('t', 's', 'public.t', target => 'public.t_copy');
	COMMIT;
});

sub same
{
	my $q = q{SELECT count(*) || ':' || md5(string_agg(t::text, '|' ORDER BY id)) FROM %s t};
	return $consumer->safe_psql('postgres', sprintf($q, 't_copy')) eq
	  $source->safe_psql('postgres', sprintf($q, 't'));
}
sub catch_up
{
	return $consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('s', '120s'); SELECT true}) eq 't';
}
sub worker_count
{
	return $consumer->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'laredo source worker'});
}
sub stop_worker
{
	$consumer->safe_psql('postgres', q{SELECT laredo.alter_source('s', enabled => false)});
	$consumer->poll_query_until('postgres',
		q{SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'laredo source worker'})
	  or die 'worker did not stop';
	$source->poll_query_until('postgres', q{SELECT NOT active FROM pg_replication_slots WHERE slot_name = 'laredo_s'})
	  or die 'slot still active';
}
# Starts the source again, expects ERROR naming $cause, then resets.
sub expect_error_then_reset
{
	my ($what, $cause, %opts) = @_;
	$consumer->safe_psql('postgres', q{SELECT laredo.alter_source('s', enabled => true)});
	$consumer->poll_query_until('postgres', q{SELECT state = 'ERROR' FROM laredo.sources WHERE source_id = 's'})
	  or die "$what: source did not go to ERROR";
	my ($error, $hint) = split /\|/, $consumer->safe_psql('postgres',
		q{SELECT last_error || '|' || last_error_hint FROM laredo.sources});
	like($error, $cause, "$what: the error names the cause");
	like($hint, qr/laredo\.reset_source\('s'\)/, "$what: the hint names laredo.reset_source");
	$opts{before_reset}->() if $opts{before_reset};
	$consumer->safe_psql('postgres', q{SELECT pg_sleep(0.5)});
	is(worker_count(), '0', "$what: a source in ERROR is not restarted in a loop");
	$consumer->safe_psql('postgres',
		$opts{drop_publication} ? q{SELECT laredo.reset_source('s', drop_publication => true)}
		                        : q{SELECT laredo.reset_source('s')});
	$source->safe_psql('postgres', qq{INSERT INTO t VALUES (nextval('ids'), 'after reset: $what')});
	ok(catch_up() && same(), "$what: reset_source brings the target back to the source's content");
	is($consumer->safe_psql('postgres', q{SELECT state FROM laredo.sources}), 'STREAMING', "$what: STREAMING again");
}

$source->safe_psql('postgres', q{CREATE SEQUENCE ids START 100000});
ok(catch_up() && same(), 'baseline equal');

# No connection to a template database: CREATE DATABASE works.
$consumer->safe_psql('postgres', 'CREATE DATABASE created_while_running');
pass('CREATE DATABASE succeeds while laredo runs');
is($consumer->safe_psql('postgres',
	q{SELECT count(*) FROM pg_stat_activity a JOIN pg_database d ON d.oid = a.datid WHERE d.datistemplate}),
	'0', 'no backend is connected to a template database');

# A terminated worker is started again and resumes exactly.
my $pid = $consumer->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'laredo source worker'});
$consumer->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
$source->safe_psql('postgres', q{INSERT INTO t SELECT g, 'after sigterm' FROM generate_series(101, 200) g});
ok(catch_up() && same(), 'restarted after SIGTERM, resumed, equal');

# 1. the slot advanced behind laredo's back
stop_worker();
$source->safe_psql('postgres', q{
	INSERT INTO t VALUES (1000, 'would be skipped');
	SELECT pg_replication_slot_advance('laredo_s', pg_current_wal_lsn());
});
expect_error_then_reset('slot advanced', qr/replication slot "laredo_s" on source "s" is ahead of laredo's position/,
	before_reset => sub {
		is($consumer->safe_psql('postgres', q{SELECT count(*) FROM t_copy WHERE id = 1000}), '0',
			'slot advanced: nothing was applied from it');
	});

# 2. the slot dropped behind laredo's back
stop_worker();
$source->safe_psql('postgres', q{SELECT pg_drop_replication_slot('laredo_s')});
expect_error_then_reset('slot dropped', qr/replication slot "laredo_s" of source "s" no longer exists on the source/);

# 3. the slot held by another consumer
stop_worker();
my ($out, $err) = ('', '');
my $other = IPC::Run::start(
	[ 'pg_recvlogical', '-d', $source->connstr('postgres'), '-S', 'laredo_s', '--start',
	  '-o', 'proto_version=1', '-o', 'publication_names=laredo_s_pub', '-f', '/dev/null' ],
	'>', \$out, '2>', \$err);
$source->poll_query_until('postgres', q{SELECT active FROM pg_replication_slots WHERE slot_name = 'laredo_s'})
  or die 'pg_recvlogical did not take the slot';
expect_error_then_reset('slot used by another consumer', qr/is used by another consumer/,
	before_reset => sub { $other->kill_kill; $other->finish; });

# 4. the slot invalidated by max_slot_wal_keep_size
stop_worker();
invalidate_slot($source, 'laredo_s');
expect_error_then_reset('slot invalidated', qr/replication slot "laredo_s" on source "s" has been invalidated \(wal_removed\)/);

# 4b. a source on 18 or later invalidates a slot idle for longer than
# idle_replication_slot_timeout: laredo says so, and what to set
if ($source->pg_version >= 18)
{
	stop_worker();
	$source->safe_psql('postgres', q{ALTER SYSTEM SET idle_replication_slot_timeout = 1; SELECT pg_reload_conf()});
	# the source looks at idle slots when it checkpoints
	my $invalidated = 0;
	for (1 .. 60)
	{
		$source->safe_psql('postgres', 'SELECT pg_sleep(1); CHECKPOINT;');
		$invalidated = $source->safe_psql('postgres',
			q{SELECT invalidation_reason = 'idle_timeout' FROM pg_replication_slots WHERE slot_name = 'laredo_s'});
		last if $invalidated eq 't';
	}
	die 'slot was not invalidated for idleness' unless $invalidated eq 't';
	$source->safe_psql('postgres', q{ALTER SYSTEM RESET idle_replication_slot_timeout; SELECT pg_reload_conf()});
	expect_error_then_reset('slot idle too long',
		qr/replication slot "laredo_s" on source "s" has been invalidated \(idle_timeout\)/,
		before_reset => sub {
			like($consumer->safe_psql('postgres', q{SELECT last_error_hint FROM laredo.sources}),
				qr/Raise idle_replication_slot_timeout on the source/, 'slot idle too long: the hint names the setting');
		});
}

# 5. the publication dropped on the source
stop_worker();
$source->safe_psql('postgres', q{DROP PUBLICATION laredo_s_pub});
expect_error_then_reset('publication dropped', qr/publication "laredo_s_pub" of source "s" was dropped on the source/,
	drop_publication => 1);

# reset_source removed the old slot and made a new one: exactly one slot
is($source->safe_psql('postgres', q{SELECT count(*) FROM pg_replication_slots}), '1', 'one slot on the source');

done_testing();
