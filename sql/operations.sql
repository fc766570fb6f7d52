-- operations: reset, pause, resume, resync, laredo.source() and laredo.health(),
-- with every refusal.
\set SHOW_CONTEXT never
CREATE SCHEMA ops;
CREATE TABLE public.op_a (id int PRIMARY KEY, v text);
CREATE TABLE public.op_b (id int PRIMARY KEY, v text);
INSERT INTO public.op_a SELECT g, 'a' || g FROM generate_series(1, 100) g;
INSERT INTO public.op_b SELECT g, 'b' || g FROM generate_series(1, 100) g;
BEGIN;
SELECT laredo.create_source('ops', connection => '', slot_name => 'ops_slot');
SELECT laredo.add_table('ops', 'public.op_a');
SELECT laredo.add_table('ops', 'public.op_b');
SELECT laredo.create_pipeline('op_a', 'ops', 'public.op_a', target => 'ops.op_a');
SELECT laredo.create_pipeline('op_b', 'ops', 'public.op_b', target => 'ops.op_b');
COMMIT;
CALL laredo.wait_for_catchup('ops', '60s');
-- all is well: health() is empty
SELECT * FROM laredo.health();
SELECT source_id, slot_mode, state, tables, pipelines, publish, reconnect_max_attempts
FROM laredo.source('ops');

-- pause holds the source; changes made meanwhile are applied on resume
SELECT laredo.pause_pipeline('op_a');
SELECT public.wait_state('ops', 'PAUSED');
SELECT pipeline_id, state FROM laredo.pipelines ORDER BY 1;
SELECT source_id, pipeline_id, problem FROM laredo.health();
INSERT INTO public.op_a VALUES (101, 'while paused');
UPDATE public.op_b SET v = 'while paused' WHERE id = 1;
\set VERBOSITY terse
CALL laredo.wait_for_catchup('ops', '1s');
\set VERBOSITY default
SELECT count(*) FROM ops.op_a WHERE id = 101;
SELECT laredo.resume_pipeline('op_a');
CALL laredo.wait_for_catchup('ops', '60s');
SELECT id, v FROM ops.op_a WHERE id = 101;
SELECT v FROM ops.op_b WHERE id = 1;

-- resync of one pipeline copies that table alone
UPDATE ops.op_b SET v = 'damaged';          -- the target drifted
SELECT laredo.resync_pipeline('op_b');
CALL laredo.wait_for_catchup('ops', '60s');
SELECT (SELECT md5(string_agg(t::text, '|' ORDER BY id)) FROM public.op_b t)
     = (SELECT md5(string_agg(t::text, '|' ORDER BY id)) FROM ops.op_b t) AS op_b_equal;
SELECT pipeline_id, baseline_rows, baseline_duration IS NOT NULL AS timed FROM laredo.pipelines ORDER BY 1;

-- reset while disabled: the slot goes at once, a new one and a full baseline come on enable
SELECT laredo.alter_source('ops', enabled => false);
SELECT laredo.reset_source('ops');
SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'ops_slot';
SELECT pipeline_id, state FROM laredo.pipelines ORDER BY 1;
INSERT INTO public.op_a VALUES (102, 'before the new baseline');
SELECT laredo.alter_source('ops', enabled => true);
CALL laredo.wait_for_catchup('ops', '60s');
SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'ops_slot';
SELECT (SELECT md5(string_agg(t::text, '|' ORDER BY id)) FROM public.op_a t)
     = (SELECT md5(string_agg(t::text, '|' ORDER BY id)) FROM ops.op_a t) AS op_a_equal;
SELECT pipeline_id, state, baseline_rows FROM laredo.pipelines ORDER BY 1;
-- counters survive in the catalog (written with the data at most once a second)
DO $$
BEGIN
	FOR i IN 1..400 LOOP
		EXIT WHEN (SELECT inserts >= 1 FROM laredo.pipelines WHERE pipeline_id = 'op_a');
		PERFORM pg_sleep(0.05);
	END LOOP;
END $$;
SELECT inserts >= 1 AS counted, transactions >= 1 AS transactions, bytes > 0 AS bytes
FROM laredo.pipelines WHERE pipeline_id = 'op_a';

-- refusals
SELECT laredo.pause_pipeline('nosuch');
SELECT laredo.resume_pipeline('nosuch');
SELECT laredo.resync_pipeline('nosuch');
SELECT * FROM laredo.source('nosuch');
CREATE ROLE laredo_ops_user LOGIN;
SET ROLE laredo_ops_user;
SELECT laredo.reset_source('ops');
SELECT laredo.pause_pipeline('op_a');
SELECT laredo.resync_pipeline('op_a');
SELECT source_id, coalesce(connection, 'hidden') AS connection, publish FROM laredo.source('ops');
RESET ROLE;
DROP ROLE laredo_ops_user;
-- health() reports a source in ERROR and a pipeline in ERROR
ALTER TABLE ops.op_a ADD CONSTRAINT no_x CHECK (v <> 'x');
INSERT INTO public.op_a VALUES (103, 'x');
SELECT public.wait_state('ops', 'ERROR');
SELECT source_id, pipeline_id, problem, detail FROM laredo.health();
ALTER TABLE ops.op_a DROP CONSTRAINT no_x;
SELECT laredo.resume_pipeline('op_a');      -- retries the source
CALL laredo.wait_for_catchup('ops', '60s');
SELECT * FROM laredo.health();
SELECT v FROM ops.op_a WHERE id = 103;
SELECT laredo.drop_source('ops');

-- an unreachable source: drop_source refuses and changes nothing; with force
-- it drops everything here and warns with the command to run on the source
SELECT laredo.create_source('far', connection => 'host=127.0.0.1 port=1 dbname=x user=postgres',
                            slot_name => 'far_slot', enabled => false);
SELECT laredo.drop_source('far');
SELECT count(*) FROM laredo.sources WHERE source_id = 'far';
SELECT laredo.drop_source('far', force => true);
SELECT count(*) FROM laredo.sources WHERE source_id = 'far';
