# 030_slot_safety: laredo never skips changes silently.  A slot advanced
# behind laredo's back (ahead of the stored position) or dropped puts the
# source in ERROR with a hint, and it stays there instead of restarting in a
# loop.  Also: CREATE DATABASE works while laredo runs (no connection to a
# template), and a terminated worker is restarted and resumes exactly.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $source = PostgreSQL::Test::Cluster->new('source');
$source->init(allows_streaming => 'logical');
$source->start;
my $consumer = PostgreSQL::Test::Cluster->new('consumer');
$consumer->init;
$consumer->append_conf('postgresql.conf', "shared_preload_libraries = 'laredo'\nlaredo.restart_delay = 200\n");
$consumer->start;

$source->safe_psql('postgres', q{
	CREATE TABLE t (id int PRIMARY KEY, v text);
	INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 100) g;
});
$consumer->safe_psql('postgres', qq{
	CREATE EXTENSION laredo;
	BEGIN;
	SELECT laredo.create_source('s', connection => \$c\$@{[ $source->connstr('postgres') ]}\$c\$,
	                            slot_name => 'laredo_s');
	SELECT laredo.add_table('s', 'public.t');
	SELECT laredo.create_pipeline('t', 's', 'public.t', target => 'public.t_copy');
	COMMIT;
});

sub same
{
	my $q = q{SELECT count(*) || ':' || md5(string_agg(t::text, '|' ORDER BY id)) FROM %s t};
	return $consumer->safe_psql('postgres', sprintf($q, 't_copy')) eq
	  $source->safe_psql('postgres', sprintf($q, 't'));
}
sub catch_up
{
	return $consumer->safe_psql('postgres', q{SELECT laredo.wait_for_catchup('s', '120s')}) eq 't';
}
sub worker_count
{
	return $consumer->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'laredo source worker'});
}

ok(catch_up() && same(), 'baseline equal');

# No connection to a template database: CREATE DATABASE works.
$consumer->safe_psql('postgres', 'CREATE DATABASE created_while_running');
pass('CREATE DATABASE succeeds while laredo runs');
my $template_users = $consumer->safe_psql('postgres',
	q{SELECT count(*) FROM pg_stat_activity a JOIN pg_database d ON d.oid = a.datid WHERE d.datistemplate});
is($template_users, '0', 'no backend is connected to a template database');

# A terminated worker is started again and resumes exactly.
my $pid = $consumer->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'laredo source worker'});
$consumer->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
$source->safe_psql('postgres', q{INSERT INTO t SELECT g, 'after sigterm' FROM generate_series(101, 200) g});
ok(catch_up() && same(), 'restarted after SIGTERM, resumed, equal');

# The slot advanced behind laredo's back: refuse, ERROR with a hint.
$consumer->safe_psql('postgres', q{SELECT laredo.alter_source('s', enabled => false)});
$consumer->poll_query_until('postgres',
	q{SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'laredo source worker'})
  or die 'worker did not stop';
$source->poll_query_until('postgres', q{SELECT NOT active FROM pg_replication_slots WHERE slot_name = 'laredo_s'})
  or die 'slot still active';
$source->safe_psql('postgres', q{
	INSERT INTO t VALUES (1000, 'would be skipped');
	SELECT pg_replication_slot_advance('laredo_s', pg_current_wal_lsn());
});
$consumer->safe_psql('postgres', q{SELECT laredo.alter_source('s', enabled => true)});
$consumer->poll_query_until('postgres', q{SELECT state = 'ERROR' FROM laredo.sources WHERE source_id = 's'})
  or die 'source did not go to ERROR';
like($consumer->safe_psql('postgres', q{SELECT last_error FROM laredo.sources}),
	qr/replication slot "laredo_s" on source "s" is ahead of laredo's position/, 'slot ahead: ERROR names the cause');
like($consumer->safe_psql('postgres', q{SELECT last_error_hint FROM laredo.sources}),
	qr/Drop and create source "s" again/, 'slot ahead: the hint names the remedy');
sleep(1);
is(worker_count(), '0', 'a source in ERROR is not restarted in a loop');
is($consumer->safe_psql('postgres', q{SELECT count(*) FROM t_copy WHERE id = 1000}), '0',
	'nothing was applied from the advanced slot');

# The slot dropped behind laredo's back: ERROR, not a silent new baseline.
$source->safe_psql('postgres', q{SELECT pg_drop_replication_slot('laredo_s')});
$consumer->safe_psql('postgres', q{SELECT laredo.alter_source('s', enabled => true)});
$consumer->poll_query_until('postgres',
	q{SELECT state = 'ERROR' AND last_error LIKE '%no longer exists%' FROM laredo.sources WHERE source_id = 's'})
  or die 'source did not go to ERROR for the dropped slot';
pass('dropped slot: ERROR');

done_testing();
