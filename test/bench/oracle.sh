#!/usr/bin/env bash
# The differential oracle of TAP 210 over many more seeds: laredo against
# PostgreSQL's own subscriber, every scenario of test/perl/LaredoOracle.pm
# with each seed (a seed draws the workloads and whether laredo shares the
# subscription's publication or makes its own).  As root, like the other
# benchmarks: installs what laredo needs, builds and installs it from a copy
# of this tree (LAREDO_ORACLE_INSTALL=0: test the laredo already installed),
# and runs the test as postgres, ten seeds per set of servers.
#   bash test/bench/oracle.sh [N]            N seeds (default 20) from a random first one
#                                            (LAREDO_ORACLE_FIRST_SEED to choose it)
#   bash test/bench/oracle.sh 17,42,1000     these seeds
#   LAREDO_ORACLE_SEEDS=17 bash test/bench/oracle.sh    the same, as the replay lines say
# LAREDO_ORACLE_STEPS is 60 here unless set (40 in CI); LAREDO_ORACLE_SCENARIOS
# and the other knobs of test/perl/LaredoOracle.pm pass through, and so does
# PG_CONFIG (with LAREDO_ORACLE_INSTALL=0: a laredo installed elsewhere).
# Every failing seed and scenario is printed with the command that replays
# it alone; the servers' logs of a batch with failures are kept.  Exit
# status 1 when anything failed.
set -euo pipefail
shopt -s inherit_errexit
src=$(cd "$(dirname "$0")/../.." && pwd)
arg=${1:-20}

if [ -n "${LAREDO_ORACLE_SEEDS:-}" ]; then
	seeds=$LAREDO_ORACLE_SEEDS
elif [[ $arg == *,* ]]; then
	seeds=$arg
elif [[ $arg =~ ^[0-9]+$ ]]; then
	first=${LAREDO_ORACLE_FIRST_SEED:-$(((RANDOM << 15 | RANDOM) % 1000000))}
	seeds=$(seq -s, "$first" $((first + arg - 1)))
	echo "seeds $first to $((first + arg - 1))"
else
	echo "usage: $0 [number of seeds | seed,seed,...]" >&2
	exit 2
fi
[[ $seeds =~ ^[0-9]+(,[0-9]+)*$ ]] || { echo "seeds must be integers: $seeds" >&2; exit 2; }

# build in a copy that postgres owns (the tree stays as it is)
work=$(mktemp -d)
cp -a "$src"/. "$work"/
root=$work
if [ "${LAREDO_ORACLE_INSTALL:-1}" = 0 ]; then
	as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
	cd "$root"
else
	. "$root/test/setup.sh"
fi
trap 'as_root rm -rf "$work"' EXIT
as_root chown -R postgres "$work"
chmod 755 "$work"
results=${LAREDO_ORACLE_RESULTS:-$(mktemp -d /tmp/laredo_oracle.XXXXXX)}
mkdir -p "$results"
chmod 755 "$results"

# every other LAREDO_ORACLE_ knob goes to the test as it is (and PG_CONFIG:
# another installation's laredo)
steps=${LAREDO_ORACLE_STEPS:-60}
passthru=()
for v in $(compgen -e | grep -E '^(LAREDO_ORACLE_|PG_CONFIG$)' | grep -vE '^LAREDO_ORACLE_(SEEDS|STEPS)$' || true); do
	passthru+=("$v=${!v}")
done
IFS=, read -r -a all <<<"$seeds"
status=0
failures=()
for ((i = 0; i < ${#all[@]}; i += 10)); do
	batch=$(IFS=,; echo "${all[*]:i:10}")
	echo "=== seeds $batch"
	out="$results/seeds_${batch//,/_}.log"
	rc=0
	as_root runuser -u postgres -- env "${passthru[@]}" LAREDO_ORACLE_SEEDS="$batch" LAREDO_ORACLE_STEPS="$steps" \
		make -s installcheck REGRESS= PROVE_TESTS=test/t/210_oracle.pl >"$out" 2>&1 || rc=$?
	# the table of outcomes
	awk '/^# scenario / {on = 1} on && (!/^# / || /^# (replay|Looks like)/) {on = 0} on {sub(/^# /, ""); print}' "$out"
	mapfile -t replay < <(grep -E '^# LAREDO_ORACLE_SEEDS=' "$out" | sed 's/^# //' || true)
	if [ "$rc" -ne 0 ]; then
		status=1
		if [ ${#replay[@]} -eq 0 ]; then
			# no verdict: the test itself broke (or a server crashed)
			tail -n 40 "$out"
			replay=("LAREDO_ORACLE_SEEDS=$batch LAREDO_ORACLE_STEPS=$steps bash test/bench/oracle.sh   # (the whole batch)")
		fi
		failures+=("${replay[@]}")
		rm -rf "$results/logs_${batch//,/_}"
		cp -a tmp_check/log "$results/logs_${batch//,/_}"
		echo "output: $out; servers' logs: $results/logs_${batch//,/_}"
	fi
done

echo
if [ "$status" -eq 0 ]; then
	echo "all ${#all[@]} seeds passed"
else
	echo "failures (each line replays one):"
	printf '%s\n' "${failures[@]}"
	echo "details: $results"
fi
exit "$status"
