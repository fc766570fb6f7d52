-- bad_input: every SQL function of laredo called with bad input (NULLs, empty
-- strings, over-long identifiers, quoted and mixed-case names, quotes and
-- semicolons, unknown ids, wrong types, values out of range).  Each case runs
-- in its own subtransaction; the table shows its SQLSTATE and message, and
-- whether anything in laredo's catalog, this database's relations,
-- publications or replication slots changed (it must not).  No case may be
-- accepted, raise an internal error (XX) or lose its hint.
\set SHOW_CONTEXT never
CREATE TABLE public.bi_t (id int PRIMARY KEY, v text);
CREATE TABLE public.bi_t2 (id int PRIMARY KEY, v text);
CREATE TABLE public.bi_victim (id int);
CREATE TABLE public.bi_wrong_shape (x text);
CREATE VIEW public.bi_view AS SELECT 1 AS id;
CREATE FUNCTION public.bi_fn(op text, old jsonb, new jsonb, meta jsonb) RETURNS void LANGUAGE sql AS '';
CREATE FUNCTION public.bi_wrong_sig(x int) RETURNS void LANGUAGE sql AS '';
BEGIN;
SELECT laredo.create_source('bi', connection => '', slot_name => 'bi_slot', enabled => false);
SELECT laredo.add_table('bi', 'public.bi_t');
SELECT laredo.create_pipeline('bi_p', 'bi', 'public.bi_t', target => 'public.bi_t_copy');
COMMIT;
CREATE TABLE public.bi_cases (n serial PRIMARY KEY, category text NOT NULL, call text NOT NULL);
INSERT INTO public.bi_cases (category, call) VALUES
('NULL', 'SELECT laredo.create_source(NULL)'),
('NULL', 'SELECT laredo.create_source(''bi_n'', connection => NULL)'),
('NULL', 'SELECT laredo.create_source(''bi_n'', slot_mode => NULL)'),
('NULL', 'SELECT laredo.create_source(''bi_n'', create_publication => NULL)'),
('NULL', 'SELECT laredo.create_source(''bi_n'', publish => NULL)'),
('NULL', 'SELECT laredo.create_source(''bi_n'', reconnect_max_attempts => NULL)'),
('NULL', 'SELECT laredo.create_source(''bi_n'', failover => NULL)'),
('NULL', 'SELECT laredo.create_source(''bi_n'', on_slot_lost => NULL)'),
('NULL', 'SELECT laredo.create_source(''bi_n'', reconnect_initial_backoff => NULL)'),
('NULL', 'SELECT laredo.create_source(''bi_n'', reconnect_max_backoff => NULL)'),
('NULL', 'SELECT laredo.create_source(''bi_n'', reconnect_backoff_multiplier => NULL)'),
('NULL', 'SELECT laredo.create_source(''bi_n'', enabled => NULL)'),
('NULL', 'SELECT laredo.alter_source(NULL)'),
('NULL', 'SELECT laredo.drop_source(NULL)'),
('NULL', 'SELECT laredo.drop_source(''bi'', drop_slot => NULL)'),
('NULL', 'SELECT laredo.drop_source(''bi'', force => NULL)'),
('NULL', 'SELECT laredo.reset_source(NULL)'),
('NULL', 'SELECT laredo.reset_source(''bi'', drop_publication => NULL)'),
('NULL', 'SELECT laredo.add_table(NULL, ''public.bi_t2'')'),
('NULL', 'SELECT laredo.add_table(''bi'', NULL)'),
('NULL', 'SELECT laredo.remove_table(NULL, ''public.bi_t'')'),
('NULL', 'SELECT laredo.remove_table(''bi'', NULL)'),
('NULL', 'SELECT laredo.create_pipeline(NULL, ''bi'', ''public.bi_t'')'),
('NULL', 'SELECT laredo.create_pipeline(''bi_p2'', NULL, ''public.bi_t'')'),
('NULL', 'SELECT laredo.create_pipeline(''bi_p2'', ''bi'', NULL)'),
('NULL', 'SELECT laredo.create_pipeline(''bi_p2'', ''bi'', ''public.bi_t'', target_kind => NULL)'),
('NULL', 'SELECT laredo.create_pipeline(''bi_p2'', ''bi'', ''public.bi_t'', options => NULL)'),
('NULL', 'SELECT laredo.create_pipeline(''bi_p2'', ''bi'', ''public.bi_t'', options => ''null''::jsonb)'),
('NULL', 'SELECT laredo.drop_pipeline(NULL)'),
('NULL', 'SELECT laredo.pause_pipeline(NULL)'),
('NULL', 'SELECT laredo.resume_pipeline(NULL)'),
('NULL', 'SELECT laredo.resync_pipeline(NULL)'),
('NULL', 'SELECT laredo.source(NULL)'),
('NULL', 'SELECT laredo.health(NULL)'),
('NULL', 'SELECT laredo.health(max_retained_wal_bytes => NULL)'),
('NULL', 'CALL laredo.wait_for_catchup(NULL)'),
('NULL', 'CALL laredo.wait_for_catchup(''bi'', NULL)'),
('empty', 'SELECT laredo.create_source('''')'),
('empty', 'SELECT laredo.create_source(''bi_e'', slot_mode => '''')'),
('empty', 'SELECT laredo.create_source(''bi_e'', slot_name => '''')'),
('empty', 'SELECT laredo.create_source(''bi_e'', publication => '''')'),
('empty', 'SELECT laredo.create_source(''bi_e'', publish => '''')'),
('empty', 'SELECT laredo.create_source(''bi_e'', connection => '' '')'),
('empty', 'SELECT laredo.alter_source('''')'),
('empty', 'SELECT laredo.alter_source(''bi'', slot_mode => '''')'),
('empty', 'SELECT laredo.drop_source('''')'),
('empty', 'SELECT laredo.reset_source('''')'),
('empty', 'SELECT laredo.add_table(''bi'', '''')'),
('empty', 'SELECT laredo.add_table(''bi'', ''public.'')'),
('empty', 'SELECT laredo.add_table(''bi'', ''.bi_t'')'),
('empty', 'SELECT laredo.add_table(''bi'', ''public.bi_t2'', where_clause => '''')'),
('empty', 'SELECT laredo.add_table(''bi'', ''public.bi_t2'', columns => ''{}'')'),
('empty', 'SELECT laredo.add_table(''bi'', ''public.bi_t2'', columns => ''{""}'')'),
('empty', 'SELECT laredo.remove_table(''bi'', '''')'),
('empty', 'SELECT laredo.create_pipeline('''', ''bi'', ''public.bi_t'')'),
('empty', 'SELECT laredo.create_pipeline(''bi_p2'', '''', ''public.bi_t'')'),
('empty', 'SELECT laredo.create_pipeline(''bi_p2'', ''bi'', '''')'),
('empty', 'SELECT laredo.create_pipeline(''bi_p2'', ''bi'', ''public.bi_t'', target => '''')'),
('empty', 'SELECT laredo.create_pipeline(''bi_p2'', ''bi'', ''public.bi_t'', target_kind => '''')'),
('empty', 'SELECT laredo.create_pipeline(''bi_p2'', ''bi'', ''public.bi_t'', options => ''{"where": ""}'')'),
('empty', 'SELECT laredo.drop_pipeline('''')'),
('empty', 'SELECT laredo.pause_pipeline('''')'),
('empty', 'SELECT laredo.resume_pipeline('''')'),
('empty', 'SELECT laredo.resync_pipeline('''')'),
('empty', 'SELECT laredo.source('''')'),
('empty', 'CALL laredo.wait_for_catchup('''')'),
('over-long', 'SELECT laredo.create_source(''sssssssssssssssssssssssssssssssssssssssss'')'),
('over-long', 'SELECT laredo.create_source(''bi_l'', slot_name => ''xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'')'),
('over-long', 'SELECT laredo.create_source(''bi_l'', publication => ''xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'')'),
('over-long', 'SELECT laredo.create_source(''bi_l'', connection => ''host=hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh.invalid port=1000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000'')'),
('over-long', 'SELECT laredo.add_table(''bi'', ''public.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'')'),
('over-long', 'SELECT laredo.add_table(''bi'', ''xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.bi_t'')'),
('over-long', 'SELECT laredo.add_table(''bi'', ''public.bi_t2'', columns => ''{xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx}'')'),
('over-long', 'SELECT laredo.add_table(''bi'', ''public.bi_t2'', where_clause => repeat(''i'', 70) || '' > 0'')'),
('over-long', 'SELECT laredo.create_pipeline(''ppppppppppppppppppppppppppppppppppppppppp'', ''bi'', ''public.bi_t'')'),
('over-long', 'SELECT laredo.create_pipeline(''bi_p2'', ''bi'', ''public.bi_t'', target => ''public.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'')'),
('over-long', 'SELECT laredo.drop_pipeline(''ppppppppppppppppppppppppppppppppppppppppp'')'),
('over-long', 'SELECT laredo.source(''ssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssss'')'),
('quoted/mixed-case', 'SELECT laredo.create_source(''BI_upper'')'),
('quoted/mixed-case', 'SELECT laredo.create_source(''"bi_q"'')'),
('quoted/mixed-case', 'SELECT laredo.create_source(''bi q'')'),
('quoted/mixed-case', 'SELECT laredo.create_source(''1bi'')'),
('quoted/mixed-case', 'SELECT laredo.create_source(''bi-dash'')'),
('quoted/mixed-case', 'SELECT laredo.create_source(E''bi\nnewline'')'),
('quoted/mixed-case', 'SELECT laredo.create_source(''bï'')'),
('quoted/mixed-case', 'SELECT laredo.alter_source(''BI'')'),
('quoted/mixed-case', 'SELECT laredo.add_table(''bi'', ''Public.Bi_T'')'),
('quoted/mixed-case', 'SELECT laredo.add_table(''bi'', ''public."BI_T"'')'),
('quoted/mixed-case', 'SELECT laredo.add_table(''bi'', ''"public.bi_t"'')'),
('quoted/mixed-case', 'SELECT laredo.add_table(''bi'', ''a.b.c'')'),
('quoted/mixed-case', 'SELECT laredo.add_table(''bi'', ''public."unterminated'')'),
('quoted/mixed-case', 'SELECT laredo.create_pipeline(''bi_p2'', ''bi'', ''public.bi_t'', target => ''Nosuchschema."T"'')'),
('quoted/mixed-case', 'SELECT laredo.create_pipeline(''bi_p2'', ''bi'', ''public.bi_t'', target_kind => ''TABLE'')'),
('quoted/mixed-case', 'SELECT laredo.create_source(''bi_m'', slot_mode => ''Stateful'')'),
('quoted/mixed-case', 'SELECT laredo.create_pipeline(''BI_P'', ''bi'', ''public.bi_t'')'),
('quotes/semicolons', 'SELECT laredo.create_source(''x''''; DROP TABLE public.bi_victim; --'')'),
('quotes/semicolons', 'SELECT laredo.create_source(''bi_i'', connection => ''dbname=x''''; DROP TABLE public.bi_victim; --'')'),
('quotes/semicolons', 'SELECT laredo.create_source(''bi_i'', slot_name => ''x''''; DROP TABLE public.bi_victim; --'')'),
('quotes/semicolons', 'SELECT laredo.create_source(''bi_i'', publish => ''insertx''''; DROP TABLE public.bi_victim; --'')'),
('quotes/semicolons', 'SELECT laredo.alter_source(''bi'', connection => ''x''''; DROP TABLE public.bi_victim; --'')'),
('quotes/semicolons', 'SELECT laredo.add_table(''bi'', ''public.x''''; DROP TABLE public.bi_victim; --'')'),
('quotes/semicolons', 'SELECT laredo.add_table(''bi'', ''public.bi_t2'', where_clause => ''truex''''; DROP TABLE public.bi_victim; --'')'),
('quotes/semicolons', 'SELECT laredo.add_table(''bi'', ''public.bi_t2'', columns => ARRAY[''x''''; DROP TABLE public.bi_victim; --'']::name[])'),
('quotes/semicolons', 'SELECT laredo.remove_table(''bi'', ''x''''; DROP TABLE public.bi_victim; --'')'),
('quotes/semicolons', 'SELECT laredo.create_pipeline(''x''''; DROP TABLE public.bi_victim; --'', ''bi'', ''public.bi_t'')'),
('quotes/semicolons', 'SELECT laredo.create_pipeline(''bi_p2'', ''bi'', ''public.bi_t'', target => ''public.x''''; DROP TABLE public.bi_victim; --'')'),
('quotes/semicolons', 'SELECT laredo.create_pipeline(''bi_p2'', ''bi'', ''public.bi_t'', options => jsonb_build_object(''where'', ''truex''''; DROP TABLE public.bi_victim; --''))'),
('quotes/semicolons', 'SELECT laredo.create_pipeline(''bi_p2'', ''bi'', ''public.bi_t'', target_kind => ''function'', target => ''public.x''''; DROP TABLE public.bi_victim; --'')'),
('quotes/semicolons', 'SELECT laredo.drop_pipeline(''x''''; DROP TABLE public.bi_victim; --'')'),
('quotes/semicolons', 'SELECT laredo.source(''x''''; DROP TABLE public.bi_victim; --'')'),
('quotes/semicolons', 'CALL laredo.wait_for_catchup(''x''''; DROP TABLE public.bi_victim; --'')'),
('quotes/semicolons', 'SELECT laredo.create_source(''x"; DROP TABLE public.bi_victim; --'')'),
('quotes/semicolons', 'SELECT laredo.create_source(''bi_i'', connection => ''dbname=x"; DROP TABLE public.bi_victim; --'')'),
('quotes/semicolons', 'SELECT laredo.create_source(''bi_i'', slot_name => ''x"; DROP TABLE public.bi_victim; --'')'),
('quotes/semicolons', 'SELECT laredo.create_source(''bi_i'', publish => ''insertx"; DROP TABLE public.bi_victim; --'')'),
('quotes/semicolons', 'SELECT laredo.alter_source(''bi'', connection => ''x"; DROP TABLE public.bi_victim; --'')'),
('quotes/semicolons', 'SELECT laredo.add_table(''bi'', ''public.x"; DROP TABLE public.bi_victim; --'')'),
('quotes/semicolons', 'SELECT laredo.add_table(''bi'', ''public.bi_t2'', where_clause => ''truex"; DROP TABLE public.bi_victim; --'')'),
('quotes/semicolons', 'SELECT laredo.add_table(''bi'', ''public.bi_t2'', columns => ARRAY[''x"; DROP TABLE public.bi_victim; --'']::name[])'),
('quotes/semicolons', 'SELECT laredo.remove_table(''bi'', ''x"; DROP TABLE public.bi_victim; --'')'),
('quotes/semicolons', 'SELECT laredo.create_pipeline(''x"; DROP TABLE public.bi_victim; --'', ''bi'', ''public.bi_t'')'),
('quotes/semicolons', 'SELECT laredo.create_pipeline(''bi_p2'', ''bi'', ''public.bi_t'', target => ''public.x"; DROP TABLE public.bi_victim; --'')'),
('quotes/semicolons', 'SELECT laredo.create_pipeline(''bi_p2'', ''bi'', ''public.bi_t'', options => jsonb_build_object(''where'', ''truex"; DROP TABLE public.bi_victim; --''))'),
('quotes/semicolons', 'SELECT laredo.create_pipeline(''bi_p2'', ''bi'', ''public.bi_t'', target_kind => ''function'', target => ''public.x"; DROP TABLE public.bi_victim; --'')'),
('quotes/semicolons', 'SELECT laredo.drop_pipeline(''x"; DROP TABLE public.bi_victim; --'')'),
('quotes/semicolons', 'SELECT laredo.source(''x"; DROP TABLE public.bi_victim; --'')'),
('quotes/semicolons', 'CALL laredo.wait_for_catchup(''x"; DROP TABLE public.bi_victim; --'')'),
('quotes/semicolons', 'SELECT laredo.create_source(''x); DROP TABLE public.bi_victim; --'')'),
('quotes/semicolons', 'SELECT laredo.create_source(''bi_i'', connection => ''dbname=x); DROP TABLE public.bi_victim; --'')'),
('quotes/semicolons', 'SELECT laredo.create_source(''bi_i'', slot_name => ''x); DROP TABLE public.bi_victim; --'')'),
('quotes/semicolons', 'SELECT laredo.create_source(''bi_i'', publish => ''insertx); DROP TABLE public.bi_victim; --'')'),
('quotes/semicolons', 'SELECT laredo.alter_source(''bi'', connection => ''x); DROP TABLE public.bi_victim; --'')'),
('quotes/semicolons', 'SELECT laredo.add_table(''bi'', ''public.x); DROP TABLE public.bi_victim; --'')'),
('quotes/semicolons', 'SELECT laredo.add_table(''bi'', ''public.bi_t2'', where_clause => ''truex); DROP TABLE public.bi_victim; --'')'),
('quotes/semicolons', 'SELECT laredo.add_table(''bi'', ''public.bi_t2'', columns => ARRAY[''x); DROP TABLE public.bi_victim; --'']::name[])'),
('quotes/semicolons', 'SELECT laredo.remove_table(''bi'', ''x); DROP TABLE public.bi_victim; --'')'),
('quotes/semicolons', 'SELECT laredo.create_pipeline(''x); DROP TABLE public.bi_victim; --'', ''bi'', ''public.bi_t'')'),
('quotes/semicolons', 'SELECT laredo.create_pipeline(''bi_p2'', ''bi'', ''public.bi_t'', target => ''public.x); DROP TABLE public.bi_victim; --'')'),
('quotes/semicolons', 'SELECT laredo.create_pipeline(''bi_p2'', ''bi'', ''public.bi_t'', options => jsonb_build_object(''where'', ''truex); DROP TABLE public.bi_victim; --''))'),
('quotes/semicolons', 'SELECT laredo.create_pipeline(''bi_p2'', ''bi'', ''public.bi_t'', target_kind => ''function'', target => ''public.x); DROP TABLE public.bi_victim; --'')'),
('quotes/semicolons', 'SELECT laredo.drop_pipeline(''x); DROP TABLE public.bi_victim; --'')'),
('quotes/semicolons', 'SELECT laredo.source(''x); DROP TABLE public.bi_victim; --'')'),
('quotes/semicolons', 'CALL laredo.wait_for_catchup(''x); DROP TABLE public.bi_victim; --'')'),
('quotes/semicolons', 'SELECT laredo.add_table(''bi'', ''public.bi_t2'', where_clause => ''true) OR (SELECT true FROM public.bi_victim LIMIT 1'')'),
('quotes/semicolons', 'SELECT laredo.add_table(''bi'', ''public.bi_t2'', where_clause => ''id > 0 -- comment'')'),
('quotes/semicolons', 'SELECT laredo.add_table(''bi'', ''public.bi_t2'', where_clause => ''id > 0 /* comment */'')'),
('quotes/semicolons', 'SELECT laredo.add_table(''bi'', ''public.bi_t2'', where_clause => ''pg_catalog.pg_sleep(0) IS NULL'')'),
('quotes/semicolons', 'SELECT laredo.create_pipeline(''bi_p2'', ''bi'', ''public.bi_t'', options => ''{"where": "id > (SELECT count(*) FROM public.bi_victim)"}'')'),
('unknown/duplicate', 'SELECT laredo.alter_source(''nosuch'', enabled => true)'),
('unknown/duplicate', 'SELECT laredo.drop_source(''nosuch'')'),
('unknown/duplicate', 'SELECT laredo.reset_source(''nosuch'')'),
('unknown/duplicate', 'SELECT laredo.accept_source_server(''nosuch'')'),
('unknown/duplicate', 'SELECT laredo.add_table(''nosuch'', ''public.bi_t'')'),
('unknown/duplicate', 'SELECT laredo.add_table(''bi'', ''public.nosuch'')'),
('unknown/duplicate', 'SELECT laredo.add_table(''bi'', ''nosuch.bi_t'')'),
('unknown/duplicate', 'SELECT laredo.add_table(''bi'', ''public.bi_t2'', columns => ''{nosuch}'')'),
('unknown/duplicate', 'SELECT laredo.add_table(''bi'', ''public.bi_t2'', where_clause => ''nosuch > 0'')'),
('unknown/duplicate', 'SELECT laredo.remove_table(''nosuch'', ''public.bi_t'')'),
('unknown/duplicate', 'SELECT laredo.remove_table(''bi'', ''public.nosuch'')'),
('unknown/duplicate', 'SELECT laredo.create_pipeline(''bi_p2'', ''nosuch'', ''public.bi_t'')'),
('unknown/duplicate', 'SELECT laredo.create_pipeline(''bi_p2'', ''bi'', ''public.bi_t2'')'),
('unknown/duplicate', 'SELECT laredo.create_pipeline(''bi_p2'', ''bi'', ''public.bi_t'', target => ''nosuch.t'')'),
('unknown/duplicate', 'SELECT laredo.create_pipeline(''bi_p2'', ''bi'', ''public.bi_t'', target_kind => ''function'', target => ''public.nosuch'')'),
('unknown/duplicate', 'SELECT laredo.drop_pipeline(''nosuch'')'),
('unknown/duplicate', 'SELECT laredo.pause_pipeline(''nosuch'')'),
('unknown/duplicate', 'SELECT laredo.resume_pipeline(''nosuch'')'),
('unknown/duplicate', 'SELECT laredo.resync_pipeline(''nosuch'')'),
('unknown/duplicate', 'SELECT laredo.source(''nosuch'')'),
('unknown/duplicate', 'SELECT laredo.create_source(''bi'')'),
('unknown/duplicate', 'SELECT laredo.create_pipeline(''bi_p'', ''bi'', ''public.bi_t'')'),
('unknown/duplicate', 'SELECT laredo.add_table(''bi'', ''public.bi_t'')'),
('unknown/duplicate', 'CALL laredo.wait_for_catchup(''nosuch'')'),
('wrong type', 'SELECT laredo.create_source(''bi_w'', connection => 42)'),
('wrong type', 'SELECT laredo.create_source(''bi_w'', enabled => ''maybe'')'),
('wrong type', 'SELECT laredo.create_source(''bi_w'', reconnect_max_attempts => ''ten'')'),
('wrong type', 'SELECT laredo.create_source(''bi_w'', reconnect_initial_backoff => ''soon'')'),
('wrong type', 'SELECT laredo.create_source(''bi_w'', reconnect_backoff_multiplier => ''NaN'')'),
('wrong type', 'SELECT laredo.create_source(''bi_w'', reconnect_backoff_multiplier => ''Infinity'')'),
('wrong type', 'SELECT laredo.create_source(''bi_w'', slot_mode => ''temporary'')'),
('wrong type', 'SELECT laredo.create_source(''bi_w'', on_slot_lost => ''retry'')'),
('wrong type', 'SELECT laredo.alter_source(''bi'', on_slot_lost => ''retry'')'),
('wrong type', 'SELECT laredo.create_source(''bi_w'', publish => ''insert, upsert'')'),
('wrong type', 'SELECT laredo.create_source(''bi_w'', publish => ''insert,,delete'')'),
('wrong type', 'SELECT laredo.create_source(''bi_w'', connection => ''nosuchoption=1'')'),
('wrong type', 'SELECT laredo.create_source(''bi_w'', connection => ''port=notaport'')'),
('wrong type', 'SELECT laredo.create_source(''bi_w'', connection => ''postgresql://[::1'')'),
('wrong type', 'SELECT laredo.create_source(''bi_w'', connection => ''replication=true'')'),
('wrong type', 'SELECT laredo.create_source(''bi_w'', connection => ''application_name=other'')'),
('wrong type', 'SELECT laredo.create_source(''bi_w'', connection => ''port=5432,x'')'),
('wrong type', 'SELECT laredo.create_pipeline(''bi_p2'', ''bi'', ''public.bi_t'', target_kind => ''queue'')'),
('wrong type', 'SELECT laredo.create_pipeline(''bi_p2'', ''bi'', ''public.bi_t'', options => ''[]'')'),
('wrong type', 'SELECT laredo.create_pipeline(''bi_p2'', ''bi'', ''public.bi_t'', options => ''"where"'')'),
('wrong type', 'SELECT laredo.create_pipeline(''bi_p2'', ''bi'', ''public.bi_t'', options => ''{"where": 1}'')'),
('wrong type', 'SELECT laredo.create_pipeline(''bi_p2'', ''bi'', ''public.bi_t'', options => ''{"nosuch": 1}'')'),
('wrong type', 'SELECT laredo.create_pipeline(''bi_p2'', ''bi'', ''public.bi_t'', options => ''{"columns": "id"}'')'),
('wrong type', 'SELECT laredo.create_pipeline(''bi_p2'', ''bi'', ''public.bi_t'', options => ''{"soft_delete": "yes"}'')'),
('wrong type', 'SELECT laredo.create_pipeline(''bi_p2'', ''bi'', ''public.bi_t'', options => ''{"where": "id"}'')'),
('wrong type', 'SELECT laredo.create_pipeline(''bi_p2'', ''bi'', ''public.bi_t'', target_kind => ''changelog'', options => ''{"retain": "forever"}'')'),
('wrong type', 'SELECT laredo.create_pipeline(''bi_p2'', ''bi'', ''public.bi_t'', target_kind => ''changelog'', options => ''{"retain": 5}'')'),
('wrong type', 'SELECT laredo.create_pipeline(''bi_p2'', ''bi'', ''public.bi_t'', target_kind => ''function'', target => ''public.bi_wrong_sig'')'),
('wrong type', 'SELECT laredo.create_pipeline(''bi_p2'', ''bi'', ''public.bi_t'', target_kind => ''function'', target => ''public.bi_t'')'),
('wrong type', 'SELECT laredo.create_pipeline(''bi_p2'', ''bi'', ''public.bi_t'', target_kind => ''function'', options => ''{"on_error": "retry"}'', target => ''public.bi_fn'')'),
('wrong type', 'SELECT laredo.create_pipeline(''bi_p2'', ''bi'', ''public.bi_t'', target => ''public.bi_wrong_shape'')'),
('wrong type', 'SELECT laredo.create_pipeline(''bi_p2'', ''bi'', ''public.bi_t'', target => ''public.bi_view'')'),
('wrong type', 'SELECT laredo.create_pipeline(''bi_p2'', ''bi'', ''public.bi_t'', target => ''pg_catalog.pg_class'')'),
('wrong type', 'SELECT laredo.create_pipeline(''bi_p2'', ''bi'', ''public.bi_t'', target => ''laredo.source_config'')'),
('wrong type', 'SELECT laredo.add_table(''bi'', ''public.bi_view'')'),
('wrong type', 'SELECT laredo.add_table(''bi'', ''pg_catalog.pg_class'')'),
('wrong type', 'SELECT laredo.add_table(''bi'', ''public.bi_t2'', where_clause => ''id'')'),
('wrong type', 'SELECT laredo.add_table(''bi'', ''public.bi_t2'', where_clause => ''random() > 0.5'')'),
('out of range', 'SELECT laredo.create_source(''bi_r'', reconnect_max_attempts => -2)'),
('out of range', 'SELECT laredo.create_source(''bi_r'', reconnect_initial_backoff => ''0s'')'),
('out of range', 'SELECT laredo.create_source(''bi_r'', reconnect_initial_backoff => ''-1s'')'),
('out of range', 'SELECT laredo.create_source(''bi_r'', reconnect_max_backoff => ''-1 day'')'),
('out of range', 'SELECT laredo.create_source(''bi_r'', reconnect_initial_backoff => ''10s'', reconnect_max_backoff => ''1s'')'),
('out of range', 'SELECT laredo.create_source(''bi_r'', reconnect_max_backoff => ''1000 years'')'),
('out of range', 'SELECT laredo.create_source(''bi_r'', reconnect_backoff_multiplier => 0)'),
('out of range', 'SELECT laredo.create_source(''bi_r'', reconnect_backoff_multiplier => 0.5)'),
('out of range', 'SELECT laredo.create_source(''bi_r'', reconnect_backoff_multiplier => -1)'),
('out of range', 'SELECT laredo.create_source(''bi_r'', reconnect_backoff_multiplier => 1e308)'),
('out of range', 'SELECT laredo.create_source(''bi_r'', reconnect_max_attempts => 3000000000)'),
('out of range', 'SELECT laredo.alter_source(''bi'', reconnect_max_attempts => -5)'),
('out of range', 'SELECT laredo.alter_source(''bi'', reconnect_initial_backoff => ''0s'')'),
('out of range', 'SELECT laredo.alter_source(''bi'', reconnect_backoff_multiplier => 0)'),
('out of range', 'SELECT laredo.create_pipeline(''bi_p2'', ''bi'', ''public.bi_t'', target_kind => ''changelog'', options => ''{"retain": "-1 day"}'')'),
('out of range', 'SELECT laredo.health(max_lag_bytes => -1)'),
('out of range', 'SELECT laredo.health(max_retained_wal_bytes => -1)'),
('out of range', 'CALL laredo.wait_for_catchup(''bi'', ''-1s'')'),
('out of range', 'CALL laredo.wait_for_catchup(''bi'', ''1000000 years'')'),
-- 0.5.0: pipelines that follow schema changes, whole schemas, sequences
('NULL', 'SELECT laredo.alter_pipeline(NULL, ''{}'')'),
('NULL', 'SELECT laredo.alter_pipeline(''bi_p'', NULL)'),
('NULL', 'SELECT laredo.add_schema(NULL, ''public'')'),
('NULL', 'SELECT laredo.add_schema(''bi'', NULL)'),
('NULL', 'SELECT laredo.add_schema(''bi'', ''public'', check_interval => NULL)'),
('NULL', 'SELECT laredo.remove_schema(''bi'', NULL)'),
('NULL', 'SELECT laredo.sync_sequences(NULL)'),
('empty', 'SELECT laredo.add_schema(''bi'', '''')'),
('unknown/duplicate', 'SELECT laredo.alter_pipeline(''nope'', ''{}'')'),
('unknown/duplicate', 'SELECT laredo.add_schema(''nope'', ''public'')'),
('unknown/duplicate', 'SELECT laredo.add_schema(''bi'', ''no_such_schema'')'),
('unknown/duplicate', 'SELECT laredo.add_schema(''bi'', ''public'', target_schema => ''no_such_schema'')'),
('unknown/duplicate', 'SELECT laredo.remove_schema(''bi'', ''public'')'),
('unknown/duplicate', 'SELECT laredo.sync_sequences(''nope'')'),
('wrong type', 'SELECT laredo.alter_pipeline(''bi_p'', ''[1]'')'),
('wrong type', 'SELECT laredo.alter_pipeline(''bi_p'', ''{"dropped_columns": true}'')'),
('wrong type', 'SELECT laredo.add_schema(''bi'', ''public'', options => ''"x"'')'),
('out of range', 'SELECT laredo.alter_pipeline(''bi_p'', ''{"schema_changes": "maybe"}'')'),
('wrong type', 'SELECT laredo.alter_pipeline(''bi_p'', ''{"copy": true}'')'),
('wrong type', 'SELECT laredo.alter_pipeline(''bi_p'', ''{"chunk_rows": "many"}'')'),
('wrong type', 'SELECT laredo.alter_pipeline(''bi_p'', ''{"copy_rate": 1.5}'')'),
('out of range', 'SELECT laredo.alter_pipeline(''bi_p'', ''{"copy": "fast"}'')'),
('out of range', 'SELECT laredo.alter_pipeline(''bi_p'', ''{"chunk_rows": 0}'')'),
('out of range', 'SELECT laredo.alter_pipeline(''bi_p'', ''{"copy_rate": -1}'')'),
('wrong type', 'SELECT laredo.alter_pipeline(''bi_p'', ''{"copy_statement_timeout": true}'')'),
('wrong type', 'SELECT laredo.alter_pipeline(''bi_p'', ''{"copy_statement_timeout": "soon"}'')'),
('wrong type', 'SELECT laredo.alter_pipeline(''bi_p'', ''{"copy_max_lag": "big"}'')'),
('out of range', 'SELECT laredo.alter_pipeline(''bi_p'', ''{"copy_statement_timeout": -5}'')'),
('out of range', 'SELECT laredo.alter_pipeline(''bi_p'', ''{"copy_statement_timeout": "30 days"}'')'),
('out of range', 'SELECT laredo.alter_pipeline(''bi_p'', ''{"copy_max_lag": "-1MB"}'')'),
('wrong type', 'SELECT laredo.alter_pipeline(''bi_p'', ''{"copy_rate_bytes": [1]}'')'),
('NULL', 'SELECT laredo.verify_pipeline(NULL)'),
('NULL', 'SELECT laredo.verify_pipeline(''bi_p'', chunk_rows => NULL)'),
('unknown/duplicate', 'SELECT laredo.verify_pipeline(''nope'')'),
('out of range', 'SELECT laredo.verify_pipeline(''bi_p'', max_reported => -1)'),
('quotes/semicolons', 'SELECT laredo.verify_pipeline(''bi_p''''; DROP TABLE public.bi_victim; --'')'),
('NULL', 'SELECT laredo.verify_pipeline(''bi_p'', repair => NULL)'),
('NULL', 'SELECT laredo.repair_pipeline(NULL)'),
('out of range', 'SELECT laredo.repair_pipeline(''bi_p'', chunk_rows => 0)'),
('unknown/duplicate', 'SELECT laredo.repair_pipeline(''nope'')'),
('NULL', 'SELECT laredo.verify_source(NULL)'),
('unknown/duplicate', 'SELECT laredo.verify_source(''nope'')'),
('out of range', 'SELECT laredo.verify_source(''bi'', chunk_rows => 0)'),
('quotes/semicolons', 'SELECT laredo.verify_source(''bi''''; DROP TABLE public.bi_victim; --'')'),
('NULL', 'SELECT laredo.wait_for_verification(NULL)'),
('unknown/duplicate', 'SELECT laredo.wait_for_verification(''bi_p'', ''1s'')'),
('out of range', 'SELECT laredo.wait_for_verification(''bi_p'', ''-1s'')'),
('out of range', 'SELECT laredo.alter_pipeline(''bi_p'', ''{"copy_rate_bytes": -1}'')'),
('wrong type', 'SELECT laredo.alter_pipeline(''bi_p'', ''{"copy_readers": "two"}'')'),
('wrong type', 'SELECT laredo.alter_pipeline(''bi_p'', ''{"copy_readers": 1.5}'')'),
('out of range', 'SELECT laredo.alter_pipeline(''bi_p'', ''{"copy_readers": 0}'')'),
('out of range', 'SELECT laredo.alter_pipeline(''bi_p'', ''{"copy_readers": 17}'')'),
('wrong type', 'SELECT laredo.alter_pipeline(''bi_p'', ''{"copy_chunks_from": "huge"}'')'),
('wrong type', 'SELECT laredo.alter_pipeline(''bi_p'', ''{"copy_chunks_from": true}'')'),
('out of range', 'SELECT laredo.alter_pipeline(''bi_p'', ''{"copy_chunks_from": "-1GB"}'')'),
('wrong type', 'SELECT laredo.alter_pipeline(''bi_p'', ''{"chunk_bytes": "huge"}'')'),
('wrong type', 'SELECT laredo.alter_pipeline(''bi_p'', ''{"chunk_bytes": true}'')'),
('out of range', 'SELECT laredo.alter_pipeline(''bi_p'', ''{"chunk_bytes": 0}'')'),
('out of range', 'SELECT laredo.alter_pipeline(''bi_p'', ''{"chunk_bytes": "2GB"}'')'),
('out of range', 'SELECT laredo.alter_pipeline(''bi_p'', ''{"columns": ["id"]}'')'),
('out of range', 'SELECT laredo.alter_source(''bi'', sequence_sync_interval => ''10ms'')'),
('out of range', 'SELECT laredo.create_source(''bi_n'', sequence_sync_interval => ''-1s'')'),
('out of range', 'SELECT laredo.add_schema(''bi'', ''public'', check_interval => ''0'')'),
('out of range', 'SELECT laredo.add_schema(''bi'', ''public'', target_kind => ''function'')'),
('out of range', 'SELECT laredo.add_schema(''bi'', ''public'', options => ''{"where": "id > 1"}'')'),
('out of range', 'SELECT laredo.add_schema(''bi'', ''public'', target_schema => ''laredo'')'),
('quotes/semicolons', 'SELECT laredo.add_schema(''bi'', ''public''''; DROP TABLE public.bi_victim; --'')'),
('quotes/semicolons', 'SELECT laredo.remove_schema(''bi'', ''public''''; DROP TABLE public.bi_victim; --'')'),
('quotes/semicolons', 'SELECT laredo.alter_pipeline(''bi_p''''; DROP TABLE public.bi_victim; --'', ''{}'')');
CREATE FUNCTION pg_temp.fingerprint() RETURNS text LANGUAGE sql AS $$
	SELECT md5(concat_ws('#',
		(SELECT string_agg(t::text, '|' ORDER BY t::text) FROM laredo.source_config t),
		(SELECT string_agg(t::text, '|' ORDER BY t::text) FROM laredo.source_tables t),
		(SELECT string_agg(t::text, '|' ORDER BY t::text) FROM laredo.pipeline_config t),
		(SELECT string_agg(t::text, '|' ORDER BY t::text) FROM laredo.dead_letters t),
		(SELECT string_agg(c.oid::regclass::text, ',' ORDER BY c.oid) FROM pg_class c
		 WHERE c.relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace, 'pg_toast'::regnamespace)
		   AND c.relpersistence <> 't'),
		(SELECT string_agg(pubname, ',' ORDER BY pubname) FROM pg_publication),
		(SELECT string_agg(slot_name, ',' ORDER BY slot_name) FROM pg_replication_slots),
		(SELECT string_agg(proname, ',' ORDER BY proname) FROM pg_proc WHERE pronamespace = 'public'::regnamespace)))
$$;
CREATE FUNCTION pg_temp.run_cases(OUT n int, OUT category text, OUT code text, OUT message text,
                                  OUT hint boolean, OUT changed boolean)
RETURNS SETOF record LANGUAGE plpgsql AS $$
DECLARE
	r record;
	before text;
	h text;
BEGIN
	FOR r IN SELECT * FROM public.bi_cases c ORDER BY c.n LOOP
		n := r.n;
		category := r.category;
		before := pg_temp.fingerprint();
		-- an accepted call is rolled back too, so that every case starts alike;
		-- what a rollback cannot undo (slots, publications made on the source
		-- through its own connection) shows in the fingerprint
		BEGIN
			EXECUTE r.call;
			RAISE EXCEPTION 'ACCEPTED' USING ERRCODE = 'LRACC';
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT, h = PG_EXCEPTION_HINT;
			IF code = 'LRACC' THEN
				code := NULL;
				h := NULL;
			END IF;
		END;
		message := left(message, 110);
		hint := coalesce(h, '') <> '';
		changed := before <> pg_temp.fingerprint();
		RETURN NEXT;
	END LOOP;
END
$$;
CREATE TABLE public.bi_results AS SELECT * FROM pg_temp.run_cases();
SELECT r.n, r.category, left(c.call, 100) AS call, r.code, r.message, r.hint, r.changed
FROM public.bi_results r JOIN public.bi_cases c USING (n) ORDER BY r.n;
-- the figures: every case refused, none internal, none changed anything
SELECT count(*) AS cases,
       count(*) FILTER (WHERE code IS NULL) AS accepted,
       count(*) FILTER (WHERE code LIKE 'XX%') AS internal_errors,
       count(*) FILTER (WHERE changed) AS changed_something,
       count(*) FILTER (WHERE NOT hint AND code NOT IN ('42883', '22P02', '22023', '22008', '22003', '42601', '22007')) AS without_hint
FROM public.bi_results;
SELECT category, count(*) FROM public.bi_results GROUP BY category ORDER BY min(n);
-- the injection target is intact, on this server and (the same server) the source
SELECT count(*) AS victim_exists FROM pg_class WHERE oid = 'public.bi_victim'::regclass;
-- Names that need quoting are no obstacle when they are real: a table with
-- a quote, a semicolon, a space and capitals in its names is replicated.
CREATE SCHEMA "Bi Schema";
CREATE SCHEMA "Bi Target";
CREATE TABLE "Bi Schema"."Mixed""Case;Tbl" ("Id" int PRIMARY KEY, "Va'l; DROP" text);
INSERT INTO "Bi Schema"."Mixed""Case;Tbl" SELECT g, 'v''' || g || ';' FROM generate_series(1, 20) g;
BEGIN;
SELECT laredo.create_source('bi_ok', connection => '', slot_name => 'bi_ok_slot', publication => 'bi Pub''s; --');
SELECT laredo.add_table('bi_ok', '"Bi Schema"."Mixed""Case;Tbl"', where_clause => '"Id" <> 13',
                        columns => ARRAY['Id', 'Va''l; DROP']::name[]);
SELECT laredo.create_pipeline('bi_ok', 'bi_ok', '"Bi Schema"."Mixed""Case;Tbl"',
                              target => '"Bi Target"."Out;put ""x"""');
COMMIT;
CALL laredo.wait_for_catchup('bi_ok', '60s');
UPDATE "Bi Schema"."Mixed""Case;Tbl" SET "Va'l; DROP" = 'changed''' WHERE "Id" <= 5;
DELETE FROM "Bi Schema"."Mixed""Case;Tbl" WHERE "Id" = 20;
CALL laredo.wait_for_catchup('bi_ok', '60s');
SELECT pipeline_id, source_table, target, state FROM laredo.pipelines WHERE pipeline_id = 'bi_ok';
SELECT pubname FROM pg_publication WHERE pubname LIKE 'bi%' ORDER BY 1;
SELECT (SELECT string_agg(t::text, ',' ORDER BY "Id") FROM "Bi Schema"."Mixed""Case;Tbl" t WHERE "Id" <> 13)
     = (SELECT string_agg(t::text, ',' ORDER BY "Id") FROM "Bi Target"."Out;put ""x""" t) AS same_rows,
       (SELECT count(*) FROM "Bi Target"."Out;put ""x""") AS target_rows;
-- a wait from inside a function is refused: it would hold a snapshot
CREATE FUNCTION pg_temp.wait_inside() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	CALL laredo.wait_for_catchup('bi_ok', '1s');
END
$$;
SELECT pg_temp.wait_inside();
SELECT laredo.drop_source('bi_ok');
SELECT laredo.drop_source('bi');
SELECT count(*) AS slots_left FROM pg_replication_slots WHERE slot_name LIKE 'bi%';
