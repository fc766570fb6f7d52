# 410_verify: online verification (laredo.verify_pipeline) compares a
# mirror with its source key range by key range, each range at one exact
# position of the stream, while pgbench updates, inserts and deletes rows
# of the table:
#   - the mirror as laredo left it verifies clean under that load, over
#     many ranges (no false positive: a range's read and the stream meet
#     exactly at its position), each range settled by a hash of its rows
#     on each side (the consumer in another time zone: the hashes are made
#     in fixed text settings);
#   - rows changed behind laredo's back (updated, deleted and inserted
#     directly in the mirror with session_replication_role = replica) are
#     reported exactly: each differing key with its kind, and nothing else;
#     only the ranges whose hashes differ have their rows read;
#   - repair (laredo.repair_pipeline) writes exactly those rows back to the
#     source's, under the same load: the next verification finds nothing,
#     the untouched rows keep their physical place (ctid), and the mirror
#     ends equal to the source;
#   - a request the pipeline cannot take is refused and changes nothing;
#   - laredo.verify_source verifies (and repairs) every plain mirror of a
#     source in one request (one of them a partitioned target), and names
#     the pipelines it leaves out;
#   - a verification of a pipeline sent back to copy fails, saying why;
#     that pipeline has no copy option and its target holds rows: it is
#     copied again in key ranges (the target never emptied, the same table);
#   - a mirror with a column list, soft deletes and metadata columns, and
#     one with a row filter, verify clean under load, and exactly after
#     damage, and are repaired.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use LaredoTest;
use IPC::Run;
use Time::HiRes qw(usleep);

my $source = source_server('source');
# the consumer in another time zone than the source's connections: values are
# compared as stored, not as text
my $consumer = consumer_server('consumer', "timezone = 'America/New_York'\n");

$source->safe_psql('postgres', q{
	CREATE TABLE acct (id int PRIMARY KEY, balance bigint NOT NULL, note text, at timestamptz, amount numeric(12,2));
	INSERT INTO acct SELECT g, 0, 'n' || g, '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 minute', g / 100.0
	  FROM generate_series(1, 20000) g;
	-- (a column named t: the hash's row is built column by column, not taken as t)
	CREATE TABLE small (k int PRIMARY KEY, v text, t int);
	INSERT INTO small SELECT g, 'v' || g, g FROM generate_series(1, 100) g;
});
my $connstr = $source->connstr('postgres');
$consumer->safe_psql('postgres', qq{
	CREATE EXTENSION laredo;
	CREATE SCHEMA mirror;
	SELECT laredo.create_source('main', connection => \$c\$$connstr\$c\$, slot_name => 'laredo_verify',
	                            reconnect_initial_backoff => '100ms', reconnect_max_backoff => '1s');
	SELECT laredo.add_table('main', 'public.acct');
	SELECT laredo.create_pipeline('acct', 'main', 'public.acct', target => 'mirror.acct',
	                              options => '{"copy_rate": 5000}');
	-- a partitioned target: its rows are in its partitions
	CREATE TABLE mirror.small (k int PRIMARY KEY, v text, t int) PARTITION BY RANGE (k);
	CREATE TABLE mirror.small_lo PARTITION OF mirror.small FOR VALUES FROM (MINVALUE) TO (50);
	CREATE TABLE mirror.small_hi PARTITION OF mirror.small FOR VALUES FROM (50) TO (MAXVALUE);
	SELECT laredo.add_table('main', 'public.small');
	SELECT laredo.create_pipeline('small', 'main', 'public.small', target => 'mirror.small');
	CALL laredo.wait_for_catchup('main', '120s');
});

# the load: updates of the first 10,000 keys, inserts and deletes above
# 30,000; a verification reads at the pipeline's copy_rate (5,000 rows a
# second: four seconds for the table), so that the load runs through it
my $script = $source->basedir . '/acct.sql';
open my $fh, '>', $script or die;
print $fh q{\set id random(1, 10000)
\set hi random(30001, 35000)
UPDATE acct SET balance = balance + 1, at = now() WHERE id = :id;
INSERT INTO acct VALUES (:hi, 1, 'load', now(), :hi / 7.0) ON CONFLICT (id) DO UPDATE SET balance = acct.balance + 1;
DELETE FROM acct WHERE id = :hi + 1;
};
close $fh;
my ($out, $err) = ('', '');
# pgbench running this script on the source at this rate (transactions a
# second), in the background, until $load->signal('TERM')
sub start_load
{
	my ($file, $rate) = @_;
	return IPC::Run::start(
		[ 'pgbench', '-n', '-c', '2', '-j', '2', '-T', '600', '-R', $rate, '-f', $file,
		  '-h', $source->host, '-p', $source->port, 'postgres' ],
		'>', \$out, '2>', \$err);
}
my $load = start_load($script, 400);
$source->poll_query_until('postgres', q{SELECT count(*) > 100 FROM acct WHERE note = 'load'}) or die 'no load';

# Runs a verification of acct in ranges of 2,000 rows and waits for it:
# returns its id and its counts.
sub verify
{
	my $id = $consumer->safe_psql('postgres', q{SELECT laredo.verify_pipeline('acct', chunk_rows => 2000)});
	$consumer->safe_psql('postgres', q{SELECT laredo.wait_for_verification('acct', '180s')});
	return ($id, $consumer->safe_psql('postgres', qq{SELECT state || ' ' || missing || ' ' || extra || ' ' || different
		|| ' ' || coalesce(error, '-') FROM laredo.verifications WHERE verification_id = $id}),
		$consumer->safe_psql('postgres', qq{SELECT ranges || ' ' || rows_compared || ' ' || rereads || ' ' || hashed_ranges
		FROM laredo.verifications WHERE verification_id = $id}));
}

my ($v1, $result, $work) = verify();
is($result, 'done 0 0 0 -', 'the mirror verifies clean under load');
my ($ranges, $compared, $rereads, $hashed) = split / /, $work;
cmp_ok($ranges, '>=', 10, "over many ranges ($ranges)");
cmp_ok($compared, '>=', 20000, "every row compared ($compared)");
is($hashed, $ranges, 'each range settled by its hash: no row read for a range that is equal');
is($consumer->safe_psql('postgres', qq{SELECT count(*) FROM laredo.verification_rows WHERE verification_id = $v1}),
	'0', 'no key listed');

# Behind laredo's back: three rows changed, two deleted, two added, on keys
# the load does not touch.
$consumer->safe_psql('postgres', q{
	SET session_replication_role = replica;
	UPDATE mirror.acct SET note = 'tampered' WHERE id = 15001;
	UPDATE mirror.acct SET amount = amount + 0.01 WHERE id = 15002;
	UPDATE mirror.acct SET at = at + interval '1 microsecond' WHERE id = 15003;
	DELETE FROM mirror.acct WHERE id IN (16001, 16002);
	INSERT INTO mirror.acct VALUES (50001, 0, 'extra', now(), 0), (50002, 0, 'extra', now(), 0);
});
my ($v2, $result2, $work2) = verify();
is($result2, 'done 2 2 3 -', 'the changes behind its back are counted: 2 missing, 2 extra, 3 different');
my ($ranges2, undef, undef, $hashed2) = split / /, $work2;
# keys 15001-16002 lie in one or two ranges of 2,000 rows, 50001-50002 in the last
cmp_ok($ranges2 - $hashed2, '>=', 2, 'the ranges whose hashes differed had their rows read (' . ($ranges2 - $hashed2) . ')');
cmp_ok($ranges2 - $hashed2, '<=', 4, 'and only they (one more when the last range grew under the load meanwhile)');
is($consumer->safe_psql('postgres', qq{SELECT string_agg(kind || ' ' || key[1], ', ' ORDER BY key[1]::int)
	FROM laredo.verification_rows WHERE verification_id = $v2}),
	'different 15001, different 15002, different 15003, missing 16001, missing 16002, extra 50001, extra 50002',
	'and listed exactly: each differing key with its kind, nothing else');
# the ranges that differed (0.11.0): each with its bounds and counts, which
# add up to the verification's; every differing key inside one of them
is($consumer->safe_psql('postgres', qq{SELECT sum(missing) || ' ' || sum(extra) || ' ' || sum(different) || ' '
	|| (count(*) BETWEEN 2 AND 3) || ' ' || count(*) FILTER (WHERE hi IS NULL)
	FROM laredo.verification_ranges WHERE verification_id = $v2}), '2 2 3 true 1',
	'the ranges that differ are listed (two or three: 15001-16002 in one or two, the last, open above), their counts adding up to the verification\'s');
is($consumer->safe_psql('postgres', qq{SELECT count(*) FROM laredo.verification_rows r WHERE r.verification_id = $v2
	AND NOT EXISTS (SELECT FROM laredo.verification_ranges g WHERE g.verification_id = $v2
	                AND (g.lo IS NULL OR r.key[1]::int > g.lo[1]::int) AND (g.hi IS NULL OR r.key[1]::int <= g.hi[1]::int))}),
	'0', 'and every differing key lies in one of them');

# Repair: the same seven rows written back, and only they: every other
# row of the mirror keeps its ctid (not rewritten), and a verification
# after it finds nothing.
my $ctids = q{SELECT count(*) FROM mirror.acct a JOIN ctids c USING (id) WHERE a.ctid <> c.at_ctid};
$consumer->safe_psql('postgres', q{CREATE TABLE ctids AS SELECT id, ctid AS at_ctid FROM mirror.acct WHERE id BETWEEN 12001 AND 20000});
my $r1 = $consumer->safe_psql('postgres', q{SELECT laredo.repair_pipeline('acct', chunk_rows => 2000)});
is($consumer->safe_psql('postgres', q{SELECT laredo.wait_for_verification('acct', '180s')}), 'done', 'the repair is done');
is($consumer->safe_psql('postgres', qq{SELECT repair || ' ' || missing || ' ' || extra || ' ' || different || ' ' || repaired
	FROM laredo.verifications WHERE verification_id = $r1}), 'true 2 2 3 7',
	'it found the same seven rows and repaired them');
is($consumer->safe_psql('postgres', qq{SELECT string_agg(kind || ' ' || key[1], ', ' ORDER BY key[1]::int)
	FROM laredo.verification_rows WHERE verification_id = $r1}),
	'different 15001, different 15002, different 15003, missing 16001, missing 16002, extra 50001, extra 50002',
	'and listed them');
is($consumer->safe_psql('postgres', $ctids), '3', 'only the three different rows of those keys were rewritten');
is($consumer->safe_psql('postgres', q{SELECT count(*) FROM mirror.acct WHERE id IN (50001, 50002) OR note IN ('tampered', 'extra')}),
	'0', 'the extra rows are gone, the tampered note too');
my ($v5, $result5) = verify();
is($result5, 'done 0 0 0 -', 'a verification after the repair finds nothing');

# Refused: a second verification while one runs, a bad range size, a
# pipeline that is not a plain mirror.
my $v3 = $consumer->safe_psql('postgres', q{SELECT laredo.verify_pipeline('acct')});
my ($rc, $stdout, $stderr) = $consumer->psql('postgres', q{SELECT laredo.verify_pipeline('acct')});
like($stderr, qr/pipeline "acct" is being verified/, 'a second verification while one runs is refused');
($rc, $stdout, $stderr) = $consumer->psql('postgres', q{SELECT laredo.verify_pipeline('acct', chunk_rows => 0)});
like($stderr, qr/invalid chunk_rows 0/, 'a bad range size is refused');
($rc, $stdout, $stderr) = $consumer->psql('postgres', q{SELECT laredo.verify_pipeline('acct', repair => NULL)});
like($stderr, qr/invalid repair NULL/, 'a NULL repair is refused');
$consumer->safe_psql('postgres', q{
	CREATE SCHEMA log;
	SELECT laredo.create_pipeline('acct_log', 'main', 'public.acct', target => 'log.acct', target_kind => 'changelog');
});
($rc, $stdout, $stderr) = $consumer->psql('postgres', q{SELECT laredo.verify_pipeline('acct_log')});
like($stderr, qr/pipeline "acct_log" cannot be verified yet/, 'a change log is refused');
is($consumer->safe_psql('postgres', qq{SELECT count(*) FROM laredo.verifications WHERE verification_id > $v3}), '0',
	'and nothing was recorded for them');
is($consumer->safe_psql('postgres', q{SELECT laredo.wait_for_verification('acct', '180s')}), 'done',
	'wait_for_verification returns the state of the latest one');

# A pipeline sent back to copy while it is verified: the verification fails,
# saying why, and the copy goes on.
$consumer->safe_psql('postgres', q{SELECT laredo.alter_pipeline('acct', '{"copy_rate": 500}')});
my $v4 = $consumer->safe_psql('postgres', q{SELECT laredo.verify_pipeline('acct', chunk_rows => 500)});
$consumer->poll_query_until('postgres', qq{SELECT ranges >= 1 FROM laredo.verifications WHERE verification_id = $v4})
  or die 'the fourth verification did not start';
my $acct_oid = $consumer->safe_psql('postgres', q{SELECT 'mirror.acct'::regclass::oid});
$consumer->safe_psql('postgres', q{SELECT laredo.resync_pipeline('acct')});
is($consumer->safe_psql('postgres', q{SELECT laredo.wait_for_verification('acct', '60s')}), 'failed',
	'a verification of a pipeline sent back to copy fails');
# (copy_rate 500: the copy in ranges takes a while; sampled meanwhile)
my $acct_empty = 0;
for (1 .. 20)
{
	$acct_empty++ unless $consumer->safe_psql('postgres', q{SELECT EXISTS (SELECT FROM mirror.acct)}) eq 't';
	usleep(100_000);
}
like($consumer->safe_psql('postgres', qq{SELECT error FROM laredo.verifications WHERE verification_id = $v4}),
	qr/being copied again/, 'saying why');
$consumer->safe_psql('postgres', q{SELECT laredo.alter_pipeline('acct', '{"copy_rate": null}')});

$load->signal('TERM');
$load->finish;
$consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('main', '120s')});
is($consumer->safe_psql('postgres', q{SELECT state FROM laredo.pipelines WHERE pipeline_id = 'acct'}), 'STREAMING',
	'the pipeline streamed throughout');
like($consumer->safe_psql('postgres', q{SELECT state || ' ' || ranges FROM laredo.copies WHERE pipeline_id = 'acct'}),
	qr/^done [1-9]/, 'the resync of a pipeline without a copy option, its target holding rows, went in ranges');
is($acct_empty, 0, 'its target was never empty meanwhile');
is($consumer->safe_psql('postgres', q{SELECT 'mirror.acct'::regclass::oid}), $acct_oid, 'and it is the same table');

# A whole source: both mirrors verified and repaired in one request, the
# change log left out and named.
$consumer->safe_psql('postgres', q{
	SET session_replication_role = replica;
	UPDATE mirror.small SET v = 'tampered' WHERE k = 7;
});
($rc, $stdout, $stderr) = $consumer->psql('postgres',
	q{SELECT string_agg(pipeline_id, ',' ORDER BY pipeline_id) FROM laredo.verify_source('main', chunk_rows => 2000, repair => true)});
is($stdout, 'acct,small', 'verify_source asks for both mirrors');
like($stderr, qr/NOTICE:  pipeline "acct_log" is not verified: pipeline "acct_log" cannot be verified yet/,
	'and names the change log it leaves out, with why');
is($consumer->safe_psql('postgres', q{SELECT laredo.wait_for_verification('acct', '180s') || laredo.wait_for_verification('small', '180s')}),
	'donedone', 'both verifications are done');
is($consumer->safe_psql('postgres', q{SELECT string_agg(pipeline_id || ' ' || missing || ' ' || extra || ' ' || different || ' ' || repaired, ', ' ORDER BY pipeline_id)
	FROM laredo.verifications WHERE verification_id IN (SELECT max(verification_id) FROM laredo.verifications GROUP BY pipeline_id)}),
	'acct 0 0 0 0, small 0 0 1 1', 'each found and repaired what differed in its mirror (one range, the same count: the hash found it)');
is(table_digest($consumer, 'postgres', 'mirror.small', 'k'), table_digest($source, 'postgres', 'small', 'k'),
	'the small mirror is equal to its source again');
($rc, $stdout, $stderr) = $consumer->psql('postgres', q{SELECT * FROM laredo.verify_source('nope')});
like($stderr, qr/source "nope" does not exist/, 'an unknown source is refused');

# A mirror that is not plain (0.10.0): a column list, soft deletes and
# metadata columns.  Only the listed columns are compared, the rows marked
# deleted here are left out (their source rows are gone), and the metadata
# columns are the mirror's own: under the load it verifies clean; rows
# changed behind laredo's back are found exactly (a listed column changed,
# a live row marked deleted, a marked one revived, a row added; a changed
# _lsn is no difference), and a repair writes them back.
$source->safe_psql('postgres', q{DELETE FROM acct WHERE id IN (19990, 19991)});
$consumer->safe_psql('postgres', q{
	SELECT laredo.create_pipeline('acct_sd', 'main', 'public.acct', target => 'mirror.acct_sd',
	                              options => '{"columns": ["id", "balance"], "soft_delete": true, "metadata_columns": true}');
	CALL laredo.wait_for_catchup('main', '120s');
});
is($consumer->safe_psql('postgres', q{SELECT count(*) FROM mirror.acct_sd WHERE id = 19990}), '0',
	'(a row deleted before the copy is not in the mirror)');
$source->safe_psql('postgres', q{DELETE FROM acct WHERE id IN (19992, 19993)});
$load = start_load($script, 400);
$consumer->poll_query_until('postgres', q{SELECT count(*) = 2 FROM mirror.acct_sd WHERE id IN (19992, 19993) AND _deleted_at IS NOT NULL})
  or die 'the rows deleted on the source are not marked deleted in acct_sd';
sub verify_sd
{
	my ($repair) = @_;
	my $id = $consumer->safe_psql('postgres', qq{SELECT laredo.verify_pipeline('acct_sd', chunk_rows => 2000, repair => $repair)});
	$consumer->safe_psql('postgres', q{SELECT laredo.wait_for_verification('acct_sd', '180s')});
	return $consumer->safe_psql('postgres', qq{SELECT state || ' ' || missing || ' ' || extra || ' ' || different
		|| ' ' || repaired || ' ' || coalesce(error, '-') FROM laredo.verifications WHERE verification_id = $id});
}
is(verify_sd('false'), 'done 0 0 0 0 -', 'a mirror with a column list, soft deletes and metadata columns verifies clean under load');
$consumer->safe_psql('postgres', q{
	SET session_replication_role = replica;
	UPDATE mirror.acct_sd SET balance = balance + 5 WHERE id = 15001;
	UPDATE mirror.acct_sd SET _deleted_at = now() WHERE id = 15002;
	UPDATE mirror.acct_sd SET _deleted_at = NULL WHERE id = 19992;
	INSERT INTO mirror.acct_sd (id, balance) VALUES (50101, 1);
	UPDATE mirror.acct_sd SET _lsn = '0/1', _commit_time = NULL WHERE id = 15003;
});
is(verify_sd('false'), 'done 1 2 1 0 -', 'the changes behind laredo\'s back are found exactly (the metadata change is none)');
is($consumer->safe_psql('postgres', q{SELECT string_agg(kind || ' ' || array_to_string(key, ','), '; ' ORDER BY key[1]::int)
	FROM laredo.verification_rows WHERE verification_id = (SELECT max(verification_id) FROM laredo.verifications)}),
	'different 15001; missing 15002; extra 19992; extra 50101', 'each with its key');
is(verify_sd('true'), 'done 1 2 1 4 -', 'a repair writes them back');
is($consumer->safe_psql('postgres', q{SELECT string_agg(r.key[1] || ':' || (m._lsn = r.at_lsn), ',' ORDER BY r.key[1]::int)
	FROM laredo.verification_rows r JOIN mirror.acct_sd m ON m.id = r.key[1]::int
	WHERE r.verification_id = (SELECT max(verification_id) FROM laredo.verifications) AND r.kind <> 'extra'}),
	'15001:true,15002:true', 'the rows it wrote carry its range\'s position in _lsn');
is(verify_sd('false'), 'done 0 0 0 0 -', 'and a verification after it finds nothing');
$load->signal('TERM');
$load->finish;
$consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('main', '120s')});
my $live = q{SELECT count(*) || ':' || md5(string_agg(id || '=' || balance, ',' ORDER BY id)) FROM %s};
is($consumer->safe_psql('postgres', sprintf($live, 'mirror.acct_sd WHERE _deleted_at IS NULL')),
	$source->safe_psql('postgres', sprintf($live, 'acct')), 'its live rows equal the source\'s');
is($consumer->safe_psql('postgres', q{SELECT string_agg(id::text, ',' ORDER BY id) FROM mirror.acct_sd
	WHERE id IN (19992, 19993, 50101) AND _deleted_at IS NOT NULL}), '19992,19993,50101',
	'the rows the source lacks are marked deleted, not removed');

# A mirror with a row filter (where, evaluated here): each range's source
# rows are filtered here as the stream's are, and compared row by row (no
# hash: the source cannot run the filter); under a load that moves rows in
# and out of the filter it verifies clean, and after damage exactly: a
# matching row deleted, a row changed, a row added that the source lacks,
# and one the source has outside the filter.
$consumer->safe_psql('postgres', q{
	SELECT laredo.create_pipeline('acct_f', 'main', 'public.acct', target => 'mirror.acct_f',
	                              options => '{"where": "balance % 2 = 0"}');
	CALL laredo.wait_for_catchup('main', '120s');
});
$load = start_load($script, 400);
sub verify_f
{
	my ($repair) = @_;
	my $id = $consumer->safe_psql('postgres', qq{SELECT laredo.verify_pipeline('acct_f', chunk_rows => 2000, repair => $repair)});
	$consumer->safe_psql('postgres', q{SELECT laredo.wait_for_verification('acct_f', '180s')});
	return $consumer->safe_psql('postgres', qq{SELECT state || ' ' || missing || ' ' || extra || ' ' || different
		|| ' ' || repaired || ' ' || hashed_ranges || ' ' || coalesce(error, '-') FROM laredo.verifications WHERE verification_id = $id});
}
is(verify_f('false'), 'done 0 0 0 0 0 -', 'a filtered mirror verifies clean under a load that moves rows in and out of its filter');
$source->safe_psql('postgres', q{UPDATE acct SET balance = 1 WHERE id = 15014});
$consumer->poll_query_until('postgres', q{SELECT NOT EXISTS (SELECT FROM mirror.acct_f WHERE id = 15014)})
  or die 'the row that left the filter stayed';
$consumer->safe_psql('postgres', q{
	SET session_replication_role = replica;
	DELETE FROM mirror.acct_f WHERE id = 15011;
	UPDATE mirror.acct_f SET note = 'tampered' WHERE id = 15013;
	INSERT INTO mirror.acct_f (id, balance, note) VALUES (15014, 1, 'outside'), (50201, 0, 'nowhere');
});
is(verify_f('false'), 'done 1 2 1 0 0 -', 'the changes behind laredo\'s back are found exactly');
is($consumer->safe_psql('postgres', q{SELECT string_agg(kind || ' ' || array_to_string(key, ','), '; ' ORDER BY key[1]::int)
	FROM laredo.verification_rows WHERE verification_id = (SELECT max(verification_id) FROM laredo.verifications)}),
	'missing 15011; different 15013; extra 15014; extra 50201', 'each with its key (one the source has outside the filter)');
is(verify_f('true'), 'done 1 2 1 4 0 -', 'a repair writes them back');
is(verify_f('false'), 'done 0 0 0 0 0 -', 'and a verification after it finds nothing');
$load->signal('TERM');
$load->finish;
$consumer->safe_psql('postgres', q{CALL laredo.wait_for_catchup('main', '120s')});
my $filtered = q{SET timezone = 'UTC'; SELECT count(*) || ':' || md5(string_agg(t::text, '|' ORDER BY id)) FROM %s t};
is($consumer->safe_psql('postgres', sprintf($filtered, 'mirror.acct_f')),
	$source->safe_psql('postgres', sprintf($filtered, '(SELECT * FROM acct WHERE balance % 2 = 0)')),
	'the filtered mirror equals the source\'s rows in its filter');

my @errors = grep { /ERROR:/ && !/410_verify\.pl/ } split /\n/, slurp_file($consumer->logfile);
is(scalar(@errors), 0, 'no ERROR of laredo\'s on the consumer') or diag(join("\n", @errors));
# (as text in one time zone: the consumer's is not the source's)
my $digest = q{SET timezone = 'UTC'; SELECT count(*) || ':' || md5(string_agg(t::text, '|' ORDER BY id)) FROM %s t};
is($consumer->safe_psql('postgres', sprintf($digest, 'mirror.acct')), $source->safe_psql('postgres', sprintf($digest, 'acct')),
	'the mirror ends equal to the source');

done_testing();
