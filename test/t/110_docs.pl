# 110_docs: every SQL example in docs/ works as written.  The blocks of each
# page run in order; blocks that begin with "-- on the source" run on the
# source server, the others on the consumer; "host=db.example.com port=5432"
# is pointed at the test's source server.  A few results the pages promise
# are checked too.
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
# wal_level replica: high-availability.md makes a physical slot
$consumer->init(allows_streaming => 1);
$consumer->append_conf('postgresql.conf', "shared_preload_libraries = 'laredo'\nlaredo.restart_delay = 200\n");
$consumer->start;

my $docs = $ENV{TESTDIR} ? "$ENV{TESTDIR}/docs" : 'docs';
my ($host, $port) = ($source->host, $source->port);
my %out;

sub run_page
{
	my ($page) = @_;
	my $text = slurp_file("$docs/$page");
	my $n = 0;
	while ($text =~ /```sql\n(.*?)```/sg)
	{
		my $sql = $1;
		$n++;
		$sql =~ s/host=db\.example\.com port=5432/host=$host port=$port/g;
		my $node = $sql =~ /\A-- on the source/ ? $source : $consumer;
		my ($ret, $stdout, $stderr) = $node->psql('postgres', $sql, on_error_stop => 1);
		is($ret, 0, "$page, example $n runs" . ($ret ? ": $stderr" : ''));
		$out{"$page:$n"} = $stdout;
	}
	ok($n > 0, "$page has SQL examples");
}

run_page('postgresql-source.md');
is($consumer->safe_psql('postgres', 'SELECT count(*) FROM cache.open_tickets'), '10',
	'postgresql-source.md: the filtered target holds the 10 open tickets');
is($consumer->safe_psql('postgres',
	q{SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'cache.customers'::regclass AND attnum > 0}),
	'id,name', 'postgresql-source.md: the column list left tax_number out');
is($consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('shop', '60s'); SELECT true}), 't', 'caught up');
is($consumer->safe_psql('postgres', 'SELECT count(*) FROM cache.orders'), '100', 'the orders arrived');

run_page('targets.md');
is($consumer->safe_psql('postgres', 'SELECT count(*) FROM cache.closed_orders'), '50',
	'targets.md: the filtered pipeline holds the 50 closed orders');
like($out{'targets.md:4'}, qr/U\|\{"id": 2\}\|\{"id": 2\}\|paid/, 'targets.md: the change log shows the update');

run_page('chunks.md');
like($out{'chunks.md:2'}, qr/^done\|\{id\}\|6\|50000\|100\.0$/m, 'chunks.md: the copy took six ranges');
is($consumer->safe_psql('postgres', 'SELECT count(*) FROM cache.events'), '50000', 'chunks.md: every row arrived');
like($out{'chunks.md:4'}, qr/^done\|6\|50000\|0\|0\|0$/m, 'chunks.md: the verification compared six ranges and found nothing');
like($out{'chunks.md:7'}, qr/^events\|\d+$/m, 'chunks.md: verify_source asked for the events pipeline among the source\'s');
like($out{'chunks.md:6'}, qr/^done\|1\|0\|0\|1\n1$/m, 'chunks.md: the repair found the row deleted behind laredo\'s back and wrote it back');
# the source's verifications done before the next page changes its pipelines: every mirror clean
my $source_ids = join(',', $out{'chunks.md:7'} =~ /^\S+\|(\d+)$/mg);
$consumer->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM laredo.verifications WHERE verification_id IN ($source_ids) AND state NOT IN ('done', 'failed')")
  or die 'the verification of source shop did not finish';
is($consumer->safe_psql('postgres', "SELECT string_agg(pipeline_id || ' ' || state || ' ' || (missing + extra + different + repaired), ', ' ORDER BY pipeline_id)
	FROM laredo.verifications WHERE verification_id IN ($source_ids) AND state = 'done'"), 'closed_orders done 0, customers done 0, events done 0, orders done 0, orders_history done 0',
	'chunks.md: every mirror of the source with a key verifies clean');
is($consumer->safe_psql('postgres', "SELECT string_agg(pipeline_id || ': ' || error, ', ' ORDER BY pipeline_id) FROM laredo.verifications
	WHERE verification_id IN ($source_ids) AND state <> 'done'"),
	'audit: its table cannot be read in key ranges: it has no primary key or replica identity index, '
	. 'open_tickets: its table cannot be read in key ranges: its replica identity is not a key',
	'chunks.md: those without a key fail, saying why');

run_page('schema-changes.md');
like($out{'schema-changes.md:2'}, qr/app\.invoices\|app_invoices/, 'schema-changes.md: add_schema made a pipeline for the table');
ok($consumer->poll_query_until('postgres', q{SELECT count(*) = 2 FROM app.invoices}), 'schema-changes.md: and it was copied');

run_page('resetting.md');
isnt($out{'resetting.md:3'}, $out{'resetting.md:1'}, 'resetting.md: pg_replication_slots shows a new slot after the reset');

run_page('state.md');
run_page('high-availability.md');
like($out{'high-availability.md:1'}, qr/^shop\|\d+\|1\|\|([0-9A-F]+\/[0-9A-F]+)?$/m,
	"high-availability.md: laredo.source_servers shows the source's system identifier and timeline 1");
ok($consumer->poll_query_until('postgres', q{SELECT failover FROM laredo.source_settings WHERE source_id = 'shop'}),
	'high-availability.md: failover is on again');
is($consumer->safe_psql('postgres', q{SELECT current_setting('laredo.synchronized_standby_slots')}), '',
	'high-availability.md: the setting is reset');
is($consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('shop', '60s'); SELECT state FROM laredo.sources WHERE source_id = 'shop'}),
	'STREAMING', 'high-availability.md: the source streams after accept_source_server');
run_page('decommissioning.md');
is($source->safe_psql('postgres', 'SELECT count(*) FROM pg_replication_slots'), '0',
	'decommissioning.md: no slot left on the source');
is($source->safe_psql('postgres', 'SELECT count(*) FROM pg_publication'), '0',
	'decommissioning.md: no publication left on the source');

done_testing();
