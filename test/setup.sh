# Sourced by test/demo.sh and test/run_tests.sh: installs what laredo needs on
# Debian 12, then builds and installs it.  Defines as_root.
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

as_root apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	postgresql-15 postgresql-server-dev-15 libipc-run-perl make gcc python3 bc >/dev/null
cd "$root"
# PGXS does not track header dependencies: always build from clean
make -s clean >/dev/null
make -s >/dev/null
as_root make -s install >/dev/null
