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
#include "catalog/pg_publication.h"
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
#include "utils/guc.h"
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

#include "apply.h"
#include "replication.h"
#include "target.h"
#include "target_exec.h"
#include "bpchar_input.h"
#include "target_table.h"
#include "schema_changes.h"


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

	JsonbValue *schema_changes = getKeyJsonValueFromContainer(&options->root, "schema_changes",
															  strlen("schema_changes"), NULL);
	JsonbValue *dropped = getKeyJsonValueFromContainer(&options->root, "dropped_columns",
													   strlen("dropped_columns"), NULL);

	t->schema_follow = !(schema_changes && schema_changes->type == jbvString &&
						 schema_changes->val.string.len == 5 &&
						 strncmp(schema_changes->val.string.val, "error", 5) == 0);
	t->schema_ignore = schema_changes && schema_changes->type == jbvString &&
		schema_changes->val.string.len == 6 &&
		strncmp(schema_changes->val.string.val, "ignore", 6) == 0;
	t->keep_dropped = dropped && dropped->type == jbvString && dropped->val.string.len == 4 &&
		strncmp(dropped->val.string.val, "keep", 4) == 0;
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
	t->target_name = MemoryContextStrdup(GetMemoryChunkContext(t),
										 quote_qualified_identifier(p->config->target_schema,
																	p->config->target_table));
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

/*
 * What this transaction holds open on the mirror (held-back updates, the map
 * of columns, the executor state built on them) is written and closed; the
 * next change opens it again.  Before a new shape, and before an ALTER TABLE
 * of the mirror.
 */
static void
table_close_open(LaredoPipeline *p)
{
	TableTarget *t = p->private;

	if (t->x.rel != NULL)
	{
		PushActiveSnapshot(GetTransactionSnapshot());
		laredo_table_xact_end(p);
		PopActiveSnapshot();
		CommandCounterIncrement();
	}
	t->map_stale = true;
}

/*
 * The published relation the next changes come from: a new shape of the
 * source table, or another partition of it (each in its own column order).
 */
static void
table_relation(LaredoPipeline *p, LogicalRepRelation *remoterel)
{
	table_close_open(p);
	((TableTarget *) p->private)->remoterel = remoterel;
}

/* The source table was described again: compared with the shape mapped (schema_changes.c). */
static bool
table_shape(LaredoPipeline *p, LogicalRepRelation *remoterel)
{
	TableTarget *t = p->private;
	/* ignore: recorded only, the columns mapped by name as the subscriber maps them */
	LaredoSchemaPolicy policy = {
		.target_relid = t->schema_ignore ? InvalidOid : t->relid,
		.follow = t->schema_follow,
		.keep_dropped = t->keep_dropped,
		.subset = t->subset,
		.close = table_close_open,
	};

	return laredo_schema_check(p, remoterel, &policy);
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
	t->recv_direct = MemoryContextAllocZero(cxt, sizeof(bool) * desc->natts);
	t->typrecvioparam = MemoryContextAlloc(cxt, sizeof(Oid) * desc->natts);
	t->typrecvfmgr = MemoryContextAllocZero(cxt, sizeof(FmgrInfo) * desc->natts);
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
		/* a value in binary of the column's own type goes in as worker.c's slot_store_data puts it */
		if (t->attmap[i] >= 0 && remote->atttyps[t->attmap[i]] == att->atttypid &&
			laredo_binary_type_ok(att->atttypid))
		{
			Oid			typreceive;

			getTypeBinaryInputInfo(att->atttypid, &typreceive, &t->typrecvioparam[i]);
			fmgr_info_cxt(typreceive, &t->typrecvfmgr[i], cxt);
			laredo_bpchar_input_install(&t->typrecvfmgr[i]);
			t->recv_direct[i] = true;
		}
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
	{
		if (bms_is_member(r, mapped) || !in_subset(t, remote->attnames[r]))
			continue;
		/* as the built-in's logicalrep_report_missing_or_gen_attrs */
		for (int i = 0; i < desc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, i);

			if (att->attgenerated && !att->attisdropped &&
				strcmp(NameStr(att->attname), remote->attnames[r]) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("target %s.%s of pipeline \"%s\" has a generated column \"%s\", which the source sends",
								quote_identifier(p->config->target_schema),
								quote_identifier(p->config->target_table),
								p->config->pipeline_id, remote->attnames[r]),
						 errdetail("A generated column is computed here and cannot take the source's values; PostgreSQL's subscriber refuses it too (\"incompatible generated column\")."),
						 errhint("Drop the expression on the target (ALTER TABLE ... ALTER COLUMN ... DROP EXPRESSION), or leave the column out of the source's publication, then alter_source(..., enabled => true).")));
		}
		ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("target %s.%s of pipeline \"%s\" has no column \"%s\", which the source sends",
							quote_identifier(p->config->target_schema),
							quote_identifier(p->config->target_table),
							p->config->pipeline_id, remote->attnames[r]),
					 errdetail("The source table's columns changed, or the target's did."),
					 errhint("ALTER TABLE the target to add the column, then alter_source(..., enabled => true).")));
	}
	t->map_stale = false;
}

/* Whether every key column of index idxoid (a column of rel) is a key column of remote. */
static bool
index_keys_are_remote_keys(Relation rel, Oid idxoid, LogicalRepRelation *remote, bool exactly)
{
	Relation	idx = index_open(idxoid, AccessShareLock);
	TupleDesc	desc = RelationGetDescr(rel);
	bool		ok = idx->rd_index->indisunique && idx->rd_indpred == NIL &&
		RelationGetIndexExpressions(idx) == NIL &&
		(!exactly || idx->rd_index->indnkeyatts == bms_num_members(remote->attkeys));

	for (int k = 0; ok && k < idx->rd_index->indnkeyatts; k++)
	{
		AttrNumber	attno = idx->rd_index->indkey.values[k];
		const char *name = attno > 0 ? NameStr(TupleDescAttr(desc, attno - 1)->attname) : NULL;
		bool		is_key = false;

		for (int r = 0; name && r < remote->natts; r++)
			if (bms_is_member(r, remote->attkeys) && strcmp(remote->attnames[r], name) == 0)
				is_key = true;
		ok = is_key;
	}
	index_close(idx, AccessShareLock);
	return ok;
}

/*
 * How rows of rel are found by the source's key.  The built-in subscriber
 * uses the target's replica identity index or primary key, when the source
 * sends all of its columns (the key the source sends, or the whole row under
 * REPLICA IDENTITY FULL); laredo does the same, and else takes a unique
 * index (no predicate, no expression) on exactly the source's key columns,
 * matched by name, where the built-in would stop.  InvalidOid when there is
 * none: under REPLICA IDENTITY FULL rows are then found by every column,
 * otherwise a change that needs a row is an error (table_find).
 */
Oid
laredo_table_identity_index(Relation rel, LogicalRepRelation *remote)
{
	Oid			idxoid = RelationGetReplicaIndex(rel);
	List	   *indexes;
	ListCell   *lc;

	if (remote->replident == REPLICA_IDENTITY_FULL)
		return idxoid;
	if (OidIsValid(idxoid) && index_keys_are_remote_keys(rel, idxoid, remote, false))
		return idxoid;
	if (bms_is_empty(remote->attkeys))
		return InvalidOid;
	indexes = RelationGetIndexList(rel);
	foreach(lc, indexes)
		if (index_keys_are_remote_keys(rel, lfirst_oid(lc), remote, true))
			return lfirst_oid(lc);
	return InvalidOid;
}

/*
 * A change that needs a row, and no way to find it by what the source sends:
 * the built-in subscriber stops the same way.
 */
void
laredo_table_no_identity(TableTarget *t, Relation rel)
{
	StringInfoData keys;
	int			r = -1;

	initStringInfo(&keys);
	while ((r = bms_next_member(t->remoterel->attkeys, r)) >= 0)
		appendStringInfo(&keys, "%s%s", keys.len ? ", " : "", quote_identifier(t->remoterel->attnames[r]));
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("target %s has no unique index on the replica identity of %s.%s (%s)",
					quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
											   RelationGetRelationName(rel)),
					t->remoterel->nspname, t->remoterel->relname, keys.len ? keys.data : "none"),
			 errdetail("Updates and deletes find target rows by the source table's replica identity, which changed, or the target's indexes did."),
			 errhint("Give the target a unique index on those columns, or copy it again with laredo.resync_pipeline.")));
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
	t->keyscan = laredo_index_beginscan(rel, idxrel, SnapshotSelf, t->nkeys, 0);
}

/* Opens the target for this local transaction. */
void
laredo_table_open_xact(LaredoPipeline *p)
{
	TableTarget *t = p->private;
	MemoryContext old;
	TupleDesc	desc;

	if (t->x.rel)
	{
		laredo_target_exec_next_command(&t->x);
		return;
	}
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
	t->idxoid = laredo_table_identity_index(t->x.rel, t->remoterel);
	t->may_defer = table_may_defer(t);
	table_begin_keyscan(t);
	if (t->x.rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE)
		laredo_table_route_begin(t);

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
	laredo_table_route_end(t);
	laredo_target_exec_close(&t->x);
}

/*
 * Fills a slot from a remote tuple.  Where the source left a value out
 * (unchanged TOAST, or a column it does not send), the value comes from
 * `current` when given, else from the column default.
 */
/* Where a value that does not fit its target column came from. */
typedef struct StoreErrorContext
{
	TableTarget *t;
	LogicalRepTupleData *tup;
	int			column;			/* the target column being filled */
} StoreErrorContext;

static void
table_store_error_callback(void *arg)
{
	StoreErrorContext *cxt = arg;
	TableTarget *t = cxt->t;
	LogicalRepRelation *remote = t->remoterel;
	StringInfoData key;
	int			r = -1;

	if (cxt->column < 0)
		return;
	/* the row by its key, as the source sent it */
	initStringInfo(&key);
	while ((r = bms_next_member(remote->attkeys, r)) >= 0)
		if (r < cxt->tup->ncols && r < remote->natts)
		{
			char	   *text = laredo_apply_column_display(remote, cxt->tup, r);

			appendStringInfo(&key, "%s%s=%.100s", key.len ? ", " : "", remote->attnames[r],
							 text ? text : "NULL");
		}
	errcontext("converting the value of column \"%s\" of %s.%s for target %s%s%s",
			   remote->attnames[t->attmap[cxt->column]], remote->nspname, remote->relname,
			   t->target_name, key.len ? " in the row with " : "", key.data);
}

static void
table_store(TableTarget *t, TupleTableSlot *slot, LogicalRepTupleData *tup,
			TupleTableSlot *current)
{
	TupleDesc	desc = slot->tts_tupleDescriptor;
	ExprContext *econtext = GetPerTupleExprContext(t->x.estate);
	StoreErrorContext cxt = {t, tup, -1};
	ErrorContextCallback errcallback;

	/*
	 * Each value goes through the target column's own input function and
	 * type modifier, as the built-in subscriber converts it: a target
	 * column may have another type than the source's (varchar into text,
	 * int into bigint); a value that does not fit stops the pipeline with
	 * an error naming the column and the row.
	 */
	errcallback.callback = table_store_error_callback;
	errcallback.arg = &cxt;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

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
			cxt.column = i;
			slot->tts_values[i] = InputFunctionCall(&t->typinfmgr[i], tup->colvalues[r].data,
													t->typioparam[i], att->atttypmod);
			cxt.column = -1;
			slot->tts_isnull[i] = false;
		}
		else if (status == LOGICALREP_COLUMN_BINARY)
		{
			cxt.column = i;
			if (t->recv_direct[i])
				slot->tts_values[i] = laredo_apply_column_receive(t->remoterel, tup, r, &t->typrecvfmgr[i],
																  t->typrecvioparam[i], att->atttypmod);
			else
				/* another type here: through the source type's text, as the text stream goes */
				slot->tts_values[i] = InputFunctionCall(&t->typinfmgr[i],
														laredo_apply_column_text(t->remoterel, tup, r),
														t->typioparam[i], att->atttypmod);
			cxt.column = -1;
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
	error_context_stack = errcallback.previous;
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
	if (t->proute)
		laredo_table_route_insert(t, t->remoteslot);
	else
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
	if (t->proute)
	{
		t->found_part = laredo_table_route_find(t, t->searchslot);
		return t->found_part != NULL;
	}
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
		return laredo_find_repl_tuple_by_index(t->x.rel, t->idxoid, LockTupleExclusive,
											t->searchslot, t->localslot);
	if (t->remoterel->replident != REPLICA_IDENTITY_FULL)
		laredo_table_no_identity(t, t->x.rel);
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
		TU_UpdateIndexes update_indexes;

		if (rel->rd_att->constr && rel->rd_att->constr->has_generated_stored)
			ExecComputeStoredGenerated(rri, estate, newslot, CMD_UPDATE);
		if (rel->rd_att->constr)
			ExecConstraints(rri, newslot, estate);
		if (rel->rd_rel->relispartition)
			ExecPartitionCheck(rri, newslot, estate, true);
		res = laredo_table_tuple_update(rel, &t->localslot->tts_tid, newslot, GetCurrentCommandId(true),
										estate->es_snapshot, InvalidSnapshot, true, &tmfd, &lockmode,
										&update_indexes);

		/*
		 * As ExecSimpleRelationUpdate: a HOT update needs entries in the
		 * summarizing indexes only (16 on), others in every index.
		 */
		if (res == TM_Ok && update_indexes != TU_None && rri->ri_NumIndices > 0)
			list_free(laredo_insert_index_tuples_for_update(rri, estate, newslot, update_indexes));
	}
	else
		res = laredo_table_tuple_delete(rel, &t->localslot->tts_tid, GetCurrentCommandId(true),
										estate->es_snapshot, InvalidSnapshot, true, &tmfd);
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

/*
 * A change whose row is not in the target is skipped, as the built-in
 * subscriber skips it (PostgreSQL 18 counts it as an update_missing or
 * delete_missing conflict): counted in the pipeline's counters (shown in
 * laredo.pipelines and reported by health()) and logged with the row's key.
 */
static void
table_row_missing(LaredoPipeline *p, LogicalRepTupleData *key, bool is_update)
{
	TableTarget *t = p->private;
	LogicalRepRelation *remote = t->remoterel;
	StringInfoData desc;
	int			r = -1;

	if (is_update)
		p->counters.update_missing++;
	else
		p->counters.delete_missing++;
	initStringInfo(&desc);
	while ((r = bms_next_member(remote->attkeys, r)) >= 0)
		if (r < key->ncols && r < remote->natts)
		{
			char	   *text = laredo_apply_column_display(remote, key, r);

			appendStringInfo(&desc, "%s%s=%.100s", desc.len ? ", " : "", remote->attnames[r],
							 text ? text : "NULL");
		}
	ereport(LOG,
			(errmsg("pipeline \"%s\": the row to %s is not in target %s; the change was skipped",
					p->config->pipeline_id, is_update ? "update" : "delete", t->target_name),
			 desc.len ? errdetail("The source's row has %s.", desc.data) : 0));
}

/*
 * The columns an update gives a value (all but those the source left out as
 * unchanged TOAST, and the target's own), for UPDATE OF triggers and the
 * executor's index hint, as apply_handle_update fills updatedCols.  Kept
 * while it does not change: the after-trigger queue holds on to it.
 */
static void
table_set_updated_cols(TableTarget *t, LogicalRepTupleData *newtup)
{
	Bitmapset **updated = laredo_updated_cols(t->x.estate);
	Bitmapset  *cols = NULL;
	MemoryContext old = MemoryContextSwitchTo(t->x.estate->es_query_cxt);

	for (int i = 0; i < t->natts; i++)
	{
		int			r = t->attmap[i];

		if (r >= 0 && r < newtup->ncols && newtup->colstatus[r] != LOGICALREP_COLUMN_UNCHANGED)
			cols = bms_add_member(cols, i + 1 - FirstLowInvalidHeapAttributeNumber);
	}
	if (t->deleted_attno)
		cols = bms_add_member(cols, t->deleted_attno - FirstLowInvalidHeapAttributeNumber);
	if (t->lsn_attno)
	{
		cols = bms_add_member(cols, t->lsn_attno - FirstLowInvalidHeapAttributeNumber);
		cols = bms_add_member(cols, t->commit_time_attno - FirstLowInvalidHeapAttributeNumber);
	}
	if (bms_equal(cols, *updated))
		bms_free(cols);
	else
		*updated = cols;
	MemoryContextSwitchTo(old);
}

/* The row table_find found, in the target's (the partitioned table's) shape. */
static TupleTableSlot *
table_found_row(TableTarget *t)
{
	return t->proute ? t->rootcurrent : t->localslot;
}

/* Writes newrow over the row table_find found; false when it changed meanwhile. */
static bool
table_replace_found(TableTarget *t, TupleTableSlot *newrow)
{
	EPQState	epq;

	if (t->proute)
		laredo_table_route_update(t, t->found_part, newrow);
	else if (t->found_unlocked)
		return table_write_unlocked(t, newrow);
	else
	{
		laredo_eval_plan_qual_init(&epq, t->x.estate);
		EvalPlanQualSetSlot(&epq, newrow);
		ExecSimpleRelationUpdate(t->x.rri, t->x.estate, &epq, t->localslot, newrow);
		EvalPlanQualEnd(&epq);
	}
	return true;
}

void
laredo_table_update_row(LaredoPipeline *p, LogicalRepTupleData *oldtup, LogicalRepTupleData *newtup)
{
	TableTarget *t = p->private;
	bool		lock = false;
	bool		found;

	laredo_table_open_xact(p);
	table_set_updated_cols(t, newtup);
	while ((found = table_find(t, oldtup ? oldtup : newtup, lock)))
	{
		table_store(t, t->remoteslot, newtup, table_found_row(t));
		table_stamp(t, t->remoteslot, 0);
		if (table_replace_found(t, t->remoteslot))
			break;
		lock = true;			/* changed meanwhile: again, locked */
	}
	if (!found && p->where != NULL && tuple_is_complete(newtup))
	{
		/* the row enters the pipeline's own filter */
		table_store(t, t->remoteslot, newtup, NULL);
		table_stamp(t, t->remoteslot, 0);
		if (t->proute)
			laredo_table_route_insert(t, t->remoteslot);
		else
			ExecSimpleRelationInsert(t->x.rri, t->x.estate, t->remoteslot);
	}
	else if (!found && p->where != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("pipeline \"%s\": a row entering its filter cannot be written to target %s",
						p->config->pipeline_id, t->target_name),
				 errdetail("The update leaves TOASTed values out, so the row cannot be rebuilt."),
				 errhint("Resynchronise the pipeline with laredo.resync_pipeline('%s').",
						 p->config->pipeline_id)));
	else if (!found)
		table_row_missing(p, oldtup ? oldtup : newtup, true);
	ResetPerTupleExprContext(t->x.estate);
}

static void
table_delete(LaredoPipeline *p, LogicalRepTupleData *oldtup)
{
	TableTarget *t = p->private;
	bool		lock = false;
	bool		found;

	laredo_table_open_xact(p);
	laredo_table_flush_merged(p);
	while ((found = table_find(t, oldtup, lock)))
	{
		EPQState	epq;

		if (t->soft_delete)
		{
			TimestampTz when = laredo_apply_meta()->commit_time;

			/* the row stays, marked with the source's commit time */
			ExecCopySlot(t->remoteslot, table_found_row(t));
			slot_getallattrs(t->remoteslot);
			table_stamp(t, t->remoteslot, when ? when : GetCurrentTimestamp());
			if (table_replace_found(t, t->remoteslot))
				break;
			lock = true;
			continue;
		}
		if (t->proute)
			laredo_table_route_delete(t, t->found_part);
		else if (t->found_unlocked)
		{
			if (!table_write_unlocked(t, NULL))
			{
				lock = true;	/* changed meanwhile: again, locked */
				continue;
			}
		}
		else
		{
			laredo_eval_plan_qual_init(&epq, t->x.estate);
			EvalPlanQualSetSlot(&epq, t->localslot);
			ExecSimpleRelationDelete(t->x.rri, t->x.estate, &epq, t->localslot);
			EvalPlanQualEnd(&epq);
		}
		break;
	}
	if (!found)
		table_row_missing(p, oldtup, false);
	ResetPerTupleExprContext(t->x.estate);
}

/*
 * "ONLY " for statements on the whole target: a partitioned target's rows
 * are in its partitions, but an inheritance parent's children are the
 * targets of other pipelines.
 */
static const char *
table_only(TableTarget *t)
{
	return get_rel_relkind(t->relid) == RELKIND_PARTITIONED_TABLE ? "" : "ONLY ";
}

static void
table_truncate(LaredoPipeline *p, LaredoTruncate *truncate)
{
	TableTarget *t = p->private;

	/* TRUNCATE refuses a table this transaction still has open in the executor */
	laredo_table_xact_end(p);
	if (t->soft_delete)
	{
		/* every row is marked deleted, none removed */
		SPI_connect();
		if (SPI_execute(psprintf("UPDATE %s%s SET _deleted_at = now() WHERE _deleted_at IS NULL",
								 table_only(t), t->target_name),
						false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not mark the rows of pipeline \"%s\" deleted", p->config->pipeline_id);
		SPI_finish();
		return;
	}
	/* which tables, once the message has named every relation (table_truncate_finish) */
	{
		MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);

		t->truncated = lappend(t->truncated, t->remoterel);
		if (!list_member_ptr(truncate->pending, p))
			truncate->pending = lappend(truncate->pending, p);
		MemoryContextSwitchTo(old);
	}
}

/* The partition of relid (at any level) named relname, or InvalidOid. */
static Oid
table_partition_named(Oid relid, const char *relname)
{
	List	   *parts = find_all_inheritors(relid, AccessExclusiveLock, NULL);
	ListCell   *lc;

	foreach(lc, parts)
	{
		char	   *name = get_rel_name(lfirst_oid(lc));

		if (lfirst_oid(lc) != relid && name && strcmp(name, relname) == 0)
			return lfirst_oid(lc);
	}
	return InvalidOid;
}

/*
 * What a Truncate message truncates of this target.  The source table
 * itself: the whole target.  Partitions of it (a source that publishes them
 * leaf by leaf names each one, and only them): the target's partitions of
 * the same names, as the built-in subscriber truncates its tables of those
 * names; or, when the target has none of those names, the whole target if
 * the message names every partition the source's table has (a TRUNCATE of
 * the table).  Any other case cannot be told from the target's rows: a
 * durable ERROR rather than a guess.
 */
static void
table_truncate_finish(LaredoPipeline *p, LaredoTruncate *truncate)
{
	TableTarget *t = p->private;
	List	   *truncated = t->truncated;
	List	   *leaves = NIL;
	List	   *parts = NIL;
	ListCell   *lc;
	bool		whole = false;
	int			leaf_count;

	t->truncated = NIL;
	foreach(lc, truncated)
	{
		LogicalRepRelation *rel = lfirst(lc);

		if (strcmp(rel->nspname, p->config->source_schema) == 0 &&
			strcmp(rel->relname, p->config->source_table) == 0)
			whole = true;
		else if (!list_member_ptr(leaves, rel))
			leaves = lappend(leaves, rel);
	}
	if (whole || leaves == NIL)
	{
		laredo_truncate_add(truncate, t->relid);
		return;
	}
	foreach(lc, leaves)
	{
		Oid			part = table_partition_named(t->relid, ((LogicalRepRelation *) lfirst(lc))->relname);

		if (OidIsValid(part))
			parts = lappend_oid(parts, part);
	}
	if (list_length(parts) == list_length(leaves))
	{
		foreach(lc, parts)
			laredo_truncate_add(truncate, lfirst_oid(lc));
		return;
	}
	leaf_count = laredo_apply_source_leaf_count(p);
	if (parts == NIL && leaf_count == list_length(leaves))
	{
		laredo_truncate_add(truncate, t->relid);
		return;
	}
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("partition %s.%s of source table %s.%s was truncated, and target %s has no partition of that name",
					((LogicalRepRelation *) linitial(leaves))->nspname,
					((LogicalRepRelation *) linitial(leaves))->relname,
					p->config->source_schema, p->config->source_table, t->target_name),
			 errdetail("laredo cannot tell which rows of the target came from that partition."),
			 errhint("Give the target partitions of the same names as the source's, or copy the pipeline again with laredo.resync_pipeline('%s').",
					 p->config->pipeline_id)));
}

/*
 * Whether DELETE may remove rows of rel and of its partitions: not when
 * this server publishes it for deletes without a replica identity (a
 * cascade, re-publishing mirrors), which makes PostgreSQL refuse the DELETE.
 */
static bool
table_deletable(Oid relid)
{
	List	   *rels = find_all_inheritors(relid, AccessShareLock, NULL);
	ListCell   *lc;
	bool		deletable = true;

	foreach(lc, rels)
	{
		Relation	rel = table_open(lfirst_oid(lc), AccessShareLock);
		PublicationDesc pubdesc;

		if (rel->rd_rel->relkind == RELKIND_RELATION &&
			rel->rd_rel->relreplident != REPLICA_IDENTITY_FULL)
		{
			RelationBuildPublicationDesc(rel, &pubdesc);
			if (!pubdesc.rf_valid_for_delete || !pubdesc.cols_valid_for_delete ||
				(pubdesc.pubactions.pubdelete && !OidIsValid(RelationGetReplicaIndex(rel))))
				deletable = false;
		}
		table_close(rel, AccessShareLock);
	}
	return deletable;
}

/*
 * A new baseline replaces the rows of a live table without emptying it for
 * readers: the old rows are deleted in the same local transaction that
 * inserts the new ones, so a concurrent reader sees the old rows until the
 * new ones commit, and never waits on a TRUNCATE lock.  The table itself
 * stays (its OID, grants, views and foreign keys).  A partitioned target
 * loses the rows of its partitions; an inheritance parent keeps its
 * children's, which are other pipelines' targets.  A target that cannot be
 * deleted from (published for deletes without a replica identity) is
 * truncated instead: readers then wait for the new rows rather than see
 * the old ones.
 */
static void
table_baseline_begin(LaredoPipeline *p)
{
	TableTarget *t = p->private;
	bool		deletable = table_deletable(t->relid);

	laredo_table_xact_end(p);
	SPI_connect();
	if (SPI_execute(psprintf("%s %s%s", deletable ? "DELETE FROM" : "TRUNCATE", table_only(t),
							 t->target_name),
					false, 0) != (deletable ? SPI_OK_DELETE : SPI_OK_UTILITY))
		elog(ERROR, "could not empty the target of pipeline \"%s\"", p->config->pipeline_id);
	SPI_finish();
}

static void
table_baseline_end(LaredoPipeline *p)
{
}

/* The key (one column, or a row of several) compared with a bound: k > lo, k <= hi. */
static void
append_key_bound(StringInfo sql, int nkeys, char **keynames, char **bound,
				 const char *op, const char *const *types)
{
	if (nkeys > 1)
		appendStringInfoChar(sql, '(');
	for (int i = 0; i < nkeys; i++)
		appendStringInfo(sql, "%s%s", i ? ", " : "", quote_identifier(keynames[i]));
	appendStringInfo(sql, "%s %s %s", nkeys > 1 ? ")" : "", op, nkeys > 1 ? "(" : "");
	for (int i = 0; i < nkeys; i++)
		appendStringInfo(sql, "%s%s%s%s", i ? ", " : "", quote_literal_cstr(bound[i]),
						 types ? "::" : "", types ? types[i] : "");
	if (nkeys > 1)
		appendStringInfoChar(sql, ')');
}

/* " AND k > lo AND k <= hi", each bound given (NULL: open on that side). */
void
laredo_append_key_range(StringInfo sql, int nkeys, char **keynames, char **lo, char **hi,
						const char *const *types)
{
	if (lo != NULL)
	{
		appendStringInfoString(sql, " AND ");
		append_key_bound(sql, nkeys, keynames, lo, ">", types);
	}
	if (hi != NULL)
	{
		appendStringInfoString(sql, " AND ");
		append_key_bound(sql, nkeys, keynames, hi, "<=", types);
	}
}

/*
 * A key range of a copy in chunks: its rows go before the source's rows of
 * the range are inserted, in the same local transaction (readers see the
 * old rows until it commits).  Written out first: updates held back.
 */
static void
table_range_delete(LaredoPipeline *p, int nkeys, char **keynames, char **lo, char **hi)
{
	TableTarget *t = p->private;
	StringInfoData sql;

	int			nest;

	laredo_table_xact_end(p);
	initStringInfo(&sql);
	appendStringInfo(&sql, "DELETE FROM %s%s WHERE true", table_only(t), t->target_name);
	laredo_append_key_range(&sql, nkeys, keynames, lo, hi, NULL);

	/*
	 * By the key's index: a target just filled has no statistics, and the
	 * last range, open above, would be estimated at a third of the table
	 * and deleted by reading all of it (seconds, while the stream waits).
	 */
	nest = NewGUCNestLevel();
	(void) set_config_option("enable_seqscan", "off", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	SPI_connect();
	if (SPI_execute(sql.data, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not delete a key range of the target of pipeline \"%s\"", p->config->pipeline_id);
	SPI_finish();
	AtEOXact_GUC(true, nest);
	pfree(sql.data);
}

const LaredoTargetRoutine laredo_target_table = {
	.init = table_init,
	.relation = table_relation,
	.shape = table_shape,
	.baseline_begin = table_baseline_begin,
	.baseline_row = table_insert,
	.baseline_end = table_baseline_end,
	.range_delete = table_range_delete,
	.insert = table_insert,
	.update = laredo_table_update,
	.delete = table_delete,
	.truncate = table_truncate,
	.truncate_finish = table_truncate_finish,
	.xact_end = laredo_table_xact_end,
	.copy_format = laredo_table_copy_format,
	.copy = laredo_table_copy,
};
