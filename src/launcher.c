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

	/*
	 * Not in pg_upgrade's servers (started with -b): nothing may write to the
	 * databases they dump and restore, as the built-in launcher does not run
	 * there either.  The sources start with the upgraded server.
	 */
	if (IsBinaryUpgrade)
		return;
	bgworker_init(&bgw, "laredo_launcher_main", "laredo launcher");
	bgw.bgw_restart_time = 5;
	bgw.bgw_notify_pid = 0;
	snprintf(bgw.bgw_name, BGW_MAXLEN, "laredo launcher");
	RegisterBackgroundWorker(&bgw);
}

/*
 * Wake the launcher and the manager of a database; called after a commit
 * that changed laredo's configuration (or installed the extension).  The
 * launcher is told which database, so that it probes that one again (its
 * manager may have left just before the extension was created), not all.
 */
void
laredo_wake_database(Oid dboid)
{
	Latch	   *launcher = NULL;
	Latch	   *manager = NULL;

	LWLockAcquire(laredo_shared->lock, LW_EXCLUSIVE);
	if (laredo_shared->nwake < LAREDO_MAX_WAKE)
		laredo_shared->wake_dbs[laredo_shared->nwake++] = dboid;
	else
		laredo_shared->wake_all = true;
	launcher = laredo_shared->launcher_latch;
	for (int i = 0; i < LAREDO_MAX_DATABASES; i++)
	{
		LaredoManagerSlot *m = &laredo_shared->managers[i];

		if (m->dboid == dboid && m->latch != NULL)
		{
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
 *
 * The launcher knows every connectable database (its own table, unbounded)
 * and starts a manager in each one that may have laredo: those not probed
 * yet, a few at a time (a probe is a background worker slot for a moment),
 * and those where laredo was found.  A database whose manager found no
 * extension is left alone until a commit there wakes the launcher (CREATE
 * EXTENSION does) or the server restarts.
 * -------------------------------------------------------------------------
 */

/* How many managers may be probing databases at once. */
#define LAUNCHER_MAX_PROBES		2

typedef enum LauncherDbState
{
	LAUNCHER_DB_UNKNOWN,		/* to be probed by a manager */
	LAUNCHER_DB_NO_EXTENSION	/* its manager found no laredo there */
} LauncherDbState;

typedef struct LauncherDb
{
	Oid			dboid;			/* hash key */
	LauncherDbState state;
	int			slot;			/* its manager's slot, or -1 when none runs */
	BackgroundWorkerHandle *handle; /* NULL for a manager adopted after a restart */
	TimestampTz last_start;
	uint64		wakes;			/* commits there that woke the launcher */
	uint64		wakes_at_start; /* ... counted when its manager started */
	bool		listed;			/* in pg_database at the last look */
} LauncherDb;

static HTAB *launcher_dbs = NULL;

/*
 * The databases a manager may connect to: not templates (a connection would
 * make CREATE DATABASE from them fail), connections allowed, not half
 * dropped.  The list is built in resultcxt: the transaction's own memory
 * goes with its commit.
 */
static List *
launcher_list_databases(MemoryContext resultcxt)
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
		MemoryContext old;

		if (db->datistemplate || !db->datallowconn || db->datconnlimit == -2)
			continue;
		old = MemoryContextSwitchTo(resultcxt);
		result = lappend_oid(result, db->oid);
		MemoryContextSwitchTo(old);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return result;
}

/* Whether the manager of entry still runs. */
static bool
launcher_manager_running(LauncherDb *entry)
{
	pid_t		pid;
	bool		running;

	if (entry->slot < 0)
		return false;
	if (entry->handle)
		return GetBackgroundWorkerPid(entry->handle, &pid) != BGWH_STOPPED;
	/* adopted: the manager clears its pid when it exits */
	LWLockAcquire(laredo_shared->lock, LW_SHARED);
	running = laredo_shared->managers[entry->slot].pid != 0;
	LWLockRelease(laredo_shared->lock);
	return running;
}

/* The manager of entry has exited: what it found decides what comes next. */
static void
launcher_reap_manager(LauncherDb *entry)
{
	LaredoManagerSlot *m = &laredo_shared->managers[entry->slot];
	bool		no_extension;

	LWLockAcquire(laredo_shared->lock, LW_EXCLUSIVE);
	no_extension = m->no_extension;
	memset(m, 0, sizeof(*m));
	LWLockRelease(laredo_shared->lock);
	entry->slot = -1;
	if (entry->handle)
		pfree(entry->handle);
	entry->handle = NULL;
	/* a commit there since it started may have created the extension */
	if (no_extension && entry->wakes == entry->wakes_at_start)
		entry->state = LAUNCHER_DB_NO_EXTENSION;
	else
		entry->state = LAUNCHER_DB_UNKNOWN;
	/* found nothing to do: a new probe need not wait */
	if (no_extension)
		entry->last_start = 0;
}

/* Starts a manager for entry's database; false when no slot or worker is free. */
static bool
launcher_start_manager(LauncherDb *entry)
{
	BackgroundWorker bgw;
	int			slot = -1;

	LWLockAcquire(laredo_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < LAREDO_MAX_DATABASES && slot < 0; i++)
		if (!OidIsValid(laredo_shared->managers[i].dboid))
		{
			slot = i;
			memset(&laredo_shared->managers[i], 0, sizeof(LaredoManagerSlot));
			laredo_shared->managers[i].dboid = entry->dboid;
		}
	LWLockRelease(laredo_shared->lock);
	if (slot < 0)
		return false;

	bgworker_init(&bgw, "laredo_manager_main", "laredo manager");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "laredo manager for database %u", entry->dboid);
	bgw.bgw_main_arg = ObjectIdGetDatum(entry->dboid);
	memcpy(bgw.bgw_extra, &slot, sizeof(int));

	entry->last_start = GetCurrentTimestamp();
	entry->wakes_at_start = entry->wakes;
	if (!RegisterDynamicBackgroundWorker(&bgw, &entry->handle))
	{
		LWLockAcquire(laredo_shared->lock, LW_EXCLUSIVE);
		memset(&laredo_shared->managers[slot], 0, sizeof(LaredoManagerSlot));
		LWLockRelease(laredo_shared->lock);
		entry->handle = NULL;
		return false;
	}
	entry->slot = slot;
	return true;
}

static LauncherDb *
launcher_db(Oid dboid)
{
	bool		found;
	LauncherDb *entry = hash_search(launcher_dbs, &dboid, HASH_ENTER, &found);

	if (!found)
	{
		entry->state = LAUNCHER_DB_UNKNOWN;
		entry->slot = -1;
		entry->handle = NULL;
		entry->last_start = 0;
		entry->wakes = entry->wakes_at_start = 0;
		entry->listed = true;
	}
	return entry;
}

/*
 * Managers left running by a previous launcher (one that exited with an
 * error; the server restarts it) are adopted, so that no database gets two.
 */
static void
launcher_adopt_managers(void)
{
	LWLockAcquire(laredo_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < LAREDO_MAX_DATABASES; i++)
	{
		LaredoManagerSlot *m = &laredo_shared->managers[i];

		if (!OidIsValid(m->dboid))
			continue;
		if (m->pid == 0)
			memset(m, 0, sizeof(*m));
		else
		{
			bool		found;
			LauncherDb *entry = hash_search(launcher_dbs, &m->dboid, HASH_ENTER, &found);

			entry->state = LAUNCHER_DB_UNKNOWN;
			entry->slot = i;
			entry->handle = NULL;
			entry->last_start = GetCurrentTimestamp();
			entry->wakes = entry->wakes_at_start = 0;
			entry->listed = true;
		}
	}
	LWLockRelease(laredo_shared->lock);
}

/* Takes the databases whose commits woke the launcher since the last pass. */
static void
launcher_take_wakes(void)
{
	Oid			wake[LAREDO_MAX_WAKE];
	int			nwake;
	bool		all;

	LWLockAcquire(laredo_shared->lock, LW_EXCLUSIVE);
	nwake = laredo_shared->nwake;
	memcpy(wake, laredo_shared->wake_dbs, sizeof(Oid) * nwake);
	all = laredo_shared->wake_all;
	laredo_shared->nwake = 0;
	laredo_shared->wake_all = false;
	LWLockRelease(laredo_shared->lock);

	if (all)
	{
		HASH_SEQ_STATUS seq;
		LauncherDb *entry;

		hash_seq_init(&seq, launcher_dbs);
		while ((entry = hash_seq_search(&seq)) != NULL)
		{
			entry->wakes++;
			entry->state = LAUNCHER_DB_UNKNOWN;
		}
	}
	for (int i = 0; i < nwake; i++)
	{
		LauncherDb *entry = launcher_db(wake[i]);

		entry->wakes++;
		entry->state = LAUNCHER_DB_UNKNOWN;
		/* a CREATE EXTENSION deserves an answer now, not after a delay */
		if (entry->slot < 0)
			entry->last_start = 0;
	}
}

/*
 * One pass over the databases; returns the time until the next one is due.
 * pass_cxt holds what the pass allocates and is reset by the caller.
 */
static long
launcher_pass(MemoryContext pass_cxt)
{
	long		timeout = LAUNCHER_NAPTIME_MS;
	List	   *dbs;
	ListCell   *lc;
	HASH_SEQ_STATUS seq;
	LauncherDb *entry;
	TimestampTz now;
	int			probing = 0;
	bool		out_of_slots = false;

	launcher_take_wakes();

	/* which databases exist now; entries of dropped ones go */
	dbs = launcher_list_databases(pass_cxt);
	hash_seq_init(&seq, launcher_dbs);
	while ((entry = hash_seq_search(&seq)) != NULL)
		entry->listed = false;
	foreach(lc, dbs)
		launcher_db(lfirst_oid(lc))->listed = true;

	/* managers that exited */
	hash_seq_init(&seq, launcher_dbs);
	while ((entry = hash_seq_search(&seq)) != NULL)
	{
		if (entry->slot >= 0 && !launcher_manager_running(entry))
			launcher_reap_manager(entry);
		if (!entry->listed && entry->slot < 0)
			(void) hash_search(launcher_dbs, &entry->dboid, HASH_REMOVE, NULL);
		else if (entry->slot >= 0)
		{
			bool		found;

			LWLockAcquire(laredo_shared->lock, LW_SHARED);
			found = laredo_shared->managers[entry->slot].extension_found;
			LWLockRelease(laredo_shared->lock);
			if (!found)
				probing++;
		}
	}

	/* managers to start: databases with laredo, and probes, a few at a time */
	now = GetCurrentTimestamp();
	foreach(lc, dbs)
	{
		entry = launcher_db(lfirst_oid(lc));
		if (entry->slot >= 0 || entry->state == LAUNCHER_DB_NO_EXTENSION)
			continue;
		/* a manager that keeps failing is started at most once per delay */
		if (entry->last_start != 0 &&
			!TimestampDifferenceExceeds(entry->last_start, now, laredo_restart_delay_ms))
		{
			timeout = Min(timeout, laredo_restart_delay_ms);
			continue;
		}
		/* the next probe starts when one ends (its exit sets the latch) */
		if (probing >= LAUNCHER_MAX_PROBES)
			continue;
		if (!launcher_start_manager(entry))
		{
			out_of_slots = true;
			timeout = Min(timeout, laredo_restart_delay_ms);
			break;
		}
		probing++;
	}
	if (out_of_slots)
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("laredo could not start a manager for every database"),
				 errdetail("laredo runs at most %d managers at once, each a background worker.",
						   LAREDO_MAX_DATABASES),
				 errhint("Raise max_worker_processes.")));
	return timeout;
}

void
laredo_launcher_main(Datum arg)
{
	HASHCTL		ctl;
	MemoryContext pass_cxt;

	pqsignal(SIGTERM, die);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("laredo launcher");

	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(LauncherDb);
	ctl.hcxt = TopMemoryContext;
	launcher_dbs = hash_create("laredo launcher databases", 64, &ctl,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	pass_cxt = AllocSetContextCreate(TopMemoryContext, "laredo launcher pass",
									 ALLOCSET_DEFAULT_SIZES);

	LWLockAcquire(laredo_shared->lock, LW_EXCLUSIVE);
	laredo_shared->launcher_pid = MyProcPid;
	laredo_shared->launcher_latch = MyLatch;
	LWLockRelease(laredo_shared->lock);
	launcher_adopt_managers();

	for (;;)
	{
		long		timeout;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		timeout = launcher_pass(pass_cxt);
		MemoryContextReset(pass_cxt);

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
static int	manager_slot_index = -1;
static LaredoManagerSlot *MyManagerSlot = NULL;

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

/* The pid of the source's worker as it published it, or 0. */
static pid_t
manager_worker_pid(ManagedSource *ms)
{
	pid_t		pid;

	LWLockAcquire(laredo_shared->lock, LW_SHARED);
	pid = laredo_shared->workers[ms->slot_index].pid;
	LWLockRelease(laredo_shared->lock);
	return pid;
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
	else
	{
		/* a worker started by a previous manager of this database */
		pid_t		pid = manager_worker_pid(ms);

		if (pid != 0)
			kill(pid, SIGTERM);
		while (manager_worker_pid(ms) != 0)
		{
			CHECK_FOR_INTERRUPTS();
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 10,
							 PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
	}
}

/* The launcher frees the slot once it has read what this manager found. */
static void
manager_shutdown(int code, Datum arg)
{
	LWLockAcquire(laredo_shared->lock, LW_EXCLUSIVE);
	if (MyManagerSlot->pid == MyProcPid)
	{
		MyManagerSlot->pid = 0;
		MyManagerSlot->latch = NULL;
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
		/* one a previous manager of this database started runs on */
		if (ms->handle == NULL && manager_worker_pid(ms) != 0)
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
	bool		duplicate = false;

	memcpy(&manager_slot_index, MyBgworkerEntry->bgw_extra, sizeof(int));
	MyManagerSlot = &laredo_shared->managers[manager_slot_index];

	pqsignal(SIGTERM, die);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	pgstat_report_appname("laredo manager");

	LWLockAcquire(laredo_shared->lock, LW_EXCLUSIVE);
	/* one manager per database, even across a restart of the launcher */
	for (int i = 0; i < LAREDO_MAX_DATABASES; i++)
		if (i != manager_slot_index && laredo_shared->managers[i].dboid == dboid &&
			laredo_shared->managers[i].pid != 0)
			duplicate = true;
	if (!duplicate && MyManagerSlot->dboid == dboid)
	{
		MyManagerSlot->pid = MyProcPid;
		MyManagerSlot->latch = MyLatch;
	}
	else
		duplicate = true;
	LWLockRelease(laredo_shared->lock);
	if (duplicate)
		proc_exit(0);
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
		MyManagerSlot->wake_pending = false;
		LWLockRelease(laredo_shared->lock);
		timeout = manager_reconcile(&extension_present);

		LWLockAcquire(laredo_shared->lock, LW_EXCLUSIVE);
		MyManagerSlot->extension_found = extension_present;
		/* nothing to manage here: the launcher leaves this database alone */
		MyManagerSlot->no_extension = !extension_present;
		/* a change that came in during this pass gets another pass at once */
		if (MyManagerSlot->wake_pending)
			timeout = 0;
		LWLockRelease(laredo_shared->lock);
		if (!extension_present)
			proc_exit(0);

		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 timeout, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
