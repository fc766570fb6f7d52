/*-------------------------------------------------------------------------
 * replication.c
 *	  Owns the source's replication slot and the streaming side of the
 *	  replication connection: slot state as the source sees it, creation with
 *	  an exported snapshot, dropping, START_REPLICATION with pgoutput, and
 *	  feedback.  The only place that touches the slot.
 *-------------------------------------------------------------------------
 */
#include "laredo.h"

#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "pgtime.h"
#include "replication/logicalproto.h"
#include "replication/walsender.h"
#include "storage/ipc.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/pg_lsn.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "remote.h"
#include "replication.h"

static XLogRecPtr
lsn_from_text(const char *text)
{
	if (text == NULL)
		return InvalidXLogRecPtr;
	return DatumGetLSN(DirectFunctionCall1(pg_lsn_in, CStringGetDatum(text)));
}

/*
 * What the source says of the slot: one row of LAREDO_SLOT_INFO_COLUMNS text
 * columns, or none.  A source on 17 or later says why it invalidated a slot.
 */
char *
laredo_slot_info_query(const char *slot_name, int server_version)
{
	return psprintf("SELECT s.confirmed_flush_lsn::text, s.restart_lsn::text, s.plugin::text, "
					"s.database::text, s.wal_status, s.active_pid::text, r.application_name, "
					"CASE WHEN pg_catalog.pg_is_in_recovery() THEN NULL "
					"     ELSE (pg_catalog.pg_current_wal_lsn() - s.restart_lsn)::bigint::text END, "
					"%s, %s, "
					"(SELECT a.wait_event FROM pg_catalog.pg_stat_activity a WHERE a.pid = s.active_pid) "
					"FROM pg_catalog.pg_replication_slots s "
					"LEFT JOIN pg_catalog.pg_stat_replication r ON r.pid = s.active_pid "
					"WHERE s.slot_name = %s",
					server_version >= 170000 ? "s.invalidation_reason::text" : "NULL::text",
					server_version >= 170000 ? "s.failover::text" : "NULL::text",
					quote_literal_cstr(slot_name));
}

LaredoSlotInfo *
laredo_slot_info_from_rows(List *rows)
{
	LaredoSlotInfo *info = palloc0(sizeof(LaredoSlotInfo));
	char	  **row;

	info->retained_wal_bytes = -1;
	if (rows == NIL)
		return info;
	row = linitial(rows);
	info->exists = true;
	info->confirmed_flush = lsn_from_text(row[0]);
	info->restart_lsn = lsn_from_text(row[1]);
	info->plugin = row[2];
	info->database = row[3];
	info->wal_status = row[4];
	info->active_pid = row[5] ? atoi(row[5]) : 0;
	info->active_appname = row[6];
	info->retained_wal_bytes = row[7] ? strtoll(row[7], NULL, 10) : -1;
	info->invalidation_reason = row[8];
	info->failover = row[9] && strcmp(row[9], "true") == 0;
	info->wait_event = row[10];
	return info;
}

/* The slot as the source sees it, read on the replication connection. */
LaredoSlotInfo *
laredo_slot_info(WalReceiverConn *conn, const char *source_id, const char *slot_name)
{
	return laredo_slot_info_from_rows(laredo_remote_query(conn,
														  laredo_slot_info_query(slot_name, walrcv_server_version(conn)),
														  LAREDO_SLOT_INFO_COLUMNS, source_id));
}

/*
 * Creates the slot (temporary slots vanish with this session) and returns the name of its exported snapshot,
 * which stays valid while this connection runs no other command.
 */
char *
laredo_slot_create(WalReceiverConn *conn, const char *source_id, const char *slot_name,
				   bool temporary, XLogRecPtr *consistent_lsn)
{
	return laredo_walrcv_create_slot(conn, slot_name, temporary, false, false, CRS_EXPORT_SNAPSHOT,
									 consistent_lsn);
}

/*
 * Makes the slot a failover slot, or an ordinary one (a source on 17 or
 * later): its standbys with sync_replication_slots keep a copy that a
 * promotion keeps.  A slot laredo creates with an exported snapshot is
 * altered after its baseline, since the snapshot stays valid only while
 * its connection runs no other command.
 */
void
laredo_slot_set_failover(WalReceiverConn *conn, const char *source_id, const char *slot_name,
						 bool failover)
{
	laredo_remote_command(conn, psprintf("ALTER_REPLICATION_SLOT %s (FAILOVER %s)",
										 quote_identifier(slot_name), failover ? "true" : "false"),
						  source_id);
}

void
laredo_slot_drop(WalReceiverConn *conn, const char *source_id, const char *slot_name)
{
	laredo_remote_command(conn, psprintf("DROP_REPLICATION_SLOT %s WAIT", quote_identifier(slot_name)),
						  source_id);
}

/*
 * Starts the stream with pgoutput's protocol version 1 on every source
 * version: versions 2 to 4 only add streamed, two-phase and parallel-streamed
 * transactions, which laredo does not ask for, and a source refuses a
 * version newer than its own.  origin "none" (only the changes made on the
 * source itself) is asked of a source on 16 or later, from a server on 16 or
 * later; "any" is pgoutput's default and is not sent, as before 16.
 * binary: values in binary where a type has a send function
 * (laredo_stream_binary_wanted).
 */
void
laredo_stream_start(WalReceiverConn *conn, const char *source_id, const char *slot_name,
					XLogRecPtr startpoint, List *publications, const char *origin,
					bool binary)
{
	WalRcvStreamOptions options;

	memset(&options, 0, sizeof(options));
	if (strcmp(origin, "none") == 0)
	{
		int			version = walrcv_server_version(conn);

		if (version < 160000 || !laredo_stream_options_origin(&options, "none"))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("source \"%s\" cannot leave out the changes its server received by replication", source_id),
					 errdetail("origin = 'none' needs PostgreSQL 16 or later on both sides; the source runs %d, this server %d.",
							   version / 10000, PG_VERSION_NUM / 10000),
					 errhint("Call laredo.alter_source('%s', origin => 'any') to take every change.", source_id)));
	}
	options.logical = true;
	options.slotname = (char *) slot_name;
	options.startpoint = startpoint;
	options.proto.logical.proto_version = LOGICALREP_PROTO_VERSION_NUM;
	options.proto.logical.publication_names = publications;
	options.proto.logical.binary = binary;
	laredo_stream_options_no_streaming(&options);
	options.proto.logical.twophase = false;
	if (!walrcv_startstreaming(conn, &options))
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("source \"%s\" did not start streaming from slot \"%s\"", source_id, slot_name)));
}

/*
 * Types whose binary form is not their value: the OID alias types send the
 * source's OID of a relation, type, function, ... (their text is its name,
 * looked up again here), and the planner's statistics types and
 * pg_node_tree refuse to be received.
 */
static bool
binary_form_refused(Oid typid)
{
	switch (typid)
	{
		case REGPROCOID:
		case REGPROCEDUREOID:
		case REGOPEROID:
		case REGOPERATOROID:
		case REGCLASSOID:
		case REGTYPEOID:
		case REGCONFIGOID:
		case REGDICTIONARYOID:
		case REGNAMESPACEOID:
		case REGROLEOID:
		case REGCOLLATIONOID:
		case PG_NODE_TREEOID:
		case PG_NDISTINCTOID:
		case PG_DEPENDENCIESOID:
		case PG_MCV_LISTOID:
			return true;
		default:
			return false;
	}
}

/*
 * Whether a value of this type sent in binary can be read here: a type built
 * into PostgreSQL (its oid is below FirstGenbkiObjectId, so it names the
 * same type on every version, as pgoutput assumes when it sends no Type
 * message for one) that this server has, with receive and output functions,
 * whose binary form is its value (binary_form_refused; an array, by its
 * element type).  Outside a transaction, it opens one to read the catalog.
 */
bool
laredo_binary_type_ok(Oid typid)
{
	MemoryContext old = CurrentMemoryContext;
	bool		started = !IsTransactionState();
	HeapTuple	tp;
	bool		ok = false;

	if (typid >= FirstGenbkiObjectId || binary_form_refused(typid))
		return false;
	if (started)
		StartTransactionCommand();
	tp = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
	if (HeapTupleIsValid(tp))
	{
		Form_pg_type typ = (Form_pg_type) GETSTRUCT(tp);

		ok = OidIsValid(typ->typreceive) && OidIsValid(typ->typoutput) &&
			!(OidIsValid(typ->typelem) && IsTrueArrayType(typ) && binary_form_refused(typ->typelem));
		ReleaseSysCache(tp);
	}
	if (started)
	{
		CommitTransactionCommand();
		MemoryContextSwitchTo(old);
	}
	return ok;
}

/*
 * Whether to ask the source for values in binary (pgoutput's binary option,
 * the built-in subscriber's binary = true): laredo.binary_stream is on, the
 * source runs 14 or later, and every column of every table its publications
 * hold has a type laredo_binary_type_ok accepts.  pgoutput then sends in
 * binary each value whose type has a send function, which a target column
 * of the same type reads with its receive function: no text is written on
 * the source nor parsed here.  A column whose type differs here, and every
 * consumer of text (row filters, change logs, function targets, the keys
 * of a copy in ranges), goes through the source type's text
 * (laredo_apply_column_text).  A column of another type added while the
 * stream runs stops it (laredo_stream_binary_check), and the next start
 * finds it here and streams in text.  *timezone and *bytea_output: the
 * walsender session's settings that a stream in text prints values under
 * (libpqwalreceiver sets the others); a TimeZone this server does not know
 * makes the stream text.
 */
bool
laredo_stream_binary_wanted(WalReceiverConn *conn, const char *source_id, List *publications,
							char **timezone, char **bytea_output)
{
	StringInfoData query;
	ListCell   *lc;
	List	   *rows;

	if (!laredo_binary_stream || walrcv_server_version(conn) < 140000 || publications == NIL ||
		(MyLaredoSlot && MyLaredoSlot->text_stream))
		return false;
	initStringInfo(&query);
	appendStringInfoString(&query,
						   "SELECT DISTINCT a.atttypid::text "
						   "FROM pg_catalog.pg_publication_tables p "
						   "JOIN pg_catalog.pg_namespace n ON n.nspname = p.schemaname "
						   "JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = p.tablename "
						   "JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 "
						   "AND NOT a.attisdropped WHERE p.pubname IN (");
	foreach(lc, publications)
		appendStringInfo(&query, "%s%s", lc == list_head(publications) ? "" : ", ",
						 quote_literal_cstr(strVal(lfirst(lc))));
	appendStringInfoChar(&query, ')');
	/* the published columns only: a column list leaves the others out (15 on) */
	if (walrcv_server_version(conn) >= 150000)
		appendStringInfoString(&query, " AND a.attname = ANY (p.attnames)");
	rows = laredo_remote_query(conn, query.data, 1, source_id);
	foreach(lc, rows)
	{
		char	   *typid = ((char **) lfirst(lc))[0];

		if (!laredo_binary_type_ok((Oid) strtoul(typid, NULL, 10)))
			return false;
	}
	rows = laredo_remote_query(conn, "SELECT pg_catalog.current_setting('TimeZone'), "
							   "pg_catalog.current_setting('bytea_output')", 2, source_id);
	if (rows == NIL || pg_tzset(((char **) linitial(rows))[0]) == NULL)
		return false;
	*timezone = ((char **) linitial(rows))[0];
	*bytea_output = ((char **) linitial(rows))[1];
	return true;
}

/*
 * In a stream in binary, a published relation whose column has a type that
 * laredo_binary_type_ok refuses (a column added or changed since the stream
 * started): the worker says so and exits, as the built-in's apply worker
 * does when its subscription changes, before it reads a value of that
 * column.  What it applied since its last local commit is rolled back, and
 * the next worker streams in text from the position committed here:
 * nothing is lost.  The source streams in text from then on until this
 * server restarts (or the source stops being configured), since the column
 * may come from WAL written before a change that no catalog shows any more.
 */
void
laredo_stream_binary_check(LogicalRepRelation *rel, const char *source_id)
{
	MemoryContext old = CurrentMemoryContext;
	bool		started = !IsTransactionState();

	/* one transaction for the catalog lookups of all the columns */
	if (started)
		StartTransactionCommand();
	for (int i = 0; i < rel->natts; i++)
	{
		if (laredo_binary_type_ok(rel->atttyps[i]))
			continue;
		if (MyLaredoSlot)
		{
			LWLockAcquire(laredo_shared->lock, LW_EXCLUSIVE);
			MyLaredoSlot->text_stream = true;
			LWLockRelease(laredo_shared->lock);
			laredo_worker_set_state(LAREDO_SOURCE_STARTING);
		}
		ereport(LOG,
				(errmsg("laredo source \"%s\" will stream in text: column \"%s\" of %s.%s has a type laredo reads only as text",
						source_id, rel->attnames[i], rel->nspname, rel->relname),
				 errdetail("The stream was in binary. The column's type (oid %u) is not built into PostgreSQL, or this server cannot receive it in binary. The worker starts again from the last position committed here.",
						   rel->atttyps[i])));
		proc_exit(1);
	}
	if (started)
	{
		CommitTransactionCommand();
		MemoryContextSwitchTo(old);
	}
}

/*
 * Standby status update, as worker.c's send_feedback: flush is only what is
 * durable here.
 */
void
laredo_stream_feedback(WalReceiverConn *conn, XLogRecPtr write_lsn, XLogRecPtr flush_lsn,
					   bool request_reply)
{
	StringInfoData buf;

	initStringInfo(&buf);
	pq_sendbyte(&buf, 'r');
	pq_sendint64(&buf, write_lsn);
	pq_sendint64(&buf, flush_lsn);
	pq_sendint64(&buf, flush_lsn);
	pq_sendint64(&buf, GetCurrentTimestamp());
	pq_sendbyte(&buf, request_reply ? 1 : 0);
	walrcv_send(conn, buf.data, buf.len);
	pfree(buf.data);
}
