# LaredoTest: the prologue of every laredo TAP test.
#
# laredo must never take its server down: a crash of any laredo process
# restarts every backend of the server.  So every test fails when a server it
# started logged a crash (a process terminated by a signal or an exception,
# a PANIC, a failed assertion) or a resource leak the server caught at the
# end of a transaction (a relation, buffer or snapshot not released: a bug
# that corrupts or crashes later), whatever the test itself checked.  At the end
# of the test each server still running is stopped cleanly (a crash on the way
# down counts too) and its whole log is read.  A test that kills a process on
# purpose does it with kill_process, and exactly those kills are excused.
package LaredoTest;

use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Exporter 'import';
use IPC::Run;

our @EXPORT = qw(kill_process wait_accepting crash_lines source_server consumer_server table_digest invalidate_slot);

# node name => { pid => 1 } of processes killed on purpose
my %excused;
# node name => where its log ended when kill_process last sent it SIGKILL
my %killed_at;

# From PostgreSQL 18 on, max_active_replication_origins limits the
# replication origins (laredo's sources, subscriptions) apart from
# max_replication_slots, at 10 by default: every server the tests make gets
# as many origins as they give slots elsewhere.
{
	no warnings 'redefine';
	my $init = \&PostgreSQL::Test::Cluster::init;
	*PostgreSQL::Test::Cluster::init = sub {
		my ($self, @args) = @_;
		$init->($self, @args);
		$self->append_conf('postgresql.conf', "max_active_replication_origins = 64\n")
		  if $self->pg_version >= 18;
		# An older server of a cross-version test (install_path), made by
		# 18's module: it writes a setting of 18 that 15 refuses.
		if ($self->pg_version < 18)
		{
			my $conf = $self->data_dir . '/postgresql.conf';
			my $text = slurp_file($conf);
			if ($text =~ s/^autovacuum_worker_slots\b.*\n//mg)
			{
				open my $fh, '>', $conf or die "could not write $conf: $!";
				print $fh $text;
				close $fh;
			}
		}
		return;
	};
}

# kill_process($node, $pid[, $signal]): kills a process of $node's server on
# purpose (SIGKILL unless told), so that its termination is not a crash.
sub kill_process
{
	my ($node, $pid, $signal) = @_;
	$signal //= 'KILL';
	$excused{ $node->name }{$pid} = 1;
	$killed_at{ $node->name } = -s $node->logfile if $signal eq 'KILL' || $signal eq '9';
	return kill $signal, $pid;
}

# wait_accepting($node): waits until $node's server accepts connections
# again (after a kill made its postmaster restart every backend), asking with
# pg_isready.  poll_query_until would write its query into a psql that the
# restarting server turned away, and die of the broken pipe.  After a
# SIGKILL it first waits for the postmaster to start over, so that the
# server is not found still accepting just before it does.
sub wait_accepting
{
	my ($node) = @_;
	$node->wait_for_log(qr/all server processes terminated; reinitializing/, delete $killed_at{ $node->name })
	  if defined $killed_at{ $node->name };
	my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
	while (time() < $deadline)
	{
		return 1
		  if IPC::Run::run([ 'pg_isready', '-q', '-h', $node->host, '-p', $node->port, '-d', 'postgres' ],
			'<', \undef, '>', \my $out, '2>', \my $err);
		select(undef, undef, undef, 0.1);
	}
	die $node->name . ' did not accept connections within ' . $PostgreSQL::Test::Utils::timeout_default . ' s';
}

# source_server($name[, $conf[, %new]]): a started server with wal_level
# logical; %new goes to PostgreSQL::Test::Cluster->new (install_path => a
# server of another version, for the cross-version tests).
sub source_server
{
	my ($name, $conf, %new) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name, %new);
	$node->init(allows_streaming => 'logical');
	$node->append_conf('postgresql.conf',
		"max_replication_slots = 20\nmax_wal_senders = 20\n" . ($conf // ''));
	$node->start;
	return $node;
}

# consumer_server($name[, $conf[, %new]]): a started server that loads
# laredo; %new as source_server's.
sub consumer_server
{
	my ($name, $conf, %new) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name, %new);
	$node->init(allows_streaming => 'logical');
	$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'laredo'
max_worker_processes = 32
max_replication_slots = 20
max_wal_senders = 20
laredo.restart_delay = 300
restart_after_crash = on
} . ($conf // ''));
	$node->start;
	return $node;
}

# table_digest($node, $db, $table[, $order]): row count and a hash of every
# row as text, in $order (default: the whole row), for comparing two tables.
sub table_digest
{
	my ($node, $db, $table, $order) = @_;
	$order //= 't::text';
	return $node->safe_psql($db,
		"SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, '|' ORDER BY $order), '')) FROM $table t");
}

# invalidate_slot($node, $slot): makes $node remove WAL that slot $slot
# (not in use) still needs (max_slot_wal_keep_size = 1MB while WAL is
# written and checkpointed), until its wal_status is lost; the setting is
# reset afterwards.
sub invalidate_slot
{
	my ($node, $slot) = @_;
	$node->safe_psql('postgres', q{ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'; SELECT pg_reload_conf()});
	for (1 .. 4)
	{
		$node->safe_psql('postgres', q{
			CREATE TABLE IF NOT EXISTS laredo_test_filler (x text);
			INSERT INTO laredo_test_filler SELECT repeat('x', 1000) FROM generate_series(1, 2000);
			SELECT pg_switch_wal();
			CHECKPOINT;
		});
	}
	$node->poll_query_until('postgres', qq{SELECT wal_status = 'lost' FROM pg_replication_slots WHERE slot_name = '$slot'})
	  or die "slot $slot was not invalidated";
	$node->safe_psql('postgres', q{ALTER SYSTEM RESET max_slot_wal_keep_size; SELECT pg_reload_conf()});
	return;
}

# The lines of $node's log that show a crash not excused by kill_process.
sub crash_lines
{
	my ($node) = @_;
	my $log = -f $node->logfile ? slurp_file($node->logfile) : '';
	my @crashes;
	for my $line (split /\n/, $log)
	{
		next
		  unless $line =~ /terminated by signal|was terminated by exception|PANIC|TRAP:|WARNING:.* leak\b/;
		if ($line =~ /\(PID (\d+)\) was terminated by signal/
			&& $excused{ $node->name }{$1})
		{
			next;
		}
		push @crashes, $line;
	}
	return @crashes;
}

# Runs before PostgreSQL::Test::Cluster's END (which removes the servers'
# directories when the test passed): Perl runs END blocks last-defined first.
END
{
	my $exit_code = $?;
	my @found;
	for my $node (@PostgreSQL::Test::Cluster::all_nodes)
	{
		$node->stop('fast', fail_ok => 1) if defined $node->{_pid};
		push @found, map { $node->name . ': ' . $_ } crash_lines($node);
	}
	if (@found)
	{
		diag("a server of this test logged a crash or a leak:\n" . join("\n", @found));
		$exit_code ||= 1;
	}
	$? = $exit_code;
}

1;
