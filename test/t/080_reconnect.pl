# 080_reconnect: when the source goes away, the worker retries with
# exponential backoff (reconnect_initial_backoff, times the multiplier,
# capped at reconnect_max_backoff), showing RECONNECTING, the attempt count
# and the next retry in laredo.sources; a stateful source then resumes from
# its last acknowledged position with nothing lost and no new baseline.
# After reconnect_max_attempts failures it is ERROR with the last error, and
# stays so until alter_source(..., enabled => true).
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
	CREATE TABLE t (id int PRIMARY KEY, v text);
	INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 1000) g;
});
$consumer->safe_psql('postgres', qq{
	CREATE EXTENSION laredo;
	BEGIN;
	SELECT laredo.create_source('r', connection => \$c\$@{[ $source->connstr('postgres') ]}\$c\$,
	                            slot_name => 'laredo_r', reconnect_max_attempts => 4,
	                            reconnect_initial_backoff => '300ms', reconnect_max_backoff => '1s',
	                            reconnect_backoff_multiplier => 2);
	SELECT laredo.add_table('r', 'public.t');
	SELECT laredo.create_pipeline('t', 'r', 'public.t', target => 'public.t_copy');
	COMMIT;
});

sub same
{
	my ($what) = @_;
	is($consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('r', '120s'); SELECT true}), 't', "$what: caught up");
	my $q = q{SELECT count(*) || ':' || md5(string_agg(t::text, '|' ORDER BY id)) FROM %s t};
	is($consumer->safe_psql('postgres', sprintf($q, 't_copy')),
		$source->safe_psql('postgres', sprintf($q, 't')), "$what: target equals source");
}
same('baseline');

# 1. the source is down for longer than two backoff steps, then comes back
$source->safe_psql('postgres', q{UPDATE t SET v = 'before the outage' WHERE id <= 100});
same('before the outage');
$source->stop('fast');
$consumer->poll_query_until('postgres',
	q{SELECT state = 'RECONNECTING' AND reconnect_attempts >= 2 AND next_retry_at IS NOT NULL
	  FROM laredo.sources WHERE source_id = 'r'})
  or die 'no RECONNECTING with two attempts';
pass('RECONNECTING, with the attempt count and the next retry time, after two backoff steps');
like($consumer->safe_psql('postgres', q{SELECT last_error FROM laredo.sources}),
	qr/could not connect to source "r"|WAL stream|ended the replication stream/, 'the last error is shown');
$source->start;
$source->safe_psql('postgres', q{UPDATE t SET v = 'after the outage' WHERE id > 900; DELETE FROM t WHERE id % 50 = 0});
same('after the source came back');
is($consumer->safe_psql('postgres', q{SELECT state || ' ' || reconnect_attempts FROM laredo.sources}),
	'STREAMING 0', 'STREAMING again, the attempt count reset');

# 2. the source stays down past reconnect_max_attempts
$source->stop('fast');
$consumer->poll_query_until('postgres', q{SELECT state = 'ERROR' FROM laredo.sources WHERE source_id = 'r'})
  or die 'no ERROR after the last attempt';
my ($error, $hint) = split /\|/, $consumer->safe_psql('postgres',
	q{SELECT last_error || '|' || last_error_hint FROM laredo.sources});
like($error, qr/could not connect to source "r"/, 'ERROR with the last error text');
like($hint, qr/failed 5 times in a row/, 'the hint counts the attempts');
$source->start;
$source->safe_psql('postgres', q{INSERT INTO t VALUES (5000, 'while in ERROR')});
$consumer->safe_psql('postgres', q{SELECT pg_sleep(1)});
is($consumer->safe_psql('postgres', q{SELECT state FROM laredo.sources}), 'ERROR',
	'the source stays in ERROR although the source server is back');
is($consumer->safe_psql('postgres', q{SELECT count(*) FROM t_copy WHERE id = 5000}), '0', 'nothing applied in ERROR');
$consumer->safe_psql('postgres', q{SELECT laredo.alter_source('r', enabled => true)});
same('after alter_source');

my $log = slurp_file($consumer->logfile);
is(scalar(() = $log =~ /taking the baseline/g), 1, 'the stateful source never took a new baseline');

done_testing();
