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
use IPC::Run;

my $old = $ENV{LAREDO_CROSS_PG15};
plan skip_all => 'LAREDO_CROSS_PG15 is not set (test/run_tests.sh sets it in the PostgreSQL 18 run)'
  unless $old;

my @tables = qw(items parts nokey);

sub cross
{
	my ($label, $source_install, $consumer_install) = @_;
	my $source = source_server("source_$label", '',
		$source_install ? (install_path => $source_install) : ());
	# (a table without a key is searched row by row, by both consumers:
	# more than the 1 MB of shared buffers the test servers have by default)
	my $consumer = consumer_server("consumer_$label", "max_logical_replication_workers = 8\nshared_buffers = 32MB\n",
		$consumer_install ? (install_path => $consumer_install) : ());
	my ($sv, $cv) = ($source->pg_version->major, $consumer->pg_version->major);
	note "source on $sv, consumer on $cv";
	isnt($sv, $cv, "$label: the source ($sv) and the consumer ($cv) are different major versions");

	my $schema = q{
		CREATE TABLE items (id int PRIMARY KEY, n int NOT NULL, v text, ts timestamptz, j jsonb,
		                    a int[], b bytea, num numeric(12,3), big text);
		CREATE TABLE parts (id int, k int, v text, PRIMARY KEY (id, k)) PARTITION BY RANGE (k);
		CREATE TABLE parts_1 PARTITION OF parts FOR VALUES FROM (0) TO (50);
		CREATE TABLE parts_2 PARTITION OF parts FOR VALUES FROM (50) TO (100);
		CREATE TABLE nokey (x int, y text);
	};
	$source->safe_psql('postgres', $schema . q{
		ALTER TABLE nokey REPLICA IDENTITY FULL;
		INSERT INTO items SELECT g, 0, 'v' || g, '2026-01-01 00:00+00'::timestamptz + g * interval '1 min',
		       jsonb_build_object('g', g, 'l', jsonb_build_array(g, 'x')), ARRAY[g, -g], int4send(g),
		       g / 7.0, CASE WHEN g % 500 = 0 THEN repeat(md5(g::text), 400) END
		FROM generate_series(1, 3000) g;
		INSERT INTO parts SELECT g, g % 100, 'p' || g FROM generate_series(1, 1000) g;
		INSERT INTO nokey SELECT g % 50, 'n' || g FROM generate_series(1, 200) g;
		CREATE PUBLICATION builtin FOR TABLE items, parts, nokey;
	});
	# the oracle: a subscription into tables of the source's names
	$consumer->safe_psql('postgres', $schema);
	my $connstr = $source->connstr('postgres');
	$consumer->safe_psql('postgres', qq{
		CREATE SUBSCRIPTION builtin CONNECTION \$c\$$connstr\$c\$ PUBLICATION builtin;
		CREATE EXTENSION laredo;
		CREATE SCHEMA mirror;
		BEGIN;
		SELECT laredo.create_source('s', connection => \$c\$$connstr\$c\$, slot_name => 'laredo_cross');
		SELECT laredo.add_table('s', 'public.' || t) FROM unnest('{items,parts,nokey}'::text[]) t;
		SELECT laredo.create_pipeline(t, 's', 'public.' || t, target => 'mirror.' || t)
		FROM unnest('{items,parts,nokey}'::text[]) t;
		COMMIT;
	});

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
