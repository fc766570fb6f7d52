# 020_types: every built-in type round-trips exactly, baseline and stream,
# although the source and the consumer run with different DateStyle,
# TimeZone, IntervalStyle, extra_float_digits, bytea_output and lc_monetary.
# Includes edge values (NaN, infinities, -0, BC dates, zero bytes, quotes,
# backslashes, multibyte text, NULLs inside arrays) and unchanged TOAST.
# character(n) is read by laredo's own input function when a value is ASCII
# and fits (bpchar_input.c): padded, clipped and multibyte values, an
# unconstrained bpchar, a wider and a narrower target column, binary and
# text COPY and the stream all end as the core's casts make them.
# The stream carries values in binary where every published column has a
# built-in type (laredo.binary_stream), else in text: both are checked, with
# target columns of the same and of other types, and a column of a type of
# its own added while a stream in binary runs (the stream starts again in
# text, nothing lost).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use LaredoTest;

my $source = PostgreSQL::Test::Cluster->new('source');
$source->init(allows_streaming => 'logical', extra => ['--encoding=UTF8', '--locale=C']);
$source->append_conf('postgresql.conf', q{
DateStyle = 'SQL, DMY'
TimeZone = 'Asia/Kolkata'
IntervalStyle = 'sql_standard'
extra_float_digits = -3
bytea_output = 'escape'
log_replication_commands = on
});
$source->start;

my $consumer = PostgreSQL::Test::Cluster->new('consumer');
$consumer->init(extra => ['--encoding=UTF8', '--locale=C']);
$consumer->append_conf('postgresql.conf', q{
shared_preload_libraries = 'laredo'
DateStyle = 'German, MDY'
TimeZone = 'America/Los_Angeles'
IntervalStyle = 'iso_8601'
extra_float_digits = 0
});
$consumer->start;

my $columns = q{
	id int PRIMARY KEY, b bool, i2 int2, i4 int4, i8 int8, n numeric, n2 numeric(20,10),
	f4 float4, f8 float8, m money, c char(5), vc varchar(10), t text, by bytea,
	d date, tm time, tmtz timetz, ts timestamp, tstz timestamptz, iv interval,
	u uuid, j json, jb jsonb, x xml, ip inet, cidr cidr, mac macaddr, mac8 macaddr8,
	bt bit(4), vb varbit, pt point, ln line, ls lseg, bx box, pa path, pg polygon, ci circle,
	tsv tsvector, tsq tsquery, r int4range, nr numrange, tr tstzrange, mr int4multirange,
	ia int[], ta text[], ma int[][], na numeric[], tsa timestamptz[], oi oid, lsn pg_lsn,
	ch "char", nm name, jp jsonpath, big text
};
$source->safe_psql('postgres', "CREATE TABLE alltypes ($columns)");
# into target columns of other types: through the value's text as a stream
# in text carries it (a timestamptz printed in the TimeZone of laredo's
# sessions on the source, UTC), and
# into a column of the same type with another type modifier
$source->safe_psql('postgres', q{
	CREATE TABLE widen (id int PRIMARY KEY, a int4, v varchar(5), f float4, tz timestamptz, ts timestamp);
	INSERT INTO widen VALUES (1, 7, 'abc', 1.1, '2024-01-02 03:04:05.678901+00', '2024-01-02 03:04:05.678901'),
	                         (2, NULL, '', '-Infinity', '4713-01-01 BC', '4713-01-01 BC');
});
$consumer->safe_psql('postgres', q{
	CREATE SCHEMA copy;
	CREATE TABLE copy.widen (id bigint PRIMARY KEY, a int8, v text, f float8, tz timestamp, ts timestamp(0));
});

my $row = sub {
	my ($id) = @_;
	return qq{($id, $id % 2 = 0, -32768, 2147483647, -9223372036854775808,
	  '123456789012345678901234567890.000000000000000001', 1234567890.0123456789,
	  CASE $id % 4 WHEN 0 THEN 'NaN' WHEN 1 THEN '-0' WHEN 2 THEN 'Infinity' ELSE '1.17549435e-38' END::float4,
	  CASE $id % 4 WHEN 0 THEN '-Infinity' WHEN 1 THEN '0.1' WHEN 2 THEN '2.2250738585072014e-308' ELSE 'NaN' END::float8,
	  '12345.67', 'ab', 'x''y"z', E'tab\\there\\nnew line \\\\ back ünïcödé ✓ 日本語',
	  '\\x00ff10275c'::bytea,
	  CASE WHEN $id % 2 = 0 THEN '4713-01-01 BC' ELSE '2024-02-29' END::date, '23:59:59.999999', '12:00:00+05:45',
	  'infinity', '2024-06-01 12:34:56.789012+05:30', '1 year 2 mons -3 days 04:05:06.789',
	  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"b": 1,  "a" : [1, 2.50, null]}', '{"b": 1, "a": [1, 2.50, null]}',
	  '<doc a="1">x &amp; y</doc>', '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05',
	  B'1010', B'10101', '(1.5,-2)', '{1,-1,0}', '[(0,0),(1,1)]', '((0,0),(1,1))', '[(0,0),(1,1),(2,0)]',
	  '((0,0),(1,1),(2,0))', '<(0,0),2.5>', 'a fat:2 cat sat', 'fat & (rat | cat)', '[1,10)', '(,3.5]',
	  '[2024-01-01 00:00+00, infinity)', '{[1,3), [5,7)}', '{1,NULL,3}', '{"a b","c\\"d",NULL,"e,f"}',
	  '{{1,2},{3,4}}', '{NaN,1.5,-0.0}', '{"2024-01-01 00:00:00+00",infinity}', 4294967295, '16/B374D848',
	  'q', 'name_$id', '\$.a[*] ? (@ > 1)', CASE WHEN $id % 5 = 0 THEN repeat('toast', 4000) END)};
};

$source->safe_psql('postgres',
	'INSERT INTO alltypes VALUES ' . join(', ', map { $row->($_) } 1 .. 40));

$consumer->safe_psql('postgres', qq{
	CREATE EXTENSION laredo;
	BEGIN;
	SELECT laredo.create_source('types', connection => \$c\$@{[ $source->connstr('postgres') ]}\$c\$);
	SELECT laredo.add_table('types', 'public.alltypes');
	SELECT laredo.add_table('types', 'public.widen');
	SELECT laredo.create_pipeline('alltypes', 'types', 'public.alltypes', target => 'copy.alltypes');
	SELECT laredo.create_pipeline('widen', 'types', 'public.widen', target => 'copy.widen');
	COMMIT;
});

# Compare under one fixed set of session settings on both sides.
my $fixed = q{SET DateStyle = ISO; SET TimeZone = UTC; SET IntervalStyle = postgres;
	SET extra_float_digits = 3; SET bytea_output = hex; SET lc_monetary = 'C';};
sub content
{
	my ($node, $table) = @_;
	return $node->safe_psql('postgres',
		"$fixed SELECT count(*) || ':' || md5(string_agg(t::text, '|' ORDER BY id)) FROM $table t");
}

sub check
{
	my ($what) = @_;
	is($consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('types', '120s'); SELECT true}), 't', "$what: caught up");
	is(content($consumer, 'copy.alltypes'), content($source, 'alltypes'), "$what: every value equal");
	is($consumer->safe_psql('postgres', "$fixed SELECT string_agg(w::text, '|' ORDER BY id) FROM copy.widen w"),
		$source->safe_psql('postgres', "$fixed SELECT string_agg((id, a, v, f::text::float8, tz AT TIME ZONE 'UTC', ts::timestamp(0))::text, '|' ORDER BY id) FROM widen"),
		"$what: values into columns of other types, as from their text");
}

# how each START_REPLICATION of a slot asked for its values
# (log_replication_commands); a worker starts again at each change of the
# configuration
sub stream_forms
{
	my ($slot) = @_;
	my @starts = slurp_file($source->logfile) =~ /START_REPLICATION SLOT "\Q$slot\E" LOGICAL [^\n]*/g;
	return join(',', map { /binary 'true'/ ? 'binary' : 'text' } @starts);
}

check('baseline');
is($consumer->safe_psql('postgres',
	q{SELECT string_agg(format_type(atttypid, atttypmod), ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'copy.alltypes'::regclass AND attnum > 0}),
	$source->safe_psql('postgres',
	q{SELECT string_agg(format_type(atttypid, atttypmod), ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'alltypes'::regclass AND attnum > 0}),
	'the created target has the source column types');

$source->safe_psql('postgres',
	'INSERT INTO alltypes VALUES ' . join(', ', map { $row->($_) } 41 .. 80));
$source->safe_psql('postgres', q{
	UPDATE alltypes SET f8 = f8 * -1, t = t || ' changed' WHERE id % 3 = 0;    -- big (TOAST) unchanged
	UPDATE alltypes SET ia = NULL, jb = '{}' WHERE id % 7 = 0;
	DELETE FROM alltypes WHERE id % 11 = 0;
});
$source->safe_psql('postgres', q{
	INSERT INTO widen VALUES (3, -2147483648, 'xyzzy', 3.4028235e38, '2000-02-29 23:59:59.5+01', '2000-02-29 23:59:59.5');
	UPDATE widen SET a = a + 1, f = 0.1 WHERE id = 1;
});
check('stream');
is($consumer->safe_psql('postgres', q{SELECT count(*) FROM copy.alltypes WHERE big IS NOT NULL}),
	$source->safe_psql('postgres', q{SELECT count(*) FROM alltypes WHERE big IS NOT NULL}),
	'unchanged TOASTed values kept their value');
my $types_slot = $consumer->safe_psql('postgres', q{SELECT slot_name FROM laredo.sources WHERE source_id = 'types'});
like(stream_forms($types_slot), qr/^binary(,binary)*$/, 'every column built in: the stream is in binary');

# A column of a type of the source's own, added while the stream runs in
# binary: the worker stops on its relation message and streams again in
# text from its last position; every value arrives.
$consumer->safe_psql('postgres', q{CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')});
$source->safe_psql('postgres', q{
	CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
	ALTER TABLE alltypes ADD COLUMN md mood;
	UPDATE alltypes SET md = (ARRAY['sad', 'ok', 'happy'])[id % 3 + 1]::mood, i4 = i4 - id;
	INSERT INTO widen VALUES (4, 4, 'four', 4.5, '2004-04-04 04:04+04', '2004-04-04');
});
check('a column of a type of its own added');
like(stream_forms($types_slot), qr/^binary(,binary)*(,text)+$/, 'the stream started again in text, and stays so');
like(slurp_file($consumer->logfile),
	qr/laredo source "types" will stream in text: column "md" of public\.alltypes has a type laredo reads only as text/,
	'the log says why');
$source->safe_psql('postgres', q{UPDATE alltypes SET md = 'ok', f8 = f8 + 1 WHERE id % 2 = 0});
check('streaming in text');

# character(n): the same rows in a table copied in binary and in one copied
# as text (a domain column makes it so); the targets exist here, one column
# wider than the source's and one narrower (whose values fit once their
# trailing spaces are clipped).  Source "chars" streams both in text (the
# domain column); source "charsb" streams chars_bin alone, in binary.
my $chars = q{id int PRIMARY KEY, c char(6), u bpchar, w char(6), n char(6), ca char(3)[]};
$source->safe_psql('postgres', qq{
	CREATE DOMAIN tag AS text CHECK (VALUE <> '');
	CREATE TABLE chars_bin ($chars);
	CREATE TABLE chars_txt ($chars, d tag);
});
$consumer->safe_psql('postgres', qq{
	CREATE DOMAIN tag AS text CHECK (VALUE <> '');
	CREATE TABLE copy.chars_bin (id int PRIMARY KEY, c char(6), u bpchar, w char(9), n char(3), ca char(3)[]);
	CREATE TABLE copy.chars_txt (id int PRIMARY KEY, c char(6), u bpchar, w char(9), n char(3), ca char(3)[], d tag);
	CREATE TABLE copy.chars_binb (LIKE copy.chars_bin INCLUDING ALL);
});
my $char_rows = sub {
	my ($from, $table) = @_;
	my @v = ("'abcdef'", "'ab'", "''", "'äö✓'", "'日本語日本'", "'ab    '", "' x'", "NULL");
	my @n = ("'abc   '", "'ab'", "''", "'äö✓   '", "'日本語'", "'ab    '", "' x'", "NULL");
	my @rows;
	for my $i (0 .. $#v)
	{
		my $id = $from + $i;
		push @rows, "($id, $v[$i], $v[$i] || '  end  ', $v[$i], $n[$i], ARRAY[$n[$i], 'a']::char(3)[]"
		  . ($table eq 'chars_txt' ? ", 'd$id')" : ")");
	}
	return "INSERT INTO $table VALUES " . join(', ', @rows);
};
for my $table (qw(chars_bin chars_txt))
{
	$source->safe_psql('postgres', $char_rows->(1, $table));
}
$consumer->safe_psql('postgres', q{
	BEGIN;
	SELECT laredo.create_source('chars', connection => $c$} . $source->connstr('postgres') . q{$c$);
	SELECT laredo.add_table('chars', 'public.' || t) FROM unnest(ARRAY['chars_bin', 'chars_txt']) t;
	SELECT laredo.create_pipeline(t, 'chars', 'public.' || t, target => 'copy.' || t)
	FROM unnest(ARRAY['chars_bin', 'chars_txt']) t;
	SELECT laredo.create_source('charsb', connection => $c$} . $source->connstr('postgres') . q{$c$);
	SELECT laredo.add_table('charsb', 'public.chars_bin');
	SELECT laredo.create_pipeline('chars_binb', 'charsb', 'public.chars_bin', target => 'copy.chars_binb');
	COMMIT;
});
# rows as their output functions print them: padding included
sub char_content
{
	my ($node, $table, $casts) = @_;
	return $node->safe_psql('postgres',
		"SELECT count(*) || ':' || string_agg(ROW(id, c, u, $casts, ca)::text, '|' ORDER BY id) FROM $table");
}
sub char_check
{
	my ($what) = @_;
	is($consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('chars', '120s'); CALL laredo.wait_for_catchup('charsb', '120s'); SELECT true}),
		't', "$what: caught up");
	for my $target (qw(chars_bin chars_txt chars_binb))
	{
		(my $table = $target) =~ s/b$//;
		is(char_content($consumer, "copy.$target", 'w, n'), char_content($source, $table, 'w::char(9), n::char(3)'),
			"$what: $target: character(n) values padded and clipped as the core's casts do");
	}
}
char_check('character(n) baseline');
for my $table (qw(chars_bin chars_txt))
{
	$source->safe_psql('postgres', $char_rows->(101, $table));
	$source->safe_psql('postgres', "UPDATE $table SET c = CASE WHEN id % 4 = 0 THEN 'é' ELSE 'up' END, n = 'zz' WHERE id % 2 = 0");
}
char_check('character(n) stream');
is($consumer->safe_psql('postgres', q{SELECT octet_length(w) || ',' || octet_length(n) FROM copy.chars_bin WHERE id = 2}), '9,3',
	'the target keeps its own lengths');
like(stream_forms($consumer->safe_psql('postgres', q{SELECT slot_name FROM laredo.sources WHERE source_id = 'chars'})),
	qr/^text(,text)*$/, 'a domain column: the stream is in text');
like(stream_forms($consumer->safe_psql('postgres', q{SELECT slot_name FROM laredo.sources WHERE source_id = 'charsb'})),
	qr/^binary(,binary)*$/, 'chars_bin alone: the stream is in binary');

# OID alias types: their binary form is the source's OID of the object,
# their text its name; a table with one streams in text, and the target
# names the object of that name here (whose OID differs)
$consumer->safe_psql('postgres', q{CREATE TABLE shift1 (a int); CREATE TABLE shift2 (a int); CREATE TABLE public.marker (a int)});
$source->safe_psql('postgres', q{
	CREATE TABLE public.marker (a int);
	CREATE TABLE regs (id int PRIMARY KEY, rc regclass, rt regtype, ra regclass[]);
	INSERT INTO regs VALUES (1, 'marker', 'mood', ARRAY['marker'::regclass, 'pg_class']);
});
$consumer->safe_psql('postgres', q{
	CREATE TABLE copy.regs (id int PRIMARY KEY, rc regclass, rt regtype, ra regclass[]);
	BEGIN;
	SELECT laredo.create_source('regs', connection => $c$} . $source->connstr('postgres') . q{$c$);
	SELECT laredo.add_table('regs', 'public.regs');
	SELECT laredo.create_pipeline('regs', 'regs', 'public.regs', target => 'copy.regs');
	COMMIT;
});
$consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('regs', '120s')});
$source->safe_psql('postgres', q{INSERT INTO regs VALUES (2, 'marker', 'mood[]', ARRAY['marker'::regclass])});
$consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('regs', '120s')});
isnt($consumer->safe_psql('postgres', q{SELECT 'public.marker'::regclass::oid}),
	$source->safe_psql('postgres', q{SELECT 'public.marker'::regclass::oid}), 'the object has another OID here');
is($consumer->safe_psql('postgres', q{SELECT string_agg(r::text, '|' ORDER BY id) FROM copy.regs r}),
	'(1,marker,mood,"{marker,pg_class}")|(2,marker,mood[],{marker})', 'OID alias values name the same objects');
like(stream_forms($consumer->safe_psql('postgres', q{SELECT slot_name FROM laredo.sources WHERE source_id = 'regs'})),
	qr/^text(,text)*$/, 'OID alias types: the stream is in text');

# a column list that leaves out the column of a type of its own: binary
$source->safe_psql('postgres', q{
	CREATE TABLE listed (id int PRIMARY KEY, v numeric, md mood);
	INSERT INTO listed VALUES (1, 1.5, 'ok'), (2, NULL, 'sad');
});
$consumer->safe_psql('postgres', q{
	BEGIN;
	SELECT laredo.create_source('listed', connection => $c$} . $source->connstr('postgres') . q{$c$);
	SELECT laredo.add_table('listed', 'public.listed', columns => '{id,v}');
	SELECT laredo.create_pipeline('listed', 'listed', 'public.listed', target => 'copy.listed');
	COMMIT;
});
$consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('listed', '120s')});
$source->safe_psql('postgres', q{INSERT INTO listed VALUES (3, -0.000001, 'happy'); UPDATE listed SET v = 2 WHERE id = 1});
$consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('listed', '120s')});
is($consumer->safe_psql('postgres', q{SELECT string_agg(l::text, '|' ORDER BY id) FROM copy.listed l}),
	'(1,2)|(2,)|(3,-0.000001)', 'the listed columns arrive');
like(stream_forms($consumer->safe_psql('postgres', q{SELECT slot_name FROM laredo.sources WHERE source_id = 'listed'})),
	qr/^binary(,binary)*$/, 'a column left out by the column list: the stream is in binary');

done_testing();
