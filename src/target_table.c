/*-------------------------------------------------------------------------
 * target_table.c
 *	  The `table` target: a mirror table keyed by the source table's replica
 *	  identity, written through the executor (ExecSimpleRelation*), with
 *	  indexes, constraints and triggers, as the built-in apply worker does.
 *	  A plain mirror (no trigger) is written faster: rows found through one
 *	  index scan per transaction and not locked first (table_find); its
 *	  updates of a key merged until the commit (target_table_merge.c); its
 *	  baseline loaded straight from the COPY stream (target_table_load.c).
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
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/nbtree.h"
#include "access/tableam.h"
#include "catalog/catalog.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_index.h"
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
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "common/hashfn.h"
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
#include "bpchar_input.h"
#include "target_table.h"


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

/*
 * The targets of this worker.  A target changed here (a column added,
 * dropped or of another type, an index) is mapped again before its next
 * transaction: the relcache tells, when that transaction locks it.
 */
static List *table_targets = NIL;
static bool table_callback_registered = false;

static void
table_relcache_changed(Datum arg, Oid relid)
{
	ListCell   *lc;

	foreach(lc, table_targets)
	{
		TableTarget *t = lfirst(lc);

		if (!OidIsValid(relid) || t->relid == relid)
			t->map_stale = true;
	}
}

static void
table_init(LaredoPipeline *p)
{
	TableTarget *t = MemoryContextAllocZero(GetMemoryChunkContext(p), sizeof(TableTarget));
	Oid			nspid = get_namespace_oid(p->config->target_schema, true);
	MemoryContext old;

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

	if (!table_callback_registered)
	{
		CacheRegisterRelcacheCallback(table_relcache_changed, (Datum) 0);
		table_callback_registered = true;
	}
	old = MemoryContextSwitchTo(GetMemoryChunkContext(p));	/* lives as long as the pipeline */
	table_targets = lappend(table_targets, t);
	MemoryContextSwitchTo(old);
}

static void
table_relation(LaredoPipeline *p, LogicalRepRelation *remoterel)
{
	TableTarget *t = p->private;

	/* held-back rows are in the previous shape: written before it changes */
	if (t->pending_order != NIL)
	{
		PushActiveSnapshot(GetTransactionSnapshot());
		laredo_table_flush_merged(p);
		PopActiveSnapshot();
		CommandCounterIncrement();
	}
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
		laredo_bpchar_input_install(&t->typinfmgr[i]);
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

/* The identity index among those the executor opened for this transaction, or NULL. */
static Relation
table_identity_index(TableTarget *t)
{
	for (int i = 0; i < t->x.rri->ri_NumIndices; i++)
		if (RelationGetRelid(t->x.rri->ri_IndexRelationDescs[i]) == t->idxoid)
			return t->x.rri->ri_IndexRelationDescs[i];
	return NULL;
}

/*
 * Whether updates of this target may be held back and merged per key until
 * the local commit.  Only for a plain mirror keyed by an index, with no
 * trigger (nor foreign key) to see the intermediate rows, no unique index
 * but the key's (two rows swapping a unique value would collide when
 * written out of order), and no function target of the source that could
 * read the table in between.
 */
static bool
table_may_defer(TableTarget *t)
{
	Relation	rel = t->x.rel;
	Relation	idxrel = table_identity_index(t);
	Bitmapset  *mapped = NULL;

	if (!laredo_apply_may_defer() || t->soft_delete || t->metadata_columns ||
		rel->rd_rel->relkind != RELKIND_RELATION || rel->trigdesc != NULL ||
		idxrel == NULL || t->remoterel->replident == REPLICA_IDENTITY_FULL)
		return false;

	/* the remote key must be exactly the local index's key: one row per key */
	for (int k = 0; k < IndexRelationGetNumberOfKeyAttributes(idxrel); k++)
	{
		AttrNumber	attno = idxrel->rd_index->indkey.values[k];

		if (attno <= 0 || t->attmap[attno - 1] < 0)
			return false;
		mapped = bms_add_member(mapped, t->attmap[attno - 1]);
	}
	if (!bms_equal(mapped, t->remoterel->attkeys))
		return false;

	for (int i = 0; i < t->x.rri->ri_NumIndices; i++)
	{
		Form_pg_index index = t->x.rri->ri_IndexRelationDescs[i]->rd_index;

		if (index->indexrelid != t->idxoid && (index->indisunique || index->indisexclusion))
			return false;
	}
	return true;
}

/*
 * Opens the scan by which a plain mirror finds rows by key: the identity
 * index, its equality operators looked up once, and SnapshotSelf (rows
 * committed, or written by this transaction up to now, which is all a
 * mirror's only writer needs to see).
 */
static void
table_begin_keyscan(TableTarget *t)
{
	Relation	rel = t->x.rel;
	Relation	idxrel = table_identity_index(t);
	oidvector  *opclass;
	bool		isnull;

	t->keyscan = NULL;
	if (idxrel == NULL || rel->trigdesc != NULL || rel->rd_rel->relkind != RELKIND_RELATION)
		return;
	opclass = (oidvector *) DatumGetPointer(SysCacheGetAttr(INDEXRELID, idxrel->rd_indextuple,
															Anum_pg_index_indclass, &isnull));
	t->nkeys = IndexRelationGetNumberOfKeyAttributes(idxrel);
	for (int k = 0; k < t->nkeys; k++)
	{
		Oid			optype = get_opclass_input_type(opclass->values[k]);
		Oid			opfamily = get_opclass_family(opclass->values[k]);
		Oid			operator = get_opfamily_member(opfamily, optype, optype, BTEqualStrategyNumber);

		if (!OidIsValid(operator))
			return;				/* the locked lookup says why */
		t->keyattnos[k] = idxrel->rd_index->indkey.values[k];
		ScanKeyInit(&t->keys[k], k + 1, BTEqualStrategyNumber, get_opcode(operator), (Datum) 0);
		t->keys[k].sk_collation = idxrel->rd_indcollation[k];
	}
	t->keyscan = index_beginscan(rel, idxrel, SnapshotSelf, t->nkeys, 0);
}

/* Opens the target for this local transaction. */
void
laredo_table_open_xact(LaredoPipeline *p)
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
	t->may_defer = table_may_defer(t);
	table_begin_keyscan(t);

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

void
laredo_table_xact_end(LaredoPipeline *p)
{
	TableTarget *t = p->private;

	laredo_table_flush_merged(p);
	if (t->keyscan)
		index_endscan(t->keyscan);
	t->keyscan = NULL;
	laredo_target_exec_close(&t->x);
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

static bool table_find(TableTarget *t, LogicalRepTupleData *key, bool lock);

static void
table_insert(LaredoPipeline *p, LogicalRepTupleData *newtup)
{
	TableTarget *t = p->private;

	laredo_table_open_xact(p);
	laredo_table_flush_merged(p);
	/* with soft deletes, the row may still be here, marked deleted: revive it */
	if (t->soft_delete && table_find(t, newtup, false))
	{
		laredo_table_update_row(p, NULL, newtup);
		return;
	}
	table_store(t, t->remoteslot, newtup, NULL);
	table_stamp(t, t->remoteslot, 0);
	ExecSimpleRelationInsert(t->x.rri, t->x.estate, t->remoteslot);
	ResetPerTupleExprContext(t->x.estate);
}

/*
 * Finds the target's row with the key of a remote tuple into localslot.
 *
 * The built-in apply worker (RelationFindReplTupleByIndex) starts an index
 * scan per row with a dirty snapshot and locks the row it found, which
 * writes a WAL record and dirties the page before the update or delete
 * that follows writes its own.  A plain mirror has one writer, laredo:
 * its rows are found through a scan kept open for the transaction, and
 * written without that lock (found_unlocked).  A row another transaction
 * holds (its xmax set) is looked up the built-in way, waiting for it and
 * locking it; one that another transaction changes in between makes the
 * write report it (table_write_unlocked), and the row is looked up again
 * that way.
 */
static bool
table_find(TableTarget *t, LogicalRepTupleData *key, bool lock)
{
	MemoryContext old;
	bool		found;

	table_store(t, t->searchslot, key, NULL);
	t->found_unlocked = false;
	if (t->keyscan != NULL && !lock)
	{
		for (int k = 0; k < t->nkeys; k++)
		{
			t->keys[k].sk_argument = t->searchslot->tts_values[t->keyattnos[k] - 1];
			if (t->searchslot->tts_isnull[t->keyattnos[k] - 1])
				t->keys[k].sk_flags |= SK_ISNULL;
			else
				t->keys[k].sk_flags &= ~SK_ISNULL;
		}
		/* the scan keeps what it allocates on the way (killed items) until its end */
		old = MemoryContextSwitchTo(TopTransactionContext);
		index_rescan(t->keyscan, t->keys, t->nkeys, NULL, 0);
		found = index_getnext_slot(t->keyscan, ForwardScanDirection, t->localslot);
		MemoryContextSwitchTo(old);
		if (found)
		{
			HeapTupleHeader tuple = ((BufferHeapTupleTableSlot *) t->localslot)->base.tuple->t_data;
			TransactionId xmax = HeapTupleHeaderGetRawXmax(tuple);

			if ((tuple->t_infomask & HEAP_XMAX_INVALID) || !TransactionIdIsValid(xmax) ||
				(!(tuple->t_infomask & HEAP_XMAX_IS_MULTI) && TransactionIdIsCurrentTransactionId(xmax)))
			{
				t->found_unlocked = true;
				return true;
			}
		}
	}
	if (OidIsValid(t->idxoid))
		return RelationFindReplTupleByIndex(t->x.rel, t->idxoid, LockTupleExclusive,
											t->searchslot, t->localslot);
	return RelationFindReplTupleSeq(t->x.rel, LockTupleExclusive, t->searchslot, t->localslot);
}

/*
 * Updates (newslot given) or deletes the row table_find found unlocked, as
 * ExecSimpleRelationUpdate/Delete would for a table without triggers.
 * False when another transaction changed the row since it was found: the
 * caller finds it again, locked.
 */
static bool
table_write_unlocked(TableTarget *t, TupleTableSlot *newslot)
{
	Relation	rel = t->x.rel;
	ResultRelInfo *rri = t->x.rri;
	EState	   *estate = t->x.estate;
	TM_FailureData tmfd;
	TM_Result	res;

	CheckCmdReplicaIdentity(rel, newslot ? CMD_UPDATE : CMD_DELETE);
	if (newslot)
	{
		LockTupleMode lockmode;
		bool		update_indexes;

		if (rel->rd_att->constr && rel->rd_att->constr->has_generated_stored)
			ExecComputeStoredGenerated(rri, estate, newslot, CMD_UPDATE);
		if (rel->rd_att->constr)
			ExecConstraints(rri, newslot, estate);
		if (rel->rd_rel->relispartition)
			ExecPartitionCheck(rri, newslot, estate, true);
		res = table_tuple_update(rel, &t->localslot->tts_tid, newslot, GetCurrentCommandId(true),
								 estate->es_snapshot, InvalidSnapshot, true, &tmfd, &lockmode,
								 &update_indexes);
		if (res == TM_Ok && update_indexes && rri->ri_NumIndices > 0)
			list_free(ExecInsertIndexTuples(rri, newslot, estate, true, false, NULL, NIL));
	}
	else
		res = table_tuple_delete(rel, &t->localslot->tts_tid, GetCurrentCommandId(true),
								 estate->es_snapshot, InvalidSnapshot, true, &tmfd, false);
	if (res == TM_Updated || res == TM_Deleted)
		return false;
	if (res != TM_Ok)
		elog(ERROR, "unexpected result %d writing a row of \"%s\"", (int) res, RelationGetRelationName(rel));
	return true;
}

static bool
tuple_is_complete(LogicalRepTupleData *tup)
{
	for (int i = 0; i < tup->ncols; i++)
		if (tup->colstatus[i] == LOGICALREP_COLUMN_UNCHANGED)
			return false;
	return true;
}

void
laredo_table_update_row(LaredoPipeline *p, LogicalRepTupleData *oldtup, LogicalRepTupleData *newtup)
{
	TableTarget *t = p->private;
	bool		lock = false;
	bool		found;

	laredo_table_open_xact(p);
	while ((found = table_find(t, oldtup ? oldtup : newtup, lock)))
	{
		EPQState	epq;

		table_store(t, t->remoteslot, newtup, t->localslot);
		table_stamp(t, t->remoteslot, 0);
		if (t->found_unlocked)
		{
			if (table_write_unlocked(t, t->remoteslot))
				break;
			lock = true;		/* changed meanwhile: again, locked */
			continue;
		}
		EvalPlanQualInit(&epq, t->x.estate, NULL, NIL, -1);
		EvalPlanQualSetSlot(&epq, t->remoteslot);
		ExecSimpleRelationUpdate(t->x.rri, t->x.estate, &epq, t->localslot, t->remoteslot);
		EvalPlanQualEnd(&epq);
		break;
	}
	if (!found && tuple_is_complete(newtup))
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
	else if (!found)
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
	bool		lock = false;

	laredo_table_open_xact(p);
	laredo_table_flush_merged(p);
	while (table_find(t, oldtup, lock))
	{
		EPQState	epq;

		if (t->found_unlocked && !t->soft_delete)
		{
			if (table_write_unlocked(t, NULL))
				break;
			lock = true;		/* changed meanwhile: again, locked */
			continue;
		}
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
		break;
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
	laredo_table_xact_end(p);
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
	laredo_table_xact_end(p);
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

const LaredoTargetRoutine laredo_target_table = {
	.init = table_init,
	.relation = table_relation,
	.baseline_begin = table_baseline_begin,
	.baseline_row = table_insert,
	.baseline_end = table_baseline_end,
	.insert = table_insert,
	.update = laredo_table_update,
	.delete = table_delete,
	.truncate = table_truncate,
	.xact_end = laredo_table_xact_end,
	.copy_format = laredo_table_copy_format,
	.copy = laredo_table_copy,
};
