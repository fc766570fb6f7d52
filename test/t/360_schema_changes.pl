# 360_schema_changes: source tables that change shape while they stream.
# Columns added (no default, a constant default the existing rows take
# without a change being streamed, a volatile default and an identity, which
# rewrite or fill the source table outside the stream) and widened (int to
# bigint, a longer varchar, keeping the column's collation) are followed by
# the mirror by itself, a column's collation with it (a collation missing
# here is an ERROR naming it, as is a mirror create_pipeline cannot make
# for it); ANALYZE
# describes a table again without changing it; a dropped column, a rename
# and a narrowing stop the source with an ERROR that says what to run, and
# streaming goes on once it was run; schema_changes = error stops at any
# change; a change log records the new shape and goes on.  A mirror copied
# again is copied in key ranges (it holds rows), twice in a row: the worker,
# with session_replication_role = replica, starts the second over the
# first's ranges.  After each step the mirror equals the source, column by
# column.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use LaredoTest;
use IPC::Run;

my $source = source_server('source');
my $consumer = consumer_server('consumer');

$source->safe_psql('postgres', q{
	CREATE TABLE grow (id int PRIMARY KEY, v text, n int, code varchar(5) COLLATE "C");
	INSERT INTO grow SELECT g, 'v' || g, g, 'c' || (g % 100) FROM generate_series(1, 2000) g;
	CREATE TABLE strict_t (id int PRIMARY KEY, v text);
	INSERT INTO strict_t SELECT g, 's' || g FROM generate_series(1, 100) g;
	CREATE TABLE parted (id int, k int, v text, PRIMARY KEY (id, k)) PARTITION BY RANGE (k);
	CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (50);
	CREATE TABLE parted_2 PARTITION OF parted FOR VALUES FROM (50) TO (100);
	INSERT INTO parted SELECT g, g % 100, 'p' || g FROM generate_series(1, 1000) g;
});
$consumer->safe_psql('postgres', q{
	CREATE EXTENSION laredo;
	CREATE SCHEMA m;
});
my $connstr = $source->connstr('postgres');
$consumer->safe_psql('postgres', qq{
	BEGIN;
	SELECT laredo.create_source('s', connection => \$c\$$connstr\$c\$, slot_name => 'laredo_s');
	SELECT laredo.add_table('s', t) FROM unnest(ARRAY['public.grow', 'public.strict_t', 'public.parted']) t;
	SELECT laredo.create_pipeline('grow', 's', 'public.grow', target => 'm.grow');
	SELECT laredo.create_pipeline('grow_log', 's', 'public.grow', target_kind => 'changelog', target => 'm.grow_log');
	SELECT laredo.create_pipeline('strict_t', 's', 'public.strict_t', target => 'm.strict_t',
		options => '{"schema_changes": "error"}');
	SELECT laredo.create_pipeline('parted', 's', 'public.parted', target => 'm.parted');
	COMMIT;
});

sub catch_up { $consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('s', '120s')}) }

# the source's columns of the table, in the source's order, compared by value
sub same
{
	my ($t, $what, $except) = @_;
	$except //= '';
	my $cols = $source->safe_psql('postgres', qq{SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum)
		FROM pg_attribute WHERE attrelid = 'public.$t'::regclass AND attnum > 0 AND NOT attisdropped
		AND attname NOT IN ('$except')});
	my $q = "SELECT count(*) || ':' || md5(coalesce(string_agg(r::text, '|' ORDER BY r::text), '')) FROM (SELECT $cols FROM %s) r";
	is($consumer->safe_psql('postgres', sprintf($q, "m.$t")), $source->safe_psql('postgres', sprintf($q, "public.$t")),
		"$what: m.$t equals the source ($cols)");
}

# the collation of a column of a table here
sub collation
{
	my ($t, $col) = @_;
	return $consumer->safe_psql('postgres', qq{SELECT c.collname FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation
		WHERE a.attrelid = '$t'::regclass AND a.attname = '$col'});
}

sub changes_logged
{
	my ($p) = @_;
	return $consumer->safe_psql('postgres', qq{SELECT count(*) FROM laredo.schema_changes WHERE pipeline_id = '$p'});
}

sub last_error
{
	return $consumer->safe_psql('postgres', q{SELECT last_error || E'\n' || coalesce(last_error_hint, '') FROM laredo.sources});
}

sub wait_error
{
	my ($re, $what) = @_;
	$consumer->poll_query_until('postgres', q{SELECT state = 'ERROR' FROM laredo.sources}) or die "no ERROR: $what";
	like(last_error(), $re, $what);
}

sub enable
{
	$consumer->safe_psql('postgres', q{SELECT laredo.alter_source('s', enabled => true)});
	$consumer->poll_query_until('postgres', q{SELECT state = 'STREAMING' FROM laredo.sources}) or die 'not streaming';
}

# a pipeline copied again: its copy committed and the stream caught up
sub streaming_again
{
	my ($p) = @_;
	$consumer->poll_query_until('postgres', qq{SELECT state = 'STREAMING' FROM laredo.pipelines WHERE pipeline_id = '$p'})
	  or die "$p not copied again";
	catch_up();
}

catch_up();
same('grow', 'baseline');
is($consumer->safe_psql('postgres', q{SELECT count(*) FROM laredo.pipeline_columns WHERE pipeline_id = 'grow'}), '4',
	'the baseline recorded the source shape');

# 1. An ANALYZE describes the table again; nothing changes.
$source->safe_psql('postgres', q{ANALYZE grow; UPDATE grow SET v = 'after analyze' WHERE id = 1});
catch_up();
is(changes_logged('grow'), '0', 'ANALYZE: no schema change recorded');

# 2. Columns added: none, a constant default (existing rows take it without
#    a change streamed), with changes in the same transaction.
$source->safe_psql('postgres', q{
	BEGIN;
	ALTER TABLE grow ADD COLUMN note text;
	INSERT INTO grow VALUES (5001, 'new', 5001, 'x', 'a note');
	COMMIT;
	ALTER TABLE grow ADD COLUMN flag int NOT NULL DEFAULT 7;
	UPDATE grow SET flag = 8 WHERE id BETWEEN 10 AND 20;
	INSERT INTO grow (id, v) VALUES (5002, 'default flag');
});
catch_up();
same('grow', 'columns added');
is($consumer->safe_psql('postgres', q{SELECT count(*) FROM m.grow WHERE flag = 7}),
	$source->safe_psql('postgres', q{SELECT count(*) FROM grow WHERE flag = 7}), 'the existing rows hold the default');
like($consumer->safe_psql('postgres', q{SELECT string_agg(statement, E'\n' ORDER BY id) FROM laredo.schema_changes WHERE pipeline_id = 'grow'}),
	qr/ADD COLUMN note text.*\n.*ADD COLUMN flag integer DEFAULT '7'::integer NOT NULL/, 'the statements run are logged');
like($consumer->safe_psql('postgres', q{SELECT string_agg(change, E'\n' ORDER BY id) FROM laredo.schema_changes WHERE pipeline_id = 'grow_log'}),
	qr/column "note" \(text\) was added/, 'the change log recorded the new shape');
is($consumer->safe_psql('postgres', q{SELECT count(*) FROM m.grow_log WHERE new->>'note' = 'a note'}), '1',
	'and logged the changes in it');

# 3. Widened: int to bigint, varchar(5) to varchar(20).  A view on the
#    mirror refuses the ALTER: an ERROR that quotes the statement; once the
#    view is gone, the stream goes on.
$consumer->safe_psql('postgres', q{CREATE VIEW m.codes AS SELECT DISTINCT code FROM m.grow});
$source->safe_psql('postgres', q{
	ALTER TABLE grow ALTER COLUMN n TYPE bigint, ALTER COLUMN code TYPE varchar(20) COLLATE "C";
	INSERT INTO grow (id, v, n, code) VALUES (5003, 'wide', 5000000000, 'a much longer code');
});
wait_error(qr/could not change its target: cannot alter type of a column used by a view or rule.*\n.*ALTER TABLE m\.grow ALTER COLUMN code TYPE character varying\(20\)/s,
	'a refused ALTER: ERROR naming the statement');
$consumer->safe_psql('postgres', q{DROP VIEW m.codes});
enable();
catch_up();
same('grow', 'columns widened');
is($consumer->safe_psql('postgres', q{SELECT format_type(atttypid, atttypmod) FROM pg_attribute
	WHERE attrelid = 'm.grow'::regclass AND attname IN ('n', 'code') ORDER BY attname}),
	"character varying(20)\nbigint", 'the mirror has the new types');
is(collation('m.grow', 'code'), 'C', 'and the widened column keeps its collation');
$source->safe_psql('postgres', q{
	ALTER TABLE grow ALTER COLUMN code TYPE varchar(30);
	INSERT INTO grow (id, v, code) VALUES (5021, 'wider', 'thirty characters at most');
});
catch_up();
is(collation('m.grow', 'code'), 'C',
	'a type change on the source that gives its column the default collation: the mirror\'s keeps its own, as a type of your choosing');

# 3a. Collations: a column added in a collation that this database lacks is
#     an ERROR naming it, and so is a mirror of a table in it; once the
#     collation is made here, the column is added in it, and the mirror
#     create_pipeline makes has each column in the source column's
#     collation.
$source->safe_psql('postgres', q{
	CREATE COLLATION public.bytes (provider = libc, locale = 'C');
	CREATE TABLE coll_t (id int PRIMARY KEY, w text COLLATE public.bytes, p varchar(10) COLLATE "POSIX", d text);
	INSERT INTO coll_t SELECT g, 'w' || g, 'p' || g, 'd' || g FROM generate_series(1, 100) g;
	ALTER TABLE grow ADD COLUMN tag text COLLATE public.bytes;
	INSERT INTO grow (id, v, tag) VALUES (5020, 'tagged', 'a tag');
});
wait_error(qr/column "tag" \(text COLLATE public\.bytes\) was added.*\n.*Create the collation public\.bytes here/s,
	'a collation missing here: ERROR naming it');
my (undef, undef, $coll_err) = $consumer->psql('postgres', q{
	BEGIN;
	SELECT laredo.add_table('s', 'public.coll_t');
	SELECT laredo.create_pipeline('coll_t', 's', 'public.coll_t', target => 'm.coll_t');
	COMMIT;});
like($coll_err, qr/cannot create target m\.coll_t: a column type or collation of the source does not exist here\nDETAIL:  collation "public\.bytes"/,
	'a mirror of a table in a collation missing here: ERROR naming it');
$consumer->safe_psql('postgres', q{CREATE COLLATION public.bytes (provider = libc, locale = 'C')});
enable();
catch_up();
same('grow', 'a column added in a collation');
is(collation('m.grow', 'tag'), 'bytes', 'the column added has the source column\'s collation');
$consumer->safe_psql('postgres', q{
	BEGIN;
	SELECT laredo.add_table('s', 'public.coll_t');
	SELECT laredo.create_pipeline('coll_t', 's', 'public.coll_t', target => 'm.coll_t');
	COMMIT;});
streaming_again('coll_t');
same('coll_t', 'a mirror made in the source\'s collations');
is(join(' ', map { collation('m.coll_t', $_) } qw(w p d)), 'bytes POSIX default',
	'its columns have the source columns\' collations');

# 3b. A column of a user type: mapped by name (the stream's Type message);
#     one that does not exist here is an ERROR naming it.
$source->safe_psql('postgres', q{
	CREATE TYPE mood AS ENUM ('calm', 'busy');
	ALTER TABLE grow ADD COLUMN state mood;
	INSERT INTO grow (id, v, state) VALUES (5010, 'typed', 'busy');
});
wait_error(qr/column "state" of type public\.mood was added.*\n.*Create the type here/s, 'a type missing here: ERROR naming it');
$consumer->safe_psql('postgres', q{CREATE TYPE mood AS ENUM ('calm', 'busy')});
enable();
catch_up();
same('grow', 'a column of a user type');

# 4. A volatile default and an identity: the table is copied again alone.
$source->safe_psql('postgres', q{
	ALTER TABLE grow ADD COLUMN born timestamptz DEFAULT clock_timestamp();
	INSERT INTO grow (id, v) VALUES (5004, 'after volatile');
	UPDATE strict_t SET v = 'still streaming' WHERE id = 1;
});
catch_up();
$consumer->poll_query_until('postgres', q{SELECT state = 'STREAMING' FROM laredo.pipelines WHERE pipeline_id = 'grow'})
	or die 'not copied';
catch_up();
same('grow', 'a volatile default');
like($consumer->safe_psql('postgres', q{SELECT string_agg(change, E'\n' ORDER BY id) FROM laredo.schema_changes WHERE pipeline_id = 'grow'}),
	qr/volatile default.*\n.*copied again/, 'the copy is logged');
$source->safe_psql('postgres', q{
	ALTER TABLE grow ADD COLUMN serial_no int GENERATED ALWAYS AS IDENTITY;
	INSERT INTO grow (id, v) VALUES (5005, 'after identity');
});
catch_up();
$consumer->poll_query_until('postgres', q{SELECT state = 'STREAMING' FROM laredo.pipelines WHERE pipeline_id = 'grow'})
	or die 'not copied';
catch_up();
same('grow', 'an identity column');
# both copies went in key ranges (no copy option, the mirror holding rows),
# the second started by the worker over the first's ranges
like($consumer->safe_psql('postgres', q{SELECT state || ' ' || ranges FROM laredo.copies WHERE pipeline_id = 'grow'}),
	qr/^done [1-9]/, 'copied again in key ranges, each time from the first key');

# 5. A partitioned table, published through its root: a column added there.
$source->safe_psql('postgres', q{
	ALTER TABLE parted ADD COLUMN tag text DEFAULT 'tagged';
	INSERT INTO parted VALUES (2001, 3, 'new', 'own tag'), (2002, 60, 'new', DEFAULT);
	UPDATE parted SET v = 'changed' WHERE id < 20;
});
catch_up();
$consumer->poll_query_until('postgres', q{SELECT state = 'STREAMING' FROM laredo.pipelines WHERE pipeline_id = 'parted'})
	or die 'not streaming';
catch_up();
same('parted', 'a partitioned table');

# 6. A dropped column stops the source; kept by choice, streaming goes on.
$source->safe_psql('postgres', q{
	ALTER TABLE grow DROP COLUMN note;
	INSERT INTO grow (id, v) VALUES (5006, 'after drop');
});
wait_error(qr/column "note" was dropped/, 'a dropped column: ERROR');
like(last_error(), qr/dropped_columns/,
	'which says how to keep it');
is($consumer->safe_psql('postgres', q{SELECT count(*) FROM m.grow WHERE id = 5006}), '0', 'nothing after it applied');
$consumer->safe_psql('postgres', q{SELECT laredo.alter_pipeline('grow', options => '{"dropped_columns": "keep"}')});
enable();
catch_up();
same('grow', 'a dropped column kept');
is($consumer->safe_psql('postgres', q{SELECT note IS NULL FROM m.grow WHERE id = 5006}), 't',
	'a new row leaves the kept column to its default');
is($consumer->safe_psql('postgres', q{SELECT note FROM m.grow WHERE id = 5001}), 'a note', 'old rows keep their values');

# 7. A rename stops the source with the statement to run.
$source->safe_psql('postgres', q{
	ALTER TABLE grow RENAME COLUMN v TO label;
	UPDATE grow SET label = 'renamed' WHERE id <= 5;
});
wait_error(qr/column "v" was renamed to "label"/, 'a rename: ERROR');
like(last_error(), qr/ALTER TABLE m\.grow RENAME COLUMN v TO label/, 'which gives the statement');
$consumer->safe_psql('postgres', q{ALTER TABLE m.grow RENAME COLUMN v TO label});
enable();
catch_up();
same('grow', 'a rename run by hand');

# 8. A narrowing stops the source; the person changes the mirror.
$source->safe_psql('postgres', q{DELETE FROM grow WHERE n > 2000000000});
catch_up();
$source->safe_psql('postgres', q{
	ALTER TABLE grow ALTER COLUMN n TYPE int;
	UPDATE grow SET n = -n WHERE id <= 5;
});
wait_error(qr/column "n" changed type from bigint to integer/, 'a narrowing: ERROR');
$consumer->safe_psql('postgres', q{ALTER TABLE m.grow ALTER COLUMN n TYPE int});
enable();
catch_up();
same('grow', 'a narrowing run by hand');

# 9. schema_changes = error: any change stops the source.
$source->safe_psql('postgres', q{
	ALTER TABLE strict_t ADD COLUMN extra int;
	INSERT INTO strict_t VALUES (101, 'with extra', 1);
});
wait_error(qr/column "extra" \(integer\) was added/, 'schema_changes = error: an added column is an ERROR');
like(last_error(), qr/ALTER TABLE m\.strict_t ADD COLUMN extra integer/,
	'which gives the statement');
$consumer->safe_psql('postgres', q{ALTER TABLE m.strict_t ADD COLUMN extra integer});
enable();
catch_up();
same('strict_t', 'the column added by hand');
same('grow', 'grow at the end');

# 10. After the changes: TRUNCATE, and partitions attached and detached.
#     The stream carries none of the rows an attached partition brings or a
#     detached one takes away: the worker finds the new partitions in the
#     source's catalog and copies the table again.
$source->safe_psql('postgres', q{
	TRUNCATE grow;
	INSERT INTO grow (id, label, n) VALUES (1, 'after truncate', 1);
});
catch_up();
same('grow', 'a TRUNCATE after the schema changes');
$source->safe_psql('postgres', q{
	CREATE TABLE parted_3 (LIKE parted INCLUDING ALL);
	INSERT INTO parted_3 SELECT g, 100 + g % 100, 'attached', 'x' FROM generate_series(5001, 5200) g;
	ALTER TABLE parted ATTACH PARTITION parted_3 FOR VALUES FROM (100) TO (200);
	UPDATE parted SET v = 'updated after attach' WHERE id BETWEEN 5001 AND 5010;
});
ok($consumer->poll_query_until('postgres', q{SELECT count(*) = 1 FROM laredo.schema_changes
	WHERE pipeline_id = 'parted' AND change LIKE '%attached public.parted_3%copied again'}), 'an attached partition is noticed');
streaming_again('parted');
same('parted', 'a partition attached with rows');
$source->safe_psql('postgres', q{
	ALTER TABLE parted DETACH PARTITION parted_1;
	INSERT INTO parted VALUES (6000, 60, 'after detach', 'y');
});
ok($consumer->poll_query_until('postgres', q{SELECT count(*) = 1 FROM laredo.schema_changes
	WHERE pipeline_id = 'parted' AND change LIKE '%detached public.parted_1%'}), 'a detached partition is noticed');
streaming_again('parted');
same('parted', 'a partition detached');

# 11. Bad input changes nothing.
my ($rc, $out, $err) = $consumer->psql('postgres', q{SELECT laredo.alter_pipeline('grow', options => '{"soft_delete": true}')});
like($err, qr/option "soft_delete" of pipeline "grow" cannot be changed/, 'alter_pipeline refuses an option that shapes the target');
($rc, $out, $err) = $consumer->psql('postgres', q{SELECT laredo.alter_pipeline('grow', options => '{"schema_changes": "maybe"}')});
like($err, qr/invalid schema_changes/, 'and a bad value');
is($consumer->safe_psql('postgres', q{SELECT options FROM laredo.pipeline_config WHERE pipeline_id = 'grow'}),
	'{"dropped_columns": "keep"}', 'the options are unchanged');

# 12. A new shape streamed before the source shows it: a transaction whose
#     commit waits for a synchronous standby is decoded and sent, while
#     other sessions (laredo's catalog reads) do not see it yet.  The
#     catalog is read again until they do; the column is added, no ERROR.
$source->append_conf('postgresql.conf', "synchronous_standby_names = 'nobody'");
$source->reload;
$source->poll_query_until('postgres', q{SELECT current_setting('synchronous_standby_names') = 'nobody'})
  or die 'the setting was not reloaded';
my $offset = -s $source->logfile;
my ($held_out, $held_err) = ('', '');
my $held = IPC::Run::start(
	[ 'psql', '-X', '-h', $source->host, '-p', $source->port, '-d', 'postgres',
	  '-c', 'SET synchronous_commit = on',
	  '-c', q{BEGIN; ALTER TABLE grow ADD COLUMN late text; INSERT INTO grow (id, late) VALUES (7001, 'seen late'); COMMIT;} ],
	'>', \$held_out, '2>', \$held_err);
$source->poll_query_until('postgres', q{SELECT EXISTS (SELECT FROM pg_stat_activity WHERE wait_event = 'SyncRep')})
  or die "no session waits for synchronous replication: $held_err";
# laredo reads the source's catalog for the new shape, which does not show it yet
$source->wait_for_log(qr/laredo status s LOG:  statement: SELECT a\.attname/, $offset);
$source->adjust_conf('postgresql.conf', 'synchronous_standby_names', "''");
$source->reload;
$held->finish;
catch_up();
is($consumer->safe_psql('postgres', q{SELECT late FROM m.grow WHERE id = 7001}), 'seen late',
	'a column sent before the source showed it is added');
is($consumer->safe_psql('postgres', q{SELECT state FROM laredo.sources}), 'STREAMING', 'and the source streams on');

done_testing();
