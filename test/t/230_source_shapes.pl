# 230_source_shapes: source tables of every ordinary shape reach their
# targets as they reach a built-in subscriber's tables.
#  - A partitioned table published leaf by leaf (the default): each
#    partition's changes arrive under its own name and go to the partitioned
#    table's pipelines, into a target partitioned like the source (rows land
#    in the partitions of the same names) or not at all; a TRUNCATE of one
#    partition truncates the target's partition of that name, one of the
#    table truncates the whole target, and one that laredo cannot place stops
#    the pipeline with an error instead of a guess.
#  - The same table published as its root (publish_via_partition_root, a
#    source option), into a target partitioned otherwise: copied whole (it
#    once copied nothing: FROM ONLY), rows routed, moved between partitions.
#  - An inheritance parent: its children come with it, each copied and
#    mirrored alone by pipelines created with the parent's (it once dropped
#    their changes silently).
#  - A table without columns (once "does not exist on source").
#  - A published table without a pipeline: its changes are reported by
#    health(), never dropped silently.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use LaredoTest;

my $source = source_server('source');
my $consumer = consumer_server('consumer');

$source->safe_psql('postgres', q{
	CREATE TABLE sales (id int, region text NOT NULL, amount int, PRIMARY KEY (id)) PARTITION BY RANGE (id);
	CREATE TABLE sales_1 PARTITION OF sales FOR VALUES FROM (0) TO (1000);
	CREATE TABLE sales_2 PARTITION OF sales FOR VALUES FROM (1000) TO (2000) PARTITION BY HASH (id);
	CREATE TABLE sales_2a PARTITION OF sales_2 FOR VALUES WITH (MODULUS 2, REMAINDER 0);
	CREATE TABLE sales_2b (amount int, region text NOT NULL, id int NOT NULL);	-- another column order
	ALTER TABLE sales_2 ATTACH PARTITION sales_2b FOR VALUES WITH (MODULUS 2, REMAINDER 1);
	CREATE TABLE sales_rest PARTITION OF sales DEFAULT;
	INSERT INTO sales SELECT g, (ARRAY['eu','us'])[g % 2 + 1], g FROM generate_series(1, 2500, 3) g;

	CREATE TABLE vehicles (id int PRIMARY KEY, name text);
	CREATE TABLE cars (doors int, PRIMARY KEY (id)) INHERITS (vehicles);
	CREATE TABLE trucks (load int) INHERITS (vehicles);
	ALTER TABLE trucks REPLICA IDENTITY FULL;
	INSERT INTO vehicles VALUES (1, 'cart'), (2, 'sled');
	INSERT INTO cars VALUES (10, 'mini', 3), (11, 'saloon', 5);
	INSERT INTO trucks VALUES (20, 'lorry', 40);

	CREATE TABLE no_columns ();
	INSERT INTO no_columns DEFAULT VALUES;
	INSERT INTO no_columns DEFAULT VALUES;

	CREATE TABLE lonely (id int PRIMARY KEY);
});

# Targets: partitioned like the source (m2), not partitioned (m), and
# partitioned otherwise (n).
$consumer->safe_psql('postgres', q{
	CREATE EXTENSION laredo;
	CREATE SCHEMA m; CREATE SCHEMA m2; CREATE SCHEMA n;
	CREATE TABLE m2.sales (id int, region text NOT NULL, amount int, PRIMARY KEY (id)) PARTITION BY RANGE (id);
	CREATE TABLE m2.sales_1 PARTITION OF m2.sales FOR VALUES FROM (0) TO (1000);
	CREATE TABLE m2.sales_2 PARTITION OF m2.sales FOR VALUES FROM (1000) TO (2000) PARTITION BY HASH (id);
	CREATE TABLE m2.sales_2a PARTITION OF m2.sales_2 FOR VALUES WITH (MODULUS 2, REMAINDER 0);
	CREATE TABLE m2.sales_2b PARTITION OF m2.sales_2 FOR VALUES WITH (MODULUS 2, REMAINDER 1);
	CREATE TABLE m2.sales_rest PARTITION OF m2.sales DEFAULT;
	CREATE TABLE n.sales (id int PRIMARY KEY, region text NOT NULL, amount int) PARTITION BY HASH (id);
	CREATE TABLE n.sales_h0 PARTITION OF n.sales FOR VALUES WITH (MODULUS 3, REMAINDER 0);
	CREATE TABLE n.sales_h1 PARTITION OF n.sales FOR VALUES WITH (MODULUS 3, REMAINDER 1);
	CREATE TABLE n.sales_h2 PARTITION OF n.sales FOR VALUES WITH (MODULUS 3, REMAINDER 2);
});

my $connstr = $source->connstr('postgres');
$consumer->safe_psql('postgres', qq{
	BEGIN;
	SELECT laredo.create_source('leaf', connection => \$c\$$connstr\$c\$, slot_name => 'laredo_leaf');
	SELECT laredo.add_table('leaf', 'public.sales');
	SELECT laredo.add_table('leaf', 'public.vehicles');
	SELECT laredo.add_table('leaf', 'public.no_columns');
	SELECT laredo.add_table('leaf', 'public.lonely');
	SELECT laredo.create_pipeline('same', 'leaf', 'public.sales', target => 'm2.sales');
	SELECT laredo.create_pipeline('veh', 'leaf', 'public.vehicles', target => 'm.vehicles');
	SELECT laredo.create_pipeline('nocols', 'leaf', 'public.no_columns', target => 'm.no_columns');
	SELECT laredo.create_source('plain', connection => \$c\$$connstr\$c\$, slot_name => 'laredo_plain');
	SELECT laredo.add_table('plain', 'public.sales');
	SELECT laredo.create_pipeline('flat', 'plain', 'public.sales', target => 'm.sales');
	SELECT laredo.create_source('root', connection => \$c\$$connstr\$c\$, slot_name => 'laredo_root',
	                            publish_via_partition_root => true);
	SELECT laredo.add_table('root', 'public.sales');
	SELECT laredo.create_pipeline('routed', 'root', 'public.sales', target => 'n.sales');
	COMMIT;
});
is($consumer->safe_psql('postgres', q{SELECT string_agg(pipeline_id || '>' || target, ' ' ORDER BY pipeline_id) FROM laredo.pipelines
	WHERE source_id = 'leaf'}),
	'nocols>m.no_columns same>m2.sales veh>m.vehicles veh__cars>m.cars veh__trucks>m.trucks',
	'the inheritance children got pipelines of their own with the parent\'s');

sub catch_up
{
	$consumer->safe_psql('postgres', "CALL laredo.wait_for_catchup('$_', '120s')") for qw(leaf plain root);
}

sub check
{
	my ($what) = @_;
	my $src = table_digest($source, 'postgres', 'sales', 'id');
	is(table_digest($consumer, 'postgres', 'm2.sales', 'id'), $src, "$what: partitioned like the source");
	is(table_digest($consumer, 'postgres', 'm.sales', 'id'), $src, "$what: not partitioned");
	is(table_digest($consumer, 'postgres', 'n.sales', 'id'), $src, "$what: partitioned otherwise, published as the root");
	for my $leaf (qw(sales_1 sales_2a sales_2b sales_rest))
	{
		is(table_digest($consumer, 'postgres', "(SELECT id, region, amount FROM m2.$leaf)", 'id'),
			table_digest($source, 'postgres', "(SELECT id, region, amount FROM $leaf)", 'id'),
			"$what: partition $leaf holds the same rows");
	}
	ok($consumer->safe_psql('postgres', q{SELECT count(DISTINCT tableoid) = 3 OR count(*) < 10 FROM n.sales}),
		"$what: routed rows spread over the partitions");
	for my $t (qw(vehicles cars trucks))
	{
		is(table_digest($consumer, 'postgres', "(SELECT * FROM ONLY m.$t)", 'id'),
			table_digest($source, 'postgres', "(SELECT * FROM ONLY $t)", 'id'), "$what: $t alone");
	}
	is($consumer->safe_psql('postgres', 'SELECT count(*) FROM m.no_columns'),
		$source->safe_psql('postgres', 'SELECT count(*) FROM no_columns'), "$what: the table without columns");
}

catch_up();
check('baseline');

$source->safe_psql('postgres', q{
	INSERT INTO sales SELECT g, (ARRAY['eu','us'])[g % 2 + 1], g FROM generate_series(2, 2600, 7) g
		ON CONFLICT DO NOTHING;
	UPDATE sales SET amount = amount + 1 WHERE id % 5 = 0;
	UPDATE sales SET id = id + 10000 WHERE id BETWEEN 100 AND 160;		-- into another partition everywhere
	UPDATE sales SET region = 'eu' WHERE id % 11 = 0;
	DELETE FROM sales WHERE id % 13 = 0;
	INSERT INTO vehicles VALUES (3, 'raft');
	UPDATE cars SET doors = 4 WHERE id = 10;
	UPDATE trucks SET load = 45;
	DELETE FROM vehicles WHERE id = 2;
	INSERT INTO no_columns DEFAULT VALUES;
	INSERT INTO lonely VALUES (1), (2);
});
catch_up();
check('stream');

# A TRUNCATE of one partition: the target's partition of that name; the
# source's root publication sends none (as PostgreSQL's own publisher does).
my $n_before = $consumer->safe_psql('postgres', 'SELECT count(*) FROM n.sales');
$source->safe_psql('postgres', q{TRUNCATE sales_2});
$consumer->safe_psql('postgres', "CALL laredo.wait_for_catchup('leaf', '120s')");
is(table_digest($consumer, 'postgres', 'm2.sales', 'id'), table_digest($source, 'postgres', 'sales', 'id'),
	'TRUNCATE of a partition: the target partition of that name');
ok($consumer->poll_query_until('postgres', q{SELECT state = 'ERROR' FROM laredo.pipelines WHERE pipeline_id = 'flat'}),
	'a target without partitions of those names cannot tell its rows apart: ERROR');
like($consumer->safe_psql('postgres', q{SELECT last_error FROM laredo.pipelines WHERE pipeline_id = 'flat'}),
	qr/partition public\.sales_2[ab] of source table public\.sales was truncated, and target m\.sales has no partition of that name/,
	'the error names the partition and the target');
$consumer->safe_psql('postgres', "CALL laredo.wait_for_catchup('root', '120s')");
is($consumer->safe_psql('postgres', 'SELECT count(*) FROM n.sales'), $n_before,
	'published as the root, the truncate of a partition is not sent, as by the built-in publisher');

# A TRUNCATE of the whole table, after the plain target is copied again.
$consumer->safe_psql('postgres', q{SELECT laredo.resync_pipeline('flat'); SELECT laredo.resume_pipeline('flat')});
$source->safe_psql('postgres', q{TRUNCATE sales; INSERT INTO sales VALUES (5, 'eu', 1), (1500, 'us', 2), (9000, 'eu', 3);
	TRUNCATE vehicles; INSERT INTO cars VALUES (12, 'new', 2)});
catch_up();
check('TRUNCATE of the table');

# The published table without a pipeline: reported, not dropped silently.
# (counted with the pipelines' counters, at most once a second)
ok($consumer->poll_query_until('postgres', q{SELECT count(*) = 1 FROM laredo.health() WHERE source_id = 'leaf'
	AND problem = 'changes without a pipeline'
	AND detail LIKE '2 changes of public.lonely arrived and no pipeline takes them%'}),
	'health() reports the changes of a table no pipeline takes');

done_testing();
