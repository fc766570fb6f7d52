/*-------------------------------------------------------------------------
 * target_table.c
 *	  The `table` target: a mirror table keyed by the source table's replica
 *	  identity, written through the executor (ExecSimpleRelation*), with
 *	  indexes, constraints and triggers, as the built-in apply worker does.
 *
 *	  Text values from the source are read with the target column's input
 *	  function; an unchanged TOASTed value in an update keeps the target's
 *	  current value.  Columns the source does not send get their default.
 *-------------------------------------------------------------------------
 */
#include "laredo.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/catalog.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "commands/copy.h"
#include "commands/tablecmds.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/nodeModifyTable.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_node.h"
#include "parser/parse_relation.h"
#include "rewrite/rewriteHandler.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/pg_lsn.h"
#include "utils/timestamp.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/syscache.h"

#include "target.h"
#include "target_exec.h"

typedef struct TableTarget
{
	Oid			relid;
	LogicalRepRelation *remoterel;
	bool		map_stale;

	/* options */
	List	   *subset;			/* of char *: the source columns kept; NIL: all */
	bool		soft_delete;	/* mark _deleted_at instead of deleting */
	bool		metadata_columns;	/* fill _lsn and _commit_time */
	AttrNumber	deleted_attno;	/* 0 when absent */
	AttrNumber	lsn_attno;
	AttrNumber	commit_time_attno;

	/* per local attribute, rebuilt when the remote shape changes */
	int			natts;
	int		   *attmap;			/* remote column index, or -1 */
	Oid		   *typinput;
	Oid		   *typioparam;
	FmgrInfo   *typinfmgr;		/* the input functions, looked up once */

	/* per local transaction (allocated in TopTransactionContext) */
	LaredoTargetExec x;
	TupleTableSlot *remoteslot;
	TupleTableSlot *searchslot;
	TupleTableSlot *localslot;
	ExprState **defaults;
	Oid			idxoid;
} TableTarget;

static void
table_check_privileges(LaredoPipeline *p, Oid relid)
{
	AclMode		modes[4] = {ACL_INSERT, ACL_UPDATE, ACL_DELETE, ACL_TRUNCATE};

	for (int i = 0; i < 4; i++)
		if (pg_class_aclcheck(relid, GetUserId(), modes[i]) != ACLCHECK_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("pipeline \"%s\" may not write target %s.%s",
							p->config->pipeline_id,
							quote_identifier(p->config->target_schema),
							quote_identifier(p->config->target_table)),
					 errdetail("The source worker runs as the source's owner \"%s\".",
							   GetUserNameFromId(GetUserId(), false)),
					 errhint("GRANT INSERT, UPDATE, DELETE, TRUNCATE on the target to that role.")));
}

static bool
option_bool(Jsonb *options, const char *key)
{
	JsonbValue *v = getKeyJsonValueFromContainer(&options->root, key, strlen(key), NULL);

	return v && v->type == jbvBool && v->val.boolean;
}

static void
table_parse_options(LaredoPipeline *p, TableTarget *t)
{
	MemoryContext old = MemoryContextSwitchTo(GetMemoryChunkContext(t));
	Jsonb	   *options = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(p->config->options)));
	JsonbValue *columns = getKeyJsonValueFromContainer(&options->root, "columns", strlen("columns"), NULL);

	t->soft_delete = option_bool(options, "soft_delete");
	t->metadata_columns = option_bool(options, "metadata_columns");
	if (columns && columns->type == jbvBinary)
	{
		JsonbIterator *it = JsonbIteratorInit(columns->val.binary.data);
		JsonbValue	v;
		JsonbIteratorToken tok;

		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
			if (tok == WJB_ELEM && v.type == jbvString)
				t->subset = lappend(t->subset, pnstrdup(v.val.string.val, v.val.string.len));
	}
	MemoryContextSwitchTo(old);
}

static bool
in_subset(TableTarget *t, const char *name)
{
	ListCell   *lc;

	if (t->subset == NIL)
		return true;
	foreach(lc, t->subset)
		if (strcmp(lfirst(lc), name) == 0)
			return true;
	return false;
}

static void
table_init(LaredoPipeline *p)
{
	TableTarget *t = MemoryContextAllocZero(GetMemoryChunkContext(p), sizeof(TableTarget));
	Oid			nspid = get_namespace_oid(p->config->target_schema, true);

	t->relid = OidIsValid(nspid) ? get_relname_relid(p->config->target_table, nspid) : InvalidOid;
	if (!OidIsValid(t->relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("target table %s.%s of pipeline \"%s\" does not exist",
						quote_identifier(p->config->target_schema),
						quote_identifier(p->config->target_table),
						p->config->pipeline_id),
				 errhint("Drop the pipeline and create it again; laredo creates a missing target.")));
	table_check_privileges(p, t->relid);
	table_parse_options(p, t);
	t->map_stale = true;
	p->private = t;
}

static void
table_relation(LaredoPipeline *p, LogicalRepRelation *remoterel)
{
	TableTarget *t = p->private;

	t->remoterel = remoterel;
	t->map_stale = true;
}

/* Maps local attributes to the remote columns, by name. */
static void
table_build_map(LaredoPipeline *p, TableTarget *t)
{
	TupleDesc	desc = RelationGetDescr(t->x.rel);
	MemoryContext cxt = GetMemoryChunkContext(t);
	LogicalRepRelation *remote = t->remoterel;
	Bitmapset  *mapped = NULL;

	t->natts = desc->natts;
	t->attmap = MemoryContextAlloc(cxt, sizeof(int) * desc->natts);
	t->typinput = MemoryContextAlloc(cxt, sizeof(Oid) * desc->natts);
	t->typioparam = MemoryContextAlloc(cxt, sizeof(Oid) * desc->natts);
	t->typinfmgr = MemoryContextAllocZero(cxt, sizeof(FmgrInfo) * desc->natts);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		t->attmap[i] = -1;
		if (att->attisdropped || att->attgenerated)
			continue;
		for (int r = 0; r < remote->natts; r++)
			if (strcmp(remote->attnames[r], NameStr(att->attname)) == 0)
			{
				t->attmap[i] = r;
				mapped = bms_add_member(mapped, r);
			}
		getTypeInputInfo(att->atttypid, &t->typinput[i], &t->typioparam[i]);
		fmgr_info_cxt(t->typinput[i], &t->typinfmgr[i], cxt);
	}
	t->deleted_attno = t->lsn_attno = t->commit_time_attno = 0;
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped || t->attmap[i] >= 0)
			continue;
		if (t->soft_delete && strcmp(NameStr(att->attname), "_deleted_at") == 0)
			t->deleted_attno = i + 1;
		if (t->metadata_columns && strcmp(NameStr(att->attname), "_lsn") == 0)
			t->lsn_attno = i + 1;
		if (t->metadata_columns && strcmp(NameStr(att->attname), "_commit_time") == 0)
			t->commit_time_attno = i + 1;
	}
	if ((t->soft_delete && !t->deleted_attno) ||
		(t->metadata_columns && (!t->lsn_attno || !t->commit_time_attno)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("target %s.%s of pipeline \"%s\" lacks the columns its options need",
						quote_identifier(p->config->target_schema),
						quote_identifier(p->config->target_table), p->config->pipeline_id),
				 errhint("Add _deleted_at timestamptz (soft_delete), _lsn pg_lsn and _commit_time timestamptz (metadata_columns).")));
	for (int r = 0; r < remote->natts; r++)
		if (!bms_is_member(r, mapped) && in_subset(t, remote->attnames[r]))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("target %s.%s of pipeline \"%s\" has no column \"%s\", which the source sends",
							quote_identifier(p->config->target_schema),
							quote_identifier(p->config->target_table),
							p->config->pipeline_id, remote->attnames[r]),
					 errdetail("The source table's columns changed, or the target's did."),
					 errhint("ALTER TABLE the target to add the column, then alter_source(..., enabled => true).")));
	t->map_stale = false;
}

/* The unique index on the replica identity columns, or InvalidOid. */
static Oid
table_find_identity_index(TableTarget *t)
{
	Oid			idxoid = RelationGetReplicaIndex(t->x.rel);
	List	   *indexes;
	ListCell   *lc;
	Bitmapset  *keys = NULL;

	if (OidIsValid(idxoid) || t->remoterel->replident == REPLICA_IDENTITY_FULL)
		return idxoid;
	for (int i = 0; i < t->natts; i++)
		if (t->attmap[i] >= 0 && bms_is_member(t->attmap[i], t->remoterel->attkeys))
			keys = bms_add_member(keys, i + 1);
	if (keys == NULL)
		return InvalidOid;
	indexes = RelationGetIndexList(t->x.rel);
	foreach(lc, indexes)
	{
		Relation	idx = index_open(lfirst_oid(lc), AccessShareLock);
		Bitmapset  *cols = NULL;
		bool		usable = idx->rd_index->indisunique && idx->rd_indpred == NIL &&
			RelationGetIndexExpressions(idx) == NIL;

		for (int k = 0; usable && k < idx->rd_index->indnkeyatts; k++)
			cols = bms_add_member(cols, idx->rd_index->indkey.values[k]);
		if (usable && bms_equal(cols, keys))
			idxoid = RelationGetRelid(idx);
		index_close(idx, AccessShareLock);
		if (OidIsValid(idxoid))
			break;
	}
	return idxoid;
}

/* Opens the target for this local transaction. */
static void
table_open_xact(LaredoPipeline *p)
{
	TableTarget *t = p->private;
	MemoryContext old;
	TupleDesc	desc;

	if (t->x.rel)
		return;
	if (t->remoterel == NULL)
		elog(ERROR, "pipeline \"%s\" received a change before its relation", p->config->pipeline_id);

	laredo_target_exec_open(&t->x, t->relid);
	old = MemoryContextSwitchTo(TopTransactionContext);
	if (t->map_stale)
		table_build_map(p, t);
	desc = RelationGetDescr(t->x.rel);

	t->remoteslot = ExecInitExtraTupleSlot(t->x.estate, desc, &TTSOpsVirtual);
	t->searchslot = ExecInitExtraTupleSlot(t->x.estate, desc, &TTSOpsVirtual);
	t->localslot = table_slot_create(t->x.rel, &t->x.estate->es_tupleTable);
	t->idxoid = table_find_identity_index(t);

	t->defaults = palloc0(sizeof(ExprState *) * t->natts);
	for (int i = 0; i < t->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		Expr	   *defexpr;

		if (t->attmap[i] >= 0 || att->attisdropped || att->attgenerated)
			continue;
		defexpr = (Expr *) build_column_default(t->x.rel, i + 1);
		if (defexpr)
			t->defaults[i] = ExecInitExpr(expression_planner(defexpr), NULL);
	}
	MemoryContextSwitchTo(old);
}

static void
table_xact_end(LaredoPipeline *p)
{
	laredo_target_exec_close(&((TableTarget *) p->private)->x);
}

/*
 * Fills a slot from a remote tuple.  Where the source left a value out
 * (unchanged TOAST, or a column it does not send), the value comes from
 * `current` when given, else from the column default.
 */
static void
table_store(TableTarget *t, TupleTableSlot *slot, LogicalRepTupleData *tup,
			TupleTableSlot *current)
{
	TupleDesc	desc = slot->tts_tupleDescriptor;
	ExprContext *econtext = GetPerTupleExprContext(t->x.estate);

	ExecClearTuple(slot);
	if (current)
		slot_getallattrs(current);
	for (int i = 0; i < t->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		int			r = t->attmap[i];
		char		status = (r >= 0 && r < tup->ncols) ? tup->colstatus[r] : 'x';

		slot->tts_values[i] = (Datum) 0;
		slot->tts_isnull[i] = true;
		if (status == LOGICALREP_COLUMN_TEXT)
		{
			slot->tts_values[i] = InputFunctionCall(&t->typinfmgr[i], tup->colvalues[r].data,
													t->typioparam[i], att->atttypmod);
			slot->tts_isnull[i] = false;
		}
		else if (status == LOGICALREP_COLUMN_NULL)
			continue;
		else if (current)
		{
			slot->tts_values[i] = current->tts_values[i];
			slot->tts_isnull[i] = current->tts_isnull[i];
		}
		else if (status == 'x' && t->defaults && t->defaults[i])
			slot->tts_values[i] = ExecEvalExpr(t->defaults[i], econtext, &slot->tts_isnull[i]);
	}
	ExecStoreVirtualTuple(slot);
}

/*
 * Sets the option columns of a row about to be written: alive (no
 * _deleted_at, or deleted_at when soft-deleting), and the change's LSN and
 * commit time.
 */
static void
table_stamp(TableTarget *t, TupleTableSlot *slot, TimestampTz deleted_at)
{
	const LaredoChangeMeta *meta = laredo_apply_meta();

	if (t->deleted_attno)
	{
		slot->tts_values[t->deleted_attno - 1] = TimestampTzGetDatum(deleted_at);
		slot->tts_isnull[t->deleted_attno - 1] = (deleted_at == 0);
	}
	if (t->lsn_attno)
	{
		slot->tts_values[t->lsn_attno - 1] = LSNGetDatum(meta->commit_lsn);
		slot->tts_isnull[t->lsn_attno - 1] = false;
		slot->tts_values[t->commit_time_attno - 1] = TimestampTzGetDatum(meta->commit_time);
		slot->tts_isnull[t->commit_time_attno - 1] = (meta->commit_time == 0);
	}
}

static bool table_find(TableTarget *t, LogicalRepTupleData *key);
static void table_update(LaredoPipeline *p, LogicalRepTupleData *oldtup, LogicalRepTupleData *newtup);

static void
table_insert(LaredoPipeline *p, LogicalRepTupleData *newtup)
{
	TableTarget *t = p->private;

	table_open_xact(p);
	/* with soft deletes, the row may still be here, marked deleted: revive it */
	if (t->soft_delete && table_find(t, newtup))
	{
		table_update(p, NULL, newtup);
		return;
	}
	table_store(t, t->remoteslot, newtup, NULL);
	table_stamp(t, t->remoteslot, 0);
	ExecSimpleRelationInsert(t->x.rri, t->x.estate, t->remoteslot);
	ResetPerTupleExprContext(t->x.estate);
}

static bool
table_find(TableTarget *t, LogicalRepTupleData *key)
{
	table_store(t, t->searchslot, key, NULL);
	if (OidIsValid(t->idxoid))
		return RelationFindReplTupleByIndex(t->x.rel, t->idxoid, LockTupleExclusive,
											t->searchslot, t->localslot);
	return RelationFindReplTupleSeq(t->x.rel, LockTupleExclusive, t->searchslot, t->localslot);
}

static bool
tuple_is_complete(LogicalRepTupleData *tup)
{
	for (int i = 0; i < tup->ncols; i++)
		if (tup->colstatus[i] == LOGICALREP_COLUMN_UNCHANGED)
			return false;
	return true;
}

static void
table_update(LaredoPipeline *p, LogicalRepTupleData *oldtup, LogicalRepTupleData *newtup)
{
	TableTarget *t = p->private;

	table_open_xact(p);
	if (table_find(t, oldtup ? oldtup : newtup))
	{
		EPQState	epq;

		table_store(t, t->remoteslot, newtup, t->localslot);
		table_stamp(t, t->remoteslot, 0);
		EvalPlanQualInit(&epq, t->x.estate, NULL, NIL, -1);
		EvalPlanQualSetSlot(&epq, t->remoteslot);
		ExecSimpleRelationUpdate(t->x.rri, t->x.estate, &epq, t->localslot, t->remoteslot);
		EvalPlanQualEnd(&epq);
	}
	else if (tuple_is_complete(newtup))
	{
		/*
		 * The row enters the pipeline's own filter, or the target lost it:
		 * the source's row is the truth.
		 */
		if (p->where == NULL)
			ereport(WARNING,
					(errmsg("pipeline \"%s\": row to update is missing in the target; inserted it",
							p->config->pipeline_id)));
		table_store(t, t->remoteslot, newtup, NULL);
		table_stamp(t, t->remoteslot, 0);
		ExecSimpleRelationInsert(t->x.rri, t->x.estate, t->remoteslot);
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("pipeline \"%s\": row to update is missing in target %s.%s",
						p->config->pipeline_id, quote_identifier(p->config->target_schema),
						quote_identifier(p->config->target_table)),
				 errdetail("The update leaves TOASTed values out, so the row cannot be rebuilt."),
				 errhint("Rows were removed from the target behind laredo's back; resynchronise the pipeline.")));
	ResetPerTupleExprContext(t->x.estate);
}

static void
table_delete(LaredoPipeline *p, LogicalRepTupleData *oldtup)
{
	TableTarget *t = p->private;

	table_open_xact(p);
	if (table_find(t, oldtup))
	{
		EPQState	epq;

		EvalPlanQualInit(&epq, t->x.estate, NULL, NIL, -1);
		if (t->soft_delete)
		{
			TimestampTz when = laredo_apply_meta()->commit_time;

			/* the row stays, marked with the source's commit time */
			ExecCopySlot(t->remoteslot, t->localslot);
			slot_getallattrs(t->remoteslot);
			table_stamp(t, t->remoteslot, when ? when : GetCurrentTimestamp());
			EvalPlanQualSetSlot(&epq, t->remoteslot);
			ExecSimpleRelationUpdate(t->x.rri, t->x.estate, &epq, t->localslot, t->remoteslot);
		}
		else
			ExecSimpleRelationDelete(t->x.rri, t->x.estate, &epq, t->localslot);
		EvalPlanQualEnd(&epq);
	}
	ResetPerTupleExprContext(t->x.estate);
}

static void
table_truncate(LaredoPipeline *p)
{
	TableTarget *t = p->private;
	Relation	rel;
	List	   *logged = NIL;

	/* TRUNCATE refuses a table this transaction still has open in the executor */
	table_xact_end(p);
	if (t->soft_delete)
	{
		/* every row is marked deleted, none removed */
		SPI_connect();
		if (SPI_execute(psprintf("UPDATE ONLY %s SET _deleted_at = now() WHERE _deleted_at IS NULL",
								 quote_qualified_identifier(p->config->target_schema,
															p->config->target_table)),
						false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not mark the rows of pipeline \"%s\" deleted", p->config->pipeline_id);
		SPI_finish();
		return;
	}
	rel = table_open(t->relid, AccessExclusiveLock);
	if (RelationIsLogicallyLogged(rel))
		logged = list_make1_oid(t->relid);
	ExecuteTruncateGuts(list_make1(rel), list_make1_oid(t->relid), logged,
						DROP_RESTRICT, false);
	table_close(rel, NoLock);
}

/*
 * A new baseline replaces the rows of a live table without emptying it for
 * readers: the old rows are deleted in the same local transaction that
 * inserts the new ones, so a concurrent reader sees the old rows until the
 * new ones commit, and never waits on a TRUNCATE lock.  The table itself
 * stays (its OID, grants, views and foreign keys).
 */
static void
table_baseline_begin(LaredoPipeline *p)
{
	table_xact_end(p);
	SPI_connect();
	if (SPI_execute(psprintf("DELETE FROM ONLY %s",
							 quote_qualified_identifier(p->config->target_schema,
														p->config->target_table)),
					false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not empty the target of pipeline \"%s\"", p->config->pipeline_id);
	SPI_finish();
}

static void
table_baseline_end(LaredoPipeline *p)
{
}

/*
 * A plain mirror loads the baseline straight from the COPY stream, as the
 * built-in table synchronisation does.  Binary when every column the source
 * sends lands in a column of the same built-in type here (the binary form is
 * only defined between equal types: a timestamp read as timestamptz, say,
 * would shift silently); text otherwise, each value through its input
 * function.
 */
static LaredoCopyFormat
table_copy_format(LaredoPipeline *p, LogicalRepRelation *remoterel)
{
	TableTarget *t = p->private;
	Relation	rel;
	TupleDesc	desc;
	LaredoCopyFormat format = LAREDO_COPY_BINARY;

	if (t->subset != NIL || t->soft_delete || t->metadata_columns || p->where != NULL)
		return LAREDO_COPY_NONE;
	rel = table_open(t->relid, AccessShareLock);
	desc = RelationGetDescr(rel);
	for (int i = 0; i < remoterel->natts && format == LAREDO_COPY_BINARY; i++)
	{
		Oid			remotetype = remoterel->atttyps[i];
		Oid			localtype = InvalidOid;
		HeapTuple	typtup;

		for (int j = 0; j < desc->natts; j++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, j);

			if (!att->attisdropped && strcmp(NameStr(att->attname), remoterel->attnames[i]) == 0)
				localtype = att->atttypid;
		}
		if (localtype != remotetype || remotetype >= FirstGenbkiObjectId)
		{
			format = LAREDO_COPY_TEXT;
			break;
		}
		/* a base type, or an array of one, with a binary input function */
		for (Oid type = localtype; OidIsValid(type);)
		{
			Form_pg_type typ;

			typtup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(type));
			if (!HeapTupleIsValid(typtup))
				elog(ERROR, "cache lookup failed for type %u", type);
			typ = (Form_pg_type) GETSTRUCT(typtup);
			if (typ->typtype != TYPTYPE_BASE || !OidIsValid(typ->typreceive))
				format = LAREDO_COPY_TEXT;
			type = (typ->typlen == -1 && OidIsValid(typ->typelem)) ? typ->typelem : InvalidOid;
			ReleaseSysCache(typtup);
		}
	}
	table_close(rel, AccessShareLock);
	return format;
}

/* Rows and bytes buffered before a multi-insert, as COPY FROM buffers them. */
#define BULK_MAX_TUPLES 1000
#define BULK_MAX_BYTES 65535

/*
 * A target that has never held a row (a new table: no block yet) and has no
 * triggers can be loaded as pg_restore loads a table: rows go to the heap in
 * multi-inserts, and the indexes are built afterwards, once, from sorted
 * keys, instead of one index insertion per row.  Unique and exclusion
 * constraints are checked by that build, NOT NULL, CHECK and generated
 * columns row by row as COPY FROM does.
 */
static bool
table_bulk_ok(Relation rel)
{
	return rel->rd_rel->relkind == RELKIND_RELATION && rel->trigdesc == NULL &&
		RelationGetNumberOfBlocks(rel) == 0;
}

static uint64
table_bulk_load(TableTarget *t, CopyFromState cstate)
{
	LaredoTargetExec *x = &t->x;
	TupleConstr *constr;
	TupleTableSlot **slots;
	ExprContext *econtext;
	BulkInsertState bistate = GetBulkInsertState();
	CommandId	cid = GetCurrentCommandId(true);
	ReindexParams params = {0};
	uint64		rows = 0;
	int			n = 0;
	Size		bytes = 0;
	bool		done = false;

	laredo_target_exec_open(x, t->relid);
	constr = RelationGetDescr(x->rel)->constr;
	econtext = GetPerTupleExprContext(x->estate);
	slots = palloc(sizeof(TupleTableSlot *) * BULK_MAX_TUPLES);
	for (int i = 0; i < BULK_MAX_TUPLES; i++)
		slots[i] = table_slot_create(x->rel, &x->estate->es_tupleTable);

	while (!done)
	{
		TupleTableSlot *slot = slots[n];
		MemoryContext old;
		bool		should_free;

		CHECK_FOR_INTERRUPTS();
		ResetPerTupleExprContext(x->estate);
		old = MemoryContextSwitchTo(GetPerTupleMemoryContext(x->estate));
		ExecClearTuple(slot);
		done = !NextCopyFrom(cstate, econtext, slot->tts_values, slot->tts_isnull);
		MemoryContextSwitchTo(old);
		if (!done)
		{
			ExecStoreVirtualTuple(slot);
			if (constr && constr->has_generated_stored)
				ExecComputeStoredGenerated(x->rri, x->estate, slot, CMD_INSERT);
			if (constr)
				ExecConstraints(x->rri, slot, x->estate);
			bytes += ExecFetchSlotHeapTuple(slot, true, &should_free)->t_len;
			n++;
			rows++;
		}
		if (n > 0 && (done || n == BULK_MAX_TUPLES || bytes >= BULK_MAX_BYTES))
		{
			table_multi_insert(x->rel, slots, n, cid, 0, bistate);
			for (int i = 0; i < n; i++)
				ExecClearTuple(slots[i]);
			n = 0;
			bytes = 0;
		}
	}
	table_finish_bulk_insert(x->rel, 0);
	FreeBulkInsertState(bistate);
	laredo_target_exec_close(x);

	/* the indexes, built once from the loaded heap */
	(void) reindex_relation(t->relid, REINDEX_REL_CHECK_CONSTRAINTS, &params);
	return rows;
}

static uint64
table_copy(LaredoPipeline *p, LogicalRepRelation *remoterel, LaredoCopyFormat format,
		   int (*read) (void *outbuf, int minread, int maxread))
{
	TableTarget *t = p->private;
	Relation	rel;
	ParseState *pstate;
	List	   *attnames = NIL;
	CopyFromState cstate;
	uint64		rows;
	bool		bulk;

	table_xact_end(p);
	rel = table_open(t->relid, RowExclusiveLock);
	bulk = table_bulk_ok(rel);
	if (bulk)
	{
		/* no other writer while the indexes lag behind the heap */
		LockRelationOid(t->relid, ShareLock);
	}
	pstate = make_parsestate(NULL);
	(void) addRangeTableEntryForRelation(pstate, rel, RowExclusiveLock, NULL, false, false);
	for (int i = 0; i < remoterel->natts; i++)
		attnames = lappend(attnames, makeString(pstrdup(remoterel->attnames[i])));
	cstate = BeginCopyFrom(pstate, rel, NULL, NULL, false, read, attnames,
						   format == LAREDO_COPY_BINARY ?
						   list_make1(makeDefElem("format", (Node *) makeString("binary"), -1)) : NIL);
	rows = bulk ? table_bulk_load(t, cstate) : CopyFrom(cstate);
	EndCopyFrom(cstate);
	table_close(rel, NoLock);
	t->map_stale = true;
	return rows;
}

const LaredoTargetRoutine laredo_target_table = {
	.init = table_init,
	.relation = table_relation,
	.baseline_begin = table_baseline_begin,
	.baseline_row = table_insert,
	.baseline_end = table_baseline_end,
	.insert = table_insert,
	.update = table_update,
	.delete = table_delete,
	.truncate = table_truncate,
	.xact_end = table_xact_end,
	.copy_format = table_copy_format,
	.copy = table_copy,
};
