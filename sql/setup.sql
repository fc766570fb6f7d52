-- setup: the extension installs into schema laredo with its admin role.
CREATE EXTENSION laredo;
SELECT extname, extversion FROM pg_extension WHERE extname = 'laredo';
SELECT rolname FROM pg_roles WHERE rolname = 'laredo_admin';
SELECT table_name FROM information_schema.views WHERE table_schema = 'laredo' ORDER BY 1;
-- the catalog tables are not readable by PUBLIC (connection strings hold passwords)
SELECT has_table_privilege('public', 'laredo.source_config', 'SELECT') AS public_reads_config;
