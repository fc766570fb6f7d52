/*-------------------------------------------------------------------------
 * target_table_route.c
 *	  A partitioned mirror: every row goes to the partition its values belong
 *	  to, as in the built-in apply worker's tuple routing
 *	  (apply_handle_tuple_routing in worker.c).  A row is built in the shape
 *	  of the partitioned table, its leaf partition found by ExecFindPartition
 *	  and the row converted to that partition's shape.  An update finds the
 *	  row in the partition its key routes to; when the new values belong to
 *	  another partition, the row is deleted there and inserted in the other.
 *	  The target may be partitioned like the source, differently, or be the
 *	  only partitioned one.
 *
 *	  Rows are found in a partition as the built-in finds them: through its
 *	  replica identity index or primary key (else a unique index on the
 *	  source's key columns), or by every column when the source sends whole
 *	  rows (REPLICA IDENTITY FULL).
 *-------------------------------------------------------------------------
 */
#include "laredo.h"

#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "executor/execPartition.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "nodes/makefuncs.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "target_table.h"

/* What one leaf partition needs, kept for the local transaction. */
typedef struct RoutedPartition
{
	ResultRelInfo *rri;
	TupleTableSlot *searchslot;	/* the key, in the partition's shape */
	TupleTableSlot *localslot;	/* the row found there */
	TupleTableSlot *rowslot;	/* a new row, in the partition's shape */
	Oid			idxoid;			/* how rows are found; InvalidOid: every column */
	TupleConversionMap *toroot; /* the partition's rows into the partitioned table's shape */
} RoutedPartition;

/* A row in dest's shape: converted by map, or copied when the shapes are the same. */
static TupleTableSlot *
route_convert(TupleConversionMap *map, TupleTableSlot *src, TupleTableSlot *dest)
{
	if (map != NULL)
		return execute_attr_map_slot(map->attrMap, src, dest);
	ExecCopySlot(dest, src);
	slot_getallattrs(dest);
	return dest;
}

/* Sets up routing for this local transaction (laredo_table_open_xact). */
void
laredo_table_route_begin(TableTarget *t)
{
	MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);
	ModifyTableState *mtstate = makeNode(ModifyTableState);

	mtstate->ps.plan = NULL;
	mtstate->ps.state = t->x.estate;
	mtstate->operation = CMD_INSERT;
	mtstate->resultRelInfo = t->x.rri;
	t->mtstate = mtstate;
	t->proute = ExecSetupPartitionTupleRouting(t->x.estate, t->x.rel);
	t->routed = NIL;
	t->rootcurrent = ExecInitExtraTupleSlot(t->x.estate, RelationGetDescr(t->x.rel), &TTSOpsVirtual);
	MemoryContextSwitchTo(old);
}

/* Closes the partitions routing opened; before the executor state goes. */
void
laredo_table_route_end(TableTarget *t)
{
	if (t->proute)
		ExecCleanupTupleRouting(t->mtstate, t->proute);
	t->proute = NULL;
	t->mtstate = NULL;
	t->routed = NIL;
	t->rootcurrent = NULL;
}

/*
 * The leaf partition a row (in the partitioned table's shape) belongs to,
 * and the row converted into that partition's shape in *partslot (its
 * searchslot or rowslot, as asked).
 */
static RoutedPartition *
route_row(TableTarget *t, TupleTableSlot *rootslot, bool as_search, TupleTableSlot **partslot)
{
	MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);
	ResultRelInfo *rri;
	RoutedPartition *rp = NULL;
	ListCell   *lc;
	rri = ExecFindPartition(t->mtstate, t->x.rri, t->proute, rootslot, t->x.estate);
	foreach(lc, t->routed)
		if (((RoutedPartition *) lfirst(lc))->rri == rri)
			rp = lfirst(lc);
	if (rp == NULL)
	{
		Relation	partrel = rri->ri_RelationDesc;

		if (partrel->rd_rel->relkind != RELKIND_RELATION)
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("partition \"%s\" of target %s cannot be written by laredo",
							RelationGetRelationName(partrel), RelationGetRelationName(t->x.rel)),
					 errdetail("It is not a table (a foreign table, say).")));
		rp = palloc0(sizeof(RoutedPartition));
		rp->rri = rri;
		rp->searchslot = table_slot_create(partrel, &t->x.estate->es_tupleTable);
		rp->localslot = table_slot_create(partrel, &t->x.estate->es_tupleTable);
		rp->rowslot = table_slot_create(partrel, &t->x.estate->es_tupleTable);
		rp->idxoid = laredo_table_identity_index(partrel, t->remoterel);
		/* built here once: it lives as long as the transaction's executor state */
		rp->toroot = ExecGetChildToRootMap(rri);
		t->routed = lappend(t->routed, rp);
	}
	MemoryContextSwitchTo(old);

	*partslot = route_convert(laredo_root_to_child_map(rri, t->x.estate), rootslot,
							  as_search ? rp->searchslot : rp->rowslot);
	return rp;
}

/* Finds the row with the key in searchslot (partition shape) into rp->localslot. */
static bool
route_find(TableTarget *t, RoutedPartition *rp, TupleTableSlot *searchslot)
{
	Relation	partrel = rp->rri->ri_RelationDesc;

	if (OidIsValid(rp->idxoid))
		return laredo_find_repl_tuple_by_index(partrel, rp->idxoid, LockTupleExclusive,
											searchslot, rp->localslot);
	if (t->remoterel->replident == REPLICA_IDENTITY_FULL)
		return RelationFindReplTupleSeq(partrel, LockTupleExclusive, searchslot, rp->localslot);
	laredo_table_no_identity(t, partrel);
}

/* Inserts a row built in the partitioned table's shape into its partition. */
void
laredo_table_route_insert(TableTarget *t, TupleTableSlot *rootslot)
{
	TupleTableSlot *partslot;
	RoutedPartition *rp;

	t->mtstate->operation = CMD_INSERT;
	rp = route_row(t, rootslot, false, &partslot);
	ExecSimpleRelationInsert(rp->rri, t->x.estate, partslot);
}

/*
 * Finds the row whose key is in key (the partitioned table's shape), and
 * leaves it in the partitioned table's shape in t->rootcurrent.  Returns
 * the partition it is in, or NULL when there is no such row.
 */
RoutedPartition *
laredo_table_route_find(TableTarget *t, TupleTableSlot *key)
{
	TupleTableSlot *partsearch;
	RoutedPartition *rp;

	rp = route_row(t, key, true, &partsearch);
	if (!route_find(t, rp, partsearch))
		return NULL;
	(void) route_convert(rp->toroot, rp->localslot, t->rootcurrent);
	return rp;
}

/*
 * Replaces the row laredo_table_route_find found in rp with newrow (the
 * partitioned table's shape): in place when it still belongs there, else
 * by a delete there and an insert into the partition it now belongs to.
 */
void
laredo_table_route_update(TableTarget *t, RoutedPartition *rp, TupleTableSlot *newrow)
{
	EState	   *estate = t->x.estate;
	TupleTableSlot *partslot = route_convert(laredo_root_to_child_map(rp->rri, estate), newrow,
											 rp->rowslot);
	EPQState	epq;

	laredo_eval_plan_qual_init(&epq, estate);
	if (ExecPartitionCheck(rp->rri, partslot, estate, false))
	{
		EvalPlanQualSetSlot(&epq, partslot);
		ExecSimpleRelationUpdate(rp->rri, estate, &epq, rp->localslot, partslot);
	}
	else
	{
		/* the row moves: the built-in deletes it here and inserts it there */
		EvalPlanQualSetSlot(&epq, rp->localslot);
		ExecSimpleRelationDelete(rp->rri, estate, &epq, rp->localslot);
		t->mtstate->operation = CMD_UPDATE;
		rp = route_row(t, newrow, false, &partslot);
		ExecSimpleRelationInsert(rp->rri, estate, partslot);
	}
	EvalPlanQualEnd(&epq);
}

/* Deletes the row laredo_table_route_find found in rp. */
void
laredo_table_route_delete(TableTarget *t, RoutedPartition *rp)
{
	EPQState	epq;

	laredo_eval_plan_qual_init(&epq, t->x.estate);
	EvalPlanQualSetSlot(&epq, rp->localslot);
	ExecSimpleRelationDelete(rp->rri, t->x.estate, &epq, rp->localslot);
	EvalPlanQualEnd(&epq);
}
