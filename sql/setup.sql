-- setup: the extension installs into schema laredo with its admin role.
CREATE EXTENSION laredo;
SELECT extname, extversion FROM pg_extension WHERE extname = 'laredo';
SELECT rolname FROM pg_roles WHERE rolname = 'laredo_admin';
SELECT table_name FROM information_schema.views WHERE table_schema = 'laredo' ORDER BY 1;
-- the catalog tables are not readable by PUBLIC (connection strings hold passwords)
SELECT has_table_privilege('public', 'laredo.source_config', 'SELECT') AS public_reads_config;
-- shared by the later tests: waits (at most a minute) until a source reaches a state
CREATE FUNCTION public.wait_state(p_source text, p_want text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	v text;
BEGIN
	FOR i IN 1..1200 LOOP
		SELECT state INTO v FROM laredo.sources WHERE source_id = p_source;
		EXIT WHEN v = p_want;
		PERFORM pg_sleep(0.05);
	END LOOP;
	RETURN v;
END
$$;
