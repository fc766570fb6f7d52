/*-------------------------------------------------------------------------
 * baseline.h
 *	  Full copy of a source's tables inside the slot's exported snapshot;
 *	  its description and COPY reading, which chunk.c shares.
 *-------------------------------------------------------------------------
 */
#ifndef LAREDO_BASELINE_H
#define LAREDO_BASELINE_H

#include "access/xlogdefs.h"
#include "replication/logicalproto.h"
#include "replication/walreceiver.h"
#include "state.h"

/* One published relation a table's copy reads: the table, or one of its partitions. */
typedef struct BaselineRelation
{
	LogicalRepRelation *rel;	/* described as pgoutput would describe it */
	char	   *rowfilter;		/* the publication's, for this relation */
	bool		only;			/* not a partitioned table read whole */
	int32	   *typmods;		/* per column: its type modifier, */
	int16	   *attnums;		/* its number on the source */
	int			relnatts;		/* and the table's pg_class.relnatts */
} BaselineRelation;

extern char *laredo_baseline_publications_sql(LaredoSourceConfig *source);
extern List *laredo_baseline_describe(WalReceiverConn *conn, LaredoSourceConfig *source, LaredoTableConfig *t);
extern BaselineRelation *laredo_baseline_describe_root(WalReceiverConn *conn, LaredoSourceConfig *source,
														 LaredoTableConfig *t, BaselineRelation *leaf);
extern void laredo_baseline_parse_line(char *line, int len, LogicalRepTupleData *tup, const char *table);
extern void laredo_baseline_tuple_init(LogicalRepTupleData *tup, int natts);
extern void laredo_baseline_apply_line(List *pipelines, LogicalRepRelation *rel, LogicalRepTupleData *tup,
									   char *line, int len, XLogRecPtr copy_lsn, int64 row, const char *table);
extern int	laredo_baseline_copy_next(WalReceiverConn *conn, char **buf);

extern void laredo_baseline_run(LaredoSourceConfig *source, const char *snapshot, XLogRecPtr copy_lsn);
extern XLogRecPtr laredo_baseline_sync(LaredoSourceConfig *source);

#endif
