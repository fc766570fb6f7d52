/*-------------------------------------------------------------------------
 * apply.h
 *	  Decoded changes to pipelines, and progress.
 *-------------------------------------------------------------------------
 */
#ifndef LAREDO_APPLY_H
#define LAREDO_APPLY_H

#include "lib/stringinfo.h"
#include "replication/logicalproto.h"
#include "replication/origin.h"

#include "state.h"
#include "target.h"

extern void laredo_apply_init(LaredoSourceConfig *source);
extern const LaredoSourceConfig *laredo_apply_source(void);
extern void laredo_apply_set_origin(ReplOriginId origin, XLogRecPtr startpos);
extern void laredo_apply_set_binary(bool binary, const char *timezone, const char *bytea_output);
extern bool laredo_apply_binary_suits(void);
extern char *laredo_apply_column_text(LogicalRepRelation *rel, LogicalRepTupleData *tup, int i);
extern char *laredo_apply_column_display(LogicalRepRelation *rel, LogicalRepTupleData *tup, int i);
extern Datum laredo_apply_column_receive(LogicalRepRelation *rel, LogicalRepTupleData *tup, int i,
										 FmgrInfo *receive, Oid typioparam, int32 typmod);
extern void laredo_apply_set_last_change(XLogRecPtr last_change);
extern void laredo_apply_rewind_origin(ReplOriginId origin, XLogRecPtr lsn);
/* finds the configured table a published relation belongs to (a partition's root), or NULL */
typedef LaredoTableConfig *(*laredo_apply_resolver) (LogicalRepRelation *remoterel);
extern void laredo_apply_set_resolver(laredo_apply_resolver resolver);
typedef int (*laredo_apply_leaf_counter) (LaredoTableConfig *table);
extern void laredo_apply_set_leaf_counter(laredo_apply_leaf_counter counter);
extern List *laredo_apply_relation(LogicalRepRelation *remoterel, LaredoTableConfig *as);
extern void laredo_apply_begin_local(void);
extern void laredo_apply_end_step(void);
extern void laredo_apply_merge_position(XLogRecPtr lsn);
extern void laredo_apply_count_baseline(List *pipelines);
extern void laredo_apply_commit_local(XLogRecPtr end_lsn, TimestampTz commit_time, bool advance_origin);
extern void laredo_apply_message(StringInfo s);
extern bool laredo_apply_in_remote_xact(void);
extern XLogRecPtr laredo_apply_durable_lsn(void);
extern XLogRecPtr laredo_apply_ack_lsn(void);
extern bool laredo_apply_unflushed_pending(void);
extern bool laredo_apply_idle_position_pending(XLogRecPtr lsn);
extern void laredo_apply_flush(bool force);
extern void laredo_apply_persist_idle(XLogRecPtr lsn, bool force);
extern void laredo_apply_flush_counters(void);
extern const char *laredo_apply_failed_pipeline(void);
extern void laredo_apply_set_applying(LaredoPipeline *pipeline);
extern void laredo_apply_maintain(void);
extern bool laredo_apply_row_matches(LaredoPipeline *p, LogicalRepRelation *rel, LogicalRepTupleData *tup);
extern void laredo_apply_set_baseline_meta(XLogRecPtr copy_lsn, LogicalRepRelation *rel, int64 row);

#endif
