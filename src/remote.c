/*-------------------------------------------------------------------------
 * remote.c
 *	  Connections to a source server: connection strings (normalised so that
 *	  values round-trip exactly, passwords masked for display), and SQL on
 *	  the source through the server's own interruptible replication client
 *	  (libpqwalreceiver), which waits on the latch and honours SIGTERM.
 *
 *	  connection => '' means this server and this database, reached through
 *	  its unix socket as the given role.
 *-------------------------------------------------------------------------
 */
#include "laredo.h"

#include "access/xact.h"
#include "fmgr.h"
#include "libpq-fe.h"
#include "lib/stringinfo.h"
#include "postmaster/postmaster.h"
#include "commands/dbcommands.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/wait_event.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"
#include "executor/tuptable.h"
#include "replication/walreceiver.h"
#include "utils/timeout.h"

#include "remote.h"
#include "state.h"

/* Session settings that make text values round-trip exactly. */
#define LAREDO_SESSION_OPTIONS \
	"-c datestyle=ISO -c intervalstyle=postgres -c extra_float_digits=3 -c TimeZone=UTC " \
	"-c lc_monetary=C -c bytea_output=hex"

static void
append_conninfo_value(StringInfo buf, const char *keyword, const char *value)
{
	if (buf->len > 0)
		appendStringInfoChar(buf, ' ');
	appendStringInfo(buf, "%s='", keyword);
	for (const char *p = value; *p; p++)
	{
		if (*p == '\'' || *p == '\\')
			appendStringInfoChar(buf, '\\');
		appendStringInfoChar(buf, *p);
	}
	appendStringInfoChar(buf, '\'');
}

static PQconninfoOption *
conninfo_parse(const char *conninfo)
{
	PQconninfoOption *opts;
	char	   *err = NULL;

	opts = PQconninfoParse(conninfo, &err);
	if (opts == NULL)
	{
		/* libpq's message may quote part of the string, password included */
		bool		may_leak = strstr(conninfo, "password") != NULL ||
			strstr(conninfo, "@") != NULL;
		char	   *detail = (err && !may_leak) ? pchomp(err) : NULL;

		if (err)
			PQfreemem(err);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid connection string"),
				 detail ? errdetail_internal("%s", detail) : 0,
				 errhint("Use libpq syntax: 'host=... port=... dbname=... user=...' or a postgresql:// URI.")));
	}
	return opts;
}

/*
 * The connection string laredo really uses: the user's, with session options
 * appended (later settings win), or this server's socket for ''.
 */
char *
laredo_conninfo_effective(const char *conninfo, Oid role)
{
	StringInfoData buf;
	PQconninfoOption *opts;
	const char *user_options = NULL;

	initStringInfo(&buf);
	if (conninfo[0] == '\0')
	{
		char	   *socketdir = pstrdup(Unix_socket_directories ? Unix_socket_directories : "");
		char	   *comma = strchr(socketdir, ',');
		char		port[16];

		bool		own_xact = !IsTransactionState();
		MemoryContext cxt = CurrentMemoryContext;

		if (comma)
			*comma = '\0';
		snprintf(port, sizeof(port), "%d", PostPortNumber);
		append_conninfo_value(&buf, "host",
							  socketdir[0] ? socketdir : "localhost");
		append_conninfo_value(&buf, "port", port);
		/* catalog lookups need a transaction (a worker calls this outside one) */
		if (own_xact)
		{
			StartTransactionCommand();
			MemoryContextSwitchTo(cxt);
		}
		append_conninfo_value(&buf, "dbname", get_database_name(MyDatabaseId));
		append_conninfo_value(&buf, "user", GetUserNameFromId(role, false));
		if (own_xact)
		{
			CommitTransactionCommand();
			MemoryContextSwitchTo(cxt);
		}
		append_conninfo_value(&buf, "options", LAREDO_SESSION_OPTIONS);
		return buf.data;
	}

	opts = conninfo_parse(conninfo);
	for (PQconninfoOption *o = opts; o->keyword; o++)
	{
		if (o->val == NULL || o->val[0] == '\0')
			continue;
		if (strcmp(o->keyword, "options") == 0)
		{
			user_options = o->val;
			continue;
		}
		/* laredo chooses these itself */
		if (strcmp(o->keyword, "replication") == 0 ||
			strcmp(o->keyword, "client_encoding") == 0)
			continue;
		append_conninfo_value(&buf, o->keyword, o->val);
	}
	append_conninfo_value(&buf, "options",
						  psprintf("%s %s", user_options ? user_options : "",
								   LAREDO_SESSION_OPTIONS));
	PQconninfoFree(opts);
	return buf.data;
}

/*
 * One connection string per server that a multi-host connection string
 * names (host, hostaddr and port lists split; target_session_attrs left out,
 * so that a standby is reached too), each a LaredoHost.  '' names none.
 */
List *
laredo_conninfo_hosts(const char *conninfo)
{
	PQconninfoOption *opts;
	List	   *hosts = NIL;
	List	   *host_list = NIL;
	List	   *addr_list = NIL;
	List	   *port_list = NIL;
	int			n;

	if (conninfo[0] == '\0')
		return NIL;
	opts = conninfo_parse(conninfo);
	for (PQconninfoOption *o = opts; o->keyword; o++)
	{
		List	  **list = strcmp(o->keyword, "host") == 0 ? &host_list :
			strcmp(o->keyword, "hostaddr") == 0 ? &addr_list :
			strcmp(o->keyword, "port") == 0 ? &port_list : NULL;

		if (list != NULL && o->val != NULL && o->val[0] != '\0')
		{
			char	   *copy = pstrdup(o->val);

			for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ","))
				*list = lappend(*list, pstrdup(tok));
		}
	}
	n = Max(Max(list_length(host_list), list_length(addr_list)), 1);
	for (int i = 0; i < n; i++)
	{
		LaredoHost *h = palloc0(sizeof(LaredoHost));
		StringInfoData buf;
		const char *host = i < list_length(host_list) ? list_nth(host_list, i) : NULL;
		const char *addr = i < list_length(addr_list) ? list_nth(addr_list, i) : NULL;
		const char *port = list_length(port_list) == 1 ? linitial(port_list) :
			i < list_length(port_list) ? list_nth(port_list, i) : NULL;

		initStringInfo(&buf);
		for (PQconninfoOption *o = opts; o->keyword; o++)
		{
			if (o->val == NULL || o->val[0] == '\0' ||
				strcmp(o->keyword, "host") == 0 || strcmp(o->keyword, "hostaddr") == 0 ||
				strcmp(o->keyword, "port") == 0 || strcmp(o->keyword, "target_session_attrs") == 0 ||
				strcmp(o->keyword, "load_balance_hosts") == 0)
				continue;
			append_conninfo_value(&buf, o->keyword, o->val);
		}
		if (host)
			append_conninfo_value(&buf, "host", host);
		if (addr)
			append_conninfo_value(&buf, "hostaddr", addr);
		if (port)
			append_conninfo_value(&buf, "port", port);
		h->conninfo = buf.data;
		h->host = pstrdup(host ? host : addr ? addr : "localhost");
		h->port = pstrdup(port ? port : DEF_PGPORT_STR);
		hosts = lappend(hosts, h);
	}
	PQconninfoFree(opts);
	return hosts;
}

/*
 * Refuses, when a source is created or altered, what libpq would only refuse
 * on connecting (a port that is not a number) and settings laredo makes
 * itself: replication, and application_name, by which laredo recognises its
 * own sessions on the source.
 */
void
laredo_conninfo_validate(const char *conninfo)
{
	PQconninfoOption *opts;

	if (conninfo[0] == '\0')
		return;
	opts = conninfo_parse(conninfo);
	for (PQconninfoOption *o = opts; o->keyword; o++)
	{
		if (o->val == NULL || o->val[0] == '\0')
			continue;
		if (strcmp(o->keyword, "replication") == 0 ||
			strcmp(o->keyword, "application_name") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the connection string must not set %s", o->keyword),
					 errdetail("laredo sets it itself: its sessions on the source are named \"laredo source <source_id>\"."),
					 errhint("Remove %s from the connection string.", o->keyword)));
		if (strcmp(o->keyword, "port") == 0)
		{
			char	   *ports = pstrdup(o->val);
			char	   *save = NULL;

			for (char *p = strtok_r(ports, ",", &save); p; p = strtok_r(NULL, ",", &save))
			{
				char	   *end;
				long		port = strtol(p, &end, 10);

				if (end == p || *end != '\0' || port < 1 || port > 65535)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("invalid port \"%s\" in the connection string", p),
							 errhint("A port is a number from 1 to 65535.")));
			}
		}
	}
	PQconninfoFree(opts);
}

/* The connection string for display: the password replaced by asterisks. */
char *
laredo_conninfo_masked(const char *conninfo, bool *has_password)
{
	StringInfoData buf;
	PQconninfoOption *opts;

	*has_password = false;
	if (conninfo[0] == '\0')
		return pstrdup("");
	opts = conninfo_parse(conninfo);
	initStringInfo(&buf);
	for (PQconninfoOption *o = opts; o->keyword; o++)
	{
		if (o->val == NULL)
			continue;
		if (strcmp(o->keyword, "password") == 0)
		{
			if (o->val[0] != '\0')
				*has_password = true;
			append_conninfo_value(&buf, o->keyword, "********");
		}
		else
			append_conninfo_value(&buf, o->keyword, o->val);
	}
	PQconninfoFree(opts);
	return buf.data;
}

/* How messages name the source: by its id, or generically from SQL helpers. */
static const char *
source_label(const char *source_id)
{
	if (strcmp(source_id, "the source") == 0)
		return "the source";
	return psprintf("source \"%s\"", source_id);
}

/*
 * A source that stops answering (a network that drops packets, a frozen
 * server or proxy) must not hold laredo forever: connecting and queries end
 * after wal_receiver_timeout, as the built-in walreceiver's waits do.  The
 * timer raises a query cancel, which the latch waits inside libpqwalreceiver
 * honour; the cancel is then reported as the connection failure it is.
 */
static TimeoutId remote_timeout_id = MAX_TIMEOUTS;
static volatile sig_atomic_t remote_timed_out = false;

static void
remote_timeout_handler(void)
{
	remote_timed_out = true;
	InterruptPending = true;
	QueryCancelPending = true;
	SetLatch(MyLatch);
}

static void
remote_deadline_start(void)
{
	if (wal_receiver_timeout <= 0)
		return;
	if (remote_timeout_id == MAX_TIMEOUTS)
		remote_timeout_id = RegisterTimeout(USER_TIMEOUT, remote_timeout_handler);
	remote_timed_out = false;
	enable_timeout_after(remote_timeout_id, wal_receiver_timeout);
}

static void
remote_deadline_stop(void)
{
	if (remote_timeout_id == MAX_TIMEOUTS)
		return;
	disable_timeout(remote_timeout_id, false);
	if (remote_timed_out)
	{
		/* fired as the wait ended: nothing to cancel any more */
		remote_timed_out = false;
		QueryCancelPending = false;
	}
}

/* A source silent for wal_receiver_timeout while laredo waited for what: a lost connection. */
pg_noreturn static void
remote_timed_out_error(const char *source_id, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_CONNECTION_FAILURE),
			 errmsg("%s did not answer within %d ms while %s", source_label(source_id),
					wal_receiver_timeout, what),
			 errhint("Check the network path to the source; wal_receiver_timeout sets how long laredo waits.")));
}

/* Called in PG_CATCH: a cancel raised by the deadline becomes a connection failure. */
static void
remote_deadline_failed(MemoryContext cxt, const char *source_id, const char *what)
{
	bool		timed_out = remote_timed_out;

	if (remote_timeout_id != MAX_TIMEOUTS)
		disable_timeout(remote_timeout_id, false);
	remote_timed_out = false;
	if (!timed_out)
		PG_RE_THROW();
	MemoryContextSwitchTo(cxt);
	FlushErrorState();
	remote_timed_out_error(source_id, what);
}

static void
load_walreceiver(void)
{
	if (WalReceiverFunctions == NULL)
		load_file("libpqwalreceiver", false);
	if (WalReceiverFunctions == NULL)
		elog(ERROR, "libpqwalreceiver didn't initialize correctly");
}

/*
 * Starts a plain (not replication) libpq connection and completes it
 * without blocking, waiting on the latch: SIGTERM and the deadline end it.
 */
static PGconn *
remote_pq_connect(const char *conninfo, const char *appname, const char *source_id)
{
	const char *keys[] = {"dbname", "fallback_application_name", "client_encoding", NULL};
	const char *vals[] = {conninfo, appname, GetDatabaseEncodingName(), NULL};
	PGconn	   *conn = PQconnectStartParams(keys, vals, true);
	PostgresPollingStatusType status = PGRES_POLLING_WRITING;

	if (conn == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not connect to %s", source_label(source_id))));
	PG_TRY();
	{
		while (PQstatus(conn) != CONNECTION_BAD && status != PGRES_POLLING_OK &&
			   status != PGRES_POLLING_FAILED)
		{
			int			events = WL_LATCH_SET | WL_EXIT_ON_PM_DEATH | WL_TIMEOUT |
				(status == PGRES_POLLING_READING ? WL_SOCKET_READABLE : WL_SOCKET_WRITEABLE);

			(void) WaitLatchOrSocket(MyLatch, events, PQsocket(conn), 1000, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
			status = PQconnectPoll(conn);
		}
		if (PQstatus(conn) != CONNECTION_OK)
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("could not connect to %s: %s", source_label(source_id),
							pchomp(PQerrorMessage(conn)))));
	}
	PG_CATCH();
	{
		PQfinish(conn);
		PG_RE_THROW();
	}
	PG_END_TRY();
	return conn;
}

/*
 * dblink's rule: a role that is not superuser may only use a connection that
 * authenticates with the password it gives, so that nobody borrows this
 * server's trust or peer login.  libpq tells whether the server asked for the
 * password.
 */
static void
check_password_used(PGconn *conn, const char *source_id)
{
	if (!PQconnectionUsedPassword(conn))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("password is required"),
				 errdetail("Source \"%s\" belongs to a role that is not superuser, and the source server did not ask for the password.",
						   source_id),
				 errhint("Make the source server authenticate this connection with a password, or have a superuser create the source.")));
}

/* check_password_used, closing conn on failure, and when asked on success too */
static void
check_password_used_or_finish(PGconn *conn, const char *source_id, bool finish)
{
	PG_TRY();
	{
		check_password_used(conn, source_id);
	}
	PG_CATCH();
	{
		PQfinish(conn);
		PG_RE_THROW();
	}
	PG_END_TRY();
	if (finish)
		PQfinish(conn);
}

/*
 * Whether role may use conninfo without giving a password of its own; a
 * role that is not superuser may not use this server's own socket at all.
 */
static bool
remote_role_privileged(const char *conninfo, Oid role, const char *source_id)
{
	MemoryContext cxt = CurrentMemoryContext;
	bool		privileged;

	if (IsTransactionState())
		privileged = superuser_arg(role);
	else
	{
		StartTransactionCommand();
		privileged = superuser_arg(role);
		CommitTransactionCommand();
		MemoryContextSwitchTo(cxt);
	}
	if (!privileged && conninfo[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only superusers may use source \"%s\", whose connection is this server", source_id),
				 errhint("Have a superuser create the source, or give a connection string with a password.")));
	return privileged;
}

/*
 * Opens a logical replication connection (replication=database), which also
 * accepts SQL.  The wait inside is on the latch, so SIGTERM ends it.  For a
 * role that is not superuser, the connection must authenticate with its own
 * password.
 */
WalReceiverConn *
laredo_connect(const char *conninfo, Oid role, const char *appname, const char *source_id)
{
	WalReceiverConn *conn;
	char	   *err = NULL;
	bool		privileged;
	MemoryContext cxt = CurrentMemoryContext;

	load_walreceiver();
	privileged = remote_role_privileged(conninfo, role, source_id);
	remote_deadline_start();
	PG_TRY();
	{
		/* libpqwalreceiver does not tell: a plain connection asks first */
		if (!privileged)
			check_password_used_or_finish(remote_pq_connect(laredo_conninfo_effective(conninfo, role),
															appname, source_id),
										  source_id, true);
		conn = laredo_walrcv_connect(laredo_conninfo_effective(conninfo, role), appname, &err);
	}
	PG_CATCH();
	{
		remote_deadline_failed(cxt, source_id, "connecting");
	}
	PG_END_TRY();
	remote_deadline_stop();
	if (conn == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not connect to %s", source_label(source_id)),
				 errdetail_internal("%s", err ? err : "unknown error"),
				 errhint("Check the source's connection string, that the server is up, that wal_level is logical and that the role has the REPLICATION attribute.")));
	return conn;
}

/* walrcv_exec, ended by the deadline if the source does not answer */
static WalRcvExecResult *
remote_exec(WalReceiverConn *conn, const char *sql, int ncols, const Oid *types,
			const char *source_id, const char *what)
{
	MemoryContext cxt = CurrentMemoryContext;
	WalRcvExecResult *res;

	remote_deadline_start();
	PG_TRY();
	{
		res = walrcv_exec(conn, sql, ncols, types);
	}
	PG_CATCH();
	{
		remote_deadline_failed(cxt, source_id, what);
	}
	PG_END_TRY();
	remote_deadline_stop();
	return res;
}

/*
 * Runs a query on the source; returns a List of char *[ncols] rows (NULL for
 * SQL NULL).  Every column is read as text.
 */
List *
laredo_remote_query(WalReceiverConn *conn, const char *query, int ncols, const char *source_id)
{
	Oid		   *types = palloc(sizeof(Oid) * ncols);
	WalRcvExecResult *res;
	TupleTableSlot *slot;
	List	   *rows = NIL;
	MemoryContext cxt = CurrentMemoryContext;
	bool		own_xact = !IsTransactionState();

	for (int i = 0; i < ncols; i++)
		types[i] = TEXTOID;
	/* the result's tuple descriptor needs catalog lookups: a transaction */
	if (own_xact)
	{
		StartTransactionCommand();
		MemoryContextSwitchTo(cxt);
	}
	res = remote_exec(conn, query, ncols, types, source_id, "running a query");
	if (res->status != WALRCV_OK_TUPLES)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_EXCEPTION),
				 errmsg("query on %s failed: %s", source_label(source_id),
						res->err ? pchomp(res->err) : "unexpected result")));
	slot = MakeSingleTupleTableSlot(res->tupledesc, &TTSOpsMinimalTuple);
	while (tuplestore_gettupleslot(res->tuplestore, true, false, slot))
	{
		char	  **row = palloc0(sizeof(char *) * ncols);

		for (int i = 0; i < ncols; i++)
		{
			bool		isnull;
			Datum		d = slot_getattr(slot, i + 1, &isnull);

			row[i] = isnull ? NULL : TextDatumGetCString(d);
		}
		rows = lappend(rows, row);
	}
	ExecDropSingleTupleTableSlot(slot);
	walrcv_clear_result(res);
	if (own_xact)
	{
		CommitTransactionCommand();
		MemoryContextSwitchTo(cxt);
	}
	return rows;
}

/* Runs a command on the source that returns no rows. */
void
laredo_remote_command(WalReceiverConn *conn, const char *command, const char *source_id)
{
	WalRcvExecResult *res = remote_exec(conn, command, 0, NULL, source_id, "running a command");

	if (res->status != WALRCV_OK_COMMAND && res->status != WALRCV_OK_TUPLES)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_EXCEPTION),
				 errmsg("command on %s failed: %s", source_label(source_id),
						res->err ? pchomp(res->err) : "unexpected result")));
	walrcv_clear_result(res);
}

/*
 * A plain SQL connection to the source, for the worker's periodic reads of
 * its slot while the replication connection streams.  An idle replication
 * connection would be a walsender, which the source wakes on every WAL
 * flush; an idle backend sleeps.  Same rules as laredo_connect.
 */
PGconn *
laredo_connect_sql(const char *conninfo, Oid role, const char *appname, const char *source_id)
{
	MemoryContext cxt = CurrentMemoryContext;
	bool		privileged = remote_role_privileged(conninfo, role, source_id);
	PGconn	   *conn;

	remote_deadline_start();
	PG_TRY();
	{
		conn = remote_pq_connect(laredo_conninfo_effective(conninfo, role), appname, source_id);
	}
	PG_CATCH();
	{
		remote_deadline_failed(cxt, source_id, "connecting");
	}
	PG_END_TRY();
	remote_deadline_stop();
	if (!privileged)
		check_password_used_or_finish(conn, source_id, false);
	return conn;
}

/* Waits on the latch until libpq has the whole of the next result; NULL after the last. */
static PGresult *
remote_pq_result(PGconn *conn)
{
	while (PQisBusy(conn))
	{
		(void) WaitLatchOrSocket(MyLatch, WL_LATCH_SET | WL_SOCKET_READABLE | WL_EXIT_ON_PM_DEATH,
								 PQsocket(conn), -1, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (PQconsumeInput(conn) == 0)
			return NULL;		/* the connection failed: PQerrorMessage says why */
	}
	return PQgetResult(conn);
}

pg_noreturn static void sql_failed(const char *source_id, const char *failure);

static void
sql_failed(const char *source_id, const char *failure)
{
	ereport(ERROR,
			(errcode(ERRCODE_CONNECTION_EXCEPTION),
			 errmsg("query on %s failed: %s", source_label(source_id), failure)));
}

/*
 * Sends a query on a plain connection without waiting for its answer
 * (laredo_sql_ready, laredo_sql_rows take it): the worker's periodic
 * checks go on while it applies the stream.
 */
void
laredo_sql_send(PGconn *conn, const char *query, const char *source_id)
{
	if (PQsendQuery(conn, query) == 0)
		sql_failed(source_id, pchomp(PQerrorMessage(conn)));
}

/* Whether the answer to the query sent has arrived whole, without waiting. */
bool
laredo_sql_ready(PGconn *conn, const char *source_id)
{
	if (PQconsumeInput(conn) == 0)
		sql_failed(source_id, pchomp(PQerrorMessage(conn)));
	return !PQisBusy(conn);
}

/*
 * The answer to the query sent: a List of char *[ncols] rows, NULL for SQL
 * NULL.  Waits on the latch for what has not arrived, until the deadline.
 */
List *
laredo_sql_rows(PGconn *conn, int ncols, const char *source_id)
{
	MemoryContext cxt = CurrentMemoryContext;
	List	   *rows = NIL;
	char	   *failure = NULL;
	PGresult   *res;

	remote_deadline_start();
	PG_TRY();
	{
		while ((res = remote_pq_result(conn)) != NULL)
		{
			if (PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) != ncols)
			{
				if (failure == NULL)
					failure = pchomp(PQresultErrorMessage(res)[0] ? PQresultErrorMessage(res)
									 : "unexpected result");
			}
			else
				for (int r = 0; r < PQntuples(res); r++)
				{
					char	  **row = palloc0(sizeof(char *) * ncols);

					for (int i = 0; i < ncols; i++)
						row[i] = PQgetisnull(res, r, i) ? NULL : pstrdup(PQgetvalue(res, r, i));
					rows = lappend(rows, row);
				}
			PQclear(res);
			if (PQstatus(conn) == CONNECTION_BAD)
				break;
		}
	}
	PG_CATCH();
	{
		remote_deadline_failed(cxt, source_id, "running a query");
	}
	PG_END_TRY();
	remote_deadline_stop();
	if (failure == NULL && PQstatus(conn) == CONNECTION_BAD)
		failure = pchomp(PQerrorMessage(conn));
	if (failure != NULL)
		sql_failed(source_id, failure);
	return rows;
}

/*
 * A query sent without waiting whose answer has not come within
 * wal_receiver_timeout: the connection is taken for lost, as when its
 * sender waits (remote_deadline_failed).
 */
void
laredo_sql_overdue(const char *source_id)
{
	remote_timed_out_error(source_id, "running a query");
}

/*
 * laredo_remote_query on a plain connection: a List of char *[ncols] rows,
 * NULL for SQL NULL.  The wait is on the latch and ends with the deadline.
 */
List *
laredo_sql_query(PGconn *conn, const char *query, int ncols, const char *source_id)
{
	laredo_sql_send(conn, query, source_id);
	return laredo_sql_rows(conn, ncols, source_id);
}

/* Appends "(schema, table), ..." for tables (LaredoTableConfig *), as SQL literals. */
void
laredo_append_table_names(StringInfo buf, List *tables)
{
	ListCell   *lc;

	foreach(lc, tables)
	{
		LaredoTableConfig *t = lfirst(lc);

		appendStringInfo(buf, "%s(%s, %s)", lc == list_head(tables) ? "" : ", ",
						 quote_literal_cstr(t->schema_name), quote_literal_cstr(t->table_name));
	}
}

/*
 * A query for the leaf partitions of each of tables (LaredoTableConfig *):
 * one row per partitioned table (schema, table, the leaves' qualified names
 * in one comma-separated string, '' for none), none for the others.  The
 * baseline records its answer in its snapshot; the worker compares it with
 * the source's catalog now, to find partitions attached or detached.
 */
char *
laredo_partitions_query(List *tables)
{
	StringInfoData q;

	initStringInfo(&q);
	appendStringInfoString(&q,
						   "SELECT n.nspname::text, c.relname::text, "
						   "  coalesce((SELECT pg_catalog.string_agg(pg_catalog.quote_ident(ln.nspname) || '.' || "
						   "                   pg_catalog.quote_ident(l.relname), ',' "
						   "                   ORDER BY ln.nspname COLLATE \"C\", l.relname COLLATE \"C\") "
						   "   FROM pg_catalog.pg_partition_tree(c.oid) p "
						   "   JOIN pg_catalog.pg_class l ON l.oid = p.relid "
						   "   JOIN pg_catalog.pg_namespace ln ON ln.oid = l.relnamespace WHERE p.isleaf), '') "
						   "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
						   "WHERE c.relkind = 'p' AND (n.nspname, c.relname) IN (");
	laredo_append_table_names(&q, tables);
	appendStringInfoChar(&q, ')');
	return q.data;
}
