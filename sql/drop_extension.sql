-- drop_extension: DROP EXTENSION laredo drops every source's slot, owned
-- publications and replication origin first, so nothing pins the source's WAL.
CREATE TABLE public.dx (id int PRIMARY KEY);
INSERT INTO public.dx VALUES (1);
BEGIN;
SELECT laredo.create_source('dx1', connection => '', slot_name => 'dx1_slot');
SELECT laredo.create_source('dx2', connection => '', slot_name => 'dx2_slot');
SELECT laredo.add_table('dx1', 'public.dx');
SELECT laredo.add_table('dx2', 'public.dx');
SELECT laredo.create_pipeline('dx1', 'dx1', 'public.dx', target => 'public.dx_copy1');
SELECT laredo.create_pipeline('dx2', 'dx2', 'public.dx', target => 'public.dx_copy2');
COMMIT;
CALL laredo.wait_for_catchup('dx1', '60s');
CALL laredo.wait_for_catchup('dx2', '60s');
SELECT slot_name FROM pg_replication_slots ORDER BY 1;
SELECT count(*) > 0 AS origins FROM pg_replication_origin WHERE roname LIKE 'laredo_%';
DROP EXTENSION laredo;
SELECT count(*) AS slots FROM pg_replication_slots;
SELECT count(*) AS publications FROM pg_publication;
SELECT count(*) AS origins FROM pg_replication_origin WHERE roname LIKE 'laredo_%';
SELECT count(*) AS targets_kept FROM public.dx_copy1;
