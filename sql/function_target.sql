-- function_target: a user function called once per change in the apply
-- transaction, with the pipeline owner's rights; on_error stop (ERROR at that
-- change, resume after the fix) and skip (dead letters).
\set SHOW_CONTEXT never
CREATE SCHEMA fn;
CREATE TABLE public.fn_src (id int PRIMARY KEY, v text);
INSERT INTO public.fn_src VALUES (1, 'one');
CREATE TABLE fn.calls (n serial, op text, old jsonb, new jsonb, lsn_ok boolean, source_table text,
                       source_id text, seq bigint, caller name);
CREATE FUNCTION fn.record(op text, old jsonb, new jsonb, meta jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	IF new->>'v' = 'boom' THEN
		RAISE EXCEPTION 'cannot take %', new->>'v';
	END IF;
	INSERT INTO fn.calls (op, old, new, lsn_ok, source_table, source_id, seq, caller)
	VALUES (op, old, new, (meta->>'lsn')::pg_lsn IS NOT NULL, meta->>'source_table', meta->>'source_id',
	        (meta->>'seq')::bigint, current_user);
END
$$;
BEGIN;
SELECT laredo.create_source('fs', connection => '', slot_name => 'fs_slot');
SELECT laredo.add_table('fs', 'public.fn_src');
SELECT laredo.create_pipeline('calls', 'fs', 'public.fn_src', target_kind => 'function', target => 'fn.record');
COMMIT;
CALL laredo.wait_for_catchup('fs', '60s');
BEGIN;
INSERT INTO public.fn_src VALUES (2, 'two');
UPDATE public.fn_src SET v = 'uno' WHERE id = 1;
COMMIT;
DELETE FROM public.fn_src WHERE id = 2;
CALL laredo.wait_for_catchup('fs', '60s');
SELECT n, op, old, new, lsn_ok, source_table, source_id, seq, caller FROM fn.calls ORDER BY n;

-- on_error stop: ERROR at the failing change; nothing after it applied
INSERT INTO public.fn_src VALUES (3, 'boom');
INSERT INTO public.fn_src VALUES (4, 'after');
SELECT public.wait_state('fs', 'ERROR');
SELECT p.state, p.last_error FROM laredo.pipelines p WHERE pipeline_id = 'calls';
SELECT count(*) FROM fn.calls WHERE (new->>'id')::int >= 3;
-- fix the function, resume: the failed change and the next one arrive
CREATE OR REPLACE FUNCTION fn.record(op text, old jsonb, new jsonb, meta jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	IF new->>'v' = 'bang' THEN
		RAISE EXCEPTION 'cannot take %', new->>'v';
	END IF;
	INSERT INTO fn.calls (op, old, new, lsn_ok, source_table, source_id, seq, caller)
	VALUES (op, old, new, true, meta->>'source_table', meta->>'source_id', (meta->>'seq')::bigint, current_user);
END
$$;
SELECT laredo.resume_pipeline('calls');
CALL laredo.wait_for_catchup('fs', '60s');
SELECT op, new FROM fn.calls WHERE (new->>'id')::int >= 3 ORDER BY n;

-- on_error skip: a failing change goes to laredo.dead_letters, the rest goes on
SELECT laredo.drop_pipeline('calls');
SELECT laredo.create_pipeline('calls2', 'fs', 'public.fn_src', target_kind => 'function', target => 'fn.record',
                              options => '{"on_error": "skip"}');
CALL laredo.wait_for_catchup('fs', '60s');
INSERT INTO public.fn_src VALUES (5, 'bang');
INSERT INTO public.fn_src VALUES (6, 'fine');
CALL laredo.wait_for_catchup('fs', '60s');
SELECT state FROM laredo.sources WHERE source_id = 'fs';
SELECT pipeline_id, op, new, error, meta->>'source_table' AS source_table FROM laredo.dead_letters;
SELECT op, new FROM fn.calls WHERE (new->>'id')::int >= 5 ORDER BY n;

-- refusals
SELECT laredo.create_pipeline('bad', 'fs', 'public.fn_src', target_kind => 'function', target => 'fn.nosuch');
SELECT laredo.create_pipeline('bad', 'fs', 'public.fn_src', target_kind => 'function');
SELECT laredo.create_pipeline('bad', 'fs', 'public.fn_src', target_kind => 'function', target => 'fn.record',
                              options => '{"on_error": "ignore"}');
SELECT laredo.drop_source('fs');
