-- errors: every bad input gets a clear error and changes nothing.
\set SHOW_CONTEXT never
CREATE TABLE public.t1 (id int PRIMARY KEY, v text);
SELECT laredo.create_source('e1', connection => '', slot_name => 'e1_slot', enabled => false);
-- unknown source and pipeline
SELECT laredo.alter_source('nosuch', enabled => true);
SELECT laredo.drop_source('nosuch');
SELECT laredo.add_table('nosuch', 'public.t1');
SELECT laredo.remove_table('nosuch', 'public.t1');
SELECT laredo.create_pipeline('x', 'nosuch', 'public.t1');
SELECT laredo.drop_pipeline('nosuch');
CALL laredo.wait_for_catchup('nosuch', '1s');
-- duplicate ids
SELECT laredo.create_source('e1', connection => '');
SELECT laredo.create_source('e2', connection => '', slot_name => 'e1_slot');
-- bad slot_mode, bad identifiers
SELECT laredo.create_source('e2', slot_mode => 'sometimes');
SELECT laredo.create_source('e2', slot_mode => NULL);
SELECT laredo.create_source('Bad-Id');
SELECT laredo.create_source('');
SELECT laredo.create_source(NULL);
SELECT laredo.create_source(repeat('a', 41));
SELECT laredo.create_source('e2', slot_name => 'Bad Slot');
SELECT laredo.create_source('e2', publish => 'insert, upsert');
SELECT laredo.create_pipeline('bad id', 'e1', 'public.t1');
-- malformed connection strings (the password never shows in the message)
SELECT laredo.create_source('e2', connection => 'host=127.0.0.1 port');
SELECT laredo.create_source('e2', connection => 'host=127.0.0.1 password=hunter2 port');
SELECT laredo.create_source('e2', connection => 'nosuchkey=1');
SELECT laredo.create_source('e2', connection => NULL);
SELECT laredo.alter_source('e1', connection => 'host=127.0.0.1 dbname');
-- negative or zero backoff values
SELECT laredo.create_source('e2', reconnect_initial_backoff => '0s');
SELECT laredo.create_source('e2', reconnect_initial_backoff => '-1s');
SELECT laredo.create_source('e2', reconnect_max_backoff => '0s');
SELECT laredo.create_source('e2', reconnect_initial_backoff => '10s', reconnect_max_backoff => '5s');
SELECT laredo.create_source('e2', reconnect_backoff_multiplier => 0.5);
SELECT laredo.create_source('e2', reconnect_backoff_multiplier => 'NaN');
SELECT laredo.create_source('e2', reconnect_max_attempts => -1);
SELECT laredo.alter_source('e1', reconnect_initial_backoff => '0s');
SELECT laredo.alter_source('e1', reconnect_backoff_multiplier => 0);
SELECT laredo.alter_source('e1', slot_mode => 'sometimes');
SELECT laredo.reset_source('nosuch');
SELECT laredo.create_source('e3', connection => '', slot_name => 'e3_slot', publication => 'theirs',
                            create_publication => false, enabled => false);
SELECT laredo.reset_source('e3', drop_publication => true);
SELECT laredo.drop_source('e3');
-- tables that do not exist, bad names, bad filters
SELECT laredo.add_table('e1', 'public.nosuch');
SELECT laredo.add_table('e1', 'nosuchschema.t1');
SELECT laredo.add_table('e1', 'public."T1"');
SELECT laredo.add_table('e1', 'a.b.c');
SELECT laredo.add_table('e1', '');
SELECT laredo.add_table('e1', 'public.pg_class');
SELECT laredo.add_table('e1', 'laredo.source_config');
SELECT laredo.add_table('e1', 'public.t1', where_clause => 'id > 0); DROP TABLE t1; --');
SELECT laredo.add_table('e1', 'public.t1', where_clause => 'id > 0) UNION SELECT (1');
SELECT laredo.add_table('e1', 'public.t1', where_clause => 'id >');
SELECT laredo.add_table('e1', 'public.t1', columns => '{}');
SELECT laredo.remove_table('e1', 'public.t1');  -- not part of the source
CREATE VIEW public.v1 AS SELECT * FROM public.t1;
SELECT laredo.add_table('e1', 'public.v1');
-- wait_for_catchup refuses a transaction that has written
BEGIN;
INSERT INTO public.t1 VALUES (1, 'x');
CALL laredo.wait_for_catchup('e1', '1s');
ROLLBACK;
CALL laredo.wait_for_catchup('e1', NULL);
CALL laredo.wait_for_catchup('e1', '-1s');
-- nothing above changed anything
SELECT source_id, enabled, connection FROM laredo.sources ORDER BY 1;
SELECT count(*) FROM laredo.source_tables;
SELECT reconnect_initial_backoff, reconnect_backoff_multiplier, config_version FROM laredo.source_config;
SELECT laredo.drop_source('e1', drop_slot => false);
