# LaredoOracle: PostgreSQL's own subscriber as the reference for laredo.
#
# One source server and two consumers: "builtin" runs CREATE SUBSCRIPTION,
# "laredo" runs laredo.  A scenario is a set of source tables, the target DDL
# both consumers get (identical: same names, partitioning, triggers), the
# laredo sources and pipelines, and a workload generator.  For one seed, every
# scenario gets its own schema, publication, subscription and laredo source in
# one database per server; the initial copies run side by side, then each
# scenario's workload runs in turn while the others idle.  After the initial
# copy, at every barrier of a workload (DDL, rows deleted behind the
# consumers' backs) and at its end, both consumers are caught up to the
# source's WAL position and compared table by table: the rows as text, in the
# order of the whole row, and the state of the targets' sequences.  Where the
# built-in fails (its apply or sync worker errors; the subscription is
# created with disable_on_error), laredo must fail too: "both fail alike"
# passes; one failing and not the other fails, with both error texts.
#
# Everything a seed does follows from the seed and the scenario's name (its
# own random stream, an xorshift in pure Perl: nothing else in the process can
# disturb it), so one scenario of one seed is replayed alone with
#   LAREDO_ORACLE_SEEDS=<seed> LAREDO_ORACLE_SCENARIOS=<name> LAREDO_ORACLE_STEPS=<n>
# and the same workload runs again.  Row picks are made on the source, in
# SQL, by position in key order, so they depend only on the source's rows.
#
# Knobs (environment): LAREDO_ORACLE_SEEDS (comma list, default 1,2,3),
# LAREDO_ORACLE_SCENARIOS (comma list, default all), LAREDO_ORACLE_STEPS
# (transactions per scenario, default 40), LAREDO_ORACLE_TIMEOUT (seconds a
# catch-up may take, default 60), LAREDO_ORACLE_PUBMODE (shared or managed:
# force laredo's publication mode instead of the seed's choice).  To look
# into a failure: LAREDO_ORACLE_KEEP=1 with PG_TEST_NOCLEAN=1 keeps the
# databases (subscriptions and sources disabled) in the servers' data
# directories under tmp_check; LAREDO_ORACLE_SABOTAGE=1 deletes a row of
# laredo's first table before the last comparison, which must then fail;
# LAREDO_ORACLE_HARNESS_ONLY=1 leaves laredo out and checks the harness
# alone: the built-in against the source, and failing where it should.
package LaredoOracle;

use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use LaredoTest;

###########################################################################
# A random stream per (seed, scenario, purpose): xorshift32, 32-bit state.
###########################################################################

package LaredoOracle::Rng;

sub new
{
	my ($class, @parts) = @_;
	# FNV-1a of the parts: the stream depends on nothing else
	my $h = 2166136261;
	for my $c (split //, join("\0", @parts))
	{
		$h ^= ord($c);
		$h = ($h * 16777619) & 0xFFFFFFFF;
	}
	my $self = bless { x => ($h || 0x9E3779B9) }, $class;
	$self->next for 1 .. 8;
	return $self;
}

sub next
{
	my ($self) = @_;
	my $x = $self->{x};
	$x ^= ($x << 13) & 0xFFFFFFFF;
	$x ^= $x >> 17;
	$x ^= ($x << 5) & 0xFFFFFFFF;
	return $self->{x} = $x;
}

# an integer in [0, n)
sub int { my ($self, $n) = @_; return $self->next % $n; }
sub chance { my ($self, $p) = @_; return $self->next / 4294967296 < $p; }
sub pick { my ($self, @l) = @_; return $l[ $self->int(scalar @l) ]; }

# weighted choice: ([weight, value], ...)
sub weighted
{
	my ($self, @choices) = @_;
	my $total = 0;
	$total += $_->[0] for @choices;
	my $n = $self->int($total);
	for my $c (@choices)
	{
		return $c->[1] if $n < $c->[0];
		$n -= $c->[0];
	}
	return $choices[-1][1];
}

package LaredoOracle;

###########################################################################
# Values, as SQL expressions evaluated on the source.
###########################################################################

sub lit
{
	my ($s) = @_;
	return 'NULL' unless defined $s;
	$s =~ s/'/''/g;
	return "'$s'";
}

my @TEXTS = ('', 'plain', "it's", 'back\\slash', "tab\there", "new\nline", "\x{c3}\x{bc}n\x{c3}\x{af}c\x{c3}\x{b6}d\x{c3}\x{a9} \x{e2}\x{9c}\x{93}",
	'"double"', 'NULL', ' lead and trail ', '{1,2}', '(a,b)', 'x' x 300);

sub txt
{
	my ($r) = @_;
	return 'NULL' if $r->chance(0.08);
	return lit($r->pick(@TEXTS) . ($r->chance(0.6) ? ' ' . $r->int(100000) : ''));
}

sub num
{
	my ($r) = @_;
	return $r->pick('NULL', "'NaN'::numeric", '0', '-1.5', '123456789012345678901234567890.123456789',
		'0.000001', $r->int(1000000) . '.' . $r->int(100), '-' . $r->int(1000));
}

sub ts
{
	my ($r) = @_;
	return $r->pick('NULL', "'infinity'::timestamptz", "'-infinity'::timestamptz",
		"'2024-02-29 12:34:56.789012+00'::timestamptz + interval '" . $r->int(100000000) . " seconds'",
		"'1999-12-31 23:59:59+05:30'::timestamptz");
}

sub js
{
	my ($r) = @_;
	return $r->pick('NULL', q{'null'::jsonb}, q{'[]'::jsonb},
		"jsonb_build_object('k', " . $r->int(100000) . ", 'a', jsonb_build_array(1, 2.50, NULL, true), 't', "
		  . txt($r) . ')');
}

sub bytes
{
	my ($r) = @_;
	return $r->pick('NULL', q{'\x'::bytea}, "decode(md5('" . $r->int(100000) . "'), 'hex')");
}

# a value big enough to be TOASTed out of line (md5 strings: incompressible
# to pglz), 3 to 25 kB
sub big
{
	my ($r) = @_;
	return 'NULL' if $r->chance(0.1);
	my $k = $r->int(1000000);
	return "(SELECT string_agg(md5(g::text || ':$k'), '') FROM generate_series(1, " . (100 + $r->int(700)) . ') g)';
}

sub bigbytes
{
	my ($r) = @_;
	return 'NULL' if $r->chance(0.2);
	my $k = $r->int(1000000);
	return "(SELECT decode(string_agg(md5(g::text || ':$k'), ''), 'hex') FROM generate_series(1, "
	  . (100 + $r->int(400)) . ') g)';
}

# An SQL expression: the key of a row of $table picked by position in key
# order ($order: the key columns), or NULL when it is empty.
sub pick_row
{
	my ($r, $table, $col, $order) = @_;
	$order //= $col;
	my $k = $r->int(1000000);
	return "(SELECT $col FROM $table ORDER BY $order OFFSET $k % greatest((SELECT count(*) FROM $table), 1) LIMIT 1)";
}

# A statement the source may refuse because the table has no replica
# identity and is published for updates or deletes (the built-in's own
# rule): the refusal is caught and the workload goes on.
sub may_fail
{
	my ($sql) = @_;
	return "DO \$mf\$ BEGIN $sql; EXCEPTION WHEN object_not_in_prerequisite_state THEN NULL; END \$mf\$";
}

# Fresh keys: distinct, spread over [1, 100003] (a prime), so that they
# land in every partition.
sub fresh_id
{
	my ($ctx) = @_;
	my $k = ++$ctx->{fresh};
	return ($k * 7919) % 100003 + 1;
}

# A key handed out before (its row may exist or not): for inserts that may
# conflict.  Never one fresh_id will hand out later.
sub any_id
{
	my ($ctx, $r) = @_;
	my $k = 1 + $r->int($ctx->{fresh} || 1);
	return ($k * 7919) % 100003 + 1;
}

# $n transactions, each of 1 to 4 operations from $op->($r) (one SQL
# statement, or several that belong together).  Some roll a savepoint
# back, some roll back whole, some run without BEGIN.
sub txns
{
	my ($r, $n, $op) = @_;
	my @out;
	for (1 .. $n)
	{
		my $ops = sub { return map { my @s = $op->($r); @s } 1 .. 1 + $r->int(4) };
		my $shape = $r->int(100);
		my @sql;
		if ($shape < 8)
		{
			@sql = ('BEGIN', $ops->(), 'SAVEPOINT sp', $ops->(), 'ROLLBACK TO SAVEPOINT sp', $ops->(), 'COMMIT');
		}
		elsif ($shape < 12)
		{
			@sql = ('BEGIN', $ops->(), 'ROLLBACK');
		}
		elsif ($shape < 16)
		{
			@sql = ($op->($r));    # autocommit
		}
		else
		{
			@sql = ('BEGIN', $ops->(), 'COMMIT');
		}
		push @out, { sql => join('', map { "$_;\n" } @sql) };
	}
	return @out;
}

# $steps transactions split into $parts blocks: the sizes of the blocks.
sub split_steps
{
	my ($steps, $parts) = @_;
	my @sizes = map { int($steps / $parts) } 1 .. $parts;
	$sizes[$_] += 1 for 0 .. ($steps % $parts) - 1;
	return map { $_ < 1 ? 1 : $_ } @sizes;
}

###########################################################################
# The scenario catalogue.
#
# name          schema on every server, laredo source id, suffix of the
#               publication (pub_<name>) and subscription (sub_<name>)
# source_ddl    the source's tables (the schema is created for it)
# target_ddl    the same on both consumers (default: source_ddl)
# pub_tables    the publication's FOR TABLE list
# via_root      publish_via_partition_root (publication and laredo source)
# laredo        the tables laredo adds, each with a pipeline into the table
#               of the same name on its consumer
# initial       rows on the source before either consumer starts
# workload      ($r, $ctx, $steps) -> items: {sql}, {sync}, {ddl => {targets,
#               source}}, {behind => sql for both consumers}
# skip_compare  tables of the consumers not compared as they are
# compare       extra comparisons: [label, laredo sql, builtin sql] (rows as
#               one text column)
# source_equal  the harness's own check: [label, builtin sql, source sql]
#               that must be equal whenever the built-in is healthy
# builtin_fails the built-in is known to fail here (the harness checks it
#               does: otherwise the scenario does not test what it says)
###########################################################################

my @SCENARIOS;

sub scenario { my %s = @_; push @SCENARIOS, \%s; return; }

sub scenarios { return @SCENARIOS; }

# --- plain: a primary key table of many types with TOASTed values -------
scenario(
	name => 'plain',
	source_ddl => q{
		CREATE TABLE plain.p (id int PRIMARY KEY, t text, n numeric, ts timestamptz, j jsonb, b bytea,
		                      big text, bigb bytea);
		ALTER TABLE plain.p ALTER COLUMN big SET STORAGE EXTERNAL;
		CREATE TABLE plain.c (k1 int, k2 text, v int, w text, PRIMARY KEY (k1, k2));
	},
	pub_tables => 'plain.p, plain.c',
	laredo => [ 'plain.p', 'plain.c' ],
	initial => sub {
		my ($r, $ctx) = @_;
		my @s;
		for (1 .. 40)
		{
			push @s, sprintf('INSERT INTO plain.p VALUES (%d, %s, %s, %s, %s, %s, %s, %s)',
				fresh_id($ctx), txt($r), num($r), ts($r), js($r), bytes($r), big($r), bigbytes($r));
		}
		push @s, sprintf("INSERT INTO plain.c VALUES (%d, %s, %d, %s)", $r->int(20), lit('k' . $_), $r->int(100), txt($r))
		  for 1 .. 20;
		return @s;
	},
	workload => sub {
		my ($r, $ctx, $steps) = @_;
		my $p = sub { pick_row($_[0], 'plain.p', 'id') };
		my $op = sub {
			my ($r) = @_;
			return $r->weighted(
				[ 10, sub { sprintf('INSERT INTO plain.p VALUES (%d, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING',
						fresh_id($ctx), txt($r), num($r), ts($r), js($r), bytes($r), big($r), bigbytes($r)) } ],
				[ 4, sub { sprintf('INSERT INTO plain.p (id, t, n) VALUES (%d, %s, %s) ON CONFLICT (id) DO UPDATE SET t = EXCLUDED.t, n = EXCLUDED.n',
						any_id($ctx, $r), txt($r), num($r)) } ],
				[ 12, sub { sprintf('UPDATE plain.p SET t = %s, n = %s WHERE id = %s', txt($r), num($r), $p->($r)) } ],
				[ 6, sub { sprintf('UPDATE plain.p SET ts = %s, j = %s, b = %s WHERE id = %s', ts($r), js($r), bytes($r), $p->($r)) } ],
				[ 5, sub { sprintf('UPDATE plain.p SET big = %s WHERE id = %s', big($r), $p->($r)) } ],
				[ 3, sub { sprintf('UPDATE plain.p SET bigb = %s, big = big WHERE id = %s', bigbytes($r), $p->($r)) } ],
				[ 6, sub { sprintf('UPDATE plain.p SET id = %d WHERE id = %s', fresh_id($ctx), $p->($r)) } ],
				[ 4, sub { sprintf('UPDATE plain.p SET id = %d, t = %s WHERE id = %s', fresh_id($ctx), txt($r), $p->($r)) } ],
				[ 3, sub {
					my ($a, $b) = ($p->($r), $p->($r));
					"DO \$\$ DECLARE _a int := $a; _b int := $b; BEGIN IF _a <> _b THEN "
					  . 'UPDATE plain.p SET id = -_a WHERE id = _a; UPDATE plain.p SET id = _a WHERE id = _b; '
					  . 'UPDATE plain.p SET id = _b WHERE id = -_a; END IF; END $$';
				} ],
				[ 3, sub { sprintf('UPDATE plain.p SET n = n + 1, t = t || %s WHERE id %% 7 = %d', lit('+'), $r->int(7)) } ],
				[ 6, sub { sprintf('DELETE FROM plain.p WHERE id = %s', $p->($r)) } ],
				[ 1, sub { sprintf('DELETE FROM plain.p WHERE id %% 11 = %d', $r->int(11)) } ],
				[ 1, sub { ('TRUNCATE plain.p',
						sprintf('INSERT INTO plain.p (id, t, big) VALUES (%d, %s, %s)', fresh_id($ctx), txt($r), big($r))) } ],
				[ 5, sub { sprintf('INSERT INTO plain.c VALUES (%d, %s, %d, %s) ON CONFLICT DO NOTHING',
						$r->int(20), lit('k' . $r->int(100)), $r->int(100), txt($r)) } ],
				[ 4, sub { sprintf('UPDATE plain.c SET v = v + 1, w = %s WHERE (k1, k2) = (SELECT k1, k2 FROM plain.c ORDER BY k1, k2 OFFSET %d %% greatest((SELECT count(*) FROM plain.c), 1) LIMIT 1)',
						txt($r), $r->int(1000)) } ],
				[ 3, sub { sprintf('UPDATE plain.c SET k2 = k2 || %s WHERE (k1, k2) = (SELECT k1, k2 FROM plain.c ORDER BY k1, k2 OFFSET %d %% greatest((SELECT count(*) FROM plain.c), 1) LIMIT 1)',
						lit('.' . $r->int(1000)), $r->int(1000)) } ],
				[ 2, sub { sprintf('DELETE FROM plain.c WHERE k1 = %d', $r->int(20)) } ],
			)->();
		};
		return txns($r, $steps, $op);
	},
	source_equal => [ [ 'plain.p', 'SELECT t::text FROM plain.p t', 'SELECT t::text FROM plain.p t' ],
		[ 'plain.c', 'SELECT t::text FROM plain.c t', 'SELECT t::text FROM plain.c t' ] ],
);

# --- dup: REPLICA IDENTITY FULL without a key, duplicate rows -----------
scenario(
	name => 'full_nokey',
	source_ddl => q{
		CREATE TABLE full_nokey.d (a int, b text, c numeric, big text);
		ALTER TABLE full_nokey.d REPLICA IDENTITY FULL;
	},
	pub_tables => 'full_nokey.d',
	laredo => ['full_nokey.d'],
	initial => sub {
		my ($r, $ctx) = @_;
		return map { sprintf('INSERT INTO full_nokey.d VALUES (%d, %s, %s, %s)', $r->int(15), $r->pick(q{'x'}, q{'y'}, 'NULL'),
				$r->pick('1', '2', 'NULL'), $r->chance(0.2) ? big($r) : 'NULL') } 1 .. 40;
	},
	workload => sub {
		my ($r, $ctx, $steps) = @_;
		my $one = sub {
			my ($r) = @_;
			"(SELECT ctid FROM full_nokey.d ORDER BY a, b, c, md5(big) OFFSET " . $r->int(1000)
			  . ' % greatest((SELECT count(*) FROM full_nokey.d), 1) LIMIT 1)';
		};
		my $op = sub {
			my ($r) = @_;
			return $r->weighted(
				[ 8, sub { sprintf('INSERT INTO full_nokey.d VALUES (%d, %s, %s, %s)', $r->int(15), $r->pick(q{'x'}, q{'y'}, 'NULL'),
						$r->pick('1', '2', 'NULL'), $r->chance(0.2) ? big($r) : 'NULL') } ],
				[ 5, sub { 'INSERT INTO full_nokey.d SELECT * FROM full_nokey.d ORDER BY a, b, c, md5(big) OFFSET '
					  . $r->int(1000) . ' % greatest((SELECT count(*) FROM full_nokey.d), 1) LIMIT 1' } ],
				[ 8, sub { sprintf('UPDATE full_nokey.d SET c = coalesce(c, 0) + 1 WHERE ctid = %s', $one->($r)) } ],
				[ 3, sub { sprintf('UPDATE full_nokey.d SET b = %s WHERE ctid = %s', $r->pick(q{'x'}, q{'z'}, 'NULL'), $one->($r)) } ],
				[ 2, sub { sprintf('UPDATE full_nokey.d SET big = %s WHERE ctid = %s', big($r), $one->($r)) } ],
				[ 3, sub { sprintf('UPDATE full_nokey.d SET c = 7 WHERE a = %d', $r->int(15)) } ],
				[ 6, sub { sprintf('DELETE FROM full_nokey.d WHERE ctid = %s', $one->($r)) } ],
				[ 2, sub { sprintf('DELETE FROM full_nokey.d WHERE a = %d', $r->int(15)) } ],
				[ 1, sub { 'TRUNCATE full_nokey.d' } ],
			)->();
		};
		return txns($r, $steps, $op);
	},
	source_equal => [ [ 'full_nokey.d', 'SELECT t::text FROM full_nokey.d t', 'SELECT t::text FROM full_nokey.d t' ] ],
);

# --- REPLICA IDENTITY USING INDEX ---------------------------------------
scenario(
	name => 'ri_index',
	source_ddl => q{
		CREATE TABLE ri_index.u (id int PRIMARY KEY, code text NOT NULL, v text, n int);
		CREATE UNIQUE INDEX u_code ON ri_index.u (code);
		ALTER TABLE ri_index.u REPLICA IDENTITY USING INDEX u_code;
	},
	pub_tables => 'ri_index.u',
	laredo => ['ri_index.u'],
	initial => sub {
		my ($r, $ctx) = @_;
		return map { my $id = fresh_id($ctx); sprintf("INSERT INTO ri_index.u VALUES (%d, 'c%d', %s, %d)", $id, $id, txt($r), $r->int(9)) } 1 .. 30;
	},
	workload => sub {
		my ($r, $ctx, $steps) = @_;
		my $pc = sub { pick_row($_[0], 'ri_index.u', 'code') };
		my $op = sub {
			my ($r) = @_;
			return $r->weighted(
				[ 8, sub { my $id = fresh_id($ctx); sprintf("INSERT INTO ri_index.u VALUES (%d, 'c%d', %s, %d)", $id, $id, txt($r), $r->int(9)) } ],
				[ 8, sub { sprintf('UPDATE ri_index.u SET v = %s, n = n + 1 WHERE code = %s', txt($r), $pc->($r)) } ],
				[ 5, sub { sprintf("UPDATE ri_index.u SET code = 'c%d' WHERE code = %s", fresh_id($ctx), $pc->($r)) } ],
				[ 4, sub { sprintf('UPDATE ri_index.u SET id = %d WHERE code = %s', fresh_id($ctx), $pc->($r)) } ],
				[ 2, sub {
					my ($a, $b) = ($pc->($r), $pc->($r));
					"DO \$\$ DECLARE _a text := $a; _b text := $b; BEGIN IF _a <> _b THEN "
					  . "UPDATE ri_index.u SET code = 'swap' WHERE code = _a; UPDATE ri_index.u SET code = _a WHERE code = _b; "
					  . "UPDATE ri_index.u SET code = _b WHERE code = 'swap'; END IF; END \$\$";
				} ],
				[ 2, sub { sprintf('UPDATE ri_index.u SET n = n * 2 WHERE n = %d', $r->int(9)) } ],
				[ 5, sub { sprintf('DELETE FROM ri_index.u WHERE code = %s', $pc->($r)) } ],
			)->();
		};
		return txns($r, $steps, $op);
	},
	source_equal => [ [ 'ri_index.u', 'SELECT t::text FROM ri_index.u t', 'SELECT t::text FROM ri_index.u t' ] ],
);

# --- REPLICA IDENTITY NOTHING, and no key at all -------------------------
scenario(
	name => 'ri_nothing',
	source_ddl => q{
		CREATE TABLE ri_nothing.n (id int PRIMARY KEY, v text);
		ALTER TABLE ri_nothing.n REPLICA IDENTITY NOTHING;
		CREATE TABLE ri_nothing.k (a int, b text);
	},
	pub_tables => 'ri_nothing.n, ri_nothing.k',
	laredo => [ 'ri_nothing.n', 'ri_nothing.k' ],
	initial => sub {
		my ($r, $ctx) = @_;
		return ((map { sprintf('INSERT INTO ri_nothing.n VALUES (%d, %s)', fresh_id($ctx), txt($r)) } 1 .. 20),
			(map { sprintf('INSERT INTO ri_nothing.k VALUES (%d, %s)', $r->int(10), txt($r)) } 1 .. 20));
	},
	workload => sub {
		my ($r, $ctx, $steps) = @_;
		my $op = sub {
			my ($r) = @_;
			return $r->weighted(
				[ 8, sub { sprintf('INSERT INTO ri_nothing.n VALUES (%d, %s)', fresh_id($ctx), txt($r)) } ],
				[ 8, sub { sprintf('INSERT INTO ri_nothing.k VALUES (%d, %s)', $r->int(10), txt($r)) } ],
				# refused by the source (published for updates, no identity)
				[ 4, sub { may_fail(sprintf('UPDATE ri_nothing.n SET v = %s WHERE id = %s', txt($r), pick_row($r, 'ri_nothing.n', 'id'))) } ],
				[ 3, sub { may_fail(sprintf('DELETE FROM ri_nothing.k WHERE a = %d', $r->int(10))) } ],
				[ 1, sub { 'TRUNCATE ri_nothing.k' } ],
				[ 1, sub { 'TRUNCATE ri_nothing.n, ri_nothing.k' } ],
			)->();
		};
		return txns($r, $steps, $op);
	},
	source_equal => [ [ 'ri_nothing.n', 'SELECT t::text FROM ri_nothing.n t', 'SELECT t::text FROM ri_nothing.n t' ],
		[ 'ri_nothing.k', 'SELECT t::text FROM ri_nothing.k t', 'SELECT t::text FROM ri_nothing.k t' ] ],
);

# --- partitioned tables ---------------------------------------------------
# Every partitioned source table has the same columns; the generator knows
# its partition key and the leaves it may truncate alone.
sub part_workload
{
	my (%o) = @_;
	my $t = $o{table};
	my $list = $o{list};    # list partitioned on region: key (id, region)
	return sub {
		my ($r, $ctx, $steps) = @_;
		my $p = sub { pick_row($_[0], $t, 'id') };
		my $region = sub { lit($_[0]->pick('a', 'b', 'c', 'd', 'e')) };
		my $ins = sub {
			my ($r, $id) = @_;
			return sprintf('INSERT INTO %s SELECT %d, %s, %s, %d, %s WHERE NOT EXISTS (SELECT FROM %s WHERE id = %d)',
				$t, $id, $region->($r), txt($r), $r->int(100), $r->chance(0.3) ? big($r) : 'NULL', $t, $id);
		};
		my @ops = (
			[ 10, sub { $ins->($_[0], fresh_id($ctx)) } ],
			[ 2, sub { $ins->($_[0], any_id($ctx, $_[0])) } ],
			[ 8, sub { sprintf('UPDATE %s SET v = %s, n = n + 1 WHERE id = %s', $t, txt($_[0]), $p->($_[0])) } ],
			[ 3, sub { sprintf('UPDATE %s SET big = %s WHERE id = %s', $t, big($_[0]), $p->($_[0])) } ],
			# moves the row to another partition (of the source or the target)
			[ 6, sub { sprintf('UPDATE %s SET id = %d WHERE id = %s', $t, fresh_id($ctx), $p->($_[0])) } ],
			[ 5, sub { sprintf('UPDATE %s SET region = %s, v = %s WHERE id = %s', $t, $region->($_[0]), txt($_[0]), $p->($_[0])) } ],
			[ 2, sub { sprintf('UPDATE %s SET n = n + 10 WHERE id %% 5 = %d', $t, $_[0]->int(5)) } ],
			[ 5, sub { sprintf('DELETE FROM %s WHERE id = %s', $t, $p->($_[0])) } ],
			[ 1, sub { sprintf('DELETE FROM %s WHERE region = %s', $t, $region->($_[0])) } ],
			[ 1, sub { ("TRUNCATE $t", $ins->($_[0], fresh_id($ctx))) } ],
		);
		push @ops, [ 2, sub { 'TRUNCATE ' . $_[0]->pick(@{ $o{leaves} }) } ] if $o{leaves};
		my $op = sub { my ($r) = @_; return $r->weighted(@ops)->($r); };
		return txns($r, $steps, $op);
	};
}

sub part_initial
{
	my ($t) = @_;
	return sub {
		my ($r, $ctx) = @_;
		return map {
			sprintf('INSERT INTO %s VALUES (%d, %s, %s, %d, %s)', $t, fresh_id($ctx), lit($r->pick('a', 'b', 'c', 'd', 'e')),
				txt($r), $r->int(100), $r->chance(0.3) ? big($r) : 'NULL')
		} 1 .. 40;
	};
}

my $COLS = 'id int NOT NULL, region text NOT NULL, v text, n int, big text';

my $RANGE_SOURCE = qq{
	CREATE TABLE %s.r ($COLS, PRIMARY KEY (id)) PARTITION BY RANGE (id);
	CREATE TABLE %s.r_1 PARTITION OF %s.r FOR VALUES FROM (MINVALUE) TO (30000);
	CREATE TABLE %s.r_2 PARTITION OF %s.r FOR VALUES FROM (30000) TO (60000) PARTITION BY HASH (id);
	CREATE TABLE %s.r_2_0 PARTITION OF %s.r_2 FOR VALUES WITH (MODULUS 2, REMAINDER 0);
	CREATE TABLE %s.r_2_1 PARTITION OF %s.r_2 FOR VALUES WITH (MODULUS 2, REMAINDER 1);
	CREATE TABLE %s.r_def PARTITION OF %s.r DEFAULT;
};
sub range_source { my ($s) = @_; return sprintf($RANGE_SOURCE, ($s) x 11); }

my $LIST_SOURCE = qq{
	CREATE TABLE %s.l ($COLS, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
	CREATE TABLE %s.l_ab PARTITION OF %s.l FOR VALUES IN ('a', 'b');
	CREATE TABLE %s.l_c PARTITION OF %s.l FOR VALUES IN ('c');
	CREATE TABLE %s.l_def PARTITION OF %s.l DEFAULT;
};
sub list_source { my ($s) = @_; return sprintf($LIST_SOURCE, ($s) x 7); }

my $HASH_SOURCE = qq{
	CREATE TABLE %s.h ($COLS, PRIMARY KEY (id)) PARTITION BY HASH (id);
	CREATE TABLE %s.h_0 PARTITION OF %s.h FOR VALUES WITH (MODULUS 3, REMAINDER 0);
	CREATE TABLE %s.h_1 PARTITION OF %s.h FOR VALUES WITH (MODULUS 3, REMAINDER 1);
	CREATE TABLE %s.h_2 PARTITION OF %s.h FOR VALUES WITH (MODULUS 3, REMAINDER 2);
};
sub hash_source { my ($s) = @_; return sprintf($HASH_SOURCE, ($s) x 7); }

# range source published leaf by leaf (two levels: r_2 is hash partitioned),
# targets partitioned like the source; leaves truncated alone
scenario(
	name => 'part_range_leaf',
	source_ddl => range_source('part_range_leaf'),
	pub_tables => 'part_range_leaf.r',
	via_root => 0,
	laredo => ['part_range_leaf.r'],
	initial => part_initial('part_range_leaf.r'),
	workload => part_workload(table => 'part_range_leaf.r',
		leaves => [ map { "part_range_leaf.$_" } qw(r_1 r_2_0 r_2_1 r_def) ]),
	source_equal => [ [ 'part_range_leaf.r', 'SELECT t::text FROM part_range_leaf.r t', 'SELECT t::text FROM part_range_leaf.r t' ] ],
);

# range source published via its root into a plain target
scenario(
	name => 'part_range_root',
	source_ddl => range_source('part_range_root'),
	target_ddl => "CREATE TABLE part_range_root.r ($COLS, PRIMARY KEY (id));",
	pub_tables => 'part_range_root.r',
	via_root => 1,
	laredo => ['part_range_root.r'],
	initial => part_initial('part_range_root.r'),
	workload => part_workload(table => 'part_range_root.r'),
	source_equal => [ [ 'part_range_root.r', 'SELECT t::text FROM part_range_root.r t', 'SELECT t::text FROM part_range_root.r t' ] ],
);

# list source via its root into a target hash partitioned on another column
scenario(
	name => 'part_list_root',
	source_ddl => list_source('part_list_root'),
	target_ddl => qq{
		CREATE TABLE part_list_root.l ($COLS, PRIMARY KEY (id, region)) PARTITION BY HASH (id);
		CREATE TABLE part_list_root.l_h0 PARTITION OF part_list_root.l FOR VALUES WITH (MODULUS 4, REMAINDER 0);
		CREATE TABLE part_list_root.l_h1 PARTITION OF part_list_root.l FOR VALUES WITH (MODULUS 4, REMAINDER 1);
		CREATE TABLE part_list_root.l_h2 PARTITION OF part_list_root.l FOR VALUES WITH (MODULUS 4, REMAINDER 2);
		CREATE TABLE part_list_root.l_h3 PARTITION OF part_list_root.l FOR VALUES WITH (MODULUS 4, REMAINDER 3);
	},
	pub_tables => 'part_list_root.l',
	via_root => 1,
	laredo => ['part_list_root.l'],
	initial => part_initial('part_list_root.l'),
	workload => part_workload(table => 'part_list_root.l', list => 1),
	source_equal => [ [ 'part_list_root.l', 'SELECT t::text FROM part_list_root.l t', 'SELECT t::text FROM part_list_root.l t' ] ],
);

# list source leaf by leaf; on the targets each leaf is itself hash
# partitioned (the built-in routes into a partitioned table of the leaf's
# name)
scenario(
	name => 'part_list_leaf',
	source_ddl => list_source('part_list_leaf'),
	target_ddl => qq{
		CREATE TABLE part_list_leaf.l ($COLS, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
		CREATE TABLE part_list_leaf.l_ab PARTITION OF part_list_leaf.l FOR VALUES IN ('a', 'b') PARTITION BY HASH (id);
		CREATE TABLE part_list_leaf.l_ab_0 PARTITION OF part_list_leaf.l_ab FOR VALUES WITH (MODULUS 2, REMAINDER 0);
		CREATE TABLE part_list_leaf.l_ab_1 PARTITION OF part_list_leaf.l_ab FOR VALUES WITH (MODULUS 2, REMAINDER 1);
		CREATE TABLE part_list_leaf.l_c PARTITION OF part_list_leaf.l FOR VALUES IN ('c') PARTITION BY HASH (id);
		CREATE TABLE part_list_leaf.l_c_0 PARTITION OF part_list_leaf.l_c FOR VALUES WITH (MODULUS 2, REMAINDER 0);
		CREATE TABLE part_list_leaf.l_c_1 PARTITION OF part_list_leaf.l_c FOR VALUES WITH (MODULUS 2, REMAINDER 1);
		CREATE TABLE part_list_leaf.l_def PARTITION OF part_list_leaf.l DEFAULT;
	},
	pub_tables => 'part_list_leaf.l',
	via_root => 0,
	laredo => ['part_list_leaf.l'],
	initial => part_initial('part_list_leaf.l'),
	workload => part_workload(table => 'part_list_leaf.l', list => 1,
		leaves => [ map { "part_list_leaf.$_" } qw(l_ab l_c l_def) ]),
	source_equal => [ [ 'part_list_leaf.l', 'SELECT t::text FROM part_list_leaf.l t', 'SELECT t::text FROM part_list_leaf.l t' ] ],
);

# hash source leaf by leaf into a plain target: the built-in fills tables
# named like the source's leaves (plain ones here), laredo the root's
# pipeline target; laredo's root is compared with the union of the
# built-in's leaves.  No leaf is truncated alone: the built-in empties the
# table of that name, which a plain target does not have.
scenario(
	name => 'part_hash_leaf',
	source_ddl => hash_source('part_hash_leaf'),
	target_ddl => join('', map { "CREATE TABLE part_hash_leaf.$_ ($COLS, PRIMARY KEY (id));\n" } qw(h h_0 h_1 h_2)),
	pub_tables => 'part_hash_leaf.h',
	via_root => 0,
	laredo => ['part_hash_leaf.h'],
	initial => part_initial('part_hash_leaf.h'),
	workload => part_workload(table => 'part_hash_leaf.h'),
	skip_compare => [ map { "part_hash_leaf.$_" } qw(h h_0 h_1 h_2) ],
	compare => [ [ 'part_hash_leaf.h (laredo) = h_0 + h_1 + h_2 (built-in)', 'SELECT t::text FROM part_hash_leaf.h t',
			'SELECT t::text FROM (SELECT * FROM part_hash_leaf.h_0 UNION ALL SELECT * FROM part_hash_leaf.h_1 '
			  . 'UNION ALL SELECT * FROM part_hash_leaf.h_2) t' ] ],
	source_equal => [ [ 'part_hash_leaf.h',
			'SELECT t::text FROM (SELECT * FROM part_hash_leaf.h_0 UNION ALL SELECT * FROM part_hash_leaf.h_1 '
			  . 'UNION ALL SELECT * FROM part_hash_leaf.h_2) t', 'SELECT t::text FROM part_hash_leaf.h t' ] ],
);

# hash source via its root into a target range partitioned on the key
scenario(
	name => 'part_hash_root',
	source_ddl => hash_source('part_hash_root'),
	target_ddl => qq{
		CREATE TABLE part_hash_root.h ($COLS, PRIMARY KEY (id)) PARTITION BY RANGE (id);
		CREATE TABLE part_hash_root.h_lo PARTITION OF part_hash_root.h FOR VALUES FROM (MINVALUE) TO (50000);
		CREATE TABLE part_hash_root.h_hi PARTITION OF part_hash_root.h FOR VALUES FROM (50000) TO (MAXVALUE);
	},
	pub_tables => 'part_hash_root.h',
	via_root => 1,
	laredo => ['part_hash_root.h'],
	initial => part_initial('part_hash_root.h'),
	workload => part_workload(table => 'part_hash_root.h'),
	source_equal => [ [ 'part_hash_root.h', 'SELECT t::text FROM part_hash_root.h t', 'SELECT t::text FROM part_hash_root.h t' ] ],
);

# --- inheritance: a parent with two children, one with an extra column ---
scenario(
	name => 'inherit',
	source_ddl => q{
		CREATE TABLE inherit.parent (id int PRIMARY KEY, v text, n int);
		CREATE TABLE inherit.c1 (PRIMARY KEY (id)) INHERITS (inherit.parent);
		CREATE TABLE inherit.c2 (extra text, PRIMARY KEY (id)) INHERITS (inherit.parent);
	},
	pub_tables => 'inherit.parent',
	laredo => ['inherit.parent'],
	initial => sub {
		my ($r, $ctx) = @_;
		return ((map { sprintf('INSERT INTO inherit.parent VALUES (%d, %s, %d) ON CONFLICT DO NOTHING', $r->int(200), txt($r), $r->int(9)) } 1 .. 15),
			(map { sprintf('INSERT INTO inherit.c1 VALUES (%d, %s, %d) ON CONFLICT DO NOTHING', $r->int(200), txt($r), $r->int(9)) } 1 .. 15),
			(map { sprintf('INSERT INTO inherit.c2 VALUES (%d, %s, %d, %s) ON CONFLICT DO NOTHING', $r->int(200), txt($r), $r->int(9), txt($r)) } 1 .. 15));
	},
	workload => sub {
		my ($r, $ctx, $steps) = @_;
		my $op = sub {
			my ($r) = @_;
			return $r->weighted(
				[ 4, sub { sprintf('INSERT INTO inherit.parent VALUES (%d, %s, %d) ON CONFLICT DO NOTHING', $r->int(200), txt($r), $r->int(9)) } ],
				[ 4, sub { sprintf('INSERT INTO inherit.c1 VALUES (%d, %s, %d) ON CONFLICT DO NOTHING', $r->int(200), txt($r), $r->int(9)) } ],
				[ 4, sub { sprintf('INSERT INTO inherit.c2 VALUES (%d, %s, %d, %s) ON CONFLICT DO NOTHING', $r->int(200), txt($r), $r->int(9), txt($r)) } ],
				# through the parent: rows of the children change too
				[ 6, sub { sprintf('UPDATE inherit.parent SET v = %s, n = n + 1 WHERE id = %d', txt($r), $r->int(200)) } ],
				[ 3, sub { sprintf('UPDATE inherit.parent SET n = n + 1 WHERE n = %d', $r->int(9)) } ],
				[ 3, sub { sprintf('UPDATE ONLY inherit.parent SET v = %s WHERE id %% 3 = %d', txt($r), $r->int(3)) } ],
				[ 3, sub { sprintf('UPDATE inherit.c2 SET extra = %s WHERE id = %s', txt($r), pick_row($r, 'inherit.c2', 'id')) } ],
				[ 3, sub { my $c = pick_row($r, 'inherit.c1', 'id');
						"UPDATE inherit.c1 SET id = id + 1000 WHERE id = $c AND NOT EXISTS (SELECT FROM inherit.c1 WHERE id = $c + 1000)" } ],
				[ 4, sub { sprintf('DELETE FROM inherit.parent WHERE id = %d', $r->int(200)) } ],
				[ 2, sub { sprintf('DELETE FROM ONLY inherit.parent WHERE n = %d', $r->int(9)) } ],
				[ 1, sub { 'TRUNCATE ONLY inherit.parent' } ],
				[ 1, sub { 'TRUNCATE inherit.c1' } ],
				[ 1, sub { 'TRUNCATE inherit.parent' } ],
			)->();
		};
		return txns($r, $steps, $op);
	},
	source_equal => [ map { [ "inherit.$_", "SELECT t::text FROM ONLY inherit.$_ t", "SELECT t::text FROM ONLY inherit.$_ t" ] } qw(parent c1 c2) ],
);

# --- foreign keys, TRUNCATE CASCADE and RESTART IDENTITY ----------------
# The targets' sequences start far from the source's (setval 500): a
# RESTART IDENTITY replayed on a target shows in them.
scenario(
	name => 'fk_truncate',
	source_ddl => q{
		CREATE TABLE fk_truncate.parent (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text);
		CREATE TABLE fk_truncate.child (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
		                                parent_id int REFERENCES fk_truncate.parent ON DELETE CASCADE, v text);
		CREATE TABLE fk_truncate.other (id serial PRIMARY KEY,
		                                child_id bigint REFERENCES fk_truncate.child ON DELETE SET NULL, v text);
	},
	target_ddl => q{
		CREATE TABLE fk_truncate.parent (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text);
		CREATE TABLE fk_truncate.child (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
		                                parent_id int REFERENCES fk_truncate.parent ON DELETE CASCADE, v text);
		CREATE TABLE fk_truncate.other (id serial PRIMARY KEY,
		                                child_id bigint REFERENCES fk_truncate.child ON DELETE SET NULL, v text);
		SELECT setval('fk_truncate.parent_id_seq', 500), setval('fk_truncate.child_id_seq', 500),
		       setval('fk_truncate.other_id_seq', 500);
	},
	pub_tables => 'fk_truncate.parent, fk_truncate.child, fk_truncate.other',
	laredo => [ 'fk_truncate.parent', 'fk_truncate.child', 'fk_truncate.other' ],
	initial => sub {
		my ($r, $ctx) = @_;
		return ('INSERT INTO fk_truncate.parent (v) SELECT md5(g::text) FROM generate_series(1, 10) g',
			'INSERT INTO fk_truncate.child (parent_id, v) SELECT 1 + g % 10, md5(g::text) FROM generate_series(1, 20) g',
			'INSERT INTO fk_truncate.other (child_id, v) SELECT 1 + g % 20, md5(g::text) FROM generate_series(1, 20) g');
	},
	workload => sub {
		my ($r, $ctx, $steps) = @_;
		my $op = sub {
			my ($r) = @_;
			return $r->weighted(
				[ 6, sub { sprintf('INSERT INTO fk_truncate.parent (v) VALUES (%s)', txt($r)) } ],
				[ 6, sub { sprintf('INSERT INTO fk_truncate.child (parent_id, v) SELECT %s, %s', pick_row($r, 'fk_truncate.parent', 'id'), txt($r)) } ],
				[ 4, sub { sprintf('INSERT INTO fk_truncate.other (child_id, v) SELECT %s, %s', pick_row($r, 'fk_truncate.child', 'id'), txt($r)) } ],
				[ 4, sub { sprintf('UPDATE fk_truncate.child SET parent_id = %s, v = %s WHERE id = %s',
						pick_row($r, 'fk_truncate.parent', 'id'), txt($r), pick_row($r, 'fk_truncate.child', 'id')) } ],
				[ 3, sub { sprintf('UPDATE fk_truncate.parent SET v = %s WHERE id = %s', txt($r), pick_row($r, 'fk_truncate.parent', 'id')) } ],
				# cascades to child, sets other.child_id to NULL
				[ 3, sub { sprintf('DELETE FROM fk_truncate.parent WHERE id = %s', pick_row($r, 'fk_truncate.parent', 'id')) } ],
				[ 1, sub { 'TRUNCATE fk_truncate.other' } ],
				[ 1, sub { 'TRUNCATE fk_truncate.parent CASCADE' } ],
				[ 1, sub { 'TRUNCATE fk_truncate.child CASCADE' } ],
				[ 1, sub { 'TRUNCATE fk_truncate.parent, fk_truncate.child, fk_truncate.other RESTART IDENTITY' } ],
				[ 1, sub { 'TRUNCATE fk_truncate.child RESTART IDENTITY CASCADE' } ],
			)->();
		};
		return txns($r, $steps, $op);
	},
	source_equal => [ map { [ "fk_truncate.$_", "SELECT t::text FROM fk_truncate.$_ t", "SELECT t::text FROM fk_truncate.$_ t" ] } qw(parent child other) ],
);

# --- replica identity changed while streaming -----------------------------
# DEFAULT -> FULL -> USING INDEX -> NOTHING -> DEFAULT, then a random walk,
# with transactions in between; each change is made on both consumers
# first (the built-in looks rows up by its own table's identity), then on
# the source.  Updates under NOTHING are refused by the source.
scenario(
	name => 'ri_change',
	source_ddl => q{
		CREATE TABLE ri_change.t (id int PRIMARY KEY, u int NOT NULL, v text, big text);
		CREATE UNIQUE INDEX t_u ON ri_change.t (u);
	},
	pub_tables => 'ri_change.t',
	laredo => ['ri_change.t'],
	initial => sub {
		my ($r, $ctx) = @_;
		return map { my $id = fresh_id($ctx); sprintf('INSERT INTO ri_change.t VALUES (%d, %d, %s, %s)', $id, $id, txt($r), $r->chance(0.3) ? big($r) : 'NULL') } 1 .. 30;
	},
	workload => sub {
		my ($r, $ctx, $steps) = @_;
		my @walk = ('FULL', 'USING INDEX t_u', 'NOTHING', 'DEFAULT');
		my $extra = $steps >= 40 ? 2 : 0;
		my $cur = 'DEFAULT';
		for (1 .. $extra)
		{
			my $next;
			do { $next = $r->pick('DEFAULT', 'FULL', 'USING INDEX t_u', 'NOTHING') } while $next eq $walk[-1];
			push @walk, $next;
		}
		my @sizes = split_steps($steps, scalar(@walk) + 1);
		my $op = sub {
			my ($r) = @_;
			my $p = pick_row($r, 'ri_change.t', 'id');
			return $r->weighted(
				[ 6, sub { my $id = fresh_id($ctx); sprintf('INSERT INTO ri_change.t VALUES (%d, %d, %s, %s)', $id, $id, txt($r), $r->chance(0.3) ? big($r) : 'NULL') } ],
				[ 8, sub { may_fail(sprintf('UPDATE ri_change.t SET v = %s WHERE id = %s', txt($r), $p)) } ],
				[ 4, sub { may_fail(sprintf('UPDATE ri_change.t SET u = %d WHERE id = %s', fresh_id($ctx), $p)) } ],
				[ 4, sub { may_fail(sprintf('UPDATE ri_change.t SET id = %d WHERE id = %s', fresh_id($ctx), $p)) } ],
				[ 2, sub { may_fail(sprintf('UPDATE ri_change.t SET big = %s WHERE id = %s', big($r), $p)) } ],
				[ 4, sub { may_fail(sprintf('DELETE FROM ri_change.t WHERE id = %s', $p)) } ],
			)->();
		};
		my @items = txns($r, shift(@sizes), $op);
		for my $ri (@walk)
		{
			my $ddl = "ALTER TABLE ri_change.t REPLICA IDENTITY $ri";
			push @items, { ddl => { targets => $ddl, source => $ddl }, label => "REPLICA IDENTITY $ri" };
			push @items, txns($r, shift(@sizes), $op);
		}
		return @items;
	},
	source_equal => [ [ 'ri_change.t', 'SELECT t::text FROM ri_change.t t', 'SELECT t::text FROM ri_change.t t' ] ],
);

# --- generated columns: not sent, computed on the target ----------------
# The targets compute s with another expression than the source's, so a
# value copied from the source would show.
scenario(
	name => 'generated',
	source_ddl => q{
		CREATE TABLE generated.g (id int PRIMARY KEY, a int, b int,
		                          s int GENERATED ALWAYS AS (a * b) STORED,
		                          label text GENERATED ALWAYS AS ('#' || id::text) STORED, v text);
	},
	target_ddl => q{
		CREATE TABLE generated.g (id int PRIMARY KEY, a int, b int,
		                          s int GENERATED ALWAYS AS (a + b) STORED,
		                          label text GENERATED ALWAYS AS ('#' || id::text) STORED, v text);
	},
	pub_tables => 'generated.g',
	laredo => ['generated.g'],
	initial => sub {
		my ($r, $ctx) = @_;
		return map { sprintf('INSERT INTO generated.g (id, a, b, v) VALUES (%d, %d, %s, %s)', fresh_id($ctx), $r->int(50), $r->pick('NULL', $r->int(50)), txt($r)) } 1 .. 30;
	},
	workload => sub {
		my ($r, $ctx, $steps) = @_;
		my $p = sub { pick_row($_[0], 'generated.g', 'id') };
		my $op = sub {
			my ($r) = @_;
			return $r->weighted(
				[ 8, sub { sprintf('INSERT INTO generated.g (id, a, b, v) VALUES (%d, %d, %s, %s)', fresh_id($ctx), $r->int(50), $r->pick('NULL', $r->int(50)), txt($r)) } ],
				[ 8, sub { sprintf('UPDATE generated.g SET a = a + 1 WHERE id = %s', $p->($r)) } ],
				[ 4, sub { sprintf('UPDATE generated.g SET b = %d, v = %s WHERE id = %s', $r->int(50), txt($r), $p->($r)) } ],
				[ 4, sub { sprintf('UPDATE generated.g SET id = %d WHERE id = %s', fresh_id($ctx), $p->($r)) } ],
				[ 3, sub { sprintf('INSERT INTO generated.g (id, a, b) VALUES (%d, 1, 1) ON CONFLICT (id) DO UPDATE SET a = generated.g.a + 100', any_id($ctx, $r)) } ],
				[ 4, sub { sprintf('DELETE FROM generated.g WHERE id = %s', $p->($r)) } ],
			)->();
		};
		return txns($r, $steps, $op);
	},
	source_equal => [ [ 'generated.g', 'SELECT t::text FROM (SELECT id, a, b, a + b, label, v FROM generated.g) t',
			'SELECT t::text FROM (SELECT id, a, b, a + b, label, v FROM generated.g) t' ] ],
);

# --- columns added (to both targets first) and dropped on the source ----
scenario(
	name => 'ddl_columns',
	source_ddl => q{
		CREATE TABLE ddl_columns.t (id int PRIMARY KEY, a text, b int, c text, big text);
	},
	pub_tables => 'ddl_columns.t',
	laredo => ['ddl_columns.t'],
	# the subscriber's way with a source's columns, which laredo names
	# (its default follows them: TAP 360)
	pipeline_options => '{"schema_changes": "ignore"}',
	initial => sub {
		my ($r, $ctx) = @_;
		return map { sprintf('INSERT INTO ddl_columns.t VALUES (%d, %s, %d, %s, %s)', fresh_id($ctx), txt($r), $r->int(100), txt($r), $r->chance(0.3) ? big($r) : 'NULL') } 1 .. 30;
	},
	workload => sub {
		my ($r, $ctx, $steps) = @_;
		my %has = (b => 1, c => 1, d => 0, e => 0);
		my $op = sub {
			my ($r) = @_;
			my @cols = ('a', ($has{b} ? 'b' : ()), ($has{c} ? 'c' : ()), ($has{d} ? 'd' : ()), ($has{e} ? 'e' : ()));
			my %val = (a => sub { txt($r) }, b => sub { $r->int(100) }, c => sub { txt($r) }, d => sub { $r->int(100) }, e => sub { txt($r) });
			my $p = pick_row($r, 'ddl_columns.t', 'id');
			my $col = $r->pick(@cols);
			return $r->weighted(
				[ 6, sub { sprintf('INSERT INTO ddl_columns.t (id, %s) VALUES (%d, %s)', join(', ', @cols), fresh_id($ctx), join(', ', map { $val{$_}->() } @cols)) } ],
				[ 2, sub { sprintf('INSERT INTO ddl_columns.t (id, big) VALUES (%d, %s)', fresh_id($ctx), big($r)) } ],
				[ 8, sub { sprintf('UPDATE ddl_columns.t SET %s = %s WHERE id = %s', $col, $val{$col}->(), $p) } ],
				[ 3, sub { sprintf('UPDATE ddl_columns.t SET id = %d WHERE id = %s', fresh_id($ctx), $p) } ],
				[ 4, sub { sprintf('DELETE FROM ddl_columns.t WHERE id = %s', $p) } ],
			)->();
		};
		my @sizes = split_steps($steps, 4);
		my @items = txns($r, shift(@sizes), $op);
		push @items, { label => 'columns d and e added',
			ddl => { targets => 'ALTER TABLE ddl_columns.t ADD COLUMN d int DEFAULT 7, ADD COLUMN e text',
				source => 'ALTER TABLE ddl_columns.t ADD COLUMN d int DEFAULT 7, ADD COLUMN e text' } };
		@has{qw(d e)} = (1, 1);
		push @items, txns($r, shift(@sizes), $op);
		push @items, { label => 'column b dropped on the source', ddl => { source => 'ALTER TABLE ddl_columns.t DROP COLUMN b' } };
		$has{b} = 0;
		push @items, txns($r, shift(@sizes), $op);
		push @items, { label => 'column c dropped and added again on the source',
			ddl => { source => "ALTER TABLE ddl_columns.t DROP COLUMN c; ALTER TABLE ddl_columns.t ADD COLUMN c text DEFAULT 'again'" } };
		push @items, txns($r, shift(@sizes), $op);
		return @items;
	},
	# the targets keep b, and the values of c from before it was dropped
	source_equal => [ [ 'ddl_columns.t', 'SELECT t::text FROM (SELECT id, a, big FROM ddl_columns.t) t',
			'SELECT t::text FROM (SELECT id, a, big FROM ddl_columns.t) t' ] ],
);

# --- updates and deletes of rows missing on the targets -----------------
# Rows are deleted on both consumers behind their backs, then the source
# updates (also their keys, also with TOASTed values left unchanged) and
# deletes them: both consumers skip those changes.
scenario(
	name => 'missing_rows',
	source_ddl => q{
		CREATE TABLE missing_rows.m (id int PRIMARY KEY, v text, n int, big text);
		CREATE TABLE missing_rows.f (a int, b text);
		ALTER TABLE missing_rows.f REPLICA IDENTITY FULL;
	},
	pub_tables => 'missing_rows.m, missing_rows.f',
	laredo => [ 'missing_rows.m', 'missing_rows.f' ],
	initial => sub {
		my ($r, $ctx) = @_;
		return ((map { sprintf('INSERT INTO missing_rows.m VALUES (%d, %s, %d, %s)', fresh_id($ctx), txt($r), $r->int(100), $r->chance(0.3) ? big($r) : 'NULL') } 1 .. 40),
			(map { sprintf('INSERT INTO missing_rows.f VALUES (%d, %s)', $r->int(30), txt($r)) } 1 .. 30));
	},
	workload => sub {
		my ($r, $ctx, $steps) = @_;
		my @sizes = split_steps($steps, 3);
		my $k;
		my $op = sub {
			my ($r) = @_;
			my $gone = "(SELECT id FROM missing_rows.m WHERE id % 4 = $k ORDER BY id OFFSET " . $r->int(100)
			  . " % greatest((SELECT count(*) FROM missing_rows.m WHERE id % 4 = $k), 1) LIMIT 1)";
			return $r->weighted(
				[ 4, sub { sprintf('INSERT INTO missing_rows.m VALUES (%d, %s, %d, NULL)', fresh_id($ctx), txt($r), $r->int(100)) } ],
				[ 6, sub { sprintf('UPDATE missing_rows.m SET v = %s, n = n + 1 WHERE id = %s', txt($r), $gone) } ],
				[ 3, sub { sprintf('UPDATE missing_rows.m SET id = %d WHERE id = %s', fresh_id($ctx), $gone) } ],
				[ 2, sub { sprintf('UPDATE missing_rows.m SET n = n + 1 WHERE id %% 4 = %d', $k) } ],
				[ 4, sub { sprintf('UPDATE missing_rows.m SET v = %s WHERE id = %s', txt($r), pick_row($r, 'missing_rows.m', 'id')) } ],
				[ 4, sub { sprintf('DELETE FROM missing_rows.m WHERE id = %s', $gone) } ],
				# deleted on the source, then inserted again: the insert arrives
				[ 2, sub { my $g = $gone; ("DELETE FROM missing_rows.m WHERE id = $g",
						sprintf('INSERT INTO missing_rows.m VALUES (%d, %s, 0, NULL)', fresh_id($ctx), txt($r))) } ],
				[ 4, sub { sprintf('UPDATE missing_rows.f SET b = %s WHERE ctid = (SELECT ctid FROM missing_rows.f WHERE a %% 4 = %d ORDER BY a, b OFFSET %d %% greatest((SELECT count(*) FROM missing_rows.f WHERE a %% 4 = %d), 1) LIMIT 1)',
						txt($r), $k, $r->int(100), $k) } ],
				[ 3, sub { sprintf('DELETE FROM missing_rows.f WHERE a = %d', $r->int(30)) } ],
				[ 2, sub { sprintf('INSERT INTO missing_rows.f VALUES (%d, %s)', $r->int(30), txt($r)) } ],
			)->();
		};
		$k = $r->int(4);
		my @items = txns($r, shift(@sizes), $op);
		for (1 .. 2)
		{
			$k = $r->int(4);
			push @items, { label => "rows with id % 4 = $k deleted behind the consumers' backs",
				behind => "DELETE FROM missing_rows.m WHERE id % 4 = $k; DELETE FROM missing_rows.f WHERE a % 4 = $k" };
			push @items, txns($r, shift(@sizes), $op);
		}
		return @items;
	},
	# until rows are deleted behind the consumers' backs
	source_equal_until_barrier => 1,
	source_equal => [ [ 'missing_rows.m', 'SELECT t::text FROM missing_rows.m t', 'SELECT t::text FROM missing_rows.m t' ] ],
);

# --- triggers and a foreign key on the targets ---------------------------
# ENABLE REPLICA and ENABLE ALWAYS triggers fire for replicated changes, an
# ordinary one does not; a BEFORE ALWAYS trigger stamps a target-only
# column; a truncate trigger of each kind; a foreign key the source does not
# have (to a table only the targets have) is not enforced.  Each consumer's
# triggers write its own audit table, compared as the tables are.
scenario(
	name => 'triggers',
	source_ddl => q{
		CREATE TABLE triggers.t (id int PRIMARY KEY, v text, ref int);
	},
	target_ddl => q{
		CREATE TABLE triggers.ref_target (id int PRIMARY KEY);
		INSERT INTO triggers.ref_target VALUES (1), (2), (3);
		CREATE TABLE triggers.t (id int PRIMARY KEY, v text, ref int REFERENCES triggers.ref_target, note text);
		CREATE TABLE triggers.audit (kind text, op text, id int, v text, note text);
		CREATE FUNCTION triggers.audit_row() RETURNS trigger LANGUAGE plpgsql AS $f$
		BEGIN
			IF TG_OP = 'DELETE' THEN
				INSERT INTO triggers.audit VALUES (TG_ARGV[0], TG_OP, OLD.id, OLD.v, OLD.note);
			ELSE
				INSERT INTO triggers.audit VALUES (TG_ARGV[0], TG_OP, NEW.id, NEW.v, NEW.note);
			END IF;
			RETURN NULL;
		END $f$;
		CREATE FUNCTION triggers.audit_statement() RETURNS trigger LANGUAGE plpgsql AS $f$
		BEGIN
			INSERT INTO triggers.audit VALUES (TG_ARGV[0], TG_OP, NULL, NULL, NULL);
			RETURN NULL;
		END $f$;
		CREATE FUNCTION triggers.stamp() RETURNS trigger LANGUAGE plpgsql AS $f$
		BEGIN
			NEW.note := 'stamped on ' || TG_OP;
			RETURN NEW;
		END $f$;
		CREATE TRIGGER a_origin AFTER INSERT OR UPDATE OR DELETE ON triggers.t
			FOR EACH ROW EXECUTE FUNCTION triggers.audit_row('origin');
		CREATE TRIGGER a_replica AFTER INSERT OR UPDATE OR DELETE ON triggers.t
			FOR EACH ROW EXECUTE FUNCTION triggers.audit_row('replica');
		ALTER TABLE triggers.t ENABLE REPLICA TRIGGER a_replica;
		CREATE TRIGGER a_always AFTER INSERT OR UPDATE OR DELETE ON triggers.t
			FOR EACH ROW EXECUTE FUNCTION triggers.audit_row('always');
		ALTER TABLE triggers.t ENABLE ALWAYS TRIGGER a_always;
		CREATE TRIGGER b_stamp BEFORE INSERT OR UPDATE ON triggers.t
			FOR EACH ROW EXECUTE FUNCTION triggers.stamp();
		ALTER TABLE triggers.t ENABLE ALWAYS TRIGGER b_stamp;
		CREATE TRIGGER s_origin AFTER TRUNCATE ON triggers.t
			FOR EACH STATEMENT EXECUTE FUNCTION triggers.audit_statement('origin truncate');
		CREATE TRIGGER s_always AFTER TRUNCATE ON triggers.t
			FOR EACH STATEMENT EXECUTE FUNCTION triggers.audit_statement('always truncate');
		ALTER TABLE triggers.t ENABLE ALWAYS TRIGGER s_always;
	},
	pub_tables => 'triggers.t',
	laredo => ['triggers.t'],
	initial => sub {
		my ($r, $ctx) = @_;
		return map { sprintf('INSERT INTO triggers.t VALUES (%d, %s, %d)', fresh_id($ctx), txt($r), 1 + $r->int(8)) } 1 .. 15;
	},
	workload => sub {
		my ($r, $ctx, $steps) = @_;
		my $p = sub { pick_row($_[0], 'triggers.t', 'id') };
		my $op = sub {
			my ($r) = @_;
			return $r->weighted(
				[ 8, sub { sprintf('INSERT INTO triggers.t VALUES (%d, %s, %d)', fresh_id($ctx), txt($r), 1 + $r->int(8)) } ],
				[ 6, sub { sprintf('UPDATE triggers.t SET v = %s WHERE id = %s', txt($r), $p->($r)) } ],
				[ 3, sub { sprintf('UPDATE triggers.t SET ref = %d WHERE id = %s', 1 + $r->int(8), $p->($r)) } ],
				[ 3, sub { sprintf('UPDATE triggers.t SET id = %d WHERE id = %s', fresh_id($ctx), $p->($r)) } ],
				[ 4, sub { sprintf('DELETE FROM triggers.t WHERE id = %s', $p->($r)) } ],
				[ 1, sub { 'TRUNCATE triggers.t' } ],
			)->();
		};
		return txns($r, $steps, $op);
	},
	source_equal => [ [ 'triggers.t', 'SELECT t::text FROM (SELECT id, v, ref FROM triggers.t) t', 'SELECT t::text FROM (SELECT id, v, ref FROM triggers.t) t' ] ],
);

# --- REPLICA IDENTITY FULL on a table with a point column ---------------
# point has no equality operator: the built-in cannot find the old row of
# an UPDATE or DELETE and fails; laredo must fail too, not guess.
scenario(
	name => 'full_point',
	source_ddl => q{
		CREATE TABLE full_point.pt (id int, p point, v text);
		ALTER TABLE full_point.pt REPLICA IDENTITY FULL;
	},
	pub_tables => 'full_point.pt',
	laredo => ['full_point.pt'],
	initial => sub {
		my ($r, $ctx) = @_;
		return map { sprintf("INSERT INTO full_point.pt VALUES (%d, point(%d, %d), %s)", $_, $r->int(100), $r->int(100), txt($r)) } 1 .. 10;
	},
	workload => sub {
		my ($r, $ctx, $steps) = @_;
		my @sizes = split_steps($steps, 2);
		my @items = txns($r, shift(@sizes), sub {
			my ($r) = @_;
			return sprintf("INSERT INTO full_point.pt VALUES (%d, point(%d, %d), %s)", 10 + $r->int(1000), $r->int(100), $r->int(100), txt($r));
		});
		push @items, { sync => 'inserts only' };
		push @items, txns($r, shift(@sizes), sub {
			my ($r) = @_;
			return $r->weighted(
				[ 3, sub { sprintf('UPDATE full_point.pt SET v = %s WHERE id = %d', txt($r), 1 + $r->int(10)) } ],
				[ 1, sub { sprintf('DELETE FROM full_point.pt WHERE id = %d', 1 + $r->int(10)) } ],
			)->();
		});
		# whatever the draw, at least one update of an existing row
		push @items, { sql => "UPDATE full_point.pt SET v = 'surely' WHERE id = (SELECT min(id) FROM full_point.pt);\n" };
		return @items;
	},
	builtin_fails => 1,
);

###########################################################################
# The harness.
###########################################################################

sub env_list
{
	my ($name, $default) = @_;
	my $v = $ENV{$name};
	$v = $default unless defined $v && $v ne '';
	return grep { $_ ne '' } split /\s*,\s*/, $v;
}

# new(): the three servers, started.
sub new
{
	my ($class) = @_;
	my %known = map { $_->{name} => $_ } @SCENARIOS;
	my @names = env_list('LAREDO_ORACLE_SCENARIOS', join(',', map { $_->{name} } @SCENARIOS));
	for (@names) { die "unknown scenario $_ (known: @{[ join(', ', sort keys %known) ]})\n" unless $known{$_}; }
	my $self = bless {
		seeds => [ env_list('LAREDO_ORACLE_SEEDS', '1,2,3') ],
		scenarios => [ map { $known{$_} } @names ],
		steps => $ENV{LAREDO_ORACLE_STEPS} || 40,
		timeout => $ENV{LAREDO_ORACLE_TIMEOUT} || 60,
		pubmode => $ENV{LAREDO_ORACLE_PUBMODE} // '',
		results => [],
	}, $class;
	die "LAREDO_ORACLE_SEEDS: integers only\n" if grep { !/^\d+$/ } @{ $self->{seeds} };
	die "LAREDO_ORACLE_PUBMODE: shared or managed\n" if $self->{pubmode} !~ /^(|shared|managed)$/;
	my $n = scalar @{ $self->{scenarios} };
	my $common = "max_connections = 100\nshared_buffers = 16MB\nmax_wal_size = 1GB\n";
	# the source: every scenario has a slot for the built-in and one for laredo,
	# plus the built-in's table synchronisation slots; small decoding memory
	# spills large transactions to disk
	$self->{source} = source_server('source', $common
		  . "max_replication_slots = " . (4 * $n + 10) . "\nmax_wal_senders = " . (4 * $n + 10)
		  . "\nlogical_decoding_work_mem = 64kB\n");
	my $builtin = PostgreSQL::Test::Cluster->new('builtin');
	$builtin->init;
	$builtin->append_conf('postgresql.conf', $common
		  . "max_worker_processes = " . (3 * $n + 10) . "\nmax_logical_replication_workers = " . (3 * $n + 4)
		  . "\nmax_sync_workers_per_subscription = 2\nwal_retrieve_retry_interval = 200ms\n"
		  # replication origins' state: one per apply and per sync worker
		  . "max_replication_slots = " . (4 * $n + 10) . "\n");
	$builtin->start;
	$self->{builtin} = $builtin;
	$self->{laredo} = consumer_server('laredo', $common . "max_worker_processes = " . (2 * $n + 16) . "\n");
	return $self;
}

sub seeds { return @{ $_[0]->{seeds} }; }

# psql on $node, returning (ok, stdout, stderr): nothing dies.
sub try_sql
{
	my ($node, $db, $sql, $timeout) = @_;
	my ($out, $err, $timed_out) = ('', '');
	my $ret = $node->psql($db, $sql, stdout => \$out, stderr => \$err, on_error_stop => 1,
		timeout => $timeout // 180, timed_out => \$timed_out,
		extra_params => [ '-v', 'VERBOSITY=default' ]);
	$err = "timed out after " . ($timeout // 180) . " s\n$err" if $timed_out;
	return (defined $ret && $ret == 0 && !$timed_out, $out, $err);
}

sub q1
{
	my ($node, $db, $sql) = @_;
	return $node->safe_psql($db, $sql);
}

# The built-in's errors for a scenario, from its server log since $offset.
sub builtin_errors
{
	my ($self, $sc, $offset) = @_;
	my $log = slurp_file($self->{builtin}->logfile);
	$log = substr($log, $offset) if $offset < length $log;
	# one entry per message, with its DETAIL, CONTEXT, HINT (logged as lines
	# of their own by the same process)
	my (@entries, $last_pid);
	for my $line (split /\n/, $log)
	{
		if ($line =~ /^\d{4}-\d\d-\d\d \S+ \S+ \[(\d+)\] (?:\S+ )?(CONTEXT|DETAIL|HINT|STATEMENT):/
			&& @entries && $1 eq $last_pid)
		{
			$entries[-1] .= "\n$line";
		}
		elsif ($line =~ /^\d{4}-\d\d-\d\d \S+ \S+ \[(\d+)\]/)
		{
			push @entries, $line;
			$last_pid = $1;
		}
		elsif (@entries) { $entries[-1] .= "\n$line"; }
	}
	my $name = $sc->{name};
	my @mine = grep { /(ERROR|FATAL):/ && (/"\Q$name\E\./ || /\bsub_\Q$name\E\b/) } @entries;
	push @mine, grep { /subscription "sub_\Q$name\E" has been disabled/ } @entries;
	@mine = grep { /ERROR:/ } @entries unless @mine;
	my %seen;
	@mine = grep { !$seen{ s/^\S+ \S+ \S+ \[\d+\] //r }++ } @mine;
	return join("\n", @mine[ 0 .. ($#mine < 5 ? $#mine : 5) ]) || '(no ERROR line in the built-in subscriber\'s log)';
}

# The built-in's state: 'error', 'ready' (all tables ready, the slot has
# confirmed $lsn) or 'behind'.
sub builtin_state
{
	my ($self, $sc, $lsn) = @_;
	my $db = $self->{db};
	my $row = q1($self->{builtin}, $db, qq{
		SELECT s.subenabled, coalesce(st.apply_error_count, 0) + coalesce(st.sync_error_count, 0),
		       (SELECT count(*) FROM pg_subscription_rel r WHERE r.srsubid = s.oid AND r.srsubstate <> 'r'),
		       (SELECT count(*) FROM pg_subscription_rel r WHERE r.srsubid = s.oid)
		FROM pg_subscription s LEFT JOIN pg_stat_subscription_stats st ON st.subid = s.oid
		WHERE s.subname = 'sub_$sc->{name}'});
	my ($enabled, $errors, $notready, $rels) = split /\|/, $row;
	return 'error' if $enabled ne 't' || $errors > 0;
	return 'behind' if $notready > 0 || $rels == 0;
	my $done = q1($self->{source}, $db,
		"SELECT coalesce(bool_and(confirmed_flush_lsn >= '$lsn'), false) FROM pg_replication_slots WHERE slot_name = 'sub_$sc->{name}'");
	return $done eq 't' ? 'ready' : 'behind';
}

# laredo's errors for a scenario: the source's and its pipelines'.
sub laredo_errors
{
	my ($self, $sc) = @_;
	my $db = $self->{db};
	my $src = q1($self->{laredo}, $db, qq{
		SELECT state || coalesce(': ' || last_error, '') || coalesce(E'\nHINT: ' || last_error_hint, '')
		FROM laredo.sources WHERE source_id = '$sc->{name}'});
	my $pipes = q1($self->{laredo}, $db, qq{
		SELECT string_agg('pipeline ' || pipeline_id || ' ' || state || coalesce(': ' || last_error, ''), E'\n' ORDER BY pipeline_id)
		FROM laredo.pipelines WHERE source_id = '$sc->{name}' AND (state = 'ERROR' OR last_error IS NOT NULL)});
	return "source $sc->{name} $src" . ($pipes ne '' ? "\n$pipes" : '');
}

# laredo's state: 'error' (the source or a pipeline in ERROR, or failing and
# restarting for longer than a while), 'ready' (wait_for_catchup returned) or
# 'behind'.
sub laredo_state
{
	my ($self, $sc, $since) = @_;
	my $db = $self->{db};
	return 'error' if $self->{laredo_setup_error}{ $sc->{name} };
	my $row = q1($self->{laredo}, $db, qq{
		SELECT s.state, s.last_error IS NOT NULL,
		       EXISTS (SELECT FROM laredo.pipelines p WHERE p.source_id = s.source_id AND p.state = 'ERROR')
		FROM laredo.sources s WHERE s.source_id = '$sc->{name}'});
	my ($state, $failing, $pipe_error) = split /\|/, $row;
	return 'error' if !defined $state || $state eq 'ERROR' || $pipe_error eq 't';
	return 'error' if $failing eq 't' && $state eq 'RECONNECTING' && time - $since > 20;
	my ($ok) = try_sql($self->{laredo}, $db, "CALL laredo.wait_for_catchup('$sc->{name}', '2s')", 30);
	return $ok ? 'ready' : 'behind';
}

# Catches both consumers up with the source's current WAL position, or
# finds them failed.  Returns (builtin, laredo), each 'ready', 'error' or
# 'timeout'.
sub catch_up
{
	my ($self, $sc) = @_;
	my $lsn = q1($self->{source}, $self->{db}, 'SELECT pg_current_wal_lsn()');
	my $start = time;
	my ($b, $l) = ('behind', 'behind');
	while (1)
	{
		$b = $self->builtin_state($sc, $lsn) if $b eq 'behind';
		$l = $ENV{LAREDO_ORACLE_HARNESS_ONLY} ? 'ready' : $self->laredo_state($sc, $start) if $l eq 'behind';
		last if $b ne 'behind' && $l ne 'behind';
		if (time - $start > $self->{timeout})
		{
			$b = 'timeout' if $b eq 'behind';
			$l = 'timeout' if $l eq 'behind';
			last;
		}
		usleep(50_000);
	}
	return ($b, $l);
}

# The comparisons of a scenario: the tables and columns of its schema (the
# consumers got the same DDL: a difference means one of them changed it),
# every table there (ONLY itself, or with its partitions when partitioned),
# the sequences of the schema, and the scenario's own.  Each: [label,
# laredo sql, builtin sql], the sql giving rows of one text column.
sub comparisons
{
	my ($self, $sc) = @_;
	my %skip = map { $_ => 1 } @{ $sc->{skip_compare} // [] };
	my $list = qq{
		SELECT string_agg(format('%I.%I', n.nspname, c.relname) || ' ' || c.relkind::text, ',' ORDER BY c.relname)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = '$sc->{name}' AND c.relkind IN ('r', 'p')};
	my %on;
	$on{$_}++ for split /,/, q1($self->{laredo}, $self->{db}, $list);
	$on{$_}++ for split /,/, q1($self->{builtin}, $self->{db}, $list);
	my $ddl = "SELECT format('%s (%s) %s %s%s', c.relname, c.relkind, a.attname, format_type(a.atttypid, a.atttypmod), "
	  . "CASE WHEN a.attnotnull THEN ' not null' ELSE '' END) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
	  . "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
	  . "WHERE n.nspname = '$sc->{name}' AND c.relkind IN ('r', 'p')";
	my @cmp = ([ "tables and columns of schema $sc->{name}", $ddl, $ddl ]);
	for my $rel (sort grep { $on{$_} == 2 } keys %on)
	{
		my ($name, $kind) = split / /, $rel;
		next if $skip{$name};
		my $sql = 'SELECT t::text FROM ' . ($kind eq 'r' ? 'ONLY ' : '') . "$name t";
		push @cmp, [ $name, $sql, $sql ];
	}
	my $seq = "SELECT format('%s: last_value %s', sequencename, coalesce(last_value::text, 'none (not called)')) "
	  . "FROM pg_sequences WHERE schemaname = '$sc->{name}'";
	push @cmp, [ "sequences of schema $sc->{name}", $seq, $seq ];
	push @cmp, @{ $sc->{compare} // [] };
	return @cmp;
}

my $SESSION = "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET extra_float_digits = 3; SET IntervalStyle = 'postgres';\n";

sub digest
{
	my ($node, $db, $sql) = @_;
	return q1($node, $db, $SESSION . "SELECT count(*) || ' rows, md5 ' || md5(coalesce(string_agg(r, E'\\n' ORDER BY r COLLATE \"C\"), '')) FROM ($sql) x(r)");
}

# rows as (md5, first 200 characters), in row order
sub rows_of
{
	my ($node, $db, $sql) = @_;
	my $out = q1($node, $db, $SESSION . "SELECT md5(r) || ' ' || replace(replace(left(r, 200), E'\\n', '\\n'), E'\\t', '\\t') || CASE WHEN length(r) > 200 THEN '...(' || length(r) || ' chars)' ELSE '' END FROM ($sql) x(r) ORDER BY r COLLATE \"C\"");
	return map { [ split / /, $_, 2 ] } grep { $_ ne '' } split /\n/, $out;
}

# A small diff of two row sets: the rows only one side has, the first few.
sub row_diff
{
	my ($na, $a, $nb, $b) = @_;
	my (%ca, %cb);
	$ca{ $_->[0] }++ for @$a;
	$cb{ $_->[0] }++ for @$b;
	my @only_a = grep { $ca{ $_->[0] }-- > ($cb{ $_->[0] } // 0) } @$a;
	%ca = ();
	$ca{ $_->[0] }++ for @$a;
	my @only_b = grep { $cb{ $_->[0] }-- > ($ca{ $_->[0] } // 0) } @$b;
	my $out = sprintf("  %s: %d rows, %s: %d rows; %d only in %s, %d only in %s\n",
		$na, scalar @$a, $nb, scalar @$b, scalar @only_a, $na, scalar @only_b, $nb);
	$out .= "    (none when the rows were read a moment after the digests: one side was still applying)\n"
	  unless @only_a || @only_b;
	$out .= "    only in $na:  $_->[1]\n" for @only_a[ 0 .. ($#only_a < 4 ? $#only_a : 4) ];
	$out .= "    only in $nb: $_->[1]\n" for @only_b[ 0 .. ($#only_b < 4 ? $#only_b : 4) ];
	return $out;
}

# Compares laredo's consumer with the built-in's; returns '' or the diff.
sub compare_consumers
{
	my ($self, $sc) = @_;
	my $db = $self->{db};
	my $diff = '';
	my @seen;
	for my $c ($self->comparisons($sc))
	{
		my ($label, $lsql, $bsql) = @$c;
		my $ld = digest($self->{laredo}, $db, $lsql);
		my $bd = digest($self->{builtin}, $db, $bsql);
		push @seen, "$label: $bd";
		next if $ld eq $bd;
		$diff .= "$label differs:\n"
		  . row_diff('laredo', [ rows_of($self->{laredo}, $db, $lsql) ], 'built-in', [ rows_of($self->{builtin}, $db, $bsql) ]);
	}
	$self->{last_digests} = join("\n", @seen);
	return $diff;
}

# The harness's own check: the built-in equals the source where it should.
sub compare_builtin_with_source
{
	my ($self, $sc) = @_;
	my $db = $self->{db};
	my $diff = '';
	for my $c (@{ $sc->{source_equal} // [] })
	{
		my ($label, $bsql, $ssql) = @$c;
		next if digest($self->{builtin}, $db, $bsql) eq digest($self->{source}, $db, $ssql);
		$diff .= "$label: the built-in subscriber differs from the source:\n"
		  . row_diff('built-in', [ rows_of($self->{builtin}, $db, $bsql) ], 'source', [ rows_of($self->{source}, $db, $ssql) ]);
	}
	return $diff;
}

# Runs SQL; on failure the scenario is a harness problem (the workload
# itself failed), with the script kept for reading.
sub run_or_harness
{
	my ($self, $node, $sql, $what, $res) = @_;
	my ($ok, $out, $err) = try_sql($node, $self->{db}, $sql);
	return 1 if $ok;
	my $file = "$PostgreSQL::Test::Utils::tmp_check/oracle_$self->{seed}_$res->{scenario}_" . ++$self->{scripts} . '.sql';
	PostgreSQL::Test::Utils::append_to_file($file, $sql);
	$res->{outcome} = 'harness problem';
	$res->{detail} = "$what failed (script: $file):\n$err";
	return 0;
}

# A checkpoint of a scenario: catch both up, judge, compare.  Returns 1 to go
# on, 0 when the scenario has its outcome.
sub checkpoint
{
	my ($self, $sc, $res, $label) = @_;
	my ($b, $l) = $self->catch_up($sc);
	$l = 'ready' if $ENV{LAREDO_ORACLE_HARNESS_ONLY};
	my $where = "at $label";
	$res->{builtin_done} = $label if $b eq 'ready';
	if ($b eq 'ready' && $l eq 'ready')
	{
		my $diff = $ENV{LAREDO_ORACLE_HARNESS_ONLY} ? '' : $self->compare_consumers($sc);
		if ($diff ne '')
		{
			$res->{outcome} = 'DIFFERENT';
			# Late or wrong?  Catch up once more, a second later (a diagnosis, not
			# a wait: the verdict stands either way), and compare again.
			usleep(1_000_000);
			my @again = $self->catch_up($sc);
			my $diff2 = "@again" eq 'ready ready' ? $self->compare_consumers($sc) : "(@again)";
			$diff .= $diff2 eq ''
			  ? "equal after a second catch-up: laredo's wait_for_catchup returned before these changes were applied\n"
			  : "still different after a second catch-up\n";
			# who is right, where the source tells
			my $ref = $sc->{source_equal} && !($sc->{source_equal_until_barrier} && $self->{barrier_done}{ $sc->{name} })
			  ? $self->compare_builtin_with_source($sc) : undef;
			$res->{detail} = "$where:\n$diff"
			  . (!defined $ref ? '' : $ref eq '' ? "(the built-in equals the source there)\n" : "and the built-in differs from the source:\n$ref");
			return 0;
		}
		my $harness = $sc->{source_equal_until_barrier} && $self->{barrier_done}{ $sc->{name} }
		  ? '' : $self->compare_builtin_with_source($sc);
		if ($harness ne '')
		{
			$res->{outcome} = 'harness problem';
			$res->{detail} = "$where:\n$harness";
			return 0;
		}
		$res->{checkpoints}++;
		$res->{compared} = "$self->{last_digests}\n($res->{checkpoints} checkpoints, the last $label)";
		return 1;
	}
	my $berr = $b eq 'error' ? $self->builtin_errors($sc, $self->{log_offset}) : $b eq 'timeout' ? "not caught up within $self->{timeout} s" : 'ok';
	my $lerr = $self->laredo_errors($sc);
	$lerr = "not caught up within $self->{timeout} s: $lerr" if $l eq 'timeout';
	$lerr .= "\nat setup: $self->{laredo_setup_error}{ $sc->{name} }" if $self->{laredo_setup_error}{ $sc->{name} };
	if ($self->{laredo_setup_error}{ $sc->{name} })
	{
		$res->{outcome} = 'laredo setup error';
	}
	elsif ($b eq 'error' && !$sc->{builtin_fails})
	{
		# the reference is meant to work here: the scenario does not test
		# what it says
		$res->{outcome} = 'harness problem';
		$where = "the built-in failed unexpectedly $where";
	}
	elsif ($b eq 'error' && $l eq 'error')
	{
		$res->{outcome} = 'both fail alike';
	}
	elsif ($b eq 'error' && $ENV{LAREDO_ORACLE_HARNESS_ONLY})
	{
		$res->{outcome} = 'built-in fails as expected';
	}
	elsif ($b eq 'ready')
	{
		$res->{outcome} = $l eq 'error' ? 'laredo error' : 'laredo timeout';
	}
	elsif ($l eq 'ready')
	{
		$res->{outcome} = $b eq 'error' ? 'built-in fails, laredo does not' : 'built-in timeout';
	}
	else
	{
		$res->{outcome} = "built-in $b, laredo $l";
	}
	$res->{detail} = "$where:\nbuilt-in: $berr\nlaredo: $lerr";
	return 0;
}

# One scenario's workload after its initial copy, checkpoint by checkpoint;
# the outcome goes into $res.
sub run_workload
{
	my ($self, $s, $res, $ctx) = @_;
	my ($src, $bi, $la, $db) = @$self{qw(source builtin laredo db)};
	my $r = LaredoOracle::Rng->new($self->{seed}, $s->{name}, 'workload');
	my @items = $s->{workload}->($r, $ctx, $self->{steps});
	my $script = '';
	my $flush = sub {
		return 1 if $script eq '';
		my $ok = $self->run_or_harness($src, "SET client_min_messages = warning;\n$script", 'the workload on the source', $res);
		$script = '';
		return $ok;
	};
	for my $item (@items)
	{
		if (defined $item->{sql})
		{
			$script .= $item->{sql};
			next;
		}
		my $label = $item->{label} // $item->{sync} // 'a barrier';
		$flush->() && $self->checkpoint($s, $res, "before $label") or return;
		if ($item->{behind})
		{
			for my $node ($bi, $la)
			{
				$self->run_or_harness($node, $item->{behind}, "deleting behind the consumers' backs", $res) or return;
			}
			$self->{barrier_done}{ $s->{name} } = 1;
		}
		if ($item->{ddl})
		{
			for my $node ($item->{ddl}{targets} ? ($bi, $la) : ())
			{
				$self->run_or_harness($node, $item->{ddl}{targets}, 'DDL on the targets', $res) or return;
			}
			$self->run_or_harness($src, $item->{ddl}{source}, 'DDL on the source', $res) or return;
			$self->{barrier_done}{ $s->{name} } = 1;
		}
	}
	$flush->() or return;
	# LAREDO_ORACLE_SABOTAGE=1: one row of laredo's first table that has rows
	# goes behind its back once the source is done, to see the comparison fail
	if ($ENV{LAREDO_ORACLE_SABOTAGE})
	{
		for my $t (grep { /^[\w.]+$/ } map { $_->[0] } $self->comparisons($s))
		{
			last if $la->safe_psql($db, "DELETE FROM $t WHERE ctid = (SELECT min(ctid) FROM ONLY $t) RETURNING 1") eq '1';
		}
	}
	$self->checkpoint($s, $res, 'the end of the workload') or return;
	$res->{outcome} = 'equal';
	return;
}

# run_seed($seed): every scenario with this seed; returns the results (one
# hash per scenario: seed, scenario, pubmode, outcome, detail).
sub run_seed
{
	my ($self, $seed) = @_;
	my ($src, $bi, $la) = @$self{qw(source builtin laredo)};
	my $db = "oracle_$seed";
	$self->{db} = $db;
	$self->{seed} = $seed;
	$self->{laredo_setup_error} = {};
	$self->{barrier_done} = {};
	$self->{log_offset} = -s $bi->logfile;
	my $t0 = time;
	my @sc = @{ $self->{scenarios} };
	my %res = map { $_->{name} => { seed => $seed, scenario => $_->{name}, checkpoints => 0 } } @sc;

	for my $node ($src, $bi, $la)
	{
		$node->safe_psql('postgres', "CREATE DATABASE $db TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'");
	}
	$la->safe_psql($db, 'CREATE EXTENSION laredo');

	# the source's tables, rows and publications; the targets on both consumers
	my %ctx;
	for my $s (@sc)
	{
		my $r = LaredoOracle::Rng->new($seed, $s->{name}, 'initial');
		$ctx{ $s->{name} } = { fresh => 0 };
		my $sql = "CREATE SCHEMA $s->{name};\n$s->{source_ddl};\n"
		  . join('', map { "$_;\n" } $s->{initial}->($r, $ctx{ $s->{name} }))
		  . "CREATE PUBLICATION pub_$s->{name} FOR TABLE $s->{pub_tables}"
		  . (defined $s->{via_root} ? " WITH (publish_via_partition_root = " . ($s->{via_root} ? 'true' : 'false') . ')' : '')
		  . ";\n";
		$src->safe_psql($db, $sql);
		my $tsql = "CREATE SCHEMA $s->{name};\n" . ($s->{target_ddl} // $s->{source_ddl}) . ";\n";
		$bi->safe_psql($db, $tsql);
		$la->safe_psql($db, $tsql);
	}

	# laredo first (its workers start at commit), then the subscriptions
	my $conn = $src->connstr($db);
	for my $s (@sc)
	{
		my $mode = $self->{pubmode} || (LaredoOracle::Rng->new($seed, $s->{name}, 'pubmode')->int(2) ? 'shared' : 'managed');
		$res{ $s->{name} }{pubmode} = $mode;
		my $opts = $mode eq 'shared' ? ", create_publication => false, publication => 'pub_$s->{name}'" : '';
		# laredo's own publication gets the partitioned scenarios' option (the
		# subscription's already has it)
		$opts .= ', publish_via_partition_root => ' . ($s->{via_root} ? 'true' : 'false')
		  if defined $s->{via_root} && $mode eq 'managed';
		my $sql = "BEGIN;\nSELECT laredo.create_source('$s->{name}', connection => \$c\$$conn\$c\$, slot_name => 'lo_$s->{name}'$opts,"
		  . " reconnect_max_attempts => 3, reconnect_initial_backoff => '1s', reconnect_max_backoff => '2s');\n";
		for my $t (@{ $s->{laredo} })
		{
			(my $pid = $t) =~ s/\./_/;
			$sql .= "SELECT laredo.add_table('$s->{name}', '$t');\n"
			  . "SELECT laredo.create_pipeline('$pid', '$s->{name}', '$t', target => '$t'"
			  . ($s->{pipeline_options} ? ", options => '$s->{pipeline_options}'" : '') . ");\n";
		}
		$sql .= "COMMIT;\n";
		next if $ENV{LAREDO_ORACLE_HARNESS_ONLY};
		my ($ok, $out, $err) = try_sql($la, $db, $sql);
		$self->{laredo_setup_error}{ $s->{name} } = $err unless $ok;
		note(sprintf('seed %d, %s: laredo uses %s', $seed, $s->{name},
				$mode eq 'shared' ? "the subscription's publication pub_$s->{name}" : 'its own managed publication'));
	}
	for my $s (@sc)
	{
		$bi->safe_psql($db, "CREATE SUBSCRIPTION sub_$s->{name} CONNECTION \$c\$$conn\$c\$ PUBLICATION pub_$s->{name} "
			  . "WITH (disable_on_error = true)");
	}

	# the initial copies, compared; then each workload in turn
	my %live;
	for my $s (@sc)
	{
		$live{ $s->{name} } = eval { $self->checkpoint($s, $res{ $s->{name} }, 'the initial copy') }
		  // do { @{ $res{ $s->{name} } }{qw(outcome detail)} = ('harness problem', "the harness died: $@"); 0 };
	}
	my $setup = time - $t0;
	for my $s (@sc)
	{
		next unless $live{ $s->{name} };
		# a laredo crash that restarts its server breaks a query here: the
		# scenario gets the error, the others go on (and LaredoTest reports
		# the crash)
		eval { $self->run_workload($s, $res{ $s->{name} }, $ctx{ $s->{name} }); 1 }
		  or @{ $res{ $s->{name} } }{qw(outcome detail)} = ('harness problem', "the harness died: $@");
	}
	for my $s (@sc)
	{
		my $res = $res{ $s->{name} };
		# the built-in ran the whole workload without failing
		if ($s->{builtin_fails} && ($res->{outcome} eq 'equal' || ($res->{builtin_done} // '') eq 'the end of the workload'))
		{
			$res->{detail} = "the built-in was expected to fail here and did not ($res->{outcome})\n" . ($res->{detail} // '');
			$res->{outcome} = 'harness problem';
		}
	}

	my @out = map { $res{ $_->{name} } } @sc;
	$self->{seed_times}{$seed} = sprintf('%.0f s (%.0f s of setup and initial copies)', time - $t0, $setup);
	push @{ $self->{results} }, @out;

	# LAREDO_ORACLE_KEEP=1 (with PG_TEST_NOCLEAN=1): the databases stay, to be
	# looked at with the servers' data directories in tmp_check
	if ($ENV{LAREDO_ORACLE_KEEP})
	{
		$bi->safe_psql($db, "ALTER SUBSCRIPTION sub_$_->{name} DISABLE") for @sc;
		$la->safe_psql($db, "SELECT laredo.alter_source('$_->{name}', enabled => false) FROM laredo.sources WHERE source_id = '$_->{name}'") for @sc;
		return @out;
	}

	# leave nothing behind: subscriptions and sources drop their slots
	for my $s (@sc)
	{
		try_sql($bi, $db, "ALTER SUBSCRIPTION sub_$s->{name} DISABLE");
		try_sql($bi, $db, "ALTER SUBSCRIPTION sub_$s->{name} SET (slot_name = NONE)");
		try_sql($bi, $db, "DROP SUBSCRIPTION sub_$s->{name}");
		try_sql($la, $db, "SELECT laredo.drop_source('$s->{name}', force => true)");
	}
	$la->safe_psql('postgres', "DROP DATABASE $db WITH (FORCE)");
	$bi->safe_psql('postgres', "DROP DATABASE $db WITH (FORCE)");
	$src->poll_query_until('postgres', qq{
		SELECT count(*) = 0 FROM pg_replication_slots WHERE database = '$db' AND active});
	$src->safe_psql('postgres', "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '$db'");
	$src->safe_psql('postgres', "DROP DATABASE $db WITH (FORCE)");
	return @out;
}

sub passed { my ($res) = @_; return $res->{outcome} =~ /^(equal|both fail alike|built-in fails as expected)$/; }

# The command that replays one scenario of one seed.
sub replay_command
{
	my ($self, $res) = @_;
	return "LAREDO_ORACLE_SEEDS=$res->{seed} LAREDO_ORACLE_SCENARIOS=$res->{scenario} LAREDO_ORACLE_STEPS=$self->{steps}"
	  . ($self->{pubmode} ? " LAREDO_ORACLE_PUBMODE=$self->{pubmode}" : '')
	  . ($ENV{LAREDO_ORACLE_HARNESS_ONLY} ? ' LAREDO_ORACLE_HARNESS_ONLY=1' : '')
	  . ' bash test/bench/oracle.sh';
}

# One line per result, and the detail of each failure.
sub report
{
	my ($self, $res) = @_;
	my $head = sprintf('seed %d, %s (laredo: %s publication): %s', $res->{seed}, $res->{scenario}, $res->{pubmode} // '?', $res->{outcome});
	return "$head\n$res->{compared}" if passed($res) && $res->{outcome} eq 'equal';
	return "$head\n" . ($res->{detail} // '') . (passed($res) ? '' : "\nreplay: " . $self->replay_command($res));
}

# The table of every scenario over every seed run.
sub summary
{
	my ($self) = @_;
	my %by;
	push @{ $by{ $_->{scenario} } }, $_ for @{ $self->{results} };
	my $out = sprintf("%-18s %s\n", 'scenario', join(' ', map { sprintf('%-22s', "seed $_") } @{ $self->{seeds} }));
	for my $s (@{ $self->{scenarios} })
	{
		$out .= sprintf("%-18s %s\n", $s->{name},
			join(' ', map { sprintf('%-22s', ($_->{pubmode} eq 'shared' ? '(s) ' : '(m) ') . $_->{outcome}) } @{ $by{ $s->{name} } }));
	}
	$out .= "(s): laredo used the subscription's publication, (m): its own\n";
	$out .= "seed $_: $self->{seed_times}{$_}\n" for grep { $self->{seed_times}{$_} } @{ $self->{seeds} };
	return $out;
}

1;
