# 390_major_upgrade: docs/upgrading-postgresql.md, run as written.  A
# database on PostgreSQL 15 (LAREDO_CROSS_PG15, as in 270) moves to 18 with
# laredo on the new server, while pgbench and an application script write
# to it: the page's shell and SQL blocks run in order (its placeholders
# pointed at the test's servers), a table is created on the old server
# while laredo streams, and after the cutover every table and sequence of
# the new server equals the old one's.  The write pause of the cutover is
# measured and printed.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use LaredoTest;
use IPC::Run;
use Time::HiRes qw(time);

my $old15 = $ENV{LAREDO_CROSS_PG15};
plan skip_all => 'LAREDO_CROSS_PG15 is not set (test/run_tests.sh sets it in the PostgreSQL 18 run)'
  unless $old15;

my $old = source_server('old', '', install_path => $old15);
my $new = consumer_server('new');
isnt($old->pg_version->major, $new->pg_version->major, 'two major versions');
note 'old server ' . $old->pg_version . ', new server ' . $new->pg_version;

# The application's database on the old server.
$old->safe_psql('postgres', q{CREATE ROLE app LOGIN; CREATE DATABASE shop OWNER app});
$old->command_ok([ 'pgbench', '-i', '-s', '2', '-q', '-h', $old->host, '-p', $old->port, '-U', 'app', 'shop' ],
	'pgbench tables');
$old->safe_psql('shop', q{
	SET ROLE app;
	CREATE TABLE orders (id serial PRIMARY KEY, aid int NOT NULL REFERENCES pgbench_accounts,
	                     total numeric(12,2), created_at timestamptz NOT NULL DEFAULT now());
	CREATE INDEX orders_created ON orders (created_at);
	CREATE TABLE order_audit (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, order_id int, note text);
	CREATE FUNCTION audit_order() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		INSERT INTO order_audit (order_id, note) VALUES (NEW.id, 'placed');
		RETURN NEW;
	END $$;
	CREATE TRIGGER orders_audit AFTER INSERT ON orders FOR EACH ROW EXECUTE FUNCTION audit_order();
	INSERT INTO orders (aid, total) SELECT g, g / 10.0 FROM generate_series(1, 2000) g;
});
my $script = $old->basedir . '/orders.sql';
PostgreSQL::Test::Utils::append_to_file($script, q{
\set aid random(1, 200000)
INSERT INTO orders (aid, total) VALUES (:aid, random() * 100);
});

# The application writes all along, until the cutover ends its sessions.
my @pgbench = ('-n', '-c', '2', '-T', '900', '-h', $old->host, '-p', $old->port, '-U', 'app', 'shop');
my $load = IPC::Run::start([ 'pgbench', @pgbench ], '>', \my $out1, '2>', \my $err1);
my $orders = IPC::Run::start([ 'pgbench', '-f', $script, @pgbench[1 .. $#pgbench] ], '>', \my $out2, '2>', \my $err2);
$old->poll_query_until('shop', q{SELECT count(*) > 100 FROM pgbench_history}) or die 'no load';

# The page's blocks, in order.
my $page = slurp_file(($ENV{TESTDIR} ? "$ENV{TESTDIR}/" : '') . 'docs/upgrading-postgresql.md');
my @blocks;
push @blocks, [ $1, $2 ] while $page =~ /```(sh|sql)\n(.*?)```/sg;
ok(@blocks >= 8, scalar(@blocks) . ' blocks on the page');
my ($oh, $op, $nh, $np) = ($old->host, $old->port, $new->host, $new->port);
my $workdir = PostgreSQL::Test::Utils::tempdir();
my ($pause_start, $pause);
my $n = 0;
for my $b (@blocks)
{
	my ($kind, $code) = @$b;
	$n++;
	$code =~ s/host=old\.example\.com port=5432/host=$oh port=$op/g;
	$code =~ s/host=new\.example\.com port=5432/host=$nh port=$np/g;
	my $on_old = $code =~ /\A-- on the old server/;
	$pause_start = time if $on_old && $code =~ /NOLOGIN/;
	if ($kind eq 'sh')
	{
		my ($stdout, $stderr);
		my $ok = IPC::Run::run([ 'bash', '-e', '-c', "cd $workdir\n$code" ], '>', \$stdout, '2>', \$stderr);
		ok($ok, "block $n (shell) runs" . ($ok ? '' : ": $stderr"));
		BAIL_OUT("block $n failed") unless $ok;
	}
	else
	{
		my $node = $on_old ? $old : $new;
		my ($ret, $stdout, $stderr) = $node->psql('shop', $code, on_error_stop => 1);
		is($ret, 0, "block $n (SQL on the " . ($on_old ? 'old' : 'new') . ' server) runs' . ($ret ? ": $stderr" : ''));
		BAIL_OUT("block $n failed") if $ret;
		$pause = time - $pause_start if defined $pause_start && !defined $pause && $code =~ /ALTER ROLE app LOGIN/;
	}
	# while laredo streams: a table created on the old server is added by itself
	if ($code =~ /add_schema/)
	{
		$old->safe_psql('shop', q{
			SET ROLE app;
			CREATE TABLE late (id int PRIMARY KEY, v text);
			INSERT INTO late SELECT g, 'l' || g FROM generate_series(1, 300) g;
		});
		$new->poll_query_until('shop', q{SELECT state = 'STREAMING' FROM laredo.pipelines WHERE pipeline_id = 'public_late'})
		  or die 'the late table was not added';
		$old->safe_psql('shop', q{INSERT INTO late VALUES (1000, 'after its copy')});
	}
}
ok(defined $pause, 'the cutover ran');
diag(sprintf('cutover write pause: %.2f s (from ALTER ROLE app NOLOGIN on the old server to ALTER ROLE app LOGIN on the new one)', $pause));
$load->finish;
$orders->finish;
ok($old->safe_psql('shop', q{SELECT count(*) FROM orders}) > 2100, 'the application wrote during the move');

# Every table and sequence of the new server equals the old one's.
my @tables = split /\n/, $old->safe_psql('shop', q{SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1});
is(join(',', @tables), 'late,order_audit,orders,pgbench_accounts,pgbench_branches,pgbench_history,pgbench_tellers', 'the tables');
for my $t (@tables)
{
	is(table_digest($new, 'shop', $t), table_digest($old, 'shop', $t), "$t: equal on the new server");
}
my $seqs = q{SELECT string_agg(sequencename || '=' || coalesce(last_value::text, '-'), ',' ORDER BY sequencename COLLATE "C")
	FROM pg_sequences WHERE schemaname = 'public'};
is($new->safe_psql('shop', $seqs), $old->safe_psql('shop', $seqs), 'every sequence equal');
# the schema's other objects arrived too, and work for the application now
is($new->safe_psql('shop', q{SELECT count(*) FROM pg_trigger WHERE tgname = 'orders_audit'}) .
	$new->safe_psql('shop', q{SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace}), '11', 'the trigger and the foreign key');
my $id = $new->safe_psql('shop', q{SET ROLE app; INSERT INTO orders (aid, total) VALUES (1, 1) RETURNING id});
is($id, $old->safe_psql('shop', q{SELECT last_value + 1 FROM orders_id_seq}), 'the application goes on at the old server\'s next order number');
is($new->safe_psql('shop', qq{SELECT note FROM order_audit WHERE order_id = $id}), 'placed', 'and its trigger fires');
is($old->safe_psql('shop', q{SELECT count(*) FROM pg_replication_slots}) .
	$old->safe_psql('shop', q{SELECT count(*) FROM pg_publication}), '00', 'the old server has no slot or publication left');

done_testing();
