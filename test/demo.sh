#!/usr/bin/env bash
# The live demo: installs and builds laredo, starts a throwaway server on a
# free loopback port, mirrors table shop.public.orders into
# warehouse.mirror.orders through a stateful source, writes rows on the
# source and shows them arriving, then shows laredo.sources and
# laredo.pipelines.  Everything is removed at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/test/setup.sh"

bin=$(pg_config --bindir)
dir=$(mktemp -d)
as_root chown postgres "$dir"
port=$(free_port)
cleanup() { pg "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true; as_root rm -rf "$dir"; }
trap cleanup EXIT

pg "$bin/initdb" -D "$dir/data" -A trust >/dev/null
cat <<CONF | pg tee -a "$dir/data/postgresql.conf" >/dev/null
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
wal_level = logical
shared_preload_libraries = 'laredo'
CONF
pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w start >/dev/null
psql_as() { pg psql -h 127.0.0.1 -p "$port" -X -q -v ON_ERROR_STOP=1 "$@"; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "a throwaway server on 127.0.0.1:$port: database shop (the source) and warehouse (laredo)"
psql_as -d postgres -c 'CREATE DATABASE shop' -c 'CREATE DATABASE warehouse'
psql_as -d shop -c "CREATE TABLE orders (id int PRIMARY KEY, customer text, total numeric(10,2), placed timestamptz DEFAULT now())" \
	-c "INSERT INTO orders (id, customer, total) SELECT g, 'customer ' || g, g * 9.99 FROM generate_series(1, 1000) g"

say "create the extension, a stateful source, its table and a pipeline"
psql_as -d warehouse -e <<SQL
CREATE EXTENSION laredo;
CREATE SCHEMA mirror;
BEGIN;
SELECT laredo.create_source('shop', connection => 'host=127.0.0.1 port=$port dbname=shop user=postgres');
SELECT laredo.add_table('shop', 'public.orders');
SELECT laredo.create_pipeline('orders', 'shop', 'public.orders', target => 'mirror.orders');
COMMIT;
CALL laredo.wait_for_catchup('shop', '60s');
SQL

say "the baseline has arrived"
psql_as -d warehouse -c 'SELECT count(*) AS mirrored_rows, sum(total) FROM mirror.orders'

say "write on the source: insert, update, delete"
psql_as -d shop -e -c "INSERT INTO orders (id, customer, total) VALUES (1001, 'new customer', 42.00)" \
	-c "UPDATE orders SET total = total * 2 WHERE id <= 10" \
	-c "DELETE FROM orders WHERE id BETWEEN 500 AND 599"
psql_as -d warehouse -c "CALL laredo.wait_for_catchup('shop', '30s')" >/dev/null

say "... and it arrives in the target"
psql_as -d warehouse -c 'SELECT id, customer, total FROM mirror.orders WHERE id IN (1, 2, 550, 1001) ORDER BY id' \
	-c 'SELECT count(*) AS mirrored_rows, sum(total) FROM mirror.orders'
psql_as -d shop -c 'SELECT count(*) AS source_rows, sum(total) FROM orders'

say "laredo.sources and laredo.pipelines"
# counters are written with the data at most once a second
for _ in $(seq 1 50); do
	[ "$(psql_as -d warehouse -At -c "SELECT inserts + updates + deletes > 0 FROM laredo.pipelines")" = t ] && break
	sleep 0.1
done
psql_as -d warehouse -x -c 'SELECT * FROM laredo.sources' -c 'SELECT * FROM laredo.pipelines'

say "the slot on the source"
psql_as -d shop -c 'SELECT slot_name, plugin, confirmed_flush_lsn, active FROM pg_replication_slots'
say "done; the throwaway server is removed"
