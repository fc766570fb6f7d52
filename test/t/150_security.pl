# 150_security: who may do what through laredo, and where passwords go.
#  - a role without laredo_admin can neither manage sources and pipelines nor
#    read laredo's catalog (connection strings, dead letters);
#  - an admin manages only sources of roles whose privileges it has: it cannot
#    read, change, reset or drop another admin's source, attach pipelines to
#    it (which would copy that source's tables into its own), read its dead
#    letters, or make a superuser the owner of a source or pipeline;
#  - passwords never appear in laredo's views, its error messages or the
#    server log (bar the server's own echo of a failing statement, which a
#    passfile avoids: that source's password is nowhere at all);
#  - a hostile search_path (a schema of trojan functions and operators placed
#    before pg_catalog, for the session and for the role the worker runs as)
#    never runs a trojan, neither in the SQL functions nor in the worker.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use LaredoTest;

my $pw = 'Sup3r-Secret-pw';
my $wrong = 'Wr0ng-Secret-pw';
my $filepw = 'P4ssfile-Only-pw';

my $source = PostgreSQL::Test::Cluster->new('source');
$source->init(allows_streaming => 'logical');
my $hba = $source->data_dir . '/pg_hba.conf';
my $rules = slurp_file($hba);
open my $fh, '>', $hba or die;
print $fh "local all feeder scram-sha-256\nlocal all filefeeder scram-sha-256\n$rules";
close $fh;
$source->start;
$source->safe_psql('postgres', qq{
	CREATE ROLE feeder LOGIN REPLICATION PASSWORD '$pw';
	CREATE ROLE filefeeder LOGIN REPLICATION PASSWORD '$filepw';
	GRANT CREATE ON DATABASE postgres TO feeder, filefeeder;
	CREATE TABLE t (id int PRIMARY KEY, v text);
	CREATE TABLE secret (id int PRIMARY KEY, v text);
	ALTER TABLE t OWNER TO feeder;
	ALTER TABLE secret OWNER TO feeder;
	CREATE TABLE ft (id int PRIMARY KEY);
	ALTER TABLE ft OWNER TO filefeeder;
	INSERT INTO ft SELECT generate_series(1, 30);
	INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 50) g;
	INSERT INTO secret VALUES (1, 'only alice may copy this');
});

my $consumer = PostgreSQL::Test::Cluster->new('consumer');
$consumer->init;
$consumer->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'laredo'
laredo.restart_delay = 200
log_connections = on
});
$consumer->start;

# The passfile belongs to the server's OS user; only a superuser's source may use it.
my $passfile = $consumer->basedir . '/pgpass';
open $fh, '>', $passfile or die;
print $fh '*:' . $source->port . ":*:filefeeder:$filepw\n";
close $fh;
chmod 0600, $passfile;

$consumer->safe_psql('postgres', q{
	CREATE EXTENSION laredo;
	CREATE ROLE alice LOGIN;
	CREATE ROLE carol LOGIN;
	CREATE ROLE bob LOGIN;
	GRANT laredo_admin TO alice, carol;
	CREATE SCHEMA alice_data AUTHORIZATION alice;
	CREATE SCHEMA carol_data AUTHORIZATION carol;
	-- a schema of trojans, writable by all, and a log they write to
	CREATE TABLE public.trojan_log (who name, what text);
	GRANT INSERT ON public.trojan_log TO PUBLIC;
	CREATE SCHEMA evil;
	GRANT USAGE ON SCHEMA evil TO PUBLIC;
	CREATE FUNCTION evil.texteq(a text, b text) RETURNS boolean LANGUAGE sql AS
	  $$ INSERT INTO public.trojan_log VALUES (current_user, 'text = text'); SELECT a OPERATOR(pg_catalog.=) b $$;
	CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.texteq);
	CREATE FUNCTION evil.nameeq(a name, b name) RETURNS boolean LANGUAGE sql AS
	  $$ INSERT INTO public.trojan_log VALUES (current_user, 'name = name'); SELECT a OPERATOR(pg_catalog.=) b $$;
	CREATE OPERATOR evil.= (LEFTARG = name, RIGHTARG = name, FUNCTION = evil.nameeq);
	CREATE FUNCTION evil.lower(x text) RETURNS text LANGUAGE sql AS
	  $$ INSERT INTO public.trojan_log VALUES (current_user, 'lower'); SELECT pg_catalog.lower(x) $$;
	CREATE FUNCTION evil.quote_ident(x text) RETURNS text LANGUAGE sql AS
	  $$ INSERT INTO public.trojan_log VALUES (current_user, 'quote_ident'); SELECT pg_catalog.quote_ident(x) $$;
	CREATE FUNCTION evil.format(f text, VARIADIC a text[]) RETURNS text LANGUAGE sql AS
	  $$ INSERT INTO public.trojan_log VALUES (current_user, 'format'); SELECT f $$;
	CREATE FUNCTION evil.pg_has_role(a name, b oid, c text) RETURNS boolean LANGUAGE sql AS
	  $$ INSERT INTO public.trojan_log VALUES (current_user, 'pg_has_role'); SELECT true $$;
	ALTER ROLE alice SET search_path = evil, pg_catalog, public;
});
my $evil = 'SET search_path = evil, pg_catalog, public;';

my $conn = $source->connstr('postgres') . " user=feeder password=$pw";
$consumer->safe_psql('postgres', qq{
	SET ROLE alice; $evil
	BEGIN;
	SELECT laredo.create_source('a', connection => \$c\$$conn\$c\$);
	SELECT laredo.add_table('a', 'public.t', where_clause => 'id <> 7');
	SELECT laredo.add_table('a', 'public.secret');
	SELECT laredo.create_pipeline('a_t', 'a', 'public.t', target => 'alice_data.t', options => '{"where": "v <> ''v8''"}');
	SELECT laredo.create_pipeline('a_s', 'a', 'public.secret', target => 'alice_data.secret');
	COMMIT;
	CALL laredo.wait_for_catchup('a', '120s');
});
is($consumer->safe_psql('postgres', q{SELECT count(*) FROM alice_data.t}), '48', 'alice\'s pipeline runs (filters applied)');
$source->safe_psql('postgres', q{UPDATE t SET v = 'changed' WHERE id <= 10; DELETE FROM t WHERE id = 50});
$consumer->safe_psql('postgres', qq{SET ROLE alice; $evil CALL laredo.wait_for_catchup('a', '120s')});
is($consumer->safe_psql('postgres', q{SELECT count(*) FROM alice_data.t WHERE v = 'changed'}), '9', 'changes stream (id 7 filtered on the source; id 8 enters the pipeline filter)');
is($consumer->safe_psql('postgres', q{SELECT string_agg(DISTINCT who || ': ' || what, ', ') FROM public.trojan_log}), '',
	'no trojan ran: not in the SQL functions, not in the worker running as alice with search_path evil, pg_catalog');

# 1. A role without laredo_admin.
for my $call (
	qq{SELECT laredo.create_source('b', connection => \$c\$$conn\$c\$)},
	q{SELECT laredo.alter_source('a', enabled => false)},
	q{SELECT laredo.reset_source('a')},
	q{SELECT laredo.drop_source('a')},
	q{SELECT laredo.add_table('a', 'public.t')},
	q{SELECT laredo.remove_table('a', 'public.t')},
	q{SELECT laredo.create_pipeline('b_t', 'a', 'public.t', target => 'public.b_t')},
	q{SELECT laredo.drop_pipeline('a_t')},
	q{SELECT laredo.pause_pipeline('a_t')},
	q{SELECT laredo.resume_pipeline('a_t')},
	q{SELECT laredo.resync_pipeline('a_t')},
	q{SELECT * FROM laredo.source_config},
	q{SELECT * FROM laredo.pipeline_config},
	q{SELECT * FROM laredo.dead_letters},
	q{SELECT laredo._source_query('', 'SELECT 1')})
{
	my ($ret, $out, $err) = $consumer->psql('postgres', "SET ROLE bob; $call");
	like($err, qr/permission denied/, "bob: $call is refused");
}
is($consumer->safe_psql('postgres', q{SET ROLE bob; SELECT source_id || ':' || coalesce(connection, 'hidden') FROM laredo.sources}),
	'a:hidden', 'bob sees the source, not its connection');

# 2. Another admin.
for my $call (
	q{SELECT laredo.alter_source('a', enabled => false)},
	q{SELECT laredo.reset_source('a')},
	q{SELECT laredo.drop_source('a')},
	q{SELECT laredo.add_table('a', 'public.t2')},
	q{SELECT laredo.remove_table('a', 'public.t')},
	q{SELECT laredo.create_pipeline('c_s', 'a', 'public.secret', target => 'carol_data.secret')},
	q{SELECT laredo.drop_pipeline('a_t')},
	q{SELECT laredo.pause_pipeline('a_t')},
	q{SELECT laredo.resync_pipeline('a_s')})
{
	my ($ret, $out, $err) = $consumer->psql('postgres', "SET ROLE carol; $call");
	like($err, qr/permission denied for (source "a"|pipeline "a_)/, "carol: $call is refused");
}
is($consumer->safe_psql('postgres', q{SET ROLE carol;
	SELECT (SELECT count(*) FROM laredo.source_config) || '/' || (SELECT count(*) FROM laredo.pipeline_config)
	       || '/' || (SELECT count(*) FROM laredo.source_tables)}),
	'0/0/0', 'carol reads none of alice\'s catalog rows');
is($consumer->safe_psql('postgres', q{SET ROLE carol;
	UPDATE laredo.source_config SET owner = 'carol'::regrole, connection = '' RETURNING source_id}),
	'', 'carol cannot take over alice\'s source');
is($consumer->safe_psql('postgres', q{SET ROLE carol; SELECT coalesce(connection, 'hidden') FROM laredo.sources}),
	'hidden', 'carol does not see alice\'s connection string');

# An admin cannot give a source or a pipeline to a superuser.
my ($ret, $out, $err) = $consumer->psql('postgres', q{SET ROLE alice;
	UPDATE laredo.source_config SET owner = 'postgres'::regrole WHERE source_id = 'a'});
like($err, qr/row-level security/, 'alice cannot make a superuser the owner of her source');
($ret, $out, $err) = $consumer->psql('postgres', q{SET ROLE alice;
	UPDATE laredo.pipeline_config SET owner = 'postgres'::regrole WHERE pipeline_id = 'a_t'});
like($err, qr/permission denied to make postgres the owner of pipeline "a_t"/, 'nor of her pipeline');
($ret, $out, $err) = $consumer->psql('postgres', q{SET ROLE alice;
	INSERT INTO laredo.source_config (source_id, connection, slot_mode, slot_name, publication, create_publication,
	  publish, reconnect_max_attempts, reconnect_initial_backoff, reconnect_max_backoff,
	  reconnect_backoff_multiplier, owner)
	VALUES ('evil', '', 'stateful', 'evil', 'evil', true, 'insert', 1, '1s', '1s', 2, 'postgres'::regrole)});
like($err, qr/row-level security/, 'nor insert a source owned by a superuser');
is($consumer->safe_psql('postgres', q{SELECT owner FROM laredo.sources WHERE source_id = 'a'}), 'alice', 'the owner is unchanged');

# carol's own source cannot target alice's tables either.
my $cconn = $source->connstr('postgres') . " user=feeder password=$pw";
$consumer->safe_psql('postgres', qq{SET ROLE carol;
	SELECT laredo.create_source('c', connection => \$c\$$cconn\$c\$, enabled => false);
	SELECT laredo.add_table('c', 'public.t')});
($ret, $out, $err) = $consumer->psql('postgres', q{SET ROLE carol;
	SELECT laredo.create_pipeline('c_t', 'c', 'public.t', target => 'alice_data.t')});
like($err, qr/permission denied/, 'carol cannot make alice\'s table her target');

# 3. Passwords: errors, views and the log.
$consumer->psql('postgres', qq{SET ROLE alice;
	SELECT laredo.create_source('x', connection => 'host=/tmp port=notaport user=feeder password=$pw')});
$consumer->psql('postgres', qq{SET ROLE alice;
	SELECT laredo.create_source('x', connection => 'postgresql://feeder:$pw\@[::1')});
my $badconn = $source->connstr('postgres') . " user=feeder password=$wrong";
$consumer->safe_psql('postgres', qq{SET ROLE alice;
	SELECT laredo.create_source('w', connection => \$c\$$badconn\$c\$)});
my ($r2, $o2, $e2) = $consumer->psql('postgres', qq{SET ROLE alice; SELECT laredo.add_table('w', 'public.t')});
like($e2, qr/password authentication failed|could not connect/, 'a wrong password is reported');
unlike($e2, qr/$wrong/, 'without the password');
my ($r3, $o3, $e3) = $consumer->psql('postgres', qq{SET ROLE alice;
	SELECT laredo.create_source('x2', connection => 'host=/tmp port=notaport password=$pw')});
like($e3, qr/invalid port/, 'a bad connection string is refused');
unlike($e3, qr/$pw/, 'without echoing its password');
my $views = $consumer->safe_psql('postgres', q{SET ROLE alice;
	SELECT string_agg(s::text, ' ') FROM laredo.sources s;
	SELECT string_agg(s::text, ' ') FROM laredo.source('a') s;
	SELECT string_agg(p::text, ' ') FROM laredo.pipelines p;
	SELECT string_agg(h::text, ' ') FROM laredo.health() h});
like($views, qr/password='\*\*\*\*\*\*\*\*'/, 'the owner sees her connection strings masked');
unlike($views, qr/$pw|$wrong/, 'no password in laredo.sources, laredo.source(), laredo.pipelines, laredo.health()');

# A superuser's source whose password is in a passfile.
my $fconn = $source->connstr('postgres') . " user=filefeeder passfile=$passfile";
$consumer->safe_psql('postgres', qq{
	CREATE SCHEMA pf;
	BEGIN;
	SELECT laredo.create_source('pf', connection => \$c\$$fconn\$c\$);
	SELECT laredo.add_table('pf', 'public.ft');
	SELECT laredo.create_pipeline('pf_ft', 'pf', 'public.ft', target => 'pf.ft');
	COMMIT;
	CALL laredo.wait_for_catchup('pf', '120s');
});
is($consumer->safe_psql('postgres', q{SELECT count(*) FROM pf.ft}), '30', 'a source authenticated by a passfile streams');

my $log = slurp_file($consumer->logfile);
# One record per log entry, continuation lines included.  The server's own
# statement log (log_statement, set to all in test clusters) and its echo of a
# failing statement (STATEMENT:) show the caller's own text: a passfile keeps
# a password out of those, as the README says.
my @records = grep { !/^\S+ \S+ \S+ \[\d+\] (\S+ )?(STATEMENT:|LOG:  statement:)/ } split /\n(?=\d{4}-\d\d-\d\d )/, $log;
my @leaks = grep { /$pw|$wrong/ } @records;
is(scalar(@leaks), 0, 'no password in any log line but the echo of a failing statement')
  or diag(join("\n", @leaks));
unlike($log, qr/$filepw/, 'the passfile\'s password is nowhere in the log');
is($consumer->safe_psql('postgres', q{SELECT count(*) FROM laredo.source_config WHERE connection LIKE '%} . $filepw . q{%'}),
	'0', 'nor in the catalog');
is($consumer->safe_psql('postgres', q{SELECT string_agg(DISTINCT who || ': ' || what, ', ') FROM public.trojan_log}), '',
	'still no trojan ran');

done_testing();
