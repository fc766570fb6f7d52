-- laredo 0.10.0 -> 0.11.0 (ALTER EXTENSION laredo UPDATE).
--
-- What 0.11.0 changes in the catalog: a mirror that create_pipeline makes
-- gives each column the source column's collation where that is not its
-- type's (before, every column took this database's default), so that it
-- sorts and compares as the source does, and a text key in such a
-- collation is copied and verified in key ranges (_describe_source_table's
-- type_name carries the collation); a collation missing here is an error
-- that says so.  Mirrors made before keep their collations.  The option
-- chunk_bytes (a key range's rows at most, as text: 64MB unless told),
-- which create_pipeline and alter_pipeline take.  resync_pipeline retries
-- a source in ERROR, as resume_pipeline does.  laredo.verification_ranges
-- lists the key ranges a verification found different.

\echo Use "ALTER EXTENSION laredo UPDATE TO '0.11.0'" to load this file. \quit

-- 0.11.0: the key ranges a verification found different, each with its
-- bounds (lo excluded, hi included; NULL: open), the counts of its rows
-- missing, extra and different, and the position it was compared at.
CREATE TABLE laredo.verification_ranges (
	verification_id bigint NOT NULL REFERENCES laredo.verifications ON DELETE CASCADE,
	lo text[],
	hi text[],
	missing bigint NOT NULL,
	extra bigint NOT NULL,
	different bigint NOT NULL,
	at_lsn pg_lsn NOT NULL
);
CREATE INDEX ON laredo.verification_ranges (verification_id);
REVOKE ALL ON laredo.verification_ranges FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON laredo.verification_ranges TO laredo_admin;
SELECT pg_catalog.pg_extension_config_dump('laredo.verification_ranges', '');

CREATE OR REPLACE FUNCTION laredo._describe_source_table(connection text, schema_name name, table_name name,
	OUT attname name, OUT type_name text, OUT not_null boolean, OUT is_key boolean, OUT identity "char",
	OUT relkind "char")
RETURNS SETOF record
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	r json;
BEGIN
	FOR r IN SELECT * FROM laredo._source_query(connection, format($q$
		SELECT a.attname AS n,
		       pg_catalog.format_type(a.atttypid, a.atttypmod) ||
		       CASE WHEN a.attcollation <> ty.typcollation
		            THEN ' COLLATE ' || pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname)
		            ELSE '' END AS t,
		       a.attnotnull AS nn,
		       (i.indkey IS NOT NULL AND a.attnum = ANY (i.indkey)) AS k,
		       c.relreplident::text AS ri, c.relkind::text AS rk
		FROM pg_catalog.pg_class c
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
		     AND a.attgenerated = ''
		LEFT JOIN pg_catalog.pg_type ty ON ty.oid = a.atttypid
		LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
		LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
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
			RAISE EXCEPTION 'cannot create target %.%: a column type or collation of the source does not exist here',
				quote_ident(tn.schema_name), quote_ident(tn.table_name)
				USING ERRCODE = 'undefined_object', DETAIL = SQLERRM,
				      HINT = 'Create the type or the collation in this database, or create the target table yourself.';
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

CREATE OR REPLACE FUNCTION laredo._check_options(target_kind text, options jsonb) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	k text;
	v_retain interval;
	v_bytes numeric;
BEGIN
	FOR k IN SELECT jsonb_object_keys(options) LOOP
		IF NOT (k IN ('where', 'children') OR (target_kind = 'changelog' AND k = 'retain') OR (target_kind = 'function' AND k = 'on_error')
		        OR (target_kind = 'table' AND k IN ('columns', 'soft_delete', 'metadata_columns', 'schema_changes', 'dropped_columns', 'copy', 'chunk_rows', 'chunk_bytes', 'copy_rate', 'copy_rate_bytes', 'copy_statement_timeout', 'copy_max_lag', 'copy_readers', 'copy_chunks_from'))) THEN
			RAISE EXCEPTION 'unknown option "%" for target_kind %', k, target_kind
				USING ERRCODE = 'invalid_parameter_value',
				      HINT = CASE target_kind WHEN 'changelog' THEN 'A changelog target takes {"retain": "7 days"}.'
				                  WHEN 'function' THEN 'A function target takes {"on_error": "stop"} or {"on_error": "skip"}.'
				                  ELSE 'A table target takes {"columns": [...], "soft_delete": true, "metadata_columns": true, "schema_changes": "follow", "dropped_columns": "error", "copy": "chunks", "chunk_rows": 10000, "chunk_bytes": "64MB", "copy_rate": 50000, "copy_rate_bytes": "20MB", "copy_statement_timeout": "30s", "copy_max_lag": "64MB", "copy_readers": 2, "copy_chunks_from": "1GB"}.' END;
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
	IF options ? 'schema_changes' AND (jsonb_typeof(options->'schema_changes') <> 'string'
	   OR options->>'schema_changes' NOT IN ('follow', 'error', 'ignore')) THEN
		RAISE EXCEPTION 'invalid schema_changes %', options->'schema_changes'
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'schema_changes is "follow" (the default: columns added or widened on the source are added or widened here), "error" (any change stops the source) or "ignore" (as PostgreSQL''s subscriber: columns mapped by name, nothing changed here).';
	END IF;
	IF options ? 'dropped_columns' AND (jsonb_typeof(options->'dropped_columns') <> 'string'
	   OR options->>'dropped_columns' NOT IN ('error', 'keep')) THEN
		RAISE EXCEPTION 'invalid dropped_columns %', options->'dropped_columns'
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'dropped_columns is "error" (the default: a column dropped on the source stops the source) or "keep" (the target keeps it; new rows get its default).';
	END IF;
	IF options ? 'copy' AND (jsonb_typeof(options->'copy') <> 'string'
	   OR options->>'copy' NOT IN ('snapshot', 'chunks')) THEN
		RAISE EXCEPTION 'invalid copy %', options->'copy'
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'copy is "chunks" (key ranges, each read in a short transaction while the stream goes on) or "snapshot" (the table in one COPY, one snapshot on the source); without it, a target that holds rows (a pipeline sent back to copy) is copied in key ranges, and a new target (or a new baseline) in key ranges when its source table is copy_chunks_from (1GB) or larger, else in one snapshot.';
	END IF;
	IF options ? 'chunk_rows' AND (jsonb_typeof(options->'chunk_rows') <> 'number'
	   OR (options->>'chunk_rows')::numeric <> trunc((options->>'chunk_rows')::numeric)
	   OR (options->>'chunk_rows')::numeric NOT BETWEEN 1 AND 10000000) THEN
		RAISE EXCEPTION 'invalid chunk_rows %', options->'chunk_rows'
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'chunk_rows is the rows of one key range, a whole number from 1 to 10000000 (default 10000).';
	END IF;
	IF options ? 'chunk_bytes' THEN
		IF laredo._option_bytes_valid(options->'chunk_bytes') THEN
			v_bytes := CASE jsonb_typeof(options->'chunk_bytes') WHEN 'number' THEN (options->>'chunk_bytes')::numeric
			           ELSE pg_size_bytes(options->>'chunk_bytes') END;
		END IF;
		IF v_bytes IS NULL OR v_bytes NOT BETWEEN 1 AND 1073741824 THEN
			RAISE EXCEPTION 'invalid chunk_bytes %', options->'chunk_bytes'
				USING ERRCODE = 'invalid_parameter_value',
				      HINT = 'chunk_bytes is the most a key range holds of the source''s rows (as text; a range ends at chunk_rows or chunk_bytes, whichever comes first, and holds one row at least): bytes, or a text with a unit (''64MB'', the default; ''1MB''), up to 1GB.';
		END IF;
	END IF;
	IF options ? 'copy_rate' AND (jsonb_typeof(options->'copy_rate') <> 'number'
	   OR (options->>'copy_rate')::numeric <> trunc((options->>'copy_rate')::numeric)
	   OR (options->>'copy_rate')::numeric NOT BETWEEN 0 AND 2000000000) THEN
		RAISE EXCEPTION 'invalid copy_rate %', options->'copy_rate'
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'copy_rate is the rows per second a copy in key ranges reads from the source at most, a whole number (0, the default: no limit).';
	END IF;
	IF options ? 'copy_readers' AND (jsonb_typeof(options->'copy_readers') <> 'number'
	   OR (options->>'copy_readers')::numeric <> trunc((options->>'copy_readers')::numeric)
	   OR (options->>'copy_readers')::numeric NOT BETWEEN 1 AND 16) THEN
		RAISE EXCEPTION 'invalid copy_readers %', options->'copy_readers'
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'copy_readers is the connections that read a copy''s key ranges on the source at once, a whole number from 1 to 16 (default 2; a copy with a rate reads on one).';
	END IF;
	IF options ? 'copy_statement_timeout' AND NOT laredo._option_ms_valid(options->'copy_statement_timeout') THEN
		RAISE EXCEPTION 'invalid copy_statement_timeout %', options->'copy_statement_timeout'
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'copy_statement_timeout bounds each read of a key range on the source: milliseconds, or a text with a unit (''30s'', the default; ''500ms''), from 0 (no limit) to 24 days.';
	END IF;
	IF options ? 'copy_rate_bytes' AND NOT laredo._option_bytes_valid(options->'copy_rate_bytes') THEN
		RAISE EXCEPTION 'invalid copy_rate_bytes %', options->'copy_rate_bytes'
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'copy_rate_bytes is the bytes per second a copy in key ranges reads from the source at most: bytes, or a text with a unit (''20MB''), 0 (the default) for no limit.';
	END IF;
	IF options ? 'copy_chunks_from' AND NOT laredo._option_bytes_valid(options->'copy_chunks_from') THEN
		RAISE EXCEPTION 'invalid copy_chunks_from %', options->'copy_chunks_from'
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'copy_chunks_from is the size on the source (pg_table_size) from which a table whose pipeline does not say copy is copied in key ranges: bytes, or a text with a unit (''1GB'', the default; ''200MB''), 0 for every table whose key allows it.';
	END IF;
	IF options ? 'copy_max_lag' AND NOT laredo._option_bytes_valid(options->'copy_max_lag') THEN
		RAISE EXCEPTION 'invalid copy_max_lag %', options->'copy_max_lag'
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'copy_max_lag pauses a copy in key ranges while the stream is that far behind the source: bytes, or a text with a unit (''64MB'', the default; ''1GB''), 0 for no limit.';
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

CREATE OR REPLACE FUNCTION laredo.alter_pipeline(pipeline_id text, options jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p laredo.pipeline_config;
	k text;
	v_new jsonb;
BEGIN
	PERFORM laredo._require_admin('alter a pipeline');
	SELECT * INTO p FROM laredo.pipeline_config c WHERE c.pipeline_id = alter_pipeline.pipeline_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'pipeline "%" does not exist', alter_pipeline.pipeline_id
			USING ERRCODE = 'undefined_object', HINT = 'See laredo.pipelines for the pipelines of this database.';
	END IF;
	IF options IS NULL OR jsonb_typeof(options) <> 'object' THEN
		RAISE EXCEPTION 'options must be a jsonb object' USING ERRCODE = 'invalid_parameter_value',
			HINT = 'For example options => ''{"dropped_columns": "keep"}''.';
	END IF;
	FOR k IN SELECT jsonb_object_keys(options) LOOP
		IF k NOT IN ('schema_changes', 'dropped_columns', 'retain', 'copy', 'chunk_rows', 'chunk_bytes', 'copy_rate', 'copy_rate_bytes', 'copy_statement_timeout', 'copy_max_lag', 'copy_readers', 'copy_chunks_from') THEN
			RAISE EXCEPTION 'option "%" of pipeline "%" cannot be changed', k, p.pipeline_id
				USING ERRCODE = 'feature_not_supported',
				      DETAIL = 'It shapes the target or its copy.',
				      HINT = 'Drop the pipeline and create it again with the new option.';
		END IF;
	END LOOP;
	-- a JSON null removes an option (its default applies again)
	v_new := jsonb_strip_nulls(p.options || options);
	PERFORM laredo._check_options(p.target_kind, v_new);
	UPDATE laredo.pipeline_config c SET options = v_new WHERE c.pipeline_id = p.pipeline_id
		OR c.parent_pipeline = p.pipeline_id;
	PERFORM laredo._source_changed(p.source_id);
END
$$;

CREATE OR REPLACE FUNCTION laredo.resync_pipeline(pipeline_id text)
RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	v_source text;
BEGIN
	PERFORM laredo._require_admin('resynchronise a pipeline');
	v_source := laredo._pipeline_source(pipeline_id);
	UPDATE laredo.pipeline_config p SET baseline_lsn = NULL, error = NULL, error_time = NULL
	WHERE p.pipeline_id = resync_pipeline.pipeline_id;
	UPDATE laredo.source_config c SET error = NULL, error_hint = NULL, error_time = NULL
	WHERE c.source_id = v_source AND c.error IS NOT NULL;
	PERFORM laredo._source_changed(v_source);
END
$$;
