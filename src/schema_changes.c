/*-------------------------------------------------------------------------
 * schema_changes.c
 *	  Source tables that change shape.  Logical replication carries no DDL,
 *	  but pgoutput describes a table again (a Relation message) before the
 *	  first change in a new shape, and after any invalidation (an ANALYZE
 *	  too).  Each pipeline records the shape its target was mapped to
 *	  (laredo.pipeline_columns: names, source column numbers, types and
 *	  modifiers); each new description is compared with it, never reacted
 *	  to as such.  The source's catalog, read on a plain connection, tells a
 *	  rename (same column number) from a drop and an add, a newly added
 *	  column (numbered above the table's old relnatts) from a newly
 *	  published one, and what the existing rows hold in an added column (its
 *	  "missing" value, when ADD COLUMN did not rewrite the table).
 *
 *	  With schema_changes = follow, a mirror gets the added columns and the
 *	  widened types, by ALTER TABLE in the local transaction that applies the
 *	  first change of the new shape; a column whose existing rows got values
 *	  the stream never carried (a volatile default, an identity, a newly
 *	  published column) is added and the table copied again alone.  What
 *	  could lose or misplace data (a drop, a rename, a narrowing) stops the
 *	  source with an ERROR that says what to run, unless the mirror already
 *	  matches (the person ran it) or dropped_columns = keep.  A change log
 *	  only records the new shape.  Every change is logged in
 *	  laredo.schema_changes and at LOG level.
 *-------------------------------------------------------------------------
 */
#include "laredo.h"

#include "access/transam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/pg_lsn.h"
#include "utils/syscache.h"

#include "apply.h"
#include "remote.h"
#include "schema_changes.h"
#include "state.h"

/* What the stream's Relation messages said that logicalrep_read_rel drops. */
typedef struct RemoteTypmods
{
	LogicalRepRelId remoteid;
	int			natts;
	int32	   *typmods;
} RemoteTypmods;

typedef struct RemoteType
{
	Oid			remoteid;
	char	   *nspname;
	char	   *typname;
} RemoteType;

static List *remote_typmods = NIL;
static List *remote_types = NIL;

/* A column of the recorded shape. */
typedef struct ShapeColumn
{
	char	   *name;
	int			attnum;			/* on the source; 0: unknown */
	Oid			type;
	int32		typmod;
	bool		seen;			/* still described */
} ShapeColumn;

/* A column of the source table now, from its catalog. */
typedef struct SourceColumn
{
	char	   *name;
	int			attnum;
	Oid			type;
	int32		typmod;
	bool		notnull;
	bool		identity;
	bool		generated;
	bool		hasdef;
	char	   *missing;		/* what rows older than the column hold; NULL: unknown or none */
	bool		hasmissing;
	char	   *collnsp;		/* its collation's schema and name, when not its type's; else NULL */
	char	   *collname;
} SourceColumn;

typedef struct SourceShape
{
	int			relnatts;
	List	   *columns;		/* of SourceColumn * */
} SourceShape;

void
laredo_schema_note_relation(StringInfo s, MemoryContext cxt)
{
	StringInfoData m = *s;
	LogicalRepRelId remoteid = pq_getmsgint(&m, 4);
	RemoteTypmods *e = NULL;
	ListCell   *lc;
	int			natts;

	(void) pq_getmsgstring(&m);	/* nspname */
	(void) pq_getmsgstring(&m);	/* relname */
	(void) pq_getmsgbyte(&m);	/* replica identity */
	natts = pq_getmsgint(&m, 2);
	foreach(lc, remote_typmods)
		if (((RemoteTypmods *) lfirst(lc))->remoteid == remoteid)
			e = lfirst(lc);
	if (e == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);

		e = palloc0(sizeof(RemoteTypmods));
		e->remoteid = remoteid;
		remote_typmods = lappend(remote_typmods, e);
		MemoryContextSwitchTo(old);
	}
	e->natts = natts;
	e->typmods = MemoryContextAlloc(cxt, sizeof(int32) * Max(natts, 1));
	for (int i = 0; i < natts; i++)
	{
		(void) pq_getmsgbyte(&m);	/* flags */
		(void) pq_getmsgstring(&m); /* name */
		(void) pq_getmsgint(&m, 4); /* type */
		e->typmods[i] = (int32) pq_getmsgint(&m, 4);
	}
}

void
laredo_schema_note_type(LogicalRepTyp *typ, MemoryContext cxt)
{
	RemoteType *e = NULL;
	ListCell   *lc;

	foreach(lc, remote_types)
		if (((RemoteType *) lfirst(lc))->remoteid == typ->remoteid)
			e = lfirst(lc);
	if (e == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);

		e = palloc0(sizeof(RemoteType));
		e->remoteid = typ->remoteid;
		remote_types = lappend(remote_types, e);
		MemoryContextSwitchTo(old);
	}
	e->nspname = MemoryContextStrdup(cxt, typ->nspname);
	e->typname = MemoryContextStrdup(cxt, typ->typname);
}

static int32
remote_typmod(LogicalRepRelation *rel, int i)
{
	ListCell   *lc;

	foreach(lc, remote_typmods)
	{
		RemoteTypmods *e = lfirst(lc);

		if (e->remoteid == rel->remoteid && i < e->natts && e->natts == rel->natts)
			return e->typmods[i];
	}
	return -1;
}

/* The local name of a source type (built-in types share their OIDs), or NULL. */
static char *
local_type_name(Oid remote_type, int32 typmod, char **remote_name)
{
	ListCell   *lc;

	*remote_name = NULL;
	if (remote_type < FirstNormalObjectId)
		return format_type_with_typemod(remote_type, typmod);
	foreach(lc, remote_types)
	{
		RemoteType *e = lfirst(lc);

		if (e->remoteid == remote_type)
		{
			Oid			nsp = get_namespace_oid(e->nspname, true);
			Oid			local = OidIsValid(nsp) ?
				GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid, CStringGetDatum(e->typname),
								ObjectIdGetDatum(nsp)) : InvalidOid;

			*remote_name = quote_qualified_identifier(e->nspname, e->typname);
			return OidIsValid(local) ? format_type_with_typemod(local, typmod) : NULL;
		}
	}
	return NULL;
}

static const char *
remote_type_name(Oid remote_type, int32 typmod)
{
	char	   *remote_name;
	char	   *name = local_type_name(remote_type, typmod, &remote_name);

	return name ? name : remote_name ? remote_name : psprintf("type %u", remote_type);
}

/*
 * Whether every value of type from (with its modifier) is a value of type to
 * unchanged, so a mirror's column may be altered to it with nothing
 * converted that depends on settings (never timestamp to timestamptz).
 */
static bool
type_widens(Oid from, int32 frommod, Oid to, int32 tomod)
{
	if (from == to)
	{
		if (tomod == -1)
			return from == VARCHAROID || from == NUMERICOID || from == VARBITOID ||
				from == TIMESTAMPOID || from == TIMESTAMPTZOID || from == TIMEOID ||
				from == TIMETZOID;
		if (frommod == -1)
			return false;
		switch (from)
		{
			case VARCHAROID:
			case VARBITOID:
			case TIMESTAMPOID:
			case TIMESTAMPTZOID:
			case TIMEOID:
			case TIMETZOID:
				return tomod >= frommod;
			case NUMERICOID:
				{
					int			fp = ((frommod - VARHDRSZ) >> 16) & 0xffff;
					int			tp = ((tomod - VARHDRSZ) >> 16) & 0xffff;
					int			fs = (frommod - VARHDRSZ) & 0x7ff;
					int			ts = (tomod - VARHDRSZ) & 0x7ff;

					return fs == ts && tp >= fp;
				}
			default:
				return false;
		}
	}
	if (from == INT2OID)
		return to == INT4OID || to == INT8OID || (to == NUMERICOID && tomod == -1);
	if (from == INT4OID)
		return to == INT8OID || (to == NUMERICOID && tomod == -1);
	if (from == INT8OID)
		return to == NUMERICOID && tomod == -1;
	if (from == VARCHAROID)
		return to == TEXTOID;
	return false;
}

/* The shape recorded for this relation of the pipeline (NIL: none yet); natts set. */
static List *
shape_load(const char *pipeline_id, const char *relkey, int *natts)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2] = {CStringGetTextDatum(pipeline_id), CStringGetTextDatum(relkey)};
	MemoryContext cxt = CurrentMemoryContext;
	List	   *result = NIL;

	*natts = 0;
	SPI_connect();
	if (SPI_execute_with_args("SELECT attname::text, coalesce(attnum, 0)::int4, type_oid, typmod, "
							  "source_natts::int4 FROM laredo.pipeline_columns "
							  "WHERE pipeline_id = $1 AND relation = $2",
							  2, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read laredo.pipeline_columns");
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		MemoryContext old = MemoryContextSwitchTo(cxt);
		ShapeColumn *c = palloc0(sizeof(ShapeColumn));

		c->name = TextDatumGetCString(SPI_getbinval(tup, desc, 1, &isnull));
		c->attnum = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
		c->type = DatumGetObjectId(SPI_getbinval(tup, desc, 3, &isnull));
		c->typmod = DatumGetInt32(SPI_getbinval(tup, desc, 4, &isnull));
		*natts = DatumGetInt32(SPI_getbinval(tup, desc, 5, &isnull));
		result = lappend(result, c);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return result;
}

/* Records the shape of a relation of the pipeline, in the open transaction. */
static void
shape_store(const char *pipeline_id, const char *relkey, bool all_relations,
			LogicalRepRelation *rel, const int32 *typmods, const int16 *attnums, int relnatts)
{
	Oid			types[7] = {TEXTOID, TEXTOID, TEXTOID, INT2OID, OIDOID, INT4OID, INT2OID};
	Datum		values[7];
	char		nulls[7] = "       ";

	SPI_connect();
	values[0] = CStringGetTextDatum(pipeline_id);
	values[1] = CStringGetTextDatum(relkey);
	if (SPI_execute_with_args(all_relations ?
							  "DELETE FROM laredo.pipeline_columns WHERE pipeline_id = $1 AND $2 IS NOT NULL" :
							  "DELETE FROM laredo.pipeline_columns WHERE pipeline_id = $1 AND relation = $2",
							  2, types, values, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not write laredo.pipeline_columns");
	for (int i = 0; i < rel->natts; i++)
	{
		values[2] = CStringGetTextDatum(rel->attnames[i]);
		values[3] = Int16GetDatum(attnums ? attnums[i] : 0);
		nulls[3] = (attnums && attnums[i] > 0) ? ' ' : 'n';
		values[4] = ObjectIdGetDatum(rel->atttyps[i]);
		values[5] = Int32GetDatum(typmods ? typmods[i] : -1);
		values[6] = Int16GetDatum((int16) relnatts);
		if (SPI_execute_with_args("INSERT INTO laredo.pipeline_columns "
								  "(pipeline_id, relation, attname, attnum, type_oid, typmod, source_natts) "
								  "VALUES ($1, $2, $3, $4, $5, $6, $7)",
								  7, types, values, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not write laredo.pipeline_columns");
	}
	SPI_finish();
}

void
laredo_schema_record_baseline(LaredoPipeline *p, LogicalRepRelation *rel,
							  const int32 *typmods, const int16 *attnums, int relnatts,
							  bool first)
{
	if (laredo_catalog_version() < LAREDO_CATALOG_0_5_0)
		return;
	shape_store(p->config->pipeline_id, quote_qualified_identifier(rel->nspname, rel->relname),
				first, rel, typmods, attnums, relnatts);
}

/* Logs one change of the pipeline's source table, with what was run here. */
static void
change_record(LaredoPipeline *p, const char *change, const char *statement)
{
	Oid			types[4] = {TEXTOID, LSNOID, TEXTOID, TEXTOID};
	Datum		values[4] = {CStringGetTextDatum(p->config->pipeline_id),
		LSNGetDatum(laredo_apply_meta()->commit_lsn), CStringGetTextDatum(change),
	statement ? CStringGetTextDatum(statement) : (Datum) 0};
	char		nulls[4] = {' ', ' ', ' ', statement ? ' ' : 'n'};

	SPI_connect();
	if (SPI_execute_with_args("INSERT INTO laredo.schema_changes (pipeline_id, source_lsn, change, statement) "
							  "VALUES ($1, $2, $3, $4)", 4, types, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not write laredo.schema_changes");
	SPI_finish();
	ereport(LOG,
			(errmsg("laredo pipeline \"%s\": %s%s%s", p->config->pipeline_id, change,
					statement ? "; ran: " : "", statement ? statement : "")));
}

/*
 * The source table's columns now, read on the worker's plain connection
 * to the source (the one that reads the slot's state): pgoutput describes
 * a table again after every invalidation of it on the source (autovacuum's
 * and ANALYZE's too), and a connection of its own for each (a backend
 * forked on the source, authentication) stalled the stream for
 * milliseconds each time.
 */
static SourceShape *
source_shape(LogicalRepRelation *rel)
{
	const LaredoSourceConfig *source = laredo_apply_source();
	SourceShape *shape = palloc0(sizeof(SourceShape));
	List	   *rows;
	ListCell   *lc;

	rows = laredo_sql_query(laredo_worker_sql_conn(), psprintf(
		"SELECT a.attname, a.attnum::text, a.atttypid::text, a.atttypmod::text, a.attnotnull::text, "
		"       (a.attidentity <> '')::text, (a.attgenerated <> '')::text, a.atthasdef::text, "
		"       a.atthasmissing::text, "
		"       CASE WHEN a.atthasmissing AND t.typcategory <> 'A' "
		"            THEN (a.attmissingval::text::text[])[1] END, c.relnatts::text, "
		"       CASE WHEN a.attcollation <> t.typcollation THEN cn.nspname::text END, "
		"       CASE WHEN a.attcollation <> t.typcollation THEN co.collname::text END "
		"FROM pg_catalog.pg_class c "
		"JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
		"JOIN pg_catalog.pg_type t ON t.oid = a.atttypid "
		"LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation "
		"LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace "
		"WHERE c.oid = %u ORDER BY a.attnum", rel->remoteid),
		13, source->source_id);
	foreach(lc, rows)
	{
		char	  **r = lfirst(lc);
		SourceColumn *c = palloc0(sizeof(SourceColumn));

		c->name = r[0];
		c->attnum = atoi(r[1]);
		c->type = (Oid) strtoul(r[2], NULL, 10);
		c->typmod = atoi(r[3]);
		c->notnull = strcmp(r[4], "true") == 0;
		c->identity = strcmp(r[5], "true") == 0;
		c->generated = strcmp(r[6], "true") == 0;
		c->hasdef = strcmp(r[7], "true") == 0;
		c->hasmissing = strcmp(r[8], "true") == 0;
		c->missing = r[9];
		shape->relnatts = atoi(r[10]);
		c->collnsp = r[11];
		c->collname = r[12];
		shape->columns = lappend(shape->columns, c);
	}
	return shape;
}

static SourceColumn *
source_column(SourceShape *shape, const char *name, int attnum)
{
	ListCell   *lc;

	foreach(lc, shape->columns)
	{
		SourceColumn *c = lfirst(lc);

		if (name ? strcmp(c->name, name) == 0 : c->attnum == attnum)
			return c;
	}
	return NULL;
}

/*
 * The COLLATE clause that gives a mirror's column the source column's
 * collation ("" when the source column has its type's own), as the mirrors
 * create_pipeline makes have it (catalog 0.11.0); NULL when no collation of
 * that name exists here (*name then names it).
 */
static const char *
collate_clause(SourceColumn *c, char **name)
{
	*name = NULL;
	if (c == NULL || c->collname == NULL)
		return "";
	*name = quote_qualified_identifier(c->collnsp, c->collname);
	if (!OidIsValid(get_collation_oid(list_make2(makeString(c->collnsp), makeString(c->collname)), true)))
		return NULL;
	return psprintf(" COLLATE %s", *name);
}

/* Whether the source's catalog has every column of the description, of its type. */
static bool
source_shows(SourceShape *shape, LogicalRepRelation *rel)
{
	for (int i = 0; i < rel->natts; i++)
	{
		SourceColumn *c = source_column(shape, rel->attnames[i], 0);

		if (c == NULL || c->type != rel->atttyps[i])
			return false;
	}
	return true;
}

static ShapeColumn *
shape_column(List *shape, const char *name)
{
	ListCell   *lc;

	foreach(lc, shape)
		if (strcmp(((ShapeColumn *) lfirst(lc))->name, name) == 0)
			return lfirst(lc);
	return NULL;
}

static bool
in_subset(List *subset, const char *name)
{
	ListCell   *lc;

	if (subset == NIL)
		return true;
	foreach(lc, subset)
		if (strcmp(lfirst(lc), name) == 0)
			return true;
	return false;
}

/* The mirror's column of that name: its type and modifier; false when it has none. */
static bool
target_column(Oid relid, const char *name, Oid *type, int32 *typmod)
{
	AttrNumber	attnum = OidIsValid(relid) ? get_attnum(relid, name) : InvalidAttrNumber;
	Oid			collid;

	if (attnum <= 0)
		return false;
	get_atttypetypmodcoll(relid, attnum, type, typmod, &collid);
	return true;
}

/*
 * The COLLATE clause that keeps the mirror's column of that name in its
 * collation through ALTER COLUMN TYPE (which gives a column its new type's
 * collation unless told): "" for none, or the database's default.
 */
static const char *
target_collate_clause(Oid relid, const char *name)
{
	AttrNumber	attnum = get_attnum(relid, name);
	Oid			type;
	int32		typmod;
	Oid			collid;
	HeapTuple	tup;
	char	   *clause;

	if (attnum <= 0)
		return "";
	get_atttypetypmodcoll(relid, attnum, &type, &typmod, &collid);
	if (!OidIsValid(collid) || collid == DEFAULT_COLLATION_OID)
		return "";
	tup = SearchSysCache1(COLLOID, ObjectIdGetDatum(collid));
	if (!HeapTupleIsValid(tup))
		return "";
	clause = psprintf(" COLLATE %s",
					  quote_qualified_identifier(get_namespace_name(((Form_pg_collation) GETSTRUCT(tup))->collnamespace),
												 NameStr(((Form_pg_collation) GETSTRUCT(tup))->collname)));
	ReleaseSysCache(tup);
	return clause;
}

/* What one new shape asks of a target. */
typedef struct SchemaStep
{
	char	   *change;			/* what the source did */
	char	   *statement;		/* what follow runs here, or NULL */
	bool		resync;			/* and the table is copied again */
	bool		blocking;		/* not done by itself: an ERROR unless accepted */
	const char *detail;
	const char *hint;
} SchemaStep;

static SchemaStep *
step_add(List **steps, char *change, char *statement, bool resync)
{
	SchemaStep *s = palloc0(sizeof(SchemaStep));

	s->change = change;
	s->statement = statement;
	s->resync = resync;
	*steps = lappend(*steps, s);
	return s;
}

/* What a step says of a column whose collation (collname) this database lacks. */
static void
step_collation_missing(SchemaStep *s, const char *collname, const char *target, const char *column,
					   const char *typename)
{
	s->detail = psprintf("Collation %s does not exist in this database.", collname);
	s->hint = psprintf("Create the collation %s here, or add the column to the target yourself in a collation of your choosing: ALTER TABLE %s ADD COLUMN %s %s;",
					   collname, target, quote_identifier(column), typename);
}

static void
schema_fail(LaredoPipeline *p, const char *srcname, SchemaStep *s, const LaredoSchemaPolicy *policy)
{
	const char *source_id = laredo_apply_source()->source_id;

	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("source table %s of pipeline \"%s\" changed: %s", srcname, p->config->pipeline_id,
					s->change),
			 s->detail ? errdetail("%s", s->detail) :
			 errdetail("schema_changes is \"%s\" for this pipeline.", policy->follow ? "follow" : "error"),
			 errhint("%s Then: SELECT laredo.alter_source('%s', enabled => true);",
					 s->hint ? s->hint :
					 psprintf("Run on the target: %s; or let laredo follow: SELECT laredo.alter_pipeline('%s', options => '{\"schema_changes\": \"follow\"}');",
							  s->statement ? s->statement : "(nothing)", p->config->pipeline_id),
					 source_id)));
}

/* Runs a statement of a mirror's schema change; a refusal says what to run. */
static void
run_statement(LaredoPipeline *p, const char *statement)
{
	MemoryContext cxt = CurrentMemoryContext;

	PG_TRY();
	{
		SPI_connect();
		if (SPI_execute(statement, false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "unexpected result of \"%s\"", statement);
		SPI_finish();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		ereport(ERROR,
				(errcode(edata->sqlerrcode),
				 errmsg("pipeline \"%s\" could not change its target: %s", p->config->pipeline_id,
						edata->message),
				 errdetail("The source table changed shape, and the target must follow."),
				 errhint("Remove the cause, or run it yourself (or make the target's columns fit the source's otherwise): %s; then SELECT laredo.alter_source('%s', enabled => true);",
						 statement, laredo_apply_source()->source_id)));
	}
	PG_END_TRY();
	CommandCounterIncrement();
}

bool
laredo_schema_check(LaredoPipeline *p, LogicalRepRelation *rel, const LaredoSchemaPolicy *policy)
{
	char	   *relkey = quote_qualified_identifier(rel->nspname, rel->relname);
	const char *target = OidIsValid(policy->target_relid) ?
		quote_qualified_identifier(p->config->target_schema, p->config->target_table) : NULL;
	int			natts;
	List	   *shape;
	SourceShape *now;
	int32	   *typmods = palloc(sizeof(int32) * Max(rel->natts, 1));
	int16	   *attnums = palloc0(sizeof(int16) * Max(rel->natts, 1));
	List	   *steps = NIL;
	ListCell   *lc;
	bool		resync = false;
	bool		changed = false;

	if (laredo_catalog_version() < LAREDO_CATALOG_0_5_0)
		return true;
	for (int i = 0; i < rel->natts; i++)
		typmods[i] = remote_typmod(rel, i);
	shape = shape_load(p->config->pipeline_id, relkey, &natts);
	now = source_shape(rel);

	/*
	 * The stream may bring a transaction before the source shows it to
	 * other sessions: its commit is sent once flushed, and it leaves the
	 * source's proc array after that (synchronous replication waits in
	 * between).  A column the description names that the catalog does not
	 * show yet is read again, for up to two seconds; one that the source
	 * has changed again since is then taken as such.
	 */
	for (int tries = 0; tries < 200 && !source_shows(now, rel); tries++)
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 10, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		now = source_shape(rel);
	}
	for (int i = 0; i < rel->natts; i++)
	{
		SourceColumn *c = source_column(now, rel->attnames[i], 0);

		if (c && c->type == rel->atttyps[i])
			attnums[i] = c->attnum;
	}
	if (shape == NIL)
	{
		/* a pipeline of an older catalog, or a new partition: mapped as it is */
		shape_store(p->config->pipeline_id, relkey, false, rel, typmods, attnums, now->relnatts);
		return true;
	}

	/* the columns described */
	for (int i = 0; i < rel->natts; i++)
	{
		const char *name = rel->attnames[i];
		ShapeColumn *old = shape_column(shape, name);
		SourceColumn *c = source_column(now, name, 0);
		const char *newtype = remote_type_name(rel->atttyps[i], typmods[i]);
		Oid			ttype;
		int32		ttypmod;
		bool		in_target = target_column(policy->target_relid, name, &ttype, &ttypmod);

		if (old != NULL)
		{
			old->seen = true;
			if (old->type == rel->atttyps[i] && old->typmod == typmods[i])
			{
				/* the same column, unless it was dropped and added again */
				if (c && old->attnum > 0 && c->type == old->type && c->attnum != old->attnum)
				{
					SchemaStep *s = step_add(&steps, psprintf("column \"%s\" was dropped and added again (now number %d, was %d)",
															  name, c->attnum, old->attnum),
											 NULL, OidIsValid(policy->target_relid));

					s->blocking = OidIsValid(policy->target_relid) && !policy->follow;
					s->detail = "Its values in the existing rows changed on the source without a change being streamed.";
					s->hint = psprintf("Copy the table again: SELECT laredo.resync_pipeline('%s');",
									   p->config->pipeline_id);
				}
				continue;
			}
			else
			{
				char	   *change = psprintf("column \"%s\" changed type from %s to %s", name,
											  remote_type_name(old->type, old->typmod), newtype);
				bool		widens = type_widens(old->type, old->typmod, rel->atttyps[i], typmods[i]);

				if (!OidIsValid(policy->target_relid) || !in_target ||
					(ttype == rel->atttyps[i] && ttypmod == typmods[i]))
					step_add(&steps, change, NULL, false);	/* nothing to do here */
				else if (!(ttype == old->type && ttypmod == old->typmod))
					step_add(&steps, psprintf("%s (the target's own type %s is kept)", change,
											  format_type_with_typemod(ttype, ttypmod)), NULL, false);
				else
				{
					/* (the mirror's column keeps its collation, as its type of your choosing) */
					SchemaStep *s = step_add(&steps, change,
											 psprintf("ALTER TABLE %s ALTER COLUMN %s TYPE %s%s", target,
													  quote_identifier(name), newtype,
													  target_collate_clause(policy->target_relid, name)), false);

					s->blocking = !(widens && policy->follow);
					if (!widens)
					{
						s->detail = "laredo changes a mirror's column only to a type that holds every value of the old one unchanged (int to bigint, a longer varchar, text, a larger numeric precision); this change could lose or alter data.";
						s->hint = psprintf("Change the target's column yourself (%s, with USING if needed), or copy the table again: SELECT laredo.resync_pipeline('%s');",
										   s->statement, p->config->pipeline_id);
					}
				}
			}
			continue;
		}

		/* a column not in the recorded shape: added, renamed, or newly published */
		if (c == NULL || c->type != rel->atttyps[i])
		{
			SchemaStep *s = step_add(&steps, psprintf("column \"%s\" (%s) appeared, and the source has changed it again since",
													  name, newtype), NULL, false);

			s->blocking = OidIsValid(policy->target_relid) && !in_target;
			s->detail = "The source's catalog no longer has that column of that type, so laredo cannot tell what the table's existing rows hold in it.";
			s->hint = psprintf("Make the target's columns match the source table's, then copy it again: SELECT laredo.resync_pipeline('%s');",
							   p->config->pipeline_id);
			continue;
		}
		if (c->attnum <= natts)
			continue;			/* an old column: a rename, matched below, or newly published */
		if (!OidIsValid(policy->target_relid))
		{
			step_add(&steps, psprintf("column \"%s\" (%s) was added", name, newtype), NULL, false);
			continue;
		}
		if (!in_subset(policy->subset, name))
			continue;
		if (in_target)
		{
			step_add(&steps, psprintf("column \"%s\" (%s) was added; the target has it already", name, newtype),
					 NULL, false);
			continue;
		}
		{
			char	   *remote_name;
			char	   *typename = local_type_name(rel->atttyps[i], typmods[i], &remote_name);
			bool		copy_again = c->identity || c->generated || (c->hasdef && !c->hasmissing) ||
				(c->hasmissing && c->missing == NULL);
			char	   *collname;
			const char *collate = collate_clause(c, &collname);
			SchemaStep *s;

			if (typename == NULL)
			{
				s = step_add(&steps, psprintf("column \"%s\" of type %s was added", name, newtype), NULL, false);
				s->blocking = true;
				s->detail = psprintf("Type %s does not exist in this database.", remote_name ? remote_name : newtype);
				s->hint = psprintf("Create the type here, then add the column to the target: ALTER TABLE %s ADD COLUMN %s %s;",
								   target, quote_identifier(name), remote_name ? remote_name : newtype);
				continue;
			}
			if (collate == NULL)
			{
				s = step_add(&steps, psprintf("column \"%s\" (%s COLLATE %s) was added", name, newtype, collname), NULL, false);
				s->blocking = true;
				step_collation_missing(s, collname, target, name, typename);
				continue;
			}
			s = step_add(&steps,
						 psprintf("column \"%s\" (%s) was added%s", name, newtype,
								  copy_again ? (c->identity ? " as an identity: existing rows got values the stream does not carry, so the table is copied again" :
												c->generated ? " as a generated column: existing rows got values the stream does not carry, so the table is copied again" :
												" with a volatile default (the table was rewritten, which the stream does not carry), so the table is copied again") : ""),
						 psprintf("ALTER TABLE %s ADD COLUMN %s %s%s%s%s", target, quote_identifier(name), typename, collate,
								  (!copy_again && c->hasmissing) ?
								  psprintf(" DEFAULT %s::%s", quote_literal_cstr(c->missing), typename) : "",
								  (!copy_again && c->hasmissing && c->notnull) ? " NOT NULL" : ""),
						 copy_again);
			s->blocking = !policy->follow;
		}
	}

	/* the columns no longer described: renamed, dropped, or no longer published */
	foreach(lc, shape)
	{
		ShapeColumn *old = lfirst(lc);
		SourceColumn *c = old->attnum > 0 ? source_column(now, NULL, old->attnum) : NULL;
		Oid			ttype;
		int32		ttypmod;
		bool		in_target;
		SchemaStep *s;
		bool		renamed = false;

		if (old->seen)
			continue;
		in_target = target_column(policy->target_relid, old->name, &ttype, &ttypmod);
		if (c != NULL && strcmp(c->name, old->name) != 0)
		{
			for (int i = 0; i < rel->natts; i++)
				if (strcmp(rel->attnames[i], c->name) == 0)
					renamed = true;
		}
		if (renamed)
		{
			bool		new_in_target = target_column(policy->target_relid, c->name, &ttype, &ttypmod);

			s = step_add(&steps, psprintf("column \"%s\" was renamed to \"%s\"", old->name, c->name),
						 NULL, false);
			if (OidIsValid(policy->target_relid) && (in_target || !new_in_target))
			{
				s->blocking = true;
				s->detail = "laredo does not rename a mirror's column by itself.";
				s->hint = psprintf("Rename it here too: ALTER TABLE %s RENAME COLUMN %s TO %s;", target,
								   quote_identifier(old->name), quote_identifier(c->name));
			}
			continue;
		}
		s = step_add(&steps, psprintf(c != NULL ? "column \"%s\" is no longer published" : "column \"%s\" was dropped",
									  old->name), NULL, false);
		if (OidIsValid(policy->target_relid) && in_target && !policy->keep_dropped)
		{
			s->blocking = true;
			s->detail = "laredo does not drop a mirror's column by itself: its data would be lost.";
			s->hint = psprintf("Drop it here too (ALTER TABLE %s DROP COLUMN %s), or keep it, new rows getting its default: SELECT laredo.alter_pipeline('%s', options => '{\"dropped_columns\": \"keep\"}');",
							   target, quote_identifier(old->name), p->config->pipeline_id);
		}
		else if (OidIsValid(policy->target_relid) && in_target)
			s->change = psprintf("%s; the target keeps it (dropped_columns = keep)", s->change);
	}

	/* newly published columns that were there before: their values never came */
	for (int i = 0; i < rel->natts; i++)
	{
		SourceColumn *c = source_column(now, rel->attnames[i], 0);
		bool		matched = false;
		Oid			ttype;
		int32		ttypmod;

		if (shape_column(shape, rel->attnames[i]) || c == NULL || c->type != rel->atttyps[i] ||
			c->attnum > natts)
			continue;
		foreach(lc, shape)
			if (((ShapeColumn *) lfirst(lc))->attnum == c->attnum)
				matched = true;
		if (matched || !in_subset(policy->subset, c->name))
			continue;
		if (!OidIsValid(policy->target_relid))
		{
			step_add(&steps, psprintf("column \"%s\" is now published", c->name), NULL, false);
			continue;
		}
		{
			char	   *remote_name;
			char	   *typename = local_type_name(rel->atttyps[i], typmods[i], &remote_name);
			char	   *collname;
			const char *collate = collate_clause(c, &collname);
			bool		in_target = target_column(policy->target_relid, c->name, &ttype, &ttypmod);
			SchemaStep *s = step_add(&steps,
									 psprintf("column \"%s\" is now published: its values in existing rows never came, so the table is copied again",
											  c->name),
									 (in_target || typename == NULL || collate == NULL) ? NULL :
									 psprintf("ALTER TABLE %s ADD COLUMN %s %s%s", target,
											  quote_identifier(c->name), typename, collate),
									 true);

			s->blocking = !policy->follow || ((typename == NULL || collate == NULL) && !in_target);
			if (collate == NULL && typename != NULL && !in_target)
				step_collation_missing(s, collname, target, c->name, typename);
		}
	}

	if (steps == NIL)
		return true;

	/* what cannot be done by itself stops here, before anything was run */
	foreach(lc, steps)
	{
		SchemaStep *s = lfirst(lc);

		if (s->blocking)
			schema_fail(p, relkey, s, policy);
	}
	foreach(lc, steps)
	{
		SchemaStep *s = lfirst(lc);

		if (s->statement && !changed && policy->close)
			policy->close(p);
		if (s->statement)
		{
			run_statement(p, s->statement);
			changed = true;
		}
		change_record(p, psprintf("%s.%s: %s", quote_identifier(rel->nspname),
								  quote_identifier(rel->relname), s->change), s->statement);
		resync |= s->resync;
	}
	/*
	 * The catalog may be ahead of the stream (columns added since): the
	 * table's columns are those numbered up to the recorded ones and the
	 * ones this description shows, not the catalog's now.
	 */
	for (int i = 0; i < rel->natts; i++)
		natts = Max(natts, attnums[i]);
	shape_store(p->config->pipeline_id, relkey, false, rel, typmods, attnums, natts);
	if (resync)
	{
		laredo_pipeline_copy_again(p->config, laredo_apply_source()->source_id);
		change_record(p, "the table is copied again", NULL);
		return false;
	}
	return true;
}
