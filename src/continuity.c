/*-------------------------------------------------------------------------
 * continuity.c
 *	  Owns the proof that a stream continues where it stopped.  A slot of
 *	  the same name on the server a connection string reaches does not prove
 *	  it: after a failover the new primary's history may have forked before
 *	  laredo's position (changes laredo applied are lost there, and the new
 *	  primary's own changes at those positions would be skipped); a source
 *	  restored from a backup keeps its timeline and slot but not its later
 *	  WAL; another server may answer at the same address.
 *
 *	  So on each connect, before anything is read from the slot, the worker
 *	  asks the source who it is (IDENTIFY_SYSTEM: system identifier, current
 *	  timeline, WAL position) and how its timeline came to be
 *	  (TIMELINE_HISTORY: the switch point of each earlier timeline), and
 *	  compares that with what it recorded when it last connected
 *	  (laredo.source_history): the WAL both histories share ends at the
 *	  first position where they name different timelines.  Switch points are
 *	  compared, not timeline numbers: two promotions of different standbys
 *	  both make timeline 2.
 *
 *	  laredo's position may be past the last change it applied (keepalives
 *	  and unfollowed tables move it; apply.c records the last change's
 *	  position when that happens).  A fork after the position: nothing to
 *	  do.  A fork between the last change and the position: the position
 *	  moves back to the fork, and the new primary's changes after it are
 *	  streamed.  A fork before the last change: a durable ERROR, since the
 *	  targets hold changes the source no longer has.
 *-------------------------------------------------------------------------
 */
#include "laredo.h"

#include "access/xlog.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/pg_lsn.h"

#include "apply.h"
#include "continuity.h"
#include "remote.h"

const char *laredo_slot_lost_cause = NULL;

/* One timeline of a history: WAL before `end` is on `tli` (the current one has no end). */
typedef struct HistoryEntry
{
	TimeLineID	tli;
	XLogRecPtr	end;
} HistoryEntry;

typedef struct History
{
	int			n;				/* earlier timelines, oldest first */
	HistoryEntry *entries;
	TimeLineID	current;
} History;

/*
 * Parses the switch points of a timeline history file (TIMELINE_HISTORY's
 * content: "tli<TAB>switchpoint<TAB>reason" lines, comments) or laredo's
 * own record of them ("tli switchpoint" lines): both read the same way.
 */
static History
history_parse(const char *text, TimeLineID current)
{
	History		h;
	int			cap = 8;
	const char *p = text ? text : "";

	h.n = 0;
	h.entries = palloc(sizeof(HistoryEntry) * cap);
	h.current = current;
	while (*p)
	{
		unsigned int tli;
		uint32		hi,
					lo;
		const char *eol = strchr(p, '\n');

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '#' && sscanf(p, "%u%*[ \t]%X/%X", &tli, &hi, &lo) == 3)
		{
			if (h.n == cap)
				h.entries = repalloc(h.entries, sizeof(HistoryEntry) * (cap *= 2));
			h.entries[h.n].tli = tli;
			h.entries[h.n].end = ((uint64) hi << 32) | lo;
			h.n++;
		}
		if (eol == NULL)
			break;
		p = eol + 1;
	}
	return h;
}

/* laredo's record of a history: one "tli switchpoint" line per earlier timeline. */
static char *
history_text(History *h)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < h->n; i++)
		appendStringInfo(&buf, "%u %X/%X\n", h->entries[i].tli, LSN_FORMAT_ARGS(h->entries[i].end));
	return buf.data;
}

/* The timeline WAL at lsn belongs to in history h (as tliOfPointInHistory). */
static TimeLineID
history_tli_at(History *h, XLogRecPtr lsn)
{
	for (int i = 0; i < h->n; i++)
		if (lsn < h->entries[i].end)
			return h->entries[i].tli;
	return h->current;
}

/*
 * Where two histories of one server part: WAL before the returned position
 * is the same in both; InvalidXLogRecPtr when they never part.  They can
 * part only at a switch point of one of them.
 */
static XLogRecPtr
history_fork(History *a, History *b)
{
	XLogRecPtr	fork = InvalidXLogRecPtr;

	if (history_tli_at(a, 0) != history_tli_at(b, 0))
		return 0;
	for (int side = 0; side < 2; side++)
	{
		History    *h = side == 0 ? a : b;

		for (int i = 0; i < h->n; i++)
		{
			XLogRecPtr	at = h->entries[i].end;

			if (history_tli_at(a, at) != history_tli_at(b, at) &&
				(XLogRecPtrIsInvalid(fork) || at < fork))
				fork = at;
		}
	}
	return fork;
}

static XLogRecPtr
lsn_in(const char *text)
{
	return DatumGetLSN(DirectFunctionCall1(pg_lsn_in, CStringGetDatum(text)));
}

/*
 * The application_name of the replication connection: it names this
 * consumer's server and timeline, so that a slot held by laredo elsewhere
 * (the old primary of this server after a failover, a copy) is told from
 * this worker's own previous session.  The identity comes first: a long
 * source id is what the 63-byte limit cuts.
 */
char *
laredo_continuity_appname(const char *source_id)
{
	char	   *name = psprintf("laredo " UINT64_FORMAT "/%u source %s", GetSystemIdentifier(),
								GetWALInsertionTimeLine(), source_id);

	if (strlen(name) >= NAMEDATALEN)
		name[pg_mbcliplen(name, strlen(name), NAMEDATALEN - 1)] = '\0';
	return name;
}

/*
 * Checks, on a new replication connection, that the source continues the
 * history laredo's position was received on, and records the source's
 * identity and history for the next connect.  Returns the position to
 * stream from: startpos, or the fork point when only positions without
 * changes passed it.  startpos is invalid when a baseline follows (nothing
 * to check, only to record).
 */
XLogRecPtr
laredo_continuity_check(WalReceiverConn *conn, LaredoSourceConfig *source, ReplOriginId origin,
						XLogRecPtr startpos)
{
	const char *id = source->source_id;
	List	   *rows;
	char	  **ident;
	TimeLineID	tli;
	XLogRecPtr	source_end;
	History		now;
	LaredoSourceHistory *before;

	if (laredo_catalog_version() < LAREDO_CATALOG_0_4_0)
		return startpos;		/* nowhere to record it before ALTER EXTENSION UPDATE */

	rows = laredo_remote_query(conn, "IDENTIFY_SYSTEM", 4, id);
	if (list_length(rows) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("source \"%s\" did not identify itself", id)));
	ident = linitial(rows);
	tli = (TimeLineID) strtoul(ident[1], NULL, 10);
	source_end = lsn_in(ident[2]);
	now = history_parse(NULL, tli);
	if (tli > 1)
	{
		rows = laredo_remote_query(conn, psprintf("TIMELINE_HISTORY %u", tli), 2, id);
		if (list_length(rows) == 1)
			now = history_parse(((char **) linitial(rows))[1], tli);
	}

	before = laredo_source_history_load(id);
	if (!XLogRecPtrIsInvalid(startpos) && before != NULL)
	{
		History		then = history_parse(before->history, before->timeline);
		XLogRecPtr	fork;
		XLogRecPtr	last_change = XLogRecPtrIsInvalid(before->last_change) ?
			startpos : before->last_change;
		ListCell   *lc;

		/*
		 * A table added to the running source was copied at its own point,
		 * which may be past the stream's position: its target holds the
		 * source's state there.
		 */
		foreach(lc, source->pipelines)
		{
			LaredoPipelineConfig *p = lfirst(lc);

			if (p->baselined && p->baseline_lsn > last_change)
				last_change = p->baseline_lsn;
		}

		if (strcmp(before->system_identifier, ident[0]) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("source \"%s\" is another server than the one laredo streamed from", id),
					 errdetail("laredo's position %X/%X was received from the server with system identifier %s; the connection now reaches %s.",
							   LSN_FORMAT_ARGS(startpos), before->system_identifier, ident[0]),
					 errhint("If the connection string reaches the wrong server, correct it with laredo.alter_source('%s', connection => ...). If the source was upgraded with pg_upgrade (which keeps its slots from PostgreSQL 17 on) or replaced by a server that continues it, call laredo.accept_source_server('%s'); otherwise laredo.reset_source('%s') takes a new baseline.",
							 id, id, id)));

		fork = history_fork(&then, &now);
		if (!XLogRecPtrIsInvalid(fork) && fork < Max(startpos, last_change))
		{
			if (last_change > fork)
			{
				laredo_slot_lost_cause = "the source's history forked before laredo's last change";
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("source \"%s\" no longer has changes laredo applied: its timeline %u forked from laredo's history at %X/%X",
								id, tli, LSN_FORMAT_ARGS(fork)),
						 errdetail("laredo applied changes up to %X/%X on timeline %u; the source's WAL after %X/%X is on timeline %u, which does not contain them (a failover to a standby that had not received them).",
								   LSN_FORMAT_ARGS(last_change), history_tli_at(&then, last_change - 1),
								   LSN_FORMAT_ARGS(fork), history_tli_at(&now, fork)),
						 errhint("The targets hold changes the source lost. Call laredo.reset_source('%s') to take a new baseline from the source as it is now.",
								 id)));
			}
			ereport(LOG,
					(errmsg("laredo source \"%s\": the source's timeline %u forked at %X/%X, before laredo's position %X/%X; no change was applied after the fork, so the stream resumes from it",
							id, tli, LSN_FORMAT_ARGS(fork), LSN_FORMAT_ARGS(startpos))));
			laredo_apply_rewind_origin(origin, fork);
			startpos = fork;
		}
	}
	if (!XLogRecPtrIsInvalid(startpos) && source_end < startpos)
	{
		laredo_slot_lost_cause = "the source's WAL ends before laredo's position";
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("source \"%s\" is behind laredo's position: its WAL ends at %X/%X, laredo has received up to %X/%X",
						id, LSN_FORMAT_ARGS(source_end), LSN_FORMAT_ARGS(startpos)),
				 errdetail("The source was restored from a backup or a snapshot taken before laredo's position, on the same timeline: the changes after %X/%X are gone, and new ones will take their positions.",
						   LSN_FORMAT_ARGS(source_end)),
				 errhint("Call laredo.reset_source('%s') to take a new baseline from the source as it is now.",
						 id)));
	}
	laredo_source_history_record(id, ident[0], tli, history_text(&now), XLogRecPtrIsInvalid(startpos));
	laredo_apply_set_last_change(before != NULL && !XLogRecPtrIsInvalid(startpos) ?
								 before->last_change : InvalidXLogRecPtr);
	return startpos;
}
