# laredo: PGXS build
EXTENSION = laredo
MODULE_big = laredo
OBJS = \
	src/laredo.o \
	src/launcher.o \
	src/source_worker.o \
	src/source_checks.o \
	src/remote.o \
	src/continuity.o \
	src/failover.o \
	src/replication.o \
	src/publication.o \
	src/baseline.o \
	src/apply.o \
	src/target_exec.o \
	src/target_table_load.o \
	src/target_table_merge.o \
	src/target_table_route.o \
	src/target_table.o \
	src/bpchar_input.o \
	src/target_changelog.o \
	src/target_function.o \
	src/schema_changes.o \
	src/row_json.o \
	src/standby_slots.o \
	src/chunk.o \
	src/state.o \
	src/functions.o

DATA = sql/laredo--0.1.0.sql sql/laredo--0.2.0.sql sql/laredo--0.3.0.sql sql/laredo--0.4.0.sql sql/laredo--0.5.0.sql sql/laredo--0.6.0.sql sql/laredo--0.7.0.sql sql/laredo--0.8.0.sql sql/laredo--0.9.0.sql sql/laredo--0.10.0.sql sql/laredo--0.11.0.sql \
	sql/laredo--0.1.0--0.2.0.sql sql/laredo--0.2.0--0.3.0.sql sql/laredo--0.3.0--0.4.0.sql sql/laredo--0.4.0--0.5.0.sql sql/laredo--0.5.0--0.6.0.sql sql/laredo--0.6.0--0.7.0.sql sql/laredo--0.7.0--0.8.0.sql sql/laredo--0.8.0--0.9.0.sql sql/laredo--0.9.0--0.10.0.sql sql/laredo--0.10.0--0.11.0.sql
PG_CPPFLAGS = -I$(libpq_srcdir) -Isrc
SHLIB_LINK_INTERNAL = $(libpq)

REGRESS = setup sources pipelines errors local_mirror source_errors operations changelog function_target table_options pipeline_filter bad_input drop_extension
REGRESS_OPTS = --temp-instance=$(CURDIR)/tmp_check_regress \
	--temp-config=$(CURDIR)/test/regress.conf

TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl

EXTRA_CLEAN = tmp_check_regress results regression.diffs regression.out

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# every TAP test starts with `use LaredoTest;` (test/perl/LaredoTest.pm);
# set after PGXS, which sets PG_PROVE_FLAGS itself; --timer puts each
# test's time in the log, to keep the whole CI run within its hour
PG_PROVE_FLAGS += -I $(CURDIR)/test/perl --timer
