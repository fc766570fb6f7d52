/*-------------------------------------------------------------------------
 * replication.h
 *	  The source's replication slot and replication connection.
 *-------------------------------------------------------------------------
 */
#ifndef LAREDO_REPLICATION_H
#define LAREDO_REPLICATION_H

#include "libpq-fe.h"
#include "replication/logicalproto.h"
#include "replication/walreceiver.h"

typedef struct LaredoSlotInfo
{
	bool		exists;
	XLogRecPtr	confirmed_flush;
	XLogRecPtr	restart_lsn;
	char	   *plugin;
	char	   *database;
	char	   *wal_status;
	int			active_pid;		/* 0 when not active */
	char	   *active_appname; /* application_name of the active walsender */
	int64		retained_wal_bytes; /* source's WAL end minus restart_lsn, or -1 */
	char	   *invalidation_reason;	/* why it was invalidated (a source on 17 on), or NULL */
	bool		failover;		/* a failover slot (a source on 17 on) */
	char	   *wait_event;		/* of the walsender that holds it, or NULL */
} LaredoSlotInfo;

extern LaredoSlotInfo *laredo_slot_info(WalReceiverConn *conn, const char *source_id,
										const char *slot_name);
/* Columns of laredo_slot_info_query's answer. */
#define LAREDO_SLOT_INFO_COLUMNS	11
extern char *laredo_slot_info_query(const char *slot_name, int server_version);
extern LaredoSlotInfo *laredo_slot_info_from_rows(List *rows);
extern char *laredo_slot_create(WalReceiverConn *conn, const char *source_id,
								const char *slot_name, bool temporary,
								XLogRecPtr *consistent_lsn);
extern void laredo_slot_set_failover(WalReceiverConn *conn, const char *source_id,
									 const char *slot_name, bool failover);
extern void laredo_slot_drop(WalReceiverConn *conn, const char *source_id, const char *slot_name);
extern void laredo_stream_start(WalReceiverConn *conn, const char *source_id,
								const char *slot_name, XLogRecPtr startpoint,
								List *publications, const char *origin, bool binary);
extern bool laredo_binary_type_ok(Oid typid);
extern bool laredo_stream_binary_wanted(WalReceiverConn *conn, const char *source_id,
										List *publications, char **timezone, char **bytea_output);
extern void laredo_stream_binary_check(LogicalRepRelation *rel, const char *source_id);
extern void laredo_stream_feedback(WalReceiverConn *conn, XLogRecPtr write_lsn,
								   XLogRecPtr flush_lsn, bool request_reply);

#endif
