# 340_source_failover: a source on PostgreSQL 17 or later fails over to its
# standby, and laredo follows without a new baseline.  laredo's slot is a
# failover slot (the source option failover, on by default), the standby
# synchronises it (sync_replication_slots, hot_standby_feedback, a dbname in
# primary_conninfo, its physical slot named in the primary's
# synchronized_standby_slots), and laredo.source() and health() say what the
# setup lacks until nothing does.  While the standby is down the primary holds
# laredo's stream back: health() gives that as the reason.  Then, under
# pgbench load, the primary is stopped in immediate mode and the standby
# promoted; laredo reconnects through its multi-host connection string
# (target_session_attrs=read-write), finds its synchronised slot, proves the
# new timeline continues its position (continuity.c) and resumes: every
# mirror equals the new primary after more load there, with one baseline in
# all.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use LaredoTest;

my $primary = PostgreSQL::Test::Cluster->new('primary');
plan skip_all => 'failover slots need PostgreSQL 17 or later' if $primary->pg_version < 17;
$primary->init(allows_streaming => 'logical');
$primary->append_conf('postgresql.conf', "max_replication_slots = 20\nmax_wal_senders = 20\nwal_keep_size = 512MB\n");
$primary->start;
$primary->command_ok([ 'pgbench', '-i', '-s', '2', '-q', '-h', $primary->host, '-p', $primary->port, 'postgres' ],
	'pgbench tables on the primary');
$primary->safe_psql('postgres', q{SELECT pg_create_physical_replication_slot('sb1')});
$primary->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b', has_streaming => 1);
# the slot synchronisation worker needs a database in primary_conninfo
$standby->append_conf('postgresql.conf', sprintf(qq{
primary_slot_name = 'sb1'
primary_conninfo = 'host=%s port=%s dbname=postgres application_name=standby'
hot_standby_feedback = on
sync_replication_slots = on
}, $primary->host, $primary->port));
$standby->start;

my $consumer = consumer_server('consumer');
my $conn = sprintf('host=%s,%s port=%s,%s dbname=postgres target_session_attrs=read-write',
	$primary->host, $standby->host, $primary->port, $standby->port);
my @tables = qw(pgbench_accounts pgbench_branches pgbench_tellers pgbench_history);
$consumer->safe_psql('postgres', qq{
	CREATE EXTENSION laredo;
	CREATE SCHEMA mirror;
	BEGIN;
	SELECT laredo.create_source('s', connection => '$conn', slot_name => 'laredo_fo',
	                            reconnect_initial_backoff => '200ms', reconnect_max_backoff => '1s');
	@{[ join "\n", map { "SELECT laredo.add_table('s', 'public.$_'); SELECT laredo.create_pipeline('$_', 's', 'public.$_', target => 'mirror.$_');" } @tables ]}
	COMMIT;
});
$consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('s', '180s')});
is($primary->safe_psql('postgres', q{SELECT failover FROM pg_replication_slots WHERE slot_name = 'laredo_fo'}), 't',
	"laredo's slot is a failover slot");

# The setup, as laredo sees it: the primary lacks synchronized_standby_slots.
ok($consumer->poll_query_until('postgres',
		q{SELECT failover_readiness LIKE '%primary: synchronized_standby_slots is empty%' FROM laredo.source('s')}),
	'laredo.source() says that the primary lacks synchronized_standby_slots');
like($consumer->safe_psql('postgres', q{SELECT problem FROM laredo.health() WHERE source_id = 's'}),
	qr/^source failover not ready$/m, 'health() reports it');
$primary->append_conf('postgresql.conf', "synchronized_standby_slots = 'sb1'\n");
$primary->reload;
# a synchronised slot stays temporary until the standby has caught up with it
$primary->safe_psql('postgres', 'SELECT pg_log_standby_snapshot()');
ok($standby->poll_query_until('postgres',
		q{SELECT synced AND NOT temporary FROM pg_replication_slots WHERE slot_name = 'laredo_fo'}),
	"the standby synchronised laredo's slot");
ok($consumer->poll_query_until('postgres', q{SELECT failover_readiness = 'ready' FROM laredo.source('s')}),
	'then laredo.source() says the failover is ready')
  or diag($consumer->safe_psql('postgres', q{SELECT failover_readiness FROM laredo.source('s')}));
is($consumer->safe_psql('postgres', q{SELECT count(*) FROM laredo.health()}), '0', 'and health() is clean');

# The standby down: the primary holds laredo's stream back.
$standby->stop('fast');
$primary->safe_psql('postgres', q{UPDATE pgbench_branches SET bbalance = bbalance + 1});
ok($consumer->poll_query_until('postgres',
		q{SELECT lag_reason LIKE '%WaitForStandbyConfirmation%' FROM laredo.source('s')}),
	'with the standby down, laredo.source() gives the primary holding the stream back as the reason');
like($consumer->safe_psql('postgres', q{SELECT problem FROM laredo.health() WHERE source_id = 's'}),
	qr/^source holds the stream back$/m, 'health() reports it');
$standby->start;
$consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('s', '180s')});
ok($consumer->poll_query_until('postgres', q{SELECT lag_reason IS NULL FROM laredo.source('s')}),
	'the standby back, the stream flows and the reason is gone');
$primary->wait_for_replay_catchup($standby);
$standby->poll_query_until('postgres',
	q{SELECT synced AND NOT temporary FROM pg_replication_slots WHERE slot_name = 'laredo_fo'})
  or die 'slot not synchronised again';

# Load, and the primary dies in the middle of it.
my $load = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '2', '-T', '30', '-h', $primary->host, '-p', $primary->port, 'postgres' ],
	'>', \my $out, '2>', \my $err);
$primary->poll_query_until('postgres', q{SELECT count(*) > 300 FROM pgbench_history}) or die 'no load';
$primary->stop('immediate');
$load->finish;
$standby->promote;
$standby->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()') or die 'not promoted';
$standby->command_ok([ 'pgbench', '-n', '-c', '2', '-t', '300', '-h', $standby->host, '-p', $standby->port, 'postgres' ],
	'load on the new primary');
$consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('s', '180s')});
for my $t (@tables)
{
	is(table_digest($consumer, 'postgres', "mirror.$t"), table_digest($standby, 'postgres', $t),
		"mirror.$t equals the new primary");
}
is($consumer->safe_psql('postgres', q{SELECT state || coalesce(last_error, '') FROM laredo.sources}), 'STREAMING',
	'laredo streams from the new primary');
is($consumer->safe_psql('postgres', q{SELECT timeline FROM laredo.source_servers}), '2', 'on its timeline 2');
my $copies = () = slurp_file($consumer->logfile) =~ /baseline committed/g;
is($copies, 1, 'with no new baseline');

is(join("\n", map { crash_lines($_) } $consumer, $standby), '', 'no server crashed');
done_testing();
