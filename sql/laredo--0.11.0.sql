-- laredo 0.11.0: catalog tables, views and the SQL surface.  (Earlier
-- versions are laredo--0.1.0.sql to laredo--0.10.0.sql; the scripts
-- laredo--A--B.sql update each to the next.)
--
-- Every table here is laredo's replication state for this database.  The SQL
-- functions only record what is asked; the source worker acts after the
-- caller commits (creating a slot waits for every xid-holding transaction on
-- the source server, the caller's included).

\echo Use "CREATE EXTENSION laredo" to load this file. \quit

-- The role that may manage sources.  Roles are cluster-wide, so it may exist
-- already from another database.
DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'laredo_admin') THEN
		CREATE ROLE laredo_admin NOLOGIN;
	END IF;
END
$$;

CREATE TABLE laredo.source_config (
	source_id text PRIMARY KEY,
	connection text NOT NULL,
	slot_mode text NOT NULL,
	slot_name name NOT NULL UNIQUE,
	publication name NOT NULL,
	create_publication boolean NOT NULL,
	publish text NOT NULL,
	reconnect_max_attempts integer NOT NULL,
	reconnect_initial_backoff interval NOT NULL,
	reconnect_max_backoff interval NOT NULL,
	reconnect_backoff_multiplier float8 NOT NULL,
	enabled boolean NOT NULL DEFAULT true,
	owner oid NOT NULL,
	config_version bigint NOT NULL DEFAULT 1,
	-- set while laredo has created a slot whose baseline has not committed
	slot_pending boolean NOT NULL DEFAULT false,
	-- a durable ERROR: the source is not restarted until alter_source or a reset
	error text,
	error_hint text,
	error_time timestamptz,
	created_at timestamptz NOT NULL DEFAULT now(),
	-- 0.2.0: the publication option, changes of a partition published as its root's
	publish_via_partition_root boolean NOT NULL DEFAULT false,
	CHECK (slot_mode IN ('stateful', 'ephemeral')),
	-- 0.3.0: which changes the source sends: 'any', or 'none' (only those made
	-- on the source itself; sources on 16 or later), as a subscription's origin
	origin text NOT NULL DEFAULT 'any' CHECK (origin IN ('any', 'none')),
	-- 0.3.0: the server (system identifier) and database (its OID: a rename
	-- keeps it; its name, for messages) the source belongs to; a copy of this
	-- database (pg_dump and restore, pg_upgrade) differs and never uses the
	-- original's slot until adopt_source or reset_source
	home_system_identifier text,
	home_database name,
	home_database_oid oid,
	-- 0.3.0: the position laredo.save_positions() recorded (pg_upgrade or a
	-- move), and whether the source was enabled then; adopt_source uses them
	saved_lsn pg_lsn,
	saved_enabled boolean,
	-- 0.4.0: a stateful source's slot is a failover slot (sources on 17 or
	-- later), synchronised to the source's standbys that are set up for it
	failover boolean NOT NULL DEFAULT true,
	-- 0.4.0: what a lost, invalidated or discontinued slot does: 'error' (a
	-- durable ERROR, a person decides) or 'rebaseline' (a new slot and a new
	-- baseline, readers never seeing an empty target)
	on_slot_lost text NOT NULL DEFAULT 'error' CHECK (on_slot_lost IN ('error', 'rebaseline')),
	-- 0.5.0: how often the worker moves this database's sequences of the
	-- mirrored tables up to the source's values (sync_sequences, never
	-- backwards); NULL: never by itself
	sequence_sync_interval interval CHECK (sequence_sync_interval >= interval '1 second')
);

CREATE TABLE laredo.source_tables (
	source_id text NOT NULL REFERENCES laredo.source_config ON DELETE CASCADE,
	schema_name name NOT NULL,
	table_name name NOT NULL,
	where_clause text,
	columns name[],
	-- published for insert and truncate only: no usable replica identity
	insert_only boolean NOT NULL DEFAULT false,
	PRIMARY KEY (source_id, schema_name, table_name),
	-- 0.2.0: an inheritance child, added with this parent (add_table of the parent)
	parent_schema name,
	parent_table name,
	-- 0.5.0: added by add_schema (and removed with its schema, or when the
	-- source drops it), not alone
	via_schema boolean NOT NULL DEFAULT false,
	-- 0.5.0: a partitioned table's leaf partitions when it was copied
	-- (qualified names, comma-separated; '' for none); the worker compares
	-- them with the source's, and copies the table again when one was
	-- attached or detached (the stream carries neither)
	partitions text,
	-- 0.5.0: the source table's OID when it was copied: the worker notices it
	-- dropped, or dropped and created again under its name
	source_oid oid
);

CREATE TABLE laredo.pipeline_config (
	pipeline_id text PRIMARY KEY,
	source_id text NOT NULL REFERENCES laredo.source_config,
	source_schema name NOT NULL,
	source_table name NOT NULL,
	target_kind text NOT NULL,
	target_schema name NOT NULL,
	target_table name NOT NULL,
	options jsonb NOT NULL DEFAULT '{}',
	owner oid NOT NULL,
	-- NULL until the pipeline's baseline has committed
	baseline_lsn pg_lsn,
	paused boolean NOT NULL DEFAULT false,
	baseline_rows bigint NOT NULL DEFAULT 0,
	baseline_duration interval,
	transactions bigint NOT NULL DEFAULT 0,
	bytes bigint NOT NULL DEFAULT 0,
	inserts bigint NOT NULL DEFAULT 0,
	updates bigint NOT NULL DEFAULT 0,
	deletes bigint NOT NULL DEFAULT 0,
	truncates bigint NOT NULL DEFAULT 0,
	last_lsn pg_lsn,
	last_applied_at timestamptz,
	error text,
	error_time timestamptz,
	created_at timestamptz NOT NULL DEFAULT now(),
	FOREIGN KEY (source_id, source_schema, source_table)
		REFERENCES laredo.source_tables (source_id, schema_name, table_name),
	CHECK (target_kind IN ('table', 'changelog', 'function')),
	-- 0.2.0: the pipeline of an inheritance child, created with this parent's
	parent_pipeline text,
	-- 0.2.0: updates and deletes whose row the target lacked: skipped, as the
	-- built-in subscriber skips them (its update_missing, delete_missing)
	update_missing bigint NOT NULL DEFAULT 0,
	delete_missing bigint NOT NULL DEFAULT 0
);

-- Changes a function target skipped (on_error => 'skip'), with the error.
CREATE TABLE laredo.dead_letters (
	pipeline_id text NOT NULL,
	op text NOT NULL,
	old jsonb,
	new jsonb,
	meta jsonb NOT NULL,
	error text NOT NULL,
	failed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON laredo.dead_letters (pipeline_id, failed_at);
REVOKE ALL ON laredo.dead_letters FROM PUBLIC;
GRANT SELECT, INSERT, DELETE ON laredo.dead_letters TO laredo_admin;
SELECT pg_catalog.pg_extension_config_dump('laredo.dead_letters', '');

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

-- Connection strings can hold passwords: only privileged roles read them.
REVOKE ALL ON laredo.source_config, laredo.source_tables, laredo.pipeline_config FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON laredo.source_config, laredo.source_tables,
	laredo.pipeline_config TO laredo_admin;

-- A source belongs to the role that created it: its worker runs as that
-- role, with its connection and its rights.  Row security lets a role see and
-- change only the sources of roles whose privileges it has (as ALTER needs an
-- object owner's privileges), with their tables, pipelines and dead letters,
-- and give a source only to such a role.  Without it any laredo_admin could
-- read another's password, or make a superuser the owner of its source.
-- laredo's views (owned by the extension's owner) still list every source,
-- without connection strings.
ALTER TABLE laredo.source_config ENABLE ROW LEVEL SECURITY;
CREATE POLICY owner_privileges ON laredo.source_config
	USING (pg_catalog.pg_has_role(current_user, owner, 'USAGE'))
	WITH CHECK (pg_catalog.pg_has_role(current_user, owner, 'USAGE'));
ALTER TABLE laredo.source_tables ENABLE ROW LEVEL SECURITY;
CREATE POLICY source_privileges ON laredo.source_tables
	USING (EXISTS (SELECT FROM laredo.source_config s WHERE s.source_id = source_tables.source_id));
ALTER TABLE laredo.pipeline_config ENABLE ROW LEVEL SECURITY;
CREATE POLICY source_privileges ON laredo.pipeline_config
	USING (EXISTS (SELECT FROM laredo.source_config s WHERE s.source_id = pipeline_config.source_id));
ALTER TABLE laredo.source_unmapped ENABLE ROW LEVEL SECURITY;
CREATE POLICY source_privileges ON laredo.source_unmapped
	USING (EXISTS (SELECT FROM laredo.source_config s WHERE s.source_id = source_unmapped.source_id));
ALTER TABLE laredo.dead_letters ENABLE ROW LEVEL SECURITY;
CREATE POLICY pipeline_privileges ON laredo.dead_letters
	USING (EXISTS (SELECT FROM laredo.pipeline_config p WHERE p.pipeline_id = dead_letters.pipeline_id));

-- The worker writes a pipeline's target with its owner's rights: only a role
-- with that owner's privileges may set it.
CREATE FUNCTION laredo._check_pipeline_owner() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF (TG_OP = 'INSERT' OR NEW.owner IS DISTINCT FROM OLD.owner)
	   AND NOT pg_has_role(current_user, NEW.owner, 'USAGE') THEN
		RAISE EXCEPTION 'permission denied to make % the owner of pipeline "%"', NEW.owner::regrole, NEW.pipeline_id
			USING ERRCODE = 'insufficient_privilege',
			      HINT = 'A pipeline belongs to the role that creates it.';
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER check_owner BEFORE INSERT OR UPDATE OF owner ON laredo.pipeline_config
	FOR EACH ROW EXECUTE FUNCTION laredo._check_pipeline_owner();

SELECT pg_catalog.pg_extension_config_dump('laredo.source_config', '');
SELECT pg_catalog.pg_extension_config_dump('laredo.source_tables', '');
SELECT pg_catalog.pg_extension_config_dump('laredo.pipeline_config', '');

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

-- 0.6.0: the copy of a pipeline's table in key ranges (chunk.c): one row
-- per pipeline copied that way, kept once done.  frontier is the last key
-- merged (NULL: none yet); a worker that restarts resumes after it.  The
-- row goes when the pipeline is sent back to copy (a trigger below), so a
-- new copy starts from the first key.
CREATE TABLE laredo.pipeline_copies (
	pipeline_id text PRIMARY KEY REFERENCES laredo.pipeline_config ON UPDATE CASCADE ON DELETE CASCADE,
	key_columns name[] NOT NULL,
	chunk_rows integer NOT NULL,
	estimated_rows bigint,
	frontier text[],
	ranges bigint NOT NULL DEFAULT 0,
	rows bigint NOT NULL DEFAULT 0,
	rereads bigint NOT NULL DEFAULT 0,
	reread_rows bigint NOT NULL DEFAULT 0,
	started_at timestamptz NOT NULL DEFAULT now(),
	started_lsn pg_lsn,
	last_merge_at timestamptz,
	last_merge_lsn pg_lsn,
	finished_at timestamptz,
	failed_reads bigint NOT NULL DEFAULT 0
);
REVOKE ALL ON laredo.pipeline_copies FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON laredo.pipeline_copies TO laredo_admin;
SELECT pg_catalog.pg_extension_config_dump('laredo.pipeline_copies', '');

-- 0.6.0: each key range merged by a copy, (lo, hi] (NULL: unbounded), in
-- the local transaction that wrote its rows and the resume position.
CREATE TABLE laredo.copy_ranges (
	pipeline_id text NOT NULL REFERENCES laredo.pipeline_copies ON UPDATE CASCADE ON DELETE CASCADE,
	range_no bigint NOT NULL,
	lo text[],
	hi text[],
	rows bigint NOT NULL,
	merged_lsn pg_lsn NOT NULL,
	merged_at timestamptz NOT NULL DEFAULT now(),
	rereads integer NOT NULL DEFAULT 0,
	PRIMARY KEY (pipeline_id, range_no)
);
REVOKE ALL ON laredo.copy_ranges FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON laredo.copy_ranges TO laredo_admin;
SELECT pg_catalog.pg_extension_config_dump('laredo.copy_ranges', '');

-- 0.6.0: a pipeline sent back to copy (resync_pipeline, reset_source, a
-- schema change the stream cannot carry, partitions or a table replaced)
-- starts its chunked copy again from the first key.
CREATE FUNCTION laredo._copy_restart() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	-- (explicitly: the worker runs with session_replication_role = replica,
	-- where the foreign key's cascade does not fire)
	DELETE FROM laredo.copy_ranges r WHERE r.pipeline_id = NEW.pipeline_id;
	DELETE FROM laredo.pipeline_copies c WHERE c.pipeline_id = NEW.pipeline_id;
	RETURN NULL;
END
$$;
CREATE TRIGGER copy_restart AFTER UPDATE OF baseline_lsn ON laredo.pipeline_config
	FOR EACH ROW WHEN (NEW.baseline_lsn IS NULL) EXECUTE FUNCTION laredo._copy_restart();
-- 0.8.0: fired in the worker too, which sends pipelines back to copy (a
-- schema change, partitions attached, a table replaced, a new baseline)
-- with session_replication_role = replica.
ALTER TABLE laredo.pipeline_config ENABLE ALWAYS TRIGGER copy_restart;

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

-------------------------------------------------------------------------------
-- C entry points
-------------------------------------------------------------------------------

-- Live status of this database's source workers, from shared memory.
CREATE FUNCTION laredo._worker_status(
	OUT source_id text, OUT worker_pid integer, OUT state text,
	OUT received_lsn pg_lsn, OUT confirmed_lsn pg_lsn, OUT source_wal_end pg_lsn,
	OUT last_error text, OUT last_error_time timestamptz,
	OUT reconnect_attempts integer, OUT next_retry_at timestamptz,
	OUT restart_lsn pg_lsn, OUT confirmed_flush_lsn pg_lsn, OUT wal_status text,
	OUT retained_wal_bytes bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'laredo_worker_status' LANGUAGE C STRICT VOLATILE;

-- The durable resume position (the replication origin's remote LSN).
CREATE FUNCTION laredo._origin_lsn(source_id text) RETURNS pg_lsn
AS 'MODULE_PATHNAME', 'laredo_origin_lsn' LANGUAGE C STRICT VOLATILE;

-- Wakes the launcher and this database's manager when the caller commits.
CREATE FUNCTION laredo._notify_config_change() RETURNS void
AS 'MODULE_PATHNAME', 'laredo_notify_config_change' LANGUAGE C VOLATILE;

-- Validates a connection string and returns it with any password masked.
CREATE FUNCTION laredo._check_connection(connection text, OUT masked text, OUT has_password boolean)
AS 'MODULE_PATHNAME', 'laredo_check_connection' LANGUAGE C STRICT IMMUTABLE;

-- Runs a catalog query on a source and returns each row as json (column order kept).
CREATE FUNCTION laredo._source_query(connection text, query text) RETURNS SETOF json
AS 'MODULE_PATHNAME', 'laredo_source_query' LANGUAGE C STRICT VOLATILE;

-- Runs a command that returns no rows on a source.
CREATE FUNCTION laredo._source_exec(connection text, command text) RETURNS void
AS 'MODULE_PATHNAME', 'laredo_source_exec' LANGUAGE C STRICT VOLATILE;

-- Drops a source's replication origin (its resume position), if any.
CREATE FUNCTION laredo._drop_origin(source_id text) RETURNS void
AS 'MODULE_PATHNAME', 'laredo_drop_origin' LANGUAGE C STRICT VOLATILE;

-- Stops a source's worker now and keeps it stopped until this transaction ends.
CREATE FUNCTION laredo._stop_worker(source_id text) RETURNS void
AS 'MODULE_PATHNAME', 'laredo_stop_worker' LANGUAGE C STRICT VOLATILE;

-- Validates a row filter expression without touching any database and
-- returns the columns it refers to.
CREATE FUNCTION laredo._check_where_clause(where_clause text) RETURNS name[]
AS 'MODULE_PATHNAME', 'laredo_check_where_clause' LANGUAGE C STRICT IMMUTABLE;

-- A procedure: it waits holding no snapshot (functions.c says why).
CREATE PROCEDURE laredo.wait_for_catchup(source_id text, timeout interval DEFAULT '60s')
AS 'MODULE_PATHNAME', 'laredo_wait_for_catchup' LANGUAGE C
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

-- Internal functions are not for PUBLIC.
REVOKE ALL ON FUNCTION laredo._source_query(text, text), laredo._source_exec(text, text),
	laredo._stop_worker(text), laredo._drop_origin(text), laredo._notify_config_change() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION laredo._source_query(text, text), laredo._source_exec(text, text),
	laredo._stop_worker(text), laredo._drop_origin(text), laredo._notify_config_change() TO laredo_admin;

-------------------------------------------------------------------------------
-- helpers
-------------------------------------------------------------------------------

CREATE FUNCTION laredo._is_admin() RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT rolsuper OR pg_has_role(current_user, 'laredo_admin', 'MEMBER')
	FROM pg_roles WHERE rolname = current_user
$$;

CREATE FUNCTION laredo._require_admin(what text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF NOT laredo._is_admin() THEN
		RAISE EXCEPTION 'permission denied to %', what
			USING ERRCODE = 'insufficient_privilege',
			      DETAIL = 'Only superusers and members of role "laredo_admin" manage laredo sources and pipelines.',
			      HINT = 'GRANT laredo_admin TO ' || quote_ident(current_user) || ';';
	END IF;
END
$$;

CREATE FUNCTION laredo._check_id(kind text, id text) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF id IS NULL OR id !~ '^[a-z_][a-z0-9_]*$' OR length(id) > 40 THEN
		RAISE EXCEPTION 'invalid % id "%"', kind, coalesce(id, 'NULL')
			USING ERRCODE = 'invalid_name',
			      DETAIL = 'A ' || kind || ' id names replication slots and processes, so it is restricted.',
			      HINT = 'Use 1 to 40 characters: lower-case letters, digits and underscores, not starting with a digit.';
	END IF;
END
$$;

CREATE FUNCTION laredo._source(p_source_id text) RETURNS laredo.source_config
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	s laredo.source_config;
	v_owner name;
BEGIN
	SELECT * INTO s FROM laredo.source_config WHERE source_id = p_source_id;
	IF FOUND THEN
		RETURN s;
	END IF;
	-- row security hides the sources of other owners; the view lists them all
	SELECT v.owner INTO v_owner FROM laredo.sources v WHERE v.source_id = p_source_id;
	IF FOUND THEN
		RAISE EXCEPTION 'permission denied for source "%"', p_source_id
			USING ERRCODE = 'insufficient_privilege',
			      DETAIL = 'Source "' || p_source_id || '" belongs to role ' || quote_ident(v_owner) || '.',
			      HINT = 'Only roles with the privileges of a source''s owner manage it and its pipelines.';
	END IF;
	RAISE EXCEPTION 'source "%" does not exist', coalesce(p_source_id, 'NULL')
		USING ERRCODE = 'undefined_object',
		      HINT = 'SELECT source_id FROM laredo.sources lists the sources of this database.';
END
$$;

-- A source's configuration changed: its worker is restarted with the new one
-- once the caller commits.
CREATE FUNCTION laredo._source_changed(p_source_id text) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	UPDATE laredo.source_config c SET config_version = c.config_version + 1 WHERE c.source_id = p_source_id;
	-- the worker reports again what its new configuration leaves without a pipeline
	DELETE FROM laredo.source_unmapped u WHERE u.source_id = p_source_id;
	PERFORM laredo._notify_config_change();
END
$$;

CREATE FUNCTION laredo._check_interval(name text, value interval) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF value IS NULL OR value <= interval '0' OR value > interval '1 day' THEN
		RAISE EXCEPTION '% must be a positive interval of at most 1 day, not %', name, coalesce(value::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'For example ' || name || ' => ''1s''.';
	END IF;
END
$$;

-- Splits 'schema.table' (quoted or not) into its two names; a bare name means public.
CREATE FUNCTION laredo._split_name(qualified text, OUT schema_name name, OUT table_name name)
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

-- Describes a source table from the source's own catalog: one row per
-- published column, in column order (a table without columns gives one row
-- whose attname is NULL).  type_name is the column's type as a column
-- definition writes it, with the column's collation when that is not its
-- type's (0.11.0), so that a mirror laredo creates sorts, compares and
-- copies in key ranges as the source does.  key marks replica identity
-- columns; identity is the table's replica identity setting ('d', 'f', 'i',
-- 'n').
CREATE FUNCTION laredo._describe_source_table(connection text, schema_name name, table_name name,
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

-- The inheritance descendants of a source table (not partitions: a
-- partitioned table's changes reach its own pipelines), each with its
-- parent, parents first.
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

-- Replication origins are cluster-wide: the name includes this database's OID.
CREATE FUNCTION laredo._origin_name(source_id text) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT 'laredo_' || (SELECT oid FROM pg_database WHERE datname = current_database()) || '_' || source_id
$$;

-------------------------------------------------------------------------------
-- sources
-------------------------------------------------------------------------------

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

CREATE FUNCTION laredo.drop_source(source_id text, drop_slot boolean DEFAULT true,
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

-- Starts a source over: stops its worker, drops its slot on the source (no
-- error if it is already gone) and, when asked, the publications laredo
-- created; clears the stored position.  The worker then creates a new slot
-- and takes a full baseline of every table (targets see a truncate, then the
-- new rows).  Works whether the worker runs, is stopped or is in ERROR.
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

-------------------------------------------------------------------------------
-- tables of a source
-------------------------------------------------------------------------------

-- Adds a table of the source, after checking it there; add_table's work for
-- the table named and for each of its inheritance children.
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

-- A table's inheritance children come with it, each a table of its own as
-- in a publication of the parent: their changes arrive under their own
-- names and go to pipelines of their own (create_pipeline of the parent
-- makes them).  Partitions are not added: a partitioned table's changes
-- reach its own pipelines, whether the source publishes them leaf by leaf
-- or as the root's.
CREATE FUNCTION laredo.add_table(source_id text, table_name text,
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

-- Called by a source's worker when it finds that the source changed a
-- table's replica identity.  A table without a usable one is published for
-- insert and truncate only (PostgreSQL would refuse the source's own UPDATE
-- and DELETE otherwise); once it has one, its updates and deletes must be
-- published too, and the other way round.  The table moves to the other
-- publication and its pipelines copy it again alone (the stream goes on for
-- the others; readers keep the old rows until the new ones commit), so no
-- change is lost.  Returns what was done, or NULL when nothing changes; a
-- move that would break the source's writes (a column list or row filter
-- beyond the new key) is not made, and said.
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

CREATE FUNCTION laredo.remove_table(source_id text, table_name text)
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

-------------------------------------------------------------------------------
-- pipelines
-------------------------------------------------------------------------------

-- A function pipeline: target names a function f(op text, old jsonb, new
-- jsonb, meta jsonb) that the caller may execute; it is called with the
-- rights of the pipeline's owner.
CREATE FUNCTION laredo._create_function_pipeline(pipeline_id text, s laredo.source_config,
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

-- The options each target kind understands; anything else is refused.
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

CREATE FUNCTION laredo._check_options(target_kind text, options jsonb) RETURNS void
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

-- Creates a change log, or checks that an existing table is one.
CREATE FUNCTION laredo._changelog_prepare(schema_name name, table_name name, existing regclass)
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

-- The inheritance children added with a table get pipelines of their own
-- when the table's is created (unless options say "children": false): ids
-- <pipeline_id>__<child>, targets of the child's name beside the parent's
-- (a change log: <child>_changelog; a function: the same function).
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

CREATE FUNCTION laredo.create_pipeline(pipeline_id text, source_id text, source_table text,
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

-- The source of a pipeline, or a clear error for an unknown one.
CREATE FUNCTION laredo._pipeline_source(p_pipeline_id text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	v_source text;
BEGIN
	SELECT p.source_id INTO v_source FROM laredo.pipeline_config p WHERE p.pipeline_id = p_pipeline_id;
	IF NOT FOUND AND EXISTS (SELECT FROM laredo.pipelines v WHERE v.pipeline_id = p_pipeline_id) THEN
		RAISE EXCEPTION 'permission denied for pipeline "%"', p_pipeline_id
			USING ERRCODE = 'insufficient_privilege',
			      DETAIL = 'Its source belongs to a role whose privileges you do not have.',
			      HINT = 'Only roles with the privileges of a source''s owner manage it and its pipelines.';
	ELSIF NOT FOUND THEN
		RAISE EXCEPTION 'pipeline "%" does not exist', coalesce(p_pipeline_id, 'NULL')
			USING ERRCODE = 'undefined_object',
			      HINT = 'SELECT pipeline_id FROM laredo.pipelines lists the pipelines of this database.';
	END IF;
	RETURN v_source;
END
$$;

CREATE FUNCTION laredo.drop_pipeline(pipeline_id text)
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

-- Changes the options of a pipeline that may change while it runs
-- (schema_changes, dropped_columns, copy, chunk_rows, chunk_bytes,
-- copy_rate, copy_rate_bytes, copy_statement_timeout, copy_max_lag,
-- copy_readers, copy_chunks_from, and a change log's retain); the others
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

-- Pausing a pipeline holds its source: the worker stops, nothing more is
-- acknowledged, and the slot keeps every change; resume applies them all.
-- The source's other pipelines wait too (laredo never skips a change to let
-- one pipeline run ahead).
CREATE FUNCTION laredo.pause_pipeline(pipeline_id text)
RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	v_source text;
BEGIN
	PERFORM laredo._require_admin('pause a pipeline');
	v_source := laredo._pipeline_source(pipeline_id);
	UPDATE laredo.pipeline_config p SET paused = true WHERE p.pipeline_id = pause_pipeline.pipeline_id;
	-- stop the worker now, so that nothing is applied once pause_pipeline returns
	PERFORM laredo._stop_worker(v_source);
	PERFORM laredo._notify_config_change();
END
$$;

CREATE FUNCTION laredo.resume_pipeline(pipeline_id text)
RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	v_source text;
BEGIN
	PERFORM laredo._require_admin('resume a pipeline');
	v_source := laredo._pipeline_source(pipeline_id);
	UPDATE laredo.pipeline_config p SET paused = false, error = NULL, error_time = NULL
	WHERE p.pipeline_id = resume_pipeline.pipeline_id;
	-- a pipeline in ERROR is resumed by retrying its source
	UPDATE laredo.source_config c SET error = NULL, error_hint = NULL, error_time = NULL,
		config_version = c.config_version + 1
	WHERE c.source_id = v_source;
	PERFORM laredo._notify_config_change();
END
$$;

-- Copies one pipeline's table again, alone (a table target that holds rows
-- in key ranges, chunk.c, when its table allows; otherwise in a snapshot of
-- its own); the source's other pipelines are not copied.  0.11.0: a source in ERROR is retried too, as resume_pipeline does: the
-- remedy an ERROR names (resync_pipeline) is then the whole remedy.
CREATE FUNCTION laredo.resync_pipeline(pipeline_id text)
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

-------------------------------------------------------------------------------
-- views
-------------------------------------------------------------------------------


CREATE VIEW laredo.sources AS
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

CREATE VIEW laredo.source_table_list AS
SELECT t.source_id, quote_ident(t.schema_name) || '.' || quote_ident(t.table_name) AS table_name,
       t.where_clause, t.columns, t.insert_only
FROM laredo.source_tables t;

GRANT USAGE ON SCHEMA laredo TO PUBLIC;
GRANT SELECT ON laredo.sources, laredo.pipelines, laredo.source_table_list TO PUBLIC;
GRANT SELECT ON laredo.source_schemas TO PUBLIC;

-- 0.6.0: the copies in key ranges, as pg_stat_progress_copy shows a COPY:
-- ranges and rows merged, the estimate (the source planner's row count
-- when the copy started), the time left at the pace so far, and the reads
-- of a range that failed on the source and were tried again (0.7.0).
CREATE VIEW laredo.copies AS
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
GRANT SELECT ON laredo.copies TO PUBLIC;

-- 0.7.0: online verification of a pipeline (chunk.c): its table compared
-- with the source's, key range by key range, each range at one exact
-- position of the stream while the stream goes on.  One row per request;
-- the counts are exact, verification_rows lists the keys that differ (at
-- most max_reported of them).  With repair (0.8.0), the rows that differ
-- are replaced by the source's at the range's position, and counted in
-- repaired.  hashed_ranges (0.8.0): the ranges found equal by a hash of
-- their rows on each side, whose rows were not read.
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
	error text,
	repair boolean NOT NULL DEFAULT false,
	repaired bigint NOT NULL DEFAULT 0,
	hashed_ranges bigint NOT NULL DEFAULT 0
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

-- Asks the pipeline's worker to compare its table target with the source,
-- range by range (chunk_rows rows each), at exact positions of the stream;
-- returns the verification's id (laredo.verifications has the outcome).  A
-- table target (0.10.0: with columns, soft_delete, metadata_columns or
-- where too) whose source table has a key a copy in ranges can use; the
-- worker restarts to take the request.  repair (0.8.0): the rows that
-- differ are replaced by the source's, each range in the local transaction
-- that records its position.
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

-- 0.8.0: a verification that repairs what it finds (verify_pipeline with
-- repair => true): the mirror's rows that differ from the source's are
-- replaced, deleted or added, range by range at exact positions of the
-- stream, while the stream goes on; nothing else of the mirror is written.
CREATE FUNCTION laredo.repair_pipeline(pipeline_id text, chunk_rows integer DEFAULT 10000,
                                       max_reported integer DEFAULT 1000)
RETURNS bigint
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
RETURN laredo.verify_pipeline(pipeline_id, chunk_rows, max_reported, repair => true);

-- 0.8.0: every pipeline of a source that can be verified (a table target,
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
			      HINT = 'Verification compares a table target, once its copy is done and while no other verification of it runs.';
	END IF;
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

-- Everything known about one source: the laredo.sources row, its settings,
-- its tables and pipelines.
CREATE TYPE laredo.source_info AS (source_id text, slot_mode text, slot_name name, publication name,
	enabled boolean, state text, worker_pid integer, confirmed_lsn pg_lsn, received_lsn pg_lsn,
	lag_bytes bigint, last_error text, last_error_time timestamptz, last_error_hint text,
	reconnect_attempts integer, next_retry_at timestamptz, restart_lsn pg_lsn,
	confirmed_flush_lsn pg_lsn, wal_status text, retained_wal_bytes bigint, connection text,
	create_publication boolean, publish text, reconnect_max_attempts integer,
	publish_via_partition_root boolean,
	reconnect_initial_backoff interval, reconnect_max_backoff interval,
	reconnect_backoff_multiplier float8, tables text[], pipelines text[], created_at timestamptz,
	failover boolean, failover_readiness text, lag_reason text, on_slot_lost text,
	rebaselined_at timestamptz, rebaseline_cause text);

-- A source's settings, without its connection string: readable by anyone.
CREATE VIEW laredo.source_settings AS
SELECT c.source_id, c.create_publication, c.publish, c.publish_via_partition_root, c.reconnect_max_attempts,
       c.reconnect_initial_backoff, c.reconnect_max_backoff, c.reconnect_backoff_multiplier,
       c.created_at, c.origin, c.saved_lsn, c.failover, c.on_slot_lost, c.sequence_sync_interval
FROM laredo.source_config c;
GRANT SELECT ON laredo.source_settings TO PUBLIC;

-- Runs with the caller's rights: the connection string shows only to
-- privileged roles, as in laredo.sources.
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
	       c.created_at, c.failover, h.failover_readiness, h.lag_reason, c.on_slot_lost,
	       h.rebaselined_at, h.rebaseline_cause
	FROM laredo.sources v JOIN laredo.source_settings c USING (source_id)
	LEFT JOIN laredo.source_servers h USING (source_id)
	WHERE v.source_id = source.source_id;
END
$$;

-- One row per problem, none when all is well: for a monitoring system's SQL
-- check (SELECT count(*) = 0 FROM laredo.health()).
CREATE FUNCTION laredo.health(max_lag_bytes bigint DEFAULT 1073741824,
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

-- Called before DROP EXTENSION laredo (utility hook): every source is
-- dropped with its slot and owned publications, so no slot is left behind to
-- pin the source's WAL; an unreachable source only warns, with the command to
-- run there.
CREATE FUNCTION laredo._drop_all_sources()
RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	v_id text;
BEGIN
	FOR v_id IN SELECT c.source_id FROM laredo.source_config c ORDER BY 1 LOOP
		PERFORM laredo.drop_source(v_id, drop_slot => true, force => true);
	END LOOP;
END
$$;
REVOKE ALL ON FUNCTION laredo._drop_all_sources() FROM PUBLIC;

-- Drops a source's slot and owned publication on the source.  The walsender
-- of a just-stopped worker may hold the slot for a moment, so that case is
-- retried for up to ten seconds; any other failure is final.  An unreachable source never blocks a drop when force
-- is set: a warning names the command to run on the source instead.
CREATE FUNCTION laredo._drop_source_objects(connection text, slot_name name, publication name, force boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET client_min_messages = warning AS $$
DECLARE
	v_err text;
BEGIN
	FOR i IN 1..100 LOOP
		BEGIN
			PERFORM laredo._source_query(connection, format(
				'SELECT pg_catalog.pg_drop_replication_slot(slot_name) IS NULL AS dropped FROM pg_catalog.pg_replication_slots WHERE slot_name = %L',
				slot_name));
			IF publication IS NOT NULL THEN
				PERFORM laredo._source_exec(connection, format('DROP PUBLICATION IF EXISTS %I, %I',
					publication, publication || '_insert_only'));
			END IF;
			RETURN;
		EXCEPTION WHEN OTHERS THEN
			v_err := SQLERRM;
			-- only a slot still held by the stopped worker's walsender is worth a retry
			EXIT WHEN SQLSTATE <> '55006' AND v_err NOT LIKE '%is active for PID%';
			PERFORM pg_sleep(0.1);
		END;
	END LOOP;
	IF NOT force THEN
		RAISE EXCEPTION 'could not drop replication slot "%" on the source: %', slot_name, v_err
			USING ERRCODE = 'object_in_use',
			      HINT = 'Make the source reachable, or use force => true and drop the slot on the source yourself.';
	END IF;
	RAISE WARNING 'could not drop replication slot "%" on the source: %', slot_name, v_err
		USING HINT = format('Run on the source: SELECT pg_drop_replication_slot(%L);', slot_name);
END
$$;


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

-- Wake the launcher so that this database gets a manager.
SELECT laredo._notify_config_change();
