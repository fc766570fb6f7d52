# catchup_keyless.pl, run by test/bench/catchup.sh in the PostgreSQL 18
# chroot: TAP 270's tables and load without its rate limit.  A consumer
# with laredo and a subscription to the same source is restarted under the
# load, whose updates of nokey (no key, REPLICA IDENTITY FULL: each updated
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
use IPC::Run;
use Time::HiRes qw(time usleep);

my $old = $ENV{LAREDO_CROSS_PG15};
plan skip_all => 'LAREDO_CROSS_PG15 is not set (run test/bench/catchup.sh)' unless $old;
my $seconds = $ENV{LAREDO_CATCHUP_SECONDS} // 6;
sub cross
{
	my ($label, $source_install, $consumer_install) = @_;
	my $source = source_server("source_$label", '', $source_install ? (install_path => $source_install) : ());
	my $consumer = consumer_server("consumer_$label", "max_logical_replication_workers = 8\nshared_buffers = 32MB\n",
		$consumer_install ? (install_path => $consumer_install) : ());
	my $schema = q{
		CREATE TABLE items (id int PRIMARY KEY, n int NOT NULL, v text, ts timestamptz, j jsonb, a int[], b bytea, num numeric(12,3), big text);
		CREATE TABLE parts (id int, k int, v text, PRIMARY KEY (id, k)) PARTITION BY RANGE (k);
		CREATE TABLE parts_1 PARTITION OF parts FOR VALUES FROM (0) TO (50);
		CREATE TABLE parts_2 PARTITION OF parts FOR VALUES FROM (50) TO (100);
		CREATE TABLE nokey (x int, y text);
	};
	$source->safe_psql('postgres', $schema . q{
		ALTER TABLE nokey REPLICA IDENTITY FULL;
		INSERT INTO items SELECT g, 0, 'v' || g, now(), '{}', ARRAY[g], int4send(g), g / 7.0, NULL FROM generate_series(1, 3000) g;
		INSERT INTO parts SELECT g, g % 100, 'p' || g FROM generate_series(1, 1000) g;
		INSERT INTO nokey SELECT g % 50, 'n' || g FROM generate_series(1, 200) g;
		CREATE PUBLICATION builtin FOR TABLE items, parts, nokey;
	});
	$consumer->safe_psql('postgres', $schema);
	my $connstr = $source->connstr('postgres');
	$consumer->safe_psql('postgres', qq{
		CREATE SUBSCRIPTION builtin CONNECTION \$c\$$connstr\$c\$ PUBLICATION builtin;
		CREATE EXTENSION laredo; CREATE SCHEMA mirror;
		BEGIN;
		SELECT laredo.create_source('s', connection => \$c\$$connstr\$c\$, slot_name => 'laredo_cross');
		SELECT laredo.add_table('s', 'public.' || t) FROM unnest('{items,parts,nokey}'::text[]) t;
		SELECT laredo.create_pipeline(t, 's', 'public.' || t, target => 'mirror.' || t) FROM unnest('{items,parts,nokey}'::text[]) t;
		COMMIT;
	});
	$consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('s', '180s')});
	$consumer->poll_query_until('postgres', q{SELECT count(*) = 0 FROM pg_subscription_rel WHERE srsubstate NOT IN ('r', 's')});
	my $script = $source->basedir . '/load.sql';
	open my $fh, '>', $script or die;
	print $fh q{\set id random(1, 4000)
\set k random(0, 99)
INSERT INTO items VALUES (:id, 1, 'load', now(), '{"load": true}', ARRAY[:id], '\x00ff', :id * 1.5, NULL)
  ON CONFLICT (id) DO UPDATE SET n = items.n + 1, j = items.j || '{"u": 1}', a = items.a || :k;
UPDATE items SET v = v || '+' WHERE id = :id + 1;
DELETE FROM items WHERE id = :id + 2 AND :k % 5 = 0;
UPDATE parts SET k = :k WHERE id = :id % 1000;
INSERT INTO parts VALUES (:id + 1000, :k, 'new') ON CONFLICT DO NOTHING;
DELETE FROM parts WHERE id = :id % 1000 + 1 AND :k % 7 = 0;
UPDATE nokey SET y = y || '.' WHERE x = :k % 50 AND :k % 10 = 0;
INSERT INTO nokey SELECT :k % 50, 'l' || :id WHERE :k % 4 = 0;
};
	close $fh;
	my ($out, $err);
	my $run = IPC::Run::start([ 'pgbench', '-n', '-c', '2', '-T', $seconds, '-f', $script, '-h', $source->host, '-p', $source->port, 'postgres' ], '>', \$out, '2>', \$err);
	sleep($seconds / 3);
	$consumer->restart;
	my $t0 = time;
	$run->finish;
	my $lsn = $source->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
	my $t1 = time;
	my %done;
	my %prev;
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
