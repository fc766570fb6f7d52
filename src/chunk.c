/*-------------------------------------------------------------------------
 * chunk.c
 *	  Copies and verifications of a table in key ranges while the stream
 *	  goes on: the copy of a table added to a running source (and of a
 *	  pipeline sent back to copy, and in a new baseline) whose pipeline asks
 *	  for it (options => '{"copy": "chunks"}'), and online verification.
 *
 *	  Each range (lo, hi] is read on the source in a short transaction of its
 *	  own: REPEATABLE READ, one statement that takes the snapshot S and then
 *	  the WAL insert position L, and COPY (... WHERE key > lo ORDER BY key
 *	  LIMIT n).  Every transaction visible in S committed before L; every
 *	  commit after L is invisible in S.  The range is merged here at L: in
 *	  the local transaction that applies the first source transaction
 *	  committed at or after L (or, with the stream idle, once a keepalive
 *	  shows that everything before L was sent), its rows on the target are
 *	  replaced by the source's, and the range's end becomes the copy's
 *	  frontier, durably, with the resume position.  So no snapshot is held on
 *	  the source for longer than one range, and a restart resumes after the
 *	  frontier.
 *
 *	  Until a key is merged, the stream's changes to it are skipped: the read
 *	  of its range has them.  A range is stale, and read again, when a
 *	  transaction committed before L is not visible in S and touched a key of
 *	  it: its commit record was written (and may have been sent here) before
 *	  it left the source's proc array (synchronous replication waits there).
 *	  The worker keeps, per received transaction, the keys of copied tables
 *	  it touched until a range's snapshot shows it visible; the transactions
 *	  running on the source when the worker started, whose changes may have
 *	  been received before it, make every range stale until they are
 *	  visible or arrive in the stream.
 *
 *	  A verification (laredo.verify_pipeline) reads ranges the same way and,
 *	  at L, compares the target's rows of the range with the source's
 *	  instead of replacing them: a hash of the range's rows on each side
 *	  first, then, when they differ, the range's rows, read again: keys
 *	  missing, extra or different, counted in laredo.verifications and
 *	  listed in laredo.verification_rows, and with repair written to be the
 *	  source's.  The stream's changes are applied throughout (no key is
 *	  skipped).
 *
 *	  Gentle on the source: at most copy_rate rows and copy_rate_bytes bytes
 *	  are read a second, each read under copy_statement_timeout; a read that
 *	  fails (a timeout, a lock waited for, a lost connection) is tried again
 *	  on a new connection after a backoff, with half the rows; no range is
 *	  read while the stream is more than copy_max_lag behind the source.
 *
 *	  A copy's ranges are read on connections of their own without
 *	  holding up the worker (copy_readers of them, 2 unless told): the
 *	  source reads the next ranges while this server merges the last, and
 *	  the merges stay in key order, each at its own position (see "Reading a
 *	  copy's ranges" below).  A verification reads one range at a time.
 *
 *	  Which tables: a plain table (or a partitioned one published through
 *	  its root, read whole through it) with a replica identity
 *	  index or primary key whose columns have built-in types, and table
 *	  targets; a collatable key column (text) only where its collation sorts
 *	  alike on the source and in the target (the same encoding, and C, or
 *	  the same provider, locale and library version); the others keep the
 *	  copy in one snapshot (baseline.c).  One copy at a time.
 *-------------------------------------------------------------------------
 */
#include "laredo.h"

#include "access/transam.h"
#include "access/xact.h"
#include "access/xlog_internal.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "nodes/makefuncs.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/pg_lsn.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "apply.h"
#include "baseline.h"
#include "chunk.h"
#include "publication.h"
#include "replication.h"
#include "remote.h"
#include "schema_changes.h"
#include "target_table.h"

/* a range holds at most this much of the source's rows in memory unless told (chunk_bytes) */
#define CHUNK_DEFAULT_BYTES	(INT64CONST(64) * 1024 * 1024)
/* keys kept per transaction before it counts as touching every key */
#define CHUNK_MAX_KEYS_PER_XACT 1000
/* reads of a range that may fail in a row before the worker gives up */
#define CHUNK_MAX_FAILURES		10
/* while the stream lags past copy_max_lag, the lag is looked at this often */
#define CHUNK_LAG_RECHECK_MS	1000
#define CHUNK_MAX_READERS		LAREDO_CHUNK_MAX_READERS
/*
 * A read's transaction writes an empty transactional logical message
 * (prefix "laredo"; no table written, no privilege needed, allowed in a
 * read-only transaction) so that its COMMIT flushes the source's WAL past
 * the read's position L, locally (synchronous_commit = local: no standby
 * waited for).  The range merges once the stream has passed L, and the
 * walsender decodes only what is flushed: the WAL before L (the source's
 * last records, an asynchronous commit's, the background writer's) was
 * otherwise flushed by the WAL writer, up to wal_writer_delay later, and
 * the range waited for it, or for the next transaction.  pgoutput sends
 * messages only to a subscriber that asks for them (laredo does not).
 * Any role may call it unless EXECUTE was revoked from PUBLIC (a hardened
 * source): then the reads go without it, as before 0.11.0 (each range
 * waits for the WAL writer), and the log says what to grant
 * (chunk_flush_checked).
 */
#define CHUNK_READ_FLUSH		"SELECT pg_catalog.pg_logical_emit_message(true, 'laredo', ''); "
/* CHUNK_READ_FLUSH, or nothing where the source's role may not call it */
#define CHUNK_FLUSH_SQL			(chunk_flush_ok ? CHUNK_READ_FLUSH : "")
/* set at a read's start, so that its commit waits for no standby (above) */
#define CHUNK_READ_LOCAL		"SET LOCAL synchronous_commit = local"
/* how a copy's table is read on the source: a partitioned one through its root, whole */
#define CHUNK_ONLY(copy)		((copy)->br->only ? "ONLY " : "")

/* A source snapshot, as pg_current_snapshot() gives it, in 32-bit xids. */
typedef struct ChunkSnapshot
{
	TransactionId xmin;
	TransactionId xmax;
	int			nxip;
	TransactionId *xip;
} ChunkSnapshot;

struct ChunkReader;

/* A range read (or being read) and not yet merged. */
typedef struct Chunk
{
	MemoryContext cxt;
	struct ChunkReader *reader; /* a copy's range still being read on it; NULL: read */
	bool		head_read;		/* S and L are known */
	bool		in_copy;		/* its reader is between COPY's start and end */
	bool		bound_known;	/* its end was known before its rows: bound */
	char	  **bound;			/* NULL: the last range */
	char	   *copy_sql;		/* the rows' statement, sent once S and L are known */
	char	   *last_line;
	bool		truncated;		/* ended at chunk_bytes */
	bool		with_end;		/* its end asked for with S and L (several readers) */
	char	   *shape;			/* what the source's catalog says of the table, as text */
	int		   *keycol;			/* the key's columns in br->rel */
	char	  **lo;				/* text; NULL: from the first key */
	char	  **hi;				/* NULL: to the last */
	Datum	   *lo_d;
	Datum	   *hi_d;
	XLogRecPtr	lsn;			/* L, where it is merged */
	BaselineRelation *br;		/* the columns it was read with */
	ChunkSnapshot snap;
	List	   *lines;			/* COPY text lines */
	int64		nrows;
	Size		bytes;			/* of its lines */
	int			limit;			/* the rows asked for: fewer, and it is the last */
	bool		stale;
	bool		hashed;			/* a verification's hash of the range: nrows and hash, no lines */
	char	   *hash;
} Chunk;

/* A merged range's end, for moving the frontier back. */
typedef struct MergedRange
{
	int64		range_no;
	char	  **hi_text;		/* NULL: the last */
	Datum	   *hi;
} MergedRange;

/* The copy of one pipeline's table. */
typedef struct ChunkCopy
{
	LaredoPipeline *pipeline;
	LaredoTableConfig *table;
	BaselineRelation *br;
	char	   *qualified;
	int			nkeys;
	char	  **keynames;
	int		   *keycol;			/* index in br->rel */
	Oid		   *keytypes;
	FmgrInfo   *keyin;
	Oid		   *keyioparam;
	FmgrInfo   *keyrecv;		/* a key sent in binary (fn_oid 0: through its text) */
	Oid		   *keyrecvioparam;
	FmgrInfo   *keycmp;
	Oid		   *keycoll;		/* the target's key columns' collations (InvalidOid: none) */
	bool	   *keybyval;
	int16	   *keylen;
	int			chunk_rows;
	int64		chunk_bytes;	/* a range's rows at most (their text, as read) */
	int			readers;		/* connections reading its ranges at once (copy_readers) */
	const char **keytypnames;	/* the key columns' types, qualified, for the source's SQL */
	char	   *shape_sql;		/* a read's query of the table's shape (chunk_shape_sql) */
	char	   *shape;			/* the shape its description was read with; NULL: describe again */
	int			read_rows;		/* the next read's; halved after a failed read, and
								 * no more than chunk_bytes holds (chunk_next_read_rows) */
	int			rate;			/* rows per second at most; 0: no limit */
	int64		bytes_rate;		/* bytes per second at most; 0: no limit */
	int			timeout_ms;		/* copy_statement_timeout; 0: no limit */
	int64		max_lag;		/* copy_max_lag, bytes; 0: no limit */
	int			failures;		/* failed reads in a row */
	int			failure_code;	/* the last one's SQLSTATE and message (ChunkContext) */
	char	   *failure;
	int64		failed_reads;	/* failed reads not yet recorded */
	int64		dropped_rows;	/* rows read and dropped unmerged, not yet recorded
								 * (counted in reread_rows) */
	bool		paused;			/* the last read waited for the stream's lag */
	int64		verify_id;		/* a verification (laredo.verifications), not a copy; 0: a copy */
	int			max_reported;	/* of a verification: keys listed at most */
	int64		reported;		/* and listed so far */
	bool		repair;			/* of a verification: the rows that differ replaced (0.8.0) */
	bool		rows_pending;	/* of a verification: the range after the frontier differed by
								 * its hash, its rows are read next */
	char	  **rows_hi;		/* and its end; NULL: open above */
	TimestampTz next_read;		/* not before (the rate, a stale range's backoff) */
	int			backoff_ms;		/* after a stale range: doubles up to 5 s */
	char	  **frontier;		/* the last key merged; NULL: none */
	Datum	   *frontier_d;
	List	   *merged;			/* of MergedRange *, in order */
	int64		next_range;
	TimestampTz started_at;
	bool		done;
	bool		skip;			/* the decision for the change being applied */
} ChunkCopy;

/* What a received transaction touched of the tables being copied. */
typedef struct TrackedXact
{
	TransactionId xid;			/* hash key */
	XLogRecPtr	final_lsn;
	int			nkeys;
	List	   *touches;		/* of ChunkTouch * */
} TrackedXact;

typedef struct ChunkTouch
{
	ChunkCopy  *copy;
	Datum	   *key;			/* NULL: every key */
} ChunkTouch;

static MemoryContext ChunkContext = NULL;
static MemoryContext TrackerContext = NULL;
static List *chunk_copies = NIL;
/*
 * The ranges read or being read and not yet merged, of one copy at a time,
 * in key order: each starts where the one before it ends, and each one's
 * position L is at or past the one's before it (its snapshot was asked for
 * once the one before it had its own), so they merge in this order, each at
 * its own position.
 */
static List *inflight = NIL;
static ChunkCopy *inflight_copy = NULL;

/* A plain connection that reads a copy's ranges while the worker goes on. */
typedef enum ChunkReaderStep
{
	CHUNK_READER_IDLE,			/* no transaction open */
	CHUNK_READER_HEAD,			/* BEGIN, and the range's S, L (and end) asked for */
	CHUNK_READER_ROWS,			/* the range's rows, then COMMIT */
	CHUNK_READER_END			/* COMMIT of a read given up (copy_max_lag) */
} ChunkReaderStep;

typedef struct ChunkReader
{
	PGconn	   *conn;
	ChunkReaderStep step;
	Chunk	   *ch;				/* the range it reads */
	TimestampTz last_heard;
} ChunkReader;

static ChunkReader chunk_readers[CHUNK_MAX_READERS];
static int	chunk_readers_usable = CHUNK_MAX_READERS;	/* fewer once a connection was refused */
static TimestampTz chunk_readers_refused = 0;	/* when; tried again a minute after */
/* a copy's key compared in a collation: only inside a transaction (its catalog entry, its locale) */
static bool chunk_collated = false;
static XLogRecPtr chunk_received = InvalidXLogRecPtr;	/* how far the stream has come */
static WalReceiverConn *chunk_conn = NULL;
static LaredoSourceConfig *chunk_source = NULL;
static Oid	chunk_owner = InvalidOid;
static int	chunk_conn_timeout = -1;	/* its statement_timeout, once set */
static uint64 source_blcksz = XLOG_BLCKSZ;
static uint64 source_segsize = 16 * 1024 * 1024;
/* whether the source's role may call pg_logical_emit_message (CHUNK_READ_FLUSH) */
static bool chunk_flush_ok = true;

/* the transactions running on the source when this worker started */
static TransactionId *unknown_xids = NULL;
static int	n_unknown = 0;

static HTAB *tracker = NULL;
static TrackedXact *current_xact = NULL;
static TransactionId current_xid = InvalidTransactionId;
static XLogRecPtr current_final_lsn = InvalidXLogRecPtr;

static void chunk_merge(ChunkCopy *copy, Chunk *ch);
static void chunk_advance(ChunkCopy *copy, Chunk *ch, bool recorded);
static bool chunk_verify_range(ChunkCopy *copy, Chunk *ch);
static void chunk_verify_start(ChunkCopy *copy);
static void chunk_drop_from(int n);
static void chunk_reader_wait(Chunk *ch);
static void chunk_prune_head(void);

bool
laredo_chunk_active(void)
{
	return chunk_copies != NIL;
}

/* A whole number option of a pipeline, or dflt. */
static int
chunk_int_option(Jsonb *jb, const char *name, int dflt)
{
	JsonbValue *n = getKeyJsonValueFromContainer(&jb->root, name, strlen(name), NULL);

	if (n != NULL && n->type == jbvNumeric)
		return DatumGetInt32(DirectFunctionCall1(numeric_int4, NumericGetDatum(n->val.numeric)));
	return dflt;
}

/*
 * A duration option (milliseconds, or a text an interval reads: "30s"),
 * in milliseconds, or dflt.  _check_options let in only 0 to 24 days.
 */
static int
chunk_ms_option(Jsonb *jb, const char *name, int dflt)
{
	JsonbValue *n = getKeyJsonValueFromContainer(&jb->root, name, strlen(name), NULL);

	if (n != NULL && n->type == jbvString)
	{
		Interval   *i = DatumGetIntervalP(DirectFunctionCall3(interval_in,
															  CStringGetDatum(pnstrdup(n->val.string.val, n->val.string.len)),
															  ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
		int64		ms = (i->time + ((int64) i->day + (int64) i->month * DAYS_PER_MONTH) * USECS_PER_DAY) / 1000;

		return (int) Min(Max(ms, 0), INT_MAX);
	}
	return chunk_int_option(jb, name, dflt);
}

/* A size option (bytes, or a text pg_size_bytes reads: "64MB"), or dflt. */
static int64
chunk_bytes_option(Jsonb *jb, const char *name, int64 dflt)
{
	JsonbValue *n = getKeyJsonValueFromContainer(&jb->root, name, strlen(name), NULL);

	if (n != NULL && n->type == jbvString)
		return DatumGetInt64(DirectFunctionCall1(pg_size_bytes,
												 PointerGetDatum(cstring_to_text_with_len(n->val.string.val,
																						  n->val.string.len))));
	if (n != NULL && n->type == jbvNumeric)
		return DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(n->val.numeric)));
	return dflt;
}

/*
 * Whether the reads may flush the source's WAL (CHUNK_READ_FLUSH), from the
 * setup's row: columns 3 to 5 say whether the source's role may execute
 * pg_logical_emit_message, its signature there and the role.  Where it may
 * not, the copies and verifications go on without (each range waits for
 * the source's WAL writer, up to wal_writer_delay), and the log says what
 * to grant.
 */
static void
chunk_flush_checked(LaredoSourceConfig *source, char **row)
{
	const char *detail = "Each range read on the source then merges only once the source's WAL writer has flushed "
		"the WAL up to it (wal_writer_delay), or its next commit has: copies and verifications in ranges are slower.";

	chunk_flush_ok = row[3] != NULL && strcmp(row[3], "true") == 0;
	if (row[4] == NULL)
		ereport(LOG,
				(errmsg("laredo source \"%s\": ranges are read without flushing the source's WAL: the source has no pg_catalog.pg_logical_emit_message(boolean, text, text)",
						source->source_id),
				 errdetail_internal("%s", detail)));
	else if (!chunk_flush_ok)
		ereport(LOG,
				(errmsg("laredo source \"%s\": ranges are read without flushing the source's WAL: role \"%s\" may not execute pg_logical_emit_message there",
						source->source_id, row[5] ? row[5] : "?"),
				 errdetail_internal("%s", detail),
				 errhint("On the source: GRANT EXECUTE ON FUNCTION pg_catalog.%s TO %s;",
						 row[4], quote_identifier(row[5] ? row[5] : "role"))));
}

/*
 * A copy's settings from its pipeline's options: chunk_rows and chunk_bytes
 * (a range ends at whichever it reaches first), copy_rate and
 * copy_rate_bytes (a second's rows and bytes at most, 0: no limit),
 * copy_statement_timeout (30 s unless told) and copy_max_lag (64 MB).
 */
static void
chunk_options(LaredoPipelineConfig *p, ChunkCopy *copy)
{
	Jsonb	   *jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(p->options)));

	copy->chunk_rows = chunk_int_option(jb, "chunk_rows", 10000);
	copy->chunk_bytes = chunk_bytes_option(jb, "chunk_bytes", CHUNK_DEFAULT_BYTES);
	copy->readers = Min(Max(chunk_int_option(jb, "copy_readers", 2), 1), CHUNK_MAX_READERS);
	copy->read_rows = copy->chunk_rows;
	copy->rate = chunk_int_option(jb, "copy_rate", 0);
	copy->bytes_rate = chunk_bytes_option(jb, "copy_rate_bytes", 0);
	copy->timeout_ms = chunk_ms_option(jb, "copy_statement_timeout", 30000);
	copy->max_lag = chunk_bytes_option(jb, "copy_max_lag", INT64CONST(64) * 1024 * 1024);
}

/* Whether a pipeline's target, which exists and its owner may read, holds a row (inside a transaction). */
static bool
chunk_target_holds_rows(LaredoPipelineConfig *p)
{
	bool		found;

	SPI_connect();
	if (SPI_execute(psprintf("SELECT FROM %s LIMIT 1",
							 quote_qualified_identifier(p->target_schema, p->target_table)),
					true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the target of pipeline \"%s\"", p->pipeline_id);
	found = SPI_processed > 0;
	SPI_finish();
	return found;
}

/* What chunk_copy_wanted says of a pipeline. */
typedef enum ChunkWanted
{
	CHUNK_NOT_WANTED,			/* in one snapshot (or not copied at all) */
	CHUNK_WANTED,				/* in key ranges, its table allowing */
	CHUNK_WANTED_BY_SIZE		/* in key ranges if its table is copy_chunks_from or larger */
} ChunkWanted;

/* a table at least this large on the source is copied in key ranges unless told (0.10.0) */
#define CHUNK_DEFAULT_FROM	(INT64CONST(1024) * 1024 * 1024)

/*
 * Whether a pipeline is copied in key ranges now (its table allowing): not
 * copied, or all in a new baseline, and its options say "chunks"; or they
 * say nothing, the source streams (no new baseline) and its target holds
 * rows: a pipeline sent back to copy (resync_pipeline, a schema change the
 * stream cannot carry, a table dropped and created again, partitions
 * attached) has its rows replaced range by range, and its target is never
 * emptied.  "snapshot" keeps the copy in one snapshot.  From catalog 0.10.0
 * on, the other copies that say nothing are in key ranges: a new target of
 * a source that streams (a table added), whatever its size, so that the
 * source's other pipelines stream on while it is copied (a copy in one
 * snapshot holds the whole stream back until it commits); in a new
 * baseline (nothing streams yet), when the source's table is
 * copy_chunks_from (1 GB) or larger: a small table's bulk load in one
 * snapshot is faster, and holds its snapshot for seconds only.  A
 * pipeline's own copy_chunks_from applies to both.
 */
static ChunkWanted
chunk_copy_wanted(LaredoPipelineConfig *p, bool baseline)
{
	Jsonb	   *jb;
	JsonbValue *v;
	Oid			relid;

	if ((!baseline && p->baselined) || strcmp(p->target_kind, "table") != 0)
		return CHUNK_NOT_WANTED;
	jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(p->options)));
	v = getKeyJsonValueFromContainer(&jb->root, "copy", strlen("copy"), NULL);
	if (v != NULL)
		return v->type == jbvString && v->val.string.len == 6 &&
			strncmp(v->val.string.val, "chunks", 6) == 0 ? CHUNK_WANTED : CHUNK_NOT_WANTED;
	/* (before 0.8.0, the worker's own sending back to copy left the old copy's row) */
	if (laredo_catalog_version() < LAREDO_CATALOG_0_8_0)
		return CHUNK_NOT_WANTED;
	/*
	 * A target its owner may write but not read: in one snapshot, as
	 * before (a range's merge deletes the target's rows by their keys,
	 * which needs SELECT).
	 */
	relid = RangeVarGetRelid(makeRangeVar(p->target_schema, p->target_table, -1), AccessShareLock, true);
	if (OidIsValid(relid) && pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		return CHUNK_NOT_WANTED;
	if (!baseline && OidIsValid(relid) && chunk_target_holds_rows(p))
		return CHUNK_WANTED;
	if (laredo_catalog_version() < LAREDO_CATALOG_0_10_0)
		return CHUNK_NOT_WANTED;
	if (!baseline && getKeyJsonValueFromContainer(&jb->root, "copy_chunks_from", strlen("copy_chunks_from"), NULL) == NULL)
		return CHUNK_WANTED;
	return CHUNK_WANTED_BY_SIZE;
}

/* a pipeline's copy_chunks_from: bytes */
static int64
chunk_copy_from(LaredoPipelineConfig *p)
{
	Jsonb	   *jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(p->options)));

	return chunk_bytes_option(jb, "copy_chunks_from", CHUNK_DEFAULT_FROM);
}

/* A pipeline copied in key ranges if its table is large enough: how large, and enough. */
typedef struct ChunkSized
{
	LaredoPipelineConfig *p;
	int64		from;			/* its copy_chunks_from */
	int64		size;			/* its table's on the source; -1: the source has none */
} ChunkSized;

/*
 * The size on the source (pg_table_size: its heap and TOAST; a partitioned
 * table's, its partitions') of the table of each pipeline in sized (a List
 * of ChunkSized), in one query on conn, into its size.
 */
static void
chunk_table_sizes(WalReceiverConn *conn, const char *source_id, List *sized)
{
	StringInfoData q;
	ListCell   *lc;
	List	   *rows;

	initStringInfo(&q);
	/* (a table dropped meanwhile: left out, not a NULL size) */
	appendStringInfoString(&q, "SELECT v.s, v.t, z.size::text FROM (VALUES ");
	foreach(lc, sized)
	{
		ChunkSized *t = lfirst(lc);

		appendStringInfo(&q, "%s(%s, %s)", foreach_current_index(lc) ? ", " : "",
						 quote_literal_cstr(t->p->source_schema), quote_literal_cstr(t->p->source_table));
	}
	appendStringInfoString(&q, ") v(s, t) JOIN pg_catalog.pg_namespace n ON n.nspname = v.s "
						   "JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = v.t "
						   "CROSS JOIN LATERAL (SELECT CASE WHEN c.relkind = 'p' THEN "
						   "  (SELECT pg_catalog.sum(pg_catalog.pg_table_size(p.relid)) "
						   "   FROM pg_catalog.pg_partition_tree(c.oid) p) "
						   "  ELSE pg_catalog.pg_table_size(c.oid) END AS size) z "
						   "WHERE z.size IS NOT NULL");
	rows = laredo_remote_query(conn, q.data, 3, source_id);
	foreach(lc, sized)
	{
		ChunkSized *t = lfirst(lc);
		ListCell   *r;

		t->size = -1;
		foreach(r, rows)
		{
			char	  **row = lfirst(r);

			if (strcmp(row[0], t->p->source_schema) == 0 && strcmp(row[1], t->p->source_table) == 0)
				t->size = strtoll(row[2], NULL, 10);
		}
	}
}

/* -1, 0, 1: two keys of a copy compared column by column */
static int
chunk_key_cmp(ChunkCopy *copy, Datum *a, Datum *b)
{
	for (int i = 0; i < copy->nkeys; i++)
	{
		int32		c = DatumGetInt32(FunctionCall2Coll(&copy->keycmp[i], copy->keycoll[i], a[i], b[i]));

		if (c != 0)
			return c;
	}
	return 0;
}

static Datum *
chunk_key_parse(ChunkCopy *copy, char **text)
{
	Datum	   *key = palloc(sizeof(Datum) * copy->nkeys);

	for (int i = 0; i < copy->nkeys; i++)
		key[i] = InputFunctionCall(&copy->keyin[i], text[i], copy->keyioparam[i], -1);
	return key;
}

/* Whether key lies in (lo, hi]; NULL bounds are open. */
static bool
chunk_in_range(ChunkCopy *copy, Datum *key, Datum *lo, Datum *hi)
{
	return (lo == NULL || chunk_key_cmp(copy, key, lo) > 0) &&
		(hi == NULL || chunk_key_cmp(copy, key, hi) <= 0);
}

static bool
chunk_merged(ChunkCopy *copy, Datum *key)
{
	return copy->done || (copy->frontier_d != NULL && chunk_key_cmp(copy, key, copy->frontier_d) <= 0);
}

/*
 * The key of a streamed row, read in the stream's own column order (a new
 * shape may have moved it); NULL when a key column came as unchanged TOAST.
 */
static Datum *
chunk_key_of(ChunkCopy *copy, LogicalRepRelation *rel, LogicalRepTupleData *tup)
{
	Datum	   *key = palloc(sizeof(Datum) * copy->nkeys);

	for (int i = 0; i < copy->nkeys; i++)
	{
		int			col = -1;
		char	   *text;

		for (int j = 0; j < rel->natts && j < tup->ncols; j++)
			if (strcmp(rel->attnames[j], copy->keynames[i]) == 0)
				col = j;
		if (col < 0)
			return NULL;
		/* sent in binary, of the key's own type: its receive function, as a target's column */
		if (tup->colstatus[col] == LOGICALREP_COLUMN_BINARY && rel->atttyps[col] == copy->keytypes[i] &&
			OidIsValid(copy->keyrecv[i].fn_oid))
		{
			key[i] = laredo_apply_column_receive(rel, tup, col, &copy->keyrecv[i], copy->keyrecvioparam[i], -1);
			continue;
		}
		if ((text = laredo_apply_column_text(rel, tup, col)) == NULL)
			return NULL;
		key[i] = InputFunctionCall(&copy->keyin[i], text, copy->keyioparam[i], -1);
	}
	return key;
}

/* "xmin:xmax:xip,..." of pg_current_snapshot(), each 64-bit xid taken modulo 2^32 */
static void
chunk_parse_snapshot(const char *text, ChunkSnapshot *snap)
{
	char	   *end;
	const char *p;
	int			max = 1;

	for (p = text; *p; p++)
		if (*p == ',')
			max++;
	snap->xip = palloc(sizeof(TransactionId) * max);
	snap->nxip = 0;
	snap->xmin = (TransactionId) strtoull(text, &end, 10);
	snap->xmax = (TransactionId) strtoull(end + 1, &end, 10);
	p = end + 1;
	while (*end == ':' && *p != '\0' && snap->nxip < max)
	{
		snap->xip[snap->nxip++] = (TransactionId) strtoull(p, &end, 10);
		if (*end != ',')
			break;
		p = end + 1;
	}
}

/* as a snapshot decides: committed before it was taken (the xids come from committed transactions) */
static bool
chunk_xid_visible(ChunkSnapshot *snap, TransactionId xid)
{
	if (TransactionIdPrecedes(xid, snap->xmin))
		return true;
	if (!TransactionIdPrecedes(xid, snap->xmax))
		return false;
	for (int i = 0; i < snap->nxip; i++)
		if (snap->xip[i] == xid)
			return false;
	return true;
}

/* Loads a text[] datum as C strings (NULL for a NULL array). */
static char **
chunk_text_array(HeapTuple tup, TupleDesc desc, int col, int *n)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	char	  **result;

	if (isnull)
		return NULL;
	deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &nelems);
	result = palloc(sizeof(char *) * Max(nelems, 1));
	for (int i = 0; i < nelems; i++)
		result[i] = nulls[i] ? NULL : TextDatumGetCString(elems[i]);
	if (n)
		*n = nelems;
	return result;
}

static Datum
chunk_text_array_datum(ChunkCopy *copy, char **values)
{
	Datum	   *elems = palloc(sizeof(Datum) * copy->nkeys);

	for (int i = 0; i < copy->nkeys; i++)
		elems[i] = CStringGetTextDatum(values[i]);
	return PointerGetDatum(construct_array(elems, copy->nkeys, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * A query of what decides the order of collation coll in this database, on
 * any server of 15 or later (the same text on both sides when they sort
 * text alike): the database's encoding, then "bytewise" for C and POSIX
 * (and the builtin provider's C), or the provider, locale names, ICU rules
 * and the collation's actual version (the library's: glibc's or ICU's),
 * and "nondeterministic" for a collation whose equal strings may differ.
 * The default collation is the database's.  (to_jsonb: the catalogs' column
 * names differ between versions.)
 */
static char *
chunk_collation_order_sql(Oid coll)
{
	return psprintf(
		"SELECT pg_catalog.concat_ws('|', pg_catalog.pg_encoding_to_char(d.encoding), "
		"  CASE WHEN p.det IS NOT TRUE THEN 'nondeterministic' "
		"       WHEN (p.prov = 'c' AND p.coll IN ('C', 'POSIX') AND p.ctype IN ('C', 'POSIX')) "
		"            OR (p.prov = 'b' AND p.loc = 'C') THEN 'bytewise' "
		"       ELSE pg_catalog.concat_ws('|', p.prov, coalesce(p.coll, ''), coalesce(p.ctype, ''), "
		"                                 coalesce(p.loc, ''), coalesce(p.rules, ''), coalesce(p.ver, '')) END) "
		"FROM pg_catalog.pg_database d CROSS JOIN LATERAL ("
		"  SELECT j->>'datlocprovider' AS prov, j->>'datcollate' AS coll, j->>'datctype' AS ctype, "
		"         coalesce(j->>'datlocale', j->>'daticulocale') AS loc, j->>'daticurules' AS rules, true AS det, "
		"         pg_catalog.pg_database_collation_actual_version(d.oid) AS ver "
		"  FROM pg_catalog.to_jsonb(d) j WHERE %u = 100 "
		"  UNION ALL "
		"  SELECT j->>'collprovider', j->>'collcollate', j->>'collctype', "
		"         coalesce(j->>'colllocale', j->>'colliculocale'), j->>'collicurules', "
		"         (j->>'collisdeterministic')::boolean, pg_catalog.pg_collation_actual_version(c.oid) "
		"  FROM pg_catalog.pg_collation c CROSS JOIN LATERAL pg_catalog.to_jsonb(c) j "
		"  WHERE c.oid = %u AND c.oid <> 100) p "
		"WHERE d.datname = pg_catalog.current_database()", coll, coll);
}

/*
 * NULL when every collatable key column of keys (chunk_key_columns) sorts
 * alike on the source and in pipeline p's target (the collation of the
 * target's column, which its key index and the ranges' deletes here use),
 * as chunk_collation_order_sql tells on each side; else why not.  Fills
 * keycoll with the target's collations (InvalidOid: not collatable).
 * Inside a transaction.
 */
static const char *
chunk_key_collations(LaredoPipelineConfig *p, List *keys, Oid *keycoll)
{
	Oid			relid = RangeVarGetRelid(makeRangeVar(p->target_schema, p->target_table, -1),
										 AccessShareLock, true);
	MemoryContext caller = CurrentMemoryContext;
	ListCell   *lc;

	foreach(lc, keys)
	{
		char	  **k = lfirst(lc);
		int			i = foreach_current_index(lc);
		AttrNumber	att;
		Oid			typ;
		int32		typmod;
		char	   *here;

		keycoll[i] = InvalidOid;
		if (k[2] == NULL)
			continue;
		att = OidIsValid(relid) ? get_attnum(relid, k[0]) : InvalidAttrNumber;
		if (att == InvalidAttrNumber)
			return psprintf("its target has no key column %s", quote_identifier(k[0]));
		get_atttypetypmodcoll(relid, att, &typ, &typmod, &keycoll[i]);
		if (!OidIsValid(keycoll[i]))
			return psprintf("key column %s is not collatable in the target", quote_identifier(k[0]));
		SPI_connect();
		if (SPI_execute(chunk_collation_order_sql(keycoll[i]), true, 1) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "could not read the order of collation %u", keycoll[i]);
		here = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		here = here ? MemoryContextStrdup(caller, here) : "";
		SPI_finish();
		if (strstr(k[2], "nondeterministic") != NULL || strstr(here, "nondeterministic") != NULL)
			return psprintf("key column %s has a nondeterministic collation (keys equal to it may differ)",
							quote_identifier(k[0]));
		if (strcmp(here, k[2]) != 0)
			return psprintf("key column %s sorts differently in the target (%s) and on the source (%s)",
							quote_identifier(k[0]), here, k[2]);
	}
	return NULL;
}

/* the names of a relation's key columns, as one text ("a,b") */
static char *
chunk_key_names(LogicalRepRelation *rel)
{
	StringInfoData names;

	initStringInfo(&names);
	for (int i = 0; i < rel->natts; i++)
		if (bms_is_member(i, rel->attkeys))
			appendStringInfo(&names, "%s%s", names.len ? "," : "", rel->attnames[i]);
	return names.data;
}

/*
 * The relation a copy of table t reads in key ranges, given its
 * description (rels, laredo_baseline_describe): the table itself (a plain
 * one, or a partitioned one published through its root), or, for a
 * partitioned table published partition by partition, its root, described
 * on chunk_conn.  Read whole through the root, the leaves' rows come in
 * the root key's order, which is the target's: the ranges replace the
 * target's rows key range by key range, whichever partition they are in.
 * That holds when every leaf is published, and alike (the same columns
 * and row filter: the root's read is then the leaves' reads together), and keyed
 * alike (each leaf's replica identity the root's key columns, so that each
 * leaf's changes in the stream carry the copy's key).  NULL, with *why,
 * otherwise.
 */
static BaselineRelation *
chunk_table_relation(List *rels, LaredoTableConfig *t, const char **why)
{
	BaselineRelation *first = linitial(rels);
	BaselineRelation *root;
	List	   *leaves;
	char	   *key;
	ListCell   *lc;
	ListCell   *l;

	*why = NULL;
	if (list_length(rels) == 1 && strcmp(first->rel->nspname, t->schema_name) == 0 &&
		strcmp(first->rel->relname, t->table_name) == 0)
		return first;
	foreach(lc, rels)
	{
		BaselineRelation *leaf = lfirst(lc);

		if ((leaf->rowfilter == NULL) != (first->rowfilter == NULL) ||
			(leaf->rowfilter != NULL && strcmp(leaf->rowfilter, first->rowfilter) != 0))
			*why = "its partitions, published partition by partition, have different row filters";
		else if (leaf->rel->natts != first->rel->natts)
			*why = "its partitions, published partition by partition, publish different columns";
		else
			for (int i = 0; i < leaf->rel->natts && *why == NULL; i++)
			{
				bool		found = false;

				for (int j = 0; j < first->rel->natts; j++)
					if (strcmp(leaf->rel->attnames[i], first->rel->attnames[j]) == 0)
						found = true;
				if (!found)
					*why = "its partitions, published partition by partition, publish different columns";
			}
		if (*why != NULL)
			return NULL;
	}
	/* every partition published: the root's read reads them all */
	leaves = laredo_remote_query(chunk_conn, psprintf(
		"SELECT p.relid::pg_catalog.oid::text FROM pg_catalog.pg_partition_tree(pg_catalog.to_regclass(%s)) p "
		"WHERE p.isleaf",
		quote_literal_cstr(quote_qualified_identifier(t->schema_name, t->table_name))),
		1, chunk_source->source_id);
	foreach(lc, leaves)
	{
		LogicalRepRelId leaf = (LogicalRepRelId) strtoul(((char **) lfirst(lc))[0], NULL, 10);
		bool		published = false;

		foreach(l, rels)
			if (((BaselineRelation *) lfirst(l))->rel->remoteid == leaf)
				published = true;
		if (!published)
		{
			*why = "not every partition of it is published";
			return NULL;
		}
	}
	root = laredo_baseline_describe_root(chunk_conn, chunk_source, t, first);
	key = chunk_key_names(root->rel);
	foreach(lc, rels)
	{
		BaselineRelation *leaf = lfirst(lc);

		/* (the leaf's columns by name: a partition may order them otherwise) */
		StringInfoData names;

		initStringInfo(&names);
		for (int i = 0; i < root->rel->natts; i++)
			for (int j = 0; j < leaf->rel->natts; j++)
				if (strcmp(root->rel->attnames[i], leaf->rel->attnames[j]) == 0 &&
					bms_is_member(j, leaf->rel->attkeys))
					appendStringInfo(&names, "%s%s", names.len ? "," : "", leaf->rel->attnames[j]);
		if (strcmp(names.data, key) != 0)
		{
			*why = psprintf("partition %s.%s, published partition by partition, has a replica identity other than the key of its partitioned table",
							leaf->rel->nspname, leaf->rel->relname);
			return NULL;
		}
	}
	return root;
}

/*
 * The key to copy a table by, in index column order (a List of char *[3]:
 * the column's name, its type's oid, and for a collatable column the order
 * of its collation on the source, chunk_collation_order_sql), or NULL with
 * *why saying why the table keeps the copy in one snapshot.
 */
static List *
chunk_key_columns(BaselineRelation *br, const char **why)
{
	List	   *rows;
	List	   *keys = NIL;
	ListCell   *lc;

	*why = NULL;
	if (br->rel->replident != REPLICA_IDENTITY_DEFAULT && br->rel->replident != REPLICA_IDENTITY_INDEX)
	{
		*why = "its replica identity is not a key";
		return NIL;
	}
	rows = laredo_remote_query(chunk_conn, psprintf(
		"SELECT a.attname::text, a.atttypid::text, a.attcollation::text, "
		"       (i.indcollation[k.ord::int - 1] = a.attcollation)::text "
		"FROM pg_catalog.pg_class c JOIN pg_catalog.pg_index i ON i.indrelid = c.oid "
		"  AND ((c.relreplident = 'd' AND i.indisprimary) OR (c.relreplident = 'i' AND i.indisreplident)) "
		"CROSS JOIN LATERAL pg_catalog.unnest(i.indkey) WITH ORDINALITY k(attnum, ord) "
		"JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum "
		"WHERE c.oid = %u ORDER BY k.ord", br->rel->remoteid),
		4, chunk_source->source_id);
	if (rows == NIL)
	{
		*why = "it has no primary key or replica identity index";
		return NIL;
	}
	foreach(lc, rows)
	{
		char	  **r = lfirst(lc);
		Oid			typ = (Oid) strtoul(r[1], NULL, 10);
		Oid			coll = (Oid) strtoul(r[2], NULL, 10);
		bool		published = false;
		char	  **key = palloc0(sizeof(char *) * 3);

		for (int i = 0; i < br->rel->natts; i++)
			if (strcmp(br->rel->attnames[i], r[0]) == 0)
				published = true;
		if (!published)
			*why = "a key column is not published";
		else if (typ >= FirstNormalObjectId)
			*why = "a key column has a type that is not built in";
		else if (!OidIsValid(lookup_type_cache(typ, TYPECACHE_CMP_PROC)->cmp_proc))
			*why = "a key column has no btree order";
		/* (the ranges' reads by the key's index: in the column's order) */
		else if (strcmp(r[3], "true") != 0)
			*why = "the key's index sorts a column in another collation than the column's";
		if (*why)
			return NIL;
		key[0] = r[0];
		key[1] = r[1];
		/* a collatable key: the order of its collation on the source (chunk_collation_order) */
		if (OidIsValid(coll))
			key[2] = ((char **) linitial(laredo_remote_query(chunk_conn, chunk_collation_order_sql(coll), 1,
															 chunk_source->source_id)))[0];
		keys = lappend(keys, key);
	}
	return keys;
}

/*
 * A pipeline's copy in ranges forgotten: its rows in laredo.pipeline_copies
 * and laredo.copy_ranges (explicitly: the foreign key's cascade does not
 * fire in the worker).  Inside SPI, on a catalog of 0.6.0 or later.
 */
void
laredo_chunk_forget(const char *pipeline_id)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(pipeline_id)};

	if (SPI_execute_with_args("DELETE FROM laredo.copy_ranges WHERE pipeline_id = $1",
							  1, types, values, NULL, false, 0) != SPI_OK_DELETE ||
		SPI_execute_with_args("DELETE FROM laredo.pipeline_copies WHERE pipeline_id = $1",
							  1, types, values, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not forget the copy of pipeline \"%s\"", pipeline_id);
}

/*
 * The copy's row in laredo.pipeline_copies: its frontier and merged
 * ranges, or a new row when the copy starts.
 */
static void
chunk_load_progress(ChunkCopy *copy, XLogRecPtr startpos)
{
	const char *id = copy->pipeline->config->pipeline_id;
	Oid			types[2] = {TEXTOID, NAMEARRAYOID};
	Datum		values[2];
	Datum	   *names = palloc(sizeof(Datum) * copy->nkeys);
	MemoryContext old;
	bool		found = false;

	for (int i = 0; i < copy->nkeys; i++)
		names[i] = DirectFunctionCall1(namein, CStringGetDatum(copy->keynames[i]));
	values[0] = CStringGetTextDatum(id);
	values[1] = PointerGetDatum(construct_array(names, copy->nkeys, NAMEOID, NAMEDATALEN, false, TYPALIGN_CHAR));
	SPI_connect();
	/* a copy under way by the same key resumes; by another key (changed since), it starts over */
	if (SPI_execute_with_args("SELECT frontier, started_at FROM laredo.pipeline_copies "
							  "WHERE pipeline_id = $1 AND finished_at IS NULL AND key_columns = $2",
							  2, types, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the copy of pipeline \"%s\"", id);
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		char	  **frontier;
		int			n = 0;

		old = MemoryContextSwitchTo(ChunkContext);
		frontier = chunk_text_array(tup, desc, 1, &n);
		copy->started_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 2, &isnull));
		MemoryContextSwitchTo(old);
		if (frontier == NULL || n == copy->nkeys)
		{
			found = true;
			old = MemoryContextSwitchTo(ChunkContext);
			copy->frontier = frontier;
			copy->frontier_d = frontier ? chunk_key_parse(copy, frontier) : NULL;
			MemoryContextSwitchTo(old);
		}
	}
	if (found)
	{
		/* the merged ranges' ends, to move the frontier back if it must */
		if (SPI_execute_with_args("SELECT range_no, hi FROM laredo.copy_ranges WHERE pipeline_id = $1 "
								  "ORDER BY range_no", 1, types, values, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read the ranges of pipeline \"%s\"", id);
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			bool		isnull;
			MergedRange *m;
			char	  **hi;

			old = MemoryContextSwitchTo(ChunkContext);
			m = palloc0(sizeof(MergedRange));
			m->range_no = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
			hi = chunk_text_array(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, NULL);
			m->hi_text = hi;
			m->hi = hi ? chunk_key_parse(copy, hi) : NULL;
			copy->merged = lappend(copy->merged, m);
			copy->next_range = m->range_no + 1;
			MemoryContextSwitchTo(old);
		}
	}
	else
	{
		/* the source planner's estimate (reltuples scaled to the table's size now) */
		List	   *est = laredo_remote_query(chunk_conn, psprintf("EXPLAIN (FORMAT JSON) SELECT FROM %s%s",
																	CHUNK_ONLY(copy), copy->qualified), 1, chunk_source->source_id);
		char	   *plan_rows = est ? strstr(((char **) linitial(est))[0], "\"Plan Rows\": ") : NULL;
		Oid			itypes[5] = {TEXTOID, NAMEARRAYOID, INT4OID, INT8OID, LSNOID};
		Datum		ivalues[5];
		char		inulls[5] = {' ', ' ', ' ', ' ', ' '};

		ivalues[0] = values[0];
		ivalues[1] = values[1];
		ivalues[2] = Int32GetDatum(copy->chunk_rows);
		if (plan_rows != NULL)
			ivalues[3] = Int64GetDatum(strtoll(plan_rows + strlen("\"Plan Rows\": "), NULL, 10));
		else
			inulls[3] = 'n';
		ivalues[4] = LSNGetDatum(startpos);
		if (XLogRecPtrIsInvalid(startpos))
			inulls[4] = 'n';	/* a new baseline: the slot is made after */
		laredo_chunk_forget(id);
		if (SPI_execute_with_args("INSERT INTO laredo.pipeline_copies (pipeline_id, key_columns, chunk_rows, "
								  "  estimated_rows, started_lsn) VALUES ($1, $2, $3, $4, $5)",
								  5, itypes, ivalues, inulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not record the copy of pipeline \"%s\"", id);
		copy->started_at = GetCurrentTimestamp();
		/* the shape the target is mapped to, which schema changes are compared with */
		if (copy->pipeline->routine->shape != NULL)
			laredo_schema_record_baseline(copy->pipeline, copy->br->rel, copy->br->typmods,
										  copy->br->attnums, copy->br->relnatts, true);
	}
	SPI_finish();
}

/* A pipeline copied again from its first key (a new baseline): its old copy goes. */
static void
chunk_restart(LaredoPipelineConfig *p)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(p->pipeline_id)};

	SPI_connect();
	/* the trigger copy_restart removes its laredo.pipeline_copies row */
	if (SPI_execute_with_args("UPDATE laredo.pipeline_config SET baseline_lsn = NULL WHERE pipeline_id = $1",
							  1, types, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not restart the copy of pipeline \"%s\"", p->pipeline_id);
	SPI_finish();
	CommandCounterIncrement();
	p->baselined = false;
	p->baseline_lsn = InvalidXLogRecPtr;
}

/*
 * The connection the ranges are read on, its own: a walsender connection
 * in a database, as the baseline's, that drops a transaction left idle for
 * a minute.  A read that fails drops it (its transaction may be left open
 * there), and the next read connects again.
 */
static void
chunk_connect(void)
{
	MemoryContext old = MemoryContextSwitchTo(ChunkContext);

	chunk_conn = laredo_connect(chunk_source->connection, chunk_owner,
								psprintf("laredo chunks %s", chunk_source->source_id),
								chunk_source->source_id);
	chunk_conn_timeout = -1;
	/* a consumer that froze in the middle of a read never holds the source's xmin long */
	laredo_remote_command(chunk_conn, "SET idle_in_transaction_session_timeout = '60s'",
						  chunk_source->source_id);
	MemoryContextSwitchTo(old);
}

/* A verification asked for (laredo.verify_pipeline), not yet done. */
typedef struct ChunkVerifyRequest
{
	int64		id;
	char	   *pipeline_id;
	int			chunk_rows;
	int			max_reported;
	bool		repair;
} ChunkVerifyRequest;

/*
 * The verifications of the source's pipelines that are asked for or were
 * running when the worker stopped (they start over), in the caller's
 * memory context; inside a transaction.
 */
static List *
chunk_verify_requests(LaredoSourceConfig *source)
{
	MemoryContext caller = CurrentMemoryContext;
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(source->source_id)};
	List	   *result = NIL;

	if (laredo_catalog_version() < LAREDO_CATALOG_0_7_0)
		return NIL;
	SPI_connect();
	if (SPI_execute_with_args(psprintf("SELECT v.verification_id, v.pipeline_id, v.chunk_rows, v.max_reported, %s "
									   "FROM laredo.verifications v JOIN laredo.pipeline_config p USING (pipeline_id) "
									   "WHERE p.source_id = $1 AND v.state IN ('requested', 'running') "
									   "ORDER BY v.verification_id",
									   laredo_catalog_version() >= LAREDO_CATALOG_0_8_0 ? "v.repair" : "false"),
							  1, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read laredo.verifications");
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MemoryContext spi = MemoryContextSwitchTo(caller);
		ChunkVerifyRequest *v = palloc0(sizeof(ChunkVerifyRequest));
		bool		isnull;

		v->id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		v->pipeline_id = TextDatumGetCString(SPI_getbinval(tup, desc, 2, &isnull));
		v->chunk_rows = DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull));
		v->max_reported = DatumGetInt32(SPI_getbinval(tup, desc, 4, &isnull));
		v->repair = DatumGetBool(SPI_getbinval(tup, desc, 5, &isnull));
		result = lappend(result, v);
		MemoryContextSwitchTo(spi);
	}
	SPI_finish();
	return result;
}

/* The request of a pipeline, or NULL. */
static ChunkVerifyRequest *
chunk_verify_request(List *requests, LaredoPipelineConfig *p)
{
	ListCell   *lc;

	foreach(lc, requests)
		if (strcmp(((ChunkVerifyRequest *) lfirst(lc))->pipeline_id, p->pipeline_id) == 0)
			return lfirst(lc);
	return NULL;
}

/* A verification that cannot run: failed, with why (inside a transaction), and logged. */
static void
chunk_verify_fail(int64 id, const char *pipeline_id, const char *why)
{
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2] = {Int64GetDatum(id), CStringGetTextDatum(why)};

	SPI_connect();
	if (SPI_execute_with_args("UPDATE laredo.verifications SET state = 'failed', error = $2, finished_at = now() "
							  "WHERE verification_id = $1 AND state IN ('requested', 'running')", 2, types, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not record verification " INT64_FORMAT, id);
	SPI_finish();
	ereport(LOG,
			(errmsg("laredo source \"%s\": verification " INT64_FORMAT " of pipeline \"%s\" failed: %s",
					chunk_source->source_id, id, pipeline_id, why)));
}

/*
 * No copy nor verification after all: the setup's connection goes, and
 * with free_memory its memory (not once a description read there may be
 * bound to the table's pipelines: apply.c keeps it).
 */
static void
chunk_setup_abandon(bool free_memory)
{
	if (chunk_conn != NULL)
		walrcv_disconnect(chunk_conn);
	chunk_conn = NULL;
	if (free_memory)
	{
		MemoryContextDelete(ChunkContext);
		ChunkContext = NULL;
		TrackerContext = NULL;
	}
}

/*
 * Before the stream starts: every pipeline not yet copied whose options
 * ask for a copy in key ranges, and whose table allows one, is copied that
 * way while the stream runs (the others go through baseline.c first).  With
 * baseline (a new slot: the first baseline, or a new one), every pipeline
 * that asks for it is, from its first key.
 */
void
laredo_chunk_setup(WalReceiverConn *conn, LaredoSourceConfig *source, Oid owner, XLogRecPtr startpos,
				   bool baseline)
{
	ListCell   *lc;
	List	   *rows;
	ChunkSnapshot snap;
	bool		any = false;
	bool		asked = false;	/* a copy in ranges asked for, or a verification */
	List	   *verifies;
	List	   *sized = NIL;
	MemoryContext setup_cxt = CurrentMemoryContext;

	if (laredo_catalog_version() < LAREDO_CATALOG_0_6_0)
		return;
	chunk_source = source;
	/* copies to make, and verifications of pipelines that stream */
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	MemoryContextSwitchTo(setup_cxt);
	verifies = chunk_verify_requests(source);
	foreach(lc, source->pipelines)
	{
		LaredoPipelineConfig *p = lfirst(lc);
		bool		copied = baseline || !p->baselined;
		ChunkVerifyRequest *v = chunk_verify_request(verifies, p);

		switch (chunk_copy_wanted(p, baseline))
		{
			case CHUNK_WANTED:
				any = asked = true;
				break;
			case CHUNK_WANTED_BY_SIZE:
				{
					ChunkSized *t = palloc(sizeof(ChunkSized));

					t->p = p;
					t->from = chunk_copy_from(p);
					sized = lappend(sized, t);
				}
				break;
			case CHUNK_NOT_WANTED:
				break;
		}
		/* the verification of a pipeline copied again would compare a target being filled */
		if (v != NULL && copied)
			chunk_verify_fail(v->id, p->pipeline_id, "the pipeline is being copied again (a new baseline or a resync); verify it once its copy is done");
		else if (v != NULL)
			any = asked = true;
	}
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(setup_cxt);

	/*
	 * The tables copied in key ranges if they are large enough: their sizes,
	 * on the worker's own connection (most are small: no connection is made
	 * for them)
	 */
	if (sized != NIL)
	{
		chunk_table_sizes(conn, source->source_id, sized);
		foreach(lc, sized)
		{
			ChunkSized *t = lfirst(lc);

			if (t->size >= t->from)
				any = true;
		}
	}
	if (!any)
		return;

	ChunkContext = AllocSetContextCreate(TopMemoryContext, "laredo chunks", ALLOCSET_DEFAULT_SIZES);
	TrackerContext = GenerationContextCreate(ChunkContext, "laredo chunk tracker",
											 ALLOCSET_DEFAULT_SIZES);
	chunk_source = source;
	chunk_owner = owner;
	chunk_connect();
	rows = laredo_remote_query(chunk_conn,
							   "SELECT pg_catalog.pg_is_in_recovery()::text, "
							   "  pg_catalog.current_setting('wal_block_size'), "
							   "  pg_catalog.pg_size_bytes(pg_catalog.current_setting('wal_segment_size'))::text, "
							   /* the text form's, whichever arguments it has on that version (17 adds flush) */
							   "  e.may::text, e.signature, current_user "
							   "FROM (SELECT) s LEFT JOIN (SELECT pg_catalog.has_function_privilege(p.oid, 'EXECUTE') AS may, "
							   "                                  p.proname || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')' AS signature "
							   "                             FROM pg_catalog.pg_proc p WHERE p.proname = 'pg_logical_emit_message' "
							   "                              AND p.pronamespace = 'pg_catalog'::pg_catalog.regnamespace "
							   "                              AND p.proargtypes[2] = 'pg_catalog.text'::pg_catalog.regtype LIMIT 1) e ON true",
							   6, source->source_id);
	if (strcmp(((char **) linitial(rows))[0], "true") == 0)
	{
		if (asked)
			ereport(LOG,
					(errmsg("laredo source \"%s\": the source is a standby, tables are copied in one snapshot",
							source->source_id)));
		chunk_setup_abandon(true);
		/* nor can a verification read ranges there */
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		foreach(lc, verifies)
			chunk_verify_fail(((ChunkVerifyRequest *) lfirst(lc))->id, ((ChunkVerifyRequest *) lfirst(lc))->pipeline_id,
							  "the source is a standby: ranges are read only on a primary (the WAL insert position exists only there)");
		CommitTransactionCommand();
		MemoryContextSwitchTo(setup_cxt);
		return;
	}
	source_blcksz = strtoull(((char **) linitial(rows))[1], NULL, 10);
	source_segsize = strtoull(((char **) linitial(rows))[2], NULL, 10);
	chunk_flush_checked(source, (char **) linitial(rows));

	/* the catalog lookups and the copies' rows: one local transaction */
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());

	foreach(lc, source->tables)
	{
		LaredoTableConfig *t = lfirst(lc);
		List	   *relations = NIL;
		BaselineRelation *reading = NULL;
		List	   *keys = NIL;
		const char *why = NULL;
		ListCell   *pc;

		foreach(pc, source->pipelines)
		{
			LaredoPipelineConfig *p = lfirst(pc);
			ChunkCopy  *copy;
			List	   *bound;
			ListCell   *b;
			MemoryContext old;
			int			i = 0;
			bool		copying;
			const char *pwhy;
			Oid			keycoll[INDEX_MAX_KEYS];
			ChunkVerifyRequest *verify;

			if (strcmp(p->source_schema, t->schema_name) != 0 ||
				strcmp(p->source_table, t->table_name) != 0)
				continue;
			switch (chunk_copy_wanted(p, baseline))
			{
				case CHUNK_WANTED:
					copying = true;
					break;
				case CHUNK_WANTED_BY_SIZE:
					{
						ChunkSized *z = NULL;

						foreach(b, sized)
							if (((ChunkSized *) lfirst(b))->p == p)
								z = lfirst(b);
						/* (a size of -1: the source has no such table; its copy says so) */
						copying = z != NULL && z->size >= z->from;
						if (copying)
							ereport(LOG,
									(errmsg("laredo source \"%s\": pipeline \"%s\" is copied in key ranges: its table is " INT64_FORMAT " bytes on the source, at least copy_chunks_from (" INT64_FORMAT ")",
											source->source_id, p->pipeline_id, z->size, z->from)));
					}
					break;
				default:
					copying = false;
					break;
			}
			verify = !baseline && p->baselined && !copying ? chunk_verify_request(verifies, p) : NULL;
			if (!copying && verify == NULL)
				continue;
			if (relations == NIL)
			{
				old = MemoryContextSwitchTo(ChunkContext);
				relations = laredo_baseline_describe(chunk_conn, source, t);
				/* (a partitioned table published partition by partition: read through its root) */
				reading = chunk_table_relation(relations, t, &why);
				if (reading != NULL)
					keys = chunk_key_columns(reading, &why);
				MemoryContextSwitchTo(old);
			}
			/* a text key: sorted alike here (its target's collation) and there */
			pwhy = keys == NIL ? why : chunk_key_collations(p, keys, keycoll);
			if ((keys == NIL || pwhy != NULL) && verify != NULL)
			{
				chunk_verify_fail(verify->id, p->pipeline_id, psprintf("its table cannot be read in key ranges: %s", pwhy));
				continue;
			}
			if (keys == NIL || pwhy != NULL)
			{
				ereport(LOG,
						(errmsg("laredo source \"%s\": pipeline \"%s\" is copied in one snapshot: %s",
								source->source_id, p->pipeline_id, pwhy)));
				continue;
			}

			old = MemoryContextSwitchTo(ChunkContext);
			copy = palloc0(sizeof(ChunkCopy));
			copy->table = t;
			copy->br = reading;
			copy->qualified = quote_qualified_identifier(copy->br->rel->nspname, copy->br->rel->relname);
			chunk_options(p, copy);
			if (verify != NULL)
			{
				copy->verify_id = verify->id;
				copy->chunk_rows = copy->read_rows = verify->chunk_rows;
				copy->max_reported = verify->max_reported;
				copy->repair = verify->repair;
			}
			copy->nkeys = list_length(keys);
			copy->keynames = palloc(sizeof(char *) * copy->nkeys);
			copy->keycol = palloc(sizeof(int) * copy->nkeys);
			copy->keytypes = palloc(sizeof(Oid) * copy->nkeys);
			copy->keyin = palloc0(sizeof(FmgrInfo) * copy->nkeys);
			copy->keyioparam = palloc(sizeof(Oid) * copy->nkeys);
			copy->keyrecv = palloc0(sizeof(FmgrInfo) * copy->nkeys);
			copy->keyrecvioparam = palloc(sizeof(Oid) * copy->nkeys);
			copy->keycmp = palloc0(sizeof(FmgrInfo) * copy->nkeys);
			copy->keycoll = palloc(sizeof(Oid) * copy->nkeys);
			memcpy(copy->keycoll, keycoll, sizeof(Oid) * copy->nkeys);
			copy->keybyval = palloc(sizeof(bool) * copy->nkeys);
			copy->keylen = palloc(sizeof(int16) * copy->nkeys);
			copy->keytypnames = palloc(sizeof(char *) * copy->nkeys);
			foreach(b, keys)
			{
				char	  **r = lfirst(b);
				Oid			typinput;

				copy->keynames[i] = r[0];
				copy->keytypes[i] = (Oid) strtoul(r[1], NULL, 10);
				for (int j = 0; j < copy->br->rel->natts; j++)
					if (strcmp(copy->br->rel->attnames[j], r[0]) == 0)
						copy->keycol[i] = j;
				getTypeInputInfo(copy->keytypes[i], &typinput, &copy->keyioparam[i]);
				get_typlenbyval(copy->keytypes[i], &copy->keylen[i], &copy->keybyval[i]);
				fmgr_info_cxt(typinput, &copy->keyin[i], ChunkContext);
				if (laredo_binary_type_ok(copy->keytypes[i]))
				{
					Oid			typreceive;

					getTypeBinaryInputInfo(copy->keytypes[i], &typreceive, &copy->keyrecvioparam[i]);
					fmgr_info_cxt(typreceive, &copy->keyrecv[i], ChunkContext);
				}
				fmgr_info_cxt(lookup_type_cache(copy->keytypes[i], TYPECACHE_CMP_PROC)->cmp_proc,
							  &copy->keycmp[i], ChunkContext);
				copy->keytypnames[i] = format_type_be_qualified(copy->keytypes[i]);
				i++;
			}
			MemoryContextSwitchTo(old);
			for (int k = 0; k < copy->nkeys; k++)
				if (OidIsValid(copy->keycoll[k]))
					chunk_collated = true;

			/* the table's pipelines, bound to its description */
			bound = laredo_apply_relation(copy->br->rel, t);
			foreach(b, bound)
				if (((LaredoPipeline *) lfirst(b))->config == p)
					copy->pipeline = lfirst(b);
			if (copy->pipeline == NULL)
				continue;

			/*
			 * A new baseline (a new slot): every pipeline starts its copy
			 * again, from the first key, and takes changes by its ranges
			 * until it is done.
			 */
			if (verify != NULL)
				chunk_verify_start(copy);
			else
			{
				if (baseline)
					chunk_restart(p);
				chunk_load_progress(copy, startpos);
				if (laredo_catalog_version() >= LAREDO_CATALOG_0_5_0 && t->source_oid != copy->br->rel->remoteid)
					laredo_source_table_set_oid(source->source_id, t, copy->br->rel->remoteid);

				/*
				 * A partitioned table read through its root: its leaves as
				 * the copy starts, so that a partition attached or detached
				 * during the copy or after it sends it back to copy
				 * (source_checks.c), as after a copy in one snapshot
				 */
				if (laredo_catalog_version() >= LAREDO_CATALOG_0_5_0 && !copy->br->only && copy->frontier == NULL)
				{
					List	   *leaves = laredo_remote_query(chunk_conn, laredo_partitions_query(list_make1(t)), 3,
															 source->source_id);

					if (leaves != NIL)
						laredo_source_table_set_partitions(source->source_id, t, ((char **) linitial(leaves))[2]);
				}
				p->chunked = true;
			}
			old = MemoryContextSwitchTo(ChunkContext);
			chunk_copies = lappend(chunk_copies, copy);
			MemoryContextSwitchTo(old);
			{
				StringInfoData names;

				initStringInfo(&names);
				for (int k = 0; k < copy->nkeys; k++)
					appendStringInfo(&names, "%s%s", k ? ", " : "", quote_identifier(copy->keynames[k]));
				if (verify != NULL)
					ereport(LOG,
							(errmsg("laredo source \"%s\": verification " INT64_FORMAT " of pipeline \"%s\" compares ranges of %d rows by (%s)%s",
									source->source_id, verify->id, p->pipeline_id, copy->chunk_rows, names.data,
									verify->repair ? " and repairs the rows that differ" : "")));
				else
					ereport(LOG,
							(errmsg("laredo source \"%s\": pipeline \"%s\" is copied in ranges of %d rows by (%s)%s",
									source->source_id, p->pipeline_id, copy->chunk_rows, names.data,
									copy->frontier ? ", resuming after the last range merged" : "")));
			}
		}
	}
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(TopMemoryContext);
	if (chunk_copies == NIL)
	{
		/* (every table small, or none allowing ranges) */
		chunk_setup_abandon(false);
		return;
	}

	/*
	 * The transactions running on the source now: any of them may have
	 * committed before laredo's position (its changes received before this
	 * worker started, their keys unknown) and still be invisible to a
	 * range's snapshot, so a range is stale while one of them is invisible
	 * to it and has not arrived in the stream since.
	 */
	rows = laredo_remote_query(chunk_conn, "SELECT pg_catalog.pg_current_snapshot()::text", 1,
							   source->source_id);
	{
		MemoryContext old = MemoryContextSwitchTo(ChunkContext);

		chunk_parse_snapshot(((char **) linitial(rows))[0], &snap);
		unknown_xids = snap.xip;
		n_unknown = snap.nxip;
		MemoryContextSwitchTo(old);
	}
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(TransactionId);
		ctl.entrysize = sizeof(TrackedXact);
		ctl.hcxt = ChunkContext;
		tracker = hash_create("laredo chunk tracker", 256, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
}

/* the copy of a pipeline, or NULL */
static ChunkCopy *
chunk_copy_of(LaredoPipeline *p)
{
	ListCell   *lc;

	foreach(lc, chunk_copies)
		if (((ChunkCopy *) lfirst(lc))->pipeline == p)
			return lfirst(lc);
	return NULL;
}

/*
 * A source transaction begins in the stream (one that was not applied
 * before): the range waiting at a position it is at or past is merged
 * first, in the batch's local transaction.
 */
void
laredo_chunk_begin_xact(TransactionId xid, XLogRecPtr final_lsn)
{
	current_xid = xid;
	current_final_lsn = final_lsn;
	current_xact = NULL;
	for (int i = 0; i < n_unknown; i++)
		if (unknown_xids[i] == xid)
			unknown_xids[i--] = unknown_xids[--n_unknown];
	while (inflight != NIL)
	{
		Chunk	   *head = linitial(inflight);

		/* a range whose position is not known yet may be due: its S and L first */
		if (!head->head_read)
		{
			chunk_reader_wait(head);
			continue;
		}
		if (head->lsn > final_lsn)
			break;
		if (head->reader != NULL)
		{
			chunk_reader_wait(head);
			continue;
		}
		laredo_apply_begin_local();
		chunk_merge(inflight_copy, head);
		laredo_apply_end_step();
		chunk_prune_head();
	}
}

/* Keeps a key (or every key) a transaction touched of a copied table. */
static void
chunk_track(ChunkCopy *copy, Datum *key)
{
	MemoryContext old = MemoryContextSwitchTo(TrackerContext);
	ChunkTouch *t;

	if (current_xact == NULL)
	{
		bool		found;

		current_xact = hash_search(tracker, &current_xid, HASH_ENTER, &found);
		if (!found)
		{
			current_xact->final_lsn = current_final_lsn;
			current_xact->nkeys = 0;
			current_xact->touches = NIL;
		}
	}
	if (key != NULL && ++current_xact->nkeys > CHUNK_MAX_KEYS_PER_XACT)
		key = NULL;
	t = palloc(sizeof(ChunkTouch));
	t->copy = copy;
	if (key != NULL)
	{
		t->key = palloc(sizeof(Datum) * copy->nkeys);
		for (int i = 0; i < copy->nkeys; i++)
			t->key[i] = datumCopy(key[i], copy->keybyval[i], copy->keylen[i]);
	}
	else
		t->key = NULL;
	current_xact->touches = lappend(current_xact->touches, t);
	MemoryContextSwitchTo(old);
}

/*
 * The frontier goes back before key (NULL: to the first key), for why: a
 * row moved by an update from a key not yet merged to one merged already,
 * whose new value cannot be written without the old row (an unchanged
 * TOASTed column); or a partition truncated.  The ranges from the one
 * holding key on are read again; until then their changes are skipped.
 */
static void
chunk_rewind(ChunkCopy *copy, Datum *key, const char *why)
{
	int			keep = 0;
	ListCell   *lc;
	MergedRange *last = NULL;
	Oid			types[3] = {TEXTOID, INT8OID, TEXTARRAYOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};

	foreach(lc, copy->merged)
	{
		MergedRange *m = lfirst(lc);

		if (key != NULL && m->hi != NULL && chunk_key_cmp(copy, key, m->hi) > 0)
		{
			keep++;
			last = m;
		}
		else
			break;
	}
	values[0] = CStringGetTextDatum(copy->pipeline->config->pipeline_id);
	values[1] = Int64GetDatum(last ? last->range_no : -1);
	nulls[2] = 'n';
	laredo_apply_begin_local();
	SPI_connect();
	if (SPI_execute_with_args("WITH gone AS (DELETE FROM laredo.copy_ranges WHERE pipeline_id = $1 AND range_no > $2 "
							  "  RETURNING rows) "
							  "UPDATE laredo.pipeline_copies c SET ranges = c.ranges - (SELECT count(*) FROM gone), "
							  "  rows = c.rows - (SELECT coalesce(sum(rows), 0) FROM gone), "
							  "  reread_rows = c.reread_rows + (SELECT coalesce(sum(rows), 0) FROM gone), "
							  "  frontier = (SELECT hi FROM laredo.copy_ranges r WHERE r.pipeline_id = $1 AND r.range_no = $2) "
							  "WHERE c.pipeline_id = $1",
							  2, types, values, nulls, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not move back the copy of pipeline \"%s\"", copy->pipeline->config->pipeline_id);
	SPI_finish();
	laredo_apply_end_step();
	copy->merged = list_truncate(copy->merged, keep);
	copy->frontier_d = last ? last->hi : NULL;
	copy->frontier = last ? last->hi_text : NULL;
	/* the ranges in flight start after the old frontier */
	if (inflight_copy == copy)
		chunk_drop_from(0);
	ereport(LOG,
			(errmsg("laredo source \"%s\": pipeline \"%s\" copies its ranges from number %lld again: %s",
					chunk_source->source_id, copy->pipeline->config->pipeline_id,
					(long long) (last ? last->range_no + 1 : 0), why)));
}

/*
 * A change of a source table (rel, which feeds pipelines: the table, or a
 * partition of a partitioned table published partition by partition): what
 * it touched is kept while a copy of the table runs, and each copy decides
 * whether its pipeline takes it (a key merged already) or not (the range's
 * read has it).  Its key is read by the copy's key columns' names.
 */
void
laredo_chunk_note_change(LogicalRepRelation *rel, List *pipelines, LaredoChunkChange kind,
						 LogicalRepTupleData *oldtup, LogicalRepTupleData *newtup)
{
	ListCell   *lc;
	bool		opened = false;

	/*
	 * A key in a collation is compared inside a transaction (the
	 * collation's lookup asserts one): the local transaction this change
	 * would be applied in, opened now (a source transaction that changes
	 * nothing here joins the batch as well).
	 */
	if (chunk_collated && !IsTransactionState())
	{
		laredo_apply_begin_local();
		opened = true;
	}
	foreach(lc, chunk_copies)
	{
		ChunkCopy  *copy = lfirst(lc);
		Datum	   *kn = NULL;
		Datum	   *ko = NULL;
		bool		readable = true;

		copy->skip = false;
		if (copy->done || !list_member_ptr(pipelines, copy->pipeline))
			continue;
		if (newtup != NULL && (kn = chunk_key_of(copy, rel, newtup)) == NULL)
			readable = false;
		if (oldtup != NULL && (ko = chunk_key_of(copy, rel, oldtup)) == NULL)
			readable = false;
		if (ko == NULL)
			ko = kn;
		if (kind == LAREDO_CHUNK_TRUNCATE || !readable)
		{
			/* every range the transaction could have touched: all */
			chunk_track(copy, NULL);

			/*
			 * A partition truncated (published partition by partition)
			 * while its table is copied: its rows here cannot be told from
			 * the other partitions' in a target not partitioned alike, and
			 * need not be.  The copy goes back to its first range: each
			 * range is read after this commit and replaces every row of the
			 * target in its keys, and the pipeline skips the change.
			 */
			if (kind == LAREDO_CHUNK_TRUNCATE && copy->verify_id == 0 &&
				(strcmp(rel->nspname, copy->table->schema_name) != 0 ||
				 strcmp(rel->relname, copy->table->table_name) != 0))
			{
				if (copy->merged != NIL)
					chunk_rewind(copy, NULL, psprintf("partition %s.%s was truncated", rel->nspname, rel->relname));
				copy->skip = true;
			}
			continue;
		}
		if (kn != NULL)
			chunk_track(copy, kn);
		if (ko != NULL && ko != kn)
			chunk_track(copy, ko);
		/* a verification compares a live target: every change is applied */
		if (copy->verify_id != 0)
			continue;
		switch (kind)
		{
			case LAREDO_CHUNK_INSERT:
				copy->skip = !chunk_merged(copy, kn);
				break;
			case LAREDO_CHUNK_DELETE:
				copy->skip = !chunk_merged(copy, ko);
				break;
			case LAREDO_CHUNK_UPDATE:
				{
					bool		mo = chunk_merged(copy, ko);
					bool		mn = chunk_merged(copy, kn);

					if (!mo && mn)
					{
						chunk_rewind(copy, kn, "a row moved into a range already merged");
						mn = false;
					}
					copy->skip = !mo && !mn;
					break;
				}
			case LAREDO_CHUNK_TRUNCATE:
				break;
		}
	}
	if (opened)
		laredo_apply_end_step();
}

/* Whether the pipeline leaves the change being applied to its copy's range. */
bool
laredo_chunk_skip(LaredoPipeline *p)
{
	ChunkCopy  *copy;

	if (!p->config->chunked)
		return false;
	copy = chunk_copy_of(p);
	return copy != NULL && copy->skip;
}

/* Forgets what a snapshot shows committed: visible to it, visible to every later one. */
static void
chunk_prune(ChunkSnapshot *snap)
{
	HASH_SEQ_STATUS seq;
	TrackedXact *x;

	for (int i = 0; i < n_unknown; i++)
		if (chunk_xid_visible(snap, unknown_xids[i]))
			unknown_xids[i--] = unknown_xids[--n_unknown];
	hash_seq_init(&seq, tracker);
	while ((x = hash_seq_search(&seq)) != NULL)
	{
		ListCell   *lc;

		if (!chunk_xid_visible(snap, x->xid) || x == current_xact)
			continue;
		foreach(lc, x->touches)
		{
			ChunkTouch *t = lfirst(lc);

			if (t->key)
				pfree(t->key);
			pfree(t);
		}
		list_free(x->touches);
		(void) hash_search(tracker, &x->xid, HASH_REMOVE, NULL);
	}
}

/*
 * Whether the range's read may lack a transaction committed before its
 * position: one not visible to its snapshot that touched a key of it (or
 * that may have, unknown from before this worker started).
 */
static bool
chunk_stale(ChunkCopy *copy, Chunk *ch)
{
	HASH_SEQ_STATUS seq;
	TrackedXact *x;
	bool		stale = ch->stale;

	for (int i = 0; i < n_unknown && !stale; i++)
		if (!chunk_xid_visible(&ch->snap, unknown_xids[i]))
			stale = true;
	if (stale)
		return true;
	hash_seq_init(&seq, tracker);
	while ((x = hash_seq_search(&seq)) != NULL)
	{
		ListCell   *lc;

		if (x->final_lsn >= ch->lsn || chunk_xid_visible(&ch->snap, x->xid))
			continue;
		foreach(lc, x->touches)
		{
			ChunkTouch *t = lfirst(lc);

			if (t->copy == copy && (t->key == NULL || chunk_in_range(copy, t->key, ch->lo_d, ch->hi_d)))
			{
				hash_seq_term(&seq);
				return true;
			}
		}
	}
	return false;
}

/* whether two descriptions of a table read the same columns the same way */
static bool
chunk_same_description(BaselineRelation *a, BaselineRelation *b)
{
	if (a->rel->natts != b->rel->natts || a->rel->remoteid != b->rel->remoteid ||
		(a->rowfilter == NULL) != (b->rowfilter == NULL) ||
		(a->rowfilter && strcmp(a->rowfilter, b->rowfilter) != 0))
		return false;
	for (int i = 0; i < a->rel->natts; i++)
		if (strcmp(a->rel->attnames[i], b->rel->attnames[i]) != 0 ||
			a->rel->atttyps[i] != b->rel->atttyps[i] || a->typmods[i] != b->typmods[i])
			return false;
	return true;
}

/*
 * A copy whose table can no longer be read in key ranges (its partitions
 * no longer all published, or alike): sent back to copy, as
 * resync_pipeline does (laredo_pipeline_copy_again), in the caller's
 * transaction.  The restarted worker copies it as its table allows then
 * (in one snapshot, the target keeping its rows until that copy commits).
 */
static void
chunk_copy_again(ChunkCopy *copy, const char *why)
{
	laredo_pipeline_copy_again(copy->pipeline->config, chunk_source->source_id);
	ereport(LOG,
			(errmsg("laredo source \"%s\": pipeline \"%s\" is copied again: %s can no longer be read in key ranges: %s",
					chunk_source->source_id, copy->pipeline->config->pipeline_id, copy->qualified, why)));
}

/*
 * The table as the source describes it now (its columns may have changed
 * since the copy started; fetched in desc_cxt): each range is read, and
 * merged, with the columns published when it is read.  A new description
 * replaces the copy's, and its context stays (the old one's too: pipelines
 * may still point at it).  False when the table can no longer be read in
 * ranges and the copy was a verification, which has failed.
 */
static bool
chunk_describe(ChunkCopy *copy, BaselineRelation *reading, const char *why, MemoryContext desc_cxt)
{
	/*
	 * A partitioned table's partitions no longer published or keyed alike:
	 * a verification fails, a copy is sent back to copy (both in the
	 * caller's transaction, which commits it).
	 */
	if (reading == NULL && copy->verify_id != 0)
	{
		PushActiveSnapshot(GetTransactionSnapshot());
		chunk_verify_fail(copy->verify_id, copy->pipeline->config->pipeline_id,
						  psprintf("its table can no longer be read in key ranges: %s", why));
		PopActiveSnapshot();
		MemoryContextDelete(desc_cxt);
		copy->done = true;
		if (inflight_copy == copy)
			chunk_drop_from(0);
		return false;
	}
	if (reading == NULL)
	{
		chunk_copy_again(copy, why);
		MemoryContextDelete(desc_cxt);
		copy->done = true;
		if (inflight_copy == copy)
			chunk_drop_from(0);
		return false;
	}
	if (chunk_same_description(reading, copy->br))
	{
		MemoryContextDelete(desc_cxt);
		return true;
	}
	copy->br = reading;
	for (int i = 0; i < copy->nkeys; i++)
	{
		copy->keycol[i] = -1;
		for (int j = 0; j < copy->br->rel->natts; j++)
			if (strcmp(copy->br->rel->attnames[j], copy->keynames[i]) == 0)
				copy->keycol[i] = j;
		if (copy->keycol[i] < 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("key column \"%s\" of %s is no longer published by source \"%s\"",
							copy->keynames[i], copy->qualified, chunk_source->source_id),
					 errhint("Call laredo.resync_pipeline('%s') to copy the table again.",
							 copy->pipeline->config->pipeline_id)));
	}
	ereport(LOG,
			(errmsg("laredo source \"%s\": pipeline \"%s\" reads the new columns of %s from here on",
					chunk_source->source_id, copy->pipeline->config->pipeline_id, copy->qualified)));
	return true;
}

/* One read of a range: what its steps on the source take and give. */
typedef struct ChunkRead
{
	ChunkCopy  *copy;
	Chunk	   *ch;
	XLogRecPtr	received;		/* how far the stream has come */
	BaselineRelation *reading;	/* the relation read (chunk_table_relation), in desc_cxt, */
	const char *why;			/* or why none can be */
	MemoryContext desc_cxt;
	char	   *last_line;
	char	  **last_key;		/* a hash read's last key, as text */
	bool		truncated;		/* ended at chunk_bytes */
	bool		read;			/* false: held back by copy_max_lag */
	char	   *shape;			/* the table's shape around its description; NULL: it changed */
} ChunkRead;

/*
 * Runs one step of a read on the source; an error there (the read's
 * statement_timeout, a lock it waited for, a lost connection) is returned
 * instead of raised, for chunk_read to retry the read.
 */
static ErrorData *
chunk_try(void (*step) (ChunkRead *), ChunkRead *r)
{
	MemoryContext cxt = CurrentMemoryContext;
	ErrorData  *failure = NULL;

	PG_TRY();
	{
		step(r);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(ChunkContext);
		failure = CopyErrorData();
		FlushErrorState();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	return failure;
}

/*
 * What a verification compares of a table target (0.10.0), as its target
 * parsed its options (target_table.c): the columns of its columns option
 * (the key's always among them), or every column the source publishes;
 * with soft_delete only the target's rows not marked deleted (a row deleted
 * on the source stays here, marked); with a row filter, the source's rows
 * it keeps (read, not hashed: the filter runs here).  Metadata columns are
 * the target's own, never published: never compared.
 */
static TableTarget *
chunk_table_target(ChunkCopy *copy)
{
	return (TableTarget *) copy->pipeline->private;
}

/* Whether a verification compares the column of this name. */
static bool
chunk_compared(ChunkCopy *copy, const char *name)
{
	ListCell   *lc;

	if (chunk_table_target(copy)->subset == NIL)
		return true;
	for (int k = 0; k < copy->nkeys; k++)
		if (strcmp(copy->keynames[k], name) == 0)
			return true;
	foreach(lc, chunk_table_target(copy)->subset)
		if (strcmp((char *) lfirst(lc), name) == 0)
			return true;
	return false;
}

/*
 * A verification compares a hash of each range first, and reads a range's
 * rows only when the hashes differ: the count of the range's rows and the
 * sum of a 64-bit hash of each row's text (record_out of the published
 * columns, in the fixed text settings of remote.c, hashed as bytes by
 * hashtextextended in collation "C", the function hash partitioning relies
 * on: the same on every version since 11 on every build of one byte order).
 * The same query on both sides: over (SELECT columns FROM ONLY table WHERE
 * where) t, and with last_key the range's last key as text, for a read
 * limited to its rows.  A hash that differs only costs a read of the rows,
 * which decide (the target's types, encoding or byte order may render or
 * hash a value otherwise); rows that differ and hash the same would need a
 * collision of 64-bit hashes summed.  (A SHA-256 of each row's text, as
 * before, cost the source 2.7 times the CPU for the same ranges.)
 */
static void
chunk_hash_query(StringInfo q, ChunkCopy *copy, LogicalRepRelation *rel, const char *only, const char *from,
				 const char *where, const char *suffix, bool last_key)
{
	/* (the row built column by column: a column named t would be taken for the row) */
	bool		first = true;

	appendStringInfoString(q, "SELECT pg_catalog.count(*)::text, coalesce(pg_catalog.sum("
						   "pg_catalog.hashtextextended(ROW(");
	for (int i = 0; i < rel->natts; i++)
		if (chunk_compared(copy, rel->attnames[i]))
		{
			appendStringInfo(q, "%st.%s", first ? "" : ", ", quote_identifier(rel->attnames[i]));
			first = false;
		}
	appendStringInfoString(q, ")::text COLLATE pg_catalog.\"C\", 0)), 0)::text");
	if (last_key)
		for (int k = 0; k < copy->nkeys; k++)
		{
			appendStringInfo(q, ", (pg_catalog.array_agg(t.%s::text ORDER BY ", quote_identifier(copy->keynames[k]));
			for (int j = 0; j < copy->nkeys; j++)
				appendStringInfo(q, "%st.%s DESC", j ? ", " : "", quote_identifier(copy->keynames[j]));
			appendStringInfoString(q, "))[1]");
		}
	appendStringInfoString(q, " FROM (SELECT ");
	first = true;
	for (int i = 0; i < rel->natts; i++)
		if (chunk_compared(copy, rel->attnames[i]))
		{
			appendStringInfo(q, "%s%s", first ? "" : ", ", quote_identifier(rel->attnames[i]));
			first = false;
		}
	appendStringInfo(q, " FROM %s%s WHERE true%s%s) t", only, from, where, suffix);
}

/* every statement of a read runs under copy_statement_timeout */
static void
chunk_conn_timeout_set(int timeout_ms)
{
	if (chunk_conn_timeout != timeout_ms)
	{
		laredo_remote_command(chunk_conn, psprintf("SET statement_timeout = %d", timeout_ms),
							  chunk_source->source_id);
		chunk_conn_timeout = timeout_ms;
	}
}

/*
 * The first step: the table's description, under the read's timeout (a
 * table locked on the source may hold up the catalog functions it uses).
 */
static void
chunk_read_description(ChunkRead *r)
{
	MemoryContext old;

	chunk_conn_timeout_set(r->copy->timeout_ms);
	old = MemoryContextSwitchTo(r->desc_cxt);
	r->reading = chunk_table_relation(laredo_baseline_describe(chunk_conn, chunk_source, r->copy->table),
									  r->copy->table, &r->why);
	MemoryContextSwitchTo(old);
}

/*
 * The range's conditions, as the source reads them: its rows after lo (and
 * up to hi, given), that the row filter keeps; and their order.
 */
static void
chunk_range_sql(ChunkCopy *copy, Chunk *ch, char **hi, StringInfo where, StringInfo order)
{
	initStringInfo(where);
	if (ch->br->rowfilter)
		appendStringInfo(where, " AND (%s)", ch->br->rowfilter);
	laredo_append_key_range(where, copy->nkeys, copy->keynames, ch->lo, hi, copy->keytypnames);
	initStringInfo(order);
	appendStringInfoString(order, " ORDER BY ");
	for (int i = 0; i < copy->nkeys; i++)
		appendStringInfo(order, "%s%s", i ? ", " : "", quote_identifier(copy->keynames[i]));
}

/*
 * The description of a copy's table between two reads of its shape
 * (chunk_shape_sql): when both are one, the description is that shape's,
 * and a range read in that shape reads the columns described.
 */
static void
chunk_read_shaped_description(ChunkRead *r)
{
	char	   *q = psprintf("SELECT %s", r->copy->shape_sql);
	char	   *before;
	char	   *after;

	chunk_conn_timeout_set(r->copy->timeout_ms);
	before = ((char **) linitial(laredo_remote_query(chunk_conn, q, 1, chunk_source->source_id)))[0];
	chunk_read_description(r);
	after = ((char **) linitial(laredo_remote_query(chunk_conn, q, 1, chunk_source->source_id)))[0];
	r->shape = before != NULL && after != NULL && strcmp(before, after) == 0 ? after : NULL;
}

/*
 * A read's position L from pg_current_wal_insert_lsn()'s text.  The insert
 * position just past a page header is the end of the page before: where
 * the walsender stands once it has sent the record that ends there.
 */
static XLogRecPtr
chunk_position(const char *text)
{
	uint64		lsn = DatumGetLSN(DirectFunctionCall1(pg_lsn_in, CStringGetDatum(text)));

	if (lsn % source_segsize == SizeOfXLogLongPHD)
		lsn -= SizeOfXLogLongPHD;
	else if (lsn % source_blcksz == SizeOfXLogShortPHD)
		lsn -= SizeOfXLogShortPHD;
	return lsn;
}

/* A full range's end: the key of its last row read (keycol: in that row's columns). */
static char **
chunk_last_key(ChunkCopy *copy, Chunk *ch, char *line, const int *keycol)
{
	LogicalRepTupleData tup;
	char	  **key = palloc(sizeof(char *) * copy->nkeys);

	laredo_baseline_tuple_init(&tup, ch->br->rel->natts);
	laredo_baseline_parse_line(line, strlen(line), &tup, copy->qualified);
	for (int i = 0; i < copy->nkeys; i++)
		key[i] = pstrdup(tup.colvalues[keycol[i]].data);
	return key;
}

/* The rates: the next read once this one's rows and bytes are due. */
static void
chunk_rate_wait(ChunkCopy *copy, Chunk *ch)
{
	int64		due_ms;

	if (copy->rate == 0 && copy->bytes_rate == 0)
		return;
	due_ms = copy->rate > 0 ? (int64) ch->nrows * 1000 / copy->rate : 0;
	if (copy->bytes_rate > 0)
		due_ms = Max(due_ms, (int64) ((double) ch->bytes * 1000 / copy->bytes_rate));
	copy->next_read = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), due_ms);
}

/*
 * The rows the next read of copy asks for, after a read of ch that
 * succeeded: twice the last (back up to chunk_rows after a failed read
 * halved it), but no more than chunk_bytes holds at the rows' size so far,
 * so that a range of wide rows is not read whole and mostly thrown away.
 */
static void
chunk_next_read_rows(ChunkCopy *copy, Chunk *ch)
{
	int64		fit = copy->chunk_rows;

	if (ch->nrows > 0 && ch->bytes > 0)
		fit = Max(1, copy->chunk_bytes / Max(1, ch->bytes / ch->nrows));
	copy->read_rows = (int) Min(Min((int64) copy->chunk_rows, fit), (int64) copy->read_rows * 2);
}

/*
 * The start of a range's read, sent as one string whose last statement
 * gives S and L as its first two columns: the read's transaction, the
 * settings given (more SET LOCALs), its local commit (CHUNK_READ_LOCAL),
 * and the table locked before the snapshot is taken (LOCK takes none): a
 * rewrite of it (ALTER TABLE ... TYPE, a volatile default) committed
 * between the snapshot and the read's lock would show the read an empty
 * table, which is not MVCC-safe, and the range would be taken for the
 * table's last, empty.
 */
static void
chunk_read_begin_sql(StringInfo q, ChunkCopy *copy, const char *settings)
{
	appendStringInfo(q, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; %s" CHUNK_READ_LOCAL "; "
					 "LOCK TABLE %s%s IN ACCESS SHARE MODE; "
					 "SELECT pg_catalog.pg_current_snapshot()::text, pg_catalog.pg_current_wal_insert_lsn()::text",
					 settings, CHUNK_ONLY(copy), copy->qualified);
}

/* Ends a read's transaction on chunk_conn, its WAL flushed (CHUNK_READ_FLUSH), in one round trip. */
static void
chunk_read_commit(const char *id)
{
	laredo_remote_command(chunk_conn, psprintf("%sCOMMIT", CHUNK_FLUSH_SQL), id);
}

/*
 * The second step, in the range's own transaction on the source: S and L,
 * then the rows.  Reads nothing (r->read false) when L shows the stream
 * more than copy_max_lag behind the source.
 */
static void
chunk_read_rows(ChunkRead *r)
{
	ChunkCopy  *copy = r->copy;
	Chunk	   *ch = r->ch;
	XLogRecPtr	received = r->received;
	const char *id = chunk_source->source_id;
	LogicalRepRelation *rel = ch->br->rel;
	StringInfoData q;
	StringInfoData where;
	StringInfoData order;
	List	   *rows;
	WalRcvExecResult *res;
	char	   *buf;
	int			len;
	uint64		lsn;

	/* one round trip (the last statement's rows are the answer) */
	initStringInfo(&q);
	chunk_read_begin_sql(&q, copy, "");
	rows = laredo_remote_query(chunk_conn, q.data, 2, id);
	chunk_parse_snapshot(((char **) linitial(rows))[0], &ch->snap);
	lsn = chunk_position(((char **) linitial(rows))[1]);
	ch->lsn = lsn;

	/* the stream far behind the source: no read adds to its load now */
	if (copy->max_lag > 0 && received != InvalidXLogRecPtr && lsn > received &&
		lsn - received > (uint64) copy->max_lag)
	{
		laredo_remote_command(chunk_conn, "COMMIT", id);
		if (!copy->paused)
			ereport(LOG,
					(errmsg("laredo source \"%s\": the copy of pipeline \"%s\" waits: the stream is %llu bytes behind the source (copy_max_lag %lld)",
							id, copy->pipeline->config->pipeline_id,
							(unsigned long long) (lsn - received), (long long) copy->max_lag)));
		copy->paused = true;
		return;
	}
	if (copy->paused)
		ereport(LOG,
				(errmsg("laredo source \"%s\": the copy of pipeline \"%s\" goes on: the stream is %llu bytes behind the source",
						id, copy->pipeline->config->pipeline_id,
						(unsigned long long) (lsn > received ? lsn - received : 0))));
	copy->paused = false;

	chunk_range_sql(copy, ch, !ch->hashed && copy->rows_pending ? copy->rows_hi : NULL, &where, &order);
	appendStringInfo(&order, " LIMIT %d", ch->limit);

	if (ch->hashed)
	{
		initStringInfo(&q);
		chunk_hash_query(&q, copy, rel, CHUNK_ONLY(copy), copy->qualified, where.data, order.data, true);
		rows = laredo_remote_query(chunk_conn, q.data, 2 + copy->nkeys, id);
		ch->nrows = strtoll(((char **) linitial(rows))[0], NULL, 10);
		ch->hash = ((char **) linitial(rows))[1];
		if (ch->nrows > 0)
			r->last_key = ((char **) linitial(rows)) + 2;
		chunk_read_commit(id);
		r->read = true;
		return;
	}

	initStringInfo(&q);
	appendStringInfoString(&q, "COPY (SELECT ");
	for (int i = 0; i < rel->natts; i++)
		appendStringInfo(&q, "%s%s", i ? ", " : "", quote_identifier(rel->attnames[i]));
	appendStringInfo(&q, " FROM %s%s WHERE true%s%s) TO STDOUT", CHUNK_ONLY(copy), copy->qualified, where.data, order.data);
	res = walrcv_exec(chunk_conn, q.data, 0, NULL);
	if (res->status != WALRCV_OK_COPY_OUT)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_EXCEPTION),
				 errmsg("could not read a range of %s from source \"%s\"", copy->qualified, id),
				 errdetail_internal("%s", res->err ? res->err : "unexpected result")));
	while ((len = laredo_baseline_copy_next(chunk_conn, &buf)) >= 0)
	{
		/* past chunk_bytes, the range ends at the last row kept */
		if (r->truncated || ch->bytes + len > copy->chunk_bytes)
		{
			r->truncated = ch->nrows > 0;
			if (r->truncated)
				continue;
		}
		r->last_line = pnstrdup(buf, len);
		ch->lines = lappend(ch->lines, r->last_line);
		ch->nrows++;
		ch->bytes += len;
	}
	chunk_read_commit(id);
	r->read = true;
}

/*
 * A read of a range failed on the source (copy_statement_timeout, a lock
 * it waited for, a lost connection): it is read again after a backoff,
 * with half the rows (the reads grow back after each one that succeeds),
 * on a new connection.  CHUNK_MAX_FAILURES in a row are the worker's error.
 */
static void
chunk_read_failed(ChunkCopy *copy, int sqlerrcode, const char *message)
{
	const char *id = chunk_source->source_id;

	/*
	 * (Counted here, raised at the copy's next turn, between the stream's
	 * transactions: a read fails while a merge or a source transaction is
	 * being applied too, and the ERROR is the source's, not that
	 * transaction's pipeline's.)
	 */
	copy->failed_reads++;
	copy->failures++;
	copy->failure_code = sqlerrcode;
	copy->failure = MemoryContextStrdup(ChunkContext, message);
	copy->read_rows = Max(1, copy->read_rows / 2);
	copy->backoff_ms = Min(Max(copy->backoff_ms * 2, 100), 5000);
	copy->next_read = Max(copy->next_read,
						  TimestampTzPlusMilliseconds(GetCurrentTimestamp(), copy->backoff_ms));
	ereport(LOG,
			(errmsg("laredo source \"%s\": a read of a range of %s failed, read again in %d ms with at most %d rows: %s",
					id, copy->qualified, copy->backoff_ms, copy->read_rows, message)));
}

/*
 * Reads the copy's next range, after its frontier: it becomes the range
 * pending, merged once the stream reaches its position.  received is how
 * far the stream has come (copy_max_lag is measured from it).
 */
static void
chunk_read(ChunkCopy *copy, XLogRecPtr received)
{
	MemoryContext cxt = AllocSetContextCreate(ChunkContext, "laredo chunk", ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	Chunk	   *ch = palloc0(sizeof(Chunk));
	ChunkRead	r;
	ErrorData  *failure;

	ch->cxt = cxt;
	/* the type and literal lookups below: a local transaction, that changes nothing */
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	MemoryContextSwitchTo(cxt);
	if (copy->frontier_d != NULL)
	{
		ch->lo_d = copy->frontier_d;
		ch->lo = copy->frontier;
	}

	/* after a failed read, a new connection (failing to connect is the worker's error) */
	if (chunk_conn == NULL)
		chunk_connect();
	memset(&r, 0, sizeof(r));
	r.copy = copy;
	r.ch = ch;
	r.received = received;
	r.desc_cxt = AllocSetContextCreate(ChunkContext, "laredo chunk description", ALLOCSET_SMALL_SIZES);
	failure = chunk_try(chunk_read_description, &r);
	if (failure != NULL)
		MemoryContextDelete(r.desc_cxt);
	else
	{
		/* a new shape is taken here (a key column gone is the pipeline's error) */
		if (!chunk_describe(copy, r.reading, r.why, r.desc_cxt))
		{
			CommitTransactionCommand();
			MemoryContextSwitchTo(old);
			MemoryContextDelete(cxt);
			return;
		}
		MemoryContextSwitchTo(cxt);
		ch->br = copy->br;
		ch->limit = copy->read_rows;
		/* a verification's range: its hash first, its rows when the hashes differ */
		ch->hashed = copy->verify_id != 0 && !copy->rows_pending && copy->pipeline->where == NULL;
		failure = chunk_try(chunk_read_rows, &r);
	}
	if (failure != NULL || !r.read)
	{
		AbortCurrentTransaction();
		MemoryContextSwitchTo(old);
		MemoryContextDelete(cxt);
		if (failure != NULL)
		{
			/* (its transaction may be left open there) */
			if (chunk_conn != NULL)
			{
				walrcv_disconnect(chunk_conn);
				chunk_conn = NULL;
			}
			chunk_read_failed(copy, failure->sqlerrcode, failure->message);
			FreeErrorData(failure);
		}
		else
			copy->next_read = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), CHUNK_LAG_RECHECK_MS);
		return;
	}
	copy->failures = 0;
	chunk_next_read_rows(copy, ch);

	/* a full range ends at its last key; a short one is the last, open above */
	if (ch->hashed)
	{
		if (ch->nrows == ch->limit)
		{
			ch->hi = r.last_key;
			ch->hi_d = chunk_key_parse(copy, ch->hi);
		}
	}
	else if (!r.truncated && ch->nrows < ch->limit && copy->rows_pending && copy->rows_hi != NULL)
	{
		/* the rows of a range whose hash differed, all of them: it ends where it did */
		ch->hi = palloc(sizeof(char *) * copy->nkeys);
		for (int i = 0; i < copy->nkeys; i++)
			ch->hi[i] = pstrdup(copy->rows_hi[i]);
		ch->hi_d = chunk_key_parse(copy, ch->hi);
	}
	else if (r.truncated || ch->nrows == ch->limit)
	{
		ch->hi = chunk_last_key(copy, ch, r.last_line, copy->keycol);
		ch->hi_d = chunk_key_parse(copy, ch->hi);
	}
	CommitTransactionCommand();
	MemoryContextSwitchTo(old);
	chunk_rate_wait(copy, ch);
	chunk_prune(&ch->snap);
	ch->head_read = true;
	old = MemoryContextSwitchTo(ChunkContext);
	inflight = lappend(inflight, ch);
	inflight_copy = copy;
	MemoryContextSwitchTo(old);
}

/*
 * Reading a copy's ranges while the worker goes on.
 *
 * A copy reads its ranges on plain connections of its own (copy_readers,
 * 2 unless told; 1 under a rate), without waiting for them: a read is
 * asked for, and its rows are taken as they come, between the stream's
 * transactions and while a range before it merges.  So the source reads
 * the next range while this server merges the last one, and with several
 * connections several ranges are read at once.  Each read is the range's
 * own transaction, as in chunk_read: BEGIN REPEATABLE READ; S, L and, with
 * several connections, the range's end (the key of its limit-th row after
 * lo, an index-only read), which lets the next range's read start at once;
 * then COPY of its rows and COMMIT.  A read is asked for only once the one
 * before it has S and L, so the positions come in key order and the ranges
 * merge in that order, each at its own L.
 *
 * A read that fails drops its range and every range after it (they can
 * merge only after it), as does a stale range, a range cut short by the
 * memory cap, and a copy that moves its frontier back.  Their connections
 * are closed (a transaction may be open there) and opened again for the
 * next read.
 */

/* Drops the ranges in flight from the n-th on, closing their readers. */
static void
chunk_drop_from(int n)
{
	while (list_length(inflight) > n)
	{
		Chunk	   *ch = llast(inflight);

		/* (its rows, read already, are read again) */
		if (inflight_copy != NULL && inflight_copy->verify_id == 0)
			inflight_copy->dropped_rows += ch->nrows;
		if (ch->reader != NULL)
		{
			PQfinish(ch->reader->conn);
			ch->reader->conn = NULL;
			ch->reader->step = CHUNK_READER_IDLE;
			ch->reader->ch = NULL;
		}
		inflight = list_delete_last(inflight);
		MemoryContextDelete(ch->cxt);
	}
	if (inflight == NIL)
		inflight_copy = NULL;
}

/* The position of a range in flight. */
static int
chunk_inflight_index(Chunk *ch)
{
	ListCell   *lc;

	foreach(lc, inflight)
		if (lfirst(lc) == ch)
			return foreach_current_index(lc);
	return -1;
}

/*
 * A reader's read failed: its range and those after it are dropped, and
 * the copy reads again after its backoff (chunk_read_failed).
 */
static void
chunk_reader_failed(ChunkReader *reader, ChunkCopy *copy, int sqlerrcode, const char *message)
{
	char	   *why = pchomp(pstrdup(message && message[0] ? message : "the source closed the connection"));
	int			n = reader->ch != NULL ? chunk_inflight_index(reader->ch) : -1;

	if (n >= 0)
		chunk_drop_from(n);
	if (reader->conn != NULL)
	{
		PQfinish(reader->conn);
		reader->conn = NULL;
	}
	reader->step = CHUNK_READER_IDLE;
	reader->ch = NULL;
	if (n > 0)
	{
		/*
		 * A range after the first in flight: dropped, and read again after
		 * the backoff, but the failures in a row count the first range's
		 * reads (one lost connection fails every reader).
		 */
		copy->backoff_ms = Min(Max(copy->backoff_ms * 2, 100), 5000);
		copy->next_read = Max(copy->next_read,
							  TimestampTzPlusMilliseconds(GetCurrentTimestamp(), copy->backoff_ms));
		ereport(LOG,
				(errmsg("laredo source \"%s\": a read of a range of %s failed, read again in %d ms: %s",
						chunk_source->source_id, copy->qualified, copy->backoff_ms, why)));
	}
	else if (copy != NULL)
		chunk_read_failed(copy, sqlerrcode, why);
}

/* An idle reader, connected; NULL: none (all busy, or none more accepted by the source). */
static ChunkReader *
chunk_reader_idle(int wanted)
{
	/* (the source's connections may have come free since) */
	if (chunk_readers_usable < CHUNK_MAX_READERS &&
		TimestampDifferenceExceeds(chunk_readers_refused, GetCurrentTimestamp(), 60000))
		chunk_readers_usable = CHUNK_MAX_READERS;
	for (int i = 0; i < Min(wanted, chunk_readers_usable); i++)
	{
		ChunkReader *reader = &chunk_readers[i];
		MemoryContext cxt = CurrentMemoryContext;

		if (reader->step != CHUNK_READER_IDLE)
			continue;
		if (reader->conn != NULL)
			return reader;
		PG_TRY();
		{
			reader->conn = laredo_connect_sql(chunk_source->connection, chunk_owner,
											  psprintf("laredo chunks %s", chunk_source->source_id),
											  chunk_source->source_id);
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			/* the first reader's connection failing is the worker's error, as the stream's */
			if (i == 0)
				PG_RE_THROW();
			MemoryContextSwitchTo(cxt);
			edata = CopyErrorData();
			FlushErrorState();
			chunk_readers_usable = i;
			chunk_readers_refused = GetCurrentTimestamp();
			ereport(LOG,
					(errmsg("laredo source \"%s\": ranges are read on %d connections: %s",
							chunk_source->source_id, i, edata->message)));
			FreeErrorData(edata);
			return NULL;
		}
		PG_END_TRY();
		return reader;
	}
	return NULL;
}

/* The connections a copy reads on: one under a rate (the rate is per read). */
static int
chunk_readers_of(ChunkCopy *copy)
{
	return copy->rate > 0 || copy->bytes_rate > 0 ? 1 : copy->readers;
}

/*
 * A read's query of what the source's catalog says of the copy's table
 * (its columns, replica identity and publications' columns and filters;
 * for a partitioned table, its partitions' publications and replica
 * identities too), as one text, compared with the one its description was
 * read with.
 */
static char *
chunk_shape_sql(ChunkCopy *copy)
{
	return psprintf("(SELECT pg_catalog.concat_ws('|', c.oid, c.relkind, c.relreplident, c.relnatts, "
					"  (SELECT pg_catalog.array_agg(ROW(p.pubname, p.schemaname, p.tablename, pc.relreplident, "
					"                                   (SELECT pg_catalog.array_agg(i.indkey::text ORDER BY i.indexrelid) "
					"                                    FROM pg_catalog.pg_index i WHERE i.indrelid = pc.oid "
					"                                    AND (i.indisprimary OR i.indisreplident)), "
					"                                   p.attnames, p.rowfilter)::text "
					"                               ORDER BY p.schemaname, p.tablename, p.pubname) "
					"   FROM pg_catalog.pg_publication_tables p "
					"   JOIN pg_catalog.pg_namespace pn ON pn.nspname = p.schemaname "
					"   JOIN pg_catalog.pg_class pc ON pc.relnamespace = pn.oid AND pc.relname = p.tablename "
					"   WHERE p.pubname IN (%s) AND (pc.oid = c.oid OR pc.oid IN "
					"         (SELECT relid FROM pg_catalog.pg_partition_tree(c.oid)))), "
					"  (SELECT pg_catalog.array_agg(l.relid ORDER BY l.relid) "
					"   FROM pg_catalog.pg_partition_tree(c.oid) l WHERE l.isleaf), "
					"  (SELECT pg_catalog.array_agg(ROW(a.attnum, a.attname, a.atttypid, a.atttypmod, a.attgenerated)::text "
					"                               ORDER BY a.attnum) "
					"   FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), "
					"  (SELECT pg_catalog.array_agg(i.indkey::text ORDER BY i.indexrelid) FROM pg_catalog.pg_index i "
					"   WHERE i.indrelid = c.oid AND (i.indisprimary OR i.indisreplident))) "
					" FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
					" WHERE c.oid = pg_catalog.to_regclass(%s))",
					laredo_baseline_publications_sql(chunk_source), quote_literal_cstr(copy->qualified));
}

/*
 * Asks reader for the copy's range after lo (NULL: from the first key).
 * The table is described first, on chunk_conn, as every read does (a
 * column changed is read from here on).  Returns whether the read started.
 */
static bool
chunk_launch(ChunkCopy *copy, ChunkReader *reader, char **lo)
{
	MemoryContext cxt = AllocSetContextCreate(ChunkContext, "laredo chunk", ALLOCSET_DEFAULT_SIZES);
	MemoryContext old;
	Chunk	   *ch;
	ChunkRead	r;
	ErrorData  *failure;
	LogicalRepRelation *rel;
	StringInfoData q;
	StringInfoData where;
	StringInfoData order;
	StringInfoData c;
	bool		with_end = chunk_readers_of(copy) > 1;

	/* (old: the caller's context, not the transaction's, which the commit frees) */
	old = MemoryContextSwitchTo(cxt);
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	MemoryContextSwitchTo(cxt);
	ch = palloc0(sizeof(Chunk));
	ch->cxt = cxt;
	if (lo != NULL)
	{
		ch->lo = palloc(sizeof(char *) * copy->nkeys);
		for (int i = 0; i < copy->nkeys; i++)
			ch->lo[i] = pstrdup(lo[i]);
	}
	if (chunk_conn == NULL)
		chunk_connect();
	if (copy->shape_sql == NULL)
	{
		MemoryContextSwitchTo(ChunkContext);
		copy->shape_sql = chunk_shape_sql(copy);
		MemoryContextSwitchTo(cxt);
	}
	if (copy->shape == NULL)
	{
		memset(&r, 0, sizeof(r));
		r.copy = copy;
		r.ch = ch;
		r.desc_cxt = AllocSetContextCreate(ChunkContext, "laredo chunk description", ALLOCSET_SMALL_SIZES);
		failure = chunk_try(chunk_read_shaped_description, &r);
		if (failure != NULL)
		{
			MemoryContextDelete(r.desc_cxt);
			AbortCurrentTransaction();
			MemoryContextSwitchTo(old);
			MemoryContextDelete(cxt);
			walrcv_disconnect(chunk_conn);
			chunk_conn = NULL;
			chunk_read_failed(copy, failure->sqlerrcode, failure->message);
			FreeErrorData(failure);
			return false;
		}
		/* the description holds for the shape read before and after it, if they are one */
		if (r.shape == NULL)
		{
			/* the table changes meanwhile: described again a little later */
			MemoryContextDelete(r.desc_cxt);
			AbortCurrentTransaction();
			MemoryContextSwitchTo(old);
			MemoryContextDelete(cxt);
			copy->next_read = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 100);
			return false;
		}
		if (!chunk_describe(copy, r.reading, r.why, r.desc_cxt))
		{
			CommitTransactionCommand();
			MemoryContextSwitchTo(old);
			MemoryContextDelete(cxt);
			return false;
		}
		MemoryContextSwitchTo(ChunkContext);
		copy->shape = pstrdup(r.shape);
		MemoryContextSwitchTo(cxt);
	}
	ch->br = copy->br;
	/* (the key's columns in this description: a later one may move them) */
	ch->keycol = palloc(sizeof(int) * copy->nkeys);
	memcpy(ch->keycol, copy->keycol, sizeof(int) * copy->nkeys);
	ch->limit = copy->read_rows;
	rel = ch->br->rel;
	chunk_range_sql(copy, ch, NULL, &where, &order);

	initStringInfo(&q);
	chunk_read_begin_sql(&q, copy,
						 psprintf("SET LOCAL search_path = ''; "
								  "SET LOCAL statement_timeout = %d; "
								  "SET LOCAL idle_in_transaction_session_timeout = 60000; ",
								  copy->timeout_ms));
	appendStringInfo(&q, ", %s", copy->shape_sql);
	if (with_end)
	{
		/*
		 * The limit-th row's key after lo, in the range's order: by the
		 * columns, qualified (an unqualified name would be the output
		 * column's text).
		 */
		appendStringInfoString(&q, ", e.* FROM (SELECT) s LEFT JOIN (SELECT ");
		/* (the columns themselves: their output text is COPY's, where a cast to text may differ) */
		for (int i = 0; i < copy->nkeys; i++)
			appendStringInfo(&q, "%slaredo_range.%s", i ? ", " : "", quote_identifier(copy->keynames[i]));
		appendStringInfo(&q, " FROM %s%s laredo_range WHERE true%s ORDER BY ", CHUNK_ONLY(copy), copy->qualified, where.data);
		for (int i = 0; i < copy->nkeys; i++)
			appendStringInfo(&q, "%slaredo_range.%s", i ? ", " : "", quote_identifier(copy->keynames[i]));
		appendStringInfo(&q, " OFFSET %d LIMIT 1) e ON true", ch->limit - 1);
	}
	initStringInfo(&c);
	appendStringInfo(&c, "%sCOPY (SELECT ", CHUNK_FLUSH_SQL);
	for (int i = 0; i < rel->natts; i++)
		appendStringInfo(&c, "%s%s", i ? ", " : "", quote_identifier(rel->attnames[i]));
	appendStringInfo(&c, " FROM %s%s WHERE true%s%s LIMIT %d) TO STDOUT; COMMIT",
					 CHUNK_ONLY(copy), copy->qualified, where.data, order.data, ch->limit);
	ch->copy_sql = c.data;
	ch->with_end = with_end;
	CommitTransactionCommand();
	MemoryContextSwitchTo(old);

	if (PQsendQuery(reader->conn, q.data) == 0)
	{
		char	   *why = pstrdup(PQerrorMessage(reader->conn));

		MemoryContextDelete(cxt);
		chunk_reader_failed(reader, copy, ERRCODE_CONNECTION_EXCEPTION, why);
		return false;
	}
	ch->reader = reader;
	reader->ch = ch;
	reader->step = CHUNK_READER_HEAD;
	reader->last_heard = GetCurrentTimestamp();
	old = MemoryContextSwitchTo(ChunkContext);
	inflight = lappend(inflight, ch);
	inflight_copy = copy;
	MemoryContextSwitchTo(old);
	return true;
}

/*
 * S and L are in (and the range's end, when asked): the rows are asked for,
 * unless the stream is more than copy_max_lag behind the source, when the
 * read is given up (COMMIT) and the copy looks again in a second.
 */
static void
chunk_reader_head_done(ChunkReader *reader)
{
	Chunk	   *ch = reader->ch;
	ChunkCopy  *copy = inflight_copy;
	const char *id = chunk_source->source_id;

	if (!ch->head_read)
	{
		chunk_reader_failed(reader, copy, ERRCODE_PROTOCOL_VIOLATION, "the source did not give a snapshot");
		return;
	}
	/*
	 * The table's shape in the read's transaction: the one its description
	 * was read with, or the read is given up and the table described again
	 * (a column added, dropped or retyped, the publication's columns or
	 * filter changed), so that no range is read with columns it has no more.
	 */
	if (copy->shape == NULL || strcmp(copy->shape, ch->shape) != 0)
	{
		copy->shape = NULL;
		ereport(LOG,
				(errmsg("laredo source \"%s\": %s changed on the source during its copy, its range is read again",
						id, copy->qualified)));
		chunk_drop_from(chunk_inflight_index(ch));
		return;
	}
	if (copy->max_lag > 0 && chunk_received != InvalidXLogRecPtr && ch->lsn > chunk_received &&
		ch->lsn - chunk_received > (uint64) copy->max_lag)
	{
		if (!copy->paused)
			ereport(LOG,
					(errmsg("laredo source \"%s\": the copy of pipeline \"%s\" waits: the stream is %llu bytes behind the source (copy_max_lag %lld)",
							id, copy->pipeline->config->pipeline_id,
							(unsigned long long) (ch->lsn - chunk_received), (long long) copy->max_lag)));
		copy->paused = true;
		copy->next_read = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), CHUNK_LAG_RECHECK_MS);
		/* (no range was asked for after it: its end is not known yet) */
		ch->reader = NULL;
		reader->ch = NULL;
		chunk_drop_from(chunk_inflight_index(ch));
		if (PQsendQuery(reader->conn, "COMMIT") == 0)
			chunk_reader_failed(reader, NULL, ERRCODE_CONNECTION_EXCEPTION, PQerrorMessage(reader->conn));
		else
			reader->step = CHUNK_READER_END;
		return;
	}
	if (copy->paused)
		ereport(LOG,
				(errmsg("laredo source \"%s\": the copy of pipeline \"%s\" goes on: the stream is %llu bytes behind the source",
						id, copy->pipeline->config->pipeline_id,
						(unsigned long long) (ch->lsn > chunk_received ? ch->lsn - chunk_received : 0))));
	copy->paused = false;
	if (PQsendQuery(reader->conn, ch->copy_sql) == 0)
	{
		chunk_reader_failed(reader, copy, ERRCODE_CONNECTION_EXCEPTION, PQerrorMessage(reader->conn));
		return;
	}
	reader->step = CHUNK_READER_ROWS;
	ch->bound_known = ch->with_end;
	/* what the oldest snapshot in flight shows committed, every later one shows too */
	if (linitial(inflight) == ch)
		chunk_prune(&ch->snap);
}

/* The range's rows are all in, and its transaction committed. */
static void
chunk_reader_rows_done(ChunkReader *reader)
{
	Chunk	   *ch = reader->ch;
	ChunkCopy  *copy = inflight_copy;
	MemoryContext old = MemoryContextSwitchTo(ch->cxt);

	reader->step = CHUNK_READER_IDLE;
	reader->ch = NULL;
	ch->reader = NULL;
	copy->failures = 0;
	chunk_next_read_rows(copy, ch);

	/* a full range ends at its last key; a short one is the last, open above */
	if (ch->truncated || ch->nrows == ch->limit)
		ch->hi = chunk_last_key(copy, ch, ch->last_line, ch->keycol);
	MemoryContextSwitchTo(old);

	/* the next ranges were asked for from the end it was to have: cut short, they go */
	if (ch->bound_known)
	{
		bool		same = (ch->hi == NULL) == (ch->bound == NULL);

		for (int i = 0; same && ch->hi != NULL && i < copy->nkeys; i++)
			same = strcmp(ch->hi[i], ch->bound[i]) == 0;
		if (!same)
			chunk_drop_from(chunk_inflight_index(ch) + 1);
	}
	chunk_rate_wait(copy, ch);
}

/* The first row of the head statement's result: S, L and the range's end. */
static void
chunk_reader_head_row(Chunk *ch, PGresult *res)
{
	ChunkCopy  *copy = inflight_copy;
	MemoryContext old = MemoryContextSwitchTo(ch->cxt);

	chunk_parse_snapshot(PQgetvalue(res, 0, 0), &ch->snap);
	ch->lsn = chunk_position(PQgetvalue(res, 0, 1));
	ch->shape = pstrdup(PQnfields(res) > 2 && !PQgetisnull(res, 0, 2) ? PQgetvalue(res, 0, 2) : "");
	if (ch->with_end && PQnfields(res) == 3 + copy->nkeys && !PQgetisnull(res, 0, 3))
	{
		ch->bound = palloc(sizeof(char *) * copy->nkeys);
		for (int i = 0; i < copy->nkeys; i++)
			ch->bound[i] = pstrdup(PQgetvalue(res, 0, 3 + i));
	}
	ch->head_read = true;
	MemoryContextSwitchTo(old);
}

/*
 * Takes what reader's connection has brought, without waiting.  Returns
 * whether anything came.
 */
static bool
chunk_reader_pump(ChunkReader *reader)
{
	bool		progress = false;

	if (reader->conn == NULL || reader->step == CHUNK_READER_IDLE)
		return false;
	if (PQconsumeInput(reader->conn) == 0)
	{
		chunk_reader_failed(reader, reader->ch ? inflight_copy : NULL, ERRCODE_CONNECTION_FAILURE,
							PQerrorMessage(reader->conn));
		return true;
	}
	for (;;)
	{
		Chunk	   *ch = reader->ch;
		PGresult   *res;

		if (ch != NULL && ch->in_copy)
		{
			char	   *buf;
			int			len = PQgetCopyData(reader->conn, &buf, 1);

			if (len == 0)
				break;			/* no whole row yet */
			progress = true;
			if (len < 0)
			{
				/* the copy ended (or failed: its result says why) */
				ch->in_copy = false;
				continue;
			}
			/* past chunk_bytes, the range ends at the last row kept */
			if (ch->truncated || ch->bytes + len > inflight_copy->chunk_bytes)
				ch->truncated = ch->nrows > 0;
			if (!ch->truncated)
			{
				MemoryContext old = MemoryContextSwitchTo(ch->cxt);

				ch->last_line = pnstrdup(buf, len);
				ch->lines = lappend(ch->lines, ch->last_line);
				ch->nrows++;
				ch->bytes += len;
				MemoryContextSwitchTo(old);
			}
			PQfreemem(buf);
			continue;
		}
		if (PQisBusy(reader->conn))
			break;
		progress = true;
		res = PQgetResult(reader->conn);
		if (res == NULL)
		{
			/* every statement of the string answered */
			switch (reader->step)
			{
				case CHUNK_READER_HEAD:
					chunk_reader_head_done(reader);
					break;
				case CHUNK_READER_ROWS:
					chunk_reader_rows_done(reader);
					return true;
				case CHUNK_READER_END:
					reader->step = CHUNK_READER_IDLE;
					return true;
				case CHUNK_READER_IDLE:
					return true;
			}
			if (reader->step != CHUNK_READER_ROWS)
				return true;
			continue;
		}
		switch (PQresultStatus(res))
		{
			case PGRES_TUPLES_OK:
				if (reader->step == CHUNK_READER_HEAD && ch != NULL && PQntuples(res) == 1)
					chunk_reader_head_row(ch, res);
				break;
			case PGRES_COPY_OUT:
				if (ch != NULL)
					ch->in_copy = true;
				break;
			case PGRES_COMMAND_OK:
				break;
			default:
				{
					const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
					const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
					char	   *why = pstrdup(primary ? primary : PQresultErrorMessage(res)[0] ?
											 PQresultErrorMessage(res) : "unexpected result");
					int			code = state && strlen(state) == 5 ?
						MAKE_SQLSTATE(state[0], state[1], state[2], state[3], state[4]) :
						ERRCODE_CONNECTION_EXCEPTION;

					PQclear(res);
					chunk_reader_failed(reader, ch ? inflight_copy : NULL, code, why);
					return true;
				}
		}
		PQclear(res);
	}
	if (progress)
		reader->last_heard = GetCurrentTimestamp();
	return progress;
}

/*
 * What the first range in flight's snapshot shows committed, every later
 * one's shows too: the tracker forgets it (after a merge, the next range is
 * the first).
 */
static void
chunk_prune_head(void)
{
	if (inflight != NIL && ((Chunk *) linitial(inflight))->head_read)
		chunk_prune(&((Chunk *) linitial(inflight))->snap);
}

/* Takes what every reader has brought; returns whether anything came. */
static bool
chunk_readers_pump(void)
{
	bool		progress = false;

	for (int i = 0; i < CHUNK_MAX_READERS; i++)
		if (chunk_reader_pump(&chunk_readers[i]))
			progress = true;
	return progress;
}

/*
 * Waits for the range in flight ch to come one step on (its S and L, or
 * all its rows), or to be dropped.  The source's statement_timeout ends a
 * read that runs long there; a source that says nothing at all for
 * wal_receiver_timeout past it, since the wait began, is taken for lost.
 */
static void
chunk_reader_wait(Chunk *ch)
{
	ChunkReader *reader = ch->reader;
	bool		head_read = ch->head_read;
	TimestampTz since = GetCurrentTimestamp();

	while (chunk_inflight_index(ch) >= 0 && ch->reader == reader && ch->head_read == head_read)
	{
		long		silent_ms = TimestampDifferenceMilliseconds(Max(reader->last_heard, since), GetCurrentTimestamp());
		long		limit_ms = (long) inflight_copy->timeout_ms + (wal_receiver_timeout > 0 ? wal_receiver_timeout : 60000);

		CHECK_FOR_INTERRUPTS();
		/* (every reader: the others' rows come in meanwhile) */
		if (chunk_readers_pump())
			continue;
		/* (copy_statement_timeout 0: no limit, the source's or this one) */
		if (inflight_copy->timeout_ms > 0 && silent_ms >= limit_ms)
		{
			chunk_reader_failed(reader, inflight_copy, ERRCODE_CONNECTION_FAILURE, "the source did not answer a read of a range");
			return;
		}
		(void) WaitLatchOrSocket(MyLatch, WL_LATCH_SET | WL_SOCKET_READABLE | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								 PQsocket(reader->conn), 1000, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* Whether every copy is done (verifications aside: they read on chunk_conn). */
static bool
chunk_copies_done(void)
{
	ListCell   *lc;

	foreach(lc, chunk_copies)
		if (!((ChunkCopy *) lfirst(lc))->done && ((ChunkCopy *) lfirst(lc))->verify_id == 0)
			return false;
	return true;
}

/*
 * Asks for the copy's next ranges, as many as it reads at once, when its
 * rate allows; returns whether one was asked for.  Only the first copy not
 * done reads, and a verification reads its ranges one at a time on
 * chunk_conn (chunk_read): its next range depends on the last one's hash.
 */
static bool
chunk_launch_more(void)
{
	ChunkCopy  *copy = inflight_copy;
	bool		launched = false;
	ListCell   *lc;

	if (copy == NULL)
		foreach(lc, chunk_copies)
			if (!((ChunkCopy *) lfirst(lc))->done)
			{
				copy = lfirst(lc);
				break;
			}
	if (copy == NULL || copy->done)
		return false;
	if (copy->failures >= CHUNK_MAX_FAILURES)
		ereport(ERROR,
				(errcode(copy->failure_code),
				 errmsg("laredo source \"%s\": %d reads of a range of %s failed in a row: %s",
						chunk_source->source_id, copy->failures, copy->qualified, copy->failure),
				 errhint("A read of a range waits at most copy_statement_timeout (%d ms) on the source: "
						 "raise it with laredo.alter_pipeline('%s', '{\"copy_statement_timeout\": \"5min\"}'), "
						 "or look at what holds the table there.",
						 copy->timeout_ms, copy->pipeline->config->pipeline_id)));
	if (copy->verify_id != 0)
	{
		if (inflight != NIL || GetCurrentTimestamp() < copy->next_read)
			return false;
		chunk_read(copy, chunk_received);
		return inflight != NIL;
	}
	/*
	 * As many ranges being read as the copy has readers, and one more read
	 * and waiting for its position: with one reader, the next range is read
	 * while the last one waits for its merge and merges.
	 */
	while (list_length(inflight) < chunk_readers_of(copy) + 1 && GetCurrentTimestamp() >= copy->next_read)
	{
		char	  **lo = copy->frontier;
		ChunkReader *reader;
		int			reading = 0;

		foreach(lc, inflight)
			if (((Chunk *) lfirst(lc))->reader != NULL)
				reading++;
		if (reading >= chunk_readers_of(copy))
			break;

		if (inflight != NIL)
		{
			Chunk	   *last = llast(inflight);

			/* the next range starts where the last one in flight ends, once that is known */
			if (last->reader == NULL)
				lo = last->hi;
			else if (last->bound_known)
				lo = last->bound;
			else
				break;
			if (lo == NULL)
				break;			/* the last one is open above: the table's last range */
		}
		reader = chunk_reader_idle(chunk_readers_of(copy));
		if (reader == NULL || !chunk_launch(copy, reader, lo))
			break;
		launched = true;
	}
	return launched;
}

/* The range's COPY text lines, for a target's COPY FROM (its callback has no argument). */
static List *merge_lines = NIL;
static ListCell *merge_cell = NULL;
static int	merge_offset = 0;

static int
chunk_lines_read(void *outbuf, int minread, int maxread)
{
	int			done = 0;

	/* the next ranges' rows come in meanwhile (the source would stop on a full socket) */
	(void) chunk_readers_pump();

	while (done < maxread && merge_cell != NULL)
	{
		char	   *line = lfirst(merge_cell);
		int			left = strlen(line + merge_offset);
		int			n = Min(left, maxread - done);

		memcpy((char *) outbuf + done, line + merge_offset, n);
		done += n;
		merge_offset += n;
		if (n == left)
		{
			merge_cell = lnext(merge_lines, merge_cell);
			merge_offset = 0;
		}
	}
	return done;
}

/*
 * A verification starts (again, after a restart: from the first key, its
 * counts and listed keys cleared), in the setup's transaction.
 */
static void
chunk_verify_start(ChunkCopy *copy)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(copy->verify_id)};

	SPI_connect();
	/* (the rows a repair wrote before a restart stay written, and counted in repaired) */
	if (SPI_execute_with_args(psprintf("UPDATE laredo.verifications SET state = 'running', started_at = now(), "
									   "finished_at = NULL, ranges = 0, rows_compared = 0, missing = 0, extra = 0, "
									   "different = 0, rereads = 0, first_lsn = NULL, last_lsn = NULL, error = NULL%s "
									   "WHERE verification_id = $1",
									   laredo_catalog_version() >= LAREDO_CATALOG_0_8_0 ? ", hashed_ranges = 0" : ""),
							  1, types, values, NULL, false, 0) != SPI_OK_UPDATE ||
		SPI_execute_with_args("DELETE FROM laredo.verification_rows WHERE verification_id = $1",
							  1, types, values, NULL, false, 0) != SPI_OK_DELETE ||
		(laredo_catalog_version() >= LAREDO_CATALOG_0_11_0 &&
		 SPI_execute_with_args("DELETE FROM laredo.verification_ranges WHERE verification_id = $1",
							   1, types, values, NULL, false, 0) != SPI_OK_DELETE))
		elog(ERROR, "could not start verification " INT64_FORMAT, copy->verify_id);
	SPI_finish();
	copy->started_at = GetCurrentTimestamp();
}

/* A key that differs: kept to be listed while max_reported allows. */
typedef struct ChunkDifference
{
	const char *kind;			/* missing, extra, different */
	Datum		key;			/* text[] */
} ChunkDifference;

static void
chunk_verify_report(ChunkCopy *copy, List **listed, const char *kind, char **key)
{
	ChunkDifference *d;

	if (copy->reported + list_length(*listed) >= copy->max_reported)
		return;
	d = palloc(sizeof(ChunkDifference));
	d->kind = kind;
	d->key = chunk_text_array_datum(copy, key);
	*listed = lappend(*listed, d);
}

/* A row a repair writes: the source's row (missing, different), or a key (extra). */
typedef struct ChunkRepair
{
	LaredoChunkChange kind;		/* insert, update or delete */
	const char *line;			/* the source's row, COPY text; NULL: a delete */
	char	  **key;			/* a delete's key, as text */
} ChunkRepair;

static List *
chunk_repair_add(List *repairs, ChunkCopy *copy, Chunk *ch, LaredoChunkChange kind,
				 const char *line, char **key)
{
	MemoryContext old = MemoryContextSwitchTo(ch->cxt);
	ChunkRepair *r = palloc0(sizeof(ChunkRepair));

	r->kind = kind;
	r->line = line;
	if (key != NULL)
	{
		r->key = palloc(sizeof(char *) * copy->nkeys);
		for (int k = 0; k < copy->nkeys; k++)
			r->key[k] = pstrdup(key[k]);
	}
	repairs = lappend(repairs, r);
	MemoryContextSwitchTo(old);
	return repairs;
}

/*
 * A repair writes the rows of a range that differ, at the range's position
 * in the local transaction that records it: the source's row where the
 * target lacks it or has it different, and a delete where the target has a
 * row the source lacks.  Through the target's own insert, update and delete,
 * as the stream's changes are written (its indexes, triggers and
 * constraints), each a step of its own; nothing else of the target is
 * written.  A target that refuses a row fails its pipeline, as a refused
 * change does.
 */
static void
chunk_repair_rows(ChunkCopy *copy, Chunk *ch, List *repairs)
{
	LaredoPipeline *p = copy->pipeline;
	LogicalRepRelation *rel = ch->br->rel;
	MemoryContext rowcxt = AllocSetContextCreate(ch->cxt, "laredo repair row", ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(ch->cxt);
	LogicalRepTupleData tup;
	ListCell   *lc;
	int64		row = 0;

	laredo_baseline_tuple_init(&tup, rel->natts);
	laredo_apply_set_applying(p);
	if (p->rel != rel)
	{
		p->routine->relation(p, rel);
		p->rel = rel;
	}
	foreach(lc, repairs)
	{
		ChunkRepair *r = lfirst(lc);

		MemoryContextSwitchTo(rowcxt);
		if (r->line != NULL)
			laredo_baseline_parse_line((char *) r->line, strlen(r->line), &tup, copy->qualified);
		else
		{
			/* the key alone, as a DELETE carries it */
			for (int i = 0; i < rel->natts; i++)
			{
				resetStringInfo(&tup.colvalues[i]);
				tup.colstatus[i] = LOGICALREP_COLUMN_NULL;
			}
			for (int k = 0; k < copy->nkeys; k++)
			{
				appendStringInfoString(&tup.colvalues[copy->keycol[k]], r->key[k]);
				tup.colstatus[copy->keycol[k]] = LOGICALREP_COLUMN_TEXT;
			}
		}
		/* (a metadata column's position and time, a mark of deletion: the range's, as a merge writes) */
		laredo_apply_set_baseline_meta(ch->lsn, rel, ++row);
		laredo_apply_begin_local();
		switch (r->kind)
		{
			case LAREDO_CHUNK_INSERT:
				p->routine->insert(p, &tup);
				break;
			case LAREDO_CHUNK_UPDATE:
				p->routine->update(p, NULL, &tup);
				break;
			default:
				p->routine->delete(p, &tup);
				break;
		}
		laredo_apply_end_step();
		MemoryContextSwitchTo(ch->cxt);
		MemoryContextReset(rowcxt);
	}
	p->touched = true;
	laredo_apply_set_applying(NULL);
	MemoryContextSwitchTo(old);
}

/*
 * Before a range of a verification is compared at L: the target as the
 * stream has left it there (held-back updates written), and with every
 * column the source publishes (schema_changes = ignore may leave one out:
 * nothing to compare with, the verification fails saying so).  *only is
 * how the target's own rows are read: a partitioned target's are in its
 * partitions, an inheritance parent's children are other pipelines'.
 */
static bool
chunk_verify_target_ready(ChunkCopy *copy, Chunk *ch, const char *target, const char **only)
{
	LaredoPipeline *p = copy->pipeline;
	LogicalRepRelation *rel = ch->br->rel;
	Oid			relid;

	laredo_apply_set_applying(p);
	p->routine->xact_end(p);
	laredo_apply_set_applying(NULL);
	CommandCounterIncrement();

	relid = RangeVarGetRelid(makeRangeVar(p->config->target_schema, p->config->target_table, -1),
							 AccessShareLock, true);
	*only = OidIsValid(relid) && get_rel_relkind(relid) == RELKIND_PARTITIONED_TABLE ? "" : "ONLY ";
	for (int i = 0; i < rel->natts; i++)
		if (chunk_compared(copy, rel->attnames[i]) &&
			(!OidIsValid(relid) || get_attnum(relid, rel->attnames[i]) == InvalidAttrNumber))
		{
			chunk_verify_fail(copy->verify_id, p->config->pipeline_id,
							  psprintf("the target %s has no column \"%s\", which the source publishes",
									   target, rel->attnames[i]));
			return false;
		}
	return true;
}

/*
 * A range compared (its rows, or its hash): counted in the verification's
 * row, the keys listed, in the batch's transaction with the position; the
 * verification is done after the last range.  False when it is gone (its
 * pipeline dropped meanwhile).
 */
static bool
chunk_verify_record(ChunkCopy *copy, Chunk *ch, int64 missing, int64 extra, int64 different,
					int64 repaired, List *listed)
{
	bool		v080 = laredo_catalog_version() >= LAREDO_CATALOG_0_8_0;
	int64		totals[6] = {0};
	Oid			types[8] = {INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, LSNOID, INT8OID, INT8OID};
	Datum		values[8];
	ListCell   *lc;

	values[0] = Int64GetDatum(copy->verify_id);
	values[1] = Int64GetDatum(ch->nrows);
	values[2] = Int64GetDatum(missing);
	values[3] = Int64GetDatum(extra);
	values[4] = Int64GetDatum(different);
	values[5] = LSNGetDatum(ch->lsn);
	values[6] = Int64GetDatum(repaired);
	values[7] = Int64GetDatum(ch->hashed ? 1 : 0);
	SPI_connect();
	if (SPI_execute_with_args(psprintf("UPDATE laredo.verifications SET ranges = ranges + 1, "
									   "rows_compared = rows_compared + $2, missing = missing + $3, "
									   "extra = extra + $4, different = different + $5, "
									   "first_lsn = coalesce(first_lsn, $6), last_lsn = $6%s%s "
									   "WHERE verification_id = $1 RETURNING ranges, rows_compared, missing, extra, different%s",
									   ch->hi == NULL ? ", state = 'done', finished_at = now()" : "",
									   v080 ? ", repaired = repaired + $7, hashed_ranges = hashed_ranges + $8" : "",
									   v080 ? ", repaired" : ""),
							  v080 ? 8 : 6, types, values, NULL, false, 0) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "could not record verification " INT64_FORMAT, copy->verify_id);
	/* gone (its pipeline dropped meanwhile): nothing more to compare */
	if (SPI_processed != 1)
	{
		SPI_finish();
		return false;
	}
	for (int i = 0; i < (v080 ? 6 : 5); i++)
	{
		bool		isnull;

		totals[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, i + 1, &isnull));
	}
	/* the keys, once the row is locked by the update (a delete of it waits) */
	foreach(lc, listed)
	{
		ChunkDifference *d = lfirst(lc);
		Oid			rtypes[4] = {INT8OID, TEXTOID, TEXTARRAYOID, LSNOID};
		Datum		rvalues[4] = {Int64GetDatum(copy->verify_id), CStringGetTextDatum(d->kind), d->key,
		LSNGetDatum(ch->lsn)};

		if (SPI_execute_with_args("INSERT INTO laredo.verification_rows (verification_id, kind, key, at_lsn) "
								  "VALUES ($1, $2, $3, $4)", 4, rtypes, rvalues, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not record verification " INT64_FORMAT, copy->verify_id);
	}
	copy->reported += list_length(listed);
	/* the range, when it differs (0.11.0) */
	if (missing + extra + different > 0 && laredo_catalog_version() >= LAREDO_CATALOG_0_11_0)
	{
		Oid			gtypes[7] = {INT8OID, TEXTARRAYOID, TEXTARRAYOID, INT8OID, INT8OID, INT8OID, LSNOID};
		Datum		gvalues[7] = {Int64GetDatum(copy->verify_id), (Datum) 0, (Datum) 0, Int64GetDatum(missing),
		Int64GetDatum(extra), Int64GetDatum(different), LSNGetDatum(ch->lsn)};
		char		gnulls[7] = {' ', 'n', 'n', ' ', ' ', ' ', ' '};

		if (ch->lo != NULL)
		{
			gvalues[1] = chunk_text_array_datum(copy, ch->lo);
			gnulls[1] = ' ';
		}
		if (ch->hi != NULL)
		{
			gvalues[2] = chunk_text_array_datum(copy, ch->hi);
			gnulls[2] = ' ';
		}
		if (SPI_execute_with_args("INSERT INTO laredo.verification_ranges (verification_id, lo, hi, missing, extra, "
								  "different, at_lsn) VALUES ($1, $2, $3, $4, $5, $6, $7)",
								  7, gtypes, gvalues, gnulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not record verification " INT64_FORMAT, copy->verify_id);
	}
	if (ch->hi == NULL)
		ereport(LOG,
				(errmsg("laredo source \"%s\": verification " INT64_FORMAT " of pipeline \"%s\" is done: "
						INT64_FORMAT " ranges, " INT64_FORMAT " rows compared, " INT64_FORMAT " missing, "
						INT64_FORMAT " extra, " INT64_FORMAT " different%s",
						chunk_source->source_id, copy->verify_id, copy->pipeline->config->pipeline_id,
						totals[0], totals[1], totals[2], totals[3], totals[4],
						copy->repair ? psprintf(", " INT64_FORMAT " rows repaired", totals[5]) : "")));
	SPI_finish();
	return true;
}

/* What the hashes of a range said. */
typedef enum ChunkHashOutcome
{
	CHUNK_HASH_EQUAL,
	CHUNK_HASH_DIFFERS,			/* its rows are read next */
	CHUNK_HASH_GONE				/* the verification ended (failed, or its pipeline dropped) */
} ChunkHashOutcome;

/*
 * A range of a verification read as a hash, at its position L: the same
 * hash of the target's rows of (lo, hi] (chunk_hash_query), in the text
 * settings the source's was made in, for this query only.
 */
static ChunkHashOutcome
chunk_verify_hash(ChunkCopy *copy, Chunk *ch)
{
	LaredoPipeline *p = copy->pipeline;
	const char *target = quote_qualified_identifier(p->config->target_schema, p->config->target_table);
	StringInfoData q;
	StringInfoData where;
	const char *only;
	int			nest;
	bool		equal;

	if (!chunk_verify_target_ready(copy, ch, target, &only))
		return CHUNK_HASH_GONE;
	initStringInfo(&where);
	if (chunk_table_target(copy)->soft_delete)
		appendStringInfoString(&where, " AND _deleted_at IS NULL");
	laredo_append_key_range(&where, copy->nkeys, copy->keynames, ch->lo, ch->hi, NULL);
	initStringInfo(&q);
	chunk_hash_query(&q, copy, ch->br->rel, only, target, where.data, "", false);

	nest = NewGUCNestLevel();
	(void) set_config_option("TimeZone", "UTC", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("extra_float_digits", "3", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("bytea_output", "hex", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	SPI_connect();
	/* (not read-only: a new snapshot, that sees what this transaction wrote) */
	if (SPI_execute(q.data, false, 0) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the range of %s", target);
	equal = strtoll(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), NULL, 10) == ch->nrows &&
		strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2), ch->hash) == 0;
	SPI_finish();
	AtEOXact_GUC(true, nest);

	laredo_apply_merge_position(ch->lsn);
	if (!equal)
		return CHUNK_HASH_DIFFERS;
	return chunk_verify_record(copy, ch, 0, 0, 0, 0, NIL) ? CHUNK_HASH_EQUAL : CHUNK_HASH_GONE;
}

/*
 * A range of a verification, at its position L (where a copy would merge
 * it): the target's rows of (lo, hi] are compared with the source's, key
 * by key in key order.  A source row the target lacks is missing, a target
 * row the source lacks is extra, and a pair whose published columns differ
 * is different: the source's text read with the target column's type (as
 * a change is applied) against the stored value, byte for byte.  Counted,
 * and the keys listed, in the batch's transaction, with the position.
 * With repair, the rows that differ are then written (chunk_repair_rows).
 * Returns false when the verification ended here instead (failed, or gone
 * with its pipeline).
 */
static bool
chunk_verify_range(ChunkCopy *copy, Chunk *ch)
{
	LaredoPipeline *p = copy->pipeline;
	LogicalRepRelation *rel = ch->br->rel;
	const char *target = quote_qualified_identifier(p->config->target_schema, p->config->target_table);
	StringInfoData q;
	SPITupleTable *tt;
	TupleDesc	desc;
	uint64		ntarget;
	FmgrInfo   *in;
	Oid		   *ioparam;
	FmgrInfo   *out;
	LogicalRepTupleData tup;
	ListCell   *lc;
	ListCell   *parsed = NULL;	/* the source row whose key skey is */
	Datum	   *skey = NULL;
	uint64		t = 0;
	uint64		tkey_row = PG_UINT64_MAX;	/* the target row whose key tkey_d is */
	Datum	   *tkey_d = NULL;
	int64		missing = 0,
				extra = 0,
				different = 0;
	char	  **tkey = palloc(sizeof(char *) * copy->nkeys);
	List	   *listed = NIL;
	List	   *repairs = NIL;
	bool		goes_on;
	const char *only;

	if (!chunk_verify_target_ready(copy, ch, target, &only))
		return false;

	initStringInfo(&q);
	appendStringInfoString(&q, "SELECT ");
	/* (a column not compared: a NULL in its place) */
	for (int i = 0; i < rel->natts; i++)
		appendStringInfo(&q, "%s%s", i ? ", " : "",
						 chunk_compared(copy, rel->attnames[i]) ? quote_identifier(rel->attnames[i]) : "NULL::pg_catalog.text");
	appendStringInfo(&q, " FROM %s%s WHERE true%s", only, target, chunk_table_target(copy)->soft_delete ? " AND _deleted_at IS NULL" : "");
	laredo_append_key_range(&q, copy->nkeys, copy->keynames, ch->lo, ch->hi, NULL);
	appendStringInfoString(&q, " ORDER BY ");
	for (int i = 0; i < copy->nkeys; i++)
		appendStringInfo(&q, "%s%s", i ? ", " : "", quote_identifier(copy->keynames[i]));

	/* (not read-only: a new snapshot, that sees what this transaction wrote) */
	SPI_connect();
	if (SPI_execute(q.data, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the range of %s", target);
	tt = SPI_tuptable;
	desc = tt->tupdesc;
	ntarget = SPI_processed;
	in = palloc0(sizeof(FmgrInfo) * Max(rel->natts, 1));
	out = palloc0(sizeof(FmgrInfo) * Max(rel->natts, 1));
	ioparam = palloc(sizeof(Oid) * Max(rel->natts, 1));
	for (int i = 0; i < rel->natts; i++)
	{
		Oid			typ = TupleDescAttr(desc, i)->atttypid;
		Oid			func;
		bool		varlena;

		getTypeInputInfo(typ, &func, &ioparam[i]);
		fmgr_info(func, &in[i]);
		getTypeOutputInfo(typ, &func, &varlena);
		fmgr_info(func, &out[i]);
	}
	laredo_baseline_tuple_init(&tup, rel->natts);

	lc = list_head(ch->lines);
	while (lc != NULL || t < ntarget)
	{
		int			cmp;

		/* each row's key read once, when the walk comes to it */
		if (lc != NULL && lc != parsed)
		{
			char	   *line = lfirst(lc);
			char	  **text = palloc(sizeof(char *) * copy->nkeys);

			laredo_baseline_parse_line(line, strlen(line), &tup, copy->qualified);
			/* a source row the pipeline's filter leaves out is not the target's */
			if (!laredo_apply_row_matches(p, rel, &tup))
			{
				lc = lnext(ch->lines, lc);
				continue;
			}
			for (int k = 0; k < copy->nkeys; k++)
				text[k] = tup.colvalues[copy->keycol[k]].data;
			skey = chunk_key_parse(copy, text);
			parsed = lc;
		}
		else if (lc == NULL)
			skey = NULL;
		if (t < ntarget && t != tkey_row)
		{
			for (int k = 0; k < copy->nkeys; k++)
			{
				bool		isnull;
				Datum		d = SPI_getbinval(tt->vals[t], desc, copy->keycol[k] + 1, &isnull);

				tkey[k] = isnull ? NULL : OutputFunctionCall(&out[copy->keycol[k]], d);
			}
			tkey_d = chunk_key_parse(copy, tkey);
			tkey_row = t;
		}
		else if (t >= ntarget)
			tkey_d = NULL;
		cmp = skey == NULL ? 1 : tkey_d == NULL ? -1 : chunk_key_cmp(copy, skey, tkey_d);
		if (cmp < 0)
		{
			char	  **text = palloc(sizeof(char *) * copy->nkeys);

			for (int k = 0; k < copy->nkeys; k++)
				text[k] = pstrdup(tup.colvalues[copy->keycol[k]].data);
			missing++;
			chunk_verify_report(copy, &listed, "missing", text);
			if (copy->repair)
				repairs = chunk_repair_add(repairs, copy, ch, LAREDO_CHUNK_INSERT, lfirst(lc), NULL);
			lc = lnext(ch->lines, lc);
			continue;
		}
		if (cmp > 0)
		{
			extra++;
			chunk_verify_report(copy, &listed, "extra", tkey);
			if (copy->repair)
				repairs = chunk_repair_add(repairs, copy, ch, LAREDO_CHUNK_DELETE, NULL, tkey);
			t++;
			continue;
		}
		for (int i = 0; i < rel->natts; i++)
		{
			bool		isnull;
			Datum		stored = SPI_getbinval(tt->vals[t], desc, i + 1, &isnull);
			bool		snull = tup.colstatus[i] == LOGICALREP_COLUMN_NULL;
			Form_pg_attribute att = TupleDescAttr(desc, i);

			if (!chunk_compared(copy, rel->attnames[i]))
				continue;
			if (snull != isnull ||
				(!isnull &&
				 !datum_image_eq(InputFunctionCall(&in[i], tup.colvalues[i].data, ioparam[i], att->atttypmod),
								 stored, att->attbyval, att->attlen)))
			{
				different++;
				chunk_verify_report(copy, &listed, "different", tkey);
				if (copy->repair)
					repairs = chunk_repair_add(repairs, copy, ch, LAREDO_CHUNK_UPDATE, lfirst(lc), NULL);
				break;
			}
		}
		lc = lnext(ch->lines, lc);
		t++;
	}

	goes_on = chunk_verify_record(copy, ch, missing, extra, different, list_length(repairs), listed);
	SPI_finish();
	if (goes_on && repairs != NIL)
		chunk_repair_rows(copy, ch, repairs);
	laredo_apply_merge_position(ch->lsn);
	return goes_on;
}

/*
 * Merges a range at its position, in the caller's local transaction:
 * the target's rows of the range replaced by the source's, the range and
 * the frontier recorded with them.  A stale range is dropped (read again).
 */
static void
chunk_merge(ChunkCopy *copy, Chunk *ch)
{
	LaredoPipeline *p = copy->pipeline;
	LogicalRepRelation *rel = ch->br->rel;
	const char *id = p->config->pipeline_id;
	bool		last = ch->hi == NULL;
	MemoryContext old = MemoryContextSwitchTo(ch->cxt);
	Oid			types[6] = {TEXTOID, TEXTARRAYOID, INT8OID, LSNOID, BOOLOID, INT8OID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	bool		recorded;

	inflight = list_delete_first(inflight);
	if (inflight == NIL)
		inflight_copy = NULL;
	if (ch->lo != NULL && ch->lo_d == NULL)
		ch->lo_d = chunk_key_parse(copy, ch->lo);
	if (ch->hi != NULL && ch->hi_d == NULL)
		ch->hi_d = chunk_key_parse(copy, ch->hi);
	values[0] = CStringGetTextDatum(id);
	values[1] = (Datum) 0;
	nulls[1] = 'n';
	values[2] = Int64GetDatum(ch->nrows);
	values[3] = LSNGetDatum(ch->lsn);
	if (chunk_stale(copy, ch))
	{
		SPI_connect();
		if (copy->verify_id != 0)
		{
			Oid			vtypes[1] = {INT8OID};
			Datum		vvalues[1] = {Int64GetDatum(copy->verify_id)};

			if (SPI_execute_with_args("UPDATE laredo.verifications SET rereads = rereads + 1 WHERE verification_id = $1",
									  1, vtypes, vvalues, NULL, false, 0) != SPI_OK_UPDATE)
				elog(ERROR, "could not record verification " INT64_FORMAT, copy->verify_id);
		}
		else
		{
			values[2] = Int64GetDatum(ch->nrows + copy->dropped_rows);
			if (SPI_execute_with_args("UPDATE laredo.pipeline_copies SET rereads = rereads + 1, "
									  "reread_rows = reread_rows + $3 WHERE pipeline_id = $1",
									  3, types, values, nulls, false, 0) != SPI_OK_UPDATE)
				elog(ERROR, "could not record the copy of pipeline \"%s\"", id);
			copy->dropped_rows = 0;
		}
		SPI_finish();
		/* the count commits with the batch, whose position may reach L */
		laredo_apply_merge_position(ch->lsn);
		/* read again, but not at once: what made it stale may last (a long transaction) */
		copy->backoff_ms = Min(Max(copy->backoff_ms * 2, 100), 5000);
		copy->next_read = Max(copy->next_read,
							  TimestampTzPlusMilliseconds(GetCurrentTimestamp(), copy->backoff_ms));
		MemoryContextSwitchTo(old);
		MemoryContextDelete(ch->cxt);
		/* the ranges after it were read to merge after it, at their own positions */
		if (inflight_copy == copy)
			chunk_drop_from(0);
		return;
	}

	/* a verification compares the range instead: its hash, then its rows if they differ */
	if (copy->verify_id != 0 && ch->hashed)
	{
		ChunkHashOutcome outcome = chunk_verify_hash(copy, ch);

		MemoryContextSwitchTo(old);
		if (outcome == CHUNK_HASH_DIFFERS)
		{
			MemoryContextSwitchTo(ChunkContext);
			copy->rows_pending = true;
			copy->rows_hi = NULL;
			if (ch->hi != NULL)
			{
				copy->rows_hi = palloc(sizeof(char *) * copy->nkeys);
				for (int i = 0; i < copy->nkeys; i++)
					copy->rows_hi[i] = pstrdup(ch->hi[i]);
			}
			MemoryContextSwitchTo(old);
			copy->backoff_ms = 0;
			MemoryContextDelete(ch->cxt);
			return;
		}
		chunk_advance(copy, ch, outcome == CHUNK_HASH_EQUAL);
		return;
	}
	if (copy->verify_id != 0)
	{
		bool		goes_on = chunk_verify_range(copy, ch);

		MemoryContextSwitchTo(old);
		copy->rows_pending = false;
		chunk_advance(copy, ch, goes_on);
		return;
	}

	/* the target refusing the range is the pipeline's failure, as a refused change is */
	laredo_apply_set_applying(p);
	if (p->rel != rel)
	{
		p->routine->relation(p, rel);
		p->rel = rel;
	}
	p->routine->range_delete(p, copy->nkeys, copy->keynames, ch->lo, ch->hi);
	if (rel->natts > 0 && p->routine->copy != NULL &&
		p->routine->copy_format(p, rel) != LAREDO_COPY_NONE)
	{
		/* a plain mirror takes the range as COPY FROM takes rows: batched, indexes updated per batch */
		merge_cell = list_head(ch->lines);
		merge_lines = ch->lines;
		merge_offset = 0;
		p->counters.baseline_rows += p->routine->copy(p, rel, LAREDO_COPY_TEXT, chunk_lines_read);
		merge_lines = NIL;
	}
	else
	{
		LogicalRepTupleData tup;
		MemoryContext rowcxt = AllocSetContextCreate(ch->cxt, "laredo chunk row", ALLOCSET_DEFAULT_SIZES);
		List	   *pipelines = list_make1(p);
		ListCell   *lc;
		int64		row = 0;

		laredo_baseline_tuple_init(&tup, rel->natts);
		foreach(lc, ch->lines)
		{
			char	   *line = lfirst(lc);

			MemoryContextSwitchTo(rowcxt);
			laredo_baseline_apply_line(pipelines, rel, &tup, line, strlen(line), ch->lsn, ++row, copy->qualified);
			MemoryContextSwitchTo(ch->cxt);
			MemoryContextReset(rowcxt);
		}
	}
	p->touched = true;
	laredo_apply_set_applying(NULL);

	if (ch->hi != NULL)
	{
		values[1] = chunk_text_array_datum(copy, ch->hi);
		nulls[1] = ' ';
	}
	values[4] = BoolGetDatum(last);
	values[5] = Int64GetDatum(copy->next_range);
	SPI_connect();
	/* the reads that failed since the last merge are counted with it (0.7.0) */
	if (SPI_execute_with_args(psprintf("UPDATE laredo.pipeline_copies SET frontier = $2, ranges = ranges + 1, "
									   "rows = rows + $3, last_merge_at = now(), last_merge_lsn = $4, "
									   "finished_at = CASE WHEN $5 THEN now() END, "
									   "reread_rows = reread_rows + %lld%s "
									   "WHERE pipeline_id = $1 RETURNING rows",
									   (long long) copy->dropped_rows,
									   laredo_catalog_version() >= LAREDO_CATALOG_0_7_0 ?
									   psprintf(", failed_reads = failed_reads + %lld", (long long) copy->failed_reads) : ""),
							  5, types, values, nulls, false, 0) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "could not record the copy of pipeline \"%s\"", id);
	copy->failed_reads = 0;
	copy->dropped_rows = 0;
	recorded = SPI_processed == 1;
	if (recorded)
	{
		bool		isnull;
		int64		total = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		Datum		rvalues[6];
		char		rnulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
		Oid			rtypes[6] = {TEXTOID, INT8OID, TEXTARRAYOID, TEXTARRAYOID, INT8OID, LSNOID};

		rvalues[0] = values[0];
		rvalues[1] = values[5];
		if (ch->lo != NULL)
			rvalues[2] = chunk_text_array_datum(copy, ch->lo);
		else
			rnulls[2] = 'n';
		rvalues[3] = values[1];
		rnulls[3] = nulls[1];
		rvalues[4] = values[2];
		rvalues[5] = values[3];
		if (SPI_execute_with_args("INSERT INTO laredo.copy_ranges (pipeline_id, range_no, lo, hi, rows, merged_lsn) "
								  "VALUES ($1, $2, $3, $4, $5, $6)",
								  6, rtypes, rvalues, rnulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not record a range of pipeline \"%s\"", id);
		if (last)
		{
			/* the pipeline streams from here on, as after any copy */
			p->in_baseline = true;
			p->counters.baseline_rows = total;
			p->counters.baseline_started = copy->started_at;
		}
	}
	SPI_finish();
	laredo_apply_merge_position(ch->lsn);

	MemoryContextSwitchTo(old);
	chunk_advance(copy, ch, recorded);
}

/*
 * After a range merged (or compared): its end becomes the frontier, in
 * ChunkContext, and the range's context goes.  recorded false: the copy was
 * started over meanwhile (or the verification ended), nothing more to read.
 */
static void
chunk_advance(ChunkCopy *copy, Chunk *ch, bool recorded)
{
	MemoryContext old = MemoryContextSwitchTo(ChunkContext);

	if (recorded)
	{
		MergedRange *m = palloc0(sizeof(MergedRange));

		m->range_no = copy->next_range++;
		if (ch->hi != NULL)
		{
			copy->frontier = palloc(sizeof(char *) * copy->nkeys);
			for (int i = 0; i < copy->nkeys; i++)
				copy->frontier[i] = pstrdup(ch->hi[i]);
			copy->frontier_d = chunk_key_parse(copy, copy->frontier);
			m->hi_text = copy->frontier;
			m->hi = copy->frontier_d;
		}
		copy->merged = lappend(copy->merged, m);
	}
	copy->backoff_ms = 0;
	/* the last range, or a copy that was started over meanwhile: nothing more to read */
	if (ch->hi == NULL || !recorded)
		copy->done = true;
	MemoryContextSwitchTo(old);
	MemoryContextDelete(ch->cxt);
	if (copy->done && inflight_copy == copy)
		chunk_drop_from(0);
}

/*
 * The worker's turn, between source transactions with no local one open:
 * merges the range waiting at a position the stream has passed (a
 * keepalive at or past it: everything before it was sent), or reads the
 * next range of the first copy not done (received: how far the stream has
 * come).  Returns whether it did
 * something (the worker then does not wait before its next turn).
 */
bool
laredo_chunk_step(XLogRecPtr keepalive_end, XLogRecPtr received)
{
	bool		busy;

	chunk_received = received;
	busy = chunk_readers_pump();
	if (chunk_launch_more())
		busy = true;
	while (inflight != NIL)
	{
		Chunk	   *head = linitial(inflight);

		if (head->reader != NULL || keepalive_end < head->lsn)
			break;
		laredo_apply_begin_local();
		chunk_merge(inflight_copy, head);
		laredo_apply_end_step();
		laredo_apply_flush(false);
		chunk_prune_head();
		busy = true;
		(void) chunk_launch_more();
	}
	/* no copy left: the readers' connections go */
	if (inflight == NIL && chunk_copies_done())
		for (int i = 0; i < CHUNK_MAX_READERS; i++)
			if (chunk_readers[i].conn != NULL && chunk_readers[i].step == CHUNK_READER_IDLE)
			{
				PQfinish(chunk_readers[i].conn);
				chunk_readers[i].conn = NULL;
			}
	return busy;
}

/*
 * How long the worker may wait for the stream before its next turn here
 * (a rate holds the next read back), in milliseconds; -1: no limit.
 */
long
laredo_chunk_wait_ms(void)
{
	ListCell   *lc;

	if (inflight != NIL)
		return -1;
	foreach(lc, chunk_copies)
	{
		ChunkCopy  *copy = lfirst(lc);

		if (!copy->done)
			return Max(0, TimestampDifferenceMilliseconds(GetCurrentTimestamp(), copy->next_read));
	}
	return -1;
}

/*
 * The sockets of the ranges being read, for the worker's wait (at most max;
 * returns how many): their rows wake the worker as the stream's do.
 */
int
laredo_chunk_sockets(pgsocket *socks, int max)
{
	int			n = 0;

	for (int i = 0; i < CHUNK_MAX_READERS && n < max; i++)
		if (chunk_readers[i].conn != NULL && chunk_readers[i].step != CHUNK_READER_IDLE)
			socks[n++] = PQsocket(chunk_readers[i].conn);
	return n;
}

/*
 * Takes what the copy's readers have brought, at any point of the stream
 * (inside a source transaction too: a read left waiting would hold its
 * snapshot on the source, and its statement_timeout would run); returns
 * whether anything came.
 */
bool
laredo_chunk_pump(void)
{
	return chunk_readers_pump();
}
