# 250_origin_limit: every source needs one of the server's replication
# origin slots while its worker runs (max_replication_slots, and from
# PostgreSQL 18 on max_active_replication_origins).  When none is free, the
# source stops with a durable ERROR that names the setting, instead of
# retrying forever; the others keep streaming, and once the setting is
# raised (a restart) it resumes.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use LaredoTest;

my $source = source_server('source');
my $consumer = consumer_server('consumer');
my $setting = $consumer->pg_version >= 18 ? 'max_active_replication_origins' : 'max_replication_slots';
$consumer->append_conf('postgresql.conf', "$setting = 1\n");
$consumer->restart;

$source->safe_psql('postgres', q{
	CREATE TABLE a (id int PRIMARY KEY); INSERT INTO a SELECT generate_series(1, 10);
	CREATE TABLE b (id int PRIMARY KEY); INSERT INTO b SELECT generate_series(1, 20);
});
my $connstr = $source->connstr('postgres');
$consumer->safe_psql('postgres', qq{
	CREATE EXTENSION laredo;
	SELECT laredo.create_source('first', connection => \$c\$$connstr\$c\$, slot_name => 'laredo_first');
	SELECT laredo.add_table('first', 'public.a');
	SELECT laredo.create_pipeline('a', 'first', 'public.a');
});
$consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('first', '120s')});
$consumer->safe_psql('postgres', qq{
	SELECT laredo.create_source('second', connection => \$c\$$connstr\$c\$, slot_name => 'laredo_second');
	SELECT laredo.add_table('second', 'public.b');
	SELECT laredo.create_pipeline('b', 'second', 'public.b');
});
ok($consumer->poll_query_until('postgres', q{SELECT state = 'ERROR' FROM laredo.sources WHERE source_id = 'second'}),
	'a source without a free origin slot stops in ERROR');
like($consumer->safe_psql('postgres', q{SELECT last_error || ' / ' || last_error_hint FROM laredo.sources WHERE source_id = 'second'}),
	qr/source "second" found no free replication origin slot \/ Raise $setting in postgresql\.conf and restart the server/,
	"the error names $setting");
$source->safe_psql('postgres', q{INSERT INTO a VALUES (11)});
$consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('first', '120s')});
is($consumer->safe_psql('postgres', 'SELECT count(*) FROM public.a'), '11', 'the other source keeps streaming');

$consumer->append_conf('postgresql.conf', "$setting = 10\n");
$consumer->restart;
$consumer->safe_psql('postgres', q{SELECT laredo.alter_source('second', enabled => true)});
$consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('second', '120s')});
is($consumer->safe_psql('postgres', 'SELECT count(*) FROM public.b'), '20', 'raised and restarted, it resumes');

done_testing();
