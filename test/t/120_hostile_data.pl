# 120_hostile_data: values that break naive code are replicated exactly --
# a 20 MB text, deeply nested jsonb, arrays of a composite type, enum and
# domain values -- and schema drift on the source while streaming gives
# either a correct result (a dropped column) or a clear ERROR naming the
# table and the column (an added one), never a crash or a silent wrong row;
# after the target is fixed, everything arrives.
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
$consumer->append_conf('postgresql.conf', "shared_preload_libraries = 'laredo'\nlaredo.restart_delay = 200\n");
$consumer->start;

my $types = q{
	CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
	CREATE DOMAIN positive AS int CHECK (VALUE > 0);
	CREATE TYPE point3 AS (x float8, y float8, label text);
};
$source->safe_psql('postgres', $types . q{
	CREATE TABLE hostile (id int PRIMARY KEY, big text, deep jsonb, pts point3[], m mood, p positive, note text);
	INSERT INTO hostile VALUES (1, 'small', '{"a": 1}', ARRAY[ROW(1, 2, 'a,b')::point3, ROW(-0.5, 1e300, 'q"uote')::point3],
	                            'happy', 7, 'first');
});
$consumer->safe_psql('postgres', $types . qq{
	CREATE EXTENSION laredo;
	BEGIN;
	SELECT laredo.create_source('h', connection => \$c\$@{[ $source->connstr('postgres') ]}\$c\$);
	SELECT laredo.add_table('h', 'public.hostile');
	SELECT laredo.create_pipeline('hostile', 'h', 'public.hostile', target => 'public.hostile_copy',
		options => '{"schema_changes": "error", "dropped_columns": "keep"}');
	COMMIT;
});

sub same
{
	my ($what, $cols) = @_;
	$cols //= '*';
	is($consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('h', '120s'); SELECT true}), 't', "$what: caught up");
	my $q = "SELECT count(*) || ':' || md5(string_agg(t::text, '|' ORDER BY id)) FROM (SELECT $cols FROM %s) t";
	is($consumer->safe_psql('postgres', sprintf($q, 'hostile_copy')),
		$source->safe_psql('postgres', sprintf($q, 'hostile')), "$what: equal");
}
same('baseline');

# a 20 MB text, jsonb nested 2,000 levels deep, a composite array, NULLs
$source->safe_psql('postgres', q{
	INSERT INTO hostile VALUES
	  (2, repeat(md5('x'), 20 * 1024 * 1024 / 32), (repeat('[', 2000) || '1' || repeat(']', 2000))::jsonb,
	   ARRAY[ROW(NULL, 0, NULL)::point3, NULL], 'sad', 1, E'tab\tnew\nline'),
	  (3, NULL, 'null', '{}', NULL, NULL, NULL);
	UPDATE hostile SET note = 'changed, big unchanged' WHERE id = 2;
});
same('huge, deep and composite values');
is($consumer->safe_psql('postgres', q{SELECT length(big) FROM hostile_copy WHERE id = 2}), 20 * 1024 * 1024,
	'the 20 MB value arrived whole and survived an update that left it out');

# a column dropped on the source: with dropped_columns = keep the stream goes
# on and the target keeps the column (TAP 360 has the default, an ERROR)
$source->safe_psql('postgres', q{
	ALTER TABLE hostile DROP COLUMN note;
	INSERT INTO hostile VALUES (4, 'after drop', '{}', NULL, 'ok', 4);
	UPDATE hostile SET m = 'ok' WHERE id = 1;
});
same('after a column was dropped on the source', 'id, big, deep, pts, m, p');
is($consumer->safe_psql('postgres', q{SELECT note FROM hostile_copy WHERE id = 1}), 'first',
	'the dropped column keeps its last value in the target');

# a column added on the source, with schema_changes = error: a clear ERROR
# naming the table and the column (TAP 360 has the default, follow)
$source->safe_psql('postgres', q{
	ALTER TABLE hostile ADD COLUMN extra int;
	INSERT INTO hostile VALUES (5, 'with extra', '{}', NULL, 'ok', 5, 55);
});
$consumer->poll_query_until('postgres', q{SELECT state = 'ERROR' FROM laredo.sources}) or die 'no ERROR';
like($consumer->safe_psql('postgres', q{SELECT last_error FROM laredo.sources}),
	qr/source table public\.hostile of pipeline "hostile" changed: column "extra" \(integer\) was added/,
	'the ERROR names the target table, the pipeline and the column');
is($consumer->safe_psql('postgres', q{SELECT count(*) FROM hostile_copy WHERE id = 5}), '0', 'nothing applied past it');
$consumer->safe_psql('postgres', q{
	ALTER TABLE hostile_copy ADD COLUMN extra int;
	SELECT laredo.alter_source('h', enabled => true);
});
same('after the target got the column', 'id, big, deep, pts, m, p, extra');

my $log = slurp_file($consumer->logfile);
unlike($log, qr/terminated by signal|TRAP:/, 'no process crashed');

done_testing();
