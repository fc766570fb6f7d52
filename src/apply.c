/*-------------------------------------------------------------------------
 * apply.c
 *	  Applies decoded pgoutput messages to a source's pipelines, one remote
 *	  transaction per local transaction, and records the resume LSN with it.
 *
 *	  Progress is the source's replication origin: its origin LSN
 *	  is set before commit, so the position rides in the commit record of the
 *	  applied data and survives a crash together with it.  A remote transaction
 *	  whose commit is at or before the durable position is skipped, so a
 *	  transaction the source sends again is never applied twice.
 *-------------------------------------------------------------------------
 */
#include "laredo.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/bytea.h"
#include "utils/datetime.h"
#include "utils/float.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/jsonb.h"
#include "catalog/pg_replication_origin.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "apply.h"
#include "replication.h"
#include "chunk.h"
#include "schema_changes.h"
#include "standby_slots.h"

typedef struct RemoteRelEntry
{
	LogicalRepRelId remoteid;
	LogicalRepRelation *rel;
	List	   *pipelines;		/* of LaredoPipeline * */
	List	   *shape_pending;	/* pipelines yet to compare a new description with theirs */
	int64		unmapped;		/* changes no pipeline took, not yet recorded */
} RemoteRelEntry;

/* Finds the configured table a published relation's changes belong to. */
static laredo_apply_resolver apply_resolver = NULL;

static MemoryContext ApplyCacheContext = NULL;
static LaredoSourceConfig *apply_source;
static List *apply_pipelines = NIL;		/* every LaredoPipeline of the source */
static List *remote_rels = NIL;			/* of RemoteRelEntry * */

static ReplOriginId apply_origin = InvalidReplOriginId;

/*
 * The stream sends values in binary (replication.c's
 * laredo_stream_binary_wanted), and the TimeZone and bytea_output of the
 * source's walsender, under which a stream in text would have printed them.
 */
static bool apply_binary = false;
static char *apply_source_timezone = NULL;
static bool apply_source_bytea_hex = true;
/*
 * applied_lsn: the source position of the last transaction committed here.
 * durable_lsn: the part of it that local WAL has flushed, which is all that is
 * ever acknowledged to the source.  Commits are asynchronous: the WAL
 * writer flushes them, or the worker when a caller waits
 * (laredo_apply_flush), so neither a backlog nor a steady stream waits
 * on an fsync per transaction.  A crash loses unflushed data and position
 * together: the position rides in the commit records.
 */
static XLogRecPtr applied_lsn = InvalidXLogRecPtr;
static XLogRecPtr durable_lsn = InvalidXLogRecPtr;

/*
 * ack_lsn: the part of durable_lsn that may be acknowledged to the source.
 * The same, unless laredo.synchronized_standby_slots names standbys of this
 * server: then only what they have flushed too (standby_slots.c).
 */
static XLogRecPtr ack_lsn = InvalidXLogRecPtr;

/*
 * Whether applied_lsn is past the last change applied (an idle position:
 * keepalives, transactions of tables nobody follows).  After a failover the
 * difference decides between moving the position back to the fork and a
 * durable ERROR (continuity.c), so laredo.source_history records the last
 * change's position whenever this flips: never while changes stream, at
 * most once per idle position recorded.
 */
static bool position_idle = false;

/*
 * Commits not yet known to be flushed: the end of each local commit record
 * and the source position it carries, oldest first, as the built-in apply
 * worker keeps them (lsn_mapping).  Under a steady stream the newest commit
 * is almost never flushed yet when the worker looks, so each older one is
 * acknowledged as soon as the WAL writer has passed it.
 */
typedef struct UnflushedCommit
{
	XLogRecPtr	local_end;
	XLogRecPtr	remote_lsn;
} UnflushedCommit;

#define UNFLUSHED_MAX 1024
static UnflushedCommit unflushed[UNFLUSHED_MAX];
static void unflushed_push(XLogRecPtr local_end, XLogRecPtr remote_lsn);
static int	unflushed_first = 0;	/* ring buffer: oldest entry */
static int	unflushed_count = 0;

static bool in_remote_xact = false;
static bool skip_remote_xact = false;
static XLogRecPtr remote_final_lsn = InvalidXLogRecPtr;

/*
 * Remote transactions are applied in batches: one local transaction takes
 * the remote transactions of a batch of received messages and commits
 * when the socket has nothing more (laredo_apply_flush), with the end LSN
 * of the last one as the resume position.  The position is still atomic
 * with the data; a failure rolls the batch back and the source sends it
 * again from the position before it.  A remote transaction still open at the flush keeps
 * the batch open until it commits.  A batch holds at most BATCH_MAX_XACTS
 * transactions: a row updated many times in one local transaction grows a
 * version chain that nothing can prune before the commit (a mirror merges
 * the updates of a key into one; other targets cannot).
 */
#define BATCH_MAX_XACTS	512
static int	batch_xacts = 0;		/* committed remotely, not yet here */
static XLogRecPtr batch_end_lsn = InvalidXLogRecPtr;
static TimestampTz batch_commit_time = 0;

/* the tables one Truncate message truncates, and the first pipeline that named one */
static LaredoTruncate apply_truncate;
static LaredoPipeline *apply_truncate_pipeline = NULL;

/* the change being applied, for targets that record where it came from */
static LaredoChangeMeta change_meta;

const LaredoChangeMeta *
laredo_apply_meta(void)
{
	return &change_meta;
}

/*
 * Sets the metadata for row number row of a baseline copied at copy_lsn.  Its
 * seq is -row: a transaction whose commit record starts right at the copy's
 * position (the slot's consistent point, when a transaction commits just
 * after the record that made it consistent) is not in the copy and is
 * streamed with that same LSN and seqs from 1, so the copy's rows must sort
 * before them under (lsn, seq) and never take their places.
 */
void
laredo_apply_set_baseline_meta(XLogRecPtr copy_lsn, LogicalRepRelation *rel, int64 row)
{
	change_meta.commit_lsn = copy_lsn;
	/* a copied row's time is the copy's, so that retention applies to it too */
	if (row == 1)
		change_meta.commit_time = GetCurrentTimestamp();
	change_meta.xid = InvalidTransactionId;
	change_meta.seq = -row;
	change_meta.relation = rel;
}
static TimestampTz last_counters_write = 0;

/* The pipeline whose target is being written, for error reports. */
static LaredoPipeline *applying_pipeline = NULL;

/* No target of this source runs user code that could read another target mid-transaction. */
static bool apply_may_defer = true;

bool
laredo_apply_may_defer(void)
{
	return apply_may_defer;
}

const LaredoTargetRoutine *
laredo_target_routine(const char *kind)
{
	if (strcmp(kind, "table") == 0)
		return &laredo_target_table;
	if (strcmp(kind, "changelog") == 0)
		return &laredo_target_changelog;
	if (strcmp(kind, "function") == 0)
		return &laredo_target_function;
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("target kind \"%s\" is not supported", kind)));
	return NULL;
}

static char *
pipeline_where_option(const char *options)
{
	Jsonb	   *jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(options)));
	JsonbValue *v = getKeyJsonValueFromContainer(&jb->root, "where", strlen("where"), NULL);

	if (v == NULL || v->type != jbvString)
		return NULL;
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/*
 * Whether a row passes a pipeline's own filter.  The expression is planned
 * once per shape of the source table, over the row's columns by name (text
 * values cast to the source's types), and runs with the rights of the
 * pipeline's owner.  A column the source left out (unchanged TOAST) reads as
 * NULL.  Needs a transaction and a snapshot.
 */
bool
laredo_apply_row_matches(LaredoPipeline *p, LogicalRepRelation *rel, LogicalRepTupleData *tup)
{
	Datum	   *values;
	char	   *nulls;
	bool		result = false;
	Oid			save_userid;
	int			save_sec;

	if (p->where == NULL || tup == NULL)
		return true;
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(p->config->owner, save_sec | SECURITY_LOCAL_USERID_CHANGE);
	SPI_connect();
	if (p->where_plan == NULL || p->where_rel != rel)
	{
		StringInfoData q;
		Oid		   *types = palloc(sizeof(Oid) * Max(rel->natts, 1));
		SPIPlanPtr	plan;

		initStringInfo(&q);
		appendStringInfo(&q, "SELECT (%s)::boolean FROM (SELECT ", p->where);
		for (int i = 0; i < rel->natts; i++)
		{
			appendStringInfo(&q, "%s$%d::%s AS %s", i ? ", " : "", i + 1,
							 format_type_be(rel->atttyps[i]), quote_identifier(rel->attnames[i]));
			types[i] = TEXTOID;
		}
		appendStringInfoString(&q, ") AS t");
		plan = SPI_prepare(q.data, rel->natts, types);
		if (plan == NULL)
			elog(ERROR, "could not plan the row filter of pipeline \"%s\"", p->config->pipeline_id);
		SPI_keepplan(plan);
		if (p->where_plan)
			SPI_freeplan(p->where_plan);
		p->where_plan = plan;
		p->where_rel = rel;
	}
	values = palloc0(sizeof(Datum) * Max(rel->natts, 1));
	nulls = palloc(Max(rel->natts, 1));
	for (int i = 0; i < rel->natts; i++)
	{
		char	   *text = laredo_apply_column_text(rel, tup, i);

		nulls[i] = text ? ' ' : 'n';
		if (text)
			values[i] = CStringGetTextDatum(text);
	}
	if (SPI_execute_plan(p->where_plan, values, nulls, true, 1) == SPI_OK_SELECT && SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		result = !isnull && DatumGetBool(d);
	}
	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec);
	return result;
}

/* The source being applied. */
const LaredoSourceConfig *
laredo_apply_source(void)
{
	return apply_source;
}

/* Builds the pipelines of a source and lets each target validate itself. */
void
laredo_apply_init(LaredoSourceConfig *source)
{
	ListCell   *lc;
	MemoryContext old;

	if (ApplyCacheContext == NULL)
		ApplyCacheContext = AllocSetContextCreate(TopMemoryContext, "laredo apply cache",
												  ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(ApplyCacheContext);
	apply_source = source;
	change_meta.source_id = source->source_id;
	foreach(lc, source->pipelines)
	{
		LaredoPipeline *p = palloc0(sizeof(LaredoPipeline));

		p->config = lfirst(lc);
		p->routine = laredo_target_routine(p->config->target_kind);
		p->where = pipeline_where_option(p->config->options);
		if (strcmp(p->config->target_kind, "function") == 0)
			apply_may_defer = false;
		apply_pipelines = lappend(apply_pipelines, p);
	}
	MemoryContextSwitchTo(old);

	laredo_apply_begin_local();
	foreach(lc, apply_pipelines)
	{
		LaredoPipeline *p = lfirst(lc);

		p->routine->init(p);
	}
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(old);
}

/* What laredo.source_history says of the stored position (continuity.c). */
void
laredo_apply_set_last_change(XLogRecPtr last_change)
{
	position_idle = !XLogRecPtrIsInvalid(last_change);
}

/*
 * Moves the stored position back to lsn (a fork of the source's history
 * that only positions without changes had passed), durably before anything
 * is recorded or streamed after it.
 */
void
laredo_apply_rewind_origin(ReplOriginId origin, XLogRecPtr lsn)
{
	MemoryContext old = CurrentMemoryContext;

	StartTransactionCommand();
	LockRelationOid(ReplicationOriginRelationId, RowExclusiveLock);
	/* replorigin_advance refuses an origin that a session holds, ours included */
	replorigin_session_reset();
	replorigin_advance(origin, lsn, InvalidXLogRecPtr, true, true);
	laredo_replorigin_session_setup(origin);
	XLogFlush(XactLastRecEnd);
	CommitTransactionCommand();
	MemoryContextSwitchTo(old);
}

/* Whether the stream about to start sends values in binary, and the walsender's settings then. */
void
laredo_apply_set_binary(bool binary, const char *timezone, const char *bytea_output)
{
	apply_binary = binary;
	if (apply_source_timezone)
		pfree(apply_source_timezone);
	apply_source_timezone = binary ? MemoryContextStrdup(TopMemoryContext, timezone) : NULL;
	apply_source_bytea_hex = !binary || strcmp(bytea_output, "escape") != 0;
}

/*
 * Whether the source's pipelines take values in binary as they come: every
 * one writes a table and has no filter of its own.  A change log or a
 * function target writes values as text, and a filter reads them as text:
 * in binary each value would be converted here (laredo_apply_column_text),
 * costing more than the source saves by sending it so.
 */
bool
laredo_apply_binary_suits(void)
{
	ListCell   *lc;

	foreach(lc, apply_pipelines)
	{
		LaredoPipeline *p = lfirst(lc);

		if (strcmp(p->config->target_kind, "table") != 0 || p->where != NULL)
			return false;
	}
	return true;
}

/*
 * Whether column i of a streamed row came in binary; when not, *text is its
 * text (NULL for a null, an unchanged TOASTed value or a column the row
 * does not have).
 */
static bool
column_in_binary(LogicalRepTupleData *tup, int i, char **text)
{
	*text = NULL;
	if (i >= tup->ncols)
		return false;
	if (tup->colstatus[i] == LOGICALREP_COLUMN_TEXT)
		*text = tup->colvalues[i].data;
	return tup->colstatus[i] == LOGICALREP_COLUMN_BINARY;
}

/*
 * The text of column i of a streamed row, for what reads a value as text
 * (row filters, change logs, function targets, the keys of a copy in
 * ranges, messages): as the source sent it, or, for a value sent in binary,
 * through the source type's receive and output functions (a type built into
 * PostgreSQL: the same here, laredo_binary_type_ok).  NULL for a null or
 * an unchanged value.  The text is the one a stream in text carries: printed
 * under the settings libpqwalreceiver gives the walsender's session
 * (DateStyle ISO, IntervalStyle postgres, extra_float_digits 3) and the
 * source's TimeZone and bytea_output, so a value goes into a column of
 * another type as it would from a stream in text (lc_monetary is this
 * server's: a money value into a column of another type is the one
 * exception).  Outside a transaction (a change looked at
 * before the local transaction starts), it opens one to read the catalog;
 * the text is in the caller's memory context.
 */
char *
laredo_apply_column_text(LogicalRepRelation *rel, LogicalRepTupleData *tup, int i)
{
	MemoryContext caller = CurrentMemoryContext;
	bool		started;
	FmgrInfo	receive;
	Oid			typreceive;
	Oid			typioparam;
	Oid			typoutput;
	bool		isvarlena;
	Datum		datum;
	int			nest = -1;
	char	   *text;

	if (!column_in_binary(tup, i, &text))
		return text;
	started = !IsTransactionState();
	if (started)
		StartTransactionCommand();
	getTypeBinaryInputInfo(rel->atttyps[i], &typreceive, &typioparam);
	getTypeOutputInfo(rel->atttyps[i], &typoutput, &isvarlena);
	fmgr_info(typreceive, &receive);
	datum = laredo_apply_column_receive(rel, tup, i, &receive, typioparam, -1);
	if (DateStyle != USE_ISO_DATES || IntervalStyle != INTSTYLE_POSTGRES || extra_float_digits <= 0 ||
		(bytea_output == BYTEA_OUTPUT_HEX) != apply_source_bytea_hex ||
		(apply_source_timezone && strcmp(pg_get_timezone_name(session_timezone), apply_source_timezone) != 0))
	{
		nest = NewGUCNestLevel();
		(void) set_config_option("DateStyle", "ISO", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
		(void) set_config_option("IntervalStyle", "postgres", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
		(void) set_config_option("extra_float_digits", "3", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
		(void) set_config_option("bytea_output", apply_source_bytea_hex ? "hex" : "escape", PGC_USERSET,
								 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
		if (apply_source_timezone)
			(void) set_config_option("TimeZone", apply_source_timezone, PGC_USERSET, PGC_S_SESSION,
									 GUC_ACTION_SAVE, true, 0, false);
	}
	text = OidOutputFunctionCall(typoutput, datum);
	if (nest >= 0)
		AtEOXact_GUC(true, nest);
	if (started)
	{
		text = MemoryContextStrdup(caller, text);
		CommitTransactionCommand();
		MemoryContextSwitchTo(caller);
	}
	return text;
}

/*
 * Column i of a streamed row for a message, in an error context callback
 * too: no catalog, no function that can fail.  A value sent in binary is
 * shown as its text for the usual key types (integers, text, uuid), else by
 * its size.  NULL for a null or an unchanged value.
 */
char *
laredo_apply_column_display(LogicalRepRelation *rel, LogicalRepTupleData *tup, int i)
{
	char	   *text;
	StringInfo	value;
	const unsigned char *b;
	uint64		u = 0;

	if (!column_in_binary(tup, i, &text))
		return text;
	value = &tup->colvalues[i];
	b = (const unsigned char *) value->data;
	switch (rel->atttyps[i])
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case OIDOID:
			if (value->len != 2 && value->len != 4 && value->len != 8)
				break;
			for (int k = 0; k < value->len; k++)
				u = (u << 8) | b[k];
			if (rel->atttyps[i] == OIDOID)
				return psprintf("%u", (uint32) u);
			if (value->len == 2)
				return psprintf("%d", (int) (int16) u);
			if (value->len == 4)
				return psprintf("%d", (int) (int32) u);
			return psprintf(INT64_FORMAT, (int64) u);
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
		case NAMEOID:
			return pnstrdup(value->data, value->len);
		case UUIDOID:
			if (value->len == 16)
				return psprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
								b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
								b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
			break;
		default:
			break;
	}
	return psprintf("(%d bytes in binary)", value->len);
}

/*
 * Column i of a streamed row, sent in binary, read by a receive function
 * (with its type's I/O parameter and a type modifier) as worker.c reads
 * one: from its first byte, and whole.
 */
Datum
laredo_apply_column_receive(LogicalRepRelation *rel, LogicalRepTupleData *tup, int i,
							FmgrInfo *receive, Oid typioparam, int32 typmod)
{
	StringInfoData value = tup->colvalues[i];
	Datum		datum;

	value.cursor = 0;
	datum = ReceiveFunctionCall(receive, &value, typioparam, typmod);
	if (value.cursor != value.len)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("incorrect binary data format in column \"%s\" of %s.%s from the source",
						rel->attnames[i], rel->nspname, rel->relname)));
	return datum;
}

void
laredo_apply_set_origin(ReplOriginId origin, XLogRecPtr startpos)
{
	apply_origin = origin;
	durable_lsn = startpos;
	applied_lsn = startpos;
	unflushed_count = 0;
	ack_lsn = startpos;

	/*
	 * The standbys may lack the commit that recorded startpos (a restart
	 * while one is down): acknowledge it only once they have everything
	 * written here so far.
	 */
	if (laredo_standby_slots_enabled() && !XLogRecPtrIsInvalid(startpos))
	{
		ack_lsn = InvalidXLogRecPtr;
		unflushed_push(GetXLogInsertRecPtr(), startpos);
	}
}

XLogRecPtr
laredo_apply_durable_lsn(void)
{
	return durable_lsn;
}

/* What may be acknowledged to the source (invalid: nothing yet). */
XLogRecPtr
laredo_apply_ack_lsn(void)
{
	return ack_lsn;
}

static void
apply_commit_batch(void)
{
	batch_xacts = 0;
	laredo_apply_commit_local(batch_end_lsn, batch_commit_time, true);
}

/*
 * Makes durable the commits the WAL has been flushed past, and acknowledges
 * those the standbys of laredo.synchronized_standby_slots have too; with
 * force, flushes all first.
 */
static void
unflushed_release(bool force)
{
	XLogRecPtr	flushed;
	XLogRecPtr	limit;

	if (unflushed_count == 0)
		return;
	if (force)
		XLogFlush(unflushed[(unflushed_first + unflushed_count - 1) % UNFLUSHED_MAX].local_end);
	flushed = GetFlushRecPtr(NULL);
	limit = Min(flushed, laredo_standby_slots_confirmed());
	for (int i = 0; i < unflushed_count; i++)
	{
		UnflushedCommit *c = &unflushed[(unflushed_first + i) % UNFLUSHED_MAX];

		if (c->local_end > flushed)
			break;
		if (c->remote_lsn > durable_lsn)
			durable_lsn = c->remote_lsn;
	}
	while (unflushed_count > 0 && unflushed[unflushed_first].local_end <= limit)
	{
		if (unflushed[unflushed_first].remote_lsn > ack_lsn)
			ack_lsn = unflushed[unflushed_first].remote_lsn;
		unflushed_first = (unflushed_first + 1) % UNFLUSHED_MAX;
		unflushed_count--;
	}
}

/* Remembers a local commit (or origin advance) ending at local_end that carries remote_lsn. */
static void
unflushed_push(XLogRecPtr local_end, XLogRecPtr remote_lsn)
{
	UnflushedCommit *slot;

	/*
	 * A full ring is emptied by flushing now when the WAL writer lags.  When
	 * a standby of laredo.synchronized_standby_slots lags (or is down), a
	 * flush would not empty it, only cost an fsync per commit: the newest
	 * entry then stands for this commit too, acknowledged a little later
	 * than it could be, never earlier.
	 */
	if (unflushed_count == UNFLUSHED_MAX)
		unflushed_release(false);
	if (unflushed_count == UNFLUSHED_MAX && !laredo_standby_slots_enabled())
		unflushed_release(true);
	if (unflushed_count == UNFLUSHED_MAX)
		slot = &unflushed[(unflushed_first + unflushed_count - 1) % UNFLUSHED_MAX];
	else
		slot = &unflushed[(unflushed_first + unflushed_count++) % UNFLUSHED_MAX];
	slot->local_end = local_end;
	slot->remote_lsn = remote_lsn;
}

/*
 * Commits the batch of remote transactions applied so far, unless one is
 * still open, and tells what is durable: each commit whose record local
 * WAL has been flushed past.  The commits are asynchronous; the WAL writer
 * flushes them in the background, as it does for the built-in apply
 * worker, so a steady stream never waits on an fsync here.  With force (a
 * wait_for_catchup caller, the end of a baseline) this flushes them now.
 */
void
laredo_apply_flush(bool force)
{
	if (batch_xacts > 0 && !in_remote_xact)
		apply_commit_batch();
	unflushed_release(force);
}

/* Whether a commit waits for the WAL writer before it can be acknowledged. */
bool
laredo_apply_unflushed_pending(void)
{
	return unflushed_count > 0;
}

/*
 * Whether a position received past the last transaction committed here
 * (a keepalive's) could be recorded now by laredo_apply_persist_idle.
 */
bool
laredo_apply_idle_position_pending(XLogRecPtr lsn)
{
	return lsn > applied_lsn && !in_remote_xact;
}

bool
laredo_apply_in_remote_xact(void)
{
	return in_remote_xact;
}

/* The configured table of that name, or NULL. */
static LaredoTableConfig *
apply_table_named(const char *nspname, const char *relname)
{
	ListCell   *lc;

	foreach(lc, apply_source->tables)
	{
		LaredoTableConfig *t = lfirst(lc);

		if (strcmp(t->schema_name, nspname) == 0 && strcmp(t->table_name, relname) == 0)
			return t;
	}
	return NULL;
}

void
laredo_apply_set_resolver(laredo_apply_resolver resolver)
{
	apply_resolver = resolver;
}

static laredo_apply_leaf_counter apply_leaf_counter = NULL;

void
laredo_apply_set_leaf_counter(laredo_apply_leaf_counter counter)
{
	apply_leaf_counter = counter;
}

int
laredo_apply_source_leaf_count(LaredoPipeline *p)
{
	LaredoTableConfig *t = apply_table_named(p->config->source_schema, p->config->source_table);

	if (t == NULL || apply_leaf_counter == NULL)
		return -1;
	return apply_leaf_counter(t);
}

/*
 * Registers (or re-registers) the shape of a published relation and binds it
 * to the pipelines of the configured table its changes belong to: `as`
 * when given (a baseline knows), else the table of its name, else the
 * configured partitioned table it is a partition of (a source that
 * publishes partitions leaf by leaf sends their changes under their own
 * names).  Returns those pipelines; a relation with none has its changes
 * counted and reported by health(), never dropped silently.
 */
List *
laredo_apply_relation(LogicalRepRelation *remoterel, LaredoTableConfig *as)
{
	MemoryContext old = MemoryContextSwitchTo(ApplyCacheContext);
	RemoteRelEntry *entry = NULL;
	ListCell   *lc;

	foreach(lc, remote_rels)
	{
		RemoteRelEntry *e = lfirst(lc);

		if (e->remoteid == remoterel->remoteid)
			entry = e;
	}
	if (entry == NULL)
	{
		entry = palloc0(sizeof(RemoteRelEntry));
		entry->remoteid = remoterel->remoteid;
		remote_rels = lappend(remote_rels, entry);
	}
	if (as == NULL)
		as = apply_table_named(remoterel->nspname, remoterel->relname);
	if (as == NULL && apply_resolver != NULL)
		as = apply_resolver(remoterel);
	entry->rel = remoterel;
	list_free(entry->pipelines);
	entry->pipelines = NIL;
	foreach(lc, apply_pipelines)
	{
		LaredoPipeline *p = lfirst(lc);

		if (as != NULL && strcmp(p->config->source_schema, as->schema_name) == 0 &&
			strcmp(p->config->source_table, as->table_name) == 0)
		{
			entry->pipelines = lappend(entry->pipelines, p);
			p->routine->relation(p, remoterel);
			p->rel = remoterel;
		}
	}
	MemoryContextSwitchTo(old);
	return entry->pipelines;
}

static RemoteRelEntry *
remote_rel_lookup(LogicalRepRelId remoteid)
{
	ListCell   *lc;

	foreach(lc, remote_rels)
	{
		RemoteRelEntry *e = lfirst(lc);

		if (e->remoteid == remoteid)
			return e;
	}
	ereport(ERROR,
			(errcode(ERRCODE_PROTOCOL_VIOLATION),
			 errmsg("source \"%s\" sent a change for relation %u before describing it",
					apply_source->source_id, remoteid)));
	return NULL;
}

/* Starts the local transaction if none is open, and pushes a snapshot. */
void
laredo_apply_begin_local(void)
{
	MemoryContext old = CurrentMemoryContext;

	if (!IsTransactionState())
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
	}
	PushActiveSnapshot(GetTransactionSnapshot());
	MemoryContextSwitchTo(old);
}

void
laredo_apply_end_step(void)
{
	PopActiveSnapshot();
	CommandCounterIncrement();
}

/*
 * A key range merged in the local transaction open now (chunk.c), as of
 * the source position lsn: the batch commits with a resume position at or
 * past it, as if a transaction had committed there.
 */
void
laredo_apply_merge_position(XLogRecPtr lsn)
{
	batch_end_lsn = Max(Max(batch_end_lsn, applied_lsn), lsn);
	if (batch_commit_time == 0)
		batch_commit_time = GetCurrentTimestamp();
	batch_xacts++;
}

/*
 * Commits the local transaction.  With advance_origin, end_lsn becomes the
 * resume position, in the same commit as the data.  Without it (the copy of a
 * table added to a running source), the position stays where the stream is,
 * and end_lsn is only the point from which the copied pipelines take changes.
 * Pipelines copied in this transaction record end_lsn as their baseline_lsn.
 * Counters are written in the same transaction, at most once a second (and
 * always at the end of a copy).
 */
void
laredo_apply_commit_local(XLogRecPtr end_lsn, TimestampTz commit_time, bool advance_origin)
{
	TimestampTz now = GetCurrentTimestamp();
	bool		write_counters = TimestampDifferenceExceeds(last_counters_write, now, 1000);
	ListCell   *lc;

	foreach(lc, apply_pipelines)
		if (((LaredoPipeline *) lfirst(lc))->in_baseline)
			write_counters = true;

	PushActiveSnapshot(GetTransactionSnapshot());
	foreach(lc, apply_pipelines)
	{
		LaredoPipeline *p = lfirst(lc);

		/* a target may write held-back changes now: its errors are its own */
		applying_pipeline = p;
		if (p->touched)
			p->routine->xact_end(p);
		applying_pipeline = NULL;
		p->touched = false;
		if (write_counters && (advance_origin || p->in_baseline))
		{
			laredo_pipeline_record(p->config->pipeline_id, &p->counters, end_lsn, p->in_baseline);
			memset(&p->counters, 0, sizeof(p->counters));
		}
	}
	/* the position becomes that of a change again */
	if (advance_origin && position_idle)
		laredo_source_set_last_change(apply_source->source_id, InvalidXLogRecPtr);
	PopActiveSnapshot();
	if (write_counters)
		last_counters_write = now;

	/* the origin LSN must be set before commit so that data and position survive together */
	if (advance_origin)
	{
		laredo_xact_origin_lsn = end_lsn;
		laredo_xact_origin_timestamp = commit_time;
	}
	CommitTransactionCommand();
	laredo_xact_origin_lsn = InvalidXLogRecPtr;
	laredo_xact_origin_timestamp = 0;

	foreach(lc, apply_pipelines)
	{
		LaredoPipeline *p = lfirst(lc);

		if (p->in_baseline)
		{
			p->config->baselined = true;
			p->config->baseline_lsn = end_lsn;
		}
		p->in_baseline = false;
	}

	if (advance_origin)
		position_idle = false;
	/* asynchronous commit: durable once laredo_apply_flush has flushed it */
	if (advance_origin && end_lsn > applied_lsn)
	{
		applied_lsn = end_lsn;
		unflushed_push(XactLastCommitEnd, end_lsn);
	}
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * Records a position when no local change goes with it (idle keepalives,
 * transactions that touched no pipeline), so that it can be acknowledged to
 * the source once durable: nothing is acknowledged before it is.  The origin
 * record is flushed by the WAL writer like an asynchronous commit, and with
 * force (a wait_for_catchup caller) now.
 */
void
laredo_apply_persist_idle(XLogRecPtr lsn, bool force)
{
	MemoryContext old = CurrentMemoryContext;
	XLogRecPtr	local_end;
	bool		wrote;

	if (!laredo_apply_idle_position_pending(lsn) || IsTransactionState())
		return;

	StartTransactionCommand();
	/* the position passes the last change: say where that was */
	wrote = !position_idle;
	if (wrote)
	{
		PushActiveSnapshot(GetTransactionSnapshot());
		laredo_source_set_last_change(apply_source->source_id, applied_lsn);
		PopActiveSnapshot();
	}
	LockRelationOid(ReplicationOriginRelationId, RowExclusiveLock);
	/* replorigin_advance refuses an origin that a session holds, ours included */
	replorigin_session_reset();
	replorigin_advance(apply_origin, lsn, InvalidXLogRecPtr, false, true);
	laredo_replorigin_session_setup(apply_origin);
	local_end = XactLastRecEnd;
	CommitTransactionCommand();
	/* with the row written, durable means its commit record flushed too */
	if (wrote)
		local_end = Max(local_end, XactLastCommitEnd);
	MemoryContextSwitchTo(old);
	applied_lsn = lsn;
	position_idle = true;
	unflushed_push(local_end, lsn);
	unflushed_release(force);
}

typedef enum ChangeKind
{
	CHANGE_INSERT = LAREDO_CHUNK_INSERT,
	CHANGE_UPDATE = LAREDO_CHUNK_UPDATE,
	CHANGE_DELETE = LAREDO_CHUNK_DELETE,
	CHANGE_TRUNCATE = LAREDO_CHUNK_TRUNCATE
} ChangeKind;

static int64
tuple_bytes(LogicalRepTupleData *tup)
{
	int64		bytes = 0;

	if (tup == NULL)
		return 0;
	for (int i = 0; i < tup->ncols; i++)
		if (tup->colstatus[i] == LOGICALREP_COLUMN_TEXT || tup->colstatus[i] == LOGICALREP_COLUMN_BINARY)
			bytes += tup->colvalues[i].len;
	return bytes;
}

/* Applies one change to every pipeline of its table, each in its own step. */
static void
apply_change(RemoteRelEntry *entry, ChangeKind kind, LogicalRepTupleData *oldtup,
			 LogicalRepTupleData *newtup)
{
	List	   *pipelines = entry->pipelines;
	ListCell   *lc;

	change_meta.seq++;
	change_meta.relation = entry->rel;
	/* tables copied in key ranges: what the change touched, and who takes it */
	if (laredo_chunk_active())
		laredo_chunk_note_change(entry->rel, entry->pipelines, (LaredoChunkChange) kind, oldtup, newtup);

	if (pipelines == NIL)
		entry->unmapped++;
	foreach(lc, pipelines)
	{
		LaredoPipeline *p = lfirst(lc);

		/* committed before the pipeline's copy was taken: already in it */
		if (remote_final_lsn < p->config->baseline_lsn)
			continue;
		/* a key whose range is still to be copied: the copy has it */
		if (laredo_chunk_skip(p))
			continue;
		laredo_apply_begin_local();
		/* several partitions of a table, each in its own shape, feed one pipeline */
		if (p->rel != entry->rel)
		{
			p->routine->relation(p, entry->rel);
			p->rel = entry->rel;
		}
		/*
		 * A new description of the table: compared before the change is
		 * applied (not as the target's failure: reading the source's
		 * catalog may fail as any connection does, and is retried).
		 */
		if (list_member_ptr(entry->shape_pending, p))
		{
			entry->shape_pending = list_delete_ptr(entry->shape_pending, p);
			if (p->routine->shape != NULL && !p->routine->shape(p, entry->rel))
			{
				/* to be copied again: this change is in the copy too */
				laredo_apply_end_step();
				continue;
			}
		}
		applying_pipeline = p;
		switch (kind)
		{
			case CHANGE_INSERT:
				if (!laredo_apply_row_matches(p, entry->rel, newtup))
					break;
				p->routine->insert(p, newtup);
				p->counters.inserts++;
				break;
			case CHANGE_UPDATE:
				/* a row that leaves the pipeline's filter leaves its target */
				if (!laredo_apply_row_matches(p, entry->rel, newtup))
				{
					p->routine->delete(p, oldtup ? oldtup : newtup);
					p->counters.deletes++;
					break;
				}
				p->routine->update(p, oldtup, newtup);
				p->counters.updates++;
				break;
			case CHANGE_DELETE:
				/* only a whole old row (REPLICA IDENTITY FULL) can be tested */
				if (entry->rel->replident == REPLICA_IDENTITY_FULL &&
					!laredo_apply_row_matches(p, entry->rel, oldtup))
					break;
				p->routine->delete(p, oldtup);
				p->counters.deletes++;
				break;
			case CHANGE_TRUNCATE:
				p->routine->truncate(p, &apply_truncate);
				if (apply_truncate_pipeline == NULL && apply_truncate.pending != NIL)
					apply_truncate_pipeline = p;
				p->counters.truncates++;
				break;
		}
		p->counters.bytes += tuple_bytes(oldtup) + tuple_bytes(newtup);
		p->touched = true;
		p->xact_touched = true;
		applying_pipeline = NULL;
		laredo_apply_end_step();
	}
}

/* The pipeline whose target is written now, outside apply_change (a key range's merge), or NULL. */
void
laredo_apply_set_applying(LaredoPipeline *p)
{
	applying_pipeline = p;
}

/* The pipeline that was writing its target when an error struck, or NULL. */
const char *
laredo_apply_failed_pipeline(void)
{
	return applying_pipeline ? applying_pipeline->config->pipeline_id : NULL;
}

void
laredo_apply_count_baseline(List *pipelines)
{
	ListCell   *lc;

	foreach(lc, pipelines)
		((LaredoPipeline *) lfirst(lc))->counters.baseline_rows++;
}

/* Dispatches one pgoutput message. */
void
laredo_apply_message(StringInfo s)
{
	char		action = pq_getmsgbyte(s);

	switch (action)
	{
		case LOGICAL_REP_MSG_BEGIN:
			{
				LogicalRepBeginData begin;

				logicalrep_read_begin(s, &begin);
				/* already applied before a restart: the source sent it again */
				skip_remote_xact = begin.final_lsn < applied_lsn;
				/* a key range due at this position is merged first (its rows' metadata is its own) */
				if (!skip_remote_xact && laredo_chunk_active())
					laredo_chunk_begin_xact(begin.xid, begin.final_lsn);
				in_remote_xact = true;
				remote_final_lsn = begin.final_lsn;
				change_meta.commit_lsn = begin.final_lsn;
				change_meta.commit_time = begin.committime;
				change_meta.xid = begin.xid;
				change_meta.seq = 0;
				break;
			}
		case LOGICAL_REP_MSG_COMMIT:
			{
				LogicalRepCommitData commit;

				logicalrep_read_commit(s, &commit);
				if (commit.commit_lsn != remote_final_lsn)
					ereport(ERROR,
							(errcode(ERRCODE_PROTOCOL_VIOLATION),
							 errmsg("source \"%s\" sent commit at %X/%X for a transaction that began at %X/%X",
									apply_source->source_id,
									LSN_FORMAT_ARGS(commit.commit_lsn),
									LSN_FORMAT_ARGS(remote_final_lsn))));
				in_remote_xact = false;
				if (!skip_remote_xact)
				{
					ListCell   *lc;

					foreach(lc, apply_pipelines)
					{
						LaredoPipeline *p = lfirst(lc);

						if (p->xact_touched)
							p->counters.transactions++;
						p->xact_touched = false;
					}
					/* committed with the batch (a transaction that changed nothing here joins an open one) */
					if (IsTransactionState())
					{
						batch_end_lsn = commit.end_lsn;
						batch_commit_time = commit.committime;
						if (++batch_xacts >= BATCH_MAX_XACTS)
							apply_commit_batch();
					}
				}
				skip_remote_xact = false;
				break;
			}
		case LOGICAL_REP_MSG_RELATION:
			{
				MemoryContext old = MemoryContextSwitchTo(ApplyCacheContext);
				LogicalRepRelation *rel;
				RemoteRelEntry *entry;

				laredo_schema_note_relation(s, ApplyCacheContext);
				rel = logicalrep_read_rel(s);
				MemoryContextSwitchTo(old);
				if (apply_binary)
					laredo_stream_binary_check(rel, apply_source->source_id);
				laredo_apply_relation(rel, NULL);
				/* a new shape, or the same described again: each pipeline compares */
				entry = remote_rel_lookup(rel->remoteid);
				old = MemoryContextSwitchTo(ApplyCacheContext);
				list_free(entry->shape_pending);
				entry->shape_pending = list_copy(entry->pipelines);
				MemoryContextSwitchTo(old);
				break;
			}
		case LOGICAL_REP_MSG_TYPE:
			{
				LogicalRepTyp typ;

				logicalrep_read_typ(s, &typ);
				laredo_schema_note_type(&typ, ApplyCacheContext);
				break;
			}
		case LOGICAL_REP_MSG_ORIGIN:
			{
				XLogRecPtr	origin_lsn;

				(void) logicalrep_read_origin(s, &origin_lsn);
				break;
			}
		case LOGICAL_REP_MSG_INSERT:
			{
				LogicalRepTupleData newtup;
				RemoteRelEntry *entry = remote_rel_lookup(logicalrep_read_insert(s, &newtup));

				if (!skip_remote_xact)
					apply_change(entry, CHANGE_INSERT, NULL, &newtup);
				break;
			}
		case LOGICAL_REP_MSG_UPDATE:
			{
				LogicalRepTupleData oldtup;
				LogicalRepTupleData newtup;
				bool		has_oldtup;
				RemoteRelEntry *entry = remote_rel_lookup(logicalrep_read_update(s, &has_oldtup,
																				  &oldtup, &newtup));

				if (!skip_remote_xact)
					apply_change(entry, CHANGE_UPDATE, has_oldtup ? &oldtup : NULL, &newtup);
				break;
			}
		case LOGICAL_REP_MSG_DELETE:
			{
				LogicalRepTupleData oldtup;
				RemoteRelEntry *entry = remote_rel_lookup(logicalrep_read_delete(s, &oldtup));

				if (!skip_remote_xact)
					apply_change(entry, CHANGE_DELETE, &oldtup, NULL);
				break;
			}
		case LOGICAL_REP_MSG_TRUNCATE:
			{
				bool		cascade;
				bool		restart_seqs;
				List	   *relids = logicalrep_read_truncate(s, &cascade, &restart_seqs);
				ListCell   *lc;

				if (skip_remote_xact)
					break;
				memset(&apply_truncate, 0, sizeof(apply_truncate));
				apply_truncate.restart_seqs = restart_seqs;
				apply_truncate_pipeline = NULL;
				foreach(lc, relids)
					apply_change(remote_rel_lookup(lfirst_oid(lc)), CHANGE_TRUNCATE, NULL, NULL);
				/* the table targets' tables, all at once (a failure is the first one's) */
				laredo_apply_begin_local();
				foreach(lc, apply_truncate.pending)
				{
					LaredoPipeline *p = lfirst(lc);

					applying_pipeline = p;
					p->routine->truncate_finish(p, &apply_truncate);
				}
				applying_pipeline = apply_truncate_pipeline;
				laredo_truncate_execute(&apply_truncate);
				applying_pipeline = NULL;
				laredo_apply_end_step();
				break;
			}
		case LOGICAL_REP_MSG_MESSAGE:
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_PROTOCOL_VIOLATION),
					 errmsg("source \"%s\" sent an unexpected logical replication message \"%c\"",
							apply_source->source_id, action)));
	}
}

/*
 * Idle-time maintenance of the targets (changelog retention), between remote
 * transactions so that it never holds up the apply for long.
 */
void
laredo_apply_maintain(void)
{
	MemoryContext old = CurrentMemoryContext;
	ListCell   *lc;

	if (in_remote_xact || IsTransactionState())
		return;
	foreach(lc, apply_pipelines)
	{
		LaredoPipeline *p = lfirst(lc);

		if (p->routine == &laredo_target_changelog)
		{
			laredo_apply_begin_local();
			laredo_target_changelog_prune(p);
			PopActiveSnapshot();
			CommitTransactionCommand();
			MemoryContextSwitchTo(old);
		}
	}
}

/*
 * Writes counters that are waiting for the next applied transaction, when the
 * stream is idle (at most once a second), so that the views are current.
 */
void
laredo_apply_flush_counters(void)
{
	TimestampTz now = GetCurrentTimestamp();
	MemoryContext old = CurrentMemoryContext;
	bool		pending = false;
	ListCell   *lc;

	if (in_remote_xact || IsTransactionState() ||
		!TimestampDifferenceExceeds(last_counters_write, now, 1000))
		return;
	foreach(lc, remote_rels)
	{
		RemoteRelEntry *e = lfirst(lc);

		if (e->unmapped > 0)
		{
			laredo_source_record_unmapped(apply_source->source_id,
										  quote_qualified_identifier(e->rel->nspname, e->rel->relname),
										  e->unmapped);
			MemoryContextSwitchTo(old);
			e->unmapped = 0;
			last_counters_write = now;
		}
	}
	foreach(lc, apply_pipelines)
	{
		LaredoPipelineCounters *c = &((LaredoPipeline *) lfirst(lc))->counters;

		if (c->inserts || c->updates || c->deletes || c->truncates || c->transactions ||
			c->update_missing || c->delete_missing)
			pending = true;
	}
	if (!pending)
		return;
	laredo_apply_begin_local();
	foreach(lc, apply_pipelines)
	{
		LaredoPipeline *p = lfirst(lc);

		laredo_pipeline_record(p->config->pipeline_id, &p->counters, durable_lsn, false);
		memset(&p->counters, 0, sizeof(p->counters));
	}
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(old);
	last_counters_write = now;
}
