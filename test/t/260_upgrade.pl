# 260_upgrade: laredo's own upgrade path.  A database on laredo 0.1.0 (its
# own library on PostgreSQL 15) streams; the new library and SQL files are
# installed over it and the server restarted: the workers start before
# anybody runs ALTER EXTENSION, so the new library streams on the 0.1.0
# catalog; then `ALTER EXTENSION laredo UPDATE` while the source is under
# load: the workers restart with the newest catalog (0.11.0) from their positions, no
# table is copied again, and the mirror ends equal to the source, nothing
# lost or repeated.  And an updated catalog is the same as a new one: every
# table, column, default, constraint, policy, function, view, type and grant
# of the extension compared between a database updated from 0.1.0 and one
# that installed 0.11.0, and one updated from 0.2.0.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use LaredoTest;
use IPC::Run;

use File::Basename qw(dirname);
use File::Path qw(make_path);

my $source = source_server('source');

# laredo 0.1.0's own library (built by test/run_tests.sh from the commit of
# 0.1.0, on PostgreSQL 15, the only version 0.1.0 supports): the consumer runs
# from a private copy of this server's installation, with 0.1.0 installed in
# it, and is upgraded as a DBA upgrades: the new library and SQL files
# installed over the old, a restart, ALTER EXTENSION UPDATE.  Without it
# (17, 18, 19) the first half runs this library on a 0.1.0 catalog.
my $old_build = $ENV{LAREDO_OLD_BUILD};
my %pg = map { my $v = `pg_config --$_`; chomp $v; ($_ => $v) } qw(bindir sharedir pkglibdir);
my $copy = PostgreSQL::Test::Utils::tempdir;

# copies laredo's library and extension files into the private installation
sub install_laredo
{
	my ($so, @sql) = @_;
	unlink glob("$copy$pg{sharedir}/extension/laredo*");
	system('cp', $so, "$copy$pg{pkglibdir}/laredo.so") == 0 or die 'cp failed';
	system('cp', @sql, "$copy$pg{sharedir}/extension/") == 0 or die 'cp failed';
	return;
}

my $consumer;
if ($old_build)
{
	for my $dir (@pg{qw(bindir sharedir pkglibdir)})
	{
		make_path("$copy$dir");
		system('cp', '-a', "$dir/.", "$copy$dir/") == 0 or die "could not copy $dir";
	}
	install_laredo("$old_build/laredo.so", "$old_build/laredo.control", "$old_build/sql/laredo--0.1.0.sql");
	$consumer = consumer_server('consumer', '', install_path => $copy . dirname($pg{bindir}));
}
else
{
	$consumer = consumer_server('consumer');
}

$source->safe_psql('postgres', q{
	CREATE TABLE items (id int PRIMARY KEY, n int NOT NULL, v text);
	INSERT INTO items SELECT g, 0, 'v' || g FROM generate_series(1, 5000) g;
});
my $connstr = $source->connstr('postgres');
$consumer->safe_psql('postgres', qq{
	CREATE EXTENSION laredo VERSION '0.1.0';  -- the only version of the old installation
	BEGIN;
	SELECT laredo.create_source('s', connection => \$c\$$connstr\$c\$, slot_name => 'laredo_up');
	SELECT laredo.add_table('s', 'public.items');
	SELECT laredo.create_pipeline('items', 's', 'public.items', target => 'public.items_copy');
	COMMIT;
});

sub same
{
	my ($what) = @_;
	$consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('s', '120s')});
	is(table_digest($consumer, 'postgres', 'items_copy', 'id'), table_digest($source, 'postgres', 'items', 'id'),
		"$what: the mirror equals the source");
}

# which library the server runs: 0.1.0's has no laredo_set_origin (0.3.0)
sub library_has_set_origin
{
	my ($ret) = $consumer->psql('postgres',
		q{CREATE FUNCTION pg_temp.probe() RETURNS void AS '$libdir/laredo', 'laredo_set_origin' LANGUAGE C});
	return $ret == 0 ? 'new' : 'old';
}

if ($old_build)
{
	is(library_has_set_origin(), 'old', "the server runs 0.1.0's own library");
	same('laredo 0.1.0, its own library');
	$source->safe_psql('postgres', q{UPDATE items SET n = n + 1 WHERE id % 10 = 0});
	same('laredo 0.1.0 streaming');
	# the new version installed over the old one, then a restart: the new
	# library starts the workers on the 0.1.0 catalog
	$source->safe_psql('postgres', q{UPDATE items SET v = 'while down' WHERE id % 10 = 1});
	$consumer->stop;
	install_laredo("$pg{pkglibdir}/laredo.so", glob("$pg{sharedir}/extension/laredo*"));
	$consumer->start;
	is(library_has_set_origin(), 'new', 'the server runs the new library after the restart');
	same('the new library on the 0.1.0 catalog, after the restart');
}
else
{
	same('0.1.0 catalog, this library');
}
is($consumer->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'laredo'}), '0.1.0',
	'the catalog is 0.1.0');

# Under load: the update, while changes stream.
my $script = $source->basedir . '/load.sql';
open my $fh, '>', $script or die;
print $fh q{\set id random(1, 8000)
INSERT INTO items VALUES (:id, 1, 'load') ON CONFLICT (id) DO UPDATE SET n = items.n + 1;
DELETE FROM items WHERE id = :id + 1 AND :id % 9 = 0;
};
close $fh;
my $load = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '2', '-T', '6', '-f', $script, '-h', $source->host, '-p', $source->port, 'postgres' ],
	'>', \my $out, '2>', \my $err);
$source->poll_query_until('postgres', q{SELECT count(*) > 50 FROM items WHERE v = 'load'}) or die 'no load';
$consumer->safe_psql('postgres', 'ALTER EXTENSION laredo UPDATE');
$load->finish;
is($consumer->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'laredo'}), '0.11.0',
	'updated to 0.11.0 (through 0.2.0, 0.3.0, 0.4.0, 0.5.0, 0.6.0, 0.7.0, 0.8.0, 0.9.0 and 0.10.0)');
same('after ALTER EXTENSION UPDATE under load');
my $log = slurp_file($consumer->logfile);
my $copies = () = $log =~ /baseline committed/g;
is($copies, 1, 'the table was copied once: the update kept the position');
is($consumer->safe_psql('postgres', q{SELECT update_missing + delete_missing FROM laredo.pipelines}), '0',
	'the columns 0.2.0 added are there');
is($consumer->safe_psql('postgres', q{
	SELECT home_database = current_database()
	       AND home_system_identifier = (SELECT system_identifier::text FROM pg_control_system())
	       AND origin = 'any'
	FROM laredo.source_config}), 't', 'the sources that existed are at home here after the update (0.3.0)');

# A 0.2.0 feature on the updated catalog.
$source->safe_psql('postgres', q{
	CREATE TABLE parts (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);
	CREATE TABLE parts_1 PARTITION OF parts FOR VALUES FROM (0) TO (100);
	CREATE TABLE parts_2 PARTITION OF parts FOR VALUES FROM (100) TO (200);
	INSERT INTO parts SELECT g, 'p' FROM generate_series(1, 199) g;
});
$consumer->safe_psql('postgres', qq{
	BEGIN;
	SELECT laredo.create_source('r', connection => \$c\$$connstr\$c\$, slot_name => 'laredo_up_root',
	                            publish_via_partition_root => true);
	SELECT laredo.add_table('r', 'public.parts');
	SELECT laredo.create_pipeline('parts', 'r', 'public.parts', target => 'public.parts_copy');
	COMMIT;
});
$consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('r', '120s')});
is($consumer->safe_psql('postgres', 'SELECT count(*) FROM parts_copy'), '199', 'a partitioned table published as its root');
$source->safe_psql('postgres', q{UPDATE items SET v = 'after' WHERE id < 100});
same('still streaming');

# The updated catalog and a new one are the same, from 0.1.0 and from 0.2.0.
$consumer->safe_psql('postgres', 'CREATE DATABASE fresh');
$consumer->safe_psql('fresh', 'CREATE EXTENSION laredo');
$consumer->safe_psql('postgres', 'CREATE DATABASE mid');
$consumer->safe_psql('mid', q{CREATE EXTENSION laredo VERSION '0.2.0'; ALTER EXTENSION laredo UPDATE});
my $catalog = q{
	WITH members AS (
		SELECT d.classid, d.objid FROM pg_depend d
		WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
		  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'laredo'))
	SELECT string_agg(line, E'\n' ORDER BY line) FROM (
		SELECT 'member ' || pg_describe_object(classid, objid, 0) AS line FROM members
		UNION ALL
		SELECT 'function ' || p.oid::regprocedure || ' ' || md5(pg_get_functiondef(p.oid)) || ' '
		       || coalesce(p.proacl::text, '')
		FROM pg_proc p WHERE p.pronamespace = 'laredo'::regnamespace AND p.prokind IN ('f', 'p')
		UNION ALL
		SELECT 'column ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
		       || ' ' || a.attnotnull || ' ' || coalesce(pg_get_expr(ad.adbin, ad.adrelid), '')
		FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
		LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
		WHERE c.relnamespace = 'laredo'::regnamespace
		UNION ALL
		SELECT 'relation ' || c.relname || ' ' || c.relkind::text || ' ' || c.relrowsecurity || ' '
		       || coalesce(c.relacl::text, '') || ' ' || coalesce(md5(pg_get_viewdef(c.oid)), '')
		FROM pg_class c WHERE c.relnamespace = 'laredo'::regnamespace AND c.relkind IN ('r', 'v')
		UNION ALL
		SELECT 'constraint ' || conrelid::regclass || ' ' || pg_get_constraintdef(oid)
		FROM pg_constraint WHERE connamespace = 'laredo'::regnamespace
		UNION ALL
		SELECT 'trigger ' || pg_get_triggerdef(t.oid)
		FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
		WHERE c.relnamespace = 'laredo'::regnamespace AND NOT t.tgisinternal
		UNION ALL
		SELECT 'policy ' || tablename || ' ' || policyname || ' ' || cmd || ' ' || coalesce(qual, '') || ' '
		       || coalesce(with_check, '')
		FROM pg_policies WHERE schemaname = 'laredo') x};
my $updated = $consumer->safe_psql('postgres', $catalog);
my $fresh = $consumer->safe_psql('fresh', $catalog);
is($updated, $fresh, 'the catalog updated from 0.1.0 is the catalog 0.11.0 installs');
is($consumer->safe_psql('mid', $catalog), $fresh, 'the catalog updated from 0.2.0 is the catalog 0.11.0 installs');
if ($updated ne $fresh)
{
	my %u = map { $_ => 1 } split /\n/, $updated;
	my %f = map { $_ => 1 } split /\n/, $fresh;
	diag("only in the updated one: $_") for grep { !$f{$_} } sort keys %u;
	diag("only in the new one: $_") for grep { !$u{$_} } sort keys %f;
}

done_testing();
