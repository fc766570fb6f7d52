-- table_options: a column subset, soft deletes and metadata columns on table
-- targets, two pipelines on one table, with exact rows.
\set SHOW_CONTEXT never
CREATE SCHEMA tgt;
CREATE TABLE public.to_src (id int PRIMARY KEY, a text, b int, c text);
INSERT INTO public.to_src VALUES (1, 'a1', 1, 'c1'), (2, 'a2', 2, 'c2');
BEGIN;
SELECT laredo.create_source('tos', connection => '', slot_name => 'tos_slot');
SELECT laredo.add_table('tos', 'public.to_src');
SELECT laredo.create_pipeline('narrow', 'tos', 'public.to_src', target => 'tgt.narrow',
                              options => '{"columns": ["a"]}');
SELECT laredo.create_pipeline('history', 'tos', 'public.to_src', target => 'tgt.history',
                              options => '{"soft_delete": true, "metadata_columns": true}');
COMMIT;
CALL laredo.wait_for_catchup('tos', '60s');
SELECT attrelid::regclass, string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
FROM pg_attribute WHERE attrelid IN ('tgt.narrow'::regclass, 'tgt.history'::regclass) AND attnum > 0
GROUP BY 1 ORDER BY 1::text;
INSERT INTO public.to_src VALUES (3, 'a3', 3, 'c3');
UPDATE public.to_src SET a = 'a1 changed', c = 'c1 changed' WHERE id = 1;
DELETE FROM public.to_src WHERE id = 2;
CALL laredo.wait_for_catchup('tos', '60s');
SELECT * FROM tgt.narrow ORDER BY id;
SELECT id, a, b, c, _deleted_at IS NOT NULL AS deleted, _lsn IS NOT NULL AS has_lsn,
       _commit_time IS NOT NULL AS has_time FROM tgt.history ORDER BY id;
-- the key comes back: the soft-deleted row is revived
INSERT INTO public.to_src VALUES (2, 'a2 again', 22, 'c2 again');
CALL laredo.wait_for_catchup('tos', '60s');
SELECT id, a, b, _deleted_at IS NOT NULL AS deleted FROM tgt.history ORDER BY id;
-- _lsn orders the rows by the change that wrote them last
SELECT id FROM tgt.history ORDER BY _lsn, id;
-- a truncate marks every row deleted in the soft-delete target, empties the other
TRUNCATE public.to_src;
CALL laredo.wait_for_catchup('tos', '60s');
SELECT count(*) AS narrow_rows FROM tgt.narrow;
SELECT count(*) AS history_rows, count(*) FILTER (WHERE _deleted_at IS NOT NULL) AS marked FROM tgt.history;
-- refusals
SELECT laredo.create_pipeline('bad', 'tos', 'public.to_src', target => 'tgt.bad1', options => '{"columns": ["nosuch"]}');
SELECT laredo.create_pipeline('bad', 'tos', 'public.to_src', target => 'tgt.bad1', options => '{"columns": "a"}');
SELECT laredo.create_pipeline('bad', 'tos', 'public.to_src', target => 'tgt.bad1', options => '{"soft_delete": "yes"}');
CREATE TABLE tgt.plain (id int PRIMARY KEY, a text, b int, c text);
SELECT laredo.create_pipeline('bad', 'tos', 'public.to_src', target => 'tgt.plain', options => '{"soft_delete": true}');
SELECT laredo.drop_source('tos');
