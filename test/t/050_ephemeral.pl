# 050_ephemeral: an ephemeral source uses a temporary slot and takes a full
# baseline on every start.  After the consumer restarts (clean, then
# immediate), the target first receives a truncate, then the full baseline,
# then the stream: rows deleted on the source while the consumer was down are
# gone from the target, and it equals the source row for row.  No slot stays
# behind on the source while the consumer is down.
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
$consumer->append_conf('postgresql.conf',
	"shared_preload_libraries = 'laredo'\nlaredo.restart_delay = 200\nrestart_after_crash = on\n");
$consumer->start;

$source->safe_psql('postgres', q{
	CREATE TABLE t (id int PRIMARY KEY, v text);
	INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 2000) g;
});
$consumer->safe_psql('postgres', qq{
	CREATE EXTENSION laredo;
	BEGIN;
	SELECT laredo.create_source('eph', connection => \$c\$@{[ $source->connstr('postgres') ]}\$c\$,
	                            slot_mode => 'ephemeral', slot_name => 'laredo_eph');
	SELECT laredo.add_table('eph', 'public.t');
	SELECT laredo.create_pipeline('t', 'eph', 'public.t', target => 'public.t_copy');
	COMMIT;
});

sub same
{
	my ($what) = @_;
	is($consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('eph', '120s'); SELECT true}), 't', "$what: caught up");
	my $q = q{SELECT count(*) || ':' || md5(string_agg(t::text, '|' ORDER BY id)) FROM %s t};
	is($consumer->safe_psql('postgres', sprintf($q, 't_copy')),
		$source->safe_psql('postgres', sprintf($q, 't')), "$what: target equals source");
}

same('first baseline');
is($source->safe_psql('postgres', q{SELECT temporary FROM pg_replication_slots WHERE slot_name = 'laredo_eph'}),
	't', 'the slot is temporary');
$source->safe_psql('postgres', q{UPDATE t SET v = 'streamed' WHERE id <= 100});
same('stream');

for my $mode ('fast', 'immediate')
{
	$consumer->stop($mode);
	$source->poll_query_until('postgres', q{SELECT count(*) = 0 FROM pg_replication_slots})
	  or die 'the temporary slot stayed';
	pass("$mode stop: no slot left on the source");
	$source->safe_psql('postgres', q{
		DELETE FROM t WHERE id % 10 = 0;
		INSERT INTO t SELECT g, 'while down' FROM generate_series(5001, 5100) g ON CONFLICT DO NOTHING;
	});
	$consumer->start;
	same("after a $mode restart");
	$source->safe_psql('postgres', q{UPDATE t SET v = v || '+' WHERE id % 7 = 0});
	same("stream after a $mode restart");
}

my $log = slurp_file($consumer->logfile);
my $baselines = () = $log =~ /created temporary slot "laredo_eph" at .*, taking the baseline/g;
is($baselines, 3, 'a full baseline on every start (3 starts)');
is($consumer->safe_psql('postgres', q{SELECT truncates FROM laredo.pipelines}), '0',
	'baselines are not counted as streamed truncates');

# Switching modes with alter_source performs laredo.reset_source: a new
# (now persistent) slot and a full baseline.
$consumer->safe_psql('postgres', q{SELECT laredo.alter_source('eph', slot_mode => 'stateful')});
$source->safe_psql('postgres', q{INSERT INTO t VALUES (9999, 'after the switch')});
same('after switching to stateful');
is($source->safe_psql('postgres', q{SELECT temporary FROM pg_replication_slots WHERE slot_name = 'laredo_eph'}),
	'f', 'the slot is now persistent');
is($consumer->safe_psql('postgres', q{SELECT slot_mode FROM laredo.sources}), 'stateful', 'the source is stateful');

done_testing();
