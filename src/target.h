/*-------------------------------------------------------------------------
 * target.h
 *	  The one interface every target kind implements.  A pipeline binds one
 *	  source table to one target; apply.c calls these callbacks inside the
 *	  local transaction that also carries the resume position.  A new kind
 *	  of target is one new file with one LaredoTargetRoutine.
 *-------------------------------------------------------------------------
 */
#ifndef LAREDO_TARGET_H
#define LAREDO_TARGET_H

#include "datatype/timestamp.h"
#include "replication/logicalproto.h"

#include "state.h"

typedef struct LaredoPipeline LaredoPipeline;

/* How a baseline's COPY stream reaches a target's fast path. */
typedef enum LaredoCopyFormat
{
	LAREDO_COPY_NONE,			/* no fast path: row by row */
	LAREDO_COPY_TEXT,
	LAREDO_COPY_BINARY			/* every column of the same built-in type on both sides */
} LaredoCopyFormat;

/*
 * One Truncate message: the tables of the table targets it reaches are
 * truncated together, in one ExecuteTruncateGuts, as the built-in
 * subscriber does (a foreign key between two of them is then no obstacle).
 */
typedef struct LaredoTruncate
{
	bool		restart_seqs;	/* TRUNCATE ... RESTART IDENTITY on the source */
	List	   *rels;			/* Relation, locked AccessExclusiveLock */
	List	   *relids;
	List	   *relids_logged;
	List	   *pending;		/* LaredoPipeline * to ask, once all are named */
} LaredoTruncate;

extern void laredo_truncate_add(LaredoTruncate *truncate, Oid relid);
extern void laredo_truncate_execute(LaredoTruncate *truncate);

typedef struct LaredoTargetRoutine
{
	/* validate the target; called once per worker, in a transaction */
	void		(*init) (LaredoPipeline *pipeline);
	/* the source table's shape (column names, identity) was (re)described */
	void		(*relation) (LaredoPipeline *pipeline, LogicalRepRelation *remoterel);
	/* a full copy begins: the target is emptied; rows follow */
	void		(*baseline_begin) (LaredoPipeline *pipeline);
	void		(*baseline_row) (LaredoPipeline *pipeline, LogicalRepTupleData *row);
	void		(*baseline_end) (LaredoPipeline *pipeline);
	void		(*insert) (LaredoPipeline *pipeline, LogicalRepTupleData *newtup);
	/* oldtup is NULL when the key did not change and identity is not FULL */
	void		(*update) (LaredoPipeline *pipeline, LogicalRepTupleData *oldtup,
						   LogicalRepTupleData *newtup);
	void		(*delete) (LaredoPipeline *pipeline, LogicalRepTupleData *oldtup);
	/*
	 * a table target joins truncate (it may add itself to truncate->pending,
	 * and say in truncate_finish which tables, once the message's every
	 * relation was named); other kinds act on their own
	 */
	void		(*truncate) (LaredoPipeline *pipeline, LaredoTruncate *truncate);
	void		(*truncate_finish) (LaredoPipeline *pipeline, LaredoTruncate *truncate);
	/*
	 * optional: the stream described the source table again (a Relation
	 * message); called in the local transaction of the first change after
	 * it.  Returns false when the table is to be copied again (its changes
	 * are skipped until then).
	 */
	bool		(*shape) (LaredoPipeline *pipeline, LogicalRepRelation *remoterel);
	/*
	 * optional (a copy in key ranges, chunk.c): removes the target's rows
	 * whose key (the source's key columns, by name) lies in (lo, hi]; lo or
	 * hi NULL: unbounded on that side.  Values are text, in the source's
	 * output format.
	 */
	void		(*range_delete) (LaredoPipeline *pipeline, int nkeys, char **keynames,
								 char **lo, char **hi);
	/* the local transaction is about to commit: release per-transaction state */
	void		(*xact_end) (LaredoPipeline *pipeline);

	/*
	 * Optional fast path for a baseline: the source's COPY stream is loaded
	 * directly (multi-insert), in the format copy_format chooses for this
	 * table's shape (LAREDO_COPY_NONE: rows one by one through baseline_row).
	 * Returns the rows loaded.
	 */
	LaredoCopyFormat (*copy_format) (LaredoPipeline *pipeline, LogicalRepRelation *remoterel);
	uint64		(*copy) (LaredoPipeline *pipeline, LogicalRepRelation *remoterel,
						 LaredoCopyFormat format,
						 int (*read) (void *outbuf, int minread, int maxread));
} LaredoTargetRoutine;

struct LaredoPipeline
{
	LaredoPipelineConfig *config;
	const LaredoTargetRoutine *routine;
	void	   *private;		/* the target's own state */
	LaredoPipelineCounters counters;	/* since last written */
	LogicalRepRelation *rel;	/* the published relation the target is mapped to now */
	bool		touched;		/* changed in this local transaction */
	bool		xact_touched;	/* changed by the remote transaction being applied */
	bool		in_baseline;	/* copied in this local transaction */
	/* options => {"where": ...}: a row filter evaluated here, per pipeline */
	char	   *where;
	void	   *where_plan;		/* SPIPlanPtr, for where_rel's shape */
	LogicalRepRelation *where_rel;
};

/* What a target may know about the change it is given. */
typedef struct LaredoChangeMeta
{
	XLogRecPtr	commit_lsn;		/* the source transaction's commit LSN (baseline: the copy's LSN) */
	TimestampTz commit_time;
	TransactionId xid;
	int64		seq;			/* the change's order within its transaction (baseline: row number) */
	LogicalRepRelation *relation;	/* the source table as the source describes it */
	const char *source_id;
} LaredoChangeMeta;

extern const LaredoChangeMeta *laredo_apply_meta(void);
/* the leaf partitions the source's table of a pipeline has now, or -1 */
extern int	laredo_apply_source_leaf_count(LaredoPipeline *pipeline);
/* false when a target of the source runs user code that could read a target mid-transaction */
extern bool laredo_apply_may_defer(void);

extern const LaredoTargetRoutine laredo_target_table;
extern const LaredoTargetRoutine laredo_target_changelog;

/*
 * A key range's bounds as SQL, " AND (k1, k2) > ('a', '7') AND (k1, k2) <=
 * ('b', '2')" (target_table.c), each bound given: range_delete's on the
 * target, a verification's reads of the target, and the source's reads of
 * a range (chunk.c), which cast each value to the source's key type (types
 * NULL: the values stay untyped literals, for the columns to give their
 * type).
 */
extern void laredo_append_key_range(StringInfo sql, int nkeys, char **keynames, char **lo, char **hi,
									const char *const *types);
extern const LaredoTargetRoutine laredo_target_function;

/* idle-time maintenance of a target (changelog retention); may be NULL */
extern void laredo_target_changelog_prune(LaredoPipeline *pipeline);

extern const LaredoTargetRoutine *laredo_target_routine(const char *kind);

#endif
