# 140_network_faults: laredo reaches the source through a TCP proxy that the
# test controls, and the network fails three ways, each for longer than
# several backoff steps: the source server stops in the middle of the
# baseline copy; the proxy dies while changes stream (connections reset,
# port closed: connection refused); the proxy freezes while changes stream
# (a black hole: sockets stay open, nothing arrives, as with a network that
# drops packets), which only a receive timeout can notice.  After each,
# laredo reconnects by itself and the targets equal the source row for row.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use LaredoTest;
use IPC::Run;
use IO::Select;
use IO::Socket::INET;
use IO::Socket::UNIX;
use POSIX ();
use Socket qw(SOCK_STREAM);
use Time::HiRes qw(usleep);

my $source = PostgreSQL::Test::Cluster->new('source');
$source->init(allows_streaming => 'logical');
$source->start;
my $consumer = PostgreSQL::Test::Cluster->new('consumer');
$consumer->init;
$consumer->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'laredo'
laredo.restart_delay = 200
wal_receiver_timeout = 2s
});
$consumer->start;

# A proxy from 127.0.0.1:$port to the source's unix socket, in a child
# process.  While the file $slow exists, it forwards what the source sends at
# about 3MB/s (it pauses 20 ms after each read of at most 64kB).
my $proxy_port = PostgreSQL::Test::Cluster::get_free_port();
my $socket_path = $source->host . '/.s.PGSQL.' . $source->port;
my $slow = $source->basedir . '/slow';

sub start_proxy
{
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		my $listener = IO::Socket::INET->new(
			LocalAddr => '127.0.0.1', LocalPort => $proxy_port,
			Listen => 64, ReuseAddr => 1) or POSIX::_exit(1);
		my $select = IO::Select->new($listener);
		my %peer;
		my %from_source;
		for (;;)
		{
			for my $fh ($select->can_read(1))
			{
				if ($fh == $listener)
				{
					my $client = $listener->accept or next;
					my $server = IO::Socket::UNIX->new(Peer => $socket_path, Type => SOCK_STREAM);
					if (!$server)
					{
						close $client;
						next;
					}
					$peer{$client} = $server;
					$peer{$server} = $client;
					$from_source{$server} = 1;
					$select->add($client, $server);
					next;
				}
				my $other = $peer{$fh};
				next unless $other;
				my $buf;
				my $n = sysread($fh, $buf, 65536);
				if (!$n)
				{
					$select->remove($fh, $other);
					delete $peer{$fh};
					delete $peer{$other};
					delete $from_source{$fh};
					delete $from_source{$other};
					close $fh;
					close $other;
					next;
				}
				my $off = 0;
				while ($off < $n)
				{
					my $w = syswrite($other, $buf, $n - $off, $off);
					last unless defined $w;
					$off += $w;
				}
				usleep(20_000) if $from_source{$fh} && -e $slow;
			}
		}
	}
	# wait until it listens
	for (1 .. 100)
	{
		my $probe = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $proxy_port);
		if ($probe)
		{
			close $probe;
			return $pid;
		}
		usleep(50_000);
	}
	die 'the proxy did not start';
}

my $proxy = start_proxy();
END { kill 'KILL', $proxy if $proxy; }

$source->safe_psql('postgres', q{
	CREATE TABLE big (id int PRIMARY KEY, pad text);
	INSERT INTO big SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 400000) g;
	CREATE TABLE t (id int PRIMARY KEY, n int NOT NULL DEFAULT 0);
	INSERT INTO t SELECT g FROM generate_series(1, 1000) g;
});

sub same
{
	my ($what) = @_;
	is($consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('net', '180s'); SELECT true}), 't', "$what: caught up");
	for my $table ('big', 't')
	{
		my $q = qq{SELECT count(*) || ':' || md5(string_agg(x::text, '|' ORDER BY id)) FROM $table x};
		is($consumer->safe_psql('postgres', $q), $source->safe_psql('postgres', $q),
			"$what: $table equals the source row for row");
	}
}

sub wait_attempts
{
	my ($n, $pattern) = @_;
	$consumer->poll_query_until('postgres', qq{
		SELECT state IN ('RECONNECTING', 'STARTING', 'BASELINE') AND reconnect_attempts >= $n
		       AND last_error ~ '$pattern'
		FROM laredo.sources WHERE source_id = 'net'})
	  or die "no $n failed attempts matching $pattern: "
	  . $consumer->safe_psql('postgres', q{SELECT state || ' ' || reconnect_attempts || ' ' || coalesce(last_error, '') FROM laredo.sources});
}

# 1. The source stops in the middle of the baseline copy, the proxy slowing
# the copy down so that it runs for a while (400,000 rows, about 100MB) and
# the test does not race it: the source stops once it has sent 50,000 rows.
open my $flag, '>', $slow or die;
close $flag;
$consumer->safe_psql('postgres', qq{
	CREATE EXTENSION laredo;
	BEGIN;
	SELECT laredo.create_source('net', connection => 'host=127.0.0.1 port=$proxy_port dbname=postgres',
	                            slot_name => 'laredo_net', reconnect_max_attempts => 1000,
	                            reconnect_initial_backoff => '100ms', reconnect_max_backoff => '800ms');
	SELECT laredo.add_table('net', 'public.big');
	SELECT laredo.add_table('net', 'public.t');
	SELECT laredo.create_pipeline('big', 'net', 'public.big', target => 'public.big');
	SELECT laredo.create_pipeline('t', 'net', 'public.t', target => 'public.t');
	COMMIT;
});
$source->poll_query_until('postgres', q{
	SELECT count(*) > 0 FROM pg_stat_progress_copy c JOIN pg_stat_activity a USING (pid)
	WHERE a.query LIKE 'COPY (SELECT%big%' AND c.tuples_processed >= 50000})
  or die 'the baseline copy did not start';
$source->stop('immediate');
wait_attempts(4, 'could not connect|ended|terminat|server closed|did not answer');
pass('the source stopped during the baseline: four failed attempts, with backoff');
is($consumer->safe_psql('postgres', q{SELECT count(*) FROM public.big}), '0',
	'the interrupted baseline left nothing behind');
unlink $slow or die;
$source->start;
same('baseline after the source came back');
is($consumer->safe_psql('postgres', q{SELECT baseline_rows FROM laredo.pipelines WHERE pipeline_id = 'big'}),
	'400000', 'the baseline was taken whole');

my $script = $source->basedir . '/load.sql';
open my $fh, '>', $script or die;
print $fh q{\set id random(1, 1000)
UPDATE t SET n = n + 1 WHERE id = :id;
INSERT INTO t VALUES (:id + 1000000 + :client_id * 100000 + (random() * 90000)::int) ON CONFLICT DO NOTHING;
UPDATE big SET pad = md5(pad) WHERE id = :id * 400;
};
close $fh;

sub start_load
{
	my ($out, $err) = ('', '');
	return IPC::Run::start(
		[ 'pgbench', '-n', '-c', '2', '-T', '6', '-f', $script,
		  '-h', $source->host, '-p', $source->port, 'postgres' ],
		'>', \$out, '2>', \$err);
}

# 2. The proxy dies while changes stream: connections reset, port closed.
my $load = start_load();
$consumer->poll_query_until('postgres', q{SELECT sum(updates) > 100 FROM laredo.pipelines})
  or die 'no changes streamed';
kill 'KILL', $proxy;
waitpid($proxy, 0);
$proxy = 0;
wait_attempts(4, 'could not connect|ended|terminat|server closed|connection');
pass('connection cut while streaming: four failed attempts, with backoff');
$proxy = start_proxy();
$load->finish;
same('after the connection was cut');

# 3. The proxy freezes while changes stream: nothing arrives, nothing closes.
$load = start_load();
$consumer->poll_query_until('postgres', q{SELECT sum(updates) > 2000 FROM laredo.pipelines})
  or die 'no changes streamed';
kill 'STOP', $proxy;
wait_attempts(3, 'sent nothing for|did not answer within');
pass('a silent source is noticed by the receive timeout and the worker tries again');
like($consumer->safe_psql('postgres', q{SELECT last_error FROM laredo.sources}),
	qr/source "net" (sent nothing for 2000 ms|did not answer within 2000 ms)/, 'the error says what happened');
kill 'CONT', $proxy;
$load->finish;
same('after the black hole');
is($consumer->safe_psql('postgres', q{SELECT state FROM laredo.sources}), 'STREAMING', 'streaming again');
my $clog = slurp_file($consumer->logfile);
my $baselines = () = $clog =~ /baseline committed/g;
is($baselines, 1, 'one baseline in all: the faults while streaming resumed from the slot');
unlike($clog, qr/terminated by signal|TRAP:|PANIC:/, 'no crash on the consumer');

done_testing();
