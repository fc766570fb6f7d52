# 060_idle_wal: an idle source does not pin WAL.  Only a table outside the
# publication is written; keepalives are made durable and acknowledged, so the
# slot's confirmed_flush_lsn and restart_lsn keep advancing on the source, and
# the stored position never falls behind what was acknowledged.  laredo.sources
# shows the slot as the source sees it (restart_lsn, confirmed_flush_lsn,
# wal_status, retained_wal_bytes), read on a plain connection.
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
$consumer->append_conf('postgresql.conf', "shared_preload_libraries = 'laredo'\n");
$consumer->start;

$source->safe_psql('postgres', q{
	CREATE TABLE published (id int PRIMARY KEY);
	CREATE TABLE unpublished (x text);
	INSERT INTO published VALUES (1);
});
$consumer->safe_psql('postgres', qq{
	CREATE EXTENSION laredo;
	BEGIN;
	SELECT laredo.create_source('idle', connection => \$c\$@{[ $source->connstr('postgres') ]}\$c\$,
	                            slot_name => 'laredo_idle');
	SELECT laredo.add_table('idle', 'public.published');
	SELECT laredo.create_pipeline('p', 'idle', 'public.published', target => 'public.published_copy');
	COMMIT;
});
is($consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('idle', '120s'); SELECT true}), 't', 'baseline done');

my ($restart0, $confirmed0) = split /\|/, $source->safe_psql('postgres',
	q{SELECT restart_lsn || '|' || confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'laredo_idle'});

# Write only outside the publication until the slot has moved on.
my $advanced = 0;
for my $i (1 .. 120)
{
	$source->safe_psql('postgres', q{
		INSERT INTO unpublished SELECT repeat('u', 100) FROM generate_series(1, 1000);
		SELECT pg_switch_wal();
		CHECKPOINT;
	});
	$advanced = $source->safe_psql('postgres', qq{
		SELECT restart_lsn > '$restart0' AND confirmed_flush_lsn > '$confirmed0'
		FROM pg_replication_slots WHERE slot_name = 'laredo_idle'});
	last if $advanced eq 't';
	$consumer->safe_psql('postgres', q{SELECT pg_sleep(0.25)});
}
is($advanced, 't', 'restart_lsn and confirmed_flush_lsn advance while only an unpublished table is written');

my $confirmed = $source->safe_psql('postgres',
	q{SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'laredo_idle'});
is($consumer->safe_psql('postgres', qq{SELECT laredo._origin_lsn('idle') >= '$confirmed'}), 't',
	'what the source was told is durable here');

$consumer->poll_query_until('postgres',
	q{SELECT restart_lsn IS NOT NULL AND retained_wal_bytes IS NOT NULL FROM laredo.sources})
  or die 'no slot fields in laredo.sources';
my ($status, $retained) = split /\|/, $consumer->safe_psql('postgres',
	q{SELECT wal_status || '|' || retained_wal_bytes FROM laredo.sources WHERE source_id = 'idle'});
like($status, qr/^(reserved|extended)$/, "laredo.sources shows wal_status ($status)");
ok($retained >= 0 && $retained < 64 * 1024 * 1024, "laredo.sources shows retained WAL ($retained bytes)");
# Those fields are read on a plain connection: an idle walsender would be
# woken by every WAL flush on the source.
is($source->safe_psql('postgres', q{
	SELECT string_agg(backend_type || ': ' || application_name, ', ' ORDER BY application_name)
	FROM pg_stat_activity WHERE application_name LIKE 'laredo %'}),
	'walsender: laredo ' . $consumer->safe_psql('postgres', 'SELECT system_identifier FROM pg_control_system()')
	  . '/1 source idle, client backend: laredo status idle',
	'the source sees one walsender (the stream) and a plain connection for the slot state');

# An idle source's data still flows.
$source->safe_psql('postgres', q{INSERT INTO published VALUES (2)});
is($consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('idle', '120s'); SELECT true}), 't', 'caught up');
is($consumer->safe_psql('postgres', q{SELECT count(*) FROM published_copy}), '2', 'the change arrived');

done_testing();
