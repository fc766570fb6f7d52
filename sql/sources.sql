-- sources: create, inspect, alter and drop sources; the views; password masking.
\set SHOW_CONTEXT never
CREATE TABLE public.items (id int PRIMARY KEY, name text);
SELECT laredo.create_source('s1', connection => 'host=127.0.0.1 port=1 dbname=x user=u password=secret',
                            slot_name => 's1_slot', enabled => false);
SELECT laredo.create_source('s2', connection => '', slot_name => 's2_slot', publication => 's2_pub',
                            publish => 'insert, update', reconnect_max_attempts => 3,
                            reconnect_initial_backoff => '2s', reconnect_max_backoff => '30s',
                            reconnect_backoff_multiplier => 1.5, enabled => false);
SELECT source_id, slot_mode, slot_name, publication, enabled, state, worker_pid, last_error, connection
FROM laredo.sources ORDER BY source_id;
SELECT source_id, publish, create_publication, reconnect_max_attempts, reconnect_initial_backoff,
       reconnect_max_backoff, reconnect_backoff_multiplier
FROM laredo.source_config ORDER BY source_id;
-- the default slot name: laredo_<source_id>_<hash of this server and database>
SELECT laredo.create_source('s3', enabled => false);
SELECT slot_name ~ '^laredo_s3_[0-9a-f]{8}$' AS default_slot, publication = slot_name || '_pub' AS default_pub
FROM laredo.sources WHERE source_id = 's3';
SELECT laredo.alter_source('s2', reconnect_max_attempts => 5, reconnect_max_backoff => '90s');
SELECT reconnect_max_attempts, reconnect_max_backoff, config_version FROM laredo.source_config WHERE source_id = 's2';
SELECT laredo.alter_source('s1', connection => 'host=127.0.0.1 port=2 dbname=y user=u password=other');
SELECT connection FROM laredo.sources WHERE source_id = 's1';
-- an unprivileged role sees the views but no connection string, and cannot manage sources
CREATE ROLE laredo_regress_user LOGIN;
SET ROLE laredo_regress_user;
SELECT source_id, connection FROM laredo.sources ORDER BY source_id;
SELECT * FROM laredo.source_config;
SELECT laredo.create_source('s9', connection => 'host=127.0.0.1 user=u password=p');
SELECT laredo.drop_source('s1');
RESET ROLE;
-- a laredo_admin that is not superuser needs a password in the connection string
GRANT laredo_admin TO laredo_regress_user;
SET ROLE laredo_regress_user;
SELECT laredo.create_source('s9', connection => 'host=127.0.0.1 user=u');
SELECT laredo.create_source('s9', connection => '');
SELECT laredo.create_source('s9', connection => 'host=127.0.0.1 user=u password=p', enabled => false);
SELECT source_id, connection FROM laredo.sources WHERE source_id = 's9';
RESET ROLE;
SELECT laredo.drop_source('s9', drop_slot => false);
SELECT laredo.drop_source('s3', drop_slot => false);
SELECT laredo.drop_source('s2', drop_slot => false);
SELECT laredo.drop_source('s1', drop_slot => false);
SELECT count(*) FROM laredo.sources;
REVOKE laredo_admin FROM laredo_regress_user;
DROP ROLE laredo_regress_user;
