# 300_pg_upgrade: a consumer upgraded with pg_upgrade from PostgreSQL 15 to
# the version this suite runs on (18), its positions carried across.
# pg_upgrade carries laredo's catalog (its tables are ordinary tables) but
# not its replication origins, where the positions live, and the new server
# has a new system identifier.  The documented steps: laredo.save_positions()
# on the old server (stops and disables every source, records each
# position), pg_upgrade, laredo.adopt_source() on the new one.  The source
# is written all along; after the upgrade the mirror equals it, with no new
# baseline, nothing lost or applied twice.  LAREDO_CROSS_PG15 names the
# prefix of a PostgreSQL 15 with laredo installed (test/chroot_pg15.sh).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use LaredoTest;
use IPC::Run;

my $old_install = $ENV{LAREDO_CROSS_PG15};
plan skip_all => 'LAREDO_CROSS_PG15 is not set (test/run_tests.sh sets it in the PostgreSQL 18 run)'
  unless $old_install;

my $source = source_server('source');
my $old = consumer_server('old', '', install_path => $old_install);
is($old->pg_version->major, '15', 'the consumer runs PostgreSQL 15');

$source->safe_psql('postgres', q{
	CREATE TABLE items (id int PRIMARY KEY, n int NOT NULL, v text);
	INSERT INTO items SELECT g, 0, 'v' || g FROM generate_series(1, 5000) g;
	CREATE TABLE log (id bigserial PRIMARY KEY, at timestamptz DEFAULT now(), what text);
});
my $connstr = $source->connstr('postgres');
$old->safe_psql('postgres', qq{
	CREATE EXTENSION laredo;
	CREATE SCHEMA mirror;
	BEGIN;
	SELECT laredo.create_source('s', connection => \$c\$$connstr\$c\$, slot_name => 'laredo_upgrade');
	SELECT laredo.add_table('s', 'public.' || t) FROM unnest('{items,log}'::text[]) t;
	SELECT laredo.create_pipeline(t, 's', 'public.' || t, target => 'mirror.' || t)
	FROM unnest('{items,log}'::text[]) t;
	COMMIT;
});

sub same
{
	my ($node, $what) = @_;
	$node->safe_psql('postgres', q{CALL laredo.wait_for_catchup('s', '120s')});
	for my $t (qw(items log))
	{
		is(table_digest($node, 'postgres', "mirror.$t", 'id'), table_digest($source, 'postgres', $t, 'id'),
			"$what: $t equals the source's");
	}
}

my $script = $source->basedir . '/load.sql';
open my $fh, '>', $script or die;
print $fh q{\set id random(1, 6000)
INSERT INTO items VALUES (:id, 1, 'load') ON CONFLICT (id) DO UPDATE SET n = items.n + 1;
DELETE FROM items WHERE id = :id + 1 AND :id % 9 = 0;
INSERT INTO log (what) VALUES ('load ' || :id);
};
close $fh;
my $load = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '2', '-T', '30', '-f', $script, '-h', $source->host, '-p', $source->port, 'postgres' ],
	'>', \my $out, '2>', \my $err);
$source->poll_query_until('postgres', q{SELECT count(*) > 200 FROM log}) or die 'no load';

# 1. save the positions, under load
is($old->safe_psql('postgres', q{SELECT string_agg(source_id, ',') FROM laredo.save_positions() WHERE saved_lsn IS NOT NULL}),
	's', 'save_positions recorded the position');
$old->stop;

# 2. pg_upgrade, while the source is written
my $new = PostgreSQL::Test::Cluster->new('new');
# 18's initdb turns data checksums on by default; pg_upgrade needs the old setting
$new->init(allows_streaming => 'logical', extra => [ $new->pg_version >= 18 ? '--no-data-checksums' : () ]);
$new->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'laredo'
max_worker_processes = 32
max_replication_slots = 20
laredo.restart_delay = 300
});
my $dir = PostgreSQL::Test::Utils::tempdir;
chdir $dir or die;
command_ok(
	[ 'pg_upgrade', '--no-sync',
	  '-d', $old->data_dir, '-D', $new->data_dir,
	  '-b', $old->config_data('--bindir'), '-B', $new->config_data('--bindir'),
	  '-s', $new->host, '-p', $old->port, '-P', $new->port ],
	'pg_upgrade from 15');
$new->start;
is($new->pg_version->major, $source->pg_version->major, 'the consumer runs ' . $new->pg_version->major . ' now');
isnt($new->safe_psql('postgres', q{SELECT system_identifier FROM pg_control_system()}),
	$new->safe_psql('postgres', q{SELECT home_system_identifier FROM laredo.source_config}),
	'the upgraded server has a system identifier of its own');
is($new->safe_psql('postgres', q{SELECT state FROM laredo.sources}), 'DISABLED', 'the source waits, disabled');

# 3. adopt, while the source is written
ok($new->safe_psql('postgres', q{SELECT laredo.adopt_source('s')}), 'adopt_source');
$load->finish;
same($new, 'after pg_upgrade');
my $copies = () = slurp_file($new->logfile) =~ /baseline committed/g;
is($copies, 0, 'no new baseline after the upgrade');
is($new->safe_psql('postgres', q{SELECT sum(update_missing + delete_missing) FROM laredo.pipelines}), '0',
	'nothing applied twice or skipped: no row was missing for an update or a delete');

done_testing();
