/*-------------------------------------------------------------------------
 * publication.c
 *	  Keeps the source's publications in line with the configured tables.
 *
 *	  With create_publication, laredo owns two publications: <publication>
 *	  for tables with a usable replica identity (publish as configured) and
 *	  <publication>_insert_only for those without one, published for insert
 *	  and truncate only, because PostgreSQL refuses UPDATE and DELETE on a
 *	  table published for them without a replica identity.  A comment marks
 *	  them as laredo's; a publication of the same name without the mark is
 *	  never altered.  Without create_publication, the named publication must
 *	  exist and is used as it is.
 *
 *	  The caller commits the publications before creating the slot: pgoutput
 *	  cannot decode changes from before its publication existed.
 *-------------------------------------------------------------------------
 */
#include "laredo.h"

#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "publication.h"
#include "remote.h"

static char *
insert_only_name(LaredoSourceConfig *source)
{
	return psprintf("%s_insert_only", source->publication);
}

static char *
ownership_mark(LaredoSourceConfig *source)
{
	return psprintf("laredo source %s", source->source_id);
}

List *
laredo_publication_names(LaredoSourceConfig *source)
{
	List	   *names = list_make1(makeString(source->publication));

	if (source->create_publication)
		names = lappend(names, makeString(insert_only_name(source)));
	return names;
}

/* The publish option for the insert-only publication. */
static char *
insert_only_publish(LaredoSourceConfig *source)
{
	bool		ins = strstr(source->publish, "insert") != NULL;
	bool		trunc = strstr(source->publish, "truncate") != NULL;

	if (ins && trunc)
		return "insert, truncate";
	if (ins)
		return "insert";
	if (trunc)
		return "truncate";
	return "";
}

static char *
table_list(LaredoSourceConfig *source, bool insert_only)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, source->tables)
	{
		LaredoTableConfig *t = lfirst(lc);

		if (t->insert_only != insert_only)
			continue;
		if (buf.len > 0)
			appendStringInfoString(&buf, ", ");
		/*
		 * ONLY: an inheritance child is a table of laredo's own, in the
		 * publication that suits its replica identity; a partitioned
		 * table's partitions are published with it all the same.
		 */
		appendStringInfo(&buf, "TABLE ONLY %s", quote_qualified_identifier(t->schema_name, t->table_name));
		if (t->columns != NIL)
		{
			ListCell   *c;

			appendStringInfoString(&buf, " (");
			foreach(c, t->columns)
				appendStringInfo(&buf, "%s%s", c == list_head(t->columns) ? "" : ", ",
								 quote_identifier(lfirst(c)));
			appendStringInfoChar(&buf, ')');
		}
		/* validated as a single expression by laredo._check_where_clause */
		if (t->where_clause)
			appendStringInfo(&buf, " WHERE (%s)", t->where_clause);
	}
	/* schemas published whole (add_schema's publication => 'schema'): their new tables from their creation */
	if (!insert_only)
		foreach(lc, source->whole_schemas)
			appendStringInfo(&buf, "%sTABLES IN SCHEMA %s", buf.len ? ", " : "",
							 quote_identifier(lfirst(lc)));
	return buf.data;
}

static void
sync_one(WalReceiverConn *conn, LaredoSourceConfig *source, const char *pubname,
		 const char *publish, bool insert_only, bool may_create)
{
	List	   *rows;
	char	   *tables = table_list(source, insert_only);
	const char *id = source->source_id;

	rows = laredo_remote_query(conn,
							   psprintf("SELECT p.pubname::text, pg_catalog.obj_description(p.oid, 'pg_publication') "
										"FROM pg_catalog.pg_publication p WHERE p.pubname = %s",
										quote_literal_cstr(pubname)),
							   2, id);
	/*
	 * Recreating a publication under a slot that has a position would not
	 * help: pgoutput reads the publication as of each change, and changes from
	 * before the new one existed cannot be decoded.
	 */
	if (rows == NIL && !may_create)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("publication \"%s\" of source \"%s\" was dropped on the source", pubname, id),
				 errdetail("The slot's changes can only be decoded with the publication they were written under."),
				 errhint("Call laredo.reset_source('%s') to create the publication and a new slot and take a new baseline.",
						 id)));
	/*
	 * The publication and its mark in one statement string, which the
	 * source runs as one transaction: a worker stopped between the two
	 * (sources are restarted at every change of their configuration) would
	 * leave a publication without the mark, which no later start could tell
	 * from somebody else's.
	 */
	if (rows == NIL)
	{
		laredo_remote_command(conn,
							  psprintf("CREATE PUBLICATION %s %s%s WITH (publish = %s, publish_via_partition_root = %s); "
									   "COMMENT ON PUBLICATION %s IS %s",
									   quote_identifier(pubname), tables[0] ? "FOR " : "", tables,
									   quote_literal_cstr(publish),
									   source->publish_via_partition_root ? "true" : "false",
									   quote_identifier(pubname), quote_literal_cstr(ownership_mark(source))),
							  id);
		return;
	}
	if (((char **) linitial(rows))[1] == NULL ||
		strcmp(((char **) linitial(rows))[1], ownership_mark(source)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("publication \"%s\" on source \"%s\" is not laredo's", pubname, id),
				 errdetail("It exists without the comment \"%s\" that marks publications laredo created.",
						   ownership_mark(source)),
				 errhint("Drop and create the source with create_publication => false to use it as it is, or with another publication name.")));

	laredo_remote_command(conn,
						  psprintf("ALTER PUBLICATION %s SET (publish = %s, publish_via_partition_root = %s)",
								   quote_identifier(pubname), quote_literal_cstr(publish),
								   source->publish_via_partition_root ? "true" : "false"),
						  id);
	if (tables[0])
		laredo_remote_command(conn,
							  psprintf("ALTER PUBLICATION %s SET %s", quote_identifier(pubname), tables),
							  id);
	else
	{
		List	   *current = laredo_remote_query(conn,
												  psprintf("SELECT pg_catalog.format('%%I.%%I', schemaname, tablename) "
														   "FROM pg_catalog.pg_publication_tables WHERE pubname = %s",
														   quote_literal_cstr(pubname)),
												  1, id);
		ListCell   *lc;

		foreach(lc, current)
			laredo_remote_command(conn,
								  psprintf("ALTER PUBLICATION %s DROP TABLE %s", quote_identifier(pubname),
										   ((char **) lfirst(lc))[0]),
								  id);
		/* and a schema it held whole (FOR TABLES IN SCHEMA) */
		current = laredo_remote_query(conn,
									  psprintf("SELECT pg_catalog.quote_ident(n.nspname) FROM pg_catalog.pg_publication_namespace pn "
											   "JOIN pg_catalog.pg_publication p ON p.oid = pn.pnpubid "
											   "JOIN pg_catalog.pg_namespace n ON n.oid = pn.pnnspid WHERE p.pubname = %s",
											   quote_literal_cstr(pubname)),
									  1, id);
		foreach(lc, current)
			laredo_remote_command(conn,
								  psprintf("ALTER PUBLICATION %s DROP TABLES IN SCHEMA %s", quote_identifier(pubname),
										   ((char **) lfirst(lc))[0]),
								  id);
	}
}

void
laredo_publication_sync(WalReceiverConn *conn, LaredoSourceConfig *source, bool may_create)
{
	if (!source->create_publication)
	{
		List	   *rows = laredo_remote_query(conn,
											   psprintf("SELECT 1::text FROM pg_catalog.pg_publication WHERE pubname = %s",
														quote_literal_cstr(source->publication)),
											   1, source->source_id);

		if (rows == NIL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("publication \"%s\" does not exist on source \"%s\"",
							source->publication, source->source_id),
					 errhint("Create it on the source (CREATE PUBLICATION %s FOR TABLE ...), or use create_publication => true.",
							 quote_identifier(source->publication))));
		return;
	}
	sync_one(conn, source, source->publication, source->publish, false, may_create);
	sync_one(conn, source, insert_only_name(source), insert_only_publish(source), true, may_create);
}
