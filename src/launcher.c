/*-------------------------------------------------------------------------
 * launcher.c
 *	  The launcher and the per-database managers.
 *
 *	  A background worker stays connected to one database, so the launcher
 *	  connects to none: it reads the shared catalog pg_database and keeps one
 *	  manager per database that allows connections and is not a template
 *	  (a connection to a template would make CREATE DATABASE fail).  A manager
 *	  that finds no laredo extension in its database says so in shared memory
 *	  and exits; CREATE EXTENSION wakes the launcher to probe again.  Each
 *	  manager keeps one source worker per enabled source running, restarts a
 *	  failed one after laredo.restart_delay, and stops workers whose source
 *	  was disabled, dropped, changed or put in ERROR.
 *-------------------------------------------------------------------------
 */
#include "laredo.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

/* How often the launcher looks for new databases when nothing wakes it. */
#define LAUNCHER_NAPTIME_MS		60000
#define MANAGER_NAPTIME_MS		10000

/* A laredo background worker: shared memory, a database connection. */
static void
bgworker_init(BackgroundWorker *bgw, const char *function, const char *type)
{
	memset(bgw, 0, sizeof(*bgw));
	bgw->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw->bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw->bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(bgw->bgw_library_name, BGW_MAXLEN, "laredo");
	snprintf(bgw->bgw_function_name, BGW_MAXLEN, "%s", function);
	snprintf(bgw->bgw_type, BGW_MAXLEN, "%s", type);
	bgw->bgw_notify_pid = MyProcPid;
}

void
laredo_register_launcher(void)
{
	BackgroundWorker bgw;

	bgworker_init(&bgw, "laredo_launcher_main", "laredo launcher");
	bgw.bgw_restart_time = 5;
	bgw.bgw_notify_pid = 0;
	snprintf(bgw.bgw_name, BGW_MAXLEN, "laredo launcher");
	RegisterBackgroundWorker(&bgw);
}

/*
 * Wake the launcher and the manager of a database; called after a commit
 * that changed laredo's configuration (or installed the extension).
 */
void
laredo_wake_database(Oid dboid)
{
	Latch	   *launcher = NULL;
	Latch	   *manager = NULL;

	LWLockAcquire(laredo_shared->lock, LW_EXCLUSIVE);
	laredo_shared->rescan = true;
	launcher = laredo_shared->launcher_latch;
	for (int i = 0; i < LAREDO_MAX_DATABASES; i++)
	{
		LaredoManagerSlot *m = &laredo_shared->managers[i];

		if (m->dboid == dboid)
		{
			m->no_extension = false;
			/* a flag as well as the latch: waits inside a pass consume the latch */
			m->wake_pending = true;
			manager = m->latch;
		}
	}
	LWLockRelease(laredo_shared->lock);
	if (launcher)
		SetLatch(launcher);
	if (manager)
		SetLatch(manager);
}

/* -------------------------------------------------------------------------
 * launcher
 * -------------------------------------------------------------------------
 */

typedef struct LauncherDb
{
	Oid			dboid;
	BackgroundWorkerHandle *handle;
	TimestampTz last_start;
} LauncherDb;

static LauncherDb launcher_dbs[LAREDO_MAX_DATABASES];

static LaredoManagerSlot *
manager_slot_for(Oid dboid, bool create)
{
	LaredoManagerSlot *free_slot = NULL;

	for (int i = 0; i < LAREDO_MAX_DATABASES; i++)
	{
		LaredoManagerSlot *m = &laredo_shared->managers[i];

		if (m->dboid == dboid)
			return m;
		if (m->dboid == InvalidOid && free_slot == NULL)
			free_slot = m;
	}
	if (create && free_slot)
	{
		memset(free_slot, 0, sizeof(*free_slot));
		free_slot->dboid = dboid;
	}
	return create ? free_slot : NULL;
}

static List *
launcher_list_databases(void)
{
	List	   *result = NIL;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while (HeapTupleIsValid(tup = heap_getnext(scan, ForwardScanDirection)))
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		if (db->datistemplate || !db->datallowconn || db->datconnlimit == -2)
			continue;
		result = lappend_oid(result, db->oid);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return result;
}

static void
launcher_start_manager(LauncherDb *entry)
{
	BackgroundWorker bgw;

	bgworker_init(&bgw, "laredo_manager_main", "laredo manager");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "laredo manager for database %u", entry->dboid);
	bgw.bgw_main_arg = ObjectIdGetDatum(entry->dboid);

	entry->last_start = GetCurrentTimestamp();
	if (!RegisterDynamicBackgroundWorker(&bgw, &entry->handle))
	{
		entry->handle = NULL;
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("laredo could not start a manager for database %u", entry->dboid),
				 errhint("Raise max_worker_processes.")));
	}
}

void
laredo_launcher_main(Datum arg)
{
	pqsignal(SIGTERM, die);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("laredo launcher");

	LWLockAcquire(laredo_shared->lock, LW_EXCLUSIVE);
	laredo_shared->launcher_pid = MyProcPid;
	laredo_shared->launcher_latch = MyLatch;
	laredo_shared->rescan = true;
	LWLockRelease(laredo_shared->lock);

	for (;;)
	{
		List	   *dbs;
		ListCell   *lc;
		long		timeout = LAUNCHER_NAPTIME_MS;
		TimestampTz now;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		LWLockAcquire(laredo_shared->lock, LW_EXCLUSIVE);
		if (laredo_shared->rescan)
		{
			/* a commit asked for it (CREATE EXTENSION, say): probe again at once */
			for (int i = 0; i < LAREDO_MAX_DATABASES; i++)
			{
				laredo_shared->managers[i].no_extension = false;
				launcher_dbs[i].last_start = 0;
			}
			laredo_shared->rescan = false;
		}
		LWLockRelease(laredo_shared->lock);

		dbs = launcher_list_databases();
		now = GetCurrentTimestamp();
		foreach(lc, dbs)
		{
			Oid			dboid = lfirst_oid(lc);
			LauncherDb *entry = NULL;
			LauncherDb *free_entry = NULL;
			bool		no_extension;
			pid_t		pid;

			for (int i = 0; i < LAREDO_MAX_DATABASES; i++)
			{
				if (launcher_dbs[i].dboid == dboid)
					entry = &launcher_dbs[i];
				else if (launcher_dbs[i].dboid == InvalidOid && free_entry == NULL)
					free_entry = &launcher_dbs[i];
			}
			if (entry == NULL)
			{
				if (free_entry == NULL)
					continue;
				entry = free_entry;
				memset(entry, 0, sizeof(*entry));
				entry->dboid = dboid;
			}
			if (entry->handle &&
				GetBackgroundWorkerPid(entry->handle, &pid) != BGWH_STOPPED)
				continue;
			entry->handle = NULL;

			LWLockAcquire(laredo_shared->lock, LW_SHARED);
			{
				LaredoManagerSlot *m = manager_slot_for(dboid, false);

				no_extension = m && m->no_extension;
			}
			LWLockRelease(laredo_shared->lock);
			if (no_extension)
				continue;

			/* A manager that keeps failing is started at most once per delay. */
			if (entry->last_start != 0 &&
				!TimestampDifferenceExceeds(entry->last_start, now, laredo_restart_delay_ms))
			{
				timeout = Min(timeout, laredo_restart_delay_ms);
				continue;
			}
			launcher_start_manager(entry);
		}
		list_free(dbs);

		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 timeout, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* -------------------------------------------------------------------------
 * manager
 * -------------------------------------------------------------------------
 */

typedef struct ManagedSource
{
	char		source_id[LAREDO_ID_LEN];
	Oid			owner;
	int64		config_version;
	int			max_attempts;
	double		initial_backoff_ms;
	double		max_backoff_ms;
	double		backoff_multiplier;
	int			slot_index;
	BackgroundWorkerHandle *handle;
	TimestampTz last_exit;		/* when its worker was last seen gone */
	bool		seen;
} ManagedSource;

static ManagedSource managed[LAREDO_MAX_WORKERS];

static int
worker_slot_acquire(const char *source_id)
{
	int			result = -1;

	LWLockAcquire(laredo_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < LAREDO_MAX_WORKERS && result < 0; i++)
	{
		LaredoWorkerSlot *slot = &laredo_shared->workers[i];

		if (slot->in_use && slot->dboid == MyDatabaseId &&
			strcmp(slot->source_id, source_id) == 0)
			result = i;
	}
	for (int i = 0; i < LAREDO_MAX_WORKERS && result < 0; i++)
	{
		LaredoWorkerSlot *slot = &laredo_shared->workers[i];

		if (!slot->in_use)
		{
			memset(slot, 0, sizeof(*slot));
			slot->in_use = true;
			slot->dboid = MyDatabaseId;
			strlcpy(slot->source_id, source_id, LAREDO_ID_LEN);
			slot->state = LAREDO_SOURCE_STARTING;
			slot->retained_wal_bytes = -1;
			result = i;
		}
	}
	LWLockRelease(laredo_shared->lock);
	return result;
}

static void
worker_slot_release(int index)
{
	LWLockAcquire(laredo_shared->lock, LW_EXCLUSIVE);
	memset(&laredo_shared->workers[index], 0, sizeof(LaredoWorkerSlot));
	LWLockRelease(laredo_shared->lock);
}

/*
 * The wait before a worker is started again: exponential backoff over the
 * failures in a row (reconnect_initial_backoff, times the multiplier per
 * failure, capped at reconnect_max_backoff); laredo.restart_delay when it
 * ended without a failure (the server restarted it, say).
 */
static long
manager_retry_delay_ms(ManagedSource *ms)
{
	int			attempts = laredo_shared->workers[ms->slot_index].attempts;
	double		delay = ms->initial_backoff_ms;

	if (attempts <= 0)
		return laredo_restart_delay_ms;
	for (int i = 1; i < attempts && delay < ms->max_backoff_ms; i++)
		delay *= ms->backoff_multiplier;
	return (long) Min(delay, ms->max_backoff_ms);
}

static void
manager_start_worker(ManagedSource *ms)
{
	BackgroundWorker bgw;

	bgworker_init(&bgw, "laredo_source_worker_main", "laredo source worker");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "laredo source %s", ms->source_id);
	bgw.bgw_main_arg = Int32GetDatum(ms->slot_index);
	memcpy(bgw.bgw_extra, &ms->owner, sizeof(Oid));

	if (!RegisterDynamicBackgroundWorker(&bgw, &ms->handle))
	{
		ms->handle = NULL;
		ms->last_exit = GetCurrentTimestamp();
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("laredo could not start the worker of source \"%s\"", ms->source_id),
				 errhint("Raise max_worker_processes.")));
	}
}

static void
manager_stop_worker(ManagedSource *ms)
{
	if (ms->handle)
	{
		TerminateBackgroundWorker(ms->handle);
		(void) WaitForBackgroundWorkerShutdown(ms->handle);
		pfree(ms->handle);
		ms->handle = NULL;
	}
}

static void
manager_shutdown(int code, Datum arg)
{
	LWLockAcquire(laredo_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < LAREDO_MAX_DATABASES; i++)
	{
		LaredoManagerSlot *m = &laredo_shared->managers[i];

		if (m->dboid == MyDatabaseId && m->pid == MyProcPid)
		{
			m->pid = 0;
			m->latch = NULL;
		}
	}
	LWLockRelease(laredo_shared->lock);
}

/*
 * One pass: read the sources that should run, stop what should not, start
 * what is missing.  Returns the time until the next delayed restart.
 */
static long
manager_reconcile(bool *extension_present)
{
	long		timeout = MANAGER_NAPTIME_MS;
	TimestampTz now;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());

	*extension_present = OidIsValid(get_extension_oid("laredo", true));
	for (int i = 0; i < LAREDO_MAX_WORKERS; i++)
		managed[i].seen = false;

	if (*extension_present)
	{
		SPI_connect();
		/* Only sources with pipelines have work; a paused pipeline holds its source. */
		if (SPI_execute("SELECT s.source_id, s.owner::int8, s.config_version, "
						"  s.reconnect_max_attempts, "
						"  extract(epoch FROM s.reconnect_initial_backoff)::float8 * 1000, "
						"  extract(epoch FROM s.reconnect_max_backoff)::float8 * 1000, "
						"  s.reconnect_backoff_multiplier "
						"FROM laredo.source_config s "
						"WHERE s.enabled AND s.error IS NULL AND EXISTS "
						"  (SELECT FROM laredo.pipeline_config p WHERE p.source_id = s.source_id) "
						"  AND NOT EXISTS (SELECT FROM laredo.pipeline_config p "
						"                  WHERE p.source_id = s.source_id AND p.paused) "
						"ORDER BY s.source_id", true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read laredo.source_config");

		for (uint64 r = 0; r < SPI_processed; r++)
		{
			HeapTuple	tup = SPI_tuptable->vals[r];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;
			char	   *id = TextDatumGetCString(SPI_getbinval(tup, desc, 1, &isnull));
			Oid			owner = (Oid) DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
			int64		version = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
			int			max_attempts = DatumGetInt32(SPI_getbinval(tup, desc, 4, &isnull));
			double		initial_ms = DatumGetFloat8(SPI_getbinval(tup, desc, 5, &isnull));
			double		max_ms = DatumGetFloat8(SPI_getbinval(tup, desc, 6, &isnull));
			double		multiplier = DatumGetFloat8(SPI_getbinval(tup, desc, 7, &isnull));
			ManagedSource *ms = NULL;
			ManagedSource *free_ms = NULL;

			for (int i = 0; i < LAREDO_MAX_WORKERS; i++)
			{
				if (managed[i].source_id[0] && strcmp(managed[i].source_id, id) == 0)
					ms = &managed[i];
				else if (!managed[i].source_id[0] && free_ms == NULL)
					free_ms = &managed[i];
			}
			if (ms == NULL)
			{
				int			slot_index;

				if (free_ms == NULL)
					continue;
				slot_index = worker_slot_acquire(id);
				if (slot_index < 0)
				{
					ereport(WARNING,
							(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
							 errmsg("laredo has no free worker slot for source \"%s\"", id),
							 errdetail("At most %d sources run at once.", LAREDO_MAX_WORKERS)));
					continue;
				}
				ms = free_ms;
				memset(ms, 0, sizeof(*ms));
				strlcpy(ms->source_id, id, LAREDO_ID_LEN);
				ms->slot_index = slot_index;
				ms->config_version = version;
				ms->owner = owner;
			}
			ms->seen = true;
			ms->max_attempts = max_attempts;
			ms->initial_backoff_ms = initial_ms;
			ms->max_backoff_ms = max_ms;
			ms->backoff_multiplier = multiplier;
			/* A changed configuration means a restart of the worker, and a fresh count. */
			if (ms->config_version != version || ms->owner != owner)
			{
				manager_stop_worker(ms);
				ms->config_version = version;
				ms->owner = owner;
				ms->last_exit = 0;
				LWLockAcquire(laredo_shared->lock, LW_EXCLUSIVE);
				laredo_shared->workers[ms->slot_index].attempts = 0;
				laredo_shared->workers[ms->slot_index].last_error[0] = '\0';
				laredo_shared->workers[ms->slot_index].last_error_time = 0;
				laredo_shared->workers[ms->slot_index].next_retry = 0;
				LWLockRelease(laredo_shared->lock);
			}
		}
		SPI_finish();
	}
	PopActiveSnapshot();
	CommitTransactionCommand();

	now = GetCurrentTimestamp();
	for (int i = 0; i < LAREDO_MAX_WORKERS; i++)
	{
		ManagedSource *ms = &managed[i];
		pid_t		pid;

		if (!ms->source_id[0])
			continue;
		if (!ms->seen)
		{
			/* dropped, disabled, in ERROR or without pipelines */
			manager_stop_worker(ms);
			worker_slot_release(ms->slot_index);
			memset(ms, 0, sizeof(*ms));
			continue;
		}
		if (ms->handle && GetBackgroundWorkerPid(ms->handle, &pid) != BGWH_STOPPED)
			continue;
		if (laredo_shared->workers[ms->slot_index].hold)
			continue;
		if (ms->handle)
		{
			pfree(ms->handle);
			ms->handle = NULL;
			ms->last_exit = now;
		}
		if (ms->last_exit != 0)
		{
			TimestampTz due = TimestampTzPlusMilliseconds(ms->last_exit, manager_retry_delay_ms(ms));

			if (now < due)
			{
				long		secs;
				int			usecs;

				LWLockAcquire(laredo_shared->lock, LW_EXCLUSIVE);
				laredo_shared->workers[ms->slot_index].next_retry = due;
				LWLockRelease(laredo_shared->lock);
				TimestampDifference(now, due, &secs, &usecs);
				timeout = Min(timeout, secs * 1000 + usecs / 1000 + 1);
				continue;
			}
		}
		LWLockAcquire(laredo_shared->lock, LW_EXCLUSIVE);
		laredo_shared->workers[ms->slot_index].next_retry = 0;
		LWLockRelease(laredo_shared->lock);
		manager_start_worker(ms);
	}
	return timeout;
}

void
laredo_manager_main(Datum arg)
{
	Oid			dboid = DatumGetObjectId(arg);

	pqsignal(SIGTERM, die);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	pgstat_report_appname("laredo manager");

	LWLockAcquire(laredo_shared->lock, LW_EXCLUSIVE);
	{
		LaredoManagerSlot *m = manager_slot_for(dboid, true);

		if (m == NULL)
		{
			LWLockRelease(laredo_shared->lock);
			ereport(ERROR,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("laredo serves at most %d databases", LAREDO_MAX_DATABASES)));
		}
		m->pid = MyProcPid;
		m->latch = MyLatch;
		m->no_extension = false;
	}
	LWLockRelease(laredo_shared->lock);
	before_shmem_exit(manager_shutdown, (Datum) 0);

	for (;;)
	{
		bool		extension_present;
		long		timeout;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		LWLockAcquire(laredo_shared->lock, LW_EXCLUSIVE);
		{
			LaredoManagerSlot *m = manager_slot_for(dboid, false);

			if (m)
				m->wake_pending = false;
		}
		LWLockRelease(laredo_shared->lock);
		timeout = manager_reconcile(&extension_present);
		if (!extension_present)
		{
			/* Nothing to manage here: let the launcher forget this database. */
			LWLockAcquire(laredo_shared->lock, LW_EXCLUSIVE);
			{
				LaredoManagerSlot *m = manager_slot_for(dboid, false);

				if (m)
					m->no_extension = true;
			}
			LWLockRelease(laredo_shared->lock);
			proc_exit(0);
		}

		/* a change that came in during this pass gets another pass at once */
		LWLockAcquire(laredo_shared->lock, LW_SHARED);
		{
			LaredoManagerSlot *m = manager_slot_for(dboid, false);

			if (m && m->wake_pending)
				timeout = 0;
		}
		LWLockRelease(laredo_shared->lock);
		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 timeout, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
