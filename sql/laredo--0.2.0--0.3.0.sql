-- laredo 0.2.0 -> 0.3.0 (ALTER EXTENSION laredo UPDATE).
--
-- What 0.3.0 adds to the catalog: the source option origin ('any' or
-- 'none', as a subscription's), the home of each source (this server's
-- system identifier and database: a copy of the database never uses the
-- original's slot), and positions saved for a pg_upgrade or a move
-- (save_positions, adopt_source).  Columns are added at the end of their
-- tables, where laredo--0.3.0.sql has them too (TAP 260 compares the two).
-- The sources that exist are at home here: this script runs in the database
-- that holds them.

\echo Use "ALTER EXTENSION laredo UPDATE TO '0.3.0'" to load this file. \quit

ALTER TABLE laredo.source_config
	ADD COLUMN origin text NOT NULL DEFAULT 'any' CHECK (origin IN ('any', 'none')),
	ADD COLUMN home_system_identifier text,
	ADD COLUMN home_database name,
	ADD COLUMN home_database_oid oid,
	ADD COLUMN saved_lsn pg_lsn,
	ADD COLUMN saved_enabled boolean;
UPDATE laredo.source_config SET home_system_identifier = (SELECT system_identifier::text FROM pg_control_system()),
	home_database = current_database(),
	home_database_oid = (SELECT oid FROM pg_database WHERE datname = current_database());

-- This server's system identifier, as text (a source's home).
CREATE FUNCTION laredo._system_identifier() RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
RETURN (SELECT system_identifier::text FROM pg_control_system());

-- Whether s was created in another database than this one: this database is
-- a copy (pg_dump and restore, pg_upgrade) and the source's slot,
-- publication and position belong to the original.  A rename keeps the
-- database's OID; a physical standby, promoted, keeps the system identifier
-- and is the same consumer.
CREATE FUNCTION laredo._is_copy(s laredo.source_config) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
RETURN s.home_system_identifier IS DISTINCT FROM laredo._system_identifier()
	OR s.home_database_oid IS DISTINCT FROM (SELECT oid FROM pg_database WHERE datname = current_database());

CREATE FUNCTION laredo._check_origin(origin text) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF origin IS NULL OR origin NOT IN ('any', 'none') THEN
		RAISE EXCEPTION 'invalid origin "%"', coalesce(origin, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'origin is ''any'' (every change, a subscription''s default) or ''none'' (only the changes made on the source itself, not those it received by replication; a source on PostgreSQL 16 or later).';
	END IF;
END
$$;

DROP FUNCTION laredo.create_source(text, text, text, text, text, boolean, text, integer, interval,
	interval, float8, boolean, boolean);
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
	origin text DEFAULT 'any')
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

	INSERT INTO laredo.source_config (source_id, connection, slot_mode, slot_name, publication,
		create_publication, publish, publish_via_partition_root, reconnect_max_attempts,
		reconnect_initial_backoff, reconnect_max_backoff, reconnect_backoff_multiplier, enabled, owner,
		origin, home_system_identifier, home_database, home_database_oid)
	VALUES (source_id, connection, slot_mode, v_slot, v_pub, coalesce(create_publication, true),
		array_to_string(v_publish, ', '), publish_via_partition_root, reconnect_max_attempts,
		reconnect_initial_backoff, reconnect_max_backoff, reconnect_backoff_multiplier,
		coalesce(enabled, true), (SELECT oid FROM pg_roles WHERE rolname = current_user),
		origin, laredo._system_identifier(), current_database(),
		(SELECT oid FROM pg_database WHERE datname = current_database()));
	PERFORM laredo._notify_config_change();
END
$$;

DROP FUNCTION laredo.alter_source(text, text, boolean, integer, interval, interval, float8, text);
CREATE FUNCTION laredo.alter_source(
	source_id text,
	connection text DEFAULT NULL,
	enabled boolean DEFAULT NULL,
	reconnect_max_attempts integer DEFAULT NULL,
	reconnect_initial_backoff interval DEFAULT NULL,
	reconnect_max_backoff interval DEFAULT NULL,
	reconnect_backoff_multiplier float8 DEFAULT NULL,
	slot_mode text DEFAULT NULL,
	origin text DEFAULT NULL)
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

CREATE OR REPLACE FUNCTION laredo.drop_source(source_id text, drop_slot boolean DEFAULT true,
	drop_publication boolean DEFAULT NULL, force boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	s laredo.source_config;
	v_pub boolean;
BEGIN
	PERFORM laredo._require_admin('drop a source');
	s := laredo._source(source_id);
	IF drop_slot IS NULL OR force IS NULL THEN
		RAISE EXCEPTION '% must not be NULL', CASE WHEN drop_slot IS NULL THEN 'drop_slot' ELSE 'force' END
			USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass true or false, or omit it.';
	END IF;
	v_pub := coalesce(drop_publication, s.create_publication);
	-- The slot can only be dropped once no walsender uses it.
	PERFORM laredo._stop_worker(s.source_id);
	DELETE FROM laredo.pipeline_config p WHERE p.source_id = s.source_id;
	DELETE FROM laredo.source_tables t WHERE t.source_id = s.source_id;
	DELETE FROM laredo.source_config c WHERE c.source_id = s.source_id;
	PERFORM laredo._notify_config_change();
	-- A slot left behind pins the source's WAL: it goes now; but a copy of
	-- this database never drops what belongs to the original.
	IF drop_slot AND laredo._is_copy(s) THEN
		RAISE NOTICE 'slot "%" and publication "%" of source "%" were left on the source: they belong to the database this one is a copy of',
			s.slot_name, s.publication, s.source_id;
	ELSIF drop_slot THEN
		PERFORM laredo._drop_source_objects(s.connection, s.slot_name,
			CASE WHEN v_pub THEN s.publication END, force);
	END IF;
	PERFORM laredo._drop_origin(s.source_id);
END
$$;

DROP FUNCTION laredo.reset_source(text, boolean);
CREATE FUNCTION laredo.reset_source(source_id text, drop_publication boolean DEFAULT false,
	slot_name name DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	s laredo.source_config;
	v_copy boolean;
	v_pub name;
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
	v_copy := laredo._is_copy(s);
	IF reset_source.slot_name IS NOT NULL THEN
		IF reset_source.slot_name !~ '^[a-z0-9_]+$' THEN
			RAISE EXCEPTION 'invalid slot_name "%"', reset_source.slot_name
				USING ERRCODE = 'invalid_name',
				      HINT = 'Replication slot names may contain only lower-case letters, digits and underscores.';
		END IF;
		IF EXISTS (SELECT FROM laredo.source_config c WHERE c.slot_name = reset_source.slot_name
		           AND c.source_id <> s.source_id) THEN
			RAISE EXCEPTION 'slot_name "%" is already used by another source', reset_source.slot_name
				USING ERRCODE = 'duplicate_object', HINT = 'Choose another slot_name.';
		END IF;
	END IF;
	-- A copy of this database (pg_dump and restore, pg_upgrade) starts over
	-- with a slot and a publication of its own: the original's are left alone.
	IF v_copy AND (reset_source.slot_name IS NULL OR reset_source.slot_name = s.slot_name) THEN
		RAISE EXCEPTION 'slot "%" of source "%" belongs to the database this one is a copy of', s.slot_name, s.source_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
			      DETAIL = format('Source "%s" was created in database "%s" of the server with system identifier %s.',
			                      s.source_id, s.home_database, s.home_system_identifier),
			      HINT = format('Call laredo.reset_source(%L, slot_name => ''a_new_name'') to start this copy over with a slot of its own, or laredo.adopt_source(%L) if laredo.save_positions() saved its position before the copy.',
			                    s.source_id, s.source_id);
	END IF;
	IF v_copy AND drop_publication THEN
		RAISE EXCEPTION 'publication "%" of source "%" belongs to the database this one is a copy of', s.publication, s.source_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
			      HINT = 'Call laredo.reset_source without drop_publication.';
	END IF;
	v_pub := CASE WHEN v_copy AND s.create_publication THEN reset_source.slot_name || '_pub'
	              WHEN reset_source.slot_name IS NOT NULL AND s.create_publication
	                   AND s.publication = s.slot_name || '_pub' THEN reset_source.slot_name || '_pub'
	              ELSE s.publication END;
	PERFORM laredo._stop_worker(s.source_id);
	IF NOT v_copy THEN
		PERFORM laredo._drop_source_objects(s.connection, s.slot_name,
			CASE WHEN drop_publication THEN s.publication END, false);
	END IF;
	PERFORM laredo._drop_origin(s.source_id);
	UPDATE laredo.pipeline_config p SET baseline_lsn = NULL, error = NULL, error_time = NULL
	WHERE p.source_id = s.source_id;
	UPDATE laredo.source_config c SET slot_pending = false, error = NULL, error_hint = NULL,
		error_time = NULL, config_version = c.config_version + 1,
		slot_name = coalesce(reset_source.slot_name, c.slot_name), publication = v_pub,
		home_system_identifier = laredo._system_identifier(), home_database = current_database(),
		home_database_oid = (SELECT oid FROM pg_database WHERE datname = current_database()),
		enabled = CASE WHEN c.saved_lsn IS NOT NULL THEN coalesce(c.saved_enabled, c.enabled) ELSE c.enabled END,
		saved_lsn = NULL, saved_enabled = NULL
	WHERE c.source_id = s.source_id;
	PERFORM laredo._notify_config_change();
END
$$;
-- Creates this database's replication origin of a source, at lsn.
CREATE FUNCTION laredo._set_origin(source_id text, lsn pg_lsn) RETURNS void
AS 'MODULE_PATHNAME', 'laredo_set_origin' LANGUAGE C STRICT VOLATILE;
REVOKE ALL ON FUNCTION laredo._set_origin(text, pg_lsn) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION laredo._set_origin(text, pg_lsn) TO laredo_admin;

-- Before a pg_upgrade of this server or a move of this database (pg_dump
-- and restore elsewhere): stops every source of the database, disables it,
-- and records the position its targets hold, in the catalog that the upgrade
-- or the dump carries.  laredo.adopt_source then resumes each one from there,
-- in the upgraded server or the copy, with no new baseline.
CREATE FUNCTION laredo.save_positions()
RETURNS TABLE (source_id text, saved_lsn pg_lsn)
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	s laredo.source_config;
BEGIN
	PERFORM laredo._require_admin('save the positions of the sources');
	FOR s IN SELECT * FROM laredo.source_config c ORDER BY c.source_id FOR UPDATE LOOP
		IF laredo._is_copy(s) THEN
			RAISE EXCEPTION 'source "%" belongs to the database this one is a copy of: it has no position here', s.source_id
				USING ERRCODE = 'object_not_in_prerequisite_state',
				      HINT = format('Call laredo.adopt_source(%L) or laredo.reset_source(%L, slot_name => ...) first.',
				                    s.source_id, s.source_id);
		END IF;
		-- the worker's last commit is its last position
		PERFORM laredo._stop_worker(s.source_id);
		UPDATE laredo.source_config c SET
			saved_enabled = CASE WHEN c.saved_lsn IS NULL THEN c.enabled ELSE c.saved_enabled END,
			saved_lsn = CASE WHEN c.slot_mode = 'stateful' THEN laredo._origin_lsn(c.source_id) END,
			enabled = false, config_version = c.config_version + 1
		WHERE c.source_id = s.source_id
		RETURNING c.source_id, c.saved_lsn INTO save_positions.source_id, save_positions.saved_lsn;
		RETURN NEXT;
	END LOOP;
	PERFORM laredo._notify_config_change();
END
$$;

-- Resumes a source from the position laredo.save_positions() recorded: in a
-- server upgraded with pg_upgrade, in a copy of the database, or where it was
-- saved.  The source then belongs to this database.
CREATE FUNCTION laredo.adopt_source(source_id text)
RETURNS pg_lsn
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	s laredo.source_config;
BEGIN
	PERFORM laredo._require_admin('adopt a source');
	s := laredo._source(source_id);
	IF s.saved_lsn IS NULL AND NOT laredo._is_copy(s) THEN
		RAISE EXCEPTION 'source "%" has no saved position and is not a copy: there is nothing to adopt', s.source_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
			      HINT = format('laredo.alter_source(%L, enabled => true) resumes a disabled source.', s.source_id);
	END IF;
	IF s.saved_lsn IS NULL AND s.slot_mode = 'stateful' THEN
		RAISE EXCEPTION 'source "%" has no saved position', s.source_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
			      DETAIL = format('This database is a copy of database "%s" of the server with system identifier %s, made without laredo.save_positions(): nothing says which changes of slot "%s" its rows hold.',
			                      s.home_database, s.home_system_identifier, s.slot_name),
			      HINT = format('Call laredo.reset_source(%L, slot_name => ''a_new_name'') to start this copy over with a slot of its own and a new baseline.', s.source_id);
	END IF;
	PERFORM laredo._stop_worker(s.source_id);
	IF s.saved_lsn IS NOT NULL THEN
		PERFORM laredo._set_origin(s.source_id, s.saved_lsn);
	END IF;
	UPDATE laredo.source_config c SET
		home_system_identifier = laredo._system_identifier(), home_database = current_database(),
		home_database_oid = (SELECT oid FROM pg_database WHERE datname = current_database()),
		enabled = coalesce(c.saved_enabled, true), saved_lsn = NULL, saved_enabled = NULL,
		error = NULL, error_hint = NULL, error_time = NULL, config_version = c.config_version + 1
	WHERE c.source_id = s.source_id;
	PERFORM laredo._notify_config_change();
	RETURN s.saved_lsn;
END
$$;

CREATE OR REPLACE VIEW laredo.source_settings AS
SELECT c.source_id, c.create_publication, c.publish, c.publish_via_partition_root, c.reconnect_max_attempts,
       c.reconnect_initial_backoff, c.reconnect_max_backoff, c.reconnect_backoff_multiplier,
       c.created_at, c.origin, c.saved_lsn
FROM laredo.source_config c;
