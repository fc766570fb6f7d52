# 290_copies: copies of a consumer database never touch the original's
# slot.  pg_dump restores laredo's configuration (its catalog tables are
# marked for dump), but a restored copy has no replication origins and names
# the original's slot and publication.
# - A copy in another database of the same server, and one on another
#   server: each refuses to start with a durable ERROR naming both homes;
#   the original keeps streaming, its slot untouched.  drop_source in a copy
#   leaves the slot; reset_source in a copy needs a slot of its own and
#   takes its own baseline, while the original streams on.
# - A move: laredo.save_positions() stops the sources and records their
#   positions, the dump carries them, laredo.adopt_source() in the copy
#   resumes from there: the changes made in between arrive, no new baseline.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use LaredoTest;

my $source = source_server('source');
my $a = consumer_server('a');
my $b = consumer_server('b');
my $c = consumer_server('c');

$source->safe_psql('postgres', q{
	CREATE TABLE items (id int PRIMARY KEY, v text);
	INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 2000) g;
});
my $connstr = $source->connstr('postgres');
$a->safe_psql('postgres', qq{
	CREATE EXTENSION laredo;
	CREATE SCHEMA mirror;
	BEGIN;
	SELECT laredo.create_source('s', connection => \$c\$$connstr\$c\$, slot_name => 'laredo_orig');
	SELECT laredo.add_table('s', 'public.items');
	SELECT laredo.create_pipeline('items', 's', 'public.items', target => 'mirror.items');
	COMMIT;
});

sub equal
{
	my ($node, $db, $what) = @_;
	$node->safe_psql($db, q{CALL laredo.wait_for_catchup('s', '120s')});
	is(table_digest($node, $db, 'mirror.items', 'id'), table_digest($source, 'postgres', 'items', 'id'), $what);
}

sub dump_to
{
	my ($from, $to, $db) = @_;
	my $file = $from->basedir . "/dump_$db.sql";
	$from->command_ok([ 'pg_dump', '-d', $from->connstr('postgres'), '-f', $file ], "pg_dump for $db");
	$to->safe_psql('postgres', "CREATE DATABASE $db") unless $db eq 'postgres';
	$to->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $to->connstr($db), '-f', $file ],
		"restored into $db on " . $to->name);
}

# the application_name of a consumer's walsender: its server and timeline, then the source
sub holder_of
{
	my ($node) = @_;
	return 'laredo ' . $node->safe_psql('postgres', 'SELECT system_identifier FROM pg_control_system()') . '/1 source s';
}

sub slot_holder
{
	return $source->safe_psql('postgres', q{
		SELECT coalesce(r.application_name, '-') FROM pg_replication_slots s
		LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid WHERE s.slot_name = 'laredo_orig'});
}

equal($a, 'postgres', 'the original mirrors the source');
$source->safe_psql('postgres', q{UPDATE items SET v = 'one' WHERE id % 5 = 0});

# Copies: in another database of this server, and on another server.
dump_to($a, $a, 'copy');
dump_to($a, $b, 'postgres');
for my $copy ([ $a, 'copy' ], [ $b, 'postgres' ])
{
	my ($node, $db) = @$copy;
	my $where = $node->name . "/$db";
	is($node->safe_psql($db, q{SELECT count(*) FROM laredo.pipelines}), '1', "$where: the dump restored the configuration");
	$node->poll_query_until($db, q{SELECT state = 'ERROR' AND last_error_hint IS NOT NULL FROM laredo.sources})
	  or die "the copy in $where did not stop";
	like($node->safe_psql($db, q{SELECT last_error || '|' || last_error_hint FROM laredo.sources}),
		qr/source "s" belongs to database "postgres" of the server with system identifier \d+, and this is database "$db" of \d+\|Call laredo.adopt_source\('s'\) if laredo.save_positions\(\) saved its position before the copy, or laredo.reset_source\('s', slot_name => 'a_new_name'\)/,
		"$where: the copy refuses to start, with a durable ERROR naming both homes and the remedies");
}
$source->safe_psql('postgres', q{UPDATE items SET v = 'two' WHERE id % 7 = 0});
equal($a, 'postgres', 'the original streams on');
is(slot_holder(), holder_of($a), "the original's worker holds its slot");
my $copies = () = slurp_file($a->logfile) =~ /baseline committed/g;
is($copies, 1, 'the original took one baseline');

# drop_source in a copy leaves the slot; reset_source needs a slot of its own.
my ($ret, $out, $err) = $a->psql('copy', q{SELECT laredo.drop_source('s')});
like($err, qr/slot "laredo_orig" and publication "laredo_orig_pub" of source "s" were left on the source/,
	'drop_source in a copy says it left the slot');
is($source->safe_psql('postgres', q{SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'laredo_orig'}), '1',
	"the original's slot is still there");
($ret, $out, $err) = $b->psql('postgres', q{SELECT laredo.reset_source('s')});
like($err, qr/slot "laredo_orig" of source "s" belongs to the database this one is a copy of/,
	'reset_source in a copy without a slot of its own is refused');
$b->safe_psql('postgres', q{SELECT laredo.reset_source('s', slot_name => 'laredo_b'); SELECT laredo.alter_source('s', enabled => true)});
$source->safe_psql('postgres', q{UPDATE items SET v = 'three' WHERE id % 11 = 0});
equal($b, 'postgres', 'the reset copy mirrors the source from a slot of its own');
equal($a, 'postgres', 'and the original streams on');
is($source->safe_psql('postgres', q{SELECT string_agg(slot_name, ',' ORDER BY slot_name) FROM pg_replication_slots}),
	'laredo_b,laredo_orig', 'each has its own slot');
is($source->safe_psql('postgres', q{SELECT string_agg(pubname, ',' ORDER BY pubname) FROM pg_publication WHERE pubname NOT LIKE '%insert_only'}),
	'laredo_b_pub,laredo_orig_pub', 'and its own publication');
is(slot_holder(), holder_of($a), "the original's worker still holds its slot");

# A move: positions saved, the database dumped and restored on c, adopted there.
my $saved = $a->safe_psql('postgres', q{SELECT source_id || ' ' || (saved_lsn IS NOT NULL) FROM laredo.save_positions()});
is($saved, 's true', 'save_positions recorded the position of the source');
is($a->safe_psql('postgres', q{SELECT state FROM laredo.sources}), 'DISABLED', 'and stopped it');
($ret, $out, $err) = $a->psql('postgres', q{SELECT laredo.alter_source('s', enabled => true)});
like($err, qr/source "s" has a saved position and waits to be adopted/, 'it is not resumed by mistake');
$source->safe_psql('postgres', q{
	UPDATE items SET v = 'while moving' WHERE id % 3 = 0;
	DELETE FROM items WHERE id % 13 = 0;
	INSERT INTO items SELECT g, 'new' FROM generate_series(2001, 2100) g;
});
dump_to($a, $c, 'postgres');
is($c->safe_psql('postgres', q{SELECT state FROM laredo.sources}), 'DISABLED', 'the moved copy waits, disabled');
is($c->safe_psql('postgres', q{SELECT laredo.adopt_source('s') IS NOT NULL}), 't', 'adopt_source in the moved copy');
$source->safe_psql('postgres', q{UPDATE items SET v = 'after the move' WHERE id % 4 = 0});
equal($c, 'postgres', 'the moved copy resumed where the original stopped: every change made since arrived');
is(slot_holder(), holder_of($c), 'the moved copy (another server) holds the slot now');
$copies = () = slurp_file($c->logfile) =~ /baseline committed/g;
is($copies, 0, 'without a new baseline');

done_testing();
