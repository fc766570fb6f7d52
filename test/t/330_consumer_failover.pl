# 330_consumer_failover: a consumer with a physical standby fails over.
# laredo's position commits with the data, so the standby has both, but only
# as far as it had replayed: what the consumer acknowledged to the source
# beyond that is gone from the source's slot.
#   - With laredo.synchronized_standby_slots naming the standby's slot,
#     laredo acknowledges only what the standby has flushed: cut off while
#     the source is loaded, the standby holds acknowledgements back (health()
#     says so), and promoted, however far it lagged, it resumes from its own
#     position with nothing lost and no ERROR.
#   - The old consumer coming back (split brain): while the new one streams,
#     the slot is held by laredo of another timeline of its server, and it
#     says so; alone, it streams but its acknowledgements stay below what its
#     (promoted) standby has, so the new consumer resumes after it.
#   - Without the setting, the promoted standby meets the slot ahead of its
#     position: a durable ERROR that names a possible second consumer.
# laredo on a standby in recovery starts no worker, and resumes by itself
# after the promotion.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use LaredoTest;

my $source = source_server('source');
$source->safe_psql('postgres', q{
	CREATE TABLE items (id int PRIMARY KEY, n int NOT NULL, v text);
	INSERT INTO items SELECT g, 0, 'v' || g FROM generate_series(1, 5000) g;
});
my $script = $source->basedir . '/load.sql';
open my $fh, '>', $script or die;
print $fh q{\set id random(1, 8000)
INSERT INTO items VALUES (:id, 1, 'load') ON CONFLICT (id) DO UPDATE SET n = items.n + 1;
DELETE FROM items WHERE id = :id + 1 AND :id % 11 = 0;
};
close $fh;

sub load
{
	my ($seconds) = @_;
	$source->command_ok([ 'pgbench', '-n', '-c', '2', '-T', $seconds, '-f', $script,
			'-h', $source->host, '-p', $source->port, 'postgres' ], "pgbench load for ${seconds}s");
}

sub equal
{
	my ($node, $what) = @_;
	$node->safe_psql('postgres', q{CALL laredo.wait_for_catchup('s', '180s')});
	is(table_digest($node, 'postgres', 'mirror.items', 'id'), table_digest($source, 'postgres', 'items', 'id'), $what);
}

sub slot_confirmed
{
	my ($slot) = @_;
	return $source->safe_psql('postgres',
		qq{SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '$slot'});
}

# A consumer streaming source slot $slot, with a standby on physical slot
# standby1; the standby is made before the setting is given, as it must be:
# a promoted standby that inherited it would wait for a slot it lacks.
sub consumer_pair
{
	my ($name, $slot, $synchronized) = @_;
	my $consumer = consumer_server($name, "wal_keep_size = 256MB\n");
	$consumer->safe_psql('postgres', qq{
		SELECT pg_create_physical_replication_slot('standby1', true);
		CREATE EXTENSION laredo;
		CREATE SCHEMA mirror;
		BEGIN;
		SELECT laredo.create_source('s', connection => \$c\$@{[ $source->connstr('postgres') ]}\$c\$,
		                            slot_name => '$slot', reconnect_initial_backoff => '200ms',
		                            reconnect_max_backoff => '1s');
		SELECT laredo.add_table('s', 'public.items');
		SELECT laredo.create_pipeline('items', 's', 'public.items', target => 'mirror.items');
		COMMIT;
	});
	$consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('s', '180s')});
	$consumer->backup("${name}_backup");
	my $standby = PostgreSQL::Test::Cluster->new("${name}_standby");
	$standby->init_from_backup($consumer, "${name}_backup", has_streaming => 1);
	$standby->append_conf('postgresql.conf', "primary_slot_name = 'standby1'\n");
	$standby->start;
	if ($synchronized)
	{
		$consumer->append_conf('postgresql.conf', "laredo.synchronized_standby_slots = 'standby1'\n");
		$consumer->reload;
	}
	$consumer->wait_for_catchup($standby, 'replay', $consumer->lsn('insert'));
	is($standby->safe_psql('postgres',
			q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'laredo source worker'}),
		'0', "$name: laredo starts no worker on the standby in recovery");
	return ($consumer, $standby);
}

# ---- With laredo.synchronized_standby_slots.
my ($c1, $s1) = consumer_pair('c1', 'laredo_sync', 1);
load(2);
equal($c1, 'c1 mirrors the source, with its standby connected');
$c1->wait_for_catchup($s1, 'replay', $c1->lsn('insert'));
$s1->stop('fast');
# what c1 acknowledged of what the standby had settles first
$source->safe_psql('postgres', 'SELECT pg_sleep(1.5)');
# what the standby has, as the consumer's slot for it says
my $standby_has = $c1->safe_psql('postgres', q{SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = 'standby1'});
my $held = slot_confirmed('laredo_sync');
load(4);
equal($c1, 'c1 applies the load while its standby is cut off');
my $c1_position = $c1->safe_psql('postgres', q{SELECT confirmed_lsn FROM laredo.sources});
$source->safe_psql('postgres', 'SELECT pg_sleep(1.5)');
is($c1->safe_psql('postgres', qq{SELECT '$held'::pg_lsn < '$c1_position'}), 't',
	'c1 applied changes past what the source had been told');
is(slot_confirmed('laredo_sync'), $held, 'but acknowledged none of them: its standby lacks them');
like($c1->safe_psql('postgres', q{SELECT problem || ': ' || detail FROM laredo.health()}),
	qr/^standby holds back acknowledgements: the standby of physical slot standby1 is not connected/m,
	'health() says that the standby holds acknowledgements back');
is($c1->safe_psql('postgres', qq{SELECT restart_lsn = '$standby_has' FROM pg_replication_slots WHERE slot_name = 'standby1'}),
	't', 'the standby slot still says what the standby had');

# The consumer restarts (or an old primary keeps running while its standby
# is promoted: split brain) and streams on: its acknowledgements stay at
# what its standby had.
$c1->stop('immediate');
$c1->start;
load(2);
equal($c1, 'c1, restarted, streams on');
$source->safe_psql('postgres', 'SELECT pg_sleep(1.5)');
is(slot_confirmed('laredo_sync'), $held, 'and still acknowledges nothing its standby lacks');

# The consumer dies; its standby, far behind it, is promoted.
$c1->stop('immediate');
$s1->start;
$s1->promote;
$s1->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()') or die 'not promoted';
load(2);
equal($s1, 'the promoted standby resumed from its own position by itself: every row equal, nothing lost');
is($s1->safe_psql('postgres', q{SELECT state || coalesce(last_error, '') FROM laredo.sources}), 'STREAMING',
	'no ERROR');
my $copies = () = slurp_file($s1->logfile) =~ /baseline committed/g;
is($copies, 0, 'and no new baseline');

# ---- The old consumer comes back while the new one streams.
$c1->start;
ok($c1->poll_query_until('postgres', q{SELECT last_error LIKE '%is held by laredo of another timeline of this server%' FROM laredo.sources}),
	'the old consumer finds the slot held by laredo of another timeline of its server, and says so');
my $appname = $source->safe_psql('postgres', q{
	SELECT r.application_name FROM pg_replication_slots s JOIN pg_stat_replication r ON r.pid = s.active_pid
	WHERE s.slot_name = 'laredo_sync'});
my $sysid = $s1->safe_psql('postgres', 'SELECT system_identifier FROM pg_control_system()');
is($appname, "laredo $sysid/2 source s", "the source sees the promoted consumer's system identifier and timeline");
$c1->stop('fast');
load(1);
equal($s1, 'the new consumer streams on');

# ---- Without the setting: the promoted standby finds the slot ahead.
my ($c2, $s2) = consumer_pair('c2', 'laredo_async', 0);
$c2->wait_for_catchup($s2, 'replay', $c2->lsn('insert'));
$s2->stop('fast');
load(3);
$c2->safe_psql('postgres', q{CALL laredo.wait_for_catchup('s', '180s')});
my $c2_position = $c2->safe_psql('postgres', q{SELECT confirmed_lsn FROM laredo.sources});
$source->poll_query_until('postgres', qq{SELECT confirmed_flush_lsn >= '$c2_position' FROM pg_replication_slots WHERE slot_name = 'laredo_async'})
  or die 'c2 never acknowledged';
$c2->stop('immediate');
$s2->start;
$s2->promote;
$s2->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()') or die 'not promoted';
ok($s2->poll_query_until('postgres', q{SELECT state = 'ERROR' FROM laredo.sources}), 'without it, the promoted standby stops');
like($s2->safe_psql('postgres', q{SELECT last_error FROM laredo.sources}),
	qr/^replication slot "laredo_async" on source "s" is ahead of laredo's position$/, 'the slot is ahead of its position');
like(slurp_file($s2->logfile), qr/A second consumer may have streamed from the slot: a copy of this database, or this server's old primary after a failover/,
	'and the error names a possible second consumer');

is(join("\n", map { crash_lines($_) } $source, $c1, $s1, $c2, $s2), '', 'no server crashed');
done_testing();
