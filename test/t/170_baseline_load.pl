# 170_baseline_load: the ways a baseline is loaded, each ending equal to the
# source with indexes that hold every row.
#   - a new target (no block yet, no trigger): heap filled by multi-inserts,
#     indexes built once afterwards (their relfilenode changes), checked
#     with amcheck (every heap tuple found in every B-tree index);
#   - columns of equal built-in types (modifiers may differ): binary COPY
#     from the source; a column of a type defined in the database (here a
#     domain): text COPY, each value through the target's input function;
#   - a target with a trigger, and a target that already holds rows: rows
#     inserted with index maintenance (the trigger fires for every row; the
#     old rows are deleted in the same transaction);
#   - a unique index on the new target that the source's rows violate: the
#     build refuses them, the source is in ERROR naming the index, and the
#     target holds no row.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use LaredoTest;

my $source = PostgreSQL::Test::Cluster->new('source');
$source->init(allows_streaming => 'logical');
$source->append_conf('postgresql.conf', "log_statement = 'all'\n");
$source->start;

my $consumer = PostgreSQL::Test::Cluster->new('consumer');
$consumer->init;
$consumer->append_conf('postgresql.conf', "shared_preload_libraries = 'laredo'\n");
$consumer->start;

my $rows = 30000;
$source->safe_psql('postgres', qq{
	CREATE TABLE items (id int PRIMARY KEY, code text NOT NULL, price numeric(12,2),
	                    at timestamptz, tags text[], doc jsonb, note varchar(40));
	INSERT INTO items
	SELECT i, 'c' || i, i * 1.25, '2024-01-01'::timestamptz + i * interval '1 minute',
	       ARRAY['t' || i % 7, NULL], jsonb_build_object('i', i), CASE WHEN i % 3 = 0 THEN 'n' || i END
	FROM generate_series(1, $rows) i;
	CREATE DOMAIN note_text AS varchar(40) CHECK (VALUE <> '');
	CREATE TABLE widened (id int PRIMARY KEY, code text NOT NULL, price numeric(12,2),
	                      at timestamptz, tags text[], doc jsonb, note note_text);
	INSERT INTO widened SELECT * FROM items;
	CREATE TABLE triggered (LIKE items INCLUDING ALL); INSERT INTO triggered SELECT * FROM items;
	CREATE TABLE refilled (LIKE items INCLUDING ALL);  INSERT INTO refilled SELECT * FROM items;
	CREATE TABLE dupes (id int PRIMARY KEY, code text);
	INSERT INTO dupes SELECT i, 'same' FROM generate_series(1, 100) i;
});

my $connstr = $source->connstr('postgres');
$consumer->safe_psql('postgres', qq{
	CREATE EXTENSION laredo;
	CREATE EXTENSION amcheck;
	CREATE SCHEMA t;
	-- a type of this database's own (a domain): text COPY, values through its input function;
	-- a wider numeric: the same type, another modifier
	CREATE DOMAIN note_text AS varchar(40) CHECK (VALUE <> '');
	CREATE TABLE t.widened (id int PRIMARY KEY, code text NOT NULL, price numeric(14,2),
	                        at timestamptz, tags text[], doc jsonb, note note_text);
	CREATE INDEX widened_code ON t.widened (upper(code)) WHERE note IS NOT NULL;
	CREATE INDEX widened_at ON t.widened (at DESC, id);
	-- a trigger: every row inserted one by one, with its index entries
	CREATE TABLE t.triggered (id int PRIMARY KEY, code text NOT NULL, price numeric(12,2),
	                          at timestamptz, tags text[], doc jsonb, note varchar(40));
	CREATE TABLE t.fired (n bigint);
	INSERT INTO t.fired VALUES (0);
	CREATE FUNCTION t.count_row() RETURNS trigger LANGUAGE plpgsql AS
	  \$\$BEGIN UPDATE t.fired SET n = n + 1; RETURN NEW; END\$\$;
	CREATE TRIGGER count_row BEFORE INSERT ON t.triggered FOR EACH ROW EXECUTE FUNCTION t.count_row();
	-- targets are written as a replica's tables: only such triggers fire
	ALTER TABLE t.triggered ENABLE ALWAYS TRIGGER count_row;
	-- rows already there: deleted and replaced in the same transaction
	CREATE TABLE t.refilled (id int PRIMARY KEY, code text NOT NULL, price numeric(12,2),
	                         at timestamptz, tags text[], doc jsonb, note varchar(40));
	INSERT INTO t.refilled (id, code) SELECT i, 'stale' FROM generate_series(-500, 500) i;
});
my %filenode_before = map {
	$_ => $consumer->safe_psql('postgres', "SELECT relfilenode FROM pg_class WHERE oid = '$_'::regclass")
} qw(t.widened_pkey t.widened_code t.triggered_pkey t.refilled_pkey);

$consumer->safe_psql('postgres', qq{
	BEGIN;
	SELECT laredo.create_source('load', connection => \$c\$$connstr\$c\$);
	SELECT laredo.add_table('load', 'public.' || t) FROM unnest(ARRAY['items', 'widened', 'triggered', 'refilled']) t;
	SELECT laredo.create_pipeline(t, 'load', 'public.' || t, target => 't.' || t)
	FROM unnest(ARRAY['items', 'widened', 'triggered', 'refilled']) t;
	COMMIT;
});
is($consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('load', '180s'); SELECT true}), 't',
	'baseline caught up');

my $cols = 'id, code, price, at, tags, doc, note';
sub content
{
	my ($node, $table) = @_;
	return $node->safe_psql('postgres',
		"SET TimeZone = UTC; SELECT count(*) || ':' || md5(string_agg(r::text, '|' ORDER BY id)) FROM (SELECT $cols FROM $table) r");
}
my $want = content($source, 'public.items');
like($want, qr/^$rows:/, "the source holds $rows rows");
is(content($consumer, "t.$_"), $want, "$_: every row equal") for qw(items widened triggered refilled);

# every B-tree index of every target holds every heap tuple, and is used
for my $table (qw(items widened triggered refilled))
{
	is($consumer->safe_psql('postgres', qq{
		SELECT count(*) FILTER (WHERE i.indisvalid AND i.indisready)
		       || '/' || count(bt_index_check(c.oid, true))
		       || '/' || count(*)
		FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		WHERE i.indrelid = 't.$table'::regclass}),
		join('/', ($table eq 'widened' ? 3 : 1) x 3),
		"$table: every index valid and holding every row (amcheck heapallindexed)");
}
is($consumer->safe_psql('postgres', q{
	SET enable_seqscan = off; SET enable_bitmapscan = off;
	SELECT (SELECT code FROM t.items WHERE id = 12345) || ',' ||
	       (SELECT count(*) FROM t.widened WHERE upper(code) = 'C12345' AND note IS NOT NULL) || ',' ||
	       (SELECT id FROM t.widened ORDER BY at DESC, id LIMIT 1)}),
	"c12345,1,$rows", 'index scans find the loaded rows');

# which way each target was loaded
isnt($consumer->safe_psql('postgres', "SELECT relfilenode FROM pg_class WHERE oid = '$_'::regclass"),
	$filenode_before{$_}, "$_ built after the load (new relfilenode)") for qw(t.widened_pkey t.widened_code);
is($consumer->safe_psql('postgres', "SELECT relfilenode FROM pg_class WHERE oid = '$_'::regclass"),
	$filenode_before{$_}, "$_ maintained row by row") for qw(t.triggered_pkey t.refilled_pkey);
is($consumer->safe_psql('postgres', 'SELECT n FROM t.fired'), $rows, 'the trigger fired for every baseline row');
my $log = slurp_file($source->logfile);
like($log, qr/COPY \(SELECT [^)]* FROM ONLY public\.items\) TO STDOUT \(FORMAT binary\)/,
	'equal types: binary COPY');
like($log, qr/COPY \(SELECT [^)]* FROM ONLY public\.widened\) TO STDOUT(?! \(FORMAT binary\))/,
	'a domain column: text COPY');

# the stream goes on into the loaded targets
$source->safe_psql('postgres', q{
	UPDATE items SET price = price + 1 WHERE id % 100 = 0;
	DELETE FROM items WHERE id % 1000 = 1;
	INSERT INTO items (id, code) VALUES (-1, 'new');
});
is($consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('load', '60s'); SELECT true}), 't',
	'stream caught up');
is(content($consumer, 't.items'), content($source, 'public.items'), 'streamed changes applied to the loaded target');
is($consumer->safe_psql('postgres', q{SELECT bt_index_check('t.items_pkey', true) IS NOT NULL}), 't',
	'its index still holds every row');

# a unique index the source's rows violate: refused by the build, nothing kept
$consumer->safe_psql('postgres', q{
	CREATE TABLE t.dupes (id int PRIMARY KEY, code text UNIQUE);
	BEGIN;
	SELECT laredo.create_source('dupes', connection => $c$} . $connstr . q{$c$, reconnect_max_attempts => 1);
	SELECT laredo.add_table('dupes', 'public.dupes');
	SELECT laredo.create_pipeline('dupes', 'dupes', 'public.dupes', target => 't.dupes');
	COMMIT;
});
ok($consumer->poll_query_until('postgres', q{SELECT state = 'ERROR' FROM laredo.sources WHERE source_id = 'dupes'}),
	'a violated unique index puts the source in ERROR');
like($consumer->safe_psql('postgres', q{SELECT last_error FROM laredo.sources WHERE source_id = 'dupes'}),
	qr/dupes_code_key/, 'the error names the index');
is($consumer->safe_psql('postgres', 'SELECT count(*) FROM t.dupes'), '0', 'the target holds no row');
is($consumer->safe_psql('postgres', q{SELECT state FROM laredo.sources WHERE source_id = 'load'}), 'STREAMING',
	'the other source streams on');

done_testing();
