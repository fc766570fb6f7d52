# 240_replica_identity: a source table whose replica identity changes after
# add_table.  A table without one is published for insert and truncate only
# (PostgreSQL refuses the source's own UPDATE and DELETE on a table published
# for them without one); it once stayed there forever, and its updates and
# deletes were lost without a word.  laredo now notices the change within
# seconds, moves the table to the publication that fits, and copies it again
# alone, keeping its old rows visible until the new ones commit: the mirror
# ends equal to the source, updates and deletes included.  The other way
# round (a key taken away), the source's UPDATE fails until laredo has moved
# the table; the test measures that window.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use LaredoTest;
use Time::HiRes qw(time usleep);

my $source = source_server('source');
my $consumer = consumer_server('consumer');

$source->safe_psql('postgres', q{
	CREATE TABLE evolving (id int NOT NULL, v text);
	INSERT INTO evolving SELECT g, 'v' || g FROM generate_series(1, 500) g;
	CREATE TABLE fully (a int, b text);
	INSERT INTO fully SELECT g % 50, 'b' || g FROM generate_series(1, 200) g;
	CREATE TABLE steady (id int PRIMARY KEY, v text);
	INSERT INTO steady SELECT g, 's' FROM generate_series(1, 100) g;
});
$consumer->safe_psql('postgres', q{
	CREATE EXTENSION laredo;
	CREATE SCHEMA m;
	CREATE TABLE m.evolving (id int PRIMARY KEY, v text);	-- ready for the key the source will get
});
my $connstr = $source->connstr('postgres');
$consumer->safe_psql('postgres', qq{
	BEGIN;
	SELECT laredo.create_source('s', connection => \$c\$$connstr\$c\$, slot_name => 'laredo_s');
	SELECT laredo.add_table('s', t) FROM unnest(ARRAY['public.evolving', 'public.fully', 'public.steady']) t;
	SELECT laredo.create_pipeline(p, 's', 'public.' || p, target => 'm.' || p)
	FROM unnest(ARRAY['evolving', 'fully', 'steady']) p;
	COMMIT;
});

sub catch_up { $consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('s', '120s')}) }

sub same
{
	my ($t, $what) = @_;
	is(table_digest($consumer, 'postgres', "m.$t"), table_digest($source, 'postgres', $t), "$what: m.$t equals the source");
}

sub published_for
{
	my ($t) = @_;
	return $source->safe_psql('postgres', qq{SELECT string_agg(pubname, ',' ORDER BY pubname)
		FROM pg_publication_tables WHERE tablename = '$t'});
}

catch_up();
same('evolving', 'baseline');
is(published_for('evolving'), 'laredo_s_pub_insert_only', 'a table without a key is published for inserts only');
my $relfilenode = $consumer->safe_psql('postgres', q{SELECT relfilenode FROM pg_class WHERE oid = 'm.evolving'::regclass});

# The source gives it a key; an update right after it is not published yet.
$source->safe_psql('postgres', q{ALTER TABLE evolving ADD PRIMARY KEY (id)});
$source->safe_psql('postgres', q{UPDATE evolving SET v = 'updated before the move' WHERE id <= 10});
ok($source->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM pg_publication_tables WHERE tablename = 'evolving' AND pubname = 'laredo_s_pub'}),
	'laredo moved it to the publication of every change');
$source->safe_psql('postgres', q{
	UPDATE evolving SET v = 'updated after the move' WHERE id BETWEEN 11 AND 20;
	DELETE FROM evolving WHERE id BETWEEN 21 AND 30;
	INSERT INTO evolving VALUES (1000, 'new');
	UPDATE steady SET v = 'still streaming' WHERE id < 10;
});
ok($consumer->poll_query_until('postgres', q{SELECT state = 'STREAMING' FROM laredo.pipelines WHERE pipeline_id = 'evolving'}),
	'and copied it again');
catch_up();
same('evolving', 'updates before and after the move');
same('steady', 'the other tables');
is($consumer->safe_psql('postgres', q{SELECT relfilenode FROM pg_class WHERE oid = 'm.evolving'::regclass}), $relfilenode,
	'the copy replaced the rows in place: readers kept the old ones until the new ones committed');
like(slurp_file($consumer->logfile), qr/the replica identity of public\.evolving changed on the source: it is now published for every change/,
	'the log says what happened');

# REPLICA IDENTITY FULL on a table without a key.
$source->safe_psql('postgres', q{ALTER TABLE fully REPLICA IDENTITY FULL});
ok($source->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM pg_publication_tables WHERE tablename = 'fully' AND pubname = 'laredo_s_pub'}),
	'REPLICA IDENTITY FULL: moved as well');
$consumer->poll_query_until('postgres', q{SELECT state = 'STREAMING' FROM laredo.pipelines WHERE pipeline_id = 'fully'});
$source->safe_psql('postgres', q{UPDATE fully SET b = 'full' WHERE a < 10; DELETE FROM fully WHERE a > 40});
catch_up();
same('fully', 'updates and deletes through REPLICA IDENTITY FULL');

# The key taken away: the source's UPDATE fails until laredo moved the table.
catch_up();
$source->safe_psql('postgres', q{ALTER TABLE evolving REPLICA IDENTITY NOTHING});
my $start = time();
my $window;
for (1 .. 600)
{
	my ($ret) = $source->psql('postgres', q{UPDATE evolving SET v = v WHERE id = 1});
	if ($ret == 0) { $window = time() - $start; last; }
	usleep(50_000);
}
ok(defined $window, 'the source\'s UPDATE works again once laredo moved the table');
diag(sprintf('replica identity taken away: the source\'s UPDATE failed for %.1f s', $window // -1));
is(published_for('evolving'), 'laredo_s_pub_insert_only', 'back in the insert-only publication');
$consumer->poll_query_until('postgres', q{SELECT state = 'STREAMING' FROM laredo.pipelines WHERE pipeline_id = 'evolving'});
$source->safe_psql('postgres', q{INSERT INTO evolving VALUES (1001, 'more')});
catch_up();
same('evolving', 'after the key went');

done_testing();
