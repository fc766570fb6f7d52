/*-------------------------------------------------------------------------
 * target_table.h
 *	  The `table` target's state, shared by its files: target_table.c (rows
 *	  found and written), target_table_merge.c (updates of a key merged
 *	  until the commit), target_table_load.c (the baseline's bulk load) and
 *	  target_table_route.c (rows routed to a partitioned target's partitions).
 *-------------------------------------------------------------------------
 */
#ifndef LAREDO_TARGET_TABLE_H
#define LAREDO_TARGET_TABLE_H

#include "access/genam.h"
#include "access/skey.h"
#include "utils/hsearch.h"

#include "executor/execPartition.h"

#include "target.h"
#include "target_exec.h"

typedef struct RoutedPartition RoutedPartition;

typedef struct TableTarget
{
	Oid			relid;
	char	   *target_name;	/* schema.table, quoted, for messages */
	LogicalRepRelation *remoterel;
	bool		map_stale;

	/* options */
	List	   *subset;			/* of char *: the source columns kept; NIL: all */
	bool		soft_delete;	/* mark _deleted_at instead of deleting */
	bool		metadata_columns;	/* fill _lsn and _commit_time */
	bool		schema_follow;	/* schema_changes = follow (the default) */
	bool		schema_ignore;	/* schema_changes = ignore: as the built-in subscriber */
	bool		keep_dropped;	/* dropped_columns = keep */
	AttrNumber	deleted_attno;	/* 0 when absent */
	AttrNumber	lsn_attno;
	AttrNumber	commit_time_attno;

	/* per local attribute, rebuilt when the remote shape changes */
	int			natts;
	int		   *attmap;			/* remote column index, or -1 */
	Oid		   *typinput;
	Oid		   *typioparam;
	FmgrInfo   *typinfmgr;		/* the input functions, looked up once */
	/* a value sent in binary into a column of its own type: its receive function */
	bool	   *recv_direct;
	Oid		   *typrecvioparam;
	FmgrInfo   *typrecvfmgr;

	/* per local transaction (allocated in TopTransactionContext) */
	LaredoTargetExec x;
	TupleTableSlot *remoteslot;
	TupleTableSlot *searchslot;
	TupleTableSlot *localslot;
	ExprState **defaults;
	Oid			idxoid;

	/*
	 * A plain mirror (no trigger) finds rows through one index scan kept
	 * open for the transaction, without locking them first (see table_find).
	 */
	IndexScanDesc keyscan;
	int			nkeys;
	ScanKeyData keys[INDEX_MAX_KEYS];
	AttrNumber	keyattnos[INDEX_MAX_KEYS];
	bool		found_unlocked;	/* the row in localslot was found by keyscan */

	/*
	 * A partitioned target routes rows to its partitions (see
	 * target_table_route.c); per local transaction.
	 */
	ModifyTableState *mtstate;
	PartitionTupleRouting *proute;	/* NULL unless partitioned */
	List	   *routed;			/* of RoutedPartition * */
	TupleTableSlot *rootcurrent;	/* a row found, in the partitioned table's shape */
	RoutedPartition *found_part;	/* ... and the partition it is in */

	/* the published relations a Truncate message named (TopTransactionContext) */
	List	   *truncated;

	/*
	 * Updates held back until the local commit, one per key, the latest
	 * image (see laredo_table_update).  In pendcxt, reset by every flush; in
	 * arrival order for the flush.
	 */
	bool		may_defer;
	MemoryContext pendcxt;
	HTAB	   *pending;		/* key hash -> PendingChain */
	List	   *pending_order;	/* of PendingUpdate * */
} TableTarget;

/* target_table.c */
extern void laredo_table_open_xact(LaredoPipeline *p);
extern void laredo_table_xact_end(LaredoPipeline *p);
extern void laredo_table_update_row(LaredoPipeline *p, LogicalRepTupleData *oldtup,
									LogicalRepTupleData *newtup);

extern Oid	laredo_table_identity_index(Relation rel, LogicalRepRelation *remote);
pg_noreturn extern void laredo_table_no_identity(TableTarget *t, Relation rel);

/* target_table_route.c */
extern void laredo_table_route_begin(TableTarget *t);
extern void laredo_table_route_end(TableTarget *t);
extern void laredo_table_route_insert(TableTarget *t, TupleTableSlot *rootslot);
extern RoutedPartition *laredo_table_route_find(TableTarget *t, TupleTableSlot *key);
extern void laredo_table_route_update(TableTarget *t, RoutedPartition *rp, TupleTableSlot *newrow);
extern void laredo_table_route_delete(TableTarget *t, RoutedPartition *rp);

/* target_table_merge.c */
extern void laredo_table_update(LaredoPipeline *p, LogicalRepTupleData *oldtup,
								LogicalRepTupleData *newtup);
extern void laredo_table_flush_merged(LaredoPipeline *p);

/* target_table_load.c */
extern LaredoCopyFormat laredo_table_copy_format(LaredoPipeline *p, LogicalRepRelation *remoterel);
extern uint64 laredo_table_copy(LaredoPipeline *p, LogicalRepRelation *remoterel, LaredoCopyFormat format,
								int (*read) (void *outbuf, int minread, int maxread));

#endif
