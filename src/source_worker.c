/*-------------------------------------------------------------------------
 * source_worker.c
 *	  One source's worker: decides between resuming and a baseline, checks
 *	  the slot's health against the stored position, and runs the streaming
 *	  loop (receive without blocking, apply, make positions durable, report
 *	  feedback).  Errors that need a person (a slot ahead of laredo, a slot
 *	  owned by someone else, a target that does not fit) put the source in a
 *	  durable ERROR; others (a lost connection) end the worker, and the manager
 *	  starts it again after laredo.restart_delay.
 *-------------------------------------------------------------------------
 */
#include "laredo.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "postmaster/walwriter.h"
#include "replication/origin.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "apply.h"
#include "chunk.h"
#include "baseline.h"
#include "continuity.h"
#include "failover.h"
#include "publication.h"
#include "remote.h"
#include "replication.h"
#include "source_checks.h"
#include "state.h"

/* How often feedback goes to the source when nothing else prompts it. */
#define FEEDBACK_INTERVAL_MS	10000
/* How often an idle position is made durable (and so acknowledged). */
#define IDLE_PERSIST_MS			1000
/* Messages taken before a flush and feedback while a backlog streams in. */
#define MESSAGES_PER_BATCH		1000
/* How often the slot's state is read from the source for laredo.sources. */
#define SLOT_STATUS_MS			5000
/* How often the source's catalog is looked at (source_checks.c: replica identities, partitions, tables replaced). */
#define IDENTITY_CHECK_MS		1000
/* How often the source's failover setup is looked at (failover.c). */
#define FAILOVER_CHECK_MS		30000

LaredoWorkerSlot *MyLaredoSlot = NULL;

static char worker_source_id[LAREDO_ID_LEN];
static int	worker_max_attempts = -1;	/* reconnect_max_attempts, once loaded */
static LaredoSourceConfig *worker_source = NULL;
static Oid	worker_owner = InvalidOid;

/*
 * A plain connection to the source, beside the replication one, for reads
 * while it streams (the slot's state, a partition's ancestors, a table's
 * columns when the stream describes it again: schema_changes.c): an idle
 * replication connection would be a walsender, which the source wakes on
 * every WAL flush; an idle backend sleeps.
 */
static PGconn *worker_status = NULL;

/*
 * The periodic reads on it (the catalog checks, the slot's state) are sent
 * without waiting, and their answer is taken on a later turn of the loop:
 * the stream is not held up by their round trips, as the built-in apply
 * worker, which has no such reads, is not.  At most one is in flight; one
 * who needs the connection meanwhile takes its answer first
 * (laredo_worker_sql_conn), and the loop acts on it outside a transaction.
 */
typedef enum WorkerAsk
{
	WORKER_ASK_NONE,
	WORKER_ASK_CHECKS,			/* laredo_checks_query */
	WORKER_ASK_SLOT				/* laredo_slot_info_query */
} WorkerAsk;

static WorkerAsk worker_ask = WORKER_ASK_NONE;
static bool worker_ask_answered = false;
static TimestampTz worker_ask_sent = 0;
static List *worker_answer = NIL;
static MemoryContext worker_answer_cxt = NULL;

/* Takes the answer in flight: when it has come, or (wait) at once. */
static void
worker_ask_take(bool wait)
{
	MemoryContext old;

	if (worker_ask == WORKER_ASK_NONE || worker_ask_answered)
		return;
	if (!wait && !laredo_sql_ready(worker_status, worker_source_id))
		return;
	old = MemoryContextSwitchTo(worker_answer_cxt);
	worker_answer = laredo_sql_rows(worker_status,
									worker_ask == WORKER_ASK_CHECKS ? LAREDO_CHECKS_COLUMNS : LAREDO_SLOT_INFO_COLUMNS,
									worker_source_id);
	MemoryContextSwitchTo(old);
	worker_ask_answered = true;
}

PGconn *
laredo_worker_sql_conn(void)
{
	if (worker_status == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		worker_status = laredo_connect_sql(worker_source->connection, worker_owner,
										   psprintf("laredo status %s", worker_source_id),
										   worker_source_id);
		MemoryContextSwitchTo(old);
	}
	worker_ask_take(true);
	return worker_status;
}

static void
worker_ask_send(WorkerAsk kind, const char *query)
{
	PGconn	   *conn;
	TimestampTz sent;

	Assert(worker_ask == WORKER_ASK_NONE);
	conn = laredo_worker_sql_conn();
	if (worker_answer_cxt == NULL)
		worker_answer_cxt = AllocSetContextCreate(TopMemoryContext, "laredo status answer",
												  ALLOCSET_SMALL_SIZES);
	/* before the send: the answer shows the source as it stood at this time or later */
	sent = GetCurrentTimestamp();
	laredo_sql_send(conn, query, worker_source_id);
	worker_ask = kind;
	worker_ask_answered = false;
	worker_ask_sent = sent;
}

/* The socket to wait on for an answer in flight, or PGINVALID_SOCKET. */
static pgsocket
worker_ask_socket(void)
{
	return worker_ask != WORKER_ASK_NONE && !worker_ask_answered ? PQsocket(worker_status) : PGINVALID_SOCKET;
}

/*
 * The configured table whose changes a published relation carries, when
 * it is not a configured table itself: its nearest partitioned ancestor
 * among them (a source that publishes partitions leaf by leaf sends each
 * one's changes under its own name).  NULL when there is none.
 */
static LaredoTableConfig *
worker_resolve_relation(LogicalRepRelation *rel)
{
	List	   *rows;
	ListCell   *lc;

	rows = laredo_sql_query(laredo_worker_sql_conn(),
							psprintf("SELECT n.nspname::text, c.relname::text "
									 "FROM pg_catalog.pg_partition_ancestors(%u) WITH ORDINALITY a(relid, o) "
									 "JOIN pg_catalog.pg_class c ON c.oid = a.relid "
									 "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
									 "ORDER BY a.o", rel->remoteid),
							2, worker_source_id);
	foreach(lc, rows)
	{
		char	  **row = lfirst(lc);
		ListCell   *t;

		foreach(t, worker_source->tables)
		{
			LaredoTableConfig *table = lfirst(t);

			if (strcmp(table->schema_name, row[0]) == 0 && strcmp(table->table_name, row[1]) == 0)
			{
				ereport(LOG,
						(errmsg("laredo source \"%s\": changes of %s.%s go to the pipelines of its partitioned table %s.%s",
								worker_source_id, rel->nspname, rel->relname, row[0], row[1])));
				return table;
			}
		}
	}
	return NULL;
}

/* The leaf partitions a configured table has on the source now (1 for a plain table). */
static int
worker_count_leaves(LaredoTableConfig *table)
{
	List	   *rows;

	rows = laredo_sql_query(laredo_worker_sql_conn(),
							psprintf("SELECT count(*)::text FROM pg_catalog.pg_partition_tree(pg_catalog.to_regclass(%s)) "
									 "WHERE isleaf",
									 quote_literal_cstr(quote_qualified_identifier(table->schema_name,
																				   table->table_name))),
							1, worker_source_id);
	return rows ? atoi(((char **) linitial(rows))[0]) : -1;
}

void
laredo_worker_set_state(LaredoSourceState state)
{
	LWLockAcquire(laredo_shared->lock, LW_EXCLUSIVE);
	MyLaredoSlot->state = state;
	LWLockRelease(laredo_shared->lock);
}

static void
worker_publish_positions(XLogRecPtr received, XLogRecPtr flushed, XLogRecPtr wal_end)
{
	LWLockAcquire(laredo_shared->lock, LW_EXCLUSIVE);
	MyLaredoSlot->received_lsn = received;
	MyLaredoSlot->flushed_lsn = flushed;
	if (wal_end > MyLaredoSlot->source_wal_end)
		MyLaredoSlot->source_wal_end = wal_end;
	LWLockRelease(laredo_shared->lock);
}

static void
worker_publish_slot_info(LaredoSlotInfo *slot)
{
	LWLockAcquire(laredo_shared->lock, LW_EXCLUSIVE);
	MyLaredoSlot->slot_restart_lsn = slot->exists ? slot->restart_lsn : InvalidXLogRecPtr;
	MyLaredoSlot->slot_confirmed_lsn = slot->exists ? slot->confirmed_flush : InvalidXLogRecPtr;
	strlcpy(MyLaredoSlot->slot_wal_status, slot->exists && slot->wal_status ? slot->wal_status : "",
			sizeof(MyLaredoSlot->slot_wal_status));
	MyLaredoSlot->retained_wal_bytes = slot->exists ? slot->retained_wal_bytes : -1;
	LWLockRelease(laredo_shared->lock);
}

/*
 * Records a text of laredo.source_history (failover_readiness, lag_reason)
 * when it differs from what this worker recorded last; *last lives in
 * TopMemoryContext.
 */
static void
worker_note_text(const char *column, const char *value, char **last, bool *known)
{
	if (*known && ((value == NULL && *last == NULL) ||
				   (value != NULL && *last != NULL && strcmp(value, *last) == 0)))
		return;
	laredo_source_set_failover_state(worker_source_id, column, value);
	if (*last)
		pfree(*last);
	*last = value ? MemoryContextStrdup(TopMemoryContext, value) : NULL;
	*known = true;
}

static void
worker_shutdown(int code, Datum arg)
{
	LWLockAcquire(laredo_shared->lock, LW_EXCLUSIVE);
	if (MyLaredoSlot->pid == MyProcPid)
	{
		MyLaredoSlot->pid = 0;
		MyLaredoSlot->latch = NULL;
	}
	LWLockRelease(laredo_shared->lock);
}

/*
 * Errors that say nothing about the change or the target, only about the
 * moment: a deadlock or serialization failure (a local session that locks
 * mirrors in another order, a pg_restore adding foreign keys), a lock or
 * statement timeout, a server short of memory, disk or connections.  The
 * built-in apply worker retries every error; laredo retries these, even
 * when applying a change raised them, and counts them as reconnect attempts.
 */
static bool
error_is_transient(int sqlerrcode)
{
	return ERRCODE_TO_CATEGORY(sqlerrcode) == ERRCODE_TRANSACTION_ROLLBACK ||
		ERRCODE_TO_CATEGORY(sqlerrcode) == ERRCODE_INSUFFICIENT_RESOURCES ||
		sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE ||
		sqlerrcode == ERRCODE_QUERY_CANCELED ||
		/* a slot still held by our previous walsender is freed when it notices */
		sqlerrcode == ERRCODE_OBJECT_IN_USE;
}

/*
 * Errors that a restart cannot fix: data, constraints, rights, names, and
 * states laredo refuses to guess about.  Everything else (lost connections,
 * a source that is restarting) is worth another attempt.
 */
static bool
error_is_permanent(int sqlerrcode)
{
	const char *state = unpack_sql_state(sqlerrcode);

	if (error_is_transient(sqlerrcode))
		return false;
	return strncmp(state, "22", 2) == 0 ||	/* data exception */
		strncmp(state, "23", 2) == 0 || /* integrity constraint violation */
		strncmp(state, "42", 2) == 0 || /* syntax error or access rule violation */
		strncmp(state, "55", 2) == 0 || /* object not in prerequisite state */
		strncmp(state, "0A", 2) == 0;	/* feature not supported */
}

/*
 * A copy of this database (pg_dump and restore, pg_upgrade) holds the
 * original's sources, whose slots, publications and positions are the
 * original's: streaming from the slot would take its changes from the
 * original, a new baseline would drop it.  Nothing is touched until a person
 * says which (adopt_source or reset_source).  The database is known by its
 * OID, which a rename keeps; a physical standby of this server, promoted,
 * keeps the system identifier and OIDs: it is this consumer, not a copy.
 */
static void
worker_check_home(LaredoSourceConfig *source)
{
	const char *id = source->source_id;
	char		sysid[32];
	char	   *db;

	/* a catalog before 0.3.0 does not know */
	if (source->home_system_identifier == NULL && source->home_database == NULL)
		return;
	snprintf(sysid, sizeof(sysid), UINT64_FORMAT, GetSystemIdentifier());
	StartTransactionCommand();
	db = get_database_name(MyDatabaseId);
	if (source->home_system_identifier == NULL || source->home_database_oid != MyDatabaseId ||
		strcmp(source->home_system_identifier, sysid) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("source \"%s\" belongs to database \"%s\" of the server with system identifier %s, and this is database \"%s\" of %s",
						id, source->home_database ? source->home_database : "?",
						source->home_system_identifier ? source->home_system_identifier : "?", db, sysid),
				 errdetail("This database is a copy (pg_dump and restore, pg_upgrade): slot \"%s\" on the source and its changes belong to the original.",
						   source->slot_name),
				 errhint("Call laredo.adopt_source('%s') if laredo.save_positions() saved its position before the copy, or laredo.reset_source('%s', slot_name => 'a_new_name') to start this copy over with a slot of its own.",
						 id, id)));
	CommitTransactionCommand();
	if (source->has_saved_lsn)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("source \"%s\" has a saved position and waits to be adopted", id),
				 errhint("Call laredo.adopt_source('%s').", id)));
}

static XLogRecPtr
worker_setup_origin(ReplOriginId *origin)
{
	XLogRecPtr	startpos;
	char	   *name = laredo_origin_name(worker_source_id);

	StartTransactionCommand();
	*origin = replorigin_by_name(name, true);
	if (*origin == InvalidReplOriginId)
		*origin = replorigin_create(name);
	PG_TRY();
	{
		laredo_replorigin_session_setup(*origin);
	}
	PG_CATCH();
	{
		MemoryContext cxt = MemoryContextSwitchTo(TopMemoryContext);
		ErrorData  *edata = CopyErrorData();

		MemoryContextSwitchTo(cxt);
		if (edata->sqlerrcode != ERRCODE_CONFIGURATION_LIMIT_EXCEEDED)
			PG_RE_THROW();
		FlushErrorState();

		/*
		 * Every source needs an origin slot of the server's for as long as
		 * its worker runs; the limit takes a restart to raise, so this
		 * waits for a person, not for a retry.
		 */
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("source \"%s\" found no free replication origin slot", worker_source_id),
				 errdetail("All %d of %s are taken by laredo's sources and the server's subscriptions.",
						   LAREDO_MAX_ORIGINS, LAREDO_MAX_ORIGINS_GUC),
				 errhint("Raise %s in postgresql.conf and restart the server, then call laredo.alter_source('%s', enabled => true).",
						 LAREDO_MAX_ORIGINS_GUC, worker_source_id)));
	}
	PG_END_TRY();
	laredo_xact_origin = *origin;
	startpos = replorigin_session_get_progress(false);
	CommitTransactionCommand();
	return startpos;
}

/* Refuses a slot laredo must not use, before anything is read from it. */
static void
worker_check_slot(LaredoSourceConfig *source, LaredoSlotInfo *slot, XLogRecPtr startpos,
				  const char *appname)
{
	const char *id = source->source_id;

	if (!slot->exists)
		return;
	if (slot->active_pid != 0)
	{
		/* our own walsender from before a crash may not have noticed yet */
		if (slot->active_appname && strcmp(slot->active_appname, appname) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_IN_USE),
					 errmsg("replication slot \"%s\" on source \"%s\" is still held by a previous session (PID %d)",
							source->slot_name, id, slot->active_pid)));

		/*
		 * laredo of this server's, on another timeline: this server's old
		 * primary after a failover, whose walsender the source has not yet
		 * timed out (wal_sender_timeout), or which still runs (split brain).
		 * Worth retrying: a dead one's walsender goes.
		 */
		if (slot->active_appname &&
			strncmp(slot->active_appname, appname, strcspn(appname, "/") + 1) == 0 &&
			strstr(slot->active_appname, " source ") &&
			strcmp(strstr(slot->active_appname, " source "), strstr(appname, " source ")) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_IN_USE),
					 errmsg("replication slot \"%s\" on source \"%s\" is held by laredo of another timeline of this server (PID %d, application \"%s\")",
							source->slot_name, id, slot->active_pid, slot->active_appname),
					 errdetail("A second consumer: this server's old primary after a failover, still connected or not yet timed out by the source."),
					 errhint("Stop the old primary of this server for good (an HA manager fences it); the source ends a dead one's session after its wal_sender_timeout.")));
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("replication slot \"%s\" on source \"%s\" is used by another consumer (PID %d, application \"%s\")",
						source->slot_name, id, slot->active_pid,
						slot->active_appname ? slot->active_appname : ""),
				 errhint("Stop the other consumer (SELECT pg_terminate_backend(%d) on the source), then call laredo.alter_source('%s', enabled => true) to resume, or laredo.reset_source('%s') to start over with a new slot.",
						 slot->active_pid, id, id)));
	}
	if (slot->plugin == NULL || strcmp(slot->plugin, "pgoutput") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("replication slot \"%s\" on source \"%s\" is not a pgoutput logical slot",
						source->slot_name, id),
				 errhint("Give source \"%s\" its own slot_name.", id)));
	if (slot->wal_status && strcmp(slot->wal_status, "lost") == 0)
	{
		/* the cause, as a source on 17 or later says it */
		const char *reason = slot->invalidation_reason ? slot->invalidation_reason : "wal_removed";
		const char *why = "The source removed WAL the slot still needed (wal_status = lost, max_slot_wal_keep_size).";
		const char *prevent = "";

		if (strcmp(reason, "idle_timeout") == 0)
		{
			why = "The slot was idle (no consumer connected) longer than the source's idle_replication_slot_timeout.";
			prevent = " Raise idle_replication_slot_timeout on the source (0 turns it off) before stopping a source for long.";
		}
		else if (strcmp(reason, "rows_removed") == 0)
			why = "The source removed rows the slot still needed to decode (a standby's slot whose catalog rows the primary vacuumed).";
		else if (strcmp(reason, "wal_level_insufficient") == 0)
			why = "The source's wal_level is no longer logical.";
		else if (strcmp(reason, "wal_removed") != 0)
			why = psprintf("The source invalidated it (%s).", reason);
		laredo_slot_lost_cause = "the slot was invalidated";
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("replication slot \"%s\" on source \"%s\" has been invalidated (%s)",
						source->slot_name, id, reason),
				 errdetail("%s", why),
				 errhint("Call laredo.reset_source('%s') to create a new slot and take a new baseline.%s",
						 id, prevent)));
	}
	if (!XLogRecPtrIsInvalid(startpos) && slot->confirmed_flush > startpos)
	{
		laredo_slot_lost_cause = "the slot is ahead of laredo's position";
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("replication slot \"%s\" on source \"%s\" is ahead of laredo's position",
						source->slot_name, id),
				 errdetail("The slot has confirmed %X/%X, but only %X/%X is applied here; the changes between would be skipped. A second consumer may have streamed from the slot: a copy of this database, or this server's old primary after a failover.",
						   LSN_FORMAT_ARGS(slot->confirmed_flush), LSN_FORMAT_ARGS(startpos)),
				 errhint("Call laredo.reset_source('%s') to create a new slot and take a new baseline.", id)));
	}
}

/*
 * on_slot_lost = 'rebaseline': the slot no longer carries laredo's position
 * (the error being handled says why), so instead of stopping, the source
 * starts over by itself as reset_source would: the old slot is dropped if it
 * is still there and nobody uses it, the position cleared, and the caller
 * takes a new baseline into a new slot of the same name.  Readers never see
 * an empty target: a live table target's old rows are replaced in the
 * transaction that commits the new ones.  The event is recorded (when, why,
 * the old slot and the new one) for laredo.sources and health().  Returns
 * the slot as the source sees it now.
 */
static LaredoSlotInfo *
worker_rebaseline(WalReceiverConn *conn, LaredoSourceConfig *source, ReplOriginId origin,
				  MemoryContext cxt)
{
	const char *id = source->source_id;
	ErrorData  *edata;
	LaredoSlotInfo *old;
	char	   *old_slot;
	ListCell   *lc;

	MemoryContextSwitchTo(cxt);
	edata = CopyErrorData();
	FlushErrorState();
	AbortOutOfAnyTransaction();
	MemoryContextSwitchTo(cxt);
	ereport(WARNING,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("laredo source \"%s\": %s", id, edata->message),
			 errdetail("on_slot_lost = 'rebaseline': laredo drops the slot if it is still there, creates it again and takes a new baseline; readers keep the old rows until the new ones commit.")));

	old = laredo_slot_info(conn, id, source->slot_name);
	old_slot = old->exists ?
		psprintf("%s (confirmed %X/%X%s%s)", source->slot_name, LSN_FORMAT_ARGS(old->confirmed_flush),
				 old->invalidation_reason ? ", invalidated: " : "",
				 old->invalidation_reason ? old->invalidation_reason : "") :
		psprintf("%s (gone)", source->slot_name);
	if (old->exists)
	{
		if (old->active_pid != 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_IN_USE),
					 errmsg("replication slot \"%s\" on source \"%s\" is in use (PID %d): laredo cannot replace it",
							source->slot_name, id, old->active_pid)));
		laredo_slot_drop(conn, id, source->slot_name);
	}
	laredo_apply_rewind_origin(origin, InvalidXLogRecPtr);
	/* the server the new baseline comes from */
	(void) laredo_continuity_check(conn, source, origin, InvalidXLogRecPtr);
	laredo_source_record_rebaseline(id, edata->message, old_slot, source->slot_name);
	foreach(lc, source->pipelines)
		((LaredoPipelineConfig *) lfirst(lc))->baselined = false;
	laredo_slot_lost_cause = NULL;
	return laredo_slot_info(conn, id, source->slot_name);
}

/*
 * PostgreSQL 15's pgoutput cannot filter changes by origin: when the source
 * is this database, a target or a laredo table inside the publication would
 * feed its own changes back forever.  The SQL functions refuse that; a
 * publication laredo does not manage is checked here.
 */
static void
worker_check_no_feedback(WalReceiverConn *conn, LaredoSourceConfig *source)
{
	StringInfoData query;
	List	   *names = laredo_publication_names(source);
	ListCell   *lc;
	List	   *rows;

	initStringInfo(&query);
	appendStringInfo(&query,
					 "SELECT pg_catalog.format('%%I.%%I', schemaname, tablename) "
					 "FROM pg_catalog.pg_publication_tables WHERE pubname IN (");
	foreach(lc, names)
		appendStringInfo(&query, "%s%s", lc == list_head(names) ? "" : ", ",
						 quote_literal_cstr(strVal(lfirst(lc))));
	appendStringInfoString(&query, ") AND (schemaname = 'laredo' OR (schemaname, tablename) IN (");
	appendStringInfoString(&query, "SELECT target_schema, target_table FROM laredo.pipeline_config))");
	rows = laredo_remote_query(conn, query.data, 1, source->source_id);
	if (rows != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("publication \"%s\" of source \"%s\" contains %s, which laredo writes in this database",
						source->publication, source->source_id, ((char **) linitial(rows))[0]),
				 errdetail("PostgreSQL 15 cannot filter changes by origin, so its changes would feed back forever."),
				 errhint("Remove the table from the publication.")));
}

/*
 * Waits for the stream's socket, the latch or the timeout, and for a
 * range's read too when one is in flight (chunk.c's readers).
 */
static void
worker_wait(pgsocket fd, long timeout)
{
	pgsocket	readers[LAREDO_CHUNK_MAX_READERS + 1];
	int			n = laredo_chunk_active() ? laredo_chunk_sockets(readers, LAREDO_CHUNK_MAX_READERS) : 0;
	WaitEventSet *set;
	WaitEvent	event;

	if (worker_ask_socket() != PGINVALID_SOCKET)
		readers[n++] = worker_ask_socket();
	if (n == 0)
	{
		(void) WaitLatchOrSocket(MyLatch,
								 WL_SOCKET_READABLE | WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								 fd, timeout, PG_WAIT_EXTENSION);
		return;
	}
	set = laredo_create_wait_event_set(3 + n);
	AddWaitEventToSet(set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	AddWaitEventToSet(set, WL_SOCKET_READABLE, fd, NULL, NULL);
	for (int i = 0; i < n; i++)
		AddWaitEventToSet(set, WL_SOCKET_READABLE, readers[i], NULL, NULL);
	(void) WaitEventSetWait(set, timeout, &event, 1, PG_WAIT_EXTENSION);
	FreeWaitEventSet(set);
}

static void
worker_stream(WalReceiverConn *conn, LaredoSourceConfig *source, Oid owner, XLogRecPtr startpos)
{
	TimestampTz last_slot_status = 0;
	TimestampTz last_failover_check = 0;
	char	   *lag_reason = NULL;
	bool		lag_reason_known = false;
	char	   *readiness = NULL;
	bool		readiness_known = false;
	TimestampTz last_identity_check = 0;
	TimestampTz last_maintain = 0;
	TimestampTz last_sequence_sync = 0;
	TimestampTz last_schema_check = GetCurrentTimestamp();
	MemoryContext msgcxt = AllocSetContextCreate(TopMemoryContext, "laredo message",
												 ALLOCSET_DEFAULT_SIZES);
	XLogRecPtr	last_received = startpos;
	XLogRecPtr	wal_end = startpos;
	XLogRecPtr	keepalive_end = InvalidXLogRecPtr;
	XLogRecPtr	last_reported = InvalidXLogRecPtr;
	XLogRecPtr	last_reported_write = InvalidXLogRecPtr;
	TimestampTz last_feedback = 0;
	TimestampTz last_idle_persist = GetCurrentTimestamp();
	TimestampTz last_heard = last_idle_persist;
	bool		ping_sent = false;

	worker_publish_positions(last_received, laredo_apply_durable_lsn(), wal_end);
	laredo_worker_set_state(LAREDO_SOURCE_STREAMING);
	/* the source is reachable and streaming: a later failure counts from one */
	LWLockAcquire(laredo_shared->lock, LW_EXCLUSIVE);
	MyLaredoSlot->attempts = 0;
	MyLaredoSlot->last_error[0] = '\0';
	MyLaredoSlot->last_error_time = 0;
	LWLockRelease(laredo_shared->lock);

	for (;;)
	{
		pgsocket	fd = PGINVALID_SOCKET;
		char	   *buf;
		int			len;
		bool		reply_requested = false;
		bool		heard = false;
		bool		more_buffered;
		int			batch;
		bool		waiter;
		bool		chunk_busy = false;
		TimestampTz checks_wanted;
		TimestampTz now;
		XLogRecPtr	durable;
		XLogRecPtr	acked;

		CHECK_FOR_INTERRUPTS();
		MemoryContextSwitchTo(msgcxt);
		batch = 0;
		more_buffered = false;
		len = walrcv_receive(conn, &buf, &fd);
		while (len != 0)
		{
			StringInfoData s;
			char		kind;

			if (len < 0)
				ereport(ERROR,
						(errcode(ERRCODE_CONNECTION_FAILURE),
						 errmsg("source \"%s\" ended the replication stream", worker_source_id)));
			s.data = buf;
			s.len = len;
			s.cursor = 0;
			s.maxlen = -1;
			heard = true;
			kind = pq_getmsgbyte(&s);
			if (kind == 'w')
			{
				XLogRecPtr	start = pq_getmsgint64(&s);
				XLogRecPtr	end = pq_getmsgint64(&s);

				(void) pq_getmsgint64(&s);	/* send time */
				if (start > last_received)
					last_received = start;
				if (end > wal_end)
					wal_end = end;
				laredo_apply_message(&s);
			}
			else if (kind == 'k')
			{
				XLogRecPtr	end = pq_getmsgint64(&s);

				(void) pq_getmsgint64(&s);	/* send time */
				reply_requested |= pq_getmsgbyte(&s) != 0;
				if (end > last_received)
					last_received = end;
				if (end > keepalive_end)
					keepalive_end = end;
				if (end > wal_end)
					wal_end = end;
			}
			MemoryContextSwitchTo(msgcxt);
			MemoryContextReset(msgcxt);
			CHECK_FOR_INTERRUPTS();
			/* a long backlog is taken in batches: flush and report between them */
			if (++batch >= MESSAGES_PER_BATCH)
			{
				more_buffered = true;
				break;
			}
			len = walrcv_receive(conn, &buf, &fd);
		}

		LWLockAcquire(laredo_shared->lock, LW_EXCLUSIVE);
		waiter = MyLaredoSlot->catchup_waiter;
		MyLaredoSlot->catchup_waiter = false;
		checks_wanted = MyLaredoSlot->checks_wanted;
		LWLockRelease(laredo_shared->lock);

		/*
		 * Nothing more to read for now: the batch commits.  Its WAL is
		 * flushed here only when somebody waits for it; otherwise the WAL
		 * writer flushes it within three wal_writer_delay, and what it has
		 * flushed is acknowledged on a later turn (an fsync here would hold
		 * up the stream behind it).
		 */
		laredo_apply_flush(waiter);
		/* a key range merged once the stream has passed its position, or the next one read */
		if (laredo_chunk_active() && !IsTransactionState() && !laredo_apply_in_remote_xact())
			chunk_busy = laredo_chunk_step(keepalive_end, last_received);
		else if (laredo_chunk_active())
			chunk_busy = laredo_chunk_pump();
		now = GetCurrentTimestamp();
		if (heard)
		{
			last_heard = now;
			ping_sent = false;
		}
		else if (wal_receiver_timeout > 0)
		{
			/*
			 * As the built-in walreceiver: a source silent for half of
			 * wal_receiver_timeout is asked for a reply; one silent for all
			 * of it is taken for lost (a frozen server or a network that
			 * drops packets never closes the socket).
			 */
			if (TimestampDifferenceExceeds(last_heard, now, wal_receiver_timeout))
				ereport(ERROR,
						(errcode(ERRCODE_CONNECTION_FAILURE),
						 errmsg("source \"%s\" sent nothing for %d ms", worker_source_id,
								wal_receiver_timeout),
						 errdetail("Not even the keepalive laredo asked for after %d ms arrived.",
								   wal_receiver_timeout / 2),
						 errhint("Check the network path to the source; wal_receiver_timeout sets how long laredo waits.")));
			if (!ping_sent &&
				TimestampDifferenceExceeds(last_heard, now, wal_receiver_timeout / 2))
			{
				laredo_stream_feedback(conn, last_received, laredo_apply_ack_lsn(), true);
				ping_sent = true;
			}
		}
		/*
		 * Between transactions everything received is applied; a position
		 * past it (keepalives, changes of tables nobody follows) is made
		 * durable too, so that it can be acknowledged and the slot does not
		 * pin the source's WAL.
		 */
		if (laredo_apply_idle_position_pending(last_received) &&
			(waiter || TimestampDifferenceExceeds(last_idle_persist, now, IDLE_PERSIST_MS)))
		{
			laredo_apply_persist_idle(last_received, waiter);
			last_idle_persist = now;
		}
		laredo_apply_flush_counters();

		/*
		 * What the targets took reaches the cumulative statistics, as any
		 * session's writes do: autovacuum decides from them when to vacuum
		 * and analyze a mirror.  At most once a second (pgstat's own pace);
		 * what waits is sent on a later turn, and at exit.
		 */
		if (!IsTransactionState())
			(void) pgstat_report_stat(false);
		if (TimestampDifferenceExceeds(last_maintain, now, laredo_prune_interval_ms))
		{
			laredo_apply_maintain();
			last_maintain = now;
		}
		/* sequences kept close to the source's (a lower bound; the cutover calls sync_sequences) */
		if (source->sequence_sync_ms > 0 && !IsTransactionState() &&
			TimestampDifferenceExceeds(last_sequence_sync, now, (int) Min(source->sequence_sync_ms, INT_MAX)))
		{
			laredo_source_sync_sequences(source->source_id);
			last_sequence_sync = GetCurrentTimestamp();
		}
		/* tables created or dropped in the source's added schemas */
		if (source->schema_check_ms > 0 && !IsTransactionState() &&
			TimestampDifferenceExceeds(last_schema_check, now, (int) Min(source->schema_check_ms, INT_MAX)))
		{
			laredo_source_check_schemas(source->source_id);
			last_schema_check = GetCurrentTimestamp();
		}
		/*
		 * The answer to a read sent on the plain connection, once it has
		 * come; one that does not come within wal_receiver_timeout is a
		 * lost connection, as when the worker waited for it.  The slot's
		 * state is published at once, even in the middle of a long
		 * transaction; what a check finds is acted on between transactions.
		 */
		worker_ask_take(false);
		if (worker_ask != WORKER_ASK_NONE && !worker_ask_answered && wal_receiver_timeout > 0 &&
			TimestampDifferenceExceeds(worker_ask_sent, now, wal_receiver_timeout))
			laredo_sql_overdue(worker_source_id);
		if (worker_ask_answered && (worker_ask == WORKER_ASK_SLOT || !IsTransactionState()))
		{
			MemoryContext old = MemoryContextSwitchTo(msgcxt);
			WorkerAsk	kind = worker_ask;

			worker_ask = WORKER_ASK_NONE;
			worker_ask_answered = false;
			if (kind == WORKER_ASK_CHECKS)
			{
				laredo_checks_apply(source, worker_answer);
				LWLockAcquire(laredo_shared->lock, LW_EXCLUSIVE);
				MyLaredoSlot->identities_checked = worker_ask_sent;
				LWLockRelease(laredo_shared->lock);
			}
			else
			{
				LaredoSlotInfo *info = laredo_slot_info_from_rows(worker_answer);

				worker_publish_slot_info(info);
				/* a source on 17 or later waits for its synchronized_standby_slots */
				if (!IsTransactionState())
					worker_note_text("lag_reason",
									 info->exists && info->wait_event &&
									 strcmp(info->wait_event, "WaitForStandbyConfirmation") == 0 ?
									 "the source waits for the standbys of its synchronized_standby_slots to confirm its WAL before it sends it (wait event WaitForStandbyConfirmation): one of them is down or behind" :
									 NULL, &lag_reason, &lag_reason_known);
			}
			worker_answer = NIL;
			MemoryContextReset(worker_answer_cxt);
			MemoryContextSwitchTo(old);
		}

		/*
		 * What is due, in this order, each when nothing is in flight: the
		 * failover readiness (rare, read synchronously), the slot's state,
		 * the catalog checks (every second, and for a wait_for_catchup
		 * caller that began after the last look; one that waits for its
		 * position only does not make the worker look again and again).
		 */
		if (TimestampDifferenceExceeds(last_failover_check, now, FAILOVER_CHECK_MS) &&
			worker_ask == WORKER_ASK_NONE && !IsTransactionState())
		{
			MemoryContext old = MemoryContextSwitchTo(msgcxt);

			worker_note_text("failover_readiness",
							 laredo_failover_readiness(source, laredo_worker_sql_conn(), owner),
							 &readiness, &readiness_known);
			MemoryContextSwitchTo(old);
			last_failover_check = now;
		}
		if (TimestampDifferenceExceeds(last_slot_status, now, SLOT_STATUS_MS) &&
			worker_ask == WORKER_ASK_NONE)
		{
			MemoryContext old = MemoryContextSwitchTo(msgcxt);

			worker_ask_send(WORKER_ASK_SLOT,
							laredo_slot_info_query(source->slot_name,
												   PQserverVersion(laredo_worker_sql_conn())));
			MemoryContextSwitchTo(old);
			last_slot_status = now;
		}
		if ((checks_wanted > last_identity_check ||
			 TimestampDifferenceExceeds(last_identity_check, now, IDENTITY_CHECK_MS)) &&
			worker_ask == WORKER_ASK_NONE && !IsTransactionState())
		{
			MemoryContext old = MemoryContextSwitchTo(msgcxt);
			char	   *query = laredo_checks_query(source);

			last_identity_check = GetCurrentTimestamp();
			if (query != NULL)
				worker_ask_send(WORKER_ASK_CHECKS, query);
			else
			{
				/* nothing to look at: looked */
				LWLockAcquire(laredo_shared->lock, LW_EXCLUSIVE);
				MyLaredoSlot->identities_checked = last_identity_check;
				LWLockRelease(laredo_shared->lock);
			}
			MemoryContextSwitchTo(old);
		}
		durable = laredo_apply_durable_lsn();
		worker_publish_positions(last_received, durable, wal_end);

		/*
		 * What the consumer's standbys have too (laredo.synchronized_standby_slots).
		 * What was received is reported after each batch, as the built-in
		 * apply worker does: a walsender whose client has not reported
		 * everything it sent pings it before each sleep, a keepalive after
		 * nearly every transaction of a steady stream, which both sides pay
		 * for in wakeups (and the next transaction waited for).
		 */
		acked = laredo_apply_ack_lsn();
		if (reply_requested || acked != last_reported || last_received != last_reported_write ||
			TimestampDifferenceExceeds(last_feedback, now, FEEDBACK_INTERVAL_MS))
		{
			laredo_stream_feedback(conn, last_received, acked, false);
			last_reported = acked;
			last_reported_write = last_received;
			last_feedback = now;
		}

		/* data may wait in libpq's buffer, where the socket does not show it */
		if (!more_buffered && !chunk_busy)
		{
			long		timeout = IDLE_PERSIST_MS;

			/*
			 * When the stream pauses, what it brought is acknowledged as soon
			 * as it is durable, not a second later: a commit the WAL writer
			 * has still to flush is looked at again after wal_writer_delay,
			 * and a position past the last commit is recorded when its turn
			 * comes.
			 */
			if (laredo_apply_unflushed_pending())
				timeout = Min(timeout, WalWriterDelay);
			if (laredo_apply_idle_position_pending(last_received))
				timeout = Min(timeout,
							  Max(1, TimestampDifferenceMilliseconds(now,
																	 TimestampTzPlusMilliseconds(last_idle_persist, IDLE_PERSIST_MS))));
			/* a copy in key ranges reads its next range when its rate allows */
			if (laredo_chunk_active())
			{
				long		chunk_wait = laredo_chunk_wait_ms();

				if (chunk_wait >= 0)
					timeout = Min(timeout, chunk_wait);
			}
			worker_wait(fd, timeout);
			ResetLatch(MyLatch);
		}
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
	}
}

static void
worker_run(Oid owner)
{
	const char *id = worker_source_id;
	LaredoSourceConfig *source;
	ReplOriginId origin;
	XLogRecPtr	startpos;
	WalReceiverConn *conn;
	LaredoSlotInfo *slot;
	bool		needs_baseline;
	bool		needs_sync = false;
	bool		ephemeral;
	bool		binary;
	char	   *timezone = NULL;
	char	   *bytea_output = NULL;
	ListCell   *lc;
	char	   *appname;
	MemoryContext old;
	MemoryContext cxt;

	/*
	 * Commits are asynchronous, as the built-in apply worker's: the worker
	 * flushes WAL itself once per batch of received messages and acknowledges
	 * only what is flushed (apply.c), whatever the server's setting.
	 */
	SetConfigOption("synchronous_commit", "off", PGC_SUSET, PGC_S_OVERRIDE);
	/* Values arrive in these formats (remote.c); read them back the same way. */
	SetConfigOption("DateStyle", "ISO", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("IntervalStyle", "postgres", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("lc_monetary", "C", PGC_SUSET, PGC_S_OVERRIDE);

	/*
	 * Nothing the worker runs may resolve a name through a search_path that
	 * some other role can write to (the built-in apply worker does the same,
	 * CVE-2020-14349): catalog queries are schema-qualified, targets and
	 * functions are used by OID, and a pipeline's where clause sees
	 * pg_catalog only, so anything else in it must be schema-qualified.
	 */
	SetConfigOption("search_path", "", PGC_SUSET, PGC_S_OVERRIDE);

	/*
	 * Targets are written as the built-in apply worker writes its tables:
	 * ENABLE REPLICA and ENABLE ALWAYS triggers fire, ordinary ones and
	 * foreign-key checks do not (the source checked them); TRUNCATE still
	 * refuses a table another one references.  A function target's calls
	 * run as an ordinary session (target_function.c).
	 */
	SetConfigOption("session_replication_role", "replica", PGC_SUSET, PGC_S_OVERRIDE);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	old = MemoryContextSwitchTo(TopMemoryContext);
	source = laredo_source_config_load(id, true);
	worker_max_attempts = source->reconnect_max_attempts;
	worker_source = source;
	worker_owner = owner;
	MemoryContextSwitchTo(old);
	PopActiveSnapshot();
	CommitTransactionCommand();

	worker_check_home(source);
	startpos = worker_setup_origin(&origin);
	laredo_apply_init(source);
	laredo_apply_set_resolver(worker_resolve_relation);
	laredo_apply_set_leaf_counter(worker_count_leaves);
	/*
	 * An ephemeral source has no resume point: a full baseline on every
	 * start; so has a stateful one without a position.  Otherwise only the
	 * pipelines not yet copied (a table added to the running source) are
	 * synchronised, and the other tables resume without a new baseline.
	 */
	ephemeral = strcmp(source->slot_mode, "ephemeral") == 0;
	needs_baseline = ephemeral || XLogRecPtrIsInvalid(startpos);
	foreach(lc, source->pipelines)
		if (!((LaredoPipelineConfig *) lfirst(lc))->baselined)
			needs_sync = true;

	appname = laredo_continuity_appname(id);
	conn = laredo_connect(source->connection, owner, appname, id);
	laredo_slot_lost_cause = NULL;
	cxt = CurrentMemoryContext;
	PG_TRY();
	{
		/* before anything is read from the slot: is this still the history laredo's position is on? */
		startpos = laredo_continuity_check(conn, source, origin, needs_baseline ? InvalidXLogRecPtr : startpos);
		slot = laredo_slot_info(conn, id, source->slot_name);
		worker_publish_slot_info(slot);
		worker_check_slot(source, slot, needs_baseline ? InvalidXLogRecPtr : startpos, appname);

		if (!needs_baseline && !slot->exists)
		{
			laredo_slot_lost_cause = "the slot no longer exists";
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("replication slot \"%s\" of source \"%s\" no longer exists on the source",
							source->slot_name, id),
					 errdetail("laredo resumes from %X/%X, but the slot that keeps those changes was dropped.",
							   LSN_FORMAT_ARGS(startpos)),
					 errhint("Call laredo.reset_source('%s') to create a new slot and take a new baseline.", id)));
		}
	}
	PG_CATCH();
	{
		if (laredo_slot_lost_cause == NULL || strcmp(source->on_slot_lost, "rebaseline") != 0 || ephemeral)
			PG_RE_THROW();
		slot = worker_rebaseline(conn, source, origin, cxt);
		startpos = InvalidXLogRecPtr;
		needs_baseline = true;
	}
	PG_END_TRY();

	if (needs_baseline && slot->exists)
	{
		/*
		 * A slot is ours to replace only if laredo created it: its baseline
		 * did not commit, or a new pipeline needs a full copy.  An ephemeral
		 * source's slot is temporary and vanished with its session, so a slot
		 * of that name is someone else's.
		 */
		if (ephemeral || (!source->slot_pending && XLogRecPtrIsInvalid(startpos)))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("replication slot \"%s\" already exists on source \"%s\" and laredo has no position for it",
							source->slot_name, id),
					 errdetail("Streaming from it would skip every change before its position."),
					 errhint("Drop the slot on the source (SELECT pg_drop_replication_slot('%s')) or give source \"%s\" another slot_name.",
							 source->slot_name, id)));
		laredo_slot_drop(conn, id, source->slot_name);
	}

	if (source->create_publication || needs_baseline)
		laredo_publication_sync(conn, source, needs_baseline);
	if (source->connection[0] == '\0')
		worker_check_no_feedback(conn, source);

	/*
	 * Pipelines that ask for it are copied in key ranges while the stream
	 * goes on, and verifications asked for run the same way (chunk.c,
	 * which returns at once when there is neither); the others are copied
	 * first, in one snapshot: the slot's (a new baseline) or their own
	 * (pipelines added since).
	 */
	laredo_chunk_setup(conn, source, owner, startpos, needs_baseline);
	needs_sync = false;
	foreach(lc, source->pipelines)
		if (!((LaredoPipelineConfig *) lfirst(lc))->baselined &&
			!((LaredoPipelineConfig *) lfirst(lc))->chunked)
			needs_sync = true;

	if (needs_baseline)
	{
		XLogRecPtr	consistent;
		char	   *snapshot;

		laredo_worker_set_state(LAREDO_SOURCE_BASELINE);
		if (!ephemeral)
			laredo_source_set_slot_pending(id, true);
		snapshot = laredo_slot_create(conn, id, source->slot_name, ephemeral, &consistent);
		ereport(LOG,
				(errmsg("laredo source \"%s\": created %s slot \"%s\" at %X/%X, taking the baseline",
						id, ephemeral ? "temporary" : "persistent", source->slot_name,
						LSN_FORMAT_ARGS(consistent))));
		laredo_apply_set_origin(origin, InvalidXLogRecPtr);
		laredo_baseline_run(source, snapshot, consistent);
		laredo_apply_begin_local();
		PopActiveSnapshot();
		laredo_apply_commit_local(consistent, GetCurrentTimestamp(), true);
		laredo_apply_flush(true);
		needs_sync = false;
		if (!ephemeral)
			laredo_source_set_slot_pending(id, false);
		startpos = consistent;
		ereport(LOG,
				(errmsg("laredo source \"%s\": baseline committed, streaming from %X/%X",
						id, LSN_FORMAT_ARGS(consistent))));
	}
	if (needs_sync)
	{
		XLogRecPtr	sync_lsn;

		laredo_worker_set_state(LAREDO_SOURCE_BASELINE);
		laredo_apply_set_origin(origin, startpos);
		sync_lsn = laredo_baseline_sync(source);
		laredo_apply_begin_local();
		PopActiveSnapshot();
		laredo_apply_commit_local(sync_lsn, GetCurrentTimestamp(), false);
		XLogFlush(XactLastCommitEnd);
		ereport(LOG,
				(errmsg("laredo source \"%s\": synchronised new pipelines at %X/%X, the stream resumes from %X/%X",
						id, LSN_FORMAT_ARGS(sync_lsn), LSN_FORMAT_ARGS(startpos))));
	}
	/*
	 * A source on 17 or later keeps a failover slot on its standbys (when
	 * they are set up for it: failover.c says what is missing).  A temporary
	 * slot cannot be one.
	 */
	if (!ephemeral && walrcv_server_version(conn) >= 170000 &&
		(needs_baseline ? false : slot->failover) != source->failover)
	{
		laredo_slot_set_failover(conn, id, source->slot_name, source->failover);
		ereport(LOG,
				(errmsg("laredo source \"%s\": slot \"%s\" is %s a failover slot", id, source->slot_name,
						source->failover ? "now" : "no longer")));
	}
	laredo_apply_set_origin(origin, startpos);
	binary = laredo_apply_binary_suits() &&
		laredo_stream_binary_wanted(conn, id, laredo_publication_names(source), &timezone, &bytea_output);
	laredo_apply_set_binary(binary, timezone, bytea_output);
	laredo_stream_start(conn, id, source->slot_name, startpos, laredo_publication_names(source),
						source->origin, binary);
	worker_stream(conn, source, owner, startpos);
}

void
laredo_source_worker_main(Datum arg)
{
	int			index = DatumGetInt32(arg);
	Oid			owner;
	Oid			dboid;

	memcpy(&owner, MyBgworkerEntry->bgw_extra, sizeof(Oid));
	MyLaredoSlot = &laredo_shared->workers[index];

	pqsignal(SIGTERM, die);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();

	LWLockAcquire(laredo_shared->lock, LW_EXCLUSIVE);
	/*
	 * A transaction that stops this source (drop, reset, pause) may have
	 * looked for a running worker just before this one published its pid: it
	 * set the hold under this same lock, so a held source's worker leaves.
	 */
	if (MyLaredoSlot->hold)
	{
		LWLockRelease(laredo_shared->lock);
		proc_exit(0);
	}
	dboid = MyLaredoSlot->dboid;
	strlcpy(worker_source_id, MyLaredoSlot->source_id, LAREDO_ID_LEN);
	MyLaredoSlot->pid = MyProcPid;
	MyLaredoSlot->latch = MyLatch;
	MyLaredoSlot->state = LAREDO_SOURCE_STARTING;
	/* nothing is known to be durable until this worker says so */
	MyLaredoSlot->received_lsn = InvalidXLogRecPtr;
	MyLaredoSlot->flushed_lsn = InvalidXLogRecPtr;
	LWLockRelease(laredo_shared->lock);
	before_shmem_exit(worker_shutdown, (Datum) 0);

	BackgroundWorkerInitializeConnectionByOid(dboid, owner, 0);
	pgstat_report_appname(psprintf("laredo source %s", worker_source_id));

	PG_TRY();
	{
		worker_run(owner);
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		int			attempts;
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		HOLD_INTERRUPTS();
		edata = CopyErrorData();
		EmitErrorReport();
		FlushErrorState();
		AbortOutOfAnyTransaction();
		MemoryContextSwitchTo(old);

		LWLockAcquire(laredo_shared->lock, LW_EXCLUSIVE);
		strlcpy(MyLaredoSlot->last_error, edata->message, LAREDO_ERROR_LEN);
		MyLaredoSlot->last_error_time = GetCurrentTimestamp();
		attempts = ++MyLaredoSlot->attempts;
		LWLockRelease(laredo_shared->lock);

		/*
		 * A target that refused a change needs a person, unless the refusal
		 * was only the moment's (a deadlock with a local session).
		 */
		if (laredo_apply_failed_pipeline() && !error_is_transient(edata->sqlerrcode))
			laredo_pipeline_set_error(laredo_apply_failed_pipeline(), edata->message);
		if ((laredo_apply_failed_pipeline() && !error_is_transient(edata->sqlerrcode)) ||
			error_is_permanent(edata->sqlerrcode))
		{
			laredo_source_set_error(worker_source_id, edata->message, edata->hint);
			laredo_worker_set_state(LAREDO_SOURCE_ERROR);
		}
		else if (worker_max_attempts >= 0 && attempts > worker_max_attempts)
		{
			char	   *hint = psprintf("The source failed %d times in a row. Fix the cause, then call laredo.alter_source('%s', enabled => true).",
										attempts, worker_source_id);

			laredo_source_set_error(worker_source_id, edata->message, hint);
			laredo_worker_set_state(LAREDO_SOURCE_ERROR);
		}
		else
			laredo_worker_set_state(LAREDO_SOURCE_RECONNECTING);
		RESUME_INTERRUPTS();
		proc_exit(1);
	}
	PG_END_TRY();
}
