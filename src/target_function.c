/*-------------------------------------------------------------------------
 * target_function.c
 *	  The `function` target: a user function f(op text, old jsonb, new jsonb,
 *	  meta jsonb) called once per change inside the apply transaction, with
 *	  the rights of the pipeline's owner.  meta holds lsn (the commit LSN),
 *	  commit_time, xid, seq, source_table and source_id; old and new are as in
 *	  the change log.  Baseline rows come as op 'B'.
 *
 *	  on_error => 'stop' (the default): the function's error puts the
 *	  pipeline and its source in ERROR at that change; nothing after it is
 *	  applied and nothing was acknowledged, and resume_pipeline retries it
 *	  once the function is fixed.  on_error => 'skip': the call runs in a
 *	  subtransaction; a failing change is written to laredo.dead_letters with
 *	  the error and the apply goes on.
 *-------------------------------------------------------------------------
 */
#include "laredo.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/pg_lsn.h"
#include "utils/regproc.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "row_json.h"
#include "target.h"

typedef struct FunctionTarget
{
	Oid			funcoid;
	FmgrInfo	flinfo;
	bool		skip_errors;
	char	   *source_table;
} FunctionTarget;

static void
function_init(LaredoPipeline *p)
{
	MemoryContext cxt = GetMemoryChunkContext(p);
	FunctionTarget *t = MemoryContextAllocZero(cxt, sizeof(FunctionTarget));
	Jsonb	   *options;
	JsonbValue *on_error;
	char	   *signature = psprintf("%s(text, jsonb, jsonb, jsonb)",
									 quote_qualified_identifier(p->config->target_schema,
																p->config->target_table));

	t->funcoid = DatumGetObjectId(DirectFunctionCall1(to_regprocedure, CStringGetTextDatum(signature)));
	if (!OidIsValid(t->funcoid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("function %s of pipeline \"%s\" does not exist", signature, p->config->pipeline_id),
				 errhint("Create it again, then call laredo.resume_pipeline('%s').", p->config->pipeline_id)));
	if (object_aclcheck(ProcedureRelationId, t->funcoid, p->config->owner, ACL_EXECUTE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("the owner of pipeline \"%s\" may not execute %s", p->config->pipeline_id, signature),
				 errhint("GRANT EXECUTE ON FUNCTION %s TO the pipeline's owner.", signature)));
	fmgr_info_cxt(t->funcoid, &t->flinfo, cxt);
	options = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(p->config->options)));
	on_error = getKeyJsonValueFromContainer(&options->root, "on_error", strlen("on_error"), NULL);
	t->skip_errors = on_error && on_error->type == jbvString &&
		on_error->val.string.len == 4 && strncmp(on_error->val.string.val, "skip", 4) == 0;
	t->source_table = MemoryContextStrdup(cxt, quote_qualified_identifier(p->config->source_schema,
																		  p->config->source_table));
	p->private = t;
}

static Datum
function_meta(FunctionTarget *t)
{
	const LaredoChangeMeta *meta = laredo_apply_meta();
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"lsn\": \"%X/%X\", \"commit_time\": ", LSN_FORMAT_ARGS(meta->commit_lsn));
	if (meta->commit_time != 0)
		appendStringInfo(&buf, "\"%s\"", timestamptz_to_str(meta->commit_time));
	else
		appendStringInfoString(&buf, "null");
	if (TransactionIdIsValid(meta->xid))
		appendStringInfo(&buf, ", \"xid\": %u", meta->xid);
	else
		appendStringInfoString(&buf, ", \"xid\": null");
	appendStringInfo(&buf, ", \"seq\": " INT64_FORMAT ", \"source_table\": ", meta->seq);
	escape_json(&buf, t->source_table);
	appendStringInfoString(&buf, ", \"source_id\": ");
	escape_json(&buf, meta->source_id);
	appendStringInfoChar(&buf, '}');
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data));
}

/* Calls the function as the pipeline's owner. */
static void
function_invoke(LaredoPipeline *p, FunctionTarget *t, Datum *args, bool *nulls)
{
	LOCAL_FCINFO(fcinfo, 4);
	Oid			save_userid;
	int			save_sec;

	int			save_role = SessionReplicationRole;

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(p->config->owner, save_sec | SECURITY_LOCAL_USERID_CHANGE);
	InitFunctionCallInfoData(*fcinfo, &t->flinfo, 4, InvalidOid, NULL, NULL);
	for (int i = 0; i < 4; i++)
	{
		fcinfo->args[i].value = args[i];
		fcinfo->args[i].isnull = nulls[i];
	}

	/*
	 * The function is the application's code: what it writes fires
	 * triggers and checks foreign keys as any session's writes, although
	 * the worker writes targets as a replica (source_worker.c).  Set
	 * directly, not through the GUC, whose change would empty the plan
	 * cache at every call.
	 */
	SessionReplicationRole = SESSION_REPLICATION_ROLE_ORIGIN;
	PG_TRY();
	{
		(void) FunctionCallInvoke(fcinfo);
	}
	PG_FINALLY();
	{
		SessionReplicationRole = save_role;
	}
	PG_END_TRY();
	SetUserIdAndSecContext(save_userid, save_sec);
}

static void
function_dead_letter(LaredoPipeline *p, Datum *args, bool *nulls, const char *error)
{
	Oid			types[6] = {TEXTOID, TEXTOID, JSONBOID, JSONBOID, JSONBOID, TEXTOID};
	Datum		values[6] = {CStringGetTextDatum(p->config->pipeline_id), args[0], args[1], args[2],
	args[3], CStringGetTextDatum(error)};
	char		n[6] = {' ', ' ', nulls[1] ? 'n' : ' ', nulls[2] ? 'n' : ' ', ' ', ' '};

	SPI_connect();
	if (SPI_execute_with_args("INSERT INTO laredo.dead_letters (pipeline_id, op, old, new, meta, error) "
							  "VALUES ($1, $2, $3, $4, $5, $6)",
							  6, types, values, n, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not write a dead letter for pipeline \"%s\"", p->config->pipeline_id);
	SPI_finish();
}

static void
function_call(LaredoPipeline *p, char op, LogicalRepTupleData *oldtup, LogicalRepTupleData *newtup)
{
	FunctionTarget *t = p->private;
	LogicalRepRelation *rel = laredo_apply_meta()->relation;
	char		opstr[2] = {op, '\0'};
	Datum		args[4];
	bool		nulls[4] = {false, true, true, false};
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;

	args[0] = CStringGetTextDatum(opstr);
	if (op == 'U' || op == 'D')
		args[1] = oldtup ? laredo_row_jsonb(rel, oldtup, rel->replident != REPLICA_IDENTITY_FULL, &nulls[1])
			: laredo_row_jsonb(rel, newtup, true, &nulls[1]);
	if (newtup)
		args[2] = laredo_row_jsonb(rel, newtup, false, &nulls[2]);
	args[3] = function_meta(t);

	if (!t->skip_errors)
	{
		function_invoke(p, t, args, nulls);
		return;
	}
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		function_invoke(p, t, args, nulls);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		function_dead_letter(p, args, nulls, edata->message);
		FreeErrorData(edata);
	}
	PG_END_TRY();
}

static void
function_nothing(LaredoPipeline *p)
{
}

static void
function_relation(LaredoPipeline *p, LogicalRepRelation *remoterel)
{
}

static void
function_baseline_row(LaredoPipeline *p, LogicalRepTupleData *row)
{
	function_call(p, 'B', NULL, row);
}

static void
function_insert(LaredoPipeline *p, LogicalRepTupleData *newtup)
{
	function_call(p, 'I', NULL, newtup);
}

static void
function_update(LaredoPipeline *p, LogicalRepTupleData *oldtup, LogicalRepTupleData *newtup)
{
	function_call(p, 'U', oldtup, newtup);
}

static void
function_delete(LaredoPipeline *p, LogicalRepTupleData *oldtup)
{
	function_call(p, 'D', oldtup, NULL);
}

static void
function_truncate(LaredoPipeline *p, LaredoTruncate *truncate)
{
	function_call(p, 'T', NULL, NULL);
}

const LaredoTargetRoutine laredo_target_function = {
	.init = function_init,
	.relation = function_relation,
	.baseline_begin = function_nothing,
	.baseline_row = function_baseline_row,
	.baseline_end = function_nothing,
	.insert = function_insert,
	.update = function_update,
	.delete = function_delete,
	.truncate = function_truncate,
	.xact_end = function_nothing,
};
