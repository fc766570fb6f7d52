# LaredoCross: the servers, tables and load of a consumer and its source of
# different major versions, shared by test/t/270_cross_version.pl and
# test/bench/catchup_keyless.pl.  A source with three tables (items: many
# types and a TOASTed value; parts: partitioned, published partition by
# partition; nokey: no key, REPLICA IDENTITY FULL), and a consumer that
# mirrors them twice: laredo (source "s", slot laredo_cross, mirrors in
# schema mirror) and the oracle, a subscription ("builtin") into tables of
# the source's names.
package LaredoCross;

use strict;
use warnings;
use LaredoTest;
use Exporter 'import';

our @EXPORT = qw(cross_servers cross_load_script);

# cross_servers($label, $source_install, $consumer_install): the source and
# the consumer (each in that installation, or this suite's), set up as above
sub cross_servers
{
	my ($label, $source_install, $consumer_install) = @_;
	my $source = source_server("source_$label", '',
		$source_install ? (install_path => $source_install) : ());
	# (a table without a key is searched row by row, by both consumers:
	# more than the 1 MB of shared buffers the test servers have by default)
	my $consumer = consumer_server("consumer_$label", "max_logical_replication_workers = 8\nshared_buffers = 32MB\n",
		$consumer_install ? (install_path => $consumer_install) : ());
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
	return ($source, $consumer);
}

# cross_load_script($source): a pgbench script of inserts, updates, deletes
# of the three tables (rows moving between partitions; nokey growing, each
# of its updates many rows), written in the source's directory; its path
sub cross_load_script
{
	my ($source) = @_;
	my $script = $source->basedir . '/load.sql';
	open my $fh, '>', $script or die "could not write $script: $!";
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
	return $script;
}

1;
