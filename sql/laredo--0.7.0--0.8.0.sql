-- laredo 0.7.0 -> 0.8.0 (ALTER EXTENSION laredo UPDATE).
--
-- What 0.8.0 adds to the catalog: repair.  verify_pipeline takes repair
-- (replace the rows that differ with the source's), laredo.repair_pipeline
-- asks for it, and laredo.verifications records it (repair, repaired).
-- A verification compares a hash of each range first (hashed_ranges).
-- And laredo.verify_source: every pipeline of a source verified (or
-- repaired) in one request.
-- Nothing that exists changes otherwise.

\echo Use "ALTER EXTENSION laredo UPDATE TO '0.8.0'" to load this file. \quit

ALTER TABLE laredo.verifications ADD COLUMN repair boolean NOT NULL DEFAULT false,
	ADD COLUMN repaired bigint NOT NULL DEFAULT 0, ADD COLUMN hashed_ranges bigint NOT NULL DEFAULT 0;

-- verify_pipeline: repair (a new argument, so a new function).
DROP FUNCTION laredo.verify_pipeline(text, integer, integer);
CREATE FUNCTION laredo.verify_pipeline(pipeline_id text, chunk_rows integer DEFAULT 10000,
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
	INSERT INTO laredo.verifications (pipeline_id, chunk_rows, max_reported, repair)
	VALUES (p.pipeline_id, verify_pipeline.chunk_rows, verify_pipeline.max_reported, verify_pipeline.repair)
	RETURNING verification_id INTO v_id;
	PERFORM laredo._source_changed(v_source);
	RETURN v_id;
END
$$;

-- 0.8.0: a verification that repairs what it finds (verify_pipeline with
-- repair => true): the mirror's rows that differ from the source's are
-- replaced, deleted or added, range by range at exact positions of the
-- stream, while the stream goes on; nothing else of the mirror is written.
CREATE FUNCTION laredo.repair_pipeline(pipeline_id text, chunk_rows integer DEFAULT 10000,
                                       max_reported integer DEFAULT 1000)
RETURNS bigint
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
RETURN laredo.verify_pipeline(pipeline_id, chunk_rows, max_reported, repair => true);

-- 0.8.0: every pipeline of a source that can be verified (a plain mirror,
-- copied, not being verified) is asked for a verification (or a repair), in
-- one request; the others are named in a NOTICE with the reason.  Returns
-- the pipelines and their verifications' ids.
CREATE FUNCTION laredo.verify_source(source_id text, chunk_rows integer DEFAULT 10000,
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
			      HINT = 'Verification compares a plain mirror (a table target without columns, soft_delete, metadata_columns or where), once its copy is done and while no other verification of it runs.';
	END IF;
END
$$;
