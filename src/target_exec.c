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
#include "catalog/catalog.h"
#include "catalog/pg_inherits.h"
#include "commands/tablecmds.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "target.h"
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
	laredo_exec_init_range_table(x->estate, rte);
	x->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(x->rri, x->rel, 1, NULL, 0);
	/* where after triggers find it, as the built-in's create_edata_for_relation puts it */
	x->estate->es_opened_result_relations = lappend(x->estate->es_opened_result_relations, x->rri);
	x->estate->es_output_cid = GetCurrentCommandId(true);
	ExecOpenIndices(x->rri, false);
	AfterTriggerBeginQuery();
	MemoryContextSwitchTo(old);
}

/*
 * The state lives for the local transaction, across the commands of many
 * changes: each change writes as its own command (a row a BEFORE trigger
 * locks may have been written by the change before, which the command of
 * the state's opening could not see).
 */
void
laredo_target_exec_next_command(LaredoTargetExec *x)
{
	x->estate->es_output_cid = GetCurrentCommandId(true);
}

/* Ends the writes of this local transaction; fires after triggers. */
void
laredo_target_exec_close(LaredoTargetExec *x)
{
	if (x->rel == NULL)
		return;
	AfterTriggerEndQuery(x->estate);
	/* the result relation's indexes, and relations the after triggers opened */
	ExecCloseResultRelations(x->estate);
	ExecResetTupleTable(x->estate->es_tupleTable, false);
	FreeExecutorState(x->estate);
	table_close(x->rel, NoLock);
	x->rel = NULL;
	x->estate = NULL;
	x->rri = NULL;
}

/*
 * Adds a table (and, if partitioned, each of its partitions) to the tables
 * one Truncate message truncates.
 */
void
laredo_truncate_add(LaredoTruncate *truncate, Oid relid)
{
	MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);
	List	   *all = find_all_inheritors(relid, AccessExclusiveLock, NULL);
	ListCell   *lc;

	/* find_all_inheritors gives the table itself too, and the descendants of a plain one */
	if (get_rel_relkind(relid) != RELKIND_PARTITIONED_TABLE)
		all = list_make1_oid(relid);
	foreach(lc, all)
	{
		Oid			oid = lfirst_oid(lc);
		Relation	rel;

		if (list_member_oid(truncate->relids, oid))
			continue;
		rel = table_open(oid, AccessExclusiveLock);
		if (RELATION_IS_OTHER_TEMP(rel))
		{
			table_close(rel, AccessExclusiveLock);
			continue;
		}
		truncate->rels = lappend(truncate->rels, rel);
		truncate->relids = lappend_oid(truncate->relids, oid);
		if (RelationIsLogicallyLogged(rel))
			truncate->relids_logged = lappend_oid(truncate->relids_logged, oid);
	}
	MemoryContextSwitchTo(old);
}

/*
 * Truncates the tables of one Truncate message at once, as
 * apply_handle_truncate does: never a local CASCADE (a table referencing
 * one of them and not truncated with it is an error), sequences restarted
 * when the source restarted its own.
 */
void
laredo_truncate_execute(LaredoTruncate *truncate)
{
	ListCell   *lc;

	if (truncate->rels == NIL)
		return;
	laredo_execute_truncate_guts(truncate->rels, truncate->relids, truncate->relids_logged,
								 truncate->restart_seqs);
	foreach(lc, truncate->rels)
		table_close(lfirst(lc), NoLock);
	truncate->rels = truncate->relids = truncate->relids_logged = NIL;
}
