# 090_many: several sources in one database and the extension in several
# databases of one server, each with its own workers, at the same time: two
# source databases feed database one, a third feeds database two, and
# database one also mirrors one of its own tables (connection => '').
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use LaredoTest;

my $source = PostgreSQL::Test::Cluster->new('source');
$source->init(allows_streaming => 'logical');
$source->append_conf('postgresql.conf', "max_replication_slots = 20\nmax_wal_senders = 20\n");
$source->start;
my $consumer = PostgreSQL::Test::Cluster->new('consumer');
$consumer->init(allows_streaming => 'logical');
$consumer->append_conf('postgresql.conf', "shared_preload_libraries = 'laredo'\nmax_worker_processes = 32\n");
$consumer->start;

for my $db ('shop', 'crm', 'billing')
{
	$source->safe_psql('postgres', "CREATE DATABASE $db");
	$source->safe_psql($db, qq{
		CREATE TABLE t (id int PRIMARY KEY, v text);
		INSERT INTO t SELECT g, '$db ' || g FROM generate_series(1, 500) g;
	});
}
$consumer->safe_psql('postgres', 'CREATE DATABASE one');
$consumer->safe_psql('postgres', 'CREATE DATABASE two');

my %feeds = (shop => 'one', crm => 'one', billing => 'two');
for my $db ('one', 'two')
{
	$consumer->safe_psql($db, 'CREATE EXTENSION laredo');
}
for my $src (sort keys %feeds)
{
	my $conn = $source->connstr($src);
	$consumer->safe_psql($feeds{$src}, qq{
		BEGIN;
		SELECT laredo.create_source('$src', connection => \$c\$$conn\$c\$, slot_name => 'laredo_${src}_$feeds{$src}');
		SELECT laredo.add_table('$src', 'public.t');
		SELECT laredo.create_pipeline('${src}_t', '$src', 'public.t', target => 'public.${src}_t');
		COMMIT;
	});
}
$consumer->safe_psql('one', q{
	CREATE TABLE local_t (id int PRIMARY KEY, v text);
	INSERT INTO local_t SELECT g, 'local ' || g FROM generate_series(1, 300) g;
	BEGIN;
	SELECT laredo.create_source('self', connection => '', slot_name => 'laredo_self');
	SELECT laredo.add_table('self', 'public.local_t');
	SELECT laredo.create_pipeline('self_t', 'self', 'public.local_t', target => 'public.self_t');
	COMMIT;
});

for my $src (sort keys %feeds)
{
	$source->safe_psql($src, qq{UPDATE t SET v = v || ' changed' WHERE id % 3 = 0; DELETE FROM t WHERE id % 10 = 0;
		INSERT INTO t SELECT g, 'more' FROM generate_series(1001, 1100) g;});
}
$consumer->safe_psql('one', q{UPDATE local_t SET v = 'changed' WHERE id < 50});

my $q = q{SELECT count(*) || ':' || md5(string_agg(t::text, '|' ORDER BY id)) FROM %s t};
for my $src (sort keys %feeds)
{
	my $db = $feeds{$src};
	is($consumer->safe_psql($db, "CALL laredo.wait_for_catchup('$src', '120s'); SELECT true"), 't', "$src caught up in $db");
	is($consumer->safe_psql($db, sprintf($q, "${src}_t")), $source->safe_psql($src, sprintf($q, 't')),
		"$src mirrored into database $db");
}
is($consumer->safe_psql('one', q{CALL laredo.wait_for_catchup('self', '120s'); SELECT true}), 't', 'self caught up');
is($consumer->safe_psql('one', sprintf($q, 'self_t')), $consumer->safe_psql('one', sprintf($q, 'local_t')),
	'database one also mirrors its own table');

is($consumer->safe_psql('postgres',
	q{SELECT string_agg(d.datname || ':' || a.application_name, ',' ORDER BY d.datname || ':' || a.application_name)
	  FROM pg_stat_activity a JOIN pg_database d ON d.oid = a.datid
	  WHERE a.backend_type = 'laredo source worker'}),
	'one:laredo source crm,one:laredo source self,one:laredo source shop,two:laredo source billing',
	'one worker per source, each in its own database, named for its source');
is($consumer->safe_psql('postgres',
	q{SELECT string_agg(d.datname, ',' ORDER BY d.datname) FROM pg_stat_activity a JOIN pg_database d ON d.oid = a.datid
	  WHERE a.backend_type = 'laredo manager'}),
	'one,two', 'one manager per database with the extension');
is($consumer->safe_psql('one', q{SELECT string_agg(source_id || '=' || state, ',' ORDER BY source_id) FROM laredo.sources}),
	'crm=STREAMING,self=STREAMING,shop=STREAMING', 'each database sees only its own sources');

done_testing();
