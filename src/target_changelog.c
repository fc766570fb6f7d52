/*-------------------------------------------------------------------------
 * target_changelog.c
 *	  The `changelog` target: an append-only table with one row per change,
 *	  (lsn, commit_time, xid, seq, op, source_table, key, old, new), written
 *	  through the executor in the apply transaction, so it commits with the
 *	  resume position and a consumer reading by (lsn, seq) sees every change
 *	  exactly once, in commit order.
 *
 *	  lsn is the source transaction's commit LSN (individual change LSNs are
 *	  not in commit order) and seq the change's order within it, from 1;
 *	  baseline rows have op 'B', the copy's LSN, the copy's time and their row
 *	  number negated, so that they sort before a transaction committed at the
 *	  copy's LSN exactly, whose changes are not in the copy.  key holds the replica
 *	  identity columns; old holds what the source sends of the old row: the
 *	  identity columns, or the whole row under REPLICA IDENTITY FULL.  A value
 *	  the source left out because it is TOASTed and unchanged is marked
 *	  {"$unchanged_toast": true}, never invented.
 *
 *	  Option {"retain": "7 days"} prunes rows older than that (by commit time)
 *	  between transactions, in batches.
 *-------------------------------------------------------------------------
 */
#include "laredo.h"

#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_relation.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/pg_lsn.h"
#include "utils/rel.h"

#include "row_json.h"
#include "target.h"
#include "schema_changes.h"
#include "target_exec.h"

#define CHANGELOG_NATTS 9
#define PRUNE_BATCH		10000

typedef struct ChangelogTarget
{
	Oid			relid;
	char	   *retain;			/* an interval, or NULL */
	char	   *source_table;	/* "schema.table" as written in each row */

	/* per local transaction */
	LaredoTargetExec x;
	TupleTableSlot *slot;
} ChangelogTarget;

static void
changelog_init(LaredoPipeline *p)
{
	ChangelogTarget *t = MemoryContextAllocZero(GetMemoryChunkContext(p), sizeof(ChangelogTarget));
	MemoryContext cxt = GetMemoryChunkContext(p);
	Oid			nspid = get_namespace_oid(p->config->target_schema, true);
	Jsonb	   *options;
	JsonbValue *retain;

	t->relid = OidIsValid(nspid) ? get_relname_relid(p->config->target_table, nspid) : InvalidOid;
	if (!OidIsValid(t->relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("change log %s.%s of pipeline \"%s\" does not exist",
						quote_identifier(p->config->target_schema),
						quote_identifier(p->config->target_table), p->config->pipeline_id),
				 errhint("Drop the pipeline and create it again; laredo creates a missing change log.")));
	if (pg_class_aclcheck(t->relid, GetUserId(), ACL_INSERT) != ACLCHECK_OK ||
		pg_class_aclcheck(t->relid, GetUserId(), ACL_DELETE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("pipeline \"%s\" may not write change log %s.%s", p->config->pipeline_id,
						quote_identifier(p->config->target_schema),
						quote_identifier(p->config->target_table)),
				 errhint("GRANT INSERT, DELETE on the change log to the source's owner.")));
	t->source_table = MemoryContextStrdup(cxt, quote_qualified_identifier(p->config->source_schema,
																		  p->config->source_table));
	options = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(p->config->options)));
	retain = getKeyJsonValueFromContainer(&options->root, "retain", strlen("retain"), NULL);
	if (retain && retain->type == jbvString)
		t->retain = MemoryContextStrdup(cxt, pnstrdup(retain->val.string.val, retain->val.string.len));
	p->private = t;
}

static void
changelog_relation(LaredoPipeline *p, LogicalRepRelation *remoterel)
{
}

/* A change log takes any shape: a new one is only recorded (schema_changes.c). */
static bool
changelog_shape(LaredoPipeline *p, LogicalRepRelation *remoterel)
{
	LaredoSchemaPolicy policy = {.target_relid = InvalidOid, .follow = true};

	return laredo_schema_check(p, remoterel, &policy);
}

static void
changelog_open_xact(LaredoPipeline *p)
{
	ChangelogTarget *t = p->private;
	MemoryContext old;

	if (t->x.rel)
	{
		laredo_target_exec_next_command(&t->x);
		return;
	}
	laredo_target_exec_open(&t->x, t->relid);
	old = MemoryContextSwitchTo(TopTransactionContext);
	t->slot = ExecInitExtraTupleSlot(t->x.estate, RelationGetDescr(t->x.rel), &TTSOpsVirtual);
	MemoryContextSwitchTo(old);
}

static void
changelog_xact_end(LaredoPipeline *p)
{
	laredo_target_exec_close(&((ChangelogTarget *) p->private)->x);
}

/* The old tuple as the source sent it: the whole row under FULL, else the key. */
static bool
old_is_key_only(LogicalRepRelation *rel)
{
	return rel->replident != REPLICA_IDENTITY_FULL;
}

static void
changelog_write(LaredoPipeline *p, char op, LogicalRepTupleData *oldtup, LogicalRepTupleData *newtup)
{
	ChangelogTarget *t = p->private;
	const LaredoChangeMeta *meta = laredo_apply_meta();
	LogicalRepRelation *rel = meta->relation;
	TupleTableSlot *slot;
	Datum	   *values;
	bool	   *nulls;
	char		opstr[2] = {op, '\0'};

	changelog_open_xact(p);
	slot = t->slot;
	ExecClearTuple(slot);
	values = slot->tts_values;
	nulls = slot->tts_isnull;
	memset(nulls, true, sizeof(bool) * slot->tts_tupleDescriptor->natts);

	values[0] = LSNGetDatum(meta->commit_lsn);
	nulls[0] = false;
	values[1] = TimestampTzGetDatum(meta->commit_time);
	nulls[1] = (meta->commit_time == 0);
	values[2] = Int64GetDatum((int64) meta->xid);
	nulls[2] = !TransactionIdIsValid(meta->xid);
	values[3] = Int64GetDatum(meta->seq);
	nulls[3] = false;
	values[4] = CStringGetTextDatum(opstr);
	nulls[4] = false;
	values[5] = CStringGetTextDatum(t->source_table);
	nulls[5] = false;
	if (op != 'T')
	{
		/* the key: from the old tuple when the source sent one, else the new */
		values[6] = laredo_row_jsonb(rel, oldtup ? oldtup : newtup, true, &nulls[6]);
		if (op == 'U' || op == 'D')
			values[7] = oldtup ? laredo_row_jsonb(rel, oldtup, old_is_key_only(rel), &nulls[7])
				: laredo_row_jsonb(rel, newtup, true, &nulls[7]);
		values[8] = laredo_row_jsonb(rel, newtup, false, &nulls[8]);
	}
	ExecStoreVirtualTuple(slot);
	ExecSimpleRelationInsert(t->x.rri, t->x.estate, slot);
}

static void
changelog_baseline_begin(LaredoPipeline *p)
{
}

static void
changelog_baseline_row(LaredoPipeline *p, LogicalRepTupleData *row)
{
	changelog_write(p, 'B', NULL, row);
}

static void
changelog_baseline_end(LaredoPipeline *p)
{
}

static void
changelog_insert(LaredoPipeline *p, LogicalRepTupleData *newtup)
{
	changelog_write(p, 'I', NULL, newtup);
}

static void
changelog_update(LaredoPipeline *p, LogicalRepTupleData *oldtup, LogicalRepTupleData *newtup)
{
	changelog_write(p, 'U', oldtup, newtup);
}

static void
changelog_delete(LaredoPipeline *p, LogicalRepTupleData *oldtup)
{
	changelog_write(p, 'D', oldtup, NULL);
}

static void
changelog_truncate(LaredoPipeline *p, LaredoTruncate *truncate)
{
	changelog_write(p, 'T', NULL, NULL);
}

/*
 * Retention: deletes one batch of rows older than the retention.  Called
 * between remote transactions, in a transaction of its own.
 */
void
laredo_target_changelog_prune(LaredoPipeline *p)
{
	ChangelogTarget *t = p->private;

	if (t == NULL || t->retain == NULL)
		return;
	SPI_connect();
	if (SPI_execute(psprintf("DELETE FROM %s WHERE ctid = ANY (ARRAY(SELECT ctid FROM %s "
							 "WHERE commit_time < now() - %s::interval LIMIT %d))",
							 quote_qualified_identifier(p->config->target_schema, p->config->target_table),
							 quote_qualified_identifier(p->config->target_schema, p->config->target_table),
							 quote_literal_cstr(t->retain), PRUNE_BATCH),
					false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not prune change log of pipeline \"%s\"", p->config->pipeline_id);
	SPI_finish();
}

const LaredoTargetRoutine laredo_target_changelog = {
	.init = changelog_init,
	.relation = changelog_relation,
	.shape = changelog_shape,
	.baseline_begin = changelog_baseline_begin,
	.baseline_row = changelog_baseline_row,
	.baseline_end = changelog_baseline_end,
	.insert = changelog_insert,
	.update = changelog_update,
	.delete = changelog_delete,
	.truncate = changelog_truncate,
	.xact_end = changelog_xact_end,
};
