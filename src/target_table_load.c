/*-------------------------------------------------------------------------
 * target_table_load.c
 *	  A mirror's baseline loaded straight from the source's COPY stream:
 *	  binary where both sides have the same built-in types, and a target
 *	  that has never held a row filled heap first, its indexes built once
 *	  afterwards.
 *-------------------------------------------------------------------------
 */
#include "laredo.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/pg_type.h"
#include "commands/copy.h"
#include "commands/copyfrom_internal.h"
#include "executor/executor.h"
#include "executor/nodeModifyTable.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_node.h"
#include "parser/parse_relation.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "bpchar_input.h"
#include "replication.h"
#include "target_table.h"

/*
 * A plain mirror loads the baseline straight from the COPY stream, as the
 * built-in table synchronisation does.  Binary when every column the source
 * sends lands in a column of the same built-in type here (the binary form is
 * only defined between equal types: a timestamp read as timestamptz, say,
 * would shift silently) whose binary form is its value
 * (laredo_binary_type_ok, as for the stream in binary); text otherwise, each
 * value through its input function.
 */
LaredoCopyFormat
laredo_table_copy_format(LaredoPipeline *p, LogicalRepRelation *remoterel)
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
			/* refused, with its reason, by the row-by-row path (target_table.c) */
			if (!att->attisdropped && att->attgenerated &&
				strcmp(NameStr(att->attname), remoterel->attnames[i]) == 0)
				format = LAREDO_COPY_NONE;
		}
		if (format == LAREDO_COPY_NONE)
			break;
		/* an OID alias type's binary form is the source's OID: its text is the object's name */
		if (localtype != remotetype || !laredo_binary_type_ok(localtype))
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
			/* what the insert allocates goes with the next row's reset */
			old = MemoryContextSwitchTo(GetPerTupleMemoryContext(x->estate));
			table_multi_insert(x->rel, slots, n, cid, 0, bistate);
			MemoryContextSwitchTo(old);
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
	(void) laredo_reindex_relation(t->relid, REINDEX_REL_CHECK_CONSTRAINTS, &params);
	return rows;
}

uint64
laredo_table_copy(LaredoPipeline *p, LogicalRepRelation *remoterel, LaredoCopyFormat format,
		   int (*read) (void *outbuf, int minread, int maxread))
{
	TableTarget *t = p->private;
	Relation	rel;
	ParseState *pstate;
	List	   *attnames = NIL;
	CopyFromState cstate;
	uint64		rows;
	bool		bulk;

	laredo_table_xact_end(p);
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
	/* character(n) columns read without counting characters (bpchar_input.c) */
	for (int i = 0; i < RelationGetDescr(rel)->natts; i++)
		laredo_bpchar_input_install(&cstate->in_functions[i]);
	rows = bulk ? table_bulk_load(t, cstate) : CopyFrom(cstate);
	EndCopyFrom(cstate);
	table_close(rel, NoLock);
	t->map_stale = true;
	return rows;
}

