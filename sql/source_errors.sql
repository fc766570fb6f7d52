-- source_errors: the source's own writes never fail because of laredo; a slot
-- laredo did not create is never adopted; failures back off into a durable
-- ERROR that stays until alter_source; each recovers with nothing lost.
\set SHOW_CONTEXT never
CREATE SCHEMA copy2;
CREATE TABLE public.nokey_log (at int, what text);                  -- no replica identity
CREATE TABLE public.docs (id int PRIMARY KEY, body text);
INSERT INTO public.nokey_log SELECT g, 'e' || g FROM generate_series(1, 20) g;
INSERT INTO public.docs SELECT g, 'd' || g FROM generate_series(1, 20) g;

-- 1. a slot of the same name that laredo did not create: ERROR, never adopted
SELECT 'created' FROM pg_create_logical_replication_slot('taken_slot', 'pgoutput');
BEGIN;
SELECT laredo.create_source('se', connection => '', slot_name => 'taken_slot',
                            reconnect_initial_backoff => '100ms', reconnect_max_backoff => '200ms',
                            reconnect_max_attempts => 2);
SELECT laredo.add_table('se', 'public.nokey_log');
SELECT laredo.add_table('se', 'public.docs');
SELECT laredo.create_pipeline('nokey', 'se', 'public.nokey_log', target => 'copy2.nokey_log');
SELECT laredo.create_pipeline('docs', 'se', 'public.docs', target => 'copy2.docs');
COMMIT;
SELECT public.wait_state('se', 'ERROR');
SELECT last_error, last_error_hint FROM laredo.sources WHERE source_id = 'se';
SELECT count(*) FROM copy2.docs;
-- it stays in ERROR: no worker is started for it
SELECT pg_sleep(0.5);
SELECT state, worker_pid FROM laredo.sources WHERE source_id = 'se';
SELECT pg_drop_replication_slot('taken_slot');
SELECT laredo.alter_source('se', enabled => true);
CALL laredo.wait_for_catchup('se', '60s');
SELECT state, last_error FROM laredo.sources WHERE source_id = 'se';

-- 2. a table without replica identity is published for insert and truncate
-- only: UPDATE and DELETE on the source keep working, inserts arrive
UPDATE public.nokey_log SET what = 'changed' WHERE at = 1;
DELETE FROM public.nokey_log WHERE at = 2;
INSERT INTO public.nokey_log VALUES (21, 'e21');
UPDATE public.docs SET body = 'changed' WHERE id = 1;
CALL laredo.wait_for_catchup('se', '60s');
SELECT count(*), max(at) FROM copy2.nokey_log;
SELECT body FROM copy2.docs WHERE id = 1;
SELECT pubname, tablename FROM pg_publication_tables ORDER BY 1, 2;
SELECT pubname, pubinsert, pubupdate, pubdelete, pubtruncate FROM pg_publication ORDER BY 1;

-- 3. an unreachable source: retries with backoff, then a durable ERROR after
-- reconnect_max_attempts; alter_source with a working connection recovers
SELECT laredo.alter_source('se', connection => 'host=127.0.0.1 port=1 dbname=nowhere user=postgres');
SELECT public.wait_state('se', 'ERROR');
SELECT last_error LIKE 'could not connect to source "se"%' AS connect_error, last_error_hint FROM laredo.sources WHERE source_id = 'se';
INSERT INTO public.docs VALUES (100, 'written while the source was in ERROR');
SELECT laredo.alter_source('se', connection => '');
CALL laredo.wait_for_catchup('se', '60s');
SELECT body FROM copy2.docs WHERE id = 100;
SELECT (SELECT md5(string_agg(t::text, '|' ORDER BY id)) FROM public.docs t)
     = (SELECT md5(string_agg(t::text, '|' ORDER BY id)) FROM copy2.docs t) AS docs_equal;
-- 4. a target that refuses a change: the source and the pipeline are in
-- ERROR, nothing after it is applied; once fixed, the change and everything
-- after it arrive (the failed transaction was never acknowledged)
ALTER TABLE copy2.docs ADD CONSTRAINT no_forbidden CHECK (body <> 'forbidden');
INSERT INTO public.docs VALUES (200, 'forbidden');
INSERT INTO public.docs VALUES (201, 'after the failure');
SELECT public.wait_state('se', 'ERROR');
SELECT s.last_error, p.state, p.last_error FROM laredo.sources s JOIN laredo.pipelines p USING (source_id)
WHERE p.pipeline_id = 'docs';
SELECT count(*) FROM copy2.docs WHERE id >= 200;
ALTER TABLE copy2.docs DROP CONSTRAINT no_forbidden;
SELECT laredo.alter_source('se', enabled => true);
CALL laredo.wait_for_catchup('se', '60s');
SELECT id, body FROM copy2.docs WHERE id >= 200 ORDER BY id;
SELECT state, last_error FROM laredo.pipelines WHERE pipeline_id = 'docs';
SELECT laredo.drop_source('se');

-- 5. with create_publication => false laredo uses the publication as it is,
-- but refuses one that contains a table laredo writes here (it would loop)
CREATE TABLE public.fb_src (id int PRIMARY KEY);
CREATE TABLE copy2.fb_copy (id int PRIMARY KEY);
CREATE PUBLICATION fb_pub FOR TABLE public.fb_src, copy2.fb_copy;
BEGIN;
SELECT laredo.create_source('fb', connection => '', slot_name => 'fb_slot',
                            publication => 'fb_pub', create_publication => false);
SELECT laredo.add_table('fb', 'public.fb_src');
SELECT laredo.create_pipeline('fb', 'fb', 'public.fb_src', target => 'copy2.fb_copy');
COMMIT;
SELECT public.wait_state('fb', 'ERROR');
SELECT last_error, last_error_hint FROM laredo.sources WHERE source_id = 'fb';
SELECT laredo.drop_source('fb');
SELECT pubname FROM pg_publication;
DROP PUBLICATION fb_pub;

-- 6. create_publication => false and the publication does not exist: ERROR,
-- and laredo does not create it
BEGIN;
SELECT laredo.create_source('np', connection => '', slot_name => 'np_slot',
                            publication => 'missing_pub', create_publication => false);
SELECT laredo.add_table('np', 'public.fb_src');
SELECT laredo.create_pipeline('np', 'np', 'public.fb_src', target => 'copy2.np_copy');
COMMIT;
SELECT public.wait_state('np', 'ERROR');
SELECT last_error, last_error_hint FROM laredo.sources WHERE source_id = 'np';
SELECT count(*) FROM pg_publication WHERE pubname = 'missing_pub';
SELECT laredo.drop_source('np');
SELECT count(*) FROM pg_replication_slots;
