/*-------------------------------------------------------------------------
 * laredo.c
 *	  Module load: GUCs, shared memory for worker status, and registration
 *	  of the launcher background worker.
 *-------------------------------------------------------------------------
 */
#include "laredo.h"

#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/guc.h"

#include "standby_slots.h"

PG_MODULE_MAGIC;

LaredoShared *laredo_shared = NULL;
int			laredo_restart_delay_ms = 5000;
int			laredo_prune_interval_ms = 60000;
bool		laredo_binary_stream = true;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static ProcessUtility_hook_type prev_ProcessUtility = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

void		_PG_init(void);

static const char *const state_names[] = {
	[LAREDO_SOURCE_STARTING] = "STARTING",
	[LAREDO_SOURCE_BASELINE] = "BASELINE",
	[LAREDO_SOURCE_STREAMING] = "STREAMING",
	[LAREDO_SOURCE_RECONNECTING] = "RECONNECTING",
	[LAREDO_SOURCE_ERROR] = "ERROR",
	[LAREDO_SOURCE_DISABLED] = "DISABLED",
};

const char *
laredo_source_state_name(LaredoSourceState state)
{
	return state_names[state];
}

static void
laredo_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(LaredoShared)));
	RequestNamedLWLockTranche("laredo", 1);
}

static void
laredo_shmem_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	laredo_shmem_attach();
}

void
laredo_shmem_attach(void)
{
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	laredo_shared = ShmemInitStruct("laredo", sizeof(LaredoShared), &found);
	if (!found)
	{
		memset(laredo_shared, 0, sizeof(LaredoShared));
		laredo_shared->lock = &(GetNamedLWLockTranche("laredo"))->lock;
	}
	LWLockRelease(AddinShmemInitLock);
}

/* Caller holds laredo_shared->lock. */
LaredoWorkerSlot *
laredo_worker_slot_find(Oid dboid, const char *source_id)
{
	for (int i = 0; i < LAREDO_MAX_WORKERS; i++)
	{
		LaredoWorkerSlot *slot = &laredo_shared->workers[i];

		if (slot->in_use && slot->dboid == dboid &&
			strcmp(slot->source_id, source_id) == 0)
			return slot;
	}
	return NULL;
}

/*
 * DROP EXTENSION laredo first drops every source of this database, with its
 * slot and owned publications on the source, so that no slot is left to pin
 * the source's WAL.  A utility hook sees the command before the extension's
 * objects (an event trigger among them) are gone.
 */
static void
laredo_process_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
					   ProcessUtilityContext context, ParamListInfo params,
					   QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;

	if (IsA(parsetree, DropStmt) && ((DropStmt *) parsetree)->removeType == OBJECT_EXTENSION)
	{
		ListCell   *lc;

		foreach(lc, ((DropStmt *) parsetree)->objects)
		{
			if (strcmp(strVal(lfirst(lc)), "laredo") == 0 &&
				OidIsValid(get_extension_oid("laredo", true)))
			{
				SPI_connect();
				if (SPI_execute("SELECT laredo._drop_all_sources()", false, 0) != SPI_OK_SELECT)
					elog(ERROR, "could not drop laredo's sources");
				SPI_finish();
				/* the manager of this database leaves once the drop commits */
				laredo_wake_at_commit();
			}
		}
	}
	if (prev_ProcessUtility)
		prev_ProcessUtility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
}

void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("laredo must be loaded via shared_preload_libraries"),
				 errhint("Add laredo to shared_preload_libraries in postgresql.conf and restart the server.")));

	DefineCustomIntVariable("laredo.restart_delay",
							"Delay before a failed source worker is started again.",
							NULL,
							&laredo_restart_delay_ms,
							5000, 100, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("laredo.prune_interval",
							"How often change-log targets with a retention are pruned.",
							NULL,
							&laredo_prune_interval_ms,
							60000, 100, 24 * 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomBoolVariable("laredo.binary_stream",
							 "Whether a source streams values in binary where every published column allows it.",
							 "Asked for at each start of a stream: a source on 14 or later whose published columns all have types built into PostgreSQL that this server can receive in binary.",
							 &laredo_binary_stream,
							 true,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);
	DefineCustomStringVariable("laredo.synchronized_standby_slots",
							   "Physical replication slots of this server whose standbys must have a change before laredo acknowledges it to its source.",
							   "As PostgreSQL's synchronized_standby_slots on a source: promoting one of those standbys resumes every source from its own position, nothing lost, no new baseline.",
							   &laredo_synchronized_standby_slots,
							   "",
							   PGC_SIGHUP, GUC_LIST_INPUT,
							   laredo_standby_slots_check, NULL, NULL);
	MarkGUCPrefixReserved("laredo");

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = laredo_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = laredo_shmem_startup;

	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = laredo_process_utility;

	laredo_register_launcher();
}
