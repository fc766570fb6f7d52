-- local_mirror: a single server mirrors one of its own tables into another
\set SHOW_CONTEXT never
-- (connection => ''): baseline, then inserts, updates, deletes, TOAST and a
-- truncate; the mirror equals the source row for row.
CREATE SCHEMA copy;
CREATE TABLE public.accounts (id int PRIMARY KEY, owner text NOT NULL, balance numeric(14,2),
                              opened timestamptz, flags boolean[], meta jsonb, blob bytea, note text);
INSERT INTO public.accounts
SELECT g, 'owner ' || g, g * 10.25, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 hour',
       ARRAY[g % 2 = 0, NULL], jsonb_build_object('g', g, 'nested', jsonb_build_array(g, 'x')),
       decode(md5(g::text), 'hex'), CASE WHEN g % 100 = 0 THEN repeat('big', 5000) END
FROM generate_series(1, 500) g;
BEGIN;
SELECT laredo.create_source('local', connection => '', slot_name => 'local_slot');
SELECT laredo.add_table('local', 'public.accounts');
SELECT laredo.create_pipeline('accounts', 'local', 'public.accounts', target => 'copy.accounts');
COMMIT;
CREATE FUNCTION pg_temp.same() RETURNS boolean LANGUAGE sql AS $$
	SELECT (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY id), '')) FROM public.accounts t)
	     = (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY id), '')) FROM copy.accounts t)
$$;
CALL laredo.wait_for_catchup('local', '60s');
SELECT state FROM laredo.sources WHERE source_id = 'local';
SELECT pipeline_id, state, baseline_rows FROM laredo.pipelines;
SELECT count(*) FROM copy.accounts;
SELECT pg_temp.same();
SELECT slot_name, plugin, slot_type, temporary FROM pg_replication_slots;
SELECT count(*) FROM pg_stat_activity WHERE application_name = 'laredo source local' AND backend_type = 'laredo source worker';
-- a stream of changes, including values that must round-trip exactly
INSERT INTO public.accounts VALUES (1001, 'ünïcödé ✓', 0.01, '2024-06-01 12:34:56.789012+05:30', '{t,f}',
                                    '{"a": [1, 2.50, null]}', '\x00ff', E'tab\there\nnewline \\ back');
UPDATE public.accounts SET balance = balance + 1 WHERE id <= 50;
UPDATE public.accounts SET owner = 'renamed' WHERE id = 100;   -- note (TOASTed) unchanged
DELETE FROM public.accounts WHERE id BETWEEN 200 AND 249;
UPDATE public.accounts SET id = id + 10000 WHERE id = 300;      -- key change
CALL laredo.wait_for_catchup('local', '60s');
SELECT pg_temp.same();
SELECT length(note) FROM copy.accounts WHERE id = 100;
SELECT owner, balance, opened, meta, blob, note FROM copy.accounts WHERE id = 1001;
-- a truncate, then new rows
TRUNCATE public.accounts;
INSERT INTO public.accounts (id, owner) VALUES (1, 'after truncate');
CALL laredo.wait_for_catchup('local', '60s');
SELECT pg_temp.same();
SELECT id, owner FROM copy.accounts;
SELECT pg_sleep(1.2);  -- counters are written at most once a second, with the data
INSERT INTO public.accounts (id, owner) VALUES (2, 'counted');
CALL laredo.wait_for_catchup('local', '60s');
SELECT inserts >= 2 AS inserts, updates >= 52 AS updates, deletes >= 50 AS deletes, truncates FROM laredo.pipelines;
-- disable stops the worker and keeps the slot; enable resumes without a baseline
SELECT laredo.alter_source('local', enabled => false);
SELECT pg_sleep(0.5);
INSERT INTO public.accounts (id, owner) VALUES (3, 'while disabled');
SELECT state FROM laredo.sources WHERE source_id = 'local';
SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'local_slot';
SELECT laredo.alter_source('local', enabled => true);
CALL laredo.wait_for_catchup('local', '60s');
SELECT pg_temp.same();
SELECT baseline_rows FROM laredo.pipelines;
-- a table added to the streaming source is synchronised alone (its own
-- temporary slot and snapshot); the other table is not copied again
CREATE TABLE public.notes (id int PRIMARY KEY, body text);
INSERT INTO public.notes SELECT g, 'note ' || g FROM generate_series(1, 30) g;
BEGIN;
SELECT laredo.add_table('local', 'public.notes');
SELECT laredo.create_pipeline('notes', 'local', 'public.notes', target => 'copy.notes');
COMMIT;
INSERT INTO public.accounts (id, owner) VALUES (4, 'during the new baseline');
CALL laredo.wait_for_catchup('local', '60s');
INSERT INTO public.notes VALUES (31, 'streamed');
CALL laredo.wait_for_catchup('local', '60s');
SELECT pg_temp.same();
SELECT (SELECT md5(string_agg(t::text, '|' ORDER BY id)) FROM public.notes t)
     = (SELECT md5(string_agg(t::text, '|' ORDER BY id)) FROM copy.notes t) AS notes_equal;
SELECT pipeline_id, state, baseline_rows FROM laredo.pipelines ORDER BY 1;
SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'local_slot';
-- drop_source removes the slot, the publications and the catalog rows
SELECT laredo.drop_source('local');
SELECT count(*) FROM pg_replication_slots;
SELECT count(*) FROM pg_publication;
SELECT count(*) FROM pg_replication_origin;
SELECT count(*) FROM laredo.sources;
