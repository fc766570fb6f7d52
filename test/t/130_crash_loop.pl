# 130_crash_loop: while pgbench writes on the source with four clients (its
# own tables, pgbench_history without a primary key, and a table without a
# key that is updated and deleted through REPLICA IDENTITY FULL), the test
# breaks things 20 times at random moments, taking turns: kill -9 of the
# source worker (the consumer's postmaster then restarts every backend), an
# immediate stop of the consumer server, and a restart of the source server
# (fast or immediate).  When the load stops and laredo has caught up, every
# mirror holds exactly its source's rows (compared row by row: none lost,
# none duplicated), the change logs hold each change exactly once, and no
# process crashed on its own: the consumer's log shows exactly the crash
# recoveries the kills caused, and neither log shows a signal other than
# those, a failed assertion or a PANIC.
#
# LAREDO_CRASH_CYCLES and LAREDO_CRASH_SEED change the count and the draw.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use LaredoTest;
use IPC::Run;
use Time::HiRes qw(usleep);

my $cycles = $ENV{LAREDO_CRASH_CYCLES} // 20;
my $seed = $ENV{LAREDO_CRASH_SEED} // time();
srand($seed);
note("crash loop: $cycles cycles, seed $seed");

my $source = PostgreSQL::Test::Cluster->new('source');
$source->init(allows_streaming => 'logical');
$source->append_conf('postgresql.conf', "max_replication_slots = 10\nmax_wal_senders = 10\n");
$source->start;

my $consumer = PostgreSQL::Test::Cluster->new('consumer');
$consumer->init;
$consumer->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'laredo'
wal_level = logical
laredo.restart_delay = 200
restart_after_crash = on
});
$consumer->start;

$source->command_ok([ 'pgbench', '-i', '-q', '-s', '1', '-h', $source->host, '-p', $source->port, 'postgres' ],
	'pgbench tables on the source');
$source->safe_psql('postgres', q{
	CREATE TABLE nokey (k int NOT NULL, n int NOT NULL DEFAULT 0, v text);
	ALTER TABLE nokey REPLICA IDENTITY FULL;
	INSERT INTO nokey SELECT g % 300, 0, 'seed' FROM generate_series(1, 1000) g;
});

my $connstr = $source->connstr('postgres');
$consumer->safe_psql('postgres', qq{
	CREATE EXTENSION laredo;
	CREATE SCHEMA mirror;
	CREATE SCHEMA log;
	BEGIN;
	SELECT laredo.create_source('main', connection => \$c\$$connstr\$c\$, slot_name => 'laredo_crash',
	                            reconnect_max_attempts => 1000, reconnect_initial_backoff => '100ms',
	                            reconnect_max_backoff => '1s');
	SELECT laredo.add_table('main', 'public.' || t)
	  FROM unnest(ARRAY['pgbench_accounts', 'pgbench_branches', 'pgbench_tellers', 'pgbench_history', 'nokey']) t;
	SELECT laredo.create_pipeline(t, 'main', 'public.' || t, target => 'mirror.' || t)
	  FROM unnest(ARRAY['pgbench_accounts', 'pgbench_branches', 'pgbench_tellers', 'pgbench_history', 'nokey']) t;
	SELECT laredo.create_pipeline('history_log', 'main', 'public.pgbench_history',
	                              target => 'log.history', target_kind => 'changelog');
	SELECT laredo.create_pipeline('tellers_log', 'main', 'public.pgbench_tellers',
	                              target => 'log.tellers', target_kind => 'changelog');
	COMMIT;
});

my $script = $source->basedir . '/nokey.sql';
open my $fh, '>', $script or die;
print $fh q{\set k random(0, 299)
INSERT INTO nokey (k, v) VALUES (:k, 'load');
UPDATE nokey SET n = n + 1 WHERE k = :k + 1;
DELETE FROM nokey WHERE k = (:k * 7) % 300 AND n % 5 = 4;
};
close $fh;

sub start_load
{
	my ($out, $err) = ('', '');
	return IPC::Run::start(
		[ 'pgbench', '-n', '-c', '4', '-j', '2', '-T', '4', '-b', 'tpcb-like@4', '-f', "$script\@1",
		  '-h', $source->host, '-p', $source->port, 'postgres' ],
		'>', \$out, '2>', \$err);
}

sub worker_pid
{
	return $consumer->safe_psql('postgres',
		q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'laredo source worker'});
}

my %done = (kill => 0, consumer_immediate => 0, source_restart => 0);
my $survived = 0;
for my $cycle (1 .. $cycles)
{
	my $load = start_load();
	usleep(int(200_000 + rand(2_500_000)));
	my $what = ('kill', 'consumer_immediate', 'source_restart')[ $cycle % 3 ];
	if ($what eq 'kill')
	{
		my $pid = '';
		for (1 .. 100)
		{
			$pid = worker_pid();
			last if $pid ne '';
			usleep(100_000);
		}
		if ($pid eq '')
		{
			# the worker is between attempts: stop the consumer instead
			$what = 'consumer_immediate';
		}
		else
		{
			kill_process($consumer, $pid);
			# the postmaster restarts every backend; wait until it accepts again
			wait_accepting($consumer);
		}
	}
	if ($what eq 'consumer_immediate')
	{
		$consumer->stop('immediate');
		$consumer->start;
	}
	elsif ($what eq 'source_restart')
	{
		$source->stop(rand() < 0.5 ? 'immediate' : 'fast');
		usleep(int(rand(1_000_000)));
		$source->start;
	}
	$done{$what}++;
	$load->finish;    # clients cut off by a source restart end with an error
	$survived++;
}
note(sprintf('crash loop: %d SIGKILL, %d immediate stops of the consumer, %d source restarts',
		$done{kill}, $done{consumer_immediate}, $done{source_restart}));

# A last load without faults, so that the end state is fresh.
my $last = start_load();
$last->finish;

is($consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('main', '300s'); SELECT true}), 't',
	'caught up after the crash loop');
is($consumer->safe_psql('postgres', q{SELECT state FROM laredo.sources}), 'STREAMING', 'source is STREAMING');

# Row-by-row comparison of each mirror with its source, as multisets.
# Compares two queries' rows as multisets: how many rows of the source query
# the target lacks (lost), and how many extra it has (duplicated).
my ($compared, $lost, $duplicated) = (0, 0, 0);
sub compare_rows
{
	my ($what, $source_query, $target_query) = @_;
	my $q = q{SELECT x::text FROM (%s) x ORDER BY 1};
	my %count;
	my @rows = split /\n/, $source->safe_psql('postgres', sprintf($q, $source_query));
	$count{$_}++ for @rows;
	$count{$_}-- for split /\n/, $consumer->safe_psql('postgres', sprintf($q, $target_query));
	my ($l, $d) = (0, 0);
	for (values %count)
	{
		$l += $_ if $_ > 0;
		$d -= $_ if $_ < 0;
	}
	$compared += @rows;
	$lost += $l;
	$duplicated += $d;
	ok(@rows > 0 && $l == 0 && $d == 0, sprintf('%s: %d rows, %d lost, %d duplicated', $what, scalar(@rows), $l, $d));
	return scalar(@rows);
}
compare_rows($_, "SELECT * FROM public.$_", "SELECT * FROM mirror.$_")
  for ('pgbench_accounts', 'pgbench_branches', 'pgbench_tellers', 'pgbench_history', 'nokey');

# The change log of pgbench_history holds each row exactly once (copied by the
# baseline, or inserted after it); the tellers' log one update per tpcb
# transaction after the baseline, each of which inserted one history row.
compare_rows('history change log', 'SELECT * FROM public.pgbench_history',
	q{SELECT (jsonb_populate_record(NULL::mirror.pgbench_history, new)).* FROM log.history WHERE op IN ('I', 'B')});
is($consumer->safe_psql('postgres', q{SELECT count(*) - count(DISTINCT (lsn, seq)) FROM log.tellers}),
	'0', 'no change is logged twice (commit LSN and sequence are unique)');
is($consumer->safe_psql('postgres', q{SELECT count(*) FROM log.tellers WHERE op = 'U'}),
	$consumer->safe_psql('postgres', q{SELECT count(*) FROM log.history WHERE op = 'I'}),
	'one logged teller update per logged history insert (one tpcb transaction each)');

# Only the crashes the test caused.
my $clog = slurp_file($consumer->logfile);
my $slog = slurp_file($source->logfile);
my $kills = () = $clog =~ /was terminated by signal 9: Killed/g;
my $recoveries = () = $clog =~ /all server processes terminated; reinitializing/g;
is($kills, $done{kill}, "the consumer log shows the $done{kill} kills and no other SIGKILL");
is($recoveries, $done{kill}, 'crash recoveries only for those kills');
unlike($clog, qr/terminated by signal (?!9:)|TRAP:|PANIC:|exited with exit code [^01]/, 'no other crash on the consumer');
unlike($slog, qr/terminated by signal|TRAP:|PANIC:/, 'no crash on the source');

diag("crash loop: $survived cycles survived ($done{kill} SIGKILL, $done{consumer_immediate} immediate stops, "
	  . "$done{source_restart} source restarts); $compared rows compared, $lost lost, $duplicated duplicated");
is($survived, $cycles, "all $cycles cycles survived");

done_testing();
