# 210_oracle: laredo does what PostgreSQL's own subscriber does.  One source
# and two consumers: one subscribes with CREATE SUBSCRIPTION, the other runs
# laredo, on the same publication or on laredo's own (the seed chooses).
# For each seed, every scenario of test/perl/LaredoOracle.pm (a primary key
# table with TOASTed values and key updates, REPLICA IDENTITY FULL without a
# key, USING INDEX, NOTHING, partitioned tables published leaf by leaf and
# via their root into targets partitioned alike, differently or not at all,
# inheritance, foreign keys with TRUNCATE CASCADE and RESTART IDENTITY,
# replica identity changed while streaming, generated columns, columns added
# and dropped, rows missing on the targets, triggers and a foreign key on
# the targets, a point column under REPLICA IDENTITY FULL) copies its tables
# and runs a seeded workload; after the copy, at each DDL or other barrier and
# at the end, every table of laredo's consumer holds exactly the rows of the
# same table on the subscriber (and the targets' sequences agree), or both
# consumers failed where the built-in itself fails.  The harness checks
# itself too: the subscriber equals the source wherever it should.
#
# A failure prints the differing rows (or both error texts) and the command
# that replays that scenario with that seed alone.  More seeds:
# test/bench/oracle.sh.  Knobs: LAREDO_ORACLE_SEEDS, LAREDO_ORACLE_SCENARIOS,
# LAREDO_ORACLE_STEPS (see LaredoOracle.pm).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use LaredoTest;
use LaredoOracle;

my $oracle = LaredoOracle->new;
my @failed;
for my $seed ($oracle->seeds)
{
	for my $res ($oracle->run_seed($seed))
	{
		my $passed = LaredoOracle::passed($res);
		ok($passed, "seed $seed, $res->{scenario}: $res->{outcome}");
		if ($passed) { note($oracle->report($res)); }
		else { diag($oracle->report($res)); push @failed, $res; }
	}
}
diag("\n" . $oracle->summary);
diag("replay the failures:\n" . join("\n", map { $oracle->replay_command($_) } @failed)) if @failed;

done_testing();
