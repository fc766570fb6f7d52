/*-------------------------------------------------------------------------
 * source_checks.c
 *	  Owns the source worker's once-a-second look at the source's catalog:
 *	  replica identities that changed, partitions attached or detached, and
 *	  tables dropped or replaced, none of which the stream carries.  The
 *	  three are one query, which the worker sends on its plain connection
 *	  and whose answer it takes on a later turn of its loop, so that the
 *	  stream is never held up by the round trip (source_worker.c); this file
 *	  writes the query and acts on its answer.
 *-------------------------------------------------------------------------
 */
#include "laredo.h"

#include "access/xact.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "remote.h"
#include "source_checks.h"
#include "state.h"

/* The kinds of row the query answers with, in its first column. */
#define CHECK_IDENTITY		'i'
#define CHECK_PARTITIONS	'p'
#define CHECK_TABLE			't'

/* Whether laredo moves tables between its publications (a 0.1.0 catalog cannot). */
static bool
checks_identities_wanted(LaredoSourceConfig *source)
{
	return source->create_publication && source->tables != NIL &&
		laredo_catalog_version() >= LAREDO_CATALOG_0_2_0;
}

/*
 * The one query of the checks: rows of five text columns (kind, schema,
 * table, and two of the kind's own), NULL when this source has nothing to
 * check.
 */
char *
laredo_checks_query(LaredoSourceConfig *source)
{
	StringInfoData q;
	List	   *by_oid = NIL;		/* tables known by OID (copied since catalog 0.5.0) */
	List	   *partitioned = NIL;	/* tables partitioned on the source */
	bool		any = false;
	ListCell   *lc;

	if (laredo_catalog_version() >= LAREDO_CATALOG_0_5_0)
		foreach(lc, source->tables)
		{
			LaredoTableConfig *t = lfirst(lc);

			if (OidIsValid(t->source_oid))
				by_oid = lappend(by_oid, t);
			if (t->partitions != NULL)
				partitioned = lappend(partitioned, t);
		}
	initStringInfo(&q);
	if (checks_identities_wanted(source))
	{
		appendStringInfoString(&q,
							   "SELECT 'i'::text, n.nspname::text, c.relname::text, c.relreplident::text, "
							   "  (SELECT pg_catalog.array_agg(a.attname ORDER BY a.attnum)::text "
							   "   FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a "
							   "     ON a.attrelid = c.oid AND a.attnum = ANY (i.indkey) "
							   "   WHERE i.indrelid = c.oid AND ((c.relreplident = 'd' AND i.indisprimary) "
							   "         OR (c.relreplident = 'i' AND i.indisreplident))) "
							   "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
							   "WHERE (n.nspname, c.relname) IN (");
		laredo_append_table_names(&q, source->tables);
		appendStringInfoChar(&q, ')');
		any = true;
	}
	if (partitioned != NIL)
	{
		appendStringInfo(&q, "%sSELECT 'p'::text, x.*, NULL::text FROM (%s) x",
						 any ? " UNION ALL " : "", laredo_partitions_query(partitioned));
		any = true;
	}
	if (by_oid != NIL)
	{
		appendStringInfo(&q, "%sSELECT 't'::text, v.s, v.t, pg_catalog.to_regclass(pg_catalog.quote_ident(v.s) || '.' || "
						 "pg_catalog.quote_ident(v.t))::oid::text, NULL::text FROM (VALUES ",
						 any ? " UNION ALL " : "");
		laredo_append_table_names(&q, by_oid);
		appendStringInfoString(&q, ") v(s, t)");
		any = true;
	}
	return any ? q.data : NULL;
}

static LaredoTableConfig *
checks_find_table(List *tables, const char *schema_name, const char *table_name)
{
	ListCell   *lc;

	foreach(lc, tables)
	{
		LaredoTableConfig *t = lfirst(lc);

		if (strcmp(t->schema_name, schema_name) == 0 && strcmp(t->table_name, table_name) == 0)
			return t;
	}
	return NULL;
}

/*
 * A source table dropped since its copy, or dropped and created again under
 * its name: DROP TABLE produces nothing in the stream, and a table created
 * again is neither copied nor (until the publication is synchronised)
 * published.  laredo._source_table_replaced copies the new one again, or
 * stops the source with an ERROR for a table added alone and gone (one of an
 * added schema loses its pipeline at the schema's next check).  row: schema,
 * table, its OID now.
 */
static void
checks_table(LaredoSourceConfig *source, char **row)
{
	LaredoTableConfig *t = checks_find_table(source->tables, row[0], row[1]);
	Oid			now = row[2] ? (Oid) strtoul(row[2], NULL, 10) : InvalidOid;

	if (t != NULL && OidIsValid(t->source_oid) && now != t->source_oid)
		laredo_source_table_replaced(source->source_id, t, now);
}

/*
 * Partitions attached to or detached from a partitioned source table since
 * its copy: the stream carries none of the rows that came or went with them
 * (an attached partition's rows are not in the mirror, a detached one's stay
 * there), so its mirrors are copied again (laredo._partitions_changed).
 * row: schema, table, its leaves now.
 */
static void
checks_partitions(LaredoSourceConfig *source, char **row)
{
	LaredoTableConfig *t = checks_find_table(source->tables, row[0], row[1]);

	if (t == NULL || t->partitions == NULL || strcmp(t->partitions, row[2]) == 0)
		return;
	ereport(LOG,
			(errmsg("laredo source \"%s\": the partitions of %s.%s changed (%s, were %s): its mirrors are copied again",
					source->source_id, row[0], row[1], row[2], t->partitions)));
	laredo_source_partitions_changed(source->source_id, t, row[2]);
}

/*
 * The replica identity of a table decides the publication laredo puts it in
 * (publication.c): without a usable one, insert and truncate only, since
 * PostgreSQL refuses UPDATE and DELETE on a table published for them without
 * one.  When the source gives a table one, its updates and deletes have to
 * be published from then on; when it takes it away, the source's own
 * UPDATE and DELETE fail until the table leaves the publication for them.
 * Either way laredo moves it (laredo._replica_identity_changed) and copies
 * it again alone, so nothing is lost; the manager then restarts the worker
 * with the new configuration.  Only for publications laredo manages.  row:
 * schema, table, relreplident, the identity's columns.
 */
static void
checks_identity(LaredoSourceConfig *source, char **row)
{
	static List *reported = NIL;	/* moves that cannot be made, said once */
	LaredoTableConfig *t = checks_find_table(source->tables, row[0], row[1]);
	bool		usable;
	Oid			types[5] = {TEXTOID, NAMEOID, NAMEOID, CHAROID, TEXTOID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', row[3] ? ' ' : 'n'};
	char	   *done = NULL;
	char	   *key;
	MemoryContext cxt = CurrentMemoryContext;

	usable = row[2][0] == REPLICA_IDENTITY_FULL ||
		((row[2][0] == REPLICA_IDENTITY_DEFAULT || row[2][0] == REPLICA_IDENTITY_INDEX) && row[3] != NULL);
	if (t == NULL || usable != t->insert_only)
		return;
	key = psprintf("%s.%s/%s", row[0], row[1], row[2]);
	if (list_member(reported, makeString(key)))
		return;
	values[0] = CStringGetTextDatum(source->source_id);
	values[1] = DirectFunctionCall1(namein, CStringGetDatum(row[0]));
	values[2] = DirectFunctionCall1(namein, CStringGetDatum(row[1]));
	values[3] = CharGetDatum(row[2][0]);
	values[4] = row[3] ? CStringGetTextDatum(row[3]) : (Datum) 0;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
	if (SPI_execute_with_args("SELECT laredo._replica_identity_changed($1, $2, $3, $4, $5::name[])",
							  5, types, values, nulls, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not record the replica identity of %s.%s", row[0], row[1]);
	if (SPI_processed == 1)
	{
		char	   *v = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		done = v ? MemoryContextStrdup(cxt, v) : NULL;
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
	if (done == NULL)
		return;
	if (strncmp(done, "cannot", 6) == 0)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		reported = lappend(reported, makeString(pstrdup(key)));
		MemoryContextSwitchTo(old);
		ereport(WARNING,
				(errmsg("laredo source \"%s\": %s", source->source_id, done),
				 errhint("Its updates and deletes stay unpublished; remove_table and add_table it again with a column list and row filter that fit.")));
		return;
	}
	ereport(LOG, (errmsg("laredo source \"%s\": %s", source->source_id, done)));
	/* what happens next is the new configuration's: the manager restarts the worker */
	t->insert_only = !usable;
}

/*
 * Acts on the answer to laredo_checks_query, outside a transaction:
 * identities first, then partitions, then tables replaced, as each may
 * send a pipeline back to copy.
 */
void
laredo_checks_apply(LaredoSourceConfig *source, List *rows)
{
	const char	kinds[3] = {CHECK_IDENTITY, CHECK_PARTITIONS, CHECK_TABLE};
	MemoryContext cxt = CurrentMemoryContext;

	Assert(!IsTransactionState());
	for (int k = 0; k < 3; k++)
	{
		ListCell   *lc;

		foreach(lc, rows)
		{
			char	  **row = lfirst(lc);

			CHECK_FOR_INTERRUPTS();
			if (row[0] == NULL || row[0][0] != kinds[k])
				continue;
			if (kinds[k] == CHECK_IDENTITY)
				checks_identity(source, row + 1);
			else if (kinds[k] == CHECK_PARTITIONS)
				checks_partitions(source, row + 1);
			else
				checks_table(source, row + 1);
			/* what acted committed a transaction of its own, which leaves TopMemoryContext current */
			MemoryContextSwitchTo(cxt);
		}
	}
}
