/*-------------------------------------------------------------------------
 * row_json.c
 *	  Rows from the source as jsonb, for targets that record them (change
 *	  log, function): numbers, booleans and json stay JSON values, everything
 *	  else is its text form as a JSON string, NULL is null, and a TOASTed value
 *	  the source left out as unchanged is {"$unchanged_toast": true}.
 *-------------------------------------------------------------------------
 */
#include "laredo.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"

#include "apply.h"
#include "row_json.h"

/* Appends one column value, as JSON, from its text form and its type. */
static void
append_json_value(StringInfo buf, Oid type, const char *text)
{
	switch (type)
	{
		case BOOLOID:
			appendStringInfoString(buf, strcmp(text, "t") == 0 ? "true" : "false");
			return;
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case FLOAT4OID:
		case FLOAT8OID:
		case NUMERICOID:
			/* NaN and infinities are not JSON numbers */
			if (strspn(text, "+-0123456789.eE") == strlen(text) && text[0] != '\0')
			{
				appendStringInfoString(buf, text);
				return;
			}
			break;
		case JSONOID:
		case JSONBOID:
			appendStringInfoString(buf, text);
			return;
	}
	escape_json(buf, text);
}

/*
 * Builds a jsonb object of a tuple's columns; with only_keys, of the replica
 * identity columns only.  Returns NULL for a missing tuple.
 */
Datum
laredo_row_jsonb(LogicalRepRelation *rel, LogicalRepTupleData *tup, bool only_keys, bool *isnull)
{
	StringInfoData buf;
	bool		first = true;

	*isnull = (tup == NULL);
	if (tup == NULL)
		return (Datum) 0;
	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (int i = 0; i < rel->natts && i < tup->ncols; i++)
	{
		char		status = tup->colstatus[i];

		if (only_keys && !bms_is_member(i, rel->attkeys))
			continue;
		/* a key-only old tuple sends the other columns as nulls: leave them out */
		if (only_keys && status == LOGICALREP_COLUMN_NULL)
			continue;
		if (!first)
			appendStringInfoString(&buf, ", ");
		first = false;
		escape_json(&buf, rel->attnames[i]);
		appendStringInfoString(&buf, ": ");
		if (status == LOGICALREP_COLUMN_NULL)
			appendStringInfoString(&buf, "null");
		else if (status == LOGICALREP_COLUMN_UNCHANGED)
			appendStringInfoString(&buf, "{\"$unchanged_toast\": true}");
		else
			append_json_value(&buf, rel->atttyps[i], laredo_apply_column_text(rel, tup, i));
	}
	appendStringInfoChar(&buf, '}');
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data));
}

