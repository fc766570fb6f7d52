# 270_cross_version: a consumer and its source of different major versions.
# A consumer on PostgreSQL 15 mirrors a source on 18, and a consumer on 18
# mirrors a source on 15 (the newer version is the one this suite runs on;
# LAREDO_CROSS_PG15 names the prefix of a PostgreSQL 15 with laredo
# installed, built by test/chroot_pg15.sh in the 18 chroot).  Each consumer
# also has a subscription to the same source, the oracle: after a baseline,
# a stream of inserts, updates, deletes, rows moving between partitions, a
# TRUNCATE, and a restart of the consumer under load, laredo's mirror equals
# the subscription's table and the source, row for row.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use LaredoTest;
use LaredoCross;
use IPC::Run;

my $old = $ENV{LAREDO_CROSS_PG15};
plan skip_all => 'LAREDO_CROSS_PG15 is not set (test/run_tests.sh sets it in the PostgreSQL 18 run)'
  unless $old;

my @tables = qw(items parts nokey);

sub cross
{
	my ($label, $source_install, $consumer_install) = @_;
	my ($source, $consumer) = cross_servers($label, $source_install, $consumer_install);
	my ($sv, $cv) = ($source->pg_version->major, $consumer->pg_version->major);
	note "source on $sv, consumer on $cv";
	isnt($sv, $cv, "$label: the source ($sv) and the consumer ($cv) are different major versions");

	my $same = sub {
		my ($what) = @_;
		$consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('s', '180s')});
		$consumer->poll_query_until('postgres',
			q{SELECT count(*) = 0 FROM pg_subscription_rel WHERE srsubstate NOT IN ('r', 's')})
		  or die 'the subscription did not synchronise';
		$source->wait_for_catchup('builtin');
		for my $t (@tables)
		{
			my $order = $t eq 'nokey' ? 't::text' : $t eq 'parts' ? 'id, k' : 'id';
			my $src = table_digest($source, 'postgres', $t, $order);
			is(table_digest($consumer, 'postgres', "mirror.$t", $order), $src,
				"$label, $what: laredo's $t equals the source's");
			is(table_digest($consumer, 'postgres', "public.$t", $order), $src,
				"$label, $what: the subscription's $t equals the source's");
		}
	};
	$same->('baseline');

	my $script = cross_load_script($source);
	# (at a fixed rate: unthrottled, a fast source wrote 8,800 transactions in
	# six seconds that grow nokey, a table without a key each of whose
	# updates is found by a scan, and the catch-up after the restart took
	# minutes; the rate keeps the test's work the same on every machine)
	my $load = sub {
		my ($seconds) = @_;
		return IPC::Run::start(
			[ 'pgbench', '-n', '-c', '2', '-R', '400', '-T', $seconds, '-f', $script,
			  '-h', $source->host, '-p', $source->port, 'postgres' ],
			'>', \my $out, '2>', \my $err);
	};
	my $run = $load->(5);
	$run->finish or die "pgbench failed";
	$same->('a stream of changes');

	# a restart of the consumer while the source is written: resumes, no new copy
	$run = $load->(6);
	sleep 2;
	$consumer->restart;
	$run->finish or die "pgbench failed";
	$source->safe_psql('postgres', q{TRUNCATE nokey; INSERT INTO nokey VALUES (1, 'after truncate')});
	$same->('a consumer restart under load and a TRUNCATE');
	my $copies = () = slurp_file($consumer->logfile) =~ /baseline committed/g;
	is($copies, 1, "$label: one baseline only, the restart resumed from its position");

	# a verification across the two versions: every range settled by its hash
	# (hashtextextended and each type's text the same on both), nothing differs
	for my $t ('items', 'parts')
	{
		$consumer->safe_psql('postgres', qq{SELECT laredo.verify_pipeline('$t', chunk_rows => 300)});
		$consumer->safe_psql('postgres', qq{SELECT laredo.wait_for_verification('$t', '180s')});
		my ($result, $ranges, $hashed) = split / /, $consumer->safe_psql('postgres', qq{
			SELECT state || ',' || missing || ',' || extra || ',' || different || ',' || coalesce(error, '-')
			       || ' ' || ranges || ' ' || hashed_ranges
			FROM laredo.verifications WHERE pipeline_id = '$t' ORDER BY verification_id DESC LIMIT 1});
		is($result, 'done,0,0,0,-', "$label: $t verifies clean across the versions");
		cmp_ok($ranges, '>=', 3, "$label: $t in several ranges ($ranges)");
		is($hashed, $ranges, "$label: each of ${t}'s ranges settled by its hash alone");
	}

	$consumer->stop;
	$source->stop;
	return;
}

cross('new_to_old', undef, $old);
cross('old_to_new', $old, undef);

done_testing();
