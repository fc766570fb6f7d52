# 070_tables_filters: the managed publication carries row filters and column
# lists, and the baseline honours the same filter and columns (read back from
# the source's pg_publication_tables), so the target holds exactly the
# matching rows and published columns, also after updates that move rows into
# or out of the filter.  Two tables added to the running source while
# pgbench writes are copied alone (no new baseline of the others, nothing
# lost or applied twice): one as laredo copies such a table unless told,
# in key ranges while the stream goes on, one in one snapshot ("copy":
# "snapshot"), around which the stream waits; a removed table stops
# receiving changes and its target is left as it is.
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

$source->safe_psql('postgres', q{
	CREATE TABLE orders (id int PRIMARY KEY, status text NOT NULL, amount int, note text);
	ALTER TABLE orders REPLICA IDENTITY FULL;
	INSERT INTO orders SELECT g, CASE WHEN g % 3 = 0 THEN 'active' ELSE 'new' END, g, 'n' || g
	FROM generate_series(1, 3000) g;
	CREATE TABLE wide (id int PRIMARY KEY, a text, b int, secret text);
	INSERT INTO wide SELECT g, 'a' || g, g, 'do not copy' FROM generate_series(1, 500) g;
	CREATE TABLE extra (id int PRIMARY KEY, v text);
	INSERT INTO extra SELECT g, 'e' || g FROM generate_series(1, 2000) g;
	CREATE TABLE extra2 (id int PRIMARY KEY, v text);
	INSERT INTO extra2 SELECT g, 'e' || g FROM generate_series(1, 2000) g;
});
$consumer->safe_psql('postgres', qq{
	CREATE EXTENSION laredo;
	CREATE SCHEMA copy;
	BEGIN;
	SELECT laredo.create_source('src', connection => \$c\$@{[ $source->connstr('postgres') ]}\$c\$,
	                            slot_name => 'laredo_src');
	SELECT laredo.add_table('src', 'public.orders', where_clause => \$\$status = 'active'\$\$);
	SELECT laredo.add_table('src', 'public.wide', columns => '{id,a,b}');
	SELECT laredo.create_pipeline('orders', 'src', 'public.orders', target => 'copy.orders');
	SELECT laredo.create_pipeline('wide', 'src', 'public.wide', target => 'copy.wide');
	COMMIT;
});

my %expected = (
	'copy.orders' => q{SELECT * FROM orders WHERE status = 'active'},
	'copy.wide' => q{SELECT id, a, b FROM wide},
	'copy.extra' => q{SELECT * FROM extra},
	'copy.extra2' => q{SELECT * FROM extra2});
sub hash_of
{
	my ($node, $query) = @_;
	return $node->safe_psql('postgres',
		"SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY id)), '') FROM ($query) t");
}
sub check
{
	my ($what, @targets) = @_;
	is($consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('src', '120s'); SELECT true}), 't', "$what: caught up");
	for my $t (@targets)
	{
		is(hash_of($consumer, "SELECT * FROM $t"), hash_of($source, $expected{$t}), "$what: $t holds exactly what it should");
	}
}

check('baseline', 'copy.orders', 'copy.wide');
is($consumer->safe_psql('postgres',
	q{SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'copy.wide'::regclass AND attnum > 0}),
	'id,a,b', 'the target of a column list has only the published columns');
like($source->safe_psql('postgres',
	q{SELECT rowfilter FROM pg_publication_tables WHERE pubname = 'laredo_src_pub' AND tablename = 'orders'}),
	qr/status = 'active'/, 'the row filter is in the publication on the source');

$source->safe_psql('postgres', q{
	UPDATE orders SET status = 'inactive' WHERE id <= 300 AND status = 'active';   -- out of the filter
	UPDATE orders SET status = 'active' WHERE id BETWEEN 1000 AND 1300;           -- into the filter
	UPDATE orders SET amount = -amount WHERE status = 'active' AND id % 2 = 0;     -- stays in
	UPDATE orders SET note = 'x' WHERE status = 'new' AND id % 5 = 0;              -- stays out
	DELETE FROM orders WHERE id % 17 = 0;
	UPDATE wide SET a = a || '!', secret = 'changed' WHERE id % 3 = 0;
	INSERT INTO orders VALUES (5001, 'active', 1, 'in'), (5002, 'new', 2, 'out');
});
check('updates moving rows in and out of the filter', 'copy.orders', 'copy.wide');

# Tables added to the running source while pgbench writes.
my $script = $source->basedir . '/load.sql';
open my $fh, '>', $script or die;
print $fh q{\set id random(1, 6000)
INSERT INTO extra VALUES (:id, 'load') ON CONFLICT (id) DO UPDATE SET v = extra.v || '+';
UPDATE orders SET amount = amount + 1 WHERE id = :id % 3000 + 1;
DELETE FROM extra WHERE id = :id + 7 AND :id % 9 = 0;
INSERT INTO extra2 VALUES (:id, 'load') ON CONFLICT (id) DO UPDATE SET v = extra2.v || '+';
DELETE FROM extra2 WHERE id = :id + 5 AND :id % 7 = 0;
};
close $fh;
sub load
{
	my ($out, $err) = ('', '');
	return IPC::Run::start([ 'pgbench', '-n', '-c', '2', '-T', '5', '-f', $script,
		'-h', $source->host, '-p', $source->port, 'postgres' ], '>', \$out, '2>', \$err);
}

my $writer = load();
$source->poll_query_until('postgres', q{SELECT count(*) > 0 FROM extra WHERE v LIKE 'load%'}) or die;
$consumer->safe_psql('postgres', q{
	BEGIN;
	SELECT laredo.add_table('src', 'public.extra');
	SELECT laredo.add_table('src', 'public.extra2');
	SELECT laredo.create_pipeline('extra', 'src', 'public.extra', target => 'copy.extra');
	SELECT laredo.create_pipeline('extra2', 'src', 'public.extra2', target => 'copy.extra2',
	                              options => '{"copy": "snapshot"}');
	COMMIT;
});
$consumer->poll_query_until('postgres', q{SELECT bool_and(state = 'STREAMING') FROM laredo.pipelines WHERE pipeline_id IN ('extra', 'extra2')})
  or die 'extra was not copied';
$writer->finish;
check('tables added while writing', 'copy.orders', 'copy.wide', 'copy.extra', 'copy.extra2');
my $log = slurp_file($consumer->logfile);
is(scalar(() = $log =~ /taking the baseline/g), 1, 'the other tables were not copied again');
is($consumer->safe_psql('postgres', q{SELECT state FROM laredo.copies WHERE pipeline_id = 'extra'}), 'done',
	'the table added without options was copied in key ranges');
is(scalar(() = $log =~ /synchronised new pipelines/g), 1, 'the one told "snapshot" was synchronised alone in one snapshot');
is($consumer->safe_psql('postgres', q{SELECT baseline_rows FROM laredo.pipelines WHERE pipeline_id = 'orders'}),
	'1000', 'orders kept its first baseline');

# The table removed while writing: it stops receiving changes, its target stays.
$writer = load();
$source->poll_query_until('postgres', q{SELECT count(*) > 0 FROM extra WHERE v LIKE '%++%'}) or die;
$consumer->safe_psql('postgres', q{
	SELECT laredo.drop_pipeline('extra');
	SELECT laredo.remove_table('src', 'public.extra');
});
$writer->finish;
is($consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('src', '120s'); SELECT true}), 't', 'caught up after removal');
my $kept = hash_of($consumer, 'SELECT * FROM copy.extra');
$source->safe_psql('postgres', q{UPDATE extra SET v = 'after removal'; INSERT INTO extra VALUES (99999, 'new')});
is($consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('src', '120s'); SELECT true}), 't', 'caught up');
is(hash_of($consumer, 'SELECT * FROM copy.extra'), $kept, 'the removed table receives no more changes; its target is left as it is');
isnt($kept, '0:', 'the target of the removed table was not emptied');
is($source->safe_psql('postgres',
	q{SELECT count(*) FROM pg_publication_tables WHERE pubname LIKE 'laredo_src_pub%' AND tablename = 'extra'}),
	'0', 'the table left the publication');
check('the other tables', 'copy.orders', 'copy.wide');

done_testing();
