-- pipelines: tables of a source, target creation and the checks that a target fits.
\set SHOW_CONTEXT never
CREATE SCHEMA mirror;
CREATE TABLE public.orders (id bigint PRIMARY KEY, customer text NOT NULL, total numeric(12,2),
                            placed timestamptz, tags text[], doc jsonb);
CREATE TABLE public.events (at timestamptz, what text);           -- no primary key
CREATE TABLE public."Mixed Case" ("Id" int PRIMARY KEY, "Value" text);
SELECT laredo.create_source('p', connection => '', slot_name => 'p_slot', enabled => false);
SELECT laredo.add_table('p', 'public.orders');
-- a table without replica identity is published for insert and truncate only
SELECT laredo.add_table('p', 'events');
SELECT laredo.add_table('p', 'public."Mixed Case"');
SELECT laredo.add_table('p', 'public.orders');
SELECT source_id, table_name, where_clause, columns, insert_only FROM laredo.source_table_list ORDER BY table_name;
-- a missing target is created with the source's columns, types and primary key
SELECT laredo.create_pipeline('orders', 'p', 'public.orders', target => 'mirror.orders');
SELECT attname, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute
WHERE attrelid = 'mirror.orders'::regclass AND attnum > 0 ORDER BY attnum;
SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'mirror.orders'::regclass AND contype <> 'n';
SELECT laredo.create_pipeline('mixed', 'p', 'public."Mixed Case"', target => 'mirror."Mixed Case"');
SELECT laredo.create_pipeline('events', 'p', 'public.events', target => 'mirror.events');
SELECT pipeline_id, source_id, source_table, target_kind, target, state FROM laredo.pipelines ORDER BY 1;
-- an existing target that fits is used as it is (extra nullable columns allowed)
CREATE TABLE mirror.orders2 (id bigint PRIMARY KEY, customer text, total numeric, placed timestamptz,
                             tags text[], doc jsonb, note text);
SELECT laredo.create_pipeline('orders2', 'p', 'public.orders', target => 'mirror.orders2');
-- targets that do not fit
CREATE TABLE mirror.bad1 (id bigint PRIMARY KEY, customer text);
SELECT laredo.create_pipeline('bad', 'p', 'public.orders', target => 'mirror.bad1');
-- other types are accepted, as the built-in subscriber accepts them: each
-- value is read with the target column's own input function
CREATE TABLE mirror.bad2 (id int PRIMARY KEY, customer text, total text, placed timestamptz, tags text[], doc jsonb);
SELECT laredo.create_pipeline('bad', 'p', 'public.orders', target => 'mirror.bad2');
SELECT laredo.drop_pipeline('bad');
CREATE TABLE mirror.bad3 (id bigint, customer text, total numeric, placed timestamptz, tags text[], doc jsonb);
SELECT laredo.create_pipeline('bad', 'p', 'public.orders', target => 'mirror.bad3');
CREATE TABLE mirror.bad4 (id bigint PRIMARY KEY, customer text, total numeric, placed timestamptz,
                          tags text[], doc jsonb, extra int NOT NULL);
SELECT laredo.create_pipeline('bad', 'p', 'public.orders', target => 'mirror.bad4');
SELECT laredo.create_pipeline('bad', 'p', 'public.orders', target => 'mirror.orders');
SELECT laredo.create_pipeline('bad', 'p', 'public.orders', target => 'nosuchschema.t');
SELECT laredo.create_pipeline('bad', 'p', 'public.orders', target => 'public.orders');
SELECT laredo.create_pipeline('bad', 'p', 'public.orders', target => 'laredo.x');
SELECT laredo.create_pipeline('bad', 'p', 'public.orders', target_kind => 'queue', target => 'mirror.q');
SELECT laredo.create_pipeline('bad', 'p', 'public.nosuch', target => 'mirror.q');
-- a table cannot leave a source while pipelines read it
SELECT laredo.remove_table('p', 'public.orders');
SELECT laredo.drop_pipeline('orders2');
SELECT laredo.drop_pipeline('orders2');
SELECT laredo.drop_pipeline('events');
SELECT laredo.remove_table('p', 'public.events');
SELECT laredo.remove_table('p', 'public.events');
-- row filters and column lists, checked against the replica identity
SELECT laredo.add_table('p', 'public.events', where_clause => $$what <> 'noise'$$);
SELECT laredo.remove_table('p', 'public.events');
CREATE TABLE public.filtered (id int PRIMARY KEY, status text, amount int);
SELECT laredo.add_table('p', 'public.filtered', where_clause => $$status = 'active'$$);
SELECT laredo.add_table('p', 'public.filtered', where_clause => $$id % 2 = 0$$);
SELECT where_clause FROM laredo.source_table_list WHERE table_name = 'public.filtered';
SELECT laredo.remove_table('p', 'public.filtered');
ALTER TABLE public.filtered REPLICA IDENTITY FULL;
SELECT laredo.add_table('p', 'public.filtered', where_clause => $$status = 'active' AND amount > 10$$);
SELECT laredo.remove_table('p', 'public.filtered');
CREATE TABLE public.wide (id int PRIMARY KEY, a text, b text);
SELECT laredo.add_table('p', 'public.wide', columns => '{a,b}');
SELECT laredo.add_table('p', 'public.wide', columns => '{id,a,nosuch}');
SELECT laredo.add_table('p', 'public.wide', columns => '{id,a}');
SELECT laredo.create_pipeline('wide', 'p', 'public.wide', target => 'mirror.wide');
SELECT attname FROM pg_attribute WHERE attrelid = 'mirror.wide'::regclass AND attnum > 0 ORDER BY attnum;
SELECT laredo.drop_pipeline('wide');
SELECT laredo.drop_pipeline('orders');
SELECT laredo.drop_pipeline('mixed');
SELECT laredo.drop_source('p', drop_slot => false);
SELECT count(*) FROM laredo.pipeline_config;
SELECT count(*) FROM laredo.source_tables;
