# 225_changelog_copy_point: a transaction that commits exactly at the
# baseline's position.  A slot becomes consistent at a running-xacts record
# of the source; a transaction that was running then (so not in the copy) and
# whose commit record comes right after that record has the copy's position
# as its commit LSN.  A change log keyed by (lsn, seq) must hold the copy's
# rows and that transaction's changes, each once: the copy's rows sort before
# them.  Once this stopped the source with a duplicate key in the change log
# (seen in the crash loop under pgbench).
#
# The transactions are placed so that the slot's creation waits for them, as
# the snapshot builder does (src/backend/replication/logical/snapbuild.c):
# A runs when the slot starts building, B starts after that and runs when A
# ends (the full snapshot), C starts after that and runs when B ends (the
# consistent point).  C commits while the copy is under way, nothing written
# in between.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use LaredoTest;

my $source = source_server('source');
my $consumer = consumer_server('consumer');

$source->safe_psql('postgres', q{
	CREATE TABLE t (id int PRIMARY KEY, v text);
	INSERT INTO t VALUES (1, 'one'), (2, 'two'), (3, 'three');
});
$consumer->safe_psql('postgres', 'CREATE EXTENSION laredo');

# open_xact($id): a session of the source in a transaction that has
# inserted row $id (so it has an xid); returns the session and its xid
sub open_xact
{
	my ($id) = @_;
	my $s = $source->background_psql('postgres', on_error_stop => 1);
	$s->query_safe("BEGIN; INSERT INTO t VALUES ($id, 'x$id')");
	my $xid = $s->query_safe('SELECT pg_current_xact_id()');
	chomp $xid;
	return ($s, $xid);
}

# waits until the slot's creation waits for transaction $xid to end
sub wait_builder_waits_for
{
	my ($xid) = @_;
	$source->poll_query_until('postgres', qq{
		SELECT count(*) > 0 FROM pg_locks l JOIN pg_stat_activity a USING (pid)
		 WHERE l.locktype = 'transactionid' AND NOT l.granted AND l.transactionid::text = '$xid'
		   AND a.backend_type = 'walsender'})
	  or die "the slot's creation never waited for transaction $xid";
}

my ($a, $xa) = open_xact(10);
my $conn = $source->connstr('postgres');
$consumer->safe_psql('postgres', qq{
	BEGIN;
	SELECT laredo.create_source('s', connection => \$c\$$conn\$c\$, slot_name => 'point_slot');
	SELECT laredo.add_table('s', 'public.t');
	SELECT laredo.create_pipeline('t_log', 's', 'public.t', target_kind => 'changelog', target => 'public.t_log');
	COMMIT;
});
wait_builder_waits_for($xa);
my ($b, $xb) = open_xact(11);
$a->query_safe('COMMIT');
wait_builder_waits_for($xb);
my ($c) = open_xact(12);

# The copy is held up on this side (its target locked) until C has
# committed: once the source streams, its walsender's own snapshot builder
# writes running-xacts records of its own (snapbuild.c's
# SnapBuildWaitSnapshot), and C would commit after them.
my $holder = $consumer->background_psql('postgres', on_error_stop => 1);
$holder->query_safe('BEGIN; LOCK TABLE public.t_log IN ACCESS EXCLUSIVE MODE');
$b->query_safe('COMMIT');
$consumer->poll_query_until('postgres', q{
	SELECT count(*) > 0 FROM pg_locks WHERE relation = 'public.t_log'::regclass AND NOT granted})
  or die "the copy never waited for its target";
my $slot_lsn = $source->safe_psql('postgres',
	q{SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'point_slot'});
$c->query_safe('COMMIT');
$holder->query_safe('COMMIT');
$holder->quit;
$a->quit;
$b->quit;
$c->quit;
$consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('s', '60s')});

# the copy saw A and B, not C
my $copy_lsn = $consumer->safe_psql('postgres', q{SELECT DISTINCT lsn FROM public.t_log WHERE op = 'B'});
is($consumer->safe_psql('postgres', q{SELECT string_agg(key->>'id', ',' ORDER BY (key->>'id')::int) FROM public.t_log WHERE op = 'B'}),
	'1,2,3,10,11', 'the copy holds the rows of the transactions that ended before the consistent point');
is($copy_lsn, $slot_lsn, "the copy's position is the slot's consistent point");

# the precondition: C's commit is right at the copy's position (else this
# test proves nothing: something wrote WAL in between)
is($consumer->safe_psql('postgres', q{SELECT lsn FROM public.t_log WHERE op = 'I'}),
	$copy_lsn, "the transaction still running at the consistent point committed at the copy's position");
is($consumer->safe_psql('postgres', q{SELECT state || coalesce(' ' || last_error, '') FROM laredo.sources WHERE source_id = 's'}),
	'STREAMING', 'the source streams on, no duplicate key in its change log');
is($consumer->safe_psql('postgres', q{SELECT string_agg(op || ':' || (key->>'id') || ':' || seq, ' ' ORDER BY lsn, seq) FROM public.t_log}),
	'B:11:-5 B:10:-4 B:3:-3 B:2:-2 B:1:-1 I:12:1',
	'every row once, in (lsn, seq) order: the copy (its row numbers negated), then the transaction');

# and the log goes on after it
$source->safe_psql('postgres', q{UPDATE t SET v = 'changed' WHERE id = 12});
$consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('s', '60s')});
is($consumer->safe_psql('postgres', q{SELECT count(*) FROM public.t_log WHERE op = 'U' AND lsn > pg_lsn '} . $copy_lsn . q{'}),
	'1', 'a later change follows');

done_testing();
