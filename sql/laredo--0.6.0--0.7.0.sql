-- laredo 0.6.0 -> 0.7.0 (ALTER EXTENSION laredo UPDATE).
--
-- What 0.7.0 adds to the catalog: the table options copy_rate_bytes,
-- copy_statement_timeout and copy_max_lag (a copy in key ranges bounds the
-- bytes it reads a second and each read on the source, and pauses while the
-- stream lags), the count of a copy's failed reads
-- (laredo.pipeline_copies.failed_reads, shown by laredo.copies), and online
-- verification (laredo.verify_pipeline, laredo.verifications,
-- laredo.verification_rows).  Nothing that exists changes.

\echo Use "ALTER EXTENSION laredo UPDATE TO '0.7.0'" to load this file. \quit

ALTER TABLE laredo.pipeline_copies ADD COLUMN failed_reads bigint NOT NULL DEFAULT 0;

-- 0.7.0: whether an option is a duration laredo takes (milliseconds, or a
-- text an interval reads: '30s', '500ms'), from 0 to 24 days; and a size
-- (bytes, or a text pg_size_bytes reads: '64MB'), 0 or more.
CREATE FUNCTION laredo._option_ms_valid(v jsonb) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	i interval;
BEGIN
	IF jsonb_typeof(v) = 'number' THEN
		RETURN (v #>> '{}')::numeric = trunc((v #>> '{}')::numeric) AND (v #>> '{}')::numeric BETWEEN 0 AND 2073600000;
	ELSIF jsonb_typeof(v) = 'string' THEN
		BEGIN
			i := (v #>> '{}')::interval;
		EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR interval_field_overflow THEN
			RETURN false;
		END;
		RETURN i >= interval '0' AND i <= interval '24 days';
	END IF;
	RETURN false;
END
$$;

CREATE FUNCTION laredo._option_bytes_valid(v jsonb) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	b bigint;
BEGIN
	IF jsonb_typeof(v) = 'number' THEN
		RETURN (v #>> '{}')::numeric = trunc((v #>> '{}')::numeric) AND (v #>> '{}')::numeric BETWEEN 0 AND 9223372036854775807;
	ELSIF jsonb_typeof(v) = 'string' THEN
		BEGIN
			b := pg_size_bytes(v #>> '{}');
		EXCEPTION WHEN invalid_parameter_value OR numeric_value_out_of_range THEN
			RETURN false;
		END;
		RETURN b >= 0;
	END IF;
	RETURN false;
END
$$;

-- _check_options: copy_rate_bytes, copy_statement_timeout and copy_max_lag.
CREATE OR REPLACE FUNCTION laredo._check_options(target_kind text, options jsonb) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	k text;
	v_retain interval;
BEGIN
	FOR k IN SELECT jsonb_object_keys(options) LOOP
		IF NOT (k IN ('where', 'children') OR (target_kind = 'changelog' AND k = 'retain') OR (target_kind = 'function' AND k = 'on_error')
		        OR (target_kind = 'table' AND k IN ('columns', 'soft_delete', 'metadata_columns', 'schema_changes', 'dropped_columns', 'copy', 'chunk_rows', 'copy_rate', 'copy_rate_bytes', 'copy_statement_timeout', 'copy_max_lag'))) THEN
			RAISE EXCEPTION 'unknown option "%" for target_kind %', k, target_kind
				USING ERRCODE = 'invalid_parameter_value',
				      HINT = CASE target_kind WHEN 'changelog' THEN 'A changelog target takes {"retain": "7 days"}.'
				                  WHEN 'function' THEN 'A function target takes {"on_error": "stop"} or {"on_error": "skip"}.'
				                  ELSE 'A table target takes {"columns": [...], "soft_delete": true, "metadata_columns": true, "schema_changes": "follow", "dropped_columns": "error", "copy": "chunks", "chunk_rows": 10000, "copy_rate": 50000, "copy_rate_bytes": "20MB", "copy_statement_timeout": "30s", "copy_max_lag": "64MB"}.' END;
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
			      HINT = 'copy is "snapshot" (the default: the table in one COPY, one snapshot on the source) or "chunks" (key ranges, each read in a short transaction while the stream goes on; a table added to a running source).';
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

-- alter_pipeline: they may change.
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
		IF k NOT IN ('schema_changes', 'dropped_columns', 'retain', 'copy', 'chunk_rows', 'copy_rate', 'copy_rate_bytes', 'copy_statement_timeout', 'copy_max_lag') THEN
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

-- laredo.copies: failed_reads.
CREATE OR REPLACE VIEW laredo.copies AS
SELECT c.pipeline_id,
       p.source_id,
       quote_ident(p.source_schema) || '.' || quote_ident(p.source_table) AS source_table,
       CASE WHEN c.finished_at IS NOT NULL THEN 'done'
            WHEN p.baseline_lsn IS NULL THEN 'copying'
            ELSE 'stopped' END AS state,
       c.key_columns,
       c.chunk_rows,
       c.ranges,
       c.rows,
       c.estimated_rows,
       CASE WHEN c.finished_at IS NOT NULL THEN 100.0
            WHEN c.estimated_rows > 0 THEN round(100.0 * least(c.rows, c.estimated_rows) / c.estimated_rows, 1) END
           AS percent,
       c.rereads,
       c.reread_rows,
       c.frontier,
       c.started_at,
       c.last_merge_at,
       c.last_merge_lsn,
       c.finished_at,
       CASE WHEN c.finished_at IS NULL AND c.rows > 0 AND c.estimated_rows > c.rows AND c.last_merge_at > c.started_at
            THEN (c.last_merge_at - c.started_at) * ((c.estimated_rows - c.rows)::float8 / c.rows) END AS time_left,
       c.failed_reads
FROM laredo.pipeline_copies c JOIN laredo.pipeline_config p USING (pipeline_id);

-- 0.7.0: online verification of a pipeline (chunk.c): its table compared
-- with the source's, key range by key range, each range at one exact
-- position of the stream while the stream goes on.  One row per request;
-- the counts are exact, verification_rows lists the keys that differ (at
-- most max_reported of them).
CREATE TABLE laredo.verifications (
	verification_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	pipeline_id text NOT NULL REFERENCES laredo.pipeline_config ON UPDATE CASCADE ON DELETE CASCADE,
	state text NOT NULL DEFAULT 'requested' CHECK (state IN ('requested', 'running', 'done', 'failed')),
	chunk_rows integer NOT NULL,
	max_reported integer NOT NULL,
	requested_at timestamptz NOT NULL DEFAULT now(),
	started_at timestamptz,
	finished_at timestamptz,
	ranges bigint NOT NULL DEFAULT 0,
	rows_compared bigint NOT NULL DEFAULT 0,
	missing bigint NOT NULL DEFAULT 0,
	extra bigint NOT NULL DEFAULT 0,
	different bigint NOT NULL DEFAULT 0,
	rereads bigint NOT NULL DEFAULT 0,
	first_lsn pg_lsn,
	last_lsn pg_lsn,
	error text
);
REVOKE ALL ON laredo.verifications FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON laredo.verifications TO laredo_admin;
SELECT pg_catalog.pg_extension_config_dump('laredo.verifications', '');
SELECT pg_catalog.pg_extension_config_dump('laredo.verifications_verification_id_seq', '');

CREATE TABLE laredo.verification_rows (
	verification_id bigint NOT NULL REFERENCES laredo.verifications ON DELETE CASCADE,
	kind text NOT NULL CHECK (kind IN ('missing', 'extra', 'different')),
	key text[] NOT NULL,
	at_lsn pg_lsn NOT NULL
);
CREATE INDEX ON laredo.verification_rows (verification_id);
REVOKE ALL ON laredo.verification_rows FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON laredo.verification_rows TO laredo_admin;
SELECT pg_catalog.pg_extension_config_dump('laredo.verification_rows', '');

-- Asks the pipeline's worker to compare its table target with the source,
-- range by range (chunk_rows rows each), at exact positions of the stream;
-- returns the verification's id (laredo.verifications has the outcome).  A
-- plain mirror whose source table has a key a copy in ranges can use; the
-- worker restarts to take the request.
CREATE FUNCTION laredo.verify_pipeline(pipeline_id text, chunk_rows integer DEFAULT 10000,
                                       max_reported integer DEFAULT 1000)
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
	IF max_reported IS NULL OR max_reported NOT BETWEEN 0 AND 10000000 THEN
		RAISE EXCEPTION 'invalid max_reported %', coalesce(max_reported::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'max_reported is how many differing keys laredo.verification_rows lists at most, from 0 to 10000000 (default 1000); the counts are always exact.';
	END IF;
	IF p.target_kind <> 'table' OR p.options ?| ARRAY['columns', 'soft_delete', 'metadata_columns', 'where'] THEN
		RAISE EXCEPTION 'pipeline "%" cannot be verified yet', p.pipeline_id
			USING ERRCODE = 'feature_not_supported',
			      DETAIL = 'Verification compares a plain mirror (a table target without columns, soft_delete, metadata_columns or where) with its source.';
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
	INSERT INTO laredo.verifications (pipeline_id, chunk_rows, max_reported)
	VALUES (p.pipeline_id, verify_pipeline.chunk_rows, verify_pipeline.max_reported)
	RETURNING verification_id INTO v_id;
	PERFORM laredo._source_changed(v_source);
	RETURN v_id;
END
$$;

-- Waits until the pipeline's latest verification is done or failed (its
-- state), at most timeout; call it once the transaction that asked for the
-- verification has committed (its worker cannot see it before).
CREATE FUNCTION laredo.wait_for_verification(pipeline_id text, timeout interval DEFAULT '1h')
RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	v_deadline timestamptz;
	v_state text;
	v_id bigint;
BEGIN
	PERFORM laredo._require_admin('wait for a verification');
	PERFORM laredo._pipeline_source(pipeline_id);
	IF timeout IS NULL OR timeout < interval '0' THEN
		RAISE EXCEPTION 'invalid timeout %', coalesce(timeout::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value', HINT = 'timeout is an interval of 0 or more, such as ''10min''.';
	END IF;
	v_deadline := clock_timestamp() + timeout;
	LOOP
		-- each statement of this volatile function sees what committed before it
		SELECT v.verification_id, v.state INTO v_id, v_state FROM laredo.verifications v
		WHERE v.pipeline_id = wait_for_verification.pipeline_id ORDER BY v.verification_id DESC LIMIT 1;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'pipeline "%" has no verification', pipeline_id
				USING ERRCODE = 'undefined_object',
				      HINT = format('SELECT laredo.verify_pipeline(%L) asks for one.', pipeline_id);
		END IF;
		EXIT WHEN v_state IN ('done', 'failed');
		IF clock_timestamp() >= v_deadline THEN
			RAISE EXCEPTION 'verification % of pipeline "%" did not finish within %', v_id, pipeline_id, timeout
				USING ERRCODE = 'object_not_in_prerequisite_state',
				      HINT = format('SELECT * FROM laredo.verifications WHERE verification_id = %s shows how far it is.', v_id);
		END IF;
		PERFORM pg_sleep(0.1);
	END LOOP;
	RETURN v_state;
END
$$;
