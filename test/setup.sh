# Sourced by the demo, the test script and the benchmarks: installs what
# laredo needs on Debian 12, then builds and installs it.  Defines as_root,
# pg (run as the postgres user) and free_port (a free loopback TCP port).
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
pg() { as_root runuser -u postgres -- "$@"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

as_root apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	postgresql-15 postgresql-server-dev-15 libipc-run-perl make gcc python3 bc >/dev/null
cd "$root"
# PGXS does not track header dependencies: always build from clean
make -s clean >/dev/null
make -s >/dev/null
as_root make -s install >/dev/null
