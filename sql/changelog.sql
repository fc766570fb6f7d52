-- changelog: an append-only change log, one row per change, in commit order,
-- with op codes, keys, old and new rows as jsonb, TOAST marked, baseline rows
-- as 'B'; a mirror and a change log on the same table; retention.
\set SHOW_CONTEXT never
CREATE SCHEMA audit;
CREATE TABLE public.cl_items (id int PRIMARY KEY, name text, qty int, price numeric(8,2), ok boolean,
                           tags text[], doc jsonb, big text);
CREATE TABLE public.cl_notes (id int, body text);
ALTER TABLE public.cl_notes REPLICA IDENTITY FULL;
-- big is incompressible, so it is stored out of line (TOAST)
INSERT INTO public.cl_items VALUES (1, 'one', 1, 1.50, true, '{a,b}', '{"k": 1}',
                                    (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 400) g)),
                                (2, 'two', 2, NULL, false, NULL, NULL, NULL);
INSERT INTO public.cl_notes VALUES (1, 'first');
BEGIN;
SELECT laredo.create_source('cl', connection => '', slot_name => 'cl_slot');
SELECT laredo.add_table('cl', 'public.cl_items');
SELECT laredo.add_table('cl', 'public.cl_notes');
SELECT laredo.create_pipeline('items_log', 'cl', 'public.cl_items', target_kind => 'changelog',
                              target => 'audit.items_log', options => '{"retain": "1 hour"}');
SELECT laredo.create_pipeline('items_copy', 'cl', 'public.cl_items', target => 'audit.items_copy');
SELECT laredo.create_pipeline('notes_log', 'cl', 'public.cl_notes', target_kind => 'changelog');
COMMIT;
CALL laredo.wait_for_catchup('cl', '60s');
\d audit.items_log
-- the baseline: op B, the copy's LSN, one row each, seq minus its row number
SELECT op, seq, source_table, key, old, new - 'big' AS new, length(new->>'big') AS big
FROM audit.items_log ORDER BY lsn, seq;
-- a stream of changes in two transactions, and a third on both tables
BEGIN;
INSERT INTO public.cl_items VALUES (3, 'three', 3, 3.25, NULL, '{}', '[1, "two"]', NULL);
UPDATE public.cl_items SET qty = qty + 10 WHERE id = 1;           -- big (TOAST) unchanged
UPDATE public.cl_items SET id = 20 WHERE id = 2;                  -- key change
COMMIT;
DELETE FROM public.cl_items WHERE id = 3;
BEGIN;
UPDATE public.cl_notes SET body = 'changed' WHERE id = 1;          -- REPLICA IDENTITY FULL: old is the whole row
INSERT INTO public.cl_items VALUES (4, 'q"uote\', 0, 'NaN', true, '{"x,y"}', 'null', NULL);
TRUNCATE public.cl_notes;
COMMIT;
CALL laredo.wait_for_catchup('cl', '60s');
-- every change once, in commit order: (lsn, seq) ascending
SELECT op, seq, key, old, new - 'big' AS new,
       CASE jsonb_typeof(new->'big') WHEN 'string' THEN length(new->>'big')::text ELSE (new->'big')::text END AS big,
       dense_rank() OVER (ORDER BY lsn) AS txn
FROM audit.items_log WHERE op <> 'B' ORDER BY lsn, seq;
SELECT op, key, old, new FROM public.cl_notes_changelog ORDER BY lsn, seq;
SELECT count(*) = count(DISTINCT (lsn, seq)) AS unique_positions,
       bool_and(commit_time IS NOT NULL AND xid IS NOT NULL) FILTER (WHERE op <> 'B') AS metadata
FROM audit.items_log;
-- the mirror on the same table is exact
SELECT (SELECT md5(string_agg(t::text, '|' ORDER BY id)) FROM public.cl_items t)
     = (SELECT md5(string_agg(t::text, '|' ORDER BY id)) FROM audit.items_copy t) AS mirror_equal;
SELECT pipeline_id, target_kind, target, state, baseline_rows
FROM laredo.pipelines WHERE source_id = 'cl' ORDER BY 1;
-- retention: rows older than "retain" are pruned between transactions
BEGIN;
SELECT laredo.create_pipeline('short_log', 'cl', 'public.cl_items', target_kind => 'changelog',
                              target => 'audit.short_log', options => '{"retain": "1 second"}');
COMMIT;
CALL laredo.wait_for_catchup('cl', '60s');
SELECT count(*) AS copied FROM audit.short_log;
SELECT pg_sleep(1.2);
INSERT INTO public.cl_items (id, name) VALUES (5, 'recent');
CALL laredo.wait_for_catchup('cl', '60s');
DO $$
BEGIN
	FOR i IN 1..600 LOOP
		EXIT WHEN NOT EXISTS (SELECT FROM audit.short_log WHERE commit_time < now() - interval '1 second' AND op = 'B');
		PERFORM pg_sleep(0.05);
	END LOOP;
END $$;
SELECT op, key FROM audit.short_log WHERE op = 'B';
SELECT count(*) AS kept_in_long_log FROM audit.items_log;
-- refusals
SELECT laredo.create_pipeline('bad', 'cl', 'public.cl_items', target_kind => 'changelog',
                              target => 'audit.items_copy');
SELECT laredo.create_pipeline('bad', 'cl', 'public.cl_items', target_kind => 'changelog',
                              target => 'audit.x', options => '{"retain": "soon"}');
SELECT laredo.create_pipeline('bad', 'cl', 'public.cl_items', target_kind => 'changelog',
                              target => 'audit.x', options => '{"keep": "1 day"}');
SELECT laredo.create_pipeline('bad', 'cl', 'public.cl_items', target => 'audit.x', options => '{"retain": "1 day"}');
SELECT laredo.drop_source('cl');
