/*-------------------------------------------------------------------------
 * compat.h
 *	  Every difference between the PostgreSQL versions laredo builds on (15,
 *	  16, 17, 18, 19), in one place.  laredo's code is written against the
 *	  newest server's names and signatures; for an older server this header
 *	  supplies them, as wrappers over what that server has (citus's
 *	  pg_version_compat.h is the model).  No other file tests
 *	  PG_VERSION_NUM.
 *
 *	  Where a call changed its arguments, the wrapper is named laredo_<call>
 *	  and takes the newest arguments that laredo uses; it passes the
 *	  defaults of the newest server where an older one has no such argument.
 *-------------------------------------------------------------------------
 */
#ifndef LAREDO_COMPAT_H
#define LAREDO_COMPAT_H

#include "postgres.h"

#include "access/genam.h"
#include "access/tableam.h"
#include "access/tupconvert.h"
#include "catalog/index.h"
#include "catalog/pg_proc.h"
#include "commands/tablecmds.h"
#include "executor/executor.h"
#include "nodes/execnodes.h"
#include "nodes/parsenodes.h"
#include "replication/origin.h"
#include "replication/slot.h"
#include "replication/walreceiver.h"
#include "storage/latch.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"

#if PG_VERSION_NUM >= 160000
#include "parser/parse_relation.h"
#include "varatt.h"
#endif
#if PG_VERSION_NUM < 190000
#include "commands/dbcommands.h"	/* get_database_name, in lsyscache.h from 19 */
#endif

/* --- wait event sets (17: owned by a resource owner, not a memory context) --- */
static inline WaitEventSet *
laredo_create_wait_event_set(int nevents)
{
#if PG_VERSION_NUM >= 170000
	return CreateWaitEventSet(NULL, nevents);
#else
	return CreateWaitEventSet(CurrentMemoryContext, nevents);
#endif
}

/* --- attributes (18: pg_noreturn before the declaration) ------------------ */
#ifndef pg_noreturn
#define pg_noreturn pg_attribute_noreturn()
#endif

/* --- replication origins (19: ReplOriginId, replorigin_xact_state) -------- */
#if PG_VERSION_NUM < 190000
typedef RepOriginId ReplOriginId;
#define InvalidReplOriginId InvalidRepOriginId
/* the session's origin, and the position and time its next commit records */
#define laredo_xact_origin replorigin_session_origin
#define laredo_xact_origin_lsn replorigin_session_origin_lsn
#define laredo_xact_origin_timestamp replorigin_session_origin_timestamp
#else
#define laredo_xact_origin replorigin_xact_state.origin
#define laredo_xact_origin_lsn replorigin_xact_state.origin_lsn
#define laredo_xact_origin_timestamp replorigin_xact_state.origin_timestamp
#endif

/* the setting that limits the replication origins in use at once (18) */
#if PG_VERSION_NUM >= 180000
#define LAREDO_MAX_ORIGINS max_active_replication_origins
#define LAREDO_MAX_ORIGINS_GUC "max_active_replication_origins"
#else
#define LAREDO_MAX_ORIGINS max_replication_slots
#define LAREDO_MAX_ORIGINS_GUC "max_replication_slots"
#endif

/* --- replication slots (16: why a slot was invalidated) ------------------ */
/* Whether slot s (its mutex held) was invalidated. */
#if PG_VERSION_NUM >= 160000
#define laredo_slot_invalidated(s) ((s)->data.invalidated != RS_INVAL_NONE)
#else
#define laredo_slot_invalidated(s) (!XLogRecPtrIsInvalid((s)->data.invalidated_at))
#endif

/* 16 added who may share the session's origin (0: this backend alone) */
static inline void
laredo_replorigin_session_setup(ReplOriginId node)
{
#if PG_VERSION_NUM >= 160000
	replorigin_session_setup(node, 0);
#else
	replorigin_session_setup(node);
#endif
}

/* --- libpqwalreceiver ------------------------------------------------------ */

/*
 * A replication connection (replication=database).  16 added
 * must_use_password (laredo checks the password itself, remote.c), 17 the
 * choice of a physical or logical replication connection.
 */
static inline WalReceiverConn *
laredo_walrcv_connect(const char *conninfo, const char *appname, char **err)
{
#if PG_VERSION_NUM >= 170000
	return walrcv_connect(conninfo, true, true, false, appname, err);
#elif PG_VERSION_NUM >= 160000
	return walrcv_connect(conninfo, true, false, appname, err);
#else
	return walrcv_connect(conninfo, true, appname, err);
#endif
}

/* 17 added failover slots */
static inline char *
laredo_walrcv_create_slot(WalReceiverConn *conn, const char *slotname, bool temporary,
						  bool two_phase, bool failover, CRSSnapshotAction snapshot_action,
						  XLogRecPtr *lsn)
{
#if PG_VERSION_NUM >= 170000
	return walrcv_create_slot(conn, slotname, temporary, two_phase, failover, snapshot_action, lsn);
#else
	Assert(!failover);
	return walrcv_create_slot(conn, slotname, temporary, two_phase, snapshot_action, lsn);
#endif
}

/* 16: streaming is a string ("on", "parallel"), not sent when NULL */
static inline void
laredo_stream_options_no_streaming(WalRcvStreamOptions *options)
{
#if PG_VERSION_NUM >= 160000
	options->proto.logical.streaming_str = NULL;
#else
	options->proto.logical.streaming = false;
#endif
}

/*
 * 16 added pgoutput's origin option ('none': only the changes made on the
 * source itself); false where this server's walreceiver cannot send it.
 */
static inline bool
laredo_stream_options_origin(WalRcvStreamOptions *options, char *origin)
{
#if PG_VERSION_NUM >= 160000
	options->proto.logical.origin = origin;
	return true;
#else
	return false;
#endif
}

/* --- executor --------------------------------------------------------------- */

/*
 * The range table of a target's executor state: one relation.  From 16 on,
 * permissions live in RTEPermissionInfo, and ExecGetUpdatedCols (index
 * hints, UPDATE OF triggers) fails with "invalid perminfoindex 0" without
 * one; 18 adds the relations left after pruning.  As the built-in's
 * create_edata_for_relation.
 */
static inline void
laredo_exec_init_range_table(EState *estate, RangeTblEntry *rte)
{
#if PG_VERSION_NUM >= 160000
	List	   *perminfos = NIL;

	(void) addRTEPermissionInfo(&perminfos, rte);
#if PG_VERSION_NUM >= 180000
	ExecInitRangeTable(estate, list_make1(rte), perminfos, bms_make_singleton(1));
#else
	ExecInitRangeTable(estate, list_make1(rte), perminfos);
#endif
#else
	ExecInitRangeTable(estate, list_make1(rte));
#endif
}

/* Where the columns an update gives are kept for range table entry 1. */
static inline Bitmapset **
laredo_updated_cols(EState *estate)
{
#if PG_VERSION_NUM >= 160000
	return &getRTEPermissionInfo(estate->es_rteperminfos, exec_rt_fetch(1, estate))->updatedCols;
#else
	return &exec_rt_fetch(1, estate)->updatedCols;
#endif
}

/* 16 added the ModifyTable's result relations (none here) */
static inline void
laredo_eval_plan_qual_init(EPQState *epqstate, EState *parentestate)
{
#if PG_VERSION_NUM >= 160000
	EvalPlanQualInit(epqstate, parentestate, NULL, NIL, -1, NIL);
#else
	EvalPlanQualInit(epqstate, parentestate, NULL, NIL, -1);
#endif
}

/* 16: a partition's map from its root is built on demand */
static inline TupleConversionMap *
laredo_root_to_child_map(ResultRelInfo *rri, EState *estate)
{
#if PG_VERSION_NUM >= 160000
	return ExecGetRootToChildMap(rri, estate);
#else
	return rri->ri_RootToPartitionMap;
#endif
}

/* 16: which indexes an update needs new entries in */
#if PG_VERSION_NUM < 160000
typedef enum TU_UpdateIndexes
{
	TU_None,
	TU_All,
	TU_Summarizing
} TU_UpdateIndexes;
#endif

/* 19: options of table_tuple_update and table_tuple_delete (none used here) */
static inline TM_Result
laredo_table_tuple_update(Relation rel, ItemPointer otid, TupleTableSlot *slot, CommandId cid,
						  Snapshot snapshot, Snapshot crosscheck, bool wait,
						  TM_FailureData *tmfd, LockTupleMode *lockmode,
						  TU_UpdateIndexes *update_indexes)
{
#if PG_VERSION_NUM >= 190000
	return table_tuple_update(rel, otid, slot, cid, 0, snapshot, crosscheck, wait, tmfd,
							  lockmode, update_indexes);
#elif PG_VERSION_NUM >= 160000
	return table_tuple_update(rel, otid, slot, cid, snapshot, crosscheck, wait, tmfd,
							  lockmode, update_indexes);
#else
	bool		all;
	TM_Result	result = table_tuple_update(rel, otid, slot, cid, snapshot, crosscheck, wait,
											tmfd, lockmode, &all);

	*update_indexes = all ? TU_All : TU_None;
	return result;
#endif
}

static inline TM_Result
laredo_table_tuple_delete(Relation rel, ItemPointer tid, CommandId cid, Snapshot snapshot,
						  Snapshot crosscheck, bool wait, TM_FailureData *tmfd)
{
#if PG_VERSION_NUM >= 190000
	return table_tuple_delete(rel, tid, cid, 0, snapshot, crosscheck, wait, tmfd);
#else
	return table_tuple_delete(rel, tid, cid, snapshot, crosscheck, wait, tmfd, false);
#endif
}

/*
 * New index entries for an updated row, as ExecSimpleRelationUpdate makes
 * them: in every index, or (from 16 on, a HOT update) only in the
 * summarizing ones; 19 takes flags.
 */
static inline List *
laredo_insert_index_tuples_for_update(ResultRelInfo *rri, EState *estate, TupleTableSlot *slot,
									  TU_UpdateIndexes update_indexes)
{
#if PG_VERSION_NUM >= 190000
	return ExecInsertIndexTuples(rri, estate,
								 EIIT_IS_UPDATE | (update_indexes == TU_Summarizing ? EIIT_ONLY_SUMMARIZING : 0),
								 slot, NIL, NULL);
#elif PG_VERSION_NUM >= 160000
	return ExecInsertIndexTuples(rri, slot, estate, true, false, NULL, NIL,
								 update_indexes == TU_Summarizing);
#else
	return ExecInsertIndexTuples(rri, slot, estate, true, false, NULL, NIL);
#endif
}

/* 19: whether the scan may return the same row twice (never here) */
static inline bool
laredo_find_repl_tuple_by_index(Relation rel, Oid idxoid, LockTupleMode lockmode,
								TupleTableSlot *searchslot, TupleTableSlot *outslot)
{
#if PG_VERSION_NUM >= 190000
	return RelationFindReplTupleByIndex(rel, idxoid, false, lockmode, searchslot, outslot);
#else
	return RelationFindReplTupleByIndex(rel, idxoid, lockmode, searchslot, outslot);
#endif
}

/* 18 added instrumentation, 19 flags */
static inline IndexScanDesc
laredo_index_beginscan(Relation heap, Relation index, Snapshot snapshot, int nkeys, int norderbys)
{
#if PG_VERSION_NUM >= 190000
	return index_beginscan(heap, index, snapshot, NULL, nkeys, norderbys, 0);
#elif PG_VERSION_NUM >= 180000
	return index_beginscan(heap, index, snapshot, NULL, nkeys, norderbys);
#else
	return index_beginscan(heap, index, snapshot, nkeys, norderbys);
#endif
}

/* 16: whether the truncation runs as each table's owner (it does not here) */
static inline void
laredo_execute_truncate_guts(List *rels, List *relids, List *relids_logged, bool restart_seqs)
{
#if PG_VERSION_NUM >= 160000
	ExecuteTruncateGuts(rels, relids, relids_logged, DROP_RESTRICT, restart_seqs, false);
#else
	ExecuteTruncateGuts(rels, relids, relids_logged, DROP_RESTRICT, restart_seqs);
#endif
}

/* 17: the statement, for event triggers and progress (none here) */
static inline bool
laredo_reindex_relation(Oid relid, int flags, const ReindexParams *params)
{
#if PG_VERSION_NUM >= 170000
	return reindex_relation(NULL, relid, flags, params);
#else
	return reindex_relation(relid, flags, (ReindexParams *) params);
#endif
}

/* --- privileges (16: object_aclcheck) --------------------------------------- */
#if PG_VERSION_NUM < 160000
#define object_aclcheck(classid, objectid, roleid, mode) \
	(AssertMacro((classid) == ProcedureRelationId), pg_proc_aclcheck(objectid, roleid, mode))
#endif

#endif							/* LAREDO_COMPAT_H */
