# 280_generated_columns: generated columns as PostgreSQL's subscriber treats
# them, on every version, with a subscription to the same source as the
# oracle.
# - A publication that does not publish generated columns (the default, and
#   the only way before 18): a generated column on the target computes its
#   own values, in the baseline and in the stream.
# - A target column that is generated where the source sends a value for it:
#   the built-in refuses ("incompatible generated column", "missing
#   replicated column" before 18); laredo stops with a durable ERROR naming
#   the column, never writes it.
# - From 18 on, a publication with publish_generated_columns = stored sends
#   the stored generated columns, and never the VIRTUAL ones (18's default
#   kind): baseline and stream both carry them into plain target columns,
#   as into the subscription's table.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use LaredoTest;

my $source = source_server('source');
my $consumer = consumer_server('consumer', "max_logical_replication_workers = 8\n");
my $v18 = $source->pg_version >= 18;
my $connstr = $source->connstr('postgres');

my $g_ddl = q{CREATE TABLE g (id int PRIMARY KEY, a int, s int GENERATED ALWAYS AS (a * 2) STORED)};
my $g2_ddl = q{CREATE TABLE g2 (id int PRIMARY KEY, a int, s int GENERATED ALWAYS AS (a * 3) STORED,
                                vc int GENERATED ALWAYS AS (a + 1) VIRTUAL)};
$source->safe_psql('postgres', qq{
	$g_ddl;
	INSERT INTO g SELECT x, x FROM generate_series(1, 500) x;
	CREATE PUBLICATION pub_g FOR TABLE g;
});
$source->safe_psql('postgres', qq{
	$g2_ddl;
	INSERT INTO g2 SELECT x, x FROM generate_series(1, 500) x;
	CREATE PUBLICATION pub_stored FOR TABLE g2 WITH (publish_generated_columns = stored);
}) if $v18;

# the oracle: subscriptions into tables of the source's names; g is
# generated here too, g2's columns are plain (they take the source's values)
$consumer->safe_psql('postgres', qq{
	$g_ddl;
	CREATE SUBSCRIPTION sub_g CONNECTION \$c\$$connstr\$c\$ PUBLICATION pub_g;
	CREATE EXTENSION laredo;
	CREATE SCHEMA mirror;
	CREATE TABLE mirror.g_gen (id int PRIMARY KEY, a int, s int GENERATED ALWAYS AS (a * 2) STORED);
	CREATE TABLE mirror.g_plain (id int PRIMARY KEY, a int, s int);
	BEGIN;
	SELECT laredo.create_source('s', connection => \$c\$$connstr\$c\$, slot_name => 'laredo_g');
	SELECT laredo.add_table('s', 'public.g');
	SELECT laredo.create_pipeline('g_gen', 's', 'public.g', target => 'mirror.g_gen');
	SELECT laredo.create_pipeline('g_plain', 's', 'public.g', target => 'mirror.g_plain');
	COMMIT;
});
$consumer->safe_psql('postgres', qq{
	CREATE TABLE g2 (id int PRIMARY KEY, a int, s int, vc int);
	CREATE SUBSCRIPTION sub_stored CONNECTION \$c\$$connstr\$c\$ PUBLICATION pub_stored;
	CREATE TABLE mirror.g2 (id int PRIMARY KEY, a int, s int, vc int);
	BEGIN;
	SELECT laredo.create_source('st', connection => \$c\$$connstr\$c\$, slot_name => 'laredo_g2',
	                            publication => 'pub_stored', create_publication => false);
	SELECT laredo.add_table('st', 'public.g2');
	SELECT laredo.create_pipeline('g2', 'st', 'public.g2', target => 'mirror.g2');
	COMMIT;
}) if $v18;

sub compare
{
	my ($what) = @_;
	$consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('s', '120s')});
	$source->wait_for_catchup('sub_g');
	$consumer->poll_query_until('postgres',
		q{SELECT count(*) = 0 FROM pg_subscription_rel WHERE srsubstate NOT IN ('r', 's')})
	  or die 'the subscriptions did not synchronise';
	my $src = table_digest($source, 'postgres', 'g', 'id');
	is(table_digest($consumer, 'postgres', 'g', 'id'), $src, "$what: the subscription's g equals the source's");
	is(table_digest($consumer, 'postgres', 'mirror.g_gen', 'id'), $src,
		"$what: a generated target column computes its own values, as the subscription's");
	is($consumer->safe_psql('postgres', q{SELECT count(*) || '/' || count(s) FROM mirror.g_plain}),
		$source->safe_psql('postgres', q{SELECT count(*) FROM g}) . '/0',
		"$what: a plain target column gets nothing for an unpublished generated column, as the subscription's would");
	return unless $v18;
	$consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('st', '120s')});
	$source->wait_for_catchup('sub_stored');
	is(table_digest($consumer, 'postgres', 'mirror.g2', 'id'), table_digest($consumer, 'postgres', 'g2', 'id'),
		"$what: publish_generated_columns = stored, laredo's g2 equals the subscription's");
	is($consumer->safe_psql('postgres', q{SELECT count(*) FILTER (WHERE s = a * 3) || '/' || count(vc) FROM mirror.g2}),
		$source->safe_psql('postgres', q{SELECT count(*) FROM g2}) . '/0',
		"$what: the stored generated column arrived with its source values, the virtual one never");
}

compare('baseline');
$source->safe_psql('postgres', q{
	INSERT INTO g SELECT x, -x FROM generate_series(501, 600) x;
	UPDATE g SET a = a + 1000 WHERE id % 3 = 0;
	DELETE FROM g WHERE id % 10 = 0;
});
$source->safe_psql('postgres', q{
	INSERT INTO g2 SELECT x, -x FROM generate_series(501, 600) x;
	UPDATE g2 SET a = a + 1000 WHERE id % 3 = 0;
	DELETE FROM g2 WHERE id % 10 = 0;
}) if $v18;
compare('stream');

# A generated target column that the source sends a value for: refused, as
# the built-in refuses it.  Before 18 the source sends a plain column; from
# 18 on, a stored generated column of pub_stored.
my ($table, $pub, $col) = $v18 ? ('g2', 'pub_stored', 's') : ('g', 'pub_g', 'a');
$consumer->safe_psql('postgres', qq{
	CREATE TABLE mirror.bad (id int PRIMARY KEY,
		a int @{[ $col eq 'a' ? 'GENERATED ALWAYS AS (id * 5) STORED' : '' ]},
		s int @{[ $col eq 's' ? 'GENERATED ALWAYS AS (id * 5) STORED' : '' ]}, vc int);
	BEGIN;
	SELECT laredo.create_source('bad', connection => \$c\$$connstr\$c\$, slot_name => 'laredo_bad',
	                            publication => '$pub', create_publication => false);
	SELECT laredo.add_table('bad', 'public.$table');
	SELECT laredo.create_pipeline('bad', 'bad', 'public.$table', target => 'mirror.bad');
	COMMIT;
});
$consumer->poll_query_until('postgres',
	q{SELECT state = 'ERROR' AND last_error_hint IS NOT NULL FROM laredo.sources WHERE source_id = 'bad'})
  or die 'the source did not stop';
like($consumer->safe_psql('postgres', q{SELECT last_error || '|' || last_error_hint FROM laredo.sources WHERE source_id = 'bad'}),
	qr/has a generated column "$col", which the source sends\|Drop the expression on the target/,
	'a generated target column the source sends a value for: a durable ERROR naming it');
is($consumer->safe_psql('postgres', q{SELECT count(*) FROM mirror.bad}), '0', 'and nothing was written to it');
# the built-in refuses the same target
(my $oracle_ddl = $v18 ? $g2_ddl : $g_ddl) =~ s/CREATE TABLE g2? /CREATE TABLE oracle.gx /;
$source->safe_psql('postgres', qq{
	CREATE SCHEMA oracle;
	$oracle_ddl;
	INSERT INTO oracle.gx (id, a) VALUES (1, 1);
	CREATE PUBLICATION pub_oracle FOR TABLE oracle.gx} . ($v18 ? ' WITH (publish_generated_columns = stored)' : ''));
my $offset = -s $consumer->logfile;
$consumer->safe_psql('postgres', qq{
	CREATE SCHEMA oracle;
	CREATE TABLE oracle.gx (LIKE mirror.bad INCLUDING GENERATED);
	CREATE SUBSCRIPTION sub_oracle CONNECTION \$c\$$connstr\$c\$ PUBLICATION pub_oracle;
});
$consumer->wait_for_log(
	$v18
	? qr/logical replication target relation "oracle.gx" has incompatible generated column: "$col"/
	: qr/logical replication target relation "oracle.gx" is missing replicated column: "$col"/, $offset);
pass('the subscription refuses the same target');
is($consumer->safe_psql('postgres', q{SELECT count(*) FROM oracle.gx}), '0', 'and writes nothing to it either');
$consumer->safe_psql('postgres', q{DROP SUBSCRIPTION sub_oracle});

done_testing();
