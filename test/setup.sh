# Sourced by the demo, the test script and the benchmarks: installs what
# laredo needs on Debian 12, then builds and installs it.  Defines as_root,
# pg (run as the postgres user), free_port (a free loopback TCP port) and
# init_server (a new cluster on loopback).
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
pg() { as_root runuser -u postgres -- "$@"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# init_server DATADIR PORT [setting ...]: a new cluster listening on loopback
# only, its socket beside DATADIR, wal_level logical, plus the settings given.
init_server() {
	local data=$1 port=$2
	shift 2
	pg "$(pg_config --bindir)/initdb" -D "$data" -A trust >/dev/null
	{ printf "port = %s\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\nwal_level = logical\n" \
		"$port" "$(dirname "$data")"; printf '%s\n' "$@"; } | pg tee -a "$data/postgresql.conf" >/dev/null
}

as_root apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	postgresql-15 postgresql-server-dev-15 libipc-run-perl make gcc python3 bc >/dev/null
cd "$root"
# PGXS does not track header dependencies: always build from clean
make -s clean >/dev/null
make -s >/dev/null
as_root make -s install >/dev/null
