# 160_target_failures: when the consumer cannot write a change, the position
# stays where it was, so nothing is lost.
#  1. A target refuses a row (a CHECK constraint): the source and pipeline go
#     to ERROR naming the constraint, the transaction with that row and every
#     later one are absent from the target, and neither the resume position
#     here nor the slot's confirmed_flush_lsn on the source passes it.  Once
#     the constraint is dropped and the source re-enabled, everything arrives.
#  2. The disk fills: the consumer runs with a file size limit (ulimit -f
#     20 MB: WAL segments of 16 MB still fit, the target table cannot grow
#     past it) while 40 MB of rows stream in.  The failure to extend the
#     table is an ERROR; only whole transactions are in the target; the
#     position is not past the first missing one.  Restarted without the
#     limit and re-enabled, laredo catches up and the target equals the
#     source.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use LaredoTest;

my $source = PostgreSQL::Test::Cluster->new('source');
$source->init(allows_streaming => 'logical');
$source->start;
my $consumer = PostgreSQL::Test::Cluster->new('consumer');
$consumer->init;
$consumer->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'laredo'
laredo.restart_delay = 200
max_wal_size = 64MB
min_wal_size = 32MB
});
$consumer->start;

$source->safe_psql('postgres', q{
	CREATE TABLE t (id int PRIMARY KEY, batch int NOT NULL, pad text NOT NULL);
	INSERT INTO t SELECT g, 0, 'baseline' FROM generate_series(1, 100) g;
});
$consumer->safe_psql('postgres', qq{
	CREATE EXTENSION laredo;
	BEGIN;
	SELECT laredo.create_source('f', connection => \$c\$@{[ $source->connstr('postgres') ]}\$c\$,
	                            slot_name => 'laredo_f', reconnect_max_attempts => 1000,
	                            reconnect_initial_backoff => '100ms', reconnect_max_backoff => '500ms');
	SELECT laredo.add_table('f', 'public.t');
	SELECT laredo.create_pipeline('t', 'f', 'public.t', target => 'public.t_copy');
	COMMIT;
	CALL laredo.wait_for_catchup('f', '120s');
});

sub same
{
	my ($what) = @_;
	$consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('f', '300s')});
	my $q = q{SELECT count(*) || ':' || md5(string_agg(x::text, '|' ORDER BY id)) FROM %s x};
	is($consumer->safe_psql('postgres', sprintf($q, 't_copy')), $source->safe_psql('postgres', sprintf($q, 't')),
		"$what: target equals source row for row");
}

# Writes batches first..last, one transaction each, and returns the WAL
# position after each commit.
sub write_batches
{
	my ($first, $last, $rows, $pad) = @_;
	my %end;
	for my $b ($first .. $last)
	{
		$end{$b} = $source->safe_psql('postgres', qq{
			INSERT INTO t SELECT $b * 100000 + g, $b, repeat(md5(g::text), $pad) FROM generate_series(1, $rows) g;
			SELECT pg_current_wal_lsn()});
	}
	return \%end;
}

# Which batches the target holds: each whole or absent, a prefix of those written.
sub check_prefix
{
	my ($what, $first, $last, $rows, $end) = @_;
	my %count = map { split /\|/ } split /\n/,
	  $consumer->safe_psql('postgres', qq{SELECT batch, count(*) FROM t_copy WHERE batch >= $first GROUP BY batch});
	my $k = $first - 1;
	$k++ while exists $count{ $k + 1 };
	ok($k < $last, "$what: the target stopped at batch $k of $first..$last");
	my @partial = grep { $count{$_} != $rows } keys %count;
	my @beyond = grep { $_ > $k } keys %count;
	ok(!@partial && !@beyond, "$what: only whole transactions, and no gap");
	my $missing = $end->{ $k + 1 };
	my ($confirmed, $origin) = split /\|/, $consumer->safe_psql('postgres',
		q{SELECT coalesce(confirmed_lsn::text, '0/0') || '|' || coalesce(laredo._origin_lsn('f')::text, '0/0') FROM laredo.sources});
	my $slot = $source->safe_psql('postgres', q{SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'laredo_f'});
	is($source->safe_psql('postgres', qq{SELECT '$origin'::pg_lsn < '$missing'::pg_lsn AND '$slot'::pg_lsn < '$missing'::pg_lsn}),
		't', "$what: neither the resume position ($origin) nor the slot ($slot) passed batch " . ($k + 1) . " ($missing)");
	return $k;
}

# 1. A target that refuses a row.
$consumer->safe_psql('postgres', q{ALTER TABLE t_copy ADD CONSTRAINT no_magic CHECK (id <> 500777) NOT VALID});
my $end = write_batches(1, 8, 1000, 1);
$consumer->poll_query_until('postgres', q{SELECT state = 'ERROR' FROM laredo.sources}) or die 'no ERROR';
like($consumer->safe_psql('postgres', q{SELECT last_error FROM laredo.pipelines WHERE pipeline_id = 't'}),
	qr/no_magic/, 'the pipeline ERROR names the constraint');
my $k = check_prefix('refused row', 1, 8, 1000, $end);
is($k, 4, 'batches 1 to 4 applied, batch 5 (with the refused row) and after not');
$consumer->safe_psql('postgres', q{ALTER TABLE t_copy DROP CONSTRAINT no_magic; SELECT laredo.alter_source('f', enabled => true)});
same('after the constraint was dropped');

# 2. A full disk.
$consumer->stop;
my $limit_kb = 20 * 1024;
system_or_bail('bash', '-c', "ulimit -f $limit_kb && pg_ctl -w -D " . $consumer->data_dir
	  . ' -l ' . $consumer->logfile . ' -o --cluster-name=consumer start');
$consumer->_update_pid(1);
$consumer->poll_query_until('postgres', q{SELECT state = 'STREAMING' FROM laredo.sources}) or die 'not streaming';
$end = write_batches(101, 140, 1000, 32);    # 1,000 rows of about 1 kB each
$consumer->poll_query_until('postgres', q{SELECT state = 'ERROR' FROM laredo.sources}, 't') or die 'no ERROR';
like($consumer->safe_psql('postgres', q{SELECT last_error FROM laredo.sources}),
	qr/could not extend file .*File too large/, 'the ERROR says the table could not grow');
$k = check_prefix('full disk', 101, 140, 1000, $end);
ok($k > 101, "some batches fit first ($k)");
$consumer->stop;
$consumer->start;
$consumer->safe_psql('postgres', q{SELECT laredo.alter_source('f', enabled => true)});
same('after space was freed');
my $size = $consumer->safe_psql('postgres', q{SELECT pg_table_size('t_copy')});
ok($size > $limit_kb * 1024, "the target outgrew the old limit once it was lifted ($size bytes)");

done_testing();
