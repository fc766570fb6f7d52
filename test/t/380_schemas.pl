# 380_schemas: a whole source schema (add_schema).  Every table there gets
# a mirror; a table created there later is found (the source's catalog is
# read every check_interval), added to laredo's publication (a keyless one
# insert-only, so the source's own UPDATE and DELETE keep working) and copied
# alone while the others stream on; a table dropped there loses its pipeline
# and keeps its target; a table added alone keeps its own settings;
# remove_schema undoes it all.  Bad input changes nothing.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use LaredoTest;

my $source = source_server('source');
my $consumer = consumer_server('consumer');

$source->safe_psql('postgres', q{
	CREATE SCHEMA app;
	CREATE TABLE app.accounts (id serial PRIMARY KEY, owner text);
	CREATE TABLE app.audit (at timestamptz DEFAULT now(), what text);	-- no key
	CREATE TABLE app.parted (id int, k int, v text, PRIMARY KEY (id, k)) PARTITION BY RANGE (k);
	CREATE TABLE app.parted_1 PARTITION OF app.parted FOR VALUES FROM (0) TO (50);
	CREATE TABLE app.parted_2 PARTITION OF app.parted FOR VALUES FROM (50) TO (100);
	CREATE TABLE app.alone (id int PRIMARY KEY, v text);
	CREATE SCHEMA other;
	CREATE TABLE other.ignored (id int PRIMARY KEY);
	INSERT INTO app.accounts (owner) SELECT 'o' || g FROM generate_series(1, 500) g;
	INSERT INTO app.audit (what) SELECT 'w' || g FROM generate_series(1, 100) g;
	INSERT INTO app.parted SELECT g, g % 100, 'p' FROM generate_series(1, 300) g;
	INSERT INTO app.alone SELECT g, CASE WHEN g % 2 = 0 THEN 'even' ELSE 'odd' END FROM generate_series(1, 100) g;
	INSERT INTO other.ignored SELECT generate_series(1, 10);
});
$consumer->safe_psql('postgres', q{
	CREATE EXTENSION laredo;
	CREATE SCHEMA app;
	CREATE SCHEMA mirror;
});
my $connstr = $source->connstr('postgres');
$consumer->safe_psql('postgres', qq{
	SELECT laredo.create_source('s', connection => \$c\$$connstr\$c\$, slot_name => 'laredo_s');
	SELECT laredo.add_table('s', 'app.alone', where_clause => 'id % 2 = 0');
	SELECT laredo.create_pipeline('alone', 's', 'app.alone', target => 'mirror.alone_even');
});

# Bad input first: each refused, nothing changed.
for my $case (
	[q{SELECT * FROM laredo.add_schema('s', 'nope')}, qr/schema "nope" does not exist on source "s"/, 'an unknown source schema'],
	[q{SELECT * FROM laredo.add_schema('s', 'other', target_schema => 'missing')}, qr/schema "missing" does not exist/, 'a target schema that does not exist'],
	[q{SELECT * FROM laredo.add_schema('s', 'other', target_kind => 'function')}, qr/invalid target_kind "function" for a schema/, 'a function target'],
	[q{SELECT * FROM laredo.add_schema('s', 'other', options => '{"where": "id > 1"}')}, qr/option "where" cannot apply to every table of a schema/, 'a row filter for a schema'],
	[q{SELECT * FROM laredo.add_schema('s', 'other', check_interval => '10ms')}, qr/invalid check_interval/, 'a too short interval'],
	[q{SELECT * FROM laredo.add_schema('nosuch', 'app')}, qr/source "nosuch" does not exist/, 'an unknown source'],
	[q{SELECT laredo.remove_schema('s', 'app')}, qr/schema "app" is not part of source "s"/, 'removing a schema not added'])
{
	my ($rc, $out, $err) = $consumer->psql('postgres', $case->[0]);
	like($err, $case->[1], "bad input: $case->[2]");
}
is($consumer->safe_psql('postgres', q{SELECT count(*) FROM laredo.source_schemas}) .
	$consumer->safe_psql('postgres', q{SELECT count(*) FROM laredo.pipeline_config}), '01', 'nothing was recorded');

my ($rc, $out, $err) = $consumer->psql('postgres', q{SELECT * FROM laredo.add_schema('s', 'app', check_interval => '1s') ORDER BY 1});
is($out, "app.accounts|app_accounts\napp.audit|app_audit\napp.parted|app_parted", 'add_schema: a pipeline for each table');
like($err, qr/tables of schema "app" already added alone keep their own settings: app\.alone/, 'a table added alone wins, and is named');
($rc, $out, $err) = $consumer->psql('postgres', q{SELECT * FROM laredo.add_schema('s', 'app')});
like($err, qr/schema "app" is already part of source "s"/, 'bad input: a schema added twice');

sub catch_up { $consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('s', '120s')}) }

sub same
{
	my ($t, $what) = @_;
	is(table_digest($consumer, 'postgres', "app.$t"), table_digest($source, 'postgres', "app.$t"), "$what: app.$t equals the source");
}

sub streaming
{
	my ($p) = @_;
	return $consumer->poll_query_until('postgres', qq{SELECT state = 'STREAMING' FROM laredo.pipelines WHERE pipeline_id = '$p'});
}

ok(streaming('app_parted'), 'the schema streams');
catch_up();
same($_, 'baseline') for qw(accounts audit parted);
is(table_digest($consumer, 'postgres', 'mirror.alone_even'),
	table_digest($source, 'postgres', q{(SELECT * FROM app.alone WHERE id % 2 = 0)}), 'the table added alone kept its filter');

# A table created later, under load on the others; a keyless one too.
$source->safe_psql('postgres', q{
	CREATE TABLE app.orders (id int PRIMARY KEY, account int, total numeric);
	INSERT INTO app.orders SELECT g, g % 500 + 1, g * 1.5 FROM generate_series(1, 1000) g;
	CREATE TABLE app.log_lines (line text);
	INSERT INTO app.log_lines SELECT 'l' || g FROM generate_series(1, 50) g;
	INSERT INTO app.accounts (owner) VALUES ('while orders appeared');
});
ok(streaming('app_orders'), 'a table created on the source got a pipeline and was copied');
ok(streaming('app_log_lines'), 'a keyless one too');
$source->safe_psql('postgres', q{
	UPDATE app.orders SET total = 0 WHERE id <= 10;
	DELETE FROM app.orders WHERE id BETWEEN 11 AND 20;
	INSERT INTO app.log_lines VALUES ('after the copy');
	UPDATE app.log_lines SET line = 'the source may still update it' WHERE line = 'l1';
});
is($source->safe_psql('postgres', q{SELECT pubname FROM pg_publication_tables WHERE tablename = 'log_lines'}),
	'laredo_s_pub_insert_only', 'the keyless table is published for inserts only: the source\'s UPDATE worked');
catch_up();
same('orders', 'a table created later');
same('accounts', 'the others streamed on');
like($consumer->safe_psql('postgres', q{SELECT string_agg(change, E'\n' ORDER BY id) FROM laredo.schema_changes}),
	qr/table app\.orders created on the source: pipeline app_orders added/, 'it is logged');

# A dropped table: its pipeline goes, its target stays.
$source->safe_psql('postgres', q{DROP TABLE app.audit});
ok($consumer->poll_query_until('postgres', q{SELECT NOT EXISTS (SELECT FROM laredo.pipeline_config WHERE pipeline_id = 'app_audit')}),
	'a table dropped on the source loses its pipeline');
is($consumer->safe_psql('postgres', q{SELECT count(*) FROM app.audit}), '100', 'and keeps its target');
like($consumer->safe_psql('postgres', q{SELECT string_agg(change, E'\n' ORDER BY id) FROM laredo.schema_changes}),
	qr/table app\.audit dropped on the source: pipeline app_audit removed, target app\.audit kept/, 'it is logged');
$source->safe_psql('postgres', q{INSERT INTO app.accounts (owner) VALUES ('after the drop')});
catch_up();
same('accounts', 'after a drop');

# Sequences of the schema, for a cutover.
$consumer->safe_psql('postgres', q{CREATE SEQUENCE app.accounts_id_seq});
is($consumer->safe_psql('postgres', q{SELECT source_value || ' ' || status FROM laredo.sync_sequences('s', schemas => '{app}')
	WHERE source_sequence = 'app.accounts_id_seq'}), '502 set', 'sync_sequences with the schema');

# remove_schema: the schema's pipelines go, the table added alone stays.
$consumer->safe_psql('postgres', q{SELECT laredo.remove_schema('s', 'app')});
is($consumer->safe_psql('postgres', q{SELECT string_agg(pipeline_id, ',' ORDER BY 1) FROM laredo.pipeline_config}), 'alone',
	'remove_schema drops the schema\'s pipelines only');
is($consumer->safe_psql('postgres', q{SELECT string_agg(table_name, ',' ORDER BY 1) FROM laredo.source_table_list}), 'app.alone',
	'and its tables');
$source->safe_psql('postgres', q{INSERT INTO app.alone VALUES (1000, 'even')});
catch_up();
is($consumer->safe_psql('postgres', q{SELECT count(*) FROM mirror.alone_even WHERE id = 1000}), '1', 'the table added alone streams on');

# A table added alone, dropped and created again under its name (in one
# transaction): nothing in the stream says so, and the new table is not in
# the publication; laredo notices the new OID and copies it again.
$source->safe_psql('postgres', q{
	BEGIN;
	DROP TABLE app.alone;
	CREATE TABLE app.alone (id int PRIMARY KEY, v text);
	INSERT INTO app.alone SELECT g, 'again' FROM generate_series(1, 40) g;
	COMMIT;
});
ok($consumer->poll_query_until('postgres', q{SELECT count(*) = 1 FROM laredo.schema_changes
	WHERE pipeline_id = 'alone' AND change LIKE '%dropped and created again%'}), 'a table created again under its name is noticed');
ok(streaming('alone'), 'and copied again');
$source->safe_psql('postgres', q{UPDATE app.alone SET v = 'changed after' WHERE id <= 4});
catch_up();
is(table_digest($consumer, 'postgres', 'mirror.alone_even'),
	table_digest($source, 'postgres', q{(SELECT * FROM app.alone WHERE id % 2 = 0)}), 'the new table is mirrored, its filter kept');

# A schema published whole (a superuser on the source): a new table is in
# laredo's publication from its creation, before laredo finds it.
($rc, $out, $err) = $consumer->psql('postgres', q{SELECT * FROM laredo.add_schema('s', 'other', target_schema => 'mirror', publication => 'everything')});
like($err, qr/invalid publication "everything" for a schema/, 'bad input: an unknown publication kind');
$consumer->safe_psql('postgres', q{SELECT * FROM laredo.add_schema('s', 'other', target_schema => 'mirror', publication => 'schema', check_interval => '1s')});
ok(streaming('other_ignored'), 'the schema published whole streams');
ok($source->poll_query_until('postgres', q{SELECT count(*) = 1 FROM pg_publication_namespace pn JOIN pg_publication p ON p.oid = pn.pnpubid
	WHERE p.pubname = 'laredo_s_pub' AND pn.pnnspid = 'other'::regnamespace}), 'laredo\'s publication holds the schema');
$source->safe_psql('postgres', q{
	CREATE TABLE other.fresh (id int PRIMARY KEY, v text);
	INSERT INTO other.fresh SELECT g, 'f' FROM generate_series(1, 25) g;
});
is($source->safe_psql('postgres', q{SELECT count(*) FROM pg_publication_tables WHERE pubname = 'laredo_s_pub' AND tablename = 'fresh'}), '1',
	'a new table is published from its creation');
ok(streaming('other_fresh'), 'and mirrored');
$source->safe_psql('postgres', q{UPDATE other.fresh SET v = 'changed' WHERE id < 5});
catch_up();
is(table_digest($consumer, 'postgres', 'mirror.fresh'), table_digest($source, 'postgres', 'other.fresh'), 'other.fresh equals the source');
($rc, $out, $err) = $consumer->psql('postgres', q{SELECT laredo.add_table('s', 'other.late', where_clause => 'id > 1')});
like($err, qr/schema "other" of source "s" is published whole/, 'bad input: a row filter in a schema published whole');
$consumer->safe_psql('postgres', q{SELECT laredo.remove_schema('s', 'other')});
ok($source->poll_query_until('postgres', q{SELECT count(*) = 0 FROM pg_publication_namespace pn JOIN pg_publication p ON p.oid = pn.pnpubid
	WHERE p.pubname = 'laredo_s_pub'}), 'remove_schema takes the schema out of the publication');


# (a table of its own keeps the source streaming once app.alone is gone)
$consumer->safe_psql('postgres', q{SELECT laredo.add_table('s', 'other.ignored');
	SELECT laredo.create_pipeline('keeper', 's', 'other.ignored', target => 'mirror.keeper')});
ok(streaming('keeper'), 'another table added alone');
# A table added alone and dropped: the source stops with an ERROR that says what to run.
$source->safe_psql('postgres', q{DROP TABLE app.alone});
$consumer->poll_query_until('postgres', q{SELECT state = 'ERROR' FROM laredo.sources}) or die 'no ERROR';
my $error = $consumer->safe_psql('postgres', q{SELECT last_error || E'\n' || last_error_hint FROM laredo.sources});
like($error, qr/table app\.alone of source "s" was dropped on the source/, 'a dropped table: ERROR naming it');
like($error, qr/SELECT laredo\.drop_pipeline\('alone'\); SELECT laredo\.remove_table\('s', 'app\.alone'\)/, 'with what to run');
$consumer->safe_psql('postgres', q{SELECT laredo.drop_pipeline('alone'); SELECT laredo.remove_table('s', 'app.alone');
	SELECT laredo.alter_source('s', enabled => true)});
ok($consumer->poll_query_until('postgres', q{SELECT state = 'STREAMING' FROM laredo.sources}), 'which lets the source go on');
is($consumer->safe_psql('postgres', q{SELECT count(*) FROM mirror.alone_even}), '20', 'the target was kept');

done_testing();
