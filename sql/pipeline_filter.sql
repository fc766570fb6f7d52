-- pipeline_filter: each pipeline's own row filter, evaluated here, for what
-- the publication cannot express: two pipelines on one table with different
-- filters; rows that move across the filter enter and leave each target.
\set SHOW_CONTEXT never
CREATE SCHEMA pf;
CREATE TABLE public.pf_orders (id int PRIMARY KEY, amount int NOT NULL, note text);
INSERT INTO public.pf_orders SELECT g, g * 30, 'n' || g FROM generate_series(1, 6) g;  -- 30 .. 180
BEGIN;
SELECT laredo.create_source('pfs', connection => '', slot_name => 'pfs_slot');
SELECT laredo.add_table('pfs', 'public.pf_orders');
SELECT laredo.create_pipeline('big', 'pfs', 'public.pf_orders', target => 'pf.big',
                              options => '{"where": "amount > 100"}');
SELECT laredo.create_pipeline('small_log', 'pfs', 'public.pf_orders', target_kind => 'changelog',
                              target => 'pf.small_log', options => '{"where": "amount <= 100"}');
COMMIT;
CALL laredo.wait_for_catchup('pfs', '60s');
SELECT * FROM pf.big ORDER BY id;
SELECT op, key, new FROM pf.small_log ORDER BY lsn, seq;
INSERT INTO public.pf_orders VALUES (7, 500, 'big one'), (8, 5, 'small one');
UPDATE public.pf_orders SET amount = 200 WHERE id = 1;     -- small -> big
UPDATE public.pf_orders SET amount = 10 WHERE id = 6;      -- big -> small
UPDATE public.pf_orders SET note = 'still big' WHERE id = 5;
DELETE FROM public.pf_orders WHERE id IN (4, 2);           -- one big, one small
CALL laredo.wait_for_catchup('pfs', '60s');
SELECT * FROM pf.big ORDER BY id;
SELECT (SELECT md5(string_agg(t::text, '|' ORDER BY id)) FROM public.pf_orders t WHERE amount > 100)
     = (SELECT md5(string_agg(t::text, '|' ORDER BY id)) FROM pf.big t) AS big_equal;
SELECT op, key, new FROM pf.small_log WHERE op <> 'B' ORDER BY lsn, seq;
-- refusals
SELECT laredo.create_pipeline('bad', 'pfs', 'public.pf_orders', target => 'pf.bad', options => '{"where": "amount > 1; DROP TABLE x"}');
SELECT laredo.create_pipeline('bad', 'pfs', 'public.pf_orders', target => 'pf.bad', options => '{"where": 5}');
SELECT laredo.drop_source('pfs');
