/*-------------------------------------------------------------------------
 * chunk.h
 *	  Copies and verifications of a table in key ranges while the stream goes on (chunk.c).
 *-------------------------------------------------------------------------
 */
#ifndef LAREDO_CHUNK_H
#define LAREDO_CHUNK_H

#include "access/xlogdefs.h"
#include "replication/logicalproto.h"

#include "state.h"
#include "target.h"

/* what a change is to chunk.c (apply.c's kinds) */
typedef enum LaredoChunkChange
{
	LAREDO_CHUNK_INSERT,
	LAREDO_CHUNK_UPDATE,
	LAREDO_CHUNK_DELETE,
	LAREDO_CHUNK_TRUNCATE
} LaredoChunkChange;

extern void laredo_chunk_setup(WalReceiverConn *conn, LaredoSourceConfig *source, Oid owner,
							   XLogRecPtr startpos, bool baseline);
extern bool laredo_chunk_active(void);
extern void laredo_chunk_begin_xact(TransactionId xid, XLogRecPtr final_lsn);
extern void laredo_chunk_note_change(LogicalRepRelation *rel, List *pipelines, LaredoChunkChange kind,
									 LogicalRepTupleData *oldtup, LogicalRepTupleData *newtup);
extern bool laredo_chunk_skip(LaredoPipeline *pipeline);
extern void laredo_chunk_forget(const char *pipeline_id);
extern bool laredo_chunk_step(XLogRecPtr keepalive_end, XLogRecPtr received);
extern long laredo_chunk_wait_ms(void);
extern int	laredo_chunk_sockets(pgsocket *socks, int max);
extern bool laredo_chunk_pump(void);

/* connections reading a copy's ranges at once, at most (copy_readers) */
#define LAREDO_CHUNK_MAX_READERS 16

#endif
