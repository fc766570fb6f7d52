/*-------------------------------------------------------------------------
 * laredo.h
 *	  Declarations shared by laredo's modules: shared memory status of the
 *	  launcher, the per-database managers and the source workers, and the
 *	  entry points each module offers the others.
 *-------------------------------------------------------------------------
 */
#ifndef LAREDO_H
#define LAREDO_H

#include "postgres.h"

#include "compat.h"

#include "access/xlogdefs.h"
#include "datatype/timestamp.h"
#include "nodes/pg_list.h"
#include "storage/latch.h"
#include "storage/lwlock.h"

#define LAREDO_MAX_DATABASES	64
#define LAREDO_MAX_WORKERS		64
#define LAREDO_ID_LEN			64
#define LAREDO_ERROR_LEN		1024

/* States, shown in the views by the same word. */
typedef enum LaredoSourceState
{
	LAREDO_SOURCE_STARTING,
	LAREDO_SOURCE_BASELINE,
	LAREDO_SOURCE_STREAMING,
	LAREDO_SOURCE_RECONNECTING,
	LAREDO_SOURCE_ERROR,
	LAREDO_SOURCE_DISABLED
} LaredoSourceState;

extern const char *laredo_source_state_name(LaredoSourceState state);

/* Live status of one source worker, owned by its database's manager. */
typedef struct LaredoWorkerSlot
{
	bool		in_use;
	Oid			dboid;
	char		source_id[LAREDO_ID_LEN];
	pid_t		pid;			/* 0 while no worker runs */
	Latch	   *latch;
	LaredoSourceState state;
	XLogRecPtr	received_lsn;	/* last position received from the source */
	XLogRecPtr	flushed_lsn;	/* last position durable here */
	XLogRecPtr	source_wal_end; /* source's WAL end, from its messages */
	int			attempts;		/* failed starts in a row */
	TimestampTz next_retry;		/* when the manager starts it again, or 0 */
	char		last_error[LAREDO_ERROR_LEN];
	TimestampTz last_error_time;
	/* the slot as the source sees it, read every few seconds */
	XLogRecPtr	slot_restart_lsn;
	XLogRecPtr	slot_confirmed_lsn;
	char		slot_wal_status[16];
	int64		retained_wal_bytes; /* -1 when unknown */
	bool		catchup_waiter; /* a backend waits in wait_for_catchup */
	/* the source's catalog (replica identities, ...) was last looked at as it stood then */
	TimestampTz identities_checked;
	/* a wait_for_catchup caller needs it looked at as it stands after this */
	TimestampTz checks_wanted;
	bool		hold;			/* a transaction stopped it: do not restart */
	/* a column the stream in binary cannot read came: stream in text from now on */
	bool		text_stream;
} LaredoWorkerSlot;

/*
 * A running manager's place in shared memory.  The launcher claims a slot
 * before it starts the manager and frees it once it has seen the manager
 * exit, so that it can read what the manager found.
 */
typedef struct LaredoManagerSlot
{
	Oid			dboid;			/* InvalidOid when free */
	pid_t		pid;			/* 0 until the manager runs, and after it exits */
	Latch	   *latch;
	bool		extension_found;	/* laredo is installed there: the manager stays */
	bool		no_extension;	/* it is not: the manager left */
	bool		wake_pending;	/* configuration changed since the last pass */
} LaredoManagerSlot;

/* Databases whose configuration changed, for the launcher to look at. */
#define LAREDO_MAX_WAKE			32

typedef struct LaredoShared
{
	LWLock	   *lock;
	pid_t		launcher_pid;
	Latch	   *launcher_latch;
	int			nwake;
	Oid			wake_dbs[LAREDO_MAX_WAKE];
	bool		wake_all;		/* more than LAREDO_MAX_WAKE: every database */
	LaredoManagerSlot managers[LAREDO_MAX_DATABASES];
	LaredoWorkerSlot workers[LAREDO_MAX_WORKERS];
} LaredoShared;

extern PGDLLIMPORT LaredoShared *laredo_shared;
extern int	laredo_restart_delay_ms;
extern int	laredo_prune_interval_ms;
extern bool laredo_binary_stream;

/* laredo.c */
extern void laredo_shmem_attach(void);
extern LaredoWorkerSlot *laredo_worker_slot_find(Oid dboid, const char *source_id);

/* launcher.c */
PGDLLEXPORT void laredo_launcher_main(Datum arg);
PGDLLEXPORT void laredo_manager_main(Datum arg);
extern void laredo_register_launcher(void);
extern void laredo_wake_database(Oid dboid);

/* functions.c */
extern void laredo_wake_at_commit(void);

/* source_worker.c */
PGDLLEXPORT void laredo_source_worker_main(Datum arg);
extern void laredo_worker_set_state(LaredoSourceState state);
extern struct pg_conn *laredo_worker_sql_conn(void);
extern LaredoWorkerSlot *MyLaredoSlot;

#endif							/* LAREDO_H */
