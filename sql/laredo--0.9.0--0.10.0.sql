-- laredo 0.9.0 -> 0.10.0 (ALTER EXTENSION laredo UPDATE).
--
-- What 0.10.0 adds to the catalog: the option copy_chunks_from (the size on
-- the source from which a new target, or a new baseline, of a pipeline that
-- does not say "copy" is copied in key ranges; 1GB unless told), which
-- create_pipeline and alter_pipeline take; and verify_pipeline (and
-- verify_source) take table targets with columns, soft_delete,
-- metadata_columns and where.  Nothing that exists changes otherwise; the library
-- copies those tables in key ranges from this version on (before it, in one
-- snapshot).

\echo Use "ALTER EXTENSION laredo UPDATE TO '0.10.0'" to load this file. \quit

CREATE OR REPLACE FUNCTION laredo._check_options(target_kind text, options jsonb) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	k text;
	v_retain interval;
BEGIN
	FOR k IN SELECT jsonb_object_keys(options) LOOP
		IF NOT (k IN ('where', 'children') OR (target_kind = 'changelog' AND k = 'retain') OR (target_kind = 'function' AND k = 'on_error')
		        OR (target_kind = 'table' AND k IN ('columns', 'soft_delete', 'metadata_columns', 'schema_changes', 'dropped_columns', 'copy', 'chunk_rows', 'copy_rate', 'copy_rate_bytes', 'copy_statement_timeout', 'copy_max_lag', 'copy_readers', 'copy_chunks_from'))) THEN
			RAISE EXCEPTION 'unknown option "%" for target_kind %', k, target_kind
				USING ERRCODE = 'invalid_parameter_value',
				      HINT = CASE target_kind WHEN 'changelog' THEN 'A changelog target takes {"retain": "7 days"}.'
				                  WHEN 'function' THEN 'A function target takes {"on_error": "stop"} or {"on_error": "skip"}.'
				                  ELSE 'A table target takes {"columns": [...], "soft_delete": true, "metadata_columns": true, "schema_changes": "follow", "dropped_columns": "error", "copy": "chunks", "chunk_rows": 10000, "copy_rate": 50000, "copy_rate_bytes": "20MB", "copy_statement_timeout": "30s", "copy_max_lag": "64MB", "copy_readers": 2, "copy_chunks_from": "1GB"}.' END;
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
		IF k NOT IN ('schema_changes', 'dropped_columns', 'retain', 'copy', 'chunk_rows', 'copy_rate', 'copy_rate_bytes', 'copy_statement_timeout', 'copy_max_lag', 'copy_readers', 'copy_chunks_from') THEN
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

CREATE OR REPLACE FUNCTION laredo.verify_pipeline(pipeline_id text, chunk_rows integer DEFAULT 10000,
                                       max_reported integer DEFAULT 1000, repair boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	v_source text;
	p laredo.pipeline_config;
	v_id bigint;
BEGIN
	PERFORM laredo._require_admin('verify a pipeline');
	v_source := laredo._pipeline_source(pipeline_id);
	SELECT * INTO p FROM laredo.pipeline_config c WHERE c.pipeline_id = verify_pipeline.pipeline_id;
	IF chunk_rows IS NULL OR chunk_rows NOT BETWEEN 1 AND 10000000 THEN
		RAISE EXCEPTION 'invalid chunk_rows %', coalesce(chunk_rows::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'chunk_rows is the rows of one key range compared, from 1 to 10000000 (default 10000).';
	END IF;
	IF repair IS NULL THEN
		RAISE EXCEPTION 'invalid repair NULL'
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'repair is true (replace the rows that differ with the source''s) or false (the default: only report them).';
	END IF;
	IF max_reported IS NULL OR max_reported NOT BETWEEN 0 AND 10000000 THEN
		RAISE EXCEPTION 'invalid max_reported %', coalesce(max_reported::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'max_reported is how many differing keys laredo.verification_rows lists at most, from 0 to 10000000 (default 1000); the counts are always exact.';
	END IF;
	IF p.target_kind <> 'table' THEN
		RAISE EXCEPTION 'pipeline "%" cannot be verified yet', p.pipeline_id
			USING ERRCODE = 'feature_not_supported',
			      DETAIL = 'Verification compares a table target (with columns, soft_delete, metadata_columns and where since 0.10.0) with its source.';
	END IF;
	IF p.baseline_lsn IS NULL THEN
		RAISE EXCEPTION 'pipeline "%" is being copied', p.pipeline_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
			      HINT = 'Verify it once its copy is done: CALL laredo.wait_for_catchup(source_id) waits for it.';
	END IF;
	IF EXISTS (SELECT FROM laredo.verifications v WHERE v.pipeline_id = p.pipeline_id AND v.state IN ('requested', 'running')) THEN
		RAISE EXCEPTION 'pipeline "%" is being verified', p.pipeline_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
			      HINT = 'SELECT * FROM laredo.verifications WHERE state IN (''requested'', ''running'') shows it.';
	END IF;
	INSERT INTO laredo.verifications (pipeline_id, chunk_rows, max_reported, repair)
	VALUES (p.pipeline_id, verify_pipeline.chunk_rows, verify_pipeline.max_reported, verify_pipeline.repair)
	RETURNING verification_id INTO v_id;
	PERFORM laredo._source_changed(v_source);
	RETURN v_id;
END
$$;

CREATE OR REPLACE FUNCTION laredo.verify_source(source_id text, chunk_rows integer DEFAULT 10000,
                                     max_reported integer DEFAULT 1000, repair boolean DEFAULT false)
RETURNS TABLE (pipeline_id text, verification_id bigint)
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	s laredo.source_config;
	v_pipeline text;
	v_msg text;
	v_n integer := 0;
BEGIN
	PERFORM laredo._require_admin('verify a source');
	s := laredo._source(source_id);
	FOR v_pipeline IN SELECT p.pipeline_id FROM laredo.pipeline_config p
	                  WHERE p.source_id = s.source_id ORDER BY p.pipeline_id LOOP
		BEGIN
			verification_id := laredo.verify_pipeline(v_pipeline, chunk_rows, max_reported, repair);
			pipeline_id := v_pipeline;
			v_n := v_n + 1;
			RETURN NEXT;
		EXCEPTION WHEN feature_not_supported OR object_not_in_prerequisite_state THEN
			GET STACKED DIAGNOSTICS v_msg = MESSAGE_TEXT;
			RAISE NOTICE 'pipeline "%" is not verified: %', v_pipeline, v_msg;
		END;
	END LOOP;
	IF v_n = 0 THEN
		RAISE EXCEPTION 'source "%" has no pipeline that can be verified now', s.source_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
			      HINT = 'Verification compares a table target, once its copy is done and while no other verification of it runs.';
	END IF;
END
$$;
