/*-------------------------------------------------------------------------
 * remote.h
 *	  Connections to a source server and catalog queries on it.
 *-------------------------------------------------------------------------
 */
#ifndef LAREDO_REMOTE_H
#define LAREDO_REMOTE_H

#include "libpq-fe.h"
#include "replication/walreceiver.h"

/* One server of a (multi-host) connection string. */
typedef struct LaredoHost
{
	char	   *conninfo;		/* that server alone */
	char	   *host;			/* as the string names it, for messages */
	char	   *port;
} LaredoHost;

extern char *laredo_conninfo_effective(const char *conninfo, Oid role);
extern List *laredo_conninfo_hosts(const char *conninfo);
extern void laredo_conninfo_validate(const char *conninfo);
extern char *laredo_conninfo_masked(const char *conninfo, bool *has_password);
extern WalReceiverConn *laredo_connect(const char *conninfo, Oid role,
									   const char *appname, const char *source_id);
extern List *laredo_remote_query(WalReceiverConn *conn, const char *query, int ncols,
								 const char *source_id);
extern void laredo_remote_command(WalReceiverConn *conn, const char *command,
								  const char *source_id);
extern PGconn *laredo_connect_sql(const char *conninfo, Oid role,
								  const char *appname, const char *source_id);
extern List *laredo_sql_query(PGconn *conn, const char *query, int ncols,
							  const char *source_id);
extern void laredo_sql_send(PGconn *conn, const char *query, const char *source_id);
extern bool laredo_sql_ready(PGconn *conn, const char *source_id);
extern List *laredo_sql_rows(PGconn *conn, int ncols, const char *source_id);
pg_noreturn extern void laredo_sql_overdue(const char *source_id);
extern void laredo_append_table_names(StringInfo buf, List *tables);
extern char *laredo_partitions_query(List *tables);

#endif
