# 200_reload_many_databases: ordinary server conditions that once took the
# whole consumer server down.  A configuration reload (every laredo process
# gets SIGHUP: launcher, managers, workers) made the launcher segfault, and so
# did six or more databases (its list of databases lived in memory freed by a
# commit).  Here the consumer has 50 databases, laredo in 10 of them and
# sources streaming in three; the configuration is reloaded 20 times while
# the sources stream under load, and the server is restarted.  Every mirror
# equals its source, exactly the 10 databases have a manager, no laredo
# process was restarted by a reload, and (LaredoTest) no server logged a
# crash.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use LaredoTest;
use IPC::Run;
use Time::HiRes qw(usleep);

my $source = source_server('source');
my $consumer = consumer_server('consumer', "max_worker_processes = 24\n");

for my $db (qw(s1 s2 s3))
{
	$source->safe_psql('postgres', "CREATE DATABASE $db");
	$source->safe_psql($db, q{
		CREATE TABLE t (id int PRIMARY KEY, n int NOT NULL, v text);
		INSERT INTO t SELECT g, 0, 'row ' || g FROM generate_series(1, 2000) g;
	});
}

my @dbs = map { sprintf('db%02d', $_) } 1 .. 50;
my @laredo_dbs = grep { /(0|5)$/ } @dbs;    # db05, db10, ... db50
my %feeds = (db10 => 's1', db20 => 's2', db30 => 's3');
$consumer->safe_psql('postgres', "CREATE DATABASE $_") for @dbs;
$consumer->safe_psql($_, 'CREATE EXTENSION laredo') for @laredo_dbs;
for my $db (sort keys %feeds)
{
	my $src = $feeds{$db};
	my $conn = $source->connstr($src);
	$consumer->safe_psql($db, qq{
		BEGIN;
		SELECT laredo.create_source('$src', connection => \$c\$$conn\$c\$, slot_name => 'laredo_$db');
		SELECT laredo.add_table('$src', 'public.t');
		SELECT laredo.create_pipeline('t', '$src', 'public.t', target => 'public.t_mirror');
		COMMIT;
	});
}

sub managers
{
	return $consumer->safe_psql('postgres', q{
		SELECT string_agg(d.datname, ',' ORDER BY d.datname) FROM pg_stat_activity a
		JOIN pg_database d ON d.oid = a.datid WHERE a.backend_type = 'laredo manager'});
}

sub laredo_pids
{
	return $consumer->safe_psql('postgres', q{
		SELECT string_agg(pid::text, ',' ORDER BY pid) FROM pg_stat_activity
		WHERE backend_type IN ('laredo launcher', 'laredo manager', 'laredo source worker')});
}

sub catch_up_all
{
	my ($what) = @_;
	for my $db (sort keys %feeds)
	{
		my $src = $feeds{$db};
		$consumer->safe_psql($db, "CALL laredo.wait_for_catchup('$src', '180s')");
		is(table_digest($consumer, $db, 't_mirror', 'id'), table_digest($source, $src, 't', 'id'),
			"$what: $src mirrored into $db");
	}
}

my $want = join(',', @laredo_dbs);
ok($consumer->poll_query_until('postgres', qq{
	SELECT string_agg(d.datname, ',' ORDER BY d.datname) = '$want' FROM pg_stat_activity a
	JOIN pg_database d ON d.oid = a.datid WHERE a.backend_type = 'laredo manager'}),
	'a manager in each of the 10 databases with laredo, none in the other 40');
catch_up_all('baseline');

# Reloads while every source streams under load.
my $script = $source->basedir . '/load.sql';
open my $fh, '>', $script or die;
print $fh q{\set id random(1, 4000)
INSERT INTO t VALUES (:id, 1, 'load') ON CONFLICT (id) DO UPDATE SET n = t.n + 1;
DELETE FROM t WHERE id = :id + 1 AND :id % 7 = 0;
};
close $fh;
my @loads;
for my $src (qw(s1 s2 s3))
{
	push @loads, IPC::Run::start(
		[ 'pgbench', '-n', '-c', '1', '-T', '8', '-f', $script, '-h', $source->host,
		  '-p', $source->port, $src ], '>', \my $out, '2>', \my $err);
}
my $before = laredo_pids();
for my $i (1 .. 20)
{
	# a setting of laredo's own, and one the workers read, change on the way
	$consumer->append_conf('postgresql.conf',
		"laredo.restart_delay = " . (300 + $i) . "\nwal_receiver_timeout = " . (60 + $i) . "s\n");
	$consumer->safe_psql('postgres', 'SELECT pg_reload_conf()');
	usleep(200_000);
}
$_->finish for @loads;
is($consumer->safe_psql('postgres', 'SHOW laredo.restart_delay'), '320ms', 'the reloads took effect');
catch_up_all('20 reloads under load');
is(laredo_pids(), $before, 'no laredo process was restarted by a reload');
is(managers(), $want, 'still one manager per database with laredo');

# laredo arrives in a database later, and leaves another.
$consumer->safe_psql('db01', 'CREATE EXTENSION laredo');
$consumer->safe_psql('db05', 'DROP EXTENSION laredo');
$want = join(',', sort grep { $_ ne 'db05' } (@laredo_dbs, 'db01'));
ok($consumer->poll_query_until('postgres', qq{
	SELECT string_agg(d.datname, ',' ORDER BY d.datname) = '$want' FROM pg_stat_activity a
	JOIN pg_database d ON d.oid = a.datid WHERE a.backend_type = 'laredo manager'}),
	'CREATE EXTENSION gets a manager at once, DROP EXTENSION lets it go');

# A restart: every database is probed again, the sources resume.
$consumer->restart;
ok($consumer->poll_query_until('postgres', qq{
	SELECT string_agg(d.datname, ',' ORDER BY d.datname) = '$want' FROM pg_stat_activity a
	JOIN pg_database d ON d.oid = a.datid WHERE a.backend_type = 'laredo manager'}),
	'after a restart, the same managers and no other');
$source->safe_psql($_, q{UPDATE t SET v = 'after restart' WHERE id % 5 = 0}) for qw(s1 s2 s3);
catch_up_all('after a restart');

done_testing();
