/*-------------------------------------------------------------------------
 * target_exec.c
 *	  The executor state a target writes its table with during one local
 *	  transaction: the relation, an EState with one result relation, its
 *	  indexes and the after-trigger query level, as the built-in apply
 *	  worker sets them up.  Shared by the table and changelog targets.
 *-------------------------------------------------------------------------
 */
#include "laredo.h"

#include "access/table.h"
#include "access/xact.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "target_exec.h"

/* Opens relid for writing in this local transaction (in TopTransactionContext). */
void
laredo_target_exec_open(LaredoTargetExec *x, Oid relid)
{
	MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);
	RangeTblEntry *rte;

	x->rel = table_open(relid, RowExclusiveLock);
	x->estate = CreateExecutorState();
	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = relid;
	rte->relkind = x->rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	ExecInitRangeTable(x->estate, list_make1(rte));
	x->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(x->rri, x->rel, 1, NULL, 0);
	x->estate->es_output_cid = GetCurrentCommandId(true);
	ExecOpenIndices(x->rri, false);
	AfterTriggerBeginQuery();
	MemoryContextSwitchTo(old);
}

/* Ends the writes of this local transaction; fires after triggers. */
void
laredo_target_exec_close(LaredoTargetExec *x)
{
	if (x->rel == NULL)
		return;
	ExecCloseIndices(x->rri);
	AfterTriggerEndQuery(x->estate);
	ExecResetTupleTable(x->estate->es_tupleTable, false);
	FreeExecutorState(x->estate);
	table_close(x->rel, NoLock);
	x->rel = NULL;
	x->estate = NULL;
	x->rri = NULL;
}
