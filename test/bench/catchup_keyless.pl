# catchup_keyless.pl, run by test/bench/catchup.sh in the PostgreSQL 18
# chroot: TAP 270's tables and load (test/perl/LaredoCross.pm) without its
# rate limit.  A consumer with laredo and a subscription to the same
# source is restarted under the load, whose updates of nokey (no key, REPLICA IDENTITY FULL: each updated
# row is found by a scan of the table, by both) grow with the table; the
# script prints how long each of the two took, after the load ended, to
# confirm the source's last position.  A consumer on 18 of a source on 15,
# then a consumer on 15 of a source on 18.  Timings are printed, never
# asserted.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use LaredoTest;
use LaredoCross;
use IPC::Run;
use Time::HiRes qw(time usleep);

my $old = $ENV{LAREDO_CROSS_PG15};
plan skip_all => 'LAREDO_CROSS_PG15 is not set (run test/bench/catchup.sh)' unless $old;
my $seconds = $ENV{LAREDO_CATCHUP_SECONDS} // 6;
sub cross
{
	my ($label, $source_install, $consumer_install) = @_;
	my ($source, $consumer) = cross_servers($label, $source_install, $consumer_install);
	$consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('s', '180s')});
	$consumer->poll_query_until('postgres', q{SELECT count(*) = 0 FROM pg_subscription_rel WHERE srsubstate NOT IN ('r', 's')});
	my $script = cross_load_script($source);
	my ($out, $err);
	my $run = IPC::Run::start([ 'pgbench', '-n', '-c', '2', '-T', $seconds, '-f', $script, '-h', $source->host, '-p', $source->port, 'postgres' ], '>', \$out, '2>', \$err);
	sleep($seconds / 3);
	$consumer->restart;
	$run->finish;
	my $lsn = $source->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
	my $t1 = time;
	my %done;
	while (keys %done < 2 && time - $t1 < 600)
	{
		for my $slot ('laredo_cross', 'builtin')
		{
			next if $done{$slot};
			my $c = $source->safe_psql('postgres', qq{SELECT confirmed_flush_lsn >= '$lsn' FROM pg_replication_slots WHERE slot_name = '$slot'});
			$done{$slot} = time - $t1 if $c eq 't';
		}
		usleep(200_000);
	}
	my $tx = ($out =~ /number of transactions actually processed: (\d+)/)[0] // '?';
	my $n = $source->safe_psql('postgres', 'SELECT count(*) FROM nokey');
	diag sprintf("%s (source %s, consumer %s): %s transactions, nokey %s rows; after the load ended: laredo %.1f s, built-in %.1f s",
		$label, $source->pg_version->major, $consumer->pg_version->major, $tx, $n, $done{laredo_cross} // -1, $done{builtin} // -1);
	ok(keys %done == 2, "$label: both caught up");
	$consumer->stop;
	$source->stop;
}
cross('old_to_new', $old, undef);
cross('new_to_old', undef, $old);
done_testing();
