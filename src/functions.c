/*-------------------------------------------------------------------------
 * functions.c
 *	  SQL-callable C functions: live worker status for the views, the resume
 *	  position, wake-ups after configuration commits, connection string
 *	  checks, catalog queries on a source, and wait_for_catchup.
 *-------------------------------------------------------------------------
 */
#include "laredo.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_replication_origin.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "nodes/parsenodes.h"
#include "utils/array.h"
#include "catalog/pg_type.h"
#include "parser/parser.h"
#include "pgstat.h"
#include "replication/origin.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/pg_lsn.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "remote.h"
#include "state.h"

PG_FUNCTION_INFO_V1(laredo_worker_status);
PG_FUNCTION_INFO_V1(laredo_origin_lsn);
PG_FUNCTION_INFO_V1(laredo_notify_config_change);
PG_FUNCTION_INFO_V1(laredo_check_connection);
PG_FUNCTION_INFO_V1(laredo_source_query);
PG_FUNCTION_INFO_V1(laredo_source_exec);
PG_FUNCTION_INFO_V1(laredo_check_where_clause);
PG_FUNCTION_INFO_V1(laredo_wait_for_catchup);

static void wait_for_catchup(FunctionCallInfo fcinfo);
pg_noreturn static void catchup_timed_out(const char *source_id, int64 timeout_ms, XLogRecPtr target,
										  XLogRecPtr flushed);

Datum
laredo_worker_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	LWLockAcquire(laredo_shared->lock, LW_SHARED);
	for (int i = 0; i < LAREDO_MAX_WORKERS; i++)
	{
		LaredoWorkerSlot *slot = &laredo_shared->workers[i];
		Datum		values[14];
		bool		nulls[14] = {0};
		LaredoSourceState state;

		if (!slot->in_use || slot->dboid != MyDatabaseId)
			continue;
		state = slot->state;
		/* a worker that is gone and will be started again */
		if (slot->pid == 0 && slot->last_error[0] != '\0')
			state = LAREDO_SOURCE_RECONNECTING;
		values[0] = CStringGetTextDatum(slot->source_id);
		values[1] = Int32GetDatum(slot->pid);
		nulls[1] = (slot->pid == 0);
		values[2] = CStringGetTextDatum(laredo_source_state_name(state));
		values[3] = LSNGetDatum(slot->received_lsn);
		nulls[3] = XLogRecPtrIsInvalid(slot->received_lsn);
		values[4] = LSNGetDatum(slot->flushed_lsn);
		nulls[4] = XLogRecPtrIsInvalid(slot->flushed_lsn);
		values[5] = LSNGetDatum(slot->source_wal_end);
		nulls[5] = XLogRecPtrIsInvalid(slot->source_wal_end);
		values[6] = CStringGetTextDatum(slot->last_error);
		nulls[6] = (slot->last_error[0] == '\0');
		values[7] = TimestampTzGetDatum(slot->last_error_time);
		nulls[7] = (slot->last_error_time == 0);
		values[8] = Int32GetDatum(slot->attempts);
		values[9] = TimestampTzGetDatum(slot->next_retry);
		nulls[9] = (slot->next_retry == 0 || slot->pid != 0);
		values[10] = LSNGetDatum(slot->slot_restart_lsn);
		nulls[10] = XLogRecPtrIsInvalid(slot->slot_restart_lsn);
		values[11] = LSNGetDatum(slot->slot_confirmed_lsn);
		nulls[11] = XLogRecPtrIsInvalid(slot->slot_confirmed_lsn);
		values[12] = CStringGetTextDatum(slot->slot_wal_status);
		nulls[12] = (slot->slot_wal_status[0] == '\0');
		values[13] = Int64GetDatum(slot->retained_wal_bytes);
		nulls[13] = (slot->retained_wal_bytes < 0);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	LWLockRelease(laredo_shared->lock);
	return (Datum) 0;
}

Datum
laredo_origin_lsn(PG_FUNCTION_ARGS)
{
	char	   *source_id = text_to_cstring(PG_GETARG_TEXT_PP(0));
	ReplOriginId origin = replorigin_by_name(laredo_origin_name(source_id), true);
	XLogRecPtr	lsn;

	if (origin == InvalidReplOriginId)
		PG_RETURN_NULL();
	lsn = replorigin_get_progress(origin, true);
	if (XLogRecPtrIsInvalid(lsn))
		PG_RETURN_NULL();
	PG_RETURN_LSN(lsn);
}

/*
 * Transaction callbacks stay registered for the backend's life, with a flag
 * saying whether they have work: one that unregisters itself while the
 * server walks the callback list frees the item the walk reads next.
 */
static bool wake_registered = false;
static bool wake_pending = false;

static void
wake_on_commit(XactEvent event, void *arg)
{
	if (!wake_pending)
		return;
	if (event == XACT_EVENT_COMMIT)
		laredo_wake_database(MyDatabaseId);
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT)
		wake_pending = false;
}

/* Wakes the launcher and this database's manager when this transaction commits. */
void
laredo_wake_at_commit(void)
{
	if (!wake_registered)
	{
		RegisterXactCallback(wake_on_commit, NULL);
		wake_registered = true;
	}
	wake_pending = true;
}

Datum
laredo_notify_config_change(PG_FUNCTION_ARGS)
{
	laredo_wake_at_commit();
	PG_RETURN_VOID();
}

Datum
laredo_check_connection(PG_FUNCTION_ARGS)
{
	char	   *conninfo = text_to_cstring(PG_GETARG_TEXT_PP(0));
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {0};
	bool		has_password;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	laredo_conninfo_validate(conninfo);
	values[0] = CStringGetTextDatum(laredo_conninfo_masked(conninfo, &has_password));
	values[1] = BoolGetDatum(has_password);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

/*
 * Runs a catalog query on a source and returns each row as json (column
 * order kept).  connection '' runs it here, in the caller's transaction, so
 * that tables the caller just created are seen.
 */
Datum
laredo_source_query(PG_FUNCTION_ARGS)
{
	char	   *conninfo = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *query = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *wrapped = psprintf("SELECT pg_catalog.row_to_json(q)::text FROM (%s) q", query);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	if (conninfo[0] == '\0')
	{
		SPI_connect();
		if (SPI_execute(wrapped, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "catalog query failed");
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			Datum		value = CStringGetTextDatum(SPI_getvalue(SPI_tuptable->vals[r],
																SPI_tuptable->tupdesc, 1));
			bool		isnull = false;

			value = DirectFunctionCall1(json_in, CStringGetDatum(TextDatumGetCString(value)));
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
		}
		SPI_finish();
	}
	else
	{
		WalReceiverConn *conn = laredo_connect(conninfo, GetUserId(), "laredo", "the source");
		List	   *rows;
		ListCell   *lc;

		PG_TRY();
		{
			rows = laredo_remote_query(conn, wrapped, 1, "the source");
		}
		PG_FINALLY();
		{
			walrcv_disconnect(conn);
		}
		PG_END_TRY();
		foreach(lc, rows)
		{
			char	  **row = lfirst(lc);
			Datum		value = DirectFunctionCall1(json_in, CStringGetDatum(row[0]));
			bool		isnull = false;

			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
		}
	}
	return (Datum) 0;
}

/* Runs a command that returns no rows on a source. */
Datum
laredo_source_exec(PG_FUNCTION_ARGS)
{
	char	   *conninfo = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *command = text_to_cstring(PG_GETARG_TEXT_PP(1));

	if (conninfo[0] == '\0')
	{
		SPI_connect();
		if (SPI_execute(command, false, 0) < 0)
			elog(ERROR, "command failed");
		SPI_finish();
	}
	else
	{
		WalReceiverConn *conn = laredo_connect(conninfo, GetUserId(), "laredo", "the source");

		PG_TRY();
		{
			laredo_remote_command(conn, command, "the source");
		}
		PG_FINALLY();
		{
			walrcv_disconnect(conn);
		}
		PG_END_TRY();
	}
	PG_RETURN_VOID();
}

/* Collects the column names a raw expression refers to. */
static bool
collect_column_refs(Node *node, List **names)
{
	if (node == NULL)
		return false;
	if (IsA(node, ColumnRef))
	{
		Node	   *last = llast(((ColumnRef *) node)->fields);

		if (IsA(last, String))
			*names = lappend(*names, last);
		return false;
	}
	return raw_expression_tree_walker(node, collect_column_refs, (void *) names);
}

/*
 * A row filter is pasted into the publication's DDL on the source, so it must
 * be exactly one expression: no statement separators, no extra clauses.
 * Returns the columns it refers to (PostgreSQL requires them to be in the
 * replica identity when updates or deletes are published).
 */
Datum
laredo_check_where_clause(PG_FUNCTION_ARGS)
{
	char	   *clause = text_to_cstring(PG_GETARG_TEXT_PP(0));
	List	   *stmts = NIL;
	SelectStmt *select = NULL;
	bool		ok = false;
	List	   *names = NIL;
	Datum	   *elems;
	int			n = 0;
	ListCell   *lc;

	if (strchr(clause, ';') == NULL && strstr(clause, "--") == NULL &&
		strstr(clause, "/*") == NULL)
	{
		PG_TRY();
		{
			stmts = raw_parser(psprintf("SELECT FROM t WHERE (%s)", clause), RAW_PARSE_DEFAULT);
		}
		PG_CATCH();
		{
			FlushErrorState();
			stmts = NIL;
		}
		PG_END_TRY();
	}
	if (list_length(stmts) == 1 &&
		IsA(linitial_node(RawStmt, stmts)->stmt, SelectStmt))
	{
		select = (SelectStmt *) linitial_node(RawStmt, stmts)->stmt;
		ok = select->op == SETOP_NONE && select->whereClause != NULL &&
			select->groupClause == NIL && select->havingClause == NULL &&
			select->windowClause == NIL && select->sortClause == NIL &&
			select->limitCount == NULL && select->limitOffset == NULL &&
			select->lockingClause == NIL && select->withClause == NULL &&
			select->distinctClause == NIL && select->intoClause == NULL &&
			list_length(select->fromClause) == 1;
	}
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("invalid where_clause"),
				 errdetail("A row filter must be one SQL expression over the table's columns."),
				 errhint("For example where_clause => $$status = 'active'$$.")));

	(void) collect_column_refs(select->whereClause, &names);
	elems = palloc(sizeof(Datum) * Max(list_length(names), 1));
	foreach(lc, names)
		elems[n++] = DirectFunctionCall1(namein, CStringGetDatum(strVal(lfirst(lc))));
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, n, NAMEOID, NAMEDATALEN, false, TYPALIGN_CHAR));
}

/*
 * CALL wait_for_catchup(source_id, timeout): returns once everything
 * committed on the source before the call is durable here; an error if that
 * takes longer than timeout.
 *
 * A procedure, not a function, so that it can wait without a snapshot: an
 * xmin held for the whole wait would keep every row version the worker
 * replaces meanwhile from being pruned, and a hot row's version chain, which
 * the worker walks on each update, would grow without end.  It returns no
 * row for the same reason: a CALL that returns one holds a snapshot for it.
 * PostgreSQL 17's pg_wal_replay_wait is built the same way.
 */
Datum
laredo_wait_for_catchup(PG_FUNCTION_ARGS)
{
	wait_for_catchup(fcinfo);
	PG_RETURN_VOID();
}

static void
catchup_timed_out(const char *source_id, int64 timeout_ms, XLogRecPtr target, XLogRecPtr flushed)
{
	char	   *timeout = (timeout_ms % 1000 == 0) ?
		psprintf(INT64_FORMAT " s", timeout_ms / 1000) : psprintf(INT64_FORMAT " ms", timeout_ms);

	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("source \"%s\" did not catch up within %s", source_id, timeout),
			 XLogRecPtrIsInvalid(flushed) ?
			 errdetail("The source's WAL was at %X/%X when the call began; its worker is not streaming.",
					   LSN_FORMAT_ARGS(target)) :
			 errdetail("The source's WAL was at %X/%X when the call began; %X/%X is durable here.",
					   LSN_FORMAT_ARGS(target), LSN_FORMAT_ARGS(flushed)),
			 errhint("SELECT state, last_error FROM laredo.sources WHERE source_id = '%s' shows why.",
					 source_id)));
}

static void
wait_for_catchup(FunctionCallInfo fcinfo)
{
	char	   *source_id;
	Interval   *timeout;
	LaredoSourceConfig *source;
	XLogRecPtr	target;
	TimestampTz deadline;
	TimestampTz begun;
	int64		timeout_ms;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("source_id must not be NULL"),
				 errhint("SELECT source_id FROM laredo.sources lists the sources.")));
	source_id = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("timeout must not be NULL"),
				 errhint("For example timeout => '30s'.")));
	timeout = PG_GETARG_INTERVAL_P(1);
	timeout_ms = (int64) (timeout->time / 1000) +
		(int64) timeout->day * 86400000 + (int64) timeout->month * 30 * 86400000LL;
	if (timeout_ms < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("timeout must not be negative"),
				 errhint("For example timeout => '30s'.")));
	if (GetTopTransactionIdIfAny() != InvalidTransactionId)
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("laredo.wait_for_catchup cannot run in a transaction that has written"),
				 errdetail("The source worker could be waiting for this very transaction."),
				 errhint("Commit first, then call laredo.wait_for_catchup.")));

	source = laredo_source_config_load(source_id, true);
	begun = GetCurrentTimestamp();
	if (source->connection[0] == '\0')
		target = GetFlushRecPtr(NULL);
	else
	{
		WalReceiverConn *conn = laredo_connect(source->connection, source->owner,
											   "laredo wait_for_catchup", source_id);
		List	   *rows;

		PG_TRY();
		{
			rows = laredo_remote_query(conn, "SELECT pg_catalog.pg_current_wal_flush_lsn()::text",
									   1, source_id);
		}
		PG_FINALLY();
		{
			walrcv_disconnect(conn);
		}
		PG_END_TRY();
		target = DatumGetLSN(DirectFunctionCall1(pg_lsn_in,
												 CStringGetDatum(((char **) linitial(rows))[0])));
	}

	/* wait holding no snapshot, hence no xmin (see above) */
	if (ActiveSnapshotSet())
		PopActiveSnapshot();
	InvalidateCatalogSnapshot();
	if (HaveRegisteredOrActiveSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("laredo.wait_for_catchup cannot wait while this session holds a snapshot"),
				 errdetail("A snapshot held while waiting would keep the rows the source worker replaces from being cleaned up."),
				 errhint("CALL it on its own, not from a function or a REPEATABLE READ or SERIALIZABLE transaction.")));

	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
	for (;;)
	{
		XLogRecPtr	flushed = InvalidXLogRecPtr;
		bool		identities_seen = false;
		Latch	   *worker_latch = NULL;
		int64		pending;
		LaredoWorkerSlot *slot;

		CHECK_FOR_INTERRUPTS();
		LWLockAcquire(laredo_shared->lock, LW_EXCLUSIVE);
		slot = laredo_worker_slot_find(MyDatabaseId, source_id);
		if (slot && slot->pid != 0)
		{
			flushed = slot->flushed_lsn;

			/*
			 * A table whose replica identity changed before the call may
			 * have changes its publication did not send: they are caught up
			 * only once the worker has looked, and if it did change, once
			 * the table's new copy has committed (pending, read after this).
			 */
			identities_seen = !source->create_publication || slot->identities_checked >= begun;
			if (flushed < target || !identities_seen)
			{
				/* ask the worker to make idle positions durable, and look, at once */
				slot->catchup_waiter = true;
				if (!identities_seen && slot->checks_wanted < begun)
					slot->checks_wanted = begun;
				worker_latch = slot->latch;
			}
		}
		LWLockRelease(laredo_shared->lock);

		/*
		 * A pipeline whose baseline has not committed is not caught up, even
		 * if the worker that runs now (perhaps one that does not know the
		 * pipeline yet) is.
		 */
		PushActiveSnapshot(GetTransactionSnapshot());
		pending = laredo_source_pipelines_pending(source_id);
		PopActiveSnapshot();
		InvalidateCatalogSnapshot();
		if (pending == 0 && !XLogRecPtrIsInvalid(flushed) && flushed >= target && identities_seen)
			return;
		if (worker_latch)
			SetLatch(worker_latch);
		if (GetCurrentTimestamp() >= deadline)
			catchup_timed_out(source_id, timeout_ms, target, flushed);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* Sources whose workers this transaction stopped (in TopMemoryContext). */
static List *held_sources = NIL;
static bool holds_registered = false;

static void
release_holds(XactEvent event, void *arg)
{
	ListCell   *lc;

	if ((event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT) || held_sources == NIL)
		return;
	LWLockAcquire(laredo_shared->lock, LW_EXCLUSIVE);
	foreach(lc, held_sources)
	{
		LaredoWorkerSlot *slot = laredo_worker_slot_find(MyDatabaseId, lfirst(lc));

		if (slot)
			slot->hold = false;
	}
	LWLockRelease(laredo_shared->lock);
	list_free_deep(held_sources);
	held_sources = NIL;
	laredo_wake_database(MyDatabaseId);
}

/*
 * Stops a source's worker at once (not at commit: its walsender must release
 * the slot before the slot can be dropped) and keeps it stopped until this
 * transaction ends.
 */
PG_FUNCTION_INFO_V1(laredo_stop_worker);
Datum
laredo_stop_worker(PG_FUNCTION_ARGS)
{
	char	   *source_id = text_to_cstring(PG_GETARG_TEXT_PP(0));
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 30000);
	pid_t		pid = 0;
	bool		found = false;

	LWLockAcquire(laredo_shared->lock, LW_EXCLUSIVE);
	{
		LaredoWorkerSlot *slot = laredo_worker_slot_find(MyDatabaseId, source_id);

		if (slot)
		{
			slot->hold = true;
			pid = slot->pid;
			found = true;
		}
	}
	LWLockRelease(laredo_shared->lock);
	if (!found)
		PG_RETURN_VOID();
	if (!holds_registered)
	{
		RegisterXactCallback(release_holds, NULL);
		holds_registered = true;
	}
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		held_sources = lappend(held_sources, pstrdup(source_id));
		MemoryContextSwitchTo(old);
	}
	if (pid != 0)
		kill(pid, SIGTERM);
	for (;;)
	{
		LaredoWorkerSlot *slot;
		bool		running;

		CHECK_FOR_INTERRUPTS();
		LWLockAcquire(laredo_shared->lock, LW_SHARED);
		slot = laredo_worker_slot_find(MyDatabaseId, source_id);
		running = slot && slot->pid != 0;
		LWLockRelease(laredo_shared->lock);
		if (!running)
			break;
		if (GetCurrentTimestamp() >= deadline)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_IN_USE),
					 errmsg("the worker of source \"%s\" did not stop", source_id),
					 errhint("Try again.")));
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 10, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(laredo_drop_origin);
Datum
laredo_drop_origin(PG_FUNCTION_ARGS)
{
	char	   *source_id = text_to_cstring(PG_GETARG_TEXT_PP(0));

	replorigin_drop_by_name(laredo_origin_name(source_id), true, false);
	PG_RETURN_VOID();
}

/*
 * Creates this database's replication origin of a source, or moves it, to
 * lsn: the position laredo.save_positions() recorded, taken up by
 * laredo.adopt_source in an upgraded server or a copy of the database
 * (pg_upgrade carries the catalog, not the origins; pg_dump neither).
 */
PG_FUNCTION_INFO_V1(laredo_set_origin);
Datum
laredo_set_origin(PG_FUNCTION_ARGS)
{
	char	   *source_id = text_to_cstring(PG_GETARG_TEXT_PP(0));
	XLogRecPtr	lsn = PG_GETARG_LSN(1);
	char	   *name = laredo_origin_name(source_id);
	ReplOriginId origin;

	/* as pg_replication_origin_advance: no concurrent drop */
	LockRelationOid(ReplicationOriginRelationId, RowExclusiveLock);
	origin = replorigin_by_name(name, true);
	if (origin == InvalidReplOriginId)
		origin = replorigin_create(name);
	replorigin_advance(origin, lsn, InvalidXLogRecPtr, true, true);
	PG_RETURN_VOID();
}
