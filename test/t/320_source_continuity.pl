# 320_source_continuity: on every connect laredo proves that the source
# continues the history its position was received on (continuity.c), on
# every version: the source's system identifier, its timeline and the switch
# points of the earlier ones, and its WAL position.
#
# Failovers are made as a failover slot (17+) or a tool such as
# pg_failover_slots (before 17) makes them: the source's slot is on its
# standby too, as it was at some point before the failover.  Here the slot's
# files are copied from the primary into the stopped standby (before 17 a
# standby cannot have a logical slot of its own), then the primary goes on
# alone, is stopped in immediate mode and the standby promoted.  The
# connection string names both servers with target_session_attrs=read-write.
#   - Only keepalives took laredo past the fork (the primary wrote only
#     tables nobody follows): the position moves back to the fork and the new
#     primary's changes made before laredo reconnected arrive; without that
#     they would be skipped (laredo would resume past them).
#   - laredo applied changes the standby never received: a durable ERROR
#     naming the fork, not a silent resume on the new timeline.
#   - A source restored from a file copy taken before laredo's position
#     (same timeline, same slot): an ERROR, not a silent skip of its new
#     changes.
#   - Another server at the source's address: an ERROR;
#     laredo.accept_source_server accepts it.
use strict;
use warnings;
use File::Path ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::RecursiveCopy;
use PostgreSQL::Test::Utils;
use Test::More;
use LaredoTest;

my $consumer = consumer_server('consumer');
$consumer->safe_psql('postgres', 'CREATE EXTENSION laredo');

sub source_state
{
	my ($id) = @_;
	return $consumer->safe_psql('postgres',
		qq{SELECT state || '|' || coalesce(last_error, '') FROM laredo.sources WHERE source_id = '$id'});
}

# A primary and its streaming standby, one table streamed into mirror.$id.
sub source_pair
{
	my ($id) = @_;
	my $primary = source_server("${id}_primary", "wal_keep_size = 512MB\n");
	$primary->safe_psql('postgres', q{
		CREATE TABLE items (id int PRIMARY KEY, v text);
		INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 1000) g;
		CREATE TABLE unfollowed (id bigint, filler text);
	});
	$primary->backup("${id}_backup");
	my $standby = PostgreSQL::Test::Cluster->new("${id}_standby");
	$standby->init_from_backup($primary, "${id}_backup", has_streaming => 1);
	$standby->start;
	my $conn = sprintf('host=%s,%s port=%s,%s dbname=postgres target_session_attrs=read-write',
		$primary->host, $standby->host, $primary->port, $standby->port);
	$consumer->safe_psql('postgres', qq{
		CREATE SCHEMA IF NOT EXISTS mirror;
		BEGIN;
		SELECT laredo.create_source('$id', connection => '$conn', slot_name => 'laredo_$id',
		                            reconnect_initial_backoff => '200ms', reconnect_max_backoff => '1s');
		SELECT laredo.add_table('$id', 'public.items');
		SELECT laredo.create_pipeline('$id', '$id', 'public.items', target => 'mirror.$id');
		COMMIT;
	});
	$consumer->safe_psql('postgres', qq{CALL laredo.wait_for_catchup('$id', '120s')});
	return ($primary, $standby);
}

# The standby stops where the primary is now, with the primary's slot as of
# its last checkpoint; the primary goes on alone.
sub detach_standby
{
	my ($id, $primary, $standby) = @_;
	$primary->safe_psql('postgres', 'CHECKPOINT');
	$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
	$standby->stop('fast');
	PostgreSQL::Test::RecursiveCopy::copypath($primary->data_dir . "/pg_replslot/laredo_$id",
		$standby->data_dir . "/pg_replslot/laredo_$id");
	return;
}

# The primary dies; the standby is promoted (laredo is stopped meanwhile,
# so that the new primary's first changes come before it reconnects).
sub fail_over
{
	my ($id, $primary, $standby) = @_;
	$consumer->safe_psql('postgres', qq{SELECT laredo.alter_source('$id', enabled => false)});
	$primary->stop('immediate');
	$standby->start;
	$standby->promote;
	$standby->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()') or die 'not promoted';
}

# ---- Only positions without changes passed the fork: resume from it.
my ($p1, $s1) = source_pair('idle');
detach_standby('idle', $p1, $s1);
$p1->safe_psql('postgres',
	q{INSERT INTO unfollowed SELECT g, repeat('x', 200) FROM generate_series(1, 60000) g});
my $past = $p1->lsn('insert');
ok($consumer->poll_query_until('postgres',
		qq{SELECT confirmed_lsn >= '$past' FROM laredo.sources WHERE source_id = 'idle'}),
	'laredo acknowledged positions past the standby, with no change applied after it');
fail_over('idle', $p1, $s1);
$s1->safe_psql('postgres', q{
	INSERT INTO items SELECT g, 'after the failover' FROM generate_series(1001, 1100) g;
	UPDATE items SET v = 'updated after the failover' WHERE id <= 50;
	DELETE FROM items WHERE id BETWEEN 51 AND 60;
});
is($s1->safe_psql('postgres', qq{SELECT pg_current_wal_lsn() < '$past'}), 't',
	"the new primary's changes are at positions laredo had passed on the old timeline");
$consumer->safe_psql('postgres', q{SELECT laredo.alter_source('idle', enabled => true)});
$consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('idle', '120s')});
is(table_digest($consumer, 'postgres', 'mirror.idle', 'id'), table_digest($s1, 'postgres', 'items', 'id'),
	"the mirror equals the new primary: its changes made before laredo reconnected arrived");
like(slurp_file($consumer->logfile),
	qr/laredo source "idle": the source's timeline 2 forked at [0-9A-F]+\/[0-9A-F]+, before laredo's position [0-9A-F]+\/[0-9A-F]+; no change was applied after the fork, so the stream resumes from it/,
	'the log says the position moved back to the fork');
is($consumer->safe_psql('postgres',
		q{SELECT timeline || ' ' || (earlier_timelines ~ '^1 [0-9A-F]+/[0-9A-F]+\n$') FROM laredo.source_servers WHERE source_id = 'idle'}),
	'2 true', 'laredo.source_servers shows the new timeline and where the earlier one ended');
$s1->safe_psql('postgres', q{UPDATE items SET v = 'streaming on' WHERE id % 7 = 0});
$consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('idle', '120s')});
is(table_digest($consumer, 'postgres', 'mirror.idle', 'id'), table_digest($s1, 'postgres', 'items', 'id'),
	'and streams on from the new primary');

# ---- laredo applied changes the new primary never had: an ERROR.
my ($p2, $s2) = source_pair('lost');
detach_standby('lost', $p2, $s2);
$p2->safe_psql('postgres', q{UPDATE items SET v = 'only the old primary had this' WHERE id <= 100});
$consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('lost', '120s')});
my $mirror_before = table_digest($consumer, 'postgres', 'mirror.lost', 'id');
fail_over('lost', $p2, $s2);
$s2->safe_psql('postgres', q{UPDATE items SET v = 'new primary' WHERE id > 900});
$consumer->safe_psql('postgres', q{SELECT laredo.alter_source('lost', enabled => true)});
ok($consumer->poll_query_until('postgres', q{SELECT state = 'ERROR' FROM laredo.sources WHERE source_id = 'lost'}),
	'the source stops');
like(source_state('lost'),
	qr/^ERROR\|source "lost" no longer has changes laredo applied: its timeline 2 forked from laredo's history at [0-9A-F]+\/[0-9A-F]+$/,
	'with a durable ERROR naming the fork');
is($consumer->safe_psql('postgres', q{SELECT last_error_hint FROM laredo.sources WHERE source_id = 'lost'}),
	q{The targets hold changes the source lost. Call laredo.reset_source('lost') to take a new baseline from the source as it is now.},
	'and the remedy');
is(table_digest($consumer, 'postgres', 'mirror.lost', 'id'), $mirror_before, 'nothing of the new timeline was applied');
$consumer->safe_psql('postgres', q{SELECT laredo.reset_source('lost')});
$consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('lost', '120s')});
is(table_digest($consumer, 'postgres', 'mirror.lost', 'id'), table_digest($s2, 'postgres', 'items', 'id'),
	'reset_source takes the new primary as it is');

# ---- A table added after the standby was cut off is copied at a point the
# new primary never reached: its mirror holds the old primary's state there,
# though the stream itself applied nothing after the fork.
my ($p3, $s3) = source_pair('added');
$p3->safe_psql('postgres', q{CREATE TABLE extra (id int PRIMARY KEY, v text)});
detach_standby('added', $p3, $s3);
$p3->safe_psql('postgres',
	q{INSERT INTO extra SELECT g, 'only the old primary had this' FROM generate_series(1, 100) g});
$consumer->safe_psql('postgres', q{
	SELECT laredo.add_table('added', 'public.extra');
	SELECT laredo.create_pipeline('added_extra', 'added', 'public.extra', target => 'mirror.added_extra');
});
$consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('added', '120s')});
is($consumer->safe_psql('postgres', 'SELECT count(*) FROM mirror.added_extra'), '100', 'the added table was copied');
fail_over('added', $p3, $s3);
# the new primary has the table (made before the cut) but not its rows
$s3->safe_psql('postgres', q{INSERT INTO extra VALUES (1000, 'new primary')});
$consumer->safe_psql('postgres', q{SELECT laredo.alter_source('added', enabled => true)});
ok($consumer->poll_query_until('postgres', q{SELECT state = 'ERROR' FROM laredo.sources WHERE source_id = 'added'}),
	'a copy past the fork stops the source too');
like(source_state('added'),
	qr/^ERROR\|source "added" no longer has changes laredo applied: its timeline 2 forked from laredo's history at [0-9A-F]+\/[0-9A-F]+$/,
	'with the durable ERROR naming the fork');

# ---- A source restored from a copy taken before laredo's position.
my $r = source_server('restored', "wal_keep_size = 512MB\n");
$r->safe_psql('postgres', q{
	CREATE TABLE items (id int PRIMARY KEY, v text);
	INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 1000) g;
});
$consumer->safe_psql('postgres', qq{
	BEGIN;
	SELECT laredo.create_source('restored', connection => \$c\$@{[ $r->connstr('postgres') ]}\$c\$,
	                            slot_name => 'laredo_restored', reconnect_initial_backoff => '200ms',
	                            reconnect_max_backoff => '1s');
	SELECT laredo.add_table('restored', 'public.items');
	SELECT laredo.create_pipeline('restored', 'restored', 'public.items', target => 'mirror.restored');
	COMMIT;
});
$consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('restored', '120s')});
$r->stop('fast');
my $saved = $r->basedir . '/saved_pgdata';
PostgreSQL::Test::RecursiveCopy::copypath($r->data_dir, $saved);
$r->start;
$r->safe_psql('postgres', q{INSERT INTO items SELECT g, 'lost with the restore' FROM generate_series(1001, 3000) g});
$consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('restored', '120s')});
$consumer->safe_psql('postgres', q{SELECT laredo.alter_source('restored', enabled => false)});
$r->stop('fast');
File::Path::rmtree($r->data_dir);
PostgreSQL::Test::RecursiveCopy::copypath($saved, $r->data_dir);
chmod 0700, $r->data_dir;
$r->start;
$r->safe_psql('postgres', q{UPDATE items SET v = 'after the restore' WHERE id <= 10});
$consumer->safe_psql('postgres', q{SELECT laredo.alter_source('restored', enabled => true)});
ok($consumer->poll_query_until('postgres', q{SELECT state = 'ERROR' FROM laredo.sources WHERE source_id = 'restored'}),
	'a restored source stops laredo');
like(source_state('restored'),
	qr/^ERROR\|source "restored" is behind laredo's position: its WAL ends at [0-9A-F]+\/[0-9A-F]+, laredo has received up to [0-9A-F]+\/[0-9A-F]+$/,
	'with an ERROR saying the source is behind its position');

# ---- Another server at the source's address.
my $other = source_server('other');
# its WAL is past laredo's position, as a pg_upgrade'd source's is
$other->safe_psql('postgres', q{CREATE TABLE filler AS SELECT g, repeat('x', 200) FROM generate_series(1, 60000) g});
my $recorded = $consumer->safe_psql('postgres',
	q{SELECT system_identifier FROM laredo.source_servers WHERE source_id = 'restored'});
is($recorded, $r->safe_psql('postgres', 'SELECT system_identifier FROM pg_control_system()'),
	"laredo.source_servers shows the source's system identifier");
$consumer->safe_psql('postgres',
	qq{SELECT laredo.alter_source('restored', connection => \$c\$@{[ $other->connstr('postgres') ]}\$c\$)});
ok($consumer->poll_query_until('postgres', q{SELECT state = 'ERROR' FROM laredo.sources WHERE source_id = 'restored'}),
	'another server stops laredo');
like(source_state('restored'), qr/^ERROR\|source "restored" is another server than the one laredo streamed from$/,
	'with an ERROR naming it');
like($consumer->safe_psql('postgres', q{SELECT last_error_hint FROM laredo.sources WHERE source_id = 'restored'}),
	qr/call laredo.accept_source_server\('restored'\)/, 'whose hint names accept_source_server');
$consumer->safe_psql('postgres', q{SELECT laredo.accept_source_server('restored')});
ok($consumer->poll_query_until('postgres',
		q{SELECT last_error LIKE '%no longer exists on the source' FROM laredo.sources WHERE source_id = 'restored'}),
	'accepted, the next check is the slot (which this server lacks)');
is($consumer->safe_psql('postgres',
		q{SELECT system_identifier FROM laredo.source_servers WHERE source_id = 'restored'}),
	$other->safe_psql('postgres', 'SELECT system_identifier FROM pg_control_system()'),
	'and the new server is recorded');

is(join("\n", map { crash_lines($_) } $consumer, $p1, $s1, $p2, $s2, $p3, $s3, $r, $other), '', 'no server crashed');
done_testing();
