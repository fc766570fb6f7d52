# 010_stateful_resume: a stateful source on one server mirrored into a table on
# another.  Proves the baseline (10,000 rows), a mixed stream of inserts,
# updates, deletes and a truncate, and that the mirror equals the source row
# for row after a clean stop of the consumer, a kill -9 of the source worker,
# and an immediate stop of the consumer server, all while the source keeps
# writing; the stateful restarts do not take a new baseline.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use LaredoTest;
use IPC::Run;

my $source = PostgreSQL::Test::Cluster->new('source');
$source->init(allows_streaming => 'logical');
$source->append_conf('postgresql.conf', "max_replication_slots = 10\nmax_wal_senders = 10\n");
$source->start;

my $consumer = PostgreSQL::Test::Cluster->new('consumer');
$consumer->init;
$consumer->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'laredo'
wal_level = logical
laredo.restart_delay = 300
restart_after_crash = on
});
$consumer->start;

$source->safe_psql('postgres', q{
	CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, qty int, price numeric(10,2),
	                    updated timestamptz DEFAULT now(), payload text);
	INSERT INTO items SELECT g, 'item ' || g, g % 97, g / 7.0, now(),
	       CASE WHEN g % 1000 = 0 THEN repeat('x', 20000) END
	FROM generate_series(1, 10000) g;
	CREATE ROLE replicator LOGIN REPLICATION PASSWORD 'secret';
	GRANT SELECT ON items TO replicator;
	ALTER TABLE items OWNER TO replicator;
	GRANT CREATE ON DATABASE postgres TO replicator;
});

my $connstr = $source->connstr('postgres') . ' user=replicator password=secret';
$consumer->safe_psql('postgres', qq{
	CREATE EXTENSION laredo;
	CREATE SCHEMA mirror;
	BEGIN;
	SELECT laredo.create_source('main', connection => \$c\$$connstr\$c\$, slot_name => 'laredo_main');
	SELECT laredo.add_table('main', 'public.items');
	SELECT laredo.create_pipeline('items', 'main', 'public.items', target => 'mirror.items');
	COMMIT;
});

sub source_hash
{
	return $source->safe_psql('postgres',
		q{SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, '|' ORDER BY id), '')) FROM items t});
}

sub mirror_hash
{
	return $consumer->safe_psql('postgres',
		q{SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, '|' ORDER BY id), '')) FROM mirror.items t});
}

sub catch_up
{
	my ($what) = @_;
	my $ok = $consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('main', '120s'); SELECT true});
	is($ok, 't', "$what: caught up");
	is(mirror_hash(), source_hash(), "$what: mirror equals source row for row");
}

catch_up('baseline');
is($consumer->safe_psql('postgres', q{SELECT baseline_rows FROM laredo.pipelines WHERE pipeline_id = 'items'}),
	'10000', 'baseline copied 10,000 rows');
is($consumer->safe_psql('postgres', q{SELECT state FROM laredo.sources}), 'STREAMING', 'source is STREAMING');

# A mixed stream: inserts, updates (TOASTed payload unchanged), deletes, a key change.
$source->safe_psql('postgres', q{
	INSERT INTO items (id, name, qty) SELECT g, 'new ' || g, 1 FROM generate_series(10001, 11000) g;
	UPDATE items SET qty = qty + 1 WHERE id % 3 = 0;
	UPDATE items SET name = 'renamed' WHERE id = 1000;
	DELETE FROM items WHERE id % 10 = 5;
	UPDATE items SET id = id + 100000 WHERE id BETWEEN 500 AND 510;
});
catch_up('mixed stream');

# A truncate reaches the mirror.
$source->safe_psql('postgres', q{
	TRUNCATE items;
	INSERT INTO items (id, name, qty) SELECT g, 'after truncate ' || g, g FROM generate_series(1, 3000) g;
});
catch_up('truncate');

# The consumer is restarted in three ways while pgbench keeps writing on the
# source (inserts, upserts, updates, deletes from two clients); after each,
# once the load has stopped and laredo caught up, the mirror equals the source.
my $script = $source->basedir . '/load.sql';
open my $fh, '>', $script or die;
print $fh q{\set id random(1, 60000)
INSERT INTO items (id, name, qty) VALUES (:id + 100000, 'load', 1)
  ON CONFLICT (id) DO UPDATE SET qty = items.qty + 1, name = 'load again';
UPDATE items SET qty = qty - 1 WHERE id = :id % 3000 + 1;
DELETE FROM items WHERE id = :id + 100000 AND :id % 4 = 0;
};
close $fh;

sub start_load
{
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'pgbench', '-n', '-c', '2', '-T', '4', '-f', $script,
		  '-h', $source->host, '-p', $source->port, 'postgres' ],
		'>', \$out, '2>', \$err);
	# the restart must happen while changes are flowing
	$source->poll_query_until('postgres',
		q{SELECT count(*) > 20 FROM items WHERE name LIKE 'load%'}) or die 'no load';
	return $h;
}

sub worker_pid
{
	return $consumer->safe_psql('postgres',
		q{SELECT pid FROM pg_stat_activity WHERE application_name = 'laredo source main' AND backend_type = 'laredo source worker'});
}

# 1. clean stop of the consumer server
my $load = start_load();
$consumer->stop('fast');
$consumer->start;
$load->finish;
catch_up('after a clean restart under load');

# 2. kill -9 of the source worker (the postmaster restarts every backend)
$consumer->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'laredo source main' AND backend_type = 'laredo source worker'})
  or die 'worker did not start';
$load = start_load();
kill_process($consumer, worker_pid());
wait_accepting($consumer);
$load->finish;
catch_up('after kill -9 of the worker under load');

# 3. immediate stop of the consumer server, in the middle of the stream
$load = start_load();
$consumer->stop('immediate');
$consumer->start;
$load->finish;
catch_up('after an immediate stop under load');
my $loaded = $source->safe_psql('postgres', q{SELECT count(*) FROM items WHERE name LIKE 'load%'});
ok($loaded > 100, "the load wrote rows during the restarts ($loaded rows)");

is($consumer->safe_psql('postgres', q{SELECT baseline_rows FROM laredo.pipelines WHERE pipeline_id = 'items'}),
	'10000', 'stateful restarts took no new baseline');
my $log = slurp_file($consumer->logfile);
my $baselines = () = $log =~ /taking the baseline/g;
is($baselines, 1, 'exactly one baseline in the consumer log');
# The statement log echoes what the user typed (the README shows how a
# passfile keeps it out); laredo's own messages never carry the password.
my @own_lines = grep { !/statement: / } split /\n/, $log;
is(scalar(grep { /secret/ } @own_lines), 0, 'laredo never writes the connection password to the log');

# The slot's confirmed position never runs ahead of what is durable here.
my ($confirmed) = $source->safe_psql('postgres',
	q{SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'laredo_main'});
my $ahead = $consumer->safe_psql('postgres',
	qq{SELECT '$confirmed'::pg_lsn > laredo._origin_lsn('main')});
is($ahead, 'f', 'the slot is not ahead of the stored position');

done_testing();
