-- laredo 0.3.0 -> 0.4.0 (ALTER EXTENSION laredo UPDATE).
--
-- What 0.4.0 adds to the catalog: laredo.source_history, where each
-- source's worker records the source server it streams from (system
-- identifier, timeline and its switch points) and checks it on the next
-- connect, the view laredo.source_servers over it, and
-- laredo.accept_source_server.  The sources that exist have no record yet:
-- each records one at its next connect, and is checked from then on.

\echo Use "ALTER EXTENSION laredo UPDATE TO '0.4.0'" to load this file. \quit

-- 0.4.0: what laredo knows of the source server its position came from,
-- recorded on each connect and checked on the next (continuity.c): the
-- server's system identifier, its timeline and the switch points of its
-- earlier timelines ("tli switchpoint" lines), and, when the position is
-- past the last change applied (keepalives, tables nobody follows), where
-- that change was.  A failover to a standby whose history forks after the
-- last change moves the position back to the fork; one that forks before
-- it stops the source with an ERROR.
CREATE TABLE laredo.source_history (
	source_id text PRIMARY KEY REFERENCES laredo.source_config ON UPDATE CASCADE ON DELETE CASCADE,
	system_identifier text NOT NULL,
	timeline integer NOT NULL,
	history text NOT NULL,
	last_change_lsn pg_lsn,
	recorded_at timestamptz NOT NULL,
	-- what a failover of the source would find (sources on 17 or later, with
	-- failover on): 'ready', or what is missing, on the primary and on each
	-- standby the connection string names; NULL: not checked
	failover_readiness text,
	failover_checked_at timestamptz,
	-- why the source holds the stream back, when it does (a standby of
	-- synchronized_standby_slots that has not confirmed); NULL otherwise
	lag_reason text,
	-- the last time on_slot_lost = 'rebaseline' took a new baseline: when,
	-- why (the error it replaced), the old slot (its name and position) and
	-- the new one
	rebaselined_at timestamptz,
	rebaseline_cause text,
	rebaseline_old_slot text,
	rebaseline_new_slot text
);
REVOKE ALL ON laredo.source_history FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON laredo.source_history TO laredo_admin;
SELECT pg_catalog.pg_extension_config_dump('laredo.source_history', '');

-- The source's server as laredo last saw it, for everyone (no secret in it).
CREATE VIEW laredo.source_servers AS
SELECT h.source_id, h.system_identifier, h.timeline,
       h.history AS earlier_timelines, h.last_change_lsn, h.recorded_at,
       h.failover_readiness, h.failover_checked_at, h.lag_reason,
       h.rebaselined_at, h.rebaseline_cause, h.rebaseline_old_slot, h.rebaseline_new_slot
FROM laredo.source_history h;
GRANT SELECT ON laredo.source_servers TO PUBLIC;

-- A source that another server than the recorded one now answers for (a
-- pg_upgrade of the source changes its system identifier; so does a
-- replacement that continues it): accepted by a person, the source resumes
-- from its position, whose slot must be there, and records the new server.
CREATE FUNCTION laredo.accept_source_server(source_id text)
RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	s laredo.source_config;
BEGIN
	PERFORM laredo._require_admin('accept a source''s new server');
	s := laredo._source(source_id);
	PERFORM laredo._stop_worker(s.source_id);
	DELETE FROM laredo.source_history h WHERE h.source_id = s.source_id;
	UPDATE laredo.source_config c SET error = NULL, error_hint = NULL, error_time = NULL,
		config_version = c.config_version + 1
	WHERE c.source_id = s.source_id;
	PERFORM laredo._notify_config_change();
END
$$;


-- _is_copy's body (SQL-standard) depends on source_config's row type, which
-- ALTER TABLE may not change under it: it is made again, the same.
DROP FUNCTION laredo._is_copy(laredo.source_config);
ALTER TABLE laredo.source_config ADD COLUMN failover boolean NOT NULL DEFAULT true,
	ADD COLUMN on_slot_lost text NOT NULL DEFAULT 'error' CHECK (on_slot_lost IN ('error', 'rebaseline'));
CREATE FUNCTION laredo._is_copy(s laredo.source_config) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
RETURN s.home_system_identifier IS DISTINCT FROM laredo._system_identifier()
	OR s.home_database_oid IS DISTINCT FROM (SELECT oid FROM pg_database WHERE datname = current_database());

-- on_slot_lost: 'error' or 'rebaseline'.
CREATE FUNCTION laredo._check_on_slot_lost(on_slot_lost text) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF on_slot_lost IS NULL OR on_slot_lost NOT IN ('error', 'rebaseline') THEN
		RAISE EXCEPTION 'invalid on_slot_lost "%"', coalesce(on_slot_lost, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'on_slot_lost is ''error'' (a durable ERROR when the slot is lost, invalidated or does not continue laredo''s position) or ''rebaseline'' (a new slot and a new baseline, by itself).';
	END IF;
END
$$;

-- create_source and alter_source take failover and on_slot_lost.
DROP FUNCTION laredo.create_source(text, text, text, text, text, boolean, text, integer, interval,
	interval, float8, boolean, boolean, text);
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
	on_slot_lost text DEFAULT 'error')
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

	INSERT INTO laredo.source_config (source_id, connection, slot_mode, slot_name, publication,
		create_publication, publish, publish_via_partition_root, reconnect_max_attempts,
		reconnect_initial_backoff, reconnect_max_backoff, reconnect_backoff_multiplier, enabled, owner,
		origin, home_system_identifier, home_database, home_database_oid, failover, on_slot_lost)
	VALUES (source_id, connection, slot_mode, v_slot, v_pub, coalesce(create_publication, true),
		array_to_string(v_publish, ', '), publish_via_partition_root, reconnect_max_attempts,
		reconnect_initial_backoff, reconnect_max_backoff, reconnect_backoff_multiplier,
		coalesce(enabled, true), (SELECT oid FROM pg_roles WHERE rolname = current_user),
		origin, laredo._system_identifier(), current_database(),
		(SELECT oid FROM pg_database WHERE datname = current_database()), failover, on_slot_lost);
	PERFORM laredo._notify_config_change();
END
$$;

DROP FUNCTION laredo.alter_source(text, text, boolean, integer, interval, interval, float8, text, text);
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
	on_slot_lost text DEFAULT NULL)
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
       c.created_at, c.origin, c.saved_lsn, c.failover, c.on_slot_lost
FROM laredo.source_config c;

ALTER TYPE laredo.source_info ADD ATTRIBUTE failover boolean, ADD ATTRIBUTE failover_readiness text,
	ADD ATTRIBUTE lag_reason text, ADD ATTRIBUTE on_slot_lost text, ADD ATTRIBUTE rebaselined_at timestamptz,
	ADD ATTRIBUTE rebaseline_cause text;
CREATE OR REPLACE FUNCTION laredo.source(source_id text)
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
	       c.created_at, c.failover, h.failover_readiness, h.lag_reason, c.on_slot_lost,
	       h.rebaselined_at, h.rebaseline_cause
	FROM laredo.sources v JOIN laredo.source_settings c USING (source_id)
	LEFT JOIN laredo.source_servers h USING (source_id)
	WHERE v.source_id = source.source_id;
END
$$;

-- health() reports a source whose failover is not ready, a stream the
-- source holds back, and a standby that laredo.synchronized_standby_slots
-- waits for.
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
	UNION ALL
	-- 0.4.0: a source on 17 or later whose failover would lose laredo's slot
	SELECT h.source_id, NULL, 'source failover not ready', h.failover_readiness, h.failover_checked_at
	FROM laredo.source_history h JOIN laredo.source_config c USING (source_id)
	WHERE c.failover AND c.enabled AND h.failover_readiness <> 'ready'
	  AND h.failover_readiness NOT LIKE 'no standby:%'
	UNION ALL
	SELECT h.source_id, NULL, 'source holds the stream back', h.lag_reason, NULL
	FROM laredo.source_history h WHERE h.lag_reason IS NOT NULL
	UNION ALL
	-- reported for a day: a monitoring system sees it, then it clears by itself
	SELECT h.source_id, NULL, 'source rebaselined after losing its slot',
	       format('on_slot_lost = rebaseline replaced slot %s with %s and took a new baseline: %s',
	              h.rebaseline_old_slot, h.rebaseline_new_slot, h.rebaseline_cause),
	       h.rebaselined_at
	FROM laredo.source_history h WHERE h.rebaselined_at > now() - interval '1 day'
	UNION ALL
	-- 0.4.0: a standby of this server that laredo waits for (laredo.synchronized_standby_slots)
	SELECT NULL, NULL, 'standby holds back acknowledgements',
	       CASE WHEN r.slot_name IS NULL
	            THEN format('physical slot %s named in laredo.synchronized_standby_slots does not exist', btrim(n.name))
	            WHEN r.slot_type <> 'physical'
	            THEN format('slot %s named in laredo.synchronized_standby_slots is not a physical slot', r.slot_name)
	            WHEN r.wal_status = 'lost'
	            THEN format('physical slot %s named in laredo.synchronized_standby_slots has been invalidated', r.slot_name)
	            ELSE format('the standby of physical slot %s is not connected: laredo acknowledges to its sources only what that standby has (%s), and the sources keep their WAL meanwhile',
	                        r.slot_name, coalesce(r.restart_lsn::text, 'nothing yet')) END,
	       NULL
	FROM unnest(string_to_array(nullif(current_setting('laredo.synchronized_standby_slots', true), ''), ',')) n(name)
	LEFT JOIN pg_catalog.pg_replication_slots r ON r.slot_name = btrim(n.name)
	WHERE r.slot_name IS NULL OR r.slot_type <> 'physical' OR r.wal_status = 'lost' OR NOT r.active
	ORDER BY 1, 2 NULLS FIRST, 3;
END
$$;

-- laredo.sources shows the last rebaseline (on_slot_lost).
CREATE OR REPLACE VIEW laredo.sources AS
SELECT c.source_id,
       c.slot_mode,
       c.slot_name,
       c.publication,
       c.enabled,
       CASE WHEN c.error IS NOT NULL THEN 'ERROR'
            WHEN NOT c.enabled THEN 'DISABLED'
            WHEN EXISTS (SELECT FROM laredo.pipeline_config p WHERE p.source_id = c.source_id AND p.paused)
                 THEN 'PAUSED'
            WHEN w.state IS NOT NULL THEN w.state
            ELSE 'STARTING' END AS state,
       w.worker_pid,
       coalesce(w.confirmed_lsn, laredo._origin_lsn(c.source_id)) AS confirmed_lsn,
       w.received_lsn,
       CASE WHEN w.source_wal_end IS NOT NULL
            THEN greatest(0, w.source_wal_end - coalesce(w.confirmed_lsn, laredo._origin_lsn(c.source_id)))
       END::bigint AS lag_bytes,
       coalesce(c.error, w.last_error) AS last_error,
       CASE WHEN c.error IS NOT NULL THEN c.error_time ELSE w.last_error_time END AS last_error_time,
       c.error_hint AS last_error_hint,
       coalesce(w.reconnect_attempts, 0) AS reconnect_attempts,
       w.next_retry_at,
       w.restart_lsn,
       w.confirmed_flush_lsn,
       w.wal_status,
       w.retained_wal_bytes,
       CASE WHEN pg_has_role(current_user, c.owner, 'USAGE')
            THEN (laredo._check_connection(c.connection)).masked END AS connection,
       c.owner::regrole::name AS owner,
       h.rebaselined_at AS last_rebaseline_at,
       h.rebaseline_cause AS last_rebaseline_cause
FROM laredo.source_config c
LEFT JOIN laredo._worker_status() w ON w.source_id = c.source_id
LEFT JOIN laredo.source_history h ON h.source_id = c.source_id;
