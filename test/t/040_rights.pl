# 040_rights: a source's worker runs as the role that created the source and
# writes targets with that role's rights; a non-superuser needs laredo_admin
# and a connection that authenticates with its own password; the connection
# string is hidden from other roles and its password is masked; a target
# the owner may write but not read is copied in one snapshot.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use LaredoTest;

my $source = PostgreSQL::Test::Cluster->new('source');
$source->init(allows_streaming => 'logical');
# feeder authenticates with its password; every other role with trust
my $hba = $source->data_dir . '/pg_hba.conf';
my $rules = slurp_file($hba);
open my $fh, '>', $hba or die;
print $fh "local all feeder scram-sha-256\n$rules";
close $fh;
$source->start;
$source->safe_psql('postgres', q{
	CREATE ROLE feeder LOGIN REPLICATION PASSWORD 'feedpw';
	CREATE ROLE trusted LOGIN REPLICATION PASSWORD 'unused';
	GRANT CREATE ON DATABASE postgres TO feeder;
	CREATE TABLE t (id int PRIMARY KEY, v text);
	ALTER TABLE t OWNER TO feeder;
	INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 50) g;
});

my $consumer = PostgreSQL::Test::Cluster->new('consumer');
$consumer->init;
$consumer->append_conf('postgresql.conf', "shared_preload_libraries = 'laredo'\n");
$consumer->start;
$consumer->safe_psql('postgres', q{
	CREATE EXTENSION laredo;
	CREATE ROLE alice LOGIN;
	CREATE ROLE bob LOGIN;
	GRANT laredo_admin TO alice;
	CREATE SCHEMA alice_data AUTHORIZATION alice;
	CREATE TABLE public.not_alices (id int PRIMARY KEY, v text);
});
my $conn = $source->connstr('postgres') . ' user=feeder password=feedpw';

my ($ret, $out, $err) = $consumer->psql('postgres',
	qq{SET ROLE bob; SELECT laredo.create_source('b', connection => \$c\$$conn\$c\$)});
like($err, qr/permission denied to create a source/, 'a role without laredo_admin cannot create a source');

($ret, $out, $err) = $consumer->psql('postgres',
	qq{SET ROLE alice; SELECT laredo.create_source('a', connection => 'host=/tmp port=1 user=feeder')});
like($err, qr/password is required/, 'a non-superuser needs a password in the connection string');

# A password in the string is not enough: the source must ask for it.
my $trusted = $source->connstr('postgres') . ' user=trusted password=unused';
$consumer->safe_psql('postgres', qq{SET ROLE alice; SELECT laredo.create_source('tr', connection => \$c\$$trusted\$c\$)});
($ret, $out, $err) = $consumer->psql('postgres', q{SET ROLE alice; SELECT laredo.add_table('tr', 'public.t')});
like($err, qr/password is required/, 'a connection the source does not authenticate by password is refused');
$consumer->safe_psql('postgres', q{SELECT laredo.drop_source('tr', drop_slot => false)});

$consumer->safe_psql('postgres', qq{
	SET ROLE alice;
	BEGIN;
	SELECT laredo.create_source('a', connection => \$c\$$conn\$c\$);
	SELECT laredo.add_table('a', 'public.t');
	SELECT laredo.create_pipeline('a_t', 'a', 'public.t', target => 'alice_data.t');
	COMMIT;
});
($ret, $out, $err) = $consumer->psql('postgres',
	q{SET ROLE alice; SELECT laredo.create_pipeline('a_x', 'a', 'public.t', target => 'public.not_alices')});
like($err, qr/permission denied for target public.not_alices/, 'a target the owner may not write is refused');

is($consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('a', '120s'); SELECT true}), 't', 'caught up');
is($consumer->safe_psql('postgres', q{SELECT count(*) FROM alice_data.t}), '50', 'baseline arrived');
is($consumer->safe_psql('postgres',
	q{SELECT usename FROM pg_stat_activity WHERE backend_type = 'laredo source worker'}),
	'alice', 'the worker runs as the source owner');
is($consumer->safe_psql('postgres', q{SELECT tableowner FROM pg_tables WHERE tablename = 't' AND schemaname = 'alice_data'}),
	'alice', 'the created target belongs to the owner');

# a target its owner may write but not read: a table added to a running
# source is copied in key ranges, whose merge deletes the target's rows of a
# range by their keys (which needs SELECT), so it is copied in one snapshot
$source->safe_psql('postgres', q{
	CREATE TABLE w (id int PRIMARY KEY, v text);
	ALTER TABLE w OWNER TO feeder;
	INSERT INTO w SELECT g, 'w' || g FROM generate_series(1, 30) g;
});
$consumer->safe_psql('postgres', q{
	CREATE TABLE public.write_only (id int PRIMARY KEY, v text);
	GRANT INSERT, UPDATE, DELETE, TRUNCATE ON public.write_only TO alice;
});
$consumer->safe_psql('postgres', q{
	SET ROLE alice;
	SELECT laredo.add_table('a', 'public.w');
	SELECT laredo.create_pipeline('a_w', 'a', 'public.w', target => 'public.write_only');
});
$consumer->safe_psql('postgres', q{SET ROLE alice; CALL laredo.wait_for_catchup('a', '120s')});
$source->safe_psql('postgres', q{UPDATE w SET v = 'changed' WHERE id = 7; DELETE FROM w WHERE id = 8});
$consumer->safe_psql('postgres', q{SET ROLE alice; CALL laredo.wait_for_catchup('a', '120s')});
my $rows_sql = q{SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM };
is($consumer->safe_psql('postgres', $rows_sql . 'public.write_only'), $source->safe_psql('postgres', $rows_sql . 'w'),
	'a target its owner may not read is copied and streams');
is($consumer->safe_psql('postgres', q{SELECT count(*) FROM laredo.copy_ranges WHERE pipeline_id = 'a_w'}), '0',
	'in one snapshot, not in key ranges');
is($consumer->safe_psql('postgres', q{SELECT state FROM laredo.pipelines WHERE pipeline_id = 'a_w'}), 'STREAMING',
	'and streams');

is($consumer->safe_psql('postgres', q{SET ROLE bob; SELECT coalesce(connection, 'hidden') FROM laredo.sources}),
	'hidden', 'other roles do not see the connection string');
my $shown = $consumer->safe_psql('postgres', q{SET ROLE alice; SELECT connection FROM laredo.sources});
like($shown, qr/password='\*\*\*\*\*\*\*\*'/, 'admins see the connection with the password masked');
unlike($shown, qr/feedpw/, 'the password itself is never shown');
($ret, $out, $err) = $consumer->psql('postgres', q{SET ROLE bob; SELECT connection FROM laredo.source_config});
like($err, qr/permission denied/, 'the catalog table is not readable by other roles');

done_testing();
