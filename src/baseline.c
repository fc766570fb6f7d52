/*-------------------------------------------------------------------------
 * baseline.c
 *	  The baseline: a second connection imports the snapshot exported by the
 *	  slot's creation (SET TRANSACTION SNAPSHOT), describes each table from the
 *	  source's own catalog restricted to what its publication sends (column
 *	  list and row filter read back from pg_publication_tables, never user
 *	  text), and copies it with COPY ... TO STDOUT.  Each row goes to the
 *	  table's pipelines through the same interface as streamed inserts, in the
 *	  caller's local transaction, which commits with the slot's consistent
 *	  point as the resume position: nothing lost, nothing applied twice.
 *-------------------------------------------------------------------------
 */
#include "laredo.h"

#include "catalog/pg_class.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "replication/walsender.h"
#include "pgstat.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "apply.h"
#include "baseline.h"
#include "chunk.h"
#include "schema_changes.h"
#include "publication.h"
#include "remote.h"

/* The COPY stream being read by a fast-path load (CopyFrom's callback has no argument). */
static WalReceiverConn *copy_conn = NULL;
static StringInfoData copy_leftover;

/*
 * The next chunk of a COPY ... TO STDOUT from the source, waiting on the
 * latch while none has arrived; -1 at the end of the copy.  The buffer stays
 * valid until the next call.
 */
int
laredo_baseline_copy_next(WalReceiverConn *conn, char **buf)
{
	for (;;)
	{
		pgsocket	fd = PGINVALID_SOCKET;
		int			len;

		CHECK_FOR_INTERRUPTS();
		len = walrcv_receive(conn, buf, &fd);
		if (len != 0)
			return len < 0 ? -1 : len;
		(void) WaitLatchOrSocket(MyLatch,
								 WL_SOCKET_READABLE | WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								 fd, 1000, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* Feeds CopyFrom from the source's COPY ... TO STDOUT. */
static int
baseline_copy_read(void *outbuf, int minread, int maxread)
{
	int			bytesread = 0;

	for (;;)
	{
		int			avail = copy_leftover.len - copy_leftover.cursor;
		char	   *buf;
		int			len;

		if (avail > 0)
		{
			avail = Min(avail, maxread - bytesread);
			memcpy((char *) outbuf + bytesread, copy_leftover.data + copy_leftover.cursor, avail);
			copy_leftover.cursor += avail;
			bytesread += avail;
		}
		if (bytesread >= minread || bytesread >= maxread)
			return bytesread;
		len = laredo_baseline_copy_next(copy_conn, &buf);
		if (len < 0)
			return bytesread;	/* end of the copy */
		copy_leftover.data = buf;
		copy_leftover.len = len;
		copy_leftover.cursor = 0;
	}
}


/*
 * The columns of br's relation (oid, as text) that names (an SQL
 * expression of type name[]) says are published, as the stream sends
 * them: before 18 pg_publication_tables lists generated columns too, which
 * are never sent; from 18 on, stored generated columns are sent (and
 * listed) when the publication has publish_generated_columns = stored or
 * names them in its column list, virtual ones never.  A column of the
 * replica identity (its index, or every column with FULL) is a key.
 */
static void
baseline_describe_columns(WalReceiverConn *conn, LaredoSourceConfig *source, BaselineRelation *br,
						  const char *oid, const char *names)
{
	LogicalRepRelation *rel = br->rel;
	List	   *cols;
	ListCell   *c;
	int			i = 0;

	cols = laredo_remote_query(conn, psprintf(
		"SELECT a.attname::text, a.atttypid::text, "
		"       (i.indkey IS NOT NULL AND a.attnum = ANY (i.indkey))::text, "
		"       a.atttypmod::text, a.attnum::text, c.relnatts::text "
		"FROM pg_catalog.pg_class c "
		"JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
		"LEFT JOIN pg_catalog.pg_index i ON i.indrelid = c.oid AND "
		"     ((c.relreplident = 'd' AND i.indisprimary) OR (c.relreplident = 'i' AND i.indisreplident)) "
		"WHERE c.oid = %s AND (a.attgenerated = '' OR %s) "
		"  AND a.attname = ANY (coalesce(%s, '{}'::pg_catalog.name[])) "
		"ORDER BY a.attnum",
		oid, walrcv_server_version(conn) >= 180000 ? "a.attgenerated = 's'" : "false", names),
		6, source->source_id);
	rel->natts = list_length(cols);
	br->typmods = palloc(sizeof(int32) * Max(rel->natts, 1));
	br->attnums = palloc(sizeof(int16) * Max(rel->natts, 1));
	rel->attnames = palloc(sizeof(char *) * Max(rel->natts, 1));
	rel->atttyps = palloc(sizeof(Oid) * Max(rel->natts, 1));
	foreach(c, cols)
	{
		char	  **col = lfirst(c);

		rel->attnames[i] = col[0];
		rel->atttyps[i] = (Oid) strtoul(col[1], NULL, 10);
		br->typmods[i] = atoi(col[3]);
		br->attnums[i] = (int16) atoi(col[4]);
		br->relnatts = atoi(col[5]);
		if (strcmp(col[2], "true") == 0 || rel->replident == REPLICA_IDENTITY_FULL)
			rel->attkeys = bms_add_member(rel->attkeys, i);
		i++;
	}
}

/* the source's publications, as a list of SQL literals */
char *
laredo_baseline_publications_sql(LaredoSourceConfig *source)
{
	StringInfoData pubs;
	ListCell   *lc;

	initStringInfo(&pubs);
	foreach(lc, laredo_publication_names(source))
		appendStringInfo(&pubs, "%s%s", pubs.len ? ", " : "", quote_literal_cstr(strVal(lfirst(lc))));
	return pubs.data;
}

/*
 * What the copy of a configured table reads, as the built-in table
 * synchronisation reads it, from pg_publication_tables: the table itself
 * (a partitioned one whole, when its publication publishes it as the
 * root), or each of its leaf partitions (a partitioned table published
 * leaf by leaf, each with its own row filter), each described with the
 * published columns, the replica identity and key columns.
 */
List *
laredo_baseline_describe(WalReceiverConn *conn, LaredoSourceConfig *source, LaredoTableConfig *t)
{
	char	   *pubs = laredo_baseline_publications_sql(source);
	List	   *rels;
	List	   *result = NIL;
	ListCell   *lc;
	char	   *qualified = quote_qualified_identifier(t->schema_name, t->table_name);

	rels = laredo_remote_query(conn, psprintf(
		"WITH pt AS (SELECT DISTINCT ON (schemaname, tablename) schemaname, tablename, rowfilter "
		"            FROM pg_catalog.pg_publication_tables WHERE pubname IN (%s)) "
		"SELECT c.oid::text, n.nspname::text, c.relname::text, c.relkind::text, c.relreplident::text, "
		"       pt.rowfilter "
		"FROM (SELECT pg_catalog.to_regclass(%s) AS oid) t, "
		"     LATERAL (SELECT t.oid AS relid, 0 AS level "
		"              UNION SELECT relid, level FROM pg_catalog.pg_partition_tree(t.oid)) tree "
		"JOIN pg_catalog.pg_class c ON c.oid = tree.relid "
		"JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
		"JOIN pt ON pt.schemaname = n.nspname AND pt.tablename = c.relname "
		"ORDER BY tree.level, 2, 3",
		pubs, quote_literal_cstr(qualified)),
		6, source->source_id);
	if (rels == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table %s of source \"%s\" is missing or not published", qualified, source->source_id),
				 errhint("Check that the table exists on the source and is in publication \"%s\".",
						 source->publication)));

	foreach(lc, rels)
	{
		char	  **r = lfirst(lc);
		BaselineRelation *br = palloc0(sizeof(BaselineRelation));
		LogicalRepRelation *rel = palloc0(sizeof(LogicalRepRelation));

		rel->remoteid = (LogicalRepRelId) strtoul(r[0], NULL, 10);
		rel->nspname = r[1];
		rel->relname = r[2];
		rel->replident = r[4][0];
		rel->relkind = RELKIND_RELATION;
		br->rel = rel;
		br->rowfilter = r[5];
		br->only = r[3][0] != RELKIND_PARTITIONED_TABLE;
		baseline_describe_columns(conn, source, br, r[0], psprintf(
			"(SELECT attnames FROM pg_catalog.pg_publication_tables "
			" WHERE pubname IN (%s) AND schemaname = %s AND tablename = %s LIMIT 1)",
			pubs, quote_literal_cstr(r[1]), quote_literal_cstr(r[2])));
		result = lappend(result, br);
	}
	return result;
}

/*
 * A partitioned table published leaf by leaf, described as its root, read
 * whole (as a copy in key ranges reads it): the columns leaf publishes (a
 * partition has its table's columns, by name, perhaps in another order),
 * the root's own replica identity and key, and leaf's row filter.
 */
BaselineRelation *
laredo_baseline_describe_root(WalReceiverConn *conn, LaredoSourceConfig *source, LaredoTableConfig *t,
							  BaselineRelation *leaf)
{
	BaselineRelation *br = palloc0(sizeof(BaselineRelation));
	LogicalRepRelation *rel = palloc0(sizeof(LogicalRepRelation));
	StringInfoData names;
	List	   *root;
	char	  **r;

	root = laredo_remote_query(conn, psprintf(
		"SELECT c.oid::text, c.relreplident::text FROM pg_catalog.pg_class c "
		"WHERE c.oid = pg_catalog.to_regclass(%s) AND c.relkind = 'p'",
		quote_literal_cstr(quote_qualified_identifier(t->schema_name, t->table_name))),
		2, source->source_id);
	if (root == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("partitioned table %s of source \"%s\" is missing",
						quote_qualified_identifier(t->schema_name, t->table_name), source->source_id)));
	r = linitial(root);
	rel->remoteid = (LogicalRepRelId) strtoul(r[0], NULL, 10);
	rel->nspname = t->schema_name;
	rel->relname = t->table_name;
	rel->replident = r[1][0];
	rel->relkind = RELKIND_RELATION;
	br->rel = rel;
	br->rowfilter = leaf->rowfilter;
	br->only = false;
	initStringInfo(&names);
	appendStringInfoString(&names, "ARRAY[");
	for (int i = 0; i < leaf->rel->natts; i++)
		appendStringInfo(&names, "%s%s", i ? ", " : "", quote_literal_cstr(leaf->rel->attnames[i]));
	appendStringInfoString(&names, "]::pg_catalog.name[]");
	baseline_describe_columns(conn, source, br, r[0], names.data);
	return br;
}

/* Decodes one line of COPY text format into a tuple of text values. */
void
laredo_baseline_parse_line(char *line, int len, LogicalRepTupleData *tup, const char *table)
{
	int			col = 0;
	char	   *p = line;
	char	   *end = line + len;

	if (len > 0 && end[-1] == '\n')
		end--;
	/* a table without columns: every row is an empty line */
	if (tup->ncols == 0)
	{
		if (end != p)
			ereport(ERROR,
					(errcode(ERRCODE_PROTOCOL_VIOLATION),
					 errmsg("baseline of %s: a row has more columns than described", table)));
		return;
	}
	for (int i = 0; i < tup->ncols; i++)
		resetStringInfo(&tup->colvalues[i]);
	while (p <= end)
	{
		StringInfo	v;

		if (col >= tup->ncols)
			ereport(ERROR,
					(errcode(ERRCODE_PROTOCOL_VIOLATION),
					 errmsg("baseline of %s: a row has more columns than described", table)));
		v = &tup->colvalues[col];
		if (end - p >= 2 && p[0] == '\\' && p[1] == 'N' && (p + 2 == end || p[2] == '\t'))
		{
			tup->colstatus[col] = LOGICALREP_COLUMN_NULL;
			p += 2;
		}
		else
		{
			tup->colstatus[col] = LOGICALREP_COLUMN_TEXT;
			while (p < end && *p != '\t')
			{
				char		c = *p++;

				if (c == '\\' && p < end)
				{
					c = *p++;
					switch (c)
					{
						case 'b': c = '\b'; break;
						case 'f': c = '\f'; break;
						case 'n': c = '\n'; break;
						case 'r': c = '\r'; break;
						case 't': c = '\t'; break;
						case 'v': c = '\v'; break;
						case 'x':
							{
								int			val = 0;

								for (int k = 0; k < 2 && p < end && isxdigit((unsigned char) *p); k++, p++)
									val = val * 16 + (isdigit((unsigned char) *p) ? *p - '0' :
													  (tolower((unsigned char) *p) - 'a' + 10));
								c = (char) val;
								break;
							}
						default:
							if (c >= '0' && c <= '7')
							{
								int			val = c - '0';

								for (int k = 0; k < 2 && p < end && *p >= '0' && *p <= '7'; k++, p++)
									val = val * 8 + (*p - '0');
								c = (char) val;
							}
							break;
					}
				}
				appendStringInfoChar(v, c);
			}
		}
		col++;
		if (p < end && *p == '\t')
			p++;
		else
			break;
	}
	if (col != tup->ncols)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("baseline of %s: a row has %d columns, %d expected", table, col, tup->ncols)));
}

/* A tuple of natts text values for laredo_baseline_parse_line to fill. */
void
laredo_baseline_tuple_init(LogicalRepTupleData *tup, int natts)
{
	tup->ncols = natts;
	tup->colvalues = palloc0(sizeof(StringInfoData) * Max(natts, 1));
	tup->colstatus = palloc0(Max(natts, 1));
	for (int i = 0; i < natts; i++)
		initStringInfo(&tup->colvalues[i]);
}

/*
 * One copied row (a line of COPY text, row number row of a copy taken at
 * copy_lsn) to each of the pipelines whose filter it passes, row by row:
 * the snapshot copy's way when no target loads the stream whole, and a
 * range's merge when its pipeline is not a plain mirror.
 */
void
laredo_baseline_apply_line(List *pipelines, LogicalRepRelation *rel, LogicalRepTupleData *tup,
						   char *line, int len, XLogRecPtr copy_lsn, int64 row, const char *table)
{
	ListCell   *lc;

	laredo_baseline_parse_line(line, len, tup, table);
	laredo_apply_set_baseline_meta(copy_lsn, rel, row);
	foreach(lc, pipelines)
	{
		LaredoPipeline *p = lfirst(lc);

		if (!laredo_apply_row_matches(p, rel, tup))
			continue;
		p->routine->baseline_row(p, tup);
		p->counters.baseline_rows++;
		p->counters.bytes += len;
		p->touched = true;
	}
}

/* The pipelines of a table that this copy feeds: all, or those not yet copied. */
static List *
baseline_pipelines_of(LaredoSourceConfig *source, LaredoTableConfig *t, bool only_pending)
{
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, source->pipelines)
	{
		LaredoPipelineConfig *p = lfirst(lc);

		if (strcmp(p->source_schema, t->schema_name) == 0 &&
			strcmp(p->source_table, t->table_name) == 0 &&
			!p->chunked && (!only_pending || !p->baselined))
			result = lappend(result, p);
	}
	return result;
}

/* Copies one published relation into the pipelines of its table; returns the rows read. */
static int64
baseline_copy_relation(WalReceiverConn *conn, LaredoSourceConfig *source, BaselineRelation *br,
					   List *pipelines, XLogRecPtr copy_lsn, int64 row)
{
	LogicalRepRelation *rel = br->rel;
	StringInfoData query;
	WalRcvExecResult *res;
	LogicalRepTupleData tup;
	MemoryContext rowcxt;
	MemoryContext old;
	char	   *qualified = quote_qualified_identifier(rel->nspname, rel->relname);
	LaredoCopyFormat format = LAREDO_COPY_NONE;

	/* one plain mirror of the table: it loads the COPY stream as it comes */
	if (list_length(pipelines) == 1 && rel->natts > 0)
	{
		LaredoPipeline *p = linitial(pipelines);

		if (p->routine->copy_format)
			format = p->routine->copy_format(p, rel);
	}

	initStringInfo(&query);
	appendStringInfoString(&query, "COPY (SELECT ");
	for (int i = 0; i < rel->natts; i++)
		appendStringInfo(&query, "%s%s", i ? ", " : "", quote_identifier(rel->attnames[i]));
	appendStringInfo(&query, " FROM %s%s", br->only ? "ONLY " : "", qualified);
	if (br->rowfilter)
		appendStringInfo(&query, " WHERE (%s)", br->rowfilter);
	appendStringInfo(&query, ") TO STDOUT%s", format == LAREDO_COPY_BINARY ? " (FORMAT binary)" : "");

	res = walrcv_exec(conn, query.data, 0, NULL);
	if (res->status != WALRCV_OK_COPY_OUT)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_EXCEPTION),
				 errmsg("could not start the baseline copy of %s from source \"%s\"",
						qualified, source->source_id),
				 errdetail_internal("%s", res->err ? res->err : "unexpected result")));

	if (format != LAREDO_COPY_NONE)
	{
		LaredoPipeline *p = linitial(pipelines);
		uint64		rows;

		copy_conn = conn;
		copy_leftover.data = NULL;
		copy_leftover.len = copy_leftover.cursor = 0;
		rows = p->routine->copy(p, rel, format, baseline_copy_read);
		p->counters.baseline_rows += rows;
		p->touched = true;
		copy_conn = NULL;
		return row + rows;
	}

	laredo_baseline_tuple_init(&tup, rel->natts);
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "laredo baseline row", ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		char	   *buf;
		int			len = laredo_baseline_copy_next(conn, &buf);

		if (len < 0)
			break;
		old = MemoryContextSwitchTo(rowcxt);
		laredo_baseline_apply_line(pipelines, rel, &tup, buf, len, copy_lsn, ++row, qualified);
		MemoryContextSwitchTo(old);
		MemoryContextReset(rowcxt);
	}
	MemoryContextDelete(rowcxt);
	return row;
}

/*
 * Copies a configured table into its pipelines (all, or those not yet
 * copied): the table, or each of its partitions, in the caller's local
 * transaction.
 */
static void
baseline_copy_table(WalReceiverConn *conn, LaredoSourceConfig *source, LaredoTableConfig *t,
					bool only_pending, XLogRecPtr copy_lsn)
{
	int64		row = 0;
	List	   *pipelines = NIL;
	List	   *wanted = baseline_pipelines_of(source, t, only_pending);
	List	   *relations;
	ListCell   *lc;
	ListCell   *r;

	if (wanted == NIL)
		return;
	relations = laredo_baseline_describe(conn, source, t);
	foreach(r, relations)
	{
		BaselineRelation *br = lfirst(r);
		List	   *bound = laredo_apply_relation(br->rel, t);

		if (r == list_head(relations))
		{
			foreach(lc, bound)
			{
				LaredoPipeline *p = lfirst(lc);

				if (list_member_ptr(wanted, p->config))
				{
					pipelines = lappend(pipelines, p);
					p->in_baseline = true;
					p->counters.baseline_started = GetCurrentTimestamp();
				}
			}
			laredo_apply_begin_local();
			foreach(lc, pipelines)
				((LaredoPipeline *) lfirst(lc))->routine->baseline_begin(lfirst(lc));
			/* a copy in ranges left unfinished before (0.6.0) is superseded by this one */
			if (laredo_catalog_version() >= LAREDO_CATALOG_0_6_0)
			{
				SPI_connect();
				foreach(lc, pipelines)
					laredo_chunk_forget(((LaredoPipeline *) lfirst(lc))->config->pipeline_id);
				SPI_finish();
			}
		}
		/* the shape each target is mapped to, which schema changes are compared with */
		foreach(lc, pipelines)
		{
			LaredoPipeline *p = lfirst(lc);

			if (p->routine->shape != NULL)
				laredo_schema_record_baseline(p, br->rel, br->typmods, br->attnums, br->relnatts,
											  r == list_head(relations));
		}
		row = baseline_copy_relation(conn, source, br, pipelines, copy_lsn, row);
	}
	foreach(lc, pipelines)
		((LaredoPipeline *) lfirst(lc))->routine->baseline_end(lfirst(lc));
	/*
	 * The table's OID and a partitioned table's leaves in this snapshot: the
	 * worker notices the table dropped or created again, and partitions
	 * attached or detached, later.
	 */
	if (laredo_catalog_version() >= LAREDO_CATALOG_0_5_0)
	{
		List	   *oid = laredo_remote_query(conn, psprintf("SELECT pg_catalog.to_regclass(%s)::oid::text",
															 quote_literal_cstr(quote_qualified_identifier(t->schema_name, t->table_name))),
											  1, source->source_id);
		List	   *leaves = laredo_remote_query(conn, laredo_partitions_query(list_make1(t)), 3,
												 source->source_id);

		if (oid != NIL && ((char **) linitial(oid))[0] != NULL)
			laredo_source_table_set_oid(source->source_id, t,
										(Oid) strtoul(((char **) linitial(oid))[0], NULL, 10));
		if (leaves != NIL)
			laredo_source_table_set_partitions(source->source_id, t, ((char **) linitial(leaves))[2]);
	}
	PopActiveSnapshot();
	CommandCounterIncrement();
}

/*
 * Copies the source's tables on a connection of its own, inside one
 * repeatable-read transaction on the source, and returns the LSN the copy
 * stands at.  With a snapshot (the one the source's slot exported), every
 * pipeline is fed, and copy_lsn is the slot's consistent point.  Without
 * one, this is a table added to a running source: a temporary slot of its
 * own, created in that transaction (USE_SNAPSHOT), gives the copy its
 * snapshot and the LSN from which the stream takes over, exactly as the
 * built-in table synchronisation does; only the pipelines not yet copied
 * are fed, and the slot vanishes with the connection.
 */
static XLogRecPtr
baseline_copy_all(LaredoSourceConfig *source, const char *snapshot, XLogRecPtr copy_lsn)
{
	WalReceiverConn *conn = laredo_connect(source->connection, source->owner,
										   psprintf("laredo %s %s", snapshot ? "baseline" : "sync",
													source->source_id),
										   source->source_id);

	PG_TRY();
	{
		ListCell   *lc;

		laredo_remote_command(conn, "BEGIN READ ONLY ISOLATION LEVEL REPEATABLE READ", source->source_id);
		if (snapshot)
			laredo_remote_command(conn, psprintf("SET TRANSACTION SNAPSHOT %s", quote_literal_cstr(snapshot)),
								  source->source_id);
		else
			(void) laredo_walrcv_create_slot(conn, psprintf("%.40s_sync_%d", source->slot_name, MyProcPid),
											 true, false, false, CRS_USE_SNAPSHOT, &copy_lsn);
		foreach(lc, source->tables)
			baseline_copy_table(conn, source, lfirst(lc), snapshot == NULL, copy_lsn);
		laredo_remote_command(conn, "COMMIT", source->source_id);
	}
	PG_FINALLY();
	{
		walrcv_disconnect(conn);
	}
	PG_END_TRY();
	return copy_lsn;
}

/* The full baseline, in the snapshot the source's new slot exported. */
void
laredo_baseline_run(LaredoSourceConfig *source, const char *snapshot, XLogRecPtr copy_lsn)
{
	(void) baseline_copy_all(source, snapshot, copy_lsn);
}

/* A table added to a running source; returns the LSN its stream starts at. */
XLogRecPtr
laredo_baseline_sync(LaredoSourceConfig *source)
{
	return baseline_copy_all(source, NULL, InvalidXLogRecPtr);
}
