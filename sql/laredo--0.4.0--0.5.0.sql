-- laredo 0.4.0 -> 0.5.0 (ALTER EXTENSION laredo UPDATE).
--
-- What 0.5.0 adds to the catalog: laredo.pipeline_columns (the source shape
-- each pipeline's target was mapped to), laredo.schema_changes (what laredo
-- applied or recorded when a source table changed shape), the table
-- options schema_changes and dropped_columns, and laredo.alter_pipeline.
-- The pipelines that exist have no recorded shape yet: each records its
-- source's shape at its next Relation message and follows from then on.

\echo Use "ALTER EXTENSION laredo UPDATE TO '0.5.0'" to load this file. \quit

-- 0.5.0: the shape of each source relation a pipeline's target was last
-- mapped to (a leaf partition's own, when the source publishes leaf by
-- leaf): each published column, its number on the source, its type and
-- type modifier.  The stream's Relation messages are compared with it; the
-- source's column numbers tell a rename from a drop and an add.  Recorded
-- by the baseline and after each schema change (schema_changes.c).
CREATE TABLE laredo.pipeline_columns (
	pipeline_id text NOT NULL REFERENCES laredo.pipeline_config ON UPDATE CASCADE ON DELETE CASCADE,
	relation text NOT NULL,
	attname name NOT NULL,
	attnum smallint,
	type_oid oid NOT NULL,
	typmod integer NOT NULL,
	-- the source table's pg_class.relnatts then: a column numbered above it
	-- was added later
	source_natts smallint NOT NULL,
	PRIMARY KEY (pipeline_id, relation, attname)
);
REVOKE ALL ON laredo.pipeline_columns FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON laredo.pipeline_columns TO laredo_admin;
SELECT pg_catalog.pg_extension_config_dump('laredo.pipeline_columns', '');

-- 0.5.0: each schema change of a source table that reached a pipeline:
-- what the source did, at which position, and the statement laredo ran on
-- the target in the transaction that applied the first change of the new
-- shape (NULL: nothing to run, or only recorded: a change log).
CREATE TABLE laredo.schema_changes (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	pipeline_id text NOT NULL,
	source_lsn pg_lsn,
	applied_at timestamptz NOT NULL DEFAULT now(),
	change text NOT NULL,
	statement text
);
CREATE INDEX ON laredo.schema_changes (pipeline_id, id);
REVOKE ALL ON laredo.schema_changes FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON laredo.schema_changes TO laredo_admin;
SELECT pg_catalog.pg_extension_config_dump('laredo.schema_changes', '');
SELECT pg_catalog.pg_extension_config_dump('laredo.schema_changes_id_seq', '');

CREATE OR REPLACE FUNCTION laredo._check_options(target_kind text, options jsonb) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	k text;
	v_retain interval;
BEGIN
	FOR k IN SELECT jsonb_object_keys(options) LOOP
		IF NOT (k IN ('where', 'children') OR (target_kind = 'changelog' AND k = 'retain') OR (target_kind = 'function' AND k = 'on_error')
		        OR (target_kind = 'table' AND k IN ('columns', 'soft_delete', 'metadata_columns', 'schema_changes', 'dropped_columns'))) THEN
			RAISE EXCEPTION 'unknown option "%" for target_kind %', k, target_kind
				USING ERRCODE = 'invalid_parameter_value',
				      HINT = CASE target_kind WHEN 'changelog' THEN 'A changelog target takes {"retain": "7 days"}.'
				                  WHEN 'function' THEN 'A function target takes {"on_error": "stop"} or {"on_error": "skip"}.'
				                  ELSE 'A table target takes {"columns": [...], "soft_delete": true, "metadata_columns": true, "schema_changes": "follow", "dropped_columns": "error"}.' END;
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

-- Changes the options of a pipeline that may change while it runs
-- (schema_changes, dropped_columns, and a change log's retain); the others
-- shape the target and its copy: drop the pipeline and create it again.
CREATE FUNCTION laredo.alter_pipeline(pipeline_id text, options jsonb)
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
		IF k NOT IN ('schema_changes', 'dropped_columns', 'retain') THEN
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

-- _is_copy's body (SQL-standard) depends on source_config's row type, which
-- ALTER TABLE may not change under it: it is made again, the same.
DROP FUNCTION laredo._is_copy(laredo.source_config);
ALTER TABLE laredo.source_config ADD COLUMN sequence_sync_interval interval
	CHECK (sequence_sync_interval >= interval '1 second');
CREATE FUNCTION laredo._is_copy(s laredo.source_config) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
RETURN s.home_system_identifier IS DISTINCT FROM laredo._system_identifier()
	OR s.home_database_oid IS DISTINCT FROM (SELECT oid FROM pg_database WHERE datname = current_database());

-- sequence_sync_interval: NULL (off) or at least a second.
CREATE FUNCTION laredo._check_sequence_sync_interval(v interval) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF v IS NOT NULL AND v < interval '1 second' AND v <> interval '0' THEN
		RAISE EXCEPTION 'invalid sequence_sync_interval %', v
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'Give an interval of at least 1 second, or 0 to stop (alter_source).';
	END IF;
END
$$;

-- create_source and alter_source take sequence_sync_interval.
DROP FUNCTION laredo.create_source(text, text, text, text, text, boolean, text, integer, interval,
	interval, float8, boolean, boolean, text, boolean, text);
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
	publish_via_partition_root boolean DEFAULT false,
	origin text DEFAULT 'any',
	failover boolean DEFAULT true,
	on_slot_lost text DEFAULT 'error',
	sequence_sync_interval interval DEFAULT NULL)
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

	PERFORM laredo._check_origin(origin);
	IF failover IS NULL THEN
		RAISE EXCEPTION 'failover must not be NULL'
			USING ERRCODE = 'null_value_not_allowed',
			      HINT = 'Pass true (the slot follows a failover of a source on PostgreSQL 17 or later) or false.';
	END IF;
	PERFORM laredo._check_on_slot_lost(on_slot_lost);
	PERFORM laredo._check_sequence_sync_interval(sequence_sync_interval);

	INSERT INTO laredo.source_config (source_id, connection, slot_mode, slot_name, publication,
		create_publication, publish, publish_via_partition_root, reconnect_max_attempts,
		reconnect_initial_backoff, reconnect_max_backoff, reconnect_backoff_multiplier, enabled, owner,
		origin, home_system_identifier, home_database, home_database_oid, failover, on_slot_lost, sequence_sync_interval)
	VALUES (source_id, connection, slot_mode, v_slot, v_pub, coalesce(create_publication, true),
		array_to_string(v_publish, ', '), publish_via_partition_root, reconnect_max_attempts,
		reconnect_initial_backoff, reconnect_max_backoff, reconnect_backoff_multiplier,
		coalesce(enabled, true), (SELECT oid FROM pg_roles WHERE rolname = current_user),
		origin, laredo._system_identifier(), current_database(),
		(SELECT oid FROM pg_database WHERE datname = current_database()), failover, on_slot_lost,
		nullif(sequence_sync_interval, interval '0'));
	PERFORM laredo._notify_config_change();
END
$$;

DROP FUNCTION laredo.alter_source(text, text, boolean, integer, interval, interval, float8, text, text,
	boolean, text);
CREATE FUNCTION laredo.alter_source(
	source_id text,
	connection text DEFAULT NULL,
	enabled boolean DEFAULT NULL,
	reconnect_max_attempts integer DEFAULT NULL,
	reconnect_initial_backoff interval DEFAULT NULL,
	reconnect_max_backoff interval DEFAULT NULL,
	reconnect_backoff_multiplier float8 DEFAULT NULL,
	slot_mode text DEFAULT NULL,
	origin text DEFAULT NULL,
	failover boolean DEFAULT NULL,
	on_slot_lost text DEFAULT NULL,
	sequence_sync_interval interval DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	s laredo.source_config;
	v_conn record;
BEGIN
	PERFORM laredo._require_admin('alter a source');
	s := laredo._source(source_id);
	IF slot_mode IS NOT NULL AND slot_mode NOT IN ('stateful', 'ephemeral') THEN
		RAISE EXCEPTION 'invalid slot_mode "%"', slot_mode
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'slot_mode is ''stateful'' (persistent slot, resume) or ''ephemeral'' (temporary slot, full baseline on every start).';
	END IF;
	IF origin IS NOT NULL THEN
		PERFORM laredo._check_origin(origin);
	END IF;
	IF on_slot_lost IS NOT NULL THEN
		PERFORM laredo._check_on_slot_lost(on_slot_lost);
	END IF;
	PERFORM laredo._check_sequence_sync_interval(sequence_sync_interval);
	IF alter_source.enabled AND s.saved_lsn IS NOT NULL THEN
		RAISE EXCEPTION 'source "%" has a saved position and waits to be adopted', s.source_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
			      DETAIL = format('laredo.save_positions() stopped it at %s, for a pg_upgrade or a move of this database.', s.saved_lsn),
			      HINT = format('Call laredo.adopt_source(%L): it resumes from that position, in this database or in its copy.', s.source_id);
	END IF;
	IF connection IS NOT NULL THEN
		v_conn := laredo._check_connection(connection);
		IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
		   AND (connection = '' OR NOT v_conn.has_password) THEN
			RAISE EXCEPTION 'password is required'
				USING ERRCODE = 'insufficient_privilege',
				      DETAIL = 'Non-superusers must give a password in the connection string.',
				      HINT = 'Add password=... to the connection string.';
		END IF;
		s.connection := connection;
	END IF;
	IF reconnect_max_attempts IS NOT NULL THEN
		IF reconnect_max_attempts < 0 THEN
			RAISE EXCEPTION 'reconnect_max_attempts must be zero or more, not %', reconnect_max_attempts
				USING ERRCODE = 'invalid_parameter_value', HINT = 'For example reconnect_max_attempts => 10.';
		END IF;
		s.reconnect_max_attempts := reconnect_max_attempts;
	END IF;
	IF reconnect_initial_backoff IS NOT NULL THEN
		PERFORM laredo._check_interval('reconnect_initial_backoff', reconnect_initial_backoff);
		s.reconnect_initial_backoff := reconnect_initial_backoff;
	END IF;
	IF reconnect_max_backoff IS NOT NULL THEN
		PERFORM laredo._check_interval('reconnect_max_backoff', reconnect_max_backoff);
		s.reconnect_max_backoff := reconnect_max_backoff;
	END IF;
	IF s.reconnect_max_backoff < s.reconnect_initial_backoff THEN
		RAISE EXCEPTION 'reconnect_max_backoff (%) is less than reconnect_initial_backoff (%)',
			s.reconnect_max_backoff, s.reconnect_initial_backoff
			USING ERRCODE = 'invalid_parameter_value', HINT = 'Raise reconnect_max_backoff.';
	END IF;
	IF reconnect_backoff_multiplier IS NOT NULL THEN
		IF reconnect_backoff_multiplier < 1.0 OR reconnect_backoff_multiplier = 'NaN'::float8
		   OR reconnect_backoff_multiplier > 100 THEN
			RAISE EXCEPTION 'reconnect_backoff_multiplier must be between 1 and 100, not %', reconnect_backoff_multiplier
				USING ERRCODE = 'invalid_parameter_value', HINT = 'For example reconnect_backoff_multiplier => 2.0.';
		END IF;
		s.reconnect_backoff_multiplier := reconnect_backoff_multiplier;
	END IF;
	-- Any alter_source clears a durable ERROR: the operator has acted.
	UPDATE laredo.source_config c SET
		connection = s.connection,
		enabled = coalesce(alter_source.enabled, c.enabled),
		reconnect_max_attempts = s.reconnect_max_attempts,
		reconnect_initial_backoff = s.reconnect_initial_backoff,
		reconnect_max_backoff = s.reconnect_max_backoff,
		reconnect_backoff_multiplier = s.reconnect_backoff_multiplier,
		origin = coalesce(alter_source.origin, c.origin),
		failover = coalesce(alter_source.failover, c.failover),
		on_slot_lost = coalesce(alter_source.on_slot_lost, c.on_slot_lost),
		sequence_sync_interval = CASE WHEN alter_source.sequence_sync_interval IS NULL THEN c.sequence_sync_interval
		                              ELSE nullif(alter_source.sequence_sync_interval, interval '0') END,
		config_version = c.config_version + 1,
		error = NULL, error_hint = NULL, error_time = NULL
	WHERE c.source_id = alter_source.source_id;
	UPDATE laredo.pipeline_config p SET error = NULL, error_time = NULL
	WHERE p.source_id = alter_source.source_id AND p.error IS NOT NULL;
	-- Another slot mode means another slot and a new baseline: a reset.
	IF slot_mode IS NOT NULL AND slot_mode <> s.slot_mode THEN
		UPDATE laredo.source_config c SET slot_mode = alter_source.slot_mode
		WHERE c.source_id = alter_source.source_id;
		PERFORM laredo.reset_source(source_id);
	END IF;
	PERFORM laredo._notify_config_change();
END
$$;

CREATE OR REPLACE VIEW laredo.source_settings AS
SELECT c.source_id, c.create_publication, c.publish, c.publish_via_partition_root, c.reconnect_max_attempts,
       c.reconnect_initial_backoff, c.reconnect_max_backoff, c.reconnect_backoff_multiplier,
       c.created_at, c.origin, c.saved_lsn, c.failover, c.on_slot_lost, c.sequence_sync_interval
FROM laredo.source_config c;

-- The sequences of a source's mirrored tables (owned by a column, an
-- identity, or named by a column's default), and every sequence of the
-- source schemas given, set here to the source's values.  forward_only
-- (the worker, at sequence_sync_interval) never moves one backwards.
CREATE FUNCTION laredo._sync_sequences(p_source_id text, schemas name[], forward_only boolean,
	OUT source_sequence text, OUT local_sequence text, OUT source_value bigint, OUT status text)
RETURNS SETOF record
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	s laredo.source_config;
	v_tables text;
	r json;
	v_local regclass;
	v_current bigint;
BEGIN
	s := laredo._source(p_source_id);
	SELECT string_agg(format('(%L, %L)', p.source_schema, p.source_table), ', ') INTO v_tables
	FROM laredo.pipeline_config p WHERE p.source_id = s.source_id AND p.target_kind = 'table';
	FOR r IN SELECT * FROM laredo._source_query(s.connection, format($q$
		WITH t(schema_name, table_name) AS (VALUES %s),
		rel AS (SELECT c.oid, n.nspname, c.relname FROM pg_catalog.pg_class c
		        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		        JOIN t ON t.schema_name = n.nspname AND t.table_name = c.relname),
		dep AS (SELECT rel.nspname, rel.relname, rel.oid AS relid, d.refobjsubid AS attnum, d.objid AS seq
		        FROM rel JOIN pg_catalog.pg_depend d ON d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
		             AND d.refobjid = rel.oid AND d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
		             AND d.deptype IN ('a', 'i') AND d.refobjsubid > 0
		        UNION
		        SELECT rel.nspname, rel.relname, rel.oid, ad.adnum, d.refobjid
		        FROM rel JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = rel.oid
		        JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass
		             AND d.objid = ad.oid AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass),
		seqs AS (SELECT dep.nspname AS tn, dep.relname AS tr, a.attname AS col, s.oid
		         FROM dep JOIN pg_catalog.pg_class s ON s.oid = dep.seq AND s.relkind = 'S'
		         JOIN pg_catalog.pg_attribute a ON a.attrelid = dep.relid AND a.attnum = dep.attnum
		         UNION
		         SELECT NULL, NULL, NULL, s.oid FROM pg_catalog.pg_class s
		         JOIN pg_catalog.pg_namespace n ON n.oid = s.relnamespace
		         WHERE s.relkind = 'S' AND n.nspname = ANY (%L::name[])
		           AND s.oid NOT IN (SELECT dep.seq FROM dep))
		SELECT seqs.tn, seqs.tr, seqs.col, n.nspname AS sn, s.relname AS sr, p.readable,
		       CASE WHEN p.readable THEN pg_catalog.pg_sequence_last_value(s.oid) END AS v
		FROM seqs JOIN pg_catalog.pg_class s ON s.oid = seqs.oid
		JOIN pg_catalog.pg_namespace n ON n.oid = s.relnamespace,
		LATERAL (SELECT pg_catalog.has_sequence_privilege(s.oid, 'SELECT')
		                OR pg_catalog.has_sequence_privilege(s.oid, 'USAGE') AS readable) p
		ORDER BY 4, 5, 1, 2, 3 $q$, coalesce(v_tables, '(NULL, NULL)'), coalesce(schemas, '{}'::name[])))
	LOOP
		source_sequence := quote_ident(r->>'sn') || '.' || quote_ident(r->>'sr');
		IF NOT (r->>'readable')::boolean THEN
			RAISE EXCEPTION 'source "%" does not let laredo read sequence %', s.source_id, source_sequence
				USING ERRCODE = 'insufficient_privilege',
				      DETAIL = 'Reading a sequence''s value needs SELECT or USAGE on it.',
				      HINT = format('On the source: GRANT SELECT ON SEQUENCE %s TO <the role of source "%s"''s connection>;',
				                    source_sequence, s.source_id);
		END IF;
		source_value := (r->>'v')::bigint;
		v_local := NULL;
		IF r->>'tn' IS NULL THEN
			v_local := to_regclass(source_sequence);
			IF v_local IS NOT NULL AND (SELECT relkind FROM pg_class WHERE oid = v_local) <> 'S' THEN
				v_local := NULL;
			END IF;
		ELSE
			-- the target column's own sequence, in each mirror of that table
			FOR v_local IN
				SELECT DISTINCT seq.oid::regclass
				FROM laredo.pipeline_config p
				JOIN pg_namespace tn ON tn.nspname = p.target_schema
				JOIN pg_class tc ON tc.relnamespace = tn.oid AND tc.relname = p.target_table
				JOIN pg_attribute a ON a.attrelid = tc.oid AND a.attname = r->>'col' AND NOT a.attisdropped
				JOIN LATERAL (SELECT d.objid AS oid FROM pg_depend d
				              WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
				                AND d.refobjid = tc.oid AND d.refobjsubid = a.attnum AND d.deptype IN ('a', 'i')
				              UNION
				              SELECT d.refobjid FROM pg_attrdef ad JOIN pg_depend d
				                ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid
				               AND d.refclassid = 'pg_class'::regclass
				              WHERE ad.adrelid = tc.oid AND ad.adnum = a.attnum) seq ON true
				JOIN pg_class sc ON sc.oid = seq.oid AND sc.relkind = 'S'
				WHERE p.source_id = s.source_id AND p.target_kind = 'table'
				  AND p.source_schema = r->>'tn' AND p.source_table = r->>'tr'
			LOOP
				local_sequence := v_local::text;
				status := laredo._set_sequence(v_local, source_value, forward_only);
				RETURN NEXT;
			END LOOP;
			IF v_local IS NOT NULL THEN
				CONTINUE;
			END IF;
			-- else a sequence of the same name here (a schema restored from pg_dump)
			v_local := to_regclass(source_sequence);
			IF v_local IS NOT NULL AND (SELECT relkind FROM pg_class WHERE oid = v_local) <> 'S' THEN
				v_local := NULL;
			END IF;
		END IF;
		IF v_local IS NULL THEN
			local_sequence := NULL;
			status := CASE WHEN r->>'tn' IS NULL THEN 'no sequence of that name here'
			               ELSE format('no sequence on column %I of the target, nor one of that name here', r->>'col') END;
			RETURN NEXT;
			CONTINUE;
		END IF;
		local_sequence := v_local::text;
		status := laredo._set_sequence(v_local, source_value, forward_only);
		RETURN NEXT;
	END LOOP;
END
$$;

-- Sets one sequence here to a source value; what was done.
CREATE FUNCTION laredo._set_sequence(seq regclass, v bigint, forward_only boolean) RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	v_current bigint;
BEGIN
	IF v IS NULL THEN
		RETURN 'never used on the source: left as it is';
	END IF;
	v_current := pg_sequence_last_value(seq);
	IF v_current IS NOT DISTINCT FROM v THEN
		RETURN 'equal';
	END IF;
	IF forward_only AND v_current IS NOT NULL AND v_current >= v THEN
		RETURN 'ahead here: left as it is';
	END IF;
	PERFORM setval(seq, v, true);
	RETURN 'set';
END
$$;

-- For a cutover: sets this database's sequences of the source's mirrored
-- tables to the source's values (and, with schemas, every sequence of
-- those source schemas to the sequence of the same name here).  Call it
-- once writes on the source have stopped; sequence_sync_interval only
-- keeps them close in between.
CREATE FUNCTION laredo.sync_sequences(source_id text, schemas name[] DEFAULT NULL,
	OUT source_sequence text, OUT local_sequence text, OUT source_value bigint, OUT status text)
RETURNS SETOF record
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM laredo._require_admin('synchronise sequences');
	RETURN QUERY SELECT * FROM laredo._sync_sequences(source_id, schemas, false);
END
$$;

ALTER TABLE laredo.source_tables ADD COLUMN via_schema boolean NOT NULL DEFAULT false,
	ADD COLUMN partitions text,
	ADD COLUMN source_oid oid;

-- 0.5.0: whole schemas of a source (add_schema): every table there is
-- mirrored, and the worker reads the source's catalog every check_interval
-- for tables created or dropped since.
CREATE TABLE laredo.source_schemas (
	source_id text NOT NULL REFERENCES laredo.source_config ON UPDATE CASCADE ON DELETE CASCADE,
	schema_name name NOT NULL,
	target_schema name NOT NULL,
	target_kind text NOT NULL CHECK (target_kind IN ('table', 'changelog')),
	options jsonb NOT NULL DEFAULT '{}',
	check_interval interval NOT NULL CHECK (check_interval >= interval '1 second'),
	-- 'tables': laredo's publication names the tables (a new one is added when
	-- found); 'schema': it holds the whole schema (FOR TABLES IN SCHEMA), so a
	-- new table is published from its creation (a superuser on the source)
	publication text NOT NULL DEFAULT 'tables' CHECK (publication IN ('tables', 'schema')),
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (source_id, schema_name)
);
REVOKE ALL ON laredo.source_schemas FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON laredo.source_schemas TO laredo_admin;
SELECT pg_catalog.pg_extension_config_dump('laredo.source_schemas', '');
GRANT SELECT ON laredo.source_schemas TO PUBLIC;

-- The tables of a schema on the source that add_schema mirrors: tables and
-- partitioned tables, not partitions (their root's pipeline takes them).
CREATE FUNCTION laredo._source_schema_tables(connection text, schema_name name)
RETURNS SETOF name
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	r json;
BEGIN
	FOR r IN SELECT * FROM laredo._source_query(connection, format($q$
		SELECT c.relname AS t FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = %L AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relpersistence = 'p'
		ORDER BY 1 $q$, schema_name))
	LOOP
		RETURN NEXT (r->>'t')::name;
	END LOOP;
END
$$;

-- A pipeline id for a table of a schema: <schema>_<table>, made to fit.
CREATE FUNCTION laredo._schema_pipeline_id(schema_name name, table_name name) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	v_id text := regexp_replace(lower(schema_name || '_' || table_name), '[^a-z0-9_]', '_', 'g');
BEGIN
	IF v_id ~ '^[0-9]' THEN
		v_id := 't' || v_id;
	END IF;
	IF length(v_id) > 40 OR EXISTS (SELECT FROM laredo.pipeline_config p WHERE p.pipeline_id = v_id) THEN
		v_id := left(v_id, 33) || '_' || left(md5(schema_name || '.' || table_name), 6);
	END IF;
	RETURN v_id;
END
$$;

-- Adds one table of an added schema: add_table and create_pipeline, as a
-- person would call them.
CREATE FUNCTION laredo._schema_add_table(sc laredo.source_schemas, table_name name) RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	v_qualified text := quote_ident(sc.schema_name) || '.' || quote_ident(table_name);
	v_id text := laredo._schema_pipeline_id(sc.schema_name, table_name);
BEGIN
	PERFORM laredo.add_table(sc.source_id, v_qualified);
	UPDATE laredo.source_tables t SET via_schema = true WHERE t.source_id = sc.source_id
		AND ((t.schema_name = sc.schema_name AND t.table_name = _schema_add_table.table_name)
		     OR (t.parent_schema = sc.schema_name AND t.parent_table = _schema_add_table.table_name));
	PERFORM laredo.create_pipeline(v_id, sc.source_id, v_qualified, target_kind => sc.target_kind,
		target => quote_ident(sc.target_schema) || '.' ||
		          quote_ident(CASE sc.target_kind WHEN 'changelog' THEN table_name || '_changelog' ELSE table_name END),
		options => sc.options);
	RETURN v_id;
END
$$;

-- Mirrors every table of a source schema, and (the worker reads the
-- source's catalog every check_interval) each table created there later; a
-- table dropped there loses its pipeline, its target is kept.  A table of
-- the schema already added alone keeps its own settings: the schema skips it.
CREATE FUNCTION laredo.add_schema(source_id text, schema_name name, target_schema name DEFAULT NULL,
	target_kind text DEFAULT 'table', options jsonb DEFAULT '{}', check_interval interval DEFAULT '10s',
	publication text DEFAULT 'tables', OUT source_table text, OUT pipeline_id text)
RETURNS SETOF record
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	s laredo.source_config;
	sc laredo.source_schemas;
	t name;
	v_alone text[];
BEGIN
	PERFORM laredo._require_admin('add a schema to a source');
	s := laredo._source(source_id);
	IF schema_name IS NULL OR schema_name = '' THEN
		RAISE EXCEPTION 'schema_name must be given' USING ERRCODE = 'invalid_parameter_value',
			HINT = 'For example laredo.add_schema(''shop'', ''public'').';
	END IF;
	IF EXISTS (SELECT FROM laredo.source_schemas x WHERE x.source_id = s.source_id AND x.schema_name = add_schema.schema_name) THEN
		RAISE EXCEPTION 'schema "%" is already part of source "%"', schema_name, s.source_id
			USING ERRCODE = 'duplicate_object', HINT = 'laredo.remove_schema first to add it again with other settings.';
	END IF;
	IF target_kind IS NULL OR target_kind NOT IN ('table', 'changelog') THEN
		RAISE EXCEPTION 'invalid target_kind "%" for a schema', coalesce(target_kind, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'A schema''s tables get ''table'' (mirrors) or ''changelog'' targets; create function pipelines one by one.';
	END IF;
	IF options IS NULL OR jsonb_typeof(options) <> 'object' THEN
		RAISE EXCEPTION 'options must be a jsonb object' USING ERRCODE = 'invalid_parameter_value',
			HINT = 'For example options => ''{}''.';
	END IF;
	IF options ? 'columns' OR options ? 'where' THEN
		RAISE EXCEPTION 'option "%" cannot apply to every table of a schema', CASE WHEN options ? 'columns' THEN 'columns' ELSE 'where' END
			USING ERRCODE = 'invalid_parameter_value', HINT = 'Add such a table alone, with add_table and create_pipeline, before add_schema.';
	END IF;
	PERFORM laredo._check_options(target_kind, options);
	IF check_interval IS NULL OR check_interval < interval '1 second' THEN
		RAISE EXCEPTION 'invalid check_interval %', coalesce(check_interval::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value', HINT = 'Give an interval of at least 1 second.';
	END IF;
	IF publication IS NULL OR publication NOT IN ('tables', 'schema') THEN
		RAISE EXCEPTION 'invalid publication "%" for a schema', coalesce(publication, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'publication is ''tables'' (laredo''s publication names each table) or ''schema'' (FOR TABLES IN SCHEMA: a superuser on the source).';
	END IF;
	IF publication = 'schema' AND NOT s.create_publication THEN
		RAISE EXCEPTION 'source "%" does not manage its publication', s.source_id
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'Add the schema to your publication yourself (ALTER PUBLICATION ... ADD TABLES IN SCHEMA), and call add_schema with publication => ''tables''.';
	END IF;
	IF publication = 'schema' AND NOT EXISTS (SELECT FROM laredo._source_query(s.connection,
	        'SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = current_user AND rolsuper')) THEN
		RAISE EXCEPTION 'publication => ''schema'' needs a superuser on source "%"', s.source_id
			USING ERRCODE = 'insufficient_privilege',
			      DETAIL = 'PostgreSQL lets only superusers publish FOR TABLES IN SCHEMA.',
			      HINT = 'Use publication => ''tables'' (the default): laredo adds each new table to its publication when it finds it.';
	END IF;
	IF publication = 'schema' AND EXISTS (SELECT FROM laredo.source_tables x WHERE x.source_id = s.source_id
	        AND x.schema_name = add_schema.schema_name AND (x.where_clause IS NOT NULL OR x.columns IS NOT NULL)) THEN
		RAISE EXCEPTION 'tables of schema "%" have a row filter or a column list on source "%"', schema_name, s.source_id
			USING ERRCODE = 'invalid_parameter_value',
			      DETAIL = 'A publication of the whole schema would ignore their row filters, and PostgreSQL refuses column lists beside it.',
			      HINT = 'Use publication => ''tables'' (the default).';
	END IF;
	IF NOT EXISTS (SELECT FROM laredo._source_query(s.connection,
	                   format('SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = %L', schema_name))) THEN
		RAISE EXCEPTION 'schema "%" does not exist on source "%"', schema_name, s.source_id
			USING ERRCODE = 'invalid_schema_name', HINT = 'Check the name: it is case-sensitive, as in pg_namespace.';
	END IF;
	target_schema := coalesce(target_schema, schema_name);
	IF NOT EXISTS (SELECT FROM pg_namespace WHERE nspname = target_schema) THEN
		RAISE EXCEPTION 'schema "%" does not exist', target_schema
			USING ERRCODE = 'invalid_schema_name', HINT = 'CREATE SCHEMA ' || quote_ident(target_schema) || ' first.';
	END IF;
	IF target_schema = 'laredo' THEN
		RAISE EXCEPTION 'a target cannot be in schema laredo' USING ERRCODE = 'invalid_parameter_value',
			HINT = 'Choose another target_schema.';
	END IF;
	INSERT INTO laredo.source_schemas (source_id, schema_name, target_schema, target_kind, options, check_interval,
		publication)
	VALUES (s.source_id, schema_name, target_schema, target_kind, options, check_interval, publication)
	RETURNING * INTO sc;
	FOR t IN SELECT * FROM laredo._source_schema_tables(s.connection, schema_name) LOOP
		source_table := quote_ident(schema_name) || '.' || quote_ident(t);
		IF EXISTS (SELECT FROM laredo.source_tables x WHERE x.source_id = s.source_id
		           AND x.schema_name = add_schema.schema_name AND x.table_name = t) THEN
			v_alone := v_alone || source_table;
			CONTINUE;
		END IF;
		pipeline_id := laredo._schema_add_table(sc, t);
		RETURN NEXT;
	END LOOP;
	IF v_alone IS NOT NULL THEN
		RAISE NOTICE 'tables of schema "%" already added alone keep their own settings: %', schema_name,
			array_to_string(v_alone, ', ')
			USING DETAIL = 'A table added alone wins over its schema; remove_schema leaves it.';
	END IF;
	PERFORM laredo._source_changed(s.source_id);
END
$$;

-- Undoes add_schema: the pipelines of the tables it added are dropped (their
-- targets stay), the tables leave the source; tables added alone stay.
CREATE FUNCTION laredo.remove_schema(source_id text, schema_name name)
RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	s laredo.source_config;
BEGIN
	PERFORM laredo._require_admin('remove a schema from a source');
	s := laredo._source(source_id);
	IF NOT EXISTS (SELECT FROM laredo.source_schemas x WHERE x.source_id = s.source_id AND x.schema_name = remove_schema.schema_name) THEN
		RAISE EXCEPTION 'schema "%" is not part of source "%"', schema_name, s.source_id
			USING ERRCODE = 'undefined_object', HINT = 'SELECT * FROM laredo.source_schemas lists them.';
	END IF;
	DELETE FROM laredo.pipeline_config p USING laredo.source_tables t
	WHERE p.source_id = s.source_id AND t.source_id = p.source_id AND t.schema_name = p.source_schema
	  AND t.table_name = p.source_table AND t.via_schema AND t.schema_name = remove_schema.schema_name;
	DELETE FROM laredo.source_tables t WHERE t.source_id = s.source_id AND t.via_schema
	  AND (t.schema_name = remove_schema.schema_name OR t.parent_schema = remove_schema.schema_name)
	  AND NOT EXISTS (SELECT FROM laredo.pipeline_config p WHERE p.source_id = t.source_id
	                  AND p.source_schema = t.schema_name AND p.source_table = t.table_name);
	DELETE FROM laredo.source_schemas x WHERE x.source_id = s.source_id AND x.schema_name = remove_schema.schema_name;
	PERFORM laredo._source_changed(s.source_id);
END
$$;

-- Called by the source's worker every check_interval: tables created in an
-- added schema since are added (and copied alone, the stream going on for
-- the others after a reconnect); tables dropped there lose their pipelines
-- (targets kept).  Each is recorded in laredo.schema_changes.  Returns what
-- was done.
CREATE FUNCTION laredo._schema_check(p_source_id text) RETURNS SETOF text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	s laredo.source_config;
	sc laredo.source_schemas;
	t name;
	v_now name[];
	v_id text;
	v_changed boolean := false;
	v_p record;
	v_msg text;
BEGIN
	s := laredo._source(p_source_id);
	FOR sc IN SELECT * FROM laredo.source_schemas x WHERE x.source_id = s.source_id ORDER BY x.schema_name LOOP
		v_now := ARRAY(SELECT laredo._source_schema_tables(s.connection, sc.schema_name));
		FOREACH t IN ARRAY v_now LOOP
			IF NOT EXISTS (SELECT FROM laredo.source_tables x WHERE x.source_id = s.source_id
			               AND x.schema_name = sc.schema_name AND x.table_name = t) THEN
				v_id := laredo._schema_add_table(sc, t);
				v_msg := format('table %I.%I created on the source: pipeline %s added, the table is copied alone',
				                sc.schema_name, t, v_id);
				INSERT INTO laredo.schema_changes (pipeline_id, change) VALUES (v_id, v_msg);
				RAISE LOG 'laredo source "%": %', s.source_id, v_msg;
				v_changed := true;
				RETURN NEXT v_msg;
			END IF;
		END LOOP;
		FOR v_p IN SELECT p.pipeline_id, p.source_table, p.target_schema, p.target_table
		           FROM laredo.source_tables x JOIN laredo.pipeline_config p ON p.source_id = x.source_id
		                AND p.source_schema = x.schema_name AND p.source_table = x.table_name
		           WHERE x.source_id = s.source_id AND x.schema_name = sc.schema_name AND x.via_schema
		             AND x.parent_table IS NULL AND x.table_name <> ALL (v_now)
		LOOP
			v_msg := format('table %I.%I dropped on the source: pipeline %s removed, target %I.%I kept',
			                sc.schema_name, v_p.source_table, v_p.pipeline_id, v_p.target_schema, v_p.target_table);
			DELETE FROM laredo.pipeline_config p WHERE p.pipeline_id = v_p.pipeline_id OR p.parent_pipeline = v_p.pipeline_id;
			INSERT INTO laredo.schema_changes (pipeline_id, change) VALUES (v_p.pipeline_id, v_msg);
			RAISE LOG 'laredo source "%": %', s.source_id, v_msg;
			v_changed := true;
			RETURN NEXT v_msg;
		END LOOP;
		DELETE FROM laredo.source_tables x WHERE x.source_id = s.source_id AND x.via_schema
		   AND ((x.schema_name = sc.schema_name AND x.parent_table IS NULL AND x.table_name <> ALL (v_now))
		        OR (x.parent_schema = sc.schema_name AND x.parent_table <> ALL (v_now)))
		   AND NOT EXISTS (SELECT FROM laredo.pipeline_config p WHERE p.source_id = x.source_id
		                   AND p.source_schema = x.schema_name AND p.source_table = x.table_name);
	END LOOP;
	IF v_changed THEN
		PERFORM laredo._source_changed(s.source_id);
	END IF;
END
$$;

-- Called by a source's worker when a partitioned source table has other
-- leaf partitions than at its copy: an attached partition's rows never
-- stream, a detached one's stay in the mirror.  Its table pipelines copy it
-- again, alone; every pipeline of the table records the change.
CREATE FUNCTION laredo._partitions_changed(p_source_id text, p_schema name, p_table name, p_leaves text)
RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	v_old text[];
	v_new text[] := string_to_array(nullif(p_leaves, ''), ',');
	v_msg text;
BEGIN
	SELECT string_to_array(nullif(t.partitions, ''), ',') INTO v_old FROM laredo.source_tables t
	WHERE t.source_id = p_source_id AND t.schema_name = p_schema AND t.table_name = p_table;
	v_msg := format('partitions of %I.%I changed on the source', p_schema, p_table)
		|| coalesce(': attached ' || (SELECT string_agg(x, ', ') FROM unnest(v_new) x WHERE x <> ALL (coalesce(v_old, '{}'))), '')
		|| coalesce(', detached ' || (SELECT string_agg(x, ', ') FROM unnest(v_old) x WHERE x <> ALL (coalesce(v_new, '{}'))), '');
	UPDATE laredo.source_tables t SET partitions = p_leaves
	WHERE t.source_id = p_source_id AND t.schema_name = p_schema AND t.table_name = p_table;
	INSERT INTO laredo.schema_changes (pipeline_id, change)
	SELECT p.pipeline_id, v_msg || CASE WHEN p.target_kind = 'table' THEN ' (rows the stream does not carry): the table is copied again'
	                                    ELSE ' (rows the stream does not carry are not in this target)' END
	FROM laredo.pipeline_config p WHERE p.source_id = p_source_id AND p.source_schema = p_schema AND p.source_table = p_table;
	UPDATE laredo.pipeline_config p SET baseline_lsn = NULL
	WHERE p.source_id = p_source_id AND p.source_schema = p_schema AND p.source_table = p_table AND p.target_kind = 'table';
	PERFORM laredo._source_changed(p_source_id);
	RETURN v_msg;
END
$$;

-- Called by a source's worker when the source table of that name is not the
-- one copied: created again (p_oid: the new one), or gone (NULL).  A table
-- created again is copied again, alone (its pipelines of every kind); a
-- table added alone and gone stops the source with an ERROR that says what
-- to do; one of an added schema is left to the schema's check (its
-- pipeline goes, its target stays).
CREATE FUNCTION laredo._source_table_replaced(p_source_id text, p_schema name, p_table name, p_oid oid)
RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	t laredo.source_tables;
	v_msg text;
	v_pipelines text;
BEGIN
	SELECT * INTO t FROM laredo.source_tables x
	WHERE x.source_id = p_source_id AND x.schema_name = p_schema AND x.table_name = p_table;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	IF p_oid IS NULL THEN
		IF t.via_schema THEN
			RETURN NULL;
		END IF;
		SELECT string_agg(format('SELECT laredo.drop_pipeline(%L);', p.pipeline_id), ' ' ORDER BY p.pipeline_id) INTO v_pipelines
		FROM laredo.pipeline_config p WHERE p.source_id = p_source_id AND p.source_schema = p_schema AND p.source_table = p_table;
		RAISE EXCEPTION 'table %.% of source "%" was dropped on the source', quote_ident(p_schema), quote_ident(p_table), p_source_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
			      DETAIL = 'A DROP TABLE produces nothing in the stream; a table created again under its name would be neither copied nor published.',
			      HINT = format('Remove it (its targets stay): %sSELECT laredo.remove_table(%L, %L); then SELECT laredo.alter_source(%L, enabled => true);',
			                    coalesce(v_pipelines || ' ', ''), p_source_id, quote_ident(p_schema) || '.' || quote_ident(p_table), p_source_id);
	END IF;
	v_msg := format('table %I.%I was dropped and created again on the source: copied again', p_schema, p_table);
	UPDATE laredo.source_tables x SET source_oid = p_oid
	WHERE x.source_id = p_source_id AND x.schema_name = p_schema AND x.table_name = p_table;
	INSERT INTO laredo.schema_changes (pipeline_id, change)
	SELECT p.pipeline_id, v_msg FROM laredo.pipeline_config p
	WHERE p.source_id = p_source_id AND p.source_schema = p_schema AND p.source_table = p_table;
	UPDATE laredo.pipeline_config p SET baseline_lsn = NULL
	WHERE p.source_id = p_source_id AND p.source_schema = p_schema AND p.source_table = p_table;
	DELETE FROM laredo.pipeline_columns c USING laredo.pipeline_config p
	WHERE c.pipeline_id = p.pipeline_id AND p.source_id = p_source_id AND p.source_schema = p_schema AND p.source_table = p_table;
	PERFORM laredo._source_changed(p_source_id);
	RETURN v_msg;
END
$$;

-- _add_table: no row filter or column list for a table of a schema published whole.
CREATE OR REPLACE FUNCTION laredo._add_table(s laredo.source_config, n record,
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
	IF (where_clause IS NOT NULL OR columns IS NOT NULL) AND EXISTS (SELECT FROM laredo.source_schemas x
	        WHERE x.source_id = s.source_id AND x.schema_name = n.schema_name AND x.publication = 'schema') THEN
		RAISE EXCEPTION 'schema "%" of source "%" is published whole', n.schema_name, s.source_id
			USING ERRCODE = 'invalid_parameter_value',
			      DETAIL = 'Its publication would ignore a row filter, and PostgreSQL refuses a column list beside it.',
			      HINT = 'Add the table without where_clause and columns, and filter with the pipeline''s options => ''{"where": ...}''.';
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
