# 310_origin: the source option origin, as a subscription's.  'any' (the
# default, as a subscription's) takes every change of the published tables;
# 'none' only those made on the source itself, not those it received by
# replication (a source that is itself a subscriber).  Source S2 subscribes
# to S1's table and is written locally too; a consumer reads S2 with a
# subscription with origin = none (the oracle), laredo with origin 'none'
# and laredo with origin 'any'.  'none' needs PostgreSQL 16 or later on both
# sides: otherwise the source stops with a durable ERROR that says so.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use LaredoTest;

my $s1 = source_server('s1');
my $s2 = source_server('s2', "max_logical_replication_workers = 4\n");
my $consumer = consumer_server('consumer', "max_logical_replication_workers = 4\n");
my $table = q{CREATE TABLE t (id int PRIMARY KEY, v text)};
$s1->safe_psql('postgres', qq{$table; CREATE PUBLICATION p1 FOR TABLE t;
	INSERT INTO t SELECT g, 's1' FROM generate_series(1, 100) g});
$s2->safe_psql('postgres', $table);
my $s1conn = $s1->connstr('postgres');
$s2->safe_psql('postgres', qq{CREATE SUBSCRIPTION sub12 CONNECTION \$c\$$s1conn\$c\$ PUBLICATION p1});
$s1->wait_for_catchup('sub12');
$s2->poll_query_until('postgres', q{SELECT count(*) = 100 FROM t}) or die 's2 did not copy';
$s2->safe_psql('postgres', q{INSERT INTO t SELECT g, 's2' FROM generate_series(1001, 1100) g; CREATE PUBLICATION p2 FOR TABLE t});

my $connstr = $s2->connstr('postgres');
my $both16 = $s2->pg_version >= 16 && $consumer->pg_version >= 16;
$consumer->safe_psql('postgres', qq{
	CREATE EXTENSION laredo;
	CREATE SCHEMA mirror;
	BEGIN;
	SELECT laredo.create_source('n', connection => \$c\$$connstr\$c\$, slot_name => 'laredo_none', origin => 'none');
	SELECT laredo.add_table('n', 'public.t');
	SELECT laredo.create_pipeline('t_none', 'n', 'public.t', target => 'mirror.t_none');
	SELECT laredo.create_source('a', connection => \$c\$$connstr\$c\$, slot_name => 'laredo_any');
	SELECT laredo.add_table('a', 'public.t');
	SELECT laredo.create_pipeline('t_any', 'a', 'public.t', target => 'mirror.t_any');
	COMMIT;
});
my ($ret, $out, $err) = $consumer->psql('postgres', q{SELECT laredo.alter_source('a', origin => 'some')});
like($err, qr/invalid origin "some"/, 'an origin other than any and none is refused');
is($consumer->safe_psql('postgres', q{SELECT string_agg(source_id || '=' || origin, ',' ORDER BY source_id) FROM laredo.source_settings}),
	'a=any,n=none', 'origin is a source setting, any by default');

unless ($both16)
{
	$consumer->poll_query_until('postgres', q{SELECT state = 'ERROR' AND last_error_hint IS NOT NULL FROM laredo.sources WHERE source_id = 'n'})
	  or die 'the source did not stop';
	like($consumer->safe_psql('postgres', q{SELECT last_error || '|' || last_error_hint FROM laredo.sources WHERE source_id = 'n'}),
		qr/cannot leave out the changes its server received by replication\|Call laredo.alter_source\('n', origin => 'any'\)/,
		'origin none before 16: a durable ERROR that says what is needed');
	$consumer->safe_psql('postgres', q{SELECT laredo.alter_source('n', origin => 'any')});
	$consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('n', '120s')});
	is(table_digest($consumer, 'postgres', 'mirror.t_none', 'id'), table_digest($s2, 'postgres', 't', 'id'),
		'with origin any it mirrors every change');
	done_testing();
	exit;
}

$consumer->safe_psql('postgres', qq{$table; CREATE SUBSCRIPTION oracle CONNECTION \$c\$$connstr\$c\$ PUBLICATION p2 WITH (origin = none)});
$consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('n', '120s'); CALL laredo.wait_for_catchup('a', '120s')});
$s2->wait_for_catchup('oracle');
$consumer->poll_query_until('postgres', q{SELECT count(*) = 0 FROM pg_subscription_rel WHERE srsubstate NOT IN ('r', 's')})
  or die 'the oracle did not synchronise';

# changes that reach s2 by replication, and changes made on s2
$s1->safe_psql('postgres', q{INSERT INTO t SELECT g, 's1 later' FROM generate_series(101, 150) g; UPDATE t SET v = 's1 updated' WHERE id <= 20});
$s1->wait_for_catchup('sub12');
$s2->safe_psql('postgres', q{INSERT INTO t SELECT g, 's2 later' FROM generate_series(1101, 1150) g; UPDATE t SET v = 's2 updated' WHERE id BETWEEN 21 AND 30});
$consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('n', '120s'); CALL laredo.wait_for_catchup('a', '120s')});
$s2->wait_for_catchup('oracle');

is(table_digest($consumer, 'postgres', 'mirror.t_none', 'id'), table_digest($consumer, 'postgres', 't', 'id'),
	"origin none: laredo's rows are the subscription's (origin = none)");
is(table_digest($consumer, 'postgres', 'mirror.t_any', 'id'), table_digest($s2, 'postgres', 't', 'id'),
	"origin any: laredo's rows are the source's");
is($consumer->safe_psql('postgres', q{SELECT count(*) FROM mirror.t_none WHERE id BETWEEN 101 AND 150 OR v = 's1 updated'}), '0',
	'origin none left out what the source received by replication');
is($consumer->safe_psql('postgres', q{SELECT count(*) FROM mirror.t_none WHERE id BETWEEN 1101 AND 1150 OR v = 's2 updated'}), '60',
	'and took what was written on the source');

done_testing();
