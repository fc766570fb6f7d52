/*-------------------------------------------------------------------------
 * state.c
 *	  Owns the laredo schema's tables: reads a source's configuration with
 *	  its tables and pipelines, records durable errors, the slot-creation
 *	  marker and pipeline counters.  No other module touches these tables.
 *
 *	  The resume position is not here: it is the source's replication origin
 *	  (see apply.c), which rides in the commit record of the applied data.
 *-------------------------------------------------------------------------
 */
#include "laredo.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/pg_lsn.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "state.h"

/*
 * The version of laredo's catalog in this database (the extension's
 * extversion), as major * 10000 + minor * 100: 100 for 0.1.0.  After the
 * server restarts with a new library, workers run before ALTER EXTENSION
 * UPDATE has changed the catalog: they use what that version has.  Read
 * once per process (an update restarts the workers); needs a transaction
 * the first time.
 */
static int	catalog_version = 0;

int
laredo_catalog_version(void)
{
	if (catalog_version == 0)
	{
		bool		isnull;
		char	   *v;
		int			major = 0,
					minor = 0;

		SPI_connect();
		if (SPI_execute("SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'laredo'",
						true, 1) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "laredo is not installed in this database");
		v = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		if (sscanf(v, "%d.%d", &major, &minor) != 2)
			elog(ERROR, "unexpected laredo version \"%s\"", v);
		catalog_version = major * 10000 + minor * 100;
		SPI_finish();
	}
	return catalog_version;
}

/* Origins are cluster-wide, so the name includes this database's OID. */
char *
laredo_origin_name(const char *source_id)
{
	return psprintf("laredo_%u_%s", MyDatabaseId, source_id);
}

static char *
spi_text(HeapTuple tup, TupleDesc desc, int col)
{
	char	   *v = SPI_getvalue(tup, desc, col);

	return v;
}

static bool
spi_bool(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return !isnull && DatumGetBool(d);
}

/*
 * Loads a source with its tables and pipelines, in the caller's memory
 * context.  Needs a transaction.
 */
LaredoSourceConfig *
laredo_source_config_load(const char *source_id, bool missing_is_error)
{
	MemoryContext caller = CurrentMemoryContext;
	LaredoSourceConfig *source = NULL;
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1] = {CStringGetTextDatum(source_id)};

	bool		v020 = laredo_catalog_version() >= LAREDO_CATALOG_0_2_0;
	bool		v030 = laredo_catalog_version() >= LAREDO_CATALOG_0_3_0;
	bool		v040 = laredo_catalog_version() >= LAREDO_CATALOG_0_4_0;
	bool		v050 = laredo_catalog_version() >= LAREDO_CATALOG_0_5_0;

	SPI_connect();
	if (SPI_execute_with_args(psprintf("SELECT source_id, connection, slot_mode, slot_name, publication, "
									   "publish, create_publication, enabled, slot_pending, owner::int8, "
									   "reconnect_max_attempts, %s, %s, %s, %s "
									   "FROM laredo.source_config WHERE source_id = $1",
									   v020 ? "publish_via_partition_root" : "false",
									   v030 ? "origin, home_system_identifier, home_database::text, "
									   "saved_lsn IS NOT NULL, coalesce(home_database_oid, 0)::int8" :
									   "'any', NULL::text, NULL::text, false, 0::int8",
									   v040 ? "failover, on_slot_lost" : "false, 'error'",
									   v050 ? "coalesce(extract(epoch FROM sequence_sync_interval) * 1000, 0)::int8, "
									   "(SELECT coalesce(extract(epoch FROM min(x.check_interval)) * 1000, 0)::int8 "
									   " FROM laredo.source_schemas x WHERE x.source_id = source_config.source_id)" :
									   "0::int8, 0::int8"),
							  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read laredo.source_config");
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MemoryContext spi = MemoryContextSwitchTo(caller);
		bool		isnull;

		source = palloc0(sizeof(LaredoSourceConfig));
		source->source_id = pstrdup(spi_text(tup, desc, 1));
		source->connection = pstrdup(spi_text(tup, desc, 2));
		source->slot_mode = pstrdup(spi_text(tup, desc, 3));
		source->slot_name = pstrdup(spi_text(tup, desc, 4));
		source->publication = pstrdup(spi_text(tup, desc, 5));
		source->publish = pstrdup(spi_text(tup, desc, 6));
		source->create_publication = spi_bool(tup, desc, 7);
		source->enabled = spi_bool(tup, desc, 8);
		source->slot_pending = spi_bool(tup, desc, 9);
		source->owner = (Oid) DatumGetInt64(SPI_getbinval(tup, desc, 10, &isnull));
		source->reconnect_max_attempts = DatumGetInt32(SPI_getbinval(tup, desc, 11, &isnull));
		source->publish_via_partition_root = spi_bool(tup, desc, 12);
		source->origin = pstrdup(spi_text(tup, desc, 13));
		/* NULL before 0.3.0 */
		source->home_system_identifier = spi_text(tup, desc, 14) ? pstrdup(spi_text(tup, desc, 14)) : NULL;
		source->home_database = spi_text(tup, desc, 15) ? pstrdup(spi_text(tup, desc, 15)) : NULL;
		source->has_saved_lsn = spi_bool(tup, desc, 16);
		source->home_database_oid = (Oid) DatumGetInt64(SPI_getbinval(tup, desc, 17, &isnull));
		source->failover = spi_bool(tup, desc, 18);
		source->on_slot_lost = pstrdup(spi_text(tup, desc, 19));
		source->sequence_sync_ms = DatumGetInt64(SPI_getbinval(tup, desc, 20, &isnull));
		source->schema_check_ms = DatumGetInt64(SPI_getbinval(tup, desc, 21, &isnull));
		MemoryContextSwitchTo(spi);
	}
	else if (missing_is_error)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("source \"%s\" does not exist", source_id),
				 errhint("SELECT source_id FROM laredo.sources lists the sources of this database.")));
	else
	{
		SPI_finish();
		return NULL;
	}

	if (SPI_execute_with_args(psprintf("SELECT schema_name, table_name, where_clause, "
									   "array_to_string(columns, ','), insert_only, %s "
									   "FROM laredo.source_tables WHERE source_id = $1 "
									   "ORDER BY schema_name, table_name",
									   v050 ? "partitions, coalesce(source_oid, 0)::int8" : "NULL::text, 0::int8"),
							  1, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read laredo.source_tables");
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MemoryContext spi = MemoryContextSwitchTo(caller);
		LaredoTableConfig *t = palloc0(sizeof(LaredoTableConfig));
		char	   *cols = spi_text(tup, desc, 4);

		t->schema_name = pstrdup(spi_text(tup, desc, 1));
		t->table_name = pstrdup(spi_text(tup, desc, 2));
		t->where_clause = spi_text(tup, desc, 3) ? pstrdup(spi_text(tup, desc, 3)) : NULL;
		/* column names come from pg_attribute and never hold a comma here */
		if (cols)
		{
			char	   *save;

			for (char *c = strtok_r(pstrdup(cols), ",", &save); c; c = strtok_r(NULL, ",", &save))
				t->columns = lappend(t->columns, pstrdup(c));
		}
		t->insert_only = spi_bool(tup, desc, 5);
		t->partitions = spi_text(tup, desc, 6) ? pstrdup(spi_text(tup, desc, 6)) : NULL;
		{
			bool		isnull;

			t->source_oid = (Oid) DatumGetInt64(SPI_getbinval(tup, desc, 7, &isnull));
		}
		source->tables = lappend(source->tables, t);
		MemoryContextSwitchTo(spi);
	}

	if (v050)
	{
		if (SPI_execute_with_args("SELECT schema_name::text FROM laredo.source_schemas "
								  "WHERE source_id = $1 AND publication = 'schema' ORDER BY 1",
								  1, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read laredo.source_schemas");
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			MemoryContext spi = MemoryContextSwitchTo(caller);

			source->whole_schemas = lappend(source->whole_schemas,
											pstrdup(spi_text(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1)));
			MemoryContextSwitchTo(spi);
		}
	}

	if (SPI_execute_with_args("SELECT pipeline_id, source_schema, source_table, target_kind, "
							  "target_schema, target_table, owner::int8, baseline_lsn IS NOT NULL, "
							  "coalesce(baseline_lsn, '0/0')::text, options::text "
							  "FROM laredo.pipeline_config WHERE source_id = $1 "
							  "ORDER BY pipeline_id",
							  1, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read laredo.pipeline_config");
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MemoryContext spi = MemoryContextSwitchTo(caller);
		LaredoPipelineConfig *p = palloc0(sizeof(LaredoPipelineConfig));
		bool		isnull;

		p->pipeline_id = pstrdup(spi_text(tup, desc, 1));
		p->source_schema = pstrdup(spi_text(tup, desc, 2));
		p->source_table = pstrdup(spi_text(tup, desc, 3));
		p->target_kind = pstrdup(spi_text(tup, desc, 4));
		p->target_schema = pstrdup(spi_text(tup, desc, 5));
		p->target_table = pstrdup(spi_text(tup, desc, 6));
		p->owner = (Oid) DatumGetInt64(SPI_getbinval(tup, desc, 7, &isnull));
		p->baselined = spi_bool(tup, desc, 8);
		p->baseline_lsn = DatumGetLSN(DirectFunctionCall1(pg_lsn_in,
														  CStringGetDatum(spi_text(tup, desc, 9))));
		p->options = pstrdup(spi_text(tup, desc, 10));
		source->pipelines = lappend(source->pipelines, p);
		MemoryContextSwitchTo(spi);
	}
	SPI_finish();
	return source;
}

/* The source's pipelines whose baseline has not committed (a fresh snapshot). */
int64
laredo_source_pipelines_pending(const char *source_id)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1] = {CStringGetTextDatum(source_id)};
	bool		isnull;
	int64		pending;

	SPI_connect();
	if (SPI_execute_with_args("SELECT count(*) FROM laredo.pipeline_config "
							  "WHERE source_id = $1 AND baseline_lsn IS NULL",
							  1, argtypes, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read laredo.pipeline_config");
	pending = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	return pending;
}

/* Runs one statement in a transaction of its own (the worker is outside one). */
static void
run_in_own_transaction(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls)
{
	bool		own = !IsTransactionState();

	if (own)
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
	}
	SPI_connect();
	if (SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0) < 0)
		elog(ERROR, "could not update laredo state");
	SPI_finish();
	if (own)
	{
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
}

/*
 * Moves this database's sequences of the source's mirrored tables up to the
 * source's values (sequence_sync_interval), in a transaction of its own.  A
 * sequence the source does not let laredo read is an ERROR naming it.
 */
void
laredo_source_sync_sequences(const char *source_id)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(source_id)};

	run_in_own_transaction("SELECT count(*) FROM laredo._sync_sequences($1, NULL, true)",
						   1, types, values, NULL);
}

/*
 * Reads the source's catalog for tables created or dropped in its added
 * schemas (laredo._schema_check), in a transaction of its own; a change
 * restarts the worker with the new pipelines, which are copied alone.
 */
void
laredo_source_check_schemas(const char *source_id)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(source_id)};

	run_in_own_transaction("SELECT count(*) FROM laredo._schema_check($1)", 1, types, values, NULL);
}

/*
 * The leaf partitions a copy of a partitioned table saw (in the copy's
 * transaction), which the worker compares with the source's later.
 */
void
laredo_source_table_set_partitions(const char *source_id, LaredoTableConfig *t, const char *leaves)
{
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[4] = {CStringGetTextDatum(source_id), CStringGetTextDatum(t->schema_name),
		CStringGetTextDatum(t->table_name), CStringGetTextDatum(leaves)};

	run_in_own_transaction("UPDATE laredo.source_tables SET partitions = $4 "
						   "WHERE source_id = $1 AND schema_name = $2 AND table_name = $3",
						   4, types, values, NULL);
	t->partitions = MemoryContextStrdup(GetMemoryChunkContext(t), leaves);
}

/* The source table's OID at its copy (in the copy's transaction). */
void
laredo_source_table_set_oid(const char *source_id, LaredoTableConfig *t, Oid oid)
{
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, OIDOID};
	Datum		values[4] = {CStringGetTextDatum(source_id), CStringGetTextDatum(t->schema_name),
		CStringGetTextDatum(t->table_name), ObjectIdGetDatum(oid)};

	run_in_own_transaction("UPDATE laredo.source_tables SET source_oid = $4 "
						   "WHERE source_id = $1 AND schema_name = $2 AND table_name = $3",
						   4, types, values, NULL);
	t->source_oid = oid;
}

/*
 * The source table of that name is another one now (dropped, and created
 * again), or gone (oid InvalidOid): laredo._source_table_replaced copies the
 * new one, or stops the source with an ERROR, in a transaction of its own.
 */
void
laredo_source_table_replaced(const char *source_id, LaredoTableConfig *t, Oid oid)
{
	Oid			types[4] = {TEXTOID, NAMEOID, NAMEOID, OIDOID};
	Datum		values[4] = {CStringGetTextDatum(source_id),
		DirectFunctionCall1(namein, CStringGetDatum(t->schema_name)),
		DirectFunctionCall1(namein, CStringGetDatum(t->table_name)), ObjectIdGetDatum(oid)};
	char		nulls[4] = {' ', ' ', ' ', OidIsValid(oid) ? ' ' : 'n'};

	run_in_own_transaction("SELECT laredo._source_table_replaced($1, $2, $3, $4)", 4, types, values, nulls);
	t->source_oid = oid;
}

/*
 * The source attached or detached partitions of a partitioned table since its
 * copy (laredo._partitions_changed: its mirrors are copied again), in a
 * transaction of its own.
 */
void
laredo_source_partitions_changed(const char *source_id, LaredoTableConfig *t, const char *leaves)
{
	Oid			types[4] = {TEXTOID, NAMEOID, NAMEOID, TEXTOID};
	Datum		values[4] = {CStringGetTextDatum(source_id),
		DirectFunctionCall1(namein, CStringGetDatum(t->schema_name)),
		DirectFunctionCall1(namein, CStringGetDatum(t->table_name)), CStringGetTextDatum(leaves)};

	run_in_own_transaction("SELECT laredo._partitions_changed($1, $2, $3, $4)", 4, types, values, NULL);
	t->partitions = MemoryContextStrdup(GetMemoryChunkContext(t), leaves);
}

/*
 * Sends a pipeline back to copy from inside its worker, in the caller's
 * transaction, as resync_pipeline does: its baseline_lsn NULL (the trigger
 * copy_restart forgets a copy in ranges), and the source changed, so that
 * the worker restarts with it once this commits and copies it again.  Until
 * then its changes are skipped: they are in that copy.
 */
void
laredo_pipeline_copy_again(LaredoPipelineConfig *p, const char *source_id)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];

	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
	values[0] = CStringGetTextDatum(p->pipeline_id);
	if (SPI_execute_with_args("UPDATE laredo.pipeline_config SET baseline_lsn = NULL WHERE pipeline_id = $1",
							  1, types, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not send pipeline \"%s\" back to copy", p->pipeline_id);
	values[0] = CStringGetTextDatum(source_id);
	if (SPI_execute_with_args("SELECT laredo._source_changed($1)", 1, types, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not restart source \"%s\"", source_id);
	SPI_finish();
	PopActiveSnapshot();
	p->baseline_lsn = PG_UINT64_MAX;
}

/*
 * Puts the source in a durable ERROR: the manager does not start it again
 * until alter_source or a reset clears it.
 */
void
laredo_source_set_error(const char *source_id, const char *message, const char *hint)
{
	Oid			types[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		values[3] = {CStringGetTextDatum(source_id), CStringGetTextDatum(message),
	hint ? CStringGetTextDatum(hint) : (Datum) 0};
	char		nulls[3] = {' ', ' ', hint ? ' ' : 'n'};

	run_in_own_transaction("UPDATE laredo.source_config SET error = $2, error_hint = $3, "
						   "error_time = now() WHERE source_id = $1",
						   3, types, values, nulls);
}

/* Records the error of the pipeline whose target refused a change. */
void
laredo_pipeline_set_error(const char *pipeline_id, const char *message)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2] = {CStringGetTextDatum(pipeline_id), CStringGetTextDatum(message)};

	run_in_own_transaction("UPDATE laredo.pipeline_config SET error = $2, error_time = now() "
						   "WHERE pipeline_id = $1",
						   2, types, values, NULL);
}

/*
 * Marks that laredo has (or is about to have) created the source's slot and
 * its baseline has not committed yet: a slot found on restart is then ours.
 */
void
laredo_source_set_slot_pending(const char *source_id, bool pending)
{
	Oid			types[2] = {TEXTOID, BOOLOID};
	Datum		values[2] = {CStringGetTextDatum(source_id), BoolGetDatum(pending)};

	run_in_own_transaction("UPDATE laredo.source_config SET slot_pending = $2 WHERE source_id = $1",
						   2, types, values, NULL);
}

/*
 * Adds a pipeline's counters and its last LSN, inside the caller's apply
 * transaction so that they agree with the data.
 */
void
laredo_pipeline_record(const char *pipeline_id, const LaredoPipelineCounters *c,
					   XLogRecPtr last_lsn, bool baseline_done)
{
	Oid			types[12] = {TEXTOID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, LSNOID, BOOLOID,
	INT8OID, INT8OID, INT8OID, INT8OID};
	Datum		values[12] = {CStringGetTextDatum(pipeline_id), Int64GetDatum(c->baseline_rows),
		Int64GetDatum(c->inserts), Int64GetDatum(c->updates), Int64GetDatum(c->deletes),
		Int64GetDatum(c->truncates), LSNGetDatum(last_lsn), BoolGetDatum(baseline_done),
		Int64GetDatum(c->transactions), Int64GetDatum(c->bytes), Int64GetDatum(c->update_missing),
	Int64GetDatum(c->delete_missing)};
	char	   *duration = NULL;

	if (baseline_done && c->baseline_started != 0)
		duration = psprintf("%.3f", (double) (GetCurrentTimestamp() - c->baseline_started) / 1000000.0);
	run_in_own_transaction(psprintf("UPDATE laredo.pipeline_config SET "
									"baseline_rows = CASE WHEN $8 THEN $2 ELSE baseline_rows END, "
									"baseline_duration = %s, "
									"inserts = inserts + $3, updates = updates + $4, "
									"deletes = deletes + $5, truncates = truncates + $6, "
									"transactions = transactions + $9, bytes = bytes + $10, "
									"%s"
									"last_lsn = $7, last_applied_at = now(), %s"
									"error = NULL, error_time = NULL "
									"WHERE pipeline_id = $1",
									duration ? psprintf("make_interval(secs => %s)", duration) : "baseline_duration",
									/* a new copy: what the old one lacked is past (0.2.0) */
									laredo_catalog_version() >= LAREDO_CATALOG_0_2_0 ?
									"update_missing = CASE WHEN $8 THEN $11 ELSE update_missing + $11 END, "
									"delete_missing = CASE WHEN $8 THEN $12 ELSE delete_missing + $12 END, " :
									"",
									/* set only when a copy ends: setting it NULL restarts a copy (0.6.0) */
									baseline_done ? "baseline_lsn = $7, " : ""),
						   12, types, values, NULL);
}

/*
 * Counts changes of a published table that no pipeline takes (health()
 * reports them), in a transaction of its own.
 */
void
laredo_source_record_unmapped(const char *source_id, const char *relation, int64 changes)
{
	Oid			types[3] = {TEXTOID, TEXTOID, INT8OID};
	Datum		values[3] = {CStringGetTextDatum(source_id), CStringGetTextDatum(relation),
	Int64GetDatum(changes)};

	if (laredo_catalog_version() < LAREDO_CATALOG_0_2_0)
		return;					/* a 0.1.0 catalog has nowhere to keep them */
	run_in_own_transaction("INSERT INTO laredo.source_unmapped AS u (source_id, relation, changes) "
						   "VALUES ($1, $2, $3) ON CONFLICT (source_id, relation) DO UPDATE "
						   "SET changes = u.changes + EXCLUDED.changes, last_seen = now()",
						   3, types, values, NULL);
}

/*
 * What laredo recorded of the source server when it last connected, or NULL
 * (none yet, or a catalog before 0.4.0).  In the caller's memory context.
 */
LaredoSourceHistory *
laredo_source_history_load(const char *source_id)
{
	MemoryContext caller = CurrentMemoryContext;
	LaredoSourceHistory *h = NULL;
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(source_id)};
	bool		own = !IsTransactionState();

	if (laredo_catalog_version() < LAREDO_CATALOG_0_4_0)
		return NULL;
	if (own)
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
	}
	SPI_connect();
	if (SPI_execute_with_args("SELECT system_identifier, timeline, history, last_change_lsn "
							  "FROM laredo.source_history WHERE source_id = $1",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read laredo.source_history");
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		d;
		MemoryContext spi = MemoryContextSwitchTo(caller);

		h = palloc0(sizeof(LaredoSourceHistory));
		h->system_identifier = pstrdup(spi_text(tup, desc, 1));
		h->timeline = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
		h->history = pstrdup(spi_text(tup, desc, 3));
		d = SPI_getbinval(tup, desc, 4, &isnull);
		h->last_change = isnull ? InvalidXLogRecPtr : DatumGetLSN(d);
		MemoryContextSwitchTo(spi);
	}
	SPI_finish();
	if (own)
	{
		PopActiveSnapshot();
		CommitTransactionCommand();
		MemoryContextSwitchTo(caller);
	}
	return h;
}

/*
 * Records the source server laredo is about to stream from: its system
 * identifier, timeline and the switch points of its earlier timelines.  A new
 * position (a baseline follows) has no last change behind it.
 */
void
laredo_source_history_record(const char *source_id, const char *system_identifier,
							 TimeLineID timeline, const char *history, bool new_position)
{
	Oid			types[5] = {TEXTOID, TEXTOID, INT4OID, TEXTOID, BOOLOID};
	Datum		values[5] = {CStringGetTextDatum(source_id), CStringGetTextDatum(system_identifier),
		Int32GetDatum((int32) timeline), CStringGetTextDatum(history), BoolGetDatum(new_position)};

	if (laredo_catalog_version() < LAREDO_CATALOG_0_4_0)
		return;
	run_in_own_transaction("INSERT INTO laredo.source_history AS h "
						   "(source_id, system_identifier, timeline, history, recorded_at) "
						   "VALUES ($1, $2, $3, $4, now()) ON CONFLICT (source_id) DO UPDATE "
						   "SET system_identifier = EXCLUDED.system_identifier, "
						   "timeline = EXCLUDED.timeline, history = EXCLUDED.history, "
						   "recorded_at = EXCLUDED.recorded_at, "
						   "last_change_lsn = CASE WHEN $5 THEN NULL ELSE h.last_change_lsn END",
						   5, types, values, NULL);
}

/*
 * Inside the caller's transaction: the position it commits is past the
 * last change applied, which is at lsn; an invalid lsn says the position is
 * itself that of a change.  apply.c calls it only when this flips, so it
 * costs nothing while changes stream.
 */
void
laredo_source_set_last_change(const char *source_id, XLogRecPtr lsn)
{
	Oid			types[2] = {TEXTOID, LSNOID};
	Datum		values[2] = {CStringGetTextDatum(source_id), LSNGetDatum(lsn)};
	char		nulls[2] = {' ', XLogRecPtrIsInvalid(lsn) ? 'n' : ' '};

	if (laredo_catalog_version() < LAREDO_CATALOG_0_4_0)
		return;
	run_in_own_transaction("UPDATE laredo.source_history SET last_change_lsn = $2 WHERE source_id = $1",
						   2, types, values, nulls);
}

/*
 * Records that on_slot_lost = 'rebaseline' replaced a source's slot: when,
 * why (the error it replaced), the old slot and the new one; the source's
 * pipelines are to be copied again.
 */
void
laredo_source_record_rebaseline(const char *source_id, const char *cause, const char *old_slot,
								const char *new_slot)
{
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[4] = {CStringGetTextDatum(source_id), CStringGetTextDatum(cause),
		CStringGetTextDatum(old_slot), CStringGetTextDatum(new_slot)};

	run_in_own_transaction("UPDATE laredo.source_history SET rebaselined_at = now(), rebaseline_cause = $2, "
						   "rebaseline_old_slot = $3, rebaseline_new_slot = $4 WHERE source_id = $1",
						   4, types, values, NULL);
	run_in_own_transaction("UPDATE laredo.pipeline_config SET baseline_lsn = NULL WHERE source_id = $1",
						   1, types, values, NULL);
}

/*
 * Records what a failover of the source would find (failover.c) or why the
 * source holds the stream back (NULL: it does not), in a transaction of its
 * own; the worker calls it only when the text changes.
 */
void
laredo_source_set_failover_state(const char *source_id, const char *column, const char *value)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2] = {CStringGetTextDatum(source_id), value ? CStringGetTextDatum(value) : (Datum) 0};
	char		nulls[2] = {' ', value ? ' ' : 'n'};

	if (laredo_catalog_version() < LAREDO_CATALOG_0_4_0)
		return;
	Assert(strcmp(column, "failover_readiness") == 0 || strcmp(column, "lag_reason") == 0);
	run_in_own_transaction(psprintf("UPDATE laredo.source_history SET %s = $2%s WHERE source_id = $1",
									column, strcmp(column, "failover_readiness") == 0 ?
									", failover_checked_at = now()" : ""),
						   2, types, values, nulls);
}
