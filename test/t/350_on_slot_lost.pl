# 350_on_slot_lost: with on_slot_lost => 'rebaseline' a source whose slot is
# lost does not wait for a person: laredo drops what is left of the slot,
# creates it again and takes a new baseline by itself, readers of the mirror
# never seeing it empty, and records the event (time, cause, old and new
# slot) in laredo.sources, laredo.source_servers and health().  Cases: the
# slot invalidated by max_slot_wal_keep_size, and the slot dropped on the
# source.  (The default, 'error', is TAP 030's.)
use strict;
use warnings;
use IPC::Run;
use List::Util ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use LaredoTest;

my $source = source_server('source');
my $consumer = consumer_server('consumer');
$source->safe_psql('postgres', q{
	CREATE TABLE items (id int PRIMARY KEY, v text);
	INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 20000) g;
});
$consumer->safe_psql('postgres', qq{
	CREATE EXTENSION laredo;
	CREATE SCHEMA mirror;
	BEGIN;
	SELECT laredo.create_source('r', connection => \$c\$@{[ $source->connstr('postgres') ]}\$c\$,
	                            slot_name => 'laredo_r', on_slot_lost => 'rebaseline');
	SELECT laredo.add_table('r', 'public.items');
	SELECT laredo.create_pipeline('items', 'r', 'public.items', target => 'mirror.items');
	COMMIT;
});
$consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('r', '120s')});
is($consumer->safe_psql('postgres', q{SELECT on_slot_lost FROM laredo.source_settings}), 'rebaseline',
	'the option is recorded');

sub equal
{
	my ($what) = @_;
	$consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('r', '180s')});
	is(table_digest($consumer, 'postgres', 'mirror.items'), table_digest($source, 'postgres', 'items'), $what);
}

# A reader that counts the mirror's rows every 10 ms and says the fewest it saw.
sub start_reader
{
	my ($seconds) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-X', '-q', '-d', $consumer->connstr('postgres'), '-c', qq{
			DO \$\$
			DECLARE n bigint; least bigint := NULL; t timestamptz := clock_timestamp();
			BEGIN
				WHILE clock_timestamp() < t + interval '$seconds s' LOOP
					SELECT count(*) INTO n FROM mirror.items;
					least := LEAST(coalesce(least, n), n);
					PERFORM pg_sleep(0.01);
				END LOOP;
				RAISE NOTICE 'fewest rows seen: %', least;
			END \$\$} ],
		'>', \$out, '2>', \$err);
	return sub { $h->finish; return $err =~ /fewest rows seen: (\d+)/ ? $1 : "no result: $err"; };
}

# ---- The slot invalidated by max_slot_wal_keep_size.
$consumer->safe_psql('postgres', q{SELECT laredo.alter_source('r', enabled => false)});
invalidate_slot($source, 'laredo_r');
# changes the lost slot would have carried
$source->safe_psql('postgres', q{
	UPDATE items SET v = 'while the slot was lost' WHERE id % 10 = 0;
	DELETE FROM items WHERE id % 17 = 0;
	INSERT INTO items SELECT g, 'new' FROM generate_series(20001, 21000) g;
});
my $reader = start_reader(8);
my $before = $consumer->safe_psql('postgres', 'SELECT count(*) FROM mirror.items');
$consumer->safe_psql('postgres', q{SELECT laredo.alter_source('r', enabled => true)});
equal('the mirror equals the source after the rebaseline laredo took by itself');
my $fewest = $reader->();
my $least = List::Util::min($before, $source->safe_psql('postgres', 'SELECT count(*) FROM items'));
ok($fewest =~ /^\d+$/ && $fewest >= $least,
	"readers saw the old rows or the new ones, never an empty or half-filled mirror (fewest rows seen: $fewest, least expected: $least)");
is($consumer->safe_psql('postgres', q{SELECT state FROM laredo.sources}), 'STREAMING', 'the source streams');
like($consumer->safe_psql('postgres', q{SELECT last_rebaseline_at IS NOT NULL, last_rebaseline_cause FROM laredo.sources}),
	qr/^t\|replication slot "laredo_r" on source "r" has been invalidated \(wal_removed\)$/,
	'laredo.sources shows when and why');
like($consumer->safe_psql('postgres', q{SELECT rebaseline_old_slot || ' -> ' || rebaseline_new_slot FROM laredo.source_servers}),
	qr/^laredo_r \(confirmed [0-9A-F]+\/[0-9A-F]+(, invalidated: wal_removed)?\) -> laredo_r$/,
	'laredo.source_servers shows the old slot and the new one');
like($consumer->safe_psql('postgres', q{SELECT problem || ': ' || detail FROM laredo.health()}),
	qr/^source rebaselined after losing its slot: on_slot_lost = rebaseline replaced slot laredo_r/,
	'health() reports it');
is($source->safe_psql('postgres', q{SELECT wal_status <> 'lost' FROM pg_replication_slots WHERE slot_name = 'laredo_r'}), 't',
	'the source has a new slot');
like(slurp_file($consumer->logfile), qr/WARNING:  laredo source "r": replication slot "laredo_r" on source "r" has been invalidated/,
	'the log says it');
$source->safe_psql('postgres', q{UPDATE items SET v = 'streaming again' WHERE id % 7 = 0});
equal('and changes stream on');

# ---- The slot dropped on the source.
$consumer->safe_psql('postgres', q{SELECT laredo.alter_source('r', enabled => false)});
$source->poll_query_until('postgres', q{SELECT NOT active FROM pg_replication_slots WHERE slot_name = 'laredo_r'})
  or die 'slot still active';
$source->safe_psql('postgres', q{SELECT pg_drop_replication_slot('laredo_r')});
$source->safe_psql('postgres', q{UPDATE items SET v = 'slot dropped' WHERE id % 3 = 0});
$reader = start_reader(8);
$before = $consumer->safe_psql('postgres', 'SELECT count(*) FROM mirror.items');
$consumer->safe_psql('postgres', q{SELECT laredo.alter_source('r', enabled => true)});
equal('a dropped slot: the mirror equals the source after a new baseline');
$fewest = $reader->();
$least = List::Util::min($before, $source->safe_psql('postgres', 'SELECT count(*) FROM items'));
ok($fewest =~ /^\d+$/ && $fewest >= $least,
	"readers saw the old rows or the new ones, never an empty or half-filled mirror (fewest rows seen: $fewest, least expected: $least)");
like($consumer->safe_psql('postgres', q{SELECT last_rebaseline_cause FROM laredo.sources}),
	qr/^replication slot "laredo_r" of source "r" no longer exists on the source$/, 'the cause is recorded');
is($consumer->safe_psql('postgres', q{SELECT rebaseline_old_slot FROM laredo.source_servers}), 'laredo_r (gone)',
	'the old slot was gone');
my $copies = () = slurp_file($consumer->logfile) =~ /baseline committed/g;
is($copies, 3, 'three baselines in all: the first and one for each lost slot');

is(join("\n", map { crash_lines($_) } $source, $consumer), '', 'no server crashed');
done_testing();
