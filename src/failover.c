/*-------------------------------------------------------------------------
 * failover.c
 *	  Owns what laredo finds of a source's failover setup (sources on
 *	  PostgreSQL 17 or later).  A stateful source's slot is a failover slot
 *	  (the source option failover, on by default; replication.c sets it):
 *	  the source's standbys synchronise it, and after a promotion laredo
 *	  reconnects through its multi-host connection string and resumes from
 *	  its own position, which continuity.c proves.  That works only if the
 *	  servers are set up for it, and nothing on the primary says whether they
 *	  are: this module asks each server the connection string names and says
 *	  what is missing ('ready' when nothing is), for laredo.source() and
 *	  health().
 *
 *	  On the primary: synchronized_standby_slots names the standbys' physical
 *	  slots (without it laredo can receive changes a standby lacks, and a
 *	  promotion of that standby forks before laredo's position).  On each
 *	  standby: sync_replication_slots, hot_standby_feedback, wal_level =
 *	  logical, primary_slot_name (listed on the primary), a dbname in
 *	  primary_conninfo, and laredo's slot synchronised (synced, no longer
 *	  temporary, not invalidated: a temporary synced slot is dropped at
 *	  promotion).
 *-------------------------------------------------------------------------
 */
#include "laredo.h"

#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/varlena.h"

#include "failover.h"
#include "remote.h"

/* What one standby lacks, appended to problems; false when it could not be asked. */
static void
failover_check_standby(LaredoSourceConfig *source, LaredoHost *h, Oid owner, List *listed,
					   StringInfo problems)
{
	MemoryContext cxt = CurrentMemoryContext;
	PGconn	   *volatile conn = NULL;
	List	   *rows = NIL;
	char	  **row;
	const char *where = psprintf("standby %s:%s", h->host, h->port);

	PG_TRY();
	{
		conn = laredo_connect_sql(h->conninfo, owner, psprintf("laredo status %s", source->source_id),
								  source->source_id);
		rows = laredo_sql_query(conn,
								psprintf("SELECT pg_catalog.pg_is_in_recovery()::text, "
										 "pg_catalog.current_setting('sync_replication_slots'), "
										 "pg_catalog.current_setting('hot_standby_feedback'), "
										 "pg_catalog.current_setting('wal_level'), "
										 "pg_catalog.current_setting('primary_slot_name'), "
										 "CASE WHEN pg_catalog.pg_has_role('pg_read_all_settings', 'USAGE') "
										 "     THEN (pg_catalog.current_setting('primary_conninfo') ~ '(^|\\s)dbname\\s*=')::text END, "
										 "(SELECT (synced AND NOT temporary AND invalidation_reason IS NULL)::text "
										 " FROM pg_catalog.pg_replication_slots WHERE slot_name = %s)",
										 quote_literal_cstr(source->slot_name)),
								7, source->source_id);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		if (conn)
			PQfinish(conn);
		appendStringInfo(problems, "%s%s: could not be asked (%s)", problems->len ? "; " : "",
						 where, edata->message);
		return;
	}
	PG_END_TRY();
	PQfinish(conn);
	row = linitial(rows);

#define PROBLEM(...) \
	do { \
		appendStringInfo(problems, "%s%s: ", problems->len ? "; " : "", where); \
		appendStringInfo(problems, __VA_ARGS__); \
	} while (0)

	if (strcmp(row[0], "true") != 0)
	{
		PROBLEM("is not a standby (a second primary?)");
		return;
	}
	if (strcmp(row[1], "on") != 0)
		PROBLEM("sync_replication_slots is off");
	if (strcmp(row[2], "on") != 0)
		PROBLEM("hot_standby_feedback is off");
	if (strcmp(row[3], "logical") != 0)
		PROBLEM("wal_level is %s, not logical", row[3]);
	if (row[4][0] == '\0')
		PROBLEM("primary_slot_name is not set");
	else if (!list_member(listed, makeString(row[4])))
		PROBLEM("its slot %s is not in the primary's synchronized_standby_slots", row[4]);
	if (row[5] == NULL)
		PROBLEM("primary_conninfo cannot be read by this role (it needs pg_read_all_settings)");
	else if (strcmp(row[5], "true") != 0)
		PROBLEM("primary_conninfo names no dbname");
	if (row[6] == NULL)
		PROBLEM("slot %s is not synchronised to it yet", source->slot_name);
	else if (strcmp(row[6], "true") != 0)
		PROBLEM("slot %s is synchronised but not ready (temporary until the standby catches up, or invalidated)",
				source->slot_name);
#undef PROBLEM
}

/*
 * What a failover of the source would find: 'ready', 'no standby: ...'
 * (nothing is set up for one), or what is missing ("; "-separated).  NULL when it does not apply: an ephemeral source, the
 * option off, a source before 17 (its slots cannot follow a failover).
 * primary is the worker's plain connection to the source.
 */
char *
laredo_failover_readiness(LaredoSourceConfig *source, PGconn *primary, Oid owner)
{
	StringInfoData problems;
	List	   *rows;
	char	  **row;
	List	   *listed = NIL;
	int			standbys = 0;
	ListCell   *lc;

	if (strcmp(source->slot_mode, "stateful") != 0 || !source->failover ||
		PQserverVersion(primary) < 170000)
		return NULL;
	initStringInfo(&problems);
	rows = laredo_sql_query(primary,
							psprintf("SELECT (SELECT failover::text FROM pg_catalog.pg_replication_slots WHERE slot_name = %s), "
									 "pg_catalog.current_setting('synchronized_standby_slots')",
									 quote_literal_cstr(source->slot_name)),
							2, source->source_id);
	row = linitial(rows);
	if (row[0] == NULL || strcmp(row[0], "true") != 0)
		appendStringInfo(&problems, "primary: slot %s is not a failover slot", source->slot_name);
	if (row[1][0] == '\0')
		appendStringInfo(&problems, "%sprimary: synchronized_standby_slots is empty, so laredo may receive changes that a standby lacks",
						 problems.len ? "; " : "");
	else
	{
		char	   *raw = pstrdup(row[1]);
		List	   *names;

		if (SplitIdentifierString(raw, ',', &names))
			foreach(lc, names)
				listed = lappend(listed, makeString(lfirst(lc)));
	}

	foreach(lc, laredo_conninfo_hosts(source->connection))
	{
		LaredoHost *h = lfirst(lc);

		/* the server this worker streams from is the primary */
		if (PQhost(primary) && strcmp(h->host, PQhost(primary)) == 0 &&
			PQport(primary) && strcmp(h->port, PQport(primary)) == 0)
			continue;
		standbys++;
		failover_check_standby(source, h, owner, listed, &problems);
	}
	/* nothing set up for a failover: said, not reported by health() */
	if (standbys == 0 && listed == NIL)
		return pstrdup("no standby: the connection string names one server and its synchronized_standby_slots is empty, so a failover would lose the slot");
	if (standbys == 0)
		appendStringInfo(&problems, "%sthe connection string names no standby (list the standbys after the primary, with target_session_attrs=read-write)",
						 problems.len ? "; " : "");
	return problems.len ? problems.data : pstrdup("ready");
}
