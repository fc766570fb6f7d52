/*-------------------------------------------------------------------------
 * schema_changes.h
 *	  Source tables that change shape: the shapes recorded per pipeline, the
 *	  comparison of each Relation message with them, and what follows (a
 *	  mirror's ALTER TABLE, a per-table copy, or a durable ERROR).
 *-------------------------------------------------------------------------
 */
#ifndef LAREDO_SCHEMA_CHANGES_H
#define LAREDO_SCHEMA_CHANGES_H

#include "lib/stringinfo.h"
#include "replication/logicalproto.h"

#include "target.h"

/* How a target takes a new shape of its source table. */
typedef struct LaredoSchemaPolicy
{
	Oid			target_relid;	/* the mirror; InvalidOid: only record (a change log) */
	bool		follow;			/* schema_changes = follow: add and widen columns */
	bool		keep_dropped;	/* dropped_columns = keep */
	List	   *subset;			/* the source columns a mirror keeps (option columns); NIL: all */
	/* closes what the target holds open on the mirror, before an ALTER TABLE */
	void		(*close) (LaredoPipeline *pipeline);
} LaredoSchemaPolicy;

/* the Relation message's type modifiers (logicalrep_read_rel skips them); s before it is read */
extern void laredo_schema_note_relation(StringInfo s, MemoryContext cxt);
/* a Type message: the name of a source type that is not built in */
extern void laredo_schema_note_type(LogicalRepTyp *typ, MemoryContext cxt);

/*
 * Compares a newly described source relation with the shape the pipeline
 * recorded, and acts (in the open local transaction).  Returns false when the
 * pipeline's table is to be copied again: its changes are skipped until then.
 */
extern bool laredo_schema_check(LaredoPipeline *pipeline, LogicalRepRelation *rel,
								const LaredoSchemaPolicy *policy);

/* the baseline's shape of a relation of the pipeline (first: the pipeline's first) */
extern void laredo_schema_record_baseline(LaredoPipeline *pipeline, LogicalRepRelation *rel,
										  const int32 *typmods, const int16 *attnums, int relnatts,
										  bool first);

/* closes the catalog connection to the source, if open */

#endif
