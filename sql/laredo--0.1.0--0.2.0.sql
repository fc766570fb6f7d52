-- laredo 0.1.0 -> 0.2.0 (ALTER EXTENSION laredo UPDATE).
--
-- What 0.2.0 adds to the catalog: partitioned sources published as their root
-- (source option publish_via_partition_root), inheritance children added and
-- mirrored with their parent, the rows a target lacked (update_missing,
-- delete_missing), changes of published tables without a pipeline
-- (laredo.source_unmapped), replica identities that change on the source.
-- Columns are added at the end of their tables, where laredo--0.2.0.sql has
-- them too, so an updated catalog and a new one are the same (TAP 260 checks
-- it).  The sources' workers restart with the new catalog when this commits;
-- their positions are kept: nothing is copied again.

\echo Use "ALTER EXTENSION laredo UPDATE TO '0.2.0'" to load this file. \quit

ALTER TABLE laredo.source_config
	ADD COLUMN publish_via_partition_root boolean NOT NULL DEFAULT false;
ALTER TABLE laredo.source_tables
	ADD COLUMN parent_schema name,
	ADD COLUMN parent_table name;
ALTER TABLE laredo.pipeline_config
	ADD COLUMN parent_pipeline text,
	ADD COLUMN update_missing bigint NOT NULL DEFAULT 0,
	ADD COLUMN delete_missing bigint NOT NULL DEFAULT 0;

-- Tables whose changes a source's publication sends and no pipeline takes:
-- laredo never drops a change silently, health() reports them.  Written by
-- the source's worker; emptied when the source's configuration changes.
CREATE TABLE laredo.source_unmapped (
	source_id text NOT NULL REFERENCES laredo.source_config ON DELETE CASCADE,
	relation text NOT NULL,
	changes bigint NOT NULL DEFAULT 0,
	first_seen timestamptz NOT NULL DEFAULT now(),
	last_seen timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (source_id, relation)
);
REVOKE ALL ON laredo.source_unmapped FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON laredo.source_unmapped TO laredo_admin;

ALTER TABLE laredo.source_unmapped ENABLE ROW LEVEL SECURITY;
CREATE POLICY source_privileges ON laredo.source_unmapped
	USING (EXISTS (SELECT FROM laredo.source_config s WHERE s.source_id = source_unmapped.source_id));

-- Functions whose body changed, and new ones.
CREATE OR REPLACE FUNCTION laredo._source_changed(p_source_id text) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	UPDATE laredo.source_config c SET config_version = c.config_version + 1 WHERE c.source_id = p_source_id;
	-- the worker reports again what its new configuration leaves without a pipeline
	DELETE FROM laredo.source_unmapped u WHERE u.source_id = p_source_id;
	PERFORM laredo._notify_config_change();
END
$$;

CREATE OR REPLACE FUNCTION laredo._describe_source_table(connection text, schema_name name, table_name name,
	OUT attname name, OUT type_name text, OUT not_null boolean, OUT is_key boolean, OUT identity "char",
	OUT relkind "char")
RETURNS SETOF record
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	r json;
BEGIN
	FOR r IN SELECT * FROM laredo._source_query(connection, format($q$
		SELECT a.attname AS n, pg_catalog.format_type(a.atttypid, a.atttypmod) AS t, a.attnotnull AS nn,
		       (i.indkey IS NOT NULL AND a.attnum = ANY (i.indkey)) AS k,
		       c.relreplident::text AS ri, c.relkind::text AS rk
		FROM pg_catalog.pg_class c
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
		     AND a.attgenerated = ''
		LEFT JOIN pg_catalog.pg_index i ON i.indrelid = c.oid AND
		     ((c.relreplident = 'd' AND i.indisprimary) OR (c.relreplident = 'i' AND i.indisreplident))
		WHERE n.nspname = %L AND c.relname = %L
		ORDER BY a.attnum $q$, schema_name, table_name))
	LOOP
		attname := r->>'n'; type_name := r->>'t'; not_null := (r->>'nn')::boolean;
		is_key := coalesce((r->>'k')::boolean, false); identity := r->>'ri'; relkind := r->>'rk';
		RETURN NEXT;
	END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION laredo._split_name(qualified text, OUT schema_name name, OUT table_name name)
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	parts text[];
BEGIN
	BEGIN
		parts := parse_ident(qualified);
	EXCEPTION WHEN OTHERS THEN
		parts := NULL;
	END;
	IF parts IS NULL OR cardinality(parts) NOT IN (1, 2) OR qualified = '' THEN
		RAISE EXCEPTION 'invalid table name "%"', coalesce(qualified, 'NULL')
			USING ERRCODE = 'invalid_name',
			      HINT = 'Write schema.table, quoting names that need it: public."My Table".';
	END IF;
	IF cardinality(parts) = 1 THEN
		parts := ARRAY['public'] || parts;
	END IF;
	IF length(parts[1]) > 63 OR length(parts[2]) > 63 THEN
		RAISE EXCEPTION 'table name "%" is too long', qualified
			USING ERRCODE = 'name_too_long', HINT = 'Names have at most 63 bytes.';
	END IF;
	schema_name := parts[1];
	table_name := parts[2];
END
$$;

CREATE OR REPLACE FUNCTION laredo._changelog_prepare(schema_name name, table_name name, existing regclass)
RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	v_missing text;
BEGIN
	IF existing IS NULL THEN
		EXECUTE format('CREATE TABLE %I.%I (lsn pg_lsn NOT NULL, commit_time timestamptz, xid bigint, '
		               'seq bigint NOT NULL, op text NOT NULL CHECK (op IN (''I'', ''U'', ''D'', ''T'', ''B'')), '
		               'source_table text NOT NULL, key jsonb, old jsonb, new jsonb, PRIMARY KEY (lsn, seq))',
		               schema_name, table_name);
		EXECUTE format('CREATE INDEX ON %I.%I (commit_time)', schema_name, table_name);
		RETURN;
	END IF;
	SELECT string_agg(e.col || ' ' || e.typ, ', ' ORDER BY e.ord) INTO v_missing
	FROM (VALUES (1, 'lsn', 'pg_lsn'), (2, 'commit_time', 'timestamp with time zone'), (3, 'xid', 'bigint'),
	             (4, 'seq', 'bigint'), (5, 'op', 'text'), (6, 'source_table', 'text'), (7, 'key', 'jsonb'),
	             (8, 'old', 'jsonb'), (9, 'new', 'jsonb')) e(ord, col, typ)
	WHERE NOT EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = existing AND a.attname = e.col
	                  AND NOT a.attisdropped AND format_type(a.atttypid, NULL) = e.typ);
	IF v_missing IS NOT NULL THEN
		RAISE EXCEPTION 'table % is not a laredo change log', existing
			USING ERRCODE = 'datatype_mismatch',
			      DETAIL = 'Missing or of another type: ' || v_missing || '.',
			      HINT = 'Give the name of a table that does not exist yet, and laredo creates the change log.';
	END IF;
END
$$;

CREATE OR REPLACE FUNCTION laredo._check_options(target_kind text, options jsonb) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	k text;
	v_retain interval;
BEGIN
	FOR k IN SELECT jsonb_object_keys(options) LOOP
		IF NOT (k IN ('where', 'children') OR (target_kind = 'changelog' AND k = 'retain') OR (target_kind = 'function' AND k = 'on_error')
		        OR (target_kind = 'table' AND k IN ('columns', 'soft_delete', 'metadata_columns'))) THEN
			RAISE EXCEPTION 'unknown option "%" for target_kind %', k, target_kind
				USING ERRCODE = 'invalid_parameter_value',
				      HINT = CASE target_kind WHEN 'changelog' THEN 'A changelog target takes {"retain": "7 days"}.'
				                  WHEN 'function' THEN 'A function target takes {"on_error": "stop"} or {"on_error": "skip"}.'
				                  ELSE 'A table target takes {"columns": [...], "soft_delete": true, "metadata_columns": true}.' END;
		END IF;
	END LOOP;
	IF options ? 'columns' AND (jsonb_typeof(options->'columns') <> 'array' OR jsonb_array_length(options->'columns') = 0
	   OR EXISTS (SELECT FROM jsonb_array_elements(options->'columns') e WHERE jsonb_typeof(e) <> 'string')) THEN
		RAISE EXCEPTION 'invalid columns %', options->'columns'
			USING ERRCODE = 'invalid_parameter_value', HINT = 'Give an array of column names: {"columns": ["id", "name"]}.';
	END IF;
	IF EXISTS (SELECT FROM jsonb_each(options) e WHERE e.key IN ('soft_delete', 'metadata_columns', 'children')
	           AND jsonb_typeof(e.value) <> 'boolean') THEN
		RAISE EXCEPTION 'soft_delete, metadata_columns and children take true or false'
			USING ERRCODE = 'invalid_parameter_value', HINT = 'For example {"soft_delete": true}.';
	END IF;
	IF options ? 'where' THEN
		IF jsonb_typeof(options->'where') <> 'string' THEN
			RAISE EXCEPTION 'invalid where %', options->'where'
				USING ERRCODE = 'invalid_parameter_value', HINT = 'For example {"where": "amount > 100"}.';
		END IF;
		PERFORM laredo._check_where_clause(options->>'where');
	END IF;
	IF options ? 'on_error' AND options->>'on_error' NOT IN ('stop', 'skip') THEN
		RAISE EXCEPTION 'invalid on_error %', options->'on_error'
			USING ERRCODE = 'invalid_parameter_value', HINT = 'on_error is "stop" (the default) or "skip".';
	END IF;
	IF options ? 'retain' THEN
		BEGIN
			v_retain := (options->>'retain')::interval;
		EXCEPTION WHEN OTHERS THEN
			v_retain := NULL;
		END;
		IF v_retain IS NULL OR v_retain <= interval '0' OR jsonb_typeof(options->'retain') <> 'string' THEN
			RAISE EXCEPTION 'invalid retain %', options->'retain'
				USING ERRCODE = 'invalid_parameter_value', HINT = 'Give a positive interval: {"retain": "7 days"}.';
		END IF;
	END IF;
END
$$;

CREATE OR REPLACE FUNCTION laredo._create_function_pipeline(pipeline_id text, s laredo.source_config,
	source_schema name, source_table name, target text, options jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	v_func regprocedure;
	v_schema name;
	v_name name;
BEGIN
	PERFORM laredo._check_options('function', options);
	IF target IS NULL THEN
		RAISE EXCEPTION 'a function pipeline needs target => the function''s name'
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'For example target => ''public.on_change'', a function (op text, old jsonb, new jsonb, meta jsonb).';
	END IF;
	BEGIN
		v_func := to_regprocedure(target || '(text, jsonb, jsonb, jsonb)');
	EXCEPTION WHEN OTHERS THEN
		v_func := NULL;
	END;
	IF v_func IS NULL THEN
		RAISE EXCEPTION 'function %(text, jsonb, jsonb, jsonb) does not exist', target
			USING ERRCODE = 'undefined_function',
			      HINT = 'Create it first: CREATE FUNCTION ' || target || '(op text, old jsonb, new jsonb, meta jsonb) RETURNS void ...';
	END IF;
	IF NOT has_function_privilege(v_func, 'EXECUTE') THEN
		RAISE EXCEPTION 'permission denied for function %', v_func
			USING ERRCODE = 'insufficient_privilege',
			      HINT = 'The function runs with the pipeline owner''s rights: GRANT EXECUTE ON FUNCTION ' || v_func || ' TO ' || quote_ident(current_user) || ';';
	END IF;
	SELECT n.nspname, p.proname INTO v_schema, v_name
	FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.oid = v_func;
	INSERT INTO laredo.pipeline_config (pipeline_id, source_id, source_schema, source_table,
		target_kind, target_schema, target_table, options, owner)
	VALUES (pipeline_id, s.source_id, source_schema, source_table, 'function', v_schema, v_name,
		options, (SELECT oid FROM pg_roles WHERE rolname = current_user));
	PERFORM laredo._create_child_pipelines(pipeline_id, s, source_schema, source_table, 'function',
		NULL, options || jsonb_build_object('target', target));
	PERFORM laredo._source_changed(s.source_id);
END
$$;

CREATE OR REPLACE FUNCTION laredo.add_table(source_id text, table_name text,
	where_clause text DEFAULT NULL, columns name[] DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	s laredo.source_config;
	n record;
	ch record;
	v_children text[];
BEGIN
	PERFORM laredo._require_admin('add a table to a source');
	s := laredo._source(source_id);
	n := laredo._split_name(table_name);
	PERFORM laredo._add_table(s, n, where_clause, columns, NULL, NULL);
	FOR ch IN SELECT * FROM laredo._source_inheritance_children(s.connection, n.schema_name, n.table_name) LOOP
		PERFORM laredo._add_table(s, (SELECT x FROM (SELECT ch.child_schema AS schema_name,
			ch.child_table AS table_name) x), where_clause, columns, n.schema_name, n.table_name);
		v_children := v_children || (quote_ident(ch.child_schema) || '.' || quote_ident(ch.child_table));
	END LOOP;
	IF v_children IS NOT NULL THEN
		RAISE NOTICE 'table %.% of source "%" has inheritance children, added with it: %',
			quote_ident(n.schema_name), quote_ident(n.table_name), s.source_id, array_to_string(v_children, ', ')
			USING DETAIL = 'Their changes arrive under their own names, as in a publication of the parent; create_pipeline of the parent creates a pipeline for each.';
	END IF;
	PERFORM laredo._source_changed(s.source_id);
END
$$;

CREATE OR REPLACE FUNCTION laredo.remove_table(source_id text, table_name text)
RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	s laredo.source_config;
	n record;
BEGIN
	PERFORM laredo._require_admin('remove a table from a source');
	s := laredo._source(source_id);
	n := laredo._split_name(table_name);
	IF NOT EXISTS (SELECT FROM laredo.source_tables t WHERE t.source_id = s.source_id
	               AND t.schema_name = n.schema_name AND t.table_name = n.table_name) THEN
		RAISE EXCEPTION 'table %.% is not part of source "%"',
			quote_ident(n.schema_name), quote_ident(n.table_name), s.source_id
			USING ERRCODE = 'undefined_object',
			      HINT = 'SELECT * FROM laredo.source_tables lists the tables of each source.';
	END IF;
	-- the table goes with the inheritance children added with it
	IF EXISTS (SELECT FROM laredo.pipeline_config p JOIN laredo.source_tables t
	           ON t.source_id = p.source_id AND t.schema_name = p.source_schema AND t.table_name = p.source_table
	           WHERE p.source_id = s.source_id
	             AND ((t.schema_name = n.schema_name AND t.table_name = n.table_name)
	                  OR (t.parent_schema = n.schema_name AND t.parent_table = n.table_name))) THEN
		RAISE EXCEPTION 'table %.% of source "%" still feeds pipelines',
			quote_ident(n.schema_name), quote_ident(n.table_name), s.source_id
			USING ERRCODE = 'dependent_objects_still_exist',
			      HINT = 'Drop its pipelines (and its children''s) with laredo.drop_pipeline first.';
	END IF;
	DELETE FROM laredo.source_tables t WHERE t.source_id = s.source_id
		AND ((t.schema_name = n.schema_name AND t.table_name = n.table_name)
		     OR (t.parent_schema = n.schema_name AND t.parent_table = n.table_name));
	PERFORM laredo._source_changed(s.source_id);
END
$$;

CREATE OR REPLACE FUNCTION laredo.create_pipeline(pipeline_id text, source_id text, source_table text,
	target_kind text DEFAULT 'table', target text DEFAULT NULL, options jsonb DEFAULT '{}')
RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	s laredo.source_config;
	t laredo.source_tables;
	n record;
	tn record;
	v_target regclass;
	d record;
	v_cols text := '';
	v_keys text := '';
	v_local record;
	v_local_missing text;
	v_has_identity boolean;
BEGIN
	PERFORM laredo._require_admin('create a pipeline');
	PERFORM laredo._check_id('pipeline', pipeline_id);
	IF EXISTS (SELECT FROM laredo.pipelines p WHERE p.pipeline_id = create_pipeline.pipeline_id) THEN
		RAISE EXCEPTION 'pipeline "%" already exists', pipeline_id
			USING ERRCODE = 'duplicate_object', HINT = 'Choose another id, or laredo.drop_pipeline first.';
	END IF;
	s := laredo._source(source_id);
	n := laredo._split_name(source_table);
	SELECT * INTO t FROM laredo.source_tables x WHERE x.source_id = s.source_id
		AND x.schema_name = n.schema_name AND x.table_name = n.table_name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'table %.% is not part of source "%"',
			quote_ident(n.schema_name), quote_ident(n.table_name), s.source_id
			USING ERRCODE = 'undefined_table',
			      HINT = format('Call laredo.add_table(%L, %L) first.', s.source_id, source_table);
	END IF;
	IF target_kind IS NULL OR target_kind NOT IN ('table', 'changelog', 'function') THEN
		RAISE EXCEPTION 'invalid target_kind "%"', coalesce(target_kind, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'target_kind is ''table'' (a mirror), ''changelog'' (an append-only change log) or ''function''.';
	END IF;
	IF target_kind = 'function' THEN
		PERFORM laredo._create_function_pipeline(pipeline_id, s, n.schema_name, n.table_name, target, options);
		RETURN;
	END IF;
	IF options IS NULL OR jsonb_typeof(options) <> 'object' THEN
		RAISE EXCEPTION 'options must be a jsonb object' USING ERRCODE = 'invalid_parameter_value',
			HINT = 'For example options => ''{}''.';
	END IF;
	PERFORM laredo._check_options(target_kind, options);
	tn := laredo._split_name(coalesce(target, CASE WHEN target_kind = 'changelog'
		THEN quote_ident(n.schema_name) || '.' || quote_ident(n.table_name || '_changelog') END, source_table));
	IF tn.schema_name = 'laredo' THEN
		RAISE EXCEPTION 'a target cannot be in schema laredo' USING ERRCODE = 'invalid_parameter_value',
			HINT = 'Choose another schema for the target.';
	END IF;
	IF s.connection = '' AND tn.schema_name = n.schema_name AND tn.table_name = n.table_name THEN
		RAISE EXCEPTION 'target %.% is the source table itself', quote_ident(tn.schema_name), quote_ident(tn.table_name)
			USING ERRCODE = 'invalid_parameter_value', HINT = 'Give another target name.';
	END IF;
	IF s.connection = '' AND EXISTS (SELECT FROM laredo.source_tables x JOIN laredo.source_config c USING (source_id)
	        WHERE c.connection = '' AND x.schema_name = tn.schema_name AND x.table_name = tn.table_name) THEN
		RAISE EXCEPTION 'target %.% is published by a source of this database', quote_ident(tn.schema_name), quote_ident(tn.table_name)
			USING ERRCODE = 'invalid_parameter_value',
			      DETAIL = 'PostgreSQL 15 cannot filter changes by origin, so its changes would feed back forever.',
			      HINT = 'Give another target name.';
	END IF;
	IF NOT EXISTS (SELECT FROM pg_namespace WHERE nspname = tn.schema_name) THEN
		RAISE EXCEPTION 'schema "%" does not exist', tn.schema_name
			USING ERRCODE = 'invalid_schema_name', HINT = 'CREATE SCHEMA ' || quote_ident(tn.schema_name) || ' first.';
	END IF;

	v_target := to_regclass(quote_ident(tn.schema_name) || '.' || quote_ident(tn.table_name));
	-- The source's columns, restricted to the published column list.
	IF to_regclass('pg_temp.laredo_cols') IS NULL THEN	-- no NOTICE on a second call
		CREATE TEMP TABLE pg_temp.laredo_cols (ord int, attname name, type_name text,
			not_null boolean, is_key boolean, identity "char", relkind "char") ON COMMIT DROP;
	END IF;
	TRUNCATE pg_temp.laredo_cols;
	INSERT INTO pg_temp.laredo_cols
		SELECT ord, x.attname, x.type_name, x.not_null, x.is_key, x.identity, x.relkind
		FROM laredo._describe_source_table(s.connection, n.schema_name, n.table_name)
		     WITH ORDINALITY x(attname, type_name, not_null, is_key, identity, relkind, ord)
		WHERE (t.columns IS NULL OR x.attname = ANY (t.columns))
		  AND (NOT options ? 'columns' OR x.attname::text IN (SELECT jsonb_array_elements_text(options->'columns'))
		       OR x.is_key);
	IF NOT EXISTS (SELECT FROM pg_temp.laredo_cols) THEN
		RAISE EXCEPTION 'table %.% does not exist on source "%"',
			quote_ident(n.schema_name), quote_ident(n.table_name), s.source_id
			USING ERRCODE = 'undefined_table', HINT = 'It was dropped on the source; remove_table it.';
	END IF;
	-- a table without columns is described by one row without a name
	DELETE FROM pg_temp.laredo_cols WHERE attname IS NULL;

	IF options ? 'columns' THEN
		SELECT string_agg(c, ', ') INTO v_cols FROM jsonb_array_elements_text(options->'columns') c
		WHERE NOT EXISTS (SELECT FROM pg_temp.laredo_cols l WHERE l.attname = c);
		IF v_cols IS NOT NULL THEN
			RAISE EXCEPTION 'option columns names columns the source does not send: %', v_cols
				USING ERRCODE = 'undefined_column',
				      HINT = 'Name columns of the source table''s publication; its key columns are always kept.';
		END IF;
		v_cols := '';
	END IF;
	IF target_kind = 'changelog' THEN
		PERFORM laredo._changelog_prepare(tn.schema_name, tn.table_name, v_target);
		v_target := to_regclass(quote_ident(tn.schema_name) || '.' || quote_ident(tn.table_name));
	ELSIF v_target IS NULL THEN
		FOR d IN SELECT * FROM pg_temp.laredo_cols ORDER BY ord LOOP
			v_cols := v_cols || CASE WHEN v_cols = '' THEN '' ELSE ', ' END ||
				quote_ident(d.attname) || ' ' || d.type_name || CASE WHEN d.not_null THEN ' NOT NULL' ELSE '' END;
			IF d.is_key AND NOT t.insert_only THEN
				v_keys := v_keys || CASE WHEN v_keys = '' THEN '' ELSE ', ' END || quote_ident(d.attname);
			END IF;
		END LOOP;
		IF (options->>'soft_delete')::boolean THEN
			v_cols := v_cols || ', _deleted_at timestamptz';
		END IF;
		IF (options->>'metadata_columns')::boolean THEN
			v_cols := v_cols || ', _lsn pg_lsn, _commit_time timestamptz';
		END IF;
		BEGIN
			EXECUTE format('CREATE TABLE %I.%I (%s%s)', tn.schema_name, tn.table_name, v_cols,
				CASE WHEN v_keys <> '' THEN ', PRIMARY KEY (' || v_keys || ')' ELSE '' END);
		EXCEPTION WHEN undefined_object THEN
			RAISE EXCEPTION 'cannot create target %.%: a column type of the source does not exist here',
				quote_ident(tn.schema_name), quote_ident(tn.table_name)
				USING ERRCODE = 'undefined_object', DETAIL = SQLERRM,
				      HINT = 'Create the type in this database, or create the target table yourself.';
		END;
		v_target := to_regclass(quote_ident(tn.schema_name) || '.' || quote_ident(tn.table_name));
	ELSE
		IF (SELECT relkind FROM pg_class WHERE oid = v_target) NOT IN ('r', 'p') THEN
			RAISE EXCEPTION 'target % is not a table', v_target USING ERRCODE = 'wrong_object_type',
				HINT = 'Give a table, or a name that does not exist yet so laredo creates it.';
		END IF;
		-- Every published column must exist, by name, as the built-in
		-- subscriber requires; its type may differ (varchar into text, int
		-- into bigint): each value is read with the target column's input
		-- function and type modifier, and one that does not fit stops the
		-- pipeline with an error naming the column and the row.  Columns the
		-- source does not send must be nullable or have a default.
		FOR d IN SELECT c.*, a.attname AS local_name
		         FROM pg_temp.laredo_cols c
		         LEFT JOIN pg_attribute a ON a.attrelid = v_target AND a.attname = c.attname
		              AND a.attnum > 0 AND NOT a.attisdropped
		LOOP
			IF d.local_name IS NULL THEN
				RAISE EXCEPTION 'target % has no column "%"', v_target, d.attname
					USING ERRCODE = 'datatype_mismatch',
					      DETAIL = 'The target table''s columns do not fit the source table.',
					      HINT = format('ALTER TABLE %s ADD COLUMN %I %s;', v_target, d.attname, d.type_name);
			END IF;
		END LOOP;
		SELECT string_agg(e.col || ' ' || e.typ, ', ') INTO v_local_missing
		FROM (VALUES ('_deleted_at', 'timestamp with time zone', (options->>'soft_delete')::boolean),
		             ('_lsn', 'pg_lsn', (options->>'metadata_columns')::boolean),
		             ('_commit_time', 'timestamp with time zone', (options->>'metadata_columns')::boolean)) e(col, typ, wanted)
		WHERE e.wanted AND NOT EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = v_target AND a.attname = e.col
		                               AND NOT a.attisdropped AND format_type(a.atttypid, NULL) = e.typ);
		IF v_local_missing IS NOT NULL THEN
			RAISE EXCEPTION 'target % lacks the columns its options need: %', v_target, v_local_missing
				USING ERRCODE = 'datatype_mismatch',
				      HINT = format('ALTER TABLE %s ADD COLUMN %s;', v_target, replace(v_local_missing, ', ', ', ADD COLUMN '));
		END IF;
		SELECT a.attname INTO v_local FROM pg_attribute a
		 WHERE a.attrelid = v_target AND a.attnum > 0 AND NOT a.attisdropped AND a.attnotnull
		   AND a.atthasdef = false AND a.attidentity = '' AND a.attgenerated = ''
		   AND NOT EXISTS (SELECT FROM pg_temp.laredo_cols c WHERE c.attname = a.attname)
		   AND a.attname NOT IN ('_deleted_at', '_lsn', '_commit_time')
		 LIMIT 1;
		IF FOUND THEN
			RAISE EXCEPTION 'target % has column "%", which is NOT NULL without a default and not sent by the source',
				v_target, v_local.attname
				USING ERRCODE = 'datatype_mismatch',
				      DETAIL = 'The target table''s columns do not fit the source table.',
				      HINT = format('ALTER TABLE %s ALTER COLUMN %I DROP NOT NULL;', v_target, v_local.attname);
		END IF;
		-- Updates and deletes find rows by the source's replica identity.
		IF NOT t.insert_only AND s.publish ~ '(update|delete)'
		   AND (SELECT min(identity) FROM pg_temp.laredo_cols) <> 'f' THEN
			SELECT EXISTS (
				SELECT FROM pg_index i
				WHERE i.indrelid = v_target AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
				  AND (SELECT array_agg(a.attname ORDER BY a.attname) FROM pg_attribute a
				       WHERE a.attrelid = v_target AND a.attnum = ANY (i.indkey))
				    = (SELECT array_agg(c.attname ORDER BY c.attname) FROM pg_temp.laredo_cols c WHERE c.is_key))
			INTO v_has_identity;
			IF NOT v_has_identity THEN
				RAISE EXCEPTION 'target % has no unique index on the source''s replica identity (%)', v_target,
					(SELECT string_agg(quote_ident(c.attname), ', ' ORDER BY ord) FROM pg_temp.laredo_cols c WHERE c.is_key)
					USING ERRCODE = 'datatype_mismatch',
					      DETAIL = 'Updates and deletes find target rows by the source table''s replica identity.',
					      HINT = format('ALTER TABLE %s ADD PRIMARY KEY (%s);', v_target,
						(SELECT string_agg(quote_ident(c.attname), ', ' ORDER BY ord) FROM pg_temp.laredo_cols c WHERE c.is_key));
			END IF;
		END IF;
	END IF;
	IF NOT has_table_privilege(v_target, CASE WHEN target_kind = 'changelog' THEN 'INSERT, DELETE'
	                                          ELSE 'INSERT, UPDATE, DELETE, TRUNCATE' END) THEN
		RAISE EXCEPTION 'permission denied for target %', v_target
			USING ERRCODE = 'insufficient_privilege',
			      DETAIL = 'The source''s worker writes the target with the pipeline owner''s rights.',
			      HINT = format('GRANT INSERT, UPDATE, DELETE, TRUNCATE ON %s TO %I;', v_target, current_user);
	END IF;
	IF EXISTS (SELECT FROM laredo.pipeline_config p WHERE p.target_schema = tn.schema_name
	           AND p.target_table = tn.table_name) THEN
		RAISE EXCEPTION 'target % is already written by another pipeline', v_target
			USING ERRCODE = 'duplicate_object', HINT = 'Give each table pipeline its own target.';
	END IF;

	INSERT INTO laredo.pipeline_config (pipeline_id, source_id, source_schema, source_table,
		target_kind, target_schema, target_table, options, owner)
	VALUES (pipeline_id, s.source_id, n.schema_name, n.table_name, target_kind,
		tn.schema_name, tn.table_name, options, (SELECT oid FROM pg_roles WHERE rolname = current_user));
	PERFORM laredo._create_child_pipelines(pipeline_id, s, n.schema_name, n.table_name, target_kind,
		tn.schema_name, options);
	PERFORM laredo._source_changed(s.source_id);
END
$$;

CREATE OR REPLACE FUNCTION laredo.drop_pipeline(pipeline_id text)
RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	v_source text;
BEGIN
	PERFORM laredo._require_admin('drop a pipeline');
	v_source := laredo._pipeline_source(pipeline_id);
	-- with the pipelines of the inheritance children created with it
	DELETE FROM laredo.pipeline_config p WHERE p.pipeline_id = drop_pipeline.pipeline_id
		OR p.parent_pipeline = drop_pipeline.pipeline_id;
	PERFORM laredo._source_changed(v_source);
END
$$;

CREATE OR REPLACE FUNCTION laredo.reset_source(source_id text, drop_publication boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	s laredo.source_config;
BEGIN
	PERFORM laredo._require_admin('reset a source');
	s := laredo._source(source_id);
	IF drop_publication IS NULL THEN
		RAISE EXCEPTION 'drop_publication must not be NULL'
			USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass true or false, or omit it.';
	END IF;
	IF drop_publication AND NOT s.create_publication THEN
		RAISE EXCEPTION 'publication "%" of source "%" was not created by laredo', s.publication, s.source_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
			      HINT = 'Call laredo.reset_source without drop_publication; laredo never drops a publication it does not own.';
	END IF;
	PERFORM laredo._stop_worker(s.source_id);
	PERFORM laredo._drop_source_objects(s.connection, s.slot_name,
		CASE WHEN drop_publication THEN s.publication END, false);
	PERFORM laredo._drop_origin(s.source_id);
	UPDATE laredo.pipeline_config p SET baseline_lsn = NULL, error = NULL, error_time = NULL
	WHERE p.source_id = s.source_id;
	UPDATE laredo.source_config c SET slot_pending = false, error = NULL, error_hint = NULL,
		error_time = NULL, config_version = c.config_version + 1
	WHERE c.source_id = s.source_id;
	PERFORM laredo._notify_config_change();
END
$$;

CREATE OR REPLACE FUNCTION laredo.health(max_lag_bytes bigint DEFAULT 1073741824,
	max_retained_wal_bytes bigint DEFAULT 10737418240)
RETURNS TABLE (source_id text, pipeline_id text, problem text, detail text, since timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF max_lag_bytes IS NULL OR max_lag_bytes < 0 OR max_retained_wal_bytes IS NULL OR max_retained_wal_bytes < 0 THEN
		RAISE EXCEPTION 'thresholds must be zero or more bytes, not % and %',
			coalesce(max_lag_bytes::text, 'NULL'), coalesce(max_retained_wal_bytes::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'For example laredo.health(max_lag_bytes => 1073741824, max_retained_wal_bytes => 10737418240).';
	END IF;
	RETURN QUERY
	SELECT s.source_id, NULL::text, 'source in ERROR', s.last_error, s.last_error_time
	FROM laredo.sources s WHERE s.state = 'ERROR'
	UNION ALL
	SELECT s.source_id, NULL, 'source reconnecting',
	       s.reconnect_attempts || ' failed attempts: ' || coalesce(s.last_error, ''), s.last_error_time
	FROM laredo.sources s WHERE s.state = 'RECONNECTING'
	UNION ALL
	SELECT s.source_id, NULL, 'lag above threshold',
	       s.lag_bytes || ' bytes behind the source (threshold ' || max_lag_bytes || ')', NULL
	FROM laredo.sources s WHERE s.lag_bytes > max_lag_bytes
	UNION ALL
	SELECT s.source_id, NULL, 'retained WAL above threshold',
	       s.retained_wal_bytes || ' bytes of WAL kept on the source (threshold ' || max_retained_wal_bytes || ')', NULL
	FROM laredo.sources s WHERE s.retained_wal_bytes > max_retained_wal_bytes
	UNION ALL
	SELECT s.source_id, NULL, 'slot at risk', 'wal_status = ' || s.wal_status, NULL
	FROM laredo.sources s WHERE s.wal_status IN ('unreserved', 'lost')
	UNION ALL
	SELECT p.source_id, p.pipeline_id, 'pipeline in ERROR', p.error, p.error_time
	FROM laredo.pipeline_config p WHERE p.error IS NOT NULL
	UNION ALL
	SELECT p.source_id, p.pipeline_id, 'pipeline paused', 'its source is held until resume_pipeline', NULL
	FROM laredo.pipeline_config p WHERE p.paused
	UNION ALL
	SELECT u.source_id, NULL, 'changes without a pipeline',
	       u.changes || ' changes of ' || u.relation || ' arrived and no pipeline takes them (create a pipeline for it, or take it out of the publication)',
	       u.first_seen
	FROM laredo.source_unmapped u
	UNION ALL
	SELECT p.source_id, p.pipeline_id, 'rows missing in the target',
	       p.update_missing || ' updates and ' || p.delete_missing ||
	       ' deletes found no row in the target and were skipped (the target lost rows the source has: resync_pipeline copies it again)',
	       NULL
	FROM laredo.pipeline_config p WHERE p.update_missing + p.delete_missing > 0
	ORDER BY 1, 2 NULLS FIRST, 3;
END
$$;

CREATE FUNCTION laredo._source_inheritance_children(connection text, schema_name name, table_name name,
	OUT child_schema name, OUT child_table name)
RETURNS SETOF record
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	r json;
BEGIN
	FOR r IN SELECT * FROM laredo._source_query(connection, format($q$
		WITH RECURSIVE tree(oid, depth) AS (
			SELECT c.oid, 0 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = %L AND c.relname = %L AND c.relkind = 'r'
			UNION
			SELECT i.inhrelid, t.depth + 1 FROM tree t JOIN pg_catalog.pg_inherits i ON i.inhparent = t.oid
			JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
			WHERE c.relkind = 'r' AND NOT c.relispartition)
		SELECT n.nspname AS s, c.relname AS t, min(tree.depth) AS d FROM tree
		JOIN pg_catalog.pg_class c ON c.oid = tree.oid
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE tree.depth > 0 GROUP BY 1, 2 ORDER BY 3, 1, 2 $q$, schema_name, table_name))
	LOOP
		child_schema := r->>'s'; child_table := r->>'t';
		RETURN NEXT;
	END LOOP;
END
$$;

CREATE FUNCTION laredo._add_table(s laredo.source_config, n record,
	where_clause text, columns name[], parent_schema name, parent_table name)
RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	v_cols record;
	v_identity "char";
	v_relkind "char";
	v_keys name[];
	v_all name[];
	v_insert_only boolean := false;
	v_filter_cols name[];
	c name;
BEGIN
	IF EXISTS (SELECT FROM laredo.source_tables t WHERE t.source_id = s.source_id
	           AND t.schema_name = n.schema_name AND t.table_name = n.table_name) THEN
		RAISE EXCEPTION 'table %.% is already part of source "%"',
			quote_ident(n.schema_name), quote_ident(n.table_name), s.source_id
			USING ERRCODE = 'duplicate_object',
			      HINT = 'Call laredo.remove_table first to change its filter or columns.';
	END IF;
	IF n.schema_name = 'laredo' AND s.connection = '' THEN
		RAISE EXCEPTION 'laredo''s own tables cannot be replicated from this database'
			USING ERRCODE = 'invalid_parameter_value',
			      DETAIL = 'PostgreSQL 15 cannot filter changes by origin, so they would feed back forever.',
			      HINT = 'Choose a table outside schema laredo.';
	END IF;
	IF s.connection = '' AND EXISTS (SELECT FROM laredo.pipeline_config p WHERE p.target_schema = n.schema_name
	        AND p.target_table = n.table_name) THEN
		RAISE EXCEPTION 'table %.% is the target of a pipeline in this database',
			quote_ident(n.schema_name), quote_ident(n.table_name)
			USING ERRCODE = 'invalid_parameter_value',
			      DETAIL = 'PostgreSQL 15 cannot filter changes by origin, so its changes would feed back forever.',
			      HINT = 'Replicate a different table.';
	END IF;
	IF n.schema_name IN ('pg_catalog', 'information_schema') OR n.schema_name ~ '^pg_(toast|temp)' THEN
		RAISE EXCEPTION 'system table %.% cannot be replicated', quote_ident(n.schema_name), quote_ident(n.table_name)
			USING ERRCODE = 'invalid_parameter_value',
			      DETAIL = 'PostgreSQL does not publish system catalogs.', HINT = 'Choose a user table.';
	END IF;
	IF where_clause IS NOT NULL THEN
		v_filter_cols := laredo._check_where_clause(where_clause);
	END IF;

	SELECT array_agg(d.attname ORDER BY ord) FILTER (WHERE d.is_key),
	       coalesce(array_agg(d.attname ORDER BY ord) FILTER (WHERE d.attname IS NOT NULL), '{}'),
	       min(d.identity), min(d.relkind)
	  INTO v_keys, v_all, v_identity, v_relkind
	  FROM laredo._describe_source_table(s.connection, n.schema_name, n.table_name) WITH ORDINALITY d(attname, type_name, not_null, is_key, identity, relkind, ord);
	IF v_relkind IS NULL THEN
		RAISE EXCEPTION 'table %.% does not exist on source "%"',
			quote_ident(n.schema_name), quote_ident(n.table_name), s.source_id
			USING ERRCODE = 'undefined_table',
			      HINT = 'Create the table on the source first, or check the schema and name (case matters when quoted).';
	END IF;
	IF v_relkind NOT IN ('r', 'p') THEN
		RAISE EXCEPTION '%.% on source "%" is not a table',
			quote_ident(n.schema_name), quote_ident(n.table_name), s.source_id
			USING ERRCODE = 'wrong_object_type', HINT = 'Only tables can be published.';
	END IF;
	IF where_clause IS NOT NULL THEN
		-- the source parses it against the table (LIMIT 0: nothing is evaluated)
		-- and, when laredo makes the publication, accepts it as a row filter
		-- (a transaction rolled back: nothing is left on the source)
		BEGIN
			PERFORM laredo._source_query(s.connection,
				format('SELECT 1 FROM ONLY %I.%I WHERE (%s) LIMIT 0', n.schema_name, n.table_name, where_clause));
			IF s.create_publication AND s.connection = '' THEN
				BEGIN
					EXECUTE format('CREATE PUBLICATION %I FOR TABLE ONLY %I.%I WHERE (%s)',
					               'laredo_check_' || pg_backend_pid(), n.schema_name, n.table_name, where_clause);
					RAISE EXCEPTION USING ERRCODE = 'LRCHK';
				EXCEPTION WHEN SQLSTATE 'LRCHK' THEN
					NULL;	-- accepted, and rolled back
				END;
			ELSIF s.create_publication THEN
				PERFORM laredo._source_exec(s.connection,
					format('BEGIN; CREATE PUBLICATION %I FOR TABLE ONLY %I.%I WHERE (%s); ROLLBACK',
					       'laredo_check_' || pg_backend_pid(), n.schema_name, n.table_name, where_clause));
			END IF;
		EXCEPTION WHEN OTHERS THEN
			RAISE EXCEPTION 'invalid where_clause for %.%: %', quote_ident(n.schema_name), quote_ident(n.table_name),
				split_part(regexp_replace(SQLERRM, '^.*?ERROR:\s*', ''), E'\n', 1)
				USING ERRCODE = 'invalid_parameter_value',
				      HINT = 'A row filter is a boolean expression over the table''s columns, for example where_clause => ''amount > 100''.';
		END;
	END IF;
	IF columns IS NOT NULL THEN
		IF cardinality(columns) = 0 THEN
			RAISE EXCEPTION 'columns must not be empty' USING ERRCODE = 'invalid_parameter_value',
				HINT = 'Omit columns to publish every column.';
		END IF;
		FOREACH c IN ARRAY columns LOOP
			IF NOT c = ANY (v_all) THEN
				RAISE EXCEPTION 'column "%" does not exist in table %.% on source "%"', c,
					quote_ident(n.schema_name), quote_ident(n.table_name), s.source_id
					USING ERRCODE = 'undefined_column', HINT = 'Columns: ' || array_to_string(v_all, ', ') || '.';
			END IF;
		END LOOP;
	END IF;

	-- Never make the source's own writes fail: PostgreSQL refuses UPDATE and
	-- DELETE on a table published for them without a replica identity.
	IF v_identity = 'n' OR (v_identity IN ('d', 'i') AND v_keys IS NULL) THEN
		v_insert_only := true;
		IF s.publish ~ '(update|delete)' THEN
			RAISE NOTICE 'table %.% has no usable replica identity: it is published for insert and truncate only',
				quote_ident(n.schema_name), quote_ident(n.table_name)
				USING DETAIL = 'It goes into the second publication "' || s.publication || '_insert_only" so that UPDATE and DELETE on the source keep working.',
				      HINT = 'Add a primary key or set REPLICA IDENTITY on the source table to replicate updates and deletes.';
		END IF;
	ELSIF s.publish ~ '(update|delete)' THEN
		IF columns IS NOT NULL AND v_identity <> 'f' AND NOT v_keys <@ columns THEN
			RAISE EXCEPTION 'column list of %.% leaves out replica identity columns',
				quote_ident(n.schema_name), quote_ident(n.table_name)
				USING ERRCODE = 'invalid_parameter_value',
				      DETAIL = 'PostgreSQL would then fail UPDATE and DELETE on the source table.',
				      HINT = 'Include ' || array_to_string(v_keys, ', ') || ' in columns.';
		END IF;
		IF v_identity <> 'f' AND v_filter_cols IS NOT NULL AND NOT v_filter_cols <@ v_keys THEN
			RAISE EXCEPTION 'row filter of %.% uses columns outside the replica identity (%)',
				quote_ident(n.schema_name), quote_ident(n.table_name), array_to_string(v_keys, ', ')
				USING ERRCODE = 'invalid_parameter_value',
				      DETAIL = 'PostgreSQL would then fail UPDATE and DELETE on the source table.',
				      HINT = 'Filter on ' || array_to_string(v_keys, ', ') || ', set REPLICA IDENTITY FULL on the source table, or create the source with publish => ''insert, truncate''.';
		END IF;
		IF v_identity = 'f' AND (columns IS NOT NULL) THEN
			RAISE EXCEPTION 'a column list cannot be used on %.%, which has REPLICA IDENTITY FULL',
				quote_ident(n.schema_name), quote_ident(n.table_name)
				USING ERRCODE = 'invalid_parameter_value',
				      DETAIL = 'PostgreSQL would then fail UPDATE and DELETE on the source table.',
				      HINT = 'Omit columns, or publish insert and truncate only.';
		END IF;
	END IF;

	INSERT INTO laredo.source_tables (source_id, schema_name, table_name, where_clause, columns, insert_only,
		parent_schema, parent_table)
	VALUES (s.source_id, n.schema_name, n.table_name, where_clause, columns, v_insert_only,
		_add_table.parent_schema, _add_table.parent_table);
END
$$;

CREATE FUNCTION laredo._create_child_pipelines(p_pipeline_id text, s laredo.source_config,
	p_schema name, p_table name, p_kind text, p_target_schema name, p_options jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	ch record;
	v_id text;
	v_target text;
	v_options jsonb := (p_options - 'target') || '{"children": false}';
	i int := 0;
BEGIN
	IF NOT coalesce((p_options->>'children')::boolean, true) THEN
		RETURN;
	END IF;
	FOR ch IN SELECT x.schema_name, x.table_name FROM laredo.source_tables x
	          WHERE x.source_id = s.source_id AND x.parent_schema = p_schema AND x.parent_table = p_table
	          ORDER BY 1, 2 LOOP
		i := i + 1;
		v_id := p_pipeline_id || '__' || ch.table_name;
		IF v_id !~ '^[a-z_][a-z0-9_]*$' OR length(v_id) > 40 THEN
			v_id := left(p_pipeline_id, 32) || '__' || i;
		END IF;
		v_target := CASE p_kind WHEN 'function' THEN p_options->>'target'
		                        WHEN 'changelog' THEN quote_ident(p_target_schema) || '.' || quote_ident(ch.table_name || '_changelog')
		                        ELSE quote_ident(p_target_schema) || '.' || quote_ident(ch.table_name) END;
		PERFORM laredo.create_pipeline(v_id, s.source_id, quote_ident(ch.schema_name) || '.' || quote_ident(ch.table_name),
			p_kind, v_target, v_options);
		UPDATE laredo.pipeline_config c SET parent_pipeline = p_pipeline_id WHERE c.pipeline_id = v_id;
	END LOOP;
END
$$;

CREATE FUNCTION laredo._replica_identity_changed(p_source_id text, p_schema name, p_table name,
	p_identity "char", p_keys name[])
RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	s laredo.source_config;
	t laredo.source_tables;
	v_usable boolean := p_identity = 'f' OR (p_identity IN ('d', 'i') AND cardinality(p_keys) > 0);
	v_filter_cols name[];
	v_name text := quote_ident(p_schema) || '.' || quote_ident(p_table);
BEGIN
	SELECT * INTO s FROM laredo.source_config c WHERE c.source_id = p_source_id;
	SELECT * INTO t FROM laredo.source_tables x WHERE x.source_id = p_source_id
		AND x.schema_name = p_schema AND x.table_name = p_table;
	IF NOT FOUND OR NOT s.create_publication OR t.insert_only = NOT v_usable THEN
		RETURN NULL;
	END IF;
	IF v_usable AND s.publish ~ '(update|delete)' AND p_identity <> 'f' THEN
		IF t.columns IS NOT NULL AND NOT p_keys <@ t.columns THEN
			RETURN format('cannot publish the updates of %s: its column list leaves out its new replica identity (%s)',
				v_name, array_to_string(p_keys, ', '));
		END IF;
		IF t.where_clause IS NOT NULL THEN
			v_filter_cols := laredo._check_where_clause(t.where_clause);
			IF NOT v_filter_cols <@ p_keys THEN
				RETURN format('cannot publish the updates of %s: its row filter uses columns outside its new replica identity (%s)',
					v_name, array_to_string(p_keys, ', '));
			END IF;
		END IF;
	ELSIF v_usable AND s.publish ~ '(update|delete)' AND t.columns IS NOT NULL THEN
		RETURN format('cannot publish the updates of %s: a column list cannot go with REPLICA IDENTITY FULL', v_name);
	END IF;
	UPDATE laredo.source_tables x SET insert_only = NOT v_usable
	WHERE x.source_id = p_source_id AND x.schema_name = p_schema AND x.table_name = p_table;
	UPDATE laredo.pipeline_config p SET baseline_lsn = NULL
	WHERE p.source_id = p_source_id AND p.source_schema = p_schema AND p.source_table = p_table;
	PERFORM laredo._source_changed(p_source_id);
	RETURN format('the replica identity of %s changed on the source: it is now published for %s, and its pipelines copy it again',
		v_name, CASE WHEN v_usable THEN 'every change' ELSE 'insert and truncate only' END);
END
$$;

REVOKE ALL ON FUNCTION laredo._replica_identity_changed(text, name, name, "char", name[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION laredo._replica_identity_changed(text, name, name, "char", name[]) TO laredo_admin;

-- create_source takes publish_via_partition_root.
DROP FUNCTION laredo.create_source(text, text, text, text, text, boolean, text, integer, interval,
	interval, float8, boolean);
CREATE FUNCTION laredo.create_source(
	source_id text,
	connection text DEFAULT '',
	slot_mode text DEFAULT 'stateful',
	slot_name text DEFAULT NULL,
	publication text DEFAULT NULL,
	create_publication boolean DEFAULT true,
	publish text DEFAULT 'insert, update, delete, truncate',
	reconnect_max_attempts integer DEFAULT 10,
	reconnect_initial_backoff interval DEFAULT '1s',
	reconnect_max_backoff interval DEFAULT '60s',
	reconnect_backoff_multiplier float8 DEFAULT 2.0,
	enabled boolean DEFAULT true,
	publish_via_partition_root boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	v_slot name;
	v_pub name;
	v_conn record;
	v_publish text[];
	p text;
BEGIN
	PERFORM laredo._require_admin('create a source');
	PERFORM laredo._check_id('source', source_id);
	IF EXISTS (SELECT FROM laredo.sources s WHERE s.source_id = create_source.source_id) THEN
		RAISE EXCEPTION 'source "%" already exists', source_id
			USING ERRCODE = 'duplicate_object',
			      HINT = 'Choose another id, or laredo.drop_source(''' || source_id || ''') first.';
	END IF;
	IF connection IS NULL THEN
		RAISE EXCEPTION 'connection must not be NULL'
			USING ERRCODE = 'null_value_not_allowed',
			      HINT = 'Use '''' for this server and database, or a libpq connection string.';
	END IF;
	IF connection <> '' AND btrim(connection, E' \t\n\r') = '' THEN
		RAISE EXCEPTION 'connection must not be blank'
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'Use '''' for this server and database, or a libpq connection string.';
	END IF;
	IF create_publication IS NULL OR enabled IS NULL OR publish_via_partition_root IS NULL THEN
		RAISE EXCEPTION '% must not be NULL', CASE WHEN enabled IS NULL THEN 'enabled'
			WHEN publish_via_partition_root IS NULL THEN 'publish_via_partition_root' ELSE 'create_publication' END
			USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass true or false, or omit it.';
	END IF;
	v_conn := laredo._check_connection(connection);
	IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
		IF connection = '' THEN
			RAISE EXCEPTION 'only superusers may create a source with connection => ''''' 
				USING ERRCODE = 'insufficient_privilege',
				      DETAIL = 'An empty connection uses this server''s own local login.',
				      HINT = 'Give a connection string that authenticates with its own password.';
		ELSIF NOT v_conn.has_password THEN
			RAISE EXCEPTION 'password is required'
				USING ERRCODE = 'insufficient_privilege',
				      DETAIL = 'Non-superusers must give a password in the connection string.',
				      HINT = 'Add password=... to the connection string, or ask a superuser to create the source.';
		END IF;
	END IF;
	IF slot_mode IS NULL OR slot_mode NOT IN ('stateful', 'ephemeral') THEN
		RAISE EXCEPTION 'invalid slot_mode "%"', coalesce(slot_mode, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'slot_mode is ''stateful'' (persistent slot, resume) or ''ephemeral'' (temporary slot, full baseline on every start).';
	END IF;
	IF length(slot_name) > 63 THEN
		RAISE EXCEPTION 'slot_name "%" is too long', slot_name
			USING ERRCODE = 'name_too_long', HINT = 'Replication slot names have at most 63 characters.';
	END IF;
	v_slot := coalesce(slot_name, 'laredo_' || source_id || '_' ||
		substr(md5((SELECT system_identifier::text FROM pg_control_system()) || '/' ||
		           (SELECT oid::text FROM pg_database WHERE datname = current_database())), 1, 8));
	IF v_slot !~ '^[a-z0-9_]+$' THEN
		RAISE EXCEPTION 'invalid slot_name "%"', v_slot
			USING ERRCODE = 'invalid_name',
			      HINT = 'Replication slot names may contain only lower-case letters, digits and underscores.';
	END IF;
	IF EXISTS (SELECT FROM laredo.sources s WHERE s.slot_name = v_slot) THEN
		RAISE EXCEPTION 'slot_name "%" is already used by another source', v_slot
			USING ERRCODE = 'duplicate_object', HINT = 'Choose another slot_name.';
	END IF;
	IF publication = '' THEN
		RAISE EXCEPTION 'publication must not be empty'
			USING ERRCODE = 'invalid_name', HINT = 'Omit publication to use <slot_name>_pub.';
	END IF;
	-- a managed publication has a sibling named <publication>_insert_only
	IF length(publication) > (CASE WHEN create_publication THEN 51 ELSE 63 END) THEN
		RAISE EXCEPTION 'publication name "%" is too long', publication
			USING ERRCODE = 'name_too_long',
			      HINT = CASE WHEN create_publication
			                  THEN 'laredo also creates <publication>_insert_only, so the name has at most 51 characters.'
			                  ELSE 'Names have at most 63 characters.' END;
	END IF;
	v_pub := coalesce(publication, v_slot || '_pub');
	v_publish := regexp_split_to_array(lower(trim(coalesce(publish, ''))), '\s*,\s*');
	FOREACH p IN ARRAY v_publish LOOP
		IF p NOT IN ('insert', 'update', 'delete', 'truncate') THEN
			RAISE EXCEPTION 'invalid publish operation "%"', p
				USING ERRCODE = 'invalid_parameter_value',
				      HINT = 'publish is a comma-separated list of insert, update, delete and truncate.';
		END IF;
	END LOOP;
	IF reconnect_max_attempts IS NULL OR reconnect_max_attempts < 0 THEN
		RAISE EXCEPTION 'reconnect_max_attempts must be zero or more, not %', coalesce(reconnect_max_attempts::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value', HINT = 'For example reconnect_max_attempts => 10.';
	END IF;
	PERFORM laredo._check_interval('reconnect_initial_backoff', reconnect_initial_backoff);
	PERFORM laredo._check_interval('reconnect_max_backoff', reconnect_max_backoff);
	IF reconnect_max_backoff < reconnect_initial_backoff THEN
		RAISE EXCEPTION 'reconnect_max_backoff (%) is less than reconnect_initial_backoff (%)',
			reconnect_max_backoff, reconnect_initial_backoff
			USING ERRCODE = 'invalid_parameter_value', HINT = 'Raise reconnect_max_backoff.';
	END IF;
	IF reconnect_backoff_multiplier IS NULL OR reconnect_backoff_multiplier < 1.0
	   OR reconnect_backoff_multiplier = 'NaN'::float8 OR reconnect_backoff_multiplier > 100 THEN
		RAISE EXCEPTION 'reconnect_backoff_multiplier must be between 1 and 100, not %',
			coalesce(reconnect_backoff_multiplier::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value', HINT = 'For example reconnect_backoff_multiplier => 2.0.';
	END IF;

	IF publish_via_partition_root AND NOT create_publication THEN
		RAISE EXCEPTION 'publish_via_partition_root is an option of the publication laredo creates'
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'With create_publication => false, set it on your publication: ALTER PUBLICATION ... SET (publish_via_partition_root = true).';
	END IF;

	INSERT INTO laredo.source_config (source_id, connection, slot_mode, slot_name, publication,
		create_publication, publish, publish_via_partition_root, reconnect_max_attempts,
		reconnect_initial_backoff, reconnect_max_backoff, reconnect_backoff_multiplier, enabled, owner)
	VALUES (source_id, connection, slot_mode, v_slot, v_pub, coalesce(create_publication, true),
		array_to_string(v_publish, ', '), publish_via_partition_root, reconnect_max_attempts,
		reconnect_initial_backoff, reconnect_max_backoff, reconnect_backoff_multiplier,
		coalesce(enabled, true), (SELECT oid FROM pg_roles WHERE rolname = current_user));
	PERFORM laredo._notify_config_change();
END
$$;

-- Views and types with new columns (in the middle: made again).
DROP VIEW laredo.pipelines;
CREATE VIEW laredo.pipelines AS
SELECT p.pipeline_id,
       p.source_id,
       quote_ident(p.source_schema) || '.' || quote_ident(p.source_table) AS source_table,
       p.target_kind,
       quote_ident(p.target_schema) || '.' || quote_ident(p.target_table) AS target,
       CASE WHEN p.error IS NOT NULL THEN 'ERROR'
            WHEN p.paused THEN 'PAUSED'
            WHEN p.baseline_lsn IS NULL THEN 'BASELINE'
            ELSE 'STREAMING' END AS state,
       p.baseline_rows,
       p.baseline_duration,
       p.transactions,
       p.bytes,
       p.inserts,
       p.updates,
       p.deletes,
       p.truncates,
       p.update_missing,
       p.delete_missing,
       p.last_lsn,
       p.last_applied_at,
       p.error AS last_error
FROM laredo.pipeline_config p;
GRANT SELECT ON laredo.pipelines TO PUBLIC;

DROP FUNCTION laredo.source(text);
DROP TYPE laredo.source_info;
DROP VIEW laredo.source_settings;
CREATE TYPE laredo.source_info AS (source_id text, slot_mode text, slot_name name, publication name,
	enabled boolean, state text, worker_pid integer, confirmed_lsn pg_lsn, received_lsn pg_lsn,
	lag_bytes bigint, last_error text, last_error_time timestamptz, last_error_hint text,
	reconnect_attempts integer, next_retry_at timestamptz, restart_lsn pg_lsn,
	confirmed_flush_lsn pg_lsn, wal_status text, retained_wal_bytes bigint, connection text,
	create_publication boolean, publish text, reconnect_max_attempts integer,
	publish_via_partition_root boolean,
	reconnect_initial_backoff interval, reconnect_max_backoff interval,
	reconnect_backoff_multiplier float8, tables text[], pipelines text[], created_at timestamptz);

-- A source's settings, without its connection string: readable by anyone.
CREATE VIEW laredo.source_settings AS
SELECT c.source_id, c.create_publication, c.publish, c.publish_via_partition_root, c.reconnect_max_attempts,
       c.reconnect_initial_backoff, c.reconnect_max_backoff, c.reconnect_backoff_multiplier,
       c.created_at
FROM laredo.source_config c;
GRANT SELECT ON laredo.source_settings TO PUBLIC;

CREATE FUNCTION laredo.source(source_id text)
RETURNS SETOF laredo.source_info
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF NOT EXISTS (SELECT FROM laredo.sources v WHERE v.source_id = source.source_id) THEN
		RAISE EXCEPTION 'source "%" does not exist', coalesce(source.source_id, 'NULL')
			USING ERRCODE = 'undefined_object',
			      HINT = 'SELECT source_id FROM laredo.sources lists the sources of this database.';
	END IF;
	RETURN QUERY
	SELECT v.source_id, v.slot_mode, v.slot_name, v.publication, v.enabled, v.state, v.worker_pid,
	       v.confirmed_lsn, v.received_lsn, v.lag_bytes, v.last_error, v.last_error_time,
	       v.last_error_hint, v.reconnect_attempts, v.next_retry_at, v.restart_lsn,
	       v.confirmed_flush_lsn, v.wal_status, v.retained_wal_bytes, v.connection,
	       c.create_publication, c.publish, c.reconnect_max_attempts, c.publish_via_partition_root,
	       c.reconnect_initial_backoff,
	       c.reconnect_max_backoff, c.reconnect_backoff_multiplier,
	       (SELECT array_agg(t.table_name ORDER BY t.table_name) FROM laredo.source_table_list t
	        WHERE t.source_id = v.source_id),
	       (SELECT array_agg(p.pipeline_id ORDER BY p.pipeline_id) FROM laredo.pipelines p
	        WHERE p.source_id = v.source_id),
	       c.created_at
	FROM laredo.sources v JOIN laredo.source_settings c USING (source_id)
	WHERE v.source_id = source.source_id;
END
$$;

-- The workers restart with the new catalog, from their positions.
UPDATE laredo.source_config c SET config_version = c.config_version + 1;
SELECT laredo._notify_config_change();
